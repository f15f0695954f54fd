// Guest memory: a Wasm linear memory seen by the device at guest-physical ramBase + offset.
// Every device access goes through `check` (DESIGN.md, Robustness: addresses inside RAM).

export const PAGE = 65536;

/** Default guest-physical base of RAM: non-zero, so a driver that hands out raw pointers fails visibly. */
export const DEFAULT_RAM_BASE = 0x4000_0000;

/** A device access direction: "r" the device reads, "w" it writes, "rw" both. */
export type DmaAccess = "r" | "w" | "rw";

/** IOMMU windows (host/virtio/iommu.ts): an IOVA range to a GPA, or -1 when blocked. */
export interface DmaTranslator {
  translate(iova: number, len: number, access: DmaAccess): number;
  /** The same lookup without recording anything (an observer's view, never the device's). */
  resolve?(iova: number, len: number): number;
  /** Called for each blocked access (the device core records it as RSVD-DRV-04). */
  onBlocked?: (b: { iova: number; len: number; access: DmaAccess; reason: string }) => void;
}

export class GuestMemory {
  /** Set: device accesses (`dma`) go through these windows (VIRTIO_F_ACCESS_PLATFORM). */
  iommu: DmaTranslator | undefined;
  /**
   * The platform's IOMMU, when the machine has one (`--iommu`): the device core switches `iommu`
   * to it at FEATURES_OK when VIRTIO_F_ACCESS_PLATFORM is negotiated, and back off at reset
   * (without the feature the device uses physical addresses, 6 "ACCESS_PLATFORM").
   */
  platformIommu: DmaTranslator | undefined;
  readonly memory: WebAssembly.Memory;
  readonly ramBase: number;
  readonly size: number;
  readonly u8: Uint8Array;
  readonly dv: DataView;

  /**
   * Wrap an existing memory (the driver's exported one) or create one of `pages` pages.
   * The memory must not grow afterwards: initial equals maximum, so these views stay valid.
   */
  constructor(opts: { memory?: WebAssembly.Memory; pages?: number; ramBase?: number }) {
    this.memory = opts.memory ?? new WebAssembly.Memory({ initial: opts.pages ?? 16, maximum: opts.pages ?? 16 });
    this.ramBase = opts.ramBase ?? DEFAULT_RAM_BASE;
    if (!Number.isInteger(this.ramBase) || this.ramBase < 0 || this.ramBase % PAGE !== 0) {
      throw new RangeError(`ramBase must be a non-negative multiple of 64 KiB, got ${this.ramBase}`);
    }
    this.u8 = new Uint8Array(this.memory.buffer);
    this.dv = new DataView(this.memory.buffer);
    this.size = this.u8.length;
  }

  /**
   * The offset in linear memory of guest-physical range [gpa, gpa + len), or -1 when any byte
   * of it falls outside RAM. `len` 0 is checked as a point.
   */
  check(gpa: number, len: number): number {
    const off = gpa - this.ramBase;
    if (!Number.isInteger(off) || off < 0 || len < 0 || off + len > this.size) return -1;
    return off;
  }

  /**
   * A device access to [addr, addr + len): through the IOMMU windows when set (addr is an IOVA),
   * else a guest-physical address as `check`. The linear offset, or -1 when blocked or outside RAM.
   */
  dma(addr: number, len: number, access: DmaAccess): number {
    if (this.iommu === undefined) return this.check(addr, len);
    const gpa = this.iommu.translate(addr, len, access);
    return gpa < 0 ? -1 : this.check(gpa, len);
  }

  /**
   * An observer's view of a device address (the conformance monitor): translated through the
   * windows when set, without recording a blocked access. The linear offset, or -1.
   */
  peek(addr: number, len: number): number {
    if (this.iommu?.resolve === undefined) return this.check(addr, len);
    const gpa = this.iommu.resolve(addr, len);
    return gpa < 0 ? -1 : this.check(gpa, len);
  }

  /** Guest-physical address of a linear-memory offset. */
  gpa(offset: number): number {
    return this.ramBase + offset;
  }

  // Unchecked little-endian accessors by linear offset; callers check ranges first.
  r16(off: number): number {
    return this.dv.getUint16(off, true);
  }
  r32(off: number): number {
    return this.dv.getUint32(off, true);
  }
  r64(off: number): number {
    // Addresses above 2^53 cannot be in RAM; they collapse to a value `check` refuses.
    const lo = this.dv.getUint32(off, true);
    const hi = this.dv.getUint32(off + 4, true);
    return hi >= 0x200000 ? Number.MAX_SAFE_INTEGER : hi * 0x1_0000_0000 + lo;
  }
  w16(off: number, v: number): void {
    this.dv.setUint16(off, v, true);
  }
  w32(off: number, v: number): void {
    this.dv.setUint32(off, v >>> 0, true);
  }
  w64(off: number, v: number): void {
    this.dv.setUint32(off, v % 0x1_0000_0000, true);
    this.dv.setUint32(off + 4, Math.floor(v / 0x1_0000_0000), true);
  }
}
