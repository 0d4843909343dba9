#!/usr/bin/env bash
# Issue 20 (i26-perf): bench/swarm_bench's roundtrip sends each task's WAIT
# right behind its SUBMIT, without waiting for the SUBMIT's reply: the
# coordinator handles both in one turn, answers the SUBMIT once its writes
# are durable and holds the WAIT until the task is final. Every roundtrip
# must still end with its result stored and known: the bench verifies in
# Redis (exit code, output, the memory entries) and prints "WALL BAD";
# the old order (SWARM_BENCH_SERIAL=1) the same, on a second database.
. "$(dirname "$0")/lib.sh"
BENCH=$SWARM_BUILD/bench/swarm_bench
[ -x "$BENCH" ] || { echo "no $BENCH"; exit 77; }

run_bench() {   # run_bench DB [ENV...]: a coordinator, an agent, 12 roundtrips
    local db=$1; shift
    use_redis "$db"
    start_coordinator
    start_agent "a$db" --slots 4 --allow-exec
    wait_agents 1
    env "$@" "$BENCH" "$SWARM_COORDINATOR" "$SWARM_REDIS" roundtrip 12 "$T/lat-$db" \
        >"$T/bench-$db.out" 2>"$T/bench-$db.err" \
        || fail "swarm_bench ($*) failed: $(cat "$T/bench-$db.err")"
    read -r _ bad <"$T/bench-$db.out"
    [ "$bad" = 0 ] || fail "swarm_bench ($*): $bad bad results: $(cat "$T/bench-$db.err")"
    [ "$(wc -l <"$T/lat-$db")" = 12 ] || fail "swarm_bench ($*): $(wc -l <"$T/lat-$db") latencies"
    for i in 0 5 11; do
        expect 0 "$SWARM" --json status --job bench "t$i"
        contains "$T/out" '"succeeded"'
    done
    kill_coordinator
}

run_bench 138
ok "12 roundtrips with the WAIT sent behind its SUBMIT: every result stored and verified"
run_bench 139 SWARM_BENCH_SERIAL=1
ok "the same with the WAIT sent after the SUBMIT's reply"
