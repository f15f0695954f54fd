// A driver-side split virtqueue in guest memory, for tests (in the spirit of rust-vmm's mock.rs):
// lays out the three areas, builds and publishes chains, reaps the used ring, and builds broken
// chains on purpose. It checks nothing: a test may write any bytes a faulty driver could.
import { VIRTQ, VIRTQ_DESC_F } from "../../host/gen/constants.js";
import type { GuestMemory } from "../../host/guest/memory.js";
import type { SplitQueueConfig } from "../../host/virtio/split-queue.js";

/** A struct virtq_desc. `addr` as a bigint reaches all 64 bits (addresses beyond 2^53). */
export interface MockDesc {
  addr: number | bigint;
  len: number;
  flags: number;
  next: number;
}

/** One buffer of a chain to build: device-writable when `write`. */
export interface MockBuffer {
  gpa: number;
  len: number;
  write: boolean;
}

/** A struct virtq_used_elem. */
export interface UsedElem {
  id: number;
  len: number;
}

export interface MockRingOptions {
  /** VIRTIO_F_EVENT_IDX negotiated (goes into config()). */
  eventIdx?: boolean;
  /** VIRTIO_F_INDIRECT_DESC negotiated (goes into config()). */
  indirect?: boolean;
  /** Bytes of data region after the rings (default: up to the end of memory). */
  dataSize?: number;
  /** Used ring alignment: 4 (2.7), or the legacy QueueAlign (4096, 2.7.2) for a legacy layout. */
  usedAlign?: number;
}

const align = (x: number, a: number): number => Math.ceil(x / a) * a;

export class MockSplitRing {
  readonly mem: GuestMemory;
  readonly size: number;
  readonly eventIdx: boolean;
  readonly indirect: boolean;
  /** Linear offsets of the areas. */
  readonly descOff: number;
  readonly availOff: number;
  readonly usedOff: number;
  readonly dataOff: number;
  readonly dataEnd: number;
  /** The driver's shadow avail idx (next slot it fills). */
  availIdx = 0;
  /** The driver's last seen used idx (next used slot it reaps). */
  lastUsed = 0;
  private free: number[] = [];
  private chains = new Map<number, number[]>();
  private dataNext: number;

  constructor(mem: GuestMemory, base: number, size: number, opts: MockRingOptions = {}) {
    this.mem = mem;
    this.size = size;
    this.eventIdx = opts.eventIdx ?? false;
    this.indirect = opts.indirect ?? false;
    this.descOff = align(base, VIRTQ.DESC_ALIGN);
    this.availOff = this.descOff + VIRTQ.DESC_SIZE * size;
    this.usedOff = align(this.availOff + 6 + 2 * size, opts.usedAlign ?? VIRTQ.USED_ALIGN);
    this.dataOff = align(this.usedOff + 6 + VIRTQ.USED_ELEM_SIZE * size, 16);
    this.dataEnd = opts.dataSize === undefined ? mem.size : this.dataOff + opts.dataSize;
    if (this.dataEnd > mem.size) throw new RangeError(`mock ring needs ${this.dataEnd} bytes, memory has ${mem.size}`);
    this.dataNext = this.dataOff;
    // The driver zeroes the rings, used.flags included (SPLIT-DRV-17).
    mem.u8.fill(0, this.descOff, this.dataOff);
    for (let i = size - 1; i >= 0; i--) this.free.push(i);
  }

  get descAddr(): number {
    return this.mem.gpa(this.descOff);
  }
  get driverAddr(): number {
    return this.mem.gpa(this.availOff);
  }
  get deviceAddr(): number {
    return this.mem.gpa(this.usedOff);
  }
  get numFree(): number {
    return this.free.length;
  }

  /** The SplitQueueConfig a transport would build from this ring. */
  config(index = 0): SplitQueueConfig {
    return {
      index,
      size: this.size,
      descAddr: this.descAddr,
      driverAddr: this.driverAddr,
      deviceAddr: this.deviceAddr,
      eventIdx: this.eventIdx,
      indirect: this.indirect,
    };
  }

  /** Write descriptor `i` of the table as is (no free-list bookkeeping). */
  writeDesc(i: number, d: MockDesc): void {
    this.writeDescAt(this.descOff + VIRTQ.DESC_SIZE * i, d);
  }

  /** Write `descs` as an indirect table at guest-physical `gpa`. */
  writeTable(gpa: number, descs: MockDesc[]): void {
    const off = gpa - this.mem.ramBase;
    descs.forEach((d, i) => this.writeDescAt(off + VIRTQ.DESC_SIZE * i, d));
  }

  readDesc(i: number): MockDesc {
    const o = this.descOff + VIRTQ.DESC_SIZE * i;
    return { addr: this.mem.r64(o), len: this.mem.r32(o + 8), flags: this.mem.r16(o + 12), next: this.mem.r16(o + 14) };
  }

  /** Take free descriptors, write `buffers` linked with NEXT, return the head (not yet published). */
  addChain(buffers: MockBuffer[]): number {
    if (buffers.length === 0 || buffers.length > this.free.length) {
      throw new Error(`addChain: ${buffers.length} buffers, ${this.free.length} free descriptors`);
    }
    const idx = buffers.map(() => this.free.pop()!);
    buffers.forEach((b, i) => {
      const last = i === buffers.length - 1;
      const flags = (b.write ? VIRTQ_DESC_F.WRITE : 0) | (last ? 0 : VIRTQ_DESC_F.NEXT);
      this.writeDesc(idx[i], { addr: b.gpa, len: b.len, flags, next: last ? 0 : idx[i + 1] });
    });
    this.chains.set(idx[0], idx);
    return idx[0];
  }

  /** One descriptor pointing to an indirect table (allocated in the data region) holding `buffers`. */
  addIndirect(buffers: MockBuffer[]): number {
    const table = this.alloc(VIRTQ.DESC_SIZE * buffers.length);
    this.writeTable(
      table,
      buffers.map((b, i) => {
        const last = i === buffers.length - 1;
        const flags = (b.write ? VIRTQ_DESC_F.WRITE : 0) | (last ? 0 : VIRTQ_DESC_F.NEXT);
        return { addr: b.gpa, len: b.len, flags, next: last ? 0 : i + 1 };
      }),
    );
    const head = this.free.pop();
    if (head === undefined) throw new Error("addIndirect: no free descriptor");
    this.writeDesc(head, { addr: table, len: VIRTQ.DESC_SIZE * buffers.length, flags: VIRTQ_DESC_F.INDIRECT, next: 0 });
    this.chains.set(head, [head]);
    return head;
  }

  /** Put `head` in the next avail ring slot and publish it (avail.idx + 1). */
  publish(head: number): void {
    this.publishMany([head]);
  }

  /** Put every head in the avail ring, then move avail.idx once. */
  publishMany(heads: number[]): void {
    for (const h of heads) {
      this.mem.w16(this.availOff + 4 + 2 * (this.availIdx % this.size), h);
      this.availIdx = (this.availIdx + 1) & 0xffff;
    }
    this.mem.w16(this.availOff + 2, this.availIdx);
  }

  /** Write avail.ring[slot] without publishing (for garbage and broken cases). */
  setAvailRing(slot: number, head: number): void {
    this.mem.w16(this.availOff + 4 + 2 * slot, head);
  }

  /** Write avail.idx as is (and the shadow), e.g. to jump it or move it back. */
  setAvailIdx(raw: number): void {
    this.availIdx = raw & 0xffff;
    this.mem.w16(this.availOff + 2, this.availIdx);
  }

  setAvailFlags(v: number): void {
    this.mem.w16(this.availOff, v);
  }

  /** avail.used_event (the last le16 of the available ring). */
  setUsedEvent(v: number): void {
    this.mem.w16(this.availOff + 4 + 2 * this.size, v & 0xffff);
  }

  readUsedFlags(): number {
    return this.mem.r16(this.usedOff);
  }
  readUsedIdx(): number {
    return this.mem.r16(this.usedOff + 2);
  }
  /** used.avail_event (the last le16 of the used ring). */
  readAvailEvent(): number {
    return this.mem.r16(this.usedOff + 4 + VIRTQ.USED_ELEM_SIZE * this.size);
  }
  readUsedElem(slot: number): UsedElem {
    const o = this.usedOff + 4 + VIRTQ.USED_ELEM_SIZE * slot;
    return { id: this.mem.r32(o), len: this.mem.r32(o + 4) };
  }

  /**
   * Whether a driver that moved avail.idx from `oldIdx` to the current one must kick:
   * vring_need_event(avail_event, new, old) with EVENT_IDX, else !(used.flags & NO_NOTIFY).
   */
  needKick(oldIdx: number): boolean {
    if (this.eventIdx) {
      const ev = this.readAvailEvent();
      return ((this.availIdx - ev - 1) & 0xffff) < ((this.availIdx - oldIdx) & 0xffff);
    }
    return (this.readUsedFlags() & 1) === 0;
  }

  /** Used elements published since the last reap; chains built by addChain/addIndirect go back to the free list. */
  reap(): UsedElem[] {
    const out: UsedElem[] = [];
    const idx = this.readUsedIdx();
    while (this.lastUsed !== idx) {
      const e = this.readUsedElem(this.lastUsed % this.size);
      out.push(e);
      const descs = this.chains.get(e.id);
      if (descs) {
        this.chains.delete(e.id);
        for (let i = descs.length - 1; i >= 0; i--) this.free.push(descs[i]);
      }
      this.lastUsed = (this.lastUsed + 1) & 0xffff;
    }
    return out;
  }

  /** A data buffer of `len` bytes from the bump region after the rings; its guest-physical address. */
  alloc(len: number, alignment = 16): number {
    const off = align(this.dataNext, alignment);
    if (off + len > this.dataEnd) throw new RangeError(`mock ring data region exhausted (${len} bytes wanted)`);
    this.dataNext = off + len;
    return this.mem.gpa(off);
  }

  /** Copy bytes into guest memory at `gpa`. */
  fill(gpa: number, bytes: ArrayLike<number>): void {
    this.mem.u8.set(bytes, gpa - this.mem.ramBase);
  }

  /** A copy of `len` bytes of guest memory at `gpa`. */
  bytes(gpa: number, len: number): Uint8Array {
    const off = gpa - this.mem.ramBase;
    return this.mem.u8.slice(off, off + len);
  }

  private writeDescAt(off: number, d: MockDesc): void {
    if (typeof d.addr === "bigint") this.mem.dv.setBigUint64(off, BigInt.asUintN(64, d.addr), true);
    else this.mem.w64(off, d.addr);
    this.mem.w32(off + 8, d.len);
    this.mem.w16(off + 12, d.flags);
    this.mem.w16(off + 14, d.next);
  }
}
