// The virtio-mmio transport, Version 2 (4.2.2): the register file as a table, feature and queue
// registers, status via the transition table (status.ts), interrupts, and device breaches.
// Guest input never throws: every bad access is recorded with its clause and ignored.
import type { ClauseId } from "../gen/clauses.js";
import { F, INT, MMIO, MMIO_VAL, STATUS } from "../gen/constants.js";
import type { GuestMemory } from "../guest/memory.js";
import type { Trace } from "../report/trace.js";
import type { Clock } from "../sim/clock.js";
import type { InterruptLine } from "../bus/irq.js";
import { isWidth, widthMask, type MmioRegion } from "../bus/mmio-bus.js";
import type { BreachFn, DeviceContext, VirtioDeviceModel } from "./device.js";
import { has } from "./features.js";
import { enforceWindows, windowsOff } from "./iommu.js";
import { MmioQueueRegisters, type AreaName } from "./mmio-queues.js";
import type { DeviceSplitQueue } from "./split-queue.js";
import { decideStatusWrite } from "./status.js";

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

const FEATURE_WORDS = 4; // DeviceFeaturesSel / DriverFeaturesSel 0..3: 128 feature bits (2.2)
const ALL128 = (1n << 128n) - 1n;
const CONFIG = MMIO.Config;
const INT_DEFINED = INT.USED_BUFFER | INT.CONFIG_CHANGE;
const NO_SHM = 0xffff_ffff; // SHMLen/SHMBase of a region that does not exist (4.2.2)

function hex(v: number | bigint): string {
  return "0x" + v.toString(16);
}

export class VirtioMmioTransport implements MmioRegion {
  readonly name: string;
  private readonly device: VirtioDeviceModel;
  private readonly mem: GuestMemory;
  private readonly clock: Clock;
  private readonly trace: Trace;
  private readonly irq: InterruptLine;
  private readonly doorbellNs: number;
  private readonly vendorId: number;
  private readonly regs: ReadonlyMap<number, Register>;

  private _status = 0;
  private _interruptStatus = 0;
  private _halted = false;
  /** Bumped by every reset: callbacks and doorbells from before a reset are dead (RESET-DEV-02). */
  private epoch = 0;
  private deviceFeaturesSel = 0;
  private driverFeaturesSel = 0;
  private driverFeatures = 0n;
  private negotiated = 0n;
  private readonly qr: MmioQueueRegisters;
  private _violations: TransportViolation[] = [];

  constructor(opts: VirtioMmioOptions) {
    this.name = opts.name;
    this.device = opts.device;
    this.mem = opts.mem;
    this.clock = opts.clock;
    this.trace = opts.trace;
    this.irq = opts.irq;
    this.doorbellNs = opts.doorbellNs;
    this.vendorId = (opts.vendorId ?? 0x1af4) >>> 0;
    this.qr = new MmioQueueRegisters({
      name: this.name,
      device: this.device,
      mem: this.mem,
      trace: this.trace,
      clock: this.clock,
      status: () => this._status,
      negotiated: () => this.negotiated,
      breachFn: () => this.breachFn(),
      violation: (clause, detail) => this.violation(clause, detail),
    });
    this.regs = new Map(this.registerTable().map((r) => [r.offset, r]));
    this.device.bindViolations?.((clause, detail) => this.violation(clause, detail));
  }

  /** The register file of 4.2.2 (modern). Legacy-only offsets (GuestPageSize, QueueAlign, QueuePFN) are unlisted. */
  private registerTable(): Register[] {
    const qr = this.qr;
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
      { offset: MMIO.DeviceFeatures, width: 4, name: "DeviceFeatures", read: () => this.deviceFeaturesWord() },
      { offset: MMIO.DeviceFeaturesSel, width: 4, name: "DeviceFeaturesSel", write: (v) => (this.deviceFeaturesSel = v) },
      { offset: MMIO.DriverFeatures, width: 4, name: "DriverFeatures", write: (v) => this.writeDriverFeatures(v) },
      { offset: MMIO.DriverFeaturesSel, width: 4, name: "DriverFeaturesSel", write: (v) => (this.driverFeaturesSel = v) },
      { offset: MMIO.QueueSel, width: 4, name: "QueueSel", write: (v) => (qr.sel = v) },
      { offset: MMIO.QueueSizeMax, width: 4, name: "QueueSizeMax", read: () => qr.readSizeMax() },
      { offset: MMIO.QueueSize, width: 4, name: "QueueSize", write: (v) => qr.writeSize(v) },
      { offset: MMIO.QueueReady, width: 4, name: "QueueReady", read: () => qr.readReady(), write: (v) => qr.writeReady(v) },
      { offset: MMIO.QueueNotify, width: 4, name: "QueueNotify", write: (v) => this.writeQueueNotify(v) },
      { offset: MMIO.InterruptStatus, width: 4, name: "InterruptStatus", read: () => this._interruptStatus },
      { offset: MMIO.InterruptACK, width: 4, name: "InterruptACK", write: (v) => this.writeInterruptAck(v) },
      { offset: MMIO.Status, width: 4, name: "Status", read: () => this._status, write: (v) => this.writeStatus(v) },
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
    if (fault !== undefined) this.violation(fault[0], fault[1]);
    return v;
  }

  write(off: number, width: number, value: number): void {
    const v = isWidth(width) ? (value & widthMask(width)) >>> 0 : value >>> 0;
    const { name, fault } = this.check(off, width, "w");
    this.emitAccess("w", name, off, width, v);
    if (fault !== undefined) return this.violation(fault[0], fault[1]);
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
    this.trace.emit({ t: this.clock.now, k: "mmio", dev: this.name, op, reg, off: o, w, v });
  }

  // ---- features (2.2, 4.2.2 DeviceFeatures / DriverFeatures) --------------------------------

  private deviceFeaturesWord(): number {
    const sel = this.deviceFeaturesSel;
    if (sel >= FEATURE_WORDS) return 0;
    return Number((this.device.deviceFeatures >> BigInt(32 * sel)) & 0xffff_ffffn);
  }

  private writeDriverFeatures(v: number): void {
    if ((this._status & STATUS.FEATURES_OK) !== 0) {
      return this.violation("INIT-DRV-08", `DriverFeatures[${this.driverFeaturesSel}] = ${hex(v)} after FEATURES_OK`);
    }
    const sel = this.driverFeaturesSel;
    if (sel >= FEATURE_WORDS) {
      if (v !== 0) this.violation("FEAT-DRV-01", `DriverFeatures word ${sel} = ${hex(v)}: no feature bits above 127 exist`);
      return;
    }
    const shift = BigInt(32 * sel);
    this.driverFeatures = (this.driverFeatures & ~(0xffff_ffffn << shift)) | (BigInt(v) << shift);
  }

  // ---- notifications (4.2.3.3) ----------------------------------------------------------------

  private writeQueueNotify(v: number): void {
    // With NOTIFICATION_DATA the low 16 bits are the queue index (4.2.3.3, layouts.md 4c).
    const q = has(this.negotiated, F.NOTIFICATION_DATA) ? v & 0xffff : v;
    this.trace.emit({ t: this.clock.now, k: "notify", dev: this.name, q });
    if ((this._status & STATUS.DRIVER_OK) === 0) {
      return this.violation("INIT-DRV-14", `QueueNotify ${q} before DRIVER_OK (status ${hex(this._status)})`);
    }
    if (!this.deliverable(q)) return;
    const epoch = this.epoch;
    this.clock.after(this.doorbellNs, () => {
      if (epoch !== this.epoch || !this.deliverable(q)) return;
      this.trace.emit({ t: this.clock.now, k: "notify.seen", dev: this.name, q });
      this.device.notify(q);
    });
  }

  /** A doorbell reaches the device only while it runs and the queue is ready (MMIO-DEV-07). */
  private deliverable(q: number): boolean {
    const reason = this._halted ? "device halted (DEVICE_NEEDS_RESET)" : this.qr.queues[q] === undefined ? "queue not ready" : undefined;
    if (reason !== undefined) this.trace.emit({ t: this.clock.now, k: "notify.dropped", dev: this.name, q, reason });
    return reason === undefined;
  }

  // ---- interrupts (4.2.2 InterruptStatus / InterruptACK, 4.2.3.4) ----------------------------

  private raise(bits: number): void {
    this._interruptStatus |= bits;
    this.irq.set(this._interruptStatus !== 0);
  }

  private writeInterruptAck(v: number): void {
    if ((v & ~INT_DEFINED) !== 0) this.violation("MMIO-DRV-20", `InterruptACK ${hex(v)} sets undefined bits`);
    // The defined bits are still acknowledged (MMIO-DEV-03: a bit stays set until acked).
    this._interruptStatus &= ~(v & INT_DEFINED);
    this.irq.set(this._interruptStatus !== 0);
  }

  // ---- status (2.1, 3.1.1; decisions in status.ts) --------------------------------------------

  private writeStatus(v: number): void {
    const d = decideStatusWrite(this._status, v, {
      offered: this.device.deviceFeatures & ALL128,
      accepted: this.driverFeatures,
      checkFeatures: (a) => this.device.checkFeatures(a),
    });
    if (d.reset) return this.reset();
    let unsupported = false;
    for (const s of d.steps) {
      if (s.outcome === "violation") this.violation(s.clause!, s.detail!);
      else if (s.outcome === "refused") this.trace.emit({ t: this.clock.now, k: "features.refused", dev: this.name, clause: s.clause!, detail: s.detail! });
      else if (s.outcome === "unsupported") {
        this.trace.emit({ t: this.clock.now, k: "unsupported", dev: this.name, clause: s.clause!, detail: s.detail! });
        unsupported = true;
      }
    }
    const from = this._status;
    this.setStatus(d.next);
    const added = d.next & ~from;
    if (added & STATUS.FEATURES_OK) this.negotiated = this.driverFeatures; // INIT-DRV-08: fixed from here on
    if (added & STATUS.FEATURES_OK) {
      const epoch = this.epoch;
      enforceWindows(this.mem, this.negotiated, { trace: this.trace, now: () => this.clock.now, name: this.name, violation: (d) => epoch === this.epoch && this.violation("RSVD-DRV-04", d) });
    }
    if (unsupported) this.needsReset();
    if (added & STATUS.DRIVER_OK && !this._halted) this.device.activate(this.context());
  }

  private setStatus(to: number): void {
    const from = this._status;
    if (to === from) return;
    this._status = to;
    this.trace.emit({ t: this.clock.now, k: "status", dev: this.name, from, to });
  }

  /** Device reset (2.4; MMIO-DEV-05): status, queues, InterruptStatus and features back to 0. */
  private reset(): void {
    this.epoch++;
    this.setStatus(0);
    this.device.reset();
    this.qr.reset();
    this.deviceFeaturesSel = 0;
    this.driverFeaturesSel = 0;
    this.driverFeatures = 0n;
    this.negotiated = 0n;
    this._halted = false;
    this._interruptStatus = 0;
    windowsOff(this.mem);
    this.irq.set(false);
  }

  private context(): DeviceContext {
    const epoch = this.epoch;
    const live = () => epoch === this.epoch && !this._halted;
    return {
      features: this.negotiated,
      queues: this.qr.queues,
      notifyUsed: () => {
        if (live()) this.raise(INT.USED_BUFFER);
      },
      notifyConfig: () => {
        if (live()) this.raise(INT.CONFIG_CHANGE);
      },
      breach: this.breachFn(),
      violation: (clause, detail) => {
        if (epoch === this.epoch) this.violation(clause, detail);
      },
      // A context from before the last reset is dead: it reads halted too (RESET-DEV-02).
      get halted() {
        return !live();
      },
    };
  }

  // ---- violations and breaches ----------------------------------------------------------------

  private violation(clause: ClauseId, detail: string): void {
    const t = this.clock.now;
    this._violations.push({ t, k: "violation", clause, detail });
    this.trace.emit({ t, k: "violation", dev: this.name, clause, detail });
  }

  /** A breach function bound to the current reset epoch: a stale queue or context cannot reach a later one. */
  private breachFn(): BreachFn {
    const epoch = this.epoch;
    return (clause, detail) => {
      if (epoch === this.epoch) this.breach(clause, detail);
    };
  }

  /** Record a breach, set DEVICE_NEEDS_RESET and stop the device until reset (QEMU's virtio_error). */
  private breach(clause: ClauseId, detail: string): void {
    const t = this.clock.now;
    this._violations.push({ t, k: "breach", clause, detail });
    this.trace.emit({ t, k: "breach", dev: this.name, clause, detail });
    this.needsReset();
  }

  private needsReset(): void {
    this._halted = true;
    if ((this._status & STATUS.DEVICE_NEEDS_RESET) !== 0) return;
    this.setStatus(this._status | STATUS.DEVICE_NEEDS_RESET); // STATUS-DEV-02
    if ((this._status & STATUS.DRIVER_OK) !== 0) this.raise(INT.CONFIG_CHANGE); // STATUS-DEV-03
  }

  // ---- inspection (tests, the machine, reports) ------------------------------------------------

  get status(): number {
    return this._status;
  }
  /** The feature set fixed at FEATURES_OK (0 before it). */
  get negotiatedFeatures(): bigint {
    return this.negotiated;
  }
  /** True from a breach until the next reset: no doorbell reaches the device. */
  get halted(): boolean {
    return this._halted;
  }
  get interruptStatus(): number {
    return this._interruptStatus;
  }
  queue(q: number): DeviceSplitQueue | undefined {
    return this.qr.queues[q];
  }
  get violations(): readonly TransportViolation[] {
    return this._violations;
  }
}
