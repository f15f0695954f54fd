// The responder module's extra exports (build/responder.wasm = the driver + this stack, one
// module, the same HAL): configure the address and echo port, read the counters. The driver ABI
// itself comes from assembly/index.ts, the other entry of the build.
import { iface_config } from "./iface";
import { RS, RS_COUNT } from "./stats";
import { linear_size } from "../mem";

// Linked in for asconfig's VRT_STACK_INPUT alias: the driver's receive path calls it.
import "./stack";

/**
 * Answer on device `dev` (attached) as IPv4 address `ip` (a.b.c.d = a << 24 | b << 16 | c << 8 | d)
 * in `ip/prefix`, echoing UDP on `udpPort`. Returns 0, or -1 (not attached, prefix above 32).
 */
export function responder_config(dev: u32, ip: u32, prefix: u32, udpPort: u32): i32 {
  return iface_config(dev, ip, prefix, udpPort);
}

/** Write responder_stats_count() u32 counters (assembly/responder/stats.ts order) at ptr: 0 or -1. */
export function responder_stats(ptr: u32): i32 {
  const size = RS_COUNT * 4;
  const mem = linear_size();
  if (ptr > mem || size > mem - ptr) return -1;
  memory.copy(ptr, RS, size);
  return 0;
}

export function responder_stats_count(): u32 {
  return RS_COUNT;
}
