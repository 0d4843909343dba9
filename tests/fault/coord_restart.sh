#!/usr/bin/env bash
# The coordinator SIGKILLed mid-job and started again: it rebuilds the job
# from Redis; a task whose agent still runs it is adopted when the agent
# says HELLO again (not run twice); a task that finished while the
# coordinator was down is finished from its stored result (its DONE died);
# queued and waiting tasks go on; the job completes once, every task with
# exactly one run; a task cancelled before the crash stays cancelled.
. "$(dirname "$0")/lib.sh"
use_redis 28
start_coordinator
start_agent a1 --slots 1
start_agent a2 --slots 1
wait_agents 2
expect 0 "$SWARM" init crashjob
expect 0 "$SWARM" spawn --id long "FAKE:sleep=5 outlives the coordinator"
expect 0 "$SWARM" spawn --id short "FAKE:sleep=1 finishes while it is down"
expect 0 "$SWARM" spawn --id after-long --after long "runs after the restart"
expect 0 "$SWARM" spawn --id queued "waits for a slot"
expect 0 "$SWARM" spawn --id dropped --after long "cancelled before the crash"
expect 0 "$SWARM" cancel dropped
wait_started crashjob long
wait_started crashjob short
kill_coordinator
fault "SIGKILL to the coordinator with two tasks running and three waiting"
sleep 2
coordinator_again
expect 1 "$SWARM" wait --job crashjob --timeout 60
contains "$T/out" "5/5 finished: 4 succeeded, 1 cancelled"
grep -q "resumed 5 task(s)" "$T/coordinator.log" || fail "the job was not resumed from Redis"
grep -q "still runs crashjob/long attempt 1: adopted" "$T/coordinator.log" || fail "long was not adopted"
for id in long short after-long queued; do
    [ "$(runs crashjob "$id")" = 1 ] || fail "$id ran $(runs crashjob "$id") times"
    [ "$(task_field "$id" attempt)" = 1 ] || fail "$id is at attempt $(task_field "$id" attempt)"
done
[ "$(task_field dropped status)" = cancelled ] || fail "dropped is $(task_field dropped status)"
! grep -q "task crashjob/dropped attempt" "$T"/agent-*.log || fail "the cancelled task started"
ok "resumed from Redis: dropped stayed cancelled and never started, long adopted, short finished from its result, none ran twice"
expect 1 "$SWARM" results --job crashjob
contains "$T/out" "5 tasks: 4 succeeded, 1 cancelled"
audit crashjob
