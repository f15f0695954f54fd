// The device side of a machine: MMIO bus, a virtio-mmio transport with a virtio-net device and
// its backend, and the interrupt line. Used by the Machine (with the Wasm driver) and by tests
// (with the mock driver), so both drive exactly the same device.
import { MMIO_VAL } from "./gen/constants.js";
import type { NetBackend } from "./backends/backend.js";
import { LoopbackBackend } from "./backends/loopback.js";
import { InterruptLine } from "./bus/irq.js";
import { MmioBus } from "./bus/mmio-bus.js";
import { VirtioNetDevice } from "./devices/net.js";
import type { GuestMemory } from "./guest/memory.js";
import type { Trace } from "./report/trace.js";
import type { Clock } from "./sim/clock.js";
import type { Profile } from "./sim/profile.js";
import { VirtioMmioTransport } from "./virtio/mmio.js";

/** Where the first virtio-mmio window sits in the guest-physical map. */
export const MMIO_BASE = 0x0a00_0000;

export interface NetBoardOptions {
  mem: GuestMemory;
  clock: Clock;
  trace: Trace;
  profile: Profile;
  /** Default: loopback. */
  backend?: NetBackend;
  /** Offered features (default: the profile's). */
  features?: bigint;
  mac?: Uint8Array;
  linkUp?: boolean;
  /** Device name in the trace. */
  name?: string;
  base?: number;
}

export interface NetBoard {
  readonly bus: MmioBus;
  readonly irq: InterruptLine;
  readonly net: VirtioNetDevice;
  readonly transport: VirtioMmioTransport;
  readonly backend: NetBackend;
  readonly base: number;
}

export function createNetBoard(o: NetBoardOptions): NetBoard {
  const name = o.name ?? "net0";
  const base = o.base ?? MMIO_BASE;
  const bus = new MmioBus(o.trace, o.clock);
  const irq = new InterruptLine(name, o.trace, o.clock);
  const backend = o.backend ?? new LoopbackBackend(o.clock);
  const net = new VirtioNetDevice({
    name,
    mem: o.mem,
    clock: o.clock,
    trace: o.trace,
    profile: o.profile,
    backend,
    features: o.features,
    mac: o.mac,
    linkUp: o.linkUp,
  });
  const transport = new VirtioMmioTransport({
    name,
    device: net,
    mem: o.mem,
    clock: o.clock,
    trace: o.trace,
    irq,
    doorbellNs: o.profile.doorbellNs,
  });
  bus.map(name, base, MMIO_VAL.REGION_SIZE, transport);
  return { bus, irq, net, transport, backend, base };
}
