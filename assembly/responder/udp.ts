// UDP echo (RFC 768, RFC 862): a datagram to the configured port comes back to its sender with
// the ports swapped. Checksums are checked when present and always written on replies.
import { be16, csum_add, csum_fold, csum_pseudo, put16 } from "./bytes";
import { ETHER_HDR, ETHERTYPE_IPV4, IPV4_HDR, REPLY, cfgIp, cfgUdpPort, reply_ether, reply_fits, reply_ipv4, reply_send } from "./iface";
import { RS_BAD_CHECKSUM, RS_MALFORMED, RS_UDP_CLOSED, RS_UDP_DATAGRAMS, RS_UDP_ECHOES, rs_count } from "./stats";

const PROTO_UDP: u32 = 17;
const UDP_HDR: u32 = 8;

/** The UDP datagram at `u` (IPv4 payload of `len` bytes) came in frame `f` from `src` to `dst`. */
export function udp_input(f: u32, src: u32, dst: u32, u: u32, len: u32): void {
  if (len < UDP_HDR) return rs_count(RS_MALFORMED);
  const ulen = be16(u + 4);
  if (ulen < UDP_HDR || ulen > len) return rs_count(RS_MALFORMED);
  // A zero checksum means none was computed (RFC 768); otherwise the sum must come out zero.
  if (be16(u + 6) != 0 && csum_fold(csum_add(csum_pseudo(src, dst, PROTO_UDP, ulen), u, ulen)) != 0) {
    return rs_count(RS_BAD_CHECKSUM);
  }
  if (be16(u + 2) != cfgUdpPort) return rs_count(RS_UDP_CLOSED);
  rs_count(RS_UDP_DATAGRAMS);
  const total = ETHER_HDR + IPV4_HDR + ulen;
  if (!reply_fits(total)) return;
  reply_ether(f + 6, ETHERTYPE_IPV4);
  reply_ipv4(src, PROTO_UDP, ulen);
  const r = REPLY + ETHER_HDR + IPV4_HDR;
  memory.copy(r, u, ulen);
  put16(r, be16(u + 2));
  put16(r + 2, be16(u));
  put16(r + 6, 0);
  let sum = csum_fold(csum_add(csum_pseudo(cfgIp, src, PROTO_UDP, ulen), r, ulen));
  if (sum == 0) sum = 0xffff; // RFC 768: a computed zero is sent as all ones
  put16(r + 6, sum);
  reply_send(total, RS_UDP_ECHOES);
}
