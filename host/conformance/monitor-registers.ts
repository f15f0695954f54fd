// The monitor's checks on the register stream (`mmio` events): probe order, reset and status
// discipline, feature selection and negotiation, config reads, queue registers, interrupts.
import type { ClauseId } from "../gen/clauses.js";
import { F, INT, MMIO_VAL, NET_F, STATUS } from "../gen/constants.js";
import type { TraceEvent } from "../report/trace.js";
import { featureNames, has } from "../virtio/features.js";
import { brokenDeps, DEFINED_NET_BITS, MMIO_INVALID_BITS } from "./dependencies.js";
import type { DevState, Sink } from "./monitor.js";

const { ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK, FAILED } = STATUS;
const INT_DEFINED = INT.USED_BUFFER | INT.CONFIG_CHANGE;
const QUEUE_SETUP = new Set(["QueueSize", "QueueDescLow", "QueueDescHigh", "QueueDriverLow", "QueueDriverHigh", "QueueDeviceLow", "QueueDeviceHigh", "QueueReady"]);

/** virtio_net_config fields (5.1.4) with the feature that gates each (CFG-DRV-03). */
const CONFIG_FIELDS = [
  { name: "mac", start: 0, end: 6, gate: NET_F.MAC },
  { name: "status", start: 6, end: 8, gate: NET_F.STATUS },
  { name: "max_virtqueue_pairs", start: 8, end: 10, gate: NET_F.MQ },
  { name: "mtu", start: 10, end: 12, gate: NET_F.MTU },
];

/** SHOULD-accept-when-offered rules checked at FEATURES_OK. */
const SHOULD_ACCEPT: [number, ClauseId][] = [
  [F.ACCESS_PLATFORM, "RSVD-DRV-03"],
  [F.RING_PACKED, "RSVD-DRV-06"],
  [F.ORDER_PLATFORM, "RSVD-DRV-07"],
  [F.NOTIF_CONFIG_DATA, "RSVD-DRV-13"],
  [NET_F.MAC, "NET-CFG-DRV-02"],
  [NET_F.MTU, "NET-CFG-DRV-07"],
  [NET_F.STANDBY, "NET-CFG-DRV-10"],
  [NET_F.GUEST_HDRLEN, "NET-TX-DRV-44"],
];

interface RegState {
  probe: 0 | 1 | 2 | 3;
  bad?: "magic" | "version" | "id0";
  badReported: boolean;
  sawReset: boolean;
  resetUnconfirmed: boolean;
  devSelFresh: boolean;
  drvSelFresh: boolean;
  devSel: number;
  drvSel: number;
  wordsRead: Set<number>;
  readSinceReset: boolean;
  wroteSinceReset: boolean;
  featuresOkPending: boolean;
  featuresRefused: boolean;
  failed: boolean;
  qsel: number;
  ready: Set<number>;
  readbackPending: number;
  queueResetPending: Set<number>;
  queueWasReset: Set<number>;
  pendingAck: number;
  lastWasGen: boolean;
  cfg?: { fields: Set<string>; genBefore: boolean; t: number };
}

function fresh(): RegState {
  return {
    probe: 0, badReported: false, sawReset: false, resetUnconfirmed: false, devSelFresh: false, drvSelFresh: false,
    devSel: 0, drvSel: 0, wordsRead: new Set(), readSinceReset: false, wroteSinceReset: false, featuresOkPending: false,
    featuresRefused: false, failed: false, qsel: 0, ready: new Set(), readbackPending: -1, queueResetPending: new Set(),
    queueWasReset: new Set(), pendingAck: 0, lastWasGen: false,
  };
}

const hex = (v: number) => "0x" + v.toString(16);

export class RegisterChecks {
  private readonly st = new Map<string, RegState>();
  private entry: string | undefined;
  private isrRead = false;

  constructor(private readonly sink: Sink, private readonly devOf: (name: string) => DevState) {}

  private s(dev: string): RegState {
    let r = this.st.get(dev);
    if (!r) this.st.set(dev, (r = fresh()));
    return r;
  }

  onReset(dev: string): void {
    const r = this.s(dev);
    Object.assign(r, { sawReset: true, resetUnconfirmed: true, readSinceReset: false, wroteSinceReset: false, featuresOkPending: false, featuresRefused: false, failed: false, pendingAck: 0, readbackPending: -1 });
    r.ready.clear();
    r.queueResetPending.clear();
    r.queueWasReset.clear();
  }

  onQueue(dev: string, q: number, ready: boolean): void {
    const r = this.s(dev);
    if (ready) r.ready.add(q);
    else r.ready.delete(q);
  }

  onEnter(fn: string): void {
    this.entry = fn;
    this.isrRead = false;
  }

  onExit(t: number): void {
    if (this.entry === "isr") {
      this.sink.ex("MMIO-DRV-30");
      if (!this.isrRead) for (const dev of this.st.keys()) this.sink.report(dev, "MMIO-DRV-30", "isr returned without reading InterruptStatus", t);
    }
    this.entry = undefined;
  }

  endOfStep(t: number): void {
    for (const [dev, r] of this.st) {
      this.closeConfig(dev, r, false, t);
      if (r.pendingAck !== 0) {
        this.sink.report(dev, "MMIO-DRV-19", `InterruptStatus bits ${hex(r.pendingAck)} read and never written to InterruptACK`, t);
        r.pendingAck = 0;
      }
      if (r.featuresRefused && !r.failed) {
        this.sink.ex("INIT-DRV-12");
        this.sink.report(dev, "INIT-DRV-12", "FEATURES_OK read back clear and FAILED was not set", t);
        r.failed = true;
      }
    }
  }

  onMmio(dev: string, ev: TraceEvent): void {
    const r = this.s(dev);
    const d = this.devOf(dev);
    const { sink } = this;
    const t = ev.t;
    const reg = ev.reg as string;
    const op = ev.op as "r" | "w";
    const v = ev.v as number;
    const rep = (id: ClauseId, detail: string) => sink.report(dev, id, detail, t);

    this.exerciseDeviceChecks(d, reg, op, v);
    this.probe(dev, r, reg, op, v, t);
    if (reg.startsWith("SHM")) rep("MMIO-DRV-28", `${op === "r" ? "read" : "write"} of ${reg}: virtio-net defines no shared memory`);
    sink.ex("MMIO-DRV-28");

    // MMIO-DRV-17: a queue stopped with QueueReady=0 is read back before anything else is written.
    if (r.readbackPending >= 0) {
      if (op === "r" && reg === "QueueReady") r.readbackPending = -1;
      else if (op === "w") {
        rep("MMIO-DRV-17", `queue ${r.readbackPending} stopped with QueueReady=0 and not read back before ${reg} was written`);
        r.readbackPending = -1;
      }
    }
    if (op === "w" && reg !== "Status" && r.failed) rep("INIT-DRV-13", `${reg} written after the driver set FAILED`);
    if (op === "w" && (QUEUE_SETUP.has(reg) || reg === "QueueSel") && d.status & DRIVER) {
      sink.ex("INIT-DRV-09");
      if (r.featuresOkPending) rep("INIT-DRV-09", `${reg} written after FEATURES_OK without re-reading Status`);
      else if (r.featuresRefused) rep("INIT-DRV-09", `${reg} written after Status read back without FEATURES_OK`);
    }

    if (reg === "Config") this.config(dev, r, d, ev);
    else if (reg === "ConfigGeneration") {
      if (r.cfg) this.closeConfig(dev, r, true, t);
      r.lastWasGen = true;
      return;
    } else this.closeConfig(dev, r, false, t);
    r.lastWasGen = false;

    switch (reg) {
      case "DeviceFeaturesSel":
        r.devSelFresh = true;
        r.devSel = v;
        break;
      case "DriverFeaturesSel":
        r.drvSelFresh = true;
        r.drvSel = v;
        break;
      case "DeviceFeatures":
        sink.ex("MMIO-DRV-12");
        if (!r.devSelFresh) rep("MMIO-DRV-12", `DeviceFeatures read without writing DeviceFeaturesSel first (selector ${r.devSel})`);
        r.devSelFresh = false;
        r.readSinceReset = true;
        if (r.devSel < 4) {
          r.wordsRead.add(r.devSel);
          d.offered |= BigInt(v >>> 0) << BigInt(32 * r.devSel);
        }
        break;
      case "DriverFeatures":
        sink.ex("MMIO-DRV-13");
        if (!r.drvSelFresh) rep("MMIO-DRV-13", `DriverFeatures written without writing DriverFeaturesSel first (selector ${r.drvSel})`);
        r.drvSelFresh = false;
        r.wroteSinceReset = true;
        if (r.drvSel < 4 && !(d.status & FEATURES_OK)) {
          const shift = BigInt(32 * r.drvSel);
          d.accepted = (d.accepted & ~(0xffff_ffffn << shift)) | (BigInt(v >>> 0) << shift);
        }
        break;
      case "Status":
        if (op === "w") this.statusWrite(dev, r, d, v, t);
        else {
          if (v === 0) r.resetUnconfirmed = false;
          if (r.featuresOkPending) {
            r.featuresOkPending = false;
            if (!(v & FEATURES_OK)) r.featuresRefused = true;
          }
        }
        break;
      case "QueueSel":
        r.qsel = v;
        break;
      case "QueueReady":
        if (op === "w" && v === 0 && r.ready.has(r.qsel)) r.readbackPending = r.qsel;
        if (op === "w" && v !== 0 && d.status & DRIVER_OK && !r.queueWasReset.has(r.qsel)) {
          rep("INIT-DRV-10", `queue ${r.qsel} enabled after DRIVER_OK (step 7 comes before step 8)`);
        }
        break;
      case "QueueReset":
        if (op === "w" && v === 1) (r.queueResetPending.add(r.qsel), r.queueWasReset.add(r.qsel));
        if (op === "r" && v === 0) r.queueResetPending.delete(r.qsel);
        break;
      case "InterruptStatus": {
        if (this.entry === "isr") this.isrRead = true;
        const bits = v & INT_DEFINED;
        if (bits !== 0) sink.ex("MMIO-DRV-19");
        if (r.pendingAck !== 0) rep("MMIO-DRV-19", `InterruptStatus read again before bits ${hex(r.pendingAck)} were acknowledged`);
        r.pendingAck = bits;
        break;
      }
      case "InterruptACK":
        sink.ex("MMIO-DRV-20");
        r.pendingAck &= ~v;
        break;
    }
    if (op === "w" && QUEUE_SETUP.has(reg) && r.queueResetPending.size > 0 && r.queueResetPending.has(r.qsel)) {
      sink.ex("MMIO-DRV-21");
      rep("MMIO-DRV-21", `${reg} of queue ${r.qsel} written before QueueReset read 0`);
    }
  }

  /** Clauses the device model checks on this access: the access exercised them. */
  private exerciseDeviceChecks(d: DevState, reg: string, op: "r" | "w", v: number): void {
    const ex = (id: ClauseId) => this.sink.ex(id);
    ex("MMIO-DRV-01");
    ex(reg === "Config" ? "MMIO-DRV-05" : "MMIO-DRV-04");
    ex(op === "w" ? "MMIO-DRV-02" : "MMIO-DRV-03");
    if (op !== "w") return;
    if (reg === "QueueSize") ex("MMIO-DRV-14");
    if (QUEUE_SETUP.has(reg)) ex("MMIO-DRV-15");
    if (reg === "QueueReady" && v !== 0) ex("INIT-DRV-10");
    if (reg === "DriverFeatures") ex("INIT-DRV-08");
    if (reg !== "Status" || v === 0) return;
    ex("STATUS-DRV-01");
    ex("STATUS-DRV-02");
    if (d.status & FAILED) ex("STATUS-DRV-03");
    const adding = v & ~d.status;
    if (adding & DRIVER) ex("INIT-DRV-03");
    if (adding & FEATURES_OK) (ex("INIT-DRV-07"), ex("FEAT-DRV-01"));
    if (adding & DRIVER_OK) ex("INIT-DRV-11");
    if (adding & STATUS.SUSPEND) ex("SUSP-DRV-01");
  }

  /** MMIO-DRV-24/25: MagicValue, Version, DeviceID first; MMIO-DRV-06/08/10/27: then stop if bad. */
  private probe(dev: string, r: RegState, reg: string, op: "r" | "w", v: number, t: number): void {
    const rep = (id: ClauseId, detail: string) => this.sink.report(dev, id, detail, t);
    if (r.probe < 3) {
      const want = ["MagicValue", "Version", "DeviceID"][r.probe]!;
      this.sink.ex(r.probe < 2 ? "MMIO-DRV-24" : "MMIO-DRV-25");
      if (op !== "r" || reg !== want) {
        rep(r.probe < 2 ? "MMIO-DRV-24" : "MMIO-DRV-25", `${op === "r" ? "read" : "write"} of ${reg} before ${want} was read`);
        r.probe = 3;
        return;
      }
      if (reg === "MagicValue" && v !== MMIO_VAL.MAGIC) r.bad = "magic";
      if (reg === "Version" && v !== MMIO_VAL.VERSION_MODERN) r.bad ??= "version";
      if (reg === "DeviceID" && v === 0) r.bad ??= "id0";
      r.probe++;
      return;
    }
    if (r.bad === undefined || r.badReported) return;
    if (r.bad === "id0") return (r.badReported = true), rep("MMIO-DRV-27", `${reg} accessed after DeviceID read 0`);
    if (op === "w") {
      r.badReported = true;
      rep(r.bad === "magic" ? "MMIO-DRV-06" : "MMIO-DRV-08", `${reg} written to a device whose ${r.bad === "magic" ? "MagicValue" : "Version"} was wrong`);
    }
  }

  private statusWrite(dev: string, r: RegState, d: DevState, v: number, t: number): void {
    const rep = (id: ClauseId, detail: string) => this.sink.report(dev, id, detail, t);
    if (v === 0) return;
    this.sink.ex("INIT-DRV-01");
    if (!r.sawReset) {
      rep("INIT-DRV-01", `status ${hex(v)} written before the device was reset`);
      r.sawReset = true;
    }
    this.sink.ex("RESET-DRV-01");
    if (r.resetUnconfirmed) {
      rep("RESET-DRV-01", `status ${hex(v)} written before Status read back 0 after the reset`);
      r.resetUnconfirmed = false;
    }
    const adding = v & ~d.status;
    if (adding & FAILED) r.failed = true;
    if (adding & DRIVER_OK && (r.featuresOkPending || r.featuresRefused)) {
      rep("INIT-DRV-09", r.featuresOkPending ? "DRIVER_OK set without re-reading Status after FEATURES_OK" : "DRIVER_OK set after Status read back without FEATURES_OK");
    }
    const inOrder = (d.status & (ACKNOWLEDGE | DRIVER)) === (ACKNOWLEDGE | DRIVER) && !(d.status & FAILED);
    if (adding & FEATURES_OK && inOrder) {
      this.negotiation(dev, r, d, t);
      r.featuresOkPending = true;
    }
  }

  /** FEATURES_OK: what was read and accepted (INIT-DRV-04, FEAT-DRV-05, RSVD-DRV-*, NET-DEP-*, SHOULDs). */
  private negotiation(dev: string, r: RegState, d: DevState, t: number): void {
    const rep = (id: ClauseId, detail: string) => this.sink.report(dev, id, detail, t);
    const { sink } = this;
    const acc = d.accepted;
    const offered = d.offered;
    for (const c of ["INIT-DRV-04", "FEAT-DRV-02", "FEAT-DRV-05", "RSVD-DRV-01", "RSVD-DRV-10", "NET-CFG-DRV-13", "NET-CFG-DRV-14"] as const) sink.ex(c);
    if (!r.readSinceReset || !r.wroteSinceReset) {
      rep("INIT-DRV-04", `FEATURES_OK without ${!r.readSinceReset ? "reading DeviceFeatures" : "writing DriverFeatures"} since the reset`);
    }
    const undef = (acc & ~DEFINED_NET_BITS) | (this.sink.transport.startsWith("mmio") ? acc & MMIO_INVALID_BITS : 0n);
    if (undef !== 0n) rep("FEAT-DRV-05", `accepted ${featureNames(undef).join(", ")}: undefined for virtio-net or not valid on ${this.sink.transport}`);
    if (has(offered, F.VERSION_1) && !has(acc, F.VERSION_1)) rep("RSVD-DRV-01", "VERSION_1 offered and not accepted");
    if (this.sink.transport.startsWith("mmio") && has(acc, F.SR_IOV)) rep("RSVD-DRV-10", "SR_IOV accepted on virtio-mmio");
    for (const dep of brokenDeps(acc)) {
      sink.ex(dep.clause);
      rep(dep.clause, `${featureNames(1n << BigInt(dep.feature))[0]} accepted without ${dep.requires.map((b) => featureNames(1n << BigInt(b))[0]).join(dep.mode === "all" ? " and " : " or ")}`);
      rep("FEAT-DRV-02", `${featureNames(1n << BigInt(dep.feature))[0]} accepted without what it depends on`);
    }
    for (let i = 1; i <= 26; i++) sink.ex(`NET-DEP-${String(i).padStart(2, "0")}` as ClauseId);
    if (has(acc, NET_F.HASH_REPORT) && !has(acc, NET_F.CTRL_VQ)) rep("NET-CFG-DRV-13", "HASH_REPORT accepted without CTRL_VQ");
    if (has(acc, NET_F.CTRL_RX_EXTRA) && !has(acc, NET_F.CTRL_VQ)) rep("NET-CFG-DRV-14", "CTRL_RX_EXTRA accepted without CTRL_VQ");
    for (const [bit, id] of SHOULD_ACCEPT) {
      if (!has(offered, bit)) continue;
      sink.ex(id);
      if (!has(acc, bit)) rep(id, `${featureNames(1n << BigInt(bit))[0]} offered and not accepted`);
    }
  }

  /** A config-space access: INIT-DRV-06 for writes, CFG-DRV-03 and the CFG-DRV-02 read group. */
  private config(dev: string, r: RegState, d: DevState, ev: TraceEvent): void {
    const off = (ev.off as number) - 0x100;
    const t = ev.t;
    const field = CONFIG_FIELDS.find((f) => off >= f.start && off < f.end);
    if (ev.op === "w") {
      this.sink.ex("INIT-DRV-06");
      if ((d.status & (DRIVER | FEATURES_OK)) === DRIVER) this.sink.report(dev, "INIT-DRV-06", `config offset ${off} written during feature negotiation`, t);
      this.closeConfig(dev, r, false, t);
      return;
    }
    this.sink.ex("NET-CFG-DRV-01");
    if (field?.name === "mtu" && off === field.start && ev.w === 2) d.mtu = ev.v as number;
    if (field) {
      this.sink.ex("CFG-DRV-03");
      if (!r.wordsRead.has(field.gate >> 5) || !has(d.offered, field.gate)) {
        this.sink.report(dev, "CFG-DRV-03", `config ${field.name} read without ${featureNames(1n << BigInt(field.gate))[0]} seen offered in DeviceFeatures`, t);
      }
    }
    if (!r.cfg) r.cfg = { fields: new Set(), genBefore: r.lastWasGen, t };
    r.cfg.fields.add(field?.name ?? `offset ${off}`);
  }

  /** CFG-DRV-02: a group of config reads covering several fields is bracketed by ConfigGeneration. */
  private closeConfig(dev: string, r: RegState, genAfter: boolean, t: number): void {
    const g = r.cfg;
    if (!g) return;
    r.cfg = undefined;
    if (g.fields.size < 2) return;
    this.sink.ex("CFG-DRV-02");
    if (!g.genBefore || !genAfter) {
      this.sink.report(dev, "CFG-DRV-02", `config fields ${[...g.fields].join(", ")} read without ConfigGeneration ${!g.genBefore ? "before" : "after"} them`, t);
    }
  }
}
