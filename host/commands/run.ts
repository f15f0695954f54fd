// `virtio-rt run`: the default scenario through the driver and a loopback device.
import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import { loadScenario, parseScenario, type Scenario } from "../analysis/scenario.js";
import { runScenario, type RunSummary } from "../analysis/run.js";
import { fail, intArg } from "./common.js";
import { runReplay } from "./serve.js";
import { profileOptions } from "./profile-options.js";

function printSummary(s: RunSummary, json: boolean): void {
  if (json) {
    process.stdout.write(JSON.stringify(s, null, 2) + "\n");
    return;
  }
  const us = (ns: number) => (ns / 1000).toFixed(1);
  const per = (n: number) => (s.framesSent ? (n / s.framesSent).toFixed(3) : "-");
  const drops = Object.entries(s.deviceDrops).map(([k, v]) => `${k} ${v}`).join(", ") || "none";
  const lines = [
    `frames      sent ${s.framesSent}, received ${s.framesReceived}, dropped ${s.drops} (device: ${drops})`,
    `bytes       sent ${s.bytesSent}, received ${s.bytesReceived}`,
    `mismatches  ${s.mismatches}`,
    `exits       ${s.registerReads} register reads, ${s.registerWrites} register writes (${s.doorbells} doorbells); ${per(s.registerReads + s.registerWrites)} per frame`,
    `interrupts  ${s.interrupts} (${per(s.interrupts)} per frame)`,
    `virtual     ${us(s.virtualTimeNs)} us elapsed`,
    `driver      ${s.driverWasmBytes} bytes of wasm, ${s.reservedMemoryBytes} bytes reserved at attach`,
    `violations  ${s.breaches}`,
    `trace       ${s.traceEvents} events, sha256 ${s.traceDigest}`,
  ];
  if (s.driverDead) lines.push(`driver      STOPPED: ${s.driverDead}`);
  process.stdout.write(lines.join("\n") + "\n");
}

export function registerRun(program: Command): void {
  program
    .command("run")
    .description("run a scenario: seeded frames of mixed sizes through the driver and a loopback device")
    .option("--frames <n>", "frames to send", intArg("--frames", 10_000_000))
    .option("--seed <s>", "seed for sizes, payloads and the driver", intArg("--seed", 0xffffffff))
    .option("--scenario <file>", "scenario JSON file (see docs/architecture.md); flags override it")
    .option("--json", "print the summary as JSON")
    .option("--trace <file>", "write every trace event as JSON lines")
    .option("--replay <file.pcap>", "feed a `serve --pcap` capture back to the responder; prints the session's digest")
    .option("--ip <addr/prefix>", "with --replay: the responder's address, as given to serve", "10.0.2.15/24")
    .option("--udp-port <n>", "with --replay: the UDP echo port, as given to serve", intArg("--udp-port", 65535))
    .option("--mac <mac>", "with --replay: the device's MAC, as given to serve")
    .option("--profile <name|file.json>", "hypervisor profile: qemu-kvm, qemu-virt, firecracker, cloud-hypervisor, rtems-pc386, default (= qemu-kvm), or a JSON file (docs/profiles.md)")
    .option("--cpu <cpu>", "x86-server or cortex-a53 (default: the profile's first)")
    .option("--transport <t>", "mmio, mmio-legacy, pci or pci-legacy (default: the profile's; docs/transports.md)")
    .option("--iommu", "an IOMMU in front of the device: ACCESS_PLATFORM offered, DMA windows enforced (docs/robustness.md)")
    .action(async (opts: { frames?: number; seed?: number; scenario?: string; json?: boolean; trace?: string; replay?: string; ip: string; udpPort?: number; mac?: string; profile?: string; cpu?: string; transport?: string; iommu?: boolean }) => {
      if (opts.replay !== undefined) return runReplay(opts.replay, opts);
      let scenario: Scenario;
      try {
        const base = opts.scenario ? loadScenario(opts.scenario) : parseScenario({});
        scenario = parseScenario({ ...base, ...(opts.frames !== undefined && { frames: opts.frames }), ...(opts.seed !== undefined && { seed: opts.seed }) });
      } catch (e) {
        fail((e as Error).message);
      }
      let result;
      try {
        result = await runScenario(scenario, { record: opts.trace !== undefined, ...profileOptions(opts) });
      } catch (e) {
        fail((e as Error).message);
      }
      if (opts.trace) {
        try {
          writeFileSync(opts.trace, result.machine.trace.toJsonLines());
        } catch (e) {
          fail(`cannot write trace ${opts.trace}: ${(e as Error).message}`);
        }
      }
      printSummary(result.summary, opts.json ?? false);
      const s = result.summary;
      process.exitCode = s.mismatches > 0 || s.driverDead ? 1 : 0;
    });
}
