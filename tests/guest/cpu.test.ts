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

  it("guest time is entry start + floor(instructions x ps / 1000) + bytes x ps / 1000 + exit costs", () => {
    const { clock, cpu } = setup();
    const instructions = new WebAssembly.Global({ value: "i32", mutable: true }, 0);
    const bytes = new WebAssembly.Global({ value: "i32", mutable: true }, 0);
    cpu.setMeter({ instructions, bytes, psPerInstruction: 270, psPerByte: 25 });
    clock.runUntil(1000);
    let seen = 0;
    cpu.enter("poll", () => {
      instructions.value = 7; // 1890 ps
      bytes.value = 9; // 225 ps -> 2115 ps -> 2 ns
      cpu.charge(100);
      seen = cpu.now();
      instructions.value = 100; // 27000 ps -> 27 ns
      bytes.value = 0;
    }, undefined, () => {});
    expect(seen).toBe(1000 + 2 + 100);
    expect(clock.now).toBe(1000 + 27 + 100);
  });
});

/** A CPU with an interrupt handler that runs an ISR costing `isrNs` in exits, recording when it entered. */
function withIsr(isrNs: number) {
  const s = setup();
  const isrAt: number[] = [];
  s.cpu.setInterruptHandler(() => {
    s.cpu.enter("isr", () => {
      isrAt.push(s.cpu.now());
      s.cpu.charge(isrNs);
    }, undefined, () => {});
  });
  return { ...s, isrAt };
}

describe("GuestCpu interrupts", () => {
  it("an idle guest takes the interrupt at once", () => {
    const { clock, cpu, isrAt } = withIsr(500);
    clock.at(1900, () => cpu.raise());
    clock.runUntil(10_000);
    expect(isrAt).toEqual([1900]);
  });

  it("preempts the guest at its next HAL call: the ISR runs re-entrantly there and the call happens after it", () => {
    const { clock, trace, cpu, isrAt } = withIsr(500);
    clock.at(1500, () => cpu.raise()); // due while the guest computes between HAL calls
    let callAt = 0;
    cpu.enter("transmit", () => {
      cpu.charge(1000); // t = 1000: a HAL call, nothing due yet
      cpu.halCall();
      cpu.charge(1000); // t = 2000: the next HAL call, the interrupt (due 1500) is taken here
      cpu.halCall();
      callAt = cpu.now();
      cpu.charge(100);
    }, undefined, () => {});
    expect(isrAt).toEqual([2000]);
    expect(callAt).toBe(2500); // the access itself happens once the ISR returned
    expect(trace.events.map((e) => `${e.k} ${e.fn} ${e.t}`)).toEqual([
      "guest.enter transmit 0",
      "guest.enter isr 2000",
      "guest.exit isr 2500",
      "guest.exit transmit 2600",
    ]);
    expect(clock.now).toBe(2600);
  });

  it("a masked window delays the ISR by exactly its remaining length", () => {
    const { clock, cpu, isrAt } = withIsr(300);
    clock.at(1500, () => cpu.raise());
    cpu.enter("poll", () => {
      cpu.charge(1000);
      const s = cpu.irqSave(); // masked from 1000
      cpu.charge(2000);
      cpu.halCall(); // t = 3000: due, but masked
      cpu.charge(700);
      cpu.irqRestore(s); // t = 3700: unmasked, taken here
      cpu.charge(10);
    }, undefined, () => {});
    // Due at 1500, the window ends at 3700: delayed by 2200 = its remaining length.
    expect(isrAt).toEqual([3700]);
    expect(clock.now).toBe(3700 + 300 + 10);
  });

  it("without a HAL call after it fell due, the interrupt waits for the entry's return", () => {
    const { clock, cpu, isrAt } = withIsr(300);
    clock.at(100, () => cpu.raise());
    cpu.enter("poll", () => cpu.charge(4000), undefined, () => {});
    expect(isrAt).toEqual([4000]);
  });

  it("an interrupt raised inside the ISR waits until it returns, then is taken", () => {
    const s = setup();
    const isrAt: number[] = [];
    let first = true;
    s.cpu.setInterruptHandler(() => {
      s.cpu.enter("isr", () => {
        isrAt.push(s.cpu.now());
        if (first) {
          first = false;
          s.cpu.raise();
          s.cpu.charge(200);
          s.cpu.halCall(); // inside the handler: not taken
          s.cpu.charge(200);
        }
      }, undefined, () => {});
    });
    s.clock.at(50, () => s.cpu.raise());
    s.clock.runUntil(10_000);
    expect(isrAt).toEqual([50, 450]);
  });
});

