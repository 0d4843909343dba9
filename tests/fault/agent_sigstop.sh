#!/usr/bin/env bash
# Pass: an agent SIGSTOPped past its lease is declared dead and its task
# runs again elsewhere as attempt 2. Its child, outside the frozen agent,
# finishes meanwhile; on SIGCONT the agent's late result for attempt 1 is
# refused by Redis (the fenced write) and its late DONE by the coordinator.
# The stored result is attempt 2's; the completion fired once; the agent
# registers again.
. "$(dirname "$0")/lib.sh"
use_redis 22
start_coordinator --liveness 4
start_agent a1 --slots 1
start_agent a2 --slots 1
wait_agents 2
expect 0 "$SWARM" init frozen
expect 0 "$SWARM" spawn --id long "FAKE:sleep=2 outlives its lease"
wait_started frozen long
victim=$(task_field long agent)
eval "vpid=\$AGENT_PID_$victim"
kill -STOP "$vpid"
fault "SIGSTOP to agent $victim while it runs long"
for _ in $(seq 200); do
    [ "$(task_field long attempt)" = 2 ] && break
    sleep 0.05
done
[ "$(task_field long attempt)" = 2 ] || fail "long was not given to another agent"
sleep 2.5       # attempt 1's child finishes while its agent is frozen
grep -q "^end frozen long 1 " "$FAKE_LEDGER" || fail "attempt 1 did not finish in the frozen agent"
kill -CONT "$vpid"
ok "$victim frozen past its lease: long runs again as attempt 2"
expect 0 "$SWARM" wait --timeout 60
for _ in $(seq 100); do
    grep -q "refused: a newer attempt owns the task" "$T/agent-$victim.log" && break
    sleep 0.05
done
grep -q "result of frozen/long attempt 1 refused: a newer attempt owns the task" \
    "$T/agent-$victim.log" || fail "the late result was not refused"
expect 0 "$SWARM" results --json
cp "$T/out" "$T/r.json"
[ "$(json_get "$T/r.json" "d[0]['attempt']")" = 2 ] || fail "the stored result is not attempt 2's"
[ "$(json_get "$T/r.json" "d[0]['agent']")" != "$victim" ] || fail "the stored result is the frozen agent's"
ok "the late result of attempt 1 was refused; attempt 2's is stored"
wait_agents 2
ok "$victim registered again"
audit frozen
