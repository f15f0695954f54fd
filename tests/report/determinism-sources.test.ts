// Determinism by construction: no host or driver source reads the wall clock or unseeded
// randomness, except host/wall-clock.ts (timing whole runs, pacing a live peer).
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../host/paths.js";

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === "gen" ? [] : sources(p);
    return e.name.endsWith(".ts") || e.name.endsWith(".mjs") ? [p] : [];
  });
}

const FORBIDDEN = /\bDate\.now\(|\bnew Date\(|\bperformance\.now\(|\bprocess\.hrtime\b|\bMath\.random\(|\bcrypto\.random|\brandomBytes\(|\brandomUUID\(/;

describe("sources of nondeterminism", () => {
  it("only host/wall-clock.ts reads the wall clock, and nothing draws unseeded randomness", () => {
    const offenders: string[] = [];
    for (const file of [...sources(join(PROJECT_ROOT, "host")), ...sources(join(PROJECT_ROOT, "assembly"))]) {
      const rel = relative(PROJECT_ROOT, file);
      if (rel === join("host", "wall-clock.ts")) continue;
      readFileSync(file, "utf8")
        .split("\n")
        .forEach((line, i) => {
          if (FORBIDDEN.test(line) && !line.trimStart().startsWith("//")) offenders.push(`${rel}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(offenders).toEqual([]);
  });

  it("the check itself catches a wall-clock read", () => {
    expect(FORBIDDEN.test("const t = Date.now();")).toBe(true);
    expect(FORBIDDEN.test("const r = Math.random();")).toBe(true);
    expect(FORBIDDEN.test("const t = clock.now;")).toBe(false);
  });
});
