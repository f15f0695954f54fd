// Determinism: the pinned scenarios give exactly the pinned trace digests. When behaviour changes
// on purpose, `npm run digests` recomputes them and prints where the traces part.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { runScenario } from "../../host/analysis/run.js";
import { parseScenario } from "../../host/analysis/scenario.js";
import { DIGESTS_FILE, pinnedMachineOptions, type PinnedDigest } from "../../host/tools/digests-file.js";

const pinned: PinnedDigest[] = JSON.parse(readFileSync(DIGESTS_FILE, "utf8"));

describe("pinned trace digests", () => {
  it.each(pinned.map((p) => [p.name, p] as const))("%s", async (_name, p) => {
    const { summary } = await runScenario(parseScenario(p.scenario, p.name), pinnedMachineOptions(p));
    expect(summary.mismatches).toBe(0);
    expect(summary.breaches).toBe(0);
    expect(summary.traceDigest, "run `npm run digests` if this change of behaviour is intended").toBe(p.digest);
  });

  it("the link-flap scenario sends every frame and loses only those on the wire while the link was down", async () => {
    const p = pinned.find((x) => x.name === "link-flap")!;
    const { summary } = await runScenario(parseScenario(p.scenario));
    expect(summary.framesSent).toBe(400);
    expect(summary.linkDownWaits).toBeGreaterThan(0);
    expect(summary.drops).toBe(summary.deviceDrops["link-down"] ?? 0);
    expect(summary.framesReceived).toBe(400 - summary.drops);
  });
});
