#!/usr/bin/env bash
# The real codex CLI (@openai/codex from npm), end to end through the
# coordinator and agents, against tests/mock-model.py (the Responses API on
# loopback; the only stand-in is the model). codex starts `swarm mcp` as its
# MCP server from the agent's -c options; the mock model calls its tools.
#   - a worker stores a finding with memory_store as its result; a second
#     worker, after it, finds it with memory_search;
#   - a failing model call (HTTP 500) gives a failed result;
#   - a hanging model gives timed_out, and no process is left behind.
# npm installs codex into a cache directory ($SWARM_REALCLI_CACHE, default
# ~/.cache/swarm-realcli); exit 77 (skip) only when npm cannot reach its
# registry.
. "$(dirname "$0")/lib.sh"
use_redis 31
CACHE=${SWARM_REALCLI_CACHE:-$HOME/.cache/swarm-realcli}
CODEX="$CACHE/node_modules/.bin/codex"
if [ ! -x "$CODEX" ]; then
    command -v npm >/dev/null || { echo "SKIP: no npm on this machine"; exit 77; }
    mkdir -p "$CACHE"
    if ! timeout 300 npm install --no-audit --no-fund --prefix "$CACHE" @openai/codex >"$T/npm.log" 2>&1; then
        if grep -qiE "ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|network" "$T/npm.log"; then
            echo "SKIP: npm cannot reach its registry:"; tail -3 "$T/npm.log"; exit 77
        fi
        cat "$T/npm.log"; fail "npm install @openai/codex failed"
    fi
fi
"$CODEX" --version >"$T/version" 2>&1 || fail "codex does not run: $(cat "$T/version")"
ok "real codex: $(cat "$T/version")"

python3 "$SWARM_SRC/tests/mock-model.py" "$T/model.port" "$T/model.log" 2>"$T/model.err" &
PIDS+=("$!")
for _ in $(seq 100); do [ -s "$T/model.port" ] && break; sleep 0.05; done
MODEL_PORT=$(cat "$T/model.port")
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

start_coordinator
for a in a1 a2; do
    mkdir -p "$T/work-$a"
    "$SWARM_BUILD/swarm-agent" -f --coordinator "$COORD_LISTEN" --id "$a" --slots 2 \
        --workdir "$T/work-$a" --codex "$CODEX" --kill-grace-ms 1000 >>"$T/agent-$a.log" 2>&1 &
    PIDS+=("$!")
done
wait_agents 2

expect 0 "$SWARM" init realcodex
expect 0 "$SWARM" spawn --id scout --type coder "TASK:scout MOCK:mcp-store=sessions_live_15_minutes"
expect 0 "$SWARM" spawn --id builder --type reviewer --after scout "MOCK:mcp-search=sessions"
expect 0 "$SWARM" wait --timeout 120
expect 0 "$SWARM" --json memory get --namespace results result-scout
[ "$(json_get "$T/out" "d['value']")" = "sessions live 15 minutes" ] \
    || fail "scout's own result: $(cat "$T/out")"
expect 0 "$SWARM" logs builder
contains "$T/out" "sessions live 15 minutes"
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

expect 0 "$SWARM" init realcodex-faults
expect 0 "$SWARM" spawn --id refused "MOCK:http-error"
expect 0 "$SWARM" spawn --id hung --timeout 6 "MOCK:hang"
expect 1 "$SWARM" wait --timeout 120
[ "$(task_field refused status)" = failed ] || fail "http error: $(task_field refused status)"
[ "$(task_field hung status)" = timed_out ] || fail "hang: $(task_field hung status)"
sleep 1
pgrep -f "codex.*exec" -a | grep -F "$T/work-" && fail "a codex process outlived its task"
ok "a failing model call fails the task; a hanging model times out and leaves no process"

# The user-authentication example as a pipeline, with real workers: each
# stage searches the memory, stores its own result-<stage> through the
# tools, and a later stage's result names what the earlier ones found.
plan="$SWARM_SRC/examples/user-auth-pipeline.yaml"
if [ "${RUNNER:-codex}" = claude ]; then
    sed 's/^\(    type: .*\)$/\1\n    runner: claude/' "$plan" >"$T/pipeline.yaml"
    plan="$T/pipeline.yaml"
fi
expect 0 "$SWARM" run "$plan" --wait
for stage in architect coder tester reviewer; do
    expect 0 "$SWARM" --json memory get --namespace results "result-$stage"
    json_get "$T/out" "d['value']" | grep -q "^finding of $stage" \
        || fail "result-$stage is not the worker's own: $(cat "$T/out")"
done
expect 0 "$SWARM" --json memory get --namespace results result-coder
json_get "$T/out" "d['value']" | grep -q "finding of architect" \
    || fail "the coder did not find the architect's result: $(cat "$T/out")"
expect 0 "$SWARM" --json memory get --namespace results result-reviewer
json_get "$T/out" "d['value']" | grep -q "finding of coder" \
    || fail "the reviewer did not find the coder's result: $(cat "$T/out")"
ok "examples/user-auth-pipeline.yaml: every stage stored its own result through the tools; later stages found the earlier ones"
