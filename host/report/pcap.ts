// pcap capture of the frames crossing a device, both directions, stamped with virtual time at
// nanosecond resolution (the nanosecond magic 0xa1b23c4d, LINKTYPE_ETHERNET), readable by
// Wireshark and tshark; a reader for `run --replay`; and the tap that records at the backend.
import { closeSync, openSync, writeSync } from "node:fs";
import type { Clock } from "../sim/clock.js";
import type { FrameSink, NetBackend } from "../backends/backend.js";

export const PCAP_MAGIC_NS = 0xa1b23c4d;
export const PCAP_MAGIC_US = 0xa1b2c3d4;
export const LINKTYPE_ETHERNET = 1;
export const PCAP_SNAPLEN = 65535;

export interface PcapRecord {
  /** Virtual time in ns. */
  t: number;
  bytes: Uint8Array;
  /** Length on the wire (equals bytes.length unless the capture truncated it). */
  origLen: number;
}

function globalHeader(): Uint8Array {
  const h = new Uint8Array(24);
  const v = new DataView(h.buffer);
  v.setUint32(0, PCAP_MAGIC_NS, true);
  v.setUint16(4, 2, true);
  v.setUint16(6, 4, true);
  // thiszone 0, sigfigs 0
  v.setUint32(16, PCAP_SNAPLEN, true);
  v.setUint32(20, LINKTYPE_ETHERNET, true);
  return h;
}

function recordHeader(t: number, inclLen: number, origLen: number): Uint8Array {
  const h = new Uint8Array(16);
  const v = new DataView(h.buffer);
  v.setUint32(0, Math.floor(t / 1e9), true);
  v.setUint32(4, t % 1e9, true);
  v.setUint32(8, inclLen, true);
  v.setUint32(12, origLen, true);
  return h;
}

/**
 * Writes a pcap stream: to a file (each record written through at once, so a capture cut short by
 * a signal is still readable) or, without a path, into memory (`bytes()`).
 */
export class PcapWriter {
  private fd: number | undefined;
  private chunks: Uint8Array[] | undefined;
  /** Records written. */
  count = 0;

  constructor(path?: string) {
    if (path !== undefined) this.fd = openSync(path, "w");
    else this.chunks = [];
    this.put(globalHeader());
  }

  /** One frame at virtual time `t` (ns, a non-negative integer). */
  write(t: number, frame: Uint8Array): void {
    if (!Number.isSafeInteger(t) || t < 0) throw new RangeError(`pcap timestamp must be a non-negative integer ns, got ${t}`);
    const incl = Math.min(frame.length, PCAP_SNAPLEN);
    this.put(recordHeader(t, incl, frame.length));
    this.put(incl === frame.length ? frame : frame.subarray(0, incl));
    this.count++;
  }

  /** The capture so far (in-memory writers only). */
  bytes(): Uint8Array {
    if (!this.chunks) throw new Error("a file-backed PcapWriter keeps no bytes in memory");
    return concat(this.chunks);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private put(b: Uint8Array): void {
    if (this.chunks) this.chunks.push(b.slice());
    else if (this.fd !== undefined) writeSync(this.fd, b);
  }
}

/** Parse a pcap file (either byte order, µs or ns magic, Ethernet only); timestamps come back in ns. */
export function readPcap(data: Uint8Array): PcapRecord[] {
  if (data.length < 24) throw new Error("not a pcap file: shorter than its 24-byte header");
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let le: boolean;
  let nanos: boolean;
  const m = v.getUint32(0, true);
  if (m === PCAP_MAGIC_NS || m === PCAP_MAGIC_US) [le, nanos] = [true, m === PCAP_MAGIC_NS];
  else {
    const mb = v.getUint32(0, false);
    if (mb !== PCAP_MAGIC_NS && mb !== PCAP_MAGIC_US) throw new Error(`not a pcap file: magic 0x${m.toString(16)} (pcapng is not read)`);
    [le, nanos] = [false, mb === PCAP_MAGIC_NS];
  }
  const link = v.getUint32(20, le);
  if (link !== LINKTYPE_ETHERNET) throw new Error(`pcap link type ${link} is not Ethernet (1)`);
  const out: PcapRecord[] = [];
  let off = 24;
  while (off < data.length) {
    if (off + 16 > data.length) throw new Error(`pcap truncated in the record header at byte ${off}`);
    const sec = v.getUint32(off, le);
    const frac = v.getUint32(off + 4, le);
    const incl = v.getUint32(off + 8, le);
    const orig = v.getUint32(off + 12, le);
    off += 16;
    if (off + incl > data.length) throw new Error(`pcap truncated in record ${out.length + 1}`);
    out.push({ t: sec * 1e9 + (nanos ? frac : frac * 1000), bytes: data.slice(off, off + incl), origLen: orig });
    off += incl;
  }
  return out;
}

/**
 * A backend wrapped so that every frame crossing it is written to `pcap` at the virtual time it
 * crosses: a guest frame when its last bit leaves the device, an incoming one when it reaches it.
 */
export function captureBackend(inner: NetBackend, clock: Clock, pcap: PcapWriter): NetBackend {
  return {
    name: inner.name,
    connect(sink: FrameSink): void {
      inner.connect((frame) => {
        pcap.write(clock.now, frame);
        sink(frame);
      });
    },
    transmit(frame: Uint8Array): void {
      pcap.write(clock.now, frame);
      inner.transmit(frame);
    },
  };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
