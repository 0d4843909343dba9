#!/bin/sh
# A stand-in for `codex exec`: the only stand-in in the test suite (it
# replaces the paid model, nothing of swarm). It insists on the exact argv
# swarm must use,
#   codex exec --sandbox MODE --skip-git-repo-check -C DIR -o LASTMSG --json
#              [-c mcp_servers.swarm.KEY=VALUE]... [--output-schema FILE] PROMPT
# and prints two of codex's --json events (thread.started, turn.completed
# with token usage) around its work.
# and on stdin being closed (real codex waits for EOF on an open stdin).
# Markers in the prompt choose a behaviour:
#   FAKE:exit=N         exit N after writing the last message
#   FAKE:sleep=S        sleep S seconds first (wall-clock timeout tests)
#   FAKE:ignore-term    ignore SIGTERM and SIGINT (escalation to SIGKILL)
#   FAKE:grandchild=TOK leave a grandchild running `sleep` with TOK in its
#                       argv, holding stdout open
#   FAKE:flood=BYTES    write BYTES bytes to stdout
#   FAKE:escape=TOK     leave a process running `sleep` with TOK in its argv
#                       in a session of its own (out of the task's group),
#                       its output not on the task's pipes
#   FAKE:crash=SIG@N    on attempt N (or every attempt: @all), die by signal
#                       SIG (KILL, SEGV, ...)
#   FAKE:chatty=N       print a line every 0.3 s, N times
#   FAKE:plan=bad       with --output-schema: answer with a plan that has a cycle
#   FAKE:mcp-store=TEXT store TEXT as result-<task id> in namespace results
#                       through the MCP server the agent configured (-c
#                       mcp_servers.swarm.*), started as codex starts it
#   FAKE:mcp-search=Q   search the memory through it; the hits end the
#                       last message
#   FAKE:script=NAME    run sh $FAKE_SCRIPTS/NAME in the working directory, as
#                       the model's edits would (workspaces); its output ends
#                       the last message, a failure is codex's exit code
# FAKE_LEDGER=FILE appends "start|end JOB ID ATTEMPT AGENT PID" when a call
# begins and when it finishes its work, so fault tests can count runs.
# With --output-schema (goal decomposition) the last message is a JSON plan
# of an architect, N coders ("at most N workers" in the prompt), a tester and
# a reviewer.
# The last message names the sandbox, so tests can check read-only vs
# workspace-write per task type. FAKE_CODEX_DELAY=S makes every call take
# S seconds (the demo uses it to look like work).
set -u
die() { echo "fake-codex: $*" >&2; exit 64; }
[ "${1:-}" = exec ] || die "argv[1] must be exec"
[ "${2:-}" = --sandbox ] || die "argv[2] must be --sandbox"
mode=${3:-}
case "$mode" in read-only|workspace-write) ;; *) die "bad sandbox mode $mode" ;; esac
[ "${4:-}" = --skip-git-repo-check ] || die "argv[4] must be --skip-git-repo-check"
[ "${5:-}" = -C ] || die "argv[5] must be -C"
dir=${6:-}
[ "${7:-}" = -o ] || die "argv[7] must be -o"
last=${8:-}
shift 8
[ "${1:-}" = --json ] || die "argv[9] must be --json (token usage comes from its events)"
shift
# The agent's MCP server for this worker, as codex's -c overrides (TOML).
mcp=
while [ "${1:-}" = -c ]; do
    case "${2:-}" in
        mcp_servers.swarm.command=*|mcp_servers.swarm.args=*|mcp_servers.swarm.env=*|\
        mcp_servers.swarm.default_tools_approval_mode=*)
            mcp="$mcp${2#mcp_servers.swarm.}
" ;;
        *) die "unexpected -c ${2:-}" ;;
    esac
    shift 2
done
schema=
if [ "${1:-}" = --output-schema ]; then
    schema=${2:-}
    [ -s "$schema" ] || die "--output-schema $schema is missing or empty"
    grep -q '"additionalProperties"' "$schema" || die "the schema is not a strict JSON schema"
    shift 2
fi
[ "$#" -eq 1 ] || die "want the prompt last, got $# more arguments: $*"
prompt=$1
[ -d "$dir" ] || die "-C $dir is not a directory"
[ "$(pwd -P)" = "$(cd "$dir" && pwd -P)" ] || die "not started in $dir"

# stdin must be at EOF already: a read that times out means it is open.
if ! IFS= read -r _ignored; then :; fi
# (a closed /dev/null gives EOF at once; an open pipe would block here and
# the test's timeout would catch it)

marker() { printf '%s\n' "$prompt" | sed -n "s/.*FAKE:$1=\([^ ]*\).*/\1/p" | head -n 1; }
case "$prompt" in *FAKE:ignore-term*) trap '' TERM INT ;; esac

echo '{"type":"thread.started","thread_id":"fake"}'
echo "fake-codex: working in $mode sandbox"
ledger() {
    [ -n "${FAKE_LEDGER:-}" ] && echo "$1 ${SWARM_JOB:-?} ${SWARM_TASK_ID:-?} ${SWARM_ATTEMPT:-?} ${SWARM_AGENT:-?} $$" >>"$FAKE_LEDGER"
    return 0
}
ledger start
# FAKE:mcp-store=TEXT / FAKE:mcp-search=QUERY: call the configured MCP
# server as codex would (tests/fake-mcp-client.py checks the configuration).
mcp_out=
if [ -n "$(marker mcp-store)$(marker mcp-search)" ]; then
    mcp_out=$(python3 "$(dirname "$0")/fake-mcp-client.py" "$mcp" "$(marker mcp-store)" \
              "$(marker mcp-search)") || die "MCP: $mcp_out"
fi
c=$(marker crash)
if [ -n "$c" ] && { [ "${c#*@}" = "${SWARM_ATTEMPT:-}" ] || [ "${c#*@}" = all ]; }; then
    kill -s "${c%@*}" $$
    sleep 5     # the signal is on its way
fi
tok=$(marker escape)
if [ -n "$tok" ]; then
    setsid sh -c "trap '' TERM INT; sleep 1000; : $tok" </dev/null >/dev/null 2>&1 &
fi
n=$(marker chatty)
if [ -n "$n" ]; then
    for i in $(seq "$n"); do echo "step $i"; sleep 0.3; done
fi
tok=$(marker grandchild)
if [ -n "$tok" ]; then
    sh -c "trap '' TERM INT; sleep 1000; : $tok" &
fi
[ -n "${FAKE_CODEX_DELAY:-}" ] && sleep "$FAKE_CODEX_DELAY"
s=$(marker sleep)
[ -n "$s" ] && sleep "$s"
n=$(marker flood)
[ -n "$n" ] && head -c "$n" /dev/zero | tr '\0' 'x'
script_out= script_rc=0
s=$(marker script)
if [ -n "$s" ]; then
    script_out=$(sh "${FAKE_SCRIPTS:?FAKE_SCRIPTS names the scripts directory}/$s" 2>&1)
    script_rc=$?
fi
if [ -n "$schema" ]; then
    n=$(printf '%s\n' "$prompt" | sed -n 's/.*at most \([0-9]*\) workers.*/\1/p' | head -n 1)
    n=${n:-2}
    [ "$n" -gt 3 ] && n=3
    coders= deps=
    for i in $(seq 1 "$n"); do
        coders="$coders{\"id\":\"coder-$i\",\"type\":\"coder\",\"task\":\"Implement part $i of the design\",\"depends_on\":[\"architect\"]},"
        deps="$deps\"coder-$i\","
    done
    first='"depends_on":[]'
    case "$prompt" in *FAKE:plan=bad*) first='"depends_on":["reviewer"]' ;; esac
    printf '{"name":"decomposed","workers":[{"id":"architect","type":"architect","task":"Design it",%s},%s{"id":"tester","type":"tester","task":"Test it","depends_on":[%s]},{"id":"reviewer","type":"reviewer","task":"Review it","depends_on":["tester"]}]}\n' \
        "$first" "$coders" "${deps%,}" > "$last"
else
    printf 'sandbox=%s task=%s agent=%s: done: %s%s%s\n' "$mode" "${SWARM_TASK_ID:-?}" \
        "${SWARM_AGENT:-?}" "$prompt" "${mcp_out:+ mcp: $mcp_out}" \
        "${script_out:+ script: $script_out}" > "$last"
fi
echo '{"type":"turn.completed","usage":{"input_tokens":1200,"cached_input_tokens":200,"output_tokens":34,"reasoning_output_tokens":5}}'
ledger end
code=$(marker exit)
[ -z "$code" ] && [ "$script_rc" -ne 0 ] && code=$script_rc
exit "${code:-0}"
