// The responder's counters (responder_stats): one u32 each, in this order. The host's names for
// them are in host/peers/responder.ts (RESPONDER_STATS), checked against RS_COUNT by a test.

export const RS_FRAMES_IN: u32 = 0; // frames the driver handed to the responder
export const RS_ARP_REQUESTS: u32 = 1; // ARP requests for our address
export const RS_ARP_REPLIES: u32 = 2; // ARP replies sent
export const RS_ICMP_ECHO_REQUESTS: u32 = 3; // valid echo requests to our address
export const RS_ICMP_ECHO_REPLIES: u32 = 4; // echo replies sent
export const RS_UDP_DATAGRAMS: u32 = 5; // valid datagrams to the echo port
export const RS_UDP_ECHOES: u32 = 6; // datagrams echoed
export const RS_NOT_FOR_US: u32 = 7; // another MAC or IPv4 address, or an off-link ARP sender
export const RS_BAD_CHECKSUM: u32 = 8; // IPv4 header, ICMP or UDP checksum wrong
export const RS_MALFORMED: u32 = 9; // lengths or fields that do not add up
export const RS_UNSUPPORTED: u32 = 10; // other EtherTypes, protocols, ICMP types, fragments
export const RS_UDP_CLOSED: u32 = 11; // UDP to another port (dropped silently)
export const RS_TOO_BIG: u32 = 12; // a reply would not fit the reply buffer
export const RS_TX_ERRORS: u32 = 13; // transmit refused the reply (ring full, link down)
export const RS_UNCONFIGURED: u32 = 14; // frames before responder_config, or for another device
export const RS_COUNT: u32 = 15;

/** The counters, in static memory (a data segment: nothing is allocated). */
export const RS: u32 = <u32>memory.data(RS_COUNT * 4, 4);

// @ts-ignore: decorator
@inline export function rs_count(field: u32): void {
  const p = RS + field * 4;
  store<u32>(p, load<u32>(p) + 1);
}
