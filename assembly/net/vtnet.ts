// virtio-net front end (5.1), after FreeBSD/RTEMS if_vtnet: attach and feature negotiation,
// virtqueue setup, rx population and receive, transmit and reclaim, interrupt handling, tx
// watchdog. One receiveq/transmitq pair, no control queue. All memory comes from the device's
// fixed slot in the static region (mem.ts); nothing is allocated after instantiation.
import {
  ABI, ABI_BROKEN, ABI_ERRNO, ABI_STATE, ABI_STATS, ABI_TRANSPORT, ABI_WORK, F, INT, LEGACY, LOG, LOG_LEVEL,
  NET_CFG, NET_F, NET_LIMIT, NET_Q, NET_S, STATUS,
} from "../gen/constants";
import { eoi, irq_restore, irq_save, link_changed, log, net_input } from "../hal";
import { MEM_BASE } from "../mem";
import { MmioTransport } from "../transport/mmio";
import { MmioLegacyTransport } from "../transport/mmio-legacy";
import { PciTransport } from "../transport/pci";
import { PciLegacyTransport } from "../transport/pci-legacy";
import { CAUSE_UNKNOWN, Transport } from "../transport/transport";
import { QUEUE_AREA, QUEUE_SIZE_LIMIT, SplitQueue } from "../virtqueue/split";
import { has_feature, vtnet_accepted_features } from "./features";
import {
  ETHER_HDR_LEN, ETHER_MAX_FRAME, ETHER_MTU, VTNET_HDR_SIZE, vtnet_hdr_size, vtnet_rx_num_buffers, vtnet_tx_header,
} from "./header";

// ---- Layout of one device slot (ABI.DEV_REGION_SIZE = 1 MiB) ----
const RXQ_AREA_OFF: u32 = 0; // receiveq1 rings + shadow
const TXQ_AREA_OFF: u32 = QUEUE_AREA; // transmitq1 rings + shadow
const REASM_OFF: u32 = 2 * QUEUE_AREA; // MRG_RXBUF reassembly of frames spanning buffers
const REASM_SIZE: u32 = 65552; // >= 65535 + 14, the largest non-GSO frame with any MTU
const RX_AREA_OFF: u32 = 131072; // rx buffers
const RX_AREA_SIZE: u32 = 524288; // 256 x 2048
const TX_AREA_OFF: u32 = RX_AREA_OFF + RX_AREA_SIZE; // tx buffers (header + frame in one)
const TX_AREA_SIZE: u32 = ABI.DEV_REGION_SIZE - TX_AREA_OFF; // 384 KiB: 256 x 1536

// ---- Config reads (which fields one ConfigGeneration round reads) ----
const CFG_MAC: u32 = 1;
const CFG_STATUS: u32 = 2;
const CFG_MTU: u32 = 4;

const EIO: i32 = -(ABI_ERRNO.EIO as i32);
const EBADF: i32 = -(ABI_ERRNO.EBADF as i32);
const EBUSY: i32 = -(ABI_ERRNO.EBUSY as i32);
const EINVAL: i32 = -(ABI_ERRNO.EINVAL as i32);
const ENOSPC: i32 = -(ABI_ERRNO.ENOSPC as i32);
const ENOTSUP: i32 = -(ABI_ERRNO.ENOTSUP as i32);
const EMSGSIZE: i32 = -(ABI_ERRNO.EMSGSIZE as i32);
const ENETDOWN: i32 = -(ABI_ERRNO.ENETDOWN as i32);
const ENOBUFS: i32 = -(ABI_ERRNO.ENOBUFS as i32);

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
  /** Counters, indexed by ABI_STATS. */
  st: StaticArray<u32> = new StaticArray<u32>(ABI_STATS.COUNT);
}

const softcs = new StaticArray<Vtnet>(ABI.MAX_DEVICES);
for (let i: u32 = 0; i < ABI.MAX_DEVICES; i++) {
  const sc = new Vtnet();
  sc.unit = i;
  sc.region = MEM_BASE + i * ABI.DEV_REGION_SIZE;
  unchecked((softcs[i] = sc));
}

// @ts-ignore: decorator
@inline function count(sc: Vtnet, field: u32): void {
  unchecked((sc.st[field] = sc.st[field] + 1));
}
// @ts-ignore: decorator
@inline function add(sc: Vtnet, field: u32, v: u32): void {
  unchecked((sc.st[field] = sc.st[field] + v));
}

// @ts-ignore: decorator
@inline function align16(x: u32): u32 {
  return (x + 15) & ~15;
}

function pow2floor(x: u32): u32 {
  return x == 0 ? 0 : (<u32>1) << (31 - clz(x));
}

/** A live handle (any state but FREE), or null. */
export function vtnet_softc(dev: u32): Vtnet | null {
  if (dev >= ABI.MAX_DEVICES) return null;
  const sc = unchecked(softcs[dev]);
  return sc.state == ABI_STATE.FREE ? null : sc;
}

// ---------------------------------------------------------------------------------------------
// Attach / init (3.1.1 for the generic steps, 4.2.3.1.1 for the MMIO prefix)

/** attach(): claim a slot, then vtnet_init. Returns the handle or -errno. */
export function vtnet_attach(kind: u32, base: u32, ramBase: u32, seed: u32, rxBufSize: u32): i32 {
  // ABI_TRANSPORT.FLAG_MSIX: what the platform can deliver, handed to the transport (bind).
  const flags = kind & ABI_TRANSPORT.FLAG_MSIX;
  kind &= ~ABI_TRANSPORT.FLAG_MSIX;
  if (kind > ABI_TRANSPORT.PCI_LEGACY) return EINVAL; // ABI_TRANSPORT: MMIO, MMIO_LEGACY, PCI, PCI_LEGACY
  if ((ramBase & 15) != 0) return EINVAL; // SPLIT-DRV-01 needs a 16-aligned gpa for offset 0
  if (rxBufSize != 0 && (rxBufSize < ABI.RX_BUF_MIN || rxBufSize > ABI.RX_BUF_MAX)) return EINVAL;
  let free: i32 = -1;
  for (let i: u32 = 0; i < ABI.MAX_DEVICES; i++) {
    const sc = unchecked(softcs[i]);
    if (sc.state == ABI_STATE.FREE) {
      if (free < 0) free = <i32>i;
    } else if (sc.kind == kind && sc.transport.base == base) {
      return EBUSY;
    }
  }
  if (free < 0) return ENOSPC;
  const sc = unchecked(softcs[free]);
  sc.kind = kind;
  if (kind == ABI_TRANSPORT.MMIO_LEGACY) sc.transport = sc.mmioLegacy;
  else if (kind == ABI_TRANSPORT.PCI) sc.transport = sc.pci;
  else if (kind == ABI_TRANSPORT.PCI_LEGACY) sc.transport = sc.pciLegacy;
  else sc.transport = sc.mmio;
  sc.transport.bind(base, flags);
  sc.ramBase = ramBase;
  sc.seed = seed;
  sc.rxBufParam = rxBufSize;
  sc.linkUp = 0;
  sc.rxBusy = false;
  sc.txBusy = false;
  for (let i: u32 = 0; i < ABI_STATS.COUNT; i++) unchecked((sc.st[i] = 0));
  const r = vtnet_init(sc);
  if (r < 0) {
    sc.state = ABI_STATE.FREE;
    return r;
  }
  log(LOG_LEVEL.INFO, LOG.ATTACH, sc.unit, <u32>sc.features);
  return <i32>sc.unit;
}

function vtnet_set_status(sc: Vtnet, bits: u32): void {
  sc.status |= bits;
  sc.transport.setStatus(sc.status);
  unchecked((sc.st[ABI_STATS.DEVICE_STATUS] = sc.status));
}

/** INIT-DRV-12/13: set FAILED and stop. */
function vtnet_fail(sc: Vtnet, err: i32): i32 {
  vtnet_set_status(sc, STATUS.FAILED);
  return err;
}

/** The device initialization sequence; leaves the device live (DRIVER_OK) or FAILED. */
function vtnet_init(sc: Vtnet): i32 {
  const t = sc.transport;
  sc.state = ABI_STATE.INIT;
  sc.status = 0;
  sc.features = 0;
  sc.reasmLen = 0;
  sc.reasmLeft = 0;
  sc.reasmDrop = false;
  sc.watchdog = 0;

  // 4.2.3.1.1: MagicValue, Version, DeviceID (0: touch nothing else).
  const probed = t.probe();
  if (probed < 0) return probed;

  // 3.1.1 step 1 (INIT-DRV-01): reset; done once Status reads 0 (RESET-DRV-01, STATUS-DRV-03).
  if (!t.reset()) return vtnet_fail(sc, EIO);
  unchecked((sc.st[ABI_STATS.DEVICE_STATUS] = 0));
  // Step 2 (INIT-DRV-02) and step 3 (INIT-DRV-03).
  vtnet_set_status(sc, STATUS.ACKNOWLEDGE);
  vtnet_set_status(sc, STATUS.DRIVER);

  // Step 4 (INIT-DRV-04): read device features, write the accepted subset.
  const neg = vtnet_negotiate_features(sc);
  if (neg < 0) return vtnet_fail(sc, neg);

  // Step 5 (INIT-DRV-07): FEATURES_OK; no feature changes after this (INIT-DRV-08). Step 6
  // (INIT-DRV-09): re-read; FEATURES_OK clear means the subset was refused. A legacy interface
  // has neither step (3.1.1, "Legacy Interface").
  if (!t.isLegacy()) {
    vtnet_set_status(sc, STATUS.FEATURES_OK);
    const s = t.getStatus();
    unchecked((sc.st[ABI_STATS.DEVICE_STATUS] = s));
    if ((s & STATUS.FEATURES_OK) == 0) {
      log(LOG_LEVEL.ERROR, LOG.FEATURES_REFUSED, s, <u32>sc.features);
      return vtnet_fail(sc, EIO);
    }
  }

  // Step 7 (INIT-DRV-10): device-specific setup: configuration, virtqueues, rx buffers.
  let what: u32 = 0;
  if (has_feature(sc.features, NET_F.MAC)) what |= CFG_MAC;
  if (has_feature(sc.features, NET_F.STATUS)) what |= CFG_STATUS;
  if (has_feature(sc.features, NET_F.MTU)) what |= CFG_MTU;
  if (what != 0 && !vtnet_read_config(sc, what)) return vtnet_fail(sc, EIO);
  vtnet_setup_mac(sc);
  sc.mrg = has_feature(sc.features, NET_F.MRG_RXBUF);
  sc.hdrSize = vtnet_hdr_size(t.isLegacy(), sc.mrg);
  // 5.1.6.6: without ANY_LAYOUT a legacy driver puts the header in its own descriptor.
  sc.splitHdr = t.isLegacy() && !has_feature(sc.features, F.ANY_LAYOUT);
  sc.mtu = has_feature(sc.features, NET_F.MTU) ? sc.cfgMtu : ETHER_MTU;
  sc.maxFrame = sc.mtu + ETHER_HDR_LEN;
  t.setupInterrupts(sc.unit);
  const q = vtnet_alloc_virtqueues(sc);
  if (q < 0) return vtnet_fail(sc, q);
  vtnet_rxq_populate(sc);

  // Step 8 (INIT-DRV-11): DRIVER_OK; the device is live.
  vtnet_set_status(sc, STATUS.DRIVER_OK);
  sc.state = ABI_STATE.RUNNING;
  // The rx buffers were published before DRIVER_OK; notify only now (INIT-DRV-14, SPLIT-DRV-20).
  vtnet_rxq_notify(sc);
  // NET-CFG-DRV-05/06: link from status bit 0 with STATUS, else up.
  vtnet_set_link(sc, has_feature(sc.features, NET_F.STATUS) ? sc.cfgStatus & NET_S.LINK_UP : 1);
  return 0;
}

/**
 * Step 4: feature words 0-2 (DeviceFeaturesSel before each read, DriverFeaturesSel before each
 * write), accept the known, offered subset (features.ts). VERSION_1 is required: without it
 * there is no legacy fallback in this build (RSVD-DRV-02, FEAT-DRV-07).
 */
function vtnet_negotiate_features(sc: Vtnet): i32 {
  const t = sc.transport;
  const words = t.featureWords();
  const lo = t.getDeviceFeatures(0);
  const hi = words > 1 ? t.getDeviceFeatures(1) : 0;
  for (let w: u32 = 2; w < words; w++) t.getDeviceFeatures(w); // bits 64+: none accepted
  const offered = ((<u64>hi) << 32) | <u64>lo;
  if (!has_feature(offered, F.VERSION_1) && !t.isLegacy()) {
    log(LOG_LEVEL.ERROR, LOG.NO_VERSION_1, hi, lo);
    return ENOTSUP;
  }
  let accepted = vtnet_accepted_features(offered, t.isLegacy());
  // INIT-DRV-05: config may be read (never written, INIT-DRV-06) to decide; CFG-DRV-03: mtu only
  // when MTU is offered. An mtu below 68 is invalid (5.1.4): then MTU is not accepted.
  if (has_feature(accepted, NET_F.MTU)) {
    if (!vtnet_read_config(sc, CFG_MTU)) return EIO;
    if (sc.cfgMtu < NET_LIMIT.MIN_MTU) {
      log(LOG_LEVEL.WARN, LOG.MTU_INVALID, sc.cfgMtu, 0);
      accepted &= ~((<u64>1) << NET_F.MTU);
    }
  }
  sc.features = accepted;
  t.setDriverFeatures(0, <u32>accepted);
  if (words > 1) t.setDriverFeatures(1, <u32>(accepted >> 32));
  for (let w: u32 = 2; w < words; w++) t.setDriverFeatures(w, 0);
  return 0;
}

/**
 * Read the fields in `what` inside the ConfigGeneration loop (2.5.1, CFG-DRV-01/02): generation,
 * fields, generation again, retried a bounded number of times while it changes. Each field at its
 * own width (MMIO-DRV-05). False when the configuration never held still.
 */
function vtnet_read_config(sc: Vtnet, what: u32): bool {
  const t = sc.transport;
  for (let round: u32 = 0; round < ABI.CONFIG_GEN_RETRIES; round++) {
    if (round > 0) count(sc, ABI_STATS.CONFIG_RETRIES);
    const g0 = t.configGeneration();
    if ((what & CFG_MAC) != 0) {
      let lo: u32 = 0;
      for (let i: u32 = 0; i < 4; i++) lo |= t.readConfig8(NET_CFG.mac + i) << (8 * i);
      let hi: u32 = 0;
      for (let i: u32 = 4; i < 6; i++) hi |= t.readConfig8(NET_CFG.mac + i) << (8 * (i - 4));
      sc.cfgMacLo = lo;
      sc.cfgMacHi = hi;
    }
    if ((what & CFG_STATUS) != 0) sc.cfgStatus = t.readConfig16(NET_CFG.status);
    if ((what & CFG_MTU) != 0) sc.cfgMtu = t.readConfig16(NET_CFG.mtu);
    if (t.configGeneration() == g0) return true;
  }
  log(LOG_LEVEL.ERROR, LOG.CONFIG_UNSTABLE, ABI.CONFIG_GEN_RETRIES, 0);
  return false;
}

/** A 32-bit mixer (splitmix32 finalizer) for the seeded MAC address. */
function mix32(x: u32): u32 {
  x += 0x9e3779b9;
  x = (x ^ (x >>> 16)) * 0x85ebca6b;
  x = (x ^ (x >>> 13)) * 0xc2b2ae35;
  return x ^ (x >>> 16);
}

/** NET-CFG-DRV-03: config mac with MAC; else NET-CFG-DRV-04: locally administered, from the seed. */
function vtnet_setup_mac(sc: Vtnet): void {
  if (has_feature(sc.features, NET_F.MAC)) {
    sc.macLo = sc.cfgMacLo;
    sc.macHi = sc.cfgMacHi;
    return;
  }
  const a = mix32(sc.seed);
  const b = mix32(a ^ 0x5bd1e995);
  // First octet: bit 0 clear (unicast), bit 1 set (locally administered).
  sc.macLo = (a & 0xfffffffc) | 0x02;
  sc.macHi = b & 0xffff;
}

/** Select, size and program one queue (4.2.3.2); returns the chosen size or -errno. */
function vtnet_queue_size(sc: Vtnet, index: u32): i32 {
  const max = sc.transport.selectQueue(index);
  if (max <= 0 || (sc.transport.fixedQueueSize() && <u32>max > QUEUE_SIZE_LIMIT)) {
    log(LOG_LEVEL.ERROR, LOG.QUEUE_UNAVAILABLE, index, <u32>max);
    return EIO;
  }
  if (sc.transport.fixedQueueSize()) return max; // legacy PCI: queue_size is the device's
  // A split queue size is a power of 2 (2.7) and never above QueueSizeMax (MMIO-DRV-14).
  let want = <u32>max;
  if (want > ABI.QUEUE_SIZE_CAP) want = ABI.QUEUE_SIZE_CAP;
  if (want > QUEUE_SIZE_LIMIT) want = QUEUE_SIZE_LIMIT;
  return <i32>pow2floor(want);
}

/** if_vtnet vtnet_alloc_virtqueues: receiveq1 and transmitq1 (5.1.2), buffers sized to them. */
function vtnet_alloc_virtqueues(sc: Vtnet): i32 {
  const t = sc.transport;
  const ramBase = <u64>sc.ramBase;
  const eventIdx = has_feature(sc.features, F.EVENT_IDX);
  const hdr = sc.hdrSize;
  const align = t.legacyRingLayout() ? LEGACY.QUEUE_ALIGN : 0;
  // Split headers: a rx buffer needs two descriptors only without MRG_RXBUF (as FreeBSD if_vtnet).
  const rxSplit: u32 = sc.splitHdr && !sc.mrg ? hdr : 0;
  const txSplit: u32 = sc.splitHdr ? hdr : 0;

  // receiveq1. Buffer size: with MRG_RXBUF any size >= the header (NET-RXB-DRV-03); without it,
  // room for the header and the largest frame (NET-RXB-DRV-02, NET-CFG-DRV-08).
  const rsize = vtnet_queue_size(sc, NET_Q.RX0);
  if (rsize < 0) return rsize;
  let buf = sc.rxBufParam;
  if (sc.mrg) {
    if (buf == 0) buf = ABI.RX_BUF_DEFAULT_MRG;
  } else {
    if (buf == 0) buf = ABI.RX_BUF_DEFAULT;
    if (buf < hdr + sc.maxFrame) buf = hdr + sc.maxFrame;
  }
  sc.rxBufSize = buf;
  sc.rxStride = align16(buf);
  let n = RX_AREA_SIZE / sc.rxStride;
  const rdescs = rxSplit != 0 ? <u32>rsize >> 1 : <u32>rsize;
  if (n > rdescs) n = rdescs;
  sc.rxCount = n;
  // NET-CFG-DRV-08: all posted buffers together hold one frame of mtu + 14 with its header.
  if (<u64>n * <u64>buf < <u64>(hdr + sc.maxFrame)) {
    log(LOG_LEVEL.ERROR, LOG.RX_SPACE_SHORT, n * buf, hdr + sc.maxFrame);
    return EINVAL;
  }
  sc.rxq.init(NET_Q.RX0, sc.region + RXQ_AREA_OFF, <u32>rsize, ramBase, eventIdx, n, align, rxSplit);
  t.activateQueue(<u32>rsize, sc.rxq.descAddr(), sc.rxq.driverAddr(), sc.rxq.deviceAddr());

  // transmitq1: one buffer per descriptor, header and frame together (any layout, 2.7.4).
  const tsize = vtnet_queue_size(sc, NET_Q.TX0);
  if (tsize < 0) return tsize;
  sc.txStride = align16(hdr + sc.maxFrame);
  let m = TX_AREA_SIZE / sc.txStride;
  const tdescs = txSplit != 0 ? <u32>tsize >> 1 : <u32>tsize;
  if (m > tdescs) m = tdescs;
  sc.txCount = m;
  sc.txq.init(NET_Q.TX0, sc.region + TXQ_AREA_OFF, <u32>tsize, ramBase, eventIdx, m, align, txSplit);
  t.activateQueue(<u32>tsize, sc.txq.descAddr(), sc.txq.driverAddr(), sc.txq.deviceAddr());
  return 0;
}

/** if_vtnet vtnet_rxq_populate: post every rx buffer (device-writable) and publish once. */
function vtnet_rxq_populate(sc: Vtnet): void {
  const area = sc.region + RX_AREA_OFF;
  for (let i: u32 = 0; i < sc.rxCount; i++) {
    const head = sc.rxq.takeFree();
    if (head < 0) break;
    sc.rxq.post(<u32>head, area + i * sc.rxStride, sc.rxBufSize, true);
  }
  sc.rxq.publish();
}

function vtnet_rxq_notify(sc: Vtnet): void {
  if (sc.rxq.kickPrepare()) {
    sc.transport.notify(sc.rxq.index);
    count(sc, ABI_STATS.RXQ_KICKS);
  }
}

function vtnet_set_link(sc: Vtnet, up: u32): void {
  up = up != 0 ? 1 : 0;
  if (up == sc.linkUp) return;
  sc.linkUp = up;
  count(sc, ABI_STATS.LINK_CHANGES);
  log(LOG_LEVEL.INFO, LOG.LINK, up, sc.unit);
  link_changed(sc.unit, up);
}

/** if_vtnet vtnet_update_link_status: re-read status (config change interrupt). */
function vtnet_update_link_status(sc: Vtnet): void {
  if (!has_feature(sc.features, NET_F.STATUS)) return; // link stays up (NET-CFG-DRV-05)
  if (!vtnet_read_config(sc, CFG_STATUS)) return; // keep the last consistent state
  vtnet_set_link(sc, sc.cfgStatus & NET_S.LINK_UP);
}

// ---------------------------------------------------------------------------------------------
// Receive

function vtnet_rx_deliver(sc: Vtnet, ptr: u32, len: u32): void {
  count(sc, ABI_STATS.RX_FRAMES);
  add(sc, ABI_STATS.RX_BYTES, len);
  // Build-time switch (docs/hal.md, "A stack inside the module"): a build that aliases
  // VRT_STACK_INPUT (asc --use) hands frames to that stack; otherwise they go to the host.
  // @ts-ignore: isDefined of a name only the responder build defines
  if (isDefined(VRT_STACK_INPUT)) {
    // @ts-ignore: resolved through the alias
    VRT_STACK_INPUT(sc.unit, ptr, len);
  } else {
    net_input(sc.unit, ptr, len);
  }
}

function vtnet_rx_drop(sc: Vtnet, field: u32): void {
  count(sc, ABI_STATS.RX_DROPS);
  count(sc, field);
}

/**
 * One used rx buffer (if_vtnet vtnet_rxq_input / vtnet_rxq_merged_eof). Returns 1 when a frame
 * ended here (delivered or dropped), 0 while a merged frame still waits for buffers. The frame
 * goes to net_input without the header (5.1.6.4). The header's num_buffers is untrusted: it
 * must lie in [1, rx buffers posted], and the merged frame must fit the reassembly area.
 */
function vtnet_rxq_input(sc: Vtnet, buf: u32, len: u32): u32 {
  const hdr = sc.hdrSize;
  if (!sc.mrg) {
    // One buffer, one frame; num_buffers is not consulted without MRG_RXBUF.
    if (len < hdr + ETHER_HDR_LEN) {
      log(LOG_LEVEL.DEBUG, LOG.RX_LEN_ERROR, len, 0);
      vtnet_rx_drop(sc, ABI_STATS.RX_LEN_ERRORS);
    } else {
      vtnet_rx_deliver(sc, buf + hdr, len - hdr);
    }
    return 1;
  }
  const reasm = sc.region + REASM_OFF;
  if (sc.reasmLeft == 0) {
    // First buffer of a frame: it starts with the header.
    if (len < hdr) {
      log(LOG_LEVEL.DEBUG, LOG.RX_LEN_ERROR, len, 0);
      vtnet_rx_drop(sc, ABI_STATS.RX_LEN_ERRORS);
      return 1;
    }
    const nb = vtnet_rx_num_buffers(buf);
    if (nb == 0 || nb > sc.rxCount) {
      log(LOG_LEVEL.WARN, LOG.RX_BAD_NUM_BUFFERS, nb, sc.rxCount);
      vtnet_rx_drop(sc, ABI_STATS.RX_BAD_NUM_BUFFERS);
      return 1;
    }
    const payload = len - hdr;
    if (nb == 1) {
      if (payload < ETHER_HDR_LEN) {
        log(LOG_LEVEL.DEBUG, LOG.RX_LEN_ERROR, len, 0);
        vtnet_rx_drop(sc, ABI_STATS.RX_LEN_ERRORS);
      } else {
        vtnet_rx_deliver(sc, buf + hdr, payload); // zero copy: the buffer is reposted afterwards
      }
      return 1;
    }
    sc.reasmDrop = payload > REASM_SIZE;
    if (!sc.reasmDrop) memory.copy(reasm, buf + hdr, payload);
    sc.reasmLen = payload;
    sc.reasmLeft = nb - 1;
    return 0;
  }
  // A following buffer: data only.
  sc.reasmLeft--;
  if (!sc.reasmDrop) {
    if (len > REASM_SIZE - sc.reasmLen) {
      log(LOG_LEVEL.DEBUG, LOG.RX_LEN_ERROR, len, sc.reasmLen);
      sc.reasmDrop = true;
    } else {
      memory.copy(reasm + sc.reasmLen, buf, len);
      sc.reasmLen += len;
    }
  }
  if (sc.reasmLeft > 0) return 0;
  if (sc.reasmDrop || sc.reasmLen < ETHER_HDR_LEN) {
    vtnet_rx_drop(sc, ABI_STATS.RX_LEN_ERRORS);
  } else {
    vtnet_rx_deliver(sc, reasm, sc.reasmLen);
  }
  sc.reasmDrop = false;
  sc.reasmLen = 0;
  return 1;
}

function vtnet_queue_broken(sc: Vtnet, q: SplitQueue, field: u32): void {
  unchecked((sc.st[field] = q.broken));
  if (sc.state == ABI_STATE.RUNNING) sc.state = ABI_STATE.BROKEN;
  log(LOG_LEVEL.ERROR, LOG.QUEUE_BROKEN, q.index, q.broken);
}

/**
 * if_vtnet vtnet_rxq_eof: consume used rx buffers until `budget` frames ended, repost each buffer
 * once its bytes were used, publish and notify once. When the ring is drained, interrupts are
 * re-enabled and the ring re-checked (enable-then-recheck); when the budget ran out they stay
 * off and the caller polls again. Loop bound: every used entry frees one of at most rxCount
 * posted buffers and a frame spans at most rxCount entries, so (budget + 1) * (rxCount + 1).
 */
export function vtnet_rxq_eof(sc: Vtnet, budget: i32): i32 {
  const q = sc.rxq;
  if (q.broken != ABI_BROKEN.NONE) return EIO;
  let frames: i32 = 0;
  let refill: u32 = 0;
  const limit = (<u64>budget + 1) * (<u64>sc.rxCount + 1);
  for (let iter: u64 = 0; iter < limit && frames < budget; iter++) {
    const r = q.getBuf();
    if (r < 0) break;
    if (r == 0) {
      if (refill > 0) {
        q.publish();
        vtnet_rxq_notify(sc);
        refill = 0;
      }
      const s = irq_save();
      const idle = q.enableCb();
      if (!idle) q.disableCb();
      irq_restore(s);
      if (idle) break;
      continue; // entries arrived between the last read and the enable
    }
    const buf = q.gotBuf;
    frames += <i32>vtnet_rxq_input(sc, buf, q.gotLen);
    // Repost the same buffer (its bytes were delivered or copied): vtnet_rxq_replace_buf.
    const head = q.takeFree();
    if (head >= 0) {
      q.post(<u32>head, buf, sc.rxBufSize, true);
      refill++;
    }
    if (refill >= (sc.rxCount >> 1) + 1) {
      q.publish();
      vtnet_rxq_notify(sc);
      refill = 0;
    }
  }
  if (refill > 0 && q.broken == ABI_BROKEN.NONE) {
    q.publish();
    vtnet_rxq_notify(sc);
  }
  if (q.broken != ABI_BROKEN.NONE) {
    vtnet_queue_broken(sc, q, ABI_STATS.RXQ_BROKEN);
    return EIO;
  }
  return frames;
}

// ---------------------------------------------------------------------------------------------
// Transmit

/** if_vtnet vtnet_txq_eof: reclaim up to `max` used tx buffers. Returns the number or -1 if broken. */
function vtnet_txq_eof(sc: Vtnet, max: u32): i32 {
  const q = sc.txq;
  let n: u32 = 0;
  while (n < max) {
    const r = q.getBuf();
    if (r < 0) {
      vtnet_queue_broken(sc, q, ABI_STATS.TXQ_BROKEN);
      return -1;
    }
    if (r == 0) break;
    n++;
  }
  add(sc, ABI_STATS.TX_COMPLETIONS, n);
  if (q.outstanding == 0) sc.watchdog = 0;
  return <i32>n;
}

/** poll(dev, 1, budget): reclaim, then re-enable tx interrupts (delayed with EVENT_IDX) and re-check. */
export function vtnet_txq_poll(sc: Vtnet, budget: i32): i32 {
  const q = sc.txq;
  if (q.broken != ABI_BROKEN.NONE) return EIO;
  if (sc.txBusy) return EBUSY;
  sc.txBusy = true;
  let done: i32 = 0;
  // Two rounds at most: reclaim, enable, and reclaim what arrived in between.
  for (let round = 0; round < 2 && done < budget; round++) {
    const n = vtnet_txq_eof(sc, <u32>(budget - done));
    if (n < 0) {
      sc.txBusy = false;
      return EIO;
    }
    done += n;
    if (done >= budget) break;
    const s = irq_save();
    const idle = q.outstanding > 0 ? q.enableCbDelayed() : q.enableCb();
    irq_restore(s);
    if (idle) break;
  }
  sc.txBusy = false;
  return done;
}

/**
 * if_vtnet vtnet_txq_encap: the 12-byte header and the frame in one device-readable buffer,
 * published and notified when the device asks for it (2.7.10).
 */
export function vtnet_transmit(sc: Vtnet, ptr: u32, len: u32, memSize: u32): i32 {
  if (sc.state != ABI_STATE.RUNNING || sc.txq.broken != ABI_BROKEN.NONE) {
    count(sc, ABI_STATS.TX_ERRORS);
    return EIO;
  }
  if (len < ETHER_HDR_LEN || ptr > memSize || len > memSize - ptr) {
    count(sc, ABI_STATS.TX_ERRORS);
    return EINVAL;
  }
  // NET-CFG-DRV-09: never above mtu + 14 (1514 without MTU).
  if (len > sc.maxFrame) {
    count(sc, ABI_STATS.TX_ERRORS);
    return EMSGSIZE;
  }
  if (sc.linkUp == 0) {
    count(sc, ABI_STATS.TX_ERRORS);
    return ENETDOWN;
  }
  if (sc.txBusy) return EBUSY;
  sc.txBusy = true;
  const q = sc.txq;
  // Reclaim first (if_vtnet does this when the ring runs low; here always: reading used.idx is cheap).
  if (vtnet_txq_eof(sc, q.size) < 0) {
    sc.txBusy = false;
    return EIO;
  }
  let head = q.takeFree();
  if (head < 0) {
    // Full: ask for an interrupt once most of the ring is done; if the device is already past
    // that point, reclaim now.
    const s = irq_save();
    const later = q.enableCbDelayed();
    irq_restore(s);
    if (!later && vtnet_txq_eof(sc, q.size) < 0) {
      sc.txBusy = false;
      return EIO;
    }
    head = q.takeFree();
    if (head < 0) {
      count(sc, ABI_STATS.TX_ENOBUFS);
      sc.txBusy = false;
      return ENOBUFS;
    }
  }
  const slot = sc.region + TX_AREA_OFF + <u32>head * sc.txStride;
  vtnet_tx_header(slot, sc.hdrSize);
  memory.copy(slot + sc.hdrSize, ptr, len);
  q.post(<u32>head, slot, sc.hdrSize + len, false);
  q.publish();
  if (q.kickPrepare()) {
    sc.transport.notify(q.index);
    count(sc, ABI_STATS.TXQ_KICKS);
  }
  count(sc, ABI_STATS.TX_FRAMES);
  add(sc, ABI_STATS.TX_BYTES, len);
  sc.watchdog = ABI.TX_TIMEOUT_TICKS;
  sc.txBusy = false;
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Interrupts, watchdog, detach

/**
 * if_vtnet vtnet_intr (virtio-mmio vm_interrupt): read InterruptStatus (MMIO-DRV-30), ignore
 * undefined bits (MMIO-DRV-18) and acknowledge the defined ones that are set (MMIO-DRV-19/20/32).
 * The acknowledgement comes right after the read, before the rings and the configuration are
 * examined, as Linux vm_interrupt does: a used buffer or config change that arrives while the
 * handler runs raises the line again, where a late acknowledgement would clear it unseen.
 * Used buffers: every queue is checked (MMIO-DRV-31); one with work has its interrupts suppressed
 * until poll() drains it. Config change: Status is read for DEVICE_NEEDS_RESET and the link
 * re-read. The line gets its EOI last.
 */
export function vtnet_intr(sc: Vtnet, vector: u32): u32 {
  const t = sc.transport;
  count(sc, ABI_STATS.INTERRUPTS);
  // A per-cause vector (MSI-X) names the cause; otherwise read it (virtio-pci: the ISR read clears it).
  let bits = t.vectorCause(vector);
  if (bits == CAUSE_UNKNOWN) {
    bits = t.interruptStatus() & (INT.USED_BUFFER | INT.CONFIG_CHANGE);
    if (bits != 0) t.interruptAck(bits);
  }
  let work: u32 = 0;
  if (bits == 0) count(sc, ABI_STATS.SPURIOUS_INTERRUPTS);
  const live = sc.state == ABI_STATE.RUNNING || sc.state == ABI_STATE.BROKEN;
  if ((bits & INT.USED_BUFFER) != 0 && live) {
    if (sc.rxq.hasUsed()) {
      sc.rxq.disableCb();
      work |= ABI_WORK.RX;
    }
    if (sc.txq.hasUsed()) {
      sc.txq.disableCb();
      work |= ABI_WORK.TX;
    }
  }
  if ((bits & INT.CONFIG_CHANGE) != 0) {
    count(sc, ABI_STATS.CONFIG_CHANGES);
    work |= ABI_WORK.CONFIG;
    if (live) {
      const s = t.getStatus();
      unchecked((sc.st[ABI_STATS.DEVICE_STATUS] = s));
      if ((s & STATUS.DEVICE_NEEDS_RESET) != 0) {
        // STATUS-DRV-04: assume nothing about outstanding buffers from here on.
        if (sc.state != ABI_STATE.NEEDS_RESET) log(LOG_LEVEL.ERROR, LOG.NEEDS_RESET, s, sc.unit);
        sc.state = ABI_STATE.NEEDS_RESET;
      } else {
        vtnet_update_link_status(sc);
      }
    }
  }
  if (sc.state == ABI_STATE.BROKEN || sc.state == ABI_STATE.NEEDS_RESET) work |= ABI_WORK.RESET;
  eoi(vector);
  return work;
}

/** Reset and initialize again with the attach parameters (the watchdog's vtnet_init_locked). */
function vtnet_reinit(sc: Vtnet): i32 {
  add(sc, ABI_STATS.TX_LOST, sc.txq.outstanding);
  count(sc, ABI_STATS.RESETS);
  const r = vtnet_init(sc);
  log(LOG_LEVEL.WARN, LOG.REINIT, <u32>r, sc.unit);
  if (r < 0) {
    sc.state = ABI_STATE.FAILED;
    return r;
  }
  unchecked((sc.st[ABI_STATS.RXQ_BROKEN] = ABI_BROKEN.NONE));
  unchecked((sc.st[ABI_STATS.TXQ_BROKEN] = ABI_BROKEN.NONE));
  return 1;
}

/**
 * tick(): if_vtnet vtnet_tick / vtnet_watchdog. Re-initializes a broken or NEEDS_RESET device;
 * otherwise counts down the tx watchdog, reclaiming once just before it expires, and re-initializes
 * when tx made no progress for TX_TIMEOUT_TICKS ticks. 1 after a re-initialization, else 0 or -errno.
 */
export function vtnet_tick(sc: Vtnet): i32 {
  if (sc.rxBusy || sc.txBusy || sc.state == ABI_STATE.INIT) return EBUSY;
  if (sc.state == ABI_STATE.FAILED) return EIO;
  if (sc.state == ABI_STATE.BROKEN || sc.state == ABI_STATE.NEEDS_RESET) return vtnet_reinit(sc);
  if (sc.state != ABI_STATE.RUNNING) return 0;
  if (sc.watchdog == 1) {
    if (vtnet_txq_eof(sc, sc.txq.size) < 0) return vtnet_reinit(sc);
  }
  if (sc.watchdog == 0) return 0;
  sc.watchdog--;
  if (sc.watchdog != 0) return 0;
  count(sc, ABI_STATS.WATCHDOG_TIMEOUTS);
  log(LOG_LEVEL.WARN, LOG.WATCHDOG, sc.txq.outstanding, sc.unit);
  return vtnet_reinit(sc);
}

/** detach(): reset the device (its queues stop being live, CLEAN-DRV-02) and free the handle. */
export function vtnet_detach(sc: Vtnet): i32 {
  if (sc.rxBusy || sc.txBusy || sc.state == ABI_STATE.INIT) return EBUSY;
  sc.state = ABI_STATE.INIT;
  sc.transport.reset();
  sc.state = ABI_STATE.FREE;
  sc.linkUp = 0;
  log(LOG_LEVEL.INFO, LOG.DETACH, sc.unit, 0);
  return 0;
}

/** stats(): the ABI_STATS struct, ABI_STATS.COUNT u32 fields at linear offset ptr. */
export function vtnet_stats(sc: Vtnet, ptr: u32): void {
  unchecked((sc.st[ABI_STATS.STATE] = sc.state));
  unchecked((sc.st[ABI_STATS.LINK] = sc.linkUp));
  unchecked((sc.st[ABI_STATS.FEATURES_LO] = <u32>sc.features));
  unchecked((sc.st[ABI_STATS.FEATURES_HI] = <u32>(sc.features >> 32)));
  unchecked((sc.st[ABI_STATS.MAC_LO] = sc.macLo));
  unchecked((sc.st[ABI_STATS.MAC_HI] = sc.macHi));
  unchecked((sc.st[ABI_STATS.MTU] = sc.mtu));
  unchecked((sc.st[ABI_STATS.RXQ_SIZE] = sc.rxq.size));
  unchecked((sc.st[ABI_STATS.TXQ_SIZE] = sc.txq.size));
  unchecked((sc.st[ABI_STATS.RX_BUF_SIZE] = sc.rxBufSize));
  unchecked((sc.st[ABI_STATS.RX_BUFFERS] = sc.rxCount));
  unchecked((sc.st[ABI_STATS.TX_SLOTS] = sc.txCount));
  unchecked((sc.st[ABI_STATS.RXQ_BROKEN] = sc.rxq.broken));
  unchecked((sc.st[ABI_STATS.TXQ_BROKEN] = sc.txq.broken));
  memory.copy(ptr, changetype<usize>(sc.st), ABI_STATS.COUNT * 4);
}

/** poll(dev, 0, budget) with its re-entrancy guard (net_input may call back into the driver). */
export function vtnet_rx_poll(sc: Vtnet, budget: i32): i32 {
  if (sc.state != ABI_STATE.RUNNING) return EIO;
  if (sc.rxBusy) return EBUSY;
  sc.rxBusy = true;
  const r = vtnet_rxq_eof(sc, budget);
  sc.rxBusy = false;
  return r;
}
