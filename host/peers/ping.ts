// A pinging peer: resolves the target with ARP, sends ICMP echo requests at an interval, then
// UDP datagrams to an echo port, and checks every reply (bytes and checksums), with round-trip
// times on the caller's clock. PingPeer puts it on the wire of a simulated device as a backend.
import type { Clock } from "../sim/clock.js";
import type { FrameSink, NetBackend } from "../backends/backend.js";
import { arpRequest, icmpEcho, ipv4Frame, parseFrame, udpDatagram } from "./inet.js";

export interface PingLink {
  send(frame: Uint8Array): void;
  after(ns: number, fn: () => void): void;
  now(): number;
}

export interface PingOptions {
  mac: Uint8Array;
  ip: number;
  target: number;
  count: number;
  intervalNs: number;
  /** Bytes of ICMP data after the 8-byte header (ping's default 56). */
  size?: number;
  udpCount?: number;
  udpPort?: number;
  /** Our UDP source port. */
  udpSourcePort?: number;
}

export interface PingResult {
  targetMac: Uint8Array | undefined;
  echoSent: number;
  echoReceived: number;
  /** Round trips of the echo replies received, in the link's time unit (ns). */
  rtts: number[];
  udpSent: number;
  udpReceived: number;
  /** Replies whose IPv4, ICMP or UDP checksum did not verify. */
  badChecksums: number;
  /** Replies whose data differs from the request's. */
  mismatches: number;
}

const IDENT = 0x5652;

export class PingClient {
  readonly result: PingResult = { targetMac: undefined, echoSent: 0, echoReceived: 0, rtts: [], udpSent: 0, udpReceived: 0, badChecksums: 0, mismatches: 0 };
  private readonly sentAt = new Map<number, { at: number; data: Uint8Array }>();
  private readonly udpData = new Map<string, number>();
  private readonly o: Required<PingOptions>;

  constructor(private readonly link: PingLink, opts: PingOptions) {
    this.o = { size: 56, udpCount: 0, udpPort: 7, udpSourcePort: 40007, ...opts };
  }

  start(): void {
    this.link.send(arpRequest(this.o.mac, this.o.ip, this.o.target));
  }

  /** A frame the peer received. */
  receive(frame: Uint8Array): void {
    const p = parseFrame(frame);
    if (p.kind === "arp-reply") {
      if (p.senderIp !== this.o.target || this.result.targetMac) return;
      this.result.targetMac = p.senderMac;
      this.echo(0);
      return;
    }
    if (p.kind === "icmp-echo-reply" && p.src === this.o.target && p.ident === IDENT) {
      const sent = this.sentAt.get(p.seq);
      if (!sent) return;
      this.sentAt.delete(p.seq);
      if (!p.ok) this.result.badChecksums++;
      if (!equal(p.data, sent.data)) this.result.mismatches++;
      this.result.echoReceived++;
      this.result.rtts.push(this.link.now() - sent.at);
      return;
    }
    if (p.kind === "udp" && p.src === this.o.target && p.sport === this.o.udpPort && p.dport === this.o.udpSourcePort) {
      if (!p.ok) this.result.badChecksums++;
      const key = Array.from(p.data).join(",");
      const n = this.udpData.get(key) ?? 0;
      if (n === 0) this.result.mismatches++;
      else this.udpData.set(key, n - 1);
      this.result.udpReceived++;
    }
  }

  private echo(i: number): void {
    if (i >= this.o.count) return this.udp(0);
    const data = new Uint8Array(this.o.size);
    for (let k = 0; k < data.length; k++) data[k] = (k + i) & 0xff;
    const mac = this.result.targetMac!;
    this.sentAt.set(i & 0xffff, { at: this.link.now(), data });
    this.result.echoSent++;
    this.link.send(ipv4Frame(mac, this.o.mac, this.o.ip, this.o.target, 1, icmpEcho(8, IDENT, i & 0xffff, data), i & 0xffff));
    this.link.after(this.o.intervalNs, () => this.echo(i + 1));
  }

  private udp(i: number): void {
    if (i >= this.o.udpCount) return;
    const data = new TextEncoder().encode(`virtio-rt udp echo ${i}`);
    const key = Array.from(data).join(",");
    this.udpData.set(key, (this.udpData.get(key) ?? 0) + 1);
    this.result.udpSent++;
    const u = udpDatagram(this.o.ip, this.o.target, this.o.udpSourcePort, this.o.udpPort, data);
    this.link.send(ipv4Frame(this.result.targetMac!, this.o.mac, this.o.ip, this.o.target, 17, u, 0x8000 + i));
    this.link.after(this.o.intervalNs, () => this.udp(i + 1));
  }
}

/** A PingClient as the device's backend: the peer on the other end of a simulated wire. */
export class PingPeer implements NetBackend {
  readonly name = "ping-peer";
  client: PingClient | undefined;

  /** `startNs`: when the peer starts (the driver must have attached by then); else call startAt. */
  constructor(private readonly clock: Clock, private readonly opts: PingOptions & { startNs?: number }) {}

  connect(sink: FrameSink): void {
    const clock = this.clock;
    this.client = new PingClient({ send: (f) => sink(f), after: (ns, fn) => clock.after(ns, fn), now: () => clock.now }, this.opts);
    if (this.opts.startNs !== undefined) this.startAt(this.opts.startNs);
  }

  startAt(ns: number): void {
    this.clock.at(ns, () => this.client!.start());
  }

  transmit(frame: Uint8Array): void {
    this.client?.receive(frame);
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** min / avg / max / mdev of round trips, as ping prints them (same unit as the input). */
export function rttSummary(rtts: readonly number[]): { min: number; avg: number; max: number; mdev: number } | undefined {
  if (rtts.length === 0) return undefined;
  const avg = rtts.reduce((a, b) => a + b, 0) / rtts.length;
  const mdev = Math.sqrt(rtts.reduce((a, b) => a + (b - avg) ** 2, 0) / rtts.length);
  return { min: Math.min(...rtts), avg, max: Math.max(...rtts), mdev };
}
