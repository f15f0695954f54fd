// virtio-mmio legacy (Version 1, 4.2.4) at the register level with the mock driver: the Version 1
// map, legacy PFN setup and the contiguous ring layout, no FEATURES_OK step, the 10-byte header.
import { describe, expect, it } from "vitest";
import { INT, LEGACY, MMIO, NET_HDR, STATUS } from "../../host/gen/constants.js";
import { legacyLayout } from "../../host/virtio/legacy-queues.js";
import { createPlatformRig, MockMmioLegacyDriver } from "../mock/mock-transports.js";

const frame = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);

function run(rig: ReturnType<typeof createPlatformRig>) {
  while (rig.clock.step());
}

describe("virtio-mmio Version 1", () => {
  it("identifies as Version 1 and has no Version 2 registers", () => {
    const rig = createPlatformRig("mmio-legacy");
    const d = new MockMmioLegacyDriver(rig);
    expect(d.r(MMIO.MagicValue)).toBe(0x74726976);
    expect(d.r(MMIO.Version)).toBe(1);
    expect(d.r(MMIO.DeviceID)).toBe(1);
    d.r(MMIO.QueueReady); // not in the Version 1 map
    d.r(MMIO.ConfigGeneration);
    expect(rig.transport.violations.map((v) => v.clause)).toEqual(["MMIO-DRV-01", "MMIO-DRV-01"]);
  });

  it("shows only feature bits 0-31: VERSION_1 is hidden from a legacy driver", () => {
    const rig = createPlatformRig("mmio-legacy");
    const d = new MockMmioLegacyDriver(rig);
    d.w(MMIO.DeviceFeaturesSel, 1);
    expect(d.r(MMIO.DeviceFeatures)).toBe(0);
  });

  it("builds the queue from QueuePFN, GuestPageSize, QueueNum and QueueAlign in the legacy layout", () => {
    const rig = createPlatformRig("mmio-legacy");
    const d = new MockMmioLegacyDriver(rig);
    d.attach();
    expect(rig.transport.violations).toEqual([]);
    expect(rig.transport.status).toBe(STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.DRIVER_OK);
    const q0 = rig.transport.queue(0)!;
    const want = legacyLayout(d.rings[0].descAddr, 256, LEGACY.QUEUE_ALIGN);
    expect(q0.cfg).toMatchObject({ size: 256, descAddr: want.desc, driverAddr: want.driver, deviceAddr: want.device });
    // desc 16 * 256 = 4096, avail 6 + 512 after it, used at the next 4096: 8192 from the start.
    expect([want.driver - want.desc, want.device - want.desc]).toEqual([4096, 8192]);
    expect(d.rings[0].deviceAddr).toBe(want.device);
    d.w(MMIO.QueueSel, 0);
    expect(d.r(MMIO.QueuePFN)).toBe(d.rings[0].descAddr / 4096);
    // A reset clears every QueuePFN (4.2.4).
    d.w(MMIO.Status, 0);
    expect(d.r(MMIO.QueuePFN)).toBe(0);
    expect(rig.transport.queue(0)).toBeUndefined();
  });

  it("loops a frame back with the 10-byte header when MRG_RXBUF is not negotiated", () => {
    const rig = createPlatformRig("mmio-legacy");
    const d = new MockMmioLegacyDriver(rig);
    d.attach(["MAC", "STATUS"]);
    expect(d.hdr).toBe(NET_HDR.SIZE_LEGACY);
    d.postRx(8, 1524);
    const f = frame(200, 3);
    d.transmit(f);
    run(rig);
    expect(rig.irq.level).toBe(true);
    expect(d.r(MMIO.InterruptStatus) & INT.USED_BUFFER).toBe(INT.USED_BUFFER);
    d.w(MMIO.InterruptACK, INT.USED_BUFFER);
    expect(rig.irq.level).toBe(false);
    const got = d.received();
    expect(got).toHaveLength(1);
    expect(Array.from(got[0])).toEqual(Array.from(f));
    expect(rig.transport.violations).toEqual([]);
  });

  it("refuses QueuePFN before GuestPageSize and QueueNum while the queue is live", () => {
    const rig = createPlatformRig("mmio-legacy");
    const d = new MockMmioLegacyDriver(rig);
    d.w(MMIO.Status, STATUS.ACKNOWLEDGE);
    d.w(MMIO.QueueSel, 0);
    d.w(MMIO.QueuePFN, 0x40010);
    expect(rig.transport.queue(0)).toBeUndefined();
    d.w(MMIO.GuestPageSize, 4096);
    d.w(MMIO.QueuePFN, 0x40010);
    d.w(MMIO.QueueSize, 128);
    expect(rig.transport.violations.map((v) => v.clause)).toEqual(["MMIO-DRV-14", "MMIO-DRV-15"]);
  });
});
