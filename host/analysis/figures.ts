// The latency figures of DESIGN.md (Measurement) computed by a consumer of the trace stream: it
// reads events only and cannot change the simulation. Event fields: docs/architecture.md, The trace.
import type { Trace, TraceEvent } from "../report/trace.js";
import { errnoName } from "../guest/driver.js";
import { LatencyStats, type LatencySummary } from "./stats.js";

/** The distributions, by name (in report order). */
export const LATENCIES = {
  irqToIsr: "IRQ raise -> ISR entry",
  isrDuration: "ISR duration",
  maskedWindow: "interrupts masked",
  bottomHalfDelay: "ISR return -> bottom half",
  rxLatency: "frame at device -> net_input",
  txLatency: "transmit call -> last bit on wire",
  notifyToSeen: "doorbell -> device sees it",
} as const;
export type LatencyName = keyof typeof LATENCIES;

/** Work done on one path (TX: transmit and TX-completion polls; RX: RX polls), and its frames. */
export interface PathCounts {
  frames: number;
  instructions: number;
  registerAccesses: number;
  doorbells: number;
  interrupts: number;
}

export interface Figures {
  latencies: Record<LatencyName, LatencySummary>;
  paths: { tx: PathCounts; rx: PathCounts };
  /** Interrupts whose ISR named neither queue (config change, spurious), with their work. */
  otherInterrupts: PathCounts;
  /** Device drops by direction and reason; `stack`: frames the workload's stack dropped (its queue full). */
  drops: { rx: Record<string, number>; tx: Record<string, number>; stack: Record<string, number> };
  /** Transmit calls the driver refused, by errno name (ENOBUFS and ENETDOWN frames are held and retried). */
  refusals: Record<string, number>;
}

type Path = "tx" | "rx" | "isr" | "other";
interface Open {
  fn: string;
  t: number;
  path: Path;
  acc: PathCounts;
}

const ABI_WORK_RX = 1;
const ABI_WORK_TX = 2;

const zero = (): PathCounts => ({ frames: 0, instructions: 0, registerAccesses: 0, doorbells: 0, interrupts: 0 });

/**
 * Subscribe to `trace` and collect the figures; call the returned `finish()` at the end of the run.
 * Attribution: a transmit entry and poll(TX) count to TX, poll(RX) to RX; an ISR counts to RX when
 * its work mask names RX, else to TX when it names TX, else to `otherInterrupts`. Nested ISRs count
 * to themselves, not to the entry they preempted.
 */
export function collectFigures(trace: Trace): () => Figures {
  const stats = Object.fromEntries(Object.keys(LATENCIES).map((k) => [k, new LatencyStats()])) as Record<LatencyName, LatencyStats>;
  const paths = { tx: zero(), rx: zero() };
  const other = zero();
  const drops: Figures["drops"] = { rx: {}, tx: {}, stack: {} };
  const refusals: Record<string, number> = {};
  const stack: Open[] = [];
  let nextPoll: Path = "other";
  let raiseAt = -1;
  let bottomHalfAt = -1;
  let lastIsr: PathCounts | undefined;
  let lastTransmitAt = -1;
  const arrivedAt = new Map<number, number>();
  const placed: number[] = [];
  let placedHead = 0;
  // The k-th accepted transmit is the device's TX chain k (`id`); either may be seen first, since
  // a transmit preempted by an ISR can return after its frame left.
  const txStart: number[] = [];
  const txEnd = new Map<number, number>();
  const pairTx = (k: number) => {
    const end = txEnd.get(k);
    if (end === undefined || k >= txStart.length) return;
    if (end >= 0) stats.txLatency.record(end - txStart[k]);
    txEnd.delete(k);
  };
  const notified = new Map<string, number[]>();

  const bucket = (p: Path): PathCounts | undefined => (p === "tx" ? paths.tx : p === "rx" ? paths.rx : undefined);
  const top = () => stack[stack.length - 1];
  const add = (field: keyof PathCounts, n: number) => {
    const o = top();
    if (o) o.acc[field] += n;
  };
  const inc = (m: Record<string, number>, key: string) => (m[key] = (m[key] ?? 0) + 1);

  const consume = (ev: TraceEvent): void => {
    const t = ev.t;
    switch (ev.k) {
      case "guest.enter": {
        const fn = String(ev.fn);
        const path: Path = fn === "transmit" ? "tx" : fn === "poll" ? nextPoll : fn === "isr" ? "isr" : "other";
        if (fn === "poll") nextPoll = "other";
        stack.push({ fn, t, path, acc: zero() });
        if (fn === "isr") {
          if (raiseAt >= 0) stats.irqToIsr.record(t - raiseAt);
          raiseAt = -1;
        }
        if (fn === "poll" && bottomHalfAt >= 0) {
          stats.bottomHalfDelay.record(t - bottomHalfAt);
          bottomHalfAt = -1;
        }
        if (fn === "transmit") lastTransmitAt = t;
        break;
      }
      case "guest.exit": {
        const o = stack.pop();
        if (!o) break;
        o.acc.instructions += Number(ev.ins ?? 0);
        if (o.fn === "isr") {
          stats.isrDuration.record(Number(ev.ns));
          o.acc.interrupts++;
          lastIsr = o.acc;
        }
        const b = bucket(o.path);
        if (b) addInto(b, o.acc);
        break;
      }
      case "isr.work": {
        const w = Number(ev.work);
        if (lastIsr) addInto(w & ABI_WORK_RX ? paths.rx : w & ABI_WORK_TX ? paths.tx : other, lastIsr);
        lastIsr = undefined;
        if (w & (ABI_WORK_RX | ABI_WORK_TX) && bottomHalfAt < 0) bottomHalfAt = t;
        break;
      }
      case "bh.poll":
        nextPoll = Number(ev.q) === 0 ? "rx" : "tx";
        break;
      case "irq.raise":
        if (raiseAt < 0) raiseAt = t;
        break;
      case "irq.unmask":
        stats.maskedWindow.record(Number(ev.ns));
        break;
      case "mmio":
      case "pio":
        add("registerAccesses", 1);
        break;
      case "notify": {
        add("doorbells", 1);
        const key = `${ev.dev}:${ev.q}`;
        let q = notified.get(key);
        if (!q) notified.set(key, (q = []));
        q.push(t);
        break;
      }
      case "notify.seen":
      case "notify.dropped": {
        const at = notified.get(`${ev.dev}:${ev.q}`)?.shift();
        if (at !== undefined && ev.k === "notify.seen") stats.notifyToSeen.record(t - at);
        break;
      }
      case "frame.arrive":
        arrivedAt.set(Number(ev.id), t);
        break;
      case "frame.rx":
        placed.push(Number(ev.id));
        break;
      case "net.input": {
        paths.rx.frames++;
        const id = placedHead < placed.length ? placed[placedHead++] : -1;
        const at = arrivedAt.get(id);
        if (at !== undefined) {
          stats.rxLatency.record(t - at);
          arrivedAt.delete(id);
        }
        break;
      }
      case "net.transmit":
        if (Number(ev.r) === 0) {
          paths.tx.frames++;
          txStart.push(lastTransmitAt);
          pairTx(txStart.length - 1);
        } else inc(refusals, errnoName(Number(ev.r)) ?? `errno ${-Number(ev.r)}`);
        break;
      case "frame.tx":
        txEnd.set(Number(ev.id), t);
        pairTx(Number(ev.id));
        break;
      case "stack.drop":
        inc(drops.stack, String(ev.reason));
        break;
      case "frame.drop":
        if (ev.dir === "tx") {
          txEnd.set(Number(ev.id), -1);
          pairTx(Number(ev.id));
          inc(drops.tx, String(ev.reason));
        } else {
          arrivedAt.delete(Number(ev.id));
          inc(drops.rx, String(ev.reason));
        }
        break;
    }
  };
  const unsubscribe = trace.subscribe(consume);
  return () => {
    unsubscribe();
    const latencies = Object.fromEntries(Object.entries(stats).map(([k, s]) => [k, s.summary()])) as Record<LatencyName, LatencySummary>;
    return { latencies, paths, otherInterrupts: other, drops: { rx: sorted(drops.rx), tx: sorted(drops.tx), stack: sorted(drops.stack) }, refusals: sorted(refusals) };
  };
}

function addInto(into: PathCounts, from: PathCounts): void {
  into.instructions += from.instructions;
  into.registerAccesses += from.registerAccesses;
  into.doorbells += from.doorbells;
  into.interrupts += from.interrupts;
}

function sorted(m: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(m).sort((a, b) => (a[0] < b[0] ? -1 : 1)));
}
