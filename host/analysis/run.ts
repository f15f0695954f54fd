// The default scenario: seeded frames of mixed sizes through the driver and loopback, every
// returned payload checked against what was sent.
import { ABI_ERRNO } from "../gen/constants.js";
import { Rng } from "../sim/rng.js";
import { Machine, type MachineOptions } from "../machine.js";
import type { Scenario } from "./scenario.js";

export interface RunSummary {
  framesSent: number;
  framesReceived: number;
  bytesSent: number;
  bytesReceived: number;
  /** Frames sent and never received back (device and driver drops together). */
  drops: number;
  deviceDrops: Record<string, number>;
  /** Received frames whose bytes differ from the frame sent with the same sequence number. */
  mismatches: number;
  txRetries: number;
  /** Transmit calls refused with -ENETDOWN (the frame was held until the link came back). */
  linkDownWaits: number;
  registerReads: number;
  registerWrites: number;
  doorbells: number;
  interrupts: number;
  virtualTimeNs: number;
  driverWasmBytes: number;
  reservedMemoryBytes: number;
  traceEvents: number;
  traceDigest: string;
  /** Set when the driver trapped or panicked. */
  driverDead?: string;
  breaches: number;
}

const ETHERTYPE = 0x88b5; // IEEE 802 local experimental: never mistaken for real traffic

/** Frame `seq` of a run: Ethernet header, 4-byte sequence number, seeded payload. */
export function makeFrame(rng: Rng, seq: number, size: number): Uint8Array {
  const f = new Uint8Array(size);
  f.set([0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02], 0);
  f[12] = ETHERTYPE >> 8;
  f[13] = ETHERTYPE & 0xff;
  if (size >= 18) {
    new DataView(f.buffer).setUint32(14, seq, false);
    rng.bytes(f.subarray(18));
  }
  return f;
}

export async function runScenario(s: Scenario, machineOpts: MachineOptions = {}): Promise<{ summary: RunSummary; machine: Machine }> {
  const m = await Machine.create({ seed: s.seed, rxBufSize: s.rxBufSize, ...machineOpts });
  const rng = new Rng(s.seed);
  const sent = new Map<number, Uint8Array>();
  let seq = 0;
  let received = 0;
  let bytesSent = 0;
  let bytesReceived = 0;
  let mismatches = 0;
  let retries = 0;
  let linkWaits = 0;
  let next: Uint8Array | undefined;
  let pumpScheduled = false;

  m.onFrame = (_dev, bytes) => {
    received++;
    bytesReceived += bytes.length;
    const n = bytes.length >= 18 ? new DataView(bytes.buffer, bytes.byteOffset).getUint32(14, false) : -1;
    const want = sent.get(n);
    if (!want || !equal(want, bytes)) mismatches++;
    if (want) sent.delete(n);
    schedulePump(0);
  };
  // A link change wakes the stack: down, so frames lost on the wire free the window (the next
  // transmit learns ENETDOWN); up, so held frames go out.
  m.onLink = () => schedulePump(0);

  const schedulePump = (delay: number) => {
    if (pumpScheduled) return;
    pumpScheduled = true;
    m.clock.after(delay, () => m.cpu.whenIdle(() => {
      pumpScheduled = false;
      pump();
    }));
  };

  // The stack: keep up to `window` frames out, retrying later when the ring is full. Not
  // re-entered: work deferred inside a transmit entry (a receive that schedules the pump) runs
  // when that entry returns, in the middle of this loop, which goes on anyway.
  let pumping = false;
  const pump = () => {
    if (pumping) return;
    pumping = true;
    try {
      pumpLoop();
    } finally {
      pumping = false;
    }
  };
  const pumpLoop = () => {
    // Frames the device dropped never come back: they no longer count against the window.
    const lost = () => Object.values(m.net.stats.drops).reduce((a, n) => a + n, 0);
    while (seq < s.frames && sent.size - lost() < s.window && !m.dead) {
      next ??= makeFrame(rng, seq, rng.int(s.minSize, s.maxSize));
      // Known before the call: with preemption the frame can come back before transmit returns.
      sent.set(seq, next);
      const r = m.transmit(next);
      if (r < 0) sent.delete(seq);
      if (r === -ABI_ERRNO.ENOBUFS) {
        retries++;
        schedulePump(10_000);
        return;
      }
      if (r === -ABI_ERRNO.ENETDOWN) {
        // The stack holds the frame until the driver reports the link up again.
        linkWaits++;
        return;
      }
      if (r < 0) {
        m.trace.emit({ t: m.clock.now, k: "stack.error", seq, errno: -r });
        next = undefined;
        seq++;
        continue;
      }
      bytesSent += next.length;
      next = undefined;
      seq++;
    }
  };

  const dev = m.attach();
  if (dev >= 0) {
    let up = false;
    for (const t of s.linkFlaps) {
      const state = up;
      m.clock.at(t, () => m.net.setLink(state));
      up = !up;
    }
    schedulePump(0);
    m.runIdle();
  }
  // Every frame sent comes back once through loopback; the ones that did not were dropped.
  const lost = seq - received;
  const summary: RunSummary = {
    framesSent: seq,
    framesReceived: received,
    bytesSent,
    bytesReceived,
    drops: Math.max(0, lost),
    deviceDrops: { ...m.net.stats.drops },
    mismatches,
    txRetries: retries,
    linkDownWaits: linkWaits,
    registerReads: m.counters.mmioReads,
    registerWrites: m.counters.mmioWrites,
    doorbells: m.counters.doorbells,
    interrupts: m.counters.interrupts,
    virtualTimeNs: m.clock.now,
    driverWasmBytes: m.driverBytes,
    reservedMemoryBytes: m.driver.mem_size(),
    traceEvents: m.trace.count,
    traceDigest: "",
    breaches: m.transport.violations.length,
  };
  if (m.dead) summary.driverDead = m.dead;
  if (dev < 0) summary.driverDead = `attach returned ${dev}`;
  summary.traceDigest = m.trace.digest();
  return { summary, machine: m };
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
