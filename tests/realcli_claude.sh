#!/usr/bin/env bash
# The real claude CLI (@anthropic-ai/claude-code from npm), end to end
# through the coordinator and agents, against tests/mock-model.py (the
# Messages API on loopback via ANTHROPIC_BASE_URL; the only stand-in is the
# model). claude starts `swarm mcp` from the agent's --mcp-config; the mock
# model calls its tools (mcp__swarm__memory_store, ...).
#   - a worker stores a finding with memory_store as its result; a second
#     worker, after it, finds it with memory_search;
#   - a failing model call (HTTP 400) gives a failed result (claude exits 0
#     with is_error);
#   - a hanging model gives timed_out, and no process is left behind.
# npm installs claude into a cache directory ($SWARM_REALCLI_CACHE, default
# ~/.cache/swarm-realcli); exit 77 (skip) only when npm cannot reach its
# registry.
. "$(dirname "$0")/lib.sh"
use_redis 32
RUNNER=claude
CACHE=${SWARM_REALCLI_CACHE:-$HOME/.cache/swarm-realcli}
CLAUDE="$CACHE/node_modules/.bin/claude"
if [ ! -x "$CLAUDE" ]; then
    command -v npm >/dev/null || { echo "SKIP: no npm on this machine"; exit 77; }
    mkdir -p "$CACHE"
    if ! timeout 300 npm install --no-audit --no-fund --prefix "$CACHE" @anthropic-ai/claude-code >"$T/npm.log" 2>&1; then
        if grep -qiE "ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|network" "$T/npm.log"; then
            echo "SKIP: npm cannot reach its registry:"; tail -3 "$T/npm.log"; exit 77
        fi
        cat "$T/npm.log"; fail "npm install @anthropic-ai/claude-code failed"
    fi
fi
"$CLAUDE" --version >"$T/version" 2>&1 || fail "claude does not run: $(cat "$T/version")"
ok "real claude: $(cat "$T/version")"

python3 "$SWARM_SRC/tests/mock-model.py" "$T/model.port" "$T/model.log" 2>"$T/model.err" &
PIDS+=("$!")
for _ in $(seq 100); do [ -s "$T/model.port" ] && break; sleep 0.05; done
MODEL_PORT=$(cat "$T/model.port")
# How a user points claude at a provider: ANTHROPIC_BASE_URL and a key (the
# agent passes ANTHROPIC_* and CLAUDE_* to its tasks). claude keeps its
# state under HOME: a home of the test's own.
export ANTHROPIC_BASE_URL="http://127.0.0.1:$MODEL_PORT" ANTHROPIC_API_KEY=mock-key \
       CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 HOME="$T/home"
mkdir -p "$HOME"

start_coordinator
for a in a1 a2; do
    mkdir -p "$T/work-$a"
    "$SWARM_BUILD/swarm-agent" -f --coordinator "$COORD_LISTEN" --id "$a" --slots 2 \
        --workdir "$T/work-$a" --claude "$CLAUDE" --kill-grace-ms 1000 --claude-max-turns 8 >>"$T/agent-$a.log" 2>&1 &
    PIDS+=("$!")
done
wait_agents 2

expect 0 "$SWARM" init realclaude
expect 0 "$SWARM" spawn --id scout --type coder --runner claude "TASK:scout MOCK:mcp-store=sessions_live_15_minutes"
expect 0 "$SWARM" spawn --id builder --type reviewer --after scout --runner claude "MOCK:mcp-search=sessions"
expect 0 "$SWARM" wait --timeout 120
expect 0 "$SWARM" --json memory get --namespace results result-scout
[ "$(json_get "$T/out" "d['value']")" = "sessions live 15 minutes" ] \
    || fail "scout's own result: $(cat "$T/out")"
expect 0 "$SWARM" logs builder
contains "$T/out" "sessions live 15 minutes"
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

expect 0 "$SWARM" init realclaude-faults
expect 0 "$SWARM" spawn --id refused --runner claude "MOCK:http-error"
expect 0 "$SWARM" spawn --id hung --runner claude --timeout 6 "MOCK:hang"
expect 1 "$SWARM" wait --timeout 120
[ "$(task_field refused status)" = failed ] || fail "http error: $(task_field refused status)"
[ "$(task_field hung status)" = timed_out ] || fail "hang: $(task_field hung status)"
sleep 1
pgrep -f "claude -p" -a | grep -F "MOCK:hang" && fail "a claude process outlived its task"
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
