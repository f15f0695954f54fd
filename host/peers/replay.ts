// `run --replay`: a responder session's capture fed back into a fresh simulation. Every frame
// that did not come from the guest enters at its captured virtual time, exactly as it entered
// the live session, so the trace digest comes out the same; the guest's own frames are compared
// with what the replay sends.
import type { Clock } from "../sim/clock.js";
import type { Trace } from "../report/trace.js";
import type { FrameSink, NetBackend } from "../backends/backend.js";
import { ExternalPort } from "../backends/external.js";
import { readPcap, type PcapRecord } from "../report/pcap.js";
import type { MachineOptions } from "../machine.js";
import { createResponder, finishResponder, guestMac, type ResponderConfig, type ResponderSummary } from "./responder.js";
import { macString } from "./inet.js";

/** The backend of a replay: frames in through an ExternalPort, guest frames kept with their times. */
class ReplayBackend implements NetBackend {
  readonly name = "replay";
  readonly port: ExternalPort;
  readonly sent: PcapRecord[] = [];
  constructor(private readonly clock: Clock, trace: Trace) {
    this.port = new ExternalPort(clock, trace);
  }
  connect(sink: FrameSink): void {
    this.port.connect(sink);
  }
  transmit(frame: Uint8Array): void {
    this.sent.push({ t: this.clock.now, bytes: frame.slice(), origLen: frame.length });
  }
}

export interface ReplaySummary extends ResponderSummary {
  /** Frames of the capture fed in (those not sent by the guest). */
  fed: number;
  /** The guest's frames in the capture, and how many the replay sent identically (bytes and time). */
  capturedGuestFrames: number;
  guestFramesSent: number;
  identical: number;
}

export async function replayCapture(data: Uint8Array, cfg: ResponderConfig, opts: MachineOptions = {}): Promise<ReplaySummary> {
  const records = readPcap(data);
  let be: ReplayBackend | undefined;
  const m = await createResponder(cfg, { ...opts, backend: (c: Clock, t: Trace) => (be = new ReplayBackend(c, t)) });
  // The same steps as `serve` before its first frame.
  const mac = guestMac(m);
  const isGuest = (f: Uint8Array) => f.length >= 12 && f.subarray(6, 12).every((b, i) => b === mac[i]);
  const captured: PcapRecord[] = [];
  let fed = 0;
  for (const r of records) {
    if (isGuest(r.bytes)) {
      captured.push(r);
      continue;
    }
    if (r.t < m.clock.now) throw new Error(`capture goes back in time at frame ${fed + captured.length + 1} (${r.t} ns < ${m.clock.now} ns)`);
    m.clock.runUntil(r.t);
    be!.port.inject(r.bytes);
    fed++;
  }
  m.runIdle();
  const sent = be!.sent;
  let identical = 0;
  for (let i = 0; i < Math.min(sent.length, captured.length); i++) {
    const a = sent[i]!;
    const b = captured[i]!;
    if (a.t === b.t && a.bytes.length === b.bytes.length && a.bytes.every((x, k) => x === b.bytes[k])) identical++;
  }
  return { ...finishResponder(m, macString(mac)), fed, capturedGuestFrames: captured.length, guestFramesSent: sent.length, identical };
}
