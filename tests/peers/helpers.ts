// Helpers for the real-peer tests: free loopback UDP ports, a responder session captured to pcap,
// whether an external tool is there, and tshark with checksum validation on.
import { spawnSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { captureBackend, PcapWriter } from "../../host/report/pcap.js";
import type { Clock } from "../../host/sim/clock.js";
import { parseIpv4 } from "../../host/peers/inet.js";
import { PingPeer, type PingResult } from "../../host/peers/ping.js";
import { createResponder, responderStats, type ResponderStats } from "../../host/peers/responder.js";

/** A UDP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released). */
export async function freeUdpPort(): Promise<number> {
  const s = createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export function hasTool(name: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).status === 0;
}

export const RESPONDER_IP = parseIpv4("10.0.2.15");
export const PEER_IP = parseIpv4("10.0.2.2");
export const PEER_MAC = Uint8Array.of(0x02, 0, 0, 0, 0, 0x02);

/** A simulated peer pings the responder (`count` echoes, `udp` datagrams); the wire is captured. */
export async function capturedPingSession(count: number, udp: number, size = 56): Promise<{ pcap: Uint8Array; result: PingResult; stats: ResponderStats; frames: number }> {
  const pcap = new PcapWriter();
  let peer: PingPeer | undefined;
  const m = await createResponder({ ip: RESPONDER_IP, prefix: 24, udpPort: 7 }, {
    backend: (c: Clock) => captureBackend((peer = new PingPeer(c, { mac: PEER_MAC, ip: PEER_IP, target: RESPONDER_IP, count, intervalNs: 200_000, udpCount: udp, size })), c, pcap),
  });
  peer!.startAt(m.clock.now);
  m.runIdle();
  return { pcap: pcap.bytes(), result: peer!.client!.result, stats: responderStats(m), frames: pcap.count };
}

// IPv4 and UDP validation is off unless asked for; tshark has no ICMP preference: it always
// verifies the ICMP checksum (icmp.checksum.status); tshark.test.ts checks that every one was verified.
export const TSHARK_CHECKS = ["-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"];

/** Run tshark over `file`; returns one line of fields per frame. */
export function tsharkFields(file: string, fields: string[], filter?: string): string[] {
  const args = ["-r", file, "-n", ...TSHARK_CHECKS, ...(filter ? ["-Y", filter] : []), "-T", "fields", "-E", "separator=|", ...fields.flatMap((f) => ["-e", f])];
  const r = spawnSync("tshark", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`tshark failed (${r.status}): ${r.stderr}`);
  return r.stdout.split("\n").filter((l) => l.length > 0);
}

/** The frames tshark flags: a bad IPv4/ICMP/UDP checksum, a malformed packet, an error-level expert note. */
export const TSHARK_BAD = "ip.checksum.status == 0 || icmp.checksum.status == 0 || udp.checksum.status == 0 || _ws.malformed || _ws.expert.severity == error";

