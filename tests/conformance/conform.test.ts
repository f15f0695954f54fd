// `virtio-rt conform`: the project's driver is clean under every profile and transport, the C
// example driver (built with clang for wasm32) passes, a module without the ABI is refused with
// what it lacks, and the clause registry is fully marked with coverage computed from it.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import wabtInit from "wabt";
import { CASCADES, hasCycle } from "../../host/conformance/cascades.js";
import { coverage, driverClausesInScope, markOf } from "../../host/conformance/registry.js";
import { runConformance } from "../../host/conformance/scenario.js";
import type { ClauseId } from "../../host/gen/clauses.js";
import { PROJECT_ROOT } from "../../host/paths.js";
import { loadProfile, PROFILE_NAMES } from "../../host/sim/profiles.js";

const CLI = join(PROJECT_ROOT, "dist", "host", "cli.js");
const dir = mkdtempSync(join(tmpdir(), "virtio-rt-conform-"));
const cli = (...args: string[]) => {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const hasClang = spawnSync("sh", ["-c", "command -v clang && command -v wasm-ld"]).status === 0;

describe("clause registry", () => {
  it("marks every in-scope driver clause, and coverage comes from the marks", () => {
    const cov = coverage();
    expect(cov.unmarked).toEqual([]);
    const rows = driverClausesInScope();
    expect(cov.total).toBe(rows.length);
    expect(cov.checked).toBe(rows.filter((r) => markOf(r.id as ClauseId).kind === "checked").length);
    expect(cov.checked + cov.notCheckable).toBe(cov.total);
    expect(rows.some((r) => r.id.startsWith("NETX-") || r.id.startsWith("PCI-") || r.id.startsWith("LEG-"))).toBe(false);
    for (const r of rows) {
      const m = markOf(r.id as ClauseId);
      if (m.kind === "not-checkable") expect(m.reason.length, r.id).toBeGreaterThan(10);
    }
  });

  it("declares cascades between in-scope clauses, without cycles", () => {
    expect(hasCycle()).toBe(false);
    const ids = new Set(driverClausesInScope().map((r) => r.id));
    for (const c of CASCADES) for (const id of [c.root, ...c.implies]) expect(ids.has(id), id).toBe(true);
  });
});

describe("virtio-rt conform", () => {
  it("passes the project's driver with every in-scope clause listed and totals", () => {
    const r = cli("conform", "--frames", "16");
    expect(r.code, r.err).toBe(0);
    const rows = r.out.split("\n").filter((l) => /^  [A-Z][A-Z0-9-]+-\d+\s/.test(l) || /^  DERIVED-/.test(l));
    expect(rows.length).toBe(coverage().total);
    expect(r.out).toMatch(/INIT-DRV-14\s+MUST NOT\s+held/);
    expect(r.out).toMatch(/NET-MQ-DRV-01\s+MUST\s+not checkable\s+control virtqueue command/);
    expect(r.out).not.toMatch(/violated  /);
    expect(r.out).toMatch(/re-attach: attach -> handle 0/);
    expect(r.out).toMatch(new RegExp(`Coverage: ${coverage().checked} of ${coverage().total} checked`));
    expect(r.out).toMatch(/Result: PASS/);
  });

  it.each(PROFILE_NAMES)("reports no breach for the project's driver under profile %s", async (name) => {
    const profile = loadProfile(name);
    const { report } = await runConformance({ profile, transport: profile.transport, frames: 24 });
    expect(report.roots.map((b) => `${b.clause}: ${b.detail}`)).toEqual([]);
    expect(report.cascades).toEqual([]);
    expect(report.pass).toBe(true);
  });

  it("refuses a module that lacks the ABI, naming what is missing, without a stack trace", async () => {
    const wabt = await wabtInit();
    const mod = wabt.parseWat("x.wat", '(module (import "env" "f" (func)) (memory (export "memory") 1) (func (export "attach") (param i32 i32 i32 i32 i32) (result i32) i32.const 0))');
    const p = join(dir, "x.wasm");
    writeFileSync(p, mod.toBinary({}).buffer);
    const r = cli("conform", "--driver", p);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/does not implement the driver ABI/);
    expect(r.err).toMatch(/import env\.f \(function\) is outside module "hal"/);
    for (const e of ["isr", "poll", "transmit", "tick", "stats", "detach", "mem_base", "mem_size", "abi_version"]) expect(r.err).toContain(`missing export ${e}`);
    expect(r.err).not.toMatch(/\n\s+at /);
    writeFileSync(join(dir, "junk.wasm"), "not wasm");
    const j = cli("conform", "--driver", join(dir, "junk.wasm"));
    expect(j.code).toBe(2);
    expect(j.err).toMatch(/not a loadable WebAssembly module/);
  });

  it.skipIf(!hasClang)("passes the C example driver built with clang for wasm32 (skipped: clang or wasm-ld absent)", () => {
    const out = join(dir, "c-driver");
    const b = spawnSync("sh", [join(PROJECT_ROOT, "tests/fixtures/c-driver/build.sh"), out], { encoding: "utf8" });
    expect(b.status, b.stderr).toBe(0);
    const r = cli("conform", "--driver", join(out, "driver.wasm"), "--json");
    expect(r.code, r.err).toBe(0);
    const rep = JSON.parse(r.out);
    expect(rep.pass).toBe(true);
    expect(rep.roots).toEqual([]);
    expect(rep.notes).toEqual(expect.arrayContaining(["traffic: 64 frames sent, 64 received back"]));
    expect(rep.totals.held).toBeGreaterThan(90);
  });

  it.skipIf(!hasClang)("fails the same C driver built without its write barrier, naming SPLIT-DRV-24 (skipped: clang absent)", () => {
    const out = join(dir, "c-driver-bug");
    const b = spawnSync("sh", [join(PROJECT_ROOT, "tests/fixtures/c-driver/build.sh"), out], { encoding: "utf8", env: { ...process.env, CFLAGS: "-DSEED_NO_WMB" } });
    expect(b.status, b.stderr).toBe(0);
    const r = cli("conform", "--driver", join(out, "driver.wasm"), "--quiet", "--frames", "8");
    expect(r.code).toBe(1);
    // The MB of the previous publication came before the new avail entry was written: no barrier separates them.
    expect(r.out).toMatch(/FAIL SPLIT-DRV-24 \[MUST\] 2\.7\.13\.3\.1 .*queue 1: avail ring entry \d+ written after the barrier/);
    const found = r.out.match(/^  (FAIL|WARN) \S+/gm)!;
    expect(new Set(found)).toEqual(new Set(["  FAIL SPLIT-DRV-24"])); // once per attach (a reset starts a new epoch)
    expect(r.out).toMatch(/Result: FAIL/);
  });
});
