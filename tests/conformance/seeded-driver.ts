// A seeded misbehaving driver: a conformant virtio-net driver written in TypeScript behind a
// pretend HAL (it emits guest.enter/exit and barrier events as build/driver.wasm's host would), with
// one named bug switched on. Each bug breaks one clause; seeded.test.ts lists them.
import { F, INT, MMIO, NET_F, NET_HDR, STATUS, VIRTQ_DESC_F } from "../../host/gen/constants.js";
import { Monitor } from "../../host/conformance/monitor.js";
import { featureSet, has } from "../../host/virtio/features.js";
import { MockSplitRing } from "../mock/mock-ring.js";
import { createRig, type Rig } from "../mock/rig.js";

export interface SeededOptions {
  /** Offered by the device (default: the default profile's). */
  offer?: string[];
  /** Accepted when offered (default below). */
  accept?: string[];
  /** Accepted whether offered or not. */
  force?: string[];
  /** Left out of the accepted set. */
  drop?: string[];
  rxBufSize?: number;
  /** Run the traffic phase (transmit, receive). */
  traffic?: boolean;
}

const ACCEPT = ["VERSION_1", "EVENT_IDX", "MAC", "STATUS", "MTU", "MRG_RXBUF", "INDIRECT_DESC", "CSUM", "HOST_TSO4", "HOST_TSO6", "HOST_USO", "HOST_UDP_TUNNEL_GSO", "HOST_UDP_TUNNEL_GSO_CSUM", "RING_RESET"];
const QSIZE = 64;
const HDR = NET_HDR.SIZE;
const { ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK, FAILED } = STATUS;

export class SeededDriver {
  readonly rig: Rig;
  readonly monitor: Monitor;
  rings: MockSplitRing[] = [];
  features = 0n;
  private txBuf = 0;
  private txSlot = 0;
  private firstIsr = true;

  constructor(readonly bug: string, readonly o: SeededOptions = {}) {
    const offer = o.offer ?? ["VERSION_1", "EVENT_IDX", "MAC", "STATUS", "MTU", "MRG_RXBUF"];
    this.rig = createRig({ pages: 64, features: offerSet(offer) });
    this.monitor = new Monitor({ mem: this.rig.mem, transport: "mmio", negotiated: () => this.rig.transport.negotiatedFeatures });
    this.monitor.attach(this.rig.trace);
  }

  private is(b: string): boolean {
    return this.bug === b;
  }
  r(off: number, w: 1 | 2 | 4 = 4): number {
    return this.rig.bus.read(this.rig.base + off, w);
  }
  w(off: number, v: number, w: 1 | 2 | 4 = 4): void {
    this.rig.bus.write(this.rig.base + off, w, v);
  }
  private hal(k: string, f: Record<string, number | string>): void {
    this.rig.trace.emit({ t: this.rig.clock.now, k, ...f });
  }
  private barrier(kind: 0 | 2): void {
    this.hal("barrier", { kind });
  }
  private entry(fn: string, body: () => void): void {
    this.hal("guest.enter", { fn });
    body();
    this.hal("guest.exit", { fn, ns: 0 });
  }
  private status(bits: number): void {
    this.w(MMIO.Status, this.r(MMIO.Status) | bits);
  }

  /** The whole run: attach, traffic both ways, the end-of-run bugs. */
  run(): void {
    let ok = false;
    this.entry("attach", () => (ok = this.attach()));
    if (!ok || this.o.traffic === false) return;
    for (let i = 0; i < 4; i++) this.entry("transmit", () => this.transmit(i));
    this.settle();
    this.entry("tick", () => this.late());
    this.settle();
  }

  private attach(): boolean {
    if (!this.is("MMIO-DRV-24")) {
      this.r(MMIO.MagicValue);
      this.r(MMIO.Version);
      if (!this.is("MMIO-DRV-25")) this.r(MMIO.DeviceID);
    }
    if (this.is("MMIO-DRV-28")) this.r(MMIO.SHMLenLow);
    if (!this.is("INIT-DRV-01")) {
      this.w(MMIO.Status, 0);
      this.r(MMIO.Status);
    }
    if (!this.is("INIT-DRV-03")) this.status(ACKNOWLEDGE);
    if (!this.is("INIT-DRV-07")) this.status(DRIVER);
    if (!this.is("INIT-DRV-04")) this.negotiate();
    if (this.is("INIT-DRV-06")) this.w(MMIO.Config, 0x02, 1);
    if (this.is("INIT-DRV-11")) return this.status(DRIVER_OK), false;
    if (!this.is("INIT-DRV-10")) {
      this.status(FEATURES_OK);
      if (!this.is("INIT-DRV-09") && !(this.r(MMIO.Status) & FEATURES_OK)) return this.status(FAILED), false;
    }
    if (this.is("INIT-DRV-08")) (this.w(MMIO.DriverFeaturesSel, 0), this.w(MMIO.DriverFeatures, 0));
    if (this.is("INIT-DRV-13")) return this.status(FAILED), this.w(MMIO.QueueSel, 0), false;
    if (this.is("STATUS-DRV-03")) return this.status(FAILED), this.status(DRIVER_OK), false;
    this.config();
    this.setupQueue(0);
    this.setupQueue(1);
    if (this.is("INIT-DRV-10")) return false;
    this.postRx(QSIZE);
    if (this.is("INIT-DRV-14")) this.kick(0, 0);
    this.status(DRIVER_OK);
    if (!this.is("INIT-DRV-14")) this.kick(0, 0);
    if (this.is("MMIO-DRV-02")) this.w(MMIO.MagicValue, 0);
    if (this.is("MMIO-DRV-03")) this.r(MMIO.QueueNotify);
    if (this.is("MMIO-DRV-04")) this.r(MMIO.Status, 2);
    if (this.is("MMIO-DRV-01")) this.r(0x0e0);
    if (this.is("NET-CFG-DRV-01")) this.w(MMIO.Config, 0x02, 1);
    if (this.is("STATUS-DRV-02")) this.w(MMIO.Status, ACKNOWLEDGE | FEATURES_OK | DRIVER_OK);
    if (this.is("CLEAN-DRV-01")) this.rig.mem.w32(this.rings[0]!.descOff + 8, 2000);
    return true;
  }

  private negotiate(): void {
    let offered = 0n;
    for (const word of [0, 1, 2]) {
      if (!(this.is("MMIO-DRV-12") && word === 0)) this.w(MMIO.DeviceFeaturesSel, word);
      offered |= BigInt(this.r(MMIO.DeviceFeatures) >>> 0) << BigInt(32 * word);
    }
    const drop = featureSet(this.o.drop ?? []);
    this.features = ((offered & featureSet(this.o.accept ?? ACCEPT)) | offerSet(this.o.force ?? [])) & ~drop;
    for (const word of [0, 1, 2]) {
      if (!(this.is("MMIO-DRV-13") && word === 0)) this.w(MMIO.DriverFeaturesSel, word);
      this.w(MMIO.DriverFeatures, Number((this.features >> BigInt(32 * word)) & 0xffff_ffffn));
    }
  }

  /** mac and mtu inside the ConfigGeneration loop (CFG-DRV-02). */
  private config(): void {
    const g = this.r(MMIO.ConfigGeneration);
    if (has(this.features, NET_F.MAC)) for (let i = 0; i < 6; i++) this.r(MMIO.Config + i, this.is("MMIO-DRV-05") && i === 0 ? 2 : 1);
    if (has(this.features, NET_F.MTU) || this.is("CFG-DRV-03")) this.r(MMIO.Config + 10, 2);
    if (this.r(MMIO.ConfigGeneration) !== g) this.config();
  }

  private setupQueue(q: number): void {
    this.w(MMIO.QueueSel, q);
    this.r(MMIO.QueueReady);
    const max = this.r(MMIO.QueueSizeMax);
    const n = Math.min(QSIZE, max);
    const ring = new MockSplitRing(this.rig.mem, 0x10000 + q * 0x100000, n, { eventIdx: has(this.features, F.EVENT_IDX), indirect: has(this.features, F.INDIRECT_DESC), dataSize: 0xe0000 });
    if (this.is("SPLIT-DRV-17") && q === 0) this.rig.mem.w16(ring.usedOff, 1);
    if (this.is("MMIO-DRV-14") && q === 1) this.w(MMIO.QueueSize, max * 2);
    this.w(MMIO.QueueSize, n);
    const desc = ring.descAddr + (this.is("SPLIT-DRV-01") && q === 1 ? 8 : 0);
    const words: [number, number][] = [[MMIO.QueueDescLow, desc], [MMIO.QueueDriverLow, ring.driverAddr], [MMIO.QueueDeviceLow, ring.deviceAddr]];
    for (const [reg, a] of words) (this.w(reg, a % 0x1_0000_0000), this.w(reg + 4, Math.floor(a / 0x1_0000_0000)));
    this.w(MMIO.QueueReady, 1);
    if (this.is("MMIO-DRV-15") && q === 0) this.w(MMIO.QueueDescLow, desc);
    this.rings[q] = ring;
    if (q === 1) this.txBuf = ring.alloc(QSIZE * 2048);
  }

  /** Publish heads: avail entries, WMB, avail.idx (SPLIT-DRV-24). */
  private publish(q: number, heads: number[]): void {
    const ring = this.rings[q]!;
    const start = ring.availIdx;
    heads.forEach((h, i) => ring.setAvailRing((start + i) % ring.size, h));
    const bad = this.is("SPLIT-DRV-24") && q === 1;
    if (!bad) this.barrier(2);
    ring.setAvailIdx(this.is("SPLIT-DRV-09") && q === 1 ? start + ring.size + 5 : start + heads.length);
    if (bad) this.barrier(2);
  }

  /** MB, then kick when the device asks (SPLIT-DRV-20/22, SPLIT-DRV-25). */
  private kick(q: number, old: number): void {
    const ring = this.rings[q]!;
    if (!(this.is("SPLIT-DRV-25") && q === 1)) this.barrier(0);
    if ((this.is("SPLIT-DRV-20") || this.is("SPLIT-DRV-22")) && q === 1) return;
    if (ring.needKick(old)) this.w(MMIO.QueueNotify, q);
  }

  private postRx(n: number): void {
    const ring = this.rings[0]!;
    const size = this.o.rxBufSize ?? (has(this.features, NET_F.MRG_RXBUF) ? 2048 : 1526);
    const heads: number[] = [];
    for (let i = 0; i < n && ring.numFree > 0; i++) {
      const len = this.is("NET-RXB-DRV-03") && i === 0 ? 8 : size;
      const bufs = [{ gpa: ring.alloc(len), len, write: true }];
      if (this.is("DERIVED-RX-WRITABLE") && i === 0) bufs.unshift({ gpa: ring.alloc(16), len: 16, write: false });
      heads.push(ring.addChain(bufs));
    }
    if (this.is("SPLIT-DRV-10") || this.is("SPLIT-DRV-12")) ring.setAvailFlags(this.is("SPLIT-DRV-10") ? 2 : 1);
    this.publish(0, heads);
  }

  private transmit(i: number): void {
    const ring = this.rings[1]!;
    ring.reap();
    const len = this.is("NET-CFG-DRV-09") && i === 0 ? 1600 : 60 + 40 * i;
    const gpa = this.txBuf + 2048 * (this.txSlot++ % QSIZE);
    const hdr = new Uint8Array(HDR);
    const tx: Record<string, [number, number, number?]> = {
      "NET-TX-DRV-02": [0, 0, 1], "NET-TX-DRV-03": [1, 0], "NET-TX-DRV-07": [0, 1], "NET-TX-DRV-09": [0, 4], "NET-TX-DRV-11": [0, 3],
      "NET-TX-DRV-13": [0, 5], "NET-TX-DRV-45": [2, 0], "NET-TX-DRV-17": [0, 0x20], "NET-TX-DRV-25": [0, 0x60], "NET-TX-DRV-31": [0, 2],
      "NET-TX-DRV-46": [2, 0x20], "NET-TX-DRV-32": [0, 1], "NET-TX-DRV-26": [8, 0], "NET-TX-DRV-22": [9, 0x21], "NET-TX-DRV-24": [1, 0x23],
    };
    const h = tx[this.bug];
    if (h && i === 0) (hdr[NET_HDR.flags] = h[0]), (hdr[NET_HDR.gso_type] = h[1]), (hdr[NET_HDR.num_buffers] = h[2] ?? 0);
    ring.fill(gpa, hdr);
    ring.fill(gpa + HDR, new Uint8Array(len).fill(0x5a));
    let head: number;
    const first = i === 0;
    if (first && this.is("FRAME-DRV-01")) head = ring.addChain([{ gpa, len: HDR, write: true }, { gpa: gpa + HDR, len, write: false }]);
    else if (first && this.is("DERIVED-HDR")) head = ring.addChain([{ gpa, len: 8, write: false }]);
    else if (first && this.is("DERIVED-MEM")) head = ring.addChain([{ gpa: this.rig.mem.ramBase - 0x1000, len: HDR + len, write: false }]);
    else if (first && (this.is("SPLIT-DRV-04") || this.is("SPLIT-DRV-05") || this.is("SPLIT-DRV-07"))) {
      head = ring.addIndirect([{ gpa, len: HDR + len, write: false }]);
      const d = ring.readDesc(head);
      if (this.is("SPLIT-DRV-07")) ring.writeDesc(head, { ...d, flags: VIRTQ_DESC_F.INDIRECT | VIRTQ_DESC_F.NEXT, next: 0 });
      if (this.is("SPLIT-DRV-05")) ring.writeTable(Number(d.addr), [{ addr: gpa, len: HDR + len, flags: VIRTQ_DESC_F.INDIRECT, next: 0 }]);
    } else head = ring.addChain([{ gpa, len: HDR + len, write: false }]);
    if (first && this.is("SPLIT-DRV-06")) {
      const other = ring.addChain([{ gpa, len: 16, write: false }]);
      ring.writeDesc(head, { addr: gpa, len: HDR + len, flags: VIRTQ_DESC_F.NEXT, next: other });
      ring.writeDesc(other, { addr: gpa, len: 16, flags: VIRTQ_DESC_F.NEXT, next: head });
    }
    if (first && this.is("DERIVED-SPLIT-IDX")) head = QSIZE + 3;
    const old = ring.availIdx;
    this.publish(1, [head]);
    this.kick(1, old);
  }

  /** Bugs that happen once the device is running. */
  private late(): void {
    if (this.is("MMIO-DRV-17")) (this.w(MMIO.QueueSel, 1), this.w(MMIO.QueueReady, 0), this.w(MMIO.QueueSel, 0));
    if (this.is("MMIO-DRV-21")) (this.w(MMIO.QueueSel, 1), this.w(MMIO.QueueReset, 1), this.w(MMIO.QueueSize, QSIZE));
  }

  /** Run the device, taking interrupts as an ISR and a bottom half would. */
  private settle(): void {
    const { clock, irq } = this.rig;
    for (let n = 0; n < 200_000; n++) {
      if (irq.level) {
        this.entry("isr", () => this.isr());
        this.entry("poll", () => this.poll());
        continue;
      }
      if (!clock.step()) return;
    }
  }

  private isr(): void {
    if (this.is("MMIO-DRV-30")) return this.w(MMIO.InterruptACK, INT.USED_BUFFER | INT.CONFIG_CHANGE);
    const s = this.r(MMIO.InterruptStatus);
    const first = this.firstIsr;
    this.firstIsr = false;
    if (this.is("MMIO-DRV-19") && first) return;
    this.w(MMIO.InterruptACK, (s & 3) | (this.is("MMIO-DRV-20") ? 4 : 0));
  }

  private poll(): void {
    this.rings[1]?.reap();
    const ring = this.rings[0];
    if (!ring) return;
    const used = ring.reap();
    if (used.length === 0) return;
    const heads = used.map((e) => ring.addChain([{ gpa: Number(ring.readDesc(e.id).addr), len: ring.readDesc(e.id).len, write: true }]));
    const old = ring.availIdx;
    this.publish(0, heads);
    this.kick(0, old);
  }
}

function offerSet(names: string[]): bigint {
  let s = 0n;
  for (const n of names) s |= /^\d+$/.test(n) ? 1n << BigInt(n) : featureSet([n]);
  return s;
}
