#!/bin/sh
# A stand-in for `claude -p` (it replaces the paid model, nothing of
# swarm). It insists on the argv swarm must use,
#   claude -p PROMPT --output-format json --session-id UUID
#          [--mcp-config JSON --allowedTools mcp__swarm]
#          (--disallowedTools Bash Edit Write NotebookEdit
#           | --permission-mode acceptEdits) [--max-turns N] [--max-budget-usd X]
# and on stdin being closed, and answers with claude's JSON result document
# (result, is_error, total_cost_usd, usage). The result names the
# permission mode and the limits it was given. Markers in the prompt:
#   FAKE:is_error       is_error true, and still exit 0 (as claude does)
#   FAKE:sleep=S        sleep S seconds first
#   FAKE:ignore-int     ignore SIGINT (swarm must stop claude with SIGTERM)
#   FAKE:mcp-store=TEXT, FAKE:mcp-search=Q   as in fake-codex.sh, through
#                       the --mcp-config server
set -u
die() { echo "fake-claude: $*" >&2; exit 64; }
[ "${1:-}" = -p ] || die "argv[1] must be -p"
prompt=${2:-}
[ "${3:-}" = --output-format ] && [ "${4:-}" = json ] || die "want --output-format json"
[ "${5:-}" = --session-id ] || die "want --session-id"
session=${6:-}
printf '%s\n' "$session" | grep -Eq '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$' \
    || die "--session-id $session is not a version 4 UUID"
shift 6
mcp= mode= limits=
while [ "$#" -gt 0 ]; do
    case "$1" in
        --mcp-config) mcp=$2; [ "${3:-}" = --allowedTools ] && [ "${4:-}" = mcp__swarm ] \
                          || die "the swarm MCP tools are not allowed"; shift 4 ;;
        --disallowedTools)
            [ "${2:-} ${3:-} ${4:-} ${5:-}" = "Bash Edit Write NotebookEdit" ] \
                || die "read-only must disallow Bash Edit Write NotebookEdit"
            mode=read-only; shift 5 ;;
        --permission-mode) mode=$2; shift 2 ;;
        --max-turns|--max-budget-usd) limits="$limits $1 $2"; shift 2 ;;
        *) die "unexpected argument $1" ;;
    esac
done
[ -n "$mode" ] || die "no permission mode"
if ! IFS= read -r _ignored; then :; fi     # stdin must be at EOF
marker() { printf '%s\n' "$prompt" | sed -n "s/.*FAKE:$1=\([^ ]*\).*/\1/p" | head -n 1; }
case "$prompt" in *FAKE:ignore-int*) trap '' INT ;; esac
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
python3 - "$prompt" "$mode" "$limits" "$session" "$err" "$found" <<'PY'
import json, sys
prompt, mode, limits, session, err, found = sys.argv[1:]
text = f"claude done ({mode}{limits}): {prompt}" + (f" mcp: {found}" if found else "")
print(json.dumps({"type": "result", "subtype": "error_during_execution" if err == "true" else "success",
                  "is_error": err == "true", "duration_ms": 12, "num_turns": 3, "result": text,
                  "session_id": session, "total_cost_usd": 0.0123,
                  "usage": {"input_tokens": 110, "output_tokens": 22, "cache_read_input_tokens": 5}}))
PY
