// Register-level mock drivers for the transports beyond virtio-mmio modern: virtio-mmio legacy,
// virtio-pci modern (ECAM, capability walk, BARs, MSI-X) and legacy virtio-pci over port I/O
// (0xCF8/0xCFC). Each does the spec's sequence through the real buses and drives rings with
// MockSplitRing; like mock-driver.ts it does what it is told, so tests can also do it wrong.
import {
  F, INT, LEGACY, MMIO, MSIX, NET_HDR, PCI_CFG, PCI_CMD, PCI_PORT, STATUS, VIRTIO_PCI_CAP as CAP,
  VIRTIO_PCI_COMMON as C, VIRTIO_PCI_LEGACY as L,
} from "../../host/gen/constants.js";
import { GuestMemory } from "../../host/guest/memory.js";
import { createPlatform, PCI_LAYOUT, type Platform, type TransportKind } from "../../host/platform.js";
import { Trace } from "../../host/report/trace.js";
import { Clock } from "../../host/sim/clock.js";
import { DEFAULT_PROFILE, type Profile } from "../../host/sim/profile.js";
import { featureSet } from "../../host/virtio/features.js";
import { MockSplitRing } from "./mock-ring.js";

export interface PlatformRig extends Platform {
  clock: Clock;
  trace: Trace;
  mem: GuestMemory;
  profile: Profile;
}

export function createPlatformRig(transport: TransportKind, o: { profile?: Profile; features?: bigint; msix?: boolean } = {}): PlatformRig {
  const clock = new Clock();
  const trace = new Trace({ record: true });
  const profile = o.profile ?? DEFAULT_PROFILE;
  const mem = new GuestMemory({ pages: 64, ramBase: profile.ramBase });
  const p = createPlatform({ mem, clock, trace, profile, transport, features: o.features, msix: o.msix });
  return Object.assign(p, { clock, trace, mem, profile });
}

type W = 1 | 2 | 4;

/** PCI configuration space of bus 0 / device `slot`, through ECAM or through 0xCF8/0xCFC. */
export class PciConfig {
  constructor(
    readonly rig: PlatformRig,
    readonly via: "ecam" | "ports",
    readonly slot = PCI_LAYOUT.slot,
  ) {}

  read(reg: number, w: W): number {
    if (this.via === "ecam") return this.rig.bus.read(PCI_LAYOUT.ecamBase + (this.slot << 15) + reg, w);
    this.rig.ports.write(PCI_PORT.CONFIG_ADDRESS, 4, (PCI_PORT.ENABLE | (this.slot << 11) | (reg & 0xfc)) >>> 0);
    return this.rig.ports.read(PCI_PORT.CONFIG_DATA + (reg & 3), w);
  }

  write(reg: number, w: W, v: number): void {
    if (this.via === "ecam") return this.rig.bus.write(PCI_LAYOUT.ecamBase + (this.slot << 15) + reg, w, v);
    this.rig.ports.write(PCI_PORT.CONFIG_ADDRESS, 4, (PCI_PORT.ENABLE | (this.slot << 11) | (reg & 0xfc)) >>> 0);
    this.rig.ports.write(PCI_PORT.CONFIG_DATA + (reg & 3), w, v);
  }

  /** The capability list: [offset, id] pairs, following cap_next from CAP_PTR (bounded). */
  capabilities(): { at: number; id: number }[] {
    const out: { at: number; id: number }[] = [];
    let p = this.read(PCI_CFG.CAP_PTR, 1) & 0xfc;
    for (let n = 0; p >= 0x40 && n < 48; n++) {
      out.push({ at: p, id: this.read(p, 1) });
      p = this.read(p + CAP.cap_next, 1) & 0xfc;
    }
    return out;
  }

  /** A memory BAR's address (64-bit BARs combined). */
  bar(i: number): number {
    const lo = this.read(PCI_CFG.BAR0 + 4 * i, 4);
    if (lo & 1) return (lo & ~3) >>> 0;
    const hi = (lo & 6) === 4 ? this.read(PCI_CFG.BAR0 + 4 * (i + 1), 4) : 0;
    return hi * 2 ** 32 + ((lo & ~0xf) >>> 0);
  }
}

/** A virtio_pci_cap as read from config space. */
export interface VirtioCap {
  at: number;
  type: number;
  bar: number;
  offset: number;
  length: number;
  mult?: number;
}

const HDR = NET_HDR.SIZE;

/** Shared ring handling for the mock transports: two queues, loopback of one frame at a time. */
abstract class MockTransportDriver {
  rings: MockSplitRing[] = [];
  features = 0n;
  constructor(readonly rig: PlatformRig) {}
  abstract notify(q: number): void;
  /** Header size the device expects (12; legacy without MRG_RXBUF: 10). */
  hdr: number = HDR;

  /** Post `n` receive buffers of `size` bytes on queue 0 and publish them. */
  postRx(n: number, size = 1526): void {
    const ring = this.rings[0];
    const heads: number[] = [];
    for (let i = 0; i < n; i++) heads.push(ring.addChain([{ gpa: ring.alloc(size), len: size, write: true }]));
    ring.publishMany(heads);
  }

  /** Header then frame in one descriptor, published and kicked. */
  transmit(frame: Uint8Array): void {
    const ring = this.rings[1];
    const gpa = ring.alloc(this.hdr + frame.length);
    ring.fill(gpa + this.hdr, frame);
    const head = ring.addChain([{ gpa, len: this.hdr + frame.length, write: false }]);
    ring.publish(head);
    this.notify(1);
  }

  /** Frames on the receive used ring, header stripped. */
  received(): Uint8Array[] {
    const ring = this.rings[0];
    return ring.reap().map((e) => ring.bytes(Number(ring.readDesc(e.id).addr), e.len).subarray(this.hdr));
  }
}

/** virtio-mmio Version 1 (4.2.4): GuestPageSize, QueueNum, QueueAlign, QueuePFN. */
export class MockMmioLegacyDriver extends MockTransportDriver {
  r(off: number): number {
    return this.rig.bus.read(this.rig.attachBase + off, 4);
  }
  w(off: number, v: number): void {
    this.rig.bus.write(this.rig.attachBase + off, 4, v);
  }
  notify(q: number): void {
    this.w(MMIO.QueueNotify, q);
  }

  /** Legacy init (3.1.1 without steps 5-6): reset, ACK, DRIVER, GuestFeatures, queues, DRIVER_OK. */
  attach(accept = ["MAC", "STATUS", "MRG_RXBUF", "EVENT_IDX"]): void {
    this.w(MMIO.Status, 0);
    this.w(MMIO.Status, STATUS.ACKNOWLEDGE);
    this.w(MMIO.Status, STATUS.ACKNOWLEDGE | STATUS.DRIVER);
    this.w(MMIO.DeviceFeaturesSel, 0);
    this.features = featureSet(accept) & BigInt(this.r(MMIO.DeviceFeatures));
    this.w(MMIO.DriverFeaturesSel, 0);
    this.w(MMIO.DriverFeatures, Number(this.features));
    this.hdr = (this.features >> BigInt(15)) & 1n ? HDR : NET_HDR.SIZE_LEGACY;
    this.w(MMIO.GuestPageSize, LEGACY.PAGE_SIZE);
    for (const q of [0, 1]) {
      this.w(MMIO.QueueSel, q);
      const ring = new MockSplitRing(this.rig.mem, 0x10000 + q * 0x100000, 256, { usedAlign: LEGACY.QUEUE_ALIGN, eventIdx: ((this.features >> BigInt(F.EVENT_IDX)) & 1n) === 1n, dataSize: 0xc0000 });
      this.w(MMIO.QueueSize, 256);
      this.w(MMIO.QueueAlign, LEGACY.QUEUE_ALIGN);
      this.w(MMIO.QueuePFN, ring.descAddr / LEGACY.PAGE_SIZE);
      this.rings[q] = ring;
    }
    this.w(MMIO.Status, STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.DRIVER_OK);
  }
}

/** virtio-pci modern (4.1.4, 4.1.5) through ECAM. */
export class MockPciModernDriver extends MockTransportDriver {
  readonly cfg: PciConfig;
  caps: VirtioCap[] = [];
  common = 0;
  notifyBase = 0;
  mult = 0;
  isr = 0;
  device = 0;
  msixCap = 0;

  constructor(rig: PlatformRig) {
    super(rig);
    this.cfg = new PciConfig(rig, "ecam");
  }

  /** Memory space on, then walk the vendor capabilities (4.1.4) and locate each structure. */
  discover(): void {
    this.cfg.write(PCI_CFG.COMMAND, 2, PCI_CMD.MEMORY | PCI_CMD.MASTER);
    for (const { at, id } of this.cfg.capabilities()) {
      if (id === 0x11) this.msixCap = at;
      if (id !== 0x09) continue;
      const c: VirtioCap = {
        at, type: this.cfg.read(at + CAP.cfg_type, 1), bar: this.cfg.read(at + CAP.bar, 1),
        offset: this.cfg.read(at + CAP.offset, 4), length: this.cfg.read(at + CAP.length, 4),
      };
      if (c.type === 2) c.mult = this.cfg.read(at + CAP.notify_off_multiplier, 4);
      this.caps.push(c);
      const addr = this.cfg.bar(c.bar) + c.offset;
      if (c.type === 1 && !this.common) this.common = addr;
      if (c.type === 2 && !this.notifyBase) [this.notifyBase, this.mult] = [addr, c.mult!];
      if (c.type === 3 && !this.isr) this.isr = addr;
      if (c.type === 4 && !this.device) this.device = addr;
    }
  }

  r(off: number, w: W): number {
    return this.rig.bus.read(this.common + off, w);
  }
  w(off: number, w: W, v: number): void {
    this.rig.bus.write(this.common + off, w, v);
  }

  /** MSI-X entries 0..n-1: APIC address, data = `base + i`, unmasked; then enable. */
  programMsix(base: number, n: number): number {
    const t = this.cfg.read(this.msixCap + MSIX.TABLE, 4);
    const table = this.cfg.bar(t & 7) + ((t & ~7) >>> 0);
    for (let i = 0; i < n; i++) {
      const e = table + i * MSIX.ENTRY_SIZE;
      this.rig.bus.write(e + MSIX.ENTRY_ADDR_LO, 4, MSIX.MSG_ADDR);
      this.rig.bus.write(e + MSIX.ENTRY_ADDR_HI, 4, 0);
      this.rig.bus.write(e + MSIX.ENTRY_DATA, 4, base + i);
      this.rig.bus.write(e + MSIX.ENTRY_CTRL, 4, 0);
    }
    this.cfg.write(this.msixCap + MSIX.CTRL, 2, MSIX.CTRL_ENABLE);
    return table;
  }

  /** 3.1.1 with 4.1.5.1.3 queue setup; `msix`: map config to vector 0 and queue q to q + 1. */
  attach(o: { accept?: string[]; msix?: boolean } = {}): void {
    this.discover();
    this.w(C.device_status, 1, 0);
    this.w(C.device_status, 1, STATUS.ACKNOWLEDGE);
    this.w(C.device_status, 1, STATUS.ACKNOWLEDGE | STATUS.DRIVER);
    let offered = 0n;
    for (const sel of [0, 1]) {
      this.w(C.device_feature_select, 4, sel);
      offered |= BigInt(this.r(C.device_feature, 4)) << BigInt(32 * sel);
    }
    this.features = featureSet(o.accept ?? ["VERSION_1", "MAC", "STATUS", "MRG_RXBUF"]) & offered;
    for (const sel of [0, 1]) {
      this.w(C.driver_feature_select, 4, sel);
      this.w(C.driver_feature, 4, Number((this.features >> BigInt(32 * sel)) & 0xffffffffn));
    }
    this.w(C.device_status, 1, STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK);
    if (o.msix) {
      this.programMsix(0x40, 3);
      this.w(C.config_msix_vector, 2, 0);
    }
    for (const q of [0, 1]) {
      this.w(C.queue_select, 2, q);
      const size = this.r(C.queue_size, 2);
      const ring = new MockSplitRing(this.rig.mem, 0x10000 + q * 0x100000, size, { dataSize: 0xc0000 });
      if (o.msix) this.w(C.queue_msix_vector, 2, q + 1);
      for (const [off, v] of [[C.queue_desc, ring.descAddr], [C.queue_driver, ring.driverAddr], [C.queue_device, ring.deviceAddr]]) {
        this.w(off, 4, v % 2 ** 32);
        this.w(off + 4, 4, Math.floor(v / 2 ** 32));
      }
      this.w(C.queue_enable, 2, 1);
      this.rings[q] = ring;
    }
    this.w(C.device_status, 1, STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK | STATUS.DRIVER_OK);
  }

  notify(q: number): void {
    this.w(C.queue_select, 2, q);
    const off = this.r(C.queue_notify_off, 2);
    this.rig.bus.write(this.notifyBase + off * this.mult, 2, q);
  }

  readIsr(): number {
    return this.rig.bus.read(this.isr, 1);
  }
}

/** Legacy virtio-pci over port I/O (4.1.4.10), found through 0xCF8/0xCFC. */
export class MockPciLegacyDriver extends MockTransportDriver {
  readonly cfg: PciConfig;
  io = 0;

  constructor(rig: PlatformRig) {
    super(rig);
    this.cfg = new PciConfig(rig, "ports");
  }

  in(off: number, w: W): number {
    return this.rig.ports.read(this.io + off, w);
  }
  out(off: number, w: W, v: number): void {
    this.rig.ports.write(this.io + off, w, v);
  }
  notify(q: number): void {
    this.out(L.QUEUE_NOTIFY, 2, q);
  }

  attach(accept = ["MAC", "STATUS", "MRG_RXBUF"]): void {
    this.io = this.cfg.bar(0);
    this.cfg.write(PCI_CFG.COMMAND, 2, PCI_CMD.IO | PCI_CMD.MASTER);
    this.out(L.STATUS, 1, 0);
    this.out(L.STATUS, 1, STATUS.ACKNOWLEDGE);
    this.out(L.STATUS, 1, STATUS.ACKNOWLEDGE | STATUS.DRIVER);
    this.features = featureSet(accept) & BigInt(this.in(L.HOST_FEATURES, 4));
    this.out(L.GUEST_FEATURES, 4, Number(this.features));
    this.hdr = (this.features >> 15n) & 1n ? HDR : NET_HDR.SIZE_LEGACY;
    for (const q of [0, 1]) {
      this.out(L.QUEUE_SEL, 2, q);
      const size = this.in(L.QUEUE_NUM, 2);
      const ring = new MockSplitRing(this.rig.mem, 0x10000 + q * 0x100000, size, { usedAlign: LEGACY.QUEUE_ALIGN, dataSize: 0xc0000 });
      this.out(L.QUEUE_PFN, 4, ring.descAddr >>> LEGACY.PFN_SHIFT);
      this.rings[q] = ring;
    }
    this.out(L.STATUS, 1, STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.DRIVER_OK);
  }

  readIsr(): number {
    return this.in(L.ISR, 1);
  }
}

export { INT };
