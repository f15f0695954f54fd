// The virtio-net feature dependency table of 5.1.3.1 with the clause each row is (NET-DEP-01..26),
// and the feature-bit classes FEAT-DRV-05 needs (bits defined for virtio-net, transport-only bits).
import type { ClauseId } from "../gen/clauses.js";
import { F, NET_F } from "../gen/constants.js";
import { has } from "../virtio/features.js";

const N = NET_F;

export interface NetDep {
  clause: ClauseId;
  feature: number;
  mode: "all" | "any";
  requires: number[];
}

/** One row per NET-DEP clause, in clause order (clauses.tsv). */
export const NET_DEPS: readonly NetDep[] = [
  { clause: "NET-DEP-01", feature: N.GUEST_TSO4, mode: "all", requires: [N.GUEST_CSUM] },
  { clause: "NET-DEP-02", feature: N.GUEST_TSO6, mode: "all", requires: [N.GUEST_CSUM] },
  { clause: "NET-DEP-03", feature: N.GUEST_ECN, mode: "any", requires: [N.GUEST_TSO4, N.GUEST_TSO6] },
  { clause: "NET-DEP-04", feature: N.GUEST_UFO, mode: "all", requires: [N.GUEST_CSUM] },
  { clause: "NET-DEP-05", feature: N.GUEST_USO4, mode: "all", requires: [N.GUEST_CSUM] },
  { clause: "NET-DEP-06", feature: N.GUEST_USO6, mode: "all", requires: [N.GUEST_CSUM] },
  { clause: "NET-DEP-07", feature: N.GUEST_UDP_TUNNEL_GSO, mode: "all", requires: [N.GUEST_TSO4, N.GUEST_TSO6, N.GUEST_USO4, N.GUEST_USO6] },
  { clause: "NET-DEP-08", feature: N.GUEST_UDP_TUNNEL_GSO_CSUM, mode: "all", requires: [N.GUEST_UDP_TUNNEL_GSO] },
  { clause: "NET-DEP-09", feature: N.HOST_TSO4, mode: "all", requires: [N.CSUM] },
  { clause: "NET-DEP-10", feature: N.HOST_TSO6, mode: "all", requires: [N.CSUM] },
  { clause: "NET-DEP-11", feature: N.HOST_ECN, mode: "any", requires: [N.HOST_TSO4, N.HOST_TSO6] },
  { clause: "NET-DEP-12", feature: N.HOST_UFO, mode: "all", requires: [N.CSUM] },
  { clause: "NET-DEP-13", feature: N.HOST_USO, mode: "all", requires: [N.CSUM] },
  { clause: "NET-DEP-14", feature: N.HOST_UDP_TUNNEL_GSO, mode: "all", requires: [N.HOST_TSO4, N.HOST_TSO6, N.HOST_USO] },
  { clause: "NET-DEP-15", feature: N.HOST_UDP_TUNNEL_GSO_CSUM, mode: "all", requires: [N.HOST_UDP_TUNNEL_GSO] },
  { clause: "NET-DEP-16", feature: N.CTRL_RX, mode: "all", requires: [N.CTRL_VQ] },
  { clause: "NET-DEP-17", feature: N.CTRL_VLAN, mode: "all", requires: [N.CTRL_VQ] },
  { clause: "NET-DEP-18", feature: N.GUEST_ANNOUNCE, mode: "all", requires: [N.CTRL_VQ] },
  { clause: "NET-DEP-19", feature: N.MQ, mode: "all", requires: [N.CTRL_VQ] },
  { clause: "NET-DEP-20", feature: N.CTRL_MAC_ADDR, mode: "all", requires: [N.CTRL_VQ] },
  { clause: "NET-DEP-21", feature: N.NOTF_COAL, mode: "all", requires: [N.CTRL_VQ] },
  // As clauses.tsv words it (HOST_TSO4/6), noting the 5.1.6.4 text says GUEST_TSO4/6.
  { clause: "NET-DEP-22", feature: N.RSC_EXT, mode: "any", requires: [N.HOST_TSO4, N.HOST_TSO6] },
  { clause: "NET-DEP-23", feature: N.RSS, mode: "all", requires: [N.CTRL_VQ] },
  { clause: "NET-DEP-24", feature: N.VQ_NOTF_COAL, mode: "all", requires: [N.CTRL_VQ] },
  // HASH_TUNNEL requires CTRL_VQ and (RSS or HASH_REPORT): the "any" half is checked separately.
  { clause: "NET-DEP-25", feature: N.HASH_TUNNEL, mode: "all", requires: [N.CTRL_VQ] },
  { clause: "NET-DEP-26", feature: N.RSS_CONTEXT, mode: "all", requires: [N.CTRL_VQ, N.RSS] },
];

/** The NET-DEP rows the accepted set breaks. */
export function brokenDeps(accepted: bigint): NetDep[] {
  const out: NetDep[] = [];
  for (const d of NET_DEPS) {
    if (!has(accepted, d.feature)) continue;
    let ok = d.mode === "all" ? d.requires.every((r) => has(accepted, r)) : d.requires.some((r) => has(accepted, r));
    if (d.clause === "NET-DEP-25") ok = ok && (has(accepted, N.RSS) || has(accepted, N.HASH_REPORT));
    if (!ok) out.push(d);
  }
  return out;
}

/** Bits defined for a virtio-net device: the transport/reserved bits of 6 and the net bits of 5.1.3. */
export const DEFINED_NET_BITS: bigint = [...Object.values(F), ...Object.values(N)].reduce((s, b) => s | (1n << BigInt(b)), 0n);

/** Bits not valid on virtio-mmio (FEAT-DRV-04's example); SR_IOV has its own clause (RSVD-DRV-10). */
export const MMIO_INVALID_BITS: bigint = 1n << BigInt(F.ADMIN_VQ);
