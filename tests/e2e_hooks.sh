#!/usr/bin/env bash
# Job hooks (issue 19, section 1), through `swarm run` against a real
# coordinator and agent:
#   - pre runs before anything is submitted; a failing pre submits nothing
#     and `swarm run` exits with its status, naming the hook;
#   - post runs once every task has finished, also after a failing worker,
#     with SWARM_STATUS=failed and the counts; a failing post makes the exit
#     non-zero; post without --wait is refused before anything runs;
#   - a hanging hook is killed with everything it started (its group, and
#     a setsid daemon) at hooks.timeout; SIGINT to swarm run stops a hook
#     the same way; no process is left;
#   - output carries a prefix; --dry-run lists the hooks and runs none;
#   - --pre/--post on the command line, also for a command list;
#   - examples/user-auth-hooks.yaml: pre announces and inits, workers run,
#     post lists the results namespace.
. "$(dirname "$0")/lib.sh"
use_redis 47
export PATH="$SWARM_BUILD:$PATH"            # the hooks call `swarm`
TOK="swarm-e2e-hooks-$$"
# no_process WORD: no process has WORD in its command line
no_process() {
    for _ in $(seq 40); do
        pgrep -f -- "[${1:0:1}]${1:1}" >/dev/null || return 0
        sleep 0.05
    done
    pgrep -af -- "[${1:0:1}]${1:1}"
    fail "a process with $1 in its argv outlived its hook"
}
start_coordinator
start_agent a1 --slots 2 --allow-exec
wait_agents 1

# --- pre and post around a job with a failing worker ----------------------------
cat >"$T/failing.yaml" <<EOF
name: hooked
hooks:
  pre:
    - echo "announcing the job"
    - [sh, -c, 'echo "pre of \$SWARM_JOB in \$SWARM_NAMESPACE" >"$T/pre.out"']
  post:
    - [sh, -c, 'env | grep "^SWARM_" | sort >"$T/post.env"']
    - [sh, -c, 'echo post-two-ran >"$T/post2.out"']
workers:
  - {id: good, command: "echo fine"}
  - {id: bad, command: "sh -c 'exit 7'"}
  - {id: after-bad, command: "echo never", depends_on: [bad]}
EOF
expect 1 "$SWARM" run "$T/failing.yaml" --wait --job hooked-1
contains "$T/out" "[pre 1] $ echo 'announcing the job'"
contains "$T/out" "[pre 1] announcing the job"
contains "$T/out" "[post 1] $ sh -c"
[ "$(cat "$T/pre.out")" = "pre of hooked-1 in results" ] || fail "pre env: $(cat "$T/pre.out")"
contains "$T/post.env" "SWARM_STATUS=failed"
contains "$T/post.env" "SWARM_JOB=hooked-1"
contains "$T/post.env" "SWARM_HOOK=post"
contains "$T/post.env" "SWARM_TOTAL=3"
contains "$T/post.env" "SWARM_SUCCEEDED=1"
contains "$T/post.env" "SWARM_FAILED=1"
contains "$T/post.env" "SWARM_SKIPPED=1"
contains "$T/post.env" "SWARM_UNFINISHED=0"
contains "$T/post.env" "SWARM_COORDINATOR=$SWARM_COORDINATOR"
[ "$(cat "$T/post2.out")" = post-two-ran ] || fail "the second post hook did not run"
# the order: pre output before the job's, post after the report
python3 - "$T/out" <<'PY' || fail "order: $(cat "$T/out")"
import sys
out = open(sys.argv[1]).read()
assert out.index("[pre 1] announcing") < out.index("submitted") < out.index("TASK") < out.index("[post 1]"), out
PY
ok "pre ran before submitting (SWARM_JOB, SWARM_NAMESPACE); post ran after a failing worker with SWARM_STATUS=failed and the counts; output prefixed"

# --- a failing pre submits nothing -------------------------------------------------
expect 3 "$SWARM" run "$T/failing.yaml" --wait --job hooked-2 --pre "sh -c 'exit 3'"
contains "$T/err" "pre hook 3 (sh -c 'exit 3') exited 3; nothing was submitted"
expect 4 "$SWARM" results --job hooked-2
cat >"$T/nopre.yaml" <<EOF
hooks: {pre: [no-such-command-$TOK], post: ["touch $T/post-ran"]}
workers: [{id: a, command: "true"}]
EOF
expect 127 "$SWARM" run "$T/nopre.yaml" --wait --job hooked-3
contains "$T/err" "pre hook 1 (no-such-command-$TOK) could not start: command not found; nothing was submitted"
[ -e "$T/post-ran" ] && fail "post ran although nothing was submitted"
expect 4 "$SWARM" results --job hooked-3
ok "a failing pre (exit 3, command not found: 127) submits nothing, runs no post, and swarm run exits with its status naming it"

# --- post on success; a failing post; post needs --wait -----------------------------
expect 0 "$SWARM" run --commands - --wait --job hooked-4 \
    --post "sh -c 'echo \"\$SWARM_STATUS \$SWARM_SUCCEEDED/\$SWARM_TOTAL\"'" <<<"echo one
echo two"
contains "$T/out" "[post 1] succeeded 2/2"
expect 5 "$SWARM" run --commands - --wait --job hooked-5 --post "sh -c 'exit 5'" \
    --post "echo second post" <<<"true"
contains "$T/err" "post hook 1 (sh -c 'exit 5') exited 5"
contains "$T/out" "[post 2] second post"
expect 2 "$SWARM" run --commands - --job hooked-6 --pre "touch $T/pre-6" --post "echo x" <<<"true"
contains "$T/err" "add --wait"
[ -e "$T/pre-6" ] && fail "pre ran although the run was refused"
expect 4 "$SWARM" results --job hooked-6
ok "post sees SWARM_STATUS=succeeded; a failing post makes the exit its status (the next post still runs); post without --wait is refused before anything runs"

# --- --dry-run lists the hooks and runs none ------------------------------------------
expect 0 "$SWARM" run "$T/failing.yaml" --dry-run --pre "touch $T/dry"
contains "$T/out" "hook pre 1"
contains "$T/out" "hook pre 3"
contains "$T/out" "\$ touch $T/dry"
contains "$T/out" "hook post 2"
expect 0 "$SWARM" --json run "$T/failing.yaml" --dry-run --hook-timeout 7
[ "$(json_get "$T/out" "(len(d['hooks']['pre']), d['hooks']['post'][1][0], d['hooks']['timeout_s'])")" \
  = "(2, 'sh', 7)" ] || fail "dry-run --json hooks: $(cat "$T/out")"
[ -e "$T/dry" ] && fail "a dry run ran a hook"
ok "--dry-run lists the hooks (text and JSON, with the timeout) and runs none"

# --- a hanging hook is killed with everything it started ------------------------------
cat >"$T/hang.yaml" <<EOF
hooks:
  pre:
    - [sh, -c, "trap '' TERM; setsid sh -c 'sleep 300; : $TOK-a' </dev/null >/dev/null 2>&1 & sh -c 'trap \"\" TERM; sleep 300; : $TOK-b' & sleep 300; : $TOK-c"]
  timeout: 1
workers: [{id: a, command: "true"}]
EOF
start=$(date +%s)
expect 124 "$SWARM" run "$T/hang.yaml" --wait --job hooked-7
[ $(( $(date +%s) - start )) -lt 15 ] || fail "the hanging hook was not stopped in time"
contains "$T/err" "timed out after 1 s"
no_process "$TOK"
expect 4 "$SWARM" results --job hooked-7
ok "a hanging pre hook (ignoring SIGTERM, with a setsid daemon) is killed at hooks.timeout with all it started; exit 124"

# SIGTERM to swarm run while a hook runs: the hook goes with it. (A
# background job of a script starts with SIGINT ignored, which swarm keeps;
# SIGINT at a terminal is handled the same way as SIGTERM here.)
"$SWARM" run --commands - --wait --job hooked-8 --pre "sh -c 'sleep 300; : $TOK-int'" \
    <<<"true" >"$T/int.out" 2>"$T/int.err" &
run_pid=$!
# the hook's own command line, anchored: swarm's argv holds the same text
# (--pre), and a SIGTERM sent before swarm has started the hook kills it
# before its handler is there (no message; a flake under ASan)
hook_re="^sh -c sleep 300; : ${TOK}-int"
for _ in $(seq 200); do pgrep -f -- "$hook_re" >/dev/null && break; sleep 0.05; done
pgrep -f -- "$hook_re" >/dev/null || fail "the hook did not start"
kill -TERM "$run_pid"
wait "$run_pid"
rc=$?
[ "$rc" = 143 ] || fail "swarm run exited $rc after SIGTERM, want 143: $(cat "$T/int.err")"
contains "$T/int.err" "was stopped: swarm got Terminated"
no_process "$TOK-int"
expect 4 "$SWARM" results --job hooked-8
ok "SIGTERM to swarm run stops the running hook and its group; exit 143, nothing submitted, nothing left"

# --- the example: pre announces and inits, workers run, post lists results -------------
expect 0 "$SWARM" run "$SWARM_SRC/examples/user-auth-hooks.yaml" --wait --job hooked-example
contains "$T/out" "[pre 1] user-auth: an architect, then two coders, then the results"
contains "$T/out" "[pre 2] stored design in ctx"
contains "$T/out" "[post 1] job hooked-example succeeded, 3 of 3 tasks succeeded"
# the coordinator's record of the job, with its final counts
contains "$T/out" '[post 2] {"job":"hooked-example","topology":"hierarchical","max_agents":3,'
grep -F "[post 2]" "$T/out" | grep -F '"status":"succeeded"' | grep -qF '"succeeded":3,' \
    || fail "the coordination record in post: $(grep -F "[post 2]" "$T/out")"
contains "$T/out" "[post 3] result-architect"
contains "$T/out" "[post 3] result-coder-store"
expect 0 "$SWARM" logs --job hooked-example architect
contains "$T/out" "JWT access tokens; refresh tokens in Redis"
ok "examples/user-auth-hooks.yaml: pre announces and stores the context the architect reads, post shows the coordination record and lists the results namespace"
