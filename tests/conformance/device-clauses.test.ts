// The device model against its own clauses: one test per group of device clauses that
// host/conformance/device-marks.ts marks implemented here (each title names its clause ids).
import { describe, expect, it } from "vitest";
import { F, INT, MMIO, MMIO_VAL, NET_CFG, NET_F, NET_HDR, STATUS, VIRTQ_AVAIL_F, VIRTQ_DESC_F, VIRTQ_USED_F } from "../../host/gen/constants.js";
import { unmetDependency } from "../../host/devices/net-features.js";
import { loadProfile, PROFILE_NAMES } from "../../host/sim/profiles.js";
import { DEFAULT_PROFILE } from "../../host/sim/profile.js";
import { Rng } from "../../host/sim/rng.js";
import { walkChain, isChainBreach } from "../../host/virtio/chain.js";
import { featureNames, featureSet, has } from "../../host/virtio/features.js";
import { DeviceSplitQueue } from "../../host/virtio/split-queue.js";
import { MockDriver } from "../mock/mock-driver.js";
import { MockSplitRing } from "../mock/mock-ring.js";
import { createRig, eventsOf, type Rig } from "../mock/rig.js";

const HDR = NET_HDR.SIZE;
const frame = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);
/** What the model honours when accepted: everything else a profile offers is the VMM's, listed in docs/conformance.md. */
const HONOURED = featureSet(["VERSION_1", "EVENT_IDX", "INDIRECT_DESC", "RING_RESET", "NOTIFICATION_DATA", "MAC", "STATUS", "MTU", "MRG_RXBUF", "ANY_LAYOUT", "NOTIFY_ON_EMPTY"]);

function live(opts: Parameters<typeof createRig>[0] = {}, attach: Parameters<MockDriver["attach"]>[0] = {}): { rig: Rig; d: MockDriver } {
  const rig = createRig(opts);
  const d = new MockDriver(rig);
  expect(d.attach(attach)).toBe(true);
  return { rig, d };
}
const snap = (rig: Rig, gpa: number, len: number) => rig.mem.u8.slice(gpa - rig.mem.ramBase, gpa - rig.mem.ramBase + len);
const profiles = () => [["built-in", DEFAULT_PROFILE] as const, ...PROFILE_NAMES.map((n) => [n, loadProfile(n)] as const)];

describe("device clauses", () => {
  it("STATUS-DEV-01: consumes nothing and notifies nothing before DRIVER_OK", () => {
    const rig = createRig();
    const d = new MockDriver(rig);
    expect(d.negotiate()).toBe(true);
    d.setupQueue(0, 16);
    const tx = d.setupQueue(1, 16);
    const gpa = tx.alloc(100);
    tx.publish(tx.addChain([{ gpa, len: HDR + 60, write: false }]));
    d.w(MMIO.QueueNotify, 1);
    rig.clock.runUntil(1e9);
    expect(tx.readUsedIdx()).toBe(0);
    expect(rig.irq.level).toBe(false);
    expect(rig.transport.violations.map((v) => v.clause)).toContain("INIT-DRV-14");
  });

  it("STATUS-DEV-02, STATUS-DEV-03: a breach after DRIVER_OK sets DEVICE_NEEDS_RESET with a configuration interrupt", () => {
    const { rig, d } = live();
    d.rings[1]!.setAvailIdx(300); // more than QueueSize ahead (SPLIT-DRV-09)
    d.w(MMIO.QueueNotify, 1);
    rig.clock.runUntil(1e9);
    expect(d.status() & STATUS.DEVICE_NEEDS_RESET).toBe(STATUS.DEVICE_NEEDS_RESET);
    expect(d.r(MMIO.InterruptStatus) & INT.CONFIG_CHANGE).toBe(INT.CONFIG_CHANGE);
    expect(rig.irq.level).toBe(true);
  });

  it("FEAT-DEV-01, FEAT-DEV-04, RSVD-DEV-01, RSVD-DEV-10, NET-CFG-DEV-13, NET-CFG-DEV-14: what every profile offers", () => {
    const extra: Record<string, string[]> = {};
    for (const [name, p] of profiles()) {
      const offered = featureSet(p.features);
      expect(unmetDependency(offered, (b) => featureNames(1n << BigInt(b))[0]!), name).toBeNull();
      if (!(p.transport ?? "mmio").endsWith("-legacy")) expect(has(offered, F.VERSION_1), name).toBe(true); // a modern device
      expect(has(offered, F.SR_IOV), name).toBe(false);
      if (!has(offered, NET_F.CTRL_VQ)) {
        expect(has(offered, NET_F.HASH_REPORT), name).toBe(false);
        expect(has(offered, NET_F.CTRL_RX_EXTRA), name).toBe(false);
      }
      extra[name] = featureNames(offered & ~HONOURED);
    }
    // The built-in profile offers only what the model honours; the VMM profiles copy their VMM's offer.
    expect(extra["built-in"]).toEqual([]);
  });

  it("FEAT-DEV-02, FEAT-DEV-03, FEAT-DEV-05: any valid subset is accepted, the same again after reset; an invalid one refused", () => {
    const rng = new Rng(11);
    const offered = featureSet(DEFAULT_PROFILE.features);
    const bits = featureNames(offered);
    for (let i = 0; i < 40; i++) {
      const pick = bits.filter((b) => b === "VERSION_1" || rng.int(0, 1) === 1);
      const set = featureSet(pick);
      if (unmetDependency(set, (b) => featureNames(1n << BigInt(b))[0]!) !== null) continue;
      const rig = createRig();
      const d = new MockDriver(rig);
      expect(d.negotiate({ accept: pick }), pick.join()).toBe(true); // FEAT-DEV-02
      expect(d.negotiate({ accept: pick }), pick.join()).toBe(true); // FEAT-DEV-05, after the reset negotiate starts with
    }
    const d = new MockDriver(createRig());
    expect(d.negotiate({ accept: ["MAC", "STATUS"] })).toBe(false); // no VERSION_1: FEATURES_OK stays clear (FEAT-DEV-03)
  });

  it("RESET-DEV-01, RESET-DEV-02, MMIO-DEV-05: reset zeroes status, ISR and QueueReady; nothing touched afterwards", () => {
    const { rig, d } = live();
    rig.backend.transmit(frame(60));
    rig.clock.runUntil(rig.clock.now + 1e6);
    const tx = d.rings[1]!;
    tx.publish(tx.addChain([{ gpa: tx.alloc(100), len: HDR + 60, write: false }]));
    d.w(MMIO.QueueNotify, 1); // delivered after the doorbell delay, which falls after the reset
    expect(d.r(MMIO.InterruptStatus)).not.toBe(0);
    d.w(MMIO.Status, 0);
    expect(d.status()).toBe(0);
    expect(d.r(MMIO.InterruptStatus)).toBe(0);
    for (const q of [0, 1]) {
      d.w(MMIO.QueueSel, q);
      expect(d.r(MMIO.QueueReady)).toBe(0);
    }
    const used = snap(rig, tx.deviceAddr, 4 + 8 * tx.size);
    rig.backend.transmit(frame(60, 2));
    rig.clock.runUntil(1e9);
    expect(snap(rig, tx.deviceAddr, 4 + 8 * tx.size)).toEqual(used);
    expect(rig.irq.level).toBe(false);
  });

  it("CFG-DEV-01: config fields read before FEATURES_OK", () => {
    const rig = createRig();
    const d = new MockDriver(rig);
    d.w(MMIO.Status, 0);
    d.setStatus(STATUS.ACKNOWLEDGE | STATUS.DRIVER);
    const mac = [0, 1, 2, 3, 4, 5].map((i) => d.r(MMIO.Config + i, 1));
    expect(mac).toEqual([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
    expect(d.r(MMIO.Config + NET_CFG.mtu, 2)).toBe(DEFAULT_PROFILE.mtu);
    expect(d.r(MMIO.Config + NET_CFG.status, 2)).toBe(1);
  });

  it("VQRST-DEV-01, VQRST-DEV-02, VQRST-DEV-03, MMIO-DEV-08, MMIO-DEV-09, MMIO-DEV-10, MMIO-DEV-12: queue reset and re-enable", () => {
    const features = featureSet([...DEFAULT_PROFILE.features, "RING_RESET"]);
    const { rig, d } = live({ features }, { accept: [...DEFAULT_PROFILE.features, "RING_RESET"] });
    d.w(MMIO.QueueSel, 1);
    expect(d.r(MMIO.QueueReset)).toBe(0); // after enable (MMIO-DEV-09)
    d.w(MMIO.QueueReset, 1);
    expect([d.r(MMIO.QueueReset), d.r(MMIO.QueueReady)]).toEqual([0, 0]); // MMIO-DEV-10/12
    expect(rig.transport.queue(1)).toBeUndefined();
    // Defaults again (VQRST-DEV-02): a PCI-style read-back of QueueSize is QueueSizeMax.
    expect(rig.transport.queue(1)).toBeUndefined();
    const old = d.rings[1]!;
    old.publish(old.addChain([{ gpa: old.alloc(100), len: HDR + 60, write: false }]));
    d.w(MMIO.QueueNotify, 1);
    rig.clock.runUntil(1e9);
    expect(old.readUsedIdx()).toBe(0); // nothing executed from a reset queue (VQRST-DEV-01)
    const tx = d.setupQueue(1, 64); // re-enabled with another size (VQRST-DEV-03)
    expect(rig.transport.queue(1)!.cfg.size).toBe(64);
    d.transmit(frame(60));
    d.runUntilIdle();
    expect(tx.readUsedIdx()).toBe(1);
    d.w(MMIO.Status, 0);
    expect(d.r(MMIO.QueueReset)).toBe(0); // after device reset (MMIO-DEV-08)
  });

  it("FRAME-DEV-01, SPLIT-DEV-01, SPLIT-DEV-04, SPLIT-DEV-14: any split of header and frame; readable buffers and the table untouched; len bytes written", () => {
    const { rig, d } = live();
    const tx = d.rings[1]!;
    const f = frame(300, 9);
    const bytes = new Uint8Array(HDR + f.length);
    bytes.set(f, HDR);
    const cuts = [5, HDR, HDR + 1, 100, 301];
    const bufs = cuts.map((c, i) => bytes.subarray(i === 0 ? 0 : cuts[i - 1], c));
    bufs.push(bytes.subarray(301));
    const gpas = bufs.map((b) => {
      const g = tx.alloc(Math.max(1, b.length));
      tx.fill(g, b);
      return g;
    });
    const head = tx.addChain(bufs.map((b, i) => ({ gpa: gpas[i]!, len: b.length, write: false })));
    const table = snap(rig, tx.descAddr, 16 * tx.size);
    const readable = gpas.map((g, i) => snap(rig, g, bufs[i]!.length));
    d.kickAfter(1, () => tx.publish(head), true);
    d.runUntilIdle();
    expect(d.received.at(-1)).toEqual(f); // back through loopback, whole (FRAME-DEV-01)
    expect(snap(rig, tx.descAddr, 16 * tx.size)).toEqual(table); // SPLIT-DEV-04 (TX table)
    gpas.forEach((g, i) => expect(snap(rig, g, bufs[i]!.length)).toEqual(readable[i])); // SPLIT-DEV-01
    const rx = d.rings[0]!;
    const e = rx.readUsedElem((rx.readUsedIdx() - 1) & (rx.size - 1));
    expect(e.len).toBe(HDR + f.length); // SPLIT-DEV-14: len bytes, the frame, are there
    expect(rx.bytes(Number(rx.readDesc(e.id).addr) + HDR, f.length)).toEqual(f);
  });

  it("SPLIT-DEV-02: the only read path copies device-readable buffers, never writable ones", () => {
    const rig = createRig();
    const ring = new MockSplitRing(rig.mem, 0x10000, 8);
    const r = ring.alloc(16);
    const w = ring.alloc(16);
    ring.fill(r, frame(16, 1));
    ring.fill(w, frame(16, 2));
    const head = ring.addChain([{ gpa: r, len: 16, write: false }, { gpa: w, len: 16, write: true }]);
    const q = new DeviceSplitQueue(rig.mem, ring.config(), () => {}, rig.trace, rig.clock, "t");
    ring.publish(head);
    const chain = q.pop()!;
    const out = new Uint8Array(32);
    expect(q.read(chain, out)).toBe(16);
    expect(out.subarray(0, 16)).toEqual(frame(16, 1));
    expect(out.subarray(16)).toEqual(new Uint8Array(16));
  });

  it("SPLIT-DEV-05, SPLIT-DEV-06: direct descriptors then one indirect table; WRITE on the table pointer ignored", () => {
    const rig = createRig();
    const ring = new MockSplitRing(rig.mem, 0x10000, 8, { indirect: true });
    const a = ring.alloc(16);
    const table = ring.alloc(32);
    const b = ring.alloc(16);
    const c = ring.alloc(16);
    ring.writeTable(table, [
      { addr: b, len: 16, flags: VIRTQ_DESC_F.NEXT, next: 1 },
      { addr: c, len: 16, flags: VIRTQ_DESC_F.WRITE, next: 0 },
    ]);
    ring.writeDesc(0, { addr: a, len: 16, flags: VIRTQ_DESC_F.NEXT, next: 1 });
    ring.writeDesc(1, { addr: table, len: 32, flags: VIRTQ_DESC_F.INDIRECT | VIRTQ_DESC_F.WRITE, next: 0 });
    const r = walkChain(rig.mem, 8, ring.descAddr, 0, true);
    expect(isChainBreach(r)).toBe(false);
    if (isChainBreach(r)) return;
    expect([r.readableLen, r.writableLen, r.descCount]).toEqual([32, 16, 3]);
  });

  it("SPLIT-DEV-07, SPLIT-DEV-08, SPLIT-DEV-09, SPLIT-DEV-10, SPLIT-DEV-11, SPLIT-DEV-12, SPLIT-DEV-13: used ring and notification decisions", () => {
    for (const eventIdx of [false, true]) {
      const rig = createRig();
      const ring = new MockSplitRing(rig.mem, 0x10000, 8, { eventIdx });
      const q = new DeviceSplitQueue(rig.mem, ring.config(), () => {}, rig.trace, rig.clock, "t");
      const once = (flags: number, usedEvent: number) => {
        ring.setAvailFlags(flags);
        ring.setUsedEvent(usedEvent);
        const head = ring.addChain([{ gpa: ring.alloc(16), len: 16, write: true }]);
        ring.publish(head);
        const c = q.pop()!;
        const before = ring.readUsedIdx();
        q.addUsed(c.head, 5);
        expect(ring.readUsedIdx()).toBe(before); // element first, index later (SPLIT-DEV-13)
        expect(ring.readUsedElem(before & 7)).toEqual({ id: c.head, len: 5 });
        const irq = q.publishUsed();
        expect(ring.readUsedIdx()).toBe(before + 1);
        ring.reap();
        return irq;
      };
      if (!eventIdx) {
        expect(once(VIRTQ_AVAIL_F.NO_INTERRUPT, 0)).toBe(false); // SPLIT-DEV-08 (used_event ignored, SPLIT-DEV-07)
        expect(once(0, 77)).toBe(true); // SPLIT-DEV-09, SPLIT-DEV-07
      } else {
        expect(once(VIRTQ_AVAIL_F.NO_INTERRUPT, 0)).toBe(true); // flags ignored (SPLIT-DEV-10); used_event 0 = the index written (SPLIT-DEV-11)
        expect(once(0, 5)).toBe(false); // SPLIT-DEV-12
        expect(once(0, 2)).toBe(true); // SPLIT-DEV-11
      }
    }
  });

  it("SPLIT-DEV-16, SPLIT-DEV-18: used.flags only 0 or NO_NOTIFY, and 0 with EVENT_IDX", () => {
    for (const eventIdx of [false, true]) {
      const rig = createRig();
      const ring = new MockSplitRing(rig.mem, 0x10000, 8, { eventIdx });
      const q = new DeviceSplitQueue(rig.mem, ring.config(), () => {}, rig.trace, rig.clock, "t");
      q.setKickSuppression(true);
      expect(ring.readUsedFlags()).toBe(eventIdx ? 0 : VIRTQ_USED_F.NO_NOTIFY);
      q.setKickSuppression(false);
      expect(ring.readUsedFlags()).toBe(0);
    }
  });

  it("SPLIT-DEV-20: spurious kicks change nothing", () => {
    const { rig, d } = live();
    for (let i = 0; i < 10; i++) for (const q of [0, 1]) d.w(MMIO.QueueNotify, q);
    rig.clock.runUntil(1e9);
    expect(eventsOf(rig, "breach")).toEqual([]);
    expect(d.rings[1]!.readUsedIdx()).toBe(0);
    expect(d.status()).toBe(15);
  });

  it("SHM-DEV-01, MMIO-DEV-01, MMIO-DEV-02: identification and no shared memory regions", () => {
    const d = new MockDriver(createRig());
    expect(d.r(MMIO.MagicValue)).toBe(MMIO_VAL.MAGIC);
    expect(d.r(MMIO.Version)).toBe(2);
    for (let sel = 0; sel < 4; sel++) {
      d.w(MMIO.SHMSel, sel);
      expect([d.r(MMIO.SHMLenLow), d.r(MMIO.SHMLenHigh)]).toEqual([0xffffffff, 0xffffffff]);
    }
  });

  it("MMIO-DEV-03, MMIO-DEV-04, MMIO-DEV-06, NET-CFG-DEV-04: ISR bits held until acknowledged; ConfigGeneration moves with the link; mtu fixed", () => {
    const { rig, d } = live();
    rig.backend.transmit(frame(60));
    rig.clock.runUntil(1e9);
    expect(d.r(MMIO.InterruptStatus)).toBe(INT.USED_BUFFER); // only the event that happened (MMIO-DEV-04)
    expect(d.r(MMIO.InterruptStatus)).toBe(INT.USED_BUFFER); // still, until acknowledged (MMIO-DEV-03)
    d.w(MMIO.InterruptACK, INT.USED_BUFFER);
    expect(d.r(MMIO.InterruptStatus)).toBe(0);
    const g = d.r(MMIO.ConfigGeneration);
    rig.net.setLink(false);
    expect(d.r(MMIO.ConfigGeneration)).not.toBe(g);
    expect(d.r(MMIO.InterruptStatus)).toBe(INT.CONFIG_CHANGE);
    expect(d.r(MMIO.Config + NET_CFG.mtu, 2)).toBe(DEFAULT_PROFILE.mtu);
    d.w(MMIO.Status, 0);
    expect(d.r(MMIO.Config + NET_CFG.mtu, 2)).toBe(DEFAULT_PROFILE.mtu);
  });

  it("MMIO-DEV-07: a queue whose QueueReady is 0 is never touched", () => {
    const rig = createRig();
    const d = new MockDriver(rig);
    expect(d.negotiate()).toBe(true);
    const rx = d.setupQueue(0, 16);
    d.setupQueue(1, 16);
    d.w(MMIO.QueueSel, 0);
    d.w(MMIO.QueueReady, 0);
    d.setStatus(STATUS.DRIVER_OK);
    rx.publish(rx.addChain([{ gpa: rx.alloc(2048), len: 2048, write: true }]));
    const before = snap(rig, rx.deviceAddr, 4 + 8 * 16 + 2);
    d.w(MMIO.QueueNotify, 0);
    rig.backend.transmit(frame(60));
    rig.clock.runUntil(1e9);
    expect(snap(rig, rx.deviceAddr, 4 + 8 * 16 + 2)).toEqual(before);
  });

  it("MMIO-DEV-07, VQRST-DEV-01: a transmit in flight when its queue stops is never completed into the stopped ring", () => {
    const { rig, d } = live();
    const tx = d.rings[1]!;
    tx.publish(tx.addChain([{ gpa: tx.alloc(100), len: HDR + 60, write: false }]));
    d.w(MMIO.QueueNotify, 1);
    while (eventsOf(rig, "vq.pop").length === 0) rig.clock.step(); // popped, completion pending
    d.w(MMIO.QueueSel, 1);
    d.w(MMIO.QueueReady, 0);
    const used = snap(rig, tx.deviceAddr, 4 + 8 * tx.size);
    rig.clock.runUntil(1e9);
    expect(snap(rig, tx.deviceAddr, 4 + 8 * tx.size)).toEqual(used);
  });

  it("NET-CFG-DEV-01, NET-CFG-DEV-02, NET-CFG-DEV-03: max_virtqueue_pairs and mtu in range in every profile", () => {
    for (const [name, p] of profiles()) {
      const d = new MockDriver(createRig({ profile: p, features: featureSet(p.features) }));
      const offered = featureSet(p.features);
      if (has(offered, NET_F.MQ)) expect(d.r(MMIO.Config + NET_CFG.max_virtqueue_pairs, 2), name).toBe(1);
      if (has(offered, NET_F.MTU)) {
        const mtu = d.r(MMIO.Config + NET_CFG.mtu, 2);
        expect(mtu >= 1280 && mtu <= 65535, `${name} mtu ${mtu}`).toBe(true);
      }
    }
  });

  it("NET-CFG-DEV-05, NET-CFG-DEV-06: with MTU, frames up to mtu + 14 pass whole both ways, longer ones are not delivered", () => {
    const { rig, d } = live({}, { rxBufSize: 2048 });
    d.transmit(frame(DEFAULT_PROFILE.mtu + 14, 3));
    d.runUntilIdle();
    expect(d.received.at(-1)).toEqual(frame(DEFAULT_PROFILE.mtu + 14, 3));
    rig.backend.transmit(frame(DEFAULT_PROFILE.mtu + 15));
    d.runUntilIdle();
    expect(d.received.length).toBe(1);
    expect(rig.net.stats.drops["oversize"]).toBe(1);
  });

  it("NET-TX-DEV-01, NET-TX-DEV-02, NET-TX-DEV-07: unknown flags, csum fields and hdr_len change nothing", () => {
    const { d } = live();
    const h = new Uint8Array(HDR);
    h[NET_HDR.flags] = 0x80;
    new DataView(h.buffer).setUint16(NET_HDR.hdr_len, 9999, true);
    new DataView(h.buffer).setUint16(NET_HDR.csum_start, 4, true);
    new DataView(h.buffer).setUint16(NET_HDR.csum_offset, 7, true);
    d.transmit(frame(200, 4), h);
    d.runUntilIdle();
    expect(d.received.at(-1)).toEqual(frame(200, 4));
  });

  it("NET-RXB-DEV-01, NET-RXB-DEV-02, NET-RX-DEV-01, NET-RX-DEV-02, NET-RX-DEV-03, NET-RX-DEV-04: num_buffers and buffer filling", () => {
    for (const mrg of [true, false]) {
      const accept = mrg ? undefined : ["VERSION_1", "MAC", "STATUS", "MTU"];
      const { rig, d } = live({}, { accept, rxBufSize: mrg ? 256 : 1526 });
      const rx = d.rings[0]!;
      rig.backend.transmit(frame(1000, 5));
      rig.clock.runUntil(1e9);
      const n = rx.readUsedIdx(); // all buffers of the packet visible at once (NET-RX-DEV-04)
      const elems = Array.from({ length: n }, (_, i) => rx.readUsedElem(i));
      const first = rx.bytes(Number(rx.readDesc(elems[0]!.id).addr), HDR);
      expect(first[NET_HDR.num_buffers] | (first[NET_HDR.num_buffers + 1]! << 8)).toBe(n);
      expect(n).toBe(mrg ? Math.ceil((HDR + 1000) / 256) : 1);
      elems.slice(0, -1).forEach((e) => expect(e.len).toBe(256)); // all but the last full (NET-RX-DEV-03)
      expect(elems.reduce((s, e) => s + e.len, 0)).toBe(HDR + 1000);
      expect(eventsOf(rig, "vq.publish").filter((e) => (e as { q?: number }).q === 0).length).toBe(1);
    }
  });

  it("NET-RX-DEV-05, NET-RX-DEV-07..13, NET-RX-DEV-21, NET-RX-DEV-25, NET-RX-DEV-26, NET-RX-DEV-30, NET-RX-DEV-34: the receive header is zero but num_buffers", () => {
    // The ids one by one, for the marks test: NET-RX-DEV-07 NET-RX-DEV-08 NET-RX-DEV-09 NET-RX-DEV-10 NET-RX-DEV-11 NET-RX-DEV-12 NET-RX-DEV-13
    for (const [, p] of profiles().filter(([, p]) => !(p.transport ?? "mmio").endsWith("-legacy"))) {
      const { rig, d } = live({ profile: p, features: featureSet(p.features) }, { accept: p.features.filter((f) => !f.startsWith("CTRL_") && f !== "MQ" && f !== "GUEST_ANNOUNCE") });
      rig.backend.transmit(frame(500));
      rig.clock.runUntil(1e9);
      const rx = d.rings[0]!;
      const e = rx.readUsedElem(0);
      const h = rx.bytes(Number(rx.readDesc(e.id).addr), HDR);
      h[NET_HDR.num_buffers] = 0;
      expect([...h]).toEqual(new Array(HDR).fill(0));
    }
  });

  it("NET-VLAN-DEV-01, NET-MQ-DEV-04: tagged frames delivered without CTRL_VLAN; receiveq1 only", () => {
    const { rig, d } = live();
    const tagged = frame(100, 6);
    tagged.set([0x81, 0x00, 0x00, 0x05], 12);
    rig.backend.transmit(tagged);
    d.runUntilIdle();
    expect(d.received.at(-1)).toEqual(tagged);
    d.w(MMIO.QueueSel, 2);
    expect(d.r(MMIO.QueueSizeMax)).toBe(0);
  });
});
