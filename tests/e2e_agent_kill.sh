#!/usr/bin/env bash
# An agent killed with SIGKILL mid-task: the coordinator misses its
# heartbeats, declares it dead, and the task runs again on the other agent
# as attempt 2; the stored result is attempt 2's.
. "$(dirname "$0")/lib.sh"
use_redis 4
start_coordinator --liveness 4
start_agent a1 --slots 1
start_agent a2 --slots 1
wait_agents 2
expect 0 "$SWARM" init crash
expect 0 "$SWARM" spawn --id long "FAKE:sleep=2 survive a crash"
wait_status long running
victim=$(task_field long agent)
[ -n "$victim" ] || fail "no agent holds the task"
eval "vpid=\$AGENT_PID_$victim"
kill -9 "$vpid"
ok "killed $victim (pid $vpid) while it ran the task"
expect 0 "$SWARM" wait --timeout 60
expect 0 "$SWARM" results --json
cp "$T/out" "$T/r.json"
[ "$(json_get "$T/r.json" "d[0]['attempt']")" = 2 ] || fail "not attempt 2"
survivor=$(json_get "$T/r.json" "d[0]['agent']")
[ "$survivor" != "$victim" ] || fail "ran again on the dead agent"
[ "$(json_get "$T/r.json" "d[0]['status']")" = succeeded ] || fail "not succeeded"
grep -q "missed its heartbeats" "$T/coordinator.log" || fail "no death detected in the log"
ok "finished on $survivor as attempt 2"
expect 0 "$SWARM" --json agents
[ "$(grep -c '"id"' "$T/out")" = 1 ] || fail "dead agent still registered"
