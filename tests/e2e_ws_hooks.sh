#!/usr/bin/env bash
# Workspaces and the node owner's agent hooks together (issues 16 and 19).
# The hooks run in the task's worktree; the capture comes after the
# post-task hook, so what the hooks set up and removed there is not part
# of the task's change, while what they leave is (like anything in the
# worktree). A task whose pre-task hook fails has no change at all; its
# worktree is not captured.
. "$(dirname "$0")/lib.sh"
use_redis 78
# outside every workdir and /tmp: tasks cannot change it
H=$(owner_dir) || fail "no owner dir"
OWNER_DIRS+=("$H")
cat >"$H/pre" <<'SH'
#!/bin/sh
case "$SWARM_TASK_ID" in bad*) echo "no toolchain here" >&2; exit 3 ;; esac
echo "toolchain in $(pwd)" >toolchain.env
echo "left by the hook" >hook-left.txt
SH
cat >"$H/post" <<'SH'
#!/bin/sh
rm -f toolchain.env
SH
chmod 755 "$H/pre" "$H/post"
start_coordinator
start_agent h1 --slots 1 --allow-exec --hook "pre-task=$H/pre" --hook "post-task=$H/post"
wait_agents 1

U="$T/user"
git init -q -b main "$U"
cd "$U" || fail "cd"
printf 'base\n' >README
git add -A && git -c user.name=u -c user.email=u@e commit -qm base
expect 0 "$SWARM" init hooked --workspace .
expect 0 "$SWARM" spawn --id t1 -- sh -c 'cat toolchain.env && echo "made by the task" >made.txt'
expect 0 "$SWARM" wait --timeout 60 t1
expect 0 "$SWARM" --json results
cp "$T/out" "$T/r.json"
case "$(json_get "$T/r.json" "[r['output'] for r in d if r['id']=='t1'][0]")" in
    *"toolchain in $T/work-h1/swarm-worktrees/h1/"*) ;;
    *) fail "the pre-task hook did not run in the worktree: $(cat "$T/r.json")" ;;
esac
[ "$(json_get "$T/r.json" "sorted(d[0]['hooks'].keys())")" = "['post-task', 'pre-task']" ] \
    || fail "hooks field: $(cat "$T/r.json")"
expect 0 "$SWARM" diff --stat t1
contains "$T/out" "made.txt"
contains "$T/out" "hook-left.txt"
grep -q toolchain.env "$T/out" && fail "the file the hooks set up and removed is in the change"
ok "hooks run in the worktree; the capture after post-task: what the hooks removed is not in the change, what they left is"

expect 0 "$SWARM" spawn --id bad1 -- sh -c 'echo never >never.txt'
expect 1 "$SWARM" wait --timeout 60 bad1
expect 1 "$SWARM" --json results
err=$(json_get "$T/out" "[r['error'] for r in d if r['id']=='bad1'][0]")
case "$err" in *pre-task*) ;; *) fail "bad1's error: $err" ;; esac
[ "$(json_get "$T/out" "[r.get('workspace') for r in d if r['id']=='bad1'][0]")" = None ] \
    || fail "a task whose runner never ran has a change: $(cat "$T/out")"
ok "a failing pre-task hook: the task fails naming it, nothing is captured"
