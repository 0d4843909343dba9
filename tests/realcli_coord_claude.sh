#!/usr/bin/env bash
# A real claude session as the coordinator (issue 19, section 3): `claude
# mcp add` registers `swarm mcp --control` as README says, and `claude -p`
# runs against tests/mock-model.py acting as a coordinating model: it calls
# swarm_init, spawns two claude workers one after the other, waits, reads
# the results; `swarm results` then shows the job. Shared steps:
# tests/realcli-lib.sh.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/realcli-lib.sh"
use_redis 49
RUNNER=claude
realcli_install @anthropic-ai/claude-code
start_mock_model
export ANTHROPIC_BASE_URL="http://127.0.0.1:$MODEL_PORT" ANTHROPIC_API_KEY=mock-key \
       CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 HOME="$T/home"
mkdir -p "$HOME" "$T/coord"
start_realcli_agents --claude "$CLI" --claude-max-turns 8
(cd "$T/coord" && "$CLI" mcp add --scope user swarm --env "SWARM_COORDINATOR=$SWARM_COORDINATOR" \
    --env "SWARM_REDIS=$SWARM_REDIS" -- "$SWARM" mcp --control) >"$T/mcp-add.out" 2>&1 \
    || { cat "$T/mcp-add.out"; fail "claude mcp add failed"; }
(cd "$T/coord" && timeout 300 "$CLI" -p \
    "MOCK:coordinate=coord-claude MOCK:runner=claude Split the login API between two workers and report." \
    --allowedTools mcp__swarm --output-format json) </dev/null >"$T/coord.out" 2>"$T/coord.err" \
    || { tail -30 "$T/coord.err"; cat "$T/coord.out"; fail "claude -p exited $?"; }
[ "$(json_get "$T/coord.out" "d['is_error']")" = False ] || fail "claude: $(cat "$T/coord.out")"
json_get "$T/coord.out" "d['result']" | grep -q "coordinated coord-claude" || fail "claude: $(cat "$T/coord.out")"
realcli_check_coordination coord-claude
ok "a claude coordinator session (claude mcp add): swarm_init, two workers one after the other, swarm_wait, swarm_results through swarm mcp --control; swarm results shows the job"
