// The interrupt controller between devices and the one vCPU: numbered lines with level or edge
// semantics, per-line masking, acknowledge (the INTA cycle: pending -> in service, returns the
// line) and end-of-interrupt (hal.eoi). MSI-X messages arrive as edge lines numbered by the
// message data (x86: vector = data bits 7:0). Mode "pic8259" is the legacy PC path (INTx through
// the 8259 pair, rtems-pc386); "apic" the IOAPIC / local APIC path. The controller drives the
// CPU's interrupt input: high while any unmasked line is pending.
import { MSIX } from "../gen/constants.js";
import type { Trace } from "../report/trace.js";
import type { Clock } from "../sim/clock.js";
import { InterruptLine } from "./irq.js";

export type Trigger = "level" | "edge";
export type IntcMode = "apic" | "pic8259";

interface LineState {
  trigger: Trigger;
  masked: boolean;
  /** Level lines: the source's level. Edge lines: a latched edge not yet acknowledged. */
  asserted: boolean;
  inService: boolean;
}

/** x86 MSI address window: 0xFEEx_xxxx (the local APIC). */
const MSI_WINDOW_MASK = 0xfff0_0000;

export class InterruptController {
  /** The CPU's interrupt input (INTR): the Machine delivers while it is high. */
  readonly cpu: InterruptLine;
  private readonly lines = new Map<number, LineState>();

  constructor(
    readonly mode: IntcMode,
    private readonly trace: Trace,
    private readonly clock: Clock,
  ) {
    this.cpu = new InterruptLine("cpu", trace, clock);
  }

  /** Declare line `n`; a level line may follow a device's InterruptLine. */
  addLine(n: number, trigger: Trigger, source?: InterruptLine): void {
    if (this.lines.has(n)) throw new Error(`interrupt line ${n} declared twice`);
    this.lines.set(n, { trigger, masked: false, asserted: source?.level ?? false, inService: false });
    source?.onChange((level) => this.setLevel(n, level));
  }

  /** A level line's source changed (INTx asserted / deasserted). */
  setLevel(n: number, level: boolean): void {
    const l = this.lines.get(n);
    if (!l || l.trigger !== "level") return;
    l.asserted = level;
    this.update();
  }

  /** An edge on line `n` (declared edge lines only; an MSI declares its vector on first use). */
  pulse(n: number): void {
    let l = this.lines.get(n);
    if (!l) {
      this.addLine(n, "edge");
      l = this.lines.get(n)!;
    }
    if (l.trigger !== "edge") return;
    l.asserted = true;
    this.update();
  }

  /** An MSI / MSI-X message write: address in the APIC window, vector = data & 0xff. */
  message(addrLo: number, addrHi: number, data: number): void {
    const ok = addrHi === 0 && ((addrLo >>> 0) & MSI_WINDOW_MASK) >>> 0 === MSIX.MSG_ADDR;
    this.trace.emit({ t: this.clock.now, k: "msi", addr: addrLo >>> 0, data: data >>> 0, ok });
    if (ok) this.pulse(data & 0xff);
  }

  mask(n: number, masked: boolean): void {
    const l = this.lines.get(n);
    if (!l) return;
    l.masked = masked;
    this.update();
  }

  /** The pending line the CPU takes (lowest number first), now in service; -1 when none is pending. */
  acknowledge(): number {
    let best = -1;
    for (const [n, l] of this.lines) if (this.pending(l) && (best < 0 || n < best)) best = n;
    if (best >= 0) {
      const l = this.lines.get(best)!;
      l.inService = true;
      if (l.trigger === "edge") l.asserted = false;
      this.update();
    }
    return best;
  }

  /** End of interrupt for line `n`: a level line still asserted becomes pending again. */
  eoi(n: number): void {
    const l = this.lines.get(n);
    if (!l) return;
    l.inService = false;
    this.update();
  }

  isPending(n: number): boolean {
    const l = this.lines.get(n);
    return l !== undefined && this.pending(l);
  }

  isInService(n: number): boolean {
    return this.lines.get(n)?.inService ?? false;
  }

  private pending(l: LineState): boolean {
    return l.asserted && !l.masked && !l.inService;
  }

  private update(): void {
    let any = false;
    for (const l of this.lines.values()) if (this.pending(l)) any = true;
    this.cpu.set(any);
  }
}
