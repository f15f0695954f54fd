// A trace consumer that keeps what a timeline needs (guest entries with their nesting depth,
// masked windows, interrupt raises, frame lifetimes) and picks one busy interval to draw: the
// one around the frame with the longest RX latency (else TX), padded on both sides.
import type { Trace, TraceEvent } from "./trace.js";

export interface Span {
  /** Row of the timeline: `vCPU`, `vCPU (nested)`, `masked`, `rx frames`, `tx frames`. */
  row: string;
  label: string;
  start: number;
  end: number;
}

export interface Timeline {
  /** The interval drawn, virtual ns, and why it was chosen. */
  from: number;
  to: number;
  why: string;
  spans: Span[];
  /** Interrupt raises inside the interval (virtual ns). */
  raises: number[];
}

const PAD_NS = 20_000;
const MAX_SPANS = 2000;

export function collectTimeline(trace: Trace): () => Timeline {
  const spans: Span[] = [];
  const raises: number[] = [];
  const open: { fn: string; t: number }[] = [];
  const arrived = new Map<number, number>();
  const placed: number[] = [];
  let placedHead = 0;
  const txStart: number[] = [];
  let transmitAt = 0;
  let worst: { ns: number; start: number; end: number; what: string } | undefined;
  const note = (what: string, start: number, end: number) => {
    if (!worst || end - start > worst.ns) worst = { ns: end - start, start, end, what };
  };
  let worstTx: typeof worst;

  const consume = (ev: TraceEvent): void => {
    switch (ev.k) {
      case "guest.enter":
        if (ev.fn === "transmit") transmitAt = ev.t;
        open.push({ fn: String(ev.fn), t: ev.t });
        break;
      case "guest.exit": {
        const o = open.pop();
        if (o) spans.push({ row: open.length > 0 ? "vCPU (nested)" : "vCPU", label: o.fn, start: o.t, end: ev.t });
        break;
      }
      case "irq.unmask":
        spans.push({ row: "masked", label: "masked", start: ev.t - Number(ev.ns), end: ev.t });
        break;
      case "irq.raise":
        raises.push(ev.t);
        break;
      case "frame.arrive":
        arrived.set(Number(ev.id), ev.t);
        break;
      case "frame.rx":
        placed.push(Number(ev.id));
        break;
      case "net.input": {
        const id = placedHead < placed.length ? placed[placedHead++] : -1;
        const at = arrived.get(id);
        if (at === undefined) break;
        arrived.delete(id);
        spans.push({ row: "rx frames", label: `rx ${id}`, start: at, end: ev.t });
        note(`frame ${id}: the longest frame at device -> net_input`, at, ev.t);
        break;
      }
      case "net.transmit":
        if (Number(ev.r) === 0) txStart.push(transmitAt);
        break;
      case "frame.tx": {
        const k = Number(ev.id);
        const at = txStart[k];
        if (at === undefined) break;
        spans.push({ row: "tx frames", label: `tx ${k}`, start: at, end: ev.t });
        if (!worstTx || ev.t - at > worstTx.ns) worstTx = { ns: ev.t - at, start: at, end: ev.t, what: `TX chain ${k}: the longest transmit call -> last bit` };
        break;
      }
    }
  };
  const unsubscribe = trace.subscribe(consume);
  return () => {
    unsubscribe();
    const w = worst ?? worstTx;
    const from = w ? Math.max(0, w.start - PAD_NS) : spans.length ? spans[0].start : 0;
    const to = w ? w.end + PAD_NS : from + 100_000;
    const inside = spans.filter((s) => s.end >= from && s.start <= to).slice(0, MAX_SPANS);
    return { from, to, why: w ? w.what : "the start of the run", spans: inside, raises: raises.filter((t) => t >= from && t <= to) };
  };
}
