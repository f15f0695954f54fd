// `virtio-rt serve` on a UDP datagram link with a live peer on loopback: ARP, ICMP and UDP echoes
// over real sockets, statistics at SIGINT, a pcap whose replay (`run --replay`) gives the same
// trace digest; and two simulations linked by the UDP backend, one pinging the other's responder.
import { spawn, spawnSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { UdpBackend } from "../../host/backends/udp.js";
import { Machine } from "../../host/machine.js";
import { PROJECT_ROOT } from "../../host/paths.js";
import { LiveSession } from "../../host/peers/live.js";
import { arpRequest, icmpEcho, ipv4Frame, parseFrame, udpDatagram, type Parsed } from "../../host/peers/inet.js";
import { PingClient } from "../../host/peers/ping.js";
import { createResponder, responderStats } from "../../host/peers/responder.js";
import { readPcap } from "../../host/report/pcap.js";
import type { Clock } from "../../host/sim/clock.js";
import type { Trace } from "../../host/report/trace.js";
import { freeUdpPort, PEER_IP, PEER_MAC, RESPONDER_IP } from "./helpers.js";

const CLI = join(PROJECT_ROOT, "dist", "host", "cli.js");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("virtio-rt serve with a live UDP peer", () => {
  it("answers ARP, ICMP and UDP over real datagrams, stops on SIGINT with its statistics, and the capture replays to the same digest", async () => {
    const dir = mkdtempSync(join(tmpdir(), "virtio-rt-serve-"));
    const pcapFile = join(dir, "serve.pcap");
    const [servePort, peerPort] = [await freeUdpPort(), await freeUdpPort()];
    const peer = createSocket("udp4");
    const got: Parsed[] = [];
    peer.on("message", (m) => got.push(parseFrame(new Uint8Array(m))));
    await new Promise<void>((r) => peer.bind(peerPort, "127.0.0.1", () => r()));
    const child = spawn(process.execPath, [CLI, "serve", "--ip", "10.0.2.15/24", "--backend", `udp:${servePort}:127.0.0.1:${peerPort}`, "--pcap", pcapFile, "--udp-port", "7"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    try {
      // Bounded waits, generous for a loaded machine (a CLI start can take seconds there).
      for (let i = 0; i < 400 && !err.includes("SIGINT or SIGTERM to stop") && child.exitCode === null; i++) await sleep(50);
      expect(err).toContain("10.0.2.15/24 at 52:54:00:12:34:56");
      const send = (f: Uint8Array) => peer.send(f, servePort, "127.0.0.1");
      // A datagram from another port is not the peer: ignored.
      const stranger = createSocket("udp4");
      await new Promise<void>((r) => stranger.send(arpRequest(PEER_MAC, PEER_IP, RESPONDER_IP), servePort, "127.0.0.1", () => r()));
      stranger.close();
      send(arpRequest(PEER_MAC, PEER_IP, RESPONDER_IP));
      for (let i = 0; i < 500 && got.length < 1; i++) await sleep(10);
      const arp = got[0];
      expect(arp?.kind).toBe("arp-reply");
      const gm = (arp as { senderMac: Uint8Array }).senderMac;
      for (let i = 0; i < 10; i++) {
        send(ipv4Frame(gm, PEER_MAC, PEER_IP, RESPONDER_IP, 1, icmpEcho(8, 0x77, i, Uint8Array.of(i, 1, 2, 3))));
        await sleep(5);
      }
      send(ipv4Frame(gm, PEER_MAC, PEER_IP, RESPONDER_IP, 17, udpDatagram(PEER_IP, RESPONDER_IP, 4242, 7, new TextEncoder().encode("datagram"))));
      for (let i = 0; i < 1000 && got.length < 12; i++) await sleep(10);
      expect(got.map((g) => g.kind)).toEqual(["arp-reply", ...Array(10).fill("icmp-echo-reply"), "udp"]);
      expect(got.every((g) => !("ok" in g) || g.ok)).toBe(true);
      expect(got.slice(1, 11).map((g) => (g as { seq: number }).seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      child.kill("SIGINT");
      expect(await exited).toBe(0);
    } finally {
      child.kill("SIGKILL");
      peer.close();
    }
    expect(out).toMatch(/link {8}12 datagrams in, 12 out, 1 from others, 0 runts, 0 send errors; 24 frames written/);
    expect(out).toContain("icmp        10 echo requests, 10 replies");
    expect(out).toContain("udp         1 datagrams to the echo port, 1 echoed, 0 to other ports");
    expect(out).toContain("violations  0");
    const digest = /sha256 ([0-9a-f]{64})/.exec(out)![1];
    const recs = readPcap(readFileSync(pcapFile));
    expect(recs.length).toBe(24);
    // Replay: the same digest, and every frame the guest sent identical in bytes and virtual time.
    const r = spawnSync(process.execPath, [CLI, "run", "--replay", pcapFile, "--ip", "10.0.2.15/24", "--json"], { encoding: "utf8" });
    expect(r.status).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s).toMatchObject({ fed: 12, capturedGuestFrames: 12, guestFramesSent: 12, identical: 12, traceDigest: digest });
    // Replayed with a different address, nothing is answered and the digest moves.
    const other = spawnSync(process.execPath, [CLI, "run", "--replay", pcapFile, "--ip", "10.0.2.16/24", "--json"], { encoding: "utf8" });
    expect(other.status).toBe(1);
    expect(JSON.parse(other.stdout).traceDigest).not.toBe(digest);
  });

  it("refuses a malformed backend or address with a one-line error", () => {
    const bad = spawnSync(process.execPath, [CLI, "serve", "--ip", "10.0.2.15/24", "--backend", "tcp:1:2:3"], { encoding: "utf8" });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^virtio-rt: backend must be udp:LOCAL_PORT:REMOTE_HOST:REMOTE_PORT/);
    const ip = spawnSync(process.execPath, [CLI, "serve", "--ip", "10.0.2.15", "--backend", "udp:1:127.0.0.1:3"], { encoding: "utf8" });
    expect(ip.status).toBe(2);
    expect(ip.stderr).toMatch(/--ip must be ADDR\/PREFIX/);
  });
});

describe("two simulations linked by the UDP backend", () => {
  it("one pings the other's responder: 20 of 20 echo replies and 2 UDP echoes, checksums good", async () => {
    const [portA, portB] = [await freeUdpPort(), await freeUdpPort()];
    let udpA: UdpBackend | undefined;
    let udpB: UdpBackend | undefined;
    const a = await createResponder({ ip: RESPONDER_IP, prefix: 24, udpPort: 7 }, {
      backend: (c: Clock, t: Trace) => (udpA = new UdpBackend(c, t, { localPort: portA, remoteHost: "127.0.0.1", remotePort: portB })),
    });
    // B runs the plain driver; its network stack is a host-side ping client on net_input/transmit.
    const b = await Machine.create({ mac: PEER_MAC, backend: (c: Clock, t: Trace) => (udpB = new UdpBackend(c, t, { localPort: portB, remoteHost: "127.0.0.1", remotePort: portA })) });
    expect(b.attach()).toBeGreaterThanOrEqual(0);
    const client = new PingClient({
      send: (f) => b.clock.after(0, () => b.cpu.whenIdle(() => void b.transmit(f))),
      after: (ns, fn) => b.clock.after(ns, fn),
      now: () => b.clock.now,
    }, { mac: PEER_MAC, ip: PEER_IP, target: RESPONDER_IP, count: 20, intervalNs: 5_000_000, udpCount: 2 });
    b.onFrame = (_dev, bytes) => client.receive(bytes);
    await udpA!.open();
    await udpB!.open();
    const sa = new LiveSession(a, udpA!, "none");
    const sb = new LiveSession(b, udpB!, "realtime"); // the pinger's 5 ms intervals pass in wall time
    sa.start();
    sb.start();
    b.clock.after(0, () => client.start());
    try {
      for (let i = 0; i < 1500 && client.result.udpReceived < 2; i++) await sleep(10);
    } finally {
      await sb.stop();
      await sa.stop();
    }
    expect(client.result).toMatchObject({ echoSent: 20, echoReceived: 20, udpSent: 2, udpReceived: 2, badChecksums: 0, mismatches: 0 });
    expect(Array.from(client.result.targetMac!)).toEqual([0x52, 0x54, 0, 0x12, 0x34, 0x56]);
    expect(responderStats(a)).toMatchObject({ arpReplies: 1, icmpEchoReplies: 20, udpEchoes: 2, badChecksum: 0 });
    expect(udpA!.stats).toMatchObject({ datagramsIn: 23, datagramsOut: 23, foreign: 0 });
    expect(a.transport.violations.length + b.transport.violations.length).toBe(0);
  });
});
