// The one vCPU: guest entries, guest time, and the device events that fall due while the guest
// runs. Until metering lands, guest time advances only by exit costs (DESIGN.md, Virtual time).
import type { Clock } from "../sim/clock.js";
import type { Trace } from "../report/trace.js";

export class GuestCpu {
  private depth = 0;
  private entryStart = 0;
  private exitNs = 0;
  private masked = 0;
  private maskStart = 0;
  /** Work that wanted the guest while it was inside an entry; run when the entry returns. */
  private deferred: (() => void)[] = [];

  constructor(private readonly clock: Clock, private readonly trace: Trace) {}

  get inEntry(): boolean {
    return this.depth > 0;
  }

  get interruptsMasked(): boolean {
    return this.masked > 0;
  }

  /** The guest's current virtual time (ns). */
  now(): number {
    return this.depth > 0 ? this.entryStart + this.exitNs : this.clock.now;
  }

  /** Run the device events that have fallen due by the guest's current time (called at every HAL call). */
  sync(): void {
    this.clock.runUntil(this.now());
  }

  /** The guest spends `ns` in an exit (register access, doorbell, EOI). */
  charge(ns: number): void {
    this.exitNs += ns;
  }

  /**
   * Run one guest entry. Nested entries are not taken: callers that find the guest busy use
   * `whenIdle`. Returns the entry's result; a throw from the guest is passed to `onTrap` and the
   * entry yields `fallback`.
   */
  enter<T>(fn: string, body: () => T, fallback: T, onTrap: (err: unknown) => void): T {
    if (this.depth > 0) throw new Error(`guest entry ${fn} while inside another entry`);
    this.depth = 1;
    this.entryStart = this.clock.now;
    this.exitNs = 0;
    this.trace.emit({ t: this.entryStart, k: "guest.enter", fn });
    let result = fallback;
    try {
      result = body();
    } catch (err) {
      onTrap(err);
    } finally {
      const end = this.entryStart + this.exitNs;
      // Device events up to the entry's end run while the guest is still inside it, so work
      // they want from the guest is deferred until after the exit, never nested in it.
      this.clock.runUntil(end);
      this.depth = 0;
      this.trace.emit({ t: end, k: "guest.exit", fn, ns: end - this.entryStart });
      if (this.masked > 0) {
        // An entry must not return with interrupts masked; unmask and record it.
        this.trace.emit({ t: end, k: "irq.unmask", forced: true, ns: end - this.maskStart });
        this.masked = 0;
      }
    }
    this.runDeferred();
    return result;
  }

  /** Run `fn` now if the guest is idle, else right after the current entry returns. */
  whenIdle(fn: () => void): void {
    if (this.depth > 0) this.deferred.push(fn);
    else fn();
  }

  irqSave(): number {
    const prev = this.masked > 0 ? 1 : 0;
    if (this.masked === 0) {
      this.maskStart = this.now();
      this.trace.emit({ t: this.maskStart, k: "irq.mask" });
    }
    this.masked = 1;
    return prev;
  }

  irqRestore(state: number): void {
    if (state === 0 && this.masked > 0) {
      this.masked = 0;
      const t = this.now();
      this.trace.emit({ t, k: "irq.unmask", forced: false, ns: t - this.maskStart });
    }
  }

  private runDeferred(): void {
    // Bounded: each deferred item runs once; items it defers again run on a later return.
    const items = this.deferred;
    this.deferred = [];
    for (const fn of items) fn();
  }
}
