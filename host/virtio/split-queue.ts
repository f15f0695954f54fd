// The device side of one split virtqueue (2.7): pops available chains, fills and returns them
// through the used ring, and decides notifications in both directions (2.7.7, 2.7.10).
import type { ClauseId } from "../gen/clauses.js";
import { VIRTQ, VIRTQ_AVAIL_F, VIRTQ_USED_F } from "../gen/constants.js";
import type { GuestMemory } from "../guest/memory.js";
import type { Trace } from "../report/trace.js";
import type { Clock } from "../sim/clock.js";
import { type Chain, isChainBreach, walkChain } from "./chain.js";
import type { BreachFn } from "./device.js";

export type { Buf, Chain } from "./chain.js";

/**
 * Fault hooks of the hostile-device mode (host/devices/hostile.ts): rewrite a used element
 * before it is written (null: never complete it), or the used.idx value published. Unset: none.
 */
export interface QueueFaults {
  used?(q: number, head: number, len: number): [number, number] | null;
  publish?(q: number, idx: number): number;
}

export interface SplitQueueConfig {
  /** Queue index (trace field q). */
  index: number;
  /** QueueSize: a power of 2, 1..32768. */
  size: number;
  /** Guest-physical addresses of the Descriptor Table, Available Ring (driver area) and Used Ring (device area). */
  descAddr: number;
  driverAddr: number;
  deviceAddr: number;
  /** VIRTIO_F_EVENT_IDX negotiated. */
  eventIdx: boolean;
  /** VIRTIO_F_INDIRECT_DESC negotiated. */
  indirect: boolean;
}

// Field offsets inside struct virtq_avail / struct virtq_used (spec/layouts.md section 6).
const RING_FLAGS = 0;
const RING_IDX = 2;
const RING = 4;

function hex(v: number): string {
  return "0x" + v.toString(16);
}

/**
 * One split virtqueue as the device sees it. Every index is a 16-bit shadow that wraps; any
 * driver breach is reported once through `breach` and leaves the queue broken (every later call
 * a no-op), as QEMU's virtio_error.
 */
export class DeviceSplitQueue {
  readonly cfg: SplitQueueConfig;
  private readonly mem: GuestMemory;
  private readonly breach: BreachFn;
  private readonly trace: Trace;
  private readonly clock: Clock;
  private readonly dev: string;
  private readonly size: number;
  // Linear offsets of the three areas; valid once `layoutOk`.
  private availOff = -1;
  private usedOff = -1;
  private usedEventOff = -1;
  private availEventOff = -1;
  private layoutChecked = false;
  private layoutOk = false;
  private _broken = false;
  /** Next avail ring slot the device reads (last_avail_idx). */
  private _lastAvail = 0;
  /** avail.idx - last_avail at the last read of avail.idx: it may only grow until popped (SPLIT-DRV-09). */
  private seenPending = 0;
  /** Next used ring slot the device writes (shadow used idx, not yet visible). */
  private shadowUsed = 0;
  /** used.idx as last published. */
  private publishedUsed = 0;
  private kickSuppressed = false;
  /** Hostile-device mode only (host/devices/hostile.ts). */
  faults: QueueFaults | undefined;

  constructor(mem: GuestMemory, cfg: SplitQueueConfig, breach: BreachFn, trace: Trace, clock: Clock, dev: string) {
    // QueueSize is the transport's to check when the driver writes it; a bad one here is a host bug.
    if (!Number.isInteger(cfg.size) || cfg.size < 1 || cfg.size > VIRTQ.MAX_SIZE || (cfg.size & (cfg.size - 1)) !== 0) {
      throw new RangeError(`QueueSize must be a power of 2 in 1..${VIRTQ.MAX_SIZE}, got ${cfg.size}`);
    }
    this.mem = mem;
    this.cfg = cfg;
    this.breach = breach;
    this.trace = trace;
    this.clock = clock;
    this.dev = dev;
    this.size = cfg.size;
  }

  get broken(): boolean {
    return this._broken;
  }

  get lastAvail(): number {
    return this._lastAvail;
  }

  get usedIdx(): number {
    return this.shadowUsed;
  }

  private fail(clause: ClauseId, detail: string): void {
    if (this._broken) return;
    this._broken = true;
    this.breach(clause, `queue ${this.cfg.index}: ${detail}`);
  }

  /** True when the queue may touch its rings: not broken and the layout checked good. */
  private ready(): boolean {
    if (this._broken) return false;
    return this.layoutChecked ? this.layoutOk : this.validateLayout();
  }

  /**
   * Check the three areas: alignment 16/2/4 (SPLIT-DRV-01) and inside RAM with their full sizes,
   * used_event and avail_event included (DERIVED-MEM). Pop and friends run it on first use.
   */
  validateLayout(): boolean {
    if (this._broken) return false;
    if (this.layoutChecked) return this.layoutOk;
    this.layoutChecked = true;
    const { descAddr, driverAddr, deviceAddr } = this.cfg;
    const n = this.size;
    if (descAddr % VIRTQ.DESC_ALIGN !== 0) {
      this.fail("SPLIT-DRV-01", `descriptor table ${hex(descAddr)} not ${VIRTQ.DESC_ALIGN}-byte aligned`);
    } else if (driverAddr % VIRTQ.AVAIL_ALIGN !== 0) {
      this.fail("SPLIT-DRV-01", `available ring ${hex(driverAddr)} not ${VIRTQ.AVAIL_ALIGN}-byte aligned`);
    } else if (deviceAddr % VIRTQ.USED_ALIGN !== 0) {
      this.fail("SPLIT-DRV-01", `used ring ${hex(deviceAddr)} not ${VIRTQ.USED_ALIGN}-byte aligned`);
    } else if (this.mem.dma(descAddr, VIRTQ.DESC_SIZE * n, "r") < 0) {
      this.fail("DERIVED-MEM", `descriptor table ${hex(descAddr)} (${VIRTQ.DESC_SIZE * n} bytes) outside RAM`);
    } else if ((this.availOff = this.mem.dma(driverAddr, 6 + 2 * n, "r")) < 0) {
      this.fail("DERIVED-MEM", `available ring ${hex(driverAddr)} (${6 + 2 * n} bytes) outside RAM`);
    } else if ((this.usedOff = this.mem.dma(deviceAddr, 6 + VIRTQ.USED_ELEM_SIZE * n, "w")) < 0) {
      this.fail("DERIVED-MEM", `used ring ${hex(deviceAddr)} (${6 + VIRTQ.USED_ELEM_SIZE * n} bytes) outside RAM`);
    } else {
      this.usedEventOff = this.availOff + RING + 2 * n;
      this.availEventOff = this.usedOff + RING + VIRTQ.USED_ELEM_SIZE * n;
      this.layoutOk = true;
    }
    return this.layoutOk;
  }

  /**
   * Chains available and not yet popped. avail.idx may run at most QueueSize ahead of
   * last_avail_idx and never back (SPLIT-DRV-09).
   */
  pending(): number {
    if (!this.ready()) return 0;
    const availIdx = this.mem.r16(this.availOff + RING_IDX);
    const n = (availIdx - this._lastAvail) & 0xffff;
    if (n > this.size || n < this.seenPending) {
      const before = (this._lastAvail + this.seenPending) & 0xffff;
      this.fail(
        "SPLIT-DRV-09",
        `avail.idx moved from ${before} to ${availIdx} (last_avail_idx ${this._lastAvail}, QueueSize ${this.size})`,
      );
      return 0;
    }
    this.seenPending = n;
    return n;
  }

  /** The next available chain, walked and checked; null when none is available or on a breach. */
  pop(): Chain | null {
    if (this.pending() === 0) return null;
    const n = this.size;
    const head = this.mem.r16(this.availOff + RING + 2 * (this._lastAvail & (n - 1)));
    const r = walkChain(this.mem, n, this.cfg.descAddr, head, this.cfg.indirect);
    if (isChainBreach(r)) {
      this.fail(r.clause, r.detail);
      return null;
    }
    this._lastAvail = (this._lastAvail + 1) & 0xffff;
    this.seenPending--;
    // While kicks are wanted, avail_event follows the next index the device will read (SPLIT-DEV-19).
    if (this.cfg.eventIdx && !this.kickSuppressed) this.mem.w16(this.availEventOff, this._lastAvail);
    this.trace.emit({
      t: this.clock.now,
      k: "vq.pop",
      dev: this.dev,
      q: this.cfg.index,
      head,
      descs: r.descCount,
      rlen: r.readableLen,
      wlen: r.writableLen,
    });
    return r;
  }

  /**
   * Give back the last `n` popped chains, so the next pops return them again (QEMU's
   * virtqueue_unpop, rust-vmm's go_to_previous_position): a device that cannot use them yet.
   * Nothing may have been added to the used ring for them. avail_event stays where the pops left
   * it, so the driver's next publish still kicks.
   */
  unpop(n: number): void {
    if (this._broken || !(n > 0)) return;
    const back = Math.min(Math.floor(n), this.size - this.seenPending);
    this._lastAvail = (this._lastAvail - back) & 0xffff;
    this.seenPending += back;
    this.trace.emit({ t: this.clock.now, k: "vq.unpop", dev: this.dev, q: this.cfg.index, n: back });
  }

  /** Copy the chain's readable bytes, from byte `skip` on, into `dst`; returns bytes copied. */
  read(chain: Chain, dst: Uint8Array, skip = 0): number {
    if (this._broken) return 0;
    const u8 = this.mem.u8;
    const bufs = chain.readable;
    let pos = 0;
    let want = dst.length;
    for (let i = 0; i < bufs.length && want > 0; i++) {
      const b = bufs[i];
      if (skip >= b.len) {
        skip -= b.len;
        continue;
      }
      const n = Math.min(b.len - skip, want);
      dst.set(u8.subarray(b.off + skip, b.off + skip + n), pos);
      pos += n;
      want -= n;
      skip = 0;
    }
    return pos;
  }

  /**
   * Copy `src` into the chain's writable buffers from byte `offset` on; returns bytes written.
   * Readable buffers are never written (SPLIT-DEV-01).
   */
  write(chain: Chain, src: Uint8Array, offset = 0): number {
    if (this._broken) return 0;
    const u8 = this.mem.u8;
    const bufs = chain.writable;
    let pos = 0;
    let left = src.length;
    for (let i = 0; i < bufs.length && left > 0; i++) {
      const b = bufs[i];
      if (offset >= b.len) {
        offset -= b.len;
        continue;
      }
      const n = Math.min(b.len - offset, left);
      u8.set(src.subarray(pos, pos + n), b.off + offset);
      pos += n;
      left -= n;
      offset = 0;
    }
    return pos;
  }

  /** Put {id: head, len} in the next used ring slot; the driver sees it after publishUsed. */
  addUsed(head: number, len: number): void {
    if (!this.ready()) return;
    if (this.faults?.used) {
      const f = this.faults.used(this.cfg.index, head, len);
      if (f === null) return;
      [head, len] = f;
    }
    const e = this.usedOff + RING + VIRTQ.USED_ELEM_SIZE * (this.shadowUsed & (this.size - 1));
    this.mem.w32(e, head);
    this.mem.w32(e + 4, len);
    this.shadowUsed = (this.shadowUsed + 1) & 0xffff;
    this.trace.emit({ t: this.clock.now, k: "vq.used", dev: this.dev, q: this.cfg.index, head, len });
  }

  /**
   * Make the added used elements visible (their len is already written, SPLIT-DEV-13) and say
   * whether a used-buffer notification is due. False when nothing was added since the last call.
   */
  publishUsed(): boolean {
    if (!this.ready()) return false;
    const old = this.publishedUsed;
    const now = this.shadowUsed;
    if (now === old) return false;
    this.mem.w16(this.usedOff + RING_IDX, this.faults?.publish ? this.faults.publish(this.cfg.index, now) & 0xffff : now);
    this.publishedUsed = now;
    let irq: boolean;
    if (this.cfg.eventIdx) {
      // vring_need_event(used_event, new, old): notify when used_event lies in [old, new)
      // (SPLIT-DEV-11/12); bit 0 of avail.flags means nothing here (SPLIT-DEV-10).
      const usedEvent = this.mem.r16(this.usedEventOff);
      irq = ((now - usedEvent - 1) & 0xffff) < ((now - old) & 0xffff);
    } else {
      // NO_INTERRUPT decides (SPLIT-DEV-08/09); used_event is ignored (SPLIT-DEV-07).
      irq = (this.mem.r16(this.availOff + RING_FLAGS) & VIRTQ_AVAIL_F.NO_INTERRUPT) === 0;
    }
    this.trace.emit({ t: this.clock.now, k: "vq.publish", dev: this.dev, q: this.cfg.index, idx: now, irq });
    return irq;
  }

  /**
   * Ask the driver to stop (or resume) kicking. Without EVENT_IDX: used.flags = NO_NOTIFY or 0
   * (SPLIT-DEV-16/17). With EVENT_IDX: used.flags stays 0 (SPLIT-DEV-18); resuming sets
   * avail_event to last_avail_idx, suppressing leaves it where it is (SPLIT-DEV-19).
   */
  setKickSuppression(suppress: boolean): void {
    if (!this.ready()) return;
    this.kickSuppressed = suppress;
    if (this.cfg.eventIdx) {
      this.mem.w16(this.usedOff + RING_FLAGS, 0);
      if (!suppress) this.mem.w16(this.availEventOff, this._lastAvail);
    } else {
      this.mem.w16(this.usedOff + RING_FLAGS, suppress ? VIRTQ_USED_F.NO_NOTIFY : 0);
    }
  }
}
