// Loopback backend: every frame the guest transmits comes straight back to its receive side.
import type { Clock } from "../sim/clock.js";
import type { FrameSink, NetBackend } from "./backend.js";

export class LoopbackBackend implements NetBackend {
  readonly name = "loopback";
  private sink: FrameSink | undefined;

  /** `delayNs`: virtual time between the last bit leaving and the frame arriving back. */
  constructor(private readonly clock: Clock, private readonly delayNs = 0) {}

  connect(sink: FrameSink): void {
    this.sink = sink;
  }

  transmit(frame: Uint8Array): void {
    const sink = this.sink;
    if (!sink) return;
    // The caller may reuse its buffer: the frame is copied once here.
    const copy = frame.slice();
    if (this.delayNs === 0) sink(copy);
    else this.clock.after(this.delayNs, () => sink(copy));
  }
}
