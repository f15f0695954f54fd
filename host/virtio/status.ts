// The device status state machine (2.1, 3.1.1) as a transition table: which bit a driver may set
// given what is set already and what was negotiated, and the clause it breaks when it may not.
import type { ClauseId } from "../gen/clauses.js";
import { F, STATUS } from "../gen/constants.js";
import { featureNames, has } from "./features.js";

export type StatusBitName = keyof typeof STATUS;

/** What the status decision needs to know about feature negotiation (2.2). */
export interface NegotiationState {
  /** DeviceFeatures: the bits the device offered. */
  readonly offered: bigint;
  /** DriverFeatures: the bits the driver has written (its accepted subset). */
  readonly accepted: bigint;
  /** The device's own verdict at FEATURES_OK: null accepts, a reason refuses (FEAT-DEV-03). */
  checkFeatures(accepted: bigint): string | null;
  /** Legacy interface (3.1.1 "legacy": steps 5 and 6 omitted): DRIVER_OK needs no FEATURES_OK. */
  readonly legacy?: boolean;
}

/** A check run when a bit is about to be set: undefined passes, a step outcome refuses. */
type Gate = (ctx: NegotiationState) => Omit<StatusStep, "bit" | "name"> | undefined;

export interface StatusRule {
  readonly bit: number;
  readonly name: StatusBitName;
  /** "device": only the device sets it; a driver write setting it is refused. */
  readonly owner: "driver" | "device";
  /** Bits that must already be set (earlier in this same write counts). */
  readonly requires: number;
  /** The clause a driver breaks by setting this bit without `requires`. */
  readonly clause: ClauseId;
  /** Refused once FAILED is set, until a reset (STATUS-DRV-03). */
  readonly blockedByFailed: boolean;
  readonly gate?: Gate;
}

const { ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK, SUSPEND, DEVICE_NEEDS_RESET, FAILED } = STATUS;

/** FEATURES_OK (3.1.1 step 5): only a subset of the offered bits (FEAT-DRV-01), and only if the device accepts it. */
const featuresGate: Gate = (ctx) => {
  const unoffered = ctx.accepted & ~ctx.offered;
  if (unoffered !== 0n) {
    return { outcome: "violation", clause: "FEAT-DRV-01", detail: `FEATURES_OK with bits the device did not offer: ${featureNames(unoffered).join(", ")}` };
  }
  const reason = ctx.checkFeatures(ctx.accepted);
  // The device leaves FEATURES_OK clear (FEAT-DEV-03); that is the device conforming, not a driver breach.
  if (reason !== null) return { outcome: "refused", clause: "FEAT-DEV-03", detail: reason };
  return undefined;
};

/** SUSPEND (2.1): only with VIRTIO_F_SUSPEND negotiated (SUSP-DRV-01); this host cannot suspend (SUSP-DEV-06). */
const suspendGate: Gate = (ctx) => {
  if (!has(ctx.accepted, F.SUSPEND) || !has(ctx.offered, F.SUSPEND)) {
    return { outcome: "violation", clause: "SUSP-DRV-01", detail: "SUSPEND set without VIRTIO_F_SUSPEND negotiated" };
  }
  return { outcome: "unsupported", clause: "SUSP-DEV-06", detail: "this device cannot suspend: DEVICE_NEEDS_RESET instead" };
};

/**
 * The transition table, in the order bits of one write are applied (the 3.1.1 order, then FAILED).
 * Setting FAILED is legal at any time (3.1.1: "on an irrecoverable error ... set FAILED").
 */
export const STATUS_TABLE: readonly StatusRule[] = [
  { bit: ACKNOWLEDGE, name: "ACKNOWLEDGE", owner: "driver", requires: 0, clause: "INIT-DRV-02", blockedByFailed: true },
  { bit: DRIVER, name: "DRIVER", owner: "driver", requires: ACKNOWLEDGE, clause: "INIT-DRV-03", blockedByFailed: true },
  { bit: FEATURES_OK, name: "FEATURES_OK", owner: "driver", requires: ACKNOWLEDGE | DRIVER, clause: "INIT-DRV-07", blockedByFailed: true, gate: featuresGate },
  { bit: DRIVER_OK, name: "DRIVER_OK", owner: "driver", requires: ACKNOWLEDGE | DRIVER | FEATURES_OK, clause: "INIT-DRV-11", blockedByFailed: true },
  { bit: SUSPEND, name: "SUSPEND", owner: "driver", requires: ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK, clause: "SUSP-DRV-01", blockedByFailed: true, gate: suspendGate },
  { bit: FAILED, name: "FAILED", owner: "driver", requires: 0, clause: "INIT-DRV-12", blockedByFailed: false },
  { bit: DEVICE_NEEDS_RESET, name: "DEVICE_NEEDS_RESET", owner: "device", requires: 0, clause: "STATUS-DRV-01", blockedByFailed: false },
];

const DEFINED = STATUS_TABLE.reduce((m, r) => m | r.bit, 0);

/**
 * One bit (or, for whole-write refusals, a mask) of a status write and what became of it:
 * "set" accepted; "violation" a driver breach, bit left clear; "refused" the device declined,
 * conformantly (FEAT-DEV-03); "unsupported" legal but beyond this device (SUSP-DEV-06).
 */
export interface StatusStep {
  bit: number;
  name: string;
  outcome: "set" | "violation" | "refused" | "unsupported";
  clause?: ClauseId;
  detail?: string;
}

export interface StatusDecision {
  /** The write was 0: reset the device (2.4, 4.2.2 Status). */
  reset: boolean;
  /** The status after the write. */
  next: number;
  /** Newly set bits in table order, plus any whole-write refusal. Already-set bits produce nothing. */
  steps: StatusStep[];
}

/** Decide a driver write of `value` to the status field when it currently reads `cur`. Pure. */
export function decideStatusWrite(cur: number, value: number, ctx: NegotiationState): StatusDecision {
  value >>>= 0;
  if (value === 0) return { reset: true, next: 0, steps: [] };

  // STATUS-DRV-02: a write must keep every set bit. DEVICE_NEEDS_RESET is the device's, so a
  // driver writing back a status read before the device set it does not clear it.
  const cleared = cur & ~value & ~DEVICE_NEEDS_RESET;
  if (cleared !== 0) {
    return {
      reset: false,
      next: cur,
      steps: [{ bit: cleared, name: "clear", outcome: "violation", clause: "STATUS-DRV-02", detail: `write 0x${value.toString(16)} clears 0x${cleared.toString(16)} of status 0x${cur.toString(16)}` }],
    };
  }

  const steps: StatusStep[] = [];
  let next = cur;
  const undefinedBits = value & ~DEFINED;
  if (undefinedBits !== 0) {
    steps.push({ bit: undefinedBits, name: "undefined", outcome: "violation", clause: "STATUS-DRV-01", detail: `undefined status bits 0x${undefinedBits.toString(16)} (2.1)` });
  }
  for (const rule of STATUS_TABLE) {
    if ((value & rule.bit) === 0 || (cur & rule.bit) !== 0) continue;
    const step = decideBit(rule, next, ctx);
    steps.push(step);
    if (step.outcome === "set") next |= rule.bit;
  }
  return { reset: false, next, steps };
}

function decideBit(rule: StatusRule, sofar: number, ctx: NegotiationState): StatusStep {
  const { bit, name } = rule;
  if (rule.owner === "device") {
    return { bit, name, outcome: "violation", clause: rule.clause, detail: `${name} is set by the device only (2.1)` };
  }
  if (rule.blockedByFailed && (sofar & FAILED) !== 0) {
    return { bit, name, outcome: "violation", clause: "STATUS-DRV-03", detail: `${name} after FAILED without a reset` };
  }
  const requires = ctx.legacy && rule.bit === DRIVER_OK ? ACKNOWLEDGE | DRIVER : rule.requires;
  const missing = requires & ~sofar;
  if (missing !== 0) {
    return { bit, name, outcome: "violation", clause: rule.clause, detail: `${name} before ${statusNames(missing).join("|")} (status 0x${sofar.toString(16)})` };
  }
  const gated = rule.gate?.(ctx);
  if (gated !== undefined) return { bit, name, ...gated };
  return { bit, name, outcome: "set" };
}

/** Names of the status bits in `mask`, in table order, unknown bits as hex. */
export function statusNames(mask: number): string[] {
  const out = STATUS_TABLE.filter((r) => (mask & r.bit) !== 0).map((r) => r.name as string);
  const rest = mask & ~DEFINED;
  if (rest !== 0) out.push(`0x${rest.toString(16)}`);
  return out;
}
