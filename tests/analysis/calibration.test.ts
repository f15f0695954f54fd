// Calibration: per profile, the simulated overhead of one packet traversal beside the sourced
// figure (timing-sources.md section 2), asserted within 10% (docs/timing.md, Calibration).
import { describe, expect, it } from "vitest";
import { calibrate, CALIBRATION_TARGETS_NS } from "../../host/analysis/calibration.js";
import { loadProfileByName, profileNames } from "../../host/analysis/profiles.js";
import { DEFAULT_PROFILE } from "../../host/sim/profile.js";

const names = await profileNames();

describe("calibration against sourced per-traversal overheads", () => {
  it.each(names.map((n) => [n]))("%s", async (name) => {
    const c = await calibrate(await loadProfileByName(name));
    const target = CALIBRATION_TARGETS_NS[name];
    console.log(`calibration ${name}: TX ${c.txNs} ns, RX ${c.rxNs} ns, per traversal ${c.perTraversalNs} ns; sourced ${target ?? "none"} ns${c.error === undefined ? "" : ` (${(c.error * 100).toFixed(1)}%)`}`);
    if (target === undefined) return; // no sourced overhead to hold it to (qemu-virt)
    expect(Math.abs(c.error!)).toBeLessThanOrEqual(0.1);
  });

  it("built-in DEFAULT_PROFILE on virtio-mmio: TX = doorbell + device work + host path, RX = host path + device work + IRQ delivery + 2 register accesses + EOI", async () => {
    const c = await calibrate(DEFAULT_PROFILE);
    expect(c.txNs).toBe(800 + 4400 + 7 + 2315); // 64 B x 100 ps = 6.4 -> 7 ns of per-byte work
    expect(c.rxNs).toBe(2315 + 4407 + 1900 + 2 * 2700 + 20);
    expect(c.perTraversalNs).toBe(10782);
  });
});
