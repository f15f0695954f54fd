import { describe, expect, it } from "vitest";
import { GuestCpu } from "../../host/guest/cpu.js";
import { Trace } from "../../host/report/trace.js";
import { Clock } from "../../host/sim/clock.js";

function setup() {
  const clock = new Clock();
  const trace = new Trace({ record: true });
  return { clock, trace, cpu: new GuestCpu(clock, trace) };
}

describe("GuestCpu", () => {
  it("advances guest time by exit costs and runs device events due by then at each sync", () => {
    const { clock, trace, cpu } = setup();
    const seen: number[] = [];
    clock.at(500, () => seen.push(clock.now));
    clock.at(2500, () => seen.push(clock.now));
    cpu.enter("attach", () => {
      cpu.charge(1000);
      cpu.sync();
      expect(seen).toEqual([500]);
      expect(cpu.now()).toBe(1000);
      cpu.charge(1000);
    }, undefined, () => {});
    expect(clock.now).toBe(2000);
    expect(trace.events.map((e) => [e.k, e.t])).toEqual([["guest.enter", 0], ["guest.exit", 2000]]);
  });

  it("never nests an entry: work wanted by an event that falls due at the entry's end runs after the exit", () => {
    const { clock, trace, cpu } = setup();
    // An event at the end of the entry that wants the guest (as an interrupt or the stack would).
    clock.at(1000, () => cpu.whenIdle(() => cpu.enter("transmit", () => cpu.charge(10), undefined, () => {})));
    cpu.enter("attach", () => cpu.charge(1000), undefined, () => {});
    expect(trace.events.map((e) => `${e.k} ${e.fn} ${e.t}`)).toEqual([
      "guest.enter attach 0",
      "guest.exit attach 1000",
      "guest.enter transmit 1000",
      "guest.exit transmit 1010",
    ]);
  });

  it("records a trap and returns the fallback", () => {
    const { cpu } = setup();
    let trapped: unknown;
    const r = cpu.enter("poll", () => {
      throw new Error("unreachable");
    }, -1, (e) => (trapped = e));
    expect(r).toBe(-1);
    expect((trapped as Error).message).toBe("unreachable");
    expect(cpu.inEntry).toBe(false);
  });

  it("measures masked windows and unmasks an entry that returns masked", () => {
    const { trace, cpu } = setup();
    cpu.enter("isr", () => {
      const s = cpu.irqSave();
      cpu.charge(300);
      cpu.irqRestore(s);
      cpu.irqSave();
      cpu.charge(50);
    }, undefined, () => {});
    const unmasks = trace.events.filter((e) => e.k === "irq.unmask");
    expect(unmasks.map((e) => [e.ns, e.forced])).toEqual([[300, false], [50, true]]);
    expect(cpu.interruptsMasked).toBe(false);
  });
});
