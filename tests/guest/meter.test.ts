// The metering pass: exact instruction counts at every import call of a hand-counted module,
// memory.fill bytes, and a metered driver that computes exactly what the unmetered one does.
import { readFileSync, writeFileSync } from "node:fs";
import wabtInit from "wabt";
import { describe, expect, it } from "vitest";
import { meterCacheFile, meterModule } from "../../host/guest/meter.js";
import { DEFAULT_DRIVER_PATH, Machine } from "../../host/machine.js";
import { runScenario } from "../../host/analysis/run.js";
import { parseScenario } from "../../host/analysis/scenario.js";
import { DEFAULT_PROFILE } from "../../host/sim/profile.js";

const WAT = `(module
 (import "hal" "stamp" (func $stamp (param i32)))
 (memory (export "memory") 1)
 (func $leaf (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
 (func (export "f") (param i32) (result i32) (local i32)
   (call $stamp (i32.const 0))
   (local.set 1 (i32.add (call $leaf (local.get 0)) (i32.const 2)))
   (block $b (loop $l
      (br_if $b (i32.eqz (local.get 0)))
      (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
      (call $stamp (local.get 0))
      (br $l)))
   (memory.fill (i32.const 0) (i32.const 7) (i32.const 100))
   (call $stamp (i32.const 9))
   (local.get 1)))`;

async function wat(text: string): Promise<Uint8Array> {
  const wabt = await wabtInit();
  return wabt.parseWat("t.wat", text, { bulk_memory: true }).toBinary({}).buffer;
}

describe("meterModule", () => {
  it("counts exactly the instructions executed before each import call (blocks split at calls)", async () => {
    const mm = await meterModule(await wat(WAT));
    const stamps: string[] = [];
    const instance = await WebAssembly.instantiate(new WebAssembly.Module(mm.bytes as BufferSource), {
      ...mm.imports,
      hal: { stamp: (v: number) => stamps.push(`${v}@${mm.instructions.value}/${mm.bytes_.value}`) },
    });
    const f = instance.exports.f as (n: number) => number;
    expect(f(2)).toBe(5);
    // By hand: const+call = 2; get+call+leaf(get,const,add)+const+add+set = 10; block, loop = 12;
    // each turn: get+eqz+br_if (3) + get+const+sub+set (4) + get+call (2), then br (1); the last
    // turn exits at br_if (3); fill = 3 consts + fill; const+call; then local.get.
    expect(stamps).toEqual(["0@2/0", "1@21/0", "0@31/0", "9@41/100"]);
    expect(mm.instructions.value).toBe(42);
  });

  it("meters the driver: imports are hal.* plus the two counters, and the result is cached", async () => {
    const bytes = readFileSync(DEFAULT_DRIVER_PATH);
    const a = await meterModule(bytes);
    const b = await meterModule(bytes);
    expect(a.bytes).toBe(b.bytes);
    expect(a.instructions).not.toBe(b.instructions); // fresh counters per machine
    const imports = WebAssembly.Module.imports(new WebAssembly.Module(a.bytes as BufferSource));
    expect(imports.filter((i) => i.module !== "hal").map((i) => `${i.module}.${i.name}:${i.kind}`)).toEqual(["meter.instructions:global", "meter.bytes:global"]);
  });

  it("a metered driver computes exactly what the unmetered one does: same trace but for instruction counts", async () => {
    // Instructions and bytes cost 0 ps, so guest time is exit costs only in both runs.
    const free = { ...DEFAULT_PROFILE, psPerInstruction: 0, copyPsPerByte: 0 };
    const s = parseScenario({ frames: 200, seed: 4, window: 8 });
    const metered = await runScenario(s, { profile: free, record: true });
    const plain = await runScenario(s, { profile: free, record: true, meter: false });
    const strip = (m: Machine) => m.trace.events.map(({ ins, ...e }) => JSON.stringify(e));
    expect(strip(metered.machine)).toEqual(strip(plain.machine));
    expect(metered.machine.trace.events.some((e) => e.k === "guest.exit" && Number(e.ins) > 0)).toBe(true);
    expect(plain.machine.trace.events.every((e) => e.k !== "guest.exit" || e.ins === 0)).toBe(true);
    expect(metered.summary.framesReceived).toBe(200);
  });

  it("metered and unmetered runs with real costs agree on every result except time", async () => {
    const s = parseScenario({ frames: 300, seed: 5 });
    const a = await runScenario(s, {});
    const b = await runScenario(s, { meter: false });
    const pick = (x: typeof a.summary) => [x.framesSent, x.framesReceived, x.bytesSent, x.bytesReceived, x.drops, x.mismatches, x.breaches, x.driverDead];
    expect(pick(a.summary)).toEqual([300, 300, b.summary.bytesSent, b.summary.bytesSent, 0, 0, 0, undefined]);
    expect(pick(b.summary)).toEqual(pick(a.summary));
    expect(a.summary.virtualTimeNs).toBeGreaterThan(b.summary.virtualTimeNs);
  });

  it("keeps metered modules in build/meter-cache and never trusts a damaged entry", async () => {
    const bytes = readFileSync(DEFAULT_DRIVER_PATH);
    const good = await meterModule(bytes);
    const file = meterCacheFile(bytes);
    expect(new Uint8Array(readFileSync(file))).toEqual(good.bytes);
    const damaged = new Uint8Array(good.bytes);
    damaged[damaged.length - 1] ^= 0xff;
    writeFileSync(file, damaged);
    const again = await meterModule(bytes, { memoryCache: false });
    expect(again.bytes).toEqual(good.bytes);
    expect(new Uint8Array(readFileSync(file))).toEqual(good.bytes);
  });
});
