#!/usr/bin/env bash
# Hostile inputs to the remover of worktrees moved aside (issue 16,
# capture speed 2): symlinks out of ROOT are removed as links, never
# followed; unreadable directories go; a workdir with spaces and
# non-ASCII; the slot's next task (and a retry of the same id) starts
# clean while the old worktree waits in the trash.
. "$(dirname "$0")/lib.sh"
use_redis 52
WD="$T/work dir é"
mkdir -p "$WD"
start_coordinator
start_agent a1 --slots 1 --allow-exec --idle-worktrees 0 --workdir "$WD"
wait_agents 1
ROOT="$WD/swarm-worktrees/a1"

OUT="$T/outside"
mkdir -p "$OUT/sub"
echo keep >"$OUT/file"
echo keep >"$OUT/sub/deep"

trash_repo trash

expect 0 "$SWARM" spawn --id s1 -- sh -c "echo one >>README && mkdir -p junk/a/b && ln -s '$OUT' junk/dirlink && ln -s '$OUT/file' junk/filelink && ln -s '$OUT' junk/a/b/up && seq 3000 | (cd junk/a && xargs touch) && chmod 000 junk/a/b && chmod 500 junk/a"
expect 0 "$SWARM" wait --timeout 120 s1
[ -d "$ROOT" ] || fail "the agent did not use the workdir $WD"
no_trash
[ -f "$OUT/file" ] && [ -f "$OUT/sub/deep" ] || fail "the remover deleted outside ROOT: $(ls -laR "$OUT")"
ok "symlinks out of ROOT in a trashed worktree: removed as links, the target kept; chmod 000/500 dirs removed"

# the same id again (a new attempt): starts from base, none of s1's junk
expect 0 "$SWARM" spawn --id s2 -- sh -c 'test ! -e junk && cat README'
expect 0 "$SWARM" wait --timeout 120 s2
expect 0 "$SWARM" --json results
[ "$(json_get "$T/out" "[r['output'] for r in d if r['id']=='s2'][0].split()")" = "['base']" ] \
    || fail "s2 did not start clean: $(cat "$T/out")"
ok "workdir with spaces and non-ASCII: trash removed, next task clean"
