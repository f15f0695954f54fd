// The hostile-driver campaign: seeded random register accesses and ring contents against the
// device side (virtio-mmio + virtio-net), with QEMU's fuzz oracle: the device never throws, never
// hangs, completes every valid kicked chain or sets DEVICE_NEEDS_RESET, and records every breach.
import { MMIO, NET_Q, STATUS, VIRTQ_DESC_F } from "../gen/constants.js";
import { createNetBoard, type NetBoard } from "../board.js";
import { GuestMemory } from "../guest/memory.js";
import { Trace, type TraceEvent } from "../report/trace.js";
import { Clock } from "../sim/clock.js";
import { DEFAULT_PROFILE } from "../sim/profile.js";
import { Rng } from "../sim/rng.js";
import { featureSet } from "../virtio/features.js";
import { wallMs } from "../wall-clock.js";

const DEBUG = process.env.FUZZ_DEBUG === "1";

/** Simulator events one clock run may take; reaching it is a hang. */
export const MAX_EVENTS_PER_RUN = 100_000;

export interface HostileDriverOptions {
  seed: number;
  /** Driver actions to run (one register access, one ring write, one kick, one clock advance, one frame in). */
  steps: number;
  /** Actions on one device before a fresh board (default 5000). */
  stepsPerBoard?: number;
  onProgress?: (f: HostileDriverFigures) => void;
  /** Tests only: alter each new board, to mutation-check the oracle. */
  tamper?: (b: NetBoard) => void;
}

export interface HostileDriverFigures {
  seed: number;
  steps: number;
  boards: number;
  hostExceptions: number;
  hangs: number;
  doorbells: number;
  /** Most simulator events any clock run after a doorbell took (bounded by MAX_EVENTS_PER_RUN). */
  maxEventsPerDoorbell: number;
  /** DEVICE_NEEDS_RESET set, and set without a recorded breach (must be 0). */
  needsReset: number;
  silentNeedsReset: number;
  /** Kicked transmit chains on a live queue left neither used nor with NEEDS_RESET (must be 0). */
  incomplete: number;
  /** Transmit chains the device completed. */
  completed: number;
  breaches: Record<string, number>;
  violations: Record<string, number>;
  wallMs: number;
  failures: string[];
}

const REGS = [
  MMIO.MagicValue, MMIO.Version, MMIO.DeviceID, MMIO.VendorID, MMIO.DeviceFeatures, MMIO.DeviceFeaturesSel,
  MMIO.DriverFeatures, MMIO.DriverFeaturesSel, MMIO.GuestPageSize, MMIO.QueueSel, MMIO.QueueSizeMax, MMIO.QueueSize,
  MMIO.QueueAlign, MMIO.QueuePFN, MMIO.QueueReady, MMIO.QueueNotify, MMIO.InterruptStatus, MMIO.InterruptACK,
  MMIO.Status, MMIO.QueueDescLow, MMIO.QueueDescHigh, MMIO.QueueDriverLow, MMIO.QueueDriverHigh, MMIO.QueueDeviceLow,
  MMIO.QueueDeviceHigh, MMIO.SHMSel, MMIO.SHMLenLow, MMIO.SHMBaseLow, MMIO.QueueReset, MMIO.ConfigGeneration,
  MMIO.Config, MMIO.Config + 6, MMIO.Config + 8, MMIO.Config + 10,
];

/** Guest RAM layout of the fuzzer's rings: per queue a 64 KiB slot (table, avail, used, buffers). */
const SLOT = 0x1_0000;
const AVAIL = 0x1000;
const USED = 0x2000;
const BUFS = 0x4000;

/** One board and the fuzzer's view of it. */
class Session {
  readonly clock = new Clock();
  readonly trace = new Trace({ hash: false });
  readonly mem: GuestMemory;
  readonly b: NetBoard;
  readonly size = [0, 0];
  readonly availIdx = [0, 0];
  /** A TX kick since the last avail.idx write, made while DRIVER_OK was set. */
  txKicked = false;
  breachSinceReset = false;
  constructor(readonly rng: Rng, readonly F: HostileDriverFigures) {
    this.mem = new GuestMemory({ pages: 4, ramBase: DEFAULT_PROFILE.ramBase });
    // Half the boards also offer INDIRECT_DESC and RING_RESET, so nested and malformed indirect tables and queue resets are reached.
    const extra = rng.int(0, 1) ? ["INDIRECT_DESC", "RING_RESET"] : [];
    const features = featureSet([...DEFAULT_PROFILE.features, ...extra]);
    this.b = createNetBoard({ mem: this.mem, clock: this.clock, trace: this.trace, profile: DEFAULT_PROFILE, features });
    this.trace.subscribe((ev) => this.observe(ev));
  }
  /** The last trace events, for a failure's detail (FUZZ_DEBUG=1). */
  private readonly recent: TraceEvent[] = [];
  private observe(ev: TraceEvent): void {
    if (DEBUG) {
      this.recent.push(ev);
      if (this.recent.length > 80) this.recent.shift();
    }
    const e = ev as TraceEvent & { clause?: string; to?: number; from?: number };
    if (ev.k === "breach" || ev.k === "unsupported") {
      this.breachSinceReset = true;
      if (ev.k === "breach") this.F.breaches[e.clause!] = (this.F.breaches[e.clause!] ?? 0) + 1;
    } else if (ev.k === "violation") this.F.violations[e.clause!] = (this.F.violations[e.clause!] ?? 0) + 1;
    else if (ev.k === "status") {
      if (e.to === 0) this.breachSinceReset = false;
      if ((e.to! & STATUS.DEVICE_NEEDS_RESET) !== 0 && (e.from! & STATUS.DEVICE_NEEDS_RESET) === 0) {
        this.F.needsReset++;
        if (!this.breachSinceReset) {
          this.F.silentNeedsReset++;
          this.fail("DEVICE_NEEDS_RESET without a recorded breach");
        }
      }
    }
  }
  fail(what: string): void {
    if (DEBUG) what += "\n" + this.recent.map((e) => JSON.stringify(e)).join("\n");
    if (this.F.failures.length < 20) this.F.failures.push(`seed ${this.F.seed} step ${this.F.steps}: ${what}`);
  }
  gpa(q: number, off: number): number {
    return this.mem.ramBase + q * SLOT + off;
  }
  r(off: number, width: 1 | 2 | 4 = 4): number {
    this.F.steps++;
    return this.b.bus.read(this.b.base + off, width);
  }
  w(off: number, v: number, width: 1 | 2 | 4 = 4): void {
    this.F.steps++;
    this.b.bus.write(this.b.base + off, width, v);
    if (off === MMIO.QueueNotify && width === 4) {
      this.F.doorbells++;
      if ((v & 0xffff) === NET_Q.TX0 && (this.b.transport.status & STATUS.DRIVER_OK) !== 0) this.txKicked = true;
    }
  }
  /** Run the clock `ns` on (Infinity: until idle), bounded. */
  run(ns: number): void {
    this.F.steps++;
    const until = ns === Infinity ? Infinity : this.clock.now + ns;
    let n = 0;
    while (n < MAX_EVENTS_PER_RUN && this.clock.nextTime() <= until && this.clock.step()) n++;
    if (until !== Infinity && n < MAX_EVENTS_PER_RUN) this.clock.advanceTo(until);
    if (n >= MAX_EVENTS_PER_RUN) {
      this.F.hangs++;
      this.fail(`clock run over ${MAX_EVENTS_PER_RUN} events`);
    }
    if (this.txKicked) this.F.maxEventsPerDoorbell = Math.max(this.F.maxEventsPerDoorbell, n);
    if (ns === Infinity) this.checkCompletion();
  }
  /** After a full drain: a live transmit queue that was kicked has used every available chain (QEMU's fuzz oracle). */
  private checkCompletion(): void {
    const t = this.b.transport;
    const q = t.queue(NET_Q.TX0);
    if (!this.txKicked) return;
    this.txKicked = false;
    if ((t.status & (STATUS.DRIVER_OK | STATUS.DEVICE_NEEDS_RESET)) !== STATUS.DRIVER_OK || t.halted || !q || q.broken) return;
    const avail = this.mem.r16(q.cfg.driverAddr - this.mem.ramBase + 2);
    if (q.lastAvail !== avail || q.usedIdx !== q.lastAvail) {
      this.F.incomplete++;
      this.fail(`live transmitq: avail.idx ${avail}, consumed ${q.lastAvail}, used ${q.usedIdx}`);
    }
  }
}

// ---- actions: each is one step (register actions count each access) ----

/** A value biased to the interesting ones: 0, all ones, small, powers of two, status bit sets. */
function value(rng: Rng): number {
  switch (rng.int(0, 5)) {
    case 0: return 0;
    case 1: return 0xffff_ffff;
    case 2: return rng.int(0, 16);
    case 3: return 2 ** rng.int(0, 31);
    case 4: return [1, 3, 11, 15, 0x4f, 0x80, 0x40][rng.int(0, 6)]!;
    default: return rng.int(0, 0xffff_ffff) >>> 0;
  }
}

/** A guest-physical address: inside the fuzzer's RAM, at its edges, outside it, or huge. */
function address(s: Session): number {
  const size = s.mem.size;
  switch (s.rng.int(0, 7)) {
    case 0: return 0;
    case 1: return s.mem.ramBase + size - s.rng.int(0, 64);
    case 2: return s.mem.ramBase + size + s.rng.int(0, 1 << 20);
    case 3: return Number.MAX_SAFE_INTEGER - s.rng.int(0, 4096);
    default: return s.mem.ramBase + s.rng.int(0, size - 1);
  }
}

function length(rng: Rng): number {
  switch (rng.int(0, 5)) {
    case 0: return 0;
    case 1: return 0xffff_ffff;
    case 2: return rng.int(0x1_0000, 0x7fff_ffff);
    default: return rng.int(1, 2048);
  }
}

/** The whole init sequence (3.1.1), usually right, sometimes with one step wrong. */
function attach(s: Session): void {
  const { rng } = s;
  s.w(MMIO.Status, 0);
  s.w(MMIO.Status, STATUS.ACKNOWLEDGE);
  s.w(MMIO.Status, STATUS.ACKNOWLEDGE | STATUS.DRIVER);
  for (let word = 0; word < 2; word++) {
    s.w(MMIO.DeviceFeaturesSel, word);
    const offered = s.r(MMIO.DeviceFeatures);
    s.w(MMIO.DriverFeaturesSel, word);
    s.w(MMIO.DriverFeatures, rng.int(0, 9) === 0 ? value(rng) : (offered & (rng.int(0, 1) ? 0xffff_ffff : rng.int(0, 0xffff_ffff))) >>> 0);
  }
  s.w(MMIO.Status, STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK);
  if ((s.r(MMIO.Status) & STATUS.FEATURES_OK) === 0) return;
  for (const q of [NET_Q.RX0, NET_Q.TX0]) {
    s.w(MMIO.QueueSel, q);
    const max = s.r(MMIO.QueueSizeMax);
    const size = rng.int(0, 19) === 0 ? value(rng) & 0xffff : Math.min(max, 2 ** rng.int(0, 8));
    s.size[q] = size;
    s.availIdx[q] = 0;
    s.mem.u8.fill(0, q * SLOT, q * SLOT + BUFS);
    s.w(MMIO.QueueSize, size);
    const bad = rng.int(0, 19) === 0;
    s.w(MMIO.QueueDescLow, bad ? value(rng) : s.gpa(q, 0));
    s.w(MMIO.QueueDescHigh, 0);
    s.w(MMIO.QueueDriverLow, s.gpa(q, AVAIL));
    s.w(MMIO.QueueDriverHigh, 0);
    s.w(MMIO.QueueDeviceLow, s.gpa(q, USED));
    s.w(MMIO.QueueDeviceHigh, 0);
    s.w(MMIO.QueueReady, 1);
  }
  s.w(MMIO.Status, STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK | STATUS.DRIVER_OK);
}

function writeDesc(s: Session, q: number, i: number, addr: number, len: number, flags: number, next: number): void {
  s.F.steps++;
  const off = q * SLOT + 16 * i;
  if (off + 16 > (q + 1) * SLOT) return;
  s.mem.w64(off, addr);
  s.mem.w32(off + 8, len);
  s.mem.w16(off + 12, flags);
  s.mem.w16(off + 14, next);
}

function publish(s: Session, q: number, head: number, idxDelta = 1): void {
  s.F.steps++;
  const size = Math.max(1, s.size[q]! & 0xffff);
  s.mem.w16(q * SLOT + AVAIL + 4 + 2 * (s.availIdx[q]! % Math.min(size, 2048)), head);
  s.availIdx[q] = (s.availIdx[q]! + idxDelta) & 0xffff;
  s.mem.w16(q * SLOT + AVAIL + 2, s.availIdx[q]!);
  if (q === NET_Q.TX0) s.txKicked = false;
}

/** A valid chain: TX, header + frame over one to three readable descriptors; RX, one writable buffer. */
function validChain(s: Session, q: number): void {
  const size = s.size[q]!;
  if (!(size >= 1 && size <= 256)) return;
  const { rng } = s;
  // A well-behaved driver keeps at most QueueSize outstanding (read from used.idx): kick instead.
  const used = s.mem.r16(q * SLOT + USED + 2);
  if (((s.availIdx[q]! - used) & 0xffff) >= size) return s.w(MMIO.QueueNotify, q);
  const head = rng.int(0, size - 1);
  const n = q === NET_Q.TX0 ? Math.min(size, rng.int(1, 3)) : 1;
  let i = head;
  for (let k = 0; k < n; k++) {
    const next = (i + 1) % size;
    const buf = s.gpa(q, BUFS + 2048 * i % (SLOT - BUFS - 2048));
    const len = q === NET_Q.TX0 ? (k === 0 ? 12 + (n === 1 ? rng.int(14, 1514) : 0) : rng.int(1, 700)) : rng.int(1, 2048);
    if (q === NET_Q.TX0) s.mem.u8.fill(0, buf - s.mem.ramBase, buf - s.mem.ramBase + 12);
    writeDesc(s, q, i, buf, len, (q === NET_Q.RX0 ? VIRTQ_DESC_F.WRITE : 0) | (k < n - 1 ? VIRTQ_DESC_F.NEXT : 0), next);
    i = next;
  }
  publish(s, q, head);
}

/** A random descriptor: loops, self-links, out-of-range next, any address, zero and huge lengths, any flags. */
function randomDesc(s: Session, q: number): void {
  const { rng } = s;
  const size = Math.max(1, s.size[q]! & 0xffff);
  const i = rng.int(0, Math.min(size, 4096) - 1);
  const next = [i, (i + 1) % size, size + rng.int(0, 10), rng.int(0, 0xffff), 0][rng.int(0, 4)]!;
  writeDesc(s, q, i, address(s), length(rng), rng.int(0, 7), next);
}

/** An indirect table (maybe nested, maybe unnegotiated) behind a random descriptor. */
function indirect(s: Session, q: number): void {
  const { rng } = s;
  const size = Math.max(1, s.size[q]! & 0xffff);
  const table = s.gpa(q, BUFS + 16 * rng.int(0, 64));
  const entries = rng.int(0, 8);
  for (let k = 0; k < entries; k++) {
    const off = table - s.mem.ramBase + 16 * k;
    s.mem.w64(off, rng.int(0, 3) ? s.gpa(q, BUFS + rng.int(0, 0x8000)) : address(s));
    s.mem.w32(off + 8, length(rng));
    s.mem.w16(off + 12, rng.int(0, 7));
    s.mem.w16(off + 14, rng.int(0, 3) ? (k + 1) % Math.max(1, entries) : rng.int(0, 0xffff));
  }
  const head = rng.int(0, Math.min(size, 4096) - 1);
  writeDesc(s, q, head, table, rng.int(0, 3) ? 16 * entries : length(rng), VIRTQ_DESC_F.INDIRECT | (rng.int(0, 4) === 0 ? rng.int(0, 3) : 0), rng.int(0, size));
  if (rng.int(0, 1)) publish(s, q, head);
}

/** One action, chosen by weight. */
function act(s: Session): void {
  const { rng } = s;
  const q = rng.int(0, 1);
  const st = s.b.transport.status;
  // A stopped device (not DRIVER_OK, or NEEDS_RESET) is usually reset and set up again, so the campaign reaches live queues.
  if ((st & (STATUS.DRIVER_OK | STATUS.DEVICE_NEEDS_RESET)) !== STATUS.DRIVER_OK && rng.int(0, 3) === 0) return attach(s);
  const a = rng.int(0, 99);
  if (a < 1) return attach(s);
  if (a < 7) {
    // A register access of any width at any offset (mostly the defined ones), in any order.
    const width = ([1, 2, 4] as const)[rng.int(0, 2)];
    const off = rng.int(0, 4) === 0 ? rng.int(0, 0x1ff) : REGS[rng.int(0, REGS.length - 1)]!;
    if (rng.int(0, 1)) s.r(off, width);
    else s.w(off, value(rng), width);
    return;
  }
  if (a < 40) return validChain(s, q);
  if (a < 45) return randomDesc(s, q);
  if (a < 48) return indirect(s, q);
  if (a < 50) return publish(s, q, rng.int(0, 3) ? rng.int(0, Math.max(0, (s.size[q]! & 0xffff) - 1)) : rng.int(0, 0xffff));
  if (a < 51) return publish(s, q, rng.int(0, 0xffff), [0, 2, -1, 300, 0x8000][rng.int(0, 4)]!); // avail.idx jumps
  if (a < 68) return s.w(MMIO.QueueNotify, rng.int(0, 19) === 0 ? rng.int(0, 0xffff) : q);
  if (a < 78) {
    // A frame arriving from the network for the receive queue.
    s.F.steps++;
    s.b.backend.transmit(rng.bytes(new Uint8Array(rng.int(0, 1600))));
    return;
  }
  if (a < 86) return s.run(rng.int(0, 20_000)); // a short advance: descriptors rewritten between validation and use follow
  if (a < 96) return s.run(Infinity);
  s.w(MMIO.InterruptACK, s.r(MMIO.InterruptStatus));
}

export async function runHostileDriver(o: HostileDriverOptions): Promise<HostileDriverFigures> {
  const t0 = wallMs();
  const rng = new Rng(o.seed);
  const F: HostileDriverFigures = {
    seed: o.seed, steps: 0, boards: 0, hostExceptions: 0, hangs: 0, doorbells: 0, maxEventsPerDoorbell: 0,
    needsReset: 0, silentNeedsReset: 0, incomplete: 0, completed: 0, breaches: {}, violations: {}, wallMs: 0, failures: [],
  };
  const perBoard = o.stepsPerBoard ?? 5000;
  while (F.steps < o.steps) {
    const s = new Session(new Rng(rng.int(1, 0x7fffffff)), F);
    F.boards++;
    o.tamper?.(s.b);
    const end = Math.min(o.steps, F.steps + perBoard);
    attach(s);
    while (F.steps < end) {
      try {
        act(s);
      } catch (e) {
        F.hostExceptions++;
        s.fail(`host exception: ${(e as Error).stack ?? e}`);
      }
    }
    try {
      s.run(Infinity);
    } catch (e) {
      F.hostExceptions++;
      s.fail(`host exception: ${(e as Error).stack ?? e}`);
    }
    F.completed += s.b.net.stats.txFrames + (s.b.net.stats.drops["oversize"] ?? 0);
    F.wallMs = wallMs() - t0;
    if (o.onProgress && F.boards % 20 === 0) o.onProgress(F);
  }
  F.wallMs = wallMs() - t0;
  return F;
}
