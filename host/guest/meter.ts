// Instruction metering at load time (DESIGN.md, Virtual time): a binaryen pass over any driver
// module that counts executed Wasm instructions in an imported i32 global, split at every call so
// a HAL import reads an exact count, and counts memory.copy / memory.fill bytes in a second one.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { PROJECT_ROOT } from "../paths.js";

/** The import module and names of the two counters a metered module reads and writes. */
export const METER_MODULE = "meter";
export const METER_INSTRUCTIONS = "instructions";
export const METER_BYTES = "bytes";

/** A metered module: its bytes and the counters to import into it (reset by the host per entry). */
export interface MeteredModule {
  bytes: Uint8Array;
  /** Counted Wasm instructions (i32, wraps at 2^32: read with `>>> 0`). */
  instructions: WebAssembly.Global;
  /** Bytes moved by memory.copy and memory.fill. */
  bytes_: WebAssembly.Global;
  /** Pass as `loadDriver(..., { imports })`. */
  imports: WebAssembly.Imports;
  /** Metering points inserted (for reports and tests). */
  points: number;
}


const cache = new Map<string, { bytes: Uint8Array; points: number }>();

/** Metered modules are kept here by key; binaryen is loaded only on a miss. */
const DISK_CACHE = join(PROJECT_ROOT, "build", "meter-cache");

/** The pass's identity: its compiled source, so a changed pass never reuses old results. */
let passId: string | undefined;
function passIdentity(): string {
  if (passId === undefined) {
    const here = dirname(fileURLToPath(import.meta.url));
    const ext = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
    passId = createHash("sha256").update(readFileSync(join(here, `meter-pass${ext}`))).digest("hex");
  }
  return passId;
}

function readDisk(key: string): { bytes: Uint8Array; points: number } | undefined {
  try {
    const meta = JSON.parse(readFileSync(join(DISK_CACHE, `${key}.json`), "utf8")) as { points: number; sha256: string };
    const bytes = new Uint8Array(readFileSync(join(DISK_CACHE, `${key}.wasm`)));
    // A torn or edited file is a miss, never a wrong module.
    if (createHash("sha256").update(bytes).digest("hex") !== meta.sha256) return undefined;
    return { bytes, points: meta.points };
  } catch {
    return undefined;
  }
}

function writeDisk(key: string, done: { bytes: Uint8Array; points: number }): void {
  try {
    mkdirSync(DISK_CACHE, { recursive: true });
    const tmp = join(DISK_CACHE, `${key}.${process.pid}.tmp`);
    writeFileSync(tmp, done.bytes);
    renameSync(tmp, join(DISK_CACHE, `${key}.wasm`));
    const sha256 = createHash("sha256").update(done.bytes).digest("hex");
    writeFileSync(join(DISK_CACHE, `${key}.json`), JSON.stringify({ points: done.points, sha256 }));
  } catch {
    // A read-only install: meter again next time.
  }
}

/** Where a metered module is cached on disk (for tests). */
export function meterCacheFile(input: Uint8Array): string {
  return join(DISK_CACHE, `${meterCacheKey(input)}.wasm`);
}

function meterCacheKey(input: Uint8Array): string {
  return createHash("sha256").update(input).update(passIdentity()).digest("hex");
}

/**
 * Meter a driver module. The result computes exactly what the input does (the counters are only
 * written, never read, by the module). It is cached by the input's SHA-256 and the pass's own
 * identity, in memory and in build/meter-cache, so a command or a test suite that builds many
 * machines meters each module once and loads binaryen only when it must.
 */
export async function meterModule(input: Uint8Array, opts: { memoryCache?: boolean } = {}): Promise<MeteredModule> {
  const key = meterCacheKey(input);
  let done = (opts.memoryCache === false ? undefined : cache.get(key)) ?? readDisk(key);
  if (!done) {
    const { instrument } = await import("./meter-pass.js");
    done = instrument(input);
    writeDisk(key, done);
  }
  cache.set(key, done);
  const instructions = new WebAssembly.Global({ value: "i32", mutable: true }, 0);
  const bytes_ = new WebAssembly.Global({ value: "i32", mutable: true }, 0);
  return {
    bytes: done.bytes,
    instructions,
    bytes_,
    points: done.points,
    imports: { [METER_MODULE]: { [METER_INSTRUCTIONS]: instructions, [METER_BYTES]: bytes_ } },
  };
}

