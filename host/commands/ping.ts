// `virtio-rt ping`: a simulated peer pings the guest responder (build/responder.wasm) over the
// simulated wire: ARP, ICMP echo requests, UDP echo datagrams; every reply checked, round trips
// in virtual time. What `npm start` shows after the default run.
import type { Command } from "commander";
import type { Clock } from "../sim/clock.js";
import { ipv4String, parseCidr, parseIpv4, macString } from "../peers/inet.js";
import { PingPeer, rttSummary } from "../peers/ping.js";
import { createResponder, DEFAULT_UDP_ECHO_PORT, guestMac, responderStats } from "../peers/responder.js";
import { fail, intArg } from "./common.js";

const PEER_MAC = Uint8Array.of(0x02, 0x00, 0x00, 0x00, 0x00, 0x02);

interface PingOpts {
  ip: string;
  from: string;
  count: number;
  interval: number;
  udp: number;
  json?: boolean;
}

async function ping(o: PingOpts): Promise<void> {
  let cfg, from;
  try {
    const c = parseCidr(o.ip);
    cfg = { ...c, udpPort: DEFAULT_UDP_ECHO_PORT };
    from = parseIpv4(o.from);
  } catch (e) {
    fail((e as Error).message);
  }
  let peer: PingPeer | undefined;
  const m = await createResponder(cfg, {
    backend: (c: Clock) => (peer = new PingPeer(c, { mac: PEER_MAC, ip: from, target: cfg.ip, count: o.count, intervalNs: o.interval * 1000, udpCount: o.udp, udpPort: cfg.udpPort })),
  }).catch((e: Error) => fail(e.message));
  const mac = macString(guestMac(m));
  peer!.startAt(m.clock.now);
  m.runIdle();
  const r = peer!.client!.result;
  const st = responderStats(m);
  const loss = r.echoSent ? Math.round((100 * (r.echoSent - r.echoReceived)) / r.echoSent) : 100;
  const rtt = rttSummary(r.rtts);
  const summary = {
    target: ipv4String(cfg.ip), mac, arpResolved: r.targetMac !== undefined, echoSent: r.echoSent, echoReceived: r.echoReceived,
    lossPercent: loss, rttNs: rtt, udpSent: r.udpSent, udpReceived: r.udpReceived, badChecksums: r.badChecksums,
    mismatches: r.mismatches, responder: st, violations: m.transport.violations.length, traceDigest: m.trace.digest(),
  };
  if (o.json) process.stdout.write(JSON.stringify(summary, null, 2) + "\n");
  else {
    const us = (ns: number) => (ns / 1000).toFixed(3);
    process.stdout.write([
      `ping        ${summary.target} (responder in build/responder.wasm) from ${o.from}, simulated wire`,
      `arp         ${summary.target} is at ${r.targetMac ? macString(r.targetMac) : "(no reply)"}`,
      `icmp        ${r.echoSent} echo requests, ${r.echoReceived} replies, ${loss}% loss` +
        (rtt ? `; rtt min/avg/max/mdev ${us(rtt.min)}/${us(rtt.avg)}/${us(rtt.max)}/${us(rtt.mdev)} us (virtual)` : ""),
      `udp         ${r.udpSent} datagrams to port ${cfg.udpPort}, ${r.udpReceived} echoed`,
      `checks      ${r.badChecksums} bad checksums, ${r.mismatches} mismatched replies, ${summary.violations} violations`,
      `trace       ${m.trace.count} events, sha256 ${summary.traceDigest}`,
    ].join("\n") + "\n");
  }
  const ok = r.echoReceived === r.echoSent && r.udpReceived === r.udpSent && r.badChecksums === 0 && r.mismatches === 0 && !m.dead;
  process.exitCode = ok ? 0 : 1;
}

export function registerPing(program: Command): void {
  program
    .command("ping")
    .description("ping the guest responder from a simulated peer: ARP, ICMP echo, UDP echo, all in virtual time")
    .option("--ip <addr/prefix>", "the responder's address", "10.0.2.15/24")
    .option("--from <addr>", "the peer's address", "10.0.2.2")
    .option("--count <n>", "echo requests", intArg("--count", 100_000), 5)
    .option("--interval <us>", "virtual microseconds between requests", intArg("--interval", 10_000_000), 1000)
    .option("--udp <n>", "UDP datagrams to the echo port after the pings", intArg("--udp", 100_000), 1)
    .option("--json", "print the summary as JSON")
    .action(ping);
}
