// A device-side test rig: clock, recorded trace, guest memory and the virtio-net board, with no
// Wasm driver. The mock driver (mock-driver.ts) drives it through real register accesses.
import type { NetBackend } from "../../host/backends/backend.js";
import { createNetBoard, type NetBoard, type NetBoardOptions } from "../../host/board.js";
import { GuestMemory } from "../../host/guest/memory.js";
import { Trace } from "../../host/report/trace.js";
import { Clock } from "../../host/sim/clock.js";
import { DEFAULT_PROFILE, type Profile } from "../../host/sim/profile.js";

export interface Rig extends NetBoard {
  clock: Clock;
  trace: Trace;
  mem: GuestMemory;
  profile: Profile;
}

export type RigOptions = Partial<Omit<NetBoardOptions, "mem" | "clock" | "trace" | "backend">> & {
  pages?: number;
  /** A backend built on the rig's clock (default: loopback). */
  backend?: (clock: Clock) => NetBackend;
};

export function createRig(opts: RigOptions = {}): Rig {
  const clock = new Clock();
  const trace = new Trace({ record: true });
  const profile = opts.profile ?? DEFAULT_PROFILE;
  const mem = new GuestMemory({ pages: opts.pages ?? 64, ramBase: profile.ramBase });
  const board = createNetBoard({ ...opts, mem, clock, trace, profile, backend: opts.backend?.(clock) });
  return { ...board, clock, trace, mem, profile };
}

/** Trace events of one kind. */
export function eventsOf(rig: Rig, kind: string) {
  return rig.trace.events.filter((e) => e.k === kind);
}
