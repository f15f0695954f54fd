// A trace consumer that writes Chrome trace event JSON (opens in Perfetto UI and chrome://tracing):
// guest entries with ISR nesting, interrupt-masked windows, device work per chain, doorbells,
// interrupts, and every frame as a flow from where it entered to where it left.
import type { Trace, TraceEvent } from "./trace.js";

/** One Chrome trace event (https://docs.google.com/document/d/1CvAClvFfyA5R-PhYUmn5OOQtYMH4h6I0nSsKchNAySU). */
export interface ChromeEvent {
  name: string;
  ph: string;
  ts: number;
  pid: number;
  tid: number;
  [field: string]: unknown;
}

// Tracks: the guest process (its vCPU and its masked windows) and the device process.
const GUEST = 1;
const DEVICE = 2;
const VCPU = 1;
const MASKED = 2;
const QUEUE = 10; // + queue index: device work on that queue
const DOORBELLS = 20;
const IRQ = 21;
const RX_WIRE = 22;
const TX_WIRE = 23;
const LINK = 24;

const TRACKS: [pid: number, tid: number, name: string][] = [
  [GUEST, VCPU, "vCPU (guest entries)"],
  [GUEST, MASKED, "interrupts masked"],
  [DEVICE, QUEUE, "device work: queue 0 (RX)"],
  [DEVICE, QUEUE + 1, "device work: queue 1 (TX)"],
  [DEVICE, DOORBELLS, "doorbells"],
  [DEVICE, IRQ, "interrupt line"],
  [DEVICE, RX_WIRE, "frames arriving"],
  [DEVICE, TX_WIRE, "frames leaving"],
  [DEVICE, LINK, "link"],
];

/** Virtual ns to the format's µs (exact: 3 decimals). */
const us = (ns: number) => ns / 1000;

/**
 * Subscribe to `trace`; `finish()` returns the trace file's object ({ traceEvents, displayTimeUnit }).
 * RX frames flow from their arrival at the device to the `net_input` inside the guest's poll; TX
 * frames from the transmit entry that accepted them (the k-th accepted is TX chain k) to the wire.
 */
export function collectChromeTrace(trace: Trace): () => { traceEvents: ChromeEvent[]; displayTimeUnit: string } {
  const out: ChromeEvent[] = [];
  for (const [pid, name] of [[GUEST, "guest"], [DEVICE, "virtio-net device"]] as const) out.push({ name: "process_name", ph: "M", ts: 0, pid, tid: 0, args: { name } });
  for (const [pid, tid, name] of TRACKS) out.push({ name: "thread_name", ph: "M", ts: 0, pid, tid, args: { name } });
  const popped = new Map<string, number>();
  const placed: number[] = [];
  let placedHead = 0;
  let accepted = 0;
  let transmitAt = 0;
  const flow = (ph: "s" | "f", id: number, ev: TraceEvent, pid: number, tid: number) =>
    out.push({ name: "frame", cat: "frame", ph, id, ts: us(ev.t), pid, tid, ...(ph === "f" ? { bp: "e" } : {}) });
  // A 1 ns slice for a flow to bind to on the wire tracks (frames there never overlap in time).
  const mark = (name: string, ev: TraceEvent, tid: number, args: object) => out.push({ name, cat: "frame", ph: "X", ts: us(ev.t), dur: 0.001, pid: DEVICE, tid, args });

  const consume = (ev: TraceEvent): void => {
    switch (ev.k) {
      case "guest.enter":
        if (ev.fn === "transmit") transmitAt = ev.t;
        out.push({ name: String(ev.fn), cat: "guest", ph: "B", ts: us(ev.t), pid: GUEST, tid: VCPU });
        break;
      case "guest.exit":
        out.push({ name: String(ev.fn), cat: "guest", ph: "E", ts: us(ev.t), pid: GUEST, tid: VCPU, args: { ns: ev.ns, ins: ev.ins } });
        break;
      case "irq.unmask":
        out.push({ name: "interrupts masked", cat: "guest", ph: "X", ts: us(ev.t - Number(ev.ns)), dur: us(Number(ev.ns)), pid: GUEST, tid: MASKED, args: { forced: ev.forced } });
        break;
      case "vq.pop":
        popped.set(`${ev.q}:${ev.head}`, ev.t);
        break;
      case "vq.used": {
        const at = popped.get(`${ev.q}:${ev.head}`);
        if (at === undefined) break;
        popped.delete(`${ev.q}:${ev.head}`);
        out.push({ name: `chain ${ev.head}`, cat: "device", ph: "X", ts: us(at), dur: us(ev.t - at), pid: DEVICE, tid: QUEUE + Number(ev.q), args: { len: ev.len } });
        break;
      }
      case "notify":
        out.push({ name: `doorbell q${ev.q}`, cat: "doorbell", ph: "i", s: "t", ts: us(ev.t), pid: DEVICE, tid: DOORBELLS });
        break;
      case "notify.seen":
        out.push({ name: `device sees q${ev.q}`, cat: "doorbell", ph: "i", s: "t", ts: us(ev.t), pid: DEVICE, tid: DOORBELLS });
        break;
      case "irq":
        out.push({ name: `irq ${ev.line}`, cat: "interrupt", ph: "C", ts: us(ev.t), pid: DEVICE, tid: IRQ, args: { level: ev.level ? 1 : 0 } });
        break;
      case "irq.raise":
        out.push({ name: ev.again ? "irq raise (again)" : "irq raise", cat: "interrupt", ph: "i", s: "t", ts: us(ev.t), pid: DEVICE, tid: IRQ });
        break;
      case "eoi":
        out.push({ name: "eoi", cat: "interrupt", ph: "i", s: "t", ts: us(ev.t), pid: GUEST, tid: VCPU });
        break;
      case "link":
        out.push({ name: ev.up ? "link up" : "link down", cat: "link", ph: "i", s: "t", ts: us(ev.t), pid: DEVICE, tid: LINK });
        break;
      case "frame.arrive":
        mark(`rx frame ${ev.id}`, ev, RX_WIRE, { len: ev.len });
        flow("s", 2 * Number(ev.id), ev, DEVICE, RX_WIRE);
        break;
      case "frame.rx":
        placed.push(Number(ev.id));
        break;
      case "net.input": {
        // The n-th delivery is the n-th frame placed (as host/analysis/figures.ts pairs them).
        const id = placedHead < placed.length ? placed[placedHead++] : -1;
        if (id >= 0) flow("f", 2 * id, ev, GUEST, VCPU);
        break;
      }
      case "net.transmit":
        // The flow starts where the transmit call began (the start of `transmit call -> last bit`).
        if (Number(ev.r) === 0) flow("s", 2 * accepted++ + 1, { ...ev, t: transmitAt }, GUEST, VCPU);
        break;
      case "frame.tx":
        mark(`tx frame ${ev.id}`, ev, TX_WIRE, { len: ev.len });
        flow("f", 2 * Number(ev.id) + 1, ev, DEVICE, TX_WIRE);
        break;
      case "frame.drop":
        out.push({ name: `drop ${ev.dir} ${ev.reason}`, cat: "frame", ph: "i", s: "t", ts: us(ev.t), pid: DEVICE, tid: ev.dir === "tx" ? TX_WIRE : RX_WIRE });
        break;
    }
  };
  const unsubscribe = trace.subscribe(consume);
  return () => {
    unsubscribe();
    return { traceEvents: out, displayTimeUnit: "ns" };
  };
}
