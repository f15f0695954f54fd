// The contract between a device-side transport (virtio-mmio now, virtio-pci later) and a
// device model (virtio-net): what the transport asks of the device, and what it hands it.
import type { ClauseId } from "../gen/clauses.js";
import type { DeviceSplitQueue } from "./split-queue.js";

/** Called on a breach of the specification by the driver: the device records it and stops. */
export type BreachFn = (clause: ClauseId, detail: string) => void;

/** What the transport gives a device once the driver sets DRIVER_OK. */
export interface DeviceContext {
  /** The negotiated feature set (the driver's accepted bits, as refused or confirmed at FEATURES_OK). */
  readonly features: bigint;
  /** One device-side queue per queue the driver made ready; undefined for queues it left unused. */
  readonly queues: readonly (DeviceSplitQueue | undefined)[];
  /** Raise a used-buffer notification for queue `q` (the transport applies no suppression; the queue does). */
  notifyUsed(q: number): void;
  /** Raise a configuration-change notification (ConfigGeneration is the device's own). */
  notifyConfig(): void;
  /** Record a breach: the transport sets DEVICE_NEEDS_RESET and raises a config interrupt. */
  breach: BreachFn;
  /** Record a non-fatal violation (the device goes on, e.g. a SHOULD or a header field it can ignore). */
  violation?: BreachFn;
  /** True once a breach stopped the device; it stays so until reset. */
  readonly halted?: boolean;
}

/** A virtio device model as a transport sees it. */
export interface VirtioDeviceModel {
  /** Device type (5: 1 = network). */
  readonly deviceId: number;
  /** Offered feature bits (up to 128). */
  readonly deviceFeatures: bigint;
  /** Number of virtqueues this device has. */
  readonly numQueues: number;
  /** QueueSizeMax for queue `q` (0: no such queue). */
  queueSizeMax(q: number): number;
  /** Decide at FEATURES_OK: null accepts the set, a reason string refuses it (FEAT-DEV-03). */
  checkFeatures(accepted: bigint): string | null;
  /** Size in bytes of the device-specific configuration space. */
  readonly configSize: number;
  /** Read `width` (1, 2, 4) bytes at `off` inside config space; the transport checks bounds. */
  configRead(off: number, width: number): number;
  /** A driver write to config space (the device decides whether it is allowed, and records it). */
  configWrite(off: number, width: number, value: number): void;
  /** The device's ConfigGeneration counter (changes whenever the config changes). */
  readonly configGeneration: number;
  /** DRIVER_OK was set: the device goes live with these queues. */
  activate(ctx: DeviceContext): void;
  /** An available-buffer notification (doorbell) for queue `q`, seen at the current virtual time. */
  notify(q: number): void;
  /** Device reset (status written 0): drop all queue state, keep configuration (mac, link). */
  reset(): void;
  /**
   * Optional: the transport hands the device a way to record non-fatal driver violations at any
   * time (config accesses happen before DRIVER_OK, when no DeviceContext exists yet).
   */
  bindViolations?(violation: BreachFn): void;
}
