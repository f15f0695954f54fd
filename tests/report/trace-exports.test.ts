// DIR/trace.json (Chrome trace events for Perfetto) and DIR/trace.vcd (waveforms) from a latency
// run: the expected event kinds, flows that span the measured latencies, and VCD value changes at
// the virtual times of the trace events behind them.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../host/paths.js";
import { runLatency, type LatencyArgs } from "../../host/analysis/latency.js";
import { collectChromeTrace, type ChromeEvent } from "../../host/report/chrome-trace.js";
import { collectVcd } from "../../host/report/vcd.js";
import type { Machine } from "../../host/machine.js";
import { DEFAULT_PROFILE } from "../../host/sim/profile.js";

const args: LatencyArgs = {
  profile: DEFAULT_PROFILE, workload: "poisson", rate: 200_000, size: "imix", direction: "both", seed: 2,
  durationNs: 2_000_000, mode: "irq", pollPeriodNs: 50_000, meter: true, linkFlap: "800us/100us", record: true,
};

// One run for both tests.
let cached: ReturnType<typeof build> | undefined;
const exported = () => (cached ??= build());

async function build() {
  let chrome!: ReturnType<typeof collectChromeTrace>;
  let vcd!: ReturnType<typeof collectVcd>;
  const { report, machine } = await runLatency({ ...args, observe: (m: Machine) => ((chrome = collectChromeTrace(m.trace)), (vcd = collectVcd(m.trace))) });
  return { report, events: machine.trace.events, json: JSON.parse(JSON.stringify(chrome())) as { traceEvents: ChromeEvent[]; displayTimeUnit: string }, vcd: vcd() };
}

describe("trace.json (Chrome trace event format)", () => {
  it("holds guest entries nested properly, masked windows, device work, doorbells, interrupts and frame flows", async () => {
    const { report, events, json } = await exported();
    const ev = json.traceEvents;
    expect(json.displayTimeUnit).toBe("ns");
    const names = new Set(ev.filter((e) => e.ph === "M").map((e) => (e.args as { name: string }).name));
    expect(names).toEqual(new Set(["guest", "virtio-net device", "vCPU (guest entries)", "interrupts masked", "device work: queue 0 (RX)", "device work: queue 1 (TX)", "doorbells", "interrupt line", "frames arriving", "frames leaving", "link"]));
    // B/E on the vCPU nest like the guest's entries: an ISR inside a transmit or poll at least once.
    const stack: string[] = [];
    let nestedIsr = 0;
    for (const e of ev.filter((x) => x.ph === "B" || x.ph === "E")) {
      if (e.ph === "B") {
        if (stack.length > 0 && e.name === "isr") nestedIsr++;
        stack.push(e.name);
      } else expect(stack.pop()).toBe(e.name);
    }
    expect(stack).toEqual([]);
    expect(nestedIsr).toBeGreaterThan(0);
    expect(ev.filter((e) => e.ph === "B").length).toBe(events.filter((e) => e.k === "guest.enter").length);
    expect(ev.filter((e) => e.ph === "X" && e.name === "interrupts masked").length).toBe(report.latencies.maskedWindow.count);
    expect(ev.filter((e) => e.ph === "X" && e.cat === "device" && e.tid === 11).length).toBeGreaterThan(0);
    expect(ev.filter((e) => e.ph === "i" && e.name === "doorbell q1").length).toBe(events.filter((e) => e.k === "notify" && e.q === 1).length);
    expect(ev.filter((e) => e.ph === "i" && e.name.startsWith("irq raise")).length).toBe(events.filter((e) => e.k === "irq.raise").length);
    expect(ev.filter((e) => e.ph === "i" && e.name === "link down").length).toBe(2);
    // Every frame is one flow: RX from arrival to net_input, TX from transmit to the last bit;
    // the longest of each equals the measured maximum latency.
    const starts = new Map(ev.filter((e) => e.ph === "s").map((e) => [e.id as number, e.ts]));
    const spans = ev.filter((e) => e.ph === "f").map((e) => ({ id: e.id as number, ns: Math.round((e.ts - starts.get(e.id as number)!) * 1000) }));
    expect(spans.filter((s) => s.id % 2 === 0).length).toBe(report.latencies.rxLatency.count);
    expect(Math.max(...spans.filter((s) => s.id % 2 === 0).map((s) => s.ns))).toBe(report.latencies.rxLatency.max);
    expect(Math.max(...spans.filter((s) => s.id % 2 === 1).map((s) => s.ns))).toBe(report.latencies.txLatency.max);
  });
});

describe("trace.vcd", () => {
  it("has a valid header and changes each signal at the virtual time of its trace event", async () => {
    const { events, vcd } = await exported();
    const lines = vcd.split("\n");
    expect(lines.slice(0, 3)).toEqual(["$version virtio-rt trace.vcd (virtual time) $end", "$timescale 1ns $end", "$scope module virtio_rt $end"]);
    const ids = new Map<string, string>();
    for (const l of lines) {
      const m = /^\$var (wire|reg|integer) (\d+) (\S+) (\S+) \$end$/.exec(l);
      if (m) ids.set(m[3], m[4]);
    }
    expect([...ids.values()]).toEqual(expect.arrayContaining(["link", "device_status", "in_isr", "irq_masked", "rx_pending", "tx_inflight", "doorbell_q0", "doorbell_q1", "q0_held", "q1_held"]));
    const irq = `irq_${events.find((e) => e.k === "irq")!.line}`;
    expect([...ids.values()]).toContain(irq);
    const body = lines.indexOf("$enddefinitions $end");
    expect(body).toBeGreaterThan(0);
    // Parse the changes: signal name -> [time, value].
    const changes = new Map<string, [number, number][]>();
    let t = -1;
    for (const l of lines.slice(body + 1)) {
      if (l.startsWith("#")) {
        const next = Number(l.slice(1));
        expect(next).toBeGreaterThan(t);
        t = next;
        continue;
      }
      const m = /^(?:([01])(\S+)|b([01]+) (\S+))$/.exec(l);
      if (!m) continue;
      const name = ids.get(m[2] ?? m[4])!;
      if (!changes.has(name)) changes.set(name, []);
      changes.get(name)!.push([t, m[1] !== undefined ? Number(m[1]) : parseInt(m[3], 2)]);
    }
    const at = (name: string, v: number) => changes.get(name)!.filter(([, x]) => x === v).map(([time]) => time);
    const times = (pred: (e: (typeof events)[number]) => boolean) => [...new Set(events.filter(pred).map((e) => e.t))];
    expect(at(irq, 1)).toEqual(times((e) => e.k === "irq" && e.level === true));
    expect(at(irq, 0).slice(1)).toEqual(times((e) => e.k === "irq" && e.level === false));
    expect(at("doorbell_q1", 1)).toEqual(times((e) => e.k === "notify" && e.q === 1));
    expect(at("link", 0)).toEqual(times((e) => e.k === "link" && e.up === false));
    expect(at("link", 0)).toEqual([events.find((e) => e.k === "link")!.t, expect.any(Number)]);
    const status = events.filter((e) => e.k === "status");
    expect(changes.get("device_status")!.slice(-1)[0]).toEqual([status[status.length - 1].t, 15]);
    const firstArrive = events.find((e) => e.k === "frame.arrive")!;
    expect(changes.get("rx_pending")![1]).toEqual([firstArrive.t, 1]);
  });
});

describe("virtio-rt latency --out DIR", () => {
  it("writes trace.json and trace.vcd beside latency.json", () => {
    const dir = mkdtempSync(join(tmpdir(), "virtio-rt-exports-"));
    const r = spawnSync(process.execPath, [join(PROJECT_ROOT, "dist/host/cli.js"), "latency", "--duration", "200us", "--out", dir], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const json = JSON.parse(readFileSync(join(dir, "trace.json"), "utf8"));
    expect(json.traceEvents.some((e: ChromeEvent) => e.ph === "B" && e.name === "attach")).toBe(true);
    const vcd = readFileSync(join(dir, "trace.vcd"), "utf8");
    expect(vcd).toMatch(/^\$version virtio-rt trace.vcd \(virtual time\) \$end\n\$timescale 1ns \$end\n/);
    expect(vcd).toContain("$enddefinitions $end\n#0\n$dumpvars\n");
  });
});
