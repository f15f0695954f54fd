// The worst-case search's report: built from the runs in index order (never finishing order), so
// it is the same bytes whatever the worker count; written to DIR (worst.json, runs/NNNNNN.json)
// and merged back from shard directories into the report the unsharded search would write.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LATENCIES } from "./figures.js";
import { parseMetric, replayCommand, shardIndices, type Flags, type RunResult, type Search } from "./worst.js";

export interface SearchReport {
  search: Search;
  /** Present on a shard's report only (`k/n`). */
  shard?: string;
  /** Every run of this report, by index: the metric, its sample count and the trace digest. */
  runs: { index: number; value: number; count: number; sha256: string; driverDead?: string; error?: string }[];
  /** The runs with the highest metric, highest first (ties: lower index first). */
  top: { index: number; value: number; flags: Flags }[];
  worst: { index: number; value: number; sha256: string; command: string } | null;
}

const TOP = 10;

/** The report of `results` (any order in; sorted by index out). */
export function buildReport(search: Search, results: RunResult[], shard?: string): SearchReport {
  const byIndex = [...results].sort((a, b) => a.index - b.index);
  const ranked = [...byIndex].sort((a, b) => b.value - a.value || a.index - b.index);
  const w = ranked[0];
  const report: SearchReport = {
    search,
    runs: byIndex.map((r) => ({ index: r.index, value: r.value, count: r.count, sha256: r.sha256, ...(r.driverDead ? { driverDead: r.driverDead } : {}), ...(r.error ? { error: r.error } : {}) })),
    top: ranked.slice(0, TOP).map((r) => ({ index: r.index, value: r.value, flags: r.flags })),
    worst: w ? { index: w.index, value: w.value, sha256: w.sha256, command: replayCommand(w.flags) } : null,
  };
  return shard ? { search, shard, ...withoutSearch(report) } : report;
}

function withoutSearch(r: SearchReport): Omit<SearchReport, "search"> {
  const { search: _s, ...rest } = r;
  return rest;
}

/** The run file's name: the index, zero-padded, so a directory listing is in index order. */
export const runFile = (i: number): string => `${String(i).padStart(6, "0")}.json`;

export function writeRun(dir: string, r: RunResult): void {
  mkdirSync(join(dir, "runs"), { recursive: true });
  writeFileSync(join(dir, "runs", runFile(r.index)), JSON.stringify(r, null, 2) + "\n");
}

export function writeReport(dir: string, r: SearchReport): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "worst.json"), JSON.stringify(r, null, 2) + "\n");
}

/**
 * Merge shard directories (each written by `worst --shard k/n --out DIR`): the same search, every
 * index exactly once. Returns the unsharded report and every run, to be written to the output DIR.
 */
export function mergeShards(dirs: string[]): { report: SearchReport; results: RunResult[] } {
  if (dirs.length === 0) throw new Error("merge needs at least one shard directory");
  let search: Search | undefined;
  const results = new Map<number, RunResult>();
  for (const dir of dirs) {
    const file = join(dir, "worst.json");
    if (!existsSync(file)) throw new Error(`${dir}: no worst.json (write shards with worst --shard k/n --out DIR)`);
    const rep = JSON.parse(readFileSync(file, "utf8")) as SearchReport;
    if (search && JSON.stringify(search) !== JSON.stringify(rep.search)) throw new Error(`${dir}: a different search (${JSON.stringify(rep.search)} vs ${JSON.stringify(search)})`);
    search = rep.search;
    const runsDir = join(dir, "runs");
    const names = existsSync(runsDir) ? readdirSync(runsDir).filter((n) => /^\d{6}\.json$/.test(n)) : [];
    for (const name of names) {
      const r = JSON.parse(readFileSync(join(runsDir, name), "utf8")) as RunResult;
      const prev = results.get(r.index);
      if (prev && prev.sha256 !== r.sha256) throw new Error(`run ${r.index} differs between shards (trace ${prev.sha256} vs ${r.sha256})`);
      results.set(r.index, r);
    }
    for (const run of rep.runs) if (!results.has(run.index)) throw new Error(`${dir}: run ${run.index} is in worst.json but not in runs/`);
  }
  const missing = shardIndices(search!.runs).filter((i) => !results.has(i));
  if (missing.length > 0) throw new Error(`runs missing from the shards: ${missing.slice(0, 10).join(", ")}${missing.length > 10 ? ", ..." : ""} (${missing.length} of ${search!.runs})`);
  const all = [...results.values()].filter((r) => r.index < search!.runs);
  return { report: buildReport(search!, all), results: all };
}

/** The terminal summary (µs, 3 decimals = exact ns). */
export function formatReport(r: SearchReport): string {
  const us = (ns: number) => (ns / 1000).toFixed(3);
  const { figure, stat } = parseMetric(r.search.metric);
  const s = r.search;
  const vals = r.runs.map((x) => x.value).sort((a, b) => a - b);
  const q = (p: number) => (vals.length ? vals[Math.min(vals.length - 1, Math.floor((p / 100) * vals.length))] : 0);
  const empty = r.runs.filter((x) => x.count === 0).length;
  const dead = r.runs.filter((x) => x.driverDead).length;
  const failed = r.runs.filter((x) => x.error);
  const out = [
    `search      ${s.runs} runs${r.shard ? ` (shard ${r.shard}: ${r.runs.length} of them)` : ""}, seed ${s.seed}, profile ${s.profile}, ${s.duration} each; metric ${s.metric} (${LATENCIES[figure]}, ${stat})`,
    `metric (us) over runs: min ${us(q(0))}, p50 ${us(q(50))}, p90 ${us(q(90))}, max ${us(vals[vals.length - 1] ?? 0)}; ${empty} runs without a sample, ${dead} with the driver stopped`,
    "",
    `top ${r.top.length}        run  value (us)  flags`,
  ];
  for (const t of r.top) {
    const f = Object.fromEntries(t.flags);
    const brief = [f["--workload"], `${f["--rate"]}/s`, f["--size"], f["--direction"], f["--cpu"], f["--mode"] === "poll" ? `poll ${f["--poll-period"]}` : "irq", f["--link-flap"] ? `flap ${f["--link-flap"]}` : ""].filter(Boolean).join(" ");
    out.push(`  ${String(t.index).padStart(13)}  ${us(t.value).padStart(10)}  ${brief}`);
  }
  if (failed.length > 0) out.push("", `FAILED      ${failed.length} runs threw (host bugs): run ${failed[0].index}: ${failed[0].error}`);
  if (r.worst) {
    out.push("", `worst       run ${r.worst.index}: ${us(r.worst.value)} us, trace sha256 ${r.worst.sha256}`, `replay      ${r.worst.command}`);
  }
  return out.join("\n");
}
