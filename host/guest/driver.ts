// Loads a guest driver module (build/driver.wasm, or any driver implementing docs/hal.md), checks
// that it imports only the HAL and exports the whole driver ABI, binds the HAL to the host's
// handlers and returns typed entry points.
import {
  ABI,
  ABI_BROKEN,
  ABI_ERRNO,
  ABI_STATE,
  ABI_STATS,
  ABI_TRANSPORT,
  ABI_WORK,
  HAL_BARRIER,
  LOG,
  LOG_LEVEL,
  PANIC,
} from "../gen/constants.js";

export { ABI, ABI_BROKEN, ABI_ERRNO, ABI_STATE, ABI_STATS, ABI_TRANSPORT, ABI_WORK, HAL_BARRIER, LOG, LOG_LEVEL, PANIC };

/** What the host provides to the driver: one handler per HAL import (docs/hal.md). */
export interface HalHandlers {
  mmioRead(addr: number, width: 1 | 2 | 4): number;
  mmioWrite(addr: number, width: 1 | 2 | 4, value: number): void;
  ioIn(port: number, width: 1 | 2 | 4): number;
  ioOut(port: number, width: 1 | 2 | 4, value: number): void;
  /** HAL_BARRIER.MB (0), RMB (1), WMB (2). */
  barrier(kind: number): void;
  irqSave(): number;
  irqRestore(state: number): void;
  eoi(line: number): void;
  nowNs(): bigint;
  /** A received frame at linear offset ptr; the bytes are valid only during the call. */
  netInput(dev: number, ptr: number, len: number): void;
  linkChanged(dev: number, up: boolean): void;
  log(level: number, code: number, a: number, b: number): void;
  /** Must throw (a DriverPanic); if it returns, the loader throws one. */
  panic(code: number): never;
  /**
   * hal.dma_map (ABI 2): map [gpa, gpa + len) for the device with HAL_DMA perm bits; the IOVA, or
   * HAL_DMA.FAILED. Optional: a host without it maps identity (the gpa comes back unchanged).
   */
  dmaMap?(gpa: number, len: number, perm: number): number;
}

/** A driver called hal.panic: recorded by the host, never a crash of the simulator. */
export class DriverPanic extends Error {
  readonly code: number;
  constructor(code: number, message?: string) {
    super(message ?? `driver panic, code ${code}${code === PANIC.ABORT ? " (ABORT: a runtime check failed)" : ""}`);
    this.name = "DriverPanic";
    this.code = code;
  }
}

/** The HAL imports with their Wasm signatures ("params -> results"), module "hal". */
export const HAL_IMPORTS = {
  mmio_read8: "i32 -> i32",
  mmio_read16: "i32 -> i32",
  mmio_read32: "i32 -> i32",
  mmio_write8: "i32 i32 -> ",
  mmio_write16: "i32 i32 -> ",
  mmio_write32: "i32 i32 -> ",
  io_in8: "i32 -> i32",
  io_in16: "i32 -> i32",
  io_in32: "i32 -> i32",
  io_out8: "i32 i32 -> ",
  io_out16: "i32 i32 -> ",
  io_out32: "i32 i32 -> ",
  barrier: "i32 -> ",
  irq_save: " -> i32",
  irq_restore: "i32 -> ",
  eoi: "i32 -> ",
  now_ns: " -> i64",
  net_input: "i32 i32 i32 -> ",
  link_changed: "i32 i32 -> ",
  log: "i32 i32 i32 i32 -> ",
  panic: "i32 -> ",
  dma_map: "i32 i32 i32 -> i32",
} as const;
export type HalImportName = keyof typeof HAL_IMPORTS;

/** The driver ABI exports with their Wasm signatures; plus the memory export "memory". */
export const DRIVER_EXPORTS = {
  attach: "i32 i32 i32 i32 i32 -> i32",
  isr: "i32 i32 -> i32",
  poll: "i32 i32 i32 -> i32",
  transmit: "i32 i32 i32 i32 -> i32",
  tick: "i32 -> i32",
  stats: "i32 i32 -> i32",
  detach: "i32 -> i32",
  mem_base: " -> i32",
  mem_size: " -> i32",
  abi_version: " -> i32",
  io_buffer: " -> i32",
  io_buffer_size: " -> i32",
  heap_top: " -> i32",
} as const;
export type DriverExportName = keyof typeof DRIVER_EXPORTS;

/** Names of the stats() fields in index order (ABI_STATS without COUNT). */
export const STATS_FIELDS: readonly string[] = Object.entries(ABI_STATS)
  .filter(([name]) => name !== "COUNT")
  .sort((a, b) => a[1] - b[1])
  .map(([name]) => name);

export type DriverStats = { [K in Exclude<keyof typeof ABI_STATS, "COUNT">]: number };

/** "EIO" for -5 (or 5); undefined when the value is not a driver errno. */
export function errnoName(value: number): string | undefined {
  const n = Math.abs(value);
  return Object.entries(ABI_ERRNO).find(([, v]) => v === n)?.[0];
}

/** Typed entry points of an instantiated driver. Handles and pointers are plain numbers (u32). */
export interface DriverInstance {
  readonly memory: WebAssembly.Memory;
  readonly instance: WebAssembly.Instance;
  /** Returns a device handle >= 0 or -errno. */
  attach(transport: number, base: number, ramBase: number, seed: number, rxBufSize?: number): number;
  /** Returns the ABI_WORK mask (u32). */
  isr(dev: number, vector: number): number;
  poll(dev: number, queue: number, budget: number): number;
  transmit(dev: number, queue: number, ptr: number, len: number): number;
  tick(dev: number): number;
  stats(dev: number, ptr: number): number;
  detach(dev: number): number;
  mem_base(): number;
  mem_size(): number;
  abi_version(): number;
  io_buffer(): number;
  io_buffer_size(): number;
  heap_top(): number;
  /** stats() into io_buffer, copied out; -errno when stats() refused. Clobbers io_buffer. */
  readStats(dev: number): DriverStats | number;
  /** Copy `frame` into io_buffer and transmit it from there. */
  transmitBytes(dev: number, queue: number, frame: Uint8Array): number;
}

export interface LoadOptions {
  /** Extra import modules (for instance one added by an instrumentation pass); their imports are allowed. */
  imports?: WebAssembly.Imports;
}

type Exports = Record<DriverExportName, (...args: number[]) => number> & { memory: WebAssembly.Memory };

/**
 * Check the module's imports and exports (an Error lists every import outside the HAL and every
 * missing export), bind the HAL to `hal`, and instantiate.
 */
export async function loadDriver(bytes: Uint8Array | Buffer, hal: HalHandlers, options: LoadOptions = {}): Promise<DriverInstance> {
  const module = await WebAssembly.compile(bytes as BufferSource);
  const extra = options.imports ?? {};
  const problems: string[] = [];
  for (const imp of WebAssembly.Module.imports(module)) {
    const name = `${imp.module}.${imp.name}`;
    if (imp.module === "hal") {
      if (!(imp.name in HAL_IMPORTS)) problems.push(`import ${name} is not a HAL function`);
      else if (imp.kind !== "function") problems.push(`import ${name} must be a function, is a ${imp.kind}`);
    } else if (!(imp.module in extra)) {
      problems.push(`import ${name} (${imp.kind}) is outside module "hal"`);
    }
  }
  const exported = new Map(WebAssembly.Module.exports(module).map((e) => [e.name, e.kind]));
  for (const name of Object.keys(DRIVER_EXPORTS)) {
    const kind = exported.get(name);
    if (kind === undefined) problems.push(`missing export ${name}`);
    else if (kind !== "function") problems.push(`export ${name} must be a function, is a ${kind}`);
  }
  if (exported.get("memory") !== "memory") problems.push("missing export memory (a memory)");
  if (problems.length > 0) {
    throw new Error(`loadDriver: module refused:\n  ${problems.join("\n  ")}`);
  }

  const u32 = (v: number) => v >>> 0;
  const halImports: Record<HalImportName, (...args: number[]) => number | bigint | void> = {
    mmio_read8: (addr) => u32(hal.mmioRead(u32(addr), 1)),
    mmio_read16: (addr) => u32(hal.mmioRead(u32(addr), 2)),
    mmio_read32: (addr) => u32(hal.mmioRead(u32(addr), 4)),
    mmio_write8: (addr, v) => hal.mmioWrite(u32(addr), 1, u32(v) & 0xff),
    mmio_write16: (addr, v) => hal.mmioWrite(u32(addr), 2, u32(v) & 0xffff),
    mmio_write32: (addr, v) => hal.mmioWrite(u32(addr), 4, u32(v)),
    io_in8: (port) => u32(hal.ioIn(u32(port), 1)),
    io_in16: (port) => u32(hal.ioIn(u32(port), 2)),
    io_in32: (port) => u32(hal.ioIn(u32(port), 4)),
    io_out8: (port, v) => hal.ioOut(u32(port), 1, u32(v) & 0xff),
    io_out16: (port, v) => hal.ioOut(u32(port), 2, u32(v) & 0xffff),
    io_out32: (port, v) => hal.ioOut(u32(port), 4, u32(v)),
    barrier: (kind) => hal.barrier(u32(kind)),
    irq_save: () => u32(hal.irqSave()),
    irq_restore: (state) => hal.irqRestore(u32(state)),
    eoi: (line) => hal.eoi(u32(line)),
    now_ns: () => BigInt.asUintN(64, hal.nowNs()),
    net_input: (dev, ptr, len) => hal.netInput(u32(dev), u32(ptr), u32(len)),
    link_changed: (dev, up) => hal.linkChanged(u32(dev), up !== 0),
    log: (level, code, a, b) => hal.log(u32(level), u32(code), u32(a), u32(b)),
    panic: (code) => {
      hal.panic(u32(code));
      throw new DriverPanic(u32(code));
    },
    // Optional for a module (one that never negotiates ACCESS_PLATFORM need not import it).
    dma_map: (gpa, len, perm) => (hal.dmaMap ? u32(hal.dmaMap(u32(gpa), u32(len), u32(perm))) : u32(gpa)),
  };
  const instance = await WebAssembly.instantiate(module, { ...extra, hal: halImports });
  const x = instance.exports as unknown as Exports;
  const memory = x.memory;

  const drv: DriverInstance = {
    memory,
    instance,
    attach: (transport, base, ramBase, seed, rxBufSize = 0) => x.attach(transport, base, ramBase, seed, rxBufSize) | 0,
    isr: (dev, vector) => u32(x.isr(dev, vector)),
    poll: (dev, queue, budget) => x.poll(dev, queue, budget) | 0,
    transmit: (dev, queue, ptr, len) => x.transmit(dev, queue, ptr, len) | 0,
    tick: (dev) => x.tick(dev) | 0,
    stats: (dev, ptr) => x.stats(dev, ptr) | 0,
    detach: (dev) => x.detach(dev) | 0,
    mem_base: () => u32(x.mem_base()),
    mem_size: () => u32(x.mem_size()),
    abi_version: () => u32(x.abi_version()),
    io_buffer: () => u32(x.io_buffer()),
    io_buffer_size: () => u32(x.io_buffer_size()),
    heap_top: () => u32(x.heap_top()),
    readStats(dev) {
      const ptr = drv.io_buffer();
      const r = drv.stats(dev, ptr);
      if (r < 0) return r;
      const words = new Uint32Array(memory.buffer.slice(ptr, ptr + ABI_STATS.COUNT * 4));
      const out: Record<string, number> = {};
      STATS_FIELDS.forEach((name, i) => (out[name] = words[i]!));
      return out as DriverStats;
    },
    transmitBytes(dev, queue, frame) {
      const ptr = drv.io_buffer();
      if (frame.length > drv.io_buffer_size()) return -ABI_ERRNO.EMSGSIZE;
      new Uint8Array(memory.buffer, ptr, frame.length).set(frame);
      return drv.transmit(dev, queue, ptr, frame.length);
    },
  };
  return drv;
}
