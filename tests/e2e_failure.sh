#!/usr/bin/env bash
# Partial failure is loud: a failing task makes wait and results exit 1
# and names the task; dependants are skipped, not run. A missing runner
# binary fails with a message that says so, instead of hanging; an exec
# task is never given to an agent without --allow-exec (it stays queued).
. "$(dirname "$0")/lib.sh"
use_redis 2
start_coordinator
start_agent a1 --slots 2 --allow-exec --label kind=good
start_agent nocodex --slots 1 --label kind=broken --codex /nonexistent/codex
start_agent noexec --slots 1 --label kind=strict
wait_agents 3

expect 0 "$SWARM" init fail-job
expect 0 "$SWARM" spawn --id ok-1 --label kind=good "fine"
expect 0 "$SWARM" spawn --id bad-1 --label kind=good "FAKE:exit=3 this one breaks"
expect 0 "$SWARM" spawn --id after-bad --label kind=good --after bad-1 "never runs"
expect 1 "$SWARM" wait --timeout 30
contains "$T/err" "did not succeed"
expect 1 "$SWARM" results
contains "$T/out" "bad-1"
contains "$T/err" "bad-1 (failed)"
contains "$T/err" "after-bad (skipped)"
expect 1 "$SWARM" results --json
cp "$T/out" "$T/r.json"
[ "$(json_get "$T/r.json" "[r['exit_code'] for r in d if r['id']=='bad-1'][0]")" = 3 ] || fail "exit code 3 not kept"
[ "$(json_get "$T/r.json" "[r['status'] for r in d if r['id']=='after-bad'][0]")" = skipped ] || fail "dependant not skipped"
[ "$(json_get "$T/r.json" "[r['reason'] for r in d if r['id']=='after-bad'][0]")" = "dependency bad-1 failed" ] || fail "skip reason"
ok "a failing task makes wait and results exit 1 and names it"
# wait for named tasks counts those tasks, not the whole job
expect 0 "$SWARM" wait --timeout 30 ok-1
contains "$T/out" "job fail-job: 1/1 finished: 1 succeeded"
! grep -q "failed\|skipped" "$T/out" || fail "wait ok-1 counted the job's other tasks: $(cat "$T/out")"
expect 1 "$SWARM" wait --timeout 30 ok-1 bad-1
contains "$T/out" "2/2 finished: 1 succeeded, 1 failed"
! grep -q "skipped" "$T/out" || fail "wait ok-1 bad-1 counted after-bad: $(cat "$T/out")"
ok "wait ID... counts the named tasks only"

expect 0 "$SWARM" init runner-job
expect 0 "$SWARM" spawn --id missing --label kind=broken "needs codex"
expect 1 "$SWARM" wait --timeout 30 missing
expect 1 "$SWARM" results --json
cp "$T/out" "$T/r2.json"
json_get "$T/r2.json" "[r['error'] for r in d if r['id']=='missing'][0]" > "$T/e1"
contains "$T/e1" "/nonexistent/codex: No such file or directory"
contains "$T/e1" "is codex installed"
ok "a missing runner binary fails the task with a clear error"
expect 0 "$SWARM" spawn --id not-allowed --label kind=strict -- /bin/true
expect 124 "$SWARM" wait --timeout 1 not-allowed
[ "$(task_field not-allowed status)" = queued ] || fail "exec task went to an agent without --allow-exec"
ok "exec tasks only go to agents started with --allow-exec"

# exec tasks run argv without a shell, output captured
expect 0 "$SWARM" init exec-job
expect 0 "$SWARM" spawn --id echo --label kind=good -- /bin/echo 'a  b' '$HOME' '*'
expect 0 "$SWARM" wait --timeout 30
expect 0 "$SWARM" logs echo
[ "$(cat "$T/out")" = 'a  b $HOME *' ] || fail "argv was not passed verbatim: $(cat "$T/out")"
ok "exec argv passed verbatim, no shell"
