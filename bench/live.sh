#!/usr/bin/env bash
# bench/live.sh -- the live output's two numbers (issue 17; not a timed test):
#
#   latency   a line the child writes, until `swarm logs -f` prints it, on
#             loopback: the child prints its own clock (CLOCK_REALTIME ns)
#             at random gaps of 50-350 ms, the follower's reader stamps each
#             line as it arrives; p50, p90 and max (target: p50 <= 250 ms)
#   flood     the run time of a task printing 50 MB (500,000 lines), with
#             the live output on and off (an agent with --log-ttl 0), REPS
#             runs each, alternating; the ratio of the medians (target:
#             <= 1.10)
#
#   bench/live.sh [--smoke]      (--smoke: 20 lines, 5 MB, 1 rep)
# Environment: LINES (100), MB (50), REPS (5), SWARM_BUILD (default build/).
set -euo pipefail
project=$(cd "$(dirname "$0")/.." && pwd)
build=${SWARM_BUILD:-$project/build}
LINES=${LINES:-100} MB=${MB:-50} REPS=${REPS:-5}
case ${1:-} in
    --smoke) LINES=20 MB=5 REPS=1 ;;
    "") ;;
    -h|--help) sed -n 2,16p "$0"; exit 0 ;;
    *) echo "bench/live.sh: unknown argument '$1' (--smoke, --help)" >&2; exit 2 ;;
esac
for b in swarm swarm-coordinator swarm-agent; do
    [ -x "$build/$b" ] || { echo "bench/live.sh: missing $build/$b (cmake --build build)" >&2; exit 2; }
done
T=$(mktemp -d /tmp/swarm-bench-live.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$T"
}
trap cleanup EXIT INT TERM
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$T" >/dev/null 2>&1 &
PIDS+=("$!")
for _ in $(seq 100); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.05; done
export SWARM_REDIS="redis://127.0.0.1:$rport/0"
listen="tcp://127.0.0.1:$(free_port)"
export SWARM_COORDINATOR="tcp://127.0.0.1:$(free_port)"
"$build/swarm-coordinator" -f --listen "$listen" --control "$SWARM_COORDINATOR" 2>"$T/coordinator.log" &
PIDS+=("$!")
for id in live quiet; do
    mkdir -p "$T/work-$id"
    extra=()
    [ "$id" = quiet ] && extra=(--log-ttl 0)
    "$build/swarm-agent" -f --coordinator "$listen" --id "$id" --slots 1 --allow-exec \
        --workdir "$T/work-$id" --state-dir "$T/state-$id" --label "agent=$id" "${extra[@]}" \
        2>"$T/agent-$id.log" &
    PIDS+=("$!")
done
S="$build/swarm"
for _ in $(seq 200); do
    [ "$("$S" --json agents 2>/dev/null | grep -c '"id"')" = 2 ] && break
    sleep 0.05
done
"$S" init bench-live >/dev/null

# --- latency
"$S" spawn --id ticker --label agent=live -- python3 -c '
import random, sys, time
sys.stdout.write("start\n"); sys.stdout.flush()
time.sleep(0.5)
for _ in range(int(sys.argv[1])):
    time.sleep(0.05 + random.random() * 0.3)
    sys.stdout.write("%d\n" % time.time_ns()); sys.stdout.flush()
' "$LINES" >/dev/null
python3 - "$S" <<'EOF'
import statistics, subprocess, sys, time
p = subprocess.Popen([sys.argv[1], "logs", "-f", "ticker"], stdout=subprocess.PIPE,
                     stderr=subprocess.DEVNULL)
lat = []
for raw in p.stdout:
    now = time.time_ns()
    line = raw.decode().strip()
    if line.isdigit():
        lat.append((now - int(line)) / 1e6)
p.wait()
lat.sort()
p50 = statistics.median(lat)
p90 = lat[int(len(lat) * 0.9) - 1] if len(lat) >= 10 else lat[-1]
print("latency: %d lines, p50 %.1f ms, p90 %.1f ms, max %.1f ms (target p50 <= 250 ms: %s)"
      % (len(lat), p50, p90, lat[-1], "PASS" if p50 <= 250 else "MISS"))
EOF

# --- a 50 MB flood, live output on and off
flood() {   # flood AGENT N: the task's duration_ms
    "$S" spawn --id "flood-$1-$2" --label "agent=$1" -- /bin/sh -c \
        "head -c $((MB * 1000000)) /dev/zero | tr '\\0' x | fold -w 99" >/dev/null
    "$S" wait --timeout 600 "flood-$1-$2" >/dev/null
    "$S" --json results | python3 -c '
import json, sys
print([r["duration_ms"] for r in json.load(sys.stdin) if r["id"] == sys.argv[1]][0])' "flood-$1-$2"
}
on=() off=()
for i in $(seq "$REPS"); do
    off+=("$(flood quiet "$i")")
    on+=("$(flood live "$i")")
done
python3 - "$MB" "${on[*]}" "${off[*]}" <<'EOF'
import statistics, sys
mb, on, off = sys.argv[1], [int(x) for x in sys.argv[2].split()], [int(x) for x in sys.argv[3].split()]
ratio = statistics.median(on) / statistics.median(off)
print("flood: %s MB, run time with live output %s ms, without %s ms (medians %d / %d); "
      "ratio %.3f (target <= 1.10: %s)" % (mb, on, off, statistics.median(on),
                                          statistics.median(off), ratio,
                                          "PASS" if ratio <= 1.10 else "MISS"))
EOF
"$S" --json logs -f "flood-live-1" | python3 -c '
import json, sys
docs = [json.loads(l) for l in sys.stdin]
shown = sum(1 for d in docs[:-1] if "dropped" not in d)
dropped = sum(d.get("dropped", 0) for d in docs[:-1])
print("flood-live-1: %d lines shipped live, %d dropped by the budget" % (shown, dropped))'
