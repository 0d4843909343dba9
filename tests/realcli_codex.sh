#!/usr/bin/env bash
# The real codex CLI (@openai/codex from npm), end to end through the
# coordinator and agents, against tests/mock-model.py (the Responses API on
# loopback; the only stand-in is the model). codex starts `swarm mcp` as its
# MCP server from the agent's -c options; the mock model calls its tools.
#   - a worker stores a finding with memory_store as its result; a second
#     worker, after it, finds it with memory_search; tokens are recorded;
#   - with a model slug codex knows, the tools are deferred behind
#     tool_search, and a worker finds and uses them there;
#   - the model's shell call runs in codex's sandbox;
#   - a failing model call (HTTP 400) gives a failed result;
#   - a hanging model gives timed_out, and no process is left behind;
#   - prompts an option parser would take ('- [ ] item', --version, review resume fork help -h)
#     and one of 1 MiB reach the model byte for byte (stdin, not argv);
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
start_realcli_agents --codex "$CLI" --task-env CODEX_HOME

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

# For model slugs it knows, codex defers MCP tools behind its tool_search
# tool: the model sees only tool_search and must find memory_store first
# (BM25 over the tools' names and swarm mcp's descriptions). A task's
# CODEX_HOME picks a known slug for one worker.
mkdir -p "$T/codex-home-known"
sed 's/^model = .*/model = "gpt-5.5"/' "$CODEX_HOME/config.toml" >"$T/codex-home-known/config.toml"
expect 0 "$SWARM" spawn --id deferred --env "CODEX_HOME=$T/codex-home-known" \
    "TASK:deferred MOCK:mcp-store=found_through_tool_search"
expect 0 "$SWARM" wait --timeout 120 deferred
expect 0 "$SWARM" --json memory get --namespace results result-deferred
[ "$(json_get "$T/out" "d['value']")" = "found through tool search" ] \
    || fail "the deferred tool did not store: $(cat "$T/out")"
python3 - "$T/model.log" <<'PY' || fail "codex did not defer the MCP tools for a known slug"
import json, sys
bodies = [json.loads(l)["body"] for l in open(sys.argv[1])]
known = [b for b in bodies if b.get("model") == "gpt-5.5"]
assert known, "no request with the known slug"
first = known[0]
assert any(t.get("type") == "tool_search" for t in first.get("tools", [])), "no tool_search offered"
assert not any(t.get("name") == "mcp__swarm" for t in first.get("tools", [])), "tools not deferred"
found = [t for b in known for i in b.get("input", []) if i.get("type") == "tool_search_output"
         for t in i.get("tools", [])]
assert any(t.get("name") == "mcp__swarm" for t in found), "tool_search did not find mcp__swarm"
PY
ok "a known model slug: codex defers the swarm tools behind tool_search; the worker finds memory_store there and stores"

expect 0 "$SWARM" spawn --id shell --type coder "MOCK:shell=ran_in_the_sandbox"
expect 0 "$SWARM" wait --timeout 120 shell
expect 0 "$SWARM" logs shell
contains "$T/out" "ran in the sandbox"
ok "the model's shell call ran through codex's sandbox and its output came back"

# A workspace: codex edits a file in its worktree (the model's shell call,
# run by codex in its workspace-write sandbox), and the change comes home.
U="$T/user"
git init -q -b main "$U"
( cd "$U" && echo base >README && git add -A && git -c user.name=u -c user.email=u@e commit -qm base )
cd "$U" || fail "cd"
expect 0 "$SWARM" init realws --workspace .
expect 0 "$SWARM" spawn --id writer --type coder "MOCK:write=hello.txt"
expect 0 "$SWARM" wait --timeout 120 writer
expect 0 "$SWARM" diff writer
contains "$T/out" "+++ b/hello.txt"
contains "$T/out" "+written by the model"
expect 0 "$SWARM" apply
[ "$(cat "$U/hello.txt")" = "written by the model" ] || fail "the change did not come home"
cd "$T" || fail "cd"
ok "real codex edited a file in its worktree (workspace-write sandbox); swarm diff and apply brought it home"

realcli_faults "codex.*exec" "$T/work-"
realcli_pipeline
realcli_prompts review resume fork help -h
