// The MMIO bus: decodes a guest-physical address to a mapped region (a virtio-mmio window, ...).
// Guest input never throws here: a bad access is a `bus.fault` trace event, and a faulting read
// returns all ones, as an unclaimed bus cycle does on real hardware.
import type { Clock } from "../sim/clock.js";
import type { Trace } from "../report/trace.js";

export type Width = 1 | 2 | 4;

/** A device window on the bus; `off` is relative to the window base and `off + width <= size`. */
export interface MmioRegion {
  read(off: number, width: Width): number;
  write(off: number, width: Width, value: number): void;
}

interface Mapping {
  readonly name: string;
  readonly base: number;
  readonly size: number;
  readonly region: MmioRegion;
}

/** All ones for an access width (1, 2 or 4 bytes). */
export function widthMask(width: Width): number {
  return width === 4 ? 0xffff_ffff : (1 << (width * 8)) - 1;
}

export function isWidth(width: number): width is Width {
  return width === 1 || width === 2 || width === 4;
}

/** Addresses are 32-bit bus addresses (the HAL passes u32). */
const ADDR_LIMIT = 0x1_0000_0000;

export class MmioBus {
  private maps: Mapping[] = [];

  constructor(
    private readonly trace: Trace,
    private readonly clock: Clock,
  ) {}

  /** Map `region` at [base, base + size). Host configuration errors (overlaps, bad ranges) throw. */
  map(name: string, base: number, size: number, region: MmioRegion): void {
    if (!Number.isInteger(base) || !Number.isInteger(size) || base < 0 || size <= 0 || base + size > ADDR_LIMIT) {
      throw new RangeError(`mmio map ${JSON.stringify(name)}: bad range base=0x${base.toString(16)} size=0x${size.toString(16)}`);
    }
    for (const m of this.maps) {
      if (m.name === name) throw new Error(`mmio map: a region named ${JSON.stringify(name)} is already mapped`);
      if (base < m.base + m.size && m.base < base + size) {
        throw new Error(
          `mmio map ${JSON.stringify(name)} [0x${base.toString(16)}, 0x${(base + size).toString(16)}) overlaps ` +
            `${JSON.stringify(m.name)} [0x${m.base.toString(16)}, 0x${(m.base + m.size).toString(16)})`,
        );
      }
    }
    this.maps.push({ name, base, size, region });
    this.maps.sort((a, b) => a.base - b.base);
  }

  /** The mapped regions, in address order (for reports and device trees). */
  get regions(): readonly { name: string; base: number; size: number }[] {
    return this.maps.map(({ name, base, size }) => ({ name, base, size }));
  }

  read(addr: number, width: number): number {
    const m = this.decode(addr, width);
    if (m === undefined) {
      this.fault("r", addr, width);
      return isWidth(width) ? widthMask(width) : 0xffff_ffff;
    }
    return (m.region.read(addr - m.base, width as Width) & widthMask(width as Width)) >>> 0;
  }

  write(addr: number, width: number, value: number): void {
    const m = this.decode(addr, width);
    if (m === undefined) {
      this.fault("w", addr, width);
      return;
    }
    m.region.write(addr - m.base, width as Width, (value & widthMask(width as Width)) >>> 0);
  }

  /** The region wholly containing [addr, addr + width), or undefined (unmapped, straddling, bad width). */
  private decode(addr: number, width: number): Mapping | undefined {
    if (!isWidth(width) || !Number.isInteger(addr) || addr < 0 || addr + width > ADDR_LIMIT) return undefined;
    for (const m of this.maps) {
      if (addr < m.base) return undefined;
      if (addr < m.base + m.size) return addr + width <= m.base + m.size ? m : undefined;
    }
    return undefined;
  }

  private fault(op: "r" | "w", addr: number, width: number): void {
    // Non-integer guest values cannot reach here through the HAL; keep the event well-formed anyway.
    this.trace.emit({
      t: this.clock.now,
      k: "bus.fault",
      op,
      addr: Number.isSafeInteger(addr) ? addr : -1,
      w: Number.isSafeInteger(width) ? width : -1,
    });
  }
}
