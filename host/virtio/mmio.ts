// The virtio-mmio transport, Version 2 (4.2.2): the register file as a table over the shared
// VirtioCore (status via the transition table, features, the ISR bits, reset, doorbells, breaches)
// and the queue registers. Guest input never throws: every bad access is recorded with its clause.
import type { ClauseId } from "../gen/clauses.js";
import { INT, MMIO, MMIO_VAL } from "../gen/constants.js";
import type { GuestMemory } from "../guest/memory.js";
import type { Trace } from "../report/trace.js";
import type { Clock } from "../sim/clock.js";
import type { InterruptLine } from "../bus/irq.js";
import { isWidth, widthMask, type MmioRegion } from "../bus/mmio-bus.js";
import { VirtioCore, type TransportView } from "./core.js";
import type { VirtioDeviceModel } from "./device.js";
import { MmioQueueRegisters, type AreaName } from "./mmio-queues.js";
import type { DeviceSplitQueue } from "./split-queue.js";

export interface VirtioMmioOptions {
  /** The trace `dev` field, e.g. "net0". */
  name: string;
  device: VirtioDeviceModel;
  mem: GuestMemory;
  clock: Clock;
  trace: Trace;
  irq: InterruptLine;
  /** QueueNotify to device.notify delay, ns (the profile's doorbell exit cost). */
  doorbellNs: number;
  /** VendorID register; default 0x1af4, the virtio vendor id of PCI (4.1.2). */
  vendorId?: number;
}

/** A driver violation or a breach reported by the device, as also emitted into the trace. */
export interface TransportViolation {
  t: number;
  k: "violation" | "breach";
  clause: ClauseId;
  detail: string;
}

/** One row of the register file (4.2.2): a missing `read` is W-only, a missing `write` R-only. */
interface Register {
  readonly offset: number;
  readonly width: 4;
  readonly name: keyof typeof MMIO;
  readonly read?: () => number;
  readonly write?: (v: number) => void;
}

const CONFIG = MMIO.Config;
const INT_DEFINED = INT.USED_BUFFER | INT.CONFIG_CHANGE;
const NO_SHM = 0xffff_ffff; // SHMLen/SHMBase of a region that does not exist (4.2.2)

function hex(v: number | bigint): string {
  return "0x" + v.toString(16);
}

export class VirtioMmioTransport implements MmioRegion, TransportView {
  readonly name: string;
  readonly core: VirtioCore;
  private readonly device: VirtioDeviceModel;
  private readonly irq: InterruptLine;
  private readonly vendorId: number;
  private readonly regs: ReadonlyMap<number, Register>;
  private readonly qr: MmioQueueRegisters;
  private deviceFeaturesSel = 0;
  private driverFeaturesSel = 0;

  constructor(opts: VirtioMmioOptions) {
    this.name = opts.name;
    this.device = opts.device;
    this.irq = opts.irq;
    this.vendorId = (opts.vendorId ?? 0x1af4) >>> 0;
    const core = (this.core = new VirtioCore({ ...opts, legacy: false }));
    this.qr = new MmioQueueRegisters({
      name: opts.name,
      device: opts.device,
      mem: opts.mem,
      trace: opts.trace,
      clock: opts.clock,
      status: () => core.status,
      negotiated: () => core.negotiatedFeatures,
      breachFn: () => core.breachFn(),
      violation: (clause, detail) => core.violation(clause, detail),
    });
    core.queueFile = this.qr;
    // The line follows InterruptStatus != 0 (4.2.3.4): held until every set bit is acknowledged.
    core.signal = () => this.irq.set(core.interruptStatus !== 0);
    core.onReset = () => {
      this.deviceFeaturesSel = 0;
      this.driverFeaturesSel = 0;
      this.irq.set(false);
    };
    this.regs = new Map(this.registerTable().map((r) => [r.offset, r]));
  }

  /** The register file of 4.2.2 (modern). Legacy-only offsets (GuestPageSize, QueueAlign, QueuePFN) are unlisted. */
  private registerTable(): Register[] {
    const qr = this.qr;
    const c = this.core;
    const addr = (name: keyof typeof MMIO, area: AreaName, half: 0 | 1): Register => ({
      offset: MMIO[name],
      width: 4,
      name,
      write: (v) => qr.writeArea(name, area, half, v),
    });
    return [
      { offset: MMIO.MagicValue, width: 4, name: "MagicValue", read: () => MMIO_VAL.MAGIC },
      { offset: MMIO.Version, width: 4, name: "Version", read: () => MMIO_VAL.VERSION_MODERN },
      { offset: MMIO.DeviceID, width: 4, name: "DeviceID", read: () => this.device.deviceId },
      { offset: MMIO.VendorID, width: 4, name: "VendorID", read: () => this.vendorId },
      { offset: MMIO.DeviceFeatures, width: 4, name: "DeviceFeatures", read: () => c.deviceFeaturesWord(this.deviceFeaturesSel) },
      { offset: MMIO.DeviceFeaturesSel, width: 4, name: "DeviceFeaturesSel", write: (v) => (this.deviceFeaturesSel = v) },
      { offset: MMIO.DriverFeatures, width: 4, name: "DriverFeatures", write: (v) => c.writeDriverFeatures(this.driverFeaturesSel, v) },
      { offset: MMIO.DriverFeaturesSel, width: 4, name: "DriverFeaturesSel", write: (v) => (this.driverFeaturesSel = v) },
      { offset: MMIO.QueueSel, width: 4, name: "QueueSel", write: (v) => (qr.sel = v) },
      { offset: MMIO.QueueSizeMax, width: 4, name: "QueueSizeMax", read: () => qr.readSizeMax() },
      { offset: MMIO.QueueSize, width: 4, name: "QueueSize", write: (v) => qr.writeSize(v) },
      { offset: MMIO.QueueReady, width: 4, name: "QueueReady", read: () => qr.readReady(), write: (v) => qr.writeReady(v) },
      // With NOTIFICATION_DATA the low 16 bits are the queue index (4.2.3.3, layouts.md 4c).
      { offset: MMIO.QueueNotify, width: 4, name: "QueueNotify", write: (v) => c.notify(c.notificationData ? v & 0xffff : v) },
      { offset: MMIO.InterruptStatus, width: 4, name: "InterruptStatus", read: () => c.interruptStatus },
      { offset: MMIO.InterruptACK, width: 4, name: "InterruptACK", write: (v) => this.writeInterruptAck(v) },
      { offset: MMIO.Status, width: 4, name: "Status", read: () => c.status, write: (v) => c.writeStatus(v) },
      addr("QueueDescLow", "desc", 0),
      addr("QueueDescHigh", "desc", 1),
      addr("QueueDriverLow", "driver", 0),
      addr("QueueDriverHigh", "driver", 1),
      addr("QueueDeviceLow", "device", 0),
      addr("QueueDeviceHigh", "device", 1),
      // No shared memory regions: SHMLen/SHMBase read all ones for every SHMSel (4.2.2).
      { offset: MMIO.SHMSel, width: 4, name: "SHMSel", write: () => {} },
      { offset: MMIO.SHMLenLow, width: 4, name: "SHMLenLow", read: () => NO_SHM },
      { offset: MMIO.SHMLenHigh, width: 4, name: "SHMLenHigh", read: () => NO_SHM },
      { offset: MMIO.SHMBaseLow, width: 4, name: "SHMBaseLow", read: () => NO_SHM },
      { offset: MMIO.SHMBaseHigh, width: 4, name: "SHMBaseHigh", read: () => NO_SHM },
      // Queue resets complete at once, so QueueReset always reads 0 (MMIO-DEV-08/09/11/12).
      { offset: MMIO.QueueReset, width: 4, name: "QueueReset", read: () => 0, write: (v) => qr.writeReset(v) },
      { offset: MMIO.ConfigGeneration, width: 4, name: "ConfigGeneration", read: () => this.device.configGeneration },
    ];
  }

  // ---- MmioRegion -------------------------------------------------------------------------

  read(off: number, width: number): number {
    const { name, fault } = this.check(off, width, "r");
    let v = 0;
    if (fault === undefined) {
      v = off >= CONFIG ? this.device.configRead(off - CONFIG, width) : this.regs.get(off)!.read!();
      v = (v & widthMask(width as 1 | 2 | 4)) >>> 0;
    }
    this.emitAccess("r", name, off, width, v);
    if (fault !== undefined) this.core.violation(fault[0], fault[1]);
    return v;
  }

  write(off: number, width: number, value: number): void {
    const v = isWidth(width) ? (value & widthMask(width)) >>> 0 : value >>> 0;
    const { name, fault } = this.check(off, width, "w");
    this.emitAccess("w", name, off, width, v);
    if (fault !== undefined) return this.core.violation(fault[0], fault[1]);
    if (off >= CONFIG) this.device.configWrite(off - CONFIG, width, v);
    else this.regs.get(off)!.write!(v);
  }

  /** The register name for the trace, and the clause an access breaks (if any), without side effects. */
  private check(off: number, width: number, op: "r" | "w"): { name: string; fault?: [ClauseId, string] } {
    if (!Number.isSafeInteger(off) || off < 0) return { name: "?", fault: ["MMIO-DRV-01", `offset ${off}`] };
    if (off >= CONFIG) {
      if (!isWidth(width)) return { name: "Config", fault: ["MMIO-DRV-05", `${width}-byte config access at ${hex(off)}`] };
      if (off - CONFIG + width > this.device.configSize) {
        return { name: "Config", fault: ["MMIO-DRV-01", `config access ${hex(off)}+${width} beyond the ${this.device.configSize}-byte config space`] };
      }
      return { name: "Config" };
    }
    const reg = this.regs.get(off & ~3);
    const name = reg?.name ?? "?";
    if (width !== 4 || off % 4 !== 0) return { name, fault: ["MMIO-DRV-04", `${width}-byte access at ${hex(off)} (control registers are aligned 32-bit)`] };
    if (reg === undefined) return { name, fault: ["MMIO-DRV-01", `unlisted register offset ${hex(off)}`] };
    if (op === "r" && reg.read === undefined) return { name, fault: ["MMIO-DRV-03", `read of write-only ${reg.name}`] };
    if (op === "w" && reg.write === undefined) return { name, fault: ["MMIO-DRV-02", `write of read-only ${reg.name}`] };
    return { name };
  }

  private emitAccess(op: "r" | "w", reg: string, off: number, width: number, v: number): void {
    const o = Number.isSafeInteger(off) ? off : -1;
    const w = Number.isSafeInteger(width) ? width : -1;
    this.core.trace.emit({ t: this.core.clock.now, k: "mmio", dev: this.name, op, reg, off: o, w, v });
  }

  // ---- interrupts (4.2.2 InterruptStatus / InterruptACK) ----

  private writeInterruptAck(v: number): void {
    if ((v & ~INT_DEFINED) !== 0) this.core.violation("MMIO-DRV-20", `InterruptACK ${hex(v)} sets undefined bits`);
    // The defined bits are still acknowledged (MMIO-DEV-03: a bit stays set until acked).
    this.core.clearIsr(v & INT_DEFINED);
    this.irq.set(this.core.interruptStatus !== 0);
  }

  // ---- inspection (tests, the machine, reports) ----

  get status(): number {
    return this.core.status;
  }
  /** The feature set fixed at FEATURES_OK (0 before it). */
  get negotiatedFeatures(): bigint {
    return this.core.negotiatedFeatures;
  }
  /** True from a breach until the next reset: no doorbell reaches the device. */
  get halted(): boolean {
    return this.core.halted;
  }
  get interruptStatus(): number {
    return this.core.interruptStatus;
  }
  queue(q: number): DeviceSplitQueue | undefined {
    return this.core.queue(q);
  }
  get violations(): readonly TransportViolation[] {
    return this.core.violations;
  }
}
