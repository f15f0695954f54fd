// The virtio-net front end's per-device state (if_vtnet's struct vtnet_softc), the layout of a
// device's fixed memory slot, and the small helpers every part of the driver shares.
import { ABI, ABI_ERRNO, ABI_STATE, ABI_STATS, LOG, LOG_LEVEL, STATUS } from "../gen/constants";
import { log } from "../hal";
import { MEM_BASE } from "../mem";
import { MmioTransport } from "../transport/mmio";
import { MmioLegacyTransport } from "../transport/mmio-legacy";
import { PciTransport } from "../transport/pci";
import { PciLegacyTransport } from "../transport/pci-legacy";
import { Transport } from "../transport/transport";
import { QUEUE_AREA, SplitQueue } from "../virtqueue/split";
import { ETHER_MAX_FRAME, ETHER_MTU, VTNET_HDR_SIZE } from "./header";

// ---- Layout of one device slot (ABI.DEV_REGION_SIZE = 1 MiB) ----
export const RXQ_AREA_OFF: u32 = 0; // receiveq1 rings + shadow
export const TXQ_AREA_OFF: u32 = QUEUE_AREA; // transmitq1 rings + shadow
export const REASM_OFF: u32 = 2 * QUEUE_AREA; // MRG_RXBUF reassembly of frames spanning buffers
export const REASM_SIZE: u32 = 65552; // >= 65535 + 14, the largest non-GSO frame with any MTU
export const RX_AREA_OFF: u32 = 131072; // rx buffers
export const RX_AREA_SIZE: u32 = 524288; // 256 x 2048
export const TX_AREA_OFF: u32 = RX_AREA_OFF + RX_AREA_SIZE; // tx buffers (header + frame in one)
export const TX_AREA_SIZE: u32 = ABI.DEV_REGION_SIZE - TX_AREA_OFF; // 384 KiB: 256 x 1536

// ---- DMA windows of one slot (ACCESS_PLATFORM): index into Vtnet.dmaIova ----
export const DMA_RXQ_DESC: u32 = 0;
export const DMA_RXQ_AVAIL: u32 = 1;
export const DMA_RXQ_USED: u32 = 2;
export const DMA_TXQ_DESC: u32 = 3;
export const DMA_TXQ_AVAIL: u32 = 4;
export const DMA_TXQ_USED: u32 = 5;
export const DMA_RX_BUFS: u32 = 6;
export const DMA_TX_BUFS: u32 = 7;
export const DMA_WINDOWS: u32 = 8;

// ---- Config reads (which fields one ConfigGeneration round reads) ----
export const CFG_MAC: u32 = 1;
export const CFG_STATUS: u32 = 2;
export const CFG_MTU: u32 = 4;

export const EIO: i32 = -(ABI_ERRNO.EIO as i32);
export const EBADF: i32 = -(ABI_ERRNO.EBADF as i32);
export const EBUSY: i32 = -(ABI_ERRNO.EBUSY as i32);
export const ENOMEM: i32 = -(ABI_ERRNO.ENOMEM as i32);
export const EINVAL: i32 = -(ABI_ERRNO.EINVAL as i32);
export const ENOSPC: i32 = -(ABI_ERRNO.ENOSPC as i32);
export const ENOTSUP: i32 = -(ABI_ERRNO.ENOTSUP as i32);
export const EMSGSIZE: i32 = -(ABI_ERRNO.EMSGSIZE as i32);
export const ENETDOWN: i32 = -(ABI_ERRNO.ENETDOWN as i32);
export const ENOBUFS: i32 = -(ABI_ERRNO.ENOBUFS as i32);

/** Per-device state (if_vtnet's struct vtnet_softc). */
export class Vtnet {
  unit: u32 = 0;
  state: u32 = ABI_STATE.FREE;
  /** This slot's instance of each transport kind; `transport` is the one attached. */
  mmio: MmioTransport = new MmioTransport();
  mmioLegacy: MmioLegacyTransport = new MmioLegacyTransport();
  pci: PciTransport = new PciTransport();
  pciLegacy: PciLegacyTransport = new PciLegacyTransport();
  transport: Transport = this.mmio;
  /** virtio_net_hdr bytes (12, or 10 legacy without MRG_RXBUF) and whether it gets its own descriptor. */
  hdrSize: u32 = VTNET_HDR_SIZE;
  splitHdr: bool = false;
  kind: u32 = 0;
  ramBase: u32 = 0;
  seed: u32 = 0;
  rxBufParam: u32 = 0;
  /** Linear offset of this device's slot. */
  region: u32 = 0;
  /** Device status bits written so far (each write is a superset, STATUS-DRV-02). */
  status: u32 = 0;
  features: u64 = 0;
  mrg: bool = false;
  mtu: u32 = ETHER_MTU;
  maxFrame: u32 = ETHER_MAX_FRAME;
  linkUp: u32 = 0;
  macLo: u32 = 0;
  macHi: u32 = 0;
  // Last ConfigGeneration-consistent read.
  cfgMacLo: u32 = 0;
  cfgMacHi: u32 = 0;
  cfgStatus: u32 = 0;
  cfgMtu: u32 = 0;
  rxq: SplitQueue = new SplitQueue();
  txq: SplitQueue = new SplitQueue();
  rxBufSize: u32 = 0;
  rxStride: u32 = 0;
  rxCount: u32 = 0;
  txStride: u32 = 0;
  txCount: u32 = 0;
  // MRG_RXBUF reassembly in progress.
  reasmLen: u32 = 0;
  reasmLeft: u32 = 0;
  reasmDrop: bool = false;
  /** tick() calls left before the tx watchdog fires; 0 = idle (if_vtnet vtntx_watchdog). */
  watchdog: u32 = 0;
  /** Re-entrancy guards (an upcall may call back into the driver). */
  rxBusy: bool = false;
  txBusy: bool = false;
  /**
   * DMA windows (ACCESS_PLATFORM): IOVAs of this slot's windows, mapped once (vtnet_dma_map) and
   * kept for later attaches with the same ramBase. Index DMA_*.
   */
  dmaIova: StaticArray<u64> = new StaticArray<u64>(DMA_WINDOWS);
  dmaMapped: bool = false;
  dmaRamBase: u32 = 0;
  /** Counters, indexed by ABI_STATS. */
  st: StaticArray<u32> = new StaticArray<u32>(ABI_STATS.COUNT);
}

export const softcs = new StaticArray<Vtnet>(ABI.MAX_DEVICES);
for (let i: u32 = 0; i < ABI.MAX_DEVICES; i++) {
  const sc = new Vtnet();
  sc.unit = i;
  sc.region = MEM_BASE + i * ABI.DEV_REGION_SIZE;
  unchecked((softcs[i] = sc));
}

// @ts-ignore: decorator
@inline export function count(sc: Vtnet, field: u32): void {
  unchecked((sc.st[field] = sc.st[field] + 1));
}
// @ts-ignore: decorator
@inline export function add(sc: Vtnet, field: u32, v: u32): void {
  unchecked((sc.st[field] = sc.st[field] + v));
}

// @ts-ignore: decorator
@inline export function align16(x: u32): u32 {
  return (x + 15) & ~15;
}

export function pow2floor(x: u32): u32 {
  return x == 0 ? 0 : (<u32>1) << (31 - clz(x));
}

/** A live handle (any state but FREE), or null. */
export function vtnet_softc(dev: u32): Vtnet | null {
  if (dev >= ABI.MAX_DEVICES) return null;
  const sc = unchecked(softcs[dev]);
  return sc.state == ABI_STATE.FREE ? null : sc;
}


export function vtnet_queue_broken(sc: Vtnet, q: SplitQueue, field: u32): void {
  unchecked((sc.st[field] = q.broken));
  if (sc.state == ABI_STATE.RUNNING) sc.state = ABI_STATE.BROKEN;
  log(LOG_LEVEL.ERROR, LOG.QUEUE_BROKEN, q.index, q.broken);
}
