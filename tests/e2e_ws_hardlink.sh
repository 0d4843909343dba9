#!/usr/bin/env bash
# A tracked file a task hard-links to another with the same content (`ln
# -f a b`) is no change, so the capture stores none and git's stat data
# is refreshed; the reused worktree kept the link, and the next task on
# the slot that appended to a changed b too: its change had a file it
# never touched (issue 16, i29-atk). The same for a link to a file
# outside the worktree: the next task's writes reached it.
. "$(dirname "$0")/lib.sh"
use_redis 214
start_coordinator
start_agent a1 --slots 1 --allow-exec
wait_agents 1
user_repo
printf 'same\n' >a
printf 'same\n' >b
printf 'base\n' >c
user_commit base
expect 0 "$SWARM" init hard --workspace .
expect 0 "$SWARM" spawn --id h0 -- true
expect 0 "$SWARM" wait --timeout 60 h0
expect 0 "$SWARM" spawn --id h1 -- sh -c "ln -f a b && cp c '$T/outside' && ln -f '$T/outside' c"
expect 0 "$SWARM" wait --timeout 60 h1
expect 0 "$SWARM" spawn --id h2 -- sh -c 'echo more >>a && echo more >>c'
expect 0 "$SWARM" wait --timeout 60 h2
grep -q "task hard/h2: worktree at .*checkout reset" "$T/agent-a1.log" \
    || fail "h2 did not reuse the worktree: $(grep "hard/h2:" "$T/agent-a1.log")"
expect 0 "$SWARM" diff h2 --stat
files=$(grep -c '|' "$T/out")
[ "$files" = 2 ] && grep -q '^ a ' "$T/out" && grep -q '^ c ' "$T/out" \
    || fail "h2 changed a and c, its change says: $(cat "$T/out")"
[ "$(cat "$T/outside")" = base ] || fail "h2's write reached the file outside: $(cat "$T/outside")"
ok "hard links a task left in its worktree did not reach the next task's change nor outside"
