// A level-triggered interrupt line: asserted while its source holds it (virtio-mmio's line
// follows InterruptStatus != 0, 4.2.3.4). Changes are traced; each 0 -> 1 edge calls onRaise.
import type { Clock } from "../sim/clock.js";
import type { Trace } from "../report/trace.js";

export class InterruptLine {
  private _level = false;
  private raiseFns: (() => void)[] = [];
  private changeFns: ((level: boolean) => void)[] = [];

  constructor(
    readonly name: string,
    private readonly trace: Trace,
    private readonly clock: Clock,
  ) {}

  get level(): boolean {
    return this._level;
  }

  /** Drive the line; only a change of level is traced. */
  set(level: boolean): void {
    if (level === this._level) return;
    this._level = level;
    this.trace.emit({ t: this.clock.now, k: "irq", line: this.name, level });
    if (level) for (const fn of [...this.raiseFns]) fn();
    for (const fn of [...this.changeFns]) fn(level);
  }

  /** Call `fn` on every change of level (an interrupt controller following a level line). */
  onChange(fn: (level: boolean) => void): void {
    this.changeFns.push(fn);
  }

  /** Call `fn` on every 0 -> 1 transition (the interrupt controller's hook). Returns an unsubscribe. */
  onRaise(fn: () => void): () => void {
    this.raiseFns.push(fn);
    return () => {
      this.raiseFns = this.raiseFns.filter((f) => f !== fn);
    };
  }
}
