// The device side of a machine for each transport: the same virtio-net device and backend behind
// virtio-mmio (Version 2 or legacy Version 1), virtio-pci modern (ECAM, BARs, MSI-X or INTx) or
// legacy virtio-pci over port I/O (0xCF8/0xCFC, I/O BAR0, INTx through the 8259, or MSI-X where the
// profile offers it, as QEMU's transitional device on q35). The device model never learns which. Also where each transport sits in the guest-physical and port maps.
import { ABI_TRANSPORT, MMIO, MMIO_VAL, PCI_PORT, VIRTIO_PCI_LEGACY } from "./gen/constants.js";
import { LoopbackBackend } from "./backends/loopback.js";
import type { NetBackend } from "./backends/backend.js";
import { InterruptController } from "./bus/intc.js";
import { InterruptLine } from "./bus/irq.js";
import { MmioBus } from "./bus/mmio-bus.js";
import { barRegion, PciHost } from "./bus/pci.js";
import { createNetBoard, MMIO_BASE, type NetBoardOptions } from "./board.js";
import { VirtioNetDevice } from "./devices/net.js";
import type { TransportView } from "./virtio/core.js";
import { VirtioMmioLegacyTransport } from "./virtio/mmio-legacy.js";
import { VirtioPciLegacyTransport } from "./virtio/pci-legacy.js";
import { VirtioPciModernTransport } from "./virtio/pci-modern.js";

export type TransportKind = "mmio" | "mmio-legacy" | "pci" | "pci-legacy";
export const TRANSPORT_KINDS: readonly TransportKind[] = ["mmio", "mmio-legacy", "pci", "pci-legacy"];

/** The attach() transport argument for each kind (ABI_TRANSPORT, docs/hal.md). */
export const TRANSPORT_ABI: Record<TransportKind, number> = {
  mmio: ABI_TRANSPORT.MMIO,
  "mmio-legacy": ABI_TRANSPORT.MMIO_LEGACY,
  pci: ABI_TRANSPORT.PCI,
  "pci-legacy": ABI_TRANSPORT.PCI_LEGACY,
};

/** Where things sit (q35-like): ECAM at 0xB000_0000, BAR4 and the MSI-X BAR high in the 32-bit hole. */
export const PCI_LAYOUT = {
  ecamBase: 0xb000_0000,
  ecamSize: 0x10_0000,
  slot: 3,
  bar4: 0xfe00_0000,
  bar1: 0xfe10_0000,
  ioBase: 0xc000,
  /** INTA# routing: the PIC / IOAPIC input (IRQ 11, as QEMU's i440fx routes a virtio NIC). */
  intxLine: 11,
} as const;

export interface PlatformOptions extends NetBoardOptions {
  transport?: TransportKind;
  /**
   * Offer MSI-X: virtio-pci modern (default true; false leaves INTx only) and legacy virtio-pci
   * (default false: the RTEMS pc386 path, INTx through the 8259; true adds the MSI-X capability and
   * BAR1, an APIC, and tells the driver at attach that MSI-X messages are delivered, ABI_TRANSPORT.FLAG_MSIX).
   */
  msix?: boolean;
}

export interface Platform {
  readonly kind: TransportKind;
  /** attach(transport, base, ...): the ABI value and where the driver looks. */
  readonly abi: number;
  readonly attachBase: number;
  readonly bus: MmioBus;
  /** x86 port space (0..0xffff): decoded like the MMIO bus. */
  readonly ports: MmioBus;
  /** The CPU's interrupt input: the Machine delivers while it is high. */
  readonly irq: InterruptLine;
  /** The interrupt controller (absent on virtio-mmio, whose line goes straight to the CPU). */
  readonly intc?: InterruptController;
  readonly pci?: PciHost;
  /** The legacy virtio-pci function's register file (transport pci-legacy), for tests and tools. */
  readonly pciLegacy?: VirtioPciLegacyTransport;
  readonly net: VirtioNetDevice;
  readonly transport: TransportView;
  readonly backend: NetBackend;
  /** Whether a register write is a doorbell (cost: the profile's doorbellNs). */
  isDoorbell(space: "mmio" | "io", addr: number): boolean;
}

export function createPlatform(o: PlatformOptions): Platform {
  const kind = o.transport ?? "mmio";
  if (kind === "mmio") {
    const b = createNetBoard(o);
    const ports = new MmioBus(o.trace, o.clock);
    const doorbell = b.base + MMIO.QueueNotify;
    return { kind, abi: TRANSPORT_ABI.mmio, attachBase: b.base, bus: b.bus, ports, irq: b.irq, net: b.net, transport: b.transport.core, backend: b.backend, isDoorbell: (s, a) => s === "mmio" && a === doorbell };
  }
  const name = o.name ?? "net0";
  const bus = new MmioBus(o.trace, o.clock);
  const ports = new MmioBus(o.trace, o.clock);
  const backend = o.backend ?? new LoopbackBackend(o.clock);
  const net = new VirtioNetDevice({ name, mem: o.mem, clock: o.clock, trace: o.trace, profile: o.profile, backend, features: o.features, mac: o.mac, linkUp: o.linkUp });
  const common = { name, device: net, mem: o.mem, clock: o.clock, trace: o.trace, doorbellNs: o.profile.doorbellNs };
  const line = new InterruptLine(name, o.trace, o.clock);

  if (kind === "mmio-legacy") {
    const base = o.base ?? MMIO_BASE;
    const t = new VirtioMmioLegacyTransport({ ...common, irq: line });
    bus.map(name, base, MMIO_VAL.REGION_SIZE, t);
    const doorbell = base + MMIO.QueueNotify;
    return { kind, abi: TRANSPORT_ABI[kind], attachBase: base, bus, ports, irq: line, net, transport: t.core, backend, isDoorbell: (s, a) => s === "mmio" && a === doorbell };
  }

  const pci = new PciHost(o.trace, o.clock);
  const L = PCI_LAYOUT;
  if (kind === "pci") {
    const intc = new InterruptController("apic", o.trace, o.clock);
    const msix = o.msix ?? true;
    const t = new VirtioPciModernTransport({ ...common, irq: line, intc, interruptLine: L.intxLine, bar4: L.bar4, bar1: msix ? L.bar1 : undefined });
    pci.plug(L.slot, t.fn);
    bus.map("ecam", L.ecamBase, L.ecamSize, pci.ecam());
    for (const b of t.bars) bus.map(`${name}.bar${b.spec.index}`, b.spec.addr, b.spec.size, barRegion(t.fn, b.spec, b.region));
    // The notify structure: BAR4 + 0x3000 (pci-modern.ts), one slot per queue.
    const notifyLo = L.bar4 + 0x3000;
    const notifyHi = notifyLo + net.numQueues * 4;
    return { kind, abi: TRANSPORT_ABI[kind], attachBase: L.ecamBase, bus, ports, irq: intc.cpu, intc, pci, net, transport: t.core, backend, isDoorbell: (s, a) => s === "mmio" && a >= notifyLo && a < notifyHi };
  }

  // Legacy: MSI-X only where the platform has a local APIC to deliver it (o.msix); else the 8259.
  const msix = o.msix ?? false;
  const intc = new InterruptController(msix ? "apic" : "pic8259", o.trace, o.clock);
  const t = new VirtioPciLegacyTransport({ ...common, irq: line, intc, interruptLine: L.intxLine, ioBase: L.ioBase, msixBar: msix ? L.bar1 : undefined });
  pci.plug(L.slot, t.fn);
  ports.map("pci.cf8", PCI_PORT.CONFIG_ADDRESS, 8, pci.ports());
  ports.map(`${name}.bar0`, L.ioBase, VIRTIO_PCI_LEGACY.BAR_SIZE, barRegion(t.fn, t.bar0.spec, t.bar0.region));
  if (t.bar1) bus.map(`${name}.bar1`, t.bar1.spec.addr, t.bar1.spec.size, barRegion(t.fn, t.bar1.spec, t.bar1.region));
  const doorbell = L.ioBase + VIRTIO_PCI_LEGACY.QUEUE_NOTIFY;
  const abi = msix ? TRANSPORT_ABI[kind] | ABI_TRANSPORT.FLAG_MSIX : TRANSPORT_ABI[kind];
  return { kind, abi, attachBase: PCI_PORT.CONFIG_ADDRESS, bus, ports, irq: intc.cpu, intc, pci, pciLegacy: t, net, transport: t.core, backend, isDoorbell: (s, a) => s === "io" && a === doorbell };
}
