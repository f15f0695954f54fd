// One simulated machine: clock, trace, guest memory, MMIO bus, a virtio-mmio virtio-net device
// with its backend, the interrupt line, and the driver module bound to the HAL.
import { readFileSync } from "node:fs";
import { MMIO } from "./gen/constants.js";
import { LoopbackBackend } from "./backends/loopback.js";
import type { NetBackend } from "./backends/backend.js";
import type { InterruptLine } from "./bus/irq.js";
import type { MmioBus } from "./bus/mmio-bus.js";
import type { VirtioNetDevice } from "./devices/net.js";
import { createNetBoard, MMIO_BASE } from "./board.js";
import { DEFAULT_DRIVER_PATH } from "./paths.js";
import { GuestCpu } from "./guest/cpu.js";
import { ABI_ERRNO, ABI_TRANSPORT, ABI_WORK, DriverPanic, loadDriver, type DriverInstance, type DriverStats, type HalHandlers } from "./guest/driver.js";
import { GuestMemory } from "./guest/memory.js";
import { Trace } from "./report/trace.js";
import { Clock } from "./sim/clock.js";
import { DEFAULT_PROFILE, type Profile } from "./sim/profile.js";
import type { VirtioMmioTransport } from "./virtio/mmio.js";

export { MMIO_BASE };
export const TRANSPORT_MMIO = ABI_TRANSPORT.MMIO;

export { DEFAULT_DRIVER_PATH };

export interface MachineOptions {
  profile?: Profile;
  /** Seed handed to the driver at attach (its fallback MAC) and to seeded workloads. */
  seed?: number;
  /** The driver module; default build/driver.wasm. */
  driver?: Uint8Array;
  /** Frames leave and enter through this; default loopback. */
  backend?: NetBackend | ((clock: Clock) => NetBackend);
  /** Keep every trace event in memory (for --trace and tests). */
  record?: boolean;
  /** RX buffer size passed to attach (0: the driver's default). */
  rxBufSize?: number;
  /** Offered features (default: the profile's). */
  features?: bigint;
  /** Frames the bottom half may handle per poll call. */
  pollBudget?: number;
}

/** A frame the driver handed to the stack (net_input), with the virtual time it arrived. */
export interface Delivered {
  at: number;
  bytes: Uint8Array;
}

export class Machine {
  readonly clock = new Clock();
  readonly trace: Trace;
  readonly profile: Profile;
  readonly bus: MmioBus;
  readonly irq: InterruptLine;
  readonly cpu: GuestCpu;
  readonly net: VirtioNetDevice;
  readonly transport: VirtioMmioTransport;
  readonly backend: NetBackend;
  driver!: DriverInstance;
  mem!: GuestMemory;
  /** The device handle attach returned (negative: -errno). */
  dev = -1;
  /** Size of the driver module in bytes. */
  driverBytes = 0;
  /** Set once the driver trapped or panicked: no more entries are made. */
  dead: string | undefined;
  /** Called for each frame the driver delivers (net_input); the bytes are a copy. */
  onFrame: (dev: number, bytes: Uint8Array, at: number) => void = () => {};
  onLink: (dev: number, up: boolean) => void = () => {};
  readonly counters = { interrupts: 0, isrCalls: 0, polls: 0, mmioReads: 0, mmioWrites: 0, doorbells: 0 };
  private readonly seed: number;
  private readonly rxBufSize: number;
  private readonly pollBudget: number;
  private irqPending = false;

  private constructor(opts: MachineOptions, mem: GuestMemory) {
    this.profile = opts.profile ?? DEFAULT_PROFILE;
    this.seed = opts.seed ?? 1;
    this.rxBufSize = opts.rxBufSize ?? 0;
    this.pollBudget = opts.pollBudget ?? 64;
    this.trace = new Trace({ record: opts.record ?? false });
    this.cpu = new GuestCpu(this.clock, this.trace);
    this.mem = mem;
    const b = opts.backend ?? ((c: Clock) => new LoopbackBackend(c));
    const board = createNetBoard({
      mem: this.mem,
      clock: this.clock,
      trace: this.trace,
      profile: this.profile,
      backend: typeof b === "function" ? b(this.clock) : b,
      features: opts.features,
    });
    this.bus = board.bus;
    this.irq = board.irq;
    this.net = board.net;
    this.transport = board.transport;
    this.backend = board.backend;
    this.irq.onRaise(() => this.clock.after(this.profile.irqDeliveryNs, () => this.deliverIrq()));
  }

  /** Build a machine and instantiate the driver; the driver's exported memory becomes guest RAM. */
  static async create(opts: MachineOptions = {}): Promise<Machine> {
    let bytes = opts.driver;
    if (!bytes) {
      try {
        bytes = readFileSync(DEFAULT_DRIVER_PATH);
      } catch {
        throw new Error(`no driver at ${DEFAULT_DRIVER_PATH}: run \`npm run build\` first`);
      }
    }
    // Guest memory is the driver's own linear memory: instantiate first, then wire the devices to it.
    let machine: Machine | undefined;
    const hal = halFor(() => machine!);
    const driver = await loadDriver(bytes, hal);
    const mem = new GuestMemory({ memory: driver.memory, ramBase: (opts.profile ?? DEFAULT_PROFILE).ramBase });
    machine = new Machine(opts, mem);
    machine.driver = driver;
    machine.driverBytes = bytes.length;
    return machine;
  }

  /** attach() the driver to the virtio-mmio device; returns the handle or -errno. */
  attach(): number {
    // The handle is stored inside the entry: work deferred during attach (an upcall) runs when
    // the entry returns, and must already see it.
    this.dev = this.entry("attach", () => (this.dev = this.driver.attach(TRANSPORT_MMIO, MMIO_BASE, this.mem.ramBase, this.seed >>> 0, this.rxBufSize)), -ABI_ERRNO.EIO);
    return this.dev;
  }

  /** Hand a frame to the driver's transmit (copied into its io_buffer). Returns 0 or -errno. */
  transmit(frame: Uint8Array): number {
    return this.entry("transmit", () => this.driver.transmitBytes(this.dev, 1, frame), -ABI_ERRNO.EIO);
  }

  /** The watchdog tick (as the RTEMS port's TX watchdog). */
  tick(): void {
    this.entry("tick", () => this.driver.tick(this.dev), undefined);
  }

  /** The driver's counters (docs/hal.md, stats), or -errno when it refused. Clobbers io_buffer. */
  stats(): DriverStats | number {
    return this.entry("stats", () => this.driver.readStats(this.dev), -ABI_ERRNO.EBADF);
  }

  /** Run events until virtual time `t` (ns). */
  runUntil(t: number): void {
    this.clock.runUntil(t);
  }

  /** Run until no event is left, or `maxEvents` have run. Returns events run. */
  runIdle(maxEvents = 10_000_000): number {
    let n = 0;
    while (n < maxEvents && this.clock.step()) n++;
    return n;
  }

  /** One guest entry with trap handling: a trap or panic is recorded and the driver is dead. */
  entry<T>(fn: string, body: () => T, fallback: T): T {
    if (this.dead) return fallback;
    return this.cpu.enter(fn, body, fallback, (err) => {
      const what = err instanceof DriverPanic ? `panic ${err.code}` : err instanceof Error ? err.message : String(err);
      this.dead = `${fn}: ${what}`;
      this.trace.emit({ t: this.cpu.now(), k: "guest.trap", fn, what });
    });
  }

  // The interrupt reaches the guest; the ISR runs, then the bottom half polls the queues it named.
  private deliverIrq(): void {
    if (this.irqPending) return;
    this.irqPending = true;
    this.cpu.whenIdle(() => {
      this.irqPending = false;
      if (!this.irq.level || this.dev < 0) return;
      this.counters.interrupts++;
      const work = this.entry("isr", () => this.driver.isr(this.dev, 0), 0);
      this.counters.isrCalls++;
      if (work !== 0) this.bottomHalf(work);
      // Level-triggered: a line still high after the ISR is delivered again.
      if (this.irq.level) this.clock.after(this.profile.irqDeliveryNs, () => this.deliverIrq());
    });
  }

  private bottomHalf(work: number): void {
    // The work mask of docs/hal.md: which queues to poll, and whether the device needs a reset.
    if (work & ABI_WORK.RX) this.pollQueue(0);
    if (work & ABI_WORK.TX) this.pollQueue(1);
    if (work & ABI_WORK.RESET) this.clock.after(0, () => this.cpu.whenIdle(() => this.tick()));
  }

  private pollQueue(q: number): void {
    this.counters.polls++;
    const done = this.entry("poll", () => this.driver.poll(this.dev, q, this.pollBudget), 0);
    // Budget used up: more may be waiting; poll again (as a NAPI loop would) after the entry.
    if (done >= this.pollBudget) this.clock.after(0, () => this.cpu.whenIdle(() => this.pollQueue(q)));
  }

  /** @internal HAL handlers call these. */
  halRead(addr: number, width: 1 | 2 | 4): number {
    this.cpu.sync();
    this.counters.mmioReads++;
    const v = this.bus.read(addr, width);
    this.cpu.charge(this.profile.registerAccessNs);
    return v;
  }

  /** @internal */
  halWrite(addr: number, width: 1 | 2 | 4, value: number): void {
    this.cpu.sync();
    this.counters.mmioWrites++;
    this.bus.write(addr, width, value);
    const doorbell = addr === MMIO_BASE + MMIO.QueueNotify;
    if (doorbell) this.counters.doorbells++;
    this.cpu.charge(doorbell ? this.profile.doorbellNs : this.profile.registerAccessNs);
  }
}

function halFor(m: () => Machine): HalHandlers {
  return {
    mmioRead: (addr, width) => m().halRead(addr, width),
    mmioWrite: (addr, width, value) => m().halWrite(addr, width, value),
    ioIn: (port, width) => {
      const mm = m();
      mm.cpu.sync();
      mm.trace.emit({ t: mm.cpu.now(), k: "bus.fault", op: "in", addr: port, w: width });
      return width === 4 ? 0xffffffff : (1 << (8 * width)) - 1;
    },
    ioOut: (port, width) => {
      const mm = m();
      mm.cpu.sync();
      mm.trace.emit({ t: mm.cpu.now(), k: "bus.fault", op: "out", addr: port, w: width });
    },
    barrier: (kind) => {
      const mm = m();
      mm.trace.emit({ t: mm.cpu.now(), k: "barrier", kind });
    },
    irqSave: () => m().cpu.irqSave(),
    irqRestore: (s) => m().cpu.irqRestore(s),
    eoi: (line) => {
      const mm = m();
      mm.cpu.sync();
      mm.trace.emit({ t: mm.cpu.now(), k: "eoi", line });
      mm.cpu.charge(mm.profile.eoiNs);
    },
    nowNs: () => BigInt(m().cpu.now()),
    netInput: (dev, ptr, len) => {
      const mm = m();
      const t = mm.cpu.now();
      const bytes = mm.mem.u8.slice(ptr, ptr + len);
      mm.trace.emit({ t, k: "net.input", dev, len });
      mm.onFrame(dev, bytes, t);
    },
    linkChanged: (dev, up) => {
      const mm = m();
      mm.trace.emit({ t: mm.cpu.now(), k: "net.link", dev, up });
      mm.onLink(dev, up);
    },
    log: (level, code, a, b) => {
      const mm = m();
      mm.trace.emit({ t: mm.cpu.now(), k: "log", level, code, a, b });
    },
    panic: (code) => {
      const mm = m();
      mm.trace.emit({ t: mm.cpu.now(), k: "panic", code });
      throw new DriverPanic(code);
    },
  };
}
