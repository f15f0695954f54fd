// One simulated machine: clock, trace, guest memory, MMIO bus, a virtio-mmio virtio-net device
// with its backend, the interrupt line, and the driver module bound to the HAL.
import { readFileSync } from "node:fs";
import { F, HAL_DMA, MMIO } from "./gen/constants.js";
import { featureSet } from "./virtio/features.js";
import { Iommu } from "./virtio/iommu.js";
import { LoopbackBackend } from "./backends/loopback.js";
import type { NetBackend } from "./backends/backend.js";
import type { InterruptLine } from "./bus/irq.js";
import type { MmioBus } from "./bus/mmio-bus.js";
import type { VirtioNetDevice } from "./devices/net.js";
import { MMIO_BASE } from "./board.js";
import { createPlatform, type Platform, type TransportKind } from "./platform.js";
import type { InterruptController } from "./bus/intc.js";
import { DEFAULT_DRIVER_PATH } from "./paths.js";
import { GuestCpu } from "./guest/cpu.js";
import { meterModule } from "./guest/meter.js";
import { ABI_ERRNO, ABI_TRANSPORT, ABI_WORK, DriverPanic, loadDriver, type DriverInstance, type DriverStats, type HalHandlers } from "./guest/driver.js";
import { GuestMemory } from "./guest/memory.js";
import { Trace } from "./report/trace.js";
import { Clock } from "./sim/clock.js";
import { DEFAULT_PROFILE, type Profile } from "./sim/profile.js";
import type { TransportView } from "./virtio/core.js";

export { MMIO_BASE };
export const TRANSPORT_MMIO = ABI_TRANSPORT.MMIO;

export { DEFAULT_DRIVER_PATH };

export interface MachineOptions {
  profile?: Profile;
  /** Seed handed to the driver at attach (its fallback MAC) and to seeded workloads. */
  seed?: number;
  /** The driver module; default build/driver.wasm. */
  driver?: Uint8Array;
  /** Frames leave and enter through this; default loopback. A factory also gets the trace. */
  backend?: NetBackend | ((clock: Clock, trace: Trace) => NetBackend);
  /** The device's MAC (config space `mac`); default the device model's. */
  mac?: Uint8Array;
  /** Keep every trace event in memory (for --trace and tests). */
  record?: boolean;
  /** Hash the trace into its digest (default true); false only for `npm run bench` (host/report/trace.ts). */
  traceHash?: boolean;
  /** RX buffer size passed to attach (0: the driver's default). */
  rxBufSize?: number;
  /** Offered features (default: the profile's). */
  features?: bigint;
  /** Frames the bottom half may handle per poll call. */
  pollBudget?: number;
  /** Count guest instructions (host/guest/meter.ts); false keeps only exit costs (--no-meter). */
  meter?: boolean;
  /** "irq" (default): interrupts run the ISR and a bottom half; "poll": interrupts stay masked at the controller and the queues are polled every `pollPeriodNs`. */
  mode?: "irq" | "poll";
  /** Poll period in poll mode, ns (default 50 µs). */
  pollPeriodNs?: number;
  /** How the device is presented (default: the profile's transport, else virtio-mmio; host/platform.ts). */
  transport?: TransportKind;
  /** virtio-pci modern: offer MSI-X (default: the profile's, else true); false leaves INTx. */
  msix?: boolean;
  /**
   * An IOMMU in front of the device (default: the profile's `iommu`): the device offers
   * VIRTIO_F_ACCESS_PLATFORM and, once it is negotiated, reaches memory only through the windows
   * programmed with hal.dma_map (host/virtio/iommu.ts, DMA windows).
   */
  iommu?: boolean;
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
  readonly transport: TransportView;
  readonly backend: NetBackend;
  /** The transport's wiring: port space, interrupt controller, attach arguments (host/platform.ts). */
  readonly platform: Platform;
  readonly ports: MmioBus;
  readonly intc: InterruptController | undefined;
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
  /** The platform IOMMU (MachineOptions.iommu), else undefined: dma_map is then the identity. */
  readonly iommu: Iommu | undefined;
  private readonly seed: number;
  private readonly rxBufSize: number;
  private readonly pollBudget: number;
  /** Poll mode: the periodic poll stops after this virtual time (set by startPolling). */
  private pollUntil = -1;
  /** ISRs run so far: a delivery scheduled before the latest one is stale. */
  private irqServed = 0;
  readonly mode: "irq" | "poll";
  readonly pollPeriodNs: number;

  private constructor(opts: MachineOptions, mem: GuestMemory) {
    this.profile = opts.profile ?? DEFAULT_PROFILE;
    this.seed = opts.seed ?? 1;
    this.rxBufSize = opts.rxBufSize ?? 0;
    this.pollBudget = opts.pollBudget ?? 64;
    this.trace = new Trace({ record: opts.record ?? false, hash: opts.traceHash });
    this.cpu = new GuestCpu(this.clock, this.trace);
    this.mem = mem;
    let features = opts.features;
    if (opts.iommu ?? this.profile.iommu ?? false) {
      // IOVAs below 4 GiB (dma_map returns a u32) and above RAM, so a gpa is never a valid IOVA.
      const ramEnd = mem.ramBase + mem.size;
      const base = Math.max(0x8000_0000, Math.ceil(ramEnd / 0x1000_0000) * 0x1000_0000);
      this.iommu = mem.platformIommu = new Iommu({ base, limit: 0xffff_f000 });
      features = (features ?? featureSet(this.profile.features)) | (1n << BigInt(F.ACCESS_PLATFORM));
    }
    const b = opts.backend ?? ((c: Clock) => new LoopbackBackend(c));
    const board = (this.platform = createPlatform({
      transport: opts.transport ?? this.profile.transport,
      msix: opts.msix ?? this.profile.msix,
      mem: this.mem,
      clock: this.clock,
      trace: this.trace,
      profile: this.profile,
      backend: typeof b === "function" ? b(this.clock, this.trace) : b,
      features,
      mac: opts.mac,
    }));
    this.ports = board.ports;
    this.intc = board.intc;
    this.bus = board.bus;
    this.irq = board.irq;
    this.net = board.net;
    this.transport = board.transport;
    this.backend = board.backend;
    this.mode = opts.mode ?? "irq";
    this.pollPeriodNs = opts.pollPeriodNs ?? 50_000;
    this.cpu.setInterruptHandler(() => this.takeInterrupt());
    if (this.mode === "irq") this.irq.onRaise(() => this.scheduleIrq(false));
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
    const metered = opts.meter === false ? undefined : await meterModule(bytes);
    const driver = await loadDriver(metered ? metered.bytes : bytes, hal, { imports: metered?.imports });
    const profile = opts.profile ?? DEFAULT_PROFILE;
    const mem = new GuestMemory({ memory: driver.memory, ramBase: profile.ramBase });
    machine = new Machine(opts, mem);
    if (metered) {
      const psPerByte = profile.copyPsPerByte ?? DEFAULT_PROFILE.copyPsPerByte ?? 0;
      machine.cpu.setMeter({ instructions: metered.instructions, bytes: metered.bytes_, psPerInstruction: profile.psPerInstruction, psPerByte });
    }
    machine.driver = driver;
    machine.driverBytes = bytes.length;
    return machine;
  }

  /** attach() the driver to the virtio-mmio device; returns the handle or -errno. */
  attach(): number {
    // The handle is stored inside the entry: work deferred during attach (an upcall) runs when
    // the entry returns, and must already see it.
    this.dev = this.entry("attach", () => (this.dev = this.driver.attach(this.platform.abi, this.platform.attachBase, this.mem.ramBase, this.seed >>> 0, this.rxBufSize)), -ABI_ERRNO.EIO);
    return this.dev;
  }

  /** Hand a frame to the driver's transmit (copied into its io_buffer). Returns 0 or -errno. */
  transmit(frame: Uint8Array): number {
    return this.entry("transmit", () => {
      const r = this.driver.transmitBytes(this.dev, 1, frame);
      // The stack's view of the call, inside the entry (the latency figures pair accepted frames with `frame.tx`).
      this.trace.emit({ t: this.cpu.now(), k: "net.transmit", dev: this.dev, len: frame.length, r });
      return r;
    }, -ABI_ERRNO.EIO);
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

  // A raised line reaches the vCPU after the profile's delivery latency (timing-sources.md rows
  // 17, 19); `again` marks a level line still high after the ISR, delivered once more.
  private scheduleIrq(again: boolean): void {
    this.trace.emit({ t: this.clock.now, k: "irq.raise", line: this.irq.name, again });
    // A delivery still in flight when an ISR runs is served by that ISR, not by a second one.
    const gen = this.irqServed;
    this.clock.after(this.profile.irqDeliveryNs, () => {
      if (gen === this.irqServed) this.cpu.raise();
    });
  }

  // The vCPU takes the interrupt (idle, or preempting the guest at a HAL call): the ISR runs as
  // an entry, and the bottom half polls the queues it named once the guest is idle again.
  private takeInterrupt(): void {
    if (!this.irq.level || this.dev < 0 || this.dead) return;
    // The INTA cycle: the controller names the line (an MSI-X vector, INTx's PIC input); virtio-mmio has line 0.
    const vector = this.intc ? this.intc.acknowledge() : 0;
    if (vector < 0) return;
    this.irqServed++;
    this.counters.interrupts++;
    const work = this.entry("isr", () => this.driver.isr(this.dev, vector), 0);
    this.counters.isrCalls++;
    this.trace.emit({ t: this.cpu.now(), k: "isr.work", dev: this.dev, work });
    if (work !== 0) this.cpu.whenIdle(() => this.bottomHalf(work));
    // Level-triggered: a line still high after the ISR is delivered again.
    if (this.irq.level) this.scheduleIrq(true);
  }

  /** Poll mode: poll both queues every `pollPeriodNs` until virtual time `until`. */
  startPolling(until: number): void {
    this.pollUntil = until;
    const tick = () => {
      if (this.clock.now > this.pollUntil || this.dead) return;
      this.cpu.whenIdle(() => {
        this.pollQueue(0);
        this.pollQueue(1);
      });
      this.clock.after(this.pollPeriodNs, tick);
    };
    this.clock.after(0, tick);
  }

  private bottomHalf(work: number): void {
    // The work mask of docs/hal.md: which queues to poll, and whether the device needs a reset.
    if (work & ABI_WORK.RX) this.pollQueue(0);
    if (work & ABI_WORK.TX) this.pollQueue(1);
    if (work & ABI_WORK.RESET) this.clock.after(0, () => this.cpu.whenIdle(() => this.tick()));
  }

  private pollQueue(q: number): void {
    this.counters.polls++;
    this.trace.emit({ t: this.clock.now, k: "bh.poll", dev: this.dev, q });
    const done = this.entry("poll", () => this.driver.poll(this.dev, q, this.pollBudget), 0);
    // Budget used up: more may be waiting; poll again (as a NAPI loop would) after the entry.
    if (done >= this.pollBudget) this.clock.after(0, () => this.cpu.whenIdle(() => this.pollQueue(q)));
  }

  /** @internal HAL handlers call these. */
  halRead(addr: number, width: 1 | 2 | 4): number {
    this.cpu.halCall();
    this.counters.mmioReads++;
    const v = this.bus.read(addr, width);
    this.cpu.charge(this.profile.registerAccessNs);
    return v;
  }

  /** @internal */
  halWrite(addr: number, width: 1 | 2 | 4, value: number): void {
    this.cpu.halCall();
    this.counters.mmioWrites++;
    this.bus.write(addr, width, value);
    const doorbell = this.platform.isDoorbell("mmio", addr);
    if (doorbell) this.counters.doorbells++;
    this.cpu.charge(doorbell ? this.profile.doorbellNs : this.profile.registerAccessNs);
  }

  /**
   * @internal hal.dma_map: program a window in the IOMMU (traced as `dma.map`); without one the
   * identity. HAL_DMA.FAILED for an empty or out-of-RAM range, a perm outside READ | WRITE, or a
   * full IOVA space.
   */
  halDmaMap(gpa: number, len: number, perm: number): number {
    this.cpu.halCall();
    let iova: number = HAL_DMA.FAILED;
    const access = perm === HAL_DMA.READ ? "r" : perm === HAL_DMA.WRITE ? "w" : perm === (HAL_DMA.READ | HAL_DMA.WRITE) ? "rw" : undefined;
    if (access !== undefined && len > 0 && this.mem.check(gpa, len) >= 0) {
      if (this.iommu === undefined) iova = gpa;
      else {
        try {
          iova = this.iommu.map(gpa, len, access);
        } catch {
          iova = HAL_DMA.FAILED;
        }
      }
    }
    this.trace.emit({ t: this.cpu.now(), k: "dma.map", gpa, len, perm, iova });
    this.cpu.charge(this.profile.registerAccessNs);
    return iova;
  }

  /** @internal Port I/O (legacy virtio-pci, 0xCF8/0xCFC): counted with the register accesses. */
  halIn(port: number, width: 1 | 2 | 4): number {
    this.cpu.halCall();
    this.counters.mmioReads++;
    const v = this.ports.read(port, width);
    this.cpu.charge(this.profile.portIoNs ?? this.profile.registerAccessNs);
    return v;
  }

  /** @internal */
  halOut(port: number, width: 1 | 2 | 4, value: number): void {
    this.cpu.halCall();
    this.counters.mmioWrites++;
    this.ports.write(port, width, value);
    const doorbell = this.platform.isDoorbell("io", port);
    if (doorbell) this.counters.doorbells++;
    this.cpu.charge(doorbell ? this.profile.doorbellNs : this.profile.portIoNs ?? this.profile.registerAccessNs);
  }
}

function halFor(m: () => Machine): HalHandlers {
  return {
    mmioRead: (addr, width) => m().halRead(addr, width),
    mmioWrite: (addr, width, value) => m().halWrite(addr, width, value),
    ioIn: (port, width) => m().halIn(port, width),
    ioOut: (port, width, value) => m().halOut(port, width, value),
    barrier: (kind) => {
      const mm = m();
      mm.cpu.halCall();
      mm.trace.emit({ t: mm.cpu.now(), k: "barrier", kind });
    },
    irqSave: () => m().cpu.irqSave(),
    irqRestore: (s) => m().cpu.irqRestore(s),
    eoi: (line) => {
      const mm = m();
      mm.cpu.halCall();
      mm.trace.emit({ t: mm.cpu.now(), k: "eoi", line });
      mm.intc?.eoi(line);
      mm.cpu.charge(mm.profile.eoiNs);
    },
    nowNs: () => {
      const mm = m();
      mm.cpu.halCall();
      return BigInt(mm.cpu.now());
    },
    netInput: (dev, ptr, len) => {
      const mm = m();
      mm.cpu.halCall();
      const t = mm.cpu.now();
      const bytes = mm.mem.u8.slice(ptr, ptr + len);
      mm.trace.emit({ t, k: "net.input", dev, len });
      mm.onFrame(dev, bytes, t);
    },
    linkChanged: (dev, up) => {
      const mm = m();
      mm.cpu.halCall();
      mm.trace.emit({ t: mm.cpu.now(), k: "net.link", dev, up });
      mm.onLink(dev, up);
    },
    log: (level, code, a, b) => {
      const mm = m();
      mm.cpu.halCall();
      mm.trace.emit({ t: mm.cpu.now(), k: "log", level, code, a, b });
    },
    panic: (code) => {
      const mm = m();
      mm.trace.emit({ t: mm.cpu.now(), k: "panic", code });
      throw new DriverPanic(code);
    },
    dmaMap: (gpa, len, perm) => m().halDmaMap(gpa, len, perm),
  };
}
