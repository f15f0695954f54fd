// Receive (5.1.6.3, 5.1.6.4), after if_vtnet: posting buffers, consuming used entries within a
// budget, MRG_RXBUF reassembly with num_buffers treated as untrusted, delivery to the stack.
import { ABI_BROKEN, ABI_STATS, LOG, LOG_LEVEL } from "../gen/constants";
import { irq_restore, irq_save, log, net_input } from "../hal";
import { ETHER_HDR_LEN, vtnet_rx_num_buffers } from "./header";
import { EIO, REASM_OFF, REASM_SIZE, RX_AREA_OFF, Vtnet, add, count, vtnet_queue_broken } from "./softc";

/** if_vtnet vtnet_rxq_populate: post every rx buffer (device-writable) and publish once. */
export function vtnet_rxq_populate(sc: Vtnet): void {
  const area = sc.region + RX_AREA_OFF;
  for (let i: u32 = 0; i < sc.rxCount; i++) {
    const head = sc.rxq.takeFree();
    if (head < 0) break;
    sc.rxq.post(<u32>head, area + i * sc.rxStride, sc.rxBufSize, true);
  }
  sc.rxq.publish();
}

export function vtnet_rxq_notify(sc: Vtnet): void {
  if (sc.rxq.kickPrepare()) {
    sc.transport.notify(sc.rxq.index);
    count(sc, ABI_STATS.RXQ_KICKS);
  }
}

// ---------------------------------------------------------------------------------------------
// Receive

export function vtnet_rx_deliver(sc: Vtnet, ptr: u32, len: u32): void {
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

export function vtnet_rx_drop(sc: Vtnet, field: u32): void {
  count(sc, ABI_STATS.RX_DROPS);
  count(sc, field);
}

/**
 * One used rx buffer (if_vtnet vtnet_rxq_input / vtnet_rxq_merged_eof). Returns 1 when a frame
 * ended here (delivered or dropped), 0 while a merged frame still waits for buffers. The frame
 * goes to net_input without the header (5.1.6.4). The header's num_buffers is untrusted: it
 * must lie in [1, rx buffers posted], and the merged frame must fit the reassembly area.
 */
export function vtnet_rxq_input(sc: Vtnet, buf: u32, len: u32): u32 {
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
