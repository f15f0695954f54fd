// The transport-independent part of a virtio device function (2.1-2.4, 3.1): device status via the
// transition table, feature words, the ISR bits, reset, doorbell delivery, the DeviceContext and
// the violation / breach record. virtio-mmio legacy and virtio-pci (modern and legacy) register
// files sit on top of it and decide only how these reach the bus and how an interrupt is signalled.
import type { ClauseId } from "../gen/clauses.js";
import { F, INT, STATUS } from "../gen/constants.js";
import type { Trace } from "../report/trace.js";
import type { Clock } from "../sim/clock.js";
import type { GuestMemory } from "../guest/memory.js";
import type { BreachFn, DeviceContext, VirtioDeviceModel } from "./device.js";
import { has } from "./features.js";
import { enforceWindows, windowsOff } from "./iommu.js";
import type { TransportViolation } from "./mmio.js";
import type { DeviceSplitQueue } from "./split-queue.js";
import { decideStatusWrite } from "./status.js";

const ALL128 = (1n << 128n) - 1n;
const LOW32 = 0xffff_ffffn;

/** What every device-side transport exposes for inspection (the Machine, tests, reports). */
export interface TransportView {
  readonly status: number;
  readonly negotiatedFeatures: bigint;
  readonly halted: boolean;
  readonly interruptStatus: number;
  readonly violations: readonly TransportViolation[];
  queue(q: number): DeviceSplitQueue | undefined;
}

/** The queue register file of a transport, as the core needs it. */
export interface QueueFile {
  /** Device-side queues by index (undefined: not live); replaced at reset. */
  readonly queues: (DeviceSplitQueue | undefined)[];
  reset(): void;
}

/** How a transport signals an interrupt cause once the core has set the ISR bit. */
export type Signal = (cause: "queue" | "config", q: number) => void;

export interface VirtioCoreOptions {
  name: string;
  device: VirtioDeviceModel;
  mem: GuestMemory;
  clock: Clock;
  trace: Trace;
  /** Doorbell to device.notify delay, ns. */
  doorbellNs: number;
  /** Legacy interface (4.1.4.10, 4.2.4): 32 feature bits, no FEATURES_OK step, features fixed at DRIVER_OK. */
  legacy: boolean;
}

function hex(v: number | bigint): string {
  return "0x" + v.toString(16);
}

export class VirtioCore implements TransportView {
  readonly name: string;
  readonly device: VirtioDeviceModel;
  readonly mem: GuestMemory;
  readonly clock: Clock;
  readonly trace: Trace;
  readonly legacy: boolean;
  private readonly doorbellNs: number;
  /** Set by the transport: the queue registers and the interrupt signalling. */
  queueFile!: QueueFile;
  signal: Signal = () => {};
  /** Called after a reset has cleared the core (the transport drops its line, vectors, selectors). */
  onReset: () => void = () => {};

  private _status = 0;
  private _isr = 0;
  private _halted = false;
  /** Bumped by every reset: callbacks from before a reset are dead (RESET-DEV-02). */
  private epoch = 0;
  private driverFeatures = 0n;
  private negotiated = 0n;
  private readonly _violations: TransportViolation[] = [];

  constructor(o: VirtioCoreOptions) {
    this.name = o.name;
    this.device = o.device;
    this.mem = o.mem;
    this.clock = o.clock;
    this.trace = o.trace;
    this.legacy = o.legacy;
    this.doorbellNs = o.doorbellNs;
    this.device.bindViolations?.((clause, detail) => this.violation(clause, detail));
  }

  // ---- features (2.2) ----

  /** Offered bits [32*sel, 32*sel+31]; a legacy interface shows bits 0-31 only (no VERSION_1). */
  deviceFeaturesWord(sel: number): number {
    if (sel >= (this.legacy ? 1 : 4)) return 0;
    return Number((this.device.deviceFeatures >> BigInt(32 * sel)) & LOW32);
  }

  /** The accepted bits of word `sel` as written (reads back, PCI-DEV-15). */
  driverFeaturesWord(sel: number): number {
    return sel < 4 ? Number((this.driverFeatures >> BigInt(32 * sel)) & LOW32) : 0;
  }

  writeDriverFeatures(sel: number, v: number): void {
    if ((this._status & (this.legacy ? STATUS.DRIVER_OK : STATUS.FEATURES_OK)) !== 0) {
      return this.violation("INIT-DRV-08", `driver features word ${sel} = ${hex(v)} after ${this.legacy ? "DRIVER_OK" : "FEATURES_OK"}`);
    }
    if (sel >= (this.legacy ? 1 : 4)) {
      if (v !== 0) this.violation("FEAT-DRV-01", `driver features word ${sel} = ${hex(v)}: no such feature bits on this interface`);
      return;
    }
    const shift = BigInt(32 * sel);
    this.driverFeatures = (this.driverFeatures & ~(LOW32 << shift)) | (BigInt(v >>> 0) << shift);
  }

  /** The feature set rings are built with: fixed at FEATURES_OK, or (legacy) what was written so far. */
  get ringFeatures(): bigint {
    return this.legacy && (this._status & STATUS.DRIVER_OK) === 0 ? this.driverFeatures : this.negotiated;
  }

  // ---- status (2.1, 3.1.1; decisions in status.ts) ----

  writeStatus(v: number): void {
    const d = decideStatusWrite(this._status, v, {
      offered: this.legacy ? this.device.deviceFeatures & LOW32 : this.device.deviceFeatures & ALL128,
      accepted: this.driverFeatures,
      checkFeatures: (a) => this.device.checkFeatures(a),
      legacy: this.legacy,
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
    if (added & STATUS.FEATURES_OK) this.negotiated = this.driverFeatures; // INIT-DRV-08
    if (this.legacy && added & STATUS.DRIVER_OK) this.negotiated = this.driverFeatures; // legacy: no FEATURES_OK
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

  /** Device reset (2.4): status, queues, ISR and features back to 0 (MMIO-DEV-05, PCI-DEV-18/19/63). */
  reset(): void {
    this.epoch++;
    this.setStatus(0);
    this.device.reset();
    this.queueFile.reset();
    this.driverFeatures = 0n;
    this.negotiated = 0n;
    this._halted = false;
    windowsOff(this.mem);
    this._isr = 0;
    this.onReset();
  }

  // ---- notifications ----

  /** An available-buffer notification for queue q (4.2.3.3, 4.1.5.2): delivered after the doorbell cost. */
  notify(q: number): void {
    this.trace.emit({ t: this.clock.now, k: "notify", dev: this.name, q });
    if ((this._status & STATUS.DRIVER_OK) === 0) {
      return this.violation("INIT-DRV-14", `notify ${q} before DRIVER_OK (status ${hex(this._status)})`);
    }
    if (!this.deliverable(q)) return;
    const epoch = this.epoch;
    this.clock.after(this.doorbellNs, () => {
      if (epoch !== this.epoch || !this.deliverable(q)) return;
      this.trace.emit({ t: this.clock.now, k: "notify.seen", dev: this.name, q });
      this.device.notify(q);
    });
  }

  private deliverable(q: number): boolean {
    const reason = this._halted ? "device halted (DEVICE_NEEDS_RESET)" : this.queueFile.queues[q] === undefined ? "queue not ready" : undefined;
    if (reason !== undefined) this.trace.emit({ t: this.clock.now, k: "notify.dropped", dev: this.name, q, reason });
    return reason === undefined;
  }

  /** NOTIFICATION_DATA negotiated: the notify value carries vq_index in bits 0-15 (layouts.md 4c). */
  get notificationData(): boolean {
    return has(this.negotiated, F.NOTIFICATION_DATA);
  }

  // ---- the ISR bits (4.1.4.5, 4.2.2 InterruptStatus) ----

  get interruptStatus(): number {
    return this._isr;
  }

  /** Clear `bits` (InterruptACK on MMIO, the read-to-clear ISR on PCI, PCI-DEV-44). */
  clearIsr(bits: number): void {
    this._isr &= ~bits;
  }

  private raise(cause: "queue" | "config", q: number): void {
    this._isr |= cause === "queue" ? INT.USED_BUFFER : INT.CONFIG_CHANGE; // PCI-DEV-41/42
    this.signal(cause, q);
  }

  private context(): DeviceContext {
    const epoch = this.epoch;
    const live = () => epoch === this.epoch && !this._halted;
    return {
      features: this.negotiated,
      queues: this.queueFile.queues,
      notifyUsed: (q) => {
        if (live()) this.raise("queue", q);
      },
      notifyConfig: () => {
        if (live()) this.raise("config", 0);
      },
      breach: this.breachFn(),
      violation: (clause, detail) => {
        if (epoch === this.epoch) this.violation(clause, detail);
      },
      get halted() {
        return !live();
      },
    };
  }

  // ---- violations and breaches ----

  violation(clause: ClauseId, detail: string): void {
    const t = this.clock.now;
    this._violations.push({ t, k: "violation", clause, detail });
    this.trace.emit({ t, k: "violation", dev: this.name, clause, detail });
  }

  /** A breach function bound to the current reset epoch. */
  breachFn(): BreachFn {
    const epoch = this.epoch;
    return (clause, detail) => {
      if (epoch !== this.epoch) return;
      const t = this.clock.now;
      this._violations.push({ t, k: "breach", clause, detail });
      this.trace.emit({ t, k: "breach", dev: this.name, clause, detail });
      this.needsReset();
    };
  }

  /** Also the hostile-device mode's DEVICE_NEEDS_RESET fault (host/devices/hostile.ts). */
  needsReset(): void {
    this._halted = true;
    if ((this._status & STATUS.DEVICE_NEEDS_RESET) !== 0) return;
    this.setStatus(this._status | STATUS.DEVICE_NEEDS_RESET); // STATUS-DEV-02
    if ((this._status & STATUS.DRIVER_OK) !== 0) this.raise("config", 0); // STATUS-DEV-03
  }

  // ---- inspection ----

  get status(): number {
    return this._status;
  }
  get negotiatedFeatures(): bigint {
    return this.negotiated;
  }
  get halted(): boolean {
    return this._halted;
  }
  get violations(): readonly TransportViolation[] {
    return this._violations;
  }
  queue(q: number): DeviceSplitQueue | undefined {
    return this.queueFile.queues[q];
  }
}
