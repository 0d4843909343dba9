#!/usr/bin/env bash
# A task may replace its whole worktree (its cwd, ROOT/N, which it can
# reach from `..`) by a symlink to a directory elsewhere (issue 16,
# i29-atk): the agent must never follow it. The capture of that task
# fails naming it (it would have stored the target's files as the task's
# change), and the next task on the slot gets a real worktree: the prepare
# ran `git clean -ffdx` and `read-tree -u` through the link, removing
# every file of the target the index did not track and writing the tree
# into it.
. "$(dirname "$0")/lib.sh"
use_redis 213
start_coordinator
start_agent a1 --slots 1 --allow-exec
wait_agents 1
user_repo
printf 'base\n' >README
user_commit base
expect 0 "$SWARM" init rootlink --workspace .
mkdir -p "$T/victim"
printf 'precious\n' >"$T/victim/precious"
# a first task makes the slot's worktree (reused by the next ones)
expect 0 "$SWARM" spawn --id t0 -- sh -c 'cat README'
expect 0 "$SWARM" wait --timeout 60 t0

# relink ID UP TARGET WHAT: task ID moves the directory UP levels above
# its worktree ("." is the worktree) aside and puts a symlink to TARGET
# in its place; its capture must fail naming a symlink (or a directory
# that is no longer one)
relink() {
    expect 0 "$SWARM" spawn --id "$1" -- sh -c \
        "d=\$(cd '$2' && pwd -P) && cd / && mv \"\$d\" \"\$d.moved\" && ln -s '$3' \"\$d\""
    "$SWARM" wait --timeout 60 "$1" >/dev/null 2>&1
    local st
    st=$(task_outcome "$1")
    case "$st" in
        failed*"symlink"*|failed*"directory"*) ;;
        *) fail "$1, which made $4 a symlink, was captured through it: $st" ;;
    esac
}
relink t1 . "$T/victim" "its worktree"
[ "$(ls "$T/victim")" = precious ] && [ "$(cat "$T/victim/precious")" = precious ] \
    || fail "the capture changed the symlink's target: $(ls -la "$T/victim")"
expect 0 "$SWARM" spawn --id t2 -- sh -c '[ "$(cat README)" = base ] && [ ! -L "$(pwd)" ] && [ ! -e precious ] && echo pristine'
expect 0 "$SWARM" wait --timeout 60 t2
[ "$(ls "$T/victim")" = precious ] && [ "$(cat "$T/victim/precious")" = precious ] \
    || fail "the next prepare worked through the symlink: $(ls -la "$T/victim")"
ok "a worktree replaced by a symlink: the capture refused it, the next task got a real worktree, the target untouched"

# the same one level up: the agent's worktree root (ROOT, the slot's
# parent) made a symlink to a directory that has a "0" of its own
mkdir -p "$T/victim2/0"
printf 'precious\n' >"$T/victim2/0/precious"
relink t3 .. "$T/victim2" "the worktree root"
expect 0 "$SWARM" spawn --id t4 -- sh -c '[ "$(cat README)" = base ] && [ ! -e precious ] && echo pristine'
expect 0 "$SWARM" wait --timeout 60 t4
[ "$(ls -A "$T/victim2")" = 0 ] && [ "$(ls -A "$T/victim2/0")" = precious ] \
    || fail "a capture or prepare worked through the root's symlink: $(ls -laR "$T/victim2")"
ok "a worktree root replaced by a symlink: the same"

# two levels up: swarm-worktrees itself (WORKDIR/swarm-worktrees, above
# ROOT) made a symlink to a directory elsewhere: refused as above, and
# the next prepare makes nothing in the link's target (it made ROOT
# there, then failed "cannot make the worktree")
mkdir -p "$T/victim3"
relink t5 ../.. "$T/victim3" "swarm-worktrees"
expect 0 "$SWARM" spawn --id t6 -- sh -c '[ "$(cat README)" = base ] && echo pristine'
expect 0 "$SWARM" wait --timeout 60 t6
[ -z "$(ls -A "$T/victim3")" ] || fail "the prepare made something in the target of swarm-worktrees' symlink: $(ls -laR "$T/victim3")"
ok "swarm-worktrees replaced by a symlink: the next task ran, nothing made in the target"

# a lock left on the slot's index by a helper that was killed (a capture
# stopped inside its tree step or a git): the next prepare is not
# refused by it ("Unable to create .../index/0.lock: File exists")
ls "$T/state-a1/ws/index/0" >/dev/null || fail "no slot index at $T/state-a1/ws/index/0"
: >"$T/state-a1/ws/index/0.lock"
expect 0 "$SWARM" spawn --id t7 -- sh -c '[ "$(cat README)" = base ] && echo changed >README'
expect 0 "$SWARM" wait --timeout 60 t7
st=$(task_outcome t7)
case "$st" in
    succeeded*"'files': 1"*) ;;
    *) fail "t7, after a stale lock on its slot's index: $st" ;;
esac
expect 0 "$SWARM" spawn --id t8 -- sh -c '[ "$(cat README)" = base ] && echo pristine'
expect 0 "$SWARM" wait --timeout 60 t8
ok "a stale lock on the slot's index fails neither the next prepare nor its capture"
