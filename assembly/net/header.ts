// struct virtio_net_hdr (5.1.6): the 12-byte header in front of every frame on receiveq and
// transmitq once VIRTIO_F_VERSION_1 is negotiated (NET-TX-DRV-01: the same size both ways).
import { NET_HDR } from "../gen/constants";

/** Header bytes with VERSION_1 and without HASH_REPORT / tunnel / OUT_NET_HEADER (5.1.9.3.1). */
export const VTNET_HDR_SIZE: u32 = NET_HDR.SIZE;
/** Ethernet header: the shortest frame accepted either way. */
export const ETHER_HDR_LEN: u32 = 14;
/** Largest frame without the MTU feature (5.1.9.3: 14 + 1500). */
export const ETHER_MAX_FRAME: u32 = 1514;
export const ETHER_MTU: u32 = 1500;

/**
 * Transmit header: all zero. flags 0 (no CSUM negotiated, NET-TX-DRV-03/45), gso_type NONE
 * (NET-TX-DRV-31), num_buffers 0 (NET-TX-DRV-02).
 */
// @ts-ignore: decorator
@inline export function vtnet_tx_header(at: u32, size: u32): void {
  memory.fill(at, 0, size);
}

/** Header size (5.1.6): 12, or 10 on a legacy interface without MRG_RXBUF (layouts.md 8b). */
// @ts-ignore: decorator
@inline export function vtnet_hdr_size(legacy: bool, mrg: bool): u32 {
  return legacy && !mrg ? NET_HDR.SIZE_LEGACY : NET_HDR.SIZE;
}

/** num_buffers of a received header (with MRG_RXBUF; untrusted, the caller bounds it). */
// @ts-ignore: decorator
@inline export function vtnet_rx_num_buffers(hdr: u32): u32 {
  return <u32>load<u16>(hdr + NET_HDR.num_buffers);
}
