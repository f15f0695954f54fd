// The AssemblyScript driver against the host's real virtio-mmio virtio-net device, through the
// machine: attach order, frames both ways, index wrap, MRG_RXBUF spanning, full ring, link,
// refusal without VERSION_1, static memory.
import { describe, expect, it } from "vitest";
import { ABI_ERRNO, ABI_STATE, F, NET_F, STATUS } from "../../host/gen/constants.js";
import type { DriverStats } from "../../host/guest/driver.js";
import { Machine } from "../../host/machine.js";
import { makeFrame } from "../../host/analysis/run.js";
import { Rng } from "../../host/sim/rng.js";
import { featureSet } from "../../host/virtio/features.js";

const DEFAULT = ["VERSION_1", "EVENT_IDX", "MAC", "STATUS", "MTU", "MRG_RXBUF"];

/** Send `n` seeded frames through loopback with up to `window` in flight; return what came back. */
async function pump(m: Machine, n: number, opts: { seed?: number; min?: number; max?: number; window?: number } = {}) {
  const rng = new Rng(opts.seed ?? 1);
  const sent: Uint8Array[] = [];
  const got: Uint8Array[] = [];
  m.onFrame = (_d, bytes) => got.push(bytes);
  let enobufs = 0;
  while (sent.length < n) {
    const f = makeFrame(rng, sent.length, rng.int(opts.min ?? 60, opts.max ?? 1514));
    while (sent.length - got.length >= (opts.window ?? 32)) if (!m.clock.step()) break;
    const r = m.transmit(f);
    if (r === -ABI_ERRNO.ENOBUFS) {
      enobufs++;
      m.clock.step();
      continue;
    }
    expect(r).toBe(0);
    sent.push(f);
  }
  m.runIdle();
  return { sent, got, enobufs };
}

function stats(m: Machine): DriverStats {
  const s = m.stats();
  if (typeof s === "number") throw new Error(`stats refused: ${s}`);
  return s;
}

describe("driver on the virtio-mmio virtio-net device", () => {
  it("attaches in the specification's order, register by register", async () => {
    const m = await Machine.create({ record: true });
    expect(m.attach()).toBe(0);
    const seq = m.trace.events
      .filter((e) => e.k === "mmio" || e.k === "barrier")
      .map((e) => (e.k === "barrier" ? `barrier ${e.kind}` : `${e.op} ${e.reg}${e.reg === "Config" ? `+${(e.off as number) - 0x100}` : ""}`));
    const queue = ["w QueueSel", "r QueueReady", "r QueueSizeMax", "w QueueSize", "w QueueDescLow", "w QueueDescHigh", "w QueueDriverLow", "w QueueDriverHigh", "w QueueDeviceLow", "w QueueDeviceHigh", "w QueueReady"];
    expect(seq).toEqual([
      // 4.2.3.1.1: probe
      "r MagicValue", "r Version", "r DeviceID",
      // 3.1.1 steps 1-3: reset (and wait for 0), ACKNOWLEDGE, DRIVER
      "w Status", "r Status", "w Status", "w Status",
      // step 4: feature words 0..2, each selected before it is read
      "w DeviceFeaturesSel", "r DeviceFeatures", "w DeviceFeaturesSel", "r DeviceFeatures", "w DeviceFeaturesSel", "r DeviceFeatures",
      // mtu read (within the generation loop) to size receive buffers before accepting
      "r ConfigGeneration", "r Config+10", "r ConfigGeneration",
      "w DriverFeaturesSel", "w DriverFeatures", "w DriverFeaturesSel", "w DriverFeatures", "w DriverFeaturesSel", "w DriverFeatures",
      // steps 5-6: FEATURES_OK, re-read
      "w Status", "r Status",
      // step 7: config (mac, status, mtu) inside the ConfigGeneration loop, then both queues
      "r ConfigGeneration", "r Config+0", "r Config+1", "r Config+2", "r Config+3", "r Config+4", "r Config+5", "r Config+6", "r Config+10", "r ConfigGeneration",
      ...queue, ...queue,
      // receive buffers published (write barrier), then step 8: DRIVER_OK, then the first kick
      "barrier 2", "w Status", "barrier 0", "w QueueNotify",
    ]);
    const statusWrites = m.trace.events.filter((e) => e.k === "mmio" && e.reg === "Status" && e.op === "w").map((e) => e.v);
    expect(statusWrites).toEqual([0, STATUS.ACKNOWLEDGE, 3, 11, 15]);
    expect(m.transport.violations).toEqual([]);
    expect(m.transport.negotiatedFeatures).toBe(featureSet(DEFAULT));
  });

  it("carries frames both ways byte-exact, with the MAC and MTU from config space", async () => {
    const m = await Machine.create();
    expect(m.attach()).toBe(0);
    const { sent, got } = await pump(m, 500, { seed: 3 });
    expect(got).toEqual(sent);
    const s = stats(m);
    expect(s.STATE).toBe(ABI_STATE.RUNNING);
    expect(s.TX_FRAMES).toBe(500);
    expect(s.RX_FRAMES).toBe(500);
    expect(s.MTU).toBe(1500);
    expect([s.MAC_LO & 0xff, (s.MAC_LO >>> 8) & 0xff]).toEqual([0x52, 0x54]);
    expect(m.transport.violations).toEqual([]);
  });

  it("keeps going past the 16-bit ring index wrap (more than 65,536 frames)", async () => {
    const m = await Machine.create();
    m.attach();
    const { sent, got } = await pump(m, 66_000, { seed: 9, min: 60, max: 128, window: 64 });
    expect(got.length).toBe(sent.length);
    expect(got[65_999]).toEqual(sent[65_999]);
    expect(m.transport.queue(1)!.usedIdx).toBe(66_000 & 0xffff);
    expect(m.transport.violations).toEqual([]);
  });

  it("reassembles MRG_RXBUF frames spanning several small buffers", async () => {
    const m = await Machine.create({ record: true, rxBufSize: 128 });
    m.attach();
    const { sent, got } = await pump(m, 60, { seed: 4, min: 1000, max: 1514 });
    expect(got).toEqual(sent);
    const bufs = m.trace.events.filter((e) => e.k === "frame.rx").map((e) => e.bufs as number);
    expect(Math.min(...bufs)).toBeGreaterThanOrEqual(8);
    expect(stats(m).RX_BUF_SIZE).toBe(128);
  });

  it("receives without MRG_RXBUF into buffers of at least 1526 bytes (NET-RXB-DRV-02)", async () => {
    const m = await Machine.create({ features: featureSet(["VERSION_1", "MAC", "STATUS"]) });
    m.attach();
    const { sent, got } = await pump(m, 100, { seed: 5 });
    expect(got).toEqual(sent);
    expect(stats(m).RX_BUF_SIZE).toBeGreaterThanOrEqual(1526);
    expect(m.transport.violations).toEqual([]);
  });

  it("returns -ENOBUFS on a full transmit ring, counts it, and loses nothing", async () => {
    // Unmetered: guest time moves by exit costs only, so 300 back-to-back calls fill the ring
    // before the device completes a frame (metered, it completes some in between).
    const m = await Machine.create({ meter: false });
    m.attach();
    const got: Uint8Array[] = [];
    m.onFrame = (_d, b) => got.push(b);
    const rng = new Rng(2);
    const results = Array.from({ length: 300 }, (_, i) => m.transmit(makeFrame(rng, i, 100)));
    expect(results.filter((r) => r === 0).length).toBe(256);
    expect(results.slice(256).every((r) => r === -ABI_ERRNO.ENOBUFS)).toBe(true);
    expect(stats(m).TX_ENOBUFS).toBe(44);
    m.runIdle();
    // Every accepted frame comes back: the device's receive FIFO holds what the ring cannot yet take.
    expect(got.length).toBe(256);
    expect(m.net.stats.drops).toEqual({});
    expect(m.transmit(makeFrame(rng, 999, 100))).toBe(0);
  });

  it("reports link down and up through link_changed, refusing to transmit while down", async () => {
    const m = await Machine.create();
    m.attach();
    const links: boolean[] = [];
    m.onLink = (_d, up) => links.push(up);
    m.net.setLink(false);
    m.runIdle();
    expect(links).toEqual([false]);
    expect(stats(m).LINK).toBe(0);
    expect(m.transmit(new Uint8Array(60))).toBe(-ABI_ERRNO.ENETDOWN);
    m.net.setLink(true);
    m.runIdle();
    expect(links).toEqual([false, true]);
    expect(m.transmit(new Uint8Array(60))).toBe(0);
  });

  it("refuses a device without VERSION_1 and sets FAILED", async () => {
    const m = await Machine.create({ record: true, features: featureSet(["MAC", "STATUS"]) });
    expect(m.attach()).toBe(-ABI_ERRNO.ENOTSUP);
    expect(m.transport.status & STATUS.FAILED).toBe(STATUS.FAILED);
    expect(m.transport.status & STATUS.FEATURES_OK).toBe(0);
    // Nothing beyond feature word reads and the FAILED write: no feature acknowledged.
    expect(m.trace.events.some((e) => e.k === "mmio" && e.reg === "DriverFeatures")).toBe(false);
  });

  it("allocates nothing after attach: the stub allocator's top is unchanged after 100,000 frames", async () => {
    const m = await Machine.create();
    m.attach();
    const top = m.driver.heap_top();
    const { sent, got } = await pump(m, 100_000, { seed: 7, min: 60, max: 64, window: 64 });
    expect(got.length).toBe(sent.length);
    expect(m.driver.heap_top()).toBe(top);
  });

  it("offers only what it negotiated: accepted features are a subset of the offer", async () => {
    const offer = featureSet([...DEFAULT, "CSUM", "GUEST_CSUM", "CTRL_VQ", "MQ"]);
    const m = await Machine.create({ features: offer });
    expect(m.attach()).toBe(0);
    const neg = m.transport.negotiatedFeatures;
    expect(neg & ~offer).toBe(0n);
    expect((neg >> BigInt(F.VERSION_1)) & 1n).toBe(1n);
    expect((neg >> BigInt(NET_F.CTRL_VQ)) & 1n).toBe(0n);
  });
});
