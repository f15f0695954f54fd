// Workload backend: frames for the guest arrive from a seeded arrival process between two virtual
// times (scheduled one at a time, so a long run holds one pending event); transmitted frames are counted.
import type { Clock } from "../sim/clock.js";
import type { Rng } from "../sim/rng.js";
import type { FrameSink, NetBackend } from "./backend.js";

export interface WorkloadSource {
  /** First arrival (ns, absolute); none at or after `end`. */
  start: number;
  end: number;
  /** Size of the next frame (bytes). */
  size(): number;
  /** Gap from a frame of `size` bytes to the next arrival (ns). */
  gap(size: number): number;
  /** Fills payloads. */
  payload: Rng;
}

const ETHERTYPE = 0x88b5; // IEEE 802 local experimental

export class WorkloadBackend implements NetBackend {
  readonly name = "workload";
  /** Frames offered to the device, and frames whose last bit left it. */
  offered = 0;
  sent = 0;
  sentBytes = 0;

  private sink: FrameSink | undefined;

  constructor(private readonly clock: Clock) {}

  connect(sink: FrameSink): void {
    this.sink = sink;
  }

  /** Start the arrivals (after the driver attached: frames before DRIVER_OK would be dropped). */
  begin(s: WorkloadSource): void {
    const sink = this.sink;
    if (!sink || s.start >= s.end) return;
    const arrive = () => {
      const size = s.size();
      sink(this.frame(size, s.payload));
      const next = this.clock.now + s.gap(size);
      if (next < s.end) this.clock.at(next, arrive);
    };
    this.clock.at(s.start, arrive);
  }

  transmit(frame: Uint8Array): void {
    this.sent++;
    this.sentBytes += frame.length;
  }

  /** Ethernet header (to the device's default MAC), the sequence number, seeded payload. */
  private frame(size: number, rng: Rng): Uint8Array {
    const f = new Uint8Array(size);
    f.set([0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x02, 0, 0, 0, 0, 0x03], 0);
    f[12] = ETHERTYPE >> 8;
    f[13] = ETHERTYPE & 0xff;
    new DataView(f.buffer).setUint32(14, this.offered++, false);
    rng.bytes(f.subarray(18));
    return f;
  }
}
