#!/usr/bin/env bash
# swarm's row in the shared peer benchmark (../shared/bench, contract in
# peers/swarm.sh.todo there). Starts a private redis-server, one
# swarm-coordinator and ONE swarm-agent with SLOTS slots on loopback, waits
# until the agent is registered, then runs the long-lived submitter
# bench/swarm_bench (connects and warms up before the clock, like the Celery
# client). Every task is a real posix_spawn of /usr/bin/true (or the output
# command), its exit code and stdout are stored in Redis, and the submitter
# knows every result when the clock stops. Verification is after the clock.
#
#   EXTRA_PEERS_DIR=$PWD/bench/peers PEERS="xargs spawn-c celery swarm" \
#     ../shared/bench/run-peers.sh
# Needs a build: SWARM_BUILD (default: <project>/build). SWARM_PEER names the
# row (default swarm) and SWARM_AGENT_ARGS are added to the agent's options
# (peers/swarm-nolive.sh: the same with the live output off).
# The submitter prints on stderr the CPU µs per task of each daemon
# (bench/fanout_cpu.sh reads it); SWARM_BENCH_PERF=FILE records the three
# daemons with `perf record -g` into FILE while the submitter runs
# (SWARM_BENCH_PERF_CG replaces -g, e.g. "--call-graph dwarf");
# SWARM_BENCH_PERFSTAT=DIR counts each daemon's CPU, context switches and
# system calls (perf stat, all its threads, untraced) into DIR/NAME.txt;
# SWARM_BENCH_STRACE=DIR counts each daemon's system calls (strace -c, all
# its threads, not its children) into DIR/NAME.txt (SWARM_BENCH_STRACE_ARGS
# replaces -c, e.g. "-tt -s 80" for a trace).
PEER=${SWARM_PEER:-swarm}
here=$(cd "$(dirname "$0")" && pwd)
project=$(cd "$here/../.." && pwd)
source "${SHARED_PEERS_DIR:-$project/../shared/bench/peers}/common.sh"
workload_setup "${1:-}"
build=${SWARM_BUILD:-$project/build}
for b in swarm-coordinator swarm-agent swarm bench/swarm_bench; do
    [ -x "$build/$b" ] || die "missing $build/$b (cmake -S $project -B $build && cmake --build $build)"
done

start_redis
listen="tcp://127.0.0.1:$(free_port)"
control="tcp://127.0.0.1:$(free_port)"
"$build/swarm-coordinator" -f --listen "$listen" --control "$control" --redis "$REDIS_URL/0" \
    2>"$BENCH_TMP/coordinator.log" &
coord_pid=$!
STARTED_PIDS+=($!)
mkdir -p "$BENCH_TMP/work"
"$build/swarm-agent" -f --coordinator "$listen" --redis "$REDIS_URL/0" --id bench-agent \
    --slots "$SLOTS" --allow-exec --workdir "$BENCH_TMP/work" \
    --state-dir "$BENCH_TMP/state" ${SWARM_AGENT_ARGS:-} 2>"$BENCH_TMP/agent.log" &
agent_pid=$!
STARTED_PIDS+=($!)
for _ in $(seq 200); do
    [ "$("$build/swarm" --coordinator "$control" --json agents 2>/dev/null | grep -c '"id"')" = 1 ] && break
    sleep 0.05
done
[ "$("$build/swarm" --coordinator "$control" --json agents 2>/dev/null | grep -c '"id"')" = 1 ] \
    || die "agent did not register; see $BENCH_TMP/*.log"

export SWARM_BENCH_CPU="coordinator:$coord_pid agent:$agent_pid redis:$REDIS_PID"
if [ -n "${SWARM_BENCH_PERF:-}" ]; then
    # shellcheck disable=SC2086
    perf record -q ${SWARM_BENCH_PERF_CG:--g} -o "$SWARM_BENCH_PERF" -p "$coord_pid,$agent_pid,$REDIS_PID" 2>/dev/null &
    perf_pid=$!
    STARTED_PIDS+=("$perf_pid")
    sleep 0.5
fi
perfstat_pids=()
if [ -n "${SWARM_BENCH_PERFSTAT:-}" ]; then
    mkdir -p "$SWARM_BENCH_PERFSTAT"
    for np in coordinator:$coord_pid agent:$agent_pid redis:$REDIS_PID; do
        perf stat -e task-clock,context-switches,raw_syscalls:sys_enter -p "${np#*:}" \
            -o "$SWARM_BENCH_PERFSTAT/${np%%:*}.txt" 2>/dev/null &
        perfstat_pids+=("$!")
        STARTED_PIDS+=("$!")
    done
    sleep 0.5
fi
strace_pids=()
if [ -n "${SWARM_BENCH_STRACE:-}" ]; then
    mkdir -p "$SWARM_BENCH_STRACE"
    for np in coordinator:$coord_pid agent:$agent_pid redis:$REDIS_PID; do
        tids=$(ls "/proc/${np#*:}/task" | sed 's/^/-p /' | tr '\n' ' ')
        # shellcheck disable=SC2086
        strace ${SWARM_BENCH_STRACE_ARGS:--c} -o "$SWARM_BENCH_STRACE/${np%%:*}.txt" $tids 2>/dev/null &
        strace_pids+=("$!")
        STARTED_PIDS+=("$!")
    done
    sleep 0.5
fi
read -r us bad < <("$build/bench/swarm_bench" "$control" "$REDIS_URL/0" "$WORKLOAD" "$N" "$BENCH_TMP/lat.ms")
if [ -n "${SWARM_BENCH_PERF:-}" ]; then
    kill -INT "$perf_pid" 2>/dev/null
    wait "$perf_pid" 2>/dev/null
fi
for p in "${perfstat_pids[@]}"; do kill -INT "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
for p in "${strace_pids[@]}"; do kill -INT "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
[ -n "${us:-}" ] || die "swarm_bench produced no result"
ok=$([ "$bad" = 0 ] && echo true || echo false)
p50=null p99=null
if [ "$WORKLOAD" = roundtrip ]; then
    p50=$(percentile 50 "$BENCH_TMP/lat.ms"); p99=$(percentile 99 "$BENCH_TMP/lat.ms")
fi
emit_json "$PEER" "$WORKLOAD" "$N" "$SLOTS" "$(us_to_s "$us")" "$p50" "$p99" "$ok"
