// `npm run digests`: recompute the pinned trace digests of tests/e2e/digests.json. For each one
// that moved, build the previous commit in a scratch worktree, run the same scenario there and
// here with --trace, and print the first event where the two traces part, so a reviewer sees
// what changed. Then write the new digests.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseScenario } from "../analysis/scenario.js";
import { runScenario } from "../analysis/run.js";
import { PROJECT_ROOT } from "../paths.js";
import { diffTraces, formatDiff } from "../report/trace-diff.js";
import { DIGESTS_FILE, pinnedCliArgs, pinnedMachineOptions, type PinnedDigest } from "./digests-file.js";


async function main(): Promise<void> {
  const pinned: PinnedDigest[] = JSON.parse(readFileSync(DIGESTS_FILE, "utf8"));
  const moved: PinnedDigest[] = [];
  for (const p of pinned) {
    const { summary } = await runScenario(parseScenario(p.scenario, p.name), pinnedMachineOptions(p));
    if (summary.traceDigest === p.digest) {
      console.log(`${p.name}: unchanged`);
      continue;
    }
    console.log(`${p.name}: ${p.digest.slice(0, 12)}… -> ${summary.traceDigest.slice(0, 12)}…`);
    moved.push(p);
    p.digest = summary.traceDigest;
  }
  if (moved.length > 0 && !process.argv.includes("--no-diff")) explain(moved);
  writeFileSync(DIGESTS_FILE, JSON.stringify(pinned, null, 2) + "\n");
  console.log(moved.length ? `wrote ${moved.length} new digest(s) to ${DIGESTS_FILE}` : "no digest moved");
}

/** Run each moved scenario on HEAD's build and on the working tree, and print the first difference. */
function explain(moved: PinnedDigest[]): void {
  const scratch = mkdtempSync(join(tmpdir(), "virtio-rt-digests-"));
  const tree = join(scratch, "head");
  try {
    execFileSync("git", ["worktree", "add", "--detach", tree, "HEAD"], { cwd: PROJECT_ROOT, stdio: "ignore" });
    symlinkSync(join(PROJECT_ROOT, "node_modules"), join(tree, "node_modules"), "dir");
    execFileSync("npm", ["run", "build", "--silent"], { cwd: tree, stdio: "ignore" });
    for (const p of moved) {
      const file = join(scratch, `${p.name}.json`);
      writeFileSync(file, JSON.stringify(p.scenario));
      const before = join(scratch, `${p.name}.head.jsonl`);
      const after = join(scratch, `${p.name}.work.jsonl`);
      run(join(tree, "dist/host/cli.js"), file, before, pinnedCliArgs(p));
      run(join(PROJECT_ROOT, "dist/host/cli.js"), file, after, pinnedCliArgs(p));
      void diffTraces(before, after).then((d) => console.log(`\n${p.name}:\n${formatDiff(d, "HEAD", "working tree")}`));
    }
  } catch (e) {
    console.log(`(could not build HEAD to show the trace diff: ${(e as Error).message.split("\n")[0]})`);
  } finally {
    process.on("exit", () => {
      try {
        execFileSync("git", ["worktree", "remove", "--force", tree], { cwd: PROJECT_ROOT, stdio: "ignore" });
      } catch {
        /* already gone */
      }
      if (existsSync(scratch)) rmSync(scratch, { recursive: true, force: true });
    });
  }
}

function run(cli: string, scenario: string, trace: string, extra: string[] = []): void {
  try {
    execFileSync(process.execPath, [cli, "run", "--scenario", scenario, "--trace", trace, ...extra], { stdio: "ignore" });
  } catch {
    /* a run that fails still wrote its trace, which is what we compare */
  }
}

await main();
