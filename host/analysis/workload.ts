// Seeded workloads (DESIGN.md, Measurement): arrival processes (constant, burst, poisson,
// saturate), frame-size mixes (fixed, uniform, imix), directions and link flaps, parsed from the
// `virtio-rt latency` flags. Every time is an integer ns; every draw comes from a seeded Rng.
import { parseDuration } from "../sim/clock.js";
import { Rng } from "../sim/rng.js";

export type Direction = "rx" | "tx" | "both";

export type Arrivals =
  | { kind: "constant"; rate: number }
  | { kind: "poisson"; rate: number }
  | { kind: "burst"; frames: number; periodNs: number }
  | { kind: "saturate" };

export type Sizes = { kind: "fixed"; size: number } | { kind: "uniform"; min: number; max: number } | { kind: "imix" };

/** Simple IMIX without FCS: 7 × 60, 4 × 590, 1 × 1514 bytes (64/594/1518 on the wire with FCS). */
export const IMIX: readonly [number, number][] = [
  [60, 7],
  [590, 4],
  [1514, 1],
];

const MIN_FRAME = 14 + 4; // Ethernet header + the 4-byte sequence number
const MAX_FRAME = 1514;

/** `100k`, `2.5M`, `20000` (frames per second; a trailing `pps` or `/s` is allowed). */
export function parseRate(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*(?:pps|\/s)?\s*$/.exec(text);
  if (!m) throw new Error(`not a rate: ${JSON.stringify(text)} (frames per second, e.g. 50000, 100k, 1.5M)`);
  const r = Number(m[1]) * ({ "": 1, k: 1e3, K: 1e3, m: 1e6, M: 1e6 } as Record<string, number>)[m[2]];
  if (!(r > 0) || r > 1e9) throw new Error(`rate must be above 0 and at most 1G frames per second, got ${text}`);
  return r;
}

/** `constant`, `poisson`, `saturate`, or `burst[:N/T]` (N frames every T; default 8/100us). Rate from `--rate`. */
export function parseArrivals(text: string, rate: number): Arrivals {
  if (text === "constant" || text === "poisson") return { kind: text, rate };
  if (text === "saturate") return { kind: "saturate" };
  const m = /^burst(?::(\d+)\/(.+))?$/.exec(text);
  if (m) {
    const frames = m[1] === undefined ? 8 : Number(m[1]);
    const periodNs = m[2] === undefined ? 100_000 : parseDuration(m[2]);
    if (frames < 1 || periodNs < 1) throw new Error(`burst needs at least 1 frame every at least 1 ns, got ${text}`);
    return { kind: "burst", frames, periodNs };
  }
  throw new Error(`unknown workload ${JSON.stringify(text)} (constant, burst[:N/T], poisson, saturate)`);
}

/** `fixed:N`, `uniform:A-B` or `imix` (sizes in bytes, Ethernet header included, no FCS). */
export function parseSizes(text: string): Sizes {
  if (text === "imix") return { kind: "imix" };
  let m = /^fixed:(\d+)$/.exec(text);
  if (m) return { kind: "fixed", size: checkSize(Number(m[1]), text) };
  m = /^uniform:(\d+)-(\d+)$/.exec(text);
  if (m) {
    const min = checkSize(Number(m[1]), text);
    const max = checkSize(Number(m[2]), text);
    if (min > max) throw new Error(`size range ${text}: the first bound exceeds the second`);
    return { kind: "uniform", min, max };
  }
  throw new Error(`unknown size ${JSON.stringify(text)} (fixed:N, uniform:A-B, imix)`);
}

function checkSize(n: number, text: string): number {
  if (n < MIN_FRAME || n > MAX_FRAME) throw new Error(`size ${text}: frames are ${MIN_FRAME} to ${MAX_FRAME} bytes`);
  return n;
}

export function parseDirection(text: string): Direction {
  if (text === "rx" || text === "tx" || text === "both") return text;
  throw new Error(`unknown direction ${JSON.stringify(text)} (rx, tx, both)`);
}

/** `EVERY/DOWN`, e.g. `5ms/500us`: the link goes down at every multiple of EVERY for DOWN. */
export function parseLinkFlap(text: string): { everyNs: number; downNs: number } {
  const parts = text.split("/");
  if (parts.length !== 2) throw new Error(`link flap ${JSON.stringify(text)}: use EVERY/DOWN, e.g. 5ms/500us`);
  const everyNs = parseDuration(parts[0]);
  const downNs = parseDuration(parts[1]);
  if (downNs <= 0 || downNs >= everyNs) throw new Error(`link flap ${text}: DOWN must be above 0 and below EVERY`);
  return { everyNs, downNs };
}

/** Draws frame sizes. */
export function sizeSampler(s: Sizes, rng: Rng): () => number {
  switch (s.kind) {
    case "fixed":
      return () => s.size;
    case "uniform":
      return () => rng.int(s.min, s.max);
    case "imix": {
      const total = IMIX.reduce((a, [, w]) => a + w, 0);
      return () => {
        let r = rng.int(0, total - 1);
        for (const [size, w] of IMIX) {
          if (r < w) return size;
          r -= w;
        }
        return IMIX[IMIX.length - 1][0];
      };
    }
  }
}

/**
 * The gaps of an arrival process, in ns: `next(size)` gives the time from this frame to the next.
 * Saturation sends back to back at the link rate (`wireNs(size)`); the first frame is at 0.
 */
export function gapSampler(a: Arrivals, rng: Rng, wireNs: (size: number) => number): (size: number) => number {
  switch (a.kind) {
    case "constant": {
      // t_k = floor(k * 1e9 / rate): exact on average, no drift from rounding each gap.
      let k = 0;
      return () => {
        const gap = Math.floor(((k + 1) * 1e9) / a.rate) - Math.floor((k * 1e9) / a.rate);
        k++;
        return gap;
      };
    }
    case "poisson":
      // Exponential gaps with mean 1e9 / rate ns; u in [0, 1) so 1 - u is never 0.
      return () => Math.max(1, Math.round((-Math.log(1 - rng.float()) * 1e9) / a.rate));
    case "burst": {
      let i = 0;
      let used = 0;
      return (size) => {
        i++;
        if (i < a.frames) {
          const w = wireNs(size);
          used += w;
          return w;
        }
        const rest = Math.max(0, a.periodNs - used);
        i = 0;
        used = 0;
        return rest === 0 ? wireNs(size) : rest;
      };
    }
    case "saturate":
      return (size) => wireNs(size);
  }
}

/** Separate, reproducible random streams for each purpose, all derived from the one seed. */
export function streams(seed: number): { rxGaps: Rng; rxSizes: Rng; txGaps: Rng; txSizes: Rng; payload: Rng } {
  const s = seed >>> 0;
  return {
    rxGaps: new Rng((s * 5 + 1) | 0),
    rxSizes: new Rng((s * 5 + 2) | 0),
    txGaps: new Rng((s * 5 + 3) | 0),
    txSizes: new Rng((s * 5 + 4) | 0),
    payload: new Rng((s * 5 + 5) | 0),
  };
}
