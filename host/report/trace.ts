// The one stream of observable events. Consumers (monitor, statistics, exporters, the digest)
// read it; none of them can change the simulation (DESIGN.md, Virtual time).
import { createHash, type Hash } from "node:crypto";

/** A field value in the trace: numbers are integers (ns, addresses, register values). */
export type TraceValue = number | string | boolean;

/**
 * One event. `t` is virtual time in ns, `k` the kind; other fields depend on the kind and are
 * listed in docs/architecture.md. Field order is part of the canonical encoding, so emitters
 * always build the object literal in the same order.
 */
export interface TraceEvent {
  t: number;
  k: string;
  [field: string]: TraceValue;
}

export type TraceConsumer = (ev: TraceEvent) => void;

/** The canonical encoding of one event: a JSON object on one line, fields in emission order. */
export function encodeEvent(ev: TraceEvent): string {
  return JSON.stringify(ev);
}

export interface TraceOptions {
  /** Keep every event in memory (for `--trace FILE` and tests). Off by default. */
  record?: boolean;
  /**
   * Hash every event into the digest (default true). False skips encoding and hashing (and the
   * digest is ""): the count and the consumers remain. For `npm run bench`'s tracing-off figure.
   */
  hash?: boolean;
}

/**
 * The trace stream. Every event is hashed (SHA-256 over the canonical lines, each followed by
 * "\n"), so the digest is the same as `sha256sum` of a `--trace` JSON-lines file.
 */
export class Trace {
  readonly events: TraceEvent[] = [];
  private hash: Hash | undefined;
  private consumers: TraceConsumer[] = [];
  private record: boolean;
  private _count = 0;
  private _digest: string | undefined;

  constructor(opts: TraceOptions = {}) {
    this.record = opts.record ?? false;
    if (opts.hash !== false) this.hash = createHash("sha256");
  }

  get count(): number {
    return this._count;
  }

  /** Add a consumer; it sees every event emitted from now on. */
  subscribe(fn: TraceConsumer): () => void {
    this.consumers.push(fn);
    return () => {
      this.consumers = this.consumers.filter((c) => c !== fn);
    };
  }

  emit(ev: TraceEvent): void {
    if (this._digest !== undefined) throw new Error("trace already finished");
    this._count++;
    this.hash?.update(encodeEvent(ev) + "\n");
    if (this.record) this.events.push(ev);
    for (const c of this.consumers) c(ev);
  }

  /** The SHA-256 digest (hex) of everything emitted; the trace takes no more events after this. */
  digest(): string {
    if (this._digest === undefined) this._digest = this.hash ? this.hash.digest("hex") : "";
    return this._digest;
  }

  /** The recorded events as JSON lines (requires `record`). */
  toJsonLines(): string {
    if (!this.record) throw new Error("trace was not recorded (construct it with { record: true })");
    return this.events.map((e) => encodeEvent(e) + "\n").join("");
  }
}
