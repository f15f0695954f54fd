// `virtio-rt serve`: the guest responder on a UDP datagram link to a live peer (Linux through
// socat and a TAP, QEMU's -netdev dgram, another virtio-rt) until SIGINT or SIGTERM, then its
// statistics; and the printing `run --replay` shares with it.
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { parseUdpSpec, UdpBackend, type UdpLinkSpec } from "../backends/udp.js";
import { captureBackend, PcapWriter } from "../report/pcap.js";
import type { Clock } from "../sim/clock.js";
import type { Trace } from "../report/trace.js";
import { LiveSession, type Pace } from "../peers/live.js";
import { ipv4String, macString, parseCidr, parseMac } from "../peers/inet.js";
import { replayCapture, type ReplaySummary } from "../peers/replay.js";
import { createResponder, DEFAULT_UDP_ECHO_PORT, finishResponder, guestMac, type ResponderSummary } from "../peers/responder.js";
import { fail, intArg } from "./common.js";
import { profileOptions } from "./profile-options.js";


export interface ResponderFlags {
  ip: string;
  udpPort?: number;
  mac?: string;
  seed?: number;
}

function responderSetup(o: ResponderFlags) {
  try {
    const { ip, prefix } = parseCidr(o.ip);
    return { cfg: { ip, prefix, udpPort: o.udpPort ?? DEFAULT_UDP_ECHO_PORT }, mac: o.mac ? parseMac(o.mac) : undefined, seed: o.seed ?? 1 };
  } catch (e) {
    fail((e as Error).message);
  }
}

/** The summary lines of a responder session (serve, run --replay). */
export function formatResponderSummary(s: ResponderSummary): string {
  const st = s.stats;
  const drops = Object.entries(s.deviceDrops).map(([k, v]) => `${k} ${v}`).join(", ") || "none";
  const lines = [
    `frames      in ${s.framesIn}, out ${s.framesOut} (device drops: ${drops})`,
    `arp         ${st.arpRequests} requests, ${st.arpReplies} replies`,
    `icmp        ${st.icmpEchoRequests} echo requests, ${st.icmpEchoReplies} replies`,
    `udp         ${st.udpDatagrams} datagrams to the echo port, ${st.udpEchoes} echoed, ${st.udpClosed} to other ports`,
    `ignored     ${st.notForUs} not for us, ${st.badChecksum} bad checksum, ${st.malformed} malformed, ${st.unsupported} unsupported, ${st.tooBig} too big, ${st.txErrors} transmit errors`,
    `virtual     ${(s.virtualTimeNs / 1000).toFixed(1)} us elapsed`,
    `violations  ${s.violations}`,
    `trace       ${s.traceEvents} events, sha256 ${s.traceDigest}`,
  ];
  if (s.driverDead) lines.push(`driver      STOPPED: ${s.driverDead}`);
  return lines.join("\n");
}

interface ServeOpts extends ResponderFlags {
  backend: string;
  profile: string;
  pcap?: string;
  pace: string;
  json?: boolean;
}

async function serve(o: ServeOpts): Promise<void> {
  let spec: UdpLinkSpec;
  try {
    spec = parseUdpSpec(o.backend);
  } catch (e) {
    fail((e as Error).message);
  }
  if (o.pace !== "none" && o.pace !== "realtime") fail(`--pace must be none or realtime, got ${JSON.stringify(o.pace)}`);
  const { profile, transport } = profileOptions({ profile: o.profile });
  const { cfg, mac: macOpt, seed } = responderSetup(o);
  let pcap: PcapWriter | undefined;
  try {
    if (o.pcap) pcap = new PcapWriter(o.pcap);
  } catch (e) {
    fail(`cannot write pcap ${o.pcap}: ${(e as Error).message}`);
  }
  let udp: UdpBackend | undefined;
  const m = await createResponder(cfg, {
    profile,
    transport,
    seed,
    mac: macOpt,
    backend: (c: Clock, t: Trace) => {
      udp = new UdpBackend(c, t, spec);
      return pcap ? captureBackend(udp, c, pcap) : udp;
    },
  }).catch((e: Error) => fail(e.message));
  const mac = macString(guestMac(m));
  try {
    await udp!.open();
  } catch (e) {
    fail((e as Error).message);
  }
  const session = new LiveSession(m, udp!, o.pace as Pace);
  session.start();
  process.stderr.write(
    `virtio-rt serve: ${ipv4String(cfg.ip)}/${cfg.prefix} at ${mac}, udp echo port ${cfg.udpPort}, ` +
      `link udp 127.0.0.1:${spec.localPort} <-> ${spec.remoteHost}:${spec.remotePort}, pace ${o.pace}; SIGINT or SIGTERM to stop\n`,
  );
  await new Promise<void>((resolve) => {
    const done = () => resolve();
    process.once("SIGINT", done);
    process.once("SIGTERM", done);
  });
  await session.stop();
  pcap?.close();
  const s = finishResponder(m, mac);
  const link = udp!.stats;
  if (o.json) {
    process.stdout.write(JSON.stringify({ ...s, link, pcapFrames: pcap?.count ?? 0 }, null, 2) + "\n");
  } else {
    process.stdout.write(
      `link        ${link.datagramsIn} datagrams in, ${link.datagramsOut} out, ${link.foreign} from others, ${link.runts} runts, ${link.sendErrors} send errors` +
        (pcap ? `; ${pcap.count} frames written to ${o.pcap}` : "") + "\n" + formatResponderSummary(s) + "\n",
    );
  }
  process.exit(s.driverDead ? 1 : 0);
}

export interface ReplayOpts extends ResponderFlags {
  json?: boolean;
  /** The profile, CPU and transport `serve` ran with (default: `default`, as serve's). */
  profile?: string;
  cpu?: string;
  transport?: string;
}

/** `run --replay FILE.pcap`: feed a serve session's capture back in; exit 1 unless every guest frame matches. */
export async function runReplay(file: string, o: ReplayOpts): Promise<void> {
  const { cfg, mac, seed } = responderSetup(o);
  let data: Uint8Array;
  try {
    data = readFileSync(file);
  } catch (e) {
    fail(`cannot read capture ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let s: ReplaySummary;
  try {
    s = await replayCapture(data, cfg, { seed, mac, ...profileOptions({ profile: o.profile, cpu: o.cpu, transport: o.transport }) });
  } catch (e) {
    fail((e as Error).message);
  }
  const same = s.identical === s.capturedGuestFrames && s.guestFramesSent === s.capturedGuestFrames;
  if (o.json) process.stdout.write(JSON.stringify(s, null, 2) + "\n");
  else {
    process.stdout.write(
      `replay      ${s.fed} frames fed from ${file}; the guest sent ${s.guestFramesSent}, ${s.identical} of the capture's ${s.capturedGuestFrames} identical (bytes and virtual time)\n` +
        formatResponderSummary(s) + "\n",
    );
  }
  process.exitCode = same && !s.driverDead ? 0 : 1;
}

export function registerServe(program: Command): void {
  program
    .command("serve")
    .description("run the guest responder (ARP, ICMP echo, UDP echo) on a UDP datagram link until SIGINT/SIGTERM")
    .requiredOption("--ip <addr/prefix>", "the responder's IPv4 address and prefix, e.g. 10.0.2.15/24")
    .requiredOption("--backend <spec>", "udp:LOCAL_PORT:REMOTE_HOST:REMOTE_PORT (QEMU -netdev dgram format)")
    .option("--profile <name>", "timing profile", "default")
    .option("--pcap <file>", "write every frame crossing the device to a pcap (nanosecond, virtual time)")
    .option("--udp-port <n>", "UDP echo port", intArg("--udp-port", 65535))
    .option("--mac <mac>", "the device's MAC (default 52:54:00:12:34:56)")
    .option("--seed <s>", "seed handed to the driver", intArg("--seed", 0xffffffff))
    .option("--pace <mode>", "none (virtual time runs ahead) or realtime (never ahead of wall time)", "none")
    .option("--json", "print the statistics as JSON")
    .action(serve);
}
