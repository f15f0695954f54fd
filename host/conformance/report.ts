// The conformance report: every in-scope driver clause as held, violated (first breach, detail and
// virtual time), not exercised or not checkable, with totals; as text or JSON.
import type { ClauseId } from "../gen/clauses.js";
import type { Breach, MonitorResult } from "./monitor.js";
import { coverage, driverClausesInScope, levelOf, markOf, type Coverage, type Level, type Scope } from "./registry.js";

export type ClauseStatus = "held" | "violated" | "not exercised" | "not checkable";

export interface ClauseLine {
  clause: ClauseId;
  section: string;
  keyword: string;
  level: Level;
  status: ClauseStatus;
  /** The first breach, for a violated clause. */
  breach?: Breach;
  /** Times breached in all. */
  count?: number;
  /** The mark: what the check is, or why there is none. */
  note: string;
}

export interface ConformanceReport {
  driver: string;
  profile: string;
  transport: string;
  clauses: ClauseLine[];
  /** Root breaches first (what to fix), then cascades under their roots. */
  roots: Breach[];
  cascades: Breach[];
  totals: Record<ClauseStatus, number> & { mustViolated: number; shouldViolated: number };
  coverage: Coverage;
  /** Run notes (attach result, frames, errors). */
  notes: string[];
  /** Exit status: 0 only without MUST-level breaches. */
  pass: boolean;
}

export function buildReport(r: MonitorResult, scope: Scope, meta: { driver: string; profile: string; transport: string; notes: string[] }): ConformanceReport {
  const clauses: ClauseLine[] = [];
  for (const row of driverClausesInScope(scope)) {
    const id = row.id as ClauseId;
    const mark = markOf(id);
    const level = levelOf(row.keyword);
    const first = r.first.get(id);
    let status: ClauseStatus;
    if (first) status = "violated";
    else if (mark.kind === "not-checkable") status = "not checkable";
    else status = r.exercised.has(id) ? "held" : "not exercised";
    const note = mark.kind === "checked" ? `${mark.by}${mark.how ? ": " + mark.how : ""}` : mark.reason;
    clauses.push({ clause: id, section: row.section, keyword: row.keyword, level, status, breach: first, count: r.counts.get(id), note });
  }
  const totals = { held: 0, violated: 0, "not exercised": 0, "not checkable": 0, mustViolated: 0, shouldViolated: 0 };
  for (const c of clauses) {
    totals[c.status]++;
    if (c.status === "violated" && c.level === "fail") totals.mustViolated++;
    if (c.status === "violated" && c.level === "warn") totals.shouldViolated++;
  }
  // Breaches of clauses outside the scope (a device check of a clause not in it) still fail the run.
  const mustAny = r.breaches.some((b) => b.level === "fail");
  return {
    ...meta,
    clauses,
    roots: r.roots,
    cascades: r.breaches.filter((b) => b.root !== undefined),
    totals,
    coverage: coverage(scope),
    pass: !mustAny,
  };
}

const fmtNs = (ns: number) => (ns >= 1e6 ? `${(ns / 1e6).toFixed(3)} ms` : ns >= 1e3 ? `${(ns / 1e3).toFixed(1)} us` : `${ns} ns`);

export function formatReport(rep: ConformanceReport, verbose = true): string {
  const out: string[] = [];
  out.push(`virtio-rt conform: driver ${rep.driver}, profile ${rep.profile}, transport ${rep.transport}`);
  for (const n of rep.notes) out.push(`  ${n}`);
  out.push("");
  if (rep.roots.length > 0) {
    out.push("Breaches (root clause first, then what it caused):");
    for (const b of rep.roots) {
      out.push(`  ${b.level === "fail" ? "FAIL" : "WARN"} ${b.clause} [${b.keyword}] ${b.section} at ${fmtNs(b.time)} (${b.dev}, ${b.source}): ${b.detail}`);
      for (const c of rep.cascades.filter((x) => x.root === b.clause && x.dev === b.dev && x.epoch === b.epoch)) {
        out.push(`       -> ${c.clause} [${c.keyword}] at ${fmtNs(c.time)}: ${c.detail}`);
      }
    }
    out.push("");
  }
  if (verbose) {
    out.push("Clauses in scope:");
    const w = Math.max(...rep.clauses.map((c) => c.clause.length));
    for (const c of rep.clauses) {
      let tail = c.note;
      if (c.breach) tail = `first at ${fmtNs(c.breach.time)}${c.count && c.count > 1 ? ` (${c.count} times)` : ""}: ${c.breach.detail}${c.breach.root ? ` [cascade of ${c.breach.root}]` : ""}`;
      out.push(`  ${c.clause.padEnd(w)}  ${c.keyword.padEnd(10)} ${c.status.padEnd(13)}  ${tail}`);
    }
    out.push("");
  }
  const t = rep.totals;
  const cov = rep.coverage;
  out.push(`Totals: ${rep.clauses.length} driver clauses in scope: ${t.held} held, ${t.violated} violated (${t.mustViolated} MUST, ${t.shouldViolated} SHOULD), ${t["not exercised"]} not exercised, ${t["not checkable"]} not checkable`);
  out.push(`Coverage: ${cov.checked} of ${cov.total} checked (${cov.checkedMust} MUST-level, ${cov.checkedShould} SHOULD-level), ${cov.notCheckable} not checkable`);
  out.push(rep.pass ? "Result: PASS (no MUST-level breach)" : "Result: FAIL (MUST-level breaches)");
  return out.join("\n") + "\n";
}

/** The report as plain JSON (bigints none; breaches as objects). */
export function reportJson(rep: ConformanceReport): string {
  return JSON.stringify(rep, null, 2) + "\n";
}
