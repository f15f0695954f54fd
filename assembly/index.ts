// The exported driver ABI (docs/hal.md). Every call carries the device handle returned by attach;
// a bad handle gives -EBADF (isr: work mask 0). heap_top() is added by host/gen/build-driver.mjs.
import { ABI, ABI_ERRNO, ABI_STATE, ABI_STATS, NET_Q } from "./gen/constants";
import { IO_BUFFER, MEM_BASE, MEM_SIZE, linear_size } from "./mem";
import { vtnet_attach, vtnet_detach, vtnet_intr, vtnet_rx_poll, vtnet_softc, vtnet_stats, vtnet_tick } from "./net/vtnet";
import { vtnet_transmit, vtnet_txq_poll } from "./net/tx";
import { eoi } from "./hal";

const EBADF: i32 = -(ABI_ERRNO.EBADF as i32);
const EINVAL: i32 = -(ABI_ERRNO.EINVAL as i32);
const EIO: i32 = -(ABI_ERRNO.EIO as i32);

/**
 * Probe and initialize the device at `base` (transport ABI_TRANSPORT.MMIO = 0). `ramBase` is the
 * guest-physical address of linear offset 0 (16-aligned); descriptor addresses are ramBase +
 * offset. `seed` derives the MAC when the device offers none. `rxBufSize` 0 picks the default.
 * Returns the handle (0..MAX_DEVICES-1) or -errno.
 */
export function attach(transport: u32, base: u32, ramBase: u32, seed: u32, rxBufSize: u32): i32 {
  return vtnet_attach(transport, base, ramBase, seed, rxBufSize);
}

/** Interrupt handler: returns the ABI_WORK mask; calls eoi(vector) before returning. */
export function isr(dev: u32, vector: u32): u32 {
  const sc = vtnet_softc(dev);
  if (sc == null) {
    eoi(vector);
    return 0;
  }
  return vtnet_intr(sc, vector);
}

/**
 * Bottom half: queue 0 (receiveq1) delivers up to `budget` frames through net_input and refills;
 * queue 1 (transmitq1) reclaims up to `budget` completed buffers. Returns the work done; a return
 * equal to `budget` means more may be pending (interrupts for the queue stay off: poll again).
 */
export function poll(dev: u32, queue: u32, budget: i32): i32 {
  const sc = vtnet_softc(dev);
  if (sc == null) return EBADF;
  if (budget < 0) return EINVAL;
  if (queue == NET_Q.RX0) return vtnet_rx_poll(sc, budget);
  if (queue == NET_Q.TX0) {
    if (sc.state != ABI_STATE.RUNNING) return EIO;
    return vtnet_txq_poll(sc, budget);
  }
  return EINVAL;
}

/** Send the frame at linear offset ptr (len bytes, Ethernet header included): 0 or -errno. */
export function transmit(dev: u32, queue: u32, ptr: u32, len: u32): i32 {
  const sc = vtnet_softc(dev);
  if (sc == null) return EBADF;
  if (queue != NET_Q.TX0) return EINVAL;
  return vtnet_transmit(sc, ptr, len, linear_size());
}

/** Periodic watchdog (the RTEMS/FreeBSD vtnet_tick): 0, 1 after a re-initialization, or -errno. */
export function tick(dev: u32): i32 {
  const sc = vtnet_softc(dev);
  if (sc == null) return EBADF;
  return vtnet_tick(sc);
}

/** Write ABI_STATS.COUNT u32 counters at linear offset ptr: 0 or -errno. */
export function stats(dev: u32, ptr: u32): i32 {
  const sc = vtnet_softc(dev);
  if (sc == null) return EBADF;
  const size = ABI_STATS.COUNT * 4;
  const mem = linear_size();
  if (ptr > mem || size > mem - ptr) return EINVAL;
  vtnet_stats(sc, ptr);
  return 0;
}

/** Reset the device and release the handle: 0 or -errno. */
export function detach(dev: u32): i32 {
  const sc = vtnet_softc(dev);
  if (sc == null) return EBADF;
  return vtnet_detach(sc);
}

/** The region reserved for all devices (rings, buffers, shadow state): [mem_base, mem_base + mem_size). */
export function mem_base(): u32 {
  return MEM_BASE;
}
export function mem_size(): u32 {
  return MEM_SIZE;
}

export function abi_version(): u32 {
  return ABI.VERSION;
}

/** A static buffer of io_buffer_size() bytes where the host places a frame before transmit(). */
export function io_buffer(): u32 {
  return IO_BUFFER;
}
export function io_buffer_size(): u32 {
  return ABI.IO_BUFFER_SIZE;
}
