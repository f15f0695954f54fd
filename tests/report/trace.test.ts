import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { Trace } from "../../host/report/trace.js";

describe("Trace", () => {
  it("digest is the SHA-256 of the JSON-lines encoding", () => {
    const t = new Trace({ record: true });
    t.emit({ t: 0, k: "status", dev: "net0", from: 0, to: 1 });
    t.emit({ t: 2700, k: "mmio", dev: "net0", op: "r", reg: "MagicValue", off: 0, w: 4, v: 0x74726976 });
    const lines = t.toJsonLines();
    expect(lines.split("\n")[0]).toBe('{"t":0,"k":"status","dev":"net0","from":0,"to":1}');
    expect(t.digest()).toBe(createHash("sha256").update(lines).digest("hex"));
  });

  it("gives consumers every event and a different digest for different streams", () => {
    const a = new Trace();
    const b = new Trace();
    const seen: string[] = [];
    a.subscribe((e) => seen.push(e.k));
    a.emit({ t: 1, k: "x" });
    b.emit({ t: 2, k: "x" });
    expect(seen).toEqual(["x"]);
    expect(a.digest()).not.toBe(b.digest());
    expect(() => a.emit({ t: 3, k: "late" })).toThrow(/finished/);
  });

  it("refuses toJsonLines when not recording", () => {
    expect(() => new Trace().toJsonLines()).toThrow(/not recorded/);
  });
});
