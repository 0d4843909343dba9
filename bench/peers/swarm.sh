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
# system calls (perf stat, all its threads, untraced) into DIR/NAME.txt
# (SWARM_BENCH_PERFSTAT_EVENTS replaces the event list, e.g. to add
# instructions);
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
# The server that answers must be the one started here: a port taken
# between free_port and its bind would leave redis-server exited and
# another run's server answering, two coordinators on one database.
[ "$(redis-cli -p "$REDIS_PORT" info server | tr -d '\r' | sed -n 's/^process_id://p')" = "$REDIS_PID" ] \
    || die "the Redis on port $REDIS_PORT is not the one started here (pid $REDIS_PID)"
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
        perf stat -e "${SWARM_BENCH_PERFSTAT_EVENTS:-task-clock,context-switches,raw_syscalls:sys_enter}" -p "${np#*:}" \
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
# A run that does not end: before the peer runner's timeout (whose TERM
# reaches the daemons too), what each daemon knows goes to $BENCH_TMP/hang/
# (the jobs' task states, the agents, each thread's wait channel and stack,
# the result keys), the temporary directory is kept, and the submitter is
# stopped: a hang seen once can be read (docs/benchmarks.md: a swarm-nolive
# roundtrip hung once for 300 s and its logs went with its directory).
# SWARM_BENCH_HANG_S: after how long (default 3/4 of PEER_TIMEOUT).
hang_s=${SWARM_BENCH_HANG_S:-$(( ${PEER_TIMEOUT:-300} * 3 / 4 ))}
hang_dump() {
    local d="$BENCH_TMP/hang" np pid t
    mkdir -p "$d"
    for job in warmup bench; do
        "$build/swarm" --coordinator "$control" --json status --job "$job" >"$d/status-$job.json" 2>&1
    done
    "$build/swarm" --coordinator "$control" --json agents >"$d/agents.json" 2>&1
    for np in coordinator:$coord_pid agent:$agent_pid redis:$REDIS_PID; do
        pid=${np#*:}
        for t in /proc/"$pid"/task/*; do
            echo "${t##*/} $(cat "$t/wchan" 2>/dev/null) $(cut -d' ' -f3 "$t/stat" 2>/dev/null)"
        done >"$d/${np%%:*}.threads"
        ls -l /proc/"$pid"/fd >"$d/${np%%:*}.fds" 2>&1
        command -v gdb >/dev/null && timeout 30 gdb -batch -p "$pid" -ex "thread apply all bt" \
            >"$d/${np%%:*}.gdb" 2>&1
    done
    redis-cli -p "$REDIS_PORT" -n 0 --scan >"$d/redis-keys.txt" 2>&1
    log "no result after ${hang_s}s: daemons' state in $d (kept)"
}
exec 3< <(exec "$build/bench/swarm_bench" "$control" "$REDIS_URL/0" "$WORKLOAD" "$N" "$BENCH_TMP/lat.ms")
bench_pid=$!
(
    trap 'kill "$s" 2>/dev/null; exit 0' TERM
    sleep "$hang_s" & s=$!
    wait "$s"
    hang_dump
    touch "$BENCH_TMP/hung"
    kill -TERM "$bench_pid" 2>/dev/null
) >/dev/null &
watchdog=$!
STARTED_PIDS+=("$watchdog")    # stopped with the rest on any exit (its sleep with it)
read -r us bad <&3
exec 3<&-
if [ -n "${SWARM_BENCH_PERF:-}" ]; then
    kill -INT "$perf_pid" 2>/dev/null
    wait "$perf_pid" 2>/dev/null
fi
for p in "${perfstat_pids[@]}"; do kill -INT "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
for p in "${strace_pids[@]}"; do kill -INT "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
kill "$watchdog" 2>/dev/null
wait "$watchdog" 2>/dev/null
[ -e "$BENCH_TMP/hung" ] && { BENCH_KEEP_TMP=1; die "swarm_bench hung; see $BENCH_TMP/hang"; }
[ -n "${us:-}" ] || die "swarm_bench produced no result"
ok=$([ "$bad" = 0 ] && echo true || echo false)
p50=null p99=null
if [ "$WORKLOAD" = roundtrip ]; then
    p50=$(percentile 50 "$BENCH_TMP/lat.ms"); p99=$(percentile 99 "$BENCH_TMP/lat.ms")
fi
emit_json "$PEER" "$WORKLOAD" "$N" "$SLOTS" "$(us_to_s "$us")" "$p50" "$p99" "$ok"
