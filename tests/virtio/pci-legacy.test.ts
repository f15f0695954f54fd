// Legacy virtio-pci over port I/O (4.1.4.10) with the mock driver: configuration cycles through
// 0xCF8/0xCFC, the I/O BAR0 header, legacy PFN setup, INTx through the 8259 path and the
// read-to-clear ISR.
import { describe, expect, it } from "vitest";
import { INT, LEGACY, PCI_CFG, PCI_CMD, PCI_PORT, STATUS, VIRTIO_PCI_LEGACY as L } from "../../host/gen/constants.js";
import { PCI_LAYOUT } from "../../host/platform.js";
import { legacyLayout } from "../../host/virtio/legacy-queues.js";
import { featureSet } from "../../host/virtio/features.js";
import { DEFAULT_PROFILE } from "../../host/sim/profile.js";
import { createPlatformRig, MockPciLegacyDriver } from "../mock/mock-transports.js";

const frame = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 13 + 5) & 0xff);

describe("legacy virtio-pci over port I/O", () => {
  it("answers 0xCF8/0xCFC configuration cycles: ids, class, BAR0, interrupt line; all ones for an empty slot", () => {
    const rig = createPlatformRig("pci-legacy");
    const p = rig.ports;
    const addr = (dev: number, reg: number) => (PCI_PORT.ENABLE | (dev << 11) | reg) >>> 0;
    p.write(0xcf8, 4, addr(PCI_LAYOUT.slot, 0));
    expect(p.read(0xcf8, 4)).toBe(addr(PCI_LAYOUT.slot, 0));
    expect(p.read(0xcfc, 4)).toBe(0x1000_1af4); // vendor 0x1AF4, transitional net 0x1000
    expect(p.read(0xcfe, 2)).toBe(0x1000);
    p.write(0xcf8, 4, addr(PCI_LAYOUT.slot, PCI_CFG.REVISION_ID));
    expect(p.read(0xcfc, 4)).toBe(0x0200_0000); // revision 0, class 02 (network)
    p.write(0xcf8, 4, addr(PCI_LAYOUT.slot, PCI_CFG.SUBSYS_VENDOR_ID));
    expect(p.read(0xcfc, 4)).toBe(0x0001_1af4); // subsystem device 1 = net
    p.write(0xcf8, 4, addr(PCI_LAYOUT.slot, PCI_CFG.BAR0));
    expect(p.read(0xcfc, 4)).toBe(PCI_LAYOUT.ioBase | 1); // an I/O BAR
    p.write(0xcfc, 4, 0xffffffff); // BAR sizing
    expect(p.read(0xcfc, 4)).toBe((~(L.BAR_SIZE - 1) & 0xfffffffc | 1) >>> 0);
    p.write(0xcfc, 4, PCI_LAYOUT.ioBase);
    p.write(0xcf8, 4, addr(PCI_LAYOUT.slot, PCI_CFG.INTERRUPT_LINE));
    expect(p.read(0xcfc, 1)).toBe(PCI_LAYOUT.intxLine);
    expect(p.read(0xcfd, 1)).toBe(1); // INTA#
    p.write(0xcf8, 4, addr(7, 0));
    expect(p.read(0xcfc, 4)).toBe(0xffffffff);
    p.write(0xcf8, 4, addr(PCI_LAYOUT.slot, 0) & ~PCI_PORT.ENABLE);
    expect(p.read(0xcfc, 4)).toBe(0xffffffff);
  });

  it("decodes I/O BAR0 only once the Command register enables I/O space", () => {
    const rig = createPlatformRig("pci-legacy");
    const d = new MockPciLegacyDriver(rig);
    d.io = PCI_LAYOUT.ioBase;
    expect(d.in(L.HOST_FEATURES, 4)).toBe(0xffffffff);
    d.cfg.write(PCI_CFG.COMMAND, 2, PCI_CMD.IO);
    expect(d.in(L.HOST_FEATURES, 4)).toBe(Number(featureSet(DEFAULT_PROFILE.features) & 0xffffffffn)); // bits 0-31 only
    expect(d.cfg.read(PCI_CFG.COMMAND, 2)).toBe(PCI_CMD.IO);
  });

  it("sets up queues from QueueAddress (a 4096-byte page number) in the legacy layout, 4096-aligned", () => {
    const rig = createPlatformRig("pci-legacy");
    const d = new MockPciLegacyDriver(rig);
    d.attach();
    expect(rig.transport.violations).toEqual([]);
    expect(rig.transport.status).toBe(STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.DRIVER_OK);
    for (const q of [0, 1]) {
      const want = legacyLayout(d.rings[q].descAddr, 256, LEGACY.QUEUE_ALIGN);
      expect(rig.transport.queue(q)!.cfg).toMatchObject({ descAddr: want.desc, driverAddr: want.driver, deviceAddr: want.device });
      d.out(L.QUEUE_SEL, 2, q);
      expect(d.in(L.QUEUE_PFN, 4)).toBe(d.rings[q].descAddr >>> 12);
      expect(d.in(L.QUEUE_NUM, 2)).toBe(256);
    }
  });

  it("raises INTx on the PIC line; the ISR read returns the cause, clears it and drops the line", () => {
    const rig = createPlatformRig("pci-legacy");
    const d = new MockPciLegacyDriver(rig);
    d.attach();
    d.postRx(4);
    const f = frame(99);
    d.transmit(f);
    while (rig.clock.step());
    expect(rig.intc!.mode).toBe("pic8259");
    expect(rig.irq.level).toBe(true); // the CPU's INTR, from the controller
    expect(rig.intc!.acknowledge()).toBe(PCI_LAYOUT.intxLine);
    expect(d.cfg.read(PCI_CFG.STATUS, 2) & 0x08).toBe(0x08); // Status.Interrupt mirrors INTx (PCI-DEV-43)
    expect(d.readIsr()).toBe(INT.USED_BUFFER);
    expect(d.readIsr()).toBe(0); // read-to-clear (PCI-DEV-44)
    expect(d.cfg.read(PCI_CFG.STATUS, 2) & 0x08).toBe(0);
    rig.intc!.eoi(PCI_LAYOUT.intxLine);
    expect(rig.irq.level).toBe(false);
    expect(Array.from(d.received()[0])).toEqual(Array.from(f));
  });

  it("refuses header accesses at the wrong width (PCI-DRV-05)", () => {
    const rig = createPlatformRig("pci-legacy");
    const d = new MockPciLegacyDriver(rig);
    d.attach();
    d.in(L.QUEUE_NUM, 4);
    d.out(L.STATUS, 2, 0);
    expect(rig.transport.violations.map((v) => v.clause)).toEqual(["PCI-DRV-05", "PCI-DRV-05"]);
    expect(rig.transport.status).not.toBe(0);
  });
});
