// pcap writer and reader: the nanosecond global header, record headers with virtual time, both
// directions of a device captured in order.
import { describe, expect, it } from "vitest";
import { PCAP_MAGIC_NS, PcapWriter, readPcap } from "../../host/report/pcap.js";
import { parseFrame } from "../../host/peers/inet.js";
import { capturedPingSession, PEER_MAC } from "./helpers.js";

describe("pcap", () => {
  it("writes the nanosecond header and records with seconds and nanoseconds of virtual time", () => {
    const w = new PcapWriter();
    w.write(1_500_000_123, Uint8Array.of(1, 2, 3));
    w.write(7, new Uint8Array(0));
    const b = w.bytes();
    const v = new DataView(b.buffer);
    expect(v.getUint32(0, true)).toBe(PCAP_MAGIC_NS);
    expect(Array.from(b.subarray(0, 24))).toEqual([0x4d, 0x3c, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0]);
    expect([v.getUint32(24, true), v.getUint32(28, true), v.getUint32(32, true), v.getUint32(36, true)]).toEqual([1, 500_000_123, 3, 3]);
    expect(Array.from(b.subarray(40, 43))).toEqual([1, 2, 3]);
    expect(b.length).toBe(24 + 16 + 3 + 16);
    expect(readPcap(b).map((r) => [r.t, r.bytes.length])).toEqual([[1_500_000_123, 3], [7, 0]]);
  });

  it("refuses what is not a pcap, and truncated records", () => {
    expect(() => readPcap(new Uint8Array(10))).toThrow(/not a pcap/);
    const w = new PcapWriter();
    w.write(0, new Uint8Array(20));
    expect(() => readPcap(w.bytes().subarray(0, 50))).toThrow(/truncated/);
  });

  it("captures both directions of a responder session in time order", async () => {
    const { pcap, frames } = await capturedPingSession(3, 1);
    const recs = readPcap(pcap);
    expect(recs.length).toBe(frames);
    expect(recs.length).toBe(2 * (1 + 3 + 1));
    for (let i = 1; i < recs.length; i++) expect(recs[i]!.t).toBeGreaterThanOrEqual(recs[i - 1]!.t);
    // Requests from the peer and replies from the guest alternate.
    const fromPeer = recs.map((r) => r.bytes.subarray(6, 12).every((b, i) => b === PEER_MAC[i]));
    expect(fromPeer).toEqual([true, false, true, false, true, false, true, false, true, false]);
    expect(recs.map((r) => parseFrame(r.bytes).kind).filter((_, i) => i % 2)).toEqual(["arp-reply", "icmp-echo-reply", "icmp-echo-reply", "icmp-echo-reply", "udp"]);
  });
});
