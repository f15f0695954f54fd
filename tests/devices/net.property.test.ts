// Whole-board robustness: whatever a (mock) driver does, nothing throws out of the host, and
// every chain the driver published to the transmit queue comes back used unless the device
// stopped with DEVICE_NEEDS_RESET (the oracle of QEMU's virtio-net fuzzer).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MMIO, STATUS } from "../../host/gen/constants.js";
import { MockDriver } from "../mock/mock-driver.js";
import { createRig } from "../mock/rig.js";

const action = fc.oneof(
  fc.record({ op: fc.constant("tx" as const), len: fc.integer({ min: 0, max: 1600 }) }),
  fc.record({ op: fc.constant("reg" as const), off: fc.integer({ min: 0, max: 0x10f }), v: fc.integer({ min: 0, max: 0xffffffff }), w: fc.constantFrom(1 as const, 2 as const, 4 as const) }),
  fc.record({ op: fc.constant("desc" as const), slot: fc.integer({ min: 0, max: 300 }), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ op: fc.constant("avail" as const), idx: fc.integer({ min: 0, max: 0xffff }) }),
  fc.record({ op: fc.constant("link" as const), up: fc.boolean() }),
  fc.record({ op: fc.constant("run" as const), ns: fc.integer({ min: 0, max: 200_000 }) }),
  fc.record({ op: fc.constant("irq" as const) }),
);

describe("virtio-net board under a misbehaving driver", () => {
  it("never throws, and published TX chains are used or the device needs reset", () => {
    fc.assert(
      fc.property(fc.array(action, { maxLength: 40 }), fc.boolean(), (actions, mrg) => {
        const rig = createRig({ pages: 64 });
        const d = new MockDriver(rig);
        d.attach({ accept: ["VERSION_1", "MAC", "STATUS", "MTU", "EVENT_IDX", ...(mrg ? ["MRG_RXBUF"] : [])], queueSize: 64, rxBufSize: mrg ? 128 : 1526 });
        const published = new Set<number>();
        let tampered = false;
        for (const a of actions) {
          switch (a.op) {
            case "tx": {
              const head = d.transmit(new Uint8Array(a.len).fill(0x5a));
              if (head >= 0) published.add(head);
              break;
            }
            case "reg":
              tampered = true;
              d.w(a.off & ~(a.w - 1), a.v, a.w);
              break;
            case "desc":
              tampered = true;
              rig.mem.u8.set(a.bytes, d.rings[a.slot % 2].descOff + (a.slot % 64) * 16);
              break;
            case "avail":
              tampered = true;
              d.rings[1].setAvailIdx(a.idx);
              break;
            case "link":
              rig.net.setLink(a.up);
              break;
            case "run":
              rig.clock.runUntil(rig.clock.now + a.ns);
              break;
            case "irq":
              d.ackInterrupt();
              break;
          }
        }
        rig.clock.runUntil(rig.clock.now + 50_000_000);
        if (!tampered) {
          // An honest driver: every published transmit chain must come back used.
          const used = new Set<number>();
          const ring = d.rings[1];
          for (let i = 0; i < ring.readUsedIdx(); i++) used.add(ring.readUsedElem(i % ring.size).id);
          const needsReset = (rig.transport.status & STATUS.DEVICE_NEEDS_RESET) !== 0;
          if (!needsReset) for (const h of published) expect(used.has(h)).toBe(true);
        }
        // The device still answers and the trace is intact whatever happened.
        expect(rig.bus.read(rig.base + MMIO.MagicValue, 4)).toBe(0x74726976);
        expect(rig.trace.digest()).toMatch(/^[0-9a-f]{64}$/);
      }),
      { seed: 20261126, numRuns: 150 },
    );
  });
});
