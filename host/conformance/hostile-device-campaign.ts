// The hostile-device campaign: the project's driver (a Machine) against the device model in its
// seeded fault mode (host/devices/hostile.ts), with the oracle of DESIGN.md, Robustness: no trap,
// bounded entries, no write outside the driver's own memory, broken reported, recovery by reset.
import { ABI, ABI_STATE, LOG } from "../gen/constants.js";
import { FATAL, FAULT_NAMES, HostileDevice, type Fault } from "../devices/hostile.js";
import type { DriverStats } from "../guest/driver.js";
import { Machine } from "../machine.js";
import { Rng } from "../sim/rng.js";
import type { VirtioCore } from "../virtio/core.js";
import { wallMs } from "../wall-clock.js";

/** Trace events one guest entry may cause (HAL calls and the device work they trigger); more is a hang. */
export const MAX_EVENTS_PER_ENTRY = 200_000;
/** Simulator events one step may run before it counts as a hang. */
export const MAX_EVENTS_PER_STEP = 2_000_000;

/** Thrown from the trace consumer when an entry exceeds MAX_EVENTS_PER_ENTRY: the entry traps, counted as a hang. */
export class EntryBound extends Error {}

export interface HostileDeviceOptions {
  seed: number;
  /** Fault-injected device actions to run. */
  steps: number;
  /** Steps on one machine before a fresh one is built (default 2000). */
  stepsPerMachine?: number;
  /** Probability that a step injects a fault (default 0.5). */
  faultRate?: number;
  faults?: readonly Fault[];
  /** Meter guest instructions (slower; default false: exit costs only). */
  meter?: boolean;
  /** The driver module (default build/driver.wasm). */
  driver?: Uint8Array;
  /** Trace events one entry may cause before it counts as a hang (default MAX_EVENTS_PER_ENTRY). */
  maxEventsPerEntry?: number;
  /** Tests only: called after each step's traffic, to mutation-check the oracle (write where the driver must not). */
  tamper?: (m: Machine, step: number) => void;
  /** Called every `progressEvery` steps. */
  onProgress?: (f: HostileDeviceFigures) => void;
  progressEvery?: number;
}

export interface HostileDeviceFigures {
  seed: number;
  steps: number;
  machines: number;
  /** Exceptions thrown into the host (the simulator itself failing). */
  hostExceptions: number;
  /** Driver traps and panics. */
  traps: number;
  /** Entries or steps over their bound. */
  hangs: number;
  /** Steps after which protected linear memory differed. */
  outOfRegionWrites: number;
  injected: Record<Fault, number>;
  fired: Record<Fault, number>;
  /** Fatal faults (FATAL) after which the driver reported broken / NEEDS_RESET or re-initialized. */
  fatalReported: number;
  fatalMissed: number;
  /** What the driver reported, from its log calls: QUEUE_BROKEN by queue and reason, NEEDS_RESET, WATCHDOG, REINIT, CONFIG_UNSTABLE, RX_BAD_NUM_BUFFERS, RX_LEN_ERROR. */
  reports: Record<string, number>;
  /** Recovery checks (faults off, tick, a frame through loopback) and their failures. */
  recoveries: number;
  recoveryFailures: number;
  /** Recoveries that needed detach + attach (the driver had reached FAILED). */
  reattaches: number;
  wallMs: number;
  /** The first few failures, with seed and step. */
  failures: string[];
}

interface Region {
  lo: number;
  hi: number;
}

/**
 * The linear memory the driver may write: its DMA region, its io_buffer, and its own state (the
 * stub runtime's allocations after those two, up to heap_top). Everything else (static data, the
 * unused tail) is protected. The module has no shadow stack (AssemblyScript, stub runtime).
 */
export function writableRegions(m: Machine): Region[] {
  const d = m.driver;
  const mem: Region = { lo: d.mem_base(), hi: d.mem_base() + d.mem_size() };
  const io: Region = { lo: d.io_buffer(), hi: d.io_buffer() + d.io_buffer_size() };
  const state: Region = { lo: Math.max(mem.hi, io.hi), hi: d.heap_top() };
  if (state.hi < state.lo || state.hi - state.lo > 65536) throw new Error(`unexpected layout: driver state [${state.lo}, ${state.hi})`);
  return [io, mem, state].sort((a, b) => a.lo - b.lo);
}

export function protectedRegions(m: Machine): Region[] {
  const out: Region[] = [];
  let at = 0;
  for (const r of writableRegions(m)) {
    if (r.lo > at) out.push({ lo: at, hi: r.lo });
    at = Math.max(at, r.hi);
  }
  if (at < m.mem.size) out.push({ lo: at, hi: m.mem.size });
  return out;
}

function frameOf(rng: Rng, len: number): Uint8Array {
  const f = rng.bytes(new Uint8Array(len));
  f.set([0x52, 0x54, 0x00, 0x12, 0x34, 0x56], 0); // to the device's own MAC
  return f;
}

export async function runHostileDevice(o: HostileDeviceOptions): Promise<HostileDeviceFigures> {
  const t0 = wallMs();
  const rng = new Rng(o.seed);
  const enabled = o.faults ?? FAULT_NAMES;
  const faultRate = o.faultRate ?? 0.5;
  const perMachine = o.stepsPerMachine ?? 2000;
  const F: HostileDeviceFigures = {
    seed: o.seed, steps: 0, machines: 0, hostExceptions: 0, traps: 0, hangs: 0, outOfRegionWrites: 0,
    injected: {} as Record<Fault, number>, fired: {} as Record<Fault, number>, fatalReported: 0, fatalMissed: 0,
    reports: {}, recoveries: 0, recoveryFailures: 0, reattaches: 0, wallMs: 0, failures: [],
  };
  const fail = (what: string) => {
    if (F.failures.length < 20) F.failures.push(`seed ${o.seed} step ${F.steps}: ${what}`);
  };
  const totals = { injected: Object.fromEntries(FAULT_NAMES.map((f) => [f, 0])), fired: Object.fromEntries(FAULT_NAMES.map((f) => [f, 0])) } as { injected: Record<Fault, number>; fired: Record<Fault, number> };
  while (F.steps < o.steps) {
    const seed = rng.int(1, 0x7fffffff);
    let m: Machine;
    try {
      m = await Machine.create({ seed, meter: o.meter ?? false, driver: o.driver });
    } catch (e) {
      F.hostExceptions++;
      fail(`Machine.create: ${(e as Error).message}`);
      break;
    }
    F.machines++;
    const hostile = new HostileDevice(m.net, m.transport as VirtioCore, m.mem, new Rng(seed));
    const n = Math.min(perMachine, o.steps - F.steps);
    const before = F.steps;
    try {
      runMachine(m, hostile, rng, n, enabled, faultRate, F, fail, o);
    } catch (e) {
      F.hostExceptions++;
      fail(`host exception: ${(e as Error).stack ?? e}`);
    }
    for (const f of FAULT_NAMES) {
      totals.injected[f] += hostile.injected[f];
      totals.fired[f] += hostile.fired[f];
    }
    F.injected = totals.injected;
    F.fired = totals.fired;
    F.wallMs = wallMs() - t0;
    if (F.steps === before) {
      // No step ran on this machine (attach failed): another would fail the same way.
      fail("no progress: campaign stopped");
      break;
    }
    if (o.onProgress && F.machines % Math.max(1, Math.round((o.progressEvery ?? 100_000) / perMachine)) === 0) o.onProgress(F);
  }
  F.injected = totals.injected;
  F.fired = totals.fired;
  F.wallMs = wallMs() - t0;
  return F;
}

function runMachine(m: Machine, hostile: HostileDevice, rng: Rng, n: number, enabled: readonly Fault[], faultRate: number, F: HostileDeviceFigures, fail: (s: string) => void, o: HostileDeviceOptions): void {
  const count = (k: string) => (F.reports[k] = (F.reports[k] ?? 0) + 1);
  // Entry bound: count trace events inside guest entries (nested ISRs count toward the outer one).
  let depth = 0;
  let inEntry = 0;
  const bound = o.maxEventsPerEntry ?? MAX_EVENTS_PER_ENTRY;
  const LOG_NAMES = new Map<number, string>(Object.entries(LOG).map(([k, v]) => [v, k]));
  m.trace.subscribe((ev) => {
    if (ev.k === "log") {
      const e = ev as { code?: number; a?: number; b?: number };
      const name = LOG_NAMES.get(e.code!) ?? `LOG_${e.code}`;
      if (e.code === LOG.QUEUE_BROKEN) count(`${e.a === 0 ? "RXQ" : "TXQ"}_BROKEN=${e.b}`);
      else if (e.code !== LOG.ATTACH && e.code !== LOG.DETACH && e.code !== LOG.LINK) count(name);
    }
    if (ev.k === "guest.enter") {
      if (depth++ === 0) inEntry = 0;
    } else if (ev.k === "guest.exit") depth--;
    else if (depth > 0 && ++inEntry > bound) {
      inEntry = -1e12; // throw once; the entry unwinds as a trap
      throw new EntryBound(`entry over ${bound} events`);
    }
  });
  let last: Uint8Array = new Uint8Array(0);
  m.onFrame = (_dev, bytes) => (last = bytes);
  if (m.attach() < 0) {
    if (checkAlive(m, F, fail)) fail(`attach refused: ${m.dev}`);
    return;
  }
  const prot = protectedRegions(m);
  const u8 = Buffer.from(m.mem.memory.buffer);
  const snap = prot.map((r) => Buffer.from(u8.subarray(r.lo, r.hi)));
  const stats = () => {
    const s = m.stats();
    return typeof s === "number" ? undefined : s;
  };
  let resetsBefore = 0;
  let needRecovery = false;
  for (let i = 0; i < n; i++) {
    F.steps++;
    resetsBefore = stats()?.RESETS ?? 0;
    // 1. One fault-injected device action (or an honest step).
    if (rng.float() < faultRate) hostile.inject(enabled[rng.int(0, enabled.length - 1)]!);
    // 2. Traffic: frames out (they come back through loopback), or the watchdog tick.
    const a = rng.int(0, 9);
    if (a < 7) for (let k = rng.int(1, 2); k > 0; k--) m.transmit(frameOf(rng, rng.int(60, 1514)));
    else if (a < 9) m.tick();
    // 3. Run the machine until idle, bounded.
    if (m.runIdle(MAX_EVENTS_PER_STEP) >= MAX_EVENTS_PER_STEP) {
      F.hangs++;
      fail("step over its event bound");
    }
    o.tamper?.(m, F.steps);
    const fired = hostile.firedNow;
    hostile.endStep();
    if (fired && FATAL.has(fired)) {
      // The next interrupt's bottom half would look at both rings: do it now, so the check below sees the driver's verdict.
      for (const q of [0, 1]) m.entry("poll", () => m.driver.poll(m.dev, q, 64), 0);
      m.runIdle(MAX_EVENTS_PER_STEP);
    }
    if (!checkAlive(m, F, fail)) return;
    if (!checkMemory(u8, prot, snap, F, fail)) return;
    // 4. A fatal fault must be reported (broken / NEEDS_RESET) or already have been handled by a re-initialization.
    const s = stats();
    if (!s) {
      fail("stats refused");
      return;
    }
    if (fired && FATAL.has(fired)) {
      if (s.STATE === ABI_STATE.BROKEN || s.STATE === ABI_STATE.NEEDS_RESET || s.RESETS > resetsBefore) F.fatalReported++;
      else {
        F.fatalMissed++;
        fail(`fatal fault ${fired} not reported (state ${s.STATE})`);
      }
    }
    needRecovery ||= s.STATE !== ABI_STATE.RUNNING;
    // 5. Every 25 steps, and whenever the driver is not running: faults off, it must work again.
    if (needRecovery || i % 25 === 24) {
      needRecovery = false;
      if (!recover(m, hostile, rng, F, fail, () => last)) return;
      if (!checkAlive(m, F, fail) || !checkMemory(u8, prot, snap, F, fail)) return;
    }
  }
}

function checkAlive(m: Machine, F: HostileDeviceFigures, fail: (s: string) => void): boolean {
  if (!m.dead) return true;
  if (m.dead.includes("entry over")) F.hangs++;
  else F.traps++;
  fail(`driver dead: ${m.dead}`);
  return false;
}

function checkMemory(u8: Buffer, prot: { lo: number; hi: number }[], snap: Buffer[], F: HostileDeviceFigures, fail: (s: string) => void): boolean {
  for (let j = 0; j < prot.length; j++) {
    const r = prot[j]!;
    if (!u8.subarray(r.lo, r.hi).equals(snap[j]!)) {
      F.outOfRegionWrites++;
      let at = r.lo;
      while (u8[at] === snap[j]![at - r.lo]) at++;
      fail(`driver wrote outside its memory at linear ${at}`);
      return false;
    }
  }
  return true;
}

/** Faults off; tick until running (the watchdog covers a never-completed transmit); one frame must come back. */
function recover(m: Machine, hostile: HostileDevice, rng: Rng, F: HostileDeviceFigures, fail: (s: string) => void, lastFrame: () => Uint8Array): boolean {
  F.recoveries++;
  hostile.clear();
  let s: DriverStats | number = m.stats();
  for (let t = 0; t < ABI.TX_TIMEOUT_TICKS + 2 && typeof s !== "number" && s.STATE !== ABI_STATE.RUNNING && s.STATE !== ABI_STATE.FAILED; t++) {
    m.tick();
    m.runIdle(MAX_EVENTS_PER_STEP);
    s = m.stats();
  }
  if (typeof s !== "number" && s.STATE === ABI_STATE.FAILED) {
    // FAILED (a re-initialization refused, e.g. under a lying ConfigGeneration): only detach helps.
    F.reattaches++;
    m.entry("detach", () => m.driver.detach(m.dev), -1);
    if (m.attach() < 0) {
      F.recoveryFailures++;
      fail(`re-attach refused: ${m.dev}`);
      return false;
    }
  }
  // Drain what the watchdog may still hold, then one frame out and back.
  for (let t = 0; t < ABI.TX_TIMEOUT_TICKS + 1; t++) {
    m.tick();
    m.runIdle(MAX_EVENTS_PER_STEP);
  }
  // A num_buffers lie already fired makes the driver take the next buffers as the rest of a frame
  // (indistinguishable from a real one): up to three frames may be swallowed, so send up to four.
  let r = 0;
  let back = false;
  for (let k = 0; k < 4 && !back && r === 0; k++) {
    const f = frameOf(rng, 60 + rng.int(0, 200));
    r = m.transmit(f);
    m.runIdle(MAX_EVENTS_PER_STEP);
    back = lastFrame().length === f.length && Buffer.from(lastFrame()).equals(Buffer.from(f));
  }
  s = m.stats();
  if (r !== 0 || !back || typeof s === "number" || s.STATE !== ABI_STATE.RUNNING) {
    F.recoveryFailures++;
    fail(`no recovery: transmit ${r}, frame back ${back}, state ${typeof s === "number" ? s : s.STATE}, device status ${m.transport.status}`);
    return false;
  }
  return true;
}
