// The `virtio-rt` command as a user runs it: summaries, JSON keys, traces, errors on bad input.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../host/paths.js";

const CLI = join(PROJECT_ROOT, "dist", "host", "cli.js");
const dir = mkdtempSync(join(tmpdir(), "virtio-rt-cli-"));

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe("virtio-rt run", () => {
  it("prints a JSON summary whose only 64-hex string is the trace digest, and writes the trace", () => {
    const trace = join(dir, "a.jsonl");
    const r = cli("run", "--frames", "200", "--seed", "5", "--json", "--trace", trace);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out);
    expect(s).toMatchObject({ framesSent: 200, framesReceived: 200, mismatches: 0, drops: 0, breaches: 0 });
    for (const k of ["bytesSent", "registerReads", "registerWrites", "interrupts", "virtualTimeNs", "driverWasmBytes", "reservedMemoryBytes"]) {
      expect(s[k]).toBeGreaterThan(0);
    }
    expect(r.out.match(/[0-9a-f]{64}/g)).toEqual([s.traceDigest]);
    const lines = readFileSync(trace, "utf8");
    expect(lines.trimEnd().split("\n").length).toBe(s.traceEvents);
    expect(createHash("sha256").update(lines).digest("hex")).toBe(s.traceDigest);
  });

  it("gives the same digest for the same seed and a different one for another seed", () => {
    const d = (seed: string) => JSON.parse(cli("run", "--frames", "300", "--seed", seed, "--json").out).traceDigest;
    expect(d("11")).toBe(d("11"));
    expect(d("11")).not.toBe(d("12"));
  });

  it("prints a readable summary by default", () => {
    const r = cli("run", "--frames", "50");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^frames {6}sent 50, received 50, dropped 0/m);
    expect(r.out).toMatch(/^mismatches {2}0$/m);
    expect(r.out).toMatch(/^trace .* sha256 [0-9a-f]{64}$/m);
  });

  it("takes a scenario file, with flags overriding it", () => {
    const p = file("s.json", JSON.stringify({ frames: 40, seed: 3, minSize: 100, maxSize: 200, rxBufSize: 64 }));
    const s = JSON.parse(cli("run", "--scenario", p, "--frames", "30", "--json").out);
    expect(s.framesSent).toBe(30);
    expect(s.framesReceived).toBe(30);
    expect(s.bytesSent).toBeGreaterThanOrEqual(3000);
    expect(s.bytesSent).toBeLessThanOrEqual(6000);
  });

  it.each([
    [["run", "--frames", "abc"], /--frames must be an integer/],
    [["run", "--seed", "-1"], /--seed/],
    [["run", "--bogus"], /unknown option '--bogus'/],
    [["walk"], /unknown command 'walk'/],
    [["run", "--scenario", "/nonexistent/s.json"], /cannot read scenario .*ENOENT/],
  ])("refuses %j with one line on stderr and exit 2", (args, message) => {
    const r = cli(...(args as string[]));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.err.trimEnd().split("\n").length).toBe(1);
    expect(r.err).not.toMatch(/\n\s+at /);
    expect(r.out).toBe("");
  });

  it.each([
    ["{ frames: 1 }", /not valid JSON/],
    ['{ "frames": "many" }', /frames: .*number/],
    ['{ "frames": -5 }', /frames: /],
    ['{ "speed": 3 }', /unrecognized key.*speed/i],
    ['{ "minSize": 900, "maxSize": 100 }', /minSize must not exceed maxSize/],
    ["[1, 2]", /\(top level\)/],
  ])("names the problem in a malformed scenario file %s", (text, message) => {
    const r = cli("run", "--scenario", file("bad.json", text));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.err.trimEnd().split("\n").length).toBe(1);
  });
});

describe("virtio-rt trace diff", () => {
  it("names the first differing event, and says identical traces are identical", () => {
    const a = join(dir, "d1.jsonl");
    const b = join(dir, "d2.jsonl");
    const c = join(dir, "d3.jsonl");
    cli("run", "--frames", "20", "--seed", "1", "--trace", a);
    cli("run", "--frames", "20", "--seed", "2", "--trace", b);
    cli("run", "--frames", "20", "--seed", "1", "--trace", c);
    const same = cli("trace", "diff", a, c);
    expect(same.code).toBe(0);
    expect(same.out).toMatch(/identical/);
    const diff = cli("trace", "diff", a, b, "--context", "2");
    expect(diff.code).toBe(1);
    const la = readFileSync(a, "utf8").split("\n");
    const lb = readFileSync(b, "utf8").split("\n");
    const first = la.findIndex((l, i) => l !== lb[i]);
    expect(diff.out).toContain(`first difference at event ${first} `);
    expect(diff.out).toContain(`- ${first}  ${la[first]}`);
    expect(diff.out).toContain(`+ ${first}  ${lb[first]}`);
    expect(diff.out).toContain(`  ${first - 1}  ${la[first - 1]}`);
  });

  it("refuses a missing file with exit 2", () => {
    const r = cli("trace", "diff", "/nonexistent/a", "/nonexistent/b");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/cannot read trace/);
  });
});
