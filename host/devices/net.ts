// The virtio-net device model (5.1): transmitq to a backend, backend frames into receiveq,
// config space (mac, status, mtu), link changes, and device-side timing from the profile.
import { DEVICE_ID, F, NET_CFG, NET_F, NET_HDR, NET_HDR_GSO, NET_LIMIT, NET_Q, NET_S } from "../gen/constants.js";
import type { NetBackend } from "../backends/backend.js";
import type { GuestMemory } from "../guest/memory.js";
import type { Trace } from "../report/trace.js";
import type { Clock } from "../sim/clock.js";
import { featureSet, featureNames, has } from "../virtio/features.js";
import type { BreachFn, DeviceContext, VirtioDeviceModel } from "../virtio/device.js";
import type { Chain, DeviceSplitQueue } from "../virtio/split-queue.js";
import { type Profile, wireTimeNs } from "../sim/profile.js";
import { unmetDependency } from "./net-features.js";

export interface NetDeviceOptions {
  /** Trace name, e.g. "net0". */
  name: string;
  mem: GuestMemory;
  clock: Clock;
  trace: Trace;
  profile: Profile;
  backend: NetBackend;
  /** Offered features; default: the profile's. */
  features?: bigint;
  /** MAC address in config space (6 bytes). */
  mac?: Uint8Array;
  /** Link state at power-on. */
  linkUp?: boolean;
  /** Frames the device holds while the receive side is busy; more are dropped. */
  rxFifoDepth?: number;
}

export interface NetDeviceStats {
  txFrames: number;
  txBytes: number;
  rxFrames: number;
  rxBytes: number;
  /** Frames dropped, by reason (no-buffer, buffer-too-small, fifo-full, not-ready, oversize). */
  drops: Record<string, number>;
}

/** Receive header size: 12 bytes for a modern device without HASH_REPORT/tunnel/OUT_NET_HEADER (5.1.6). */
const HDR = NET_HDR.SIZE;

export class VirtioNetDevice implements VirtioDeviceModel {
  readonly deviceId = DEVICE_ID.NET;
  readonly numQueues = 2;
  readonly configSize = NET_CFG.SIZE;
  readonly deviceFeatures: bigint;
  readonly stats: NetDeviceStats = { txFrames: 0, txBytes: 0, rxFrames: 0, rxBytes: 0, drops: {} };

  private readonly o: NetDeviceOptions;
  private readonly mac: Uint8Array;
  private linkUp: boolean;
  private generation = 0;
  private ctx: DeviceContext | undefined;
  private report: BreachFn | undefined;
  /** Bumped on reset, so work scheduled before a reset is discarded when it falls due. */
  private epoch = 0;
  private txBusy = false;
  private rxBusy = false;
  private wireFree = 0;
  private readonly rxFifo: { frame: Uint8Array; id: number }[] = [];
  /** Frame ids for the trace (`frame.*` events, `id`): received frames and transmitted chains, from 0. */
  private rxSeq = 0;
  private txSeq = 0;
  private readonly rxFifoDepth: number;
  private readonly hdrBuf = new Uint8Array(HDR);

  constructor(opts: NetDeviceOptions) {
    this.o = opts;
    this.deviceFeatures = opts.features ?? featureSet(opts.profile.features);
    this.mac = opts.mac ?? Uint8Array.of(0x52, 0x54, 0x00, 0x12, 0x34, 0x56);
    if (this.mac.length !== 6) throw new RangeError("mac must be 6 bytes");
    this.linkUp = opts.linkUp ?? true;
    this.rxFifoDepth = opts.rxFifoDepth ?? 256;
    opts.backend.connect((frame) => this.onBackendFrame(frame));
  }

  /** Hostile-device mode only (host/devices/hostile.ts): a lying ConfigGeneration, the live context. */
  faults: { generation?(g: number): number; activated?(ctx: DeviceContext): void } | undefined;

  get configGeneration(): number {
    return this.faults?.generation ? this.faults.generation(this.generation) : this.generation;
  }

  get link(): boolean {
    return this.linkUp;
  }

  queueSizeMax(q: number): number {
    return q === NET_Q.RX0 || q === NET_Q.TX0 ? this.o.profile.queueSizeMax : 0;
  }

  checkFeatures(accepted: bigint): string | null {
    // A modern device needs VERSION_1 (RSVD-DEV-02 lets it refuse otherwise).
    if (!has(accepted, F.VERSION_1)) return "VERSION_1 not accepted (RSVD-DRV-01)";
    const unmet = unmetDependency(accepted, (b) => featureNames(1n << BigInt(b))[0]);
    return unmet === null ? null : `${unmet} (FEAT-DRV-02)`;
  }

  configRead(off: number, width: number): number {
    const field = fieldAt(off);
    if (field && (field.width !== width || field.start !== off)) {
      this.violation("MMIO-DRV-05", `config ${field.name} read at offset ${off} with width ${width}; the field is ${field.width} bytes at ${field.start}`);
    }
    let v = 0;
    for (let i = width - 1; i >= 0; i--) v = v * 256 + this.configByte(off + i);
    return v >>> 0;
  }

  configWrite(off: number, width: number, value: number): void {
    // Every virtio_net_config field is read-only for a modern driver (NET-CFG-DRV-01).
    this.violation("NET-CFG-DRV-01", `driver wrote ${value} (width ${width}) at config offset ${off}`);
  }

  bindViolations(violation: BreachFn): void {
    this.report = violation;
  }

  activate(ctx: DeviceContext): void {
    this.ctx = ctx;
    this.faults?.activated?.(ctx);
  }

  notify(q: number): void {
    if (!this.live()) return;
    if (q === NET_Q.TX0) this.startTx();
    else if (q === NET_Q.RX0) this.startRx();
  }

  reset(): void {
    this.epoch++;
    this.ctx = undefined;
    this.txBusy = false;
    this.rxBusy = false;
    this.rxFifo.length = 0;
  }

  /** Change the link state: with STATUS offered, update `status` and raise a config-change interrupt. */
  setLink(up: boolean): void {
    if (up === this.linkUp) return;
    this.linkUp = up;
    this.o.trace.emit({ t: this.o.clock.now, k: "link", dev: this.o.name, up });
    if (has(this.deviceFeatures, NET_F.STATUS)) {
      this.generation = (this.generation + 1) & 0xff;
      if (this.ctx) this.ctx.notifyConfig();
    }
  }

  // ---- configuration space (5.1.4) ----

  private configByte(off: number): number {
    if (off < 6) return this.mac[off];
    const status = this.linkUp ? NET_S.LINK_UP : 0;
    const mtu = has(this.deviceFeatures, NET_F.MTU) ? this.o.profile.mtu : 0;
    const le16 = (v: number, i: number) => (i === 0 ? v & 0xff : (v >> 8) & 0xff);
    if (off < NET_CFG.max_virtqueue_pairs) return le16(status, off - NET_CFG.status);
    if (off < NET_CFG.mtu) return le16(1, off - NET_CFG.max_virtqueue_pairs);
    if (off < NET_CFG.SIZE) return le16(mtu, off - NET_CFG.mtu);
    return 0;
  }

  // ---- transmit (5.1.6.2) ----

  private startTx(): void {
    if (this.txBusy) return;
    this.txBusy = true;
    this.txStep(this.epoch);
  }

  private txStep(epoch: number): void {
    if (epoch !== this.epoch) return;
    const q = this.queue(NET_Q.TX0);
    if (!q || !this.live()) {
      this.txBusy = false;
      return;
    }
    let chain = q.pop();
    if (!chain) {
      // Enable kicks, then look again: a chain published in between would otherwise be missed.
      q.setKickSuppression(false);
      chain = q.pending() > 0 ? q.pop() : null;
      if (!chain) {
        this.txBusy = false;
        return;
      }
    }
    q.setKickSuppression(true);
    const id = this.txSeq++;
    const frame = this.takeTxFrame(q, chain, id);
    if (!frame) {
      this.txBusy = false;
      return;
    }
    const p = this.o.profile;
    const cost = p.devicePerFrameNs + Math.ceil((frame.length * p.devicePerBytePs) / 1000);
    const head = chain.head;
    this.o.clock.after(cost, () => {
      if (epoch !== this.epoch || !this.live()) return;
      // The queue was stopped (QueueReady 0, QueueReset) while the frame was in flight: its memory is not touched again (MMIO-DEV-07, VQRST-DEV-01).
      if (this.queue(NET_Q.TX0) !== q) {
        this.txBusy = false;
        return this.startTx();
      }
      q.addUsed(head, 0);
      if (q.publishUsed()) this.ctx!.notifyUsed(NET_Q.TX0);
      if (frame.length > 0) this.toWire(frame, epoch, id);
      this.txStep(epoch);
    });
  }

  /** Read and check one transmit chain: the header, then the frame. Null after a fatal breach. */
  private takeTxFrame(q: DeviceSplitQueue, chain: Chain, id: number): Uint8Array | null {
    const HDR = this.hdrSize();
    if (chain.readableLen < HDR) {
      this.breach("DERIVED-HDR", `transmit chain head ${chain.head} has ${chain.readableLen} readable bytes, header is ${HDR}`);
      return null;
    }
    const all = new Uint8Array(chain.readableLen);
    q.read(chain, all);
    const dv = new DataView(all.buffer);
    const flags = all[NET_HDR.flags];
    const gso = all[NET_HDR.gso_type];
    const numBuffers = HDR > NET_HDR.num_buffers ? dv.getUint16(NET_HDR.num_buffers, true) : 0; // no field in the 10-byte legacy header
    const neg = this.ctx!.features;
    if (numBuffers !== 0) this.violation("NET-TX-DRV-02", `num_buffers ${numBuffers} on transmit (head ${chain.head})`);
    if (flags !== 0 && !has(neg, NET_F.CSUM)) this.violation("NET-TX-DRV-03", `flags ${flags} without CSUM (head ${chain.head})`);
    const base = gso & ~NET_HDR_GSO.ECN;
    const gsoRule: Record<number, [number, string]> = {
      [NET_HDR_GSO.TCPV4]: [NET_F.HOST_TSO4, "NET-TX-DRV-07"],
      [NET_HDR_GSO.TCPV6]: [NET_F.HOST_TSO6, "NET-TX-DRV-09"],
      [NET_HDR_GSO.UDP]: [NET_F.HOST_UFO, "NET-TX-DRV-11"],
      [NET_HDR_GSO.UDP_L4]: [NET_F.HOST_USO, "NET-TX-DRV-13"],
    };
    const rule = gsoRule[base];
    if (rule && !has(neg, rule[0])) this.violation(rule[1] as "NET-TX-DRV-07", `gso_type ${gso} not negotiated (head ${chain.head})`);
    const frame = all.subarray(HDR);
    const limit = has(neg, NET_F.MTU) ? this.o.profile.mtu + 14 : NET_LIMIT.MAX_FRAME;
    if (base === NET_HDR_GSO.NONE && frame.length > limit) {
      if (has(neg, NET_F.MTU)) this.violation("NET-CFG-DRV-09", `transmit frame of ${frame.length} bytes exceeds mtu + 14 = ${limit}`);
      this.drop(frame.length, "oversize", "tx", id);
      return new Uint8Array(0);
    }
    return frame;
  }

  private toWire(frame: Uint8Array, epoch: number, id: number): void {
    // The host's own path (tap, bridge, wake-ups) delays the frame before the wire; it is a
    // latency, not device occupancy (Profile.hostPathNs).
    const now = this.o.clock.now + (this.o.profile.hostPathNs ?? 0);
    const start = Math.max(now, this.wireFree);
    const end = start + wireTimeNs(this.o.profile, frame.length);
    this.wireFree = end;
    this.o.clock.at(end, () => {
      if (epoch !== this.epoch) return;
      this.stats.txFrames++;
      this.stats.txBytes += frame.length;
      this.o.trace.emit({ t: this.o.clock.now, k: "frame.tx", dev: this.o.name, len: frame.length, id });
      if (this.linkUp) this.o.backend.transmit(frame);
      else this.drop(frame.length, "link-down", "tx", id);
    });
  }

  // ---- receive (5.1.6.3, 5.1.6.4) ----

  private onBackendFrame(frame: Uint8Array): void {
    const now = this.o.clock.now;
    const id = this.rxSeq++;
    this.o.trace.emit({ t: now, k: "frame.arrive", dev: this.o.name, len: frame.length, id });
    if (!this.live() || !this.linkUp) return this.drop(frame.length, "not-ready", "rx", id);
    // With MTU negotiated no non-GSO receive packet exceeds mtu + the 14-byte L2 header (NET-CFG-DEV-05).
    if (has(this.ctx!.features, NET_F.MTU) && frame.length > this.o.profile.mtu + 14) return this.drop(frame.length, "oversize", "rx", id);
    const hostPath = this.o.profile.hostPathNs ?? 0;
    if (hostPath === 0) return this.enqueue(frame, id);
    // The host's own path (tap, bridge, wake-ups) delays the frame on its way to the device queue.
    const epoch = this.epoch;
    this.o.clock.after(hostPath, () => {
      if (epoch !== this.epoch || !this.live()) return this.drop(frame.length, "not-ready", "rx", id);
      this.enqueue(frame, id);
    });
  }

  private enqueue(frame: Uint8Array, id: number): void {
    if (this.rxFifo.length >= this.rxFifoDepth) return this.drop(frame.length, "fifo-full", "rx", id);
    this.rxFifo.push({ frame, id });
    this.startRx();
  }

  private startRx(): void {
    if (this.rxBusy || this.rxFifo.length === 0) return;
    this.rxBusy = true;
    this.rxStep(this.epoch);
  }

  private rxStep(epoch: number): void {
    if (epoch !== this.epoch) return;
    const next = this.rxFifo.shift();
    if (!next || !this.live()) {
      this.rxBusy = false;
      return;
    }
    const { frame, id } = next;
    const p = this.o.profile;
    const cost = p.devicePerFrameNs + Math.ceil((frame.length * p.devicePerBytePs) / 1000);
    this.o.clock.after(cost, () => {
      if (epoch !== this.epoch) return;
      if (this.live()) this.deliver(frame, id);
      this.rxStep(epoch);
    });
  }

  /** Place one frame into the receive queue, in one buffer or (MRG_RXBUF) several. */
  private deliver(frame: Uint8Array, id: number): void {
    const q = this.queue(NET_Q.RX0);
    if (!q) return this.drop(frame.length, "no-buffer", "rx", id);
    const mergeable = has(this.ctx!.features, NET_F.MRG_RXBUF);
    const HDR = this.hdrSize();
    const total = HDR + frame.length;
    const chains: Chain[] = [];
    const takes: number[] = [];
    let remaining = total;
    // Each buffer popped is a descriptor chain; MRG_RXBUF bounds their number by the queue size.
    while (remaining > 0 && chains.length < q.cfg.size) {
      const chain = q.pop();
      if (!chain) break;
      if (chain.writableLen < (chains.length === 0 ? HDR : 1) || chain.readable.length > 0) {
        this.breach("DERIVED-RX-WRITABLE", `receive chain head ${chain.head}: ${chain.readableLen} readable, ${chain.writableLen} writable bytes`);
        return;
      }
      const take = Math.min(chain.writableLen, remaining);
      chains.push(chain);
      takes.push(take);
      remaining -= take;
      if (!mergeable) break;
    }
    if (remaining > 0) {
      q.unpop(chains.length);
      if (!mergeable && chains.length === 1) return this.drop(frame.length, "buffer-too-small", "rx", id);
      if (q.pending() === 0) q.setKickSuppression(false);
      return this.drop(frame.length, "no-buffer", "rx", id);
    }
    // Header: no offloads, num_buffers = number of buffers used (NET-RX-DEV-01/02).
    const h = this.hdrBuf.subarray(0, HDR);
    h.fill(0);
    h[NET_HDR.num_buffers] = chains.length & 0xff;
    h[NET_HDR.num_buffers + 1] = chains.length >> 8;
    q.write(chains[0], h, 0);
    let src = 0;
    for (let i = 0; i < chains.length; i++) {
      const at = i === 0 ? HDR : 0;
      const n = takes[i] - at;
      q.write(chains[i], frame.subarray(src, src + n), at);
      src += n;
    }
    // All buffers of one packet become used together (NET-RX-DEV-04).
    for (let i = 0; i < chains.length; i++) q.addUsed(chains[i].head, takes[i]);
    this.stats.rxFrames++;
    this.stats.rxBytes += frame.length;
    this.o.trace.emit({ t: this.o.clock.now, k: "frame.rx", dev: this.o.name, len: frame.length, bufs: chains.length, id });
    if (q.publishUsed()) this.ctx!.notifyUsed(NET_Q.RX0);
  }

  // ---- helpers ----

  /** virtio_net_hdr size (5.1.6): 12, or 10 for a legacy driver (no VERSION_1) without MRG_RXBUF. */
  private hdrSize(): number {
    const f = this.ctx!.features;
    return !has(f, F.VERSION_1) && !has(f, NET_F.MRG_RXBUF) ? NET_HDR.SIZE_LEGACY : HDR;
  }

  private live(): boolean {
    return this.ctx !== undefined && !this.ctx.halted;
  }

  private queue(q: number): DeviceSplitQueue | undefined {
    const vq = this.ctx?.queues[q];
    return vq && !vq.broken ? vq : undefined;
  }

  private drop(len: number, reason: string, dir: "rx" | "tx", id: number): void {
    this.stats.drops[reason] = (this.stats.drops[reason] ?? 0) + 1;
    this.o.trace.emit({ t: this.o.clock.now, k: "frame.drop", dev: this.o.name, len, reason, dir, id });
  }

  private breach(clause: Parameters<DeviceContext["breach"]>[0], detail: string): void {
    this.ctx?.breach(clause, detail);
  }

  private violation(clause: Parameters<DeviceContext["breach"]>[0], detail: string): void {
    if (this.report) this.report(clause, detail);
    else this.o.trace.emit({ t: this.o.clock.now, k: "violation", dev: this.o.name, clause, detail });
  }
}

/** The config field covering byte `off`, with its start and access width (MMIO-DRV-05). */
function fieldAt(off: number): { name: string; start: number; width: number } | undefined {
  if (off < 6) return { name: "mac", start: off, width: 1 };
  const fields = [
    { name: "status", start: NET_CFG.status, width: 2 },
    { name: "max_virtqueue_pairs", start: NET_CFG.max_virtqueue_pairs, width: 2 },
    { name: "mtu", start: NET_CFG.mtu, width: 2 },
  ];
  return fields.find((f) => off >= f.start && off < f.start + f.width);
}
