// `virtio-rt worst` and `merge`: the same search gives the same bytes with 1 and 4 workers and as
// 3 merged shards, and the printed replay command reproduces the worst figure.
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../host/paths.js";
import { parseMetric, shardIndices, variation, type Search } from "../../host/analysis/worst.js";
import { buildReport, formatReport, mergeShards, writeReport, writeRun } from "../../host/analysis/worst-report.js";
import { runSearch } from "../../host/analysis/worst-pool.js";

const run = promisify(execFile);
const cli = join(PROJECT_ROOT, "dist/host/cli.js");
const SEARCH = ["worst", "--runs", "9", "--duration", "300us", "--seed", "5"];

/** Every file under `dir`, relative path -> bytes. */
function tree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) {
      const p = join(e.parentPath, e.name);
      out.set(p.slice(dir.length), readFileSync(p, "utf8"));
    }
  }
  return out;
}

describe("worst-case search variations", () => {
  const s: Search = { runs: 30, seed: 5, profile: "default", duration: "300us", metric: "rxLatency.max" };

  it("a run's flags depend only on the search and the index", () => {
    expect(variation(s, 7)).toEqual(variation({ ...s }, 7));
    expect(variation(s, 7)).not.toEqual(variation(s, 8));
    expect(variation({ ...s, seed: 6 }, 7)).not.toEqual(variation(s, 7));
    const f = Object.fromEntries(variation(s, 3));
    expect(f["--profile"]).toBe("default");
    expect(f["--duration"]).toBe("300us");
    expect(f["--cpu"]).toMatch(/^\d+ps$/);
  });

  it("shards partition the indices; metrics name a figure and a statistic", () => {
    const parts = [1, 2, 3].map((k) => shardIndices(10, { k, n: 3 }));
    expect(parts).toEqual([[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]);
    expect(parseMetric("irqToIsr.p99")).toEqual({ figure: "irqToIsr", stat: "p99" });
    expect(parseMetric("txLatency")).toEqual({ figure: "txLatency", stat: "max" });
    expect(() => parseMetric("rxLatency.p42")).toThrow(/unknown metric/);
  });
});

describe("virtio-rt worst", () => {
  it("1 worker, 4 workers and 3 merged shards give identical reports; the replay command reproduces the worst", async () => {
    const dir = mkdtempSync(join(tmpdir(), "virtio-rt-worst-"));
    const d = (n: string) => join(dir, n);
    // One worker and the three shards in this process (as the command runs them), then the CLI.
    const search: Search = { runs: 9, seed: 5, profile: "default", duration: "300us", metric: "rxLatency.max" };
    const all = await runSearch(search, shardIndices(9), 1, (r) => writeRun(d("w1"), r));
    writeReport(d("w1"), buildReport(search, all));
    for (const k of [1, 2, 3]) {
      const rs = await runSearch(search, shardIndices(9, { k, n: 3 }), 1, (r) => writeRun(d(`s${k}`), r));
      writeReport(d(`s${k}`), buildReport(search, rs, `${k}/3`));
    }
    const w1 = tree(d("w1"));
    const report = JSON.parse(w1.get("/worst.json")!);
    const argv = report.worst.command.split(" ").slice(1);
    const [four, merged, replay] = await Promise.all([
      run(process.execPath, [cli, ...SEARCH, "--workers", "4", "--out", d("w4")]),
      run(process.execPath, [cli, "merge", d("s1"), d("s2"), d("s3"), "--out", d("m")]),
      run(process.execPath, [cli, ...argv, "--json"]),
    ]);

    expect(four.stdout).toBe(formatReport(report) + "\n");
    expect(merged.stdout).toBe(four.stdout);
    expect([...w1.keys()].sort()).toEqual(["/runs/000000.json", "/runs/000001.json", "/runs/000002.json", "/runs/000003.json", "/runs/000004.json", "/runs/000005.json", "/runs/000006.json", "/runs/000007.json", "/runs/000008.json", "/worst.json"]);
    expect(tree(d("w4"))).toEqual(w1);
    expect(tree(d("m"))).toEqual(w1);
    // A shard's own report names its shard and holds only its runs.
    const s2 = JSON.parse(readFileSync(join(d("s2"), "worst.json"), "utf8"));
    expect(s2.shard).toBe("2/3");
    expect(s2.runs.map((r: { index: number }) => r.index)).toEqual([1, 4, 7]);
    expect(() => mergeShards([d("s1"), d("s3")])).toThrow(/runs missing from the shards: 1, 4, 7 \(3 of 9\)/);

    expect(report.runs).toHaveLength(9);
    const values = report.runs.map((r: { value: number }) => r.value);
    expect(report.worst.value).toBe(Math.max(...values));
    expect(report.worst.value).toBeGreaterThan(0);
    expect(four.stdout).toContain(`replay      ${report.worst.command}`);

    // Replay: the printed command, as `virtio-rt latency --json`, gives the same figure and trace.
    expect(argv[0]).toBe("latency");
    const r = JSON.parse(replay.stdout);
    expect(r.latencies.rxLatency.max).toBe(report.worst.value);
    expect(r.trace.sha256).toBe(report.worst.sha256);
  });
});
