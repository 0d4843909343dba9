#!/usr/bin/env bash
# Pass: a coordinator SIGSTOPped for longer than its agents' leases, then
# resumed, does not judge the agents by a silence that was its own: it
# renews their leases instead of declaring them dead, so their running
# tasks go on as attempt 1 (they used to be stopped and run again as
# attempt 2, every task of the swarm at once). An agent that really died
# meanwhile is still declared dead, one lease after the resume.
. "$(dirname "$0")/lib.sh"
use_redis 99
start_coordinator --liveness 4
start_agent a1 --slots 2
start_agent a2 --slots 2
wait_agents 2
expect 0 "$SWARM" init paused
for i in 1 2 3 4; do
    expect 0 "$SWARM" spawn --id "t$i" "FAKE:sleep=4 outlives the pause"
done
for i in 1 2 3 4; do wait_started paused "t$i"; done
on_a1=$(for i in 1 2 3 4; do [ "$(task_field "t$i" agent)" = a1 ] && echo "t$i"; done | tr '\n' ,)
[ -n "$on_a1" ] || fail "no task runs on a1"
kill -STOP "$COORD_PID"
fault "SIGSTOP to the coordinator for 3 s (leases are 0.8 s)"
sleep 3
kill -KILL "$AGENT_PID_a2"          # this one really dies while nobody listens
fault "SIGKILL to agent a2 while the coordinator is stopped"
kill -CONT "$COORD_PID"
for _ in $(seq 200); do
    grep -q "agent a2 .*declared dead" "$T/coordinator.log" && break
    sleep 0.05
done
grep -q "agent a2 .*declared dead" "$T/coordinator.log" || fail "the dead agent a2 was never declared dead"
grep -q "agent a1 .*declared dead" "$T/coordinator.log" && fail "the live agent a1 was declared dead after the coordinator's own pause"
contains "$T/coordinator.log" "the coordinator did not run for"
expect 0 "$SWARM" wait --timeout 60
expect 0 "$SWARM" results --json
python3 - "$T/out" "$on_a1" <<'PY' || fail "a1's tasks did not finish as attempt 1, or a2's did not run again"
import json, sys
d = json.load(open(sys.argv[1]))
on_a1 = set(sys.argv[2].strip(",").split(","))
for t in d:
    assert t["status"] == "succeeded", t
    # a1's went on (its DONEs, sent while it reconnected, lost: the stored
    # results finish them); a2's ran again on a1
    assert (t["attempt"], t["agent"]) == ((1, "a1") if t["id"] in on_a1 else (2, "a1")), t
PY
ok "a1's tasks ran on as attempt 1; a2's ran again; a2 declared dead"
audit paused
