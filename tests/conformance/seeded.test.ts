// Seeded breaches: each misbehaving driver breaks one in-scope MUST clause; the monitor must name
// that clause as the only root and report nothing a declared cascade of it does not explain.
// The same driver without a bug runs clean.
import { describe, expect, it } from "vitest";
import type { ClauseId } from "../../host/gen/clauses.js";
import { impliedClosure } from "../../host/conformance/cascades.js";
import { NET_DEPS } from "../../host/conformance/dependencies.js";
import { clause, levelOf } from "../../host/conformance/registry.js";
import { SeededDriver, type SeededOptions } from "./seeded-driver.js";

const TUNNEL = ["VERSION_1", "MAC", "STATUS", "MTU", "MRG_RXBUF", "CSUM", "HOST_TSO4", "HOST_TSO6", "HOST_USO", "HOST_UDP_TUNNEL_GSO"];
const NO_EI = ["VERSION_1", "MAC", "STATUS", "MTU", "MRG_RXBUF"];

/** [clause broken, driver options]. The bug is named by the clause. */
export const SEEDED: [ClauseId, SeededOptions?][] = [
  ["MMIO-DRV-01"], ["MMIO-DRV-02"], ["MMIO-DRV-03"], ["MMIO-DRV-04"], ["MMIO-DRV-05"], ["MMIO-DRV-12"], ["MMIO-DRV-13"],
  ["MMIO-DRV-14"], ["MMIO-DRV-15"], ["MMIO-DRV-17"], ["MMIO-DRV-19"], ["MMIO-DRV-20"], ["MMIO-DRV-24"], ["MMIO-DRV-25"],
  ["MMIO-DRV-28"], ["MMIO-DRV-30"], ["MMIO-DRV-21", { offer: [...NO_EI, "RING_RESET"] }],
  ["INIT-DRV-01"], ["INIT-DRV-03"], ["INIT-DRV-04"], ["INIT-DRV-06"], ["INIT-DRV-07"], ["INIT-DRV-08"], ["INIT-DRV-09"],
  ["INIT-DRV-10"], ["INIT-DRV-11"], ["INIT-DRV-13"], ["INIT-DRV-14"], ["STATUS-DRV-02"], ["STATUS-DRV-03"],
  ["FEAT-DRV-01", { force: ["CSUM"] }], ["FEAT-DRV-05", { offer: [...NO_EI, "70"], force: ["70"] }],
  ["RSVD-DRV-01", { drop: ["VERSION_1"] }], ["RSVD-DRV-10", { offer: [...NO_EI, "SR_IOV"], force: ["SR_IOV"] }],
  ["SPLIT-DRV-01"], ["SPLIT-DRV-04"], ["SPLIT-DRV-05", { offer: [...NO_EI, "INDIRECT_DESC"] }], ["SPLIT-DRV-06"],
  ["SPLIT-DRV-07", { offer: [...NO_EI, "INDIRECT_DESC"] }], ["SPLIT-DRV-09"], ["SPLIT-DRV-10", { offer: NO_EI }], ["SPLIT-DRV-12"],
  ["SPLIT-DRV-17"], ["SPLIT-DRV-20", { offer: NO_EI }], ["SPLIT-DRV-22"], ["SPLIT-DRV-24"], ["SPLIT-DRV-25"],
  ["FRAME-DRV-01"], ["DERIVED-SPLIT-IDX"], ["DERIVED-MEM"], ["DERIVED-HDR"], ["DERIVED-RX-WRITABLE"],
  ["NET-RXB-DRV-03"], ["NET-CFG-DRV-08", { offer: ["VERSION_1", "MAC", "MTU"], rxBufSize: 1200 }], ["NET-CFG-DRV-01"], ["NET-CFG-DRV-09"],
  ["CLEAN-DRV-01"], ["CFG-DRV-03", { offer: ["VERSION_1", "MAC", "STATUS"] }],
  ["NET-TX-DRV-02"], ["NET-TX-DRV-03"], ["NET-TX-DRV-07"], ["NET-TX-DRV-09"], ["NET-TX-DRV-11"], ["NET-TX-DRV-13"], ["NET-TX-DRV-17"],
  ["NET-TX-DRV-25"], ["NET-TX-DRV-31"], ["NET-TX-DRV-45"], ["NET-TX-DRV-46"],
  ["NET-TX-DRV-32", { offer: [...NO_EI, "CSUM", "HOST_TSO4"] }],
  ["NET-TX-DRV-26", { offer: [...TUNNEL, "HOST_UDP_TUNNEL_GSO_CSUM"] }], ["NET-TX-DRV-22", { offer: TUNNEL }], ["NET-TX-DRV-24", { offer: TUNNEL }],
  // The 5.1.3.1 table: offer and accept the feature without what it depends on.
  ...NET_DEPS.map((d): [ClauseId, SeededOptions] => [d.clause, { offer: [...NO_EI, String(d.feature)], force: [String(d.feature)] }]),
];

describe("seeded breaches", () => {
  it("the seeded driver without a bug runs clean, and exercises the checks", () => {
    for (const offer of [undefined, NO_EI]) {
      const d = new SeededDriver("none", { offer });
      d.run();
      const r = d.monitor.result();
      expect(r.breaches.map((b) => `${b.clause}: ${b.detail}`)).toEqual([]);
      expect(r.exercised.size).toBeGreaterThan(60);
      expect(d.rig.net.stats.txFrames).toBe(4);
      expect(d.rig.net.stats.rxFrames).toBe(4);
    }
  });

  it("covers at least 40 distinct in-scope MUST clauses", () => {
    const ids = SEEDED.map(([c]) => c);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBeGreaterThanOrEqual(40);
    for (const id of ids) expect(levelOf(clause(id).keyword), id).toBe("fail");
  });

  it.each(SEEDED)("%s is the one root, nothing unexplained", (id, opts) => {
    const d = new SeededDriver(id, opts);
    d.run();
    const r = d.monitor.result();
    const roots = r.roots.map((b) => b.clause);
    expect(roots, r.breaches.map((b) => `${b.clause}: ${b.detail}`).join("\n")).toEqual([id]);
    const allowed = impliedClosure(id);
    for (const b of r.breaches) if (b.clause !== id) expect(allowed.has(b.clause), `${b.clause} (${b.detail}) reported under ${id}`).toBe(true);
    const first = r.first.get(id)!;
    expect(first).toMatchObject({ clause: id, section: clause(id).section, keyword: clause(id).keyword, level: "fail" });
    expect(first.detail.length).toBeGreaterThan(5);
  });
});
