// The hostile-device mode of the virtio-net device model: seeded faults in what the device shows
// the driver (used ring, num_buffers, ConfigGeneration, interrupts, Status), breaking the device
// clauses on purpose so the driver's hardening (DESIGN.md, Robustness) can be tested.
import { NET_HDR, NET_Q, VIRTQ, VIRTQ_DESC_F } from "../gen/constants.js";
import type { GuestMemory } from "../guest/memory.js";
import type { Rng } from "../sim/rng.js";
import type { VirtioCore } from "../virtio/core.js";
import type { DeviceContext } from "../virtio/device.js";
import type { QueueFaults } from "../virtio/split-queue.js";
import type { VirtioNetDevice } from "./net.js";

/** Every fault, with the device clause it breaks. */
export const FAULTS = {
  /** A used id >= QueueSize (SPLIT-DEV-13: used.ring[].id is the head of a chain the driver made available). */
  "id-range": "SPLIT-DEV-13",
  /** A used id that is not the head of an outstanding chain. */
  "id-not-head": "SPLIT-DEV-13",
  /** The previous used id again: a buffer returned twice. */
  "id-duplicate": "SPLIT-DEV-13",
  /** used.len beyond the writable bytes the driver posted (SPLIT-DEV-14). */
  "len-overflow": "SPLIT-DEV-14",
  /** used.idx published past the elements written, more than QueueSize ahead (2.7.8). */
  "idx-jump": "SPLIT-DEV-13",
  /** num_buffers not the number of buffers used (NET-RX-DEV-02). */
  "num-buffers": "NET-RX-DEV-02",
  /** ConfigGeneration different on every read (CFG-DEV-01 read atomically). */
  generation: "CFG-DEV-01",
  /** A used-buffer or configuration interrupt with nothing behind it. */
  "spurious-irq": "SPLIT-DEV-09",
  /** DEVICE_NEEDS_RESET set in the middle of traffic (a device may; the driver must recover, STATUS-DEV-02). */
  "needs-reset": "STATUS-DEV-02",
  /** Transmit chains consumed and never returned to the used ring (NET-TX-DEV-01). */
  "tx-never": "NET-TX-DEV-01",
} as const;

export type Fault = keyof typeof FAULTS;
export const FAULT_NAMES = Object.keys(FAULTS) as Fault[];

/** Faults after which the driver cannot go on with the queue: it must report broken or NEEDS_RESET (or have re-initialized). */
export const FATAL: ReadonlySet<Fault> = new Set<Fault>(["id-range", "len-overflow", "idx-jump", "needs-reset"]);

/** Faults that act on the next used element of a queue. */
const ELEMENT: ReadonlySet<Fault> = new Set<Fault>(["id-range", "id-not-head", "id-duplicate", "len-overflow", "num-buffers"]);

export class HostileDevice {
  /** Faults armed or performed, by name. */
  readonly injected = Object.fromEntries(FAULT_NAMES.map((f) => [f, 0])) as Record<Fault, number>;
  /** Faults that reached the driver (an armed element fault fires at the next used element). */
  readonly fired = Object.fromEntries(FAULT_NAMES.map((f) => [f, 0])) as Record<Fault, number>;
  /** The fault that fired in the current step, if any (cleared by `endStep`). */
  firedNow: Fault | undefined;
  private armed: { fault: Fault; q: number } | undefined;
  private genLie = false;
  private genCount = 0;
  private txNever = false;
  /** used.idx offset per queue once an idx-jump fired: the device keeps lying until reset or clear. */
  private readonly jump = [0, 0];
  private ctx: DeviceContext | undefined;
  private readonly lastHead = [-1, -1];
  private readonly hooks: QueueFaults = {
    used: (q, head, len) => this.onUsed(q, head, len),
    publish: (q, idx) => this.onPublish(q, idx),
  };

  constructor(private readonly net: VirtioNetDevice, private readonly core: VirtioCore, private readonly mem: GuestMemory, private readonly rng: Rng) {
    net.faults = {
      generation: (g) => (this.genLie ? (g + ++this.genCount) & 0xff : g),
      activated: (ctx) => {
        this.ctx = ctx;
        this.jump.fill(0);
        for (const q of ctx.queues) if (q) q.faults = this.hooks;
      },
    };
  }

  /** Inject `fault`: element and index faults are armed for the next used element, the rest act now. */
  inject(fault: Fault): void {
    this.injected[fault]++;
    const q = fault === "num-buffers" ? NET_Q.RX0 : fault === "tx-never" ? NET_Q.TX0 : this.rng.int(0, 1);
    switch (fault) {
      case "generation":
        this.genLie = true;
        return this.fire(fault);
      case "tx-never":
        this.txNever = true;
        return;
      case "spurious-irq":
        if (!this.ctx || this.ctx.halted) return;
        if (this.rng.int(0, 2) === 0) this.ctx.notifyConfig();
        else this.ctx.notifyUsed(q);
        return this.fire(fault);
      case "needs-reset":
        this.core.needsReset();
        return this.fire(fault);
      default:
        this.armed = { fault, q };
    }
  }

  /** End of one step: the ConfigGeneration lie and an unfired armed fault stop. */
  endStep(): void {
    this.genLie = false;
    this.armed = undefined;
    this.firedNow = undefined;
  }

  /** Back to an honest device (tx completions resume). */
  clear(): void {
    this.endStep();
    this.txNever = false;
    this.jump.fill(0);
  }

  private fire(fault: Fault): void {
    this.fired[fault]++;
    this.firedNow = fault;
  }

  private onUsed(q: number, head: number, len: number): [number, number] | null {
    const prev = this.lastHead[q]!;
    this.lastHead[q] = head;
    if (q === NET_Q.TX0 && this.txNever) {
      this.fire("tx-never");
      return null;
    }
    const a = this.armed;
    if (!a || a.q !== q || !ELEMENT.has(a.fault)) return [head, len];
    this.armed = undefined;
    const size = this.ctx?.queues[q]?.cfg.size ?? 1;
    this.fire(a.fault);
    switch (a.fault) {
      case "id-range":
        return [size + this.rng.int(0, 0xfffff), len];
      case "id-not-head":
        return [size > 1 ? (head + this.rng.int(1, size - 1)) % size : head, len];
      case "id-duplicate":
        return [prev >= 0 ? prev : head, len];
      case "len-overflow":
        return [head, this.chainLen(q, head) + this.rng.int(1, 70_000)];
      case "num-buffers":
        this.lieNumBuffers(q, head);
        return [head, len];
      default:
        return [head, len];
    }
  }

  private onPublish(q: number, idx: number): number {
    const a = this.armed;
    if (a && a.q === q && a.fault === "idx-jump") {
      this.armed = undefined;
      this.fire("idx-jump");
      this.jump[q] = (this.ctx?.queues[q]?.cfg.size ?? 1) + this.rng.int(1, 1000);
    }
    return idx + this.jump[q]!;
  }

  /** Total bytes of the (direct) chain at `head`, from the descriptor table. */
  private chainLen(q: number, head: number): number {
    const vq = this.ctx?.queues[q];
    if (!vq) return 0;
    const n = vq.cfg.size;
    const table = this.mem.check(vq.cfg.descAddr, VIRTQ.DESC_SIZE * n);
    if (table < 0) return 0;
    let total = 0;
    let i = head;
    for (let hops = 0; hops < n && i < n; hops++) {
      const d = table + VIRTQ.DESC_SIZE * i;
      total += this.mem.r32(d + 8);
      if ((this.mem.r16(d + 12) & VIRTQ_DESC_F.NEXT) === 0) break;
      i = this.mem.r16(d + 14);
    }
    return total;
  }

  /** Overwrite num_buffers in the header of the receive buffer at `head` with a wrong count. */
  private lieNumBuffers(q: number, head: number): void {
    const vq = this.ctx?.queues[q];
    if (!vq || head >= vq.cfg.size) return;
    const d = this.mem.check(vq.cfg.descAddr + VIRTQ.DESC_SIZE * head, VIRTQ.DESC_SIZE);
    if (d < 0) return;
    const hdr = this.mem.check(this.mem.r64(d), NET_HDR.SIZE);
    if (hdr < 0 || this.mem.r32(d + 8) < NET_HDR.SIZE) return;
    const lies = [0, 2, 3, vq.cfg.size + 1, 0xffff];
    this.mem.w16(hdr + NET_HDR.num_buffers, lies[this.rng.int(0, lies.length - 1)]!);
  }
}
