// Properties of the device side against a hostile driver (seeded fast-check): the campaign engine
// of host/conformance/hostile-driver-campaign.ts, and the mock driver with its rings rewritten at
// random. The device never throws, never hangs, completes what is valid or sets DEVICE_NEEDS_RESET
// with a recorded breach (STATUS-DEV-02; DESIGN.md, Robustness; QEMU's virtio-net fuzz oracle).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MMIO, STATUS } from "../../host/gen/constants.js";
import { runHostileDriver, type HostileDriverFigures } from "../../host/conformance/hostile-driver-campaign.js";
import { MockDriver } from "../mock/mock-driver.js";
import { createRig } from "../mock/rig.js";

function clean(f: HostileDriverFigures): void {
  expect(f.failures).toEqual([]);
  expect([f.hostExceptions, f.hangs, f.silentNeedsReset, f.incomplete]).toEqual([0, 0, 0, 0]);
}

describe("device against a hostile driver", () => {
  it("never throws, never hangs, completes or needs reset, names every breach (campaign engine)", async () => {
    let totals = { needsReset: 0, completed: 0, doorbells: 0, clauses: new Set<string>() };
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 0x7fffffff }), async (seed) => {
        const f = await runHostileDriver({ seed, steps: 4000, stepsPerBoard: 2000 });
        clean(f);
        expect(f.maxEventsPerDoorbell).toBeLessThan(1000); // steps per doorbell: bounded far below MAX_EVENTS_PER_RUN
        totals.needsReset += f.needsReset;
        totals.completed += f.completed;
        totals.doorbells += f.doorbells;
        for (const c of Object.keys(f.breaches)) totals.clauses.add(c);
      }),
      { seed: 0x6d6f636b, numRuns: 40 },
    );
    // The campaign reaches both outcomes and the chain checks (not just early refusals).
    expect(totals.completed).toBeGreaterThan(100);
    expect(totals.needsReset).toBeGreaterThan(50);
    for (const c of ["SPLIT-DRV-09", "DERIVED-MEM", "SPLIT-DRV-04"]) expect(totals.clauses, c).toContain(c);
  });

  it("the oracle catches a device that drops kicks or throws (mutation check)", async () => {
    const deaf = await runHostileDriver({ seed: 9, steps: 3000, tamper: (b) => (b.net.notify = () => {}) });
    expect(deaf.incomplete).toBeGreaterThan(0);
    const thrower = await runHostileDriver({
      seed: 9, steps: 3000,
      tamper: (b) => (b.net.notify = () => { throw new Error("device bug"); }),
    });
    expect(thrower.hostExceptions).toBeGreaterThan(0);
  });

  it("mock driver: valid frames with ring bytes rewritten between publication and use", async () => {
    const cmd = fc.oneof(
      fc.record({ c: fc.constant("tx" as const), len: fc.integer({ min: 14, max: 1514 }) }),
      fc.record({ c: fc.constant("poke" as const), where: fc.constantFrom("desc", "avail"), at: fc.nat(4095), v: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ c: fc.constant("run" as const), ns: fc.integer({ min: 0, max: 30_000 }) }),
      fc.record({ c: fc.constant("kick" as const) }),
    );
    await fc.assert(
      fc.property(fc.array(cmd, { minLength: 1, maxLength: 60 }), fc.constantFrom(8, 64, 256), (cmds, queueSize) => {
        const rig = createRig();
        const d = new MockDriver(rig);
        expect(d.attach({ queueSize })).toBe(true);
        const tx = d.rings[1]!;
        let breaches = 0;
        rig.trace.subscribe((e) => void (e.k === "breach" && breaches++));
        for (const c of cmds) {
          if (c.c === "tx") d.transmit(new Uint8Array(c.len).fill(0xab));
          else if (c.c === "poke") {
            const base = (c.where === "desc" ? tx.descAddr : tx.driverAddr) - rig.mem.ramBase;
            const span = c.where === "desc" ? 16 * tx.size : 6 + 2 * tx.size;
            rig.mem.u8[base + (c.at % span)] = c.v;
          } else if (c.c === "run") rig.clock.runUntil(rig.clock.now + c.ns);
          else rig.bus.write(rig.base + MMIO.QueueNotify, 4, 1);
        }
        rig.bus.write(rig.base + MMIO.QueueNotify, 4, 1);
        let n = 0;
        while (n < 100_000 && rig.clock.step()) n++;
        expect(n).toBeLessThan(100_000);
        const status = rig.transport.status;
        const q = rig.transport.queue(1);
        if (status & STATUS.DEVICE_NEEDS_RESET) expect(breaches).toBeGreaterThan(0);
        else if (q && !q.broken) {
          const avail = rig.mem.r16(tx.driverAddr - rig.mem.ramBase + 2);
          expect(q.lastAvail).toBe(avail);
          expect(q.usedIdx).toBe(avail);
        }
      }),
      { seed: 0x706f6b65, numRuns: 150 },
    );
  });
});
