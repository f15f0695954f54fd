import { describe, expect, it } from "vitest";
import { INT, MMIO, NET_HDR, STATUS } from "../../host/gen/constants.js";
import { ScriptedBackend } from "../../host/backends/scripted.js";
import { Rng } from "../../host/sim/rng.js";
import { MockDriver } from "../mock/mock-driver.js";
import { createRig, eventsOf, type Rig } from "../mock/rig.js";

function frames(seed: number, n: number, min = 60, max = 1514): Uint8Array[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => rng.bytes(new Uint8Array(rng.int(min, max))));
}

function loop(rig: Rig, d: MockDriver, sent: Uint8Array[]): void {
  for (const f of sent) {
    expect(d.transmit(f)).toBeGreaterThanOrEqual(0);
    d.runUntilIdle();
  }
}

const MODERN = ["VERSION_1", "MAC", "STATUS", "MTU"];

describe("virtio-net device through the mock driver", () => {
  it("attaches: status reads ACKNOWLEDGE|DRIVER|FEATURES_OK|DRIVER_OK and features are the accepted ones", () => {
    const rig = createRig();
    const d = new MockDriver(rig);
    expect(d.attach({ accept: MODERN })).toBe(true);
    expect(d.status()).toBe(STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK | STATUS.DRIVER_OK);
    expect(rig.transport.negotiatedFeatures).toBe(d.features);
    expect(rig.transport.violations).toEqual([]);
  });

  it("loops frames back byte-exact without MRG_RXBUF, one buffer each, num_buffers = 1", () => {
    const rig = createRig();
    const d = new MockDriver(rig);
    d.attach({ accept: MODERN });
    const sent = frames(1, 40);
    loop(rig, d, sent);
    expect(d.received).toEqual(sent);
    expect(rig.net.stats.txFrames).toBe(40);
    expect(rig.net.stats.rxFrames).toBe(40);
    expect(eventsOf(rig, "frame.rx").every((e) => e.bufs === 1)).toBe(true);
    // The header the device wrote in front of the last frame: all zero but num_buffers = 1.
    const ring = d.rings[0];
    const last = ring.readUsedElem((ring.readUsedIdx() - 1) % ring.size);
    const hdr = ring.bytes(Number(ring.readDesc(last.id).addr), NET_HDR.SIZE);
    expect(Array.from(hdr)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
    expect(last.len).toBe(NET_HDR.SIZE + sent[39].length);
  });

  it("spreads a frame over several buffers with MRG_RXBUF and sets num_buffers", () => {
    const rig = createRig();
    const d = new MockDriver(rig);
    d.attach({ accept: [...MODERN, "MRG_RXBUF"], rxBufSize: 256 });
    const sent = frames(2, 20, 600, 1514);
    loop(rig, d, sent);
    expect(d.received).toEqual(sent);
    const rx = eventsOf(rig, "frame.rx");
    expect(rx.map((e) => e.bufs)).toEqual(sent.map((f) => Math.ceil((f.length + NET_HDR.SIZE) / 256)));
    // All but the last buffer of a frame are filled completely (NET-RX-DEV-03).
    const used = eventsOf(rig, "vq.used").filter((e) => e.q === 0);
    let i = 0;
    for (const e of rx) {
      const lens = used.slice(i, i + (e.bufs as number)).map((u) => u.len as number);
      i += e.bufs as number;
      expect(lens.slice(0, -1).every((l) => l === 256)).toBe(true);
      expect(lens.reduce((a, b) => a + b, 0)).toBe((e.len as number) + NET_HDR.SIZE);
    }
  });

  it("drops and counts a frame when no receive buffer is posted", () => {
    const rig = createRig();
    const d = new MockDriver(rig);
    d.attach({ accept: MODERN, rxBuffers: 0 });
    d.transmit(new Uint8Array(100).fill(7));
    d.runUntilIdle();
    expect(d.received).toEqual([]);
    expect(rig.net.stats.drops["no-buffer"]).toBe(1);
    expect(eventsOf(rig, "frame.drop")[0]).toMatchObject({ reason: "no-buffer", len: 100 });
  });

  it("raises a configuration-change interrupt on link down/up and reports it in status", () => {
    const rig = createRig();
    const d = new MockDriver(rig);
    d.attach({ accept: MODERN });
    const gen0 = d.r(MMIO.ConfigGeneration);
    rig.net.setLink(false);
    expect(rig.irq.level).toBe(true);
    expect(d.r(MMIO.InterruptStatus)).toBe(INT.CONFIG_CHANGE);
    expect(d.r(MMIO.Config + 6, 2) & 1).toBe(0);
    expect(d.r(MMIO.ConfigGeneration)).not.toBe(gen0);
    d.ackInterrupt();
    expect(rig.irq.level).toBe(false);
    rig.net.setLink(true);
    expect(d.r(MMIO.InterruptStatus)).toBe(INT.CONFIG_CHANGE);
    expect(d.r(MMIO.Config + 6, 2) & 1).toBe(1);
    expect(eventsOf(rig, "link").map((e) => e.up)).toEqual([false, true]);
  });

  it("serves mac and mtu from config space and records width and write violations", () => {
    const mac = Uint8Array.of(0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee);
    const rig = createRig({ mac });
    const d = new MockDriver(rig);
    d.attach({ accept: MODERN });
    expect([0, 1, 2, 3, 4, 5].map((i) => d.r(MMIO.Config + i, 1))).toEqual(Array.from(mac));
    expect(d.r(MMIO.Config + 10, 2)).toBe(1500);
    d.r(MMIO.Config + 8, 4);
    d.w(MMIO.Config + 0, 0x12, 1);
    const clauses = eventsOf(rig, "violation").map((e) => e.clause);
    expect(clauses).toContain("MMIO-DRV-05");
    expect(clauses).toContain("NET-CFG-DRV-01");
    expect(d.r(MMIO.Config + 0, 1)).toBe(0x02);
  });

  it("records a transmit header with num_buffers != 0 (NET-TX-DRV-02) and still sends the frame", () => {
    const rig = createRig();
    const d = new MockDriver(rig);
    d.attach({ accept: MODERN });
    const hdr = new Uint8Array(NET_HDR.SIZE);
    hdr[NET_HDR.num_buffers] = 3;
    d.transmit(new Uint8Array(64).fill(1), hdr);
    d.runUntilIdle();
    expect(eventsOf(rig, "violation").map((e) => e.clause)).toEqual(["NET-TX-DRV-02"]);
    expect(d.received.length).toBe(1);
  });

  it("stops with DEVICE_NEEDS_RESET on a transmit chain shorter than the header, and recovers after reset", () => {
    const rig = createRig();
    const d = new MockDriver(rig);
    d.attach({ accept: MODERN });
    const ring = d.rings[1];
    const gpa = ring.alloc(8);
    const head = ring.addChain([{ gpa, len: 8, write: false }]);
    d.kickAfter(1, () => ring.publish(head), true);
    d.rig.clock.runUntil(d.rig.clock.now + 1_000_000);
    expect(eventsOf(rig, "breach").map((e) => e.clause)).toEqual(["DERIVED-HDR"]);
    expect(d.status() & STATUS.DEVICE_NEEDS_RESET).toBe(STATUS.DEVICE_NEEDS_RESET);
    expect(d.r(MMIO.InterruptStatus) & INT.CONFIG_CHANGE).toBe(INT.CONFIG_CHANGE);
    expect(rig.transport.halted).toBe(true);
    // A new initialization resets everything and frames flow again.
    const d2 = new MockDriver(rig);
    expect(d2.attach({ accept: MODERN })).toBe(true);
    expect(rig.transport.halted).toBe(false);
    const f = new Uint8Array(200).fill(9);
    d2.transmit(f);
    d2.runUntilIdle();
    expect(d2.received).toEqual([f]);
  });

  it("records a read-only receive buffer as a breach (DERIVED-RX-WRITABLE)", () => {
    const rig = createRig();
    const d = new MockDriver(rig);
    d.attach({ accept: MODERN, rxBuffers: 0 });
    const rx = d.rings[0];
    const head = rx.addChain([{ gpa: rx.alloc(1526), len: 1526, write: false }]);
    d.kickAfter(0, () => rx.publish(head), true);
    d.transmit(new Uint8Array(80));
    d.runUntilIdle();
    expect(eventsOf(rig, "breach").map((e) => e.clause)).toEqual(["DERIVED-RX-WRITABLE"]);
    expect(d.status() & STATUS.DEVICE_NEEDS_RESET).toBeTruthy();
  });

  it("delivers scripted frames at their virtual times and keeps what the guest sent", () => {
    let backend!: ScriptedBackend;
    const rig = createRig({
      backend: (clock) =>
        (backend = new ScriptedBackend(clock, [
          { at: 50_000, bytes: new Uint8Array(60).fill(1) },
          { at: 90_000, bytes: new Uint8Array(70).fill(2) },
        ])),
    });
    const d = new MockDriver(rig);
    d.attach({ accept: MODERN });
    d.transmit(new Uint8Array(64).fill(3));
    d.runUntilIdle();
    expect(eventsOf(rig, "frame.arrive").map((e) => [e.t, e.len])).toEqual([
      [50_000, 60],
      [90_000, 70],
    ]);
    expect(d.received.map((f) => f[0])).toEqual([1, 2]);
    expect(backend.sent.map((s) => s.bytes.length)).toEqual([64]);
    expect(backend.sent[0].at).toBeGreaterThan(0);
  });

  it("is deterministic: the same mock run twice gives the same trace digest", () => {
    const digest = () => {
      const rig = createRig();
      const d = new MockDriver(rig);
      d.attach({ accept: [...MODERN, "MRG_RXBUF", "EVENT_IDX"], rxBufSize: 512 });
      loop(rig, d, frames(5, 30));
      return rig.trace.digest();
    };
    const a = digest();
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(digest()).toBe(a);
  });
});
