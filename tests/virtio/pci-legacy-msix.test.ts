// Legacy virtio-pci with MSI-X (4.1.4.10, 4.1.5.1.2; layouts.md 5) at the register level: the
// capability and BAR1 exist only where the platform offers MSI-X, enabling it grows the I/O BAR0
// header (config_msix_vector at 20, queue_msix_vector at 22, device config at 24), vectors read
// back (NO_VECTOR 0xFFFF when unmappable), each event is an MSI on its own vector, and without
// MSI-X enabled the header, the config offset and INTx are as on rtems-pc386.
import { describe, expect, it } from "vitest";
import { INT, MSIX, PCI_CFG, PCI_CMD, STATUS, VIRTIO_MSI, VIRTIO_PCI_LEGACY as L } from "../../host/gen/constants.js";
import { PCI_LAYOUT } from "../../host/platform.js";
import { createPlatformRig, MockPciLegacyDriver, type PlatformRig } from "../mock/mock-transports.js";

const MAC = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
const frame = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + 1) & 0xff);

/** The MSI-X capability offset (0 when absent), through 0xCF8/0xCFC. */
function msixCap(d: MockPciLegacyDriver): number {
  return d.cfg.capabilities().find((c) => c.id === 0x11)?.at ?? 0;
}

/** Program entries 0..2 (APIC address, data 0x40 + i, unmasked) in BAR1, then enable MSI-X. */
function enableMsix(rig: PlatformRig, d: MockPciLegacyDriver, o: { mask?: number[] } = {}): number {
  const cap = msixCap(d);
  d.cfg.write(PCI_CFG.COMMAND, 2, PCI_CMD.IO | PCI_CMD.MEMORY | PCI_CMD.MASTER);
  const t = d.cfg.read(cap + MSIX.TABLE, 4);
  const table = d.cfg.bar(t & 7) + ((t & ~7) >>> 0);
  for (let i = 0; i < 3; i++) {
    const e = table + i * MSIX.ENTRY_SIZE;
    rig.bus.write(e + MSIX.ENTRY_ADDR_LO, 4, MSIX.MSG_ADDR);
    rig.bus.write(e + MSIX.ENTRY_ADDR_HI, 4, 0);
    rig.bus.write(e + MSIX.ENTRY_DATA, 4, 0x40 + i);
    rig.bus.write(e + MSIX.ENTRY_CTRL, 4, o.mask?.includes(i) ? MSIX.ENTRY_MASKED : 0);
  }
  d.cfg.write(cap + MSIX.CTRL, 2, MSIX.CTRL_ENABLE);
  return table;
}

const macAt = (d: MockPciLegacyDriver, off: number) => MAC.map((_, i) => d.in(off + i, 1));

describe("legacy virtio-pci with MSI-X", () => {
  it("rtems-pc386's function (no MSI-X offered): no capability, config at 20, offsets 20-23 are config bytes", () => {
    const rig = createPlatformRig("pci-legacy");
    const d = new MockPciLegacyDriver(rig);
    d.attach();
    expect(d.cfg.read(PCI_CFG.CAP_PTR, 1)).toBe(0);
    expect(msixCap(d)).toBe(0);
    expect(d.cfg.read(PCI_CFG.BAR0 + 4, 4)).toBe(0); // no BAR1
    expect(macAt(d, L.CONFIG)).toEqual(MAC);
    expect(d.in(L.QUEUE_MSIX_VECTOR, 1)).toBe(MAC[2]); // offset 22 is mac[2], no vector field
    expect(rig.intc!.mode).toBe("pic8259");
    expect(rig.transport.violations).toEqual([]);
  });

  it("offers the capability and BAR1 when MSI-X is on; enabling it moves the config from 20 to 24 and back", () => {
    const rig = createPlatformRig("pci-legacy", { msix: true });
    const d = new MockPciLegacyDriver(rig);
    d.attach();
    const cap = msixCap(d);
    expect(cap).toBeGreaterThanOrEqual(0x40);
    expect(d.cfg.read(cap + MSIX.CTRL, 2) & MSIX.CTRL_SIZE_MASK).toBe(2); // 3 vectors: config + 2 queues
    expect(d.cfg.bar(1)).toBe(PCI_LAYOUT.bar1);
    expect(rig.intc!.mode).toBe("apic");
    expect(macAt(d, L.CONFIG)).toEqual(MAC); // not enabled yet: config at 20
    enableMsix(rig, d);
    expect(macAt(d, L.CONFIG_MSIX)).toEqual(MAC);
    expect(d.in(L.CONFIG_MSIX_VECTOR, 2)).toBe(VIRTIO_MSI.NO_VECTOR); // nothing mapped yet
    expect(d.in(L.QUEUE_MSIX_VECTOR, 2)).toBe(VIRTIO_MSI.NO_VECTOR);
    d.cfg.write(cap + MSIX.CTRL, 2, 0);
    expect(macAt(d, L.CONFIG)).toEqual(MAC);
    expect(rig.transport.violations).toEqual([]);
  });

  it("vectors read back what was mapped, NO_VECTOR beyond the table; queue_msix_vector follows queue_select", () => {
    const rig = createPlatformRig("pci-legacy", { msix: true });
    const d = new MockPciLegacyDriver(rig);
    d.attach();
    enableMsix(rig, d);
    d.out(L.CONFIG_MSIX_VECTOR, 2, 0);
    expect(d.in(L.CONFIG_MSIX_VECTOR, 2)).toBe(0);
    d.out(L.CONFIG_MSIX_VECTOR, 2, 3); // table size is 3: entry 3 does not exist
    expect(d.in(L.CONFIG_MSIX_VECTOR, 2)).toBe(VIRTIO_MSI.NO_VECTOR);
    for (const q of [0, 1]) {
      d.out(L.QUEUE_SEL, 2, q);
      d.out(L.QUEUE_MSIX_VECTOR, 2, q + 1);
    }
    for (const q of [0, 1]) {
      d.out(L.QUEUE_SEL, 2, q);
      expect(d.in(L.QUEUE_MSIX_VECTOR, 2)).toBe(q + 1);
    }
    d.in(L.CONFIG_MSIX_VECTOR, 1); // each field at its own width
    expect(rig.transport.violations.map((v) => v.clause)).toEqual(["PCI-DRV-05"]);
    // A device reset unmaps every vector; MSI-X itself stays enabled (the config stays at 24).
    d.out(L.STATUS, 1, 0);
    expect(d.in(L.CONFIG_MSIX_VECTOR, 2)).toBe(VIRTIO_MSI.NO_VECTOR);
    expect(d.in(L.QUEUE_MSIX_VECTOR, 2)).toBe(VIRTIO_MSI.NO_VECTOR);
    expect(macAt(d, L.CONFIG_MSIX)).toEqual(MAC);
  });

  it("sends each queue's event on its own vector: no INTx, no ISR bit, the PBA holds a masked one", () => {
    const rig = createPlatformRig("pci-legacy", { msix: true });
    const d = new MockPciLegacyDriver(rig);
    d.attach();
    const table = enableMsix(rig, d, { mask: [1] });
    d.out(L.CONFIG_MSIX_VECTOR, 2, 0);
    for (const q of [0, 1]) {
      d.out(L.QUEUE_SEL, 2, q);
      d.out(L.QUEUE_MSIX_VECTOR, 2, q + 1);
    }
    d.postRx(4);
    const f = frame(77);
    d.transmit(f);
    while (rig.clock.step());
    const msi = () => rig.trace.events.filter((e) => e.k === "msi").map((e) => e.data);
    expect(msi()).toEqual([0x42]); // transmitq1 on entry 2; receiveq1's entry 1 is masked
    expect(rig.bus.read(table + 0x800, 4)).toBe(0b10); // PBA bit 1 pending
    rig.bus.write(table + MSIX.ENTRY_SIZE + MSIX.ENTRY_CTRL, 4, 0); // unmask: sent now
    expect(msi()).toEqual([0x42, 0x41]);
    expect(rig.bus.read(table + 0x800, 4)).toBe(0);
    expect(rig.trace.events.some((e) => e.k === "irq" && e.line === "net0" && e.level)).toBe(false); // INTx never rose
    expect(d.readIsr() & INT.USED_BUFFER).toBe(0);
    expect(rig.intc!.acknowledge()).toBe(0x41);
    expect(Array.from(d.received()[0])).toEqual(Array.from(f));
    expect(rig.transport.violations).toEqual([]);
  });

  it("a queue left at NO_VECTOR raises nothing; disabling MSI-X returns to INTx with the ISR", () => {
    const rig = createPlatformRig("pci-legacy", { msix: true });
    const d = new MockPciLegacyDriver(rig);
    d.attach();
    enableMsix(rig, d);
    d.postRx(2);
    d.transmit(frame(60));
    while (rig.clock.step());
    expect(rig.trace.events.filter((e) => e.k === "msi")).toEqual([]);
    expect(rig.irq.level).toBe(false);
    d.cfg.write(msixCap(d) + MSIX.CTRL, 2, 0);
    d.transmit(frame(61));
    while (rig.clock.step());
    expect(rig.intc!.acknowledge()).toBe(PCI_LAYOUT.intxLine);
    expect(d.readIsr()).toBe(INT.USED_BUFFER);
    expect(rig.transport.status).toBe(STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.DRIVER_OK);
    expect(rig.transport.violations).toEqual([]);
  });
});
