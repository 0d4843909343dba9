#!/bin/sh
# A stand-in for `codex exec`: the only stand-in in the test suite (it
# replaces the paid model, nothing of swarm). It reads its command line as
# codex 0.171's `codex exec` does (clap):
#   codex exec [OPTIONS] [PROMPT]  |  codex exec [OPTIONS] <COMMAND> [ARGS]
#   - an argument starting with '-' is an option: an unknown one is an
#     error (exit 2, "error: unexpected argument '...' found");
#   - -V/--version prints a version and exits 0, -h/--help prints help and
#     exits 0, with no last message;
#   - a first bare word resume, fork, review or help is a subcommand;
#   - PROMPT "-" (or none) reads the prompt from stdin.
# So a prompt that reached argv would not reach the model, as with the real
# codex. On top of codex, it insists on swarm's contract:
#   codex exec --sandbox MODE --skip-git-repo-check -C DIR -o LASTMSG --json
#              [-c mcp_servers.swarm.KEY=VALUE]... [--output-schema FILE] -
# with stdin a regular file (EOF right after the prompt: real codex waits
# for EOF on an open stdin) and no prompt text in argv. It prints codex's
# --json events (thread.started, turn.completed with token usage) around
# its work.
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
#   FAKE:events=N       print N rounds of codex's --json events (reasoning, a
#                       command started and completed, a file change, a
#                       message), 0.2 s apart, as codex 0.171 prints them
#   FAKE:plan=bad       with --output-schema: answer with a plan that has a cycle
#   FAKE:mcp-store=TEXT store TEXT as result-<task id> in namespace results
#                       through the MCP server the agent configured (-c
#                       mcp_servers.swarm.*), started as codex starts it
#   FAKE:mcp-search=Q   search the memory through it; the hits end the
#                       last message
#   FAKE:mcp-get=NS/KEY read one entry through it (memory_retrieve); its value
#                       ends the last message
#   FAKE:script=NAME    run sh $FAKE_SCRIPTS/NAME in the working directory, as
#                       the model's edits would (workspaces); its output ends
#                       the last message, a failure is codex's exit code
#   FAKE:no-last=TEXT   write no -o file; the answer TEXT is only in the
#                       --json stream (an agent_message item), as when codex
#                       cannot write the file
#   FAKE:silent         no -o file and no agent_message: exit 0 with no answer
#   FAKE:env=NAME       end the last message with " env NAME=VALUE" (or
#                       "NAME unset"), to see what reached the runner
#   FAKE:wipe           remove everything in the working directory first
#                       (what `git clean -xfd` or `rm -rf .swarm` does)
#   FAKE:ratelimit=K    on attempts 1..K, fail as codex does when the provider
#                       keeps answering HTTP 429 (its error and turn.failed
#                       events, exit 1), after the work's sleep
# FAKE_LEDGER=FILE appends "start|end JOB ID ATTEMPT AGENT PID NS" when a call
# begins and when it finishes its work (NS: wall clock in nanoseconds), so
# fault tests can count runs and limit tests can see which ran at once.
# With --output-schema (goal decomposition) the last message is a JSON plan
# of an architect, N coders ("at most N workers" in the prompt), a tester and
# a reviewer.
# Otherwise the last message names the sandbox (tests check read-only vs
# workspace-write per task type), the prompt's size and SHA-256 (tests check
# it arrived byte for byte) and the prompt (its first 256 KiB).
# FAKE_CODEX_DELAY=S makes every
# call take S seconds (the demo uses it to look like work).
set -u
die() { echo "fake-codex: $*" >&2; exit 64; }
clap() { echo "error: $*" >&2; echo "Usage: codex exec [OPTIONS] [PROMPT]" >&2; exit 2; }
[ "${1:-}" = exec ] || die "argv[1] must be exec"
shift
mode= skip= dir= last= json= schema= mcp= prompt_arg= have_prompt=
while [ "$#" -gt 0 ]; do
    case "$1" in
        -V|--version) echo "codex-cli 0.171.0 (fake)"; exit 0 ;;
        -h|--help) echo "Run Codex non-interactively (fake)"; exit 0 ;;
        -s|--sandbox) [ "$#" -ge 2 ] || clap "a value is required for '--sandbox'"; mode=$2; shift ;;
        --skip-git-repo-check) skip=1 ;;
        -C|--cd) [ "$#" -ge 2 ] || clap "a value is required for '--cd'"; dir=$2; shift ;;
        -o|--output-last-message) [ "$#" -ge 2 ] || clap "a value is required for '-o'"; last=$2; shift ;;
        --json) json=1 ;;
        --output-schema) [ "$#" -ge 2 ] || clap "a value is required"; schema=$2; shift ;;
        -c|--config)
            [ "$#" -ge 2 ] || clap "a value is required for '--config'"
            case "$2" in
                mcp_servers.swarm.command=*|mcp_servers.swarm.args=*|mcp_servers.swarm.env=*|\
                mcp_servers.swarm.default_tools_approval_mode=*)
                    mcp="$mcp${2#mcp_servers.swarm.}
" ;;
                *) die "unexpected -c $2" ;;
            esac
            shift ;;
        -m|--model|-p|--profile|-i|--image|--enable|--disable|--add-dir|--color|\
        --local-provider|--remote|--remote-auth-token-env|--thread-source|--cyber-access-program)
            [ "$#" -ge 2 ] || clap "a value is required for '$1'"; shift ;;
        --oss|--strict-config|--approve-for-me|--dangerously-bypass-approvals-and-sandbox|\
        --dangerously-bypass-hook-trust|--worktree|--trust|--ephemeral|--ignore-user-config|\
        --ignore-rules) ;;
        --) shift; [ "$#" -ge 1 ] && { prompt_arg=$1; have_prompt=1; }; break ;;
        -) prompt_arg=-; have_prompt=1 ;;
        -*) clap "unexpected argument '$1' found" ;;
        *)
            if [ -z "$have_prompt" ]; then
                case "$1" in
                    resume|fork|review|help)
                        # a subcommand, as clap reads it: no turn, no last message
                        echo "fake-codex: ran the '$1' subcommand" >&2; exit 0 ;;
                esac
                prompt_arg=$1; have_prompt=1
            else
                clap "unexpected argument '$1' found"
            fi ;;
    esac
    shift
done
# swarm's contract
case "$mode" in read-only|workspace-write) ;; *) die "bad sandbox mode '$mode'" ;; esac
[ -n "$skip" ] || die "no --skip-git-repo-check"
[ -n "$dir" ] || die "no -C DIR"
[ -n "$last" ] || die "no -o LASTMSG"
[ -n "$json" ] || die "no --json (token usage comes from its events)"
if [ -n "$schema" ]; then
    [ -s "$schema" ] || die "--output-schema $schema is missing or empty"
    grep -q '"additionalProperties"' "$schema" || die "the schema is not a strict JSON schema"
fi
[ "$prompt_arg" = - ] || die "the prompt must come on stdin ('-'), not in argv: got '$prompt_arg'"
[ -d "$dir" ] || die "-C $dir is not a directory"
[ "$(pwd -P)" = "$(cd "$dir" && pwd -P)" ] || die "not started in $dir"
# stdin must be a regular file: EOF right after the prompt (an open pipe
# would make real codex wait forever; /dev/null would be no prompt)
[ -f /dev/stdin ] || die "stdin is not a regular file"
prompt=$(cat; printf x)
prompt=${prompt%x}
[ -n "$prompt" ] || die "empty prompt on stdin"
prompt_bytes=$(printf '%s' "$prompt" | wc -c)
prompt_sha=$(printf '%s' "$prompt" | sha256sum | cut -d' ' -f1)

marker() { printf '%s\n' "$prompt" | sed -n "s/.*FAKE:$1=\([^ ]*\).*/\1/p" | head -n 1; }
case "$prompt" in *FAKE:ignore-term*) trap '' TERM INT ;; esac

echo '{"type":"thread.started","thread_id":"fake"}'
echo "fake-codex: working in $mode sandbox"
case "$prompt" in
    *FAKE:wipe*)
        # only a test's workdir: a wrong cwd must not empty another place
        case "$(pwd -P)" in
            /tmp/swarm-*/work-*) find . -mindepth 1 -delete ;;
            *) die "FAKE:wipe outside a test's workdir: $(pwd -P)" ;;
        esac ;;
esac
ledger() {
    [ -n "${FAKE_LEDGER:-}" ] && echo "$1 ${SWARM_JOB:-?} ${SWARM_TASK_ID:-?} ${SWARM_ATTEMPT:-?} ${SWARM_AGENT:-?} $$ $(date +%s%N)" >>"$FAKE_LEDGER"
    return 0
}
ledger start
# FAKE:mcp-store=TEXT / FAKE:mcp-search=QUERY / FAKE:mcp-get=NS/KEY: call
# the configured MCP server as codex would (tests/fake-mcp-client.py checks
# the configuration).
mcp_out=
if [ -n "$(marker mcp-store)$(marker mcp-search)$(marker mcp-get)" ]; then
    mcp_out=$(python3 "$(dirname "$0")/fake-mcp-client.py" "$mcp" "$(marker mcp-store)" \
              "$(marker mcp-search)" "$(marker mcp-get)") || die "MCP: $mcp_out"
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
n=$(marker events)
if [ -n "$n" ]; then
    echo '{"type":"turn.started"}'
    for i in $(seq "$n"); do
        printf '{"type":"item.completed","item":{"id":"item_%d","type":"reasoning","text":"**Looking at step %d**\\n\\nDetails."}}\n' "$i" "$i"
        printf '{"type":"item.started","item":{"id":"item_c%d","type":"command_execution","command":"/bin/bash -lc '"'"'make step%d'"'"'","aggregated_output":"","exit_code":null,"status":"in_progress"}}\n' "$i" "$i"
        sleep 0.2
        printf '{"type":"item.completed","item":{"id":"item_c%d","type":"command_execution","command":"/bin/bash -lc '"'"'make step%d'"'"'","aggregated_output":"cc -c step%d.c\\nmake: *** [step%d] Error 2\\n","exit_code":2,"status":"failed"}}\n' "$i" "$i" "$i" "$i"
        printf '{"type":"item.completed","item":{"id":"item_f%d","type":"file_change","changes":[{"path":"src/step%d.c","kind":"update"}],"status":"completed"}}\n' "$i" "$i"
        printf '{"type":"item.completed","item":{"id":"item_m%d","type":"agent_message","text":"fixed step %d"}}\n' "$i" "$i"
        sleep 0.2
    done
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
k=$(marker ratelimit)
if [ -n "$k" ] && [ "${SWARM_ATTEMPT:-1}" -le "$k" ]; then
    # what codex 0.171 prints when its own retries of a 429 ran out
    msg='exceeded retry limit, last status: 429 Too Many Requests, request id: fake-429'
    printf '{"type":"error","message":"%s"}\n{"type":"turn.failed","error":{"message":"%s"}}\n' \
        "$msg" "$msg"
    echo "ERROR: $msg" >&2
    ledger end
    exit 1
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
elif [ -n "$(marker no-last)" ]; then
    rm -f "$last"
    printf '{"type":"item.completed","item":{"id":"item_1","type":"agent_message","text":"%s"}}\n' \
        "$(marker no-last)"
elif case "$prompt" in *FAKE:silent*) true ;; *) false ;; esac; then
    rm -f "$last"
    echo "fake-codex: the model said nothing" >&2
else
    envs=
    for name in $(printf '%s\n' "$prompt" | grep -o 'FAKE:env=[A-Za-z_][A-Za-z0-9_]*' | cut -d= -f2); do
        if eval "[ -n \"\${$name+x}\" ]"; then
            envs="$envs env $name=$(eval "printf '%s' \"\$$name\"")"
        else
            envs="$envs env $name unset"
        fi
    done
    shown=$(printf '%s' "$prompt" | head -c 262144; printf x)
    shown=${shown%x}
    printf 'sandbox=%s task=%s agent=%s prompt_bytes=%s prompt_sha256=%s: done: %s%s%s\n' "$mode" \
        "${SWARM_TASK_ID:-?}" "${SWARM_AGENT:-?}" "$prompt_bytes" "$prompt_sha" "$shown" \
        "${mcp_out:+ mcp: $mcp_out}" "$envs${script_out:+ script: $script_out}" > "$last"
fi
# Usage (issue 18): FAKE:usage=IN,CACHED,OUT per turn, FAKE:turns=N turns
# FAKE:turn-sleep=S apart (usage the agent reports while it runs),
# FAKE:absurd-usage first prints usage no provider could report.
usage_line() {
    u=$(marker usage)
    in=${u%%,*}; rest=${u#*,}; cached=${rest%%,*}; out=${rest#*,}
    [ -n "$u" ] || { in=1200; cached=200; out=34; }
    printf '{"type":"turn.completed","usage":{"input_tokens":%s,"cached_input_tokens":%s,"output_tokens":%s,"reasoning_output_tokens":5}}\n' \
        "$in" "$cached" "$out"
}
case "$prompt" in *FAKE:absurd-usage*)
    echo '{"type":"turn.completed","usage":{"input_tokens":-40,"output_tokens":7}}'
    echo '{"type":"turn.completed","usage":{"input_tokens":5000000000000,"output_tokens":1}}' ;;
esac
turns=$(marker turns)
i=1
while [ "$i" -lt "${turns:-1}" ]; do
    usage_line
    ts=$(marker turn-sleep)
    sleep "${ts:-0}"
    i=$((i + 1))
done
usage_line
ledger end
code=$(marker exit)
[ -z "$code" ] && [ "$script_rc" -ne 0 ] && code=$script_rc
exit "${code:-0}"
