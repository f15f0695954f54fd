// Feature negotiation for virtio-net (2.2, 5.1.3): the driver accepts only bits it implements,
// only when offered (FEAT-DRV-01), and ignores everything else the device offers, known or not
// (FEAT-DRV-04/05/08). None of the accepted bits depends on another (5.1.3.1: no entry for
// MAC, STATUS, MTU, MRG_RXBUF), so FEAT-DRV-02 holds by construction.
import { F, NET_F } from "../gen/constants";

// @ts-ignore: decorator
@inline export function bit64(n: u32): u64 {
  return (<u64>1) << <u64>n;
}

/** Bits this driver implements and accepts when offered. */
export const VTNET_FEATURES: u64 =
  ((<u64>1) << F.VERSION_1) | // RSVD-DRV-01: accept whenever offered (and required here)
  ((<u64>1) << F.EVENT_IDX) | // used_event / avail_event suppression (2.7.7, 2.7.10)
  ((<u64>1) << NET_F.MAC) | // NET-CFG-DRV-02
  ((<u64>1) << NET_F.STATUS) | // link state from config (NET-CFG-DRV-06)
  ((<u64>1) << NET_F.MTU) | // NET-CFG-DRV-07
  ((<u64>1) << NET_F.MRG_RXBUF) | // frames spanning several rx buffers (5.1.6.4)
  ((<u64>1) << F.ACCESS_PLATFORM); // RSVD-DRV-03/04: DMA windows programmed with hal.dma_map (vtnet_dma_map)

/**
 * The accepted subset of `offered` (feature bits 0-63; nothing above 63 is accepted). On a legacy
 * interface ANY_LAYOUT is accepted too (LEG: transitional drivers MUST accept it; 5.1.6.6).
 */
// @ts-ignore: decorator
@inline export function vtnet_accepted_features(offered: u64, legacy: bool): u64 {
  return offered & (legacy ? VTNET_FEATURES | ((<u64>1) << F.ANY_LAYOUT) : VTNET_FEATURES);
}

// @ts-ignore: decorator
@inline export function has_feature(features: u64, n: u32): bool {
  return (features & bit64(n)) != 0;
}
