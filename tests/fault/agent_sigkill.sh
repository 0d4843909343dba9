#!/usr/bin/env bash
# Pass: an agent SIGKILLed mid-task is declared dead when it misses its
# heartbeats; its task runs again on the other agent as attempt 2 and the
# stored result is attempt 2's. Restarted (as systemd would), the agent
# kills what its dead predecessor left running, so the old attempt never
# finishes its work. Every task: one result; no stray process.
. "$(dirname "$0")/lib.sh"
use_redis 20
start_coordinator --liveness 4
start_agent a1 --slots 1
start_agent a2 --slots 1
wait_agents 2
expect 0 "$SWARM" init crash
expect 0 "$SWARM" spawn --id long "FAKE:sleep=4 survive a crash"
expect 0 "$SWARM" spawn --id other "FAKE:sleep=1 unaffected"
wait_started crash long
victim=$(task_field long agent)
[ -n "$victim" ] || fail "no agent holds the task"
eval "vpid=\$AGENT_PID_$victim"
kill -9 "$vpid"
fault "SIGKILL to agent $victim while it runs long"
start_agent "$victim" --slots 1
expect 0 "$SWARM" wait --timeout 60
expect 0 "$SWARM" results --json
cp "$T/out" "$T/r.json"
[ "$(json_get "$T/r.json" "[r['attempt'] for r in d if r['id']=='long'][0]")" = 2 ] || fail "not attempt 2"
[ "$(json_get "$T/r.json" "[r['status'] for r in d if r['id']=='long'][0]")" = succeeded ] || fail "not succeeded"
grep -qE "missed its heartbeats|agent $victim came back without crash/long" "$T/coordinator.log" || fail "the loss of long was not noticed"
grep -qE "killed [0-9]+ process\(es\) an earlier agent $victim left running" "$T/agent-$victim.log" \
    || fail "the restarted agent did not kill its predecessor's task"
[ "$(runs crash long)" = 1 ] || fail "long finished its work $(runs crash long) times"
grep -q "^end crash long 1 " "$FAKE_LEDGER" && fail "attempt 1 ran on after its agent died"
ok "long finished as attempt 2 only; the dead agent's attempt was killed at its restart"
audit crash
