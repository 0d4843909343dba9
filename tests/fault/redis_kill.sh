#!/usr/bin/env bash
# Pass: Redis SIGKILLed mid-job and restarted 3 s later. Tasks that finish
# during the outage keep their results in the agents' spools and deliver
# them when Redis is back; the coordinator holds new dispatches, then writes
# its whole state again; the CLI says Redis is unreachable (exit 3, naming
# the address) instead of hanging. Every task: one result; nothing runs
# twice; no stray process.
. "$(dirname "$0")/lib.sh"
start_private_redis
start_coordinator --liveness 20
start_agent a1 --slots 2
start_agent a2 --slots 2
wait_agents 2
expect 0 "$SWARM" init rkill
for i in 1 2 3 4; do
    expect 0 "$SWARM" spawn --id "t$i" "FAKE:sleep=2 task $i"
done
for i in 5 6 7 8; do
    expect 0 "$SWARM" spawn --id "t$i" "FAKE:sleep=1 task $i"
done
wait_status t1 running
kill -9 "$REDIS_PID"
fault "SIGKILL to redis-server with 4 tasks running and 4 queued"
expect 0 "$SWARM" spawn --id late "FAKE:sleep=1 submitted during the outage"
expect 3 "$SWARM" memory list --namespace default
contains "$T/err" "127.0.0.1:$REDIS_PORT"
sleep 3
grep -q "spooled to disk until Redis is back" "$T"/agent-*.log || fail "no result was spooled"
[ "$(grep -c "^end rkill" "$FAKE_LEDGER")" = 4 ] || fail "tasks ran during the outage: $(grep -c "^end rkill" "$FAKE_LEDGER")"
ok "the 4 running tasks finished into the spools; nothing new started"
redis_up
expect 0 "$SWARM" wait --timeout 60
contains "$T/out" "9/9 finished: 9 succeeded"
grep -q "is back: job state written again" "$T/coordinator.log" || fail "the coordinator did not resync"
for id in t1 t2 t3 t4 t5 t6 t7 t8 late; do
    [ "$(runs rkill "$id")" = 1 ] || fail "$id ran $(runs rkill "$id") times"
done
ls "$T"/work-*/.swarm/spool-*/ | grep -q json && fail "the spool was not emptied"
ok "every result stored once Redis was back; spools empty"
audit rkill
