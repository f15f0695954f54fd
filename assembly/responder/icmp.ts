// ICMP echo (RFC 792): a valid echo request gets an echo reply with the same identifier,
// sequence number and data. Other ICMP messages are counted and left alone.
import { csum_add, csum_fold, csum_ok, put16 } from "./bytes";
import { ETHER_HDR, ETHERTYPE_IPV4, IPV4_HDR, REPLY, reply_ether, reply_fits, reply_ipv4, reply_send } from "./iface";
import { RS_BAD_CHECKSUM, RS_ICMP_ECHO_REPLIES, RS_ICMP_ECHO_REQUESTS, RS_MALFORMED, RS_UNSUPPORTED, rs_count } from "./stats";

const PROTO_ICMP: u32 = 1;
const ECHO_REPLY: u32 = 0;
const ECHO_REQUEST: u32 = 8;

/** The ICMP message at `m` (`len` bytes) came in frame `f` from IPv4 address `src`. */
export function icmp_input(f: u32, src: u32, m: u32, len: u32): void {
  if (len < 8) return rs_count(RS_MALFORMED);
  if (!csum_ok(m, len)) return rs_count(RS_BAD_CHECKSUM);
  if (<u32>load<u8>(m) != ECHO_REQUEST || load<u8>(m + 1) != 0) return rs_count(RS_UNSUPPORTED);
  rs_count(RS_ICMP_ECHO_REQUESTS);
  const total = ETHER_HDR + IPV4_HDR + len;
  if (!reply_fits(total)) return;
  reply_ether(f + 6, ETHERTYPE_IPV4);
  reply_ipv4(src, PROTO_ICMP, len);
  const r = REPLY + ETHER_HDR + IPV4_HDR;
  memory.copy(r, m, len);
  store<u8>(r, <u8>ECHO_REPLY);
  put16(r + 2, 0);
  put16(r + 2, csum_fold(csum_add(0, r, len)));
  reply_send(total, RS_ICMP_ECHO_REPLIES);
}
