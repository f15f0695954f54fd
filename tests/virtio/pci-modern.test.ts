// virtio-pci modern (4.1.4, 4.1.5) with the mock driver: configuration space through ECAM, the
// capability walk, 64-bit BAR sizing, notify_off_multiplier, MSI-X table programming with one
// vector per queue, masking and the PBA, INTx fallback with the read-to-clear ISR, PCI_CFG access.
import { describe, expect, it } from "vitest";
import { INT, MSIX, PCI_CFG, STATUS, VIRTIO_MSI, VIRTIO_PCI_CAP as CAP, VIRTIO_PCI_COMMON as C } from "../../host/gen/constants.js";
import { PCI_LAYOUT } from "../../host/platform.js";
import { createPlatformRig, MockPciModernDriver } from "../mock/mock-transports.js";

const frame = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + 1) & 0xff);
const runAll = (rig: ReturnType<typeof createPlatformRig>) => {
  while (rig.clock.step());
};

describe("virtio-pci modern", () => {
  it("presents vendor 0x1AF4, device 0x1041, revision 1, subsystem >= 0x40, network class (PCI-DEV-02/03/06/07)", () => {
    const d = new MockPciModernDriver(createPlatformRig("pci"));
    expect(d.cfg.read(PCI_CFG.VENDOR_ID, 4)).toBe(0x1041_1af4);
    expect(d.cfg.read(PCI_CFG.REVISION_ID, 1)).toBe(1);
    expect(d.cfg.read(PCI_CFG.CLASS, 1)).toBe(2);
    expect(d.cfg.read(PCI_CFG.SUBSYS_ID, 2)).toBeGreaterThanOrEqual(0x40);
    expect(d.cfg.read(PCI_CFG.STATUS, 2) & 0x10).toBe(0x10); // capability list
  });

  it("walks the capability list: MSI-X, then common, notify, ISR, device and PCI_CFG structures in BAR4", () => {
    const d = new MockPciModernDriver(createPlatformRig("pci"));
    d.discover();
    expect(d.cfg.capabilities().map((c) => c.id)).toEqual([0x11, 9, 9, 9, 9, 9]);
    expect(d.caps.map((c) => [c.type, c.bar, c.offset])).toEqual([[1, 4, 0], [2, 4, 0x3000], [3, 4, 0x1000], [4, 4, 0x2000], [5, 0, 0]]);
    expect(d.caps.map((c) => d.cfg.read(c.at + CAP.cap_len, 1))).toEqual([16, 20, 16, 16, 20]); // PCI-DEV-09
    expect(d.mult).toBe(4); // an even power of 2 (PCI-DEV-31)
    expect(d.common).toBe(PCI_LAYOUT.bar4);
    expect(d.isr).toBe(PCI_LAYOUT.bar4 + 0x1000);
  });

  it("sizes the 64-bit memory BAR4 and reports the MSI-X table and PBA in BAR1", () => {
    const d = new MockPciModernDriver(createPlatformRig("pci"));
    const bar4 = PCI_CFG.BAR0 + 16;
    expect(d.cfg.read(bar4, 4)).toBe((PCI_LAYOUT.bar4 | 4) >>> 0); // memory, 64-bit type
    d.cfg.write(bar4, 4, 0xffffffff);
    expect(d.cfg.read(bar4, 4)).toBe((~(0x4000 - 1) & 0xfffffff0 | 4) >>> 0);
    d.cfg.write(bar4, 4, PCI_LAYOUT.bar4);
    expect(d.cfg.read(bar4 + 4, 4)).toBe(0);
    d.discover();
    expect(d.cfg.read(d.msixCap + MSIX.CTRL, 2) & MSIX.CTRL_SIZE_MASK).toBe(2); // 3 vectors
    expect(d.cfg.read(d.msixCap + MSIX.TABLE, 4)).toBe(0 | 1);
    expect(d.cfg.read(d.msixCap + MSIX.PBA, 4)).toBe(0x800 | 1);
  });

  it("reaches each queue's notify address at queue_notify_off * notify_off_multiplier", () => {
    const rig = createPlatformRig("pci");
    const d = new MockPciModernDriver(rig);
    d.attach();
    for (const q of [0, 1]) {
      d.w(C.queue_select, 2, q);
      expect(d.r(C.queue_notify_off, 2)).toBe(q);
    }
    expect(rig.isDoorbell("mmio", d.notifyBase + 4)).toBe(true);
    d.rig.bus.write(d.notifyBase + 4, 2, 0); // queue 0's value at queue 1's address
    expect(rig.transport.violations.map((v) => v.clause)).toEqual(["PCI-DRV-39"]);
  });

  it("programs the MSI-X table: each queue's used buffers arrive on its own vector, no ISR read needed", () => {
    const rig = createPlatformRig("pci");
    const d = new MockPciModernDriver(rig);
    d.attach({ msix: true });
    expect(rig.transport.violations).toEqual([]);
    d.w(C.queue_select, 2, 1);
    expect(d.r(C.queue_msix_vector, 2)).toBe(2);
    expect(d.r(C.config_msix_vector, 2)).toBe(0);
    d.postRx(4);
    const f = frame(300);
    d.transmit(f);
    runAll(rig);
    const msis = rig.trace.events.filter((e) => e.k === "msi").map((e) => e.data);
    expect(msis).toEqual([0x42, 0x41]); // transmitq1 (entry 2) completes, then receiveq1 (entry 1)
    expect(rig.transport.interruptStatus & INT.USED_BUFFER).toBe(0); // PCI-DEV-42: not with MSI-X
    expect(rig.intc!.acknowledge()).toBe(0x41);
    expect(rig.intc!.acknowledge()).toBe(0x42);
    expect(rig.intc!.acknowledge()).toBe(-1);
    expect(Array.from(d.received()[0])).toEqual(Array.from(f));
  });

  it("holds a masked vector's message in the PBA and sends it when unmasked", () => {
    const rig = createPlatformRig("pci");
    const d = new MockPciModernDriver(rig);
    d.attach({ msix: true });
    const table = d.programMsix(0x40, 3);
    rig.bus.write(table + MSIX.ENTRY_SIZE + MSIX.ENTRY_CTRL, 4, MSIX.ENTRY_MASKED); // entry 1 (receiveq1)
    d.postRx(2);
    d.transmit(frame(64));
    runAll(rig);
    expect(rig.trace.events.filter((e) => e.k === "msi").map((e) => e.data)).toEqual([0x42]);
    expect(rig.bus.read(PCI_LAYOUT.bar1 + 0x800, 4)).toBe(0b10);
    rig.bus.write(table + MSIX.ENTRY_SIZE + MSIX.ENTRY_CTRL, 4, 0);
    expect(rig.trace.events.filter((e) => e.k === "msi").map((e) => e.data)).toEqual([0x42, 0x41]);
    expect(rig.bus.read(PCI_LAYOUT.bar1 + 0x800, 4)).toBe(0);
  });

  it("reads back NO_VECTOR for a vector beyond the table (PCI-DEV-65) and after reset (PCI-DEV-63)", () => {
    const rig = createPlatformRig("pci");
    const d = new MockPciModernDriver(rig);
    d.attach({ msix: true });
    d.w(C.queue_select, 2, 0);
    d.w(C.queue_enable, 2, 1);
    d.w(C.config_msix_vector, 2, 7);
    expect(d.r(C.config_msix_vector, 2)).toBe(VIRTIO_MSI.NO_VECTOR);
    d.w(C.device_status, 1, 0);
    expect(d.r(C.device_status, 1)).toBe(0);
    d.w(C.queue_select, 2, 1);
    expect([d.r(C.queue_msix_vector, 2), d.r(C.queue_enable, 2)]).toEqual([VIRTIO_MSI.NO_VECTOR, 0]);
  });

  it("falls back to INTx without MSI-X: the ISR read returns the cause and clears it (PCI-DEV-44)", () => {
    const rig = createPlatformRig("pci", { msix: false });
    const d = new MockPciModernDriver(rig);
    d.attach();
    expect(d.msixCap).toBe(0);
    d.postRx(2);
    d.transmit(frame(128));
    runAll(rig);
    expect(rig.irq.level).toBe(true);
    expect(rig.intc!.acknowledge()).toBe(PCI_LAYOUT.intxLine);
    expect(d.readIsr()).toBe(INT.USED_BUFFER);
    expect(d.readIsr()).toBe(0);
    rig.intc!.eoi(PCI_LAYOUT.intxLine);
    expect(rig.irq.level).toBe(false);
    expect(d.received()).toHaveLength(1);
  });

  it("negotiates through FEATURES_OK and refuses accesses at the wrong width (PCI-DRV-05)", () => {
    const rig = createPlatformRig("pci");
    const d = new MockPciModernDriver(rig);
    d.attach();
    expect(rig.transport.status & STATUS.FEATURES_OK).toBe(STATUS.FEATURES_OK);
    d.r(C.device_status, 4);
    d.w(C.queue_select, 4, 0);
    expect(rig.transport.violations.map((v) => v.clause)).toEqual(["PCI-DRV-05", "PCI-DRV-05"]);
  });

  it("performs BAR accesses through the PCI configuration access capability (PCI-DEV-55/56)", () => {
    const rig = createPlatformRig("pci");
    const d = new MockPciModernDriver(rig);
    d.attach();
    const cap = d.caps.find((c) => c.type === 5)!;
    d.cfg.write(cap.at + CAP.bar, 1, 4);
    d.cfg.write(cap.at + CAP.offset, 4, C.device_status);
    d.cfg.write(cap.at + CAP.length, 4, 1);
    expect(d.cfg.read(cap.at + CAP.pci_cfg_data, 1)).toBe(rig.transport.status);
  });
});
