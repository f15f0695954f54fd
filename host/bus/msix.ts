// MSI-X for one PCI function (PCI Local Bus 3.0 chapter 6.8.2; virtio 4.1.5.1.2): the capability's
// Message Control (enable, function mask, table size), the vector table and the pending-bit array
// in a memory BAR, and message delivery to the interrupt controller. A masked vector sets its
// pending bit and is sent when unmasked.
import { MSIX } from "../gen/constants.js";
import type { InterruptController } from "./intc.js";
import type { MmioRegion, Width } from "./mmio-bus.js";

interface Entry {
  addrLo: number;
  addrHi: number;
  data: number;
  ctrl: number;
}

export class MsiX implements MmioRegion {
  private readonly entries: Entry[] = [];
  private pendingBits: boolean[] = [];
  private control = 0;

  /** `size` vectors; the table at `tableOff` and the PBA at `pbaOff` inside the BAR this region maps. */
  constructor(
    readonly size: number,
    readonly tableOff: number,
    readonly pbaOff: number,
    private readonly intc: InterruptController,
  ) {
    this.reset();
  }

  /** Function reset: every vector masked, MSI-X disabled (PCI 6.8.2.9). */
  reset(): void {
    this.entries.length = 0;
    for (let i = 0; i < this.size; i++) this.entries.push({ addrLo: 0, addrHi: 0, data: 0, ctrl: MSIX.ENTRY_MASKED });
    this.pendingBits = new Array(this.size).fill(false);
    this.control = 0;
  }

  get enabled(): boolean {
    return (this.control & MSIX.CTRL_ENABLE) !== 0;
  }

  /** Message Control as read from the capability: table size - 1 in bits 10:0. */
  readControl(): number {
    return this.control | ((this.size - 1) & MSIX.CTRL_SIZE_MASK);
  }

  writeControl(v: number): void {
    this.control = v & (MSIX.CTRL_ENABLE | MSIX.CTRL_MASKALL);
    this.flush();
  }

  /** Send vector `v` (an index into the table). False when MSI-X is off: the caller uses INTx. */
  signal(v: number): boolean {
    if (!this.enabled) return false;
    if (v < 0 || v >= this.size) return true; // NO_VECTOR or unmapped: the event is dropped (4.1.5.1.2)
    if (this.masked(v)) this.pendingBits[v] = true;
    else this.send(v);
    return true;
  }

  entry(v: number): Readonly<Entry> | undefined {
    return this.entries[v];
  }

  pending(v: number): boolean {
    return this.pendingBits[v] ?? false;
  }

  private masked(v: number): boolean {
    return (this.control & MSIX.CTRL_MASKALL) !== 0 || (this.entries[v].ctrl & MSIX.ENTRY_MASKED) !== 0;
  }

  private send(v: number): void {
    const e = this.entries[v];
    this.intc.message(e.addrLo, e.addrHi, e.data);
  }

  /** Deliver pending vectors that are no longer masked. */
  private flush(): void {
    if (!this.enabled) return;
    for (let v = 0; v < this.size; v++) {
      if (this.pendingBits[v] && !this.masked(v)) {
        this.pendingBits[v] = false;
        this.send(v);
      }
    }
  }

  // ---- the table and the PBA as a BAR region (32-bit accesses) ----

  read(off: number, width: Width): number {
    if (off >= this.pbaOff && off < this.pbaOff + 8 * Math.ceil(this.size / 64)) {
      const bitBase = (off - this.pbaOff) * 8;
      let v = 0;
      for (let b = 0; b < width * 8; b++) if (this.pendingBits[bitBase + b]) v |= 1 << b;
      return v >>> 0;
    }
    const e = this.entryAt(off);
    if (!e || width !== 4) return 0;
    const field = (off - this.tableOff) % MSIX.ENTRY_SIZE;
    return field === MSIX.ENTRY_ADDR_LO ? e.addrLo : field === MSIX.ENTRY_ADDR_HI ? e.addrHi : field === MSIX.ENTRY_DATA ? e.data : e.ctrl;
  }

  write(off: number, width: Width, value: number): void {
    const e = this.entryAt(off);
    if (!e || width !== 4) return; // the PBA is read-only; sub-dword table writes are not supported
    const field = (off - this.tableOff) % MSIX.ENTRY_SIZE;
    if (field === MSIX.ENTRY_ADDR_LO) e.addrLo = value & ~3;
    else if (field === MSIX.ENTRY_ADDR_HI) e.addrHi = value >>> 0;
    else if (field === MSIX.ENTRY_DATA) e.data = value >>> 0;
    else {
      e.ctrl = value & MSIX.ENTRY_MASKED;
      this.flush();
    }
  }

  private entryAt(off: number): Entry | undefined {
    const rel = off - this.tableOff;
    if (rel < 0 || rel >= this.size * MSIX.ENTRY_SIZE || rel % 4 !== 0) return undefined;
    return this.entries[Math.floor(rel / MSIX.ENTRY_SIZE)];
  }
}
