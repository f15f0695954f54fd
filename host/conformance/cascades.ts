// Declared cascades (DESIGN.md, Conformance): a root breach that makes later ones inevitable. A
// breach whose clause a root implies, on the same device since the same reset, is reported under
// that root instead of as a root of its own. The graph is acyclic (a test keeps it so).
import type { ClauseId } from "../gen/clauses.js";
import { NET_DEPS } from "./dependencies.js";

export interface Cascade {
  root: ClauseId;
  implies: ClauseId[];
  why: string;
}

const TX_GSO_TYPES: ClauseId[] = ["NET-TX-DRV-07", "NET-TX-DRV-09", "NET-TX-DRV-11", "NET-TX-DRV-13"];

export const CASCADES: readonly Cascade[] = [
  { root: "RSVD-DRV-04", implies: ["DERIVED-MEM"], why: "a device access the DMA windows block: the queue then finds its ring or buffer unreachable" },
  { root: "INIT-DRV-10", implies: ["INIT-DRV-11", "INIT-DRV-14"], why: "a queue set up before FEATURES_OK: the DRIVER_OK and kicks that follow are premature too" },
  { root: "INIT-DRV-11", implies: ["INIT-DRV-14"], why: "DRIVER_OK refused: every kick comes before DRIVER_OK" },
  { root: "INIT-DRV-07", implies: ["INIT-DRV-10", "INIT-DRV-11", "INIT-DRV-14", "INIT-DRV-09"], why: "FEATURES_OK refused for order: everything after it is premature" },
  { root: "INIT-DRV-03", implies: ["INIT-DRV-07", "INIT-DRV-10", "INIT-DRV-11", "INIT-DRV-14"], why: "DRIVER refused: every later step lacks it" },
  { root: "INIT-DRV-04", implies: ["RSVD-DRV-01", "INIT-DRV-12"], why: "no features written: VERSION_1 is not accepted either" },
  { root: "INIT-DRV-06", implies: ["NET-CFG-DRV-01"], why: "a config write during feature negotiation is also a write of a read-only field" },
  { root: "FEAT-DRV-05", implies: ["FEAT-DRV-01"], why: "an undefined bit accepted is usually also unoffered" },
  ...NET_DEPS.map((d): Cascade => ({ root: d.clause, implies: ["FEAT-DRV-02"], why: "a 5.1.3.1 row is a FEAT-DRV-02 dependency" })),
  { root: "STATUS-DRV-03", implies: ["INIT-DRV-10", "INIT-DRV-11", "INIT-DRV-14"], why: "init bits refused after FAILED: later steps lack them" },
  { root: "MMIO-DRV-19", implies: ["MMIO-DRV-32"], why: "4.2.3.4 restates 4.2.2's acknowledge rule" },
  { root: "MMIO-DRV-21", implies: ["VQRST-DRV-01"], why: "the MMIO form of the generic queue-reset rule" },
  { root: "NET-RXB-DRV-03", implies: ["DERIVED-RX-WRITABLE"], why: "a receive buffer shorter than the header is not a usable receive buffer" },
  { root: "NET-CFG-DRV-08", implies: ["NET-RXB-DRV-02"], why: "a buffer too short for mtu is short of 1526 bytes too" },
  { root: "NET-TX-DRV-45", implies: ["NET-TX-DRV-03"], why: "without CSUM any flag is a NET-TX-DRV-03 breach as well" },
  { root: "NET-TX-DRV-46", implies: ["NET-TX-DRV-45", "NET-TX-DRV-17", "NET-TX-DRV-03", "NET-TX-DRV-32"], why: "DATA_VALID on transmit at all is NET-TX-DRV-45" },
  { root: "NET-TX-DRV-22", implies: ["NET-TX-DRV-43", "NET-TX-DRV-03"], why: "restated in 5.1.6.2.1" },
  { root: "NET-TX-DRV-26", implies: ["NET-TX-DRV-03"], why: "without CSUM any flag is a NET-TX-DRV-03 breach as well" },
  { root: "NET-TX-DRV-25", implies: ["NET-TX-DRV-17", "NET-TX-DRV-42", "NET-TX-DRV-32"], why: "both tunnel bits: each is a tunnel bit without the feature" },
  { root: "NET-TX-DRV-17", implies: ["NET-TX-DRV-42", "NET-TX-DRV-32"], why: "restated in 5.1.6.2.1; a tunnel bit makes gso_type non-NONE" },
  { root: "NET-TX-DRV-24", implies: ["NET-TX-DRV-11", "NET-TX-DRV-17", "NET-TX-DRV-42", "NET-TX-DRV-32"], why: "gso_type UDP is HOST_UFO's" },
  { root: "NET-TX-DRV-31", implies: ["NET-TX-DRV-32"], why: "an undefined gso_type is not NONE" },
  ...TX_GSO_TYPES.map((c): Cascade => ({ root: c, implies: ["NET-TX-DRV-32", "NET-TX-DRV-03"], why: "a GSO packet without the feature usually lacks NEEDS_CSUM (or sets it without CSUM)" })),
];

const IMPLIED = new Map<ClauseId, Set<ClauseId>>();
for (const c of CASCADES) {
  const s = IMPLIED.get(c.root) ?? new Set<ClauseId>();
  for (const i of c.implies) s.add(i);
  IMPLIED.set(c.root, s);
}

/** Clauses `root` implies, directly. */
export function impliedBy(root: ClauseId): ReadonlySet<ClauseId> {
  return IMPLIED.get(root) ?? new Set();
}

/** Clauses `root` implies, transitively (what a seeded breach of `root` may also report). */
export function impliedClosure(root: ClauseId): Set<ClauseId> {
  const out = new Set<ClauseId>();
  const todo = [root];
  while (todo.length > 0) {
    for (const c of impliedBy(todo.pop()!)) if (!out.has(c)) (out.add(c), todo.push(c));
  }
  return out;
}

/** True when the declared graph has a cycle (a clause implying itself). */
export function hasCycle(): boolean {
  return CASCADES.some((c) => impliedClosure(c.root).has(c.root));
}
