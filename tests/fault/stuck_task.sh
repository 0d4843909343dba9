#!/usr/bin/env bash
# Pass: one stuck task holds one slot and nothing else. With a task that
# hangs on a1 and free slots elsewhere, 20 quick tasks submitted after it
# all finish while it is still running (credit dispatch, no prefetch: no
# task waits behind the stuck one). Cancelled, the stuck one is stopped
# with its group. Every task: one result; no stray process.
. "$(dirname "$0")/lib.sh"
use_redis 25
start_coordinator
start_agent a1 --slots 2
start_agent a2 --slots 2
wait_agents 2
expect 0 "$SWARM" init stuckjob
expect 0 "$SWARM" spawn --id stuck --timeout 600 "FAKE:sleep=600 never returns"
wait_started stuckjob stuck
fault "a task hangs in $(task_field stuck agent)"
for i in $(seq 1 20); do
    expect 0 "$SWARM" spawn --id "q$i" "FAKE:sleep=0 quick $i"
done
ids=$(seq -f 'q%g' 1 20)
# shellcheck disable=SC2086
expect 0 "$SWARM" wait --timeout 120 $ids
[ "$(task_field stuck status)" = running ] || fail "stuck is $(task_field stuck status)"
stuck_agent=$(task_field stuck agent)
n=$(for i in $(seq 1 20); do task_field "q$i" agent; done | grep -c "^$stuck_agent$")
[ "$n" -gt 0 ] || fail "the stuck task's agent took none of its free slot's work"
ok "20 quick tasks finished around the stuck one ($n on its agent's other slot)"
expect 0 "$SWARM" cancel stuck
expect 1 "$SWARM" wait --timeout 30
[ "$(task_field stuck status)" = cancelled ] || fail "stuck is $(task_field stuck status)"
audit stuckjob
