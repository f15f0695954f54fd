// The latency run behind `virtio-rt latency`: a seeded workload through the metered driver on one
// machine, the figures collected from the trace, and a report whose JSON encoding is the same bytes
// for the same arguments on any machine (DESIGN.md, Measurement).
import { ABI_ERRNO } from "../gen/constants.js";
import { WorkloadBackend } from "../backends/workload.js";
import { Machine } from "../machine.js";
import { DEFAULT_PROFILE, type Profile, wireTimeNs } from "../sim/profile.js";
import { collectFigures, LATENCIES, type Figures, type PathCounts } from "./figures.js";
import { gapSampler, parseArrivals, parseDirection, parseLinkFlap, parseSizes, sizeSampler, streams, type Direction } from "./workload.js";

export interface LatencyArgs {
  profile: Profile;
  /** Override the profile's ps per instruction: `x86`, `cortex-a53`, or `<N>ps`. */
  cpu?: string;
  /** The CPU as the user named it, for the report (default: the override, else the profile's). */
  cpuName?: string;
  workload: string;
  /** Frames per second, each direction (constant, poisson). */
  rate: number;
  size: string;
  direction: string;
  seed: number;
  durationNs: number;
  mode: "irq" | "poll";
  pollPeriodNs: number;
  meter: boolean;
  /** `EVERY/DOWN`, see parseLinkFlap. */
  linkFlap?: string;
  /** Keep the trace events in memory. */
  record?: boolean;
  /** Called with the machine before attach: trace consumers subscribe here (DIR/trace.json, trace.vcd). */
  observe?: (m: Machine) => void;
}

/** Guest CPU models: ps per Wasm instruction (timing-sources.md section 2, "Guest CPU time per instruction"). */
export const CPUS: Record<string, number> = { x86: 270, "cortex-a53": 1000 };

/** Virtual time after the workload's end for the last frames to drain. */
export const DRAIN_NS = 10_000_000;
/** Frames the stack holds for transmit while the ring is full; more are dropped (`drops.stack`). */
export const STACK_QUEUE = 1024;
/** The stack retries a transmit refused with ENOBUFS after this long. */
export const TX_RETRY_NS = 10_000;

export interface PerFrame {
  frames: number;
  doorbells: number;
  registerAccesses: number;
  interrupts: number;
  instructions: number;
}

export interface LatencyReport {
  args: Record<string, string | number | boolean>;
  profile: Profile;
  window: { startNs: number; endNs: number; virtualTimeNs: number };
  latencies: Figures["latencies"];
  /** Totals divided by the path's frames, to 3 decimals. */
  perFrame: { tx: PerFrame; rx: PerFrame };
  totals: { tx: PathCounts; rx: PathCounts; otherInterrupts: PathCounts };
  drops: Figures["drops"];
  refusals: Figures["refusals"];
  trace: { events: number; sha256: string };
  driverDead?: string;
}

export function cpuPsPerInstruction(cpu: string): number {
  if (cpu in CPUS) return CPUS[cpu];
  const m = /^(\d+)ps$/.exec(cpu);
  if (m && Number(m[1]) > 0) return Number(m[1]);
  throw new Error(`unknown cpu ${JSON.stringify(cpu)} (${Object.keys(CPUS).join(", ")}, or <N>ps per instruction)`);
}

export async function runLatency(a: LatencyArgs): Promise<{ report: LatencyReport; machine: Machine }> {
  const profile: Profile = a.cpu ? { ...a.profile, psPerInstruction: cpuPsPerInstruction(a.cpu) } : a.profile;
  const arrivals = parseArrivals(a.workload, a.rate);
  const sizes = parseSizes(a.size);
  const dir: Direction = parseDirection(a.direction);
  const flap = a.linkFlap ? parseLinkFlap(a.linkFlap) : undefined;
  const rng = streams(a.seed);
  let backend!: WorkloadBackend;
  const m = await Machine.create({
    profile,
    seed: a.seed,
    meter: a.meter,
    mode: a.mode,
    pollPeriodNs: a.pollPeriodNs,
    record: a.record,
    backend: (clock) => (backend = new WorkloadBackend(clock)),
  });
  a.observe?.(m);
  const dev = m.attach();
  const finish = collectFigures(m.trace);
  const start = m.clock.now;
  const end = start + a.durationNs;
  const wire = (n: number) => wireTimeNs(profile, n);
  if (dev >= 0) {
    if (dir !== "tx") {
      const size = sizeSampler(sizes, rng.rxSizes);
      backend.begin({ start, end, size, gap: gapSampler(arrivals, rng.rxGaps, wire), payload: rng.payload });
    }
    if (dir !== "rx") startStack(m, { start, end, size: sizeSampler(sizes, rng.txSizes), gap: gapSampler(arrivals, rng.txGaps, wire), payload: rng.payload });
    if (flap) {
      for (let t = start + flap.everyNs; t < end; t += flap.everyNs) {
        m.clock.at(t, () => m.net.setLink(false));
        m.clock.at(t + flap.downNs, () => m.net.setLink(true));
      }
    }
    if (a.mode === "poll") m.startPolling(end + DRAIN_NS);
    m.runUntil(end + DRAIN_NS);
  }
  const f = finish();
  const report: LatencyReport = {
    args: {
      profile: a.profile.name,
      cpu: a.cpuName ?? a.cpu ?? profile.cpu ?? "profile",
      psPerInstruction: profile.psPerInstruction,
      workload: a.workload,
      rate: a.rate,
      size: a.size,
      direction: dir,
      seed: a.seed,
      durationNs: a.durationNs,
      mode: a.mode,
      pollPeriodNs: a.pollPeriodNs,
      meter: a.meter,
      linkFlap: a.linkFlap ?? "none",
    },
    profile,
    window: { startNs: start, endNs: end, virtualTimeNs: m.clock.now },
    latencies: f.latencies,
    perFrame: { tx: perFrame(f.paths.tx), rx: perFrame(f.paths.rx) },
    totals: { tx: f.paths.tx, rx: f.paths.rx, otherInterrupts: f.otherInterrupts },
    drops: f.drops,
    refusals: f.refusals,
    trace: { events: m.trace.count, sha256: m.trace.digest() },
  };
  if (m.dead) report.driverDead = m.dead;
  if (dev < 0) report.driverDead = `attach returned ${dev}`;
  return { report, machine: m };
}

function perFrame(p: PathCounts): PerFrame {
  const r = (n: number) => (p.frames === 0 ? 0 : Math.round((n * 1000) / p.frames) / 1000);
  return { frames: p.frames, doorbells: r(p.doorbells), registerAccesses: r(p.registerAccesses), interrupts: r(p.interrupts), instructions: r(p.instructions) };
}

/**
 * The TX side of the workload: a stack that hands each frame to `transmit` when it falls due (once
 * the guest is idle), holds frames while the ring is full (retrying after TX_RETRY_NS) or the link
 * is down (until the driver reports it up), and drops beyond STACK_QUEUE.
 */
function startStack(m: Machine, s: { start: number; end: number; size: () => number; gap: (n: number) => number; payload: import("../sim/rng.js").Rng }): void {
  const queue: Uint8Array[] = [];
  let seq = 0;
  let waiting = false;
  let linkWait = false;
  // Not re-entered: a pump queued while a transmit entry runs is drained when that entry returns,
  // inside this loop, which goes on anyway (re-entering sent queue[0] twice and recursed without bound).
  let pumping = false;
  const pump = () => {
    if (pumping) return;
    pumping = true;
    try {
      while (queue.length > 0 && !m.dead && !linkWait) {
        const r = m.transmit(queue[0]);
        if (r === -ABI_ERRNO.ENOBUFS) {
          retry(TX_RETRY_NS);
          return;
        }
        if (r === -ABI_ERRNO.ENETDOWN) {
          linkWait = true;
          return;
        }
        queue.shift(); // sent, or refused for good (counted from the trace's net.transmit)
      }
    } finally {
      pumping = false;
    }
  };
  const retry = (delay: number) => {
    if (waiting) return;
    waiting = true;
    m.clock.after(delay, () => m.cpu.whenIdle(() => {
      waiting = false;
      pump();
    }));
  };
  const prevLink = m.onLink;
  m.onLink = (dev, up) => {
    prevLink(dev, up);
    if (up && linkWait) {
      linkWait = false;
      retry(0);
    }
  };
  const due = () => {
    const size = s.size();
    const f = new Uint8Array(size);
    f.set([0x02, 0, 0, 0, 0, 0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x88, 0xb5], 0);
    new DataView(f.buffer).setUint32(14, seq++, false);
    s.payload.bytes(f.subarray(18));
    if (queue.length >= STACK_QUEUE) m.trace.emit({ t: m.clock.now, k: "stack.drop", len: size, reason: "queue-full" });
    else queue.push(f);
    m.cpu.whenIdle(pump);
    const next = m.clock.now + s.gap(size);
    if (next < s.end) m.clock.at(next, due);
  };
  m.clock.at(s.start, due);
}

/** The report's table: one row per latency (µs, 3 decimals = exact ns), then per-frame work and drops. */
export function formatReport(r: LatencyReport): string {
  const us = (ns: number) => (ns / 1000).toFixed(3);
  const head = ["latency (us)", "count", "min", "p50", "p90", "p99", "p99.9", "max"];
  const rows = Object.entries(LATENCIES).map(([k, label]) => {
    const s = r.latencies[k as keyof typeof LATENCIES];
    return [label, String(s.count), us(s.min), us(s.p50), us(s.p90), us(s.p99), us(s.p99_9), us(s.max)];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  const a = r.args;
  const out = [
    `profile ${a.profile}, cpu ${a.cpu} (${a.psPerInstruction} ps/instruction${a.meter ? "" : ", NOT metered"}), ${a.workload} ${a.rate}/s, size ${a.size}, ${a.direction}, ${a.mode}${a.mode === "poll" ? ` every ${a.pollPeriodNs} ns` : ""}, seed ${a.seed}, ${a.durationNs} ns`,
    line(head),
    ...rows.map(line),
    "",
    "per frame        frames  doorbells  reg.accesses  interrupts  instructions",
  ];
  for (const dir of ["tx", "rx"] as const) {
    const p = r.perFrame[dir];
    out.push(`${dir.toUpperCase().padEnd(15)} ${String(p.frames).padStart(7)}  ${p.doorbells.toFixed(3).padStart(9)}  ${p.registerAccesses.toFixed(3).padStart(12)}  ${p.interrupts.toFixed(3).padStart(10)}  ${p.instructions.toFixed(3).padStart(12)}`);
  }
  const fmt = (d: Record<string, number>) => Object.entries(d).map(([k, v]) => `${k} ${v}`).join(", ") || "none";
  out.push("", `drops           rx: ${fmt(r.drops.rx)}; tx: ${fmt(r.drops.tx)}; stack: ${fmt(r.drops.stack)}`);
  out.push(`refused         ${fmt(r.refusals)} (transmit calls; the stack held and retried ENOBUFS / ENETDOWN)`);
  out.push(`trace           ${r.trace.events} events, sha256 ${r.trace.sha256}`);
  if (r.driverDead) out.push(`driver          STOPPED: ${r.driverDead}`);
  return out.join("\n");
}

export { DEFAULT_PROFILE };
