// Tests of the level-triggered interrupt line: level held, changes traced once, rising edges signalled.
import { describe, expect, it } from "vitest";
import { InterruptLine } from "../../host/bus/irq.js";
import { Trace } from "../../host/report/trace.js";
import { Clock } from "../../host/sim/clock.js";

describe("InterruptLine", () => {
  it("holds the level its source sets and traces only changes", () => {
    const clock = new Clock();
    const trace = new Trace({ record: true });
    const line = new InterruptLine("net0", trace, clock);
    expect(line.level).toBe(false);
    line.set(false);
    line.set(true);
    clock.advanceTo(5);
    line.set(true);
    expect(line.level).toBe(true);
    line.set(false);
    expect(line.level).toBe(false);
    expect(trace.events).toEqual([
      { t: 0, k: "irq", line: "net0", level: true },
      { t: 5, k: "irq", line: "net0", level: false },
    ]);
  });

  it("calls onRaise on each 0 -> 1 transition only, and stops after unsubscribe", () => {
    const line = new InterruptLine("l", new Trace(), new Clock());
    let raised = 0;
    let other = 0;
    const off = line.onRaise(() => raised++);
    line.onRaise(() => other++);
    line.set(true);
    line.set(true);
    expect(raised).toBe(1);
    line.set(false);
    line.set(false);
    line.set(true);
    expect(raised).toBe(2);
    off();
    line.set(false);
    line.set(true);
    expect(raised).toBe(2);
    expect(other).toBe(3);
  });

  it("sees the new level from inside a callback", () => {
    const line = new InterruptLine("l", new Trace(), new Clock());
    const seen: boolean[] = [];
    line.onRaise(() => seen.push(line.level));
    line.set(true);
    expect(seen).toEqual([true]);
  });
});
