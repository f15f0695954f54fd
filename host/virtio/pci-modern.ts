// The virtio-pci modern transport (4.1.4, 4.1.5): a PCI function (vendor 0x1AF4, device 0x1041,
// revision 1, subsystem 0x1af4/0x40) whose vendor capabilities locate the common, notify, ISR and
// device configuration structures in a 64-bit memory BAR (BAR4, as QEMU lays it out), plus the
// PCI configuration access capability, and MSI-X (table and PBA in BAR1) with INTx fallback.
import type { ClauseId } from "../gen/clauses.js";
import {
  INT, MSIX, PCI_CAP, PCI_CMD, PCI_IDS, VIRTIO_MSI, VIRTIO_PCI_CAP, VIRTIO_PCI_CAP_TYPE as CAP, VIRTIO_PCI_COMMON as C,
} from "../gen/constants.js";
import type { GuestMemory } from "../guest/memory.js";
import type { Trace } from "../report/trace.js";
import type { Clock } from "../sim/clock.js";
import type { InterruptLine } from "../bus/irq.js";
import type { InterruptController } from "../bus/intc.js";
import type { MmioRegion, Width } from "../bus/mmio-bus.js";
import { MsiX } from "../bus/msix.js";
import { PciFunction, type BarSpec } from "../bus/pci.js";
import type { VirtioDeviceModel } from "./device.js";
import { VirtioCore } from "./core.js";
import { MmioQueueRegisters, PCI_QUEUE_CLAUSES, type AreaName } from "./mmio-queues.js";

export interface VirtioPciModernOptions {
  name: string;
  device: VirtioDeviceModel;
  mem: GuestMemory;
  clock: Clock;
  trace: Trace;
  doorbellNs: number;
  /** The INTx line (level, into the interrupt controller at `interruptLine`). */
  irq: InterruptLine;
  intc: InterruptController;
  interruptLine: number;
  /** Guest-physical placement of BAR4 (the virtio structures) and BAR1 (MSI-X); absent MSI-X: INTx only. */
  bar4: number;
  bar1?: number;
  /** notify_off_multiplier (4.1.4.4): 0 or an even power of 2 (PCI-DEV-31). */
  notifyOffMultiplier?: number;
}

// BAR4 layout (each structure in its own 4 KiB page, as QEMU's virtio-pci modern BAR).
const COMMON_OFF = 0x0000;
const ISR_OFF = 0x1000;
const DEVICE_OFF = 0x2000;
const NOTIFY_OFF = 0x3000;
export const VIRTIO_BAR_SIZE = 0x4000;
export const MSIX_BAR_SIZE = 0x1000;
const PBA_OFF = 0x800;

/** Field widths of struct virtio_pci_common_cfg (4.1.4.3); 64-bit fields are two 32-bit halves (PCI-DRV-06). */
const COMMON_WIDTH: Record<number, number> = {
  [C.device_feature_select]: 4, [C.device_feature]: 4, [C.driver_feature_select]: 4, [C.driver_feature]: 4,
  [C.config_msix_vector]: 2, [C.num_queues]: 2, [C.device_status]: 1, [C.config_generation]: 1,
  [C.queue_select]: 2, [C.queue_size]: 2, [C.queue_msix_vector]: 2, [C.queue_enable]: 2, [C.queue_notify_off]: 2,
  [C.queue_desc]: 4, [C.queue_desc + 4]: 4, [C.queue_driver]: 4, [C.queue_driver + 4]: 4,
  [C.queue_device]: 4, [C.queue_device + 4]: 4, [C.queue_notif_config_data]: 2, [C.queue_reset]: 2,
};
const AREAS: Record<number, [AreaName, 0 | 1]> = {
  [C.queue_desc]: ["desc", 0], [C.queue_desc + 4]: ["desc", 1], [C.queue_driver]: ["driver", 0],
  [C.queue_driver + 4]: ["driver", 1], [C.queue_device]: ["device", 0], [C.queue_device + 4]: ["device", 1],
};

export class VirtioPciModernTransport {
  readonly core: VirtioCore;
  readonly fn: PciFunction;
  readonly msix: MsiX | undefined;
  readonly bars: { spec: BarSpec; region: MmioRegion }[] = [];
  private readonly qr: MmioQueueRegisters;
  private readonly mult: number;
  private dfSel = 0;
  private drvSel = 0;
  private configVector: number = VIRTIO_MSI.NO_VECTOR;
  private queueVector: number[] = [];
  private cfgCap = { bar: 0, offset: 0, length: 0 };

  constructor(private readonly o: VirtioPciModernOptions) {
    const core = (this.core = new VirtioCore({ ...o, legacy: false }));
    this.mult = o.notifyOffMultiplier ?? 4;
    this.qr = new MmioQueueRegisters({
      name: o.name, device: o.device, mem: o.mem, trace: o.trace, clock: o.clock,
      status: () => core.status, negotiated: () => core.negotiatedFeatures,
      breachFn: () => core.breachFn(), violation: (c, d) => core.violation(c, d),
      clauses: PCI_QUEUE_CLAUSES, // queue misuse under the PCI rows (PCI-DRV-17/18), not MMIO-DRV-14/15
    });
    core.queueFile = this.qr;
    const virtioBar: BarSpec = { index: 4, kind: "mem64", size: VIRTIO_BAR_SIZE, addr: o.bar4 };
    const barSpecs = [virtioBar];
    if (o.bar1 !== undefined) barSpecs.push({ index: 1, kind: "mem32", size: MSIX_BAR_SIZE, addr: o.bar1 });
    this.fn = new PciFunction({
      name: o.name, vendorId: PCI_IDS.VENDOR_VIRTIO, deviceId: PCI_IDS.DEVICE_NET_MODERN, revision: 1,
      classCode: [0, 0, PCI_IDS.CLASS_NETWORK], subsysVendorId: PCI_IDS.VENDOR_VIRTIO, subsysId: 0x40,
      interruptLine: o.interruptLine, bars: barSpecs,
    });
    this.fn.intx = () => o.irq.level;
    if (o.bar1 !== undefined) {
      const n = o.device.numQueues + 1; // one vector per queue and one for config (4.1.5.1.2)
      const msix = (this.msix = new MsiX(n, 0, PBA_OFF, o.intc));
      const body = new Uint8Array(MSIX.CAP_SIZE);
      const dv = new DataView(body.buffer);
      dv.setUint32(MSIX.TABLE, 0 | 1, true); // offset 0, BIR 1
      dv.setUint32(MSIX.PBA, PBA_OFF | 1, true);
      this.fn.addCapability(PCI_CAP.ID_MSIX, body, {
        at: MSIX.CTRL, len: 2,
        read: () => msix.readControl(),
        write: (_o, w, v) => (w === 2 ? msix.writeControl(v) : undefined),
      });
      this.bars.push({ spec: barSpecs[1], region: msix });
    }
    this.addVirtioCap(CAP.COMMON_CFG, COMMON_OFF, C.SIZE);
    this.addVirtioCap(CAP.NOTIFY_CFG, NOTIFY_OFF, o.device.numQueues * Math.max(this.mult, 2));
    this.addVirtioCap(CAP.ISR_CFG, ISR_OFF, 1);
    this.addVirtioCap(CAP.DEVICE_CFG, DEVICE_OFF, o.device.configSize);
    this.addVirtioCap(CAP.PCI_CFG, 0, 0);
    this.bars.push({ spec: virtioBar, region: { read: (off, w) => this.barRead(off, w), write: (off, w, v) => this.barWrite(off, w, v) } });
    o.intc.addLine(o.interruptLine, "level", o.irq);
    core.signal = (cause, q) => this.signal(cause, q);
    core.onReset = () => this.resetVectors();
    this.resetVectors();
  }

  /** A struct virtio_pci_cap (notify: + notify_off_multiplier; PCI_CFG: + pci_cfg_data) in config space. */
  private addVirtioCap(type: number, offset: number, length: number): void {
    const size = type === CAP.NOTIFY_CFG ? VIRTIO_PCI_CAP.NOTIFY_SIZE : type === CAP.PCI_CFG ? VIRTIO_PCI_CAP.CFG_SIZE : VIRTIO_PCI_CAP.SIZE;
    const body = new Uint8Array(size);
    const dv = new DataView(body.buffer);
    body[VIRTIO_PCI_CAP.cap_len] = size; // PCI-DEV-09
    body[VIRTIO_PCI_CAP.cfg_type] = type;
    body[VIRTIO_PCI_CAP.bar] = type === CAP.PCI_CFG ? 0 : 4;
    dv.setUint32(VIRTIO_PCI_CAP.offset, offset, true);
    dv.setUint32(VIRTIO_PCI_CAP.length, length, true);
    if (type === CAP.NOTIFY_CFG) dv.setUint32(VIRTIO_PCI_CAP.notify_off_multiplier, this.mult, true);
    if (type !== CAP.PCI_CFG) return void this.fn.addCapability(PCI_CAP.ID_VNDR, body);
    // VIRTIO_PCI_CAP_PCI_CFG: bar, offset, length and pci_cfg_data are the driver's (4.1.4.9).
    this.fn.addCapability(PCI_CAP.ID_VNDR, body, {
      at: VIRTIO_PCI_CAP.bar, len: VIRTIO_PCI_CAP.CFG_SIZE - VIRTIO_PCI_CAP.bar,
      read: (off, w) => this.cfgCapAccess("r", off + VIRTIO_PCI_CAP.bar, w, 0),
      write: (off, w, v) => void this.cfgCapAccess("w", off + VIRTIO_PCI_CAP.bar, w, v),
    });
  }

  private cfgCapAccess(op: "r" | "w", off: number, w: Width, v: number): number {
    const c = this.cfgCap;
    if (off === VIRTIO_PCI_CAP.pci_cfg_data) {
      // PCI-DEV-55/56: a cap.length-byte access at cap.bar / cap.offset (PCI-DRV-29: aligned).
      const len = c.length as Width;
      if (c.bar !== 4 || (len !== 1 && len !== 2 && len !== 4) || c.offset % len !== 0) {
        this.core.violation("PCI-DRV-30", `pci_cfg_data with bar ${c.bar}, offset ${c.offset}, length ${c.length}`);
        return 0;
      }
      if (op === "r") return this.barRead(c.offset, len);
      this.barWrite(c.offset, len, v);
      return 0;
    }
    const field = off === VIRTIO_PCI_CAP.bar ? "bar" : off === VIRTIO_PCI_CAP.offset ? "offset" : off === VIRTIO_PCI_CAP.length ? "length" : undefined;
    if (field === undefined) return 0;
    if (op === "w") c[field] = v >>> 0;
    return c[field];
  }

  private resetVectors(): void {
    this.dfSel = 0;
    this.drvSel = 0;
    this.configVector = VIRTIO_MSI.NO_VECTOR; // PCI-DEV-63
    this.queueVector = new Array(this.o.device.numQueues).fill(VIRTIO_MSI.NO_VECTOR);
    this.o.irq.set(false);
  }

  /** MSI-X enabled: the event's vector (ISR bit 0 stays clear, PCI-DEV-42); else INTx follows the ISR. */
  private signal(cause: "queue" | "config", q: number): void {
    if (this.msix?.enabled) {
      if (cause === "queue") this.core.clearIsr(INT.USED_BUFFER);
      this.msix.signal(cause === "queue" ? this.queueVector[q] ?? VIRTIO_MSI.NO_VECTOR : this.configVector);
      return;
    }
    this.updateIntx();
  }

  private updateIntx(): void {
    const disabled = (this.fn.command & PCI_CMD.INTX_DISABLE) !== 0;
    this.o.irq.set(this.core.interruptStatus !== 0 && !disabled); // PCI-DEV-43
  }

  /** A vector a driver maps: valid table entries only, else NO_VECTOR reads back (PCI-DEV-62/65). */
  private mapVector(v: number): number {
    return this.msix && v < this.msix.size ? v : VIRTIO_MSI.NO_VECTOR;
  }

  // ---- BAR4 ----

  private barRead(off: number, w: Width): number {
    if (off >= COMMON_OFF && off < COMMON_OFF + C.SIZE) return this.commonRead(off - COMMON_OFF, w);
    if (off === ISR_OFF && w === 1) {
      const v = this.core.interruptStatus; // read-to-clear (PCI-DEV-44)
      this.core.clearIsr(v);
      this.updateIntx();
      this.emit("r", "isr", off, w, v);
      return v;
    }
    if (off >= DEVICE_OFF && off + w <= DEVICE_OFF + this.o.device.configSize) {
      const v = this.o.device.configRead(off - DEVICE_OFF, w);
      this.emit("r", "device_cfg", off, w, v);
      return v;
    }
    this.emit("r", "?", off, w, 0);
    this.fault("PCI-DRV-05", `read of ${w} bytes at BAR4 offset 0x${off.toString(16)}: no field there`);
    return 0;
  }

  private barWrite(off: number, w: Width, v: number): void {
    if (off >= COMMON_OFF && off < COMMON_OFF + C.SIZE) return this.commonWrite(off - COMMON_OFF, w, v);
    if (off >= NOTIFY_OFF && off < NOTIFY_OFF + this.o.device.numQueues * Math.max(this.mult, 2)) {
      this.emit("w", "notify", off, w, v);
      const q = this.core.notificationData ? v & 0xffff : v;
      if (w !== 2) return this.fault("PCI-DRV-37", `${w}-byte notify write (16 bits without NOTIFICATION_DATA)`);
      if (this.mult > 0 && (off - NOTIFY_OFF) !== q * this.mult) {
        return this.fault("PCI-DRV-39", `notify value ${q} written at queue ${(off - NOTIFY_OFF) / this.mult}'s address`);
      }
      return this.core.notify(q);
    }
    if (off >= DEVICE_OFF && off + w <= DEVICE_OFF + this.o.device.configSize) {
      this.emit("w", "device_cfg", off, w, v);
      return this.o.device.configWrite(off - DEVICE_OFF, w, v);
    }
    this.emit("w", "?", off, w, v);
    this.fault("PCI-DRV-05", `write of ${w} bytes at BAR4 offset 0x${off.toString(16)}: no writable field there`);
  }

  private commonRead(off: number, w: Width): number {
    const name = this.checkWidth(off, w);
    const qr = this.qr;
    let v = 0;
    if (name !== undefined) {
      if (off === C.device_feature_select) v = this.dfSel;
      else if (off === C.device_feature) v = this.core.deviceFeaturesWord(this.dfSel); // PCI-DEV-14
      else if (off === C.driver_feature_select) v = this.drvSel;
      else if (off === C.driver_feature) v = this.core.driverFeaturesWord(this.drvSel); // PCI-DEV-15
      else if (off === C.config_msix_vector) v = this.configVector;
      else if (off === C.num_queues) v = this.o.device.numQueues;
      else if (off === C.device_status) v = this.core.status;
      else if (off === C.config_generation) v = this.o.device.configGeneration & 0xff;
      else if (off === C.queue_select) v = qr.sel;
      else if (off === C.queue_size) v = qr.readSizeMax() === 0 ? 0 : qr.readSize(); // PCI-DEV-25
      else if (off === C.queue_msix_vector) v = this.queueVector[qr.sel] ?? VIRTIO_MSI.NO_VECTOR;
      else if (off === C.queue_enable) v = qr.readReady();
      else if (off === C.queue_notify_off) v = qr.sel < this.o.device.numQueues ? qr.sel : 0;
      else if (AREAS[off]) v = qr.readArea(...AREAS[off]);
    }
    this.emit("r", name ?? "?", off, w, v);
    return v >>> 0;
  }

  private commonWrite(off: number, w: Width, v: number): void {
    const name = this.checkWidth(off, w);
    this.emit("w", name ?? "?", off, w, v);
    if (name === undefined) return;
    const qr = this.qr;
    const ro: Record<number, boolean> = { [C.device_feature]: true, [C.num_queues]: true, [C.config_generation]: true, [C.queue_notify_off]: true, [C.queue_notif_config_data]: true };
    if (ro[off]) return this.fault("PCI-DRV-15", `write of read-only ${name}`);
    if (off === C.device_feature_select) this.dfSel = v;
    else if (off === C.driver_feature_select) this.drvSel = v;
    else if (off === C.driver_feature) this.core.writeDriverFeatures(this.drvSel, v);
    else if (off === C.config_msix_vector) this.configVector = this.mapVector(v);
    else if (off === C.device_status) this.core.writeStatus(v);
    else if (off === C.queue_select) qr.sel = v;
    else if (off === C.queue_size) qr.writeSize(v);
    else if (off === C.queue_msix_vector) {
      if (qr.sel < this.queueVector.length) this.queueVector[qr.sel] = this.mapVector(v);
    } else if (off === C.queue_enable) {
      if (v === 0) return this.fault("PCI-DRV-20", `queue_enable = 0 for queue ${qr.sel}`);
      qr.writeReady(v);
    } else if (AREAS[off]) qr.writeArea(name, ...AREAS[off], v);
    else if (off === C.queue_reset) qr.writeReset(v);
  }

  /** The common-config field at `off` if accessed at its natural width (PCI-DRV-05), else undefined. */
  private checkWidth(off: number, w: number): string | undefined {
    const want = COMMON_WIDTH[off];
    const name = Object.entries(C).find(([, o]) => o === off)?.[0] ?? (AREAS[off] ? `queue_${AREAS[off][0]}_hi` : undefined);
    if (want === undefined || want !== w) {
      this.fault("PCI-DRV-05", `${w}-byte access at common-config offset ${off}${want ? ` (${name} is ${want} bytes)` : ""}`);
      return undefined;
    }
    return name;
  }

  private fault(clause: ClauseId, detail: string): void {
    this.core.violation(clause, detail);
  }

  private emit(op: "r" | "w", reg: string, off: number, w: number, v: number): void {
    this.o.trace.emit({ t: this.o.clock.now, k: "mmio", dev: this.o.name, op, reg, off, w, v: v >>> 0 });
  }
}
