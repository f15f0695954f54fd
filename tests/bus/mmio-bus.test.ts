// Tests of the MMIO bus: decode to regions, overlap refusal, and faults recorded (never thrown).
import { describe, expect, it } from "vitest";
import { MmioBus, type MmioRegion } from "../../host/bus/mmio-bus.js";
import { Trace } from "../../host/report/trace.js";
import { Clock } from "../../host/sim/clock.js";

/** A region that records accesses and reads back `0x11223344 + off`. */
class Recorder implements MmioRegion {
  log: string[] = [];
  read(off: number, width: 1 | 2 | 4): number {
    this.log.push(`r ${off} ${width}`);
    return 0x11223344 + off;
  }
  write(off: number, width: 1 | 2 | 4, value: number): void {
    this.log.push(`w ${off} ${width} ${value.toString(16)}`);
  }
}

function setup() {
  const clock = new Clock();
  const trace = new Trace({ record: true });
  const bus = new MmioBus(trace, clock);
  const a = new Recorder();
  const b = new Recorder();
  bus.map("a", 0x1000, 0x200, a);
  bus.map("b", 0x2000, 0x100, b);
  return { clock, trace, bus, a, b };
}

describe("MmioBus", () => {
  it("routes accesses to the region with region-relative offsets, masked to the width", () => {
    const { bus, a, b } = setup();
    expect(bus.read(0x1004, 4)).toBe(0x11223348);
    expect(bus.read(0x1000, 1)).toBe(0x44);
    expect(bus.read(0x1002, 2)).toBe(0x3346);
    bus.write(0x20fc, 4, 0xdeadbeef);
    bus.write(0x2001, 1, 0x1ff); // masked to the byte
    expect(a.log).toEqual(["r 4 4", "r 0 1", "r 2 2"]);
    expect(b.log).toEqual(["w 252 4 deadbeef", "w 1 1 ff"]);
    expect(bus.regions).toEqual([
      { name: "a", base: 0x1000, size: 0x200 },
      { name: "b", base: 0x2000, size: 0x100 },
    ]);
  });

  it("refuses overlapping and duplicate mappings with a clear Error", () => {
    const { bus } = setup();
    expect(() => bus.map("c", 0x11ff, 0x10, new Recorder())).toThrow(/overlaps "a"/);
    expect(() => bus.map("c", 0x1f00, 0x101, new Recorder())).toThrow(/overlaps "b"/);
    expect(() => bus.map("a", 0x8000, 0x10, new Recorder())).toThrow(/already mapped/);
    expect(() => bus.map("c", 0x8000, 0, new Recorder())).toThrow(RangeError);
    bus.map("c", 0x1200, 0x10, new Recorder()); // adjacent is fine
  });

  it("records unmapped accesses as bus.fault, reads all ones for the width, never throws", () => {
    const { bus, trace, clock, a } = setup();
    clock.advanceTo(77);
    expect(bus.read(0x0, 4)).toBe(0xffffffff);
    expect(bus.read(0x1200, 2)).toBe(0xffff);
    expect(bus.read(0x3000, 1)).toBe(0xff);
    bus.write(0x1fff0, 4, 5);
    expect(a.log).toEqual([]);
    expect(trace.events).toEqual([
      { t: 77, k: "bus.fault", op: "r", addr: 0, w: 4 },
      { t: 77, k: "bus.fault", op: "r", addr: 0x1200, w: 2 },
      { t: 77, k: "bus.fault", op: "r", addr: 0x3000, w: 1 },
      { t: 77, k: "bus.fault", op: "w", addr: 0x1fff0, w: 4 },
    ]);
  });

  it("records an access straddling a region end, and bad widths, as faults", () => {
    const { bus, trace, a } = setup();
    expect(bus.read(0x11fe, 4)).toBe(0xffffffff);
    bus.write(0x11ff, 2, 1);
    expect(bus.read(0x1000, 3)).toBe(0xffffffff);
    bus.write(0x1000, 8, 1);
    expect(bus.read(-4, 4)).toBe(0xffffffff);
    expect(bus.read(0xfffffffe, 4)).toBe(0xffffffff);
    expect(a.log).toEqual([]);
    expect(trace.events.map((e) => [e.k, e.op, e.addr, e.w])).toEqual([
      ["bus.fault", "r", 0x11fe, 4],
      ["bus.fault", "w", 0x11ff, 2],
      ["bus.fault", "r", 0x1000, 3],
      ["bus.fault", "w", 0x1000, 8],
      ["bus.fault", "r", -4, 4],
      ["bus.fault", "r", 0xfffffffe, 4],
    ]);
    // A non-integer address keeps the event well-formed.
    bus.read(Number.NaN, 4);
    expect(trace.events.at(-1)).toEqual({ t: 0, k: "bus.fault", op: "r", addr: -1, w: 4 });
  });
});
