// Queue-register misuse on virtio-pci modern is recorded under the PCI rows of clauses.tsv
// (4.1.4.3.2: PCI-DRV-17 queue_size, PCI-DRV-18 queue fields before queue_enable, PCI-DRV-20 never
// queue_enable = 0), not the virtio-mmio ones the shared register code uses on virtio-mmio.
import { describe, expect, it } from "vitest";
import { STATUS, VIRTIO_PCI_COMMON as C } from "../../host/gen/constants.js";
import { createPlatformRig, MockPciModernDriver } from "../mock/mock-transports.js";

function ready() {
  const rig = createPlatformRig("pci", { msix: false });
  const d = new MockPciModernDriver(rig);
  d.discover();
  d.w(C.device_status, 1, 0);
  d.w(C.device_status, 1, STATUS.ACKNOWLEDGE | STATUS.DRIVER);
  d.w(C.driver_feature_select, 4, 1);
  d.w(C.driver_feature, 4, 1); // VERSION_1
  d.w(C.device_status, 1, STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK);
  d.w(C.queue_select, 2, 0);
  const clauses = () => rig.transport.violations.map((v) => v.clause);
  return { rig, d, clauses, ram: rig.mem.ramBase };
}

describe("virtio-pci modern queue registers: PCI clause ids", () => {
  it("queue_size not a power of 2, or above the maximum: PCI-DRV-17", () => {
    const { d, clauses } = ready();
    const max = d.r(C.queue_size, 2);
    d.w(C.queue_size, 2, 3);
    d.w(C.queue_size, 2, max * 2);
    d.w(C.queue_size, 2, 0);
    expect(clauses()).toEqual(["PCI-DRV-17", "PCI-DRV-17", "PCI-DRV-17"]);
    expect(d.r(C.queue_size, 2)).toBe(max); // none accepted
  });

  it("queue fields written while queue_enable is 1: PCI-DRV-18; queue_enable = 0: PCI-DRV-20", () => {
    const { d, clauses, ram } = ready();
    d.w(C.queue_size, 2, 64);
    d.w(C.queue_desc, 4, ram + 0x10000);
    d.w(C.queue_driver, 4, ram + 0x11000);
    d.w(C.queue_device, 4, ram + 0x12000);
    d.w(C.queue_enable, 2, 1);
    expect(clauses()).toEqual([]);
    d.w(C.queue_size, 2, 32);
    d.w(C.queue_desc, 4, 0x20000);
    d.w(C.queue_device + 4, 4, 1);
    d.w(C.queue_enable, 2, 0);
    expect(clauses()).toEqual(["PCI-DRV-18", "PCI-DRV-18", "PCI-DRV-18", "PCI-DRV-20"]);
    expect(d.r(C.queue_size, 2)).toBe(64);
    expect(d.r(C.queue_enable, 2)).toBe(1);
  });

  it("enabling a queue that does not exist (queue_size reads 0): PCI-DRV-18", () => {
    const { d, clauses } = ready();
    d.w(C.queue_select, 2, 7);
    expect(d.r(C.queue_size, 2)).toBe(0);
    d.w(C.queue_enable, 2, 1);
    expect(clauses()).toEqual(["PCI-DRV-18"]);
  });

  it("never an MMIO clause id on PCI, while virtio-mmio keeps MMIO-DRV-14/15", () => {
    const { d, clauses } = ready();
    d.w(C.queue_size, 2, 5);
    expect(clauses().some((c) => c.startsWith("MMIO-"))).toBe(false);
    const mmio = createPlatformRig("mmio");
    const w = (off: number, v: number) => mmio.bus.write(mmio.attachBase + off, 4, v);
    w(0x070, STATUS.ACKNOWLEDGE | STATUS.DRIVER);
    w(0x024, 1);
    w(0x020, 1);
    w(0x070, STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK);
    w(0x030, 0);
    w(0x038, 5); // QueueSize
    w(0x038, 64);
    const ram = mmio.mem.ramBase;
    for (const [off, a] of [[0x080, 0x10000], [0x090, 0x11000], [0x0a0, 0x12000]]) w(off, ram + a); // QueueDesc/Driver/DeviceLow
    w(0x044, 1); // QueueReady
    w(0x038, 32);
    expect(mmio.transport.violations.map((v) => v.clause)).toEqual(["MMIO-DRV-14", "MMIO-DRV-15"]);
  });
});
