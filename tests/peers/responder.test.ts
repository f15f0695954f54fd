// The guest responder (build/responder.wasm) on the simulated device: ARP, ICMP echo and UDP echo
// answered with correct bytes and checksums; bad input counted and left unanswered.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ScriptedBackend } from "../../host/backends/scripted.js";
import { arpRequest, icmpEcho, inetChecksum, ipv4Frame, parseFrame, parseIpv4, udpDatagram } from "../../host/peers/inet.js";
import { PingPeer } from "../../host/peers/ping.js";
import { createResponder, guestMac, RESPONDER_PATH, RESPONDER_STATS, responderStats } from "../../host/peers/responder.js";
import type { Clock } from "../../host/sim/clock.js";

const IP = parseIpv4("10.0.2.15");
const PEER_IP = parseIpv4("10.0.2.2");
const PEER_MAC = Uint8Array.of(0x02, 0, 0, 0, 0, 0x22);
const GUEST_MAC = Uint8Array.of(0x52, 0x54, 0x00, 0x12, 0x34, 0x56);

async function scripted(frames: Uint8Array[], udpPort = 7) {
  let be: ScriptedBackend | undefined;
  const script = frames.map((bytes, i) => ({ at: 1_000_000 + i * 100_000, bytes }));
  const m = await createResponder({ ip: IP, prefix: 24, udpPort }, { backend: (c: Clock) => (be = new ScriptedBackend(c, script)) });
  m.runIdle();
  return { m, sent: be!.sent.map((s) => s.bytes), stats: responderStats(m) };
}

describe("responder module", () => {
  it("imports only the HAL and exports the driver ABI plus the responder's three functions", async () => {
    const mod = await WebAssembly.compile(readFileSync(RESPONDER_PATH));
    expect(WebAssembly.Module.imports(mod).every((i) => i.module === "hal")).toBe(true);
    // The receive path goes to the stack inside the module, never to the host.
    expect(WebAssembly.Module.imports(mod).some((i) => i.name === "net_input")).toBe(false);
    const names = WebAssembly.Module.exports(mod).map((e) => e.name);
    for (const n of ["attach", "poll", "transmit", "heap_top", "responder_config", "responder_stats", "responder_stats_count"]) expect(names).toContain(n);
  });

  it("answers an ARP request for its address with the exact reply bytes", async () => {
    const { sent, stats } = await scripted([arpRequest(PEER_MAC, PEER_IP, IP)]);
    expect(sent).toHaveLength(1);
    const r = sent[0]!;
    expect(r.length).toBe(60);
    const want = new Uint8Array(60);
    want.set(PEER_MAC, 0);
    want.set(GUEST_MAC, 6);
    want.set([0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 2], 12);
    want.set(GUEST_MAC, 22);
    want.set([10, 0, 2, 15], 28);
    want.set(PEER_MAC, 32);
    want.set([10, 0, 2, 2], 38);
    expect(Array.from(r)).toEqual(Array.from(want));
    expect(stats.arpRequests).toBe(1);
    expect(stats.arpReplies).toBe(1);
  });

  it("ignores ARP for other addresses and from off-link senders", async () => {
    const { sent, stats } = await scripted([arpRequest(PEER_MAC, PEER_IP, parseIpv4("10.0.2.16")), arpRequest(PEER_MAC, parseIpv4("10.0.9.2"), IP)]);
    expect(sent).toHaveLength(0);
    expect(stats.notForUs).toBe(2);
  });

  it("echoes ICMP with id, sequence and data, and valid IPv4 and ICMP checksums", async () => {
    const data = Uint8Array.from({ length: 56 }, (_, i) => i * 3);
    const req = ipv4Frame(GUEST_MAC, PEER_MAC, PEER_IP, IP, 1, icmpEcho(8, 0x1234, 9, data), 77);
    const { sent, stats } = await scripted([req]);
    expect(sent).toHaveLength(1);
    const r = sent[0]!;
    expect(Array.from(r.subarray(0, 6))).toEqual(Array.from(PEER_MAC));
    expect(Array.from(r.subarray(6, 12))).toEqual(Array.from(GUEST_MAC));
    expect(r[14]).toBe(0x45);
    expect(r[22]).toBe(64);
    expect(inetChecksum(r.subarray(14, 34))).toBe(0);
    expect(inetChecksum(r.subarray(34))).toBe(0);
    const p = parseFrame(r);
    expect(p).toMatchObject({ kind: "icmp-echo-reply", src: IP, dst: PEER_IP, ident: 0x1234, seq: 9, ok: true });
    expect(Array.from((p as { data: Uint8Array }).data)).toEqual(Array.from(data));
    expect(stats.icmpEchoReplies).toBe(1);
  });

  it("echoes UDP on its port only, ports swapped, checksum over the pseudo-header", async () => {
    const data = new TextEncoder().encode("hello, responder");
    const toPort = (p: number) => ipv4Frame(GUEST_MAC, PEER_MAC, PEER_IP, IP, 17, udpDatagram(PEER_IP, IP, 5555, p, data));
    const { sent, stats } = await scripted([toPort(7007), toPort(9)], 7007);
    expect(sent).toHaveLength(1);
    const p = parseFrame(sent[0]!);
    expect(p).toMatchObject({ kind: "udp", src: IP, dst: PEER_IP, sport: 7007, dport: 5555, ok: true });
    expect(new TextDecoder().decode((p as { data: Uint8Array }).data)).toBe("hello, responder");
    expect(stats.udpEchoes).toBe(1);
    expect(stats.udpClosed).toBe(1);
  });

  it("counts and drops bad checksums, fragments, other MACs, other protocols", async () => {
    const good = ipv4Frame(GUEST_MAC, PEER_MAC, PEER_IP, IP, 1, icmpEcho(8, 1, 1, new Uint8Array(8)));
    const badIp = good.slice();
    badIp[24]! ^= 0xff;
    const badIcmp = good.slice();
    badIcmp[40]! ^= 1;
    const frag = ipv4Frame(GUEST_MAC, PEER_MAC, PEER_IP, IP, 1, icmpEcho(8, 1, 1, new Uint8Array(8)));
    frag[20] = 0x20; // MF
    frag[24] = frag[25] = 0;
    new DataView(frag.buffer).setUint16(24, inetChecksum(frag.subarray(14, 34)));
    const otherMac = good.slice();
    otherMac[5] = 0x57;
    const tcp = ipv4Frame(GUEST_MAC, PEER_MAC, PEER_IP, IP, 6, new Uint8Array(20));
    const { sent, stats } = await scripted([badIp, badIcmp, frag, otherMac, tcp]);
    expect(sent).toHaveLength(0);
    expect(stats.badChecksum).toBe(2);
    expect(stats.unsupported).toBe(2);
    expect(stats.notForUs).toBe(1);
    expect(stats.framesIn).toBe(5);
  });

  it("has as many counters as the host names, and nothing allocated after instantiation", async () => {
    const { m, stats } = await scripted([arpRequest(PEER_MAC, PEER_IP, IP)]);
    expect(Object.keys(stats)).toEqual([...RESPONDER_STATS]);
    const top = m.driver.heap_top();
    m.net.setLink(true);
    expect(m.driver.heap_top()).toBe(top);
    expect(Array.from(guestMac(m))).toEqual(Array.from(GUEST_MAC));
  });

  it("answers a pinging peer on the wire: 20 of 20, then UDP echoes, deterministic RTTs", async () => {
    const run = async () => {
      let peer: PingPeer | undefined;
      const m = await createResponder({ ip: IP, prefix: 24, udpPort: 7 }, {
        backend: (c: Clock) => (peer = new PingPeer(c, { mac: PEER_MAC, ip: PEER_IP, target: IP, count: 20, intervalNs: 1_000_000, udpCount: 3, startNs: 1_000_000 })),
      });
      m.runIdle();
      return { r: peer!.client!.result, digest: m.trace.digest(), violations: m.transport.violations.length };
    };
    const a = await run();
    expect(Array.from(a.r.targetMac!)).toEqual(Array.from(GUEST_MAC));
    expect(a.r).toMatchObject({ echoSent: 20, echoReceived: 20, udpSent: 3, udpReceived: 3, badChecksums: 0, mismatches: 0 });
    expect(a.violations).toBe(0);
    const b = await run();
    expect(b.r.rtts).toEqual(a.r.rtts);
    expect(b.digest).toBe(a.digest);
  });
});
