// Feature sets as bigints (up to 128 bits), named by the spec's names (constants table F, NET_F).
import { F, NET_F } from "../gen/constants.js";

export type FeatureName = keyof typeof F | keyof typeof NET_F;

const BITS: Record<string, number> = { ...F, ...NET_F };

/** The bit number of a feature name; throws a clear error for an unknown name. */
export function featureBit(name: string): number {
  const bit = BITS[name];
  if (bit === undefined) throw new Error(`unknown feature name ${JSON.stringify(name)} (known: ${Object.keys(BITS).join(", ")})`);
  return bit;
}

export function featureSet(names: readonly string[]): bigint {
  let set = 0n;
  for (const n of names) set |= 1n << BigInt(featureBit(n));
  return set;
}

export function has(set: bigint, bit: number): boolean {
  return ((set >> BigInt(bit)) & 1n) === 1n;
}

/** Names of the bits in `set`, known names first in bit order, unknown bits as `bit<N>`. */
export function featureNames(set: bigint, device: "net" | "none" = "net"): string[] {
  const byBit = new Map<number, string>();
  for (const [n, b] of Object.entries(F)) byBit.set(b, n);
  if (device === "net") for (const [n, b] of Object.entries(NET_F)) byBit.set(b, n);
  const out: string[] = [];
  for (let b = 0; b < 128; b++) if (has(set, b)) out.push(byBit.get(b) ?? `bit${b}`);
  return out;
}
