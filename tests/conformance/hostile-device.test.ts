// The project's driver against the hostile-device mode (host/devices/hostile.ts): each fault alone
// and all mixed, seeded; the oracle (no trap, bounded, no write outside its memory, broken
// reported, recovery by reset) and a mutation check of the memory oracle.
import { describe, expect, it } from "vitest";
import { ABI_BROKEN } from "../../host/gen/constants.js";
import { FAULT_NAMES, FATAL, type Fault } from "../../host/devices/hostile.js";
import { protectedRegions, runHostileDevice, writableRegions, type HostileDeviceFigures } from "../../host/conformance/hostile-device-campaign.js";
import { Machine } from "../../host/machine.js";

function clean(f: HostileDeviceFigures): void {
  expect(f.failures).toEqual([]);
  expect([f.hostExceptions, f.traps, f.hangs, f.outOfRegionWrites, f.fatalMissed, f.recoveryFailures]).toEqual([0, 0, 0, 0, 0, 0]);
}

describe("hostile device", () => {
  it.each(FAULT_NAMES)("survives %s alone: no trap, no hang, no stray write, recovers", async (fault: Fault) => {
    const f = await runHostileDevice({ seed: 7, steps: 300, stepsPerMachine: 300, faults: [fault], faultRate: 0.6 });
    clean(f);
    expect(f.fired[fault]).toBeGreaterThan(0);
    if (FATAL.has(fault)) expect(f.fatalReported).toBeGreaterThan(0);
    expect(f.recoveries).toBeGreaterThan(0);
  });

  it("reports each kind of breakage by its reason, then works again", async () => {
    const f = await runHostileDevice({ seed: 42, steps: 3000, stepsPerMachine: 1500 });
    clean(f);
    expect(f.steps).toBe(3000);
    for (const fault of FAULT_NAMES) expect(f.fired[fault], fault).toBeGreaterThan(0);
    // Shadow-state checks of the driver (Linux virtio_ring's "id out of range", "not a head", BAD_RING).
    for (const r of [ABI_BROKEN.ID_RANGE, ABI_BROKEN.NOT_HEAD, ABI_BROKEN.LEN, ABI_BROKEN.IDX]) {
      expect((f.reports[`RXQ_BROKEN=${r}`] ?? 0) + (f.reports[`TXQ_BROKEN=${r}`] ?? 0), `reason ${r}`).toBeGreaterThan(0);
    }
    for (const r of ["NEEDS_RESET", "WATCHDOG", "REINIT", "RX_BAD_NUM_BUFFERS"]) expect(f.reports[r], r).toBeGreaterThan(0);
    expect(f.fatalReported).toBeGreaterThan(100);
  });

  it("is deterministic for a seed", async () => {
    const a = await runHostileDevice({ seed: 3, steps: 400 });
    const b = await runHostileDevice({ seed: 3, steps: 400 });
    expect({ ...a, wallMs: 0 }).toEqual({ ...b, wallMs: 0 });
  });

  it("protects everything but the DMA region, io_buffer and the driver's own objects", async () => {
    const m = await Machine.create({ meter: false });
    const w = writableRegions(m);
    const d = m.driver;
    expect(w).toContainEqual({ lo: d.mem_base(), hi: d.mem_base() + d.mem_size() });
    expect(w).toContainEqual({ lo: d.io_buffer(), hi: d.io_buffer() + d.io_buffer_size() });
    const p = protectedRegions(m);
    const total = [...w, ...p].reduce((n, r) => n + r.hi - r.lo, 0);
    expect(total).toBe(m.mem.size); // the two sets tile linear memory
    expect(p[0]).toEqual({ lo: 0, hi: Math.min(d.io_buffer(), d.mem_base()) }); // static data included
    expect(p.at(-1)!.hi).toBe(m.mem.size);
  });

  it("catches a write outside the driver's memory (mutation check of the oracle)", async () => {
    let poked = 0;
    const f = await runHostileDevice({
      seed: 5, steps: 50, stepsPerMachine: 50,
      tamper: (m, step) => {
        if (step === 20) {
          const r = protectedRegions(m).at(-1)!;
          m.mem.u8[r.lo + 100]! ^= 0xff;
          poked++;
        }
      },
    });
    expect(poked).toBe(1);
    expect(f.outOfRegionWrites).toBe(1);
    expect(f.failures[0]).toMatch(/outside its memory/);
    // The same poke inside the DMA region is the driver's business: not reported.
    const g = await runHostileDevice({
      seed: 5, steps: 50, stepsPerMachine: 50,
      tamper: (m, step) => {
        if (step === 20) m.mem.u8[m.driver.mem_base() + m.driver.mem_size() - 1]! ^= 0xff;
      },
    });
    expect(g.outOfRegionWrites).toBe(0);
  });

  it("counts an entry over its event bound as a hang (mutation check of the bound)", async () => {
    const f = await runHostileDevice({ seed: 5, steps: 10, maxEventsPerEntry: 20 });
    expect(f.hangs).toBe(1);
    expect(f.traps).toBe(0);
    expect(f.failures[0]).toMatch(/entry over 20 events/);
  });
});
