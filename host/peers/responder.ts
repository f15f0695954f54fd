// The responder on a simulated machine: build/responder.wasm (the driver with the guest stack of
// assembly/responder/ linked in) attached to the virtio-net device and given its address.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PROJECT_ROOT } from "../paths.js";
import { Machine, type MachineOptions } from "../machine.js";
import { macString } from "./inet.js";

export const RESPONDER_PATH = join(PROJECT_ROOT, "build", "responder.wasm");

/** The responder_stats() counters in order (assembly/responder/stats.ts). */
export const RESPONDER_STATS = [
  "framesIn", "arpRequests", "arpReplies", "icmpEchoRequests", "icmpEchoReplies", "udpDatagrams",
  "udpEchoes", "notForUs", "badChecksum", "malformed", "unsupported", "udpClosed", "tooBig",
  "txErrors", "unconfigured",
] as const;
export type ResponderStats = Record<(typeof RESPONDER_STATS)[number], number>;

export interface ResponderConfig {
  /** a.b.c.d as a number, a in the top byte. */
  ip: number;
  prefix: number;
  udpPort: number;
}

export const DEFAULT_UDP_ECHO_PORT = 7;

interface ResponderExports {
  responder_config(dev: number, ip: number, prefix: number, udpPort: number): number;
  responder_stats(ptr: number): number;
  responder_stats_count(): number;
}

function responderExports(m: Machine): ResponderExports {
  const x = m.driver.instance.exports as unknown as Partial<ResponderExports>;
  if (typeof x.responder_config !== "function" || typeof x.responder_stats !== "function") {
    throw new Error("the guest module has no responder exports (use build/responder.wasm)");
  }
  return x as ResponderExports;
}

export function loadResponderModule(): Uint8Array {
  try {
    return readFileSync(RESPONDER_PATH);
  } catch {
    throw new Error(`no responder at ${RESPONDER_PATH}: run \`npm run build\` first`);
  }
}

/**
 * A machine running the responder: created, attached, configured. Throws when attach or the
 * configuration fails. Nothing runs on the clock until the caller runs it.
 */
export async function createResponder(cfg: ResponderConfig, opts: MachineOptions = {}): Promise<Machine> {
  const m = await Machine.create({ driver: loadResponderModule(), ...opts });
  const dev = m.attach();
  if (dev < 0 || m.dead) throw new Error(`responder: attach returned ${dev}${m.dead ? ` (${m.dead})` : ""}`);
  const x = responderExports(m);
  const r = m.entry("responder_config", () => x.responder_config(dev, cfg.ip >>> 0, cfg.prefix, cfg.udpPort) | 0, -1);
  if (r !== 0) throw new Error(`responder: responder_config refused (${r})`);
  return m;
}

/** The responder's counters (a guest entry: it is in the trace). */
export function responderStats(m: Machine): ResponderStats {
  const x = responderExports(m);
  const ptr = m.driver.io_buffer();
  const n = x.responder_stats_count();
  if (n !== RESPONDER_STATS.length) throw new Error(`responder has ${n} counters, the host knows ${RESPONDER_STATS.length}`);
  const r = m.entry("responder_stats", () => x.responder_stats(ptr) | 0, -1);
  if (r !== 0) throw new Error("responder_stats refused");
  const words = new Uint32Array(m.driver.memory.buffer.slice(ptr, ptr + n * 4));
  const out = {} as ResponderStats;
  RESPONDER_STATS.forEach((name, i) => (out[name] = words[i]!));
  return out;
}

/** The MAC the driver uses (from its stats). */
export function guestMac(m: Machine): Uint8Array {
  const s = m.stats();
  if (typeof s === "number") throw new Error(`stats refused: ${s}`);
  const b = new Uint8Array(6);
  const v = new DataView(b.buffer);
  v.setUint32(0, s.MAC_LO, true);
  v.setUint16(4, s.MAC_HI & 0xffff, true);
  return b;
}

export function guestMacString(m: Machine): string {
  return macString(guestMac(m));
}

/** What a responder session ends with: the digest, then the counters (read outside the trace). */
export interface ResponderSummary {
  mac: string;
  stats: ResponderStats;
  framesIn: number;
  framesOut: number;
  /** Frames the device dropped, by reason. */
  deviceDrops: Record<string, number>;
  virtualTimeNs: number;
  violations: number;
  traceEvents: number;
  traceDigest: string;
  driverDead?: string;
}

/**
 * Close a session's trace and read its counters. The counters are read by direct calls, not
 * guest entries, so the digest covers the frames and nothing that depends on when it ended.
 */
export function finishResponder(m: Machine, mac: string): ResponderSummary {
  const traceDigest = m.trace.digest();
  const x = responderExports(m);
  const ptr = m.driver.io_buffer();
  x.responder_stats(ptr);
  const words = new Uint32Array(m.driver.memory.buffer.slice(ptr, ptr + RESPONDER_STATS.length * 4));
  const stats = {} as ResponderStats;
  RESPONDER_STATS.forEach((name, i) => (stats[name] = words[i]!));
  const out: ResponderSummary = {
    mac,
    stats,
    framesIn: m.net.stats.rxFrames,
    framesOut: m.net.stats.txFrames,
    deviceDrops: { ...m.net.stats.drops },
    virtualTimeNs: m.clock.now,
    violations: m.transport.violations.length,
    traceEvents: m.trace.count,
    traceDigest,
  };
  if (m.dead) out.driverDead = m.dead;
  return out;
}
