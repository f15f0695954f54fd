// Scripted backend: frames arrive at the guest at given virtual times; transmitted frames are kept.
import type { Clock } from "../sim/clock.js";
import type { FrameSink, NetBackend } from "./backend.js";

export interface ScriptedFrame {
  /** Absolute virtual time (ns) at which the frame reaches the device. */
  at: number;
  bytes: Uint8Array;
}

export class ScriptedBackend implements NetBackend {
  readonly name = "scripted";
  /** Every frame the guest sent, with the virtual time its last bit left the device. */
  readonly sent: { at: number; bytes: Uint8Array }[] = [];

  constructor(private readonly clock: Clock, private readonly script: readonly ScriptedFrame[]) {}

  connect(sink: FrameSink): void {
    for (const f of this.script) {
      if (!Number.isInteger(f.at) || f.at < 0) throw new RangeError(`scripted frame time must be a non-negative integer ns, got ${f.at}`);
      const bytes = f.bytes.slice();
      this.clock.at(f.at, () => sink(bytes));
    }
  }

  transmit(frame: Uint8Array): void {
    this.sent.push({ at: this.clock.now, bytes: frame.slice() });
  }
}
