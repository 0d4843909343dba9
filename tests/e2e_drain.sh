#!/usr/bin/env bash
# Drain: `swarm drain AGENT` and a SIGTERM to an agent let running tasks
# finish, give the agent no new ones, and then the agent leaves (exit 0).
# A second SIGTERM stops the tasks at once: their process groups are gone
# and the coordinator queues them again.
. "$(dirname "$0")/lib.sh"
use_redis 13
start_coordinator
start_agent a1 --slots 1
start_agent a2 --slots 1
wait_agents 2
expect 0 "$SWARM" init drain
# long enough that a loaded machine still finds it running when drain is asked
expect 0 "$SWARM" spawn --id long "FAKE:sleep=6 long"
wait_status long running
x=$(task_field long agent)
y=$([ "$x" = a1 ] && echo a2 || echo a1)
expect 0 "$SWARM" drain "$x"
contains "$T/out" "draining $x: 1 task(s) still running"
expect 0 "$SWARM" agents
contains "$T/out" "$x (draining)"
expect 0 "$SWARM" spawn --id q1 "quick one"
expect 0 "$SWARM" spawn --id q2 "quick two"
expect 0 "$SWARM" wait --timeout 30
[ "$(task_field q1 agent)" = "$y" ] && [ "$(task_field q2 agent)" = "$y" ] || fail "a draining agent got new work"
[ "$(task_field long status)" = succeeded ] && [ "$(task_field long attempt)" = 1 ] || fail "long did not finish where it ran"
eval "xpid=\$AGENT_PID_$x"
for _ in $(seq 60); do kill -0 "$xpid" 2>/dev/null || break; sleep 0.05; done
kill -0 "$xpid" 2>/dev/null && fail "drained agent $x did not leave"
wait "$xpid"; [ $? = 0 ] || fail "drained agent $x did not exit 0"
ok "swarm drain: running task finished, new ones went elsewhere, the agent left with 0"

expect 0 "$SWARM" spawn --id last "FAKE:sleep=2 last one"
wait_status last running
eval "ypid=\$AGENT_PID_$y"
kill -TERM "$ypid"
expect 0 "$SWARM" wait --timeout 30 last
[ "$(task_field last attempt)" = 1 ] || fail "SIGTERM requeued a task instead of draining"
for _ in $(seq 60); do kill -0 "$ypid" 2>/dev/null || break; sleep 0.05; done
kill -0 "$ypid" 2>/dev/null && fail "agent $y did not leave after draining"
wait "$ypid"; [ $? = 0 ] || fail "agent $y did not exit 0"
ok "SIGTERM: the running task finished, then the agent left with 0"

tok="draintok$$x"
start_agent a3 --slots 1
wait_agents 1
expect 0 "$SWARM" spawn --id stuck "FAKE:grandchild=$tok FAKE:sleep=60 stuck"
wait_status stuck running
kill -TERM "$AGENT_PID_a3"
sleep 0.3
kill -0 "$AGENT_PID_a3" || fail "one SIGTERM should only drain"
kill -TERM "$AGENT_PID_a3"
for _ in $(seq 100); do kill -0 "$AGENT_PID_a3" 2>/dev/null || break; sleep 0.05; done
kill -0 "$AGENT_PID_a3" 2>/dev/null && fail "a second SIGTERM did not stop the agent"
sleep 0.3
pgrep -f "$tok" >/dev/null && fail "the stopped task's processes survived"
wait_status stuck queued
ok "a second SIGTERM stops the task (nothing left) and the coordinator queues it again"
expect 0 "$SWARM" cancel stuck
