// One latency distribution in virtual ns: exact count, min, max and sum beside an HDR histogram
// (hdr-histogram-js, 3 significant digits) that gives the percentiles and the buckets
// (DESIGN.md, Measurement).
import * as hdr from "hdr-histogram-js";

/** What a distribution reports; every value is an integer number of ns (mean rounded down). */
export interface LatencySummary {
  count: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  p99_9: number;
  max: number;
  mean: number;
  /** Power-of-two buckets: [upper bound (exclusive) in ns, count], empty buckets left out. */
  histogram: [number, number][];
}

export const PERCENTILES = [50, 90, 99, 99.9] as const;

export class LatencyStats {
  private n = 0;
  private lo = Infinity;
  private hi = -Infinity;
  private sum = 0;
  private readonly h = hdr.build({ bitBucketSize: 32, autoResize: true, lowestDiscernibleValue: 1, highestTrackableValue: 2, numberOfSignificantValueDigits: 3, useWebAssembly: false }) as hdr.JsHistogram;

  record(ns: number): void {
    if (!Number.isInteger(ns) || ns < 0) throw new RangeError(`latency must be a non-negative integer ns, got ${ns}`);
    this.n++;
    this.sum += ns;
    if (ns < this.lo) this.lo = ns;
    if (ns > this.hi) this.hi = ns;
    this.h.recordValue(ns);
  }

  get count(): number {
    return this.n;
  }

  summary(): LatencySummary {
    if (this.n === 0) return { count: 0, min: 0, p50: 0, p90: 0, p99: 0, p99_9: 0, max: 0, mean: 0, histogram: [] };
    // HDR returns the highest value equivalent to the percentile's bucket; clamp into the exact
    // [min, max], so a percentile never exceeds the maximum actually seen.
    const p = (q: number) => Math.min(this.hi, Math.max(this.lo, this.h.getValueAtPercentile(q)));
    return {
      count: this.n,
      min: this.lo,
      p50: p(50),
      p90: p(90),
      p99: p(99),
      p99_9: p(99.9),
      max: this.hi,
      mean: Math.floor(this.sum / this.n),
      histogram: this.buckets(),
    };
  }

  /** HDR's counts folded into power-of-two buckets [2^k, 2^(k+1)) (0 goes into the first, bound 1). */
  private buckets(): [number, number][] {
    const out = new Map<number, number>();
    const h = this.h;
    for (let i = 0; i < h.countsArrayLength; i++) {
      const c = h.getCountAtIndex(i);
      if (c === 0) continue;
      const v = h.valueFromIndex(i);
      let bound = 1;
      while (bound <= v) bound *= 2;
      out.set(bound, (out.get(bound) ?? 0) + c);
    }
    return [...out.entries()].sort((a, b) => a[0] - b[0]);
  }
}
