#!/usr/bin/env bash
# Linux as the peer: a network namespace with a TAP that socat bridges to `virtio-rt serve` over
# UDP datagrams; from the Linux side ping -c 200 -i 0.02, a UDP datagram echoed back to a Linux
# socket, and the guest's MAC in `ip neigh`. Usage: linux-peer.sh [OUTDIR]. Everything stays in
# the namespace (its own loopback and 10.213.7.0/24); cleanup by PID and namespace name on any exit.
# Exit 0: ran (results on stdout, KEY: value lines); 77: cannot run here (reason on stdout); else failed.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
OUT="${1:-$(mktemp -d)}"
mkdir -p "$OUT"
NS="vrt-peer-$$"
TAP=vrt0
LINUX_IP=10.213.7.1
GUEST_IP=10.213.7.2
SERVE_PORT=47001
SOCAT_PORT=47002
COUNT="${VRT_PING_COUNT:-200}"
SERVE_PID=""
SOCAT_PID=""

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "not root (network namespaces and TAP devices need CAP_NET_ADMIN)"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
for t in ip socat ping node; do command -v "$t" >/dev/null || skip "$t is not installed"; done
[ -f "$ROOT/dist/host/cli.js" ] && [ -f "$ROOT/build/responder.wasm" ] || skip "not built (npm run build)"

stop_pid() { # kill one process we started, by PID, and wait at most 5 s for it
  local pid="$1" sig="$2"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill "-$sig" "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}
cleanup() {
  stop_pid "$SOCAT_PID" TERM
  stop_pid "$SERVE_PID" TERM
  ip netns del "$NS" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$NS" 2>"$OUT/netns.err" || skip "cannot create a network namespace: $(head -1 "$OUT/netns.err")"
ip netns exec "$NS" ip link set lo up
in_ns() { ip netns exec "$NS" "$@"; }
# `ip netns exec` forks: the process to signal is its child, which writes its own PID first.
in_ns_bg() { # PIDFILE CMD...: start CMD in the namespace in the background
  local pidfile="$1"; shift
  rm -f "$pidfile"
  ip netns exec "$NS" sh -c 'echo $$ > "$0"; exec "$@"' "$pidfile" "$@" &
}
read_pid() { # PIDFILE: wait at most 5 s for it
  for _ in $(seq 50); do [ -s "$1" ] && { cat "$1"; return 0; }; sleep 0.1; done
  echo ""
}

# 1. The simulator, its UDP end on the namespace's loopback.
in_ns_bg "$OUT/serve.pid" node "$ROOT/dist/host/cli.js" serve --ip "$GUEST_IP/24" --backend "udp:$SERVE_PORT:127.0.0.1:$SOCAT_PORT" \
  --pcap "$OUT/linux.pcap" >"$OUT/serve.out" 2>"$OUT/serve.err"
SERVE_PID=$(read_pid "$OUT/serve.pid")
[ -n "$SERVE_PID" ] || { echo "FAIL: serve did not start"; exit 1; }
for _ in $(seq 100); do grep -q "to stop" "$OUT/serve.err" 2>/dev/null && break; kill -0 "$SERVE_PID" 2>/dev/null || break; sleep 0.1; done
grep -q "to stop" "$OUT/serve.err" || { echo "FAIL: serve did not start"; cat "$OUT/serve.err"; exit 1; }

# 2. The TAP, bridged frame for frame to serve's UDP port (UDP-DATAGRAM: an unconnected socket that
# survives the port-unreachable errors the connected UDP: mode dies on).
in_ns_bg "$OUT/socat.pid" socat "TUN:$LINUX_IP/24,tun-type=tap,iff-no-pi,iff-up,tun-name=$TAP" \
  "UDP-DATAGRAM:127.0.0.1:$SERVE_PORT,bind=127.0.0.1:$SOCAT_PORT" 2>"$OUT/socat.err"
SOCAT_PID=$(read_pid "$OUT/socat.pid")
[ -n "$SOCAT_PID" ] || { echo "FAIL: socat did not start"; exit 1; }
for _ in $(seq 100); do in_ns ip link show "$TAP" 2>/dev/null | grep -q "UP" && break; sleep 0.05; done
in_ns ip link show "$TAP" >/dev/null 2>&1 || { echo "FAIL: socat made no $TAP"; cat "$OUT/socat.err"; exit 1; }

# 3. Linux pings the guest.
set +e
in_ns ping -c "$COUNT" -i 0.02 -W 1 -w 30 "$GUEST_IP" >"$OUT/ping.out" 2>&1
PING_RC=$?
set -e
LOSS=$(grep -o '[0-9.]*% packet loss' "$OUT/ping.out" | cut -d% -f1)
RTT=$(grep -o 'rtt min/avg/max/mdev = [^ ]* ms' "$OUT/ping.out" | cut -d' ' -f4 || true)
TX=$(grep -o '^[0-9]* packets transmitted' "$OUT/ping.out" | cut -d' ' -f1)
RX=$(grep -o '[0-9]* received' "$OUT/ping.out" | cut -d' ' -f1)

# 4. A UDP datagram from a Linux socket, echoed back to it (port 7).
UDP=$(in_ns node -e '
const s = require("node:dgram").createSocket("udp4");
const msg = Buffer.from("virtio-rt hello from linux");
const t = setTimeout(() => { console.log("timeout"); process.exit(0); }, 3000);
s.on("message", (m, r) => { console.log(m.equals(msg) && r.address === process.argv[1] && r.port === 7 ? "ok" : "wrong " + m.toString()); clearTimeout(t); s.close(); });
s.bind(0, () => s.send(msg, 7, process.argv[1]));
' "$GUEST_IP")

# 5. What Linux learned by ARP.
NEIGH=$(in_ns ip neigh show "$GUEST_IP" dev "$TAP")
MAC=$(echo "$NEIGH" | grep -o 'lladdr [0-9a-f:]*' | cut -d' ' -f2 || true)

# 6. Stop serve: its statistics, and the capture closed.
stop_pid "$SOCAT_PID" TERM
SOCAT_PID=""
# serve is not this shell's child: its exit status comes from the `ip netns exec` wrapper's wait.
kill -TERM "$SERVE_PID"
set +e
wait %1
SERVE_RC=$?
set -e
stop_pid "$SERVE_PID" TERM
SERVE_PID=""

echo "PING_RC: $PING_RC"
echo "TRANSMITTED: $TX"
echo "RECEIVED: $RX"
echo "LOSS: $LOSS"
echo "RTT_MS: $RTT"
echo "UDP_ECHO: $UDP"
echo "NEIGH: $NEIGH"
echo "GUEST_MAC: $MAC"
echo "SERVE_RC: $SERVE_RC"
echo "PCAP: $OUT/linux.pcap"
sed 's/^/SERVE| /' "$OUT/serve.out"
