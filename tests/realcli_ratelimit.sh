#!/usr/bin/env bash
# The real codex and claude CLIs (from npm) against tests/mock-model.py
# answering HTTP 429 once (issue 18 §4), through the coordinator and agents
# with --limit codex=2 --limit claude=2. The CLIs' own retries are off
# (codex request_max_retries = 0, CLAUDE_CODE_MAX_RETRIES=0), so the 429
# ends the run as a user's would end once the CLI gave up:
#   - the agent recognises the CLI's rate-limit error (codex's error events,
#     claude's api_error_status 429) and says DONE throttled;
#   - the task is queued again without using an attempt and succeeds: status
#     succeeded, attempts_used 1, throttled 1 (results --json);
#   - each runner's effective limit was halved (2 -> 1), swarm status says so.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/realcli-lib.sh"
use_redis 116
RUNNER=codex
realcli_install @openai/codex
CODEX_CLI=$CLI
RUNNER=claude
realcli_install @anthropic-ai/claude-code
CLAUDE_CLI=$CLI
start_mock_model
export CODEX_HOME="$T/codex-home" HOME="$T/home"
mkdir -p "$CODEX_HOME" "$HOME"
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
export ANTHROPIC_BASE_URL="http://127.0.0.1:$MODEL_PORT" ANTHROPIC_API_KEY=mock-key \
       CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 CLAUDE_CODE_MAX_RETRIES=0
start_coordinator --limit codex=2 --limit claude=2
for a in a1 a2; do
    mkdir -p "$T/work-$a"
    "$SWARM_BUILD/swarm-agent" -f --coordinator "$COORD_LISTEN" --id "$a" --slots 2 \
        --workdir "$T/work-$a" --state-dir "$T/state-$a" --kill-grace-ms 1000 \
        --codex "$CODEX_CLI" --task-env CODEX_HOME --claude "$CLAUDE_CLI" --claude-max-turns 4 \
        >>"$T/agent-$a.log" 2>&1 &
    PIDS+=("$!")
done
wait_agents 2

expect 0 "$SWARM" init realrl
expect 0 "$SWARM" spawn --id cx --runner codex "MOCK:ratelimit=1:cx MOCK:answer=codex_fine"
expect 0 "$SWARM" spawn --id cl --runner claude "MOCK:ratelimit=1:cl MOCK:answer=claude_fine"
expect 0 "$SWARM" wait --timeout 180
expect 0 "$SWARM" --json results
for id in cx cl; do
    [ "$(json_get "$T/out" "[(x['status'], x['attempts_used'], x['throttled']) for x in d if x['id']=='$id'][0]")" \
        = "('succeeded', 1, 1)" ] || fail "$id: $(json_get "$T/out" "[x for x in d if x['id']=='$id'][0]")"
done
python3 - "$T/model.log" <<'PY' || fail "the mock did not answer 429 to both"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
for tag in ("1:cx", "1:cl"):
    n = sum(1 for l in lines if "MOCK:ratelimit=" + tag in json.dumps(l["body"]))
    assert n >= 2, f"{tag}: {n} requests"
PY
expect 0 "$SWARM" --json status
[ "$(json_get "$T/out" "sorted((l['name'], l['effective'], l['limit'], l['throttled']) for l in d['limits'])")" \
    = "[('claude', 1, 2, 1), ('codex', 1, 2, 1)]" ] || fail "limits: $(json_get "$T/out" "d['limits']")"
ok "real codex and claude rate-limited once (HTTP 429): requeued without an attempt, succeeded, limits halved"
