// The clause registry: the spec's clauses (host/gen/clauses.ts, from clauses.tsv), the declared
// scope (which clauses apply to this project's transports and rings), each in-scope driver clause's
// mark (checked, or not checkable with a reason) and the coverage numbers computed from them.
import { CLAUSE_ROWS, type ClauseId, type ClauseRow } from "../gen/clauses.js";
import { DRIVER_MARKS } from "./marks.js";

/** Transports a conformance run can use; the scope grows with them (issue 4 adds PCI and legacy). */
export type TransportName = "mmio" | "mmio-legacy" | "pci" | "pci-legacy";
export type RingName = "split" | "packed";

/** What the project implements today: virtio-mmio Version 2, split rings. */
export const IMPLEMENTED_TRANSPORTS: readonly TransportName[] = ["mmio"];
export const IMPLEMENTED_RINGS: readonly RingName[] = ["split"];

export interface Scope {
  transports: readonly TransportName[];
  rings: readonly RingName[];
}

export const DEFAULT_SCOPE: Scope = { transports: IMPLEMENTED_TRANSPORTS, rings: IMPLEMENTED_RINGS };

/** "fail" for MUST / MUST NOT, "warn" for SHOULD / SHOULD NOT / RECOMMENDED, "none" for MAY. */
export type Level = "fail" | "warn" | "none";

export function levelOf(keyword: string): Level {
  if (keyword.startsWith("MUST")) return "fail";
  if (keyword.startsWith("SHOULD") || keyword === "RECOMMENDED") return "warn";
  return "none";
}

const ROWS = new Map<string, ClauseRow>(CLAUSE_ROWS.map((r) => [r.id, r as ClauseRow]));

export function clause(id: ClauseId): ClauseRow {
  return ROWS.get(id)!;
}

export function allClauses(): readonly ClauseRow[] {
  return CLAUSE_ROWS as readonly ClauseRow[];
}

/**
 * The declared scope (issue 6): core facilities, the transports in use, split rings (packed when
 * it exists), virtio-net; legacy clauses only with a legacy transport; never NETX (the optional
 * extensions: IPsec, flow filters, RSS contexts, statistics, inner-header hash).
 */
export function inScope(row: ClauseRow, scope: Scope = DEFAULT_SCOPE): boolean {
  const id = row.id;
  const legacy = scope.transports.some((t) => t.endsWith("-legacy"));
  if (id.startsWith("NETX-")) return false;
  if (id.startsWith("LEG-")) return legacy;
  if (id.startsWith("MMIO-")) return scope.transports.some((t) => t.startsWith("mmio"));
  if (id.startsWith("PCI-")) return scope.transports.some((t) => t.startsWith("pci"));
  if (id.startsWith("PACKED-")) return scope.rings.includes("packed");
  // Shared memory regions (2.10) and device suspend are core facilities: in scope.
  return true;
}

/** A driver clause's mark: checked by the monitor or the device model, or not checkable and why. */
export type Mark =
  | { kind: "checked"; by: "monitor" | "device"; how?: string }
  | { kind: "not-checkable"; reason: string };

export function markOf(id: ClauseId): Mark {
  const row = clause(id);
  const m = DRIVER_MARKS[id];
  if (m !== undefined) return m;
  if (id.startsWith("PCI-") || id.startsWith("LEG-")) {
    return { kind: "not-checkable", reason: "the monitor reads the virtio-mmio (Version 2) register stream only: PCI and legacy register checks are not written yet" };
  }
  if (levelOf(row.keyword) === "none") return { kind: "not-checkable", reason: "a permission (MAY): no behaviour breaks it" };
  return { kind: "not-checkable", reason: "unmarked" };
}

export function driverClausesInScope(scope: Scope = DEFAULT_SCOPE): ClauseRow[] {
  return allClauses().filter((r) => r.who === "driver" && inScope(r, scope));
}

export interface Coverage {
  total: number;
  checked: number;
  notCheckable: number;
  /** Checked clauses by keyword level. */
  checkedMust: number;
  checkedShould: number;
  /** In-scope clauses with no mark at all (must be 0: a test keeps it so). */
  unmarked: ClauseId[];
}

/** Coverage of the in-scope driver clauses, computed from the marks (never typed by hand). */
export function coverage(scope: Scope = DEFAULT_SCOPE): Coverage {
  const rows = driverClausesInScope(scope);
  let checked = 0;
  let checkedMust = 0;
  let checkedShould = 0;
  const unmarked: ClauseId[] = [];
  for (const r of rows) {
    const m = markOf(r.id as ClauseId);
    if (m.kind === "checked") {
      checked++;
      if (levelOf(r.keyword) === "fail") checkedMust++;
      else checkedShould++;
    } else if (m.reason === "unmarked") unmarked.push(r.id as ClauseId);
  }
  return { total: rows.length, checked, notCheckable: rows.length - checked, checkedMust, checkedShould, unmarked };
}
