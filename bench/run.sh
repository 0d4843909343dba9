#!/usr/bin/env bash
# bench/run.sh -- swarm and its peers in ONE run (../shared/bench), then
# every target of the performance issue (issue 20) as a ratio to the peers
# measured in that same run, with PASS or MISS for each.
#
#   bench/run.sh            REPS=3 (~20 min on the 2-core VM):
#                           - peers at 4 slots: xargs, spawn-c (the floor),
#                             celery, swarm (live output on, the default)
#                             and swarm-nolive (--log-ttl 0), on fanout,
#                             roundtrip and fanout-output
#                           - fanout at 16 slots: spawn-c, swarm, swarm-nolive
#                           - swarm's idle footprint, `swarm memory store`
#                           - bench/live.sh (logs -f latency), bench/workspace.sh
#                             (a further task with a workspace), bench/dispatch
#                             --targets (1,000 agents; 1k..1M queued)
#   bench/run.sh --smoke    CI: the peers only, N=20, one rep; checks that
#                           every run is ok, not the targets
#
# Environment: REPS, PEERS, WORKLOADS (passed to run-peers.sh), SKIP (words
# of: slots16 live workspace dispatch), SWARM_BUILD (default build/),
# SHARED_BENCH (default ../shared/bench). Results go to
# bench/results/<utc stamp>/ (results.jsonl, table.md, targets.md and the
# side benches' logs). Exits 77 when the shared peer benchmark is not there.
set -euo pipefail
project=$(cd "$(dirname "$0")/.." && pwd)
shared=${SHARED_BENCH:-$project/../shared/bench}
build=${SWARM_BUILD:-$project/build}
export SWARM_BUILD=$build
smoke=false
case ${1:-} in
    --smoke) smoke=true ;;
    "") ;;
    -h|--help) sed -n 2,23p "$0"; exit 0 ;;
    *) echo "bench/run.sh: unknown argument '$1' (--smoke, --help)" >&2; exit 2 ;;
esac
[ -x "$shared/run-peers.sh" ] || { echo "bench/run.sh: no peer benchmark at $shared: skipped" >&2; exit 77; }
for b in swarm swarm-coordinator swarm-agent bench/swarm_bench; do
    [ -x "$build/$b" ] || { echo "bench/run.sh: missing $build/$b (cmake --build build)" >&2; exit 2; }
done
out=${OUT:-$project/bench/results/$(date -u +%Y%m%dT%H%M%SZ)$($smoke && echo -smoke || true)}
mkdir -p "$out"

skip() { case " ${SKIP:-} " in *" $1 "*) return 0 ;; esac; $smoke; }
if $smoke; then
    export N=20 REPS=1 PEERS=${PEERS:-"xargs spawn-c swarm swarm-nolive"}
else
    export REPS=${REPS:-3} PEERS=${PEERS:-"xargs spawn-c celery swarm swarm-nolive"}
fi
EXTRA_PEERS_DIR=$project/bench/peers OUT=$out "$shared/run-peers.sh"
# fanout at 16 slots: the floor and swarm only (rows tagged by their slots)
if ! skip slots16; then
    SLOTS=16 PEERS="spawn-c swarm swarm-nolive" WORKLOADS=fanout EXTRA_PEERS_DIR=$project/bench/peers \
        OUT=$out/slots16 "$shared/run-peers.sh" >/dev/null || true
    grep '^{' "$out/slots16/results.jsonl" >>"$out/results.jsonl" || true
fi
# the side benches, each in the same run; their output is kept beside the table
skip live || SWARM_BUILD=$build "$project/bench/live.sh" >"$out/live.txt" 2>&1 || true
skip workspace || SWARM_BUILD=$build "$project/bench/workspace.sh" >"$out/workspace.txt" 2>&1 || true
skip dispatch || SWARM_BUILD=$build "$project/bench/dispatch" --targets >"$out/dispatch.txt" 2>&1 || true

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
import json, os, re, statistics, sys
out, smoke = sys.argv[1], sys.argv[2] == "true"
rows = [json.loads(l) for l in open(f"{out}/results.jsonl") if l.startswith("{")]
extra = [json.loads(l) for l in open(f"{out}/swarm-footprint.jsonl")]
def med(system, workload, field, slots=4):
    v = [r[field] for r in rows if r.get("system") == system and r.get("workload") == workload
         and r.get("slots", 4) == slots and r.get("ok") and r.get(field) is not None]
    return statistics.median(v) if v else None
def text(name):
    p = os.path.join(out, name)
    return open(p, errors="replace").read() if os.path.exists(p) else ""
bad = [r for r in rows if str(r.get("system", "")).startswith("swarm") and not r.get("ok")]
lines = ["| target | measured | reference (same run) | |", "|---|---:|---:|---|"]
def row(name, value, ref, ok):
    mark = "–" if ok is None else ("PASS" if ok else "MISS")
    lines.append(f"| {name} | {value} | {ref} | {mark} |")
def ratio(name, system, wl, cap, slots=4):
    s, f = med(system, wl, "wall_s", slots), med("c-posix_spawn", wl, "wall_s", slots)
    if s and f:
        row(name, f"{s / f:.2f}× ({s:.2f} s)", f"floor {f:.2f} s", s / f <= cap)
    else:
        row(name, "not measured", "", None)
ratio("fanout, 4 slots, live output off: ≤ 1.15× the floor", "swarm-nolive", "fanout", 1.15)
ratio("fanout, 16 slots, live output off: ≤ 1.15× the floor", "swarm-nolive", "fanout", 1.15, 16)
ratio("fanout, 4 slots, live output on: ≤ 1.20× the floor", "swarm", "fanout", 1.20)
ratio("fanout, 16 slots, live output on: ≤ 1.20× the floor", "swarm", "fanout", 1.20, 16)
ratio("fanout-output (live on): ≤ 1.10× the floor", "swarm", "fanout-output", 1.10)
s, c = med("swarm", "fanout", "wall_s"), med("celery", "fanout", "wall_s")
if s and c:
    row("fanout: faster than Celery", f"{s:.2f} s", f"celery {c:.2f} s", s < c)
for q, slack in (("p50", 1), ("p99", 2)):
    s, f = med("swarm", "roundtrip", f"{q}_ms"), med("c-posix_spawn", "roundtrip", f"{q}_ms")
    if s and f:
        row(f"roundtrip {q}: ≤ floor {q} + {slack} ms", f"{s:.2f} ms", f"floor {f:.2f} ms", s <= f + slack)
m = re.search(r"latency: \d+ lines, p50 ([0-9.]+) ms", text("live.txt"))
row("`logs -f` latency p50 ≤ 250 ms", f"{m.group(1)} ms" if m else "not measured", "bench/live.sh",
    float(m.group(1)) <= 250 if m else None)
m = re.search(r"further tasks with a workspace: (\d+) ms p50 of \d+ \(\+(-?\d+) ms\)", text("workspace.txt"))
row("workspace, a further task on a host: ≤ +50 ms p50", f"+{m.group(2)} ms" if m else "not measured",
    f"{m.group(1)} ms with, bench/workspace.sh" if m else "", int(m.group(2)) <= 50 if m else None)
disp = [json.loads(l) for l in text("dispatch.txt").splitlines() if l.startswith("{")]
big = [r for r in disp if r["agents"] == 1000]
if big:
    top = max(big, key=lambda r: r["tasks"])
    row("dispatch at 1,000 agents ≥ 50,000 tasks/s", f"{top['tasks_per_s']:,.0f} tasks/s ({top['tasks']:,} tasks)",
        "bench/dispatch --targets", top["tasks_per_s"] >= 50000)
    # flat: no run's time per task more than 1.25x that of a run with fewer tasks queued
    seq = sorted(big, key=lambda r: r["tasks"])
    grow = max(b["us_per_task"] / a["us_per_task"] for a, b in zip(seq, seq[1:])) if len(seq) > 1 else 1
    row("dispatch: µs per task flat from 1k to 1M queued (each step ≤ 1.25×)",
        " → ".join(f"{r['us_per_task']:.1f}" for r in seq) + " µs",
        " → ".join(f"{r['tasks']:,}" for r in seq) + " tasks", grow <= 1.25)
    # bytes per queued task from the queue-only run (nobody to run them):
    # a timed run's "queued" RSS also holds the staged transaction
    q = [r for r in disp if "bytes_per_queued_task" in r]
    if q:
        qt = max(q, key=lambda r: r["tasks"])
        per, at = qt["bytes_per_queued_task"], qt["tasks"]
    else:
        m = top["coord_rss_kib"]
        per, at = (m["queued"] - m["idle"]) * 1024 / top["tasks"], top["tasks"]
    row(f"coordinator memory ≤ 400 B per queued task", f"{per:,.0f} B", f"at {at:,} queued", per <= 400)
else:
    row("dispatch at 1,000 agents ≥ 50,000 tasks/s", "not measured", "", None)
fp = {r["process"]: r for r in extra if "process" in r}
for proc, cap in (("agent", 8), ("coordinator", 8)):
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
