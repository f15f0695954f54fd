// `virtio-rt trace ...`: work with trace files.
import { accessSync, constants } from "node:fs";
import type { Command } from "commander";
import { diffTraces, formatDiff } from "../report/trace-diff.js";
import { fail, intArg } from "./common.js";

export function registerTrace(program: Command): void {
  const trace = program.command("trace").description("work with trace files");
  trace
    .command("diff <a> <b>")
    .description("print the first event where two JSON-lines traces differ, with context")
    .option("--context <n>", "events of context", intArg("--context", 1000), 3)
    .action(async (a: string, b: string, opts: { context: number }) => {
      for (const p of [a, b]) {
        try {
          accessSync(p, constants.R_OK);
        } catch (e) {
          fail(`cannot read trace ${p}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
        }
      }
      const d = await diffTraces(a, b, opts.context);
      process.stdout.write(formatDiff(d, a, b) + "\n");
      process.exitCode = d.index < 0 ? 0 : 1;
    });
}
