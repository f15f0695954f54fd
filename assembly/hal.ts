// The driver's only imports: module "hal" (docs/hal.md). Everything hardware-specific goes
// through here, so the same driver runs on any host that implements these functions.
import { LOG, LOG_LEVEL, PANIC } from "./gen/constants";

/** Device register reads at a guest-physical address (virtio-mmio window, 4.2.2). */
@external("hal", "mmio_read8") export declare function mmio_read8(addr: u32): u32;
@external("hal", "mmio_read16") export declare function mmio_read16(addr: u32): u32;
@external("hal", "mmio_read32") export declare function mmio_read32(addr: u32): u32;
/** Device register writes. */
@external("hal", "mmio_write8") export declare function mmio_write8(addr: u32, v: u32): void;
@external("hal", "mmio_write16") export declare function mmio_write16(addr: u32, v: u32): void;
@external("hal", "mmio_write32") export declare function mmio_write32(addr: u32, v: u32): void;
/** x86 port I/O (legacy virtio-pci BAR0, PCI configuration mechanism #1). */
@external("hal", "io_in8") export declare function io_in8(port: u32): u32;
@external("hal", "io_in16") export declare function io_in16(port: u32): u32;
@external("hal", "io_in32") export declare function io_in32(port: u32): u32;
@external("hal", "io_out8") export declare function io_out8(port: u32, v: u32): void;
@external("hal", "io_out16") export declare function io_out16(port: u32, v: u32): void;
@external("hal", "io_out32") export declare function io_out32(port: u32, v: u32): void;
/** Memory barrier: HAL_BARRIER.MB, RMB or WMB (2.7.13.3.1, 2.7.13.4.1). */
@external("hal", "barrier") export declare function barrier(kind: u32): void;
/** Mask interrupts; returns the state to hand back to irq_restore. */
@external("hal", "irq_save") export declare function irq_save(): u32;
@external("hal", "irq_restore") export declare function irq_restore(state: u32): void;
/** End of interrupt for the line isr() was called for. */
@external("hal", "eoi") export declare function eoi(line: u32): void;
/** Virtual clock in nanoseconds (a BigInt on the JS side: call it rarely). */
@external("hal", "now_ns") export declare function now_ns(): u64;
/** A received frame (without virtio_net_hdr) at linear offset ptr; valid only during the call. */
@external("hal", "net_input") export declare function net_input(dev: u32, ptr: u32, len: u32): void;
/** Link state changed: up is 1 or 0. */
@external("hal", "link_changed") export declare function link_changed(dev: u32, up: u32): void;
/** Diagnostics with numeric codes (LOG_LEVEL, LOG): no strings at run time. */
@external("hal", "log") export declare function log(level: u32, code: u32, a: u32, b: u32): void;
/**
 * Map [gpa, gpa + len) for the device (ABI 2): HAL_DMA.READ / WRITE perm bits; returns the IOVA to
 * hand the device, or HAL_DMA.FAILED. Called only when VIRTIO_F_ACCESS_PLATFORM is negotiated, once
 * per window at attach; a host without an IOMMU returns gpa (identity).
 */
@external("hal", "dma_map") export declare function dma_map(gpa: u32, len: u32, perm: u32): u32;
/** Fatal driver error (PANIC code); the host does not return from it. */
@external("hal", "panic") export declare function panic(code: u32): void;

/**
 * AssemblyScript's `abort` (failed runtime check), redirected here by asconfig.json
 * ("use": ["abort=assembly/hal/hal_abort"]) so the module imports nothing outside "hal".
 * The strings are static data; only the line and column are reported.
 */
export function hal_abort(message: string | null, fileName: string | null, lineNumber: u32, columnNumber: u32): void {
  log(LOG_LEVEL.ERROR, LOG.ABORT, lineNumber, columnNumber);
  panic(PANIC.ABORT);
  unreachable();
}
