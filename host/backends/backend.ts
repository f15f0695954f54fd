// What a virtio-net device is connected to: a backend takes transmitted frames and delivers
// received ones, both at virtual times the clock decides.

/** Delivers a frame to the device's receive side at the current virtual time. */
export type FrameSink = (frame: Uint8Array) => void;

export interface NetBackend {
  /** A short name for the trace and reports, e.g. "loopback". */
  readonly name: string;
  /** Called once by the device: where frames for the guest go. */
  connect(sink: FrameSink): void;
  /** The last bit of a guest frame left the device at the current virtual time. */
  transmit(frame: Uint8Array): void;
}
