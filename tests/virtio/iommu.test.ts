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

// ---- DMA windows with a machine: the project's driver maps its windows (hal.dma_map, ABI 2) ----
// RSVD-DEV-03: with an IOMMU the device offers ACCESS_PLATFORM; RSVD-DRV-03/04: the driver accepts
// it and hands the device only IOVAs of windows it mapped.

import { readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ABI, ABI_ERRNO, F, HAL_DMA, LOG, STATUS } from "../../host/gen/constants.js";
import { DRIVER_EXPORTS, DriverPanic, loadDriver, type HalHandlers } from "../../host/guest/driver.js";
import wabtInit from "wabt";
import { Machine } from "../../host/machine.js";
import { runConformance } from "../../host/conformance/scenario.js";
import { PROJECT_ROOT } from "../../host/paths.js";
import { loadProfile, parseProfileFile, readProfileFile, resolveProfile } from "../../host/sim/profiles.js";
import { has } from "../../host/virtio/features.js";

/** A frame with a recognisable payload: broadcast destination, seeded bytes. */
function frame(i: number, len: number): Uint8Array {
  const f = new Uint8Array(len);
  f.fill(0xff, 0, 6);
  f.set([0x52, 0x54, 0, 0, 0, i & 0xff], 6);
  f[12] = 0x08;
  for (let k = 14; k < len; k++) f[k] = (k * 31 + i * 7) & 0xff;
  return f;
}

async function loop(m: Machine, n: number): Promise<Uint8Array[]> {
  const got: Uint8Array[] = [];
  m.onFrame = (_d, b) => void got.push(b);
  for (let i = 0; i < n; i++) {
    expect(m.transmit(frame(i, 60 + ((i * 97) % 1455)))).toBe(0);
    m.runUntil(m.clock.now + 30_000);
  }
  m.runUntil(m.clock.now + 5_000_000);
  return got;
}

describe("DMA windows with the project's driver (--iommu)", () => {
  for (const [profile, transport] of [["qemu-virt", "mmio"], ["qemu-kvm", "pci"]] as const) {
    it(`runs clean with windows on (${profile}, ${transport}): loopback byte-exact, 0 violations, 0 blocked`, async () => {
      const m = await Machine.create({ profile: { ...loadProfile(profile, { transport }), iommu: true }, record: true });
      expect(has(m.net.deviceFeatures, F.ACCESS_PLATFORM)).toBe(true); // RSVD-DEV-03
      expect(m.attach()).toBe(0);
      expect(has(m.transport.negotiatedFeatures, F.ACCESS_PLATFORM)).toBe(true); // RSVD-DRV-03
      expect(m.mem.iommu).toBe(m.iommu);
      const iommu = m.iommu!;
      expect(iommu.windows.map((w) => w.perm)).toEqual(["r", "r", "w", "r", "r", "w", "w", "r"]);
      for (const w of iommu.windows) expect(w.iova).toBeGreaterThanOrEqual(m.mem.ramBase + m.mem.size);
      for (const w of iommu.windows) expect(w.iova).toBeLessThan(2 ** 32);
      const n = 200;
      const got = await loop(m, n);
      expect(got.length).toBe(n);
      got.forEach((b, i) => expect(b).toEqual(frame(i, 60 + ((i * 97) % 1455))));
      expect(iommu.blocked).toEqual([]);
      expect(m.transport.violations).toEqual([]);
      // Descriptors carry IOVAs: every addr of the rx table lies in the rx buffer window.
      const rx = m.driver.mem_base();
      const bufs = iommu.windows[6]!;
      const a = m.mem.r64(rx);
      expect(a).toBeGreaterThanOrEqual(bufs.iova);
      expect(a).toBeLessThan(bufs.iova + bufs.len);
      // A re-initialization (watchdog path) reuses the windows; so does a detach and re-attach.
      expect(m.entry("detach", () => m.driver.detach(0), -1)).toBe(0);
      expect(m.attach()).toBe(0);
      expect(iommu.windows.length).toBe(8);
      expect((await loop(m, 20)).length).toBe(20);
      expect(iommu.blocked).toEqual([]);
      expect(m.transport.violations).toEqual([]);
      expect(m.trace.events!.filter((e) => e.k === "dma.map").length).toBe(8);
    });
  }

  it("conform --iommu: the project's driver passes with RSVD-DRV-03 and RSVD-DRV-04 held", async () => {
    const { report } = await runConformance({ profile: { ...loadProfile("qemu-virt", { transport: "mmio" }), iommu: true }, transport: "mmio" });
    expect(report.pass).toBe(true);
    expect(report.roots).toEqual([]);
    const st = (id: string) => report.clauses.find((c) => c.clause === id)?.status;
    expect(st("RSVD-DRV-03")).toBe("held");
    expect(st("RSVD-DRV-04")).toBe("held");
    expect(report.notes).toEqual(expect.arrayContaining(["traffic: 64 frames sent, 64 received back", "traffic after re-attach: 64 frames sent, 64 received back"]));
  });

  it("blocks a descriptor holding a raw gpa (a driver that skips its windows): recorded as RSVD-DRV-04, nothing touched", async () => {
    const m = await Machine.create({ iommu: true, record: true });
    expect(m.attach()).toBe(0);
    const iommu = m.iommu!;
    // Rewrite every rx descriptor's addr from its IOVA to the gpa behind it.
    const table = m.driver.mem_base();
    for (let d = 0; d < 256; d++) {
      const iova = m.mem.r64(table + 16 * d);
      if (iova === 0) continue;
      m.mem.w64(table + 16 * d, iommu.resolve(iova, 1));
    }
    const rxArea = [table + 0x20000, table + 0x20000 + 0x80000] as const;
    const before = m.mem.u8.slice(rxArea[0], rxArea[1]);
    let got = 0;
    m.onFrame = () => void got++;
    expect(m.transmit(frame(1, 200))).toBe(0);
    m.runUntil(m.clock.now + 5_000_000);
    expect(got).toBe(0);
    expect(iommu.blocked.length).toBeGreaterThanOrEqual(1);
    expect(iommu.blocked[0]).toMatchObject({ iova: m.mem.ramBase + table + 0x20000 + 0, access: "w", reason: "no window holds it" });
    const clauses = m.transport.violations.map((v) => v.clause);
    expect(clauses[0]).toBe("RSVD-DRV-04");
    expect(clauses).toContain("DERIVED-MEM");
    expect(m.trace.events!.some((e) => e.k === "dma.blocked")).toBe(true);
    expect(m.mem.u8.slice(rxArea[0], rxArea[1])).toEqual(before); // the frame landed nowhere
  });

  it("hal.dma_map: identity without an IOMMU, FAILED for a bad range or perm", async () => {
    const plain = await Machine.create({});
    const gpa = plain.mem.ramBase + 0x1000;
    expect(plain.halDmaMap(gpa, 64, HAL_DMA.READ)).toBe(gpa);
    expect(has(plain.net.deviceFeatures, F.ACCESS_PLATFORM)).toBe(false);
    const m = await Machine.create({ iommu: true });
    expect(m.halDmaMap(gpa, 0, HAL_DMA.READ)).toBe(HAL_DMA.FAILED);
    expect(m.halDmaMap(gpa, 64, 0)).toBe(HAL_DMA.FAILED);
    expect(m.halDmaMap(gpa, 64, 4)).toBe(HAL_DMA.FAILED);
    expect(m.halDmaMap(m.mem.ramBase + m.mem.size - 8, 64, HAL_DMA.WRITE)).toBe(HAL_DMA.FAILED);
    expect(m.halDmaMap(0x1000, 64, HAL_DMA.WRITE)).toBe(HAL_DMA.FAILED);
    const iova = m.halDmaMap(gpa, 64, HAL_DMA.READ | HAL_DMA.WRITE);
    expect(iova).toBeGreaterThanOrEqual(0x8000_0000);
    expect(m.iommu!.windows).toEqual([{ iova, gpa, len: 64, perm: "rw" }]);
  });

  it("fails attach cleanly when a window is refused: -ENOMEM, FAILED, DMA_MAP_FAILED logged", async () => {
    const m = await Machine.create({ iommu: true, record: true });
    let calls = 0;
    m.iommu!.map = () => {
      if (++calls === 3) throw new RangeError("full");
      return 0x9000_0000 + calls * 0x10_0000;
    };
    expect(m.attach()).toBe(-ABI_ERRNO.ENOMEM);
    expect(m.dead).toBeUndefined();
    const statuses = m.trace.events!.filter((e) => e.k === "status").map((e) => e.to as number);
    expect(statuses.at(-1)! & STATUS.FAILED).toBe(STATUS.FAILED);
    expect(m.trace.events!.some((e) => e.k === "log" && e.code === LOG.DMA_MAP_FAILED)).toBe(true);
    expect(m.transport.violations).toEqual([]);
  });

  it("loads a module that does not import dma_map (an ABI 1 module) and binds dma_map for one that does", async () => {
    const wabt = await wabtInit();
    const exportsWat = Object.entries(DRIVER_EXPORTS)
      .map(([n, sig]) => {
        const [p, r] = sig.split("->").map((x) => x.trim());
        return `(func (export "${n}") ${p ? `(param ${p})` : ""} ${r ? `(result ${r}) (${r}.const 1)` : ""})`;
      })
      .join("\n");
    const build = (text: string) => {
      const mod = wabt.parseWat("t.wat", text);
      try {
        return mod.toBinary({}).buffer;
      } finally {
        mod.destroy();
      }
    };
    const hal: HalHandlers = {
      mmioRead: () => 0, mmioWrite: () => {}, ioIn: () => 0, ioOut: () => {}, barrier: () => {},
      irqSave: () => 0, irqRestore: () => {}, eoi: () => {}, nowNs: () => 0n, netInput: () => {},
      linkChanged: () => {}, log: () => {},
      panic: (c) => {
        throw new DriverPanic(c);
      },
    };
    const old = await loadDriver(build(`(module (import "hal" "log" (func (param i32 i32 i32 i32))) (memory (export "memory") 1 1) ${exportsWat})`), hal);
    expect(old.attach(0, 0, 0, 0)).toBe(1);
    // A module importing dma_map against a host without dmaMap: the identity.
    const withMap = await loadDriver(build(`(module (import "hal" "dma_map" (func $m (param i32 i32 i32) (result i32))) (memory (export "memory") 1 1)
      (func (export "probe") (param i32) (result i32) (call $m (local.get 0) (i32.const 64) (i32.const 1))) ${exportsWat})`), hal);
    const probe = withMap.instance.exports.probe as (g: number) => number;
    expect(probe(0x4000_1000) >>> 0).toBe(0x4000_1000);
    expect(ABI.VERSION).toBe(2);
  });

  it.skipIf(spawnSync("sh", ["-c", "command -v clang && command -v wasm-ld"]).status !== 0)("runs the C example driver (no dma_map import) with and without --iommu (skipped when clang or wasm-ld is absent)", async () => {
    const out = join(mkdtempSync(join(tmpdir(), "virtio-rt-dma-")), "c");
    const b = spawnSync("sh", [join(PROJECT_ROOT, "tests/fixtures/c-driver/build.sh"), out], { encoding: "utf8" });
    expect(b.status, b.stderr).toBe(0);
    const bytes = readFileSync(join(out, "driver.wasm"));
    const imports = WebAssembly.Module.imports(new WebAssembly.Module(bytes)).map((i) => i.name);
    expect(imports).not.toContain("dma_map");
    for (const iommu of [false, true]) {
      const { report, machine } = await runConformance({ driver: bytes, profile: { ...loadProfile("qemu-virt", { transport: "mmio" }), iommu }, transport: "mmio" });
      expect(report.pass, `iommu ${iommu}`).toBe(true);
      expect(report.notes).toEqual(expect.arrayContaining(["traffic: 64 frames sent, 64 received back"]));
      // It does not accept ACCESS_PLATFORM: the device uses physical addresses (RSVD-DRV-05), nothing blocked.
      expect(has(machine.transport.negotiatedFeatures, F.ACCESS_PLATFORM)).toBe(false);
      expect(machine.iommu?.blocked ?? []).toEqual([]);
      if (iommu) expect(report.clauses.find((c) => c.clause === "RSVD-DRV-03")?.status).toBe("violated"); // a SHOULD: warns
    }
  });

  it("the iommu option: a profile JSON field and --iommu on run and conform", () => {
    const f = readProfileFile("qemu-virt");
    expect(resolveProfile(f).iommu).toBeUndefined();
    const on = resolveProfile(parseProfileFile({ ...f, iommu: true }));
    expect(on.iommu).toBe(true);
    expect(() => parseProfileFile({ ...f, iommu: "yes" })).toThrow(/iommu/);
    const cli = (...args: string[]) => spawnSync(process.execPath, [join(PROJECT_ROOT, "dist/host/cli.js"), ...args], { encoding: "utf8" });
    const plain = JSON.parse(cli("run", "--frames", "50", "--json").stdout);
    const r = cli("run", "--frames", "50", "--iommu", "--json");
    expect(r.status, r.stderr).toBe(0);
    const win = JSON.parse(r.stdout);
    expect(win.framesReceived).toBe(50);
    expect(win.mismatches).toBe(0);
    expect(win.traceEvents).toBe(plain.traceEvents + 8); // the 8 dma.map calls
    const c = cli("conform", "--iommu", "--frames", "8", "--json");
    expect(c.status, c.stderr).toBe(0);
    const rep = JSON.parse(c.stdout);
    expect(rep.pass).toBe(true);
    expect(rep.clauses.find((x: { clause: string }) => x.clause === "RSVD-DRV-04").status).toBe("held");
  });
});
