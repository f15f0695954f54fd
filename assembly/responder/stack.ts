// The responder's receive entry: the driver's receive path calls stack_input for every frame
// when the build aliases VRT_STACK_INPUT to it (asconfig target "responder", docs/hal.md);
// Ethernet demultiplexing to ARP and IPv4.
import { be16 } from "./bytes";
import { arp_input } from "./arp";
import { ETHER_HDR, ETHERTYPE_ARP, ETHERTYPE_IPV4, cfgDev, cfgOn, is_our_mac } from "./iface";
import { ipv4_input } from "./ipv4";
import { RS_FRAMES_IN, RS_MALFORMED, RS_NOT_FOR_US, RS_UNCONFIGURED, RS_UNSUPPORTED, rs_count } from "./stats";

/** A received frame at linear offset `ptr` (Ethernet header first), valid during the call only. */
export function stack_input(dev: u32, ptr: u32, len: u32): void {
  rs_count(RS_FRAMES_IN);
  if (!cfgOn || dev != cfgDev) return rs_count(RS_UNCONFIGURED);
  if (len < ETHER_HDR) return rs_count(RS_MALFORMED);
  const broadcast = load<u32>(ptr) == 0xffffffff && load<u16>(ptr + 4) == 0xffff;
  if (!broadcast && !is_our_mac(ptr)) return rs_count(RS_NOT_FOR_US);
  const type = be16(ptr + 12);
  if (type == ETHERTYPE_ARP) arp_input(ptr, len);
  else if (type == ETHERTYPE_IPV4 && !broadcast) ipv4_input(ptr, len);
  else rs_count(RS_UNSUPPORTED);
}
