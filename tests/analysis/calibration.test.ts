// Calibration: per profile, the simulated overhead of one packet traversal beside the sourced
// figure (timing-sources.md section 2), asserted within 10%. Profiles whose cost model does not
// reach their target yet are pinned at their current figure in OUTSIDE_10_PERCENT, so a change
// to their numbers shows here (docs/timing.md, Calibration).
import { describe, expect, it } from "vitest";
import { calibrate, CALIBRATION_TARGETS_NS } from "../../host/analysis/calibration.js";
import { loadProfileByName, profileNames } from "../../host/analysis/profiles.js";
import { DEFAULT_PROFILE } from "../../host/sim/profile.js";

/**
 * Simulated ns per traversal of the profiles that land outside 10% today. The model charges, per
 * traversal, one doorbell, the device work, one interrupt delivery, EOI and the transport's ISR
 * register exits; the sourced totals also hold a backend wake-up share (vhost worker / irqfd, the
 * 3.7 µs non-backend part of row 33's 8.1 µs) that no profile number models yet.
 */
const OUTSIDE_10_PERCENT: Record<string, number> = {
  default: 5767,
  "qemu-kvm": 5767,
  firecracker: 11_467,
  "cloud-hypervisor": 5167,
  "rtems-pc386": 7507,
};

const names = await profileNames();

describe("calibration against sourced per-traversal overheads", () => {
  it.each(names.map((n) => [n]))("%s", async (name) => {
    const c = await calibrate(await loadProfileByName(name));
    const target = CALIBRATION_TARGETS_NS[name];
    console.log(`calibration ${name}: TX ${c.txNs} ns, RX ${c.rxNs} ns, per traversal ${c.perTraversalNs} ns; sourced ${target ?? "none"} ns${c.error === undefined ? "" : ` (${(c.error * 100).toFixed(1)}%)`}`);
    if (target === undefined) return; // no sourced overhead to hold it to (qemu-virt)
    if (name in OUTSIDE_10_PERCENT) {
      expect(c.perTraversalNs).toBe(OUTSIDE_10_PERCENT[name]);
      expect(Math.abs(c.error!)).toBeGreaterThan(0.1); // when it lands inside, move it out of the list
    } else {
      expect(Math.abs(c.error!)).toBeLessThanOrEqual(0.1);
    }
  });

  it("built-in DEFAULT_PROFILE on virtio-mmio: TX = doorbell + device work, RX = device work + IRQ delivery + 2 register accesses + EOI", async () => {
    const c = await calibrate(DEFAULT_PROFILE);
    expect(c.txNs).toBe(800 + 4400 + 7); // 64 B x 100 ps = 6.4 -> 7 ns of per-byte work
    expect(c.rxNs).toBe(4407 + 1900 + 2 * 2700 + 20);
    expect(c.perTraversalNs).toBe(8467);
  });
});
