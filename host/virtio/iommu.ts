// DMA windows (DESIGN.md, Robustness; the IOMMU para-virtualization idea, VIRTIO_F_ACCESS_PLATFORM):
// the device reaches guest memory only through windows the driver mapped, with their permission;
// anything else is blocked, recorded, and touches nothing.
import { F } from "../gen/constants.js";
import type { DmaAccess, DmaTranslator, GuestMemory } from "../guest/memory.js";
import type { Trace } from "../report/trace.js";
import { has } from "./features.js";

/** Where IOVAs start: above 4 GiB, outside guest RAM, so a driver that hands out GPAs is caught. */
export const IOVA_BASE = 0x1_0000_0000;
const PAGE = 4096;

export interface DmaWindow {
  iova: number;
  gpa: number;
  len: number;
  perm: DmaAccess;
}

export interface BlockedAccess {
  iova: number;
  len: number;
  access: DmaAccess;
  reason: string;
}

export class Iommu implements DmaTranslator {
  readonly windows: DmaWindow[] = [];
  readonly blocked: BlockedAccess[] = [];
  /** Called for each blocked access (the Machine traces it). */
  onBlocked: (b: BlockedAccess) => void = () => {};
  private next: number;
  /** First IOVA past the space handed out (`map` fails beyond it). */
  readonly limit: number;

  /**
   * `base`: where IOVAs start (page-aligned; default IOVA_BASE). The Machine puts them below 4 GiB
   * but outside RAM, since `hal.dma_map` returns a u32 (docs/hal.md); `limit` bounds the space.
   */
  constructor(o: { base?: number; limit?: number } = {}) {
    this.next = o.base ?? IOVA_BASE;
    this.limit = o.limit ?? Number.MAX_SAFE_INTEGER;
    if (this.next % PAGE !== 0 || this.next < 0) throw new RangeError(`IOVA base ${this.next} is not page-aligned`);
  }

  /** Map [gpa, gpa + len) with `perm`; returns its IOVA (page-granular, never reused). */
  map(gpa: number, len: number, perm: DmaAccess): number {
    if (!(len > 0) || !Number.isSafeInteger(gpa) || gpa < 0) throw new RangeError(`dma_map: bad window gpa ${gpa} len ${len}`);
    const iova = this.next + (gpa % PAGE);
    const next = this.next + Math.ceil((len + (gpa % PAGE)) / PAGE) * PAGE + PAGE; // a guard page between windows
    if (next > this.limit) throw new RangeError(`dma_map: IOVA space exhausted (${this.windows.length} windows)`);
    this.next = next;
    this.windows.push({ iova, gpa, len, perm });
    return iova;
  }

  /** The GPA of [iova, iova + len) when one window holds all of it, else -1; nothing recorded (the monitor's view). */
  resolve(iova: number, len: number): number {
    for (const w of this.windows) if (iova >= w.iova && iova + len <= w.iova + w.len) return w.gpa + (iova - w.iova);
    return -1;
  }

  /** The GPA of [iova, iova + len) when one window holds all of it with `access` allowed, else -1 (recorded). */
  translate(iova: number, len: number, access: DmaAccess): number {
    for (const w of this.windows) {
      if (iova >= w.iova && iova + len <= w.iova + w.len) {
        if (w.perm === "rw" || w.perm === access) return w.gpa + (iova - w.iova);
        return this.block(iova, len, access, `window 0x${w.iova.toString(16)} is ${w.perm}-only`);
      }
    }
    return this.block(iova, len, access, "no window holds it");
  }

  private block(iova: number, len: number, access: DmaAccess, reason: string): number {
    const b = { iova, len, access, reason };
    this.blocked.push(b);
    this.onBlocked(b);
    return -1;
  }
}

/**
 * A transport at FEATURES_OK (6, ACCESS_PLATFORM): with an IOMMU on the platform
 * (`mem.platformIommu`) and the feature negotiated, every device access goes through the windows
 * the driver mapped (hal.dma_map); a blocked one is traced (`dma.blocked`) and reported as
 * RSVD-DRV-04 (the driver handed the device a bus address it did not program; `violation` drops
 * it after a reset). Without the feature the device uses physical addresses (RSVD-DRV-05).
 */
export function enforceWindows(mem: GuestMemory, negotiated: bigint, o: { trace: Trace; now: () => number; name: string; violation: (detail: string) => void }): void {
  const iommu = mem.platformIommu;
  if (iommu === undefined) return;
  mem.iommu = has(negotiated, F.ACCESS_PLATFORM) ? iommu : undefined;
  iommu.onBlocked = (b) => {
    o.trace.emit({ t: o.now(), k: "dma.blocked", dev: o.name, iova: b.iova, len: b.len, access: b.access, reason: b.reason });
    o.violation(`device ${b.access === "w" ? "write" : "read"} of ${b.len} bytes at IOVA 0x${b.iova.toString(16)}: ${b.reason}`);
  };
}

/** A transport's reset: the windows stop applying (the IOMMU keeps them; the driver's mappings outlive a device reset). */
export function windowsOff(mem: GuestMemory): void {
  if (mem.platformIommu !== undefined) mem.iommu = undefined;
}
