// Transmit (5.1.6.2), after if_vtnet: encapsulation behind the virtio_net_hdr, publish and kick
// only when needed, reclaim of completed buffers, -ENOBUFS on a full ring.
import { ABI, ABI_BROKEN, ABI_STATE, ABI_STATS } from "../gen/constants";
import { irq_restore, irq_save } from "../hal";
import { ETHER_HDR_LEN, vtnet_tx_header } from "./header";
import { EBUSY, EINVAL, EIO, EMSGSIZE, ENETDOWN, ENOBUFS, TX_AREA_OFF, Vtnet, add, count, vtnet_queue_broken } from "./softc";

// ---------------------------------------------------------------------------------------------
// Transmit

/** if_vtnet vtnet_txq_eof: reclaim up to `max` used tx buffers. Returns the number or -1 if broken. */
export function vtnet_txq_eof(sc: Vtnet, max: u32): i32 {
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
