// The conformance scenario: attach, traffic both ways, a link change, reset and re-attach, a
// watchdog tick, all under the monitor; returns the report. Any driver implementing docs/hal.md.
import { makeFrame } from "../analysis/run.js";
import { ABI_ERRNO, errnoName } from "../guest/driver.js";
import { Machine, type MachineOptions } from "../machine.js";
import { DEFAULT_PROFILE, type Profile } from "../sim/profile.js";
import { Rng } from "../sim/rng.js";
import { Monitor } from "./monitor.js";
import { DEFAULT_SCOPE, type Scope, type TransportName } from "./registry.js";
import { buildReport, type ConformanceReport } from "./report.js";

export interface ConformOptions {
  driver?: Uint8Array;
  driverName?: string;
  profile?: Profile;
  /** Transport (default: the profile's, else virtio-mmio). */
  transport?: MachineOptions["transport"];
  seed?: number;
  /** Frames each way per traffic phase. */
  frames?: number;
  /** Offered features (default: the profile's). */
  features?: bigint;
}

/** Thrown when the module is not a driver (the message lists what is missing). */
export class NotADriver extends Error {}

const SETTLE_NS = 2_000_000;

export async function runConformance(o: ConformOptions = {}): Promise<{ report: ConformanceReport; machine: Machine; monitor: Monitor }> {
  const profile = o.profile ?? DEFAULT_PROFILE;
  let m: Machine;
  try {
    m = await Machine.create({ driver: o.driver, profile, transport: o.transport, seed: o.seed ?? 1, features: o.features });
  } catch (e) {
    const msg = (e as Error).message;
    if (msg.startsWith("loadDriver: module refused")) throw new NotADriver(msg.replace("loadDriver: module refused:", "does not implement the driver ABI of docs/hal.md:"));
    if (o.driver !== undefined) throw new NotADriver(`is not a loadable WebAssembly module: ${msg}`);
    throw e;
  }
  const transport = m.platform.kind as TransportName;
  const notes: string[] = [];
  const scope: Scope = { ...DEFAULT_SCOPE, transports: [transport] };
  const monitor = new Monitor({ mem: m.mem, transport, negotiated: () => m.transport.negotiatedFeatures });
  if (transport !== "mmio") notes.push(`the register-stream checks read virtio-mmio only: on ${transport} the monitor checks rings and adopts the device's own findings`);
  monitor.attach(m.trace);
  const rng = new Rng(o.seed ?? 1);
  const frames = o.frames ?? 64;
  let received = 0;
  m.onFrame = () => void received++;

  const traffic = (phase: string): void => {
    const before = received;
    let sent = 0;
    let refused = 0;
    for (let i = 0; i < frames; i++) {
      const r = m.transmit(makeFrame(rng, i, rng.int(60, 1514)));
      if (r === 0) sent++;
      else refused++;
      m.runUntil(m.clock.now + 20_000);
    }
    m.runUntil(m.clock.now + SETTLE_NS);
    notes.push(`${phase}: ${sent} frames sent, ${received - before} received back${refused ? `, ${refused} refused` : ""}`);
  };

  const attach = (phase: string): boolean => {
    const dev = m.attach();
    notes.push(`${phase}: attach -> ${dev < 0 ? `-${errnoName(dev) ?? -dev}` : `handle ${dev}`}`);
    m.runUntil(m.clock.now + SETTLE_NS);
    return dev >= 0;
  };

  if (attach("attach")) {
    traffic("traffic");
    // Link change: down, a transmit while down, up again (config interrupt, ConfigGeneration).
    m.net.setLink(false);
    m.runUntil(m.clock.now + SETTLE_NS);
    const down = m.transmit(makeFrame(rng, 0, 60));
    m.net.setLink(true);
    m.runUntil(m.clock.now + SETTLE_NS);
    notes.push(`link change: down and up; transmit while down -> ${down === 0 ? "0" : `-${errnoName(down) ?? -down}`}`);
    m.tick();
    m.runUntil(m.clock.now + SETTLE_NS);
    // Reset and re-attach: detach resets the device (Status 0), then a fresh attach.
    const r = m.entry("detach", () => m.driver.detach(m.dev), -ABI_ERRNO.EIO);
    m.runUntil(m.clock.now + SETTLE_NS);
    notes.push(`reset: detach -> ${r}`);
    if (attach("re-attach")) traffic("traffic after re-attach");
  }
  if (m.dead) notes.push(`driver stopped: ${m.dead}`);
  const report = buildReport(monitor.result(), scope, { driver: o.driverName ?? "build/driver.wasm", profile: profile.name, transport, notes });
  if (m.dead) report.pass = false;
  return { report, machine: m, monitor };
}
