#!/usr/bin/env bash
# The real claude CLI (@anthropic-ai/claude-code from npm), end to end
# through the coordinator and agents, against tests/mock-model.py (the
# Messages API on loopback via ANTHROPIC_BASE_URL; the only stand-in is the
# model). claude starts `swarm mcp` from the agent's --mcp-config; the mock
# model calls its tools (mcp__swarm__memory_store, ...).
#   - a worker stores a finding with memory_store as its result; a second
#     worker, after it, finds it with memory_search; cost and tokens are
#     recorded;
#   - a failing model call (HTTP 400) gives a failed result (claude exits 0
#     with is_error);
#   - a hanging model gives timed_out, and no process is left behind;
#   - prompts an option parser would take ('- [ ] item', --version, update doctor mcp -p)
#     and one of 1 MiB reach the model byte for byte (stdin, not argv);
#   - the user-auth pipeline example runs with claude workers.
# Shared steps: tests/realcli-lib.sh.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/realcli-lib.sh"
use_redis 32
RUNNER=claude
realcli_install @anthropic-ai/claude-code
start_mock_model
# How a user points claude at a provider: ANTHROPIC_BASE_URL and a key (the
# agent passes ANTHROPIC_* and CLAUDE_* to its tasks). claude keeps its
# state under HOME: a home of the test's own.
export ANTHROPIC_BASE_URL="http://127.0.0.1:$MODEL_PORT" ANTHROPIC_API_KEY=mock-key \
       CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 HOME="$T/home"
mkdir -p "$HOME"
start_realcli_agents --claude "$CLI" --claude-max-turns 8

realcli_memory_tools
python3 - "$T/model.log" <<'PY' || fail "the model never saw the MCP tools"
import json, sys
bodies = [json.loads(l)["body"] for l in open(sys.argv[1])]
assert any(t.get("name") == "mcp__swarm__memory_store" for b in bodies for t in b.get("tools", [])), \
    "no mcp__swarm__memory_store"
PY
expect 0 "$SWARM" --json results
[ "$(json_get "$T/out" "[x['usage']['cost_usd'] > 0 and x['usage']['input_tokens'] > 0 for x in d if x['id']=='scout'][0]")" = True ] \
    || fail "no usage: $(cat "$T/out")"
ok "claude workers: one stored its finding through swarm mcp, the next (read-only) found it; cost and tokens recorded"

realcli_faults "claude -p" "MOCK:hang"
realcli_pipeline
realcli_prompts update doctor mcp -p
