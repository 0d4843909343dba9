#!/usr/bin/env bash
# Pass: every agent is drained in turn while a job runs (a rolling
# restart): `swarm drain` for a1, SIGTERM for a2 and a3. Each finishes what
# it runs, takes nothing new, leaves with exit 0 and is started again. No
# task is cut off or run twice (all at attempt 1), the job completes.
# Every task: one result; no stray process.
. "$(dirname "$0")/lib.sh"
use_redis 27
start_coordinator
for a in a1 a2 a3; do start_agent "$a" --slots 1; done
wait_agents 3
expect 0 "$SWARM" init rolling
for i in $(seq 1 12); do
    expect 0 "$SWARM" spawn --id "t$i" "FAKE:sleep=1 task $i"
done
wait_started rolling t1
for a in a1 a2 a3; do
    eval "pid=\$AGENT_PID_$a"
    if [ "$a" = a1 ]; then
        expect 0 "$SWARM" drain "$a"
        fault "swarm drain $a mid-job"
    else
        kill -TERM "$pid"
        fault "SIGTERM to $a mid-job"
    fi
    for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -0 "$pid" 2>/dev/null && fail "$a did not leave after draining"
    wait "$pid"
    rc=$?
    [ "$rc" = 0 ] || fail "$a exited $rc after draining"
    start_agent "$a" --slots 1
    wait_agents 3
done
ok "each agent drained, left with 0 and came back"
expect 0 "$SWARM" wait --timeout 90
contains "$T/out" "12/12 finished: 12 succeeded"
for i in $(seq 1 12); do
    [ "$(task_field "t$i" attempt)" = 1 ] || fail "t$i was cut off (attempt $(task_field "t$i" attempt))"
    [ "$(runs rolling "t$i")" = 1 ] || fail "t$i ran $(runs rolling "t$i") times"
done
ok "no task was cut off or run twice"
audit rolling
