// Tests of the device-side split virtqueue against the mock driver ring: bytes moved, used ring
// contents, notification decisions at 16-bit wrap, and every driver breach named by its clause.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ClauseId } from "../../host/gen/clauses.js";
import { VIRTQ_DESC_F } from "../../host/gen/constants.js";
import { DEFAULT_RAM_BASE, GuestMemory } from "../../host/guest/memory.js";
import { encodeEvent, Trace } from "../../host/report/trace.js";
import { Clock } from "../../host/sim/clock.js";
import { DeviceSplitQueue, type SplitQueueConfig } from "../../host/virtio/split-queue.js";
import { type MockDesc, type MockRingOptions, MockSplitRing } from "../mock/mock-ring.js";

const { NEXT, WRITE, INDIRECT } = VIRTQ_DESC_F;

type SetupOptions = MockRingOptions & { record?: boolean; pages?: number };

function setup(size = 8, opts: SetupOptions = {}, cfg: Partial<SplitQueueConfig> = {}) {
  const mem = new GuestMemory({ pages: opts.pages ?? 16 });
  const ring = new MockSplitRing(mem, 0, size, opts);
  const trace = new Trace({ record: opts.record ?? true });
  const clock = new Clock();
  const breaches: { clause: ClauseId; detail: string }[] = [];
  const onBreach = (clause: ClauseId, detail: string) => void breaches.push({ clause, detail });
  const q = new DeviceSplitQueue(mem, { ...ring.config(1), ...cfg }, onBreach, trace, clock, "net0");
  return { mem, ring, trace, clock, breaches, q };
}

/** Push `n` one-descriptor chains through publish, pop, addUsed, publishUsed and reap. */
function cycle(s: ReturnType<typeof setup>, n: number, buf: number): void {
  for (let i = 0; i < n; i++) {
    s.ring.publish(s.ring.addChain([{ gpa: buf, len: 4, write: true }]));
    const c = s.q.pop()!;
    s.q.addUsed(c.head, 4);
    s.q.publishUsed();
    s.ring.reap();
  }
}

describe("DeviceSplitQueue: chains and bytes", () => {
  it("pops published chains in order with exact buffers and traces each pop", () => {
    const s = setup(8);
    const { ring, q, mem, clock } = s;
    const a = ring.alloc(14);
    const b = ring.alloc(100);
    const h1 = ring.addChain([{ gpa: a, len: 14, write: false }, { gpa: b, len: 100, write: false }]);
    const h2 = ring.addChain([{ gpa: b, len: 60, write: true }]);
    expect(q.pending()).toBe(0);
    expect(q.pop()).toBeNull();
    ring.publishMany([h1, h2]);
    expect(q.pending()).toBe(2);
    clock.advanceTo(1234);
    const c1 = q.pop()!;
    expect(c1.head).toBe(h1);
    expect(c1.readable).toEqual([{ gpa: a, off: a - mem.ramBase, len: 14 }, { gpa: b, off: b - mem.ramBase, len: 100 }]);
    expect(c1.writable).toEqual([]);
    expect(q.pending()).toBe(1);
    const c2 = q.pop()!;
    expect(c2).toMatchObject({ head: h2, readableLen: 0, writableLen: 60, descCount: 1 });
    expect(q.pop()).toBeNull();
    expect(q.lastAvail).toBe(2);
    expect(s.trace.events.map(encodeEvent)).toEqual([
      `{"t":1234,"k":"vq.pop","dev":"net0","q":1,"head":${h1},"descs":2,"rlen":114,"wlen":0}`,
      `{"t":1234,"k":"vq.pop","dev":"net0","q":1,"head":${h2},"descs":1,"rlen":0,"wlen":60}`,
    ]);
    expect(s.breaches).toEqual([]);
  });

  it("unpop gives popped chains back; the next pops return them again", () => {
    const s = setup(4, { eventIdx: true });
    const { ring, q } = s;
    const g = ring.alloc(8);
    const heads = [0, 1, 2].map(() => ring.addChain([{ gpa: g, len: 8, write: true }]));
    ring.publishMany(heads);
    expect([q.pop()!.head, q.pop()!.head, q.pop()!.head]).toEqual(heads);
    expect(ring.readAvailEvent()).toBe(3);
    q.unpop(2);
    expect(q.lastAvail).toBe(1);
    expect(q.pending()).toBe(2);
    expect(ring.readAvailEvent()).toBe(3); // the driver's next publish (3 -> 4) still kicks
    expect([q.pop()!.head, q.pop()!.head]).toEqual(heads.slice(1));
    expect(q.pop()).toBeNull();
    q.unpop(100); // clamped: never more than QueueSize outstanding
    expect(q.pending()).toBe(4);
    expect(s.trace.events.filter((e) => e.k === "vq.unpop").map(encodeEvent)).toEqual([
      `{"t":0,"k":"vq.unpop","dev":"net0","q":1,"n":2}`,
      `{"t":0,"k":"vq.unpop","dev":"net0","q":1,"n":4}`,
    ]);
    expect(s.breaches).toEqual([]);
  });

  it("read copies readable bytes across descriptor boundaries, from any skip", () => {
    const { ring, q } = setup(8);
    const bufs = [3, 0, 5, 4].map((len) => ({ gpa: ring.alloc(len || 1), len, write: false }));
    let v = 1;
    for (const b of bufs) for (let i = 0; i < b.len; i++) ring.fill(b.gpa + i, [v++]);
    const w = ring.alloc(8);
    ring.publish(ring.addChain([...bufs, { gpa: w, len: 8, write: true }]));
    const c = q.pop()!;
    const all = new Uint8Array(16);
    expect(q.read(c, all)).toBe(12);
    expect([...all]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0, 0, 0, 0]);
    const mid = new Uint8Array(5);
    expect(q.read(c, mid, 2)).toBe(5);
    expect([...mid]).toEqual([3, 4, 5, 6, 7]);
    expect(q.read(c, new Uint8Array(4), 12)).toBe(0);
    expect(q.read(c, new Uint8Array(0))).toBe(0);
  });

  it("write fills writable buffers across boundaries from an offset, never readable ones (SPLIT-DEV-01)", () => {
    const { ring, q } = setup(8);
    const r = ring.alloc(4);
    ring.fill(r, [0xaa, 0xaa, 0xaa, 0xaa]);
    const w = [2, 0, 3, 4].map((len) => ring.alloc(len || 1));
    ring.publish(
      ring.addChain([{ gpa: r, len: 4, write: false }, ...[2, 0, 3, 4].map((len, i) => ({ gpa: w[i], len, write: true }))]),
    );
    const c = q.pop()!;
    expect(q.write(c, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 1)).toBe(8);
    expect([...ring.bytes(w[0], 2)]).toEqual([0, 1]);
    expect([...ring.bytes(w[2], 3)]).toEqual([2, 3, 4]);
    expect([...ring.bytes(w[3], 4)]).toEqual([5, 6, 7, 8]);
    expect([...ring.bytes(r, 4)]).toEqual([0xaa, 0xaa, 0xaa, 0xaa]);
    expect(q.write(c, Uint8Array.of(9), 9)).toBe(0);
  });

  it("addUsed writes the used element; publishUsed makes it visible and traces it", () => {
    const s = setup(4);
    const { ring, q, mem } = s;
    const g = ring.alloc(64);
    ring.publishMany([ring.addChain([{ gpa: g, len: 64, write: true }]), ring.addChain([{ gpa: g, len: 8, write: true }])]);
    const c1 = q.pop()!;
    const c2 = q.pop()!;
    q.addUsed(c2.head, 7);
    q.addUsed(c1.head, 0x1234_5678);
    expect(q.usedIdx).toBe(2);
    expect(ring.readUsedIdx()).toBe(0); // not visible yet
    const e = ring.usedOff + 4;
    expect([mem.r32(e), mem.r32(e + 4), mem.r32(e + 8), mem.r32(e + 12)]).toEqual([c2.head, 7, c1.head, 0x1234_5678]);
    expect(q.publishUsed()).toBe(true);
    expect(ring.readUsedIdx()).toBe(2);
    expect(q.publishUsed()).toBe(false); // nothing added since
    expect(ring.reap()).toEqual([{ id: c2.head, len: 7 }, { id: c1.head, len: 0x1234_5678 }]);
    expect(s.trace.events.slice(2).map(encodeEvent)).toEqual([
      `{"t":0,"k":"vq.used","dev":"net0","q":1,"head":${c2.head},"len":7}`,
      `{"t":0,"k":"vq.used","dev":"net0","q":1,"head":${c1.head},"len":305419896}`,
      `{"t":0,"k":"vq.publish","dev":"net0","q":1,"idx":2,"irq":true}`,
    ]);
  });

  it("carries 70000 chains through one queue across the 16-bit index wrap", () => {
    const s = setup(256, { record: false });
    const { ring, q } = s;
    const rbuf = ring.alloc(8);
    const wbufs = Array.from({ length: 256 }, () => ring.alloc(8));
    ring.fill(rbuf, [1, 2, 3, 4, 5, 6, 7, 8]);
    const tmp = new Uint8Array(8);
    let sent = 0;
    let reaped = 0;
    let batch = 1;
    let wrong = 0; // per-chain checks counted, asserted once (expect is slow at this count)
    while (sent < 70000) {
      const n = Math.min(batch, 70000 - sent);
      const heads = [];
      for (let i = 0; i < n; i++) {
        heads.push(ring.addChain([{ gpa: rbuf, len: 8, write: false }, { gpa: wbufs[i], len: 8, write: true }]));
      }
      ring.publishMany(heads);
      expect(q.pending()).toBe(n);
      for (let i = 0; i < n; i++) {
        const c = q.pop()!;
        if (c.head !== heads[i] || q.read(c, tmp) !== 8 || tmp[7] !== 8) wrong++;
        tmp[0] = (sent + i) & 0xff;
        if (q.write(c, tmp) !== 8) wrong++;
        q.addUsed(c.head, 8);
      }
      expect(q.publishUsed()).toBe(true);
      const used = ring.reap();
      expect(used.map((u) => u.id)).toEqual(heads);
      expect(ring.bytes(wbufs[n - 1], 2)[0]).toBe((sent + n - 1) & 0xff);
      reaped += used.length;
      sent += n;
      batch = (batch * 7 + 3) % 128 || 1; // two descriptors a chain: at most 128 in flight
    }
    expect(wrong).toBe(0);
    expect(reaped).toBe(70000);
    expect(q.lastAvail).toBe(70000 & 0xffff);
    expect(q.usedIdx).toBe(70000 & 0xffff);
    expect(ring.readUsedIdx()).toBe(70000 & 0xffff);
    expect(ring.numFree).toBe(256);
    expect(s.breaches).toEqual([]);
    expect(s.trace.count).toBeGreaterThan(2 * 70000);
  });
});

describe("DeviceSplitQueue: notifications", () => {
  it("without EVENT_IDX: NO_INTERRUPT decides, used_event is ignored (SPLIT-DEV-07/08/09)", () => {
    const s = setup(8);
    const g = s.ring.alloc(4);
    s.ring.setUsedEvent(100); // would suppress with EVENT_IDX
    cycle(s, 1, g);
    expect(s.trace.events.at(-1)).toMatchObject({ k: "vq.publish", irq: true });
    s.ring.setAvailFlags(1);
    s.ring.publish(s.ring.addChain([{ gpa: g, len: 4, write: true }]));
    s.q.addUsed(s.q.pop()!.head, 0);
    expect(s.q.publishUsed()).toBe(false);
    s.ring.setAvailFlags(0);
    s.ring.setUsedEvent(1);
    s.q.addUsed(0, 0);
    expect(s.q.publishUsed()).toBe(true);
  });

  it("without EVENT_IDX: used.flags NO_NOTIFY both ways, avail_event untouched (SPLIT-DEV-16/17)", () => {
    const s = setup(8);
    const g = s.ring.alloc(4);
    expect(s.ring.readUsedFlags()).toBe(0);
    s.q.setKickSuppression(true);
    expect(s.ring.readUsedFlags()).toBe(1);
    expect(s.ring.needKick(s.ring.availIdx)).toBe(false);
    cycle(s, 3, g);
    s.q.setKickSuppression(false);
    expect(s.ring.readUsedFlags()).toBe(0);
    expect(s.ring.readAvailEvent()).toBe(0);
    expect(s.ring.needKick(s.ring.availIdx)).toBe(true);
  });

  it("with EVENT_IDX: vring_need_event on used_event across the used idx wrap, avail.flags ignored (SPLIT-DEV-10/11/12)", () => {
    // [used idx before, entries added, used_event, notify?]
    const cases: [number, number, number, boolean][] = [
      [65534, 1, 65534, true],
      [65534, 1, 65535, false],
      [65535, 1, 65535, true], // idx wraps to 0
      [65535, 1, 0, false],
      [65534, 3, 65535, true], // 65534 -> 1 covers 65534, 65535, 0
      [65534, 3, 0, true],
      [65534, 3, 1, false],
      [65534, 3, 65533, false],
      [0, 2, 65535, false],
    ];
    for (const [start, n, usedEvent, want] of cases) {
      const s = setup(8, { eventIdx: true, record: false });
      const { ring, q } = s;
      ring.setAvailFlags(1); // NO_INTERRUPT means nothing with EVENT_IDX
      for (let i = 0; i < start; i++) q.addUsed(0, 0); // the device may complete many at once
      q.publishUsed();
      expect(ring.readUsedIdx()).toBe(start);
      ring.setUsedEvent(usedEvent);
      const g = ring.alloc(4);
      for (let i = 0; i < n; i++) {
        ring.publish(ring.addChain([{ gpa: g, len: 4, write: true }]));
        q.addUsed(q.pop()!.head, 4 + i);
      }
      expect(q.publishUsed(), `${start} + ${n}, used_event ${usedEvent}`).toBe(want);
      expect(ring.readUsedIdx()).toBe((start + n) & 0xffff);
      expect(ring.readUsedElem((start + n - 1) % 8)).toEqual({ id: n - 1, len: 4 + n - 1 });
      expect(s.breaches).toEqual([]);
    }
  });

  it("with EVENT_IDX: used.flags stays 0, avail_event follows last_avail_idx unless suppressed (SPLIT-DEV-18/19)", () => {
    const s = setup(8, { eventIdx: true, record: false });
    const { ring, q } = s;
    const g = ring.alloc(4);
    cycle(s, 65533, g);
    expect(ring.readAvailEvent()).toBe(65533);
    q.setKickSuppression(true);
    expect(ring.readUsedFlags()).toBe(0);
    cycle(s, 2, g); // last_avail 65535, avail_event stays
    expect(ring.readAvailEvent()).toBe(65533);
    q.setKickSuppression(false);
    expect(ring.readAvailEvent()).toBe(65535);
    expect(ring.readUsedFlags()).toBe(0);
    // The driver publishing the entry at 65535 must kick; avail.idx wraps to 0.
    const old = ring.availIdx;
    ring.publish(ring.addChain([{ gpa: g, len: 4, write: true }]));
    expect(ring.availIdx).toBe(0);
    expect(ring.needKick(old)).toBe(true);
    q.pop();
    expect(q.lastAvail).toBe(0);
    expect(ring.readAvailEvent()).toBe(0);
    // With avail_event at 0, publishing 0 -> 1 kicks, 1 -> 2 does not.
    ring.publish(ring.addChain([{ gpa: g, len: 4, write: true }]));
    expect(ring.needKick(0)).toBe(true);
    ring.publish(ring.addChain([{ gpa: g, len: 4, write: true }]));
    expect(ring.needKick(1)).toBe(false);
    expect(s.breaches).toEqual([]);
  });
});

describe("DeviceSplitQueue: breaches", () => {
  /** After a breach: exactly one record, broken, every call a no-op, nothing traced. */
  function expectBroken(s: ReturnType<typeof setup>, clause: ClauseId): void {
    expect(s.breaches.map((b) => b.clause)).toEqual([clause]);
    expect(s.q.broken).toBe(true);
    const events = s.trace.count;
    const last = s.q.lastAvail;
    const used = s.ring.bytes(s.mem.gpa(s.ring.usedOff), 4 + 8 * s.ring.size);
    expect(s.q.pending()).toBe(0);
    expect(s.q.pop()).toBeNull();
    const buf = { gpa: s.mem.ramBase, off: 0, len: 4 };
    const fake = { head: 0, readable: [buf], writable: [buf], readableLen: 4, writableLen: 4, descCount: 2 };
    expect(s.q.read(fake, new Uint8Array(4))).toBe(0);
    expect(s.q.write(fake, new Uint8Array(4))).toBe(0);
    s.q.addUsed(0, 1);
    expect(s.q.publishUsed()).toBe(false);
    s.q.setKickSuppression(true);
    s.q.unpop(1);
    expect(s.q.lastAvail).toBe(last);
    expect(s.q.validateLayout()).toBe(false);
    expect(s.ring.bytes(s.mem.gpa(s.ring.usedOff), 4 + 8 * s.ring.size)).toEqual(used);
    expect(s.trace.count).toBe(events);
    expect(s.breaches).toHaveLength(1);
  }

  it("a bad chain is named by its clause through pop", () => {
    const d = (addr: number | bigint, len: number, flags: number, next = 0): MockDesc => ({ addr, len, flags, next });
    // [clause, INDIRECT_DESC negotiated, descriptors 0.., indirect table at g]
    const cases: [ClauseId, boolean, (g: number) => MockDesc[], ((g: number) => MockDesc[])?][] = [
      ["SPLIT-DRV-06", false, (g) => [d(g, 1, NEXT, 1), d(g, 1, NEXT, 0)]],
      ["DERIVED-SPLIT-IDX", false, (g) => [d(g, 1, NEXT, 8)]],
      ["FRAME-DRV-01", false, (g) => [d(g, 1, NEXT | WRITE, 1), d(g, 1, 0)]],
      ["DERIVED-MEM", false, () => [d(2n ** 53n + BigInt(DEFAULT_RAM_BASE), 1, 0)]],
      ["SPLIT-DRV-04", false, (g) => [d(g, 16, INDIRECT)]],
      ["SPLIT-DRV-07", true, (g) => [d(g, 16, INDIRECT | NEXT, 1), d(g, 1, 0)]],
      ["SPLIT-DRV-05", true, (g) => [d(g, 16, INDIRECT)], (g) => [d(g, 16, INDIRECT)]],
    ];
    for (const [clause, indirect, descs, table] of cases) {
      const s = setup(8, { indirect });
      const g = s.ring.alloc(64);
      descs(g).forEach((x, i) => s.ring.writeDesc(i, x));
      if (table) s.ring.writeTable(g, table(g));
      s.ring.publish(0);
      expect(s.q.pop(), clause).toBeNull();
      expectBroken(s, clause);
    }
  });

  it("a head at or above QueueSize in the avail ring (DERIVED-SPLIT-IDX)", () => {
    const s = setup(8);
    s.ring.publish(8);
    expect(s.q.pop()).toBeNull();
    expect(s.breaches[0].detail).toBe("queue 1: head 8 >= QueueSize 8");
    expectBroken(s, "DERIVED-SPLIT-IDX");
  });

  it("avail.idx jumping more than QueueSize ahead, or moving back (SPLIT-DRV-09)", () => {
    const jump = setup(8);
    jump.ring.setAvailIdx(8);
    expect(jump.q.pending()).toBe(8); // exactly QueueSize is fine
    jump.ring.setAvailIdx(9);
    expect(jump.q.pending()).toBe(0);
    expectBroken(jump, "SPLIT-DRV-09");

    const back = setup(8);
    const g = back.ring.alloc(4);
    cycle(back, 3, g);
    back.ring.publishMany([0, 1, 2].map(() => back.ring.addChain([{ gpa: g, len: 4, write: true }])));
    expect(back.q.pending()).toBe(3);
    back.ring.setAvailIdx(5);
    expect(back.q.pending()).toBe(0);
    expect(back.breaches[0].detail).toBe("queue 1: avail.idx moved from 6 to 5 (last_avail_idx 3, QueueSize 8)");
    expectBroken(back, "SPLIT-DRV-09");

    const wrapBack = setup(8);
    wrapBack.ring.setAvailIdx(0xffff); // 65535 ahead of 0
    expect(wrapBack.q.pop()).toBeNull();
    expectBroken(wrapBack, "SPLIT-DRV-09");
  });

  it("misaligned or out-of-RAM rings (SPLIT-DRV-01, DERIVED-MEM)", () => {
    const base = setup(8).ring;
    const cases: [Partial<SplitQueueConfig>, ClauseId][] = [
      [{ descAddr: base.descAddr + 8 }, "SPLIT-DRV-01"],
      [{ driverAddr: base.driverAddr + 1 }, "SPLIT-DRV-01"],
      [{ deviceAddr: base.deviceAddr + 2 }, "SPLIT-DRV-01"],
      [{ descAddr: base.mem.ramBase - 4096 }, "DERIVED-MEM"],
      [{ driverAddr: base.mem.gpa(base.mem.size - 20) }, "DERIVED-MEM"], // used_event past the end (22 bytes)
      [{ deviceAddr: base.mem.gpa(base.mem.size - 68) }, "DERIVED-MEM"], // avail_event past the end (70 bytes)
      [{ deviceAddr: 2 ** 64 }, "DERIVED-MEM"],
    ];
    for (const [cfg, clause] of cases) {
      const s = setup(8, {}, cfg);
      expect(s.q.validateLayout(), JSON.stringify(cfg)).toBe(false);
      expectBroken(s, clause);
    }
    // A ring ending exactly at the end of RAM is fine; pop runs the check on first use too.
    const edge = setup(8, {}, { driverAddr: base.mem.gpa(base.mem.size - (6 + 2 * 8)) });
    expect(edge.q.validateLayout()).toBe(true);
    const lazy = setup(8, {}, { driverAddr: base.driverAddr + 1 });
    expect(lazy.q.pop()).toBeNull();
    expectBroken(lazy, "SPLIT-DRV-01");
  });

  it("refuses a QueueSize that is not a power of 2 in 1..32768 (a host bug, not a breach)", () => {
    for (const size of [0, 3, 65536, 1.5]) expect(() => setup(8, {}, { size })).toThrow(RangeError);
  });
});

describe("DeviceSplitQueue: any ring contents", () => {
  it("never throws on garbage descriptors and avail ring, and either yields chains inside RAM or records one breach", () => {
    const SIZE = 16;
    const mem = new GuestMemory({ pages: 1, ramBase: 0x1_0000 });
    const TABLE = mem.gpa(0x8000); // a garbage indirect table the descriptors may point to
    // Mostly plausible values (so chains get popped, read and written), some pure garbage.
    // Small numbers are taken modulo the drawn QueueSize (+1, to reach just out of range).
    const g = BigInt(mem.ramBase);
    const addrArb = fc.oneof(
      { arbitrary: fc.integer({ min: 0x1000, max: 0x7f00 }).map((o) => g + BigInt(o)), weight: 6 },
      { arbitrary: fc.integer({ min: -64, max: mem.size + 64 }).map((o) => g + BigInt(o)), weight: 2 },
      { arbitrary: fc.constantFrom(BigInt(TABLE), BigInt(TABLE + 16), 2n ** 53n + g, 2n ** 32n + g), weight: 2 },
      { arbitrary: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), weight: 1 },
    );
    const small = (max: number) =>
      fc.oneof({ arbitrary: fc.integer({ min: 0, max }), weight: 8 }, { arbitrary: fc.nat({ max: 0xffff }), weight: 1 });
    const descArb = fc.record({
      addr: addrArb,
      len: fc.oneof(
        { arbitrary: fc.integer({ min: 0, max: 80 }), weight: 6 },
        { arbitrary: fc.constantFrom(16, 32, 48, 128, 20), weight: 2 },
        { arbitrary: fc.nat({ max: 0xffff_ffff }), weight: 1 },
      ),
      flags: fc.oneof(
        { arbitrary: fc.constantFrom(0, NEXT, WRITE, NEXT | WRITE), weight: 6 },
        { arbitrary: fc.integer({ min: 0, max: 7 }), weight: 2 },
        { arbitrary: fc.nat({ max: 0xffff }), weight: 1 },
      ),
      next: small(SIZE),
    });
    const arb = fc.record({
      size: fc.constantFrom(1, 2, 4, 8, 16),
      indirect: fc.boolean(),
      eventIdx: fc.boolean(),
      descs: fc.array(descArb, { minLength: SIZE, maxLength: SIZE }),
      table: fc.array(descArb, { minLength: 8, maxLength: 8 }),
      ring: fc.array(small(SIZE), { minLength: SIZE + 3, maxLength: SIZE + 3 }),
      availFlags: small(1),
      availIdx: small(SIZE),
      suppress: fc.boolean(),
    });
    fc.assert(
      fc.property(arb, (a) => {
        const fit = (v: number, n: number) => (v <= SIZE ? v % n : v);
        mem.u8.fill(0);
        const ring = new MockSplitRing(mem, 0, a.size, { indirect: a.indirect, eventIdx: a.eventIdx });
        a.descs.slice(0, a.size).forEach((d, i) => ring.writeDesc(i, { ...d, next: fit(d.next, a.size + 1) }));
        ring.writeTable(TABLE, a.table.map((d) => ({ ...d, next: fit(d.next, 9) })));
        for (let i = 0; i < a.size; i++) ring.setAvailRing(i, fit(a.ring[i], a.size + 1));
        ring.setUsedEvent(a.ring[SIZE + 2]);
        ring.setAvailFlags(a.availFlags);
        ring.setAvailIdx(fit(a.availIdx, a.size + 1));
        const before = mem.u8.slice();
        const breaches: ClauseId[] = [];
        const q = new DeviceSplitQueue(mem, ring.config(0), (c) => breaches.push(c), new Trace(), new Clock(), "net0");
        const allowed: [number, number][] = [[ring.usedOff, ring.dataOff]];
        const dst = new Uint8Array(96);
        const src = new Uint8Array(96).fill(0x5a); // memory starts zeroed: any write shows
        q.setKickSuppression(a.suppress);
        for (let i = 0; i < 2 * a.size + 2; i++) {
          const c = q.pop();
          if (c === null) break;
          expect(c.descCount).toBeLessThanOrEqual(a.size);
          let sum = 0;
          for (const b of [...c.readable, ...c.writable]) {
            expect(mem.check(b.gpa, b.len)).toBe(b.off);
            sum += b.len;
          }
          expect(sum).toBe(c.readableLen + c.writableLen);
          expect(sum).toBeLessThan(2 ** 32);
          for (const b of c.writable) allowed.push([b.off, b.off + b.len]);
          expect(q.read(c, dst, i)).toBe(Math.max(0, Math.min(96, c.readableLen - i)));
          expect(q.write(c, src, i)).toBe(Math.max(0, Math.min(96, c.writableLen - i)));
          q.addUsed(c.head, c.writableLen);
          q.publishUsed();
        }
        q.publishUsed();
        expect(breaches.length).toBeLessThanOrEqual(1);
        expect(q.broken).toBe(breaches.length === 1);
        // The device wrote nothing but writable buffers and its own used ring (SPLIT-DEV-01/04).
        for (let o = 0; o < mem.size; o++) {
          if (mem.u8[o] !== before[o] && !allowed.some(([lo, hi]) => o >= lo && o < hi)) {
            throw new Error(`device wrote byte ${o} outside writable buffers and the used ring`);
          }
        }
      }),
      { seed: 42, numRuns: 200 },
    );
  });
});
