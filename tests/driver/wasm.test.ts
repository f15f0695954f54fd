// Tests of build/driver.wasm as a module (valid, imports only the HAL, the documented exports and
// signatures, fixed memory) and of the loader's refusals.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import binaryen from "binaryen";
import wabtInit from "wabt";
import { beforeAll, describe, expect, it } from "vitest";
import {
  ABI,
  ABI_BROKEN,
  ABI_ERRNO,
  ABI_STATE,
  ABI_STATS,
  ABI_WORK,
  F,
  INT,
  MMIO,
  MMIO_VAL,
  NET_F,
  STATUS,
} from "../../host/gen/constants.js";
import {
  DRIVER_EXPORTS,
  DriverPanic,
  HAL_IMPORTS,
  STATS_FIELDS,
  loadDriver,
  type DriverInstance,
  type DriverStats,
  type HalHandlers,
} from "../../host/guest/driver.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const WASM = join(root, "build/driver.wasm");
const HAL_DOC = join(root, "docs/hal.md");
let bytes: Uint8Array;

beforeAll(() => {
  if (!existsSync(WASM)) execFileSync(process.execPath, [join(root, "host/gen/build-driver.mjs")], { stdio: "inherit" });
  bytes = new Uint8Array(readFileSync(WASM));
});

// ---- Module-level checks ------------------------------------------------------------------------

function typeName(t: number): string {
  if (t === binaryen.i32) return "i32";
  if (t === binaryen.i64) return "i64";
  if (t === binaryen.f32) return "f32";
  if (t === binaryen.f64) return "f64";
  return `type${t}`;
}
function signature(fn: binaryen.FunctionInfo): string {
  const params = binaryen.expandType(fn.params).map(typeName).join(" ");
  const results = binaryen.expandType(fn.results).map(typeName).join(" ");
  return `${params} -> ${results}`;
}

interface ModuleShape {
  imports: Map<string, string>;
  exports: Map<string, string>;
  memory: { initial: number; max?: number } | undefined;
}

function shape(wasm: Uint8Array): ModuleShape {
  const m = binaryen.readBinary(wasm);
  try {
    const imports = new Map<string, string>();
    for (let i = 0; i < m.getNumFunctions(); i++) {
      const fn = binaryen.getFunctionInfo(m.getFunctionByIndex(i));
      if (fn.module) imports.set(`${fn.module}.${fn.base}`, signature(fn));
    }
    const exports = new Map<string, string>();
    let memory: ModuleShape["memory"];
    for (let i = 0; i < m.getNumExports(); i++) {
      const e = binaryen.getExportInfo(m.getExportByIndex(i));
      if (e.kind === binaryen.ExternalFunction) exports.set(e.name, signature(binaryen.getFunctionInfo(m.getFunction(e.value))));
      else if (e.kind === binaryen.ExternalMemory) {
        exports.set(e.name, "memory");
        const info = m.getMemoryInfo(e.value);
        memory = { initial: info.initial, max: info.max };
      } else exports.set(e.name, `kind${e.kind}`);
    }
    return { imports, exports, memory };
  } finally {
    m.dispose();
  }
}

/** The import table of docs/hal.md: name -> "in build/driver.wasm" (yes/no). */
function documentedImports(): Map<string, boolean> {
  const doc = readFileSync(HAL_DOC, "utf8");
  const section = doc.slice(doc.indexOf("## Imports"), doc.indexOf("## Exports"));
  const rows = new Map<string, boolean>();
  for (const line of section.split("\n")) {
    const m = /^\| `([a-z0-9_]+)` \|.*\| (yes|no) \|$/.exec(line);
    if (m) rows.set(m[1]!, m[2] === "yes");
  }
  return rows;
}

describe("build/driver.wasm", () => {
  it("validates with wabt", async () => {
    const wabt = await wabtInit();
    const mod = wabt.readWasm(bytes, {
      readDebugNames: false,
      bulk_memory: true,
      mutable_globals: true,
      sign_extension: true,
      sat_float_to_int: true,
    });
    try {
      expect(() => mod.validate()).not.toThrow();
    } finally {
      mod.destroy();
    }
  });

  it("imports only hal.* with the documented signatures, exactly the documented list", () => {
    const { imports } = shape(bytes);
    for (const [name, sig] of imports) {
      expect(name.startsWith("hal."), `import ${name}`).toBe(true);
      const base = name.slice(4) as keyof typeof HAL_IMPORTS;
      expect(HAL_IMPORTS[base], `import ${name} is a HAL function`).toBeDefined();
      expect(sig, `signature of ${name}`).toBe(HAL_IMPORTS[base]);
    }
    const documented = documentedImports();
    expect([...documented.keys()].sort()).toEqual(Object.keys(HAL_IMPORTS).sort());
    const used = [...documented].filter(([, yes]) => yes).map(([n]) => `hal.${n}`).sort();
    expect([...imports.keys()].sort()).toEqual(used);
  });

  it("exports the whole ABI with the documented signatures, and a fixed memory", () => {
    const { exports, memory } = shape(bytes);
    for (const [name, sig] of Object.entries(DRIVER_EXPORTS)) expect(exports.get(name), `export ${name}`).toBe(sig);
    expect(exports.get("memory")).toBe("memory");
    expect([...exports.keys()].sort()).toEqual([...Object.keys(DRIVER_EXPORTS), "memory"].sort());
    expect(memory).toEqual({ initial: ABI.MEMORY_PAGES, max: ABI.MEMORY_PAGES });
  });

  it("documents every errno, work bit, state and stats field in the C header", () => {
    const doc = readFileSync(HAL_DOC, "utf8");
    for (const [n, v] of Object.entries(ABI_ERRNO)) expect(doc).toContain(`VRT_${n} = ${v}`);
    for (const [n, v] of Object.entries(ABI_WORK)) expect(doc).toContain(`VRT_WORK_${n} = ${v}`);
    for (const [n, v] of Object.entries(ABI_STATE)) expect(doc).toContain(`VRT_STATE_${n} = ${v}`);
    for (const [n, v] of Object.entries(ABI_BROKEN)) expect(doc).toContain(`VRT_BROKEN_${n} = ${v}`);
    for (const [n, v] of Object.entries(ABI_STATS)) expect(doc).toContain(`VRT_STATS_${n} = ${v}`);
    for (const n of Object.keys(HAL_IMPORTS)) expect(doc).toContain(`VRT_HAL_IMPORT(${n})`);
    for (const n of Object.keys(DRIVER_EXPORTS)) expect(doc).toContain(`VRT_EXPORT(${n})`);
    expect(STATS_FIELDS.length).toBe(ABI_STATS.COUNT);
  });
});

// ---- Loader -------------------------------------------------------------------------------------

function nullHal(): HalHandlers & { log_: number[][] } {
  const log_: number[][] = [];
  return {
    log_,
    mmioRead: () => 0,
    mmioWrite: () => {},
    ioIn: () => 0xffffffff,
    ioOut: () => {},
    barrier: () => {},
    irqSave: () => 0,
    irqRestore: () => {},
    eoi: () => {},
    nowNs: () => 0n,
    netInput: () => {},
    linkChanged: () => {},
    log: (level, code, a, b) => log_.push([level, code, a, b]),
    panic: (code) => {
      throw new DriverPanic(code);
    },
  };
}

async function wat(text: string): Promise<Uint8Array> {
  const wabt = await wabtInit();
  const mod = wabt.parseWat("t.wat", text);
  try {
    return mod.toBinary({}).buffer;
  } finally {
    mod.destroy();
  }
}

describe("loadDriver", () => {
  it("refuses a module with an import outside hal, naming it", async () => {
    const exportsWat = Object.entries(DRIVER_EXPORTS)
      .map(([n, sig]) => {
        const [p, r] = sig.split("->").map((s) => s.trim());
        const params = p ? `(param ${p})` : "";
        const result = r ? `(result ${r}) (${r}.const 0)` : "";
        return `(func (export "${n}") ${params} ${result})`;
      })
      .join("\n");
    const bad = await wat(`(module
      (import "env" "abort" (func (param i32 i32 i32 i32)))
      (import "hal" "log" (func (param i32 i32 i32 i32)))
      (memory (export "memory") 1 1)
      ${exportsWat})`);
    await expect(loadDriver(bad, nullHal())).rejects.toThrow(/env\.abort/);
    await expect(loadDriver(bad, nullHal())).rejects.not.toThrow(/hal\.log/);
  });

  it("refuses a module lacking exports, listing them", async () => {
    const bad = await wat(`(module (import "hal" "no_such" (func)) (memory (export "memory") 1 1) (func (export "attach") (param i32 i32 i32 i32 i32) (result i32) (i32.const 0)))`);
    const err = await loadDriver(bad, nullHal()).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    const msg = (err as Error).message;
    expect(msg).toMatch(/hal\.no_such is not a HAL function/);
    for (const n of ["isr", "poll", "transmit", "tick", "stats", "detach", "mem_base", "heap_top"]) expect(msg).toContain(`missing export ${n}`);
    expect(msg).not.toContain("missing export attach");
  });

  it("loads the driver: abi_version, fixed region, io_buffer", async () => {
    const d = await loadDriver(bytes, nullHal());
    expect(d.abi_version()).toBe(ABI.VERSION);
    expect(d.memory.buffer.byteLength).toBe(ABI.MEMORY_PAGES * 65536);
    expect(d.mem_size()).toBe(ABI.MAX_DEVICES * ABI.DEV_REGION_SIZE);
    expect(d.mem_base() % 4096).toBe(0);
    expect(d.mem_base() + d.mem_size()).toBeLessThanOrEqual(d.memory.buffer.byteLength);
    expect(d.io_buffer_size()).toBeGreaterThanOrEqual(65536);
    const io = d.io_buffer();
    expect(io + d.io_buffer_size() <= d.mem_base() || io >= d.mem_base() + d.mem_size()).toBe(true);
    expect(d.heap_top()).toBeGreaterThanOrEqual(d.mem_base() + d.mem_size());
    expect(d.heap_top()).toBeLessThanOrEqual(d.memory.buffer.byteLength);
  });
});
