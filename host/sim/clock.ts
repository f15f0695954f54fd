// Virtual time: an integer count of nanoseconds and a queue of events ordered by (time, sequence).
// The wall clock never decides anything here (DESIGN.md, Virtual time).

export type EventFn = () => void;

interface Pending {
  at: number;
  seq: number;
  fn: EventFn;
}

/** A handle to cancel a scheduled event. */
export interface Scheduled {
  readonly at: number;
  cancelled: boolean;
}

/**
 * The simulation clock. `now` only moves forward, to the time of the event being run or to a
 * time the caller advances to. Times are integers (ns) below 2^53, so plain numbers are exact.
 */
export class Clock {
  private heap: (Pending & Scheduled)[] = [];
  private seq = 0;
  private _now = 0;

  get now(): number {
    return this._now;
  }

  /** Events still waiting (cancelled ones included until they surface). */
  get pending(): number {
    return this.heap.length;
  }

  /** Schedule `fn` at absolute time `at` (clamped to now). Equal times run in scheduling order. */
  at(at: number, fn: EventFn): Scheduled {
    if (!Number.isFinite(at)) throw new RangeError(`event time must be finite, got ${at}`);
    const ev = { at: Math.max(Math.ceil(at), this._now), seq: this.seq++, fn, cancelled: false };
    this.push(ev);
    return ev;
  }

  /** Schedule `fn` after `delay` ns. */
  after(delay: number, fn: EventFn): Scheduled {
    return this.at(this._now + Math.max(0, delay), fn);
  }

  /** Time of the earliest live event, or Infinity. */
  nextTime(): number {
    this.dropCancelled();
    return this.heap.length > 0 ? this.heap[0].at : Infinity;
  }

  /**
   * Run every event due at or before `t`, in order, then leave `now` at `t` (never backwards).
   * Events scheduled by running events are run too if they fall due by `t`.
   * Returns the number of events run.
   */
  runUntil(t: number): number {
    let n = 0;
    for (;;) {
      this.dropCancelled();
      if (this.heap.length === 0 || this.heap[0].at > t) break;
      const ev = this.pop();
      this._now = ev.at;
      n++;
      ev.fn();
    }
    if (t > this._now && Number.isFinite(t)) this._now = t;
    return n;
  }

  /** Run the next live event, if any. Returns false when the queue is empty. */
  step(): boolean {
    this.dropCancelled();
    if (this.heap.length === 0) return false;
    const ev = this.pop();
    this._now = ev.at;
    ev.fn();
    return true;
  }

  /** Move `now` forward to `t` without running anything (the caller runs due events first). */
  advanceTo(t: number): void {
    if (t > this._now) this._now = t;
  }

  private dropCancelled(): void {
    while (this.heap.length > 0 && this.heap[0].cancelled) this.pop();
  }

  private less(a: Pending, b: Pending): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(ev: Pending & Scheduled): void {
    const h = this.heap;
    h.push(ev);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  private pop(): Pending & Scheduled {
    const h = this.heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l], h[m])) m = l;
        if (r < h.length && this.less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}

/** Parse a virtual duration such as `500us`, `20ms`, `1s`, `250ns` or a bare number of ns. */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ns|us|µs|ms|s)?\s*$/.exec(text);
  if (!m) throw new Error(`not a duration: ${JSON.stringify(text)} (use e.g. 250ns, 500us, 20ms, 1s)`);
  const scale = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9 }[(m[2] ?? "ns") as "ns"];
  return Math.round(Number(m[1]) * scale);
}
