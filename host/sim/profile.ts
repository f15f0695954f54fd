// Platform profiles: what each guest instruction, exit, interrupt and frame costs in virtual time.
// The `default` profile is built in; richer, sourced profiles arrive with the transports issue.

export interface Profile {
  name: string;
  /** Guest-physical base of RAM (a multiple of 64 KiB). */
  ramBase: number;
  /** Picoseconds per guest Wasm instruction (host/guest/meter.ts counts them). */
  psPerInstruction: number;
  /**
   * Picoseconds per byte moved by the guest's memory.copy / memory.fill (on top of the one
   * instruction each counts). Optional: a profile without it uses the default profile's.
   */
  copyPsPerByte?: number;
  /** A register access handled by the VMM in user space (MMIO read or write), ns. */
  registerAccessNs: number;
  /** A doorbell (QueueNotify) handled in the kernel, ns: the device sees it this long after the write. */
  doorbellNs: number;
  /** Interrupt raise to the guest's handler entry, ns. */
  irqDeliveryNs: number;
  /** End-of-interrupt (hal.eoi), ns. */
  eoiNs: number;
  /** Device work per frame, ns (excluding wire time). */
  devicePerFrameNs: number;
  /**
   * The host's own path per frame and direction, ns, pipelined (it delays a frame, it does not
   * occupy the device): tap and bridge, backend-thread and irqfd wake-ups. A transmitted frame
   * reaches the wire, and a received one reaches the device's queue, this long later. Derived from
   * the vhost-net per-traversal overhead of timing-sources.md row 33 less the exits the model
   * charges separately (docs/timing.md, Calibration). Absent: 0.
   */
  hostPathNs?: number;
  /** Device work per byte, ps. */
  devicePerBytePs: number;
  /** Link rate, bits per second (wire time of a frame = bits / rate). */
  linkBitsPerSecond: number;
  /** Queue size the device offers (QueueSizeMax). */
  queueSizeMax: number;
  /** Offered virtio-net feature bits, as names from the constants table (F and NET_F). */
  features: string[];
  /** MTU in the device config, when MTU is offered. */
  mtu: number;
  // ---- Added with the transports (issue 4; host/sim/profiles.ts loads them from host/profiles/*.json). ----
  /** The transport the device is presented through (default "mmio"). */
  transport?: "mmio" | "mmio-legacy" | "pci" | "pci-legacy";
  /** Every transport the platform can present, the default first. */
  transports?: readonly ("mmio" | "mmio-legacy" | "pci" | "pci-legacy")[];
  /** An x86 port I/O access handled by the VMM in user space (legacy virtio-pci header, 0xCF8/0xCFC), ns. */
  portIoNs?: number;
  /** The CPU the numbers are for (x86-server, cortex-a53). */
  cpu?: string;
  /** virtio-pci modern: the function offers MSI-X (else INTx only). */
  msix?: boolean;
  /** An IOMMU in front of the device: VIRTIO_F_ACCESS_PLATFORM offered, DMA windows enforced (`--iommu`). */
  iommu?: boolean;
}

/**
 * Built-in default: an x86 server core under KVM with a user-space device, numbers rounded from
 * the qemu-kvm column of shared/spec/timing-sources.md (section 2), virtio-mmio modern.
 */
export const DEFAULT_PROFILE: Profile = {
  name: "default",
  ramBase: 0x4000_0000,
  psPerInstruction: 270,
  // Assumed: x86 `rep movsb` streams about 16 bytes per cycle at 2.5 GHz (timing-sources.md row 40).
  copyPsPerByte: 25,
  registerAccessNs: 2700,
  doorbellNs: 800,
  irqDeliveryNs: 1900,
  eoiNs: 20,
  devicePerFrameNs: 4400,
  hostPathNs: 2315,
  devicePerBytePs: 100,
  linkBitsPerSecond: 10_000_000_000,
  queueSizeMax: 256,
  features: ["VERSION_1", "EVENT_IDX", "MAC", "STATUS", "MTU", "MRG_RXBUF"],
  mtu: 1500,
};

/** Wire time in ns of `bytes` on the link (Ethernet preamble, SFD, FCS and gap included: +24 bytes). */
export function wireTimeNs(p: Profile, bytes: number): number {
  return Math.ceil(((bytes + 24) * 8 * 1e9) / p.linkBitsPerSecond);
}
