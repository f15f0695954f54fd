// `virtio-rt latency`: a seeded workload through the metered driver; prints the latency table
// and writes DIR/latency.json, the same bytes for the same arguments on any machine.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { InvalidArgumentError, type Command } from "commander";
import { formatReport, runLatency } from "../analysis/latency.js";
import { loadProfileByName, PROFILE_CPUS } from "../analysis/profiles.js";
import { parseDuration } from "../sim/clock.js";
import { parseRate } from "../analysis/workload.js";
import { fail, intArg } from "./common.js";
import { collectChromeTrace } from "../report/chrome-trace.js";
import { collectVcd } from "../report/vcd.js";
import { collectTimeline } from "../report/timeline.js";

interface Opts {
  profile: string;
  cpu?: string;
  workload: string;
  rate: string;
  size: string;
  direction: string;
  seed: number;
  duration: number;
  mode: string;
  pollPeriod: number;
  meter: boolean;
  linkFlap?: string;
  out?: string;
  json?: boolean;
  trace?: string;
}

const duration = (name: string) => (v: string): number => {
  try {
    return parseDuration(v);
  } catch (e) {
    throw new InvalidArgumentError(`${name}: ${(e as Error).message}`);
  }
};

export function registerLatency(program: Command): void {
  program
    .command("latency")
    .description("measure interrupt, bottom-half, RX, TX and doorbell latencies in virtual ns under a seeded workload")
    .option("--profile <P>", "default, qemu-kvm, qemu-virt, firecracker, cloud-hypervisor, rtems-pc386, or FILE.json", "default")
    .option("--cpu <C>", "guest CPU: x86-server or cortex-a53 (host/profiles/cpus.json), or <N>ps per instruction (default: the profile's)")
    .option("--workload <W>", "constant, burst[:N/T], poisson, saturate", "poisson")
    .option("--rate <R>", "frames per second in each direction (constant, poisson)", "50k")
    .option("--size <S>", "fixed:N, uniform:A-B, imix", "imix")
    .option("--direction <D>", "rx, tx, both", "both")
    .option("--seed <S>", "seed of every random draw", intArg("--seed", 0xffffffff), 1)
    .option("--duration <T>", "virtual time the workload runs (500us, 20ms, 1s)", duration("--duration"), 20_000_000)
    .option("--mode <M>", "irq or poll", "irq")
    .option("--poll-period <T>", "poll mode: period of the polling bottom half", duration("--poll-period"), 50_000)
    .option("--no-meter", "do not count guest instructions (guest time = exit costs only)")
    .option("--link-flap <EVERY/DOWN>", "take the link down for DOWN at every multiple of EVERY, e.g. 5ms/500us")
    .option("--out <DIR>", "write DIR/latency.json, DIR/report.html, DIR/trace.json (Perfetto) and DIR/trace.vcd (waveforms)")
    .option("--json", "print the report as JSON instead of the table")
    .option("--trace <file>", "write every trace event as JSON lines")
    .action(async (o: Opts) => {
      if (o.mode !== "irq" && o.mode !== "poll") fail(`--mode must be irq or poll, got ${o.mode}`);
      if (o.duration <= 0) fail("--duration must be above 0");
      if (o.pollPeriod <= 0) fail("--poll-period must be above 0");
      let result;
      let exporters: { chrome: ReturnType<typeof collectChromeTrace>; vcd: ReturnType<typeof collectVcd>; timeline: ReturnType<typeof collectTimeline> } | undefined;
      try {
        // A CPU of host/profiles/cpus.json resolves the profile for it (instruction and exit costs);
        // otherwise --cpu overrides only the ps per instruction.
        const named = o.cpu !== undefined && PROFILE_CPUS.includes(o.cpu);
        const profile = await loadProfileByName(o.profile, named ? o.cpu : undefined);
        result = await runLatency({
          profile,
          cpu: named ? undefined : o.cpu,
          cpuName: o.cpu,
          workload: o.workload,
          rate: parseRate(o.rate),
          size: o.size,
          direction: o.direction,
          seed: o.seed,
          durationNs: o.duration,
          mode: o.mode as "irq" | "poll",
          pollPeriodNs: o.pollPeriod,
          meter: o.meter,
          linkFlap: o.linkFlap,
          record: o.trace !== undefined,
          observe: o.out ? (m) => (exporters = { chrome: collectChromeTrace(m.trace), vcd: collectVcd(m.trace), timeline: collectTimeline(m.trace) }) : undefined,
        });
      } catch (e) {
        fail((e as Error).message);
      }
      const json = JSON.stringify(result.report, null, 2) + "\n";
      try {
        if (o.out) {
          mkdirSync(o.out, { recursive: true });
          writeFileSync(join(o.out, "latency.json"), json);
          if (exporters) {
            writeFileSync(join(o.out, "trace.json"), JSON.stringify(exporters.chrome()) + "\n");
            writeFileSync(join(o.out, "trace.vcd"), exporters.vcd());
            // vega is loaded only when a report is written: the other commands start faster.
            const { renderReportHtml } = await import("../report/html.js");
            writeFileSync(join(o.out, "report.html"), await renderReportHtml(result.report, exporters.timeline()));
          }
        }
        if (o.trace) writeFileSync(o.trace, result.machine.trace.toJsonLines());
      } catch (e) {
        fail(`cannot write: ${(e as Error).message}`);
      }
      process.stdout.write(o.json ? json : formatReport(result.report) + "\n");
      process.exitCode = result.report.driverDead ? 1 : 0;
    });
}
