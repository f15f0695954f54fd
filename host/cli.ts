#!/usr/bin/env node
// The `virtio-rt` command: each subcommand lives in host/commands/ and registers itself here.
import { Command, CommanderError } from "commander";
import { fail } from "./commands/common.js";
import { registerConform } from "./commands/conform.js";
import { registerRun } from "./commands/run.js";
import { registerLatency } from "./commands/latency.js";
import { registerServe } from "./commands/serve.js";
import { registerPing } from "./commands/ping.js";
import { registerTrace } from "./commands/trace.js";
import { registerWorst } from "./commands/worst.js";

const program = new Command();
program
  .name("virtio-rt")
  .description("A virtio-net driver on a deterministic, clause-checking virtio device host")
  .exitOverride()
  .configureOutput({ writeErr: (str) => process.stderr.write(str.startsWith("error:") ? `virtio-rt: ${str.slice(7)}` : str) });

registerRun(program);
registerLatency(program);
registerTrace(program);
registerWorst(program);
registerConform(program);
registerServe(program);
registerPing(program);

program.parseAsync(process.argv).catch((e: Error & { code?: string; exitCode?: number }) => {
  // Commander has already printed its one-line message; help and version exit 0.
  if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 2);
  fail(e.message);
});
