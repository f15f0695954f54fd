// A simulation linked to a live peer over the UDP backend: the machine runs whenever a frame
// arrives. Virtual time is free by default (it runs as far as the work goes, then waits);
// `pace: "realtime"` keeps it from running ahead of wall time, the one place the wall clock is read.
import type { Machine } from "../machine.js";
import type { UdpBackend } from "../backends/udp.js";
import { wallNs } from "../wall-clock.js";

export type Pace = "none" | "realtime";

/** Events run per slice before the Node event loop gets a turn (datagrams, signals). */
const SLICE_EVENTS = 20_000;
/** Longest sleep between paced slices (ms). */
const PACE_MAX_SLEEP_MS = 20;
/** Events a final drain may run. */
const DRAIN_EVENTS = 10_000_000;

export class LiveSession {
  private scheduled = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private wall0 = 0n;
  private virt0 = 0;

  constructor(readonly m: Machine, readonly link: UdpBackend, readonly pace: Pace = "none") {}

  start(): void {
    this.link.onExternal = () => this.kick();
    if (this.pace === "realtime") {
      this.wall0 = wallNs();
      this.virt0 = this.m.clock.now;
    }
    this.kick();
  }

  /**
   * Stop taking frames, finish the work in flight (events already scheduled), close the link.
   * The trace then holds the same events a replay of the session's capture produces.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.link.onExternal = () => {};
    await this.link.close();
    this.m.runIdle(DRAIN_EVENTS);
  }

  private kick(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.slice();
    });
  }

  private slice(): void {
    if (this.stopped) return;
    const clock = this.m.clock;
    if (this.pace === "none") {
      let n = 0;
      while (n < SLICE_EVENTS && clock.step()) n++;
      if (n === SLICE_EVENTS) this.kick();
      return;
    }
    const target = this.virt0 + Number(wallNs() - this.wall0);
    let n = 0;
    while (n < SLICE_EVENTS && clock.nextTime() <= target && clock.step()) n++;
    if (n === SLICE_EVENTS) return this.kick();
    clock.runUntil(target);
    const next = clock.nextTime();
    const sleepMs = Number.isFinite(next) ? Math.min(PACE_MAX_SLEEP_MS, Math.max(0, (next - target) / 1e6)) : PACE_MAX_SLEEP_MS;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.slice(), sleepMs);
  }
}
