// Tests of the virtio-mmio transport (4.2.2): register values, status, features, queues, notify,
// interrupts, reset, device breaches, and bad accesses recorded with their clause, never thrown.
import { describe, expect, it } from "vitest";
import { InterruptLine } from "../../host/bus/irq.js";
import { F, MMIO, STATUS } from "../../host/gen/constants.js";
import { GuestMemory } from "../../host/guest/memory.js";
import { Trace } from "../../host/report/trace.js";
import { Clock } from "../../host/sim/clock.js";
import { VirtioMmioTransport } from "../../host/virtio/mmio.js";
import { FakeDevice, type FakeDeviceOptions } from "../fakes/fake-device.js";

const bit = (n: number) => 1n << BigInt(n);
const OFFERED = bit(F.VERSION_1) | bit(F.EVENT_IDX) | bit(5) | bit(66);
const DOORBELL = 800;

function setup(dev: FakeDeviceOptions = {}, vendorId?: number) {
  const clock = new Clock();
  const trace = new Trace({ record: true });
  const mem = new GuestMemory({ pages: 4 });
  const irq = new InterruptLine("net0", trace, clock);
  const device = new FakeDevice({ deviceFeatures: OFFERED, ...dev });
  const t = new VirtioMmioTransport({ name: "net0", device, mem, clock, trace, irq, doorbellNs: DOORBELL, vendorId });
  const r = (off: number) => t.read(off, 4);
  const w = (off: number, v: number) => t.write(off, 4, v);
  const clauses = () => t.violations.map((v) => v.clause);
  const kinds = (k: string) => trace.events.filter((e) => e.k === k);
  /** DriverFeatures as four words. */
  const accept = (set: bigint) => {
    for (let sel = 0; sel < 4; sel++) {
      w(MMIO.DriverFeaturesSel, sel);
      w(MMIO.DriverFeatures, Number((set >> BigInt(32 * sel)) & 0xffffffffn));
    }
  };
  /** Program queue q with rings in RAM (4.2.3.2). */
  const setupQueue = (q: number, size = 256, desc = mem.ramBase + 0x1000 + q * 0x4000) => {
    w(MMIO.QueueSel, q);
    w(MMIO.QueueSize, size);
    w(MMIO.QueueDescLow, desc);
    w(MMIO.QueueDescHigh, 0);
    w(MMIO.QueueDriverLow, desc + 0x1000);
    w(MMIO.QueueDriverHigh, 0);
    w(MMIO.QueueDeviceLow, desc + 0x2000);
    w(MMIO.QueueDeviceHigh, 0);
    w(MMIO.QueueReady, 1);
  };
  /** The whole of 3.1.1 with both queues. */
  const init = (features = bit(F.VERSION_1) | bit(F.EVENT_IDX)) => {
    w(MMIO.Status, 0);
    w(MMIO.Status, 1);
    w(MMIO.Status, 3);
    accept(features);
    w(MMIO.Status, 0x0b);
    setupQueue(0);
    setupQueue(1);
    w(MMIO.Status, 0x0f);
  };
  return { clock, trace, mem, irq, device, t, r, w, clauses, kinds, accept, setupQueue, init };
}

describe("identity registers (4.2.2, MMIO-DEV-01/02)", () => {
  it("reads MagicValue, Version 2, DeviceID, VendorID and ConfigGeneration, each traced", () => {
    const { r, trace, device } = setup({ deviceId: 1 });
    device.configGeneration = 7;
    expect(r(MMIO.MagicValue)).toBe(0x74726976);
    expect(r(MMIO.Version)).toBe(2);
    expect(r(MMIO.DeviceID)).toBe(1);
    expect(r(MMIO.VendorID)).toBe(0x1af4);
    expect(r(MMIO.ConfigGeneration)).toBe(7);
    expect(trace.events[0]).toEqual({ t: 0, k: "mmio", dev: "net0", op: "r", reg: "MagicValue", off: 0, w: 4, v: 0x74726976 });
    expect(trace.events.map((e) => e.reg)).toEqual(["MagicValue", "Version", "DeviceID", "VendorID", "ConfigGeneration"]);
    expect(setup({}, 0x554d4551).r(MMIO.VendorID)).toBe(0x554d4551);
  });

  it("reads no shared memory regions: SHMLen/SHMBase all ones", () => {
    const { r, w, clauses } = setup();
    w(MMIO.SHMSel, 0);
    expect([r(MMIO.SHMLenLow), r(MMIO.SHMLenHigh), r(MMIO.SHMBaseLow), r(MMIO.SHMBaseHigh)]).toEqual(Array(4).fill(0xffffffff));
    expect(clauses()).toEqual([]);
  });
});

describe("features (2.2, 4.2.2 DeviceFeatures/DriverFeatures)", () => {
  it("reads DeviceFeatures by DeviceFeaturesSel, words 0..3, 0 beyond", () => {
    const { r, w } = setup();
    const words = [0, 1, 2, 3, 4, 0xffffffff].map((sel) => (w(MMIO.DeviceFeaturesSel, sel), r(MMIO.DeviceFeatures)));
    expect(words).toEqual([(1 << 29) | (1 << 5), 1, 1 << 2, 0, 0, 0]);
  });

  it("assembles DriverFeatures from words and fixes the set at FEATURES_OK", () => {
    const { w, t, accept, clauses } = setup();
    w(MMIO.Status, 1);
    w(MMIO.Status, 3);
    accept(bit(F.VERSION_1) | bit(66));
    w(MMIO.DriverFeaturesSel, 0);
    w(MMIO.DriverFeatures, 1 << 5);
    expect(t.negotiatedFeatures).toBe(0n);
    w(MMIO.Status, 0x0b);
    expect(t.status).toBe(0x0b);
    expect(t.negotiatedFeatures).toBe(bit(F.VERSION_1) | bit(66) | bit(5));
    // INIT-DRV-08: no feature changes after FEATURES_OK.
    w(MMIO.DriverFeatures, 0);
    expect(clauses()).toEqual(["INIT-DRV-08"]);
    expect(t.negotiatedFeatures).toBe(bit(F.VERSION_1) | bit(66) | bit(5));
  });

  it("leaves FEATURES_OK clear for an unoffered bit (FEAT-DRV-01) and status reads back without it", () => {
    const { r, w, accept, clauses, t, device } = setup();
    w(MMIO.Status, 1);
    w(MMIO.Status, 3);
    accept(bit(F.VERSION_1) | bit(F.INDIRECT_DESC));
    w(MMIO.Status, 0x0b);
    expect(r(MMIO.Status)).toBe(3);
    expect(clauses()).toEqual(["FEAT-DRV-01"]);
    expect(t.violations[0].detail).toMatch(/INDIRECT_DESC/);
    expect(device.callNames).not.toContain("checkFeatures");
    // A driver word above 127 bits cannot be accepted either.
    w(MMIO.DriverFeaturesSel, 4);
    w(MMIO.DriverFeatures, 1);
    expect(clauses()).toEqual(["FEAT-DRV-01", "FEAT-DRV-01"]);
  });

  it("leaves FEATURES_OK clear when the device refuses (FEAT-DEV-03), traced but not a violation", () => {
    const { r, w, accept, t, kinds } = setup({ checkFeatures: (a) => ((a & bit(F.VERSION_1)) === 0n ? "VERSION_1 not accepted" : null) });
    w(MMIO.Status, 3);
    accept(bit(5));
    w(MMIO.Status, 0x0b);
    expect(r(MMIO.Status)).toBe(3);
    expect(t.violations).toEqual([]);
    expect(kinds("features.refused")).toEqual([{ t: 0, k: "features.refused", dev: "net0", clause: "FEAT-DEV-03", detail: "VERSION_1 not accepted" }]);
  });
});

describe("status (2.1, status.ts)", () => {
  it("traces each change and activates the device at DRIVER_OK with the negotiated set", () => {
    const { t, init, kinds, device } = setup();
    init();
    expect(kinds("status").map((e) => [e.from, e.to])).toEqual([[0, 1], [1, 3], [3, 0x0b], [0x0b, 0x0f]]);
    expect(device.calls.filter((c) => c.m === "activate")).toEqual([{ m: "activate", features: bit(F.VERSION_1) | bit(F.EVENT_IDX) }]);
    expect(device.ctx!.queues.length).toBe(2);
    expect(t.violations).toEqual([]);
  });

  it("records refused transitions with their clause and keeps the status", () => {
    const { r, w, clauses } = setup();
    w(MMIO.Status, 2);
    expect(r(MMIO.Status)).toBe(0);
    w(MMIO.Status, 1);
    w(MMIO.Status, 1 | 4);
    w(MMIO.Status, 0x40 | 1);
    w(MMIO.Status, 3);
    w(MMIO.Status, 1);
    expect(r(MMIO.Status)).toBe(3);
    w(MMIO.Status, 0x83);
    w(MMIO.Status, 0x8b);
    expect(r(MMIO.Status)).toBe(0x83);
    expect(clauses()).toEqual(["INIT-DRV-03", "INIT-DRV-11", "STATUS-DRV-01", "STATUS-DRV-02", "STATUS-DRV-03"]);
  });

  it("treats an accepted SUSPEND as beyond this device: DEVICE_NEEDS_RESET (SUSP-DEV-06)", () => {
    const susp = bit(F.VERSION_1) | bit(F.SUSPEND);
    const { r, w, t, init, kinds } = setup({ deviceFeatures: susp });
    init(susp);
    w(MMIO.Status, 0x1f);
    expect(r(MMIO.Status)).toBe(0x4f);
    expect(t.halted).toBe(true);
    expect(t.interruptStatus).toBe(2);
    expect(kinds("unsupported").map((e) => e.clause)).toEqual(["SUSP-DEV-06"]);
  });
});

describe("queue registers (4.2.2, 4.2.3.2)", () => {
  it("reads QueueSizeMax per QueueSel (0 for a missing queue) and builds a queue at QueueReady=1", () => {
    const { r, w, t, init, device, kinds } = setup({ queueSizes: [256, 64] });
    w(MMIO.QueueSel, 1);
    expect(r(MMIO.QueueSizeMax)).toBe(64);
    w(MMIO.QueueSel, 2);
    expect(r(MMIO.QueueSizeMax)).toBe(0);
    device.calls.length = 0;
    init();
    w(MMIO.QueueSel, 0);
    expect(r(MMIO.QueueReady)).toBe(1);
    const q0 = t.queue(0)!;
    expect(q0.cfg).toMatchObject({ index: 0, size: 256, eventIdx: true, indirect: false, descAddr: 0x4000_1000 });
    expect(q0.broken).toBe(false);
    expect(device.ctx!.queues[0]).toBe(q0);
    expect(kinds("queue")[0]).toEqual({ t: 0, k: "queue", dev: "net0", q: 0, ready: true, size: 256, desc: 0x4000_1000, driver: 0x4000_2000, device: 0x4000_3000 });
  });

  it("refuses QueueSize above QueueSizeMax or not a power of 2 (MMIO-DRV-14)", () => {
    const { w, clauses, t, setupQueue } = setup({ queueSizes: [64] });
    w(MMIO.Status, 1);
    w(MMIO.Status, 3);
    w(MMIO.Status, 0x0b);
    w(MMIO.QueueSize, 128);
    w(MMIO.QueueSize, 48);
    w(MMIO.QueueSize, 0);
    expect(clauses()).toEqual(["MMIO-DRV-14", "MMIO-DRV-14", "MMIO-DRV-14"]);
    setupQueue(0, 32);
    expect(t.queue(0)!.cfg.size).toBe(32);
  });

  it("refuses QueueSize and area addresses while QueueReady is 1 (MMIO-DRV-15), and stops at QueueReady=0", () => {
    const { r, w, t, init, clauses, kinds } = setup();
    init();
    w(MMIO.QueueSel, 0);
    for (const reg of ["QueueSize", "QueueDescLow", "QueueDescHigh", "QueueDriverLow", "QueueDriverHigh", "QueueDeviceLow", "QueueDeviceHigh"] as const) {
      w(MMIO[reg], 16);
    }
    expect(clauses()).toEqual(Array(7).fill("MMIO-DRV-15"));
    expect(t.queue(0)!.cfg).toMatchObject({ size: 256, descAddr: 0x4000_1000 });
    w(MMIO.QueueReady, 0);
    expect(r(MMIO.QueueReady)).toBe(0);
    expect(t.queue(0)).toBeUndefined();
    expect(kinds("queue").at(-1)).toEqual({ t: 0, k: "queue", dev: "net0", q: 0, ready: false });
    w(MMIO.QueueSize, 16);
    expect(clauses().length).toBe(7);
  });

  it("refuses QueueReady before FEATURES_OK (INIT-DRV-10) and for a missing queue", () => {
    const { r, w, t, setupQueue, clauses } = setup();
    w(MMIO.Status, 3);
    setupQueue(0);
    expect(r(MMIO.QueueReady)).toBe(0);
    expect(t.queue(0)).toBeUndefined();
    w(MMIO.Status, 0x0b);
    w(MMIO.QueueSel, 5);
    w(MMIO.QueueReady, 1);
    expect(clauses()).toEqual(["INIT-DRV-10", "MMIO-DRV-14"]);
  });

  it("a misaligned ring is a breach reported by the queue: DEVICE_NEEDS_RESET, no config interrupt before DRIVER_OK", () => {
    const { w, t, setupQueue, device } = setup();
    w(MMIO.Status, 3);
    w(MMIO.Status, 0x0b);
    setupQueue(0, 256, 0x4000_1008);
    expect(t.violations.map((v) => [v.k, v.clause])).toEqual([["breach", "SPLIT-DRV-01"]]);
    expect(t.status).toBe(0x4b);
    expect(t.interruptStatus).toBe(0);
    expect(t.halted).toBe(true);
    w(MMIO.Status, 0x0f); // DEVICE_NEEDS_RESET is the device's: not cleared, and the device is not activated
    expect(t.status).toBe(0x4f);
    expect(device.callNames).not.toContain("activate");
  });

  it("QueueReset=1 with RING_RESET stops the queue and reads 0 (MMIO-DEV-10/12)", () => {
    const rr = bit(F.VERSION_1) | bit(F.RING_RESET);
    const { r, w, t, init } = setup({ deviceFeatures: rr });
    init(rr);
    w(MMIO.QueueSel, 1);
    w(MMIO.QueueReset, 1);
    expect([r(MMIO.QueueReset), r(MMIO.QueueReady), t.queue(1), t.violations.length]).toEqual([0, 0, undefined, 0]);
  });
});

describe("QueueNotify (4.2.3.3)", () => {
  it("is a violation before DRIVER_OK (INIT-DRV-14) and is not delivered", () => {
    const { w, clock, device, clauses, kinds } = setup();
    w(MMIO.Status, 3);
    w(MMIO.QueueNotify, 0);
    clock.runUntil(10 * DOORBELL);
    expect(clauses()).toEqual(["INIT-DRV-14"]);
    expect(kinds("notify")).toEqual([{ t: 0, k: "notify", dev: "net0", q: 0 }]);
    expect(device.callNames).not.toContain("notify");
  });

  it("reaches the device doorbellNs after the write; a notify for a queue not ready is dropped", () => {
    const { w, clock, device, init, kinds } = setup();
    init();
    w(MMIO.QueueSel, 1);
    w(MMIO.QueueReady, 0);
    clock.advanceTo(100);
    w(MMIO.QueueNotify, 0);
    w(MMIO.QueueNotify, 1);
    clock.runUntil(100 + DOORBELL - 1);
    expect(device.callNames).not.toContain("notify");
    clock.runUntil(100 + DOORBELL);
    expect(device.calls.filter((c) => c.m === "notify")).toEqual([{ m: "notify", q: 0 }]);
    expect(kinds("notify.seen")).toEqual([{ t: 100 + DOORBELL, k: "notify.seen", dev: "net0", q: 0 }]);
    expect(kinds("notify.dropped")).toEqual([{ t: 100, k: "notify.dropped", dev: "net0", q: 1, reason: "queue not ready" }]);
  });

  it("a doorbell in flight across a reset is not delivered (RESET-DEV-02)", () => {
    const { w, clock, device, init } = setup();
    init();
    w(MMIO.QueueNotify, 0);
    w(MMIO.Status, 0);
    clock.runUntil(10 * DOORBELL);
    expect(device.callNames).not.toContain("notify");
  });
});

describe("InterruptStatus / InterruptACK (4.2.2, 4.2.3.4)", () => {
  it("sets bits from the device, clears acked bits, and holds the line while any is set", () => {
    const { r, w, irq, init, device, clauses } = setup();
    init();
    const ctx = device.ctx!;
    ctx.notifyUsed(0);
    expect(r(MMIO.InterruptStatus)).toBe(1);
    expect(irq.level).toBe(true);
    ctx.notifyConfig();
    expect(r(MMIO.InterruptStatus)).toBe(3);
    w(MMIO.InterruptACK, 1);
    expect(r(MMIO.InterruptStatus)).toBe(2);
    expect(irq.level).toBe(true);
    w(MMIO.InterruptACK, 2 | 4);
    expect(r(MMIO.InterruptStatus)).toBe(0);
    expect(irq.level).toBe(false);
    expect(clauses()).toEqual(["MMIO-DRV-20"]);
  });
});

describe("reset (2.4, MMIO-DEV-05)", () => {
  it("clears status, queues, InterruptStatus, features and selectors; an old context is dead", () => {
    const { r, w, t, irq, init, device, trace } = setup();
    init();
    const old = device.ctx!;
    old.notifyUsed(0);
    w(MMIO.DeviceFeaturesSel, 1);
    w(MMIO.QueueSel, 1);
    w(MMIO.Status, 0);
    expect(device.callNames.at(-1)).toBe("reset");
    expect([t.status, t.interruptStatus, irq.level, t.negotiatedFeatures, t.halted]).toEqual([0, 0, false, 0n, false]);
    expect([t.queue(0), t.queue(1)]).toEqual([undefined, undefined]);
    expect(r(MMIO.QueueReady)).toBe(0); // QueueSel is 0 again; queue 0 was ready
    expect(r(MMIO.DeviceFeatures)).toBe((1 << 29) | (1 << 5));
    const n = trace.count;
    old.notifyUsed(0);
    old.breach("SPLIT-DRV-09", "stale");
    expect(old.halted).toBe(true);
    expect([trace.count, t.interruptStatus, t.status]).toEqual([n, 0, 0]);
  });
});

describe("device breach (2.1.2, STATUS-DEV-02/03)", () => {
  it("sets DEVICE_NEEDS_RESET, raises the config interrupt, halts; recovery after reset", () => {
    const { r, w, t, irq, clock, init, device, kinds } = setup();
    init();
    device.ctx!.breach("SPLIT-DRV-09", "avail.idx went back");
    expect(r(MMIO.Status)).toBe(0x4f);
    expect(r(MMIO.InterruptStatus)).toBe(2);
    expect(irq.level).toBe(true);
    expect(t.halted).toBe(true);
    expect(device.ctx!.halted).toBe(true);
    expect(kinds("breach")).toEqual([{ t: 0, k: "breach", dev: "net0", clause: "SPLIT-DRV-09", detail: "avail.idx went back" }]);
    // A second breach is recorded but changes nothing more.
    device.ctx!.breach("SPLIT-DRV-02", "again");
    expect(kinds("status").at(-1)).toEqual({ t: 0, k: "status", dev: "net0", from: 0x0f, to: 0x4f });
    expect(t.violations.map((v) => v.k)).toEqual(["breach", "breach"]);
    w(MMIO.QueueNotify, 0);
    clock.runUntil(10 * DOORBELL);
    expect(device.callNames).not.toContain("notify");
    expect(kinds("notify.dropped").map((e) => e.reason)).toEqual(["device halted (DEVICE_NEEDS_RESET)"]);
    // The driver sets FAILED by read-modify-write (DEVICE_NEEDS_RESET included): accepted.
    w(MMIO.Status, r(MMIO.Status) | STATUS.FAILED);
    expect(t.status).toBe(0xcf);
    expect(t.violations.length).toBe(2);
    init();
    expect(t.halted).toBe(false);
    expect(t.status).toBe(0x0f);
    w(MMIO.QueueNotify, 1);
    clock.runUntil(clock.now + DOORBELL);
    expect(device.calls.filter((c) => c.m === "notify")).toEqual([{ m: "notify", q: 1 }]);
  });

  it("a device violation through the context is recorded without halting", () => {
    const { t, init, device } = setup();
    init();
    device.ctx!.violation!("NET-TX-DRV-02", "num_buffers 1");
    expect(t.violations.map((v) => [v.k, v.clause])).toEqual([["violation", "NET-TX-DRV-02"]]);
    expect(t.halted).toBe(false);
  });
});

describe("bad accesses are recorded and ignored (4.2.2.2)", () => {
  it("unlisted offsets, direction, and non-32-bit control register access", () => {
    const { t, r, w, clauses, trace } = setup();
    expect(r(0x018)).toBe(0);
    expect(r(MMIO.QueuePFN)).toBe(0); // legacy-only: unlisted in Version 2
    expect(r(MMIO.QueueSel)).toBe(0);
    w(MMIO.MagicValue, 0);
    expect(t.read(MMIO.MagicValue, 1)).toBe(0);
    expect(t.read(MMIO.Status, 2)).toBe(0);
    t.write(MMIO.Status, 1, 1);
    expect(r(0x002)).toBe(0);
    expect(r(MMIO.MagicValue)).toBe(0x74726976);
    expect(t.status).toBe(0);
    expect(clauses()).toEqual(["MMIO-DRV-01", "MMIO-DRV-01", "MMIO-DRV-03", "MMIO-DRV-02", "MMIO-DRV-04", "MMIO-DRV-04", "MMIO-DRV-04", "MMIO-DRV-04"]);
    expect(trace.events.slice(0, 2)).toEqual([
      { t: 0, k: "mmio", dev: "net0", op: "r", reg: "?", off: 0x18, w: 4, v: 0 },
      { t: 0, k: "violation", dev: "net0", clause: "MMIO-DRV-01", detail: "unlisted register offset 0x18" },
    ]);
    expect(trace.events.find((e) => e.k === "mmio" && e.w === 1)).toMatchObject({ reg: "MagicValue", off: 0 });
  });

  it("config space: the device's reads and writes within configSize, MMIO-DRV-01 beyond", () => {
    const { t, device, clauses } = setup({ config: Uint8Array.from([0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x01, 0x00]) });
    expect(t.read(0x100, 1)).toBe(0x52);
    expect(t.read(0x104, 2)).toBe(0x5634);
    expect(t.read(0x104, 4)).toBe(0x00015634);
    t.write(0x106, 2, 0x1ffff);
    expect(device.calls.at(-1)).toEqual({ m: "configWrite", off: 6, width: 2, value: 0xffff });
    expect(t.read(0x106, 4)).toBe(0);
    t.write(0x108, 1, 0);
    expect(t.read(0x1fc, 4)).toBe(0);
    expect(t.read(0x100, 3)).toBe(0);
    expect(clauses()).toEqual(["MMIO-DRV-01", "MMIO-DRV-01", "MMIO-DRV-01", "MMIO-DRV-05"]);
  });
});
