// The virtio-net feature dependency table (5.1.3.1, NET-DEP-*): X requires Y (all, or one of).
import { NET_F } from "../gen/constants.js";
import { has } from "../virtio/features.js";

interface Dep {
  feature: number;
  /** "all": every listed feature is required; "any": at least one. */
  mode: "all" | "any";
  requires: number[];
}

const N = NET_F;
const DEPS: Dep[] = [
  { feature: N.GUEST_TSO4, mode: "all", requires: [N.GUEST_CSUM] },
  { feature: N.GUEST_TSO6, mode: "all", requires: [N.GUEST_CSUM] },
  { feature: N.GUEST_ECN, mode: "any", requires: [N.GUEST_TSO4, N.GUEST_TSO6] },
  { feature: N.GUEST_UFO, mode: "all", requires: [N.GUEST_CSUM] },
  { feature: N.GUEST_USO4, mode: "all", requires: [N.GUEST_CSUM] },
  { feature: N.GUEST_USO6, mode: "all", requires: [N.GUEST_CSUM] },
  { feature: N.HOST_TSO4, mode: "all", requires: [N.CSUM] },
  { feature: N.HOST_TSO6, mode: "all", requires: [N.CSUM] },
  { feature: N.HOST_ECN, mode: "any", requires: [N.HOST_TSO4, N.HOST_TSO6] },
  { feature: N.HOST_UFO, mode: "all", requires: [N.CSUM] },
  { feature: N.HOST_USO, mode: "all", requires: [N.CSUM] },
  { feature: N.CTRL_RX, mode: "all", requires: [N.CTRL_VQ] },
  { feature: N.CTRL_VLAN, mode: "all", requires: [N.CTRL_VQ] },
  { feature: N.GUEST_ANNOUNCE, mode: "all", requires: [N.CTRL_VQ] },
  { feature: N.MQ, mode: "all", requires: [N.CTRL_VQ] },
  { feature: N.CTRL_MAC_ADDR, mode: "all", requires: [N.CTRL_VQ] },
  { feature: N.NOTF_COAL, mode: "all", requires: [N.CTRL_VQ] },
  { feature: N.RSS, mode: "all", requires: [N.CTRL_VQ] },
  { feature: N.VQ_NOTF_COAL, mode: "all", requires: [N.CTRL_VQ] },
  { feature: N.RSC_EXT, mode: "any", requires: [N.HOST_TSO4, N.HOST_TSO6] },
];

/** The first unmet dependency in `set`, as "X requires Y", or null when all are met. */
export function unmetDependency(set: bigint, names: (bit: number) => string): string | null {
  for (const d of DEPS) {
    if (!has(set, d.feature)) continue;
    const ok = d.mode === "all" ? d.requires.every((r) => has(set, r)) : d.requires.some((r) => has(set, r));
    if (!ok) {
      const req = d.requires.map(names).join(d.mode === "all" ? " and " : " or ");
      return `${names(d.feature)} requires ${req}`;
    }
  }
  return null;
}
