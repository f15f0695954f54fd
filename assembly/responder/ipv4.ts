// IPv4 input for the responder (RFC 791, RFC 1122 3.2.1): header validated (version, IHL,
// lengths, header checksum), addressed to us, not a fragment; ICMP and UDP handed on.
import { be16, be32, csum_ok } from "./bytes";
import { ETHER_HDR, IPV4_HDR, cfgIp } from "./iface";
import { icmp_input } from "./icmp";
import { udp_input } from "./udp";
import { RS_BAD_CHECKSUM, RS_MALFORMED, RS_NOT_FOR_US, RS_UNSUPPORTED, rs_count } from "./stats";

const PROTO_ICMP: u32 = 1;
const PROTO_UDP: u32 = 17;

export function ipv4_input(f: u32, len: u32): void {
  if (len < ETHER_HDR + IPV4_HDR) return rs_count(RS_MALFORMED);
  const h = f + ETHER_HDR;
  const vihl = <u32>load<u8>(h);
  const hlen = (vihl & 0xf) * 4;
  const total = be16(h + 2);
  // Ethernet may pad a short packet: the IPv4 total length, not the frame, says where it ends.
  if (vihl >> 4 != 4 || hlen < IPV4_HDR || total < hlen || total > len - ETHER_HDR) return rs_count(RS_MALFORMED);
  if (!csum_ok(h, hlen)) return rs_count(RS_BAD_CHECKSUM);
  const dst = be32(h + 16);
  if (dst != cfgIp) return rs_count(RS_NOT_FOR_US);
  const src = be32(h + 12);
  // RFC 1122 3.2.1.3: never answer a broadcast, multicast, loopback or unspecified source.
  const a = src >> 24;
  if (src == 0 || src == 0xffffffff || a == 127 || (a >= 224 && a < 240)) return rs_count(RS_MALFORMED);
  // More fragments, or an offset: reassembly is not done here.
  if ((be16(h + 6) & 0x3fff) != 0) return rs_count(RS_UNSUPPORTED);
  const proto = <u32>load<u8>(h + 9);
  if (proto == PROTO_ICMP) icmp_input(f, src, h + hlen, total - hlen);
  else if (proto == PROTO_UDP) udp_input(f, src, dst, h + hlen, total - hlen);
  else rs_count(RS_UNSUPPORTED);
}
