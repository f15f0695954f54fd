// The one module that reads the host's wall clock. It times whole runs (benchmarks, fuzz
// campaigns, the worst-case search's closing line) and paces a live peer (`--pace realtime`).
// Nothing simulated may depend on it: virtual time comes from the clock and the cost model, and
// tests/report/determinism-sources.test.ts keeps every other host file free of wall clocks.

/** Milliseconds on a monotonic wall clock (only differences mean anything). */
export function wallMs(): number {
  return performance.now();
}

/** Nanoseconds on a monotonic wall clock, exact (only differences mean anything). */
export function wallNs(): bigint {
  return process.hrtime.bigint();
}
