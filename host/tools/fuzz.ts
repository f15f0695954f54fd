// `npm run fuzz -- --seed S --steps N [--mode device|driver|both] [--json]`: long seeded campaigns,
// hostile device against the project's driver and hostile driver against the device, with figures
// (docs/robustness.md). Exit 1 when any oracle failed.
import { FAULT_NAMES } from "../devices/hostile.js";
import { runHostileDevice, type HostileDeviceFigures } from "../conformance/hostile-device-campaign.js";
import { runHostileDriver, type HostileDriverFigures } from "../conformance/hostile-driver-campaign.js";

interface Args {
  seed: number;
  steps: number;
  mode: "device" | "driver" | "both";
  json: boolean;
}

function parse(argv: string[]): Args {
  const a: Args = { seed: 1, steps: 100_000, mode: "both", json: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = argv[i + 1];
    if (k === "--seed") a.seed = Number(v), i++;
    else if (k === "--steps") a.steps = Number(v), i++;
    else if (k === "--mode") a.mode = v as Args["mode"], i++;
    else if (k === "--json") a.json = true;
    else throw new Error(`unknown argument ${k} (use --seed S --steps N [--mode device|driver|both] [--json])`);
  }
  if (!Number.isInteger(a.seed) || !Number.isInteger(a.steps) || a.steps < 1) throw new Error("--seed and --steps take integers (steps >= 1)");
  if (!["device", "driver", "both"].includes(a.mode)) throw new Error(`--mode ${a.mode}: device, driver or both`);
  return a;
}

const sorted = (r: Record<string, number>) => Object.entries(r).sort((x, y) => y[1] - x[1]).map(([k, v]) => `${k} ${v}`).join(", ") || "none";

function printDevice(f: HostileDeviceFigures): void {
  console.log(`hostile device vs driver   seed ${f.seed}`);
  console.log(`  steps ${f.steps} (fault-injected device actions) on ${f.machines} machines, ${(f.wallMs / 1000).toFixed(1)} s wall`);
  console.log(`  host exceptions ${f.hostExceptions}   driver traps ${f.traps}   hangs ${f.hangs}   out-of-region writes ${f.outOfRegionWrites}`);
  console.log(`  faults injected: ${FAULT_NAMES.map((n) => `${n} ${f.injected[n]}`).join(", ")}`);
  console.log(`  faults fired:    ${FAULT_NAMES.map((n) => `${n} ${f.fired[n]}`).join(", ")}`);
  console.log(`  fatal faults reported broken/NEEDS_RESET ${f.fatalReported}, missed ${f.fatalMissed}`);
  console.log(`  driver reports: ${sorted(f.reports)}`);
  console.log(`  recoveries ${f.recoveries} (re-attach ${f.reattaches}), failed ${f.recoveryFailures}`);
  for (const x of f.failures) console.log(`  FAIL ${x}`);
}

function printDriver(f: HostileDriverFigures): void {
  console.log(`hostile driver vs device   seed ${f.seed}`);
  console.log(`  steps ${f.steps} (driver actions) on ${f.boards} boards, ${(f.wallMs / 1000).toFixed(1)} s wall`);
  console.log(`  host exceptions ${f.hostExceptions}   hangs ${f.hangs}   doorbells ${f.doorbells} (max ${f.maxEventsPerDoorbell} events after one)`);
  console.log(`  DEVICE_NEEDS_RESET ${f.needsReset} (without a recorded breach: ${f.silentNeedsReset})   kicked chains left incomplete ${f.incomplete}   frames completed ${f.completed}`);
  console.log(`  breaches by clause: ${sorted(f.breaches)}`);
  console.log(`  violations by clause: ${sorted(f.violations)}`);
  for (const x of f.failures) console.log(`  FAIL ${x}`);
}

async function main(): Promise<number> {
  const a = parse(process.argv.slice(2));
  let bad = false;
  const out: Record<string, unknown> = {};
  if (a.mode !== "driver") {
    const f = await runHostileDevice({
      seed: a.seed, steps: a.steps, progressEvery: 100_000,
      onProgress: (p) => !a.json && console.error(`  device: ${p.steps} steps, ${(p.wallMs / 1000).toFixed(0)} s`),
    });
    bad ||= f.failures.length > 0 || f.hostExceptions + f.traps + f.hangs + f.outOfRegionWrites + f.fatalMissed + f.recoveryFailures > 0;
    if (a.json) out.device = f;
    else printDevice(f);
  }
  if (a.mode !== "device") {
    const f = await runHostileDriver({
      seed: a.seed, steps: a.steps,
      onProgress: (p) => !a.json && p.boards % 40 === 0 && console.error(`  driver: ${p.steps} steps, ${(p.wallMs / 1000).toFixed(0)} s`),
    });
    bad ||= f.failures.length > 0 || f.hostExceptions + f.hangs + f.silentNeedsReset + f.incomplete > 0;
    if (a.json) out.driver = f;
    else printDriver(f);
  }
  if (a.json) console.log(JSON.stringify(out, null, 2));
  return bad ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`fuzz: ${(e as Error).message}`);
    process.exit(2);
  },
);
