// Tests of the descriptor-chain walker: exact buffers of good chains, and the clause of each bad one.
import { describe, expect, it } from "vitest";
import { VIRTQ_DESC_F } from "../../host/gen/constants.js";
import { GuestMemory } from "../../host/guest/memory.js";
import { type Chain, type ChainBreach, isChainBreach, walkChain } from "../../host/virtio/chain.js";
import { MockSplitRing } from "../mock/mock-ring.js";

const { NEXT, WRITE, INDIRECT } = VIRTQ_DESC_F;

function setup(size = 8, indirect = false) {
  const mem = new GuestMemory({ pages: 16 });
  const ring = new MockSplitRing(mem, 0, size, { indirect });
  const walk = (head: number): Chain | ChainBreach => walkChain(mem, size, ring.descAddr, head, indirect);
  const ok = (head: number): Chain => {
    const r = walk(head);
    if (isChainBreach(r)) throw new Error(`unexpected breach ${r.clause}: ${r.detail}`);
    return r;
  };
  const bad = (head: number): ChainBreach => {
    const r = walk(head);
    if (!isChainBreach(r)) throw new Error(`expected a breach, got chain ${JSON.stringify(r)}`);
    return r;
  };
  return { mem, ring, walk, ok, bad };
}

describe("walkChain: good chains", () => {
  it("returns the exact buffers of a multi-descriptor chain, readable then writable", () => {
    const { mem, ring, ok } = setup();
    const a = ring.alloc(10);
    const b = ring.alloc(3);
    const c = ring.alloc(64);
    const d = ring.alloc(1500);
    const head = ring.addChain([
      { gpa: a, len: 10, write: false },
      { gpa: b, len: 3, write: false },
      { gpa: c, len: 64, write: true },
      { gpa: d, len: 1500, write: true },
    ]);
    const r = ok(head);
    const off = (g: number) => g - mem.ramBase;
    expect(r).toEqual({
      head,
      readable: [
        { gpa: a, off: off(a), len: 10 },
        { gpa: b, off: off(b), len: 3 },
      ],
      writable: [
        { gpa: c, off: off(c), len: 64 },
        { gpa: d, off: off(d), len: 1500 },
      ],
      readableLen: 13,
      writableLen: 1564,
      descCount: 4,
    });
  });

  it("follows next links in any order and accepts zero-length descriptors", () => {
    const { ring, ok } = setup();
    const g = ring.alloc(32);
    ring.writeDesc(5, { addr: g, len: 0, flags: NEXT, next: 2 });
    ring.writeDesc(2, { addr: g, len: 32, flags: NEXT | WRITE, next: 7 });
    ring.writeDesc(7, { addr: g, len: 0, flags: WRITE, next: 5 }); // next ignored without NEXT
    const r = ok(5);
    expect(r.readable.map((x) => x.len)).toEqual([0]);
    expect(r.writable.map((x) => x.len)).toEqual([32, 0]);
    expect(r.descCount).toBe(3);
  });

  it("accepts a chain of exactly QueueSize descriptors", () => {
    const { ring, ok } = setup(8);
    const g = ring.alloc(8);
    const head = ring.addChain(Array.from({ length: 8 }, (_, i) => ({ gpa: g + i, len: 1, write: i >= 4 })));
    expect(ok(head)).toMatchObject({ readableLen: 4, writableLen: 4, descCount: 8 });
  });

  it("walks direct descriptors then an indirect table, ignoring WRITE on the table descriptor (SPLIT-DEV-05)", () => {
    const { mem, ring, ok } = setup(8, true);
    const hdr = ring.alloc(12);
    const x = ring.alloc(100);
    const y = ring.alloc(200);
    const table = ring.alloc(32);
    ring.writeTable(table, [
      { addr: x, len: 100, flags: NEXT, next: 1 },
      { addr: y, len: 200, flags: WRITE, next: 0 },
    ]);
    ring.writeDesc(3, { addr: hdr, len: 12, flags: NEXT, next: 4 });
    ring.writeDesc(4, { addr: table, len: 32, flags: INDIRECT | WRITE, next: 0 });
    const r = ok(3);
    expect(r.readable).toEqual([
      { gpa: hdr, off: hdr - mem.ramBase, len: 12 },
      { gpa: x, off: x - mem.ramBase, len: 100 },
    ]);
    expect(r.writable).toEqual([{ gpa: y, off: y - mem.ramBase, len: 200 }]);
    expect(r.descCount).toBe(3);
  });

  it("accepts a total length of 2^32 - 1 and refuses 2^32 (SPLIT-DRV-02)", () => {
    const { mem, ring, ok, bad } = setup(4096);
    const all = mem.gpa(0);
    const n = mem.size; // 2^20: 4096 of them make 2^32
    for (let i = 0; i < 4096; i++) {
      ring.writeDesc(i, { addr: all, len: i === 4095 ? n - 1 : n, flags: i < 4095 ? NEXT : 0, next: i + 1 });
    }
    expect(ok(0).readableLen).toBe(2 ** 32 - 1);
    ring.writeDesc(4095, { addr: all, len: n, flags: WRITE, next: 0 });
    expect(bad(0).clause).toBe("SPLIT-DRV-02");
  });
});

describe("walkChain: breaches, each with its clause", () => {
  it("head at or above QueueSize (DERIVED-SPLIT-IDX)", () => {
    const { bad } = setup(8);
    expect(bad(8)).toEqual({ clause: "DERIVED-SPLIT-IDX", detail: "head 8 >= QueueSize 8" });
    expect(bad(0xffff).clause).toBe("DERIVED-SPLIT-IDX");
  });

  it("next at or above QueueSize (DERIVED-SPLIT-IDX)", () => {
    const { ring, bad } = setup(8);
    const g = ring.alloc(4);
    ring.writeDesc(0, { addr: g, len: 4, flags: NEXT, next: 1 });
    ring.writeDesc(1, { addr: g, len: 4, flags: NEXT, next: 8 });
    expect(bad(0)).toEqual({ clause: "DERIVED-SPLIT-IDX", detail: "descriptor 1 of head 0: next 8 >= QueueSize 8" });
  });

  it("a loop, including a self-loop, is a chain longer than QueueSize (SPLIT-DRV-06)", () => {
    const { ring, bad } = setup(8);
    const g = ring.alloc(4);
    ring.writeDesc(0, { addr: g, len: 4, flags: NEXT, next: 1 });
    ring.writeDesc(1, { addr: g, len: 4, flags: NEXT, next: 2 });
    ring.writeDesc(2, { addr: g, len: 4, flags: NEXT, next: 0 });
    ring.writeDesc(6, { addr: g, len: 4, flags: NEXT | WRITE, next: 6 });
    expect(bad(0).clause).toBe("SPLIT-DRV-06");
    expect(bad(1).clause).toBe("SPLIT-DRV-06");
    expect(bad(6).clause).toBe("SPLIT-DRV-06");
  });

  it("direct plus indirect descriptors above QueueSize (SPLIT-DRV-06)", () => {
    const { ring, bad } = setup(8, true);
    const g = ring.alloc(4);
    const table = ring.alloc(16 * 8);
    ring.writeTable(table, Array.from({ length: 8 }, (_, i) => ({ addr: g, len: 4, flags: i < 7 ? NEXT : 0, next: i + 1 })));
    ring.writeDesc(0, { addr: g, len: 4, flags: NEXT, next: 1 });
    ring.writeDesc(1, { addr: table, len: 16 * 8, flags: INDIRECT, next: 0 });
    expect(bad(0).clause).toBe("SPLIT-DRV-06");
    // The table alone (8 entries) is within QueueSize 8.
    expect(isChainBreach(walkChain(ring.mem, 8, ring.descAddr, 1, true))).toBe(false);
  });

  it("a device-readable descriptor after a device-writable one (FRAME-DRV-01), direct or in a table", () => {
    const { ring, bad } = setup(8, true);
    const g = ring.alloc(4);
    const head = ring.addChain([
      { gpa: g, len: 4, write: false },
      { gpa: g, len: 4, write: true },
      { gpa: g, len: 4, write: false },
    ]);
    expect(bad(head).clause).toBe("FRAME-DRV-01");
    const table = ring.alloc(32);
    ring.writeTable(table, [
      { addr: g, len: 4, flags: NEXT, next: 1 },
      { addr: g, len: 4, flags: 0, next: 0 },
    ]);
    ring.writeDesc(6, { addr: g, len: 4, flags: NEXT | WRITE, next: 7 });
    ring.writeDesc(7, { addr: table, len: 32, flags: INDIRECT, next: 0 });
    expect(bad(6).clause).toBe("FRAME-DRV-01");
  });

  it("buffers outside RAM, 64-bit addresses included (DERIVED-MEM)", () => {
    const { mem, ring, bad } = setup(8);
    const base = BigInt(mem.ramBase);
    const cases: (number | bigint)[] = [
      mem.ramBase - 16, // below RAM
      mem.gpa(mem.size - 8), // runs past the end (len 16)
      0,
      2 ** 32 + mem.ramBase, // a u32 truncation would land in RAM
      2n ** 53n + base, // not a safe integer; low bits in RAM
      2n ** 63n + base,
      2n ** 64n - 16n,
    ];
    for (const addr of cases) {
      ring.writeDesc(0, { addr, len: 16, flags: 0, next: 0 });
      const r = bad(0);
      expect(r.clause, String(addr)).toBe("DERIVED-MEM");
      expect(r.detail).toContain(`0x${BigInt(addr).toString(16)}`);
    }
    // A huge length from a good address, and a buffer ending exactly at the end of RAM is fine.
    ring.writeDesc(0, { addr: mem.gpa(0), len: 0xffff_ffff, flags: 0, next: 0 });
    expect(bad(0).clause).toBe("DERIVED-MEM");
    ring.writeDesc(0, { addr: mem.gpa(mem.size - 16), len: 16, flags: 0, next: 0 });
    expect(isChainBreach(walkChain(mem, 8, ring.descAddr, 0, false))).toBe(false);
  });

  it("a descriptor table outside RAM (DERIVED-MEM)", () => {
    const mem = new GuestMemory({ pages: 1 });
    expect(walkChain(mem, 256, mem.gpa(mem.size - 16 * 128), 0, false)).toMatchObject({ clause: "DERIVED-MEM" });
    expect(walkChain(mem, 8, 2 ** 60, 0, false)).toMatchObject({ clause: "DERIVED-MEM" });
  });

  it("INDIRECT without VIRTIO_F_INDIRECT_DESC (SPLIT-DRV-04)", () => {
    const { ring, bad } = setup(8, false);
    const table = ring.alloc(16);
    ring.writeTable(table, [{ addr: table, len: 16, flags: 0, next: 0 }]);
    ring.writeDesc(0, { addr: table, len: 16, flags: INDIRECT, next: 0 });
    expect(bad(0).clause).toBe("SPLIT-DRV-04");
  });

  it("INDIRECT inside an indirect table (SPLIT-DRV-05)", () => {
    const { ring, bad } = setup(8, true);
    const table = ring.alloc(32);
    ring.writeTable(table, [
      { addr: table, len: 16, flags: NEXT, next: 1 },
      { addr: table, len: 32, flags: INDIRECT, next: 0 },
    ]);
    ring.writeDesc(0, { addr: table, len: 32, flags: INDIRECT, next: 0 });
    expect(bad(0).clause).toBe("SPLIT-DRV-05");
  });

  it("INDIRECT together with NEXT (SPLIT-DRV-07)", () => {
    const { ring, bad } = setup(8, true);
    const table = ring.alloc(16);
    ring.writeTable(table, [{ addr: table, len: 16, flags: 0, next: 0 }]);
    ring.writeDesc(0, { addr: table, len: 16, flags: INDIRECT | NEXT, next: 1 });
    ring.writeDesc(1, { addr: table, len: 16, flags: 0, next: 0 });
    expect(bad(0).clause).toBe("SPLIT-DRV-07");
  });

  it("indirect tables: bad len, outside RAM, next beyond the table, a loop inside", () => {
    const { mem, ring, bad } = setup(16, true);
    const g = ring.alloc(8);
    const table = ring.alloc(64);
    for (const len of [0, 8, 20, 47]) {
      ring.writeDesc(0, { addr: table, len, flags: INDIRECT, next: 0 });
      expect(bad(0).clause, `len ${len}`).toBe("DERIVED-SPLIT-IDX");
    }
    ring.writeDesc(0, { addr: mem.gpa(mem.size - 32), len: 48, flags: INDIRECT, next: 0 });
    expect(bad(0).clause).toBe("DERIVED-MEM");
    ring.writeDesc(0, { addr: 2n ** 64n - 64n, len: 64, flags: INDIRECT, next: 0 });
    expect(bad(0).clause).toBe("DERIVED-MEM");

    // Entries are bounded by len/16, not by what follows the table in memory.
    ring.writeTable(table, [
      { addr: g, len: 8, flags: NEXT, next: 1 },
      { addr: g, len: 8, flags: NEXT, next: 2 },
      { addr: g, len: 8, flags: 0, next: 0 },
    ]);
    ring.writeDesc(0, { addr: table, len: 32, flags: INDIRECT, next: 0 });
    expect(bad(0)).toEqual({
      clause: "DERIVED-SPLIT-IDX",
      detail: "indirect entry 1 of head 0: next 2 >= indirect table entries 2",
    });
    ring.writeDesc(0, { addr: table, len: 48, flags: INDIRECT, next: 0 });
    expect(isChainBreach(walkChain(mem, 16, ring.descAddr, 0, true))).toBe(false);

    ring.writeTable(table, [
      { addr: g, len: 8, flags: NEXT, next: 1 },
      { addr: g, len: 8, flags: NEXT, next: 0 },
    ]);
    ring.writeDesc(0, { addr: table, len: 32, flags: INDIRECT, next: 0 });
    expect(bad(0).clause).toBe("SPLIT-DRV-06");
  });
});
