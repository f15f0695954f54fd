// PCI configuration space (PCI Local Bus 3.0, type 0 header) of a function with its BARs and
// capability list, and the host bridge that reaches it two ways: ECAM (PCIe memory-mapped
// configuration, one 4 KiB window per function) and configuration mechanism #1 (ports 0xCF8 /
// 0xCFC, the PC path RTEMS pc386 uses). BARs are placed by the host, as firmware would; a BAR
// answers only while the Command register enables its space. Guest input never throws.
import { PCI_BAR, PCI_CFG, PCI_CMD, PCI_ECAM, PCI_PORT, PCI_STS } from "../gen/constants.js";
import type { Trace } from "../report/trace.js";
import type { Clock } from "../sim/clock.js";
import type { MmioRegion, Width } from "./mmio-bus.js";
import { widthMask } from "./mmio-bus.js";

export interface BarSpec {
  index: number;
  kind: "io" | "mem32" | "mem64";
  /** A power of 2. */
  size: number;
  /** Address the firmware assigned (bus address or I/O port). */
  addr: number;
}

/** A range of configuration space served by code (a capability's live fields). */
export interface ConfigHook {
  start: number;
  len: number;
  read(off: number, width: Width): number;
  write(off: number, width: Width, value: number): void;
}

export interface PciFunctionOptions {
  name: string;
  vendorId: number;
  deviceId: number;
  revision: number;
  classCode: [number, number, number];
  subsysVendorId: number;
  subsysId: number;
  interruptLine: number;
  bars: BarSpec[];
}

export class PciFunction {
  readonly name: string;
  readonly bars: readonly BarSpec[];
  private readonly bytes = new Uint8Array(PCI_CFG.SIZE);
  private readonly barValue = new Map<number, number>();
  private readonly hooks: ConfigHook[] = [];
  private capTail = 0;
  private capNext = 0x40;
  command = 0;
  /** INTx level (PCI-DEV-43: the Status Interrupt bit mirrors it). */
  intx = () => false;

  constructor(o: PciFunctionOptions) {
    this.name = o.name;
    this.bars = o.bars;
    const b = this.bytes;
    const le16 = (off: number, v: number) => ((b[off] = v & 0xff), (b[off + 1] = v >> 8));
    le16(PCI_CFG.VENDOR_ID, o.vendorId);
    le16(PCI_CFG.DEVICE_ID, o.deviceId);
    b[PCI_CFG.REVISION_ID] = o.revision;
    [b[PCI_CFG.CLASS_PROG], b[PCI_CFG.SUBCLASS], b[PCI_CFG.CLASS]] = o.classCode;
    le16(PCI_CFG.SUBSYS_VENDOR_ID, o.subsysVendorId);
    le16(PCI_CFG.SUBSYS_ID, o.subsysId);
    b[PCI_CFG.INTERRUPT_LINE] = o.interruptLine;
    b[PCI_CFG.INTERRUPT_PIN] = 1; // INTA#
    for (const bar of o.bars) this.barValue.set(bar.index, bar.addr);
  }

  /** Append a capability (its bytes from offset 2 on; id and next are filled in). Returns its offset. */
  addCapability(id: number, body: Uint8Array, hook?: Omit<ConfigHook, "start"> & { at: number }): number {
    const at = this.capNext;
    this.bytes[at] = id;
    this.bytes[at + 1] = 0;
    this.bytes.set(body.subarray(2), at + 2);
    if (this.capTail === 0) this.bytes[PCI_CFG.CAP_PTR] = at;
    else this.bytes[this.capTail + 1] = at;
    this.capTail = at;
    this.capNext = (at + body.length + 3) & ~3;
    if (hook) this.hooks.push({ start: at + hook.at, len: hook.len, read: hook.read, write: hook.write });
    return at;
  }

  /** True when the Command register enables the space of `bar`. */
  decodes(bar: BarSpec): boolean {
    return (this.command & (bar.kind === "io" ? PCI_CMD.IO : PCI_CMD.MEMORY)) !== 0;
  }

  /** A configuration read at the access width; live fields (hooks, Command, Status, BARs) computed. */
  read(off: number, width: Width): number {
    const hook = this.hooks.find((h) => off >= h.start && off + width <= h.start + h.len);
    if (hook) return hook.read(off - hook.start, width) >>> 0;
    let v = 0;
    for (let i = width - 1; i >= 0; i--) v = v * 256 + this.byte(off + i);
    return v >>> 0;
  }

  write(off: number, width: Width, value: number): void {
    const hook = this.hooks.find((h) => off >= h.start && off + width <= h.start + h.len);
    if (hook) return hook.write(off - hook.start, width, value);
    for (let i = 0; i < width; i++) this.writeByte(off + i, (value >>> (8 * i)) & 0xff);
  }

  private byte(off: number): number {
    if (off === PCI_CFG.COMMAND) return this.command & 0xff;
    if (off === PCI_CFG.COMMAND + 1) return this.command >> 8;
    if (off === PCI_CFG.STATUS) return PCI_STS.CAP_LIST | (this.intx() ? PCI_STS.INTERRUPT : 0);
    const bar = this.barOf(off);
    if (bar !== undefined) return (this.barRead(bar) >>> (8 * ((off - PCI_CFG.BAR0) % 4))) & 0xff;
    return this.bytes[off] ?? 0;
  }

  private writeByte(off: number, v: number): void {
    const writable = PCI_CMD.IO | PCI_CMD.MEMORY | PCI_CMD.MASTER | PCI_CMD.INTX_DISABLE;
    if (off === PCI_CFG.COMMAND) this.command = (this.command & 0xff00) | (v & writable & 0xff);
    else if (off === PCI_CFG.COMMAND + 1) this.command = (this.command & 0xff) | ((v << 8) & writable);
    else if (off === PCI_CFG.INTERRUPT_LINE) this.bytes[off] = v;
    else {
      const bar = this.barOf(off);
      if (bar === undefined) return; // read-only
      const shift = 8 * ((off - PCI_CFG.BAR0) % 4);
      const cur = this.barValue.get(bar) ?? 0;
      this.barValue.set(bar, ((cur & ~(0xff << shift)) | (v << shift)) >>> 0);
    }
  }

  /** BAR register index covering config offset `off` (the upper half of a 64-bit BAR included). */
  private barOf(off: number): number | undefined {
    if (off < PCI_CFG.BAR0 || off >= PCI_CFG.BAR0 + 24) return undefined;
    return Math.floor((off - PCI_CFG.BAR0) / 4);
  }

  /** A BAR as read back: the written address masked by the size (so all ones reads ~(size-1)), plus the type bits. */
  private barRead(reg: number): number {
    const spec = this.bars.find((b) => b.index === reg);
    const upper = this.bars.find((b) => b.kind === "mem64" && b.index + 1 === reg);
    const v = this.barValue.get(reg) ?? 0;
    if (upper) return v >>> 0; // high dword: every bit writable (size < 4 GiB)
    if (!spec) return 0;
    if (spec.kind === "io") return ((v & ~(spec.size - 1) & PCI_BAR.IO_MASK) | PCI_BAR.IO) >>> 0;
    return ((v & ~(spec.size - 1) & PCI_BAR.MEM_MASK) | (spec.kind === "mem64" ? PCI_BAR.MEM_TYPE_64 : 0)) >>> 0;
  }
}

/** Bus 0 behind a host bridge: ECAM and configuration mechanism #1. */
export class PciHost {
  private readonly fns = new Map<number, PciFunction>();
  private address = 0;

  constructor(
    private readonly trace: Trace,
    private readonly clock: Clock,
  ) {}

  /** Place `fn` at bus 0, device `dev`, function 0. */
  plug(dev: number, fn: PciFunction): void {
    this.fns.set(dev << 3, fn);
  }

  private access(op: "r" | "w", devfn: number, reg: number, width: Width, value: number): number {
    const fn = this.fns.get(devfn);
    let v = value;
    if (op === "r") v = fn && reg < PCI_CFG.SIZE ? fn.read(reg, width) : fn ? 0 : widthMask(width);
    else if (fn && reg < PCI_CFG.SIZE) fn.write(reg, width, value);
    this.trace.emit({ t: this.clock.now, k: "pci.cfg", op, bdf: devfn, reg, w: width, v: v >>> 0 });
    return v >>> 0;
  }

  /** The ECAM window for bus 0 (1 MiB): offset = dev << 15 | fn << 12 | reg. */
  ecam(): MmioRegion {
    return {
      read: (off, width) => this.access("r", off >> PCI_ECAM.FN_SHIFT, off & 0xfff, width, 0),
      write: (off, width, v) => void this.access("w", off >> PCI_ECAM.FN_SHIFT, off & 0xfff, width, v),
    };
  }

  /** Ports 0xCF8-0xCFF as a port-bus region based at 0xCF8: CONFIG_ADDRESS, then CONFIG_DATA + 0..3. */
  ports(): MmioRegion {
    const data = PCI_PORT.CONFIG_DATA - PCI_PORT.CONFIG_ADDRESS;
    return {
      read: (off, width) => {
        if (off === 0 && width === 4) return this.address;
        if (off < data || (this.address & PCI_PORT.ENABLE) === 0 || (this.address >> 16) & 0xff) return widthMask(width);
        return this.access("r", (this.address >> 8) & 0xff, (this.address & 0xfc) + (off - data), width, 0);
      },
      write: (off, width, v) => {
        if (off === 0 && width === 4) {
          this.address = (v & 0x80ff_fffc) >>> 0;
          return;
        }
        if (off < data || (this.address & PCI_PORT.ENABLE) === 0 || (this.address >> 16) & 0xff) return;
        this.access("w", (this.address >> 8) & 0xff, (this.address & 0xfc) + (off - data), width, v);
      },
    };
  }
}

/** Wrap a BAR's region so it answers only while the function's Command register enables it. */
export function barRegion(fn: PciFunction, bar: BarSpec, region: MmioRegion): MmioRegion {
  return {
    read: (off, width) => (fn.decodes(bar) ? region.read(off, width) : widthMask(width)),
    write: (off, width, v) => {
      if (fn.decodes(bar)) region.write(off, width, v);
    },
  };
}
