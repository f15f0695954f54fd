// Frames from outside the simulation (a live peer, a replayed capture). Each enters at the
// virtual time the simulation has reached, after every event due by then, and is marked
// `frame.external` in the trace, so a capture of the session can feed it back identically.
import type { Clock } from "../sim/clock.js";
import type { Trace } from "../report/trace.js";
import type { FrameSink } from "./backend.js";

export class ExternalPort {
  private sink: FrameSink | undefined;
  /** Frames injected so far. */
  injected = 0;

  constructor(private readonly clock: Clock, private readonly trace: Trace) {}

  connect(sink: FrameSink): void {
    this.sink = sink;
  }

  /**
   * Deliver `frame` to the device now. Events due at the current time run first, so the order
   * does not depend on how far a caller had run the clock within that instant.
   */
  inject(frame: Uint8Array): void {
    this.clock.runUntil(this.clock.now);
    this.injected++;
    this.trace.emit({ t: this.clock.now, k: "frame.external", n: this.injected, len: frame.length });
    this.sink?.(frame.slice());
  }
}
