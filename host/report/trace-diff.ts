// `virtio-rt trace diff A B`: the first event where two JSON-lines traces part, with context.
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";

export interface TraceDiff {
  /** 0-based index of the first differing event, or -1 when the traces are equal. */
  index: number;
  /** Up to `context` events before it (equal in both). */
  before: string[];
  a?: string;
  b?: string;
  /** Up to `context` events after it in each trace. */
  afterA: string[];
  afterB: string[];
  countA: number;
  countB: number;
}

async function* lines(path: string): AsyncGenerator<string> {
  const rl = createInterface({ input: createReadStream(path, { encoding: "utf8" }), crlfDelay: Infinity });
  for await (const line of rl) if (line !== "") yield line;
}

export async function diffTraces(pathA: string, pathB: string, context = 3): Promise<TraceDiff> {
  const ia = lines(pathA);
  const ib = lines(pathB);
  const before: string[] = [];
  let index = 0;
  for (;;) {
    const [ra, rb] = await Promise.all([ia.next(), ib.next()]);
    if (ra.done && rb.done) return { index: -1, before: [], afterA: [], afterB: [], countA: index, countB: index };
    if (ra.done || rb.done || ra.value !== rb.value) {
      const afterA: string[] = [];
      const afterB: string[] = [];
      let countA = index + (ra.done ? 0 : 1);
      let countB = index + (rb.done ? 0 : 1);
      if (!ra.done) for await (const l of ia) (afterA.length < context && afterA.push(l), countA++);
      if (!rb.done) for await (const l of ib) (afterB.length < context && afterB.push(l), countB++);
      return { index, before, a: ra.done ? undefined : ra.value, b: rb.done ? undefined : rb.value, afterA, afterB, countA, countB };
    }
    before.push(ra.value);
    if (before.length > context) before.shift();
    index++;
  }
}

/** Human-readable report of a diff. */
export function formatDiff(d: TraceDiff, nameA: string, nameB: string): string {
  if (d.index < 0) return `traces are identical (${d.countA} events)`;
  const out = [`first difference at event ${d.index} (${nameA}: ${d.countA} events, ${nameB}: ${d.countB} events)`];
  d.before.forEach((l, i) => out.push(`  ${d.index - d.before.length + i}  ${l}`));
  out.push(`- ${d.index}  ${d.a ?? "(end of trace)"}`);
  out.push(`+ ${d.index}  ${d.b ?? "(end of trace)"}`);
  d.afterA.forEach((l, i) => out.push(`- ${d.index + 1 + i}  ${l}`));
  d.afterB.forEach((l, i) => out.push(`+ ${d.index + 1 + i}  ${l}`));
  return out.join("\n");
}
