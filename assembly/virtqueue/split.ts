// The driver side of a split virtqueue (2.7): descriptor table, available ring, used ring, a free
// list and a private shadow of every published descriptor. Used ids and lengths are checked
// against the shadow, never trusted from shared memory; any inconsistency marks the queue broken
// (ABI_BROKEN reason) and every later operation on it fails (after Linux virtio_ring.c BAD_RING).
// One buffer is one descriptor, or (legacy without ANY_LAYOUT, 5.1.6.6) a header descriptor chained to
// a fixed partner descriptor `head + size / 2` holding the rest; no INDIRECT (SPLIT-DRV-04..08).
import { ABI_BROKEN, HAL_BARRIER, VIRTQ, VIRTQ_AVAIL_F, VIRTQ_DESC_F, VIRTQ_USED_F } from "../gen/constants";
import { barrier } from "../hal";

// struct virtq_desc (2.7.5)
const DESC_ADDR: u32 = 0;
const DESC_LEN: u32 = 8;
const DESC_FLAGS: u32 = 12;
const DESC_NEXT: u32 = 14;
// struct virtq_avail (2.7.6) and struct virtq_used (2.7.8)
const RING_FLAGS: u32 = 0;
const RING_IDX: u32 = 2;
const RING_ENTRIES: u32 = 4;
const USED_ELEM_ID: u32 = 0;
const USED_ELEM_LEN: u32 = 4;

// Shadow entry per descriptor (driver-private): buffer offset, posted length, free-list link, state.
const SH_BUF: u32 = 0;
const SH_LEN: u32 = 4;
const SH_NEXT: u32 = 8;
const SH_STATE: u32 = 10;
const SH_SIZE: u32 = 12;
const SH_FREE: u16 = 0;
const SH_OUTSTANDING: u16 = 1;
const FREE_END: u32 = 0xffff;

/** Largest queue size the fixed area below is laid out for. */
export const QUEUE_SIZE_LIMIT: u32 = 256;
/** Bytes of one queue's area: rings (desc 4096 + avail 520 + used 2056 at size 256) + shadow. */
export const QUEUE_AREA: u32 = 16384;
export const AVAIL_OFF: u32 = 4096;
export const USED_OFF: u32 = 5120;
const SHADOW_OFF: u32 = 8192;
/** The shadow in the legacy layout, after a used ring aligned to 4096 (2.7.2: at most 12288 bytes of rings at size 256). */
const SHADOW_OFF_LEGACY: u32 = 12288;

/** vring_need_event (2.7.10, virtio-queue.h): did [old, new) cross event? 16-bit arithmetic. */
// @ts-ignore: decorator
@inline export function vring_need_event(event: u32, newIdx: u32, old: u32): bool {
  return ((newIdx - event - 1) & 0xffff) < ((newIdx - old) & 0xffff);
}

export class SplitQueue {
  /** Virtqueue index on the device (receiveq1 = 0, transmitq1 = 1). */
  index: u32 = 0;
  /** Queue size, a power of 2 (2.7). */
  size: u32 = 0;
  /** Guest-physical address of linear offset 0. */
  ramBase: u64 = 0;
  /**
   * What the device is handed (bus addresses): the three ring parts, and the base added to a
   * buffer's linear offset. Guest-physical by default; IOVAs of the DMA windows with
   * ACCESS_PLATFORM (setBus, docs/hal.md dma_map).
   */
  descBus: u64 = 0;
  availBus: u64 = 0;
  usedBus: u64 = 0;
  bufBus: u64 = 0;
  /** Linear offsets of the three parts and of the shadow. */
  desc: u32 = 0;
  avail: u32 = 0;
  used: u32 = 0;
  shadow: u32 = 0;
  /** VIRTIO_F_EVENT_IDX negotiated: used_event / avail_event instead of the flags. */
  eventIdx: bool = false;
  /** Header bytes placed in their own descriptor (legacy without ANY_LAYOUT); 0: one descriptor per buffer. */
  splitHdr: u32 = 0;
  /** Free descriptors (a list through the shadow, so the device cannot corrupt it). */
  freeHead: u32 = FREE_END;
  numFree: u32 = 0;
  /** Heads handed to the device and not yet returned. */
  outstanding: u32 = 0;
  /** Shadow of avail.idx (the driver's copy is the truth; 16-bit). */
  availIdx: u32 = 0;
  /** avail.idx at the previous kick decision (the batch is [kickBase, availIdx)). */
  kickBase: u32 = 0;
  /** Next used ring entry to consume (16-bit). */
  lastUsed: u32 = 0;
  /** Used buffer notifications wanted (shadow of avail.flags / used_event). */
  cbEnabled: bool = true;
  /** ABI_BROKEN reason; NONE while healthy. */
  broken: u32 = ABI_BROKEN.NONE;
  /** The buffer returned by the last successful getBuf(). */
  gotBuf: u32 = 0;
  gotLen: u32 = 0;

  /** Byte size of the rings for `size` entries (for callers that lay out memory). */
  static ringBytes(size: u32): u32 {
    return USED_OFF + 6 + size * VIRTQ.USED_ELEM_SIZE;
  }

  /**
   * Lay the queue out in `area` (QUEUE_AREA bytes, 4096-aligned) and zero the rings (4.2.3.2
   * step 4; SPLIT-DRV-17: used.flags starts 0). The descriptor table is 16-aligned, the available
   * ring 2-aligned and the used ring 4-aligned (SPLIT-DRV-01) as long as ramBase is 16-aligned.
   * Descriptors [0, numDescs) go on the free list.
   */
  init(index: u32, area: u32, size: u32, ramBase: u64, eventIdx: bool, numDescs: u32, legacyAlign: u32 = 0, splitHdr: u32 = 0): void {
    this.index = index;
    this.size = size;
    this.ramBase = ramBase;
    this.desc = area;
    if (legacyAlign != 0) {
      // Legacy contiguous layout (2.7.2): avail right after the table, used at the next legacyAlign.
      this.avail = area + size * VIRTQ.DESC_SIZE;
      this.used = area + ((size * VIRTQ.DESC_SIZE + 2 * (3 + size) + legacyAlign - 1) & ~(legacyAlign - 1));
      this.shadow = area + SHADOW_OFF_LEGACY;
    } else {
      this.avail = area + AVAIL_OFF;
      this.used = area + USED_OFF;
      this.shadow = area + SHADOW_OFF;
    }
    this.descBus = ramBase + <u64>this.desc;
    this.availBus = ramBase + <u64>this.avail;
    this.usedBus = ramBase + <u64>this.used;
    this.bufBus = ramBase;
    this.eventIdx = eventIdx;
    this.splitHdr = splitHdr;
    memory.fill(area, 0, QUEUE_AREA);
    this.freeHead = FREE_END;
    this.numFree = 0;
    // With split headers descriptor d + size/2 is d's partner, never on the free list.
    const limit = splitHdr != 0 ? size >> 1 : size;
    const n = numDescs < limit ? numDescs : limit;
    for (let i: u32 = n; i > 0; i--) this.pushFree(i - 1);
    this.outstanding = 0;
    this.availIdx = 0;
    this.kickBase = 0;
    this.lastUsed = 0;
    this.cbEnabled = true;
    this.broken = ABI_BROKEN.NONE;
    this.gotBuf = 0;
    this.gotLen = 0;
  }

  /**
   * Hand the device bus addresses instead (after init): the IOVAs of the ring windows, and
   * `bufBase` such that bufBase + linear offset is a buffer's IOVA (its window's IOVA minus the
   * window's linear offset; the buffers of one queue lie in one window).
   */
  setBus(desc: u64, avail: u64, used: u64, bufBase: u64): void {
    this.descBus = desc;
    this.availBus = avail;
    this.usedBus = used;
    this.bufBus = bufBase;
  }

  /** Bus addresses (guest-physical, or IOVAs) of the Descriptor, Driver and Device Areas. */
  descAddr(): u64 {
    return this.descBus;
  }
  driverAddr(): u64 {
    return this.availBus;
  }
  deviceAddr(): u64 {
    return this.usedBus;
  }

  private pushFree(d: u32): void {
    const sh = this.shadow + d * SH_SIZE;
    store<u16>(sh + SH_NEXT, <u16>this.freeHead);
    store<u16>(sh + SH_STATE, SH_FREE);
    this.freeHead = d;
    this.numFree++;
  }

  /** Take a free descriptor; -1 when none is left. */
  takeFree(): i32 {
    if (this.numFree == 0) return -1;
    const d = this.freeHead;
    this.freeHead = <u32>load<u16>(this.shadow + d * SH_SIZE + SH_NEXT);
    this.numFree--;
    return <i32>d;
  }

  /**
   * Publish buffer [buf, buf+len) (linear offsets) through descriptor `head`, device-writable when
   * `writable`: descriptor, shadow and available ring entry. avail.idx moves in publish().
   */
  post(head: u32, buf: u32, len: u32, writable: bool): void {
    const d = this.desc + head * VIRTQ.DESC_SIZE;
    const w: u16 = writable ? <u16>VIRTQ_DESC_F.WRITE : 0;
    const h = this.splitHdr;
    store<u64>(d + DESC_ADDR, this.bufBus + <u64>buf);
    if (h != 0 && len > h) {
      // The header alone, then the data from the same (contiguous) buffer in the partner.
      const p = head + (this.size >> 1);
      const pd = this.desc + p * VIRTQ.DESC_SIZE;
      store<u32>(d + DESC_LEN, h);
      store<u16>(d + DESC_FLAGS, w | <u16>VIRTQ_DESC_F.NEXT);
      store<u16>(d + DESC_NEXT, <u16>p);
      store<u64>(pd + DESC_ADDR, this.bufBus + <u64>(buf + h));
      store<u32>(pd + DESC_LEN, len - h);
      store<u16>(pd + DESC_FLAGS, w);
      store<u16>(pd + DESC_NEXT, 0);
    } else {
      store<u32>(d + DESC_LEN, len);
      store<u16>(d + DESC_FLAGS, w);
      store<u16>(d + DESC_NEXT, 0);
    }
    const sh = this.shadow + head * SH_SIZE;
    store<u32>(sh + SH_BUF, buf);
    store<u32>(sh + SH_LEN, len);
    store<u16>(sh + SH_STATE, SH_OUTSTANDING);
    store<u16>(this.avail + RING_ENTRIES + (this.availIdx & (this.size - 1)) * 2, <u16>head);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    this.outstanding++;
  }

  /** Make posted entries visible: wmb, then avail.idx (SPLIT-DRV-24); idx only moves forward (SPLIT-DRV-09). */
  publish(): void {
    barrier(HAL_BARRIER.WMB);
    store<u16>(this.avail + RING_IDX, <u16>this.availIdx);
  }

  /**
   * Whether the batch published since the last call needs a notification (2.7.10): mb between
   * the avail.idx update and reading used.flags / avail_event (SPLIT-DRV-25). With EVENT_IDX,
   * vring_need_event over the batch and used.flags ignored (SPLIT-DRV-21/22/23); without it, kick
   * unless used.flags has NO_NOTIFY and avail_event ignored (SPLIT-DRV-18/19/20).
   */
  kickPrepare(): bool {
    barrier(HAL_BARRIER.MB);
    const old = this.kickBase;
    const now = this.availIdx;
    this.kickBase = now;
    if (old == now) return false;
    if (this.eventIdx) {
      const availEvent = <u32>load<u16>(this.used + RING_ENTRIES + this.size * VIRTQ.USED_ELEM_SIZE);
      return vring_need_event(availEvent, now, old);
    }
    return (<u32>load<u16>(this.used + RING_FLAGS) & VIRTQ_USED_F.NO_NOTIFY) == 0;
  }

  /** The device's used.idx (16-bit). */
  usedIdx(): u32 {
    return <u32>load<u16>(this.used + RING_IDX);
  }

  /** Used entries waiting (a hint for the interrupt handler; getBuf validates). */
  hasUsed(): bool {
    return this.broken == ABI_BROKEN.NONE && this.usedIdx() != this.lastUsed;
  }

  /**
   * Take the next used entry: 1 with gotBuf/gotLen set and the descriptor freed, 0 when none is
   * pending, -1 when the entry contradicts the shadow (the queue is then broken).
   */
  getBuf(): i32 {
    if (this.broken != ABI_BROKEN.NONE) return -1;
    const pending = (this.usedIdx() - this.lastUsed) & 0xffff;
    if (pending == 0) return 0;
    if (pending > this.outstanding) return this.fail(ABI_BROKEN.IDX);
    barrier(HAL_BARRIER.RMB); // the entry is read after the idx that covers it
    const e = this.used + RING_ENTRIES + (this.lastUsed & (this.size - 1)) * VIRTQ.USED_ELEM_SIZE;
    const id = load<u32>(e + USED_ELEM_ID);
    const len = load<u32>(e + USED_ELEM_LEN);
    if (id >= this.size) return this.fail(ABI_BROKEN.ID_RANGE);
    const sh = this.shadow + id * SH_SIZE;
    if (load<u16>(sh + SH_STATE) != SH_OUTSTANDING) return this.fail(ABI_BROKEN.NOT_HEAD);
    const posted = load<u32>(sh + SH_LEN);
    if (len > posted) return this.fail(ABI_BROKEN.LEN);
    this.gotBuf = load<u32>(sh + SH_BUF);
    this.gotLen = len; // SPLIT-DRV-15: only the first len bytes are ever read
    this.lastUsed = (this.lastUsed + 1) & 0xffff;
    this.outstanding--;
    this.pushFree(id);
    return 1;
  }

  private fail(reason: u32): i32 {
    this.broken = reason;
    return -1;
  }

  /**
   * Ask the device not to notify (2.7.7): avail.flags = NO_INTERRUPT without EVENT_IDX (SPLIT-DRV-11);
   * with EVENT_IDX avail.flags stays 0 (SPLIT-DRV-12) and used_event is set just behind the
   * entries already consumed, an index the device has passed (SPLIT-DRV-13).
   */
  disableCb(): void {
    if (!this.cbEnabled) return;
    this.cbEnabled = false;
    if (this.eventIdx) this.setUsedEvent((this.lastUsed - 1) & 0xffff);
    else store<u16>(this.avail + RING_FLAGS, <u16>VIRTQ_AVAIL_F.NO_INTERRUPT);
  }

  /**
   * Ask for a notification at the next used entry, then re-check (the enable-then-recheck step:
   * write, mb, read used.idx). True when nothing is pending, so sleeping is safe; false when
   * entries arrived meanwhile (the caller processes them).
   */
  enableCb(): bool {
    this.cbEnabled = true;
    if (this.eventIdx) this.setUsedEvent(this.lastUsed);
    else store<u16>(this.avail + RING_FLAGS, 0);
    barrier(HAL_BARRIER.MB);
    return this.usedIdx() == this.lastUsed;
  }

  /**
   * As enableCb, but with EVENT_IDX ask for the notification only after about 3/4 of the
   * outstanding buffers are used (Linux virtqueue_enable_cb_delayed). False when the device
   * already went past that point.
   */
  enableCbDelayed(): bool {
    if (!this.eventIdx) return this.enableCb();
    this.cbEnabled = true;
    const bufs = (((this.availIdx - this.lastUsed) & 0xffff) * 3) / 4;
    this.setUsedEvent((this.lastUsed + bufs) & 0xffff);
    barrier(HAL_BARRIER.MB);
    return ((this.usedIdx() - this.lastUsed) & 0xffff) <= bufs;
  }

  private setUsedEvent(v: u32): void {
    store<u16>(this.avail + RING_ENTRIES + this.size * 2, <u16>v);
  }
}
