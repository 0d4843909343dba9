#!/usr/bin/env bash
# Cancel: a running task is stopped (its process group is gone) and ends
# cancelled; a queued one never starts; results exit 1.
. "$(dirname "$0")/lib.sh"
use_redis 5
start_coordinator
start_agent a1 --slots 1
wait_agents 1
tok="canceltok$$x"
expect 0 "$SWARM" init c
expect 0 "$SWARM" spawn --id running "FAKE:grandchild=$tok FAKE:sleep=60 long job"
expect 0 "$SWARM" spawn --id queued "never starts"
wait_status running running
[ "$(task_field queued status)" = queued ] || fail "second task should wait for the slot"
expect 0 "$SWARM" cancel running queued
contains "$T/out" "cancelled 2 task(s) in job c"
expect 1 "$SWARM" wait --timeout 30
[ "$(task_field running status)" = cancelled ] || fail "running task not cancelled"
[ "$(task_field queued status)" = cancelled ] || fail "queued task not cancelled"
[ "$(task_field queued attempt)" = 0 ] || fail "queued task started"
sleep 0.3
pgrep -f "$tok" >/dev/null && fail "the cancelled task's processes survived"
ok "running and queued tasks cancelled, nothing left"
expect 1 "$SWARM" results
contains "$T/err" "running (cancelled)"
expect 4 "$SWARM" cancel nosuch
contains "$T/err" "no task 'nosuch'"
expect 4 "$SWARM" cancel --job nosuchjob
ok "cancel of unknown task or job: exit 4"
