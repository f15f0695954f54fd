import { describe, expect, it } from "vitest";
import { Clock, parseDuration } from "../../host/sim/clock.js";

describe("Clock", () => {
  it("runs events in (time, sequence) order and sets now to each event's time", () => {
    const c = new Clock();
    const seen: string[] = [];
    c.at(30, () => seen.push(`c@${c.now}`));
    c.at(10, () => seen.push(`a@${c.now}`));
    c.at(10, () => seen.push(`b@${c.now}`));
    c.runUntil(100);
    expect(seen).toEqual(["a@10", "b@10", "c@30"]);
    expect(c.now).toBe(100);
  });

  it("runs events scheduled by events when they fall due, and leaves later ones", () => {
    const c = new Clock();
    const seen: number[] = [];
    c.at(5, () => {
      seen.push(c.now);
      c.after(5, () => seen.push(c.now));
      c.after(50, () => seen.push(c.now));
    });
    expect(c.runUntil(20)).toBe(2);
    expect(seen).toEqual([5, 10]);
    expect(c.nextTime()).toBe(55);
  });

  it("never moves backwards: an event in the past runs at now", () => {
    const c = new Clock();
    c.runUntil(1000);
    let at = -1;
    c.at(10, () => (at = c.now));
    c.step();
    expect(at).toBe(1000);
  });

  it("skips cancelled events", () => {
    const c = new Clock();
    let ran = false;
    const ev = c.at(10, () => (ran = true));
    ev.cancelled = true;
    expect(c.step()).toBe(false);
    expect(ran).toBe(false);
  });

  it("parses durations with units and refuses garbage", () => {
    expect(parseDuration("500us")).toBe(500_000);
    expect(parseDuration("20ms")).toBe(20_000_000);
    expect(parseDuration("1s")).toBe(1_000_000_000);
    expect(parseDuration("250")).toBe(250);
    expect(() => parseDuration("fast")).toThrow(/not a duration/);
  });
});
