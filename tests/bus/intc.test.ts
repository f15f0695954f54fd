// The interrupt controller: level and edge lines, masking, acknowledge and EOI, MSI messages.
import { describe, expect, it } from "vitest";
import { InterruptController } from "../../host/bus/intc.js";
import { InterruptLine } from "../../host/bus/irq.js";
import { Trace } from "../../host/report/trace.js";
import { Clock } from "../../host/sim/clock.js";

function setup() {
  const clock = new Clock();
  const trace = new Trace({ record: true });
  const intc = new InterruptController("pic8259", trace, clock);
  const dev = new InterruptLine("dev", trace, clock);
  intc.addLine(11, "level", dev);
  return { intc, dev, trace };
}

describe("interrupt controller", () => {
  it("a level line stays pending while asserted and is taken again after EOI", () => {
    const { intc, dev } = setup();
    dev.set(true);
    expect(intc.cpu.level).toBe(true);
    expect(intc.acknowledge()).toBe(11);
    expect(intc.cpu.level).toBe(false); // in service
    expect(intc.acknowledge()).toBe(-1);
    intc.eoi(11);
    expect(intc.isPending(11)).toBe(true); // still asserted: pending again
    expect(intc.acknowledge()).toBe(11);
    dev.set(false);
    intc.eoi(11);
    expect(intc.cpu.level).toBe(false);
  });

  it("an edge line latches once per pulse; the lowest line is taken first", () => {
    const { intc, dev } = setup();
    intc.addLine(3, "edge");
    intc.pulse(3);
    dev.set(true);
    expect(intc.acknowledge()).toBe(3);
    expect(intc.acknowledge()).toBe(11);
    intc.eoi(3);
    expect(intc.isPending(3)).toBe(false); // an edge does not come back by itself
  });

  it("masking holds a line off the CPU until unmasked", () => {
    const { intc, dev } = setup();
    intc.mask(11, true);
    dev.set(true);
    expect(intc.cpu.level).toBe(false);
    intc.mask(11, false);
    expect(intc.cpu.level).toBe(true);
  });

  it("an MSI message in the APIC window raises the vector in its data; one outside is dropped", () => {
    const { intc, trace } = setup();
    intc.message(0xfee00000, 0, 0x41);
    intc.message(0x12345678, 0, 0x42);
    expect(intc.acknowledge()).toBe(0x41);
    expect(intc.acknowledge()).toBe(-1);
    expect(trace.events.filter((e) => e.k === "msi").map((e) => e.ok)).toEqual([true, false]);
  });
});
