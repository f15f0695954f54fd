// virtio-net front end (5.1), after FreeBSD/RTEMS if_vtnet: attach and feature negotiation,
// virtqueue setup, rx population and receive, transmit and reclaim, interrupt handling, tx
// watchdog. One receiveq/transmitq pair, no control queue. All memory comes from the device's
// fixed slot in the static region (mem.ts); nothing is allocated after instantiation.
// Receive lives in rx.ts, transmit in tx.ts, the per-device state in softc.ts.
import { ABI, ABI_BROKEN, ABI_STATE, ABI_STATS, ABI_TRANSPORT, ABI_WORK, F, HAL_DMA, INT, LEGACY, LOG, LOG_LEVEL, NET_CFG, NET_F, NET_LIMIT, NET_Q, NET_S, STATUS, VIRTQ } from "../gen/constants";
import { dma_map, eoi, link_changed, log, net_input } from "../hal";
import { CAUSE_UNKNOWN } from "../transport/transport";
import { AVAIL_OFF, QUEUE_SIZE_LIMIT, SplitQueue, USED_OFF } from "../virtqueue/split";
import { has_feature, vtnet_accepted_features } from "./features";
import { ETHER_HDR_LEN, ETHER_MTU, vtnet_hdr_size } from "./header";
import { CFG_MAC, CFG_MTU, CFG_STATUS, DMA_RXQ_AVAIL, DMA_RXQ_DESC, DMA_RXQ_USED, DMA_RX_BUFS, DMA_TXQ_AVAIL, DMA_TXQ_DESC, DMA_TXQ_USED, DMA_TX_BUFS, EBUSY, EINVAL, EIO, ENOMEM, ENOSPC, ENOTSUP, RXQ_AREA_OFF, RX_AREA_OFF, RX_AREA_SIZE, TXQ_AREA_OFF, TX_AREA_OFF, TX_AREA_SIZE, Vtnet, add, align16, count, pow2floor, softcs, vtnet_softc } from "./softc";
import { vtnet_rxq_populate, vtnet_rxq_notify, vtnet_rxq_eof } from "./rx";
import { vtnet_txq_eof } from "./tx";

export { vtnet_softc, Vtnet } from "./softc";

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

  // RSVD-DRV-04: ACCESS_PLATFORM accepted, so the device sees IOVAs: program the windows (once).
  if (has_feature(sc.features, F.ACCESS_PLATFORM) && !vtnet_dma_map(sc)) return vtnet_fail(sc, ENOMEM);

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
  if (has_feature(sc.features, F.ACCESS_PLATFORM)) vtnet_dma_bus(sc, sc.rxq, DMA_RXQ_DESC, DMA_RX_BUFS, RX_AREA_OFF);
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
  if (has_feature(sc.features, F.ACCESS_PLATFORM)) vtnet_dma_bus(sc, sc.txq, DMA_TXQ_DESC, DMA_TX_BUFS, TX_AREA_OFF);
  t.activateQueue(<u32>tsize, sc.txq.descAddr(), sc.txq.driverAddr(), sc.txq.deviceAddr());
  return 0;
}

/** One window at linear offset `off` (gpa = ramBase + off) into sc.dmaIova[i]; false when refused. */
function vtnet_dma_window(sc: Vtnet, i: u32, off: u32, len: u32, perm: u32): bool {
  const iova = dma_map(sc.ramBase + off, len, perm);
  if (iova == HAL_DMA.FAILED) {
    log(LOG_LEVEL.ERROR, LOG.DMA_MAP_FAILED, off, len);
    return false;
  }
  unchecked((sc.dmaIova[i] = <u64>iova));
  return true;
}

/**
 * DMA windows (RSVD-DRV-04; docs/hal.md dma_map): the slot's rings at their largest size (queue
 * size 256) and its buffer areas, with what the device may do there: descriptor tables and
 * available rings READ, used rings WRITE, rx buffers WRITE, tx buffers READ. The shadows and the
 * reassembly area stay unmapped. Mapped once per slot and ramBase, so re-initialization (tick) and
 * later attaches reuse them. False when the host refused one (attach fails, FAILED set).
 */
function vtnet_dma_map(sc: Vtnet): bool {
  if (sc.dmaMapped && sc.dmaRamBase == sc.ramBase) return true;
  sc.dmaMapped = false;
  const descLen = QUEUE_SIZE_LIMIT * VIRTQ.DESC_SIZE;
  const availLen = 6 + 2 * QUEUE_SIZE_LIMIT;
  const usedLen = 6 + QUEUE_SIZE_LIMIT * VIRTQ.USED_ELEM_SIZE;
  const r = sc.region;
  if (!vtnet_dma_window(sc, DMA_RXQ_DESC, r + RXQ_AREA_OFF, descLen, HAL_DMA.READ)) return false;
  if (!vtnet_dma_window(sc, DMA_RXQ_AVAIL, r + RXQ_AREA_OFF + AVAIL_OFF, availLen, HAL_DMA.READ)) return false;
  if (!vtnet_dma_window(sc, DMA_RXQ_USED, r + RXQ_AREA_OFF + USED_OFF, usedLen, HAL_DMA.WRITE)) return false;
  if (!vtnet_dma_window(sc, DMA_TXQ_DESC, r + TXQ_AREA_OFF, descLen, HAL_DMA.READ)) return false;
  if (!vtnet_dma_window(sc, DMA_TXQ_AVAIL, r + TXQ_AREA_OFF + AVAIL_OFF, availLen, HAL_DMA.READ)) return false;
  if (!vtnet_dma_window(sc, DMA_TXQ_USED, r + TXQ_AREA_OFF + USED_OFF, usedLen, HAL_DMA.WRITE)) return false;
  if (!vtnet_dma_window(sc, DMA_RX_BUFS, r + RX_AREA_OFF, RX_AREA_SIZE, HAL_DMA.WRITE)) return false;
  if (!vtnet_dma_window(sc, DMA_TX_BUFS, r + TX_AREA_OFF, TX_AREA_SIZE, HAL_DMA.READ)) return false;
  sc.dmaMapped = true;
  sc.dmaRamBase = sc.ramBase;
  return true;
}

/** Hand queue `q` the IOVAs of its windows (first = its DMA_*_DESC index; bufs = its buffer window at linear `area`). */
function vtnet_dma_bus(sc: Vtnet, q: SplitQueue, first: u32, bufs: u32, area: u32): void {
  const io = sc.dmaIova;
  q.setBus(unchecked(io[first]), unchecked(io[first + 1]), unchecked(io[first + 2]), unchecked(io[bufs]) - <u64>(sc.region + area));
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
