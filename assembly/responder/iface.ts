// The responder's interface: its configuration (device, IPv4 address and prefix, UDP echo port,
// the MAC the driver read), and the static reply buffer with the Ethernet and IPv4 headers of a
// reply, sent through the driver's own transmit path.
import { linear_size } from "../mem";
import { vtnet_softc } from "../net/softc";
import { vtnet_transmit } from "../net/tx";
import { put16, put32, csum_add, csum_fold } from "./bytes";
import { RS_TOO_BIG, RS_TX_ERRORS, rs_count } from "./stats";

export const ETHER_HDR: u32 = 14;
export const ETHERTYPE_IPV4: u32 = 0x0800;
export const ETHERTYPE_ARP: u32 = 0x0806;
export const IPV4_HDR: u32 = 20;
export const IP_TTL: u32 = 64;
/** Shortest Ethernet frame without its FCS: shorter replies are padded with zeros. */
export const ETHER_MIN_FRAME: u32 = 60;
/** Largest reply: an untagged frame with a 1500-byte MTU. */
export const REPLY_MAX: u32 = 1514;
/** The reply is built here and copied by transmit before it returns. */
export const REPLY: u32 = <u32>memory.data(REPLY_MAX + 2, 16);

/** Set by responder_config; no frame is answered before. */
export let cfgOn: bool = false;
export let cfgDev: u32 = 0;
export let cfgIp: u32 = 0;
export let cfgMask: u32 = 0;
export let cfgUdpPort: u32 = 0;
/** The MAC as the driver's stats report it: bytes 0-3 little-endian, then bytes 4-5. */
export let macLo: u32 = 0;
export let macHi: u32 = 0;
let ipId: u32 = 0;

/** Configure: returns 0, or -1 for a device that is not attached or a prefix above 32. */
export function iface_config(dev: u32, ip: u32, prefix: u32, udpPort: u32): i32 {
  const sc = vtnet_softc(dev);
  if (sc == null || prefix > 32 || udpPort > 0xffff) return -1;
  cfgDev = dev;
  cfgIp = ip;
  cfgMask = prefix == 0 ? 0 : <u32>(0xffffffff << (32 - prefix));
  cfgUdpPort = udpPort;
  macLo = sc.macLo;
  macHi = sc.macHi;
  cfgOn = true;
  return 0;
}

/** Is the 6-byte address at p ours? */
export function is_our_mac(p: u32): bool {
  return load<u32>(p) == macLo && <u32>load<u16>(p + 4) == macHi;
}

/** Ethernet header of the reply: to the MAC at `dstMac`, from ours. */
export function reply_ether(dstMac: u32, type: u32): void {
  memory.copy(REPLY, dstMac, 6);
  store<u32>(REPLY + 6, macLo);
  store<u16>(REPLY + 10, <u16>macHi);
  put16(REPLY + 12, type);
}

/** IPv4 header of the reply (RFC 791): no options, not fragmented, TTL 64, from our address. */
export function reply_ipv4(dst: u32, proto: u32, payloadLen: u32): void {
  const h = REPLY + ETHER_HDR;
  store<u8>(h, 0x45);
  store<u8>(h + 1, 0);
  put16(h + 2, IPV4_HDR + payloadLen);
  put16(h + 4, ipId);
  ipId = (ipId + 1) & 0xffff;
  put16(h + 6, 0);
  store<u8>(h + 8, <u8>IP_TTL);
  store<u8>(h + 9, <u8>proto);
  put16(h + 10, 0);
  put32(h + 12, cfgIp);
  put32(h + 16, dst);
  put16(h + 10, csum_fold(csum_add(0, h, IPV4_HDR)));
}

/** Does a reply of `len` bytes fit? Counted as too big when not. */
export function reply_fits(len: u32): bool {
  if (len <= REPLY_MAX) return true;
  rs_count(RS_TOO_BIG);
  return false;
}

/** Pad to the Ethernet minimum and hand the reply to the driver's transmit. Counts `sent` on success. */
export function reply_send(len: u32, sent: u32): void {
  if (len < ETHER_MIN_FRAME) {
    memory.fill(REPLY + len, 0, ETHER_MIN_FRAME - len);
    len = ETHER_MIN_FRAME;
  }
  const sc = vtnet_softc(cfgDev);
  if (sc == null || vtnet_transmit(sc, REPLY, len, linear_size()) < 0) {
    rs_count(RS_TX_ERRORS);
    return;
  }
  rs_count(sent);
}
