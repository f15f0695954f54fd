// Property: any sequence of register reads and writes through the bus (random offsets, widths,
// values, time passing, device callbacks) never throws, keeps the transport's invariants, and
// leaves a trace whose every event is well-formed. Seeded (DESIGN.md, Tests).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InterruptLine } from "../../host/bus/irq.js";
import { MmioBus } from "../../host/bus/mmio-bus.js";
import { CLAUSE_ROWS } from "../../host/gen/clauses.js";
import { F, MMIO, STATUS } from "../../host/gen/constants.js";
import { GuestMemory } from "../../host/guest/memory.js";
import { encodeEvent, Trace, type TraceEvent } from "../../host/report/trace.js";
import { Clock } from "../../host/sim/clock.js";
import { VirtioMmioTransport } from "../../host/virtio/mmio.js";
import { FakeDevice } from "../fakes/fake-device.js";

const BASE = 0x1000_0000;
const RAM = 0x4000_0000;
const CLAUSES = new Set<string>(CLAUSE_ROWS.map((r) => r.id));
const bit = (n: number) => 1n << BigInt(n);

type Cmd =
  | { c: "r"; off: number; w: number }
  | { c: "w"; off: number; w: number; v: number }
  | { c: "tick"; ns: number }
  | { c: "dev"; what: "used" | "config" | "breach" };

const offset = fc.oneof(
  fc.constantFrom(...Object.values(MMIO).filter((o) => o < 0x100), 0x100, 0x104, 0x106, 0x10a),
  fc.integer({ min: 0, max: 0x1ff }),
);
const width = fc.oneof({ weight: 6, arbitrary: fc.constantFrom(4) }, fc.constantFrom(1, 2, 3, 8));
const value = fc.oneof(fc.constantFrom(0, 1, 2, 3, 0x0f, 0x4f, 0x80, 16, 1 << 29), fc.integer({ min: 0, max: 0xffffffff }));
/** Plausible values per register, so random runs also reach DRIVER_OK, ready queues and doorbells. */
const area = fc.integer({ min: 1, max: 40 }).map((k) => RAM + k * 0x1000 + (k % 7 === 0 ? 8 : 0));
const POOLS: [number, fc.Arbitrary<number>][] = [
  [MMIO.Status, fc.constantFrom(0, 1, 3, 0x0b, 0x0f, 0x8f, 0x1f, 0x4f, 0x07)],
  [MMIO.DriverFeaturesSel, fc.constantFrom(0, 1, 2, 4)],
  [MMIO.DriverFeatures, fc.constantFrom(0, 1, 1 << 29, (1 << 29) | (1 << 28), 1 << 5, 1 << 6, 1 << 8)],
  [MMIO.DeviceFeaturesSel, fc.constantFrom(0, 1, 2, 3)],
  [MMIO.QueueSel, fc.constantFrom(0, 1, 2)],
  [MMIO.QueueSize, fc.constantFrom(16, 64, 256, 512, 3)],
  [MMIO.QueueReady, fc.constantFrom(0, 1)],
  [MMIO.QueueNotify, fc.constantFrom(0, 1, 2, 0x10000)],
  [MMIO.InterruptACK, fc.constantFrom(1, 2, 3, 4)],
  [MMIO.QueueReset, fc.constantFrom(0, 1)],
  ...(["QueueDescLow", "QueueDriverLow", "QueueDeviceLow"] as const).map((r): [number, fc.Arbitrary<number>] => [MMIO[r], area]),
  ...(["QueueDescHigh", "QueueDriverHigh", "QueueDeviceHigh"] as const).map((r): [number, fc.Arbitrary<number>] => [MMIO[r], fc.constantFrom(0, 0, 0, 1)]),
];
const plausibleWrite = fc.oneof(...POOLS.map(([off, v]) => fc.record({ c: fc.constant("w" as const), off: fc.constant(off), w: fc.constant(4), v })));
const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ c: fc.constant("r" as const), off: offset, w: width }) },
  { weight: 3, arbitrary: fc.record({ c: fc.constant("w" as const), off: offset, w: width, v: value }) },
  { weight: 6, arbitrary: plausibleWrite },
  { weight: 1, arbitrary: fc.record({ c: fc.constant("tick" as const), ns: fc.integer({ min: 0, max: 3000 }) }) },
  { weight: 1, arbitrary: fc.record({ c: fc.constant("dev" as const), what: fc.constantFrom("used" as const, "config" as const, "breach" as const) }) },
);

const isUint = (v: unknown, max = 0xffffffff) => Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= max;
const isStr = (v: unknown) => typeof v === "string" && v.length > 0;

/** The fields each event kind must carry (beyond t and k), as predicates. */
const SHAPES: Record<string, Record<string, (v: unknown) => boolean>> = {
  mmio: { dev: isStr, op: (v) => v === "r" || v === "w", reg: isStr, off: isUint, w: (v) => Number.isSafeInteger(v), v: (v) => isUint(v) },
  violation: { dev: isStr, clause: (v) => CLAUSES.has(v as string), detail: isStr },
  breach: { dev: isStr, clause: (v) => CLAUSES.has(v as string), detail: isStr },
  "features.refused": { dev: isStr, clause: (v) => v === "FEAT-DEV-03", detail: isStr },
  unsupported: { dev: isStr, clause: (v) => CLAUSES.has(v as string), detail: isStr },
  status: { dev: isStr, from: (v) => isUint(v, 0xff), to: (v) => isUint(v, 0xff) },
  irq: { line: isStr, level: (v) => typeof v === "boolean" },
  notify: { dev: isStr, q: (v) => isUint(v) },
  "notify.seen": { dev: isStr, q: (v) => isUint(v, 1) },
  "notify.dropped": { dev: isStr, q: (v) => isUint(v), reason: isStr },
  queue: { dev: isStr, q: (v) => isUint(v, 1), ready: (v) => typeof v === "boolean" },
  "bus.fault": { op: (v) => v === "r" || v === "w", addr: (v) => Number.isSafeInteger(v), w: (v) => Number.isSafeInteger(v) },
};

function wellFormed(ev: TraceEvent, prevT: number): string | null {
  if (!Number.isSafeInteger(ev.t) || ev.t < prevT) return "bad t";
  const shape = SHAPES[ev.k];
  if (shape === undefined) return `unknown kind ${ev.k}`;
  for (const [f, ok] of Object.entries(shape)) if (!ok(ev[f])) return `field ${f}=${String(ev[f])}`;
  for (const v of Object.values(ev)) {
    if (!(typeof v === "string" || typeof v === "boolean" || Number.isSafeInteger(v))) return `value ${String(v)}`;
  }
  if (JSON.stringify(JSON.parse(encodeEvent(ev))) !== encodeEvent(ev)) return "does not round-trip";
  return null;
}

function run(cmds: Cmd[], prefix: number): void {
  const clock = new Clock();
  const trace = new Trace({ record: true });
  const mem = new GuestMemory({ pages: 4, ramBase: RAM });
  const irq = new InterruptLine("net0", trace, clock);
  const offered = bit(F.VERSION_1) | bit(F.EVENT_IDX) | bit(F.INDIRECT_DESC) | bit(F.NOTIFICATION_DATA) | bit(F.RING_RESET) | bit(5);
  const device = new FakeDevice({ deviceFeatures: offered, queueSizes: [256, 16] });
  const t = new VirtioMmioTransport({ name: "net0", device, mem, clock, trace, irq, doorbellNs: 800 });
  const bus = new MmioBus(trace, clock);
  bus.map("net0", BASE, 0x200, t);
  // Start from a prefix of 3.1.1 (0: nothing, 1: FEATURES_OK, 2: queues ready, 3: DRIVER_OK).
  const pre: [number, number][] = [[MMIO.Status, 0], [MMIO.Status, 3], [MMIO.DriverFeaturesSel, 1], [MMIO.DriverFeatures, 1], [MMIO.Status, 0x0b]];
  for (const q of [0, 1]) {
    const a = RAM + 0x10000 + q * 0x4000;
    pre.push([MMIO.QueueSel, q], [MMIO.QueueSize, 16], [MMIO.QueueDescLow, a], [MMIO.QueueDriverLow, a + 0x1000], [MMIO.QueueDeviceLow, a + 0x2000], [MMIO.QueueReady, 1]);
  }
  pre.push([MMIO.Status, 0x0f]);
  const upTo = [0, 5, 17, 18][prefix];
  for (const [off, v] of pre.slice(0, upTo)) bus.write(BASE + off, 4, v);
  for (const c of cmds) {
    if (c.c === "r") {
      const v = bus.read(BASE + c.off, c.w);
      expect(isUint(v, c.w === 1 ? 0xff : c.w === 2 ? 0xffff : 0xffffffff)).toBe(true);
    } else if (c.c === "w") bus.write(BASE + c.off, c.w, c.v);
    else if (c.c === "tick") clock.runUntil(clock.now + c.ns);
    else if (device.ctx) {
      if (c.what === "used") device.ctx.notifyUsed(0);
      else if (c.what === "config") device.ctx.notifyConfig();
      else device.ctx.breach("SPLIT-DRV-09", "property");
    }
    // Invariants: the line follows InterruptStatus; status bits only in the 3.1.1 order.
    expect(irq.level).toBe(t.interruptStatus !== 0);
    expect(t.interruptStatus & ~3).toBe(0);
    const s = t.status;
    expect(s & ~(0xff & ~0x20)).toBe(0);
    if (s & STATUS.DRIVER) expect(s & STATUS.ACKNOWLEDGE).toBeTruthy();
    if (s & STATUS.FEATURES_OK) expect(s & STATUS.DRIVER).toBeTruthy();
    if (s & STATUS.DRIVER_OK) expect(s & STATUS.FEATURES_OK).toBeTruthy();
    if (s & STATUS.DEVICE_NEEDS_RESET) expect(t.halted).toBe(true);
  }
  clock.runUntil(clock.now + 10_000);
  let prev = 0;
  for (const ev of trace.events) {
    const bad = wellFormed(ev, prev);
    if (bad !== null) throw new Error(`malformed event (${bad}): ${encodeEvent(ev)}`);
    prev = ev.t;
  }
  for (const v of t.violations) expect(CLAUSES.has(v.clause)).toBe(true);
}

describe("VirtioMmioTransport under random register traffic", () => {
  it("never throws, keeps its invariants, and traces only well-formed events", () => {
    fc.assert(
      fc.property(fc.array(cmd, { maxLength: 80 }), fc.integer({ min: 0, max: 3 }), (cmds, prefix) => {
        run(cmds, prefix);
      }),
      { seed: 7, numRuns: 300 },
    );
  });
});
