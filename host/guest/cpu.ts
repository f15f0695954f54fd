// The one vCPU: guest entries, guest time (entry start + metered instructions + exit costs), the
// device events that fall due while the guest runs, and interrupts: taken at the guest's next HAL
// call when unmasked, else at irq_restore or the entry's return (DESIGN.md, Virtual time).
import type { Clock } from "../sim/clock.js";
import type { Trace } from "../report/trace.js";

/** The counters of a metered module (host/guest/meter.ts) and what each unit costs. */
export interface CpuMeter {
  instructions: WebAssembly.Global;
  bytes: WebAssembly.Global;
  /** Integer picoseconds per counted Wasm instruction. */
  psPerInstruction: number;
  /** Integer picoseconds per byte of memory.copy / memory.fill. */
  psPerByte: number;
}

interface Frame {
  fn: string;
  start: number;
  /** Exit costs charged so far (register accesses, doorbells, EOI). */
  exitNs: number;
  /** Time spent in interrupt handlers that preempted this entry. */
  preemptedNs: number;
  /** Counter values of the entry this one preempted, restored when it returns. */
  savedIns: number;
  savedBytes: number;
}

/** Interrupts taken back to back at one HAL call before the guest is let go on (a livelock guard). */
const MAX_INTERRUPTS_PER_CALL = 64;

export class GuestCpu {
  private frames: Frame[] = [];
  private masked = 0;
  private maskStart = 0;
  private meter: CpuMeter | undefined;
  /** An interrupt reached the CPU and has not been taken yet. */
  private pending = false;
  /** Inside the interrupt handler: a second interrupt waits until it returns (x86 IF clear). */
  private inHandler = false;
  private handler: () => void = () => {};
  /** Work that wanted the guest while it was inside an entry; run when the entry returns. */
  private deferred: (() => void)[] = [];

  constructor(private readonly clock: Clock, private readonly trace: Trace) {}

  /** Count guest instructions from these counters (without a meter only exit costs move time). */
  setMeter(meter: CpuMeter | undefined): void {
    this.meter = meter;
  }

  get metered(): boolean {
    return this.meter !== undefined;
  }

  /** What runs when an interrupt is taken: the ISR as a (possibly nested) entry. */
  setInterruptHandler(fn: () => void): void {
    this.handler = fn;
  }

  get inEntry(): boolean {
    return this.frames.length > 0;
  }

  get interruptsMasked(): boolean {
    return this.masked > 0;
  }

  /** Instructions counted in the current entry so far (0 when unmetered or idle). */
  instructions(): number {
    return this.meter && this.frames.length > 0 ? this.meter.instructions.value >>> 0 : 0;
  }

  /** The guest's current virtual time (ns). */
  now(): number {
    const f = this.frames[this.frames.length - 1];
    if (!f) return this.clock.now;
    return f.start + this.meteredNs() + f.exitNs + f.preemptedNs;
  }

  /** Run the device events that have fallen due by the guest's current time. */
  sync(): void {
    this.clock.runUntil(this.now());
  }

  /**
   * Called at every HAL call, before it acts: stamp the guest's time, run the device events due
   * by then, and take a pending interrupt if interrupts are unmasked (the ISR runs re-entrantly,
   * and the HAL call then happens at the time the ISR returned).
   */
  halCall(): void {
    this.sync();
    for (let i = 0; i < MAX_INTERRUPTS_PER_CALL && this.takeable(); i++) {
      this.take();
      this.sync();
    }
  }

  /** The guest spends `ns` in an exit (register access, doorbell, EOI). */
  charge(ns: number): void {
    const f = this.frames[this.frames.length - 1];
    if (f) f.exitNs += ns;
  }

  /**
   * An interrupt reaches the CPU (after the profile's delivery latency). Idle: the handler runs
   * now. Inside an entry it waits for the next HAL call (unmasked), irq_restore, or the return.
   */
  raise(): void {
    this.pending = true;
    if (this.frames.length === 0) this.drain();
  }

  /**
   * Run one guest entry. A nested entry is taken only by the interrupt handler; other callers that
   * find the guest busy use `whenIdle`. A throw from the guest goes to `onTrap` and the entry
   * yields `fallback`.
   */
  enter<T>(fn: string, body: () => T, fallback: T, onTrap: (err: unknown) => void): T {
    const outer = this.frames[this.frames.length - 1];
    if (outer && !this.inHandler) throw new Error(`guest entry ${fn} while inside another entry`);
    const start = this.now();
    const f: Frame = { fn, start, exitNs: 0, preemptedNs: 0, savedIns: 0, savedBytes: 0 };
    if (this.meter) {
      f.savedIns = this.meter.instructions.value;
      f.savedBytes = this.meter.bytes.value;
      this.meter.instructions.value = 0;
      this.meter.bytes.value = 0;
    }
    this.frames.push(f);
    this.trace.emit({ t: start, k: "guest.enter", fn });
    let result = fallback;
    try {
      result = body();
    } catch (err) {
      onTrap(err);
    } finally {
      const ins = this.instructions();
      const end = this.now();
      // Device events up to the entry's end run while the guest is still inside it, so work
      // they want from the guest is deferred until after the exit, never nested in it.
      this.clock.runUntil(end);
      this.frames.pop();
      if (this.meter) {
        this.meter.instructions.value = f.savedIns;
        this.meter.bytes.value = f.savedBytes;
      }
      if (outer) outer.preemptedNs += end - start;
      this.trace.emit({ t: end, k: "guest.exit", fn, ns: end - start, ins });
      if (this.masked > 0) {
        // An entry must not return with interrupts masked; unmask and record it.
        this.trace.emit({ t: end, k: "irq.unmask", forced: true, ns: end - this.maskStart });
        this.masked = 0;
      }
    }
    if (this.frames.length === 0 && !this.inHandler) this.drain();
    return result;
  }

  /** Run `fn` now if the guest is idle, else right after the current entry (or interrupt) returns. */
  whenIdle(fn: () => void): void {
    if (this.frames.length > 0 || this.inHandler) this.deferred.push(fn);
    else fn();
  }

  /** Mask interrupts (a HAL call: due events and a pending interrupt are taken first). */
  irqSave(): number {
    this.halCall();
    const prev = this.masked > 0 ? 1 : 0;
    if (this.masked === 0) {
      this.maskStart = this.now();
      this.trace.emit({ t: this.maskStart, k: "irq.mask" });
    }
    this.masked = 1;
    return prev;
  }

  /** Restore; an interrupt that fell due while masked is taken at once (its delay is the remaining window). */
  irqRestore(state: number): void {
    if (state === 0 && this.masked > 0) {
      this.masked = 0;
      const t = this.now();
      this.trace.emit({ t, k: "irq.unmask", forced: false, ns: t - this.maskStart });
    }
    this.halCall();
  }

  private takeable(): boolean {
    return this.pending && this.masked === 0 && !this.inHandler;
  }

  private take(): void {
    this.pending = false;
    this.inHandler = true;
    try {
      this.handler();
    } finally {
      this.inHandler = false;
    }
  }

  /** Idle: take a pending interrupt first, then the deferred work (bounded: each item runs once). */
  private drain(): void {
    for (let i = 0; i < MAX_INTERRUPTS_PER_CALL && this.takeable(); i++) this.take();
    if (this.frames.length > 0 || this.inHandler) return;
    const items = this.deferred;
    this.deferred = [];
    for (const fn of items) fn();
  }

  private meteredNs(): number {
    const m = this.meter;
    if (!m) return 0;
    const ps = (m.instructions.value >>> 0) * m.psPerInstruction + (m.bytes.value >>> 0) * m.psPerByte;
    return Math.floor(ps / 1000);
  }
}
