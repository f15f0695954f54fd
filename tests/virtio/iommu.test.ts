// DMA windows (host/virtio/iommu.ts): with an IOMMU the device side of a split queue reaches only
// what was mapped, with the mapped permission; anything else is blocked, recorded, and untouched.
import { describe, expect, it } from "vitest";
import { VIRTQ_DESC_F } from "../../host/gen/constants.js";
import { GuestMemory } from "../../host/guest/memory.js";
import { Trace } from "../../host/report/trace.js";
import { Clock } from "../../host/sim/clock.js";
import { Iommu, IOVA_BASE } from "../../host/virtio/iommu.js";
import { DeviceSplitQueue } from "../../host/virtio/split-queue.js";

const RAM = 0x4000_0000;
const N = 8;

/** Rings at 0x1000/0x2000/0x3000, buffers at 0x8000 (readable) and 0x9000 (writable), all mapped unless told. */
function setup(perms: { ring?: "r" | "w" | "rw"; used?: "r" | "w" | "rw"; rbuf?: "r" | "w" | "rw"; wbuf?: "r" | "w" | "rw" } = {}) {
  const mem = new GuestMemory({ pages: 1, ramBase: RAM });
  const iommu = new Iommu();
  mem.iommu = iommu;
  const desc = iommu.map(RAM + 0x1000, 16 * N, perms.ring ?? "r");
  const avail = iommu.map(RAM + 0x2000, 6 + 2 * N, perms.ring ?? "r");
  const used = iommu.map(RAM + 0x3000, 6 + 8 * N, perms.used ?? "w");
  const rbuf = iommu.map(RAM + 0x8000, 256, perms.rbuf ?? "r");
  const wbuf = iommu.map(RAM + 0x9000, 256, perms.wbuf ?? "w");
  const breaches: string[] = [];
  const q = new DeviceSplitQueue(mem, { index: 0, size: N, descAddr: desc, driverAddr: avail, deviceAddr: used, eventIdx: false, indirect: false }, (c) => void breaches.push(c), new Trace(), new Clock(), "t");
  // The driver's view: descriptors carry IOVAs; it writes its rings through its own (physical) addresses.
  const writeDesc = (i: number, addr: number, len: number, flags: number, next = 0) => {
    const o = 0x1000 + 16 * i;
    mem.w64(o, addr);
    mem.w32(o + 8, len);
    mem.w16(o + 12, flags);
    mem.w16(o + 14, next);
  };
  const publish = (head: number, idx: number) => {
    mem.w16(0x2000 + 4 + 2 * ((idx - 1) % N), head);
    mem.w16(0x2000 + 2, idx);
  };
  return { mem, iommu, q, breaches, writeDesc, publish, rbuf, wbuf };
}

describe("DMA windows", () => {
  it("gives IOVAs outside RAM and lets the device use exactly what was mapped", () => {
    const s = setup();
    expect(s.rbuf).toBeGreaterThanOrEqual(IOVA_BASE);
    s.mem.u8.fill(7, 0x8000, 0x8000 + 64);
    s.writeDesc(0, s.rbuf, 64, VIRTQ_DESC_F.NEXT, 1);
    s.writeDesc(1, s.wbuf, 64, VIRTQ_DESC_F.WRITE);
    s.publish(0, 1);
    const c = s.q.pop()!;
    const got = new Uint8Array(64);
    expect(s.q.read(c, got)).toBe(64);
    expect(got).toEqual(new Uint8Array(64).fill(7));
    expect(s.q.write(c, new Uint8Array(10).fill(9))).toBe(10);
    expect([...s.mem.u8.subarray(0x9000, 0x900a)]).toEqual(new Array(10).fill(9)); // landed at the window's GPA
    s.q.addUsed(c.head, 10);
    s.q.publishUsed();
    expect(s.mem.r16(0x3000 + 2)).toBe(1);
    expect(s.iommu.blocked).toEqual([]);
    expect(s.breaches).toEqual([]);
  });

  it("blocks a buffer given by guest-physical address (no window holds it), records it, touches nothing", () => {
    const s = setup();
    const before = s.mem.u8.slice();
    s.writeDesc(0, RAM + 0x9000, 64, VIRTQ_DESC_F.WRITE); // a GPA, not an IOVA
    s.publish(0, 1);
    const snapshot = s.mem.u8.slice();
    expect(s.q.pop()).toBeNull();
    expect(s.iommu.blocked).toEqual([{ iova: RAM + 0x9000, len: 64, access: "w", reason: "no window holds it" }]);
    expect(s.breaches).toEqual(["DERIVED-MEM"]);
    expect(s.mem.u8).toEqual(snapshot);
    expect(before.length).toBe(snapshot.length);
  });

  it("blocks a write into a read-only window and a read of a write-only one", () => {
    const w = setup({ wbuf: "r" });
    w.writeDesc(0, w.wbuf, 64, VIRTQ_DESC_F.WRITE);
    w.publish(0, 1);
    expect(w.q.pop()).toBeNull();
    expect(w.iommu.blocked[0]!.reason).toMatch(/r-only/);
    const r = setup({ rbuf: "w" });
    r.writeDesc(0, r.rbuf, 64, 0);
    r.publish(0, 1);
    expect(r.q.pop()).toBeNull();
    expect(r.iommu.blocked[0]).toMatchObject({ access: "r" });
  });

  it("refuses a used ring the device may not write (the layout check at first use)", () => {
    const s = setup({ used: "r" });
    const snapshot = s.mem.u8.slice();
    expect(s.q.validateLayout()).toBe(false);
    expect(s.breaches).toEqual(["DERIVED-MEM"]);
    expect(s.iommu.blocked[0]).toMatchObject({ access: "w" });
    expect(s.mem.u8).toEqual(snapshot);
  });

  it("blocks an access that runs off the end of a window", () => {
    const s = setup();
    s.writeDesc(0, s.wbuf + 200, 64, VIRTQ_DESC_F.WRITE); // 256-byte window
    s.publish(0, 1);
    expect(s.q.pop()).toBeNull();
    expect(s.iommu.blocked).toHaveLength(1);
  });
});
