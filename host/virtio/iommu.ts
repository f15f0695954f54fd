// DMA windows (DESIGN.md, Robustness; the IOMMU para-virtualization idea, VIRTIO_F_ACCESS_PLATFORM):
// the device reaches guest memory only through windows the driver mapped, with their permission;
// anything else is blocked, recorded, and touches nothing.
import type { DmaAccess, DmaTranslator } from "../guest/memory.js";

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
  private next = IOVA_BASE;

  /** Map [gpa, gpa + len) with `perm`; returns its IOVA (page-granular, never reused). */
  map(gpa: number, len: number, perm: DmaAccess): number {
    if (!(len > 0) || !Number.isSafeInteger(gpa) || gpa < 0) throw new RangeError(`dma_map: bad window gpa ${gpa} len ${len}`);
    const iova = this.next + (gpa % PAGE);
    this.next += Math.ceil((len + (gpa % PAGE)) / PAGE) * PAGE + PAGE; // a guard page between windows
    this.windows.push({ iova, gpa, len, perm });
    return iova;
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
