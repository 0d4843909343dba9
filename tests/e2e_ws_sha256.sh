#!/usr/bin/env bash
# A workspace in a repository of git's SHA-256 object format (i26-attack):
# docs/workspaces.md said it works where both ends use it, but the agent
# made its mirror in SHA-1, and the task failed before it ran ("git
# index-pack --stdin failed: pack is corrupted (SHA1 mismatch)"). The
# mirror now takes the format of the commit it is made for (64 digits:
# sha256); the capture writes its trees and commit itself in SHA-256 too
# (i29-cap; before, `git write-tree` and `git commit-tree`). A task, one on its
# result, diff and apply, and names of 64 digits throughout.
. "$(dirname "$0")/lib.sh"
use_redis 130
start_coordinator
start_agent a1 --slots 2 --allow-exec
wait_agents 1
U=$T/user
git init -q --object-format=sha256 -b main "$U" || fail "git init --object-format=sha256"
cd "$U" || fail "cd $U"
git config user.name "Test User"
git config user.email test@example.com
printf 'one\ntwo\n' >README
seq 1 50 >f.txt
user_commit base
base=$(git rev-parse HEAD)
[ ${#base} = 64 ] || fail "not a SHA-256 repository: $base"
expect 0 "$SWARM" init s256 --workspace .
expect 0 "$SWARM" spawn --id first -- sh -c 'echo three >>README'
expect 0 "$SWARM" spawn --id second --after first -- sh -c 'grep -x three README && echo 51 >>f.txt'
"$SWARM" wait --timeout 60 first second >/dev/null 2>&1 || true
for t in first second; do
    [ "$(task_field $t status)" = succeeded ] || { "$SWARM" logs $t >&2 || true; grep -F "$t" "$T/agent-a1.log" | tail -3 >&2; fail "$t is $(task_field $t status)"; }
done
expect 0 "$SWARM" --json results
c=$(json_get "$T/out" "[r['workspace']['commit'] for r in d if r['id']=='second'][0]")
[ ${#c} = 64 ] || fail "second's commit is not a SHA-256 name: $c"
ok "two tasks ran on a SHA-256 repository (commit $c)"
expect 0 "$SWARM" diff second
contains "$T/out" "+51"
expect 0 "$SWARM" apply
[ "$(tail -n1 README)" = three ] && [ "$(tail -n1 f.txt)" = 51 ] || fail "apply: $(git status --short)"
ok "diff and apply in the SHA-256 repository"
