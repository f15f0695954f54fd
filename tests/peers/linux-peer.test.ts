// Linux as the peer (tests/peers/linux-peer.sh): the kernel pings the Wasm guest through a TAP in
// a network namespace bridged to `serve` by socat: 200 of 200 answered, a UDP datagram echoed to
// a Linux socket, the guest's MAC learned by ARP; tshark finds the capture clean and its replay
// gives serve's digest. Skipped, with the reason, where it cannot run (not root, no /dev/net/tun).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../host/paths.js";
import { hasTool, TSHARK_BAD, tsharkFields } from "./helpers.js";

const SCRIPT = join(PROJECT_ROOT, "tests", "peers", "linux-peer.sh");
const CLI = join(PROJECT_ROOT, "dist", "host", "cli.js");

function cannotRun(): string | undefined {
  if (process.platform !== "linux") return "not Linux";
  if (process.getuid?.() !== 0) return "not root (network namespaces and TAP devices need CAP_NET_ADMIN)";
  if (!existsSync("/dev/net/tun")) return "no /dev/net/tun";
  for (const t of ["ip", "socat", "ping"]) if (!hasTool(t)) return `${t} is not installed (.ci/run installs iproute2, socat, iputils-ping)`;
  return undefined;
}

describe("Linux as the peer", () => {
  it("pings the guest 200 times with 0% loss, gets a UDP echo, learns the guest MAC; tshark finds no bad checksum", (ctx) => {
    const reason = cannotRun();
    if (reason) ctx.skip(reason);
    const out = mkdtempSync(join(tmpdir(), "virtio-rt-linux-"));
    const r = spawnSync("bash", [SCRIPT, out], { encoding: "utf8", timeout: 50_000, killSignal: "SIGTERM" });
    if (r.status === 77) ctx.skip(r.stdout.trim());
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const kv = Object.fromEntries(r.stdout.split("\n").filter((l) => /^[A-Z_]+: /.test(l)).map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 2).trim()]));
    expect(kv).toMatchObject({ PING_RC: "0", TRANSMITTED: "200", RECEIVED: "200", LOSS: "0", UDP_ECHO: "ok", GUEST_MAC: "52:54:00:12:34:56", SERVE_RC: "0" });
    expect(kv.NEIGH).toMatch(/^10\.213\.7\.2 lladdr 52:54:00:12:34:56 (REACHABLE|STALE|DELAY)/);
    const serve = r.stdout.split("\n").filter((l) => l.startsWith("SERVE| ")).map((l) => l.slice(7)).join("\n");
    expect(serve).toContain("icmp        200 echo requests, 200 replies");
    expect(serve).toContain("udp         1 datagrams to the echo port, 1 echoed");
    expect(serve).toContain("violations  0");
    ctx.annotate(`Linux ping: 200/200, 0% loss, rtt min/avg/max/mdev ${kv.RTT_MS} ms (wall clock)`);

    const pcap = join(out, "linux.pcap");
    if (hasTool("tshark")) {
      const frames = tsharkFields(pcap, ["frame.number"]);
      expect(frames.length).toBeGreaterThanOrEqual(2 * (1 + 200 + 1));
      expect(tsharkFields(pcap, ["frame.number"], `${TSHARK_BAD} || icmpv6.checksum.status == 0`)).toEqual([]);
      ctx.annotate(`tshark checked ${frames.length} frames of the Linux session: no bad checksum, nothing malformed`);
    }
    // The live session, replayed from its capture, gives serve's digest.
    const digest = /sha256 ([0-9a-f]{64})/.exec(serve)![1];
    const rep = spawnSync(process.execPath, [CLI, "run", "--replay", pcap, "--ip", "10.213.7.2/24", "--json"], { encoding: "utf8" });
    expect(rep.status).toBe(0);
    expect(JSON.parse(rep.stdout).traceDigest).toBe(digest);
  });
});
