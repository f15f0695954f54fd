// A register-level virtio-mmio net device that can lie: just enough of a device to drive the
// driver, with every ring field under the test's control, so tests can play a hostile device
// (bad used ids and lengths, bad num_buffers, used.idx running ahead) that the host's real
// device model never is. Tests of the driver against the real device live in tests/e2e/.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  ABI,
  ABI_BROKEN,
  ABI_ERRNO,
  ABI_STATE,
  ABI_STATS,
  ABI_WORK,
  F,
  INT,
  MMIO,
  MMIO_VAL,
  NET_F,
  STATUS,
} from "../../host/gen/constants.js";
import {
  DriverPanic,
  loadDriver,
  type DriverInstance,
  type DriverStats,
  type HalHandlers,
} from "../../host/guest/driver.js";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const DRIVER_WASM = readFileSync(join(root, "build/driver.wasm"));

export const bit = (n: number) => 1n << BigInt(n);
export const RAM_BASE = 0x4000_0000;
export const BASE0 = 0x0a00_0000;
export const DEFAULT_FEATURES = bit(F.VERSION_1) | bit(F.EVENT_IDX) | bit(NET_F.MAC) | bit(NET_F.STATUS) | bit(NET_F.MTU) | bit(NET_F.MRG_RXBUF);

export interface FakeQueue {
  max: number;
  size: number;
  ready: number;
  desc: number;
  driver: number;
  device: number;
  lastAvail: number;
  usedIdx: number;
}

/** Just enough of a virtio-mmio Version 2 net device to drive the driver; records every access. */
export class FakeNet {
  magic = MMIO_VAL.MAGIC;
  version = 2;
  deviceId = 1;
  features: bigint;
  status = 0;
  devSel = 0;
  drvSel = 0;
  drvFeatures = [0, 0, 0, 0];
  qsel = 0;
  q: FakeQueue[];
  isr = 0;
  generation = 0;
  mac = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
  linkStatus = 1;
  mtu = 1500;
  refuseFeatures = false;
  /** Process transmit chains synchronously on QueueNotify. */
  autoTx = true;
  accesses: { op: "r" | "w"; off: number; w: number; v: number }[] = [];
  statusWrites: number[] = [];
  notifies: number[] = [];
  sent: Uint8Array[] = [];
  sentHeaders: Uint8Array[] = [];
  u8!: Uint8Array;
  dv!: DataView;

  constructor(features = DEFAULT_FEATURES, queueMax = 256) {
    this.features = features;
    this.q = [0, 1].map(() => ({ max: queueMax, size: 0, ready: 0, desc: 0, driver: 0, device: 0, lastAvail: 0, usedIdx: 0 }));
  }

  bindMemory(mem: WebAssembly.Memory): void {
    this.u8 = new Uint8Array(mem.buffer);
    this.dv = new DataView(mem.buffer);
  }
  off(gpa: number): number {
    return gpa - RAM_BASE;
  }

  read(off: number, w: number): number {
    const v = this.readReg(off, w);
    this.accesses.push({ op: "r", off, w, v });
    return v;
  }
  private readReg(off: number, w: number): number {
    if (off >= MMIO.Config) {
      const c = off - MMIO.Config;
      if (c < 6 && w === 1) return this.mac[c]!;
      if (c === 6 && w === 2) return this.linkStatus;
      if (c === 10 && w === 2) return this.mtu;
      return 0xdead;
    }
    const q = this.q[this.qsel];
    switch (off) {
      case MMIO.MagicValue: return this.magic;
      case MMIO.Version: return this.version;
      case MMIO.DeviceID: return this.deviceId;
      case MMIO.VendorID: return 0x554d4551;
      case MMIO.DeviceFeatures: return Number((this.features >> BigInt(32 * this.devSel)) & 0xffffffffn);
      case MMIO.QueueSizeMax: return q ? q.max : 0;
      case MMIO.QueueReady: return q ? q.ready : 0;
      case MMIO.InterruptStatus: return this.isr;
      case MMIO.Status: return this.status;
      case MMIO.ConfigGeneration: return this.generation;
      default: return 0xbad;
    }
  }

  write(off: number, w: number, v: number): void {
    this.accesses.push({ op: "w", off, w, v });
    const q = this.q[this.qsel];
    switch (off) {
      case MMIO.DeviceFeaturesSel: this.devSel = v; break;
      case MMIO.DriverFeaturesSel: this.drvSel = v; break;
      case MMIO.DriverFeatures: this.drvFeatures[this.drvSel] = v; break;
      case MMIO.QueueSel: this.qsel = v; break;
      case MMIO.QueueSize: q!.size = v; break;
      case MMIO.QueueDescLow: q!.desc = v; break;
      case MMIO.QueueDriverLow: q!.driver = v; break;
      case MMIO.QueueDeviceLow: q!.device = v; break;
      case MMIO.QueueReady: q!.ready = v; break;
      case MMIO.QueueNotify:
        this.notifies.push(v);
        if (v === 1 && this.autoTx) this.processTx();
        break;
      case MMIO.InterruptACK: this.isr &= ~v; break;
      case MMIO.Status:
        this.statusWrites.push(v);
        if (v === 0) this.reset();
        else {
          if ((v & STATUS.FEATURES_OK) && !(this.status & STATUS.FEATURES_OK) && this.refuseFeatures) v &= ~STATUS.FEATURES_OK;
          this.status = v;
        }
        break;
      default: break;
    }
  }

  reset(): void {
    this.status = 0;
    this.isr = 0;
    for (const q of this.q) Object.assign(q, { size: 0, ready: 0, desc: 0, driver: 0, device: 0, lastAvail: 0, usedIdx: 0 });
  }

  accepted(): bigint {
    return BigInt(this.drvFeatures[0]! >>> 0) | (BigInt(this.drvFeatures[1]! >>> 0) << 32n);
  }

  availIdx(qi: number): number {
    return this.dv.getUint16(this.off(this.q[qi]!.driver) + 2, true);
  }
  private popAvail(qi: number): { head: number; addr: number; len: number; flags: number } | undefined {
    const q = this.q[qi]!;
    if (q.lastAvail === this.availIdx(qi)) return undefined;
    const head = this.dv.getUint16(this.off(q.driver) + 4 + 2 * (q.lastAvail % q.size), true);
    q.lastAvail = (q.lastAvail + 1) & 0xffff;
    // With EVENT_IDX the device asks for a notification at the next entry (avail_event).
    if (this.accepted() & bit(F.EVENT_IDX)) this.dv.setUint16(this.off(q.device) + 4 + 8 * q.size, q.lastAvail, true);
    const d = this.off(q.desc) + 16 * head;
    return { head, addr: Number(this.dv.getBigUint64(d, true)), len: this.dv.getUint32(d + 8, true), flags: this.dv.getUint16(d + 12, true) };
  }
  private pushUsed(qi: number, id: number, len: number): void {
    const q = this.q[qi]!;
    const e = this.off(q.device) + 4 + 8 * (q.usedIdx % q.size);
    this.dv.setUint32(e, id, true);
    this.dv.setUint32(e + 4, len, true);
    q.usedIdx = (q.usedIdx + 1) & 0xffff;
  }
  private publishUsed(qi: number): void {
    this.dv.setUint16(this.off(this.q[qi]!.device) + 2, this.q[qi]!.usedIdx, true);
    this.isr |= INT.USED_BUFFER;
  }

  processTx(): number {
    let n = 0;
    for (let b = this.popAvail(1); b; b = this.popAvail(1)) {
      const o = this.off(b.addr);
      this.sentHeaders.push(this.u8.slice(o, o + 12));
      this.sent.push(this.u8.slice(o + 12, o + b.len));
      this.pushUsed(1, b.head, 0);
      n++;
    }
    if (n) this.publishUsed(1);
    return n;
  }

  /** Place a frame in receive buffers (with MRG_RXBUF across several); false when none is posted. */
  receive(frame: Uint8Array, numBuffersOverride?: number): boolean {
    const mrg = (this.accepted() & bit(NET_F.MRG_RXBUF)) !== 0n;
    const data = new Uint8Array(12 + frame.length);
    data.set(frame, 12);
    let pos = 0;
    let first = -1;
    let n = 0;
    while (pos < data.length) {
      const b = this.popAvail(0);
      if (!b) return false;
      const take = Math.min(b.len, data.length - pos);
      const o = this.off(b.addr);
      this.u8.set(data.subarray(pos, pos + take), o);
      if (first < 0) first = o;
      this.pushUsed(0, b.head, take);
      pos += take;
      n++;
      if (!mrg) break;
    }
    this.dv.setUint16(first + 10, numBuffersOverride ?? (mrg ? n : 1), true);
    this.publishUsed(0);
    return true;
  }

  /** Corrupt the next used entry of queue qi (a buggy device). */
  badUsed(qi: number, id: number, len: number): void {
    this.pushUsed(qi, id, len);
    this.publishUsed(qi);
  }

  setLink(up: boolean): void {
    this.linkStatus = up ? 1 : 0;
    this.generation++;
    this.isr |= INT.CONFIG_CHANGE;
  }
}

export interface Rig {
  d: DriverInstance;
  devs: Map<number, FakeNet>;
  received: { dev: number; bytes: Uint8Array }[];
  links: [number, boolean][];
  logs: number[][];
  eois: number[];
  barriers: number[];
  irqDepth: () => number;
}

export async function rig(devs: [number, FakeNet][]): Promise<Rig> {
  const map = new Map(devs);
  const find = (addr: number): [FakeNet, number] | undefined => {
    for (const [base, f] of map) if (addr >= base && addr < base + MMIO_VAL.REGION_SIZE) return [f, addr - base];
    return undefined;
  };
  const received: Rig["received"] = [];
  const links: Rig["links"] = [];
  const logs: number[][] = [];
  const eois: number[] = [];
  const barriers: number[] = [];
  let depth = 0;
  let d: DriverInstance;
  const hal: HalHandlers = {
    mmioRead: (addr, w) => {
      const hit = find(addr);
      return hit ? hit[0].read(hit[1], w) : 0;
    },
    mmioWrite: (addr, w, v) => {
      const hit = find(addr);
      if (hit) hit[0].write(hit[1], w, v);
    },
    ioIn: () => 0xffffffff,
    ioOut: () => {},
    barrier: (k) => void barriers.push(k),
    irqSave: () => depth++,
    irqRestore: () => void depth--,
    eoi: (line) => void eois.push(line),
    nowNs: () => 0n,
    netInput: (dev, ptr, len) => void received.push({ dev, bytes: new Uint8Array(d.memory.buffer.slice(ptr, ptr + len)) }),
    linkChanged: (dev, up) => void links.push([dev, up]),
    log: (level, code, a, b) => void logs.push([level, code, a, b]),
    panic: (code) => {
      throw new DriverPanic(code);
    },
  };
  d = await loadDriver(DRIVER_WASM, hal);
  for (const f of map.values()) f.bindMemory(d.memory);
  return { d, devs: map, received, links, logs, eois, barriers, irqDepth: () => depth };
}

export function frame(len: number, seed: number): Uint8Array {
  const f = new Uint8Array(len);
  for (let i = 0; i < len; i++) f[i] = (seed * 31 + i * 7) & 0xff;
  return f;
}

export function stats(d: DriverInstance, dev: number): DriverStats {
  const s = d.readStats(dev);
  if (typeof s === "number") throw new Error(`stats failed: ${s}`);
  return s;
}

/** ISR then poll the queues it names, as the host's bottom half does. */
export function interrupt(d: DriverInstance, dev: number, budget = 64): number {
  const work = d.isr(dev, 7);
  if (work & ABI_WORK.RX) while (d.poll(dev, 0, budget) === budget);
  if (work & ABI_WORK.TX) while (d.poll(dev, 1, budget) === budget);
  return work;
}
