// `virtio-rt conform`: run the conformance scenario against a driver module under the monitor and
// print every in-scope clause as held, violated, not exercised or not checkable.
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { formatReport, reportJson } from "../conformance/report.js";
import { NotADriver, runConformance } from "../conformance/scenario.js";
import { fail, intArg } from "./common.js";
import { profileOptions } from "./profile-options.js";

interface Opts {
  driver?: string;
  profile?: string;
  transport?: string;
  json?: boolean;
  seed?: number;
  frames?: number;
  quiet?: boolean;
  iommu?: boolean;
}

export function registerConform(program: Command): void {
  program
    .command("conform")
    .description("check a driver against the virtio clauses: attach, traffic both ways, link change, reset and re-attach")
    .option("--driver <file.wasm>", "driver module implementing docs/hal.md (default build/driver.wasm)")
    .option("--profile <name|file.json>", "platform profile (docs/profiles.md); default: qemu-virt on virtio-mmio, the transport whose register stream the monitor checks in full")
    .option("--transport <name>", "transport the profile supports (mmio, mmio-legacy, pci, pci-legacy); default: the profile's")
    .option("--seed <s>", "seed for frames and the driver", intArg("--seed", 0xffffffff))
    .option("--frames <n>", "frames per traffic phase", intArg("--frames", 100_000))
    .option("--iommu", "an IOMMU in front of the device: ACCESS_PLATFORM offered, DMA windows enforced (docs/robustness.md)")
    .option("--quiet", "print breaches and totals only, not every clause")
    .option("--json", "print the report as JSON")
    .action(async (o: Opts) => {
      // The monitor reads virtio-mmio register names; PCI and legacy runs are checked on the rings.
      const machine = o.profile === undefined && o.transport === undefined ? profileOptions({ profile: "qemu-virt", transport: "mmio", iommu: o.iommu }) : profileOptions({ profile: o.profile, transport: o.transport, iommu: o.iommu });
      let bytes: Uint8Array | undefined;
      if (o.driver) {
        try {
          bytes = readFileSync(o.driver);
        } catch (e) {
          fail(`cannot read ${o.driver}: ${(e as Error).message}`);
        }
      }
      let result;
      try {
        result = await runConformance({ driver: bytes, driverName: o.driver, ...machine, seed: o.seed, frames: o.frames });
      } catch (e) {
        if (e instanceof NotADriver) fail(`${o.driver ?? "the driver"} ${e.message}`);
        fail((e as Error).message);
      }
      const rep = result.report;
      process.stdout.write(o.json ? reportJson(rep) : formatReport(rep, !o.quiet));
      process.exitCode = rep.pass ? 0 : 1;
    });
}
