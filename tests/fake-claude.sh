#!/bin/sh
# A stand-in for `claude -p` (it replaces the paid model, nothing of
# swarm). It reads its command line as Claude Code 2.1's commander.js does:
#   claude [options] [command] [prompt]
#   - an argument starting with '-' is an option: an unknown one is an error
#     (exit 1, "error: unknown option '...'");
#   - options taking <values...> (--allowedTools, --disallowedTools,
#     --mcp-config, --add-dir, --betas, --tools) take every following
#     argument up to the next one that starts with '-';
#   - -v/--version prints a version and exits 0, -h/--help prints help;
#   - a first bare word that names a command (update, doctor, mcp, ...) runs
#     that command instead of a prompt;
#   - with -p and no prompt argument, the prompt is read from stdin.
# On top of claude, it insists on swarm's contract:
#   claude -p --output-format stream-json --verbose --session-id UUID
#          [--mcp-config JSON --allowedTools mcp__swarm]
#          (--disallowedTools Bash Edit Write NotebookEdit
#           | --permission-mode acceptEdits) [--max-turns N] [--max-budget-usd X]
# with the prompt on stdin, a regular file, and no prompt text in argv, and
# answers with claude's stream of events (system init, assistant messages,
# tool uses and their results) and, last, its JSON result document (result,
# is_error, total_cost_usd, usage), one JSON per line as claude 2.1 prints
# them. The result names the permission mode and the
# limits it was given, the prompt's size and SHA-256, and the prompt (its
# first 256 Ki characters). Markers in the
# prompt:
#   FAKE:is_error       is_error true, and still exit 0 (as claude does)
#   FAKE:sleep=S        sleep S seconds first
#   FAKE:ignore-int     ignore SIGINT (swarm must stop claude with SIGTERM)
#   FAKE:mcp-store=TEXT, FAKE:mcp-search=Q   as in fake-codex.sh, through
#                       the --mcp-config server
#   FAKE:no-result      print no result document (exit 0)
#   FAKE:chatty=N       N rounds of a Bash tool use, its result and a message,
#                       0.3 s apart
#   FAKE:cost=USD       total_cost_usd of the result (default 0.0123)
#   FAKE:ratelimit=K    on attempts 1..K, end as claude does when the API keeps
#                       answering HTTP 429: is_error, api_error_status 429,
#                       "API Error: 429 ..." (exit 1)
# FAKE_LEDGER=FILE appends "start|end JOB ID ATTEMPT AGENT PID NS" as
# fake-codex.sh does.
set -u
die() { echo "fake-claude: $*" >&2; exit 64; }
unknown() { echo "error: unknown option '$1'" >&2; exit 1; }
print= format= verbose= session= mcp= allowed= mode= limits= prompt_arg= have_prompt=
while [ "$#" -gt 0 ]; do
    case "$1" in
        -v|--version) echo "2.1.197 (Claude Code, fake)"; exit 0 ;;
        -h|--help) echo "Usage: claude [options] [command] [prompt] (fake)"; exit 0 ;;
        -p|--print) print=1 ;;
        --output-format) [ "$#" -ge 2 ] || die "--output-format wants a value"; format=$2; shift ;;
        --session-id) [ "$#" -ge 2 ] || die "--session-id wants a value"; session=$2; shift ;;
        --permission-mode) [ "$#" -ge 2 ] || die "--permission-mode wants a value"; mode=$2; shift ;;
        --max-turns|--max-budget-usd)
            [ "$#" -ge 2 ] || die "$1 wants a value"; limits="$limits $1 $2"; shift ;;
        --model|--input-format|--settings|--system-prompt|--append-system-prompt|--json-schema|\
        --fallback-model|--setting-sources|--agent|--agents|--effort|-n|--name|--debug-file)
            [ "$#" -ge 2 ] || die "$1 wants a value"; shift ;;
        --verbose) verbose=1 ;;
        --strict-mcp-config|--no-session-persistence|--bare|-c|--continue|\
        --dangerously-skip-permissions|--include-partial-messages) ;;
        --mcp-config|--allowedTools|--allowed-tools|--disallowedTools|--disallowed-tools|\
        --add-dir|--betas|--tools)
            opt=$1 vals=
            while [ "$#" -ge 2 ]; do
                case "$2" in -*) break ;; esac
                vals="$vals${vals:+ }$2"
                shift
            done
            [ -n "$vals" ] || die "$opt wants values"
            case "$opt" in
                --mcp-config) mcp=$vals ;;
                --allowedTools|--allowed-tools) allowed=$vals ;;
                --disallowedTools|--disallowed-tools)
                    [ "$vals" = "Bash Edit Write NotebookEdit" ] \
                        || die "read-only must disallow Bash Edit Write NotebookEdit, got '$vals'"
                    mode=read-only ;;
            esac ;;
        --) shift; [ "$#" -ge 1 ] && { prompt_arg=$1; have_prompt=1; }; break ;;
        -*) unknown "$1" ;;
        *)
            if [ -z "$have_prompt" ]; then
                case "$1" in
                    agents|auth|auto-mode|doctor|gateway|install|mcp|plugin|plugins|project|\
                    setup-token|ultrareview|update|upgrade)
                        echo "fake-claude: ran the '$1' command" >&2; exit 0 ;;
                esac
                prompt_arg=$1; have_prompt=1
            else
                echo "error: too many arguments. Expected 1 argument but got 2." >&2; exit 1
            fi ;;
    esac
    shift
done
# swarm's contract
[ -n "$print" ] || die "no -p"
[ "$format" = stream-json ] || die "want --output-format stream-json, got '$format'"
# as claude 2.1 says it
[ -n "$verbose" ] || { echo "Error: When using --print, --output-format=stream-json requires --verbose" >&2; exit 1; }
printf '%s\n' "$session" | grep -Eq '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$' \
    || die "--session-id $session is not a version 4 UUID"
if [ -n "$mcp" ]; then
    [ "$allowed" = mcp__swarm ] || die "the swarm MCP tools are not allowed"
fi
[ -n "$mode" ] || die "no permission mode"
[ -z "$have_prompt" ] || die "the prompt must come on stdin, not in argv: got '$prompt_arg'"
[ -f /dev/stdin ] || die "stdin is not a regular file"
prompt=$(cat; printf x)
prompt=${prompt%x}
[ -n "$prompt" ] || die "empty prompt on stdin"
prompt_bytes=$(printf '%s' "$prompt" | wc -c)
prompt_sha=$(printf '%s' "$prompt" | sha256sum | cut -d' ' -f1)
marker() { printf '%s\n' "$prompt" | sed -n "s/.*FAKE:$1=\([^ ]*\).*/\1/p" | head -n 1; }
case "$prompt" in *FAKE:ignore-int*) trap '' INT ;; esac
printf '{"type":"system","subtype":"init","cwd":"%s","session_id":"%s","tools":["Task","Bash","Edit","Read","Write"],"mcp_servers":[],"model":"fake-claude","permissionMode":"%s","apiKeySource":"none"}\n' \
    "$(pwd)" "$session" "$mode"
n=$(marker chatty)
if [ -n "$n" ]; then
    for i in $(seq "$n"); do
        printf '{"type":"assistant","message":{"id":"msg_%d","type":"message","role":"assistant","model":"fake-claude","content":[{"type":"tool_use","id":"toolu_%d","name":"Bash","input":{"command":"make step%d"}}],"stop_reason":null,"usage":{"input_tokens":42,"output_tokens":1}},"parent_tool_use_id":null,"session_id":"%s"}\n' "$i" "$i" "$i" "$session"
        printf '{"type":"user","message":{"role":"user","content":[{"tool_use_id":"toolu_%d","type":"tool_result","content":"built step%d","is_error":false}]},"parent_tool_use_id":null,"session_id":"%s"}\n' "$i" "$i" "$session"
        printf '{"type":"assistant","message":{"id":"msg_t%d","type":"message","role":"assistant","model":"fake-claude","content":[{"type":"text","text":"step %d built"}],"stop_reason":null},"parent_tool_use_id":null,"session_id":"%s"}\n' "$i" "$i" "$session"
        sleep 0.3
    done
fi
s=$(marker sleep)
[ -n "$s" ] && sleep "$s"
found=
if [ -n "$(marker mcp-store)$(marker mcp-search)" ]; then
    [ -n "$mcp" ] || die "no --mcp-config"
    found=$(python3 "$(dirname "$0")/fake-mcp-client.py" "$mcp" "$(marker mcp-store)" \
            "$(marker mcp-search)") || die "MCP: $found"
fi
err=false
case "$prompt" in *FAKE:is_error*) err=true ;; esac
case "$prompt" in *FAKE:no-result*) echo "fake-claude: no result" >&2; exit 0 ;; esac
ledger() {
    [ -n "${FAKE_LEDGER:-}" ] && echo "$1 ${SWARM_JOB:-?} ${SWARM_TASK_ID:-?} ${SWARM_ATTEMPT:-?} ${SWARM_AGENT:-?} $$ $(date +%s%N)" >>"$FAKE_LEDGER"
    return 0
}
k=$(printf '%s\n' "$prompt" | sed -n 's/.*FAKE:ratelimit=\([0-9]*\).*/\1/p' | head -n 1)
if [ -n "$k" ] && [ "${SWARM_ATTEMPT:-1}" -le "$k" ]; then
    ledger start
    printf '%s\n' '{"type":"result","subtype":"success","is_error":true,"api_error_status":429,"duration_ms":2210,"num_turns":1,"result":"API Error: 429 {\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"Number of request tokens has exceeded your per-minute rate limit\"}}","session_id":"'"$session"'","total_cost_usd":0,"usage":{"input_tokens":0,"output_tokens":0}}'
    ledger end
    exit 1
fi
script='
import json, sys
mode, limits, session, err, found, nbytes, sha, cost = sys.argv[1:]
cost = float(cost)        # FAKE:cost=USD (default 0.0123); FAKE:cost=1e300 is absurd
prompt = sys.stdin.buffer.read().decode("utf-8", "replace")[:262144]   # as Node reads stdin
text = f"claude done ({mode}{limits}) prompt_bytes={nbytes} prompt_sha256={sha}: {prompt}" + (f" mcp: {found}" if found else "")
print(json.dumps({"type": "assistant", "message": {"id": "msg_final", "type": "message", "role": "assistant",
                  "model": "fake-claude", "content": [{"type": "text", "text": text}]},
                  "parent_tool_use_id": None, "session_id": session}, separators=(",", ":")))
print(json.dumps({"type": "result", "subtype": "error_during_execution" if err == "true" else "success",
                  "is_error": err == "true", "duration_ms": 12, "num_turns": 3, "result": text,
                  "session_id": session, "total_cost_usd": cost,
                  "usage": {"input_tokens": 110, "output_tokens": 22, "cache_read_input_tokens": 5}},
                 separators=(",", ":")))
'
cost=$(marker cost)
printf '%s' "$prompt" | python3 -c "$script" "$mode" "$limits" "$session" "$err" "$found" \
    "$prompt_bytes" "$prompt_sha" "${cost:-0.0123}"
