// Host-side IPv4 packets for the peers that talk to the responder: addresses, the Internet
// checksum, and ARP / ICMP echo / UDP frames built and parsed as bytes.

/** "10.0.2.15" -> 0x0a00020f. */
export function parseIpv4(text: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m || m.slice(1).some((x) => Number(x) > 255)) throw new Error(`not an IPv4 address: ${JSON.stringify(text)}`);
  return ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0;
}

/** "10.0.2.15/24" -> { ip, prefix }. */
export function parseCidr(text: string): { ip: number; prefix: number } {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(text);
  if (!m || Number(m[2]) > 32) throw new Error(`--ip must be ADDR/PREFIX (e.g. 10.0.2.15/24), got ${JSON.stringify(text)}`);
  return { ip: parseIpv4(m[1]!), prefix: Number(m[2]) };
}

export function ipv4String(ip: number): string {
  return [ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].join(".");
}

export function parseMac(text: string): Uint8Array {
  const m = /^([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2})$/i.exec(text);
  if (!m) throw new Error(`not a MAC address: ${JSON.stringify(text)}`);
  return Uint8Array.from(m.slice(1).map((x) => parseInt(x, 16)));
}

export function macString(mac: Uint8Array): string {
  return Array.from(mac.subarray(0, 6), (b) => b.toString(16).padStart(2, "0")).join(":");
}

/** RFC 1071 over `data`, starting from `acc`; returns the folded complement. */
export function inetChecksum(data: Uint8Array, acc = 0): number {
  for (let i = 0; i + 1 < data.length; i += 2) acc += (data[i]! << 8) | data[i + 1]!;
  if (data.length & 1) acc += data[data.length - 1]! << 8;
  while (acc > 0xffff) acc = (acc & 0xffff) + Math.floor(acc / 0x10000);
  return ~acc & 0xffff;
}

function pseudo(src: number, dst: number, proto: number, len: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + proto + len;
}

const BROADCAST = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);

function ether(dst: Uint8Array, src: Uint8Array, type: number, payloadLen: number): { f: Uint8Array; v: DataView } {
  const f = new Uint8Array(Math.max(60, 14 + payloadLen));
  f.set(dst, 0);
  f.set(src, 6);
  const v = new DataView(f.buffer);
  v.setUint16(12, type);
  return { f, v };
}

/** Who-has `targetIp`, tell `srcIp` (broadcast), padded to 60 bytes. */
export function arpRequest(srcMac: Uint8Array, srcIp: number, targetIp: number): Uint8Array {
  const { f, v } = ether(BROADCAST, srcMac, 0x0806, 28);
  v.setUint16(14, 1);
  v.setUint16(16, 0x0800);
  f[18] = 6;
  f[19] = 4;
  v.setUint16(20, 1);
  f.set(srcMac, 22);
  v.setUint32(28, srcIp);
  v.setUint32(38, targetIp);
  return f;
}

/** An IPv4 packet (20-byte header, DF clear, TTL 64) in an Ethernet frame. */
export function ipv4Frame(dstMac: Uint8Array, srcMac: Uint8Array, src: number, dst: number, proto: number, payload: Uint8Array, id = 0): Uint8Array {
  const { f, v } = ether(dstMac, srcMac, 0x0800, 20 + payload.length);
  f[14] = 0x45;
  v.setUint16(16, 20 + payload.length);
  v.setUint16(18, id);
  f[22] = 64;
  f[23] = proto;
  v.setUint32(26, src);
  v.setUint32(30, dst);
  v.setUint16(24, inetChecksum(f.subarray(14, 34)));
  f.set(payload, 34);
  return f;
}

export function icmpEcho(type: 0 | 8, ident: number, seq: number, data: Uint8Array): Uint8Array {
  const m = new Uint8Array(8 + data.length);
  const v = new DataView(m.buffer);
  m[0] = type;
  v.setUint16(4, ident);
  v.setUint16(6, seq);
  m.set(data, 8);
  v.setUint16(2, inetChecksum(m));
  return m;
}

export function udpDatagram(src: number, dst: number, sport: number, dport: number, data: Uint8Array): Uint8Array {
  const u = new Uint8Array(8 + data.length);
  const v = new DataView(u.buffer);
  v.setUint16(0, sport);
  v.setUint16(2, dport);
  v.setUint16(4, u.length);
  u.set(data, 8);
  const c = inetChecksum(u, pseudo(src, dst, 17, u.length));
  v.setUint16(6, c === 0 ? 0xffff : c);
  return u;
}

/** What a peer makes of a frame: only what the responder sends back is parsed. */
export type Parsed =
  | { kind: "arp-reply"; senderMac: Uint8Array; senderIp: number; targetIp: number }
  | { kind: "icmp-echo-reply"; src: number; dst: number; ident: number; seq: number; data: Uint8Array; ok: boolean }
  | { kind: "udp"; src: number; dst: number; sport: number; dport: number; data: Uint8Array; ok: boolean }
  | { kind: "other" };

/** Parse a frame; `ok` says whether the IPv4 header and ICMP/UDP checksums verify. */
export function parseFrame(f: Uint8Array): Parsed {
  if (f.length < 14) return { kind: "other" };
  const v = new DataView(f.buffer, f.byteOffset, f.byteLength);
  const type = v.getUint16(12);
  if (type === 0x0806 && f.length >= 42 && v.getUint16(20) === 2) {
    return { kind: "arp-reply", senderMac: f.slice(22, 28), senderIp: v.getUint32(28), targetIp: v.getUint32(38) };
  }
  if (type !== 0x0800 || f.length < 34) return { kind: "other" };
  const hlen = (f[14]! & 15) * 4;
  const total = v.getUint16(16);
  if (total < hlen || 14 + total > f.length) return { kind: "other" };
  const headerOk = inetChecksum(f.subarray(14, 14 + hlen)) === 0;
  const src = v.getUint32(26);
  const dst = v.getUint32(30);
  const p = f.subarray(14 + hlen, 14 + total);
  const pv = new DataView(p.buffer, p.byteOffset, p.byteLength);
  if (f[23] === 1 && p.length >= 8 && p[0] === 0) {
    return { kind: "icmp-echo-reply", src, dst, ident: pv.getUint16(4), seq: pv.getUint16(6), data: p.slice(8), ok: headerOk && inetChecksum(p) === 0 };
  }
  if (f[23] === 17 && p.length >= 8) {
    const ulen = pv.getUint16(4);
    const u = p.subarray(0, ulen);
    const ok = headerOk && ulen >= 8 && ulen <= p.length && (pv.getUint16(6) === 0 || inetChecksum(u, pseudo(src, dst, 17, ulen)) === 0);
    return { kind: "udp", src, dst, sport: pv.getUint16(0), dport: pv.getUint16(2), data: p.slice(8, ulen), ok };
  }
  return { kind: "other" };
}
