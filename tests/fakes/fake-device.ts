// A fake VirtioDeviceModel for transport tests: configurable features, queues and config bytes;
// records every call the transport makes, and keeps the DeviceContext it was activated with.
import type { DeviceContext, VirtioDeviceModel } from "../../host/virtio/device.js";

export interface FakeDeviceOptions {
  deviceId?: number;
  deviceFeatures?: bigint;
  /** QueueSizeMax per queue; the length is numQueues. */
  queueSizes?: number[];
  /** Config space bytes (configSize is its length). */
  config?: Uint8Array;
  /** The FEATURES_OK verdict; default accepts everything. */
  checkFeatures?: (accepted: bigint) => string | null;
}

export type FakeCall =
  | { m: "checkFeatures"; accepted: bigint }
  | { m: "configRead"; off: number; width: number }
  | { m: "configWrite"; off: number; width: number; value: number }
  | { m: "activate"; features: bigint }
  | { m: "notify"; q: number }
  | { m: "reset" };

export class FakeDevice implements VirtioDeviceModel {
  readonly deviceId: number;
  readonly deviceFeatures: bigint;
  readonly numQueues: number;
  readonly config: Uint8Array;
  configGeneration = 0;
  readonly calls: FakeCall[] = [];
  /** The context of the last activation (cleared by reset). */
  ctx: DeviceContext | undefined;
  private readonly sizes: number[];
  private readonly verdict: (accepted: bigint) => string | null;

  constructor(opts: FakeDeviceOptions = {}) {
    this.deviceId = opts.deviceId ?? 1;
    this.deviceFeatures = opts.deviceFeatures ?? (1n << 32n) | (1n << 5n);
    this.sizes = opts.queueSizes ?? [256, 256];
    this.numQueues = this.sizes.length;
    this.config = opts.config ?? Uint8Array.from([0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x01, 0x00]);
    this.verdict = opts.checkFeatures ?? (() => null);
  }

  get configSize(): number {
    return this.config.length;
  }

  queueSizeMax(q: number): number {
    return this.sizes[q] ?? 0;
  }

  checkFeatures(accepted: bigint): string | null {
    this.calls.push({ m: "checkFeatures", accepted });
    return this.verdict(accepted);
  }

  configRead(off: number, width: number): number {
    this.calls.push({ m: "configRead", off, width });
    let v = 0;
    for (let i = width - 1; i >= 0; i--) v = v * 256 + this.config[off + i];
    return v;
  }

  configWrite(off: number, width: number, value: number): void {
    this.calls.push({ m: "configWrite", off, width, value });
  }

  activate(ctx: DeviceContext): void {
    this.calls.push({ m: "activate", features: ctx.features });
    this.ctx = ctx;
  }

  notify(q: number): void {
    this.calls.push({ m: "notify", q });
  }

  reset(): void {
    this.calls.push({ m: "reset" });
    this.ctx = undefined;
  }

  /** The names of the calls made so far, in order. */
  get callNames(): string[] {
    return this.calls.map((c) => c.m);
  }
}
