#!/usr/bin/env bash
# Agent hooks (issue 19, section 2): the node owner's pre-task and
# post-task programs around every task, through the daemons. A pre-task
# hook sets up a file the task reads; one that fails fails its task with
# its reason and stderr tail, and the runner never starts; a post-task
# hook sees SWARM_STATUS, and its failure is recorded, never changes the
# task's status; a hanging hook is stopped by its timeout with nothing
# left; a cancel during a hook stops it, and the task ends cancelled.
. "$(dirname "$0")/lib.sh"
use_redis 97
# outside every workdir and /tmp: tasks cannot change it
H=$(owner_dir) || fail "no owner dir"
OWNER_DIRS+=("$H")
cat >"$H/pre" <<'SH'
#!/bin/sh
# the node owner's setup: a toolchain file the task reads
case "$SWARM_TASK_ID" in
bad*) echo "checking the toolchain"; echo "no toolchain for $SWARM_TASK_ID" >&2; exit 3 ;;
hang*|cancel*)
    # a process in the hook's group, and one that leaves it
    setsid sh -c "sleep 1000; : hookstray-$SWARM_TASK_ID" </dev/null >/dev/null 2>&1 &
    touch "$(dirname "$POST_LOG")/started-$SWARM_TASK_ID"
    exec sh -c "sleep 1000; : hookhang-$SWARM_TASK_ID" ;;
flood*) head -c 1000000 /dev/zero | tr '\0' x; echo; echo "end of the flood" ;;
esac
{
    echo "toolchain for $SWARM_TASK_ID by $SWARM_HOOK in $(pwd)"
    echo "runner=$SWARM_RUNNER ns=$SWARM_NAMESPACE attempt=$SWARM_ATTEMPT agent=$SWARM_AGENT"
    echo "CC=${CC-unset} PYTHONWARNINGS=${PYTHONWARNINGS-unset} run=${SWARM_RUN:+set}"
    echo "status=${SWARM_STATUS-unset}"
} >toolchain.env
SH
cat >"$H/post" <<'SH'
#!/bin/sh
echo "$SWARM_TASK_ID $SWARM_STATUS ${SWARM_EXIT_CODE-none} $(pwd)" >>"$POST_LOG"
rm -f toolchain.env
case "$SWARM_TASK_ID" in
postfail*) echo "cleaning up"; echo "cleanup failed" >&2; exit 5 ;;
esac
SH
chmod 755 "$H/pre" "$H/post"
export POST_LOG="$T/post.log"
: >"$POST_LOG"

# Hooks are checked at start: the agent refuses one a task could change.
mkdir -p "$T/work-x"
cp "$H/pre" "$T/work-x/pre"
expect 2 "$SWARM_BUILD/swarm-agent" -f --workdir "$T/work-x" --state-dir "$T/state-x" \
    --hook "pre-task=$T/work-x/pre"
contains "$T/err" "--hook pre-task=$T/work-x/pre: $T/work-x/pre is under the workdir $T/work-x, where tasks write"
expect 2 "$SWARM_BUILD/swarm-agent" -f --workdir "$T/work-x" --state-dir "$T/state-x" \
    --hook "pre=$H/pre"
contains "$T/err" "--hook pre=$H/pre: expected pre-task=PATH or post-task=PATH"
chmod 777 "$H/post"
expect 2 "$SWARM_BUILD/swarm-agent" -f --workdir "$T/work-x" --state-dir "$T/state-x" \
    --hook "post-task=$H/post"
contains "$T/err" "is writable by others (mode 0777)"
chmod 755 "$H/post"
# under /tmp, which codex's workspace-write sandbox lets a task write
mkdir -p "$T/owner"
cp "$H/pre" "$T/owner/pre"
expect 2 "$SWARM_BUILD/swarm-agent" -f --workdir "$T/work-x" --state-dir "$T/state-x" \
    --hook "pre-task=$T/owner/pre"
contains "$T/err" "--hook pre-task=$T/owner/pre: $T/owner/pre is under /tmp, which codex's workspace-write sandbox lets tasks write: a task could change the hook"
ok "a hook under the workdir or /tmp, of an unknown name or writable by others is refused at start"

start_coordinator
start_agent a1 --slots 2 --allow-exec --pass-env POST_LOG --label hooks=long \
    --hook "pre-task=$H/pre" --hook "post-task=$H/post"
# the same hooks from the config file, with a short timeout
cat >"$T/a2.conf" <<CONF
hook = pre-task=$H/pre
hook = post-task=$H/post
hook-timeout = 2
label = hooks=short
CONF
start_agent a2 --slots 1 --allow-exec --pass-env POST_LOG -c "$T/a2.conf"
wait_agents 2
expect 0 "$SWARM" init hk

# A file the pre-task hook set up, read by an exec task and by a codex task.
expect 0 "$SWARM" spawn --id exec1 --env CC=clang --env PYTHONWARNINGS=ignore \
    -- sh -c 'cat toolchain.env; echo "task PYTHONWARNINGS=$PYTHONWARNINGS"'
expect 0 "$SWARM" spawn --id codex1 "FAKE:env=SWARM_TASK_ID read the toolchain"
expect 0 "$SWARM" wait --timeout 60 exec1 codex1
expect 0 "$SWARM" --json results
json_get "$T/out" "[r['output'] for r in d if r['id']=='exec1'][0]" >"$T/exec1.out"
contains "$T/exec1.out" "toolchain for exec1 by pre-task in $T/work-a"
contains "$T/exec1.out" "runner=exec ns=results attempt=1 agent=a"
contains "$T/exec1.out" "CC=clang PYTHONWARNINGS=unset run=set"
contains "$T/exec1.out" "status=unset"
contains "$T/exec1.out" "task PYTHONWARNINGS=ignore"
[ "$(json_get "$T/out" "[r['hooks']['pre-task']['status'] + '|' + r['hooks']['post-task']['status'] for r in d if r['id']=='codex1'][0]")" = "succeeded|succeeded" ] \
    || fail "codex1's hooks: $(json_get "$T/out" "[r.get('hooks') for r in d if r['id']=='codex1']")"
grep -q "^exec1 succeeded 0 $T/work-a[12]$" "$POST_LOG" || fail "post-task of exec1: $(cat "$POST_LOG")"
grep -q "^codex1 succeeded 0 " "$POST_LOG" || fail "post-task of codex1: $(cat "$POST_LOG")"
ls "$T"/work-a*/toolchain.env 2>/dev/null && fail "post-task did not clean up"
ok "pre-task sets up a file the task reads (codex and exec), with the task's environment but not a denylisted variable; post-task sees succeeded"

# A hook's output is capped: the last 4 KiB of it, the pipe drained.
expect 0 "$SWARM" spawn --id flood1 -- cat toolchain.env
expect 0 "$SWARM" wait --timeout 60 flood1
expect 0 "$SWARM" --json logs flood1
[ "$(json_get "$T/out" "(d['status'], len(d['hooks']['pre-task']['output_tail']) <= 4096 + 100, d['hooks']['pre-task']['output_tail'].endswith('end of the flood\\n'))")" = "('succeeded', True, True)" ] \
    || fail "flood1: $(json_get "$T/out" "(d['status'], len(d['hooks']['pre-task']['output_tail']), d['hooks']['pre-task']['output_tail'][-200:])")"
contains "$T/out" "toolchain for flood1"
ok "a hook's output is capped to its tail"

# A failing pre-task hook fails its task with its reason and stderr tail;
# the runner never starts, and the task is not tried again (a clean exit
# is the hook's answer). post-task still runs, with SWARM_STATUS=failed.
expect 0 "$SWARM" spawn --id bad1 -- sh -c 'touch ran-bad1'
expect 1 "$SWARM" wait --timeout 60 bad1
expect 1 "$SWARM" --json results
[ "$(json_get "$T/out" "[r['status'] + '|' + str(r['attempt']) + '|' + r['error'] for r in d if r['id']=='bad1'][0]")" = "failed|1|pre-task hook exited 3" ] \
    || fail "bad1: $(json_get "$T/out" "[r for r in d if r['id']=='bad1']")"
json_get "$T/out" "[r['stderr_tail'] for r in d if r['id']=='bad1'][0]" | grep -q "^no toolchain for bad1$" \
    || fail "bad1's stderr tail: $(json_get "$T/out" "[r['stderr_tail'] for r in d if r['id']=='bad1']")"
[ "$(json_get "$T/out" "[(r['hooks']['pre-task']['exit_code'], r['hooks']['pre-task']['output_tail'].strip(), r['exit_code']) for r in d if r['id']=='bad1'][0]")" = "(3, 'checking the toolchain', None)" ] \
    || fail "bad1's hooks: $(json_get "$T/out" "[r.get('hooks') for r in d if r['id']=='bad1']")"
ls "$T"/work-a*/ran-bad1 2>/dev/null && fail "the runner ran after a failing pre-task hook"
grep -q "^bad1 failed none " "$POST_LOG" || fail "post-task after bad1: $(cat "$POST_LOG")"
expect 1 "$SWARM" results
contains "$T/out" "pre-task hook exited 3"
ok "a failing pre-task hook fails the task (reason, stderr tail), the runner never starts, post-task sees failed"

# A failing post-task hook is recorded and logged; the task's status stays.
expect 0 "$SWARM" spawn --id postfail -- sh -c 'echo done; exit 0'
expect 0 "$SWARM" spawn --id postfail2 -- sh -c 'exit 4'
expect 1 "$SWARM" wait --timeout 60 postfail postfail2
expect 1 "$SWARM" --json results
[ "$(json_get "$T/out" "[r['status'] + '|' + r['hooks']['post-task']['status'] + '|' + r['hooks']['post-task']['error'] + '|' + r['hooks']['post-task']['stderr_tail'].strip() for r in d if r['id']=='postfail'][0]")" = "succeeded|failed|post-task hook exited 5|cleanup failed" ] \
    || fail "postfail: $(json_get "$T/out" "[r for r in d if r['id']=='postfail']")"
[ "$(json_get "$T/out" "[r['status'] + '|' + str(r['exit_code']) for r in d if r['id']=='postfail2'][0]")" = "failed|4" ] \
    || fail "postfail2: $(json_get "$T/out" "[r for r in d if r['id']=='postfail2']")"
grep -q "^postfail2 failed 4 " "$POST_LOG" || fail "post-task of postfail2: $(cat "$POST_LOG")"
grep -q "task hk/postfail attempt 1: post-task hook exited 5: cleanup failed" "$T"/agent-a*.log \
    || fail "the post-task failure was not logged"
ok "a failing post-task hook is recorded in the result and logged; the task's status stays"

# A hanging hook is stopped by its timeout (a2: hook-timeout = 2 in its
# config file): its group and what left the group are gone.
expect 0 "$SWARM" spawn --id hang1 --label hooks=short --max-attempts 1 -- sh -c 'touch ran-hang1'
expect 1 "$SWARM" wait --timeout 60 hang1
[ -e "$T/started-hang1" ] || fail "the hanging hook did not start its processes"
expect 1 "$SWARM" --json results
[ "$(json_get "$T/out" "[r['status'] + '|' + r['error'] + '|' + r['hooks']['pre-task']['status'] for r in d if r['id']=='hang1'][0]")" = "failed|pre-task hook timed out after 2 s|timed_out" ] \
    || fail "hang1: $(json_get "$T/out" "[r for r in d if r['id']=='hang1']")"
for _ in $(seq 60); do pgrep -f "hook(hang|stray)-hang1" >/dev/null || break; sleep 0.05; done
pgrep -af "hook(hang|stray)-hang1" && fail "the hook's processes outlived its timeout"
[ -e "$T/work-a2/ran-hang1" ] && fail "the runner ran after a hook that timed out"
grep -q "^hang1 failed none $T/work-a2$" "$POST_LOG" || fail "post-task after hang1: $(cat "$POST_LOG")"
ok "a hanging hook is killed by its timeout, nothing of it left, the task fails"

# A cancel during the pre-task hook stops it; the task ends cancelled,
# the runner never started, and post-task runs with SWARM_STATUS=cancelled.
expect 0 "$SWARM" spawn --id cancel1 --label hooks=long -- sh -c 'touch ran-cancel1'
expect 0 "$SWARM" spawn --id cancel2 --label hooks=long -- sh -c 'touch ran-cancel2'
for _ in $(seq 600); do
    [ -e "$T/started-cancel1" ] && [ -e "$T/started-cancel2" ] && break
    sleep 0.05
done
[ -e "$T/started-cancel1" ] && [ -e "$T/started-cancel2" ] || fail "the hanging hooks did not start"
pgrep -f "hookstray-cancel2" >/dev/null || fail "the hook's process that left its group is not there"
expect 0 "$SWARM" cancel cancel1 cancel2
expect 1 "$SWARM" wait --timeout 60 cancel1 cancel2
expect 1 "$SWARM" --json results
for id in cancel1 cancel2; do
    [ "$(json_get "$T/out" "[r['status'] + '|' + r['hooks']['pre-task']['status'] + '|' + r['hooks']['post-task']['status'] for r in d if r['id']=='$id'][0]")" = "cancelled|cancelled|succeeded" ] \
        || fail "$id: $(json_get "$T/out" "[r for r in d if r['id']=='$id']")"
    grep -q "^$id cancelled none " "$POST_LOG" || fail "post-task after $id: $(cat "$POST_LOG")"
done
for _ in $(seq 60); do pgrep -f "hook(hang|stray)-cancel" >/dev/null || break; sleep 0.05; done
pgrep -af "hook(hang|stray)-cancel" && fail "the cancelled hook's processes survived"
ls "$T"/work-a*/ran-cancel* 2>/dev/null && fail "the runner ran after its pre-task hook was cancelled"
ok "a cancel during the pre-task hook stops it with its processes; the task ends cancelled, post-task runs"

# The example pair (examples/hooks): a toolchain file the task reads,
# removed after it.
mkdir -p "$H/ex"
cp "$SWARM_SRC/examples/hooks/pre-task" "$SWARM_SRC/examples/hooks/post-task" "$H/ex/"
chmod 755 "$H/ex/pre-task" "$H/ex/post-task"
start_agent a3 --slots 1 --allow-exec --label hooks=example \
    --hook "pre-task=$H/ex/pre-task" --hook "post-task=$H/ex/post-task"
wait_agents 3
expect 0 "$SWARM" spawn --id example --label hooks=example -- cat .swarm-toolchain
expect 0 "$SWARM" wait --timeout 60 example
expect 0 "$SWARM" logs example
contains "$T/out" "NODE=$(hostname) task hk/example attempt 1"
grep -q "^CC=/" "$T/out" || fail "no CC in the example's toolchain file: $(cat "$T/out")"
[ -e "$T/work-a3/.swarm-toolchain" ] && fail "the example post-task hook did not clean up"
ok "the example hooks (examples/hooks) set up a file the task reads and remove it"

# The agents run on; nothing they started is left.
expect 0 "$SWARM" spawn --id after -- true
expect 0 "$SWARM" wait --timeout 60 after
pgrep -af "hook(hang|stray)-" && fail "processes of hooks are left"
ok "the agents run on, no process of a hook left"
