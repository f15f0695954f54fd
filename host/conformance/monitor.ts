// The conformance monitor: a consumer of the trace stream that checks the driver against the
// in-scope driver clauses. It reads guest memory (ring snapshots at each HAL call) and never writes
// it or calls into the simulation. Breaches the device model records (violation/breach events) are
// adopted as they are; its own checks live in monitor-registers.ts and monitor-rings.ts.
import type { ClauseId } from "../gen/clauses.js";
import { STATUS } from "../gen/constants.js";
import type { GuestMemory } from "../guest/memory.js";
import type { Trace, TraceEvent } from "../report/trace.js";
import { impliedBy } from "./cascades.js";
import { RegisterChecks } from "./monitor-registers.js";
import { RingChecks } from "./monitor-rings.js";
import { clause, levelOf, type Level, type TransportName } from "./registry.js";

/** One breach as the issue asks: {clause, section, keyword, time, detail}, plus where it came from. */
export interface Breach {
  clause: ClauseId;
  section: string;
  keyword: string;
  /** Virtual time, ns. */
  time: number;
  detail: string;
  dev: string;
  level: Level;
  /** Which side found it: the device model's own check, or the monitor. */
  source: "device" | "monitor";
  /** Set when a declared cascade puts this breach under an earlier root. */
  root?: ClauseId;
  /** Reset epoch of the device when it happened (cascades stay within one). */
  epoch: number;
}

export interface MonitorOptions {
  /** Guest memory, for ring snapshots (without it the ring checks are off). */
  mem?: GuestMemory;
  transport?: TransportName;
  /**
   * A read-only view of the feature set fixed at FEATURES_OK (the transport's). Without it the
   * monitor derives it from the virtio-mmio register stream.
   */
  negotiated?: (dev: string) => bigint;
}

/** What the checks share per device: the negotiation as the monitor saw it. */
export interface DevState {
  name: string;
  epoch: number;
  /** Device status as the device holds it (from `status` events). */
  status: number;
  /** DeviceFeatures words the driver read (bits offered, as far as it looked). */
  offered: bigint;
  /** DriverFeatures words written since the last reset. */
  accepted: bigint;
  /** The accepted set when FEATURES_OK stuck (0 before). */
  negotiated: bigint;
  /** mtu as the driver last read it from config space. */
  mtu?: number;
}

/** The sink the check modules report to. */
export interface Sink {
  report(dev: string, id: ClauseId, detail: string, t: number): void;
  /** A check of `id` ran (it could have failed): the clause is exercised. */
  ex(id: ClauseId): void;
  readonly transport: TransportName;
}

/** Clauses the device model checks, exercised whenever the matching event happens. */
const DEVICE_EXERCISE: Record<string, ClauseId[]> = {
  "vq.pop": ["SPLIT-DRV-02", "SPLIT-DRV-04", "SPLIT-DRV-05", "SPLIT-DRV-06", "SPLIT-DRV-07", "SPLIT-DRV-09", "FRAME-DRV-01", "DERIVED-SPLIT-IDX", "DERIVED-MEM"],
  notify: ["INIT-DRV-14"],
  queue: ["SPLIT-DRV-01", "DERIVED-MEM"],
  // A DMA window programmed: the device's accesses are held to the windows (iommu.ts).
  "dma.map": ["RSVD-DRV-04"],
};

export class Monitor implements Sink {
  readonly transport: TransportName;
  private readonly devs = new Map<string, DevState>();
  private readonly regs: RegisterChecks;
  private readonly rings: RingChecks;
  private readonly list: Breach[] = [];
  private readonly first = new Map<ClauseId, Breach>();
  private readonly counts = new Map<ClauseId, number>();
  private readonly exercised = new Set<ClauseId>();
  /** Per device and epoch, the clauses breached so far (for cascades). */
  private readonly seen = new Map<string, Set<ClauseId>>();
  private lastT = 0;
  private readonly negotiatedView?: (dev: string) => bigint;
  /** The register-stream checks read virtio-mmio (Version 2) register names. */
  private readonly mmio: boolean;

  constructor(opts: MonitorOptions = {}) {
    this.transport = opts.transport ?? "mmio";
    this.mmio = this.transport === "mmio";
    this.negotiatedView = opts.negotiated;
    this.regs = new RegisterChecks(this, (n) => this.dev(n));
    this.rings = new RingChecks(this, (n) => this.dev(n), opts.mem);
  }

  /** Subscribe to a trace; returns the unsubscribe function. */
  attach(trace: Trace): () => void {
    return trace.subscribe((ev) => this.consume(ev));
  }

  dev(name: string): DevState {
    let d = this.devs.get(name);
    if (!d) {
      d = { name, epoch: 0, status: 0, offered: 0n, accepted: 0n, negotiated: 0n };
      this.devs.set(name, d);
    }
    return d;
  }

  consume = (ev: TraceEvent): void => {
    this.lastT = ev.t;
    const dev = typeof ev.dev === "string" ? ev.dev : undefined;
    switch (ev.k) {
      case "mmio":
        this.rings.observe(ev.t, "mmio");
        // A Status 0 write resets the device (2.4) even when Status already reads 0 (no status event).
        if (!this.mmio) break;
        if (ev.op === "w" && ev.reg === "Status" && ev.v === 0) this.resetDev(dev!);
        this.regs.onMmio(dev!, ev);
        break;
      case "status": {
        const d = this.dev(dev!);
        const from = ev.from as number;
        const to = ev.to as number;
        d.status = to;
        if (to === 0 && !this.mmio) this.resetDev(dev!);
        if (to & STATUS.FEATURES_OK && !(from & STATUS.FEATURES_OK)) d.negotiated = d.accepted;
        break;
      }
      case "queue":
        this.refresh(dev!);
        this.regs.onQueue(dev!, ev.q as number, ev.ready as boolean);
        this.rings.onQueue(dev!, ev);
        break;
      case "notify":
        this.refresh(dev!);
        this.rings.onNotify(dev!, ev.q as number, ev.t);
        break;
      case "vq.pop":
        this.rings.onPop(dev!, ev);
        break;
      case "vq.unpop":
        this.rings.onUnpop(dev!, ev.q as number, ev.n as number);
        break;
      case "vq.used":
        this.rings.onUsed(dev!, ev.q as number, ev.head as number);
        break;
      case "violation":
      case "breach":
        this.report(dev!, ev.clause as ClauseId, ev.detail as string, ev.t, "device");
        break;
      case "barrier":
        this.rings.observe(ev.t, "barrier");
        this.rings.onBarrier(ev.kind as number);
        break;
      case "guest.enter":
        if (this.mmio) this.regs.onEnter(ev.fn as string);
        this.rings.onEnter();
        break;
      case "guest.exit":
        this.rings.observe(ev.t, "exit");
        this.boundary();
        if (this.mmio) this.regs.onExit(ev.t);
        break;
      case "eoi":
      case "irq.mask":
      case "irq.unmask":
      case "net.input":
      case "net.link":
      case "log":
      case "dma.map":
        this.rings.observe(ev.t, "hal");
        break;
    }
    for (const c of DEVICE_EXERCISE[ev.k] ?? []) this.exercised.add(c);
  };

  /**
   * The end of a driver step: a guest entry returned (called from guest.exit), or, for a test
   * driver that makes no guest entries, the point where it hands control back.
   */
  boundary(t = this.lastT): void {
    for (const name of this.devs.keys()) this.refresh(name);
    this.rings.observe(t, "exit");
    this.rings.endOfStep(t);
    this.regs.endOfStep(t);
  }

  /** Take the negotiated set from the transport's read-only view, when there is one. */
  private refresh(name: string): void {
    if (this.negotiatedView) this.dev(name).negotiated = this.negotiatedView(name);
  }

  private resetDev(name: string): void {
    const d = this.dev(name);
    d.epoch++;
    d.accepted = 0n;
    d.negotiated = 0n;
    this.rings.onReset(name);
    this.regs.onReset(name);
  }

  ex(id: ClauseId): void {
    this.exercised.add(id);
  }

  report(dev: string, id: ClauseId, detail: string, t: number, source: "device" | "monitor" = "monitor"): void {
    const d = this.dev(dev);
    this.exercised.add(id);
    this.counts.set(id, (this.counts.get(id) ?? 0) + 1);
    const key = `${dev}#${d.epoch}`;
    const seen = this.seen.get(key) ?? new Set<ClauseId>();
    this.seen.set(key, seen);
    if (seen.has(id)) return; // one record per clause, device and epoch; counted above
    seen.add(id);
    const row = clause(id);
    const b: Breach = { clause: id, section: row.section, keyword: row.keyword, time: t, detail, dev, level: levelOf(row.keyword), source, epoch: d.epoch };
    this.list.push(b);
  }

  /** Resolve cascades and return the findings. The monitor keeps consuming if the run goes on. */
  result(): MonitorResult {
    this.rings.observe(this.lastT, "exit");
    const byKey = new Map<string, Breach[]>();
    for (const b of this.list) {
      const key = `${b.dev}#${b.epoch}`;
      byKey.set(key, [...(byKey.get(key) ?? []), b]);
    }
    for (const group of byKey.values()) {
      const present = new Set(group.map((b) => b.clause));
      for (const b of group) {
        b.root = undefined;
        for (const r of present) if (r !== b.clause && impliedBy(r).has(b.clause)) b.root = findRoot(r, present);
      }
    }
    this.first.clear();
    for (const b of this.list) if (!this.first.has(b.clause)) this.first.set(b.clause, b);
    const breaches = [...this.list];
    const roots = breaches.filter((b) => b.root === undefined);
    return {
      breaches,
      roots,
      first: this.first,
      counts: this.counts,
      exercised: this.exercised,
      failures: breaches.filter((b) => b.level === "fail").length,
      warnings: breaches.filter((b) => b.level === "warn").length,
    };
  }
}

/** Follow declared cascades up to a clause nothing present implies. */
function findRoot(c: ClauseId, present: Set<ClauseId>): ClauseId {
  const seen = new Set<ClauseId>([c]);
  let cur = c;
  for (;;) {
    const up = [...present].find((r) => r !== cur && !seen.has(r) && impliedBy(r).has(cur));
    if (up === undefined) return cur;
    seen.add(up);
    cur = up;
  }
}

export interface MonitorResult {
  /** Every breach, once per clause, device and reset epoch, in the order found. */
  breaches: Breach[];
  /** Breaches no declared cascade explains. */
  roots: Breach[];
  /** First breach per clause. */
  first: ReadonlyMap<ClauseId, Breach>;
  /** Times each clause was breached in all. */
  counts: ReadonlyMap<ClauseId, number>;
  exercised: ReadonlySet<ClauseId>;
  failures: number;
  warnings: number;
}
