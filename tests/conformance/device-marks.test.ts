// The device clauses table (host/conformance/device-marks.ts): every in-scope device clause marked,
// every "implemented" one named by clause id in the test file its mark cites, counts computed and
// the same as docs/conformance.md shows.
import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { DEVICE_MARKS, deviceClausesInScope, deviceCoverage, deviceMarkOf } from "../../host/conformance/device-marks.js";

describe("device clauses table", () => {
  it("marks every in-scope device clause", () => {
    const c = deviceCoverage();
    expect(c.unmarked).toEqual([]);
    expect(c.total).toBe(deviceClausesInScope().length);
    expect(c.implemented + c.notApplicable).toBe(c.total);
    expect(c.implementedMust + c.implementedShould).toBe(c.implemented);
  });

  it("fails when a mark is removed (mutation check)", () => {
    const saved = DEVICE_MARKS["SPLIT-DEV-13"];
    delete DEVICE_MARKS["SPLIT-DEV-13"];
    try {
      expect(deviceCoverage().unmarked).toEqual(["SPLIT-DEV-13"]);
    } finally {
      DEVICE_MARKS["SPLIT-DEV-13"] = saved;
    }
  });

  it("names each implemented clause in the test that covers it; every not-applicable one has a reason", () => {
    const files = new Map<string, string>();
    for (const row of deviceClausesInScope()) {
      const m = deviceMarkOf(row)!;
      if (m.kind === "not-applicable") {
        expect(m.reason.length, row.id).toBeGreaterThan(10);
        continue;
      }
      expect(existsSync(m.test), `${row.id}: ${m.test}`).toBe(true);
      if (!files.has(m.test)) files.set(m.test, readFileSync(m.test, "utf8"));
      expect(files.get(m.test)!.includes(row.id), `${row.id} named in ${m.test}`).toBe(true);
    }
  });

  it("docs/conformance.md shows the computed counts", () => {
    const c = deviceCoverage();
    const doc = readFileSync("docs/conformance.md", "utf8");
    expect(doc).toContain(`| in-scope device clauses | ${c.total} |`);
    expect(doc).toContain(`| implemented (covered by a test) | ${c.implemented} (${c.implementedMust} MUST-level, ${c.implementedShould} SHOULD-level) |`);
    expect(doc).toContain(`| not applicable | ${c.notApplicable} |`);
  });
});
