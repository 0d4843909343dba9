#!/usr/bin/env bash
# bench/run.sh -- swarm and its peers in ONE run (../shared/bench), then
# the targets of the performance issue as ratios to the peers measured in
# that same run, with PASS or MISS for each.
#
#   bench/run.sh            REPS=3; peers xargs, spawn-c (the floor), celery,
#                           swarm; plus swarm's idle footprint and
#                           `swarm memory store` per process (~10 min)
#   bench/run.sh --smoke    CI: xargs, spawn-c and swarm, N=20, one rep;
#                           checks that every run is ok, not the targets
#
# Environment: REPS, PEERS, WORKLOADS (passed to run-peers.sh),
# SWARM_BUILD (default build/), SHARED_BENCH (default ../shared/bench).
# Results go to bench/results/<utc stamp>/ (results.jsonl, table.md,
# targets.md). Exits 77 when the shared peer benchmark is not there.
set -euo pipefail
project=$(cd "$(dirname "$0")/.." && pwd)
shared=${SHARED_BENCH:-$project/../shared/bench}
build=${SWARM_BUILD:-$project/build}
export SWARM_BUILD=$build
smoke=false
case ${1:-} in
    --smoke) smoke=true ;;
    "") ;;
    -h|--help) sed -n 2,16p "$0"; exit 0 ;;
    *) echo "bench/run.sh: unknown argument '$1' (--smoke, --help)" >&2; exit 2 ;;
esac
[ -x "$shared/run-peers.sh" ] || { echo "bench/run.sh: no peer benchmark at $shared: skipped" >&2; exit 77; }
for b in swarm swarm-coordinator swarm-agent bench/swarm_bench; do
    [ -x "$build/$b" ] || { echo "bench/run.sh: missing $build/$b (cmake --build build)" >&2; exit 2; }
done
out=${OUT:-$project/bench/results/$(date -u +%Y%m%dT%H%M%SZ)$($smoke && echo -smoke || true)}
mkdir -p "$out"

if $smoke; then
    export N=20 REPS=1 PEERS=${PEERS:-"xargs spawn-c swarm"}
else
    export REPS=${REPS:-3} PEERS=${PEERS:-"xargs spawn-c celery swarm"}
fi
EXTRA_PEERS_DIR=$project/bench/peers OUT=$out "$shared/run-peers.sh"

# swarm's idle footprint and `memory store` per process, in the same run.
T=$(mktemp -d /tmp/swarm-run-bench.XXXXXX)
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
listen="tcp://127.0.0.1:$(free_port)" control="tcp://127.0.0.1:$(free_port)"
"$build/swarm-coordinator" -f --listen "$listen" --control "$control" 2>"$T/coordinator.log" &
cpid=$!
PIDS+=("$cpid")
mkdir -p "$T/work"
"$build/swarm-agent" -f --coordinator "$listen" --slots 4 --allow-exec --workdir "$T/work" \
    --state-dir "$T/state" 2>"$T/agent.log" &
apid=$!
PIDS+=("$apid")
for _ in $(seq 100); do
    [ "$("$build/swarm" --coordinator "$control" --json agents 2>/dev/null | grep -c '"id"')" = 1 ] && break
    sleep 0.05
done
sleep "$($smoke && echo 1 || echo 6)"
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
pss() { awk '/^Pss:/ { print $2 }' "/proc/$1/smaps_rollup"; }
printf '{"system":"swarm","process":"coordinator","rss_kib":%s,"pss_kib":%s}\n' "$(rss "$cpid")" "$(pss "$cpid")" >>"$out/swarm-footprint.jsonl"
printf '{"system":"swarm","process":"agent","rss_kib":%s,"pss_kib":%s}\n' "$(rss "$apid")" "$(pss "$apid")" >>"$out/swarm-footprint.jsonl"
stores=$($smoke && echo 20 || echo 300)
t0=${EPOCHREALTIME/./}
for i in $(seq "$stores"); do /bin/true; done
t1=${EPOCHREALTIME/./}
for i in $(seq "$stores"); do "$build/swarm" memory store --namespace bench "k$i" "value $i" >/dev/null; done
t2=${EPOCHREALTIME/./}
printf '{"system":"swarm","workload":"memory-store","n":%d,"ms_per_call":%s,"true_ms":%s}\n' "$stores" \
    "$(echo "$t1 $t2 $stores" | awk '{ printf "%.3f", ($2 - $1) / 1000 / $3 }')" \
    "$(echo "$t0 $t1 $stores" | awk '{ printf "%.3f", ($2 - $1) / 1000 / $3 }')" >>"$out/swarm-footprint.jsonl"

python3 - "$out" "$smoke" <<'PY' | tee "$out/targets.md"
import json, statistics, sys
out, smoke = sys.argv[1], sys.argv[2] == "true"
rows = [json.loads(l) for l in open(f"{out}/results.jsonl") if l.startswith("{")]
extra = [json.loads(l) for l in open(f"{out}/swarm-footprint.jsonl")]
def med(system, workload, field):
    v = [r[field] for r in rows if r.get("system") == system and r.get("workload") == workload
         and r.get("ok") and r.get(field) is not None]
    return statistics.median(v) if v else None
bad = [r for r in rows if r.get("system") == "swarm" and not r.get("ok")]
lines = ["| target | measured | reference (same run) | |", "|---|---:|---:|---|"]
def row(name, value, ref, ok):
    mark = "–" if ok is None else ("PASS" if ok else "MISS")
    lines.append(f"| {name} | {value} | {ref} | {mark} |")
for wl in ("fanout", "fanout-output"):
    s, f, c = med("swarm", wl, "wall_s"), med("c-posix_spawn", wl, "wall_s"), med("celery", wl, "wall_s")
    if s and f:
        row(f"{wl}: ≤ 1.15× the floor", f"{s / f:.2f}× ({s:.2f} s)", f"floor {f:.2f} s", s / f <= 1.15)
    if s and c:
        row(f"{wl}: faster than Celery", f"{s:.2f} s", f"celery {c:.2f} s", s < c)
s, f, c = med("swarm", "roundtrip", "p50_ms"), med("c-posix_spawn", "roundtrip", "p50_ms"), med("celery", "roundtrip", "p50_ms")
if s and f:
    row("roundtrip p50: ≤ floor + 1 ms", f"{s:.2f} ms", f"floor {f:.2f} ms", s <= f + 1)
if s and c:
    row("roundtrip p50: below Celery", f"{s:.2f} ms", f"celery {c:.2f} ms", s < c)
fp = {r["process"]: r for r in extra if "process" in r}
for proc, cap in (("agent", 8), ("coordinator", 16)):
    if proc in fp:
        mib = fp[proc]["rss_kib"] / 1024
        row(f"idle {proc} ≤ {cap} MiB RSS", f"{mib:.1f} MiB (PSS {fp[proc]['pss_kib'] / 1024:.1f})",
            "Celery worker ≈ 194 MiB", mib <= cap)
ms = [r for r in extra if r.get("workload") == "memory-store"]
if ms:
    row("`swarm memory store` ≤ 5 ms per process", f"{ms[0]['ms_per_call']:.2f} ms",
        f"/bin/true {ms[0]['true_ms']:.2f} ms", ms[0]["ms_per_call"] <= 5)
print("\n".join(lines))
if smoke:
    print("\n(smoke run: tiny N, the verdicts mean nothing; it checks that every run is ok)")
if bad:
    print(f"\nswarm runs not ok: {bad}", file=sys.stderr)
    sys.exit(1)
PY
echo "results: $out" >&2
