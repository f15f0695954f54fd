// `virtio-rt worst` (a seeded worst-case latency search on a worker pool, or one shard of it) and
// `virtio-rt merge` (shard directories into the report the unsharded search writes).
import { availableParallelism } from "node:os";
import { performance } from "node:perf_hooks";
import { type Command } from "commander";
import { parseDuration } from "../sim/clock.js";
import { loadProfileByName } from "../analysis/profiles.js";
import { buildReport, formatReport, mergeShards, writeReport, writeRun, type SearchReport } from "../analysis/worst-report.js";
import { parseMetric, parseShard, shardIndices, type RunResult, type Search } from "../analysis/worst.js";
import { runSearch } from "../analysis/worst-pool.js";
import { fail, intArg } from "./common.js";
import { wallMs } from "../wall-clock.js";

interface Opts {
  runs: number;
  workers: number;
  shard?: string;
  metric: string;
  out?: string;
  seed: number;
  profile: string;
  duration: string;
  json?: boolean;
}

export function registerWorst(program: Command): void {
  program
    .command("worst")
    .description("search seeded variations of the latency workload for the worst figure; print the run and the command that replays it")
    .option("--runs <N>", "runs in the search", intArg("--runs", 10_000_000), 100)
    .option("--workers <W>", "worker threads (1: run in this thread)", intArg("--workers", 256), Math.max(1, availableParallelism()))
    .option("--shard <k/n>", "run only shard k of n (indices i with i mod n = k - 1); needs --out, combine with `merge`")
    .option("--metric <M>", "FIGURE[.STAT]: irqToIsr, isrDuration, maskedWindow, bottomHalfDelay, rxLatency, txLatency, notifyToSeen; max, p99_9, p99, p90, p50, mean", "rxLatency.max")
    .option("--out <DIR>", "write DIR/worst.json and every run's figures to DIR/runs/")
    .option("--seed <S>", "seed of the search (each run's variation derives from it and the run index)", intArg("--seed", 0xffffffff), 1)
    .option("--profile <P>", "the profile every run uses (default, qemu-kvm, ..., FILE.json)", "default")
    .option("--duration <T>", "virtual time of each run's workload", "2ms")
    .option("--json", "print worst.json instead of the summary")
    .action(async (o: Opts) => {
      let shard: { k: number; n: number } | undefined;
      try {
        parseMetric(o.metric);
        if (!(parseDuration(o.duration) > 0)) throw new Error("--duration must be above 0");
        await loadProfileByName(o.profile);
        if (o.shard !== undefined) shard = parseShard(o.shard);
      } catch (e) {
        fail((e as Error).message);
      }
      if (shard && !o.out) fail("--shard needs --out DIR (merge the shard directories with `virtio-rt merge`)");
      if (o.runs < 1) fail("--runs must be at least 1");
      const search: Search = { runs: o.runs, seed: o.seed, profile: o.profile, duration: o.duration, metric: o.metric };
      const indices = shardIndices(o.runs, shard);
      const started = wallMs();
      const results = await runAll(search, indices, Math.max(1, o.workers), o.out);
      const report = buildReport(search, results, o.shard);
      finish(report, o.out, o.json);
      process.stderr.write(`virtio-rt: ${indices.length} runs in ${((wallMs() - started) / 1000).toFixed(1)} s on ${Math.max(1, o.workers)} worker${o.workers > 1 ? "s" : ""}\n`);
    });

  program
    .command("merge")
    .description("combine the directories of `worst --shard k/n --out DIR` into the unsharded search's report")
    .argument("<DIR...>", "shard directories")
    .option("--out <DIR>", "write the merged worst.json and runs/ here")
    .option("--json", "print worst.json instead of the summary")
    .action((dirs: string[], o: { out?: string; json?: boolean }) => {
      let merged;
      try {
        merged = mergeShards(dirs);
      } catch (e) {
        fail((e as Error).message);
      }
      if (o.out) for (const r of merged.results) writeRun(o.out, r);
      finish(merged.report, o.out, o.json);
    });
}

function finish(report: SearchReport, out: string | undefined, json: boolean | undefined): void {
  try {
    if (out) writeReport(out, report);
  } catch (e) {
    fail(`cannot write: ${(e as Error).message}`);
  }
  process.stdout.write(json ? JSON.stringify(report, null, 2) + "\n" : formatReport(report) + "\n");
}

/** Every index on the pool; each run's figures are written as it lands, the progress shown. */
async function runAll(search: Search, indices: number[], workers: number, out: string | undefined): Promise<RunResult[]> {
  const progress = new Progress(indices.length);
  const results = await runSearch(search, indices, workers, (r) => {
    if (out) writeRun(out, r);
    progress.tick(r.value);
  });
  progress.end();
  return results;
}

/** A progress bar on stderr, only when stderr is a terminal (wall time is for display only). */
class Progress {
  private n = 0;
  private worst = 0;
  private last = 0;
  private readonly tty = process.stderr.isTTY === true;
  private readonly t0 = wallMs();
  constructor(private readonly total: number) {}

  tick(value: number): void {
    this.n++;
    this.worst = Math.max(this.worst, value);
    const now = wallMs();
    if (!this.tty || (now - this.last < 100 && this.n < this.total)) return;
    this.last = now;
    const width = 30;
    const fill = Math.round((this.n / this.total) * width);
    const eta = this.n > 0 ? ((now - this.t0) / this.n) * (this.total - this.n) / 1000 : 0;
    process.stderr.write(`\r[${"#".repeat(fill)}${".".repeat(width - fill)}] ${this.n}/${this.total} runs, worst ${(this.worst / 1000).toFixed(3)} us, ${eta.toFixed(0)} s left `);
  }

  end(): void {
    if (this.tty) process.stderr.write("\n");
  }
}
