// `npm run bench`: how fast the simulation runs on this host (docs/benchmarks.md). The wall clock
// is read here and only here; it never decides anything inside a simulation.
import { cpus } from "node:os";
import { performance } from "node:perf_hooks";
import { runLatency, type LatencyReport } from "../analysis/latency.js";
import { makeFrame, runScenario, type RunSummary } from "../analysis/run.js";
import { Machine } from "../machine.js";
import type { Profile } from "../sim/profile.js";
import { loadProfileByName } from "../analysis/profiles.js";
import { Rng } from "../sim/rng.js";
import { wallMs } from "../wall-clock.js";

interface Options {
  reps: number;
  frames: number;
  json: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { reps: 5, frames: 5000, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--json") o.json = true;
    else if ((a === "--reps" || a === "--frames") && /^\d+$/.test(argv[i + 1] ?? "")) o[a === "--reps" ? "reps" : "frames"] = Math.max(1, Number(argv[++i]));
    else throw new Error(`usage: npm run bench -- [--reps N] [--frames N] [--json] (got ${a})`);
  }
  return o;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

interface BenchResult {
  machine: { nproc: number; cpu: string; node: string };
  profile: string;
  reps: number;
  frames: number;
  framesPerSecond: Record<string, number>;
  ratios: Record<string, number>;
  instructionsPerFrame: { light: { tx: number; rx: number }; saturation: { tx: number; rx: number } };
  saturation: { eventIdx: Exits; noEventIdx: Exits };
  driver: { wasmBytes: number; reservedMemoryBytes: number };
}
type Exits = { txFrames: number; rxFrames: number; txDoorbells: number; txInterrupts: number; rxDoorbells: number; rxInterrupts: number };

/** One loopback configuration: the default scenario's stack with every frame of `size` bytes. */
type Config = { name: string; run: (size: number, frames: number) => Promise<number> };

/** The profile every measurement uses: `default`, as `virtio-rt run` and `latency` resolve it. */
let PROFILE: Profile;

async function loopback(size: number, frames: number, meter: boolean, traceHash: boolean): Promise<RunSummary> {
  const { summary } = await runScenario({ frames, seed: 1, minSize: size, maxSize: size, window: 32, rxBufSize: 0, linkFlaps: [] }, { meter, traceHash, profile: PROFILE, transport: PROFILE.transport });
  if (summary.framesReceived !== frames || summary.mismatches !== 0) throw new Error(`bench: loopback lost frames (${summary.framesReceived}/${frames}, ${summary.mismatches} mismatches)`);
  return summary;
}

/**
 * The copy-only floor: the same frames (made by the same makeFrame and seeded Rng) copied through
 * the same guest memory as the loopback path copies them (stack -> TX buffer, TX buffer -> device,
 * device -> RX buffer, RX buffer -> stack) and compared, with no rings, registers or device model.
 */
function copyFloor(u8: Uint8Array, size: number, frames: number): number {
  const rng = new Rng(1);
  const tx = 0x10000;
  const rx = 0x20000;
  let bad = 0;
  for (let seq = 0; seq < frames; seq++) {
    const f = makeFrame(rng, seq, rng.int(size, size));
    u8.set(f, tx);
    const wire = u8.slice(tx, tx + size);
    u8.set(wire, rx);
    const out = u8.slice(rx, rx + size);
    if (!same(out, f)) bad++;
  }
  return bad;
}

/** The comparison the loopback scenario makes for each returned frame (run.ts). */
function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

async function timed(fn: () => Promise<unknown> | unknown): Promise<number> {
  const t0 = wallMs();
  await fn();
  return (wallMs() - t0) / 1000;
}

/** Per-frame figures of a latency run at saturation (or a light constant rate), 64-byte frames both ways. */
async function perFrame(workload: string, profile: Profile, durationNs: number): Promise<LatencyReport> {
  const { report } = await runLatency({ profile, workload, rate: 10_000, size: "fixed:64", direction: "both", seed: 1, durationNs, mode: "irq", pollPeriodNs: 50_000, meter: true });
  return report;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  PROFILE = await loadProfileByName("default");
  const scratch = await Machine.create({ meter: false });
  const configs: Config[] = [
    { name: "copy-only floor", run: async (size, n) => timed(() => copyFloor(scratch.mem.u8, size, n)) },
    { name: "metered, tracing off", run: async (size, n) => timed(() => loopback(size, n, true, false)) },
    { name: "metered, tracing on", run: async (size, n) => timed(() => loopback(size, n, true, true)) },
    { name: "unmetered, tracing off", run: async (size, n) => timed(() => loopback(size, n, false, false)) },
  ];
  const sizes = [64, 1500];
  // Warm up every configuration (JIT, the metered module's cache) before any timing counts.
  for (const size of sizes) for (const c of configs) await c.run(size, o.frames);
  const secs: Record<string, number[]> = {};
  for (let r = 0; r < o.reps; r++) {
    // Interleaved: every configuration in every repetition, so a noisy moment hits all of them.
    for (const size of sizes) for (const c of configs) (secs[`${size} ${c.name}`] ??= []).push(await c.run(size, o.frames));
  }
  const fps: Record<string, number> = {};
  for (const [k, v] of Object.entries(secs)) fps[k] = Math.round(o.frames / median(v));

  const light = await perFrame("constant", PROFILE, 5_000_000);
  const satIdx = await perFrame("saturate", PROFILE, 2_000_000);
  const noIdxProfile: Profile = { ...PROFILE, name: `${PROFILE.name}-no-event-idx`, features: PROFILE.features.filter((f) => f !== "EVENT_IDX") };
  const satNoIdx = await perFrame("saturate", noIdxProfile, 2_000_000);
  const sizeRun = await loopback(64, 100, true, true);

  const cpuModel = cpus()[0]?.model ?? "unknown";
  const result: BenchResult = {
    machine: { nproc: cpus().length, cpu: cpuModel, node: process.version },
    profile: `${PROFILE.name} (${PROFILE.transport ?? "mmio"})`,
    reps: o.reps,
    frames: o.frames,
    framesPerSecond: fps,
    ratios: Object.fromEntries(sizes.flatMap((s) => [
      [`${s} floor / tracing off`, round(fps[`${s} copy-only floor`] / fps[`${s} metered, tracing off`])],
      [`${s} tracing off / on`, round(fps[`${s} metered, tracing off`] / fps[`${s} metered, tracing on`])],
      [`${s} unmetered / metered`, round(fps[`${s} unmetered, tracing off`] / fps[`${s} metered, tracing off`])],
    ])),
    instructionsPerFrame: {
      light: { tx: light.perFrame.tx.instructions, rx: light.perFrame.rx.instructions },
      saturation: { tx: satIdx.perFrame.tx.instructions, rx: satIdx.perFrame.rx.instructions },
    },
    saturation: {
      eventIdx: exits(satIdx),
      noEventIdx: exits(satNoIdx),
    },
    driver: { wasmBytes: sizeRun.driverWasmBytes, reservedMemoryBytes: sizeRun.reservedMemoryBytes },
  };
  process.stdout.write(o.json ? JSON.stringify(result, null, 2) + "\n" : format(result) + "\n");
}

function exits(r: LatencyReport): Exits {
  const p = r.perFrame;
  return { txFrames: p.tx.frames, rxFrames: p.rx.frames, txDoorbells: p.tx.doorbells, txInterrupts: p.tx.interrupts, rxDoorbells: p.rx.doorbells, rxInterrupts: p.rx.interrupts };
}

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

function format(r: BenchResult): string {
  const out: string[] = [];
  out.push(`machine         ${r.machine.nproc} CPUs, ${r.machine.cpu}, node ${r.machine.node}`);
  out.push(`profile         ${r.profile}`);
  out.push(`repetitions     ${r.reps} x ${r.frames} frames per configuration, medians, interleaved`);
  out.push("", "loopback frames per host-second        64 B      1500 B");
  for (const name of ["copy-only floor", "metered, tracing off", "metered, tracing on", "unmetered, tracing off"]) {
    out.push(`  ${name.padEnd(34)} ${String(r.framesPerSecond[`64 ${name}`]).padStart(9)}  ${String(r.framesPerSecond[`1500 ${name}`]).padStart(9)}`);
  }
  out.push("", "ratios (goal)                           64 B      1500 B");
  for (const [label, key, goal] of [["floor / tracing off", "floor / tracing off", "<= 3"], ["tracing off / on", "tracing off / on", ""], ["unmetered / metered", "unmetered / metered", "<= 1.5"]] as const) {
    out.push(`  ${`${label}${goal ? ` (${goal})` : ""}`.padEnd(34)} ${r.ratios[`64 ${key}`].toFixed(2).padStart(9)}  ${r.ratios[`1500 ${key}`].toFixed(2).padStart(9)}`);
  }
  const i = r.instructionsPerFrame;
  out.push("", "guest instructions per 64 B frame (goal <= 150)     TX        RX");
  out.push(`  constant 10k/s each way                    ${i.light.tx.toFixed(1).padStart(9)} ${i.light.rx.toFixed(1).padStart(9)}`);
  out.push(`  saturation                                 ${i.saturation.tx.toFixed(1).padStart(9)} ${i.saturation.rx.toFixed(1).padStart(9)}`);
  out.push("", "at saturation, 64 B both ways, per 32 frames (goal <= 1 each with EVENT_IDX)");
  out.push("                     TX frames  doorbells  interrupts   RX frames  doorbells  interrupts");
  for (const [label, s] of [["EVENT_IDX", r.saturation.eventIdx], ["no EVENT_IDX", r.saturation.noEventIdx]] as const) {
    const n = (x: number, w: number) => (x * 32).toFixed(2).padStart(w);
    out.push(`  ${label.padEnd(17)} ${String(s.txFrames).padStart(10)}  ${n(s.txDoorbells, 9)}  ${n(s.txInterrupts, 10)}  ${String(s.rxFrames).padStart(10)}  ${n(s.rxDoorbells, 9)}  ${n(s.rxInterrupts, 10)}`);
  }
  out.push("", `driver          ${r.driver.wasmBytes} bytes of wasm, ${r.driver.reservedMemoryBytes} bytes reserved at attach`);
  return out.join("\n");
}

main().catch((e: Error) => {
  process.stderr.write(`bench: ${e.message}\n`);
  process.exit(1);
});
