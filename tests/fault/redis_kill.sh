#!/usr/bin/env bash
# Pass: Redis SIGKILLed mid-job and restarted. Tasks that finish
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
    expect 0 "$SWARM" spawn --id "t$i" "FAKE:sleep=3 task $i"
done
wait_started rkill t4
kill -9 "$REDIS_PID"
fault "SIGKILL to redis-server with 4 tasks running"
for i in 5 6 7 8; do
    expect 0 "$SWARM" spawn --id "t$i" "FAKE:sleep=1 submitted during the outage"
done
expect 3 "$SWARM" memory list --namespace default
contains "$T/err" "127.0.0.1:$REDIS_PORT"
for _ in $(seq 200); do
    [ "$(grep -c "^end rkill" "$FAKE_LEDGER")" = 4 ] && break
    sleep 0.1
done
[ "$(grep -c "^end rkill" "$FAKE_LEDGER")" = 4 ] || fail "the running tasks did not finish"
sleep 1.5
for _ in $(seq 100); do
    [ "$(grep -c "spooled to disk until Redis is back" "$T"/agent-*.log | awk -F: '{ n += $2 } END { print n }')" = 4 ] && break
    sleep 0.1
done
grep -q "spooled to disk until Redis is back" "$T"/agent-*.log || fail "no result was spooled"
[ "$(grep -c "^start rkill" "$FAKE_LEDGER")" = 4 ] || fail "tasks started during the outage"
ok "the 4 running tasks finished into the spools; the 4 submitted meanwhile wait"
redis_up
expect 0 "$SWARM" wait --timeout 60
contains "$T/out" "8/8 finished: 8 succeeded"
grep -q "is back: job state written again" "$T/coordinator.log" || fail "the coordinator did not resync"
for id in t1 t2 t3 t4 t5 t6 t7 t8; do
    [ "$(runs rkill "$id")" = 1 ] || fail "$id ran $(runs rkill "$id") times"
done
ls "$T"/state-*/spool/ | grep -q json && fail "the spool was not emptied"
ok "every result stored once Redis was back; spools empty"
# The job's coordination record was written again after the outage (the
# restarted server had none of the coordinator's scripts), with the final
# counts.
expect 0 "$SWARM" --json memory get --namespace coordination rkill
json_get "$T/out" "json.loads(d['value'])['status'] + ' ' + str(json.loads(d['value'])['counts']['succeeded'])" \
    | grep -qx "succeeded 8" || fail "the coordination record after the outage: $(cat "$T/out")"
ok "the coordination record is written again after the outage, with the final counts"
audit rkill
