#!/usr/bin/env bash
# bench/fanout_cpu.sh -- where swarm's CPU goes on one workload (issue 20):
# runs the floor (spawn-c) and swarm's peer row REPS times, interleaved,
# and prints per run the wall time and each daemon's CPU per task during
# the timed part (coordinator, agent, the agent's reaped children, redis,
# the submitter), as swarm_bench reports them.
#
#   bench/fanout_cpu.sh [WORKLOAD]      fanout (default) or fanout-output
#
# Environment: REPS (default 3), SLOTS (default 4), N, PEER (swarm-nolive,
# the default, or swarm), SWARM_BUILD, SHARED_BENCH (default
# ../shared/bench), PERF=DIR: record the daemons of the first swarm run
# with `perf record` (SWARM_BENCH_PERF_CG: its call-graph option, default
# -g) into DIR/perf.data. Exits 77 when the shared peer benchmark is not
# there.
set -euo pipefail
project=$(cd "$(dirname "$0")/.." && pwd)
shared=${SHARED_BENCH:-$project/../shared/bench}
export SHARED_PEERS_DIR=${SHARED_PEERS_DIR:-$shared/peers}
[ -x "$shared/peers/spawn-c.sh" ] || { echo "fanout_cpu.sh: no peer benchmark at $shared: skipped" >&2; exit 77; }
wl=${1:-fanout}
peer=${PEER:-swarm-nolive}
export SWARM_BUILD=${SWARM_BUILD:-$project/build} SLOTS=${SLOTS:-4}
printf '%-12s %4s %8s %8s %8s %8s %8s %8s %8s\n' run slots wall_s coord agent children redis submit load1
for rep in $(seq "${REPS:-3}"); do
    floor=$("$shared/peers/spawn-c.sh" "$wl" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["wall_s"])')
    printf '%-12s %4s %8s\n' spawn-c "$SLOTS" "$floor"
    perf=
    if [ "$rep" = 1 ] && [ -n "${PERF:-}" ]; then mkdir -p "$PERF"; perf=$PERF/perf.data; fi
    err=$(mktemp)
    json=$(SWARM_BENCH_PERF=$perf "$project/bench/peers/$peer.sh" "$wl" 2>"$err")
    cpu=$(grep '^cpu_us_per_task' "$err" || true)
    [ -n "$cpu" ] || { cat "$err" >&2; rm -f "$err"; exit 1; }
    rm -f "$err"
    wall=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["wall_s"])' "$json")
    get() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$cpu"; }
    printf '%-12s %4s %8s %8s %8s %8s %8s %8s %8s\n' "$peer" "$SLOTS" "$wall" "$(get coordinator)" \
        "$(get agent)" "$(get agent.children)" "$(get redis)" "$(get submitter)" "$(cut -d' ' -f1 /proc/loadavg)"
done
