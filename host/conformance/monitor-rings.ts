// The monitor's ring checks, from snapshots of the split rings taken at each HAL call (the only
// moments the host sees the guest): barriers around avail.idx, kicks owed and kicks not wanted,
// ring flags, exposed descriptors left alone, transmit headers and receive buffer sizes.
import type { ClauseId } from "../gen/clauses.js";
import { F, HAL_BARRIER, NET_F, NET_HDR, NET_HDR_F, NET_HDR_GSO, STATUS, VIRTQ, VIRTQ_DESC_F } from "../gen/constants.js";
import type { GuestMemory } from "../guest/memory.js";
import type { TraceEvent } from "../report/trace.js";
import { has } from "../virtio/features.js";
import type { DevState, Sink } from "./monitor.js";

const HDR = NET_HDR.SIZE;
const GSO_TUNNEL = NET_HDR_GSO.UDP_TUNNEL_IPV4 | NET_HDR_GSO.UDP_TUNNEL_IPV6;
const KNOWN_GSO = new Set<number>([NET_HDR_GSO.TCPV4, NET_HDR_GSO.UDP, NET_HDR_GSO.TCPV6, NET_HDR_GSO.UDP_L4]);

interface Ring {
  q: number;
  size: number;
  descOff: number;
  availOff: number;
  usedOff: number;
  /** avail.idx at the last HAL call. */
  lastIdx: number;
  /** The device's last_avail_idx (vq.pop / vq.unpop). */
  devLastAvail: number;
  /** avail.idx at the last kick. */
  lastNotifyIdx: number;
  /** A WMB/MB was seen since lastIdx was observed (SPLIT-DRV-24), with the avail ring as it was then. */
  barrierOk: boolean;
  availAtBarrier?: Uint8Array;
  /** State at the last MB: avail.idx, used.flags, avail_event (what the driver read after it). */
  mbIdx: number;
  mbUsedFlags: number;
  mbAvailEvent: number;
  /** Heads exposed and not yet used: their ring descriptors as published (CLEAN-DRV-01). */
  outstanding: Map<number, { idx: number[]; bytes: Uint8Array }>;
}

interface Walked {
  idx: number[];
  readable: { off: number; len: number }[];
  writable: number[];
  rlen: number;
  wlen: number;
}

const needEvent = (ev: number, n: number, old: number) => ((n - ev - 1) & 0xffff) < ((n - old) & 0xffff);

export class RingChecks {
  private readonly rings = new Map<string, Map<number, Ring>>();
  private hal = false;

  constructor(private readonly sink: Sink, private readonly devOf: (name: string) => DevState, private readonly mem?: GuestMemory) {}

  private eventIdx(dev: string): boolean {
    return has(this.devOf(dev).negotiated, F.EVENT_IDX);
  }

  onEnter(): void {
    this.hal = true;
  }

  onReset(dev: string): void {
    this.rings.delete(dev);
  }

  onQueue(dev: string, ev: TraceEvent): void {
    const m = this.rings.get(dev) ?? new Map<number, Ring>();
    this.rings.set(dev, m);
    const q = ev.q as number;
    if (!ev.ready || !this.mem) return void m.delete(q);
    const size = ev.size as number;
    const mem = this.mem;
    const descOff = mem.peek(ev.desc as number, VIRTQ.DESC_SIZE * size);
    const availOff = mem.peek(ev.driver as number, 6 + 2 * size);
    const usedOff = mem.peek(ev.device as number, 6 + VIRTQ.USED_ELEM_SIZE * size);
    if (descOff < 0 || availOff < 0 || usedOff < 0) return void m.delete(q); // the device breaches (DERIVED-MEM)
    this.sink.ex("SPLIT-DRV-17");
    if (mem.r16(usedOff) !== 0) this.sink.report(dev, "SPLIT-DRV-17", `queue ${q} enabled with used.flags ${mem.r16(usedOff)}`, ev.t);
    // The QueueReady write is a device access: it orders what the driver wrote before it.
    const r: Ring = { q, size, descOff, availOff, usedOff, lastIdx: 0, devLastAvail: 0, lastNotifyIdx: 0, barrierOk: true, mbIdx: -1, mbUsedFlags: 0, mbAvailEvent: 0, outstanding: new Map() };
    r.availAtBarrier = mem.u8.slice(availOff, availOff + 4 + 2 * size);
    m.set(q, r);
  }

  onPop(dev: string, ev: TraceEvent): void {
    const r = this.rings.get(dev)?.get(ev.q as number);
    if (r) r.devLastAvail = (r.devLastAvail + 1) & 0xffff;
    const s = this.sink;
    if ((ev.q as number) % 2 === 1) {
      for (const c of ["DERIVED-HDR", "NET-TX-DRV-02", "NET-TX-DRV-03", "NET-TX-DRV-07", "NET-TX-DRV-09", "NET-TX-DRV-11", "NET-TX-DRV-13"] as const) s.ex(c);
      if (has(this.devOf(dev).negotiated, NET_F.MTU)) s.ex("NET-CFG-DRV-09");
    } else s.ex("DERIVED-RX-WRITABLE");
  }

  onUnpop(dev: string, q: number, n: number): void {
    const r = this.rings.get(dev)?.get(q);
    if (r) r.devLastAvail = (r.devLastAvail - n) & 0xffff;
  }

  onUsed(dev: string, q: number, head: number): void {
    this.rings.get(dev)?.get(q)?.outstanding.delete(head);
  }

  /** A HAL call: look at every ring (new entries, flags, barrier discipline). */
  observe(t: number, _kind: string): void {
    if (!this.mem) return;
    for (const [dev, m] of this.rings) for (const r of m.values()) this.look(dev, r, t);
  }

  onBarrier(kind: number): void {
    if (!this.mem || (kind !== HAL_BARRIER.MB && kind !== HAL_BARRIER.WMB)) return;
    const mem = this.mem;
    for (const m of this.rings.values()) {
      for (const r of m.values()) {
        r.barrierOk = true;
        r.availAtBarrier = mem.u8.slice(r.availOff, r.availOff + 4 + 2 * r.size);
        if (kind === HAL_BARRIER.MB) {
          r.mbIdx = r.lastIdx;
          r.mbUsedFlags = mem.r16(r.usedOff);
          r.mbAvailEvent = mem.r16(r.usedOff + 4 + VIRTQ.USED_ELEM_SIZE * r.size);
        }
      }
    }
  }

  onNotify(dev: string, q: number, t: number): void {
    const r = this.rings.get(dev)?.get(q);
    if (!r || !this.mem) return;
    const s = this.sink;
    const idx = r.lastIdx;
    if (this.hal) {
      s.ex("SPLIT-DRV-25");
      if (r.mbIdx !== idx) s.report(dev, "SPLIT-DRV-25", `queue ${q} kicked at avail.idx ${idx} with no MB after avail.idx was updated`, t);
    }
    const flags = this.hal ? r.mbUsedFlags : this.mem.r16(r.usedOff);
    const availEvent = this.hal ? r.mbAvailEvent : this.mem.r16(r.usedOff + 4 + VIRTQ.USED_ELEM_SIZE * r.size);
    if (this.eventIdx(dev)) {
      s.ex("SPLIT-DRV-23");
      if (!needEvent(availEvent, idx, r.lastNotifyIdx)) s.report(dev, "SPLIT-DRV-23", `queue ${q} kicked for avail.idx ${r.lastNotifyIdx}..${idx} while avail_event was ${availEvent}`, t);
    } else {
      s.ex("SPLIT-DRV-19");
      if (flags & 1) s.report(dev, "SPLIT-DRV-19", `queue ${q} kicked while used.flags had NO_NOTIFY`, t);
    }
    r.lastNotifyIdx = idx;
    this.verifyExposed(dev, r, t);
  }

  /** The end of a driver step: kicks owed (SPLIT-DRV-20/22) and exposed descriptors (CLEAN-DRV-01). */
  endOfStep(t: number): void {
    if (!this.mem) return;
    const mem = this.mem;
    for (const [dev, m] of this.rings) {
      const st = this.devOf(dev).status;
      for (const r of m.values()) {
        this.verifyExposed(dev, r, t);
        if (!(st & STATUS.DRIVER_OK) || st & STATUS.DEVICE_NEEDS_RESET) continue;
        const idx = r.lastIdx;
        const unseen = Math.min((idx - r.lastNotifyIdx) & 0xffff, (idx - r.devLastAvail) & 0xffff);
        if (unseen === 0 || unseen > r.size) continue;
        const old = (idx - unseen) & 0xffff;
        const ei = this.eventIdx(dev);
        const id: ClauseId = ei ? "SPLIT-DRV-22" : "SPLIT-DRV-20";
        this.sink.ex(id);
        const need = ei ? needEvent(mem.r16(r.usedOff + 4 + VIRTQ.USED_ELEM_SIZE * r.size), idx, old) : (mem.r16(r.usedOff) & 1) === 0;
        if (need) this.sink.report(dev, id, `queue ${r.q}: entries ${old}..${idx} published and the device asked for a kick, none came`, t);
        else r.lastNotifyIdx = idx; // not owed now; later publications are judged on their own
      }
    }
  }

  private look(dev: string, r: Ring, t: number): void {
    const mem = this.mem!;
    const s = this.sink;
    const d = this.devOf(dev);
    const aflags = mem.r16(r.availOff);
    const ei = this.eventIdx(dev);
    s.ex(ei ? "SPLIT-DRV-12" : "SPLIT-DRV-10");
    if (ei && aflags !== 0) s.report(dev, "SPLIT-DRV-12", `queue ${r.q}: avail.flags ${aflags} with EVENT_IDX`, t);
    if (!ei && aflags > 1) s.report(dev, "SPLIT-DRV-10", `queue ${r.q}: avail.flags ${aflags} without EVENT_IDX`, t);
    const idx = mem.r16(r.availOff + 2);
    if (idx === r.lastIdx) return;
    const n = (idx - r.lastIdx) & 0xffff;
    if (this.hal) {
      s.ex("SPLIT-DRV-24");
      if (!r.barrierOk) s.report(dev, "SPLIT-DRV-24", `queue ${r.q}: avail.idx moved ${r.lastIdx} -> ${idx} with no WMB/MB before it`, t);
      else if (r.availAtBarrier && n <= r.size) {
        for (let i = 0; i < n; i++) {
          const slot = 4 + 2 * ((r.lastIdx + i) & (r.size - 1));
          if (mem.r16(r.availOff + slot) !== (r.availAtBarrier[slot]! | (r.availAtBarrier[slot + 1]! << 8))) {
            s.report(dev, "SPLIT-DRV-24", `queue ${r.q}: avail ring entry ${(r.lastIdx + i) & 0xffff} written after the barrier that preceded avail.idx ${idx}`, t);
            break;
          }
        }
      }
    }
    if (n <= r.size) for (let i = 0; i < n; i++) this.published(dev, d, r, mem.r16(r.availOff + 4 + 2 * ((r.lastIdx + i) & (r.size - 1))), t);
    r.lastIdx = idx;
    r.barrierOk = false;
  }

  /** A chain the driver just exposed: snapshot it and check it for its queue's role. */
  private published(dev: string, d: DevState, r: Ring, head: number, t: number): void {
    const w = this.walk(r, head, d);
    if (!w) return; // the device names what is wrong with it when it gets there
    const mem = this.mem!;
    const bytes = new Uint8Array(16 * w.idx.length);
    w.idx.forEach((i, k) => bytes.set(mem.u8.subarray(r.descOff + 16 * i, r.descOff + 16 * i + 16), 16 * k));
    r.outstanding.set(head, { idx: w.idx, bytes });
    if (r.q % 2 === 1) this.txHeader(dev, d, r, w, head, t);
    else this.rxBuffer(dev, d, r, w, head, t);
  }

  private walk(r: Ring, head: number, d: DevState): Walked | null {
    const mem = this.mem!;
    if (head >= r.size) return null;
    const inOrder = has(d.negotiated, F.IN_ORDER);
    const out: Walked = { idx: [], readable: [], writable: [], rlen: 0, wlen: 0 };
    let i = head;
    for (let steps = 0; steps < r.size; steps++) {
      const o = r.descOff + 16 * i;
      out.idx.push(i);
      const addr = mem.r64(o);
      const len = mem.r32(o + 8);
      const flags = mem.r16(o + 12);
      const next = mem.r16(o + 14);
      if (flags & VIRTQ_DESC_F.INDIRECT) {
        const tOff = mem.peek(addr, len);
        if (tOff < 0 || len % 16 !== 0 || len === 0) return null;
        for (let k = 0; k < len / 16 && k < r.size; k++) {
          const eo = tOff + 16 * k;
          const ef = mem.r16(eo + 12);
          if (inOrder && ef & VIRTQ_DESC_F.NEXT && mem.r16(eo + 14) !== k + 1) {
            this.sink.report(d.name, "SPLIT-DRV-08", `indirect entry ${k} of head ${head} links to ${mem.r16(eo + 14)} with IN_ORDER`, 0);
          }
          if (!this.add(out, mem.r64(eo), mem.r32(eo + 8), ef)) return null;
          if (!(ef & VIRTQ_DESC_F.NEXT)) break;
        }
        return out;
      }
      if (!this.add(out, addr, len, flags)) return null;
      if (!(flags & VIRTQ_DESC_F.NEXT)) return out;
      if (inOrder) {
        this.sink.ex("SPLIT-DRV-03");
        if (next !== ((i + 1) & (r.size - 1))) this.sink.report(d.name, "SPLIT-DRV-03", `descriptor ${i} links to ${next} with IN_ORDER`, 0);
      }
      if (next >= r.size) return null;
      i = next;
    }
    return null;
  }

  private add(out: Walked, addr: number, len: number, flags: number): boolean {
    const off = this.mem!.peek(addr, len);
    if (off < 0) return false;
    if (flags & VIRTQ_DESC_F.WRITE) (out.writable.push(len), (out.wlen += len));
    else if (out.writable.length > 0) return false; // FRAME-DRV-01, the device's
    else (out.readable.push({ off, len }), (out.rlen += len));
    return true;
  }

  private txHeader(dev: string, d: DevState, r: Ring, w: Walked, head: number, t: number): void {
    if (w.rlen < HDR) return; // DERIVED-HDR, the device's
    const h = new Uint8Array(HDR);
    let pos = 0;
    for (const b of w.readable) {
      const n = Math.min(b.len, HDR - pos);
      h.set(this.mem!.u8.subarray(b.off, b.off + n), pos);
      pos += n;
      if (pos >= HDR) break;
    }
    const flags = h[NET_HDR.flags]!;
    const gso = h[NET_HDR.gso_type]!;
    const neg = d.negotiated;
    const rep = (id: ClauseId, what: string) => this.sink.report(dev, id, `transmit head ${head} (queue ${r.q}): ${what}`, t);
    for (const c of ["NET-TX-DRV-17", "NET-TX-DRV-22", "NET-TX-DRV-24", "NET-TX-DRV-25", "NET-TX-DRV-26", "NET-TX-DRV-31", "NET-TX-DRV-32", "NET-TX-DRV-45", "NET-TX-DRV-46"] as const) this.sink.ex(c);
    const tunnel = gso & GSO_TUNNEL;
    const base = gso & ~(GSO_TUNNEL | NET_HDR_GSO.ECN);
    if (flags & (NET_HDR_F.DATA_VALID | NET_HDR_F.RSC_INFO)) rep("NET-TX-DRV-45", `flags ${flags} set DATA_VALID or RSC_INFO`);
    if (flags & NET_HDR_F.DATA_VALID && tunnel) rep("NET-TX-DRV-46", `DATA_VALID with tunnel gso_type ${gso}`);
    if (tunnel && !has(neg, NET_F.HOST_UDP_TUNNEL_GSO)) rep("NET-TX-DRV-17", `tunnel gso_type ${gso} without HOST_UDP_TUNNEL_GSO`);
    if (tunnel === GSO_TUNNEL) rep("NET-TX-DRV-25", `both tunnel bits in gso_type ${gso}`);
    if (tunnel && base === NET_HDR_GSO.UDP) rep("NET-TX-DRV-24", `tunnel bit with gso_type UDP (${gso})`);
    if (flags & NET_HDR_F.UDP_TUNNEL_CSUM) {
      if (!has(neg, NET_F.HOST_UDP_TUNNEL_GSO_CSUM)) rep("NET-TX-DRV-22", `UDP_TUNNEL_CSUM without HOST_UDP_TUNNEL_GSO_CSUM`);
      if (!tunnel) rep("NET-TX-DRV-26", `UDP_TUNNEL_CSUM without a tunnel bit (gso_type ${gso})`);
    }
    const hostGso = [NET_F.HOST_TSO4, NET_F.HOST_TSO6, NET_F.HOST_USO, NET_F.HOST_UFO].some((b) => has(neg, b));
    if (!hostGso && gso !== 0 && !tunnel && !KNOWN_GSO.has(base)) rep("NET-TX-DRV-31", `gso_type ${gso} with no host GSO feature`);
    if (gso !== NET_HDR_GSO.NONE && !(flags & NET_HDR_F.NEEDS_CSUM)) rep("NET-TX-DRV-32", `gso_type ${gso} without NEEDS_CSUM`);
  }

  private rxBuffer(dev: string, d: DevState, r: Ring, w: Walked, head: number, t: number): void {
    const neg = d.negotiated;
    const rep = (id: ClauseId, what: string) => this.sink.report(dev, id, `receive head ${head} (queue ${r.q}): ${what}`, t);
    this.sink.ex("DERIVED-RX-WRITABLE");
    if (w.readable.length > 0) return rep("DERIVED-RX-WRITABLE", `${w.rlen} device-readable bytes in a receive buffer`);
    if (has(neg, NET_F.MRG_RXBUF)) {
      this.sink.ex("NET-RXB-DRV-03");
      if (w.wlen < HDR) rep("NET-RXB-DRV-03", `${w.wlen} bytes, less than the ${HDR}-byte header`);
      return;
    }
    if (has(neg, NET_F.MTU) && d.mtu !== undefined) {
      this.sink.ex("NET-CFG-DRV-08");
      if (w.wlen < HDR + d.mtu + 14) rep("NET-CFG-DRV-08", `${w.wlen} bytes, less than header + mtu ${d.mtu} + 14`);
    }
    const guestGso = [NET_F.GUEST_TSO4, NET_F.GUEST_TSO6, NET_F.GUEST_UFO, NET_F.GUEST_USO4, NET_F.GUEST_USO6].some((b) => has(neg, b));
    const want = guestGso ? 65601 : 1526;
    const id: ClauseId = guestGso ? "NET-RXB-DRV-01" : "NET-RXB-DRV-02";
    this.sink.ex(id);
    if (w.wlen < want) rep(id, `${w.wlen} bytes, less than ${want}`);
  }

  /** CLEAN-DRV-01: descriptors of exposed, unused chains still read as they were published. */
  private verifyExposed(dev: string, r: Ring, t: number): void {
    const u8 = this.mem!.u8;
    if (r.outstanding.size > 0) this.sink.ex("CLEAN-DRV-01");
    for (const [head, o] of r.outstanding) {
      for (let k = 0; k < o.idx.length; k++) {
        const at = r.descOff + 16 * o.idx[k]!;
        for (let b = 0; b < 16; b++) {
          if (u8[at + b] !== o.bytes[16 * k + b]) {
            this.sink.report(dev, "CLEAN-DRV-01", `queue ${r.q}: descriptor ${o.idx[k]} of exposed head ${head} rewritten before the device used it`, t);
            r.outstanding.delete(head);
            return;
          }
        }
      }
    }
  }
}
