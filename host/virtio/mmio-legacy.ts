// The virtio-mmio legacy transport, Version 1 (4.2.4): the register file as a table over the
// shared core (core.ts) and the legacy queue registers (legacy-queues.ts). QEMU's virtio-mmio is
// this by default (force-legacy, shared/spec/hypervisors.md). Control registers are aligned
// 32-bit (MMIO-DRV-04); config at 0x100 at any width. Guest input never throws.
import type { ClauseId } from "../gen/clauses.js";
import { INT, MMIO, MMIO_VAL } from "../gen/constants.js";
import type { GuestMemory } from "../guest/memory.js";
import type { Trace } from "../report/trace.js";
import type { Clock } from "../sim/clock.js";
import type { InterruptLine } from "../bus/irq.js";
import { isWidth, widthMask, type MmioRegion } from "../bus/mmio-bus.js";
import type { VirtioDeviceModel } from "./device.js";
import { VirtioCore } from "./core.js";
import { LegacyQueueRegisters } from "./legacy-queues.js";

export interface VirtioMmioLegacyOptions {
  name: string;
  device: VirtioDeviceModel;
  mem: GuestMemory;
  clock: Clock;
  trace: Trace;
  irq: InterruptLine;
  doorbellNs: number;
  vendorId?: number;
}

interface Register {
  readonly offset: number;
  readonly name: string;
  readonly read?: () => number;
  readonly write?: (v: number) => void;
}

const CONFIG = MMIO.Config;
const INT_DEFINED = INT.USED_BUFFER | INT.CONFIG_CHANGE;

export class VirtioMmioLegacyTransport implements MmioRegion {
  readonly core: VirtioCore;
  readonly qr: LegacyQueueRegisters;
  private readonly regs: ReadonlyMap<number, Register>;
  private hostFeaturesSel = 0;
  private guestFeaturesSel = 0;

  constructor(private readonly o: VirtioMmioLegacyOptions) {
    this.core = new VirtioCore({ ...o, legacy: true });
    this.qr = new LegacyQueueRegisters(this.core, false);
    this.core.queueFile = this.qr;
    // The line follows InterruptStatus != 0 (4.2.3.4), as on Version 2.
    this.core.signal = () => o.irq.set(this.core.interruptStatus !== 0);
    this.core.onReset = () => {
      this.hostFeaturesSel = 0;
      this.guestFeaturesSel = 0;
      o.irq.set(false);
    };
    const c = this.core;
    const qr = this.qr;
    const table: Register[] = [
      { offset: MMIO.MagicValue, name: "MagicValue", read: () => MMIO_VAL.MAGIC },
      { offset: MMIO.Version, name: "Version", read: () => MMIO_VAL.VERSION_LEGACY },
      { offset: MMIO.DeviceID, name: "DeviceID", read: () => c.device.deviceId },
      { offset: MMIO.VendorID, name: "VendorID", read: () => (o.vendorId ?? 0x1af4) >>> 0 },
      { offset: MMIO.DeviceFeatures, name: "HostFeatures", read: () => c.deviceFeaturesWord(this.hostFeaturesSel) },
      { offset: MMIO.DeviceFeaturesSel, name: "HostFeaturesSel", write: (v) => (this.hostFeaturesSel = v) },
      { offset: MMIO.DriverFeatures, name: "GuestFeatures", write: (v) => c.writeDriverFeatures(this.guestFeaturesSel, v) },
      { offset: MMIO.DriverFeaturesSel, name: "GuestFeaturesSel", write: (v) => (this.guestFeaturesSel = v) },
      { offset: MMIO.GuestPageSize, name: "GuestPageSize", write: (v) => qr.writePageSize(v) },
      { offset: MMIO.QueueSel, name: "QueueSel", write: (v) => (qr.sel = v) },
      // QueueNumMax is read only while QueuePFN is 0 (layouts.md 4b); afterwards it still answers.
      { offset: MMIO.QueueSizeMax, name: "QueueNumMax", read: () => qr.readNumMax() },
      { offset: MMIO.QueueSize, name: "QueueNum", write: (v) => qr.writeNum(v) },
      { offset: MMIO.QueueAlign, name: "QueueAlign", write: (v) => qr.writeAlign(v) },
      { offset: MMIO.QueuePFN, name: "QueuePFN", read: () => qr.readPfn(), write: (v) => qr.writePfn(v) },
      { offset: MMIO.QueueNotify, name: "QueueNotify", write: (v) => c.notify(v) },
      { offset: MMIO.InterruptStatus, name: "InterruptStatus", read: () => c.interruptStatus },
      { offset: MMIO.InterruptACK, name: "InterruptACK", write: (v) => this.ack(v) },
      { offset: MMIO.Status, name: "Status", read: () => c.status, write: (v) => c.writeStatus(v) },
    ];
    this.regs = new Map(table.map((r) => [r.offset, r]));
  }

  private ack(v: number): void {
    if ((v & ~INT_DEFINED) !== 0) this.core.violation("MMIO-DRV-20", `InterruptACK 0x${v.toString(16)} sets undefined bits`);
    this.core.clearIsr(v & INT_DEFINED);
    this.o.irq.set(this.core.interruptStatus !== 0);
  }

  read(off: number, width: number): number {
    const { name, fault } = this.check(off, width, "r");
    let v = 0;
    if (fault === undefined) {
      v = off >= CONFIG ? this.core.device.configRead(off - CONFIG, width) : this.regs.get(off)!.read!();
      v = (v & widthMask(width as 1 | 2 | 4)) >>> 0;
    }
    this.emit("r", name, off, width, v);
    if (fault !== undefined) this.core.violation(fault[0], fault[1]);
    return v;
  }

  write(off: number, width: number, value: number): void {
    const v = isWidth(width) ? (value & widthMask(width)) >>> 0 : value >>> 0;
    const { name, fault } = this.check(off, width, "w");
    this.emit("w", name, off, width, v);
    if (fault !== undefined) return this.core.violation(fault[0], fault[1]);
    if (off >= CONFIG) this.core.device.configWrite(off - CONFIG, width, v);
    else this.regs.get(off)!.write!(v);
  }

  private check(off: number, width: number, op: "r" | "w"): { name: string; fault?: [ClauseId, string] } {
    if (off >= CONFIG) {
      if (off - CONFIG + width > this.core.device.configSize) return { name: "Config", fault: ["MMIO-DRV-01", `config access 0x${off.toString(16)}+${width} beyond the config space`] };
      return { name: "Config" };
    }
    const reg = this.regs.get(off & ~3);
    const name = reg?.name ?? "?";
    if (width !== 4 || off % 4 !== 0) return { name, fault: ["MMIO-DRV-04", `${width}-byte access at 0x${off.toString(16)} (control registers are aligned 32-bit)`] };
    if (reg === undefined) return { name, fault: ["MMIO-DRV-01", `register offset 0x${off.toString(16)} is not in the Version 1 map (4.2.4)`] };
    if (op === "r" && reg.read === undefined) return { name, fault: ["MMIO-DRV-03", `read of write-only ${reg.name}`] };
    if (op === "w" && reg.write === undefined) return { name, fault: ["MMIO-DRV-02", `write of read-only ${reg.name}`] };
    return { name };
  }

  private emit(op: "r" | "w", reg: string, off: number, w: number, v: number): void {
    this.o.trace.emit({ t: this.o.clock.now, k: "mmio", dev: this.o.name, op, reg, off, w, v });
  }
}
