#!/usr/bin/env bash
# Issue 20 (memory 2), hostile review: a task's spec is held as 80 bytes
# plus a `rest` allocated only when a field differs from an exec task's
# defaults. Every field must still reach the agent exactly as submitted,
# and survive a coordinator SIGKILL and restart (tasks reloaded from
# Redis) while they are queued: env and dir applied by the child, the
# timeout and idle timeout enforced, labels placing, dependencies
# ordering, max attempts retrying (an exit code is final, a timeout is retried), an explicit --timeout 300 (the default,
# so no rest) and a timeout-only task (a rest of one field).
. "$(dirname "$0")/lib.sh"
private_redis 80     # CLIENT KILL TYPE normal: server-wide
export PATH="$SWARM_BUILD:$PATH"
start_coordinator --limit lic=1
expect 0 "$SWARM" init specs
mkdir -p "$T/wd dir"
expect 0 "$SWARM" spawn --id plain -- sh -c 'echo plain-out'
expect 0 "$SWARM" spawn --id envdir --env 'FOO=bar baz' --env EMPTY= --dir "$T/wd dir" \
    -- sh -c 'echo "env=$FOO|${EMPTY-unset}|pwd=$PWD"'
expect 0 "$SWARM" spawn --id t300 --timeout 300 -- sh -c 'echo t300-out'
expect 0 "$SWARM" spawn --id short --timeout 2 -- sleep 30
expect 0 "$SWARM" spawn --id idle --idle-timeout 1 -- sleep 30
expect 0 "$SWARM" spawn --id lab --label zone=x -- sh -c 'echo lab-out'
expect 0 "$SWARM" spawn --id dep --after plain,envdir -- sh -c 'echo dep-out'
expect 0 "$SWARM" spawn --id res --resource lic -- sh -c 'echo res-out'
expect 0 "$SWARM" spawn --id retry --max-attempts 2 --timeout 1 -- sleep 30
expect 0 "$SWARM" spawn --id codex1 --label zone=x 'hello FAKE:exit=0'
# a claude task with its caps, on a label no agent has: cancelled later
expect 0 "$SWARM" spawn --id cl --runner claude --max-turns 7 --max-budget-usd 1.25 \
    --label zone=nowhere --env K=v --idle-timeout 9 'a prompt é ✓'
# specs_of FILE: every task's stored spec
specs_of() {
    for id in plain envdir t300 short idle lab dep res retry codex1 cl; do
        printf '%s ' "$id"
        redis-cli -u "$SWARM_REDIS" --raw HGET "$(rkey task specs "$id")" spec
    done >"$1"
}
specs_of "$T/spec-before"

# SIGKILL with everything queued (no agent yet), then restart: the
# tasks come back from Redis
kill_coordinator
coordinator_again --limit lic=1
coordinator_up || fail "the coordinator did not come back"
[ "$(task_field lab status)" = queued ] || fail "lab after restart: $(task_field lab status)"

expect 0 "$SWARM" cancel cl
[ "$(task_field cl status)" = cancelled ] || fail "cl: $(task_field cl status)"
start_agent a1 --slots 4 --allow-exec --label zone=x
wait_agents 1
"$SWARM" wait --timeout 60 >/dev/null 2>&1
for id in plain envdir t300 lab dep res codex1; do
    [ "$(task_field "$id" status)" = succeeded ] || fail "$id: $(task_field "$id" status)"
done
for id in short idle retry; do
    [ "$(task_field "$id" status)" = timed_out ] || fail "$id: $(task_field "$id" status)"
done
[ "$(task_field retry status)" = timed_out ] || fail "retry: $(task_field retry status)"
[ "$(task_field retry attempt)" = 2 ] || fail "retry ran $(task_field retry attempt) attempts, not 2"
[ "$(task_field short attempt)" = 3 ] || fail "short ran $(task_field short attempt) attempts, not 3"
"$SWARM" logs envdir >"$T/envdir.out" 2>&1
contains "$T/envdir.out" "env=bar baz||pwd=$T/wd dir"
"$SWARM" logs dep >"$T/dep.out" 2>&1
contains "$T/dep.out" "dep-out"

# A lost connection: the coordinator writes its whole state again when
# Redis answers (s_resync), each spec rebuilt by coord_task_spec.
redis-cli -u "$SWARM_REDIS" CLIENT KILL TYPE normal >/dev/null
expect 0 "$SWARM" spawn --id after-outage -- true
expect 0 "$SWARM" wait --timeout 60 after-outage
grep -q "is back: job state written again" "$T/coordinator.log" || fail "no resync: $(tail -5 "$T/coordinator.log")"
specs_of "$T/spec-after"
grep -q 'bar baz' "$T/spec-before" && grep -q '"timeout_s":300' "$T/spec-before" \
    && grep -q '"max_turns":7' "$T/spec-before" && grep -q '"max_budget_cents":125' "$T/spec-before" || fail "stored spec: $(cat "$T/spec-before")"
cmp -s "$T/spec-before" "$T/spec-after" || fail "stored spec changed: $(cat "$T/spec-before") -> $(cat "$T/spec-after")"
ok "every field survives a SIGKILL and a restart and reaches the child"
