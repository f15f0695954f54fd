// Platform profiles: what each guest instruction, exit, interrupt and frame costs in virtual time.
// The `default` profile is built in; richer, sourced profiles arrive with the transports issue.

export interface Profile {
  name: string;
  /** Guest-physical base of RAM (a multiple of 64 KiB). */
  ramBase: number;
  /** Picoseconds per guest Wasm instruction (used once the guest is metered). */
  psPerInstruction: number;
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
}

/**
 * Built-in default: an x86 server core under KVM with a user-space device, numbers rounded from
 * the qemu-kvm column of shared/spec/timing-sources.md (section 2), virtio-mmio modern.
 */
export const DEFAULT_PROFILE: Profile = {
  name: "default",
  ramBase: 0x4000_0000,
  psPerInstruction: 270,
  registerAccessNs: 2700,
  doorbellNs: 800,
  irqDeliveryNs: 1900,
  eoiNs: 20,
  devicePerFrameNs: 4400,
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
