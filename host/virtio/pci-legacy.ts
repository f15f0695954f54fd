// The legacy virtio-pci transport (4.1.4.10): a transitional PCI function (vendor 0x1AF4, device
// 0x1000, revision 0, subsystem device 1 = net) whose I/O BAR0 holds the legacy header: 32 feature
// bits, QueueAddress as a 4096-byte page number, queue size and select, notify, status, the
// read-to-clear ISR and the device config at offset 20. Interrupts are INTx (as the RTEMS pc386 port
// uses it) unless the function has an MSI-X capability (table and PBA in memory BAR1, as QEMU's
// transitional device) and the driver enables it: then config_msix_vector (20) and
// queue_msix_vector (22) appear and the device config moves to 24 (4.1.4.10; layouts.md 5), and
// each event goes to its own vector. The header is reached with port I/O (hal io_in/io_out).
import type { ClauseId } from "../gen/clauses.js";
import { INT, MSIX, PCI_CAP, PCI_CMD, PCI_IDS, VIRTIO_MSI, VIRTIO_PCI_LEGACY as L } from "../gen/constants.js";
import type { GuestMemory } from "../guest/memory.js";
import type { Trace } from "../report/trace.js";
import type { Clock } from "../sim/clock.js";
import type { InterruptLine } from "../bus/irq.js";
import type { InterruptController } from "../bus/intc.js";
import type { MmioRegion, Width } from "../bus/mmio-bus.js";
import { MsiX } from "../bus/msix.js";
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
  /** Guest-physical placement of memory BAR1 holding the MSI-X table and PBA; absent: no MSI-X capability, INTx only. */
  msixBar?: number;
}

/** BAR1 (MSI-X): the table at 0, the PBA at 0x800, as the modern function's (pci-modern.ts). */
const MSIX_BAR_SIZE = 0x1000;
const PBA_OFF = 0x800;

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
  /** BAR1 with the MSI-X table and PBA, when the function has the capability. */
  readonly bar1: { spec: BarSpec; region: MmioRegion } | undefined;
  readonly msix: MsiX | undefined;
  readonly qr: LegacyQueueRegisters;
  private readonly regs: ReadonlyMap<number, Reg>;
  /** The two header fields that exist only while MSI-X is enabled (offsets 20 and 22). */
  private readonly msixRegs: ReadonlyMap<number, Reg>;
  private configVector: number = VIRTIO_MSI.NO_VECTOR;
  private queueVector: number[] = [];
  /** Vectors the host can back (QEMU: one irqfd each); a vector from here on reads back NO_VECTOR. Default: all. */
  vectorLimit = Infinity;

  constructor(private readonly o: VirtioPciLegacyOptions) {
    const core = (this.core = new VirtioCore({ ...o, legacy: true }));
    const qr = (this.qr = new LegacyQueueRegisters(core, true));
    core.queueFile = qr;
    core.signal = (cause, q) => this.signal(cause, q);
    core.onReset = () => this.resetVectors();
    const spec: BarSpec = { index: 0, kind: "io", size: L.BAR_SIZE, addr: o.ioBase };
    const msixSpec: BarSpec | undefined = o.msixBar === undefined ? undefined : { index: 1, kind: "mem32", size: MSIX_BAR_SIZE, addr: o.msixBar };
    this.fn = new PciFunction({
      name: o.name, vendorId: PCI_IDS.VENDOR_VIRTIO, deviceId: PCI_IDS.DEVICE_NET_TRANSITIONAL, revision: 0,
      classCode: [0, 0, PCI_IDS.CLASS_NETWORK], subsysVendorId: PCI_IDS.VENDOR_VIRTIO, subsysId: PCI_IDS.SUBSYS_NET,
      interruptLine: o.interruptLine, bars: msixSpec ? [spec, msixSpec] : [spec],
    });
    this.fn.intx = () => o.irq.level;
    o.intc.addLine(o.interruptLine, "level", o.irq);
    if (msixSpec) {
      // One vector per queue and one for config (4.1.5.1.2); Message Control is live in config space.
      const msix = (this.msix = new MsiX(o.device.numQueues + 1, 0, PBA_OFF, o.intc));
      const body = new Uint8Array(MSIX.CAP_SIZE);
      const dv = new DataView(body.buffer);
      dv.setUint32(MSIX.TABLE, 0 | 1, true); // offset 0, BIR 1
      dv.setUint32(MSIX.PBA, PBA_OFF | 1, true);
      this.fn.addCapability(PCI_CAP.ID_MSIX, body, {
        at: MSIX.CTRL, len: 2,
        read: () => msix.readControl(),
        write: (_o, w, v) => (w === 2 ? this.writeMsixControl(v) : undefined),
      });
      this.bar1 = { spec: msixSpec, region: msix };
    }
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
    this.msixRegs = new Map<number, Reg>([
      [L.CONFIG_MSIX_VECTOR, { name: "ConfigVector", width: 2, read: () => this.configVector, write: (v) => (this.configVector = this.mapVector(v)) }],
      [L.QUEUE_MSIX_VECTOR, {
        name: "QueueVector", width: 2,
        read: () => this.queueVector[qr.sel] ?? VIRTIO_MSI.NO_VECTOR,
        write: (v) => void (qr.sel < this.queueVector.length && (this.queueVector[qr.sel] = this.mapVector(v))),
      }],
    ]);
    this.bar0 = { spec, region: { read: (off, w) => this.read(off, w), write: (off, w, v) => this.write(off, w, v) } };
    this.resetVectors();
  }

  /** Where the device config starts now: 24 while MSI-X is enabled, else 20 (4.1.4.10). */
  get configOffset(): number {
    return this.msix?.enabled ? L.CONFIG_MSIX : L.CONFIG;
  }

  private resetVectors(): void {
    this.configVector = VIRTIO_MSI.NO_VECTOR; // as PCI-DEV-63 for the modern fields
    this.queueVector = new Array(this.o.device.numQueues).fill(VIRTIO_MSI.NO_VECTOR);
    this.o.irq.set(false);
  }

  /** A vector the driver maps: a valid table entry reads back, anything else NO_VECTOR (PCI-DEV-62). */
  private mapVector(v: number): number {
    return this.msix && v < this.msix.size && v < this.vectorLimit ? v : VIRTIO_MSI.NO_VECTOR;
  }

  /** Message Control: enabling MSI-X moves the config to 24 and takes INTx down; disabling returns to INTx. */
  private writeMsixControl(v: number): void {
    this.msix!.writeControl(v);
    this.updateIntx();
  }

  /** MSI-X enabled: the event's vector (the ISR queue bit stays clear, as PCI-DEV-42); else INTx follows the ISR. */
  private signal(cause: "queue" | "config", q: number): void {
    if (this.msix?.enabled) {
      if (cause === "queue") this.core.clearIsr(INT.USED_BUFFER);
      this.msix.signal(cause === "queue" ? this.queueVector[q] ?? VIRTIO_MSI.NO_VECTOR : this.configVector);
      return;
    }
    this.updateIntx();
  }

  /** INTx follows the ISR (PCI-DEV-43) unless the Command register disables it or MSI-X is enabled. */
  private updateIntx(): void {
    const disabled = (this.fn.command & PCI_CMD.INTX_DISABLE) !== 0;
    this.o.irq.set(this.core.interruptStatus !== 0 && !disabled && !this.msix?.enabled);
  }

  /** Reading the ISR clears it and deasserts INTx (PCI-DEV-44). */
  private readIsr(): number {
    const v = this.core.interruptStatus;
    this.core.clearIsr(v);
    this.updateIntx();
    return v;
  }

  /** The header field at `off`: the fixed ones, plus 20 and 22 while MSI-X is enabled. */
  private reg(off: number): Reg | undefined {
    return this.regs.get(off) ?? (this.msix?.enabled ? this.msixRegs.get(off) : undefined);
  }

  private read(off: number, w: Width): number {
    const cfg = this.configOffset;
    if (off >= cfg) {
      const v = off - cfg + w <= this.core.device.configSize ? this.core.device.configRead(off - cfg, w) : 0;
      this.emit("r", "Config", off, w, v);
      return v;
    }
    const r = this.reg(off);
    const bad = this.check(r, off, w, "r");
    const v = bad ? 0 : r!.read!();
    this.emit("r", r?.name ?? "?", off, w, v);
    if (bad) this.core.violation(bad[0], bad[1]);
    return v >>> 0;
  }

  private write(off: number, w: Width, v: number): void {
    const cfg = this.configOffset;
    if (off >= cfg) {
      this.emit("w", "Config", off, w, v);
      return this.core.device.configWrite(off - cfg, w, v);
    }
    const r = this.reg(off);
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
