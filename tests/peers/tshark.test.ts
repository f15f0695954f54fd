// tshark dissects a responder session's capture with IPv4, ICMP and UDP checksum validation on:
// no bad checksum, no malformed packet, every frame read.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { capturedPingSession, hasTool, TSHARK_BAD, tsharkFields } from "./helpers.js";

describe("tshark on a responder capture", () => {
  it("finds every checksum good and nothing malformed in 100 pings and 20 UDP echoes", async (ctx) => {
    if (!hasTool("tshark")) ctx.skip("tshark is not installed (.ci/run installs it)");
    const { pcap, frames, result } = await capturedPingSession(100, 20, 200);
    expect(result).toMatchObject({ echoReceived: 100, udpReceived: 20, badChecksums: 0 });
    const file = join(mkdtempSync(join(tmpdir(), "virtio-rt-tshark-")), "responder.pcap");
    writeFileSync(file, pcap);
    const all = tsharkFields(file, ["frame.number", "_ws.col.Protocol", "ip.checksum.status", "icmp.checksum.status", "udp.checksum.status"]);
    expect(all.length).toBe(frames);
    expect(frames).toBe(2 * (1 + 100 + 20));
    const protos = all.map((l) => l.split("|")[1]);
    expect(protos.filter((p) => p === "ARP").length).toBe(2);
    expect(protos.filter((p) => p === "ICMP").length).toBe(200);
    expect(protos.filter((p) => p === "ECHO").length).toBe(40); // UDP port 7 dissects as ECHO
    // Validation is really on: every IPv4 header, ICMP and UDP checksum was checked and found good (1).
    const ipv4 = all.filter((l) => l.split("|")[2] !== "");
    expect(ipv4.length).toBe(240);
    expect(ipv4.every((l) => l.split("|")[2] === "1")).toBe(true);
    expect(all.filter((l) => l.split("|")[3] === "1").length).toBe(200);
    expect(all.filter((l) => l.split("|")[4] === "1").length).toBe(40);
    expect(tsharkFields(file, ["frame.number"], TSHARK_BAD)).toEqual([]);
  });

  it("does flag a corrupted checksum (the check is not vacuous)", async (ctx) => {
    if (!hasTool("tshark")) ctx.skip("tshark is not installed (.ci/run installs it)");
    const { pcap } = await capturedPingSession(1, 0);
    const bad = pcap.slice();
    // Frame 4 is the echo reply; flip a byte of its ICMP data (24 + 3 records' headers and bytes before it).
    let off = 24;
    for (let i = 0; i < 3; i++) off += 16 + new DataView(bad.buffer).getUint32(off + 8, true);
    bad[off + 16 + 14 + 20 + 10]! ^= 0xff;
    const file = join(mkdtempSync(join(tmpdir(), "virtio-rt-tshark-")), "bad.pcap");
    writeFileSync(file, bad);
    expect(tsharkFields(file, ["frame.number"], TSHARK_BAD)).toEqual(["4"]);
  });
});
