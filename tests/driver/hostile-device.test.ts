// The driver against a hostile, register-level virtio-mmio net fake (tests/fakes/fake-net-mmio.ts):
// attach order, tx, rx with MRG_RXBUF, hardening against a lying device, watchdog, reset.
import { describe, expect, it } from "vitest";
import { bit, RAM_BASE, BASE0, DEFAULT_FEATURES, FakeNet, rig, frame, stats, interrupt } from "../fakes/fake-net-mmio.js";
import { ABI, ABI_BROKEN, ABI_ERRNO, ABI_STATE, ABI_WORK, F, INT, MMIO, NET_F, STATUS } from "../../host/gen/constants.js";
describe("driver against a register-level fake", () => {
  it("refuses an absent device and a placeholder slot without touching more than the probe", async () => {
    const empty = new FakeNet();
    empty.deviceId = 0;
    const r = await rig([[BASE0, empty]]);
    expect(r.d.attach(0, BASE0 + 0x1000, RAM_BASE, 1, 0)).toBe(-ABI_ERRNO.ENODEV); // nothing mapped: magic 0
    expect(r.d.attach(0, BASE0, RAM_BASE, 1, 0)).toBe(-ABI_ERRNO.ENODEV);
    expect(empty.accesses.map((a) => `${a.op}${a.off}/${a.w}`)).toEqual(["r0/4", "r4/4", "r8/4"]); // MMIO-DRV-27
    expect(r.logs).toEqual([[2, 3, 0, BASE0 + 0x1000]]); // bad magic logged; DeviceID 0 not reported (MMIO-DRV-11)
    const legacy = new FakeNet();
    legacy.version = 1;
    const r2 = await rig([[BASE0, legacy]]);
    expect(r2.d.attach(0, BASE0, RAM_BASE, 1, 0)).toBe(-ABI_ERRNO.ENODEV);
    expect(r2.d.attach(4, BASE0, RAM_BASE, 1, 0)).toBe(-ABI_ERRNO.EINVAL); // ABI_TRANSPORT has 0-3
    expect(r2.d.attach(0, BASE0, RAM_BASE + 8, 1, 0)).toBe(-ABI_ERRNO.EINVAL);
    expect(r2.d.attach(0, BASE0, RAM_BASE, 1, 11)).toBe(-ABI_ERRNO.EINVAL);
  });

  it("initializes in the spec's order with aligned 32-bit control accesses and nothing allocated", async () => {
    const f = new FakeNet(DEFAULT_FEATURES | bit(F.INDIRECT_DESC) | bit(NET_F.CTRL_VQ) | bit(NET_F.GUEST_CSUM) | bit(70));
    const r = await rig([[BASE0, f]]);
    const top = r.d.heap_top();
    const dev = r.d.attach(0, BASE0, RAM_BASE, 7, 0);
    expect(dev).toBe(0);
    expect(f.statusWrites).toEqual([0, 1, 3, 11, 15]);
    expect(f.accepted()).toBe(DEFAULT_FEATURES);
    expect(f.drvFeatures[2]).toBe(0);
    for (const a of f.accesses) {
      if (a.off < MMIO.Config) expect(a.w, `control register 0x${a.off.toString(16)}`).toBe(4);
      if (a.off < MMIO.Config) expect(a.off % 4).toBe(0);
    }
    expect(f.accesses.some((a) => a.op === "w" && a.off >= MMIO.Config)).toBe(false); // NET-CFG-DRV-01
    // Every DeviceFeatures read follows a DeviceFeaturesSel write; every DriverFeatures write a DriverFeaturesSel.
    f.accesses.forEach((a, i) => {
      if (a.op === "r" && a.off === MMIO.DeviceFeatures) expect(f.accesses[i - 1]!.off).toBe(MMIO.DeviceFeaturesSel);
      if (a.op === "w" && a.off === MMIO.DriverFeatures) expect(f.accesses[i - 1]!.off).toBe(MMIO.DriverFeaturesSel);
    });
    // Queue setup: QueueSel, QueueReady read 0, QueueSizeMax, QueueSize, areas, QueueReady = 1.
    const queueRegs: number[] = [MMIO.QueueSel, MMIO.QueueReady, MMIO.QueueSizeMax, MMIO.QueueSize, MMIO.QueueDescLow, MMIO.QueueDescHigh, MMIO.QueueDriverLow, MMIO.QueueDriverHigh, MMIO.QueueDeviceLow, MMIO.QueueDeviceHigh];
    const seq = f.accesses.filter((a) => queueRegs.includes(a.off));
    const names = seq.map((a) => `${a.op}${a.off}`);
    const one = [`w${MMIO.QueueSel}`, `r${MMIO.QueueReady}`, `r${MMIO.QueueSizeMax}`, `w${MMIO.QueueSize}`, `w${MMIO.QueueDescLow}`, `w${MMIO.QueueDescHigh}`, `w${MMIO.QueueDriverLow}`, `w${MMIO.QueueDriverHigh}`, `w${MMIO.QueueDeviceLow}`, `w${MMIO.QueueDeviceHigh}`, `w${MMIO.QueueReady}`];
    expect(names).toEqual([...one, ...one]);
    for (const q of f.q) {
      expect(q.size).toBe(256);
      expect(q.desc % 16).toBe(0);
      expect(q.device % 4).toBe(0);
      for (const a of [q.desc, q.driver, q.device]) {
        expect(a - RAM_BASE).toBeGreaterThanOrEqual(r.d.mem_base());
        expect(a - RAM_BASE).toBeLessThan(r.d.mem_base() + r.d.mem_size());
      }
    }
    // Receive buffers published before DRIVER_OK, notified only after it (INIT-DRV-14).
    expect(f.availIdx(0)).toBe(256);
    const notifyAt = f.accesses.findIndex((a) => a.op === "w" && a.off === MMIO.QueueNotify);
    const driverOkAt = f.accesses.findIndex((a) => a.op === "w" && a.off === MMIO.Status && a.v === 15);
    expect(notifyAt).toBeGreaterThan(driverOkAt);
    expect(r.links).toEqual([[0, true]]);
    const s = stats(r.d, dev);
    expect(s.STATE).toBe(ABI_STATE.RUNNING);
    expect(s.MAC_LO).toBe(0x12005452);
    expect(s.MAC_HI).toBe(0x5634);
    expect(s.RX_BUF_SIZE).toBe(ABI.RX_BUF_DEFAULT_MRG);
    expect(r.d.heap_top()).toBe(top);
  });

  it("transmits header + frame in one descriptor and receives merged frames intact", async () => {
    const f = new FakeNet();
    const r = await rig([[BASE0, f]]);
    const top = r.d.heap_top();
    const dev = r.d.attach(0, BASE0, RAM_BASE, 7, 256); // small buffers: frames span several
    const sizes = [14, 60, 243, 244, 256, 1000, 1514];
    sizes.forEach((n, i) => expect(r.d.transmitBytes(dev, 1, frame(n, i))).toBe(0));
    expect(f.sent.map((s) => s.length)).toEqual(sizes);
    f.sent.forEach((s, i) => expect(s).toEqual(frame(sizes[i]!, i)));
    for (const h of f.sentHeaders) expect([...h]).toEqual(new Array(12).fill(0)); // NET-TX-DRV-02/03/31
    expect(r.d.transmitBytes(dev, 1, frame(1515, 0))).toBe(-ABI_ERRNO.EMSGSIZE);
    expect(r.d.transmitBytes(dev, 1, frame(13, 0))).toBe(-ABI_ERRNO.EINVAL);
    expect(r.d.transmitBytes(dev, 0, frame(60, 0))).toBe(-ABI_ERRNO.EINVAL);
    expect(interrupt(r.d, dev) & ABI_WORK.TX).toBe(ABI_WORK.TX);
    for (const [i, n] of sizes.entries()) expect(f.receive(frame(n, 100 + i))).toBe(true);
    expect(interrupt(r.d, dev) & ABI_WORK.RX).toBe(ABI_WORK.RX);
    expect(r.received.map((x) => x.bytes.length)).toEqual(sizes);
    r.received.forEach((x, i) => expect(x.bytes).toEqual(frame(sizes[i]!, 100 + i)));
    const s = stats(r.d, dev);
    expect(s.RX_FRAMES).toBe(sizes.length);
    expect(s.TX_FRAMES).toBe(sizes.length);
    expect(s.TX_COMPLETIONS).toBe(sizes.length);
    expect(s.RX_DROPS).toBe(0);
    expect(f.availIdx(0)).toBe((256 + f.q[0]!.usedIdx) & 0xffff); // every used buffer reposted
    expect(r.irqDepth()).toBe(0);
    expect(r.eois).toEqual([7, 7]);
    expect(r.d.heap_top()).toBe(top);
  });

  it("polls within the budget: a full budget means call again", async () => {
    const f = new FakeNet();
    const r = await rig([[BASE0, f]]);
    const dev = r.d.attach(0, BASE0, RAM_BASE, 7, 0);
    for (let i = 0; i < 10; i++) expect(f.receive(frame(60, i))).toBe(true);
    expect(r.d.isr(dev, 0)).toBe(ABI_WORK.RX);
    expect([r.d.poll(dev, 0, 4), r.d.poll(dev, 0, 4), r.d.poll(dev, 0, 4), r.d.poll(dev, 0, 4)]).toEqual([4, 4, 2, 0]);
    expect(r.received.length).toBe(10);
    expect(r.d.poll(dev, 0, -1)).toBe(-ABI_ERRNO.EINVAL);
    expect(r.d.poll(dev, 2, 1)).toBe(-ABI_ERRNO.EINVAL);
    expect(r.d.poll(9, 0, 1)).toBe(-ABI_ERRNO.EBADF);
  });

  it("carries frames both ways across the 16-bit index wrap", async () => {
    const f = new FakeNet(DEFAULT_FEATURES, 8);
    const r = await rig([[BASE0, f]]);
    const dev = r.d.attach(0, BASE0, RAM_BASE, 7, 0);
    const N = 66_000;
    let rx = 0;
    for (let i = 0; i < N; i++) {
      if (r.d.transmitBytes(dev, 1, frame(60, i)) !== 0) throw new Error(`transmit ${i}`);
      if (!f.receive(frame(60, i))) throw new Error(`no rx buffer at ${i}`);
      interrupt(r.d, dev);
      rx = r.received.length;
      r.received.length = 0;
      if (rx !== 1) throw new Error(`frame ${i}: ${rx} delivered`);
    }
    const s = stats(r.d, dev);
    expect([s.TX_FRAMES, s.TX_COMPLETIONS, s.RX_FRAMES, s.RX_DROPS, s.STATE]).toEqual([N, N, N, 0, ABI_STATE.RUNNING]);
    expect(f.q[0]!.usedIdx).toBe(N & 0xffff);
    expect(f.sent.at(-1)).toEqual(frame(60, N - 1));
  });

  it("delivers without MRG_RXBUF from 1526-byte buffers and kicks per used.flags", async () => {
    const f = new FakeNet(bit(F.VERSION_1) | bit(NET_F.MAC));
    const r = await rig([[BASE0, f]]);
    const dev = r.d.attach(0, BASE0, RAM_BASE, 7, 0);
    expect(stats(r.d, dev).RX_BUF_SIZE).toBe(1526);
    expect(f.receive(frame(1514, 1))).toBe(true);
    interrupt(r.d, dev);
    expect(r.received[0]!.bytes).toEqual(frame(1514, 1));
    // Without EVENT_IDX: NO_NOTIFY in used.flags suppresses the kick (SPLIT-DRV-19).
    f.autoTx = false;
    const before = f.notifies.length;
    r.d.transmitBytes(dev, 1, frame(60, 1));
    expect(f.notifies.length).toBe(before + 1);
    f.dv.setUint16(f.off(f.q[1]!.device), 1, true);
    r.d.transmitBytes(dev, 1, frame(60, 2));
    expect(f.notifies.length).toBe(before + 1);
  });

  it("suppresses kicks with EVENT_IDX (vring_need_event on avail_event)", async () => {
    const f = new FakeNet();
    f.autoTx = false;
    const r = await rig([[BASE0, f]]);
    const dev = r.d.attach(0, BASE0, RAM_BASE, 7, 0);
    const availEvent = f.off(f.q[1]!.device) + 4 + 8 * 256;
    const n0 = f.notifies.length;
    r.d.transmitBytes(dev, 1, frame(60, 0)); // avail_event 0: the entry at idx 0 -> kick
    expect(f.notifies.length).toBe(n0 + 1);
    r.d.transmitBytes(dev, 1, frame(60, 1)); // avail_event still 0: no kick
    expect(f.notifies.length).toBe(n0 + 1);
    f.dv.setUint16(availEvent, 2, true);
    r.d.transmitBytes(dev, 1, frame(60, 2)); // entry idx 2 == avail_event -> kick
    expect(f.notifies.length).toBe(n0 + 2);
  });

  it("returns -ENOBUFS on a full ring and recovers after reclaim", async () => {
    const f = new FakeNet(DEFAULT_FEATURES, 8);
    f.autoTx = false;
    const r = await rig([[BASE0, f]]);
    const dev = r.d.attach(0, BASE0, RAM_BASE, 7, 0);
    for (let i = 0; i < 8; i++) expect(r.d.transmitBytes(dev, 1, frame(60, i))).toBe(0);
    expect(r.d.transmitBytes(dev, 1, frame(60, 9))).toBe(-ABI_ERRNO.ENOBUFS);
    expect(stats(r.d, dev).TX_ENOBUFS).toBe(1);
    expect(f.processTx()).toBe(8);
    expect(r.d.transmitBytes(dev, 1, frame(60, 10))).toBe(0);
    expect(stats(r.d, dev).TX_COMPLETIONS).toBe(8);
  });

  it("drops a frame whose num_buffers is out of bounds, and keeps going", async () => {
    const f = new FakeNet();
    const r = await rig([[BASE0, f]]);
    const dev = r.d.attach(0, BASE0, RAM_BASE, 7, 0);
    expect(f.receive(frame(100, 1), 0)).toBe(true);
    expect(f.receive(frame(100, 2), 9999)).toBe(true);
    expect(f.receive(frame(100, 3))).toBe(true);
    interrupt(r.d, dev);
    expect(r.received.map((x) => x.bytes)).toEqual([frame(100, 3)]);
    const s = stats(r.d, dev);
    expect(s.RX_BAD_NUM_BUFFERS).toBe(2);
    expect(s.RX_DROPS).toBe(2);
  });

  it.each([
    ["id out of range", 999, 0, ABI_BROKEN.ID_RANGE],
    ["id that is not an outstanding head", 200, 0, ABI_BROKEN.NOT_HEAD],
    ["len beyond the posted buffer", 0, 70000, ABI_BROKEN.LEN],
  ])("marks receiveq1 broken on a used %s, fails cleanly, recovers at tick", async (_name, id, len, reason) => {
    const f = new FakeNet();
    const r = await rig([[BASE0, f]]);
    // 65561-byte buffers: only 7 fit the receive area, so descriptors 7..255 are never posted.
    const dev = r.d.attach(0, BASE0, RAM_BASE, 7, ABI.RX_BUF_MAX);
    expect(stats(r.d, dev).RX_BUFFERS).toBe(7);
    f.badUsed(0, id, len);
    expect(r.d.isr(dev, 0) & ABI_WORK.RX).toBe(ABI_WORK.RX);
    expect(r.d.poll(dev, 0, 64)).toBe(-ABI_ERRNO.EIO);
    expect(r.received).toEqual([]);
    let s = stats(r.d, dev);
    expect(s.STATE).toBe(ABI_STATE.BROKEN);
    expect(s.RXQ_BROKEN).toBe(reason);
    expect(r.d.poll(dev, 0, 64)).toBe(-ABI_ERRNO.EIO);
    expect(r.d.transmitBytes(dev, 1, frame(60, 0))).toBe(-ABI_ERRNO.EIO);
    expect(r.d.isr(dev, 0) & ABI_WORK.RESET).toBe(ABI_WORK.RESET);
    expect(r.d.tick(dev)).toBe(1);
    s = stats(r.d, dev);
    expect(s.STATE).toBe(ABI_STATE.RUNNING);
    expect(s.RXQ_BROKEN).toBe(ABI_BROKEN.NONE);
    expect(s.RESETS).toBe(1);
    expect(f.receive(frame(80, 5))).toBe(true);
    interrupt(r.d, dev);
    expect(r.received.at(-1)!.bytes).toEqual(frame(80, 5));
  });

  it("marks transmitq1 broken when used.idx runs past the buffers outstanding", async () => {
    const f = new FakeNet();
    const r = await rig([[BASE0, f]]);
    const dev = r.d.attach(0, BASE0, RAM_BASE, 7, 0);
    f.badUsed(1, 3, 0);
    expect(r.d.isr(dev, 0) & ABI_WORK.TX).toBe(ABI_WORK.TX);
    expect(r.d.poll(dev, 1, 64)).toBe(-ABI_ERRNO.EIO);
    const s = stats(r.d, dev);
    expect(s.TXQ_BROKEN).toBe(ABI_BROKEN.IDX);
    expect(s.STATE).toBe(ABI_STATE.BROKEN);
  });

  it("reports link changes read inside the ConfigGeneration loop; -ENETDOWN while down", async () => {
    const f = new FakeNet();
    const r = await rig([[BASE0, f]]);
    const dev = r.d.attach(0, BASE0, RAM_BASE, 7, 0);
    f.setLink(false);
    expect(interrupt(r.d, dev)).toBe(ABI_WORK.CONFIG);
    expect(r.links).toEqual([[0, true], [0, false]]);
    expect(f.isr).toBe(0);
    expect(r.d.transmitBytes(dev, 1, frame(60, 0))).toBe(-ABI_ERRNO.ENETDOWN);
    f.setLink(true);
    interrupt(r.d, dev);
    expect(r.links.at(-1)).toEqual([0, true]);
    expect(r.d.transmitBytes(dev, 1, frame(60, 0))).toBe(0);
    // DEVICE_NEEDS_RESET with a config interrupt: RESET work, then tick re-initializes.
    f.status |= STATUS.DEVICE_NEEDS_RESET;
    f.isr |= INT.CONFIG_CHANGE;
    expect(r.d.isr(dev, 0) & ABI_WORK.RESET).toBe(ABI_WORK.RESET);
    expect(stats(r.d, dev).STATE).toBe(ABI_STATE.NEEDS_RESET);
    expect(r.d.tick(dev)).toBe(1);
    expect(stats(r.d, dev).STATE).toBe(ABI_STATE.RUNNING);
  });

  it("sets FAILED when VERSION_1 is missing or FEATURES_OK is refused", async () => {
    const old = new FakeNet(bit(NET_F.MAC) | bit(NET_F.STATUS));
    const r = await rig([[BASE0, old]]);
    expect(r.d.attach(0, BASE0, RAM_BASE, 7, 0)).toBe(-ABI_ERRNO.ENOTSUP);
    expect(old.statusWrites).toEqual([0, 1, 3, 3 | STATUS.FAILED]);
    const picky = new FakeNet();
    picky.refuseFeatures = true;
    const r2 = await rig([[BASE0, picky]]);
    expect(r2.d.attach(0, BASE0, RAM_BASE, 7, 0)).toBe(-ABI_ERRNO.EIO);
    expect(picky.statusWrites).toEqual([0, 1, 3, 11, 11 | STATUS.FAILED]);
    expect(r2.d.poll(0, 0, 1)).toBe(-ABI_ERRNO.EBADF);
  });

  it("fires the tx watchdog after TX_TIMEOUT_TICKS ticks without completions", async () => {
    const f = new FakeNet();
    f.autoTx = false;
    const r = await rig([[BASE0, f]]);
    const dev = r.d.attach(0, BASE0, RAM_BASE, 7, 0);
    r.d.transmitBytes(dev, 1, frame(60, 0));
    for (let i = 1; i < ABI.TX_TIMEOUT_TICKS; i++) expect(r.d.tick(dev)).toBe(0);
    expect(r.d.tick(dev)).toBe(1);
    const s = stats(r.d, dev);
    expect(s.WATCHDOG_TIMEOUTS).toBe(1);
    expect(s.TX_LOST).toBe(1);
    expect(s.STATE).toBe(ABI_STATE.RUNNING);
  });

  it("serves four devices at once with separate handles and regions, then detaches", async () => {
    const fs = [0, 1, 2, 3].map(() => new FakeNet(bit(F.VERSION_1) | bit(NET_F.STATUS)));
    const r = await rig(fs.map((f, i) => [BASE0 + i * 0x200, f] as [number, FakeNet]));
    const top = r.d.heap_top();
    const handles = fs.map((_, i) => r.d.attach(0, BASE0 + i * 0x200, RAM_BASE, 100 + i, 0));
    expect(handles).toEqual([0, 1, 2, 3]);
    expect(r.d.attach(0, BASE0 + 4 * 0x200, RAM_BASE, 1, 0)).toBe(-ABI_ERRNO.ENOSPC);
    const macs = handles.map((h) => stats(r.d, h).MAC_LO);
    expect(new Set(macs).size).toBe(4);
    for (const m of macs) expect(m & 3).toBe(2); // locally administered unicast (NET-CFG-DRV-04)
    fs.forEach((f, i) => {
      const lo = f.q[0]!.desc - RAM_BASE;
      expect(lo).toBeGreaterThanOrEqual(r.d.mem_base() + i * ABI.DEV_REGION_SIZE);
      expect(lo).toBeLessThan(r.d.mem_base() + (i + 1) * ABI.DEV_REGION_SIZE);
    });
    fs.forEach((f, i) => expect(f.receive(frame(64, i))).toBe(true));
    handles.forEach((h) => interrupt(r.d, h));
    expect(r.received.map((x) => x.dev)).toEqual([0, 1, 2, 3]);
    expect(r.d.detach(2)).toBe(0);
    expect(fs[2]!.status).toBe(0);
    expect(r.d.detach(2)).toBe(-ABI_ERRNO.EBADF);
    expect(r.d.attach(0, BASE0 + 0x200, RAM_BASE, 1, 0)).toBe(-ABI_ERRNO.EBUSY);
    expect(r.d.attach(0, BASE0 + 2 * 0x200, RAM_BASE, 9, 0)).toBe(2);
    expect(r.d.heap_top()).toBe(top);
  });
});
