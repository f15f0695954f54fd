// A trace consumer that writes a Value Change Dump (IEEE 1364 §18; GTKWave, Surfer) at 1 ns:
// interrupt lines, doorbell pulses per queue, device status, link, ISR and masked state, and queue
// fill levels, each change at the virtual time of the trace event that caused it.
import type { Trace, TraceEvent } from "./trace.js";

interface Signal {
  id: string;
  name: string;
  /** 1: a wire (0/1); more: a vector written in binary. */
  width: number;
  kind: "wire" | "reg" | "integer";
  value: number;
}

/**
 * The fill levels are counted from the trace alone: `rx_pending` frames that reached the device and
 * were neither dropped nor delivered to net_input; `tx_inflight` frames transmit accepted that have
 * not left (or been dropped); `qN_held` chains the device popped from queue N and not yet made used.
 */
export function collectVcd(trace: Trace): () => string {
  const signals = new Map<string, Signal>();
  const changes: [t: number, sig: Signal, value: number][] = [];
  const signal = (name: string, width = 1, kind: Signal["kind"] = "wire", initial = 0): Signal => {
    let s = signals.get(name);
    if (!s) {
      s = { id: vcdId(signals.size), name, width, kind, value: initial };
      signals.set(name, s);
    }
    return s;
  };
  const set = (t: number, s: Signal, v: number) => changes.push([t, s, v]);
  // Running values of the counters (the recorded changes hold the history).
  const level = new Map<Signal, number>();
  const add = (t: number, s: Signal, d: number) => {
    const v = (level.get(s) ?? 0) + d;
    level.set(s, v);
    set(t, s, v);
  };
  // Declared up front so every dump has them, in this order.
  const link = signal("link", 1, "wire", 1);
  const status = signal("device_status", 8, "reg");
  const isr = signal("in_isr");
  const masked = signal("irq_masked");
  const rxPending = signal("rx_pending", 32, "integer");
  const txInflight = signal("tx_inflight", 32, "integer");
  let isrDepth = 0;

  const consume = (ev: TraceEvent): void => {
    const t = ev.t;
    switch (ev.k) {
      case "irq":
        set(t, signal(`irq_${String(ev.line).replace(/[^A-Za-z0-9_]/g, "_")}`), ev.level ? 1 : 0);
        break;
      case "notify": {
        const s = signal(`doorbell_q${ev.q}`);
        set(t, s, 1);
        set(t + 1, s, 0); // a 1 ns pulse
        break;
      }
      case "status":
        set(t, status, Number(ev.to));
        break;
      case "link":
        set(t, link, ev.up ? 1 : 0);
        break;
      case "guest.enter":
        if (ev.fn === "isr" && isrDepth++ === 0) set(t, isr, 1);
        break;
      case "guest.exit":
        if (ev.fn === "isr" && --isrDepth === 0) set(t, isr, 0);
        break;
      case "irq.mask":
        set(t, masked, 1);
        break;
      case "irq.unmask":
        set(t, masked, 0);
        break;
      case "frame.arrive":
        add(t, rxPending, 1);
        break;
      case "net.input":
        add(t, rxPending, -1);
        break;
      case "net.transmit":
        if (Number(ev.r) === 0) add(t, txInflight, 1);
        break;
      case "frame.tx":
        add(t, txInflight, -1);
        break;
      case "frame.drop":
        add(t, ev.dir === "tx" ? txInflight : rxPending, -1);
        break;
      case "vq.pop":
        add(t, signal(`q${ev.q}_held`, 16, "integer"), 1);
        break;
      case "vq.used":
        add(t, signal(`q${ev.q}_held`, 16, "integer"), -1);
        break;
      case "vq.unpop":
        add(t, signal(`q${ev.q}_held`, 16, "integer"), -Number(ev.n));
        break;
    }
  };
  const unsubscribe = trace.subscribe(consume);
  return () => {
    unsubscribe();
    return render([...signals.values()], changes);
  };
}

function render(signals: Signal[], changes: [number, Signal, number][]): string {
  const lines = ["$version virtio-rt trace.vcd (virtual time) $end", "$timescale 1ns $end", "$scope module virtio_rt $end"];
  for (const s of signals) lines.push(`$var ${s.kind} ${s.width} ${s.id} ${s.name} $end`);
  lines.push("$upscope $end", "$enddefinitions $end");
  // Changes at the same time: the last one of a signal wins (stable sort keeps emission order).
  const sorted = changes.map((c, i) => [c, i] as const).sort((a, b) => a[0][0] - b[0][0] || a[1] - b[1]).map(([c]) => c);
  const current = new Map<Signal, number>();
  let i = 0;
  // Time 0's changes fold into the initial values.
  for (; i < sorted.length && sorted[i][0] <= 0; i++) sorted[i][1].value = sorted[i][2];
  lines.push("#0", "$dumpvars");
  for (const s of signals) {
    lines.push(value(s, s.value));
    current.set(s, s.value);
  }
  lines.push("$end");
  while (i < sorted.length) {
    const t = sorted[i][0];
    const last = new Map<Signal, number>();
    for (; i < sorted.length && sorted[i][0] === t; i++) last.set(sorted[i][1], sorted[i][2]);
    const out = [...last].filter(([s, v]) => current.get(s) !== v);
    if (out.length === 0) continue;
    lines.push(`#${t}`);
    for (const [s, v] of out) {
      lines.push(value(s, v));
      current.set(s, v);
    }
  }
  return lines.join("\n") + "\n";
}

function value(s: Signal, v: number): string {
  if (s.width === 1) return `${v ? 1 : 0}${s.id}`;
  // Vectors are unsigned binary; a count that went negative (never expected) shows as 0.
  return `b${Math.max(0, v).toString(2)} ${s.id}`;
}

/** Identifier codes: printable ASCII from '!' (33) to '~' (126), more characters when needed. */
function vcdId(n: number): string {
  let s = "";
  do {
    s += String.fromCharCode(33 + (n % 94));
    n = Math.floor(n / 94);
  } while (n > 0);
  return s;
}
