// The legacy virtio-pci transport (4.1.4.10): a transitional PCI function (vendor 0x1AF4, device
// 0x1000, revision 0, subsystem device 1 = net) whose I/O BAR0 holds the legacy header: 32 feature
// bits, QueueAddress as a 4096-byte page number, queue size and select, notify, status, the
// read-to-clear ISR and the device config at offset 20. Interrupts are INTx only (no MSI-X, as the
// RTEMS pc386 port uses it). The header is reached with port I/O (hal io_in/io_out).
import type { ClauseId } from "../gen/clauses.js";
import { PCI_CMD, PCI_IDS, VIRTIO_PCI_LEGACY as L } from "../gen/constants.js";
import type { GuestMemory } from "../guest/memory.js";
import type { Trace } from "../report/trace.js";
import type { Clock } from "../sim/clock.js";
import type { InterruptLine } from "../bus/irq.js";
import type { InterruptController } from "../bus/intc.js";
import type { MmioRegion, Width } from "../bus/mmio-bus.js";
import { PciFunction, type BarSpec } from "../bus/pci.js";
import type { VirtioDeviceModel } from "./device.js";
import { VirtioCore } from "./core.js";
import { LegacyQueueRegisters } from "./legacy-queues.js";

export interface VirtioPciLegacyOptions {
  name: string;
  device: VirtioDeviceModel;
  mem: GuestMemory;
  clock: Clock;
  trace: Trace;
  doorbellNs: number;
  irq: InterruptLine;
  intc: InterruptController;
  /** The PIC input INTA# is routed to (Interrupt Line register). */
  interruptLine: number;
  /** I/O port of BAR0. */
  ioBase: number;
}

interface Reg {
  name: string;
  width: Width;
  read?: () => number;
  write?: (v: number) => void;
}

export class VirtioPciLegacyTransport {
  readonly core: VirtioCore;
  readonly fn: PciFunction;
  readonly bar0: { spec: BarSpec; region: MmioRegion };
  readonly qr: LegacyQueueRegisters;
  private readonly regs: ReadonlyMap<number, Reg>;

  constructor(private readonly o: VirtioPciLegacyOptions) {
    const core = (this.core = new VirtioCore({ ...o, legacy: true }));
    const qr = (this.qr = new LegacyQueueRegisters(core, true));
    core.queueFile = qr;
    core.signal = () => this.updateIntx();
    core.onReset = () => o.irq.set(false);
    const spec: BarSpec = { index: 0, kind: "io", size: L.BAR_SIZE, addr: o.ioBase };
    this.fn = new PciFunction({
      name: o.name, vendorId: PCI_IDS.VENDOR_VIRTIO, deviceId: PCI_IDS.DEVICE_NET_TRANSITIONAL, revision: 0,
      classCode: [0, 0, PCI_IDS.CLASS_NETWORK], subsysVendorId: PCI_IDS.VENDOR_VIRTIO, subsysId: PCI_IDS.SUBSYS_NET,
      interruptLine: o.interruptLine, bars: [spec],
    });
    this.fn.intx = () => o.irq.level;
    o.intc.addLine(o.interruptLine, "level", o.irq);
    const table: [number, Reg][] = [
      [L.HOST_FEATURES, { name: "HostFeatures", width: 4, read: () => core.deviceFeaturesWord(0) }],
      [L.GUEST_FEATURES, { name: "GuestFeatures", width: 4, read: () => core.driverFeaturesWord(0), write: (v) => core.writeDriverFeatures(0, v) }],
      [L.QUEUE_PFN, { name: "QueueAddress", width: 4, read: () => qr.readPfn(), write: (v) => qr.writePfn(v) }],
      [L.QUEUE_NUM, { name: "QueueSize", width: 2, read: () => qr.readNumMax() }],
      [L.QUEUE_SEL, { name: "QueueSelect", width: 2, read: () => qr.sel, write: (v) => (qr.sel = v) }],
      [L.QUEUE_NOTIFY, { name: "QueueNotify", width: 2, write: (v) => core.notify(v) }],
      [L.STATUS, { name: "DeviceStatus", width: 1, read: () => core.status, write: (v) => core.writeStatus(v) }],
      [L.ISR, { name: "ISRStatus", width: 1, read: () => this.readIsr() }],
    ];
    this.regs = new Map(table);
    this.bar0 = { spec, region: { read: (off, w) => this.read(off, w), write: (off, w, v) => this.write(off, w, v) } };
  }

  /** INTx follows the ISR (PCI-DEV-43) unless the Command register disables it. */
  private updateIntx(): void {
    const disabled = (this.fn.command & PCI_CMD.INTX_DISABLE) !== 0;
    this.o.irq.set(this.core.interruptStatus !== 0 && !disabled);
  }

  /** Reading the ISR clears it and deasserts INTx (PCI-DEV-44). */
  private readIsr(): number {
    const v = this.core.interruptStatus;
    this.core.clearIsr(v);
    this.updateIntx();
    return v;
  }

  private read(off: number, w: Width): number {
    if (off >= L.CONFIG) {
      const v = off - L.CONFIG + w <= this.core.device.configSize ? this.core.device.configRead(off - L.CONFIG, w) : 0;
      this.emit("r", "Config", off, w, v);
      return v;
    }
    const r = this.regs.get(off);
    const bad = this.check(r, off, w, "r");
    const v = bad ? 0 : r!.read!();
    this.emit("r", r?.name ?? "?", off, w, v);
    if (bad) this.core.violation(bad[0], bad[1]);
    return v >>> 0;
  }

  private write(off: number, w: Width, v: number): void {
    if (off >= L.CONFIG) {
      this.emit("w", "Config", off, w, v);
      return this.core.device.configWrite(off - L.CONFIG, w, v);
    }
    const r = this.regs.get(off);
    const bad = this.check(r, off, w, "w");
    this.emit("w", r?.name ?? "?", off, w, v);
    if (bad) return this.core.violation(bad[0], bad[1]);
    r!.write!(v);
  }

  /** Each header field at its own width (PCI-DRV-05 applied to the legacy header). */
  private check(r: Reg | undefined, off: number, w: Width, op: "r" | "w"): [ClauseId, string] | undefined {
    if (!r) return ["PCI-DRV-05", `${w}-byte access at I/O BAR0 offset ${off}: no header field starts there`];
    if (r.width !== w) return ["PCI-DRV-05", `${w}-byte access to ${r.name}, a ${r.width}-byte field`];
    if (op === "r" && !r.read) return ["PCI-DRV-05", `read of write-only ${r.name}`];
    if (op === "w" && !r.write) return ["PCI-DRV-15", `write of read-only ${r.name}`];
    return undefined;
  }

  private emit(op: "r" | "w", reg: string, off: number, w: number, v: number): void {
    this.o.trace.emit({ t: this.o.clock.now, k: "pio", dev: this.o.name, op, reg, off, w, v: v >>> 0 });
  }
}
