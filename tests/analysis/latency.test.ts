// `virtio-rt latency`: figures that follow by arithmetic from the profile, poll mode, preemption in
// a real run, and byte-identical latency.json for the same arguments.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runLatency, type LatencyArgs } from "../../host/analysis/latency.js";
import { PROJECT_ROOT } from "../../host/paths.js";
import { DEFAULT_PROFILE, wireTimeNs } from "../../host/sim/profile.js";

// Instructions cost nothing here, so every figure is a sum of profile numbers.
const P = { ...DEFAULT_PROFILE, psPerInstruction: 0, copyPsPerByte: 0 };
const base: LatencyArgs = {
  profile: P, workload: "constant", rate: 1000, size: "fixed:100", direction: "rx", seed: 1,
  durationNs: 3_000_000, mode: "irq", pollPeriodNs: 50_000, meter: true,
};
const device = P.devicePerFrameNs + Math.ceil((100 * P.devicePerBytePs) / 1000); // 4400 + 10

describe("latency figures by arithmetic (default profile, instructions free)", () => {
  it("RX: frame at device -> net_input = host path + device work + IRQ delivery + ISR (InterruptStatus read, InterruptACK write, EOI)", async () => {
    const { report: r } = await runLatency(base);
    const isr = 2 * P.registerAccessNs + P.eoiNs; // 5420: virtio-mmio needs both accesses (row 16)
    const host = P.hostPathNs!; // 2315: tap, bridge and wake-ups on the host (docs/timing.md)
    expect(r.latencies.rxLatency).toMatchObject({ count: 3, min: host + device + P.irqDeliveryNs + isr, max: host + device + P.irqDeliveryNs + isr });
    expect(r.latencies.rxLatency.min).toBe(14_045);
    expect(r.latencies.irqToIsr).toMatchObject({ count: 3, min: 1900, p99: 1900, max: 1900 });
    expect(r.latencies.isrDuration).toMatchObject({ count: 3, min: 5420, p50: 5420, max: 5420 });
    expect(r.latencies.bottomHalfDelay).toMatchObject({ count: 3, max: 0 });
    expect(r.perFrame.rx).toMatchObject({ frames: 3, interrupts: 1, registerAccesses: 2, doorbells: 0, instructions: r.perFrame.rx.instructions });
    expect(r.perFrame.rx.instructions).toBeGreaterThan(100);
  });

  it("TX: transmit call -> last bit = doorbell exit + device work + host path + wire time; doorbell -> device = the doorbell cost", async () => {
    const { report: r } = await runLatency({ ...base, direction: "tx" });
    expect(wireTimeNs(P, 100)).toBe(100); // (100 + 24) x 8 bits at 10 Gbit/s = 99.2 ns, rounded up
    expect(r.latencies.txLatency).toMatchObject({ count: 3, min: P.doorbellNs + device + P.hostPathNs! + 100, max: 7625 });
    expect(r.latencies.notifyToSeen).toMatchObject({ count: 3, min: 800, max: 800 });
    expect(r.perFrame.tx.doorbells).toBe(1);
  });

  it("poll mode: no interrupt is taken, frames wait for the next poll of the period", async () => {
    const { report: r } = await runLatency({ ...base, mode: "poll", pollPeriodNs: 50_000 });
    expect(r.latencies.irqToIsr.count).toBe(0);
    expect(r.latencies.rxLatency.count).toBe(3);
    expect(r.latencies.rxLatency.min).toBeGreaterThanOrEqual(device);
    expect(r.latencies.rxLatency.max).toBeLessThanOrEqual(device + 50_000);
  });
});

describe("latency runs with the metered driver", () => {
  it("an ISR preempts transmit and poll at their HAL calls (nested entries) and the figures stay consistent", async () => {
    const { report: r, machine } = await runLatency({ ...base, profile: DEFAULT_PROFILE, workload: "poisson", rate: 300_000, size: "imix", direction: "both", durationNs: 2_000_000, record: true });
    let depth = 0;
    let nested = 0;
    for (const e of machine.trace.events) {
      if (e.k === "guest.enter") {
        if (depth > 0) {
          expect(e.fn).toBe("isr");
          nested++;
        }
        depth++;
      } else if (e.k === "guest.exit") depth--;
    }
    expect(nested).toBeGreaterThan(0);
    expect(r.latencies.irqToIsr.min).toBe(DEFAULT_PROFILE.irqDeliveryNs);
    expect(r.latencies.rxLatency.count + Object.values(r.drops.rx).reduce((a, b) => a + b, 0)).toBe(r.perFrame.rx.frames + Object.values(r.drops.rx).reduce((a, b) => a + b, 0));
    expect(r.latencies.txLatency.count).toBe(r.perFrame.tx.frames);
  });

  it("the same arguments give byte-identical latency.json", () => {
    const dir = mkdtempSync(join(tmpdir(), "virtio-rt-latency-"));
    const args = ["latency", "--workload", "burst:4/50us", "--size", "uniform:60-1514", "--duration", "1ms", "--seed", "7", "--link-flap", "400us/100us"];
    const run = (out: string) => spawnSync(process.execPath, [join(PROJECT_ROOT, "dist/host/cli.js"), ...args, "--out", out], { encoding: "utf8" });
    const a = run(join(dir, "a"));
    const b = run(join(dir, "b"));
    expect(a.status, a.stderr).toBe(0);
    expect(b.status).toBe(0);
    const ja = readFileSync(join(dir, "a", "latency.json"));
    expect(ja.equals(readFileSync(join(dir, "b", "latency.json")))).toBe(true);
    expect(a.stdout).toBe(b.stdout);
    const j = JSON.parse(ja.toString());
    expect(j.args).toMatchObject({ workload: "burst:4/50us", seed: 7, durationNs: 1_000_000, linkFlap: "400us/100us" });
    expect(a.stdout).toContain("IRQ raise -> ISR entry");
  });

  it("refuses bad arguments with one line", () => {
    const r = spawnSync(process.execPath, [join(PROJECT_ROOT, "dist/host/cli.js"), "latency", "--size", "fixed:9"], { encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe("virtio-rt: size fixed:9: frames are 18 to 1514 bytes\n");
  });
});
