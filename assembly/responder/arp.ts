// ARP for the responder's IPv4 address (RFC 826): a request for it gets a reply, unicast to the
// asker. Requests from outside the configured prefix are not answered (on-link peers only).
import { be16, be32, put16 } from "./bytes";
import { ETHER_HDR, ETHERTYPE_ARP, REPLY, cfgIp, cfgMask, macHi, macLo, reply_ether, reply_send } from "./iface";
import { RS_ARP_REPLIES, RS_ARP_REQUESTS, RS_MALFORMED, RS_NOT_FOR_US, RS_UNSUPPORTED, rs_count } from "./stats";

const ARP_LEN: u32 = 28;
const HTYPE_ETHERNET: u32 = 1;
const OP_REQUEST: u32 = 1;
const OP_REPLY: u32 = 2;

/** An ARP packet in the frame at `f` (`len` bytes, Ethernet header included). */
export function arp_input(f: u32, len: u32): void {
  if (len < ETHER_HDR + ARP_LEN) return rs_count(RS_MALFORMED);
  const a = f + ETHER_HDR;
  if (be16(a) != HTYPE_ETHERNET || be16(a + 2) != 0x0800 || load<u8>(a + 4) != 6 || load<u8>(a + 5) != 4) {
    return rs_count(RS_UNSUPPORTED);
  }
  if (be16(a + 6) != OP_REQUEST) return rs_count(RS_UNSUPPORTED);
  const spa = be32(a + 14);
  const tpa = be32(a + 24);
  if (tpa != cfgIp || (spa & cfgMask) != (cfgIp & cfgMask)) return rs_count(RS_NOT_FOR_US);
  rs_count(RS_ARP_REQUESTS);
  reply_ether(a + 8, ETHERTYPE_ARP);
  const r = REPLY + ETHER_HDR;
  memory.copy(r, a, 6); // htype, ptype, hlen, plen as asked
  put16(r + 6, OP_REPLY);
  store<u32>(r + 8, macLo); // sha: ours
  store<u16>(r + 12, <u16>macHi);
  memory.copy(r + 14, a + 24, 4); // spa: the address asked for (ours)
  memory.copy(r + 18, a + 8, 10); // tha, tpa: the asker's sha and spa
  reply_send(ETHER_HDR + ARP_LEN, RS_ARP_REPLIES);
}
