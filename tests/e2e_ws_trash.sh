#!/usr/bin/env bash
# A worktree the capture removes (the pool of idle worktrees is full) is
# moved aside and removed after the capture answered (issue 16, capture
# speed 2): the result does not wait for the removal, the slot's next
# task never sees a half-removed worktree, nothing is left behind, and
# what an agent SIGKILLed meanwhile left is removed by the next start.
. "$(dirname "$0")/lib.sh"
use_redis 51
start_coordinator
start_agent a1 --slots 1 --allow-exec --idle-worktrees 0
wait_agents 1
ROOT="$T/work-a1/swarm-worktrees/a1"

trash_repo trash

# 40,000 ignored files: no part of the change, but seconds to remove
expect 0 "$SWARM" spawn --id t1 -- sh -c 'echo one >>README && mkdir junk && cd junk && seq 25000 | xargs touch'
expect 0 "$SWARM" wait --timeout 120 t1
seen=$(trash)
[ -e "$ROOT/0" ] && fail "the removed worktree is still at its slot's place"
expect 0 "$SWARM" diff --stat t1
contains "$T/out" "README"
grep -q junk "$T/out" && fail "ignored files in the change"
[ -n "$seen" ] || fail "the worktree was removed before the result was stored (25,000 files: the removal was in the answer's path)"
no_trash
ok "the result was stored before the worktree was removed${seen:+ (seen moved aside: $seen)}; nothing left"

# the next task of the slot starts in a fresh worktree: t1's start plus
# its change, nothing of junk/
expect 0 "$SWARM" spawn --id t2 --after t1 -- sh -c 'test ! -e junk && cat README && mkdir junk && cd junk && seq 25000 | xargs touch'
expect 0 "$SWARM" wait --timeout 120 t2
expect 0 "$SWARM" --json results
[ "$(json_get "$T/out" "[r['output'] for r in d if r['id']=='t2'][0].split()")" = "['base', 'one']" ] \
    || fail "t2 did not start from t1's change alone: $(cat "$T/out")"

# SIGKILLed while a worktree waits for its removal (or is being removed):
# the next agent's start removes it
kill -9 "$AGENT_PID_a1"
wait "$AGENT_PID_a1" 2>/dev/null
left=$(trash)
start_agent a1 --slots 1 --allow-exec --idle-worktrees 0
wait_agents 1
no_trash
ok "an agent SIGKILLed with a worktree moved aside${left:+ ($left)}: the next start removes it"

# many in a row: never more than a bounded number moved aside at once
for i in 1 2 3 4 5 6; do
    expect 0 "$SWARM" spawn --id "r$i" -- sh -c "echo $i >>README && mkdir junk && cd junk && seq 3000 | xargs touch"
done
( while :; do trash | wc -l; sleep 0.02; done ) >"$T/counts" 2>/dev/null &
sampler=$!
PIDS+=("$sampler")
expect 0 "$SWARM" wait --timeout 90
kill "$sampler"
most=$(sort -n "$T/counts" | tail -1)
[ "${most:-0}" -le 5 ] || fail "$most worktrees were waiting for their removal at once (at most 4 + 1 in flight)"
no_trash
# the remover's request and answer go once the agent read it (a tick)
for _ in $(seq 200); do ls "$T/state-a1/ws/run" | grep -q . || break; sleep 0.05; done
ls "$T/state-a1/ws/run" | grep -q . && fail "stale requests left: $(ls "$T/state-a1/ws/run")"
ok "six captures in a row: at most ${most:-0} moved aside at once, all removed, no stale request"
