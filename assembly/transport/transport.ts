// The transport seen by the net layer (4: "Virtio Transport Options"): status, features, queue
// setup, notification, interrupt status and configuration space. vtnet.ts never knows which
// transport it drives. virtio-mmio Version 2 is mmio.ts; legacy virtio-mmio (Version 1, 4.2.4)
// and virtio-pci (4.1, modern capabilities or the legacy I/O BAR) are further subclasses: they
// differ in how these operations reach the device, in `featureWords` (legacy: 1) and in
// `legacyRingLayout` (one contiguous area, used ring aligned to `queueAlign`, 2.7 / 4.2.4).

import { INT, IRQ_VEC } from "../gen/constants";

/** vectorCause(): the vector alone does not say; read the interrupt status. */
export const CAUSE_UNKNOWN: u32 = 0xffffffff;

export abstract class Transport {
  /** Base address of the device's register window (or I/O port base). */
  base: u32 = 0;
  /** What the platform offers (ABI_TRANSPORT.FLAG_MSIX: MSI-X messages are delivered). */
  flags: u32 = 0;

  /** Bind to a device at `base` with the platform's `flags` (no register access). */
  bind(base: u32, flags: u32 = 0): void {
    this.base = base;
    this.flags = flags;
  }

  /**
   * Identify the device (4.2.3.1.1 for MMIO): 0 when a virtio-net device answers at `base`,
   * else -ENODEV. When the device slot is a placeholder (DeviceID 0) no further register may be
   * touched, and none is (MMIO-DRV-26, MMIO-DRV-27).
   */
  abstract probe(): i32;

  /** Write 0 to the device status (2.4) and wait, bounded, until it reads 0; false if it never does. */
  abstract reset(): bool;

  /** Device status (2.1). */
  abstract getStatus(): u32;
  /** Write device status; the caller passes a superset of the bits already set (STATUS-DRV-02). */
  abstract setStatus(status: u32): void;

  /** Number of 32-bit feature words this transport exchanges. */
  abstract featureWords(): u32;
  /** Device feature bits [32*word, 32*word+31]. */
  abstract getDeviceFeatures(word: u32): u32;
  /** Driver (accepted) feature bits [32*word, 32*word+31]. */
  abstract setDriverFeatures(word: u32, value: u32): void;

  /**
   * Select queue `index` and return its maximum size: 0 when the queue does not exist, -1 when it
   * is already live (it must be reset first). Followed by `activateQueue` for the same queue.
   */
  abstract selectQueue(index: u32): i32;
  /** Program the selected queue (size, the three area addresses, guest-physical) and make it live. */
  abstract activateQueue(size: u32, desc: u64, driver: u64, device: u64): void;
  /** True when rings must use the legacy contiguous layout (legacy MMIO / legacy PCI). */
  legacyRingLayout(): bool {
    return false;
  }
  /**
   * The legacy interface (4.2.4, 4.1.4.10): no VERSION_1, no FEATURES_OK step (3.1.1 "legacy"),
   * the 10-byte header without MRG_RXBUF, the header in its own descriptor without ANY_LAYOUT.
   */
  isLegacy(): bool {
    return false;
  }
  /** True when the driver cannot choose the queue size (legacy PCI: queue_size is read-only). */
  fixedQueueSize(): bool {
    return false;
  }
  /**
   * Per-transport interrupt setup after FEATURES_OK and before the queues (virtio-pci: program
   * MSI-X entries for handle `unit` and map the config vector, 4.1.5.1.2). Default: nothing.
   */
  setupInterrupts(unit: u32): void {}
  /** Set by setupInterrupts (virtio-pci, modern or legacy): every MSI-X vector mapped and read back. */
  useMsix: bool = false;
  /** Message data of MSI-X entry 0: IRQ_VEC.MSIX_BASE + unit * IRQ_VEC.PER_DEV. */
  vecBase: u32 = 0;
  /**
   * What interrupt `vector` means without reading the device: INT bits for a per-cause vector
   * (MSI-X: entry IRQ_VEC.CONFIG, RX, TX; PCI-DRV-26, no ISR read), or CAUSE_UNKNOWN when the
   * handler must read the interrupt status. Not virtual: one body for every transport.
   */
  vectorCause(vector: u32): u32 {
    if (!this.useMsix) return CAUSE_UNKNOWN;
    const e = vector - this.vecBase;
    if (e == IRQ_VEC.CONFIG) return INT.CONFIG_CHANGE;
    if (e == IRQ_VEC.RX || e == IRQ_VEC.TX) return INT.USED_BUFFER;
    return CAUSE_UNKNOWN;
  }

  /** Available buffer notification for queue `index` (2.7.13.4). */
  abstract notify(index: u32): void;

  /** Pending interrupt causes (INT.USED_BUFFER, INT.CONFIG_CHANGE; other bits undefined). */
  abstract interruptStatus(): u32;
  /** Acknowledge handled causes (only defined bits are passed); a no-op where reading clears (PCI ISR). */
  abstract interruptAck(bits: u32): void;

  /** ConfigGeneration (2.5); transports without one return 0. */
  abstract configGeneration(): u32;
  /** Device-specific configuration space at byte offset `off`, read at the field's width. */
  abstract readConfig8(off: u32): u32;
  abstract readConfig16(off: u32): u32;
  abstract readConfig32(off: u32): u32;
}
