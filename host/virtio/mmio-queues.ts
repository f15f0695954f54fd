// The virtio-mmio queue registers (4.2.2, 4.2.3.2): QueueSel, QueueSizeMax, QueueSize, QueueReady,
// QueueReset and the Descriptor/Driver/Device area addresses, per queue, and the queues they build.
import type { ClauseId } from "../gen/clauses.js";
import { F, STATUS, VIRTQ } from "../gen/constants.js";
import type { GuestMemory } from "../guest/memory.js";
import type { Trace } from "../report/trace.js";
import type { Clock } from "../sim/clock.js";
import type { BreachFn, VirtioDeviceModel } from "./device.js";
import { has } from "./features.js";
import { DeviceSplitQueue, type SplitQueueConfig } from "./split-queue.js";

/** What the queue registers need from their transport. */
export interface QueueRegisterHost {
  readonly name: string;
  readonly device: VirtioDeviceModel;
  readonly mem: GuestMemory;
  readonly trace: Trace;
  readonly clock: Clock;
  /** The device status field now. */
  status(): number;
  /** The feature set fixed at FEATURES_OK. */
  negotiated(): bigint;
  /** A breach function for a new queue (bound to the current reset epoch). */
  breachFn(): BreachFn;
  violation(clause: ClauseId, detail: string): void;
  /** The clause ids misuse is recorded under (default MMIO_QUEUE_CLAUSES; virtio-pci passes PCI_QUEUE_CLAUSES). */
  readonly clauses?: QueueClauses;
}

/** Which clause each queue-register misuse breaks: the rows differ per transport, the checks do not. */
export interface QueueClauses {
  /** A size that is not a power of 2, or larger than the maximum. */
  size: ClauseId;
  /** A queue field written while the queue is enabled. */
  whileLive: ClauseId;
  /** Enabling a queue that does not exist (maximum size 0). */
  noQueue: ClauseId;
}

/** virtio-mmio (4.2.2.2): QueueSize no larger than QueueSizeMax, nothing written while QueueReady. */
export const MMIO_QUEUE_CLAUSES: QueueClauses = { size: "MMIO-DRV-14", whileLive: "MMIO-DRV-15", noQueue: "MMIO-DRV-14" };

/**
 * virtio-pci common configuration (4.1.4.3.2): queue_size only powers of 2 (PCI-DRV-17; the spec has
 * no separate PCI row for "no larger than the maximum", 4.1.5.1.3 only allows reducing it, so that
 * is recorded there too); every other queue field before queue_enable = 1 (PCI-DRV-18), which
 * covers writing them while enabled and enabling a queue whose queue_size reads 0.
 */
export const PCI_QUEUE_CLAUSES: QueueClauses = { size: "PCI-DRV-17", whileLive: "PCI-DRV-18", noQueue: "PCI-DRV-18" };

export type AreaName = "desc" | "driver" | "device";

interface QueueRegs {
  size: number;
  ready: number;
  /** [Low, High] halves of QueueDesc, QueueDriver, QueueDevice. */
  desc: [number, number];
  driver: [number, number];
  device: [number, number];
}

function addr64([lo, hi]: [number, number]): number {
  // Above 2^53 nothing can be RAM; collapse to a value GuestMemory.check refuses.
  return hi >= 0x20_0000 ? Number.MAX_SAFE_INTEGER : hi * 0x1_0000_0000 + lo;
}

/** A split ring's QueueSize: a power of 2 (2.7), 1..min(QueueSizeMax, 32768). */
function validSize(size: number, max: number): boolean {
  return size !== 0 && size <= Math.min(max, VIRTQ.MAX_SIZE) && (size & (size - 1)) === 0;
}

export class MmioQueueRegisters {
  /** QueueSel. Any value may be selected; a queue that does not exist reads QueueSizeMax 0. */
  sel = 0;
  private regs: QueueRegs[] = [];
  private _queues: (DeviceSplitQueue | undefined)[] = [];
  private readonly c: QueueClauses;

  constructor(private readonly host: QueueRegisterHost) {
    this.c = host.clauses ?? MMIO_QUEUE_CLAUSES;
    this.reset();
  }

  /**
   * The device-side queues by index (undefined: not ready). The array is replaced at reset, so
   * a DeviceContext holding it sees ready/stop changes until then and nothing after.
   */
  get queues(): (DeviceSplitQueue | undefined)[] {
    return this._queues;
  }

  /** Device reset: every QueueReady back to 0 (MMIO-DEV-05), registers to their initial values. */
  reset(): void {
    const n = this.host.device.numQueues;
    this.sel = 0;
    this.regs = [];
    this._queues = [];
    for (let q = 0; q < n; q++) {
      // QueueSize starts at QueueSizeMax, as QEMU does; a driver writes it anyway (4.2.3.2 step 5).
      this.regs.push({ size: this.sizeMaxOf(q), ready: 0, desc: [0, 0], driver: [0, 0], device: [0, 0] });
      this._queues.push(undefined);
    }
  }

  private sizeMaxOf(q: number): number {
    return q < this.host.device.numQueues ? this.host.device.queueSizeMax(q) >>> 0 : 0;
  }

  /** QueueSizeMax of the selected queue (0: no such queue). */
  readSizeMax(): number {
    return this.sizeMaxOf(this.sel);
  }

  /** QueueSize of the selected queue as last accepted (virtio-pci queue_size reads it back, 4.1.4.3). */
  readSize(): number {
    return this.regs[this.sel]?.size ?? 0;
  }

  /** One half of an area address of the selected queue, as written (virtio-pci queue_desc etc. are RW). */
  readArea(area: AreaName, half: 0 | 1): number {
    return this.regs[this.sel]?.[area][half] ?? 0;
  }

  /** QueueReady of the selected queue: reads back what was last accepted. */
  readReady(): number {
    return this.regs[this.sel]?.ready ?? 0;
  }

  /** QueueSize and the area addresses: writable only while QueueReady is 0 (MMIO-DRV-15, PCI-DRV-18). */
  private program(reg: string, set: (r: QueueRegs) => void): void {
    const r = this.regs[this.sel];
    if (r === undefined) return; // no such queue: nothing to program (QueueSizeMax reads 0)
    if (r.ready !== 0) return this.host.violation(this.c.whileLive, `${reg} of queue ${this.sel} written while QueueReady is 1`);
    set(r);
  }

  writeSize(v: number): void {
    const q = this.sel;
    if (this.regs[q]?.ready) return this.program("QueueSize", () => {});
    const max = this.sizeMaxOf(q);
    if (!validSize(v, max)) {
      return this.host.violation(this.c.size, `QueueSize ${v} for queue ${q}: must be a power of 2 no larger than QueueSizeMax ${max}`);
    }
    this.program("QueueSize", (r) => (r.size = v));
  }

  /** QueueDescLow/High, QueueDriverLow/High, QueueDeviceLow/High. */
  writeArea(reg: string, area: AreaName, half: 0 | 1, v: number): void {
    this.program(reg, (r) => (r[area][half] = v));
  }

  writeReady(v: number): void {
    const q = this.sel;
    const r = this.regs[q];
    const h = this.host;
    if (v === 0) {
      // MMIO-DRV-16: the driver stops using the queue; the device stops touching it (MMIO-DEV-07).
      if (r !== undefined && r.ready !== 0) this.stop(q);
      return;
    }
    if (r === undefined) return h.violation(this.c.noQueue, `QueueReady for queue ${q}, which does not exist (QueueSizeMax 0)`);
    if (r.ready !== 0) return;
    // Queue setup is step 7, after FEATURES_OK (3.1.1); the ring format depends on the features.
    if ((h.status() & STATUS.FEATURES_OK) === 0) {
      return h.violation("INIT-DRV-10", `queue ${q} enabled before FEATURES_OK (status 0x${h.status().toString(16)})`);
    }
    if (!validSize(r.size, this.sizeMaxOf(q))) {
      return h.violation(this.c.size, `queue ${q} enabled with QueueSize ${r.size} (QueueSizeMax ${this.sizeMaxOf(q)})`);
    }
    r.ready = 1;
    const neg = h.negotiated();
    const cfg: SplitQueueConfig = {
      index: q,
      size: r.size,
      descAddr: addr64(r.desc),
      driverAddr: addr64(r.driver),
      deviceAddr: addr64(r.device),
      eventIdx: has(neg, F.EVENT_IDX),
      indirect: has(neg, F.INDIRECT_DESC),
    };
    const vq = new DeviceSplitQueue(h.mem, cfg, h.breachFn(), h.trace, h.clock, h.name);
    this._queues[q] = vq;
    h.trace.emit({ t: h.clock.now, k: "queue", dev: h.name, q, ready: true, size: cfg.size, desc: cfg.descAddr, driver: cfg.driverAddr, device: cfg.deviceAddr });
    // A bad layout is a breach the queue reports itself (SPLIT-DRV-01, DERIVED-MEM).
    vq.validateLayout();
  }

  /** QueueReset = 1 (MMIO-DEV-10), only with VIRTIO_F_RING_RESET; it completes at once, so it reads 0. */
  writeReset(v: number): void {
    if (v === 1 && has(this.host.negotiated(), F.RING_RESET) && this.regs[this.sel]?.ready) {
      this.stop(this.sel);
      // Every queue register back to its reset value too (VQRST-DEV-02); re-enabling reprograms them (VQRST-DEV-03).
      this.regs[this.sel] = { size: this.sizeMaxOf(this.sel), ready: 0, desc: [0, 0], driver: [0, 0], device: [0, 0] };
    }
  }

  private stop(q: number): void {
    this.regs[q].ready = 0;
    this._queues[q] = undefined;
    this.host.trace.emit({ t: this.host.clock.now, k: "queue", dev: this.host.name, q, ready: false });
  }
}
