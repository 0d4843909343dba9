#!/usr/bin/env bash
# A worktree moved aside that the remover cannot remove (a task running
# as root made a file immutable) still counts against the bound of
# worktrees moved aside (AGENT_WS_TRASH_MAX): the disk does not fill with
# one unremovable tree per task (issue 16, capture speed 2). The bound
# holds for both kinds: the captures' .trash-* and the N.stale-* a prepare
# makes of a tree it cannot remove; beyond it the task fails naming the
# tree (issue 16, i26-uaf).
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "skip: needs root (chattr +i)"; exit 77; }
probe="$T/probe"
touch "$probe"
chattr +i "$probe" 2>/dev/null || { echo "skip: no chattr +i here"; exit 77; }
chattr -i "$probe"
trap 'rc=$?; chattr -R -i "$T" 2>/dev/null; (exit $rc); cleanup' EXIT
use_redis 79
start_coordinator
start_agent a1 --slots 1 --allow-exec --idle-worktrees 0
wait_agents 1
ROOT="$T/work-a1/swarm-worktrees/a1"

trash_repo stuck

for i in 1 2 3 4 5 6 7 8; do
    "$SWARM" spawn --id "s$i" -- sh -c "echo $i >>README && mkdir -p junk && echo x >junk/f && chattr +i junk/f" >/dev/null \
        || fail "spawn s$i"
    "$SWARM" wait --timeout 60 "s$i" >/dev/null
    [ $? = 124 ] && fail "s$i did not finish"
done
sleep 1   # the remover's last round (bounded: it fails at once)
# both kinds of worktree moved aside count: the captures' .trash-* and the
# prepares' N.stale-* (a tree its slot's next task could not remove)
aside() { ls -A "$ROOT" 2>/dev/null | grep -E '^\.trash-|\.stale-' || true; }
n=$(aside | wc -l)
[ "$n" -le 5 ] || fail "$n unremovable worktrees moved aside left on disk (at most 4 + 1 in flight): $(aside | tr '\n' ' ')"
# beyond the bound a task fails naming the tree, and the agent stays healthy
err=$("$SWARM" --json results | python3 -c '
import json, sys
print([r.get("error") or "" for r in json.load(sys.stdin) if r["id"] == "s8"][0])')
case $err in
*"cannot remove the worktree $ROOT/"*"not moving another aside"*) ;;
*) fail "s8 did not fail naming the stuck worktree: $err" ;;
esac
"$SWARM" init plain >/dev/null || fail "init plain"
expect 0 "$SWARM" spawn --id fine -- sh -c 'echo fine'
expect 0 "$SWARM" wait --timeout 60 fine
ok "unremovable worktrees moved aside: $n on disk (.trash-* and .stale-*), within the bound; beyond it a task fails naming the tree and the agent runs the next task"
