// The worst-case search's worker-thread entry (tinypool): runs one index of a search.
import { runOne, type RunResult, type Search } from "./worst.js";

export default async function run(task: { search: Search; index: number }): Promise<RunResult> {
  return runOne(task.search, task.index);
}
