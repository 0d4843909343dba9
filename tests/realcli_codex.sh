#!/usr/bin/env bash
# The real codex CLI (@openai/codex from npm), end to end through the
# coordinator and agents, against tests/mock-model.py (the Responses API on
# loopback; the only stand-in is the model). codex starts `swarm mcp` as its
# MCP server from the agent's -c options; the mock model calls its tools.
#   - a worker stores a finding with memory_store as its result; a second
#     worker, after it, finds it with memory_search; tokens are recorded;
#   - the model's shell call runs in codex's sandbox;
#   - a failing model call (HTTP 400) gives a failed result;
#   - a hanging model gives timed_out, and no process is left behind;
#   - the user-auth pipeline example runs with codex workers.
# Shared steps: tests/realcli-lib.sh.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/realcli-lib.sh"
use_redis 31
RUNNER=codex
realcli_install @openai/codex
start_mock_model
# How a user points codex at a provider: CODEX_HOME/config.toml (the agent
# passes CODEX_* to its tasks).
export CODEX_HOME="$T/codex-home"
mkdir -p "$CODEX_HOME"
cat >"$CODEX_HOME/config.toml" <<TOML
model = "mock-model"
model_provider = "mock"
[model_providers.mock]
name = "mock"
base_url = "http://127.0.0.1:$MODEL_PORT/v1"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
TOML
start_realcli_agents --codex "$CLI"

realcli_memory_tools
python3 - "$T/model.log" <<'PY' || fail "the model never saw the MCP tools"
import json, sys
bodies = [json.loads(l)["body"] for l in open(sys.argv[1])]
assert any(t.get("name") == "mcp__swarm" and any(s["name"] == "memory_store" for s in t.get("tools", []))
           for b in bodies for t in b.get("tools", [])), "no mcp__swarm namespace"
PY
expect 0 "$SWARM" --json results
[ "$(json_get "$T/out" "[(x['usage']['input_tokens'] > 0, x['usage']['num_turns']) for x in d if x['id']=='builder'][0]")" = "(True, 1)" ] \
    || fail "no usage from codex --json: $(cat "$T/out")"
ok "codex workers: one stored its finding through swarm mcp (read-only and workspace-write), the next found it; tokens recorded"

expect 0 "$SWARM" spawn --id shell --type coder "MOCK:shell=ran_in_the_sandbox"
expect 0 "$SWARM" wait --timeout 120 shell
expect 0 "$SWARM" logs shell
contains "$T/out" "ran in the sandbox"
ok "the model's shell call ran through codex's sandbox and its output came back"

realcli_faults "codex.*exec" "$T/work-"
realcli_pipeline
