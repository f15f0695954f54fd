// One run of the worst-case search (DESIGN.md, Measurement): run `i` of a search is a seeded
// variation of the `virtio-rt latency` flags (workload, rate, sizes, CPU speed, irq/poll, link
// flaps), run exactly as that command would run it, reduced to the searched metric. A pure
// function of (search, i), so the result does not depend on which worker or machine ran it.
import { parseDuration } from "../sim/clock.js";
import { Rng } from "../sim/rng.js";
import { runLatency } from "./latency.js";
import { LATENCIES, type LatencyName } from "./figures.js";
import { loadProfileByName, PROFILE_CPUS } from "./profiles.js";
import type { LatencySummary } from "./stats.js";
import { parseRate } from "./workload.js";

/** What every run of a search shares; `worst.json` carries it so shards can be checked and merged. */
export interface Search {
  runs: number;
  seed: number;
  profile: string;
  /** Virtual time each run's workload lasts, as the latency flag (e.g. `2ms`). */
  duration: string;
  metric: string;
}

/** A run's `virtio-rt latency` flags, in the order the replay command prints them. */
export type Flags = [flag: string, value: string][];

/** What a run reports back: written to DIR/runs/NNNNNN.json and summarised in worst.json. */
export interface RunResult {
  index: number;
  flags: Flags;
  /** The metric's value in ns (0 when the figure had no sample). */
  value: number;
  /** Samples behind the figure. */
  count: number;
  sha256: string;
  latencies: Record<LatencyName, Omit<LatencySummary, "histogram">>;
  perFrame: { tx: Record<string, number>; rx: Record<string, number> };
  drops: { rx: Record<string, number>; tx: Record<string, number>; stack: Record<string, number> };
  driverDead?: string;
  /** The run threw (a host bug, not a latency): the message; value, count and sha256 are empty. */
  error?: string;
}

export const METRIC_STATS = ["max", "p99_9", "p99", "p90", "p50", "mean"] as const;
type Stat = (typeof METRIC_STATS)[number];

/** `FIGURE[.STAT]`, e.g. `rxLatency.max` (the default), `irqToIsr.p99`; an Error names what exists. */
export function parseMetric(text: string): { figure: LatencyName; stat: Stat } {
  const [figure, stat = "max", ...rest] = text.split(".");
  if (rest.length > 0 || !(figure in LATENCIES) || !(METRIC_STATS as readonly string[]).includes(stat)) {
    throw new Error(`unknown metric ${JSON.stringify(text)}: FIGURE[.STAT], FIGURE one of ${Object.keys(LATENCIES).join(", ")}; STAT one of ${METRIC_STATS.join(", ")}`);
  }
  return { figure: figure as LatencyName, stat: stat as Stat };
}

/** The seed of run `i`'s variation: an integer hash of (search seed, i), so runs are independent. */
function runSeed(seed: number, i: number): number {
  let h = Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(i + 1, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

/** Run `i`'s flags: every value drawn from a generator seeded by (search seed, i). */
export function variation(s: Search, i: number): Flags {
  const r = new Rng(runSeed(s.seed, i));
  const pick = <T>(xs: readonly T[]): T => xs[r.int(0, xs.length - 1)];
  const durationNs = parseDuration(s.duration);
  // Workloads: steady, bursty, random, and overload (back to back at the link rate).
  const kind = pick(["constant", "poisson", "poisson", "burst", "saturate"] as const);
  const workload = kind === "burst" ? `burst:${r.int(2, 32)}/${r.int(10, 500)}us` : kind;
  // Rates from 1k to 300k frames per second each way, log-uniform.
  const rate = Math.round(1000 * Math.pow(300, r.float()));
  const sizeKind = pick(["fixed", "uniform", "imix"] as const);
  let size: string = "imix";
  if (sizeKind === "fixed") size = `fixed:${r.int(60, 1514)}`;
  if (sizeKind === "uniform") {
    const a = r.int(60, 1514);
    const b = r.int(60, 1514);
    size = `uniform:${Math.min(a, b)}-${Math.max(a, b)}`;
  }
  const direction = pick(["rx", "tx", "both", "both"] as const);
  // Profile knob: the guest CPU's speed, from a fast server core to a slow embedded one.
  const cpu = `${r.int(150, 1200)}ps`;
  const poll = r.int(0, 4) === 0;
  const flags: Flags = [
    ["--profile", s.profile],
    ["--cpu", cpu],
    ["--workload", workload],
    ["--rate", String(rate)],
    ["--size", size],
    ["--direction", direction],
    ["--seed", String(r.int(0, 0x7fffffff))],
    ["--duration", s.duration],
    ["--mode", poll ? "poll" : "irq"],
    ["--poll-period", `${poll ? r.int(5, 200) : 50}us`],
  ];
  // Fault timing: in one run out of three the link flaps, at a drawn period and outage.
  if (r.int(0, 2) === 0) {
    const everyUs = r.int(50, Math.max(51, Math.floor(durationNs / 1000)));
    flags.push(["--link-flap", `${everyUs}us/${r.int(1, Math.max(1, Math.floor(everyUs / 2)))}us`]);
  }
  return flags;
}

/** The shell command that replays a run (`virtio-rt latency` with the run's flags). */
export function replayCommand(flags: Flags): string {
  return ["virtio-rt latency", ...flags.map(([f, v]) => `${f} ${v}`)].join(" ");
}

/** Run `i` of the search, as `virtio-rt latency` with its flags would. */
export async function runOne(s: Search, i: number): Promise<RunResult> {
  const flags = variation(s, i);
  const f = Object.fromEntries(flags) as Record<string, string>;
  const { figure, stat } = parseMetric(s.metric);
  const cpu = f["--cpu"];
  const named = PROFILE_CPUS.includes(cpu);
  const profile = await loadProfileByName(f["--profile"], named ? cpu : undefined);
  let result;
  try {
    result = await runLatency({
    profile,
    cpu: named ? undefined : cpu,
    cpuName: cpu,
    workload: f["--workload"],
    rate: parseRate(f["--rate"]),
    size: f["--size"],
    direction: f["--direction"],
    seed: Number(f["--seed"]),
    durationNs: parseDuration(f["--duration"]),
    mode: f["--mode"] as "irq" | "poll",
    pollPeriodNs: parseDuration(f["--poll-period"]),
    meter: true,
    linkFlap: f["--link-flap"],
    });
  } catch (e) {
    return { index: i, flags, value: 0, count: 0, sha256: "", latencies: {} as RunResult["latencies"], perFrame: { tx: {}, rx: {} }, drops: { rx: {}, tx: {}, stack: {} }, error: (e as Error).message };
  }
  const { report } = result;
  const lat = report.latencies;
  const strip = Object.fromEntries(Object.entries(lat).map(([k, { histogram: _h, ...rest }]) => [k, rest])) as RunResult["latencies"];
  const out: RunResult = {
    index: i,
    flags,
    value: lat[figure][stat],
    count: lat[figure].count,
    sha256: report.trace.sha256,
    latencies: strip,
    perFrame: { tx: { ...report.perFrame.tx }, rx: { ...report.perFrame.rx } },
    drops: report.drops,
  };
  if (report.driverDead) out.driverDead = report.driverDead;
  return out;
}

/** `k/n` (1-based): this shard runs the indices i with i mod n = k - 1. */
export function parseShard(text: string): { k: number; n: number } {
  const m = /^(\d+)\/(\d+)$/.exec(text);
  const k = m ? Number(m[1]) : 0;
  const n = m ? Number(m[2]) : 0;
  if (!m || n < 1 || k < 1 || k > n) throw new Error(`--shard must be k/n with 1 <= k <= n, got ${JSON.stringify(text)}`);
  return { k, n };
}

/** The run indices of a shard (all of them without one), ascending. */
export function shardIndices(runs: number, shard?: { k: number; n: number }): number[] {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) if (!shard || i % shard.n === shard.k - 1) out.push(i);
  return out;
}
