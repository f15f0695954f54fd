// Runs the indices of a worst-case search on a tinypool worker pool (or in this thread for one
// worker) and returns the results in index order, whatever order the workers finish in.
import { join } from "node:path";
import { Tinypool } from "tinypool";
import { PROJECT_ROOT } from "../paths.js";
import { runOne, type RunResult, type Search } from "./worst.js";

/** The compiled worker (tests run this module from host/, the worker always from dist/). */
const WORKER = join(PROJECT_ROOT, "dist", "host", "analysis", "worst-worker.js");

/** Run `indices` of `search` on `workers` threads; `onResult` sees each run as it finishes. */
export async function runSearch(search: Search, indices: number[], workers: number, onResult: (r: RunResult) => void = () => {}): Promise<RunResult[]> {
  const results: RunResult[] = new Array(indices.length);
  if (workers <= 1) {
    for (let s = 0; s < indices.length; s++) onResult((results[s] = await runOne(search, indices[s])));
    return results;
  }
  const pool = new Tinypool({ filename: WORKER, minThreads: workers, maxThreads: workers });
  try {
    await Promise.all(indices.map((index, s) => pool.run({ search, index }).then((r: RunResult) => onResult((results[s] = r)))));
  } finally {
    await pool.destroy();
  }
  return results;
}
