// A TypeScript virtio-net driver for tests: register sequences through the bus, rings through
// MockSplitRing. It does what it is told, including the wrong thing, so tests can provoke breaches.
import { F, INT, MMIO, NET_F, NET_HDR, STATUS } from "../../host/gen/constants.js";
import { featureSet } from "../../host/virtio/features.js";
import { MockSplitRing } from "./mock-ring.js";
import type { Rig } from "./rig.js";

export interface MockAttachOptions {
  /** Features to accept (intersected with the offered ones unless `force`). */
  accept?: string[];
  /** Write `accept` as given, offered or not. */
  force?: boolean;
  queueSize?: number;
  /** Receive buffers to post and their size. */
  rxBuffers?: number;
  rxBufSize?: number;
}

const RX = 0;
const TX = 1;
const HDR = NET_HDR.SIZE;

export class MockDriver {
  rings: MockSplitRing[] = [];
  features = 0n;
  /** Frames received (header stripped), in order. */
  readonly received: Uint8Array[] = [];
  private rxBufSize = 1526;
  private txSlot = 0;
  private txBase = 0;
  private pendingMerge: Uint8Array[] = [];
  private mergeLeft = 0;

  constructor(readonly rig: Rig) {}

  r(off: number, width: 1 | 2 | 4 = 4): number {
    return this.rig.bus.read(this.rig.base + off, width);
  }

  w(off: number, v: number, width: 1 | 2 | 4 = 4): void {
    this.rig.bus.write(this.rig.base + off, width, v);
  }

  status(): number {
    return this.r(MMIO.Status);
  }

  setStatus(bits: number): void {
    this.w(MMIO.Status, this.status() | bits);
  }

  offered(): bigint {
    let set = 0n;
    for (let word = 0; word < 4; word++) {
      this.w(MMIO.DeviceFeaturesSel, word);
      set |= BigInt(this.r(MMIO.DeviceFeatures) >>> 0) << BigInt(32 * word);
    }
    return set;
  }

  writeFeatures(set: bigint): void {
    for (let word = 0; word < 4; word++) {
      this.w(MMIO.DriverFeaturesSel, word);
      this.w(MMIO.DriverFeatures, Number((set >> BigInt(32 * word)) & 0xffffffffn));
    }
  }

  /** 3.1.1 steps 1-6. Returns whether FEATURES_OK stuck. */
  negotiate(opts: MockAttachOptions = {}): boolean {
    this.w(MMIO.Status, 0);
    this.setStatus(STATUS.ACKNOWLEDGE);
    this.setStatus(STATUS.DRIVER);
    const offered = this.offered();
    const want = featureSet(opts.accept ?? ["VERSION_1", "EVENT_IDX", "MAC", "STATUS", "MTU", "MRG_RXBUF"]);
    this.features = opts.force ? want : want & offered;
    this.writeFeatures(this.features);
    this.setStatus(STATUS.FEATURES_OK);
    return (this.status() & STATUS.FEATURES_OK) !== 0;
  }

  /** 4.2.3.2: one queue, its rings laid out at a per-queue region of guest memory. */
  setupQueue(q: number, size: number): MockSplitRing {
    this.w(MMIO.QueueSel, q);
    const max = this.r(MMIO.QueueSizeMax);
    const n = Math.min(size, max);
    const base = 0x10000 + q * 0x180000;
    const ring = new MockSplitRing(this.rig.mem, base, n, {
      eventIdx: (this.features >> BigInt(F.EVENT_IDX)) & 1n ? true : false,
      dataSize: 0x170000,
    });
    this.w(MMIO.QueueSize, n);
    const split = (v: number) => [v % 0x1_0000_0000, Math.floor(v / 0x1_0000_0000)];
    const [dl, dh] = split(ring.descAddr);
    const [al, ah] = split(ring.driverAddr);
    const [ul, uh] = split(ring.deviceAddr);
    this.w(MMIO.QueueDescLow, dl);
    this.w(MMIO.QueueDescHigh, dh);
    this.w(MMIO.QueueDriverLow, al);
    this.w(MMIO.QueueDriverHigh, ah);
    this.w(MMIO.QueueDeviceLow, ul);
    this.w(MMIO.QueueDeviceHigh, uh);
    this.w(MMIO.QueueReady, 1);
    this.rings[q] = ring;
    return ring;
  }

  /** The whole initialization: negotiate, both queues, RX buffers, DRIVER_OK. */
  attach(opts: MockAttachOptions = {}): boolean {
    if (!this.negotiate(opts)) return false;
    const size = opts.queueSize ?? 256;
    this.setupQueue(RX, size);
    this.setupQueue(TX, size);
    this.rxBufSize = opts.rxBufSize ?? 1526;
    this.txBase = this.rings[TX].alloc(this.rings[TX].size * 1536);
    this.postRx(opts.rxBuffers ?? this.rings[RX].size, this.rxBufSize);
    this.setStatus(STATUS.DRIVER_OK);
    return true;
  }

  /** Post `n` device-writable receive buffers of `size` bytes (allocated once each). */
  postRx(n: number, size = this.rxBufSize): number[] {
    const ring = this.rings[RX];
    const heads: number[] = [];
    for (let i = 0; i < n && ring.numFree > 0; i++) {
      heads.push(ring.addChain([{ gpa: ring.alloc(size), len: size, write: true }]));
    }
    ring.publishMany(heads);
    return heads;
  }

  /** Queue a frame behind a zeroed 12-byte header in one descriptor; kick when the device wants it. */
  transmit(frame: Uint8Array, hdr?: Uint8Array): number {
    const ring = this.rings[TX];
    this.reapTx();
    if (ring.numFree === 0) return -1;
    const gpa = this.txBase + (this.txSlot++ % ring.size) * 1536;
    const h = hdr ?? new Uint8Array(HDR);
    ring.fill(gpa, h);
    ring.fill(gpa + h.length, frame);
    const head = ring.addChain([{ gpa, len: h.length + frame.length, write: false }]);
    this.kickAfter(TX, () => ring.publish(head));
    return head;
  }

  /** Publish with `publish`, then notify if the device asked for it (or always with `force`). */
  kickAfter(q: number, publish: () => void, force = false): void {
    const ring = this.rings[q];
    const old = ring.availIdx;
    publish();
    if (force || ring.needKick(old)) this.w(MMIO.QueueNotify, q);
  }

  reapTx(): number {
    return this.rings[TX]?.reap().length ?? 0;
  }

  /** Read InterruptStatus and acknowledge it (MMIO-DRV-30/32). */
  ackInterrupt(): number {
    const s = this.r(MMIO.InterruptStatus);
    if (s) this.w(MMIO.InterruptACK, s & (INT.USED_BUFFER | INT.CONFIG_CHANGE));
    return s;
  }

  /** Take received frames off the used ring (merging MRG_RXBUF buffers), repost the buffers. */
  receive(): Uint8Array[] {
    const ring = this.rings[RX];
    const out: Uint8Array[] = [];
    const repost: { gpa: number; len: number }[] = [];
    for (const e of ring.reap()) {
      const d = ring.readDesc(e.id);
      const gpa = Number(d.addr);
      const bytes = ring.bytes(gpa, e.len);
      repost.push({ gpa, len: d.len });
      if (this.mergeLeft === 0) {
        const n = bytes[NET_HDR.num_buffers] | (bytes[NET_HDR.num_buffers + 1] << 8);
        this.pendingMerge = [bytes.subarray(HDR)];
        this.mergeLeft = (this.features >> BigInt(NET_F.MRG_RXBUF)) & 1n ? n - 1 : 0;
      } else {
        this.pendingMerge.push(bytes);
        this.mergeLeft--;
      }
      if (this.mergeLeft === 0) {
        const total = this.pendingMerge.reduce((a, b) => a + b.length, 0);
        const f = new Uint8Array(total);
        let o = 0;
        for (const p of this.pendingMerge) (f.set(p, o), (o += p.length));
        out.push(f);
      }
    }
    const heads = repost.map((b) => ring.addChain([{ gpa: b.gpa, len: b.len, write: true }]));
    if (heads.length) this.kickAfter(RX, () => ring.publishMany(heads));
    this.received.push(...out);
    return out;
  }

  /** Run the device until idle, servicing interrupts like an ISR + bottom half would. */
  runUntilIdle(maxEvents = 1_000_000): void {
    const { clock, irq } = this.rig;
    for (let n = 0; n < maxEvents; n++) {
      if (irq.level) {
        this.ackInterrupt();
        this.receive();
        this.reapTx();
        continue;
      }
      if (!clock.step()) return;
    }
    throw new Error("mock driver: device still busy after maxEvents");
  }
}
