// The legacy queue registers shared by virtio-mmio Version 1 (4.2.4) and the legacy virtio-pci I/O
// BAR (4.1.4.10): QueueSel, QueueNum(Max), QueueAlign, GuestPageSize and QueuePFN, and the split
// queue a PFN builds in the legacy contiguous layout (2.7.2; layouts.md section 6).
import { F, LEGACY, VIRTQ } from "../gen/constants.js";
import { DeviceSplitQueue } from "./split-queue.js";
import type { VirtioCore } from "./core.js";
import { has } from "./features.js";

interface LegacyQueue {
  num: number;
  align: number;
  pfn: number;
}

/** ALIGN(x) of the legacy layout, as it has to be written: (x + a - 1) & ~(a - 1) (layouts.md 6). */
function alignUp(x: number, a: number): number {
  return Math.ceil(x / a) * a;
}

/** Guest-physical areas of a legacy ring at `base`: desc, avail right after it, used at the next `align`. */
export function legacyLayout(base: number, num: number, align: number): { desc: number; driver: number; device: number } {
  const driver = base + VIRTQ.DESC_SIZE * num;
  return { desc: base, driver, device: base + alignUp(VIRTQ.DESC_SIZE * num + 2 * (3 + num), align) };
}

export class LegacyQueueRegisters {
  sel = 0;
  /** GuestPageSize (MMIO v1); fixed at 4096 on PCI (QueueAddress is in 4096-byte units). */
  pageSize = 0;
  private regs: LegacyQueue[] = [];
  private _queues: (DeviceSplitQueue | undefined)[] = [];

  /** `fixedPage`: the PCI legacy header has no GuestPageSize or QueueAlign (both 4096). */
  constructor(
    private readonly core: VirtioCore,
    private readonly fixedPage: boolean,
  ) {
    this.reset();
  }

  get queues(): (DeviceSplitQueue | undefined)[] {
    return this._queues;
  }

  /** Reset: every QueuePFN back to 0 (4.2.4 Status), the sizes back to the maximum. */
  reset(): void {
    const n = this.core.device.numQueues;
    this.sel = 0;
    this.regs = [];
    this._queues = [];
    if (this.fixedPage) this.pageSize = LEGACY.PAGE_SIZE;
    for (let q = 0; q < n; q++) {
      this.regs.push({ num: this.core.device.queueSizeMax(q), align: LEGACY.QUEUE_ALIGN, pfn: 0 });
      this._queues.push(undefined);
    }
  }

  /** QueueNumMax of the selected queue (0: no such queue). */
  readNumMax(): number {
    return this.sel < this.regs.length ? this.core.device.queueSizeMax(this.sel) >>> 0 : 0;
  }

  /** The PCI legacy queue_size register reads the selected queue's size (4.1.4.10). */
  readNum(): number {
    return this.regs[this.sel]?.num ?? 0;
  }

  readPfn(): number {
    return this.regs[this.sel]?.pfn ?? 0;
  }

  writeNum(v: number): void {
    const r = this.regs[this.sel];
    if (r === undefined) return;
    const max = this.readNumMax();
    if (v === 0 || v > Math.min(max, VIRTQ.MAX_SIZE) || (v & (v - 1)) !== 0) {
      return this.core.violation("MMIO-DRV-14", `QueueNum ${v} for queue ${this.sel}: must be a power of 2 no larger than QueueNumMax ${max}`);
    }
    if (r.pfn !== 0) return this.core.violation("MMIO-DRV-15", `QueueNum of queue ${this.sel} written while QueuePFN is set`);
    r.num = v;
  }

  writeAlign(v: number): void {
    const r = this.regs[this.sel];
    if (r === undefined) return;
    if (v === 0 || (v & (v - 1)) !== 0) return this.core.violation("MMIO-DRV-14", `QueueAlign ${v} is not a power of 2`);
    r.align = v;
  }

  writePageSize(v: number): void {
    if (v === 0 || (v & (v - 1)) !== 0) return this.core.violation("MMIO-DRV-14", `GuestPageSize ${v} is not a power of 2`);
    this.pageSize = v;
  }

  /** QueuePFN: 0 stops the queue; otherwise the queue goes live at PFN * page size (4.2.4, 4.1.4.10). */
  writePfn(v: number): void {
    const q = this.sel;
    const r = this.regs[q];
    const c = this.core;
    if (r === undefined) return c.violation("MMIO-DRV-14", `QueuePFN for queue ${q}, which does not exist (QueueNumMax 0)`);
    if (v === 0) {
      if (r.pfn !== 0) {
        r.pfn = 0;
        this._queues[q] = undefined;
        c.trace.emit({ t: c.clock.now, k: "queue", dev: c.name, q, ready: false });
      }
      return;
    }
    if (r.pfn !== 0) return c.violation("MMIO-DRV-15", `QueuePFN of queue ${q} written while the queue is live`);
    if (this.pageSize === 0) return c.violation("MMIO-DRV-14", `QueuePFN of queue ${q} before GuestPageSize (4.2.4)`);
    r.pfn = v >>> 0;
    const areas = legacyLayout(r.pfn * this.pageSize, r.num, r.align);
    const feats = c.ringFeatures;
    const vq = new DeviceSplitQueue(c.mem, {
      index: q,
      size: r.num,
      descAddr: areas.desc,
      driverAddr: areas.driver,
      deviceAddr: areas.device,
      eventIdx: has(feats, F.EVENT_IDX),
      indirect: has(feats, F.INDIRECT_DESC),
    }, c.breachFn(), c.trace, c.clock, c.name);
    this._queues[q] = vq;
    c.trace.emit({ t: c.clock.now, k: "queue", dev: c.name, q, ready: true, size: r.num, desc: areas.desc, driver: areas.driver, device: areas.device });
    vq.validateLayout();
  }
}
