#!/usr/bin/env bash
# Pass: a cancel in the adoption window after a coordinator restart, while
# tasks restored as running have no agent yet, neither crashes the
# coordinator (it dereferenced the missing agent and exited 139, again on
# every retry) nor loses the cancel (issue 15, section 3):
# - swarm cancel --job J, then the agent comes back and claims its tasks:
#   they get their CANCEL and end cancelled;
# - swarm cancel --job J and the agent never comes back: the tasks end
#   cancelled when the window closes;
# - on_failure: stop halting a job whose other task is unclaimed: the same.
# Every job audited; the coordinator is the same process throughout.
. "$(dirname "$0")/lib.sh"
use_redis 65

restart_coordinator() {        # same ports; the old one was SIGKILLed
    coordinator_again
    coordinator_up || fail "the coordinator did not come back"
}
crash() { kill_coordinator; }
reason() {
    "$SWARM" --json status --job "$1" | python3 -c '
import json, sys
print([t["reason"] for t in json.load(sys.stdin)["tasks"] if t["id"] == sys.argv[1]][0])' "$2"
}

start_coordinator
start_agent w --slots 2 --label pool=w
wait_agents 1

# --- the agent comes back after the cancel ---------------------------------------
expect 0 "$SWARM" init win
expect 0 "$SWARM" spawn --id w1 --label pool=w "FAKE:sleep=20 runs across the restart"
expect 0 "$SWARM" spawn --id w2 --label pool=w "FAKE:sleep=20 runs across the restart"
wait_started win w1
wait_started win w2
kill -STOP "$AGENT_PID_w"          # so that it cannot claim them before the cancel
crash
fault "coordinator SIGKILLed with two tasks running; their agent paused"
restart_coordinator
expect 0 "$SWARM" cancel --job win
contains "$T/out" "cancelled 2 task(s) in job win"
kill -0 "$COORD_PID" || fail "the coordinator died on the cancel"
kill -CONT "$AGENT_PID_w"
expect 1 "$SWARM" wait --job win --timeout 30
contains "$T/out" "2/2 finished: 2 cancelled"
grep -q "still runs win/w1 attempt 1: adopted" "$T/coordinator.log" || fail "w1 was not claimed"
[ "$(reason win w1)" = "cancelled by swarm cancel" ] || fail "w1: $(reason win w1)"
[ "$(runs win w1)$(runs win w2)" = 00 ] || fail "a cancelled task ran to its end"
ok "cancel --job in the adoption window; the agent claims its tasks and stops them"
audit win

# --- nobody comes back: the window closes them ------------------------------------
expect 0 "$SWARM" init gone
expect 0 "$SWARM" spawn --id g1 --label pool=w "FAKE:sleep=30 its agent dies"
wait_started gone g1
kill -9 "$AGENT_PID_w"
crash
fault "coordinator and agent SIGKILLed with a task running"
restart_coordinator
expect 0 "$SWARM" cancel --job gone
expect 0 "$SWARM" cancel --job gone      # again: nothing more to cancel, no crash
kill -0 "$COORD_PID" || fail "the coordinator died on the cancel"
expect 1 "$SWARM" wait --job gone --timeout 30
contains "$T/out" "1/1 finished: 1 cancelled"
[ "$(reason gone g1)" = "cancelled by swarm cancel" ] || fail "g1: $(reason gone g1)"
start_agent w --slots 2 --label pool=w      # the same id: it kills what its predecessor left
wait_agents 1
ok "cancel --job in the adoption window; nobody claims the task: cancelled when it closes"
audit gone

# --- on_failure: stop with an unclaimed task ----------------------------------------
cat > "$T/halt.yaml" <<'YAML'
name: halt
on_failure: stop
workers:
  - {id: long, task: "FAKE:sleep=30 outlives the crash", labels: {pool: w}}
  - {id: bad, task: "FAKE:exit=3 fails after the restart", labels: {pool: b}}
YAML
expect 0 "$SWARM" run "$T/halt.yaml" --job halt
wait_started halt long
kill -9 "$AGENT_PID_w"
crash
fault "coordinator and agent SIGKILLed; the job's failure comes after the restart"
restart_coordinator
start_agent b --slots 1 --label pool=b
expect 1 "$SWARM" wait --job halt --timeout 30
contains "$T/out" "2/2 finished: 1 failed, 1 cancelled"
kill -0 "$COORD_PID" || fail "the coordinator died halting the job"
[ "$(reason halt long)" = "cancelled: job halted after bad failed" ] || fail "long: $(reason halt long)"
start_agent w --slots 2 --label pool=w
wait_agents 2
ok "on_failure: stop halts a job whose running task is unclaimed: cancelled, no crash"
audit halt
