// UDP datagram link: one Ethernet frame per datagram, no header, the format of QEMU's
// `-netdev dgram` and `-netdev socket,udp=`, so the simulated NIC links to QEMU, to another
// virtio-rt, or to a TAP through socat's UDP-DATAGRAM. Incoming frames enter the simulation as
// external frames (backends/external.ts) at the virtual time it has reached.
import { createSocket, type Socket } from "node:dgram";
import { isIP } from "node:net";
import type { Clock } from "../sim/clock.js";
import type { Trace } from "../report/trace.js";
import type { FrameSink, NetBackend } from "./backend.js";
import { ExternalPort } from "./external.js";

export interface UdpLinkSpec {
  localPort: number;
  remoteHost: string;
  remotePort: number;
}

/** Parse `udp:LOCAL_PORT:REMOTE_HOST:REMOTE_PORT` (REMOTE_HOST: an IPv4 address or `localhost`). */
export function parseUdpSpec(text: string): UdpLinkSpec {
  const m = /^udp:(\d{1,5}):([^:]+):(\d{1,5})$/.exec(text);
  if (!m) throw new Error(`backend must be udp:LOCAL_PORT:REMOTE_HOST:REMOTE_PORT, got ${JSON.stringify(text)}`);
  const localPort = Number(m[1]);
  const remotePort = Number(m[3]);
  const remoteHost = m[2] === "localhost" ? "127.0.0.1" : m[2]!;
  if (localPort < 1 || localPort > 65535 || remotePort < 1 || remotePort > 65535) throw new Error("UDP ports must be 1 to 65535");
  if (isIP(remoteHost) !== 4) throw new Error(`REMOTE_HOST must be an IPv4 address, got ${JSON.stringify(m[2])}`);
  return { localPort, remoteHost, remotePort };
}

export interface UdpStats {
  datagramsIn: number;
  datagramsOut: number;
  /** Datagrams from an address other than REMOTE_HOST:REMOTE_PORT: ignored. */
  foreign: number;
  /** Datagrams shorter than an Ethernet header: ignored. */
  runts: number;
  sendErrors: number;
}

/** Shortest datagram taken as a frame: an Ethernet header. */
const MIN_FRAME = 14;

export class UdpBackend implements NetBackend {
  readonly name = "udp";
  readonly stats: UdpStats = { datagramsIn: 0, datagramsOut: 0, foreign: 0, runts: 0, sendErrors: 0 };
  readonly port: ExternalPort;
  /** Called after each frame from the peer entered the simulation (the session runs it on). */
  onExternal: () => void = () => {};
  private socket: Socket | undefined;

  constructor(clock: Clock, trace: Trace, readonly spec: UdpLinkSpec) {
    this.port = new ExternalPort(clock, trace);
  }

  connect(sink: FrameSink): void {
    this.port.connect(sink);
  }

  /** Bind LOCAL_PORT on the address family's side of REMOTE_HOST (127.0.0.1 for a loopback peer). */
  open(): Promise<void> {
    const s = createSocket({ type: "udp4" });
    this.socket = s;
    const bindHost = this.spec.remoteHost.startsWith("127.") ? "127.0.0.1" : "0.0.0.0";
    s.on("message", (msg, rinfo) => this.onDatagram(msg, rinfo.address, rinfo.port));
    s.on("error", () => this.stats.sendErrors++);
    return new Promise((resolve, reject) => {
      const onError = (e: Error) => reject(new Error(`cannot bind UDP ${bindHost}:${this.spec.localPort}: ${e.message}`));
      s.once("error", onError);
      s.bind(this.spec.localPort, bindHost, () => {
        s.off("error", onError);
        resolve();
      });
    });
  }

  transmit(frame: Uint8Array): void {
    const s = this.socket;
    if (!s) return;
    this.stats.datagramsOut++;
    s.send(frame.slice(), this.spec.remotePort, this.spec.remoteHost, (err) => {
      if (err) this.stats.sendErrors++;
    });
  }

  close(): Promise<void> {
    const s = this.socket;
    this.socket = undefined;
    if (!s) return Promise.resolve();
    return new Promise((resolve) => s.close(() => resolve()));
  }

  private onDatagram(msg: Buffer, address: string, port: number): void {
    if (!this.socket) return;
    if (address !== this.spec.remoteHost || port !== this.spec.remotePort) {
      this.stats.foreign++;
      return;
    }
    if (msg.length < MIN_FRAME) {
      this.stats.runts++;
      return;
    }
    this.stats.datagramsIn++;
    this.port.inject(new Uint8Array(msg.buffer, msg.byteOffset, msg.length));
    this.onExternal();
  }
}
