#!/usr/bin/env bash
# The claude runner, with tests/fake-claude.sh for the model: the exact
# argv (-p, --output-format stream-json --verbose, a fresh --session-id, permissions by
# task type, --max-turns and --max-budget-usd from the task under the
# agent's ceiling, from a plan too), the JSON
# result's text as output with cost and token usage in the result,
# is_error failing a task that exited 0, SIGTERM (not SIGINT) on timeout,
# and the swarm MCP tools through --mcp-config.
. "$(dirname "$0")/lib.sh"
use_redis 19
FAKE_CLAUDE="$SWARM_SRC/tests/fake-claude.sh"
start_coordinator
expect 2 "$SWARM_BUILD/swarm-agent" -f --claude-max-budget-usd lots
contains "$T/err" "--claude-max-budget-usd wants dollars"
start_agent a1 --slots 3 --claude "$FAKE_CLAUDE" --claude-max-turns 7 --claude-max-budget-usd 1.50
wait_agents 1
expect 0 "$SWARM" init claude
expect 0 "$SWARM" spawn --id coder --runner claude --type coder "write the login handler"
expect 0 "$SWARM" spawn --id review --runner claude --type reviewer "review the login handler"
expect 0 "$SWARM" spawn --id broken --runner claude "FAKE:is_error the API said no"
expect 0 "$SWARM" spawn --id stuck --runner claude --timeout 2 "FAKE:ignore-int FAKE:sleep=60"
expect 0 "$SWARM" spawn --id frugal --runner claude --max-turns 3 --max-budget-usd 0.25 "count"
expect 0 "$SWARM" spawn --id greedy --runner claude --max-turns 50 --max-budget-usd 9 "spend"
expect 2 "$SWARM" spawn --id c --max-turns 3 "codex has no turn limit"
contains "$T/err" "max_turns and max_budget_usd are limits of the claude runner"
expect 2 "$SWARM" spawn --id c --runner claude --max-budget-usd 0.125 "x"
contains "$T/err" "--max-budget-usd wants dollars with at most two decimals"
expect 1 "$SWARM" wait --timeout 60
expect 1 "$SWARM" --json results
r() { json_get "$T/out" "[r for r in d if r['id']=='$1'][0]$2"; }
# the fake's answer: its mode and limits, then the prompt it read on stdin
said() { echo "claude done ($1) prompt_bytes=$(printf '%s' "$2" | wc -c) prompt_sha256=$(printf '%s' "$2" | sha256sum | cut -d' ' -f1): $2"; }
[ "$(r coder "['status']")" = succeeded ] || fail "coder: $(r coder "")"
[ "$(r coder "['output']")" = "$(said "acceptEdits --max-turns 7 --max-budget-usd 1.50" "write the login handler")" ] \
    || fail "coder output: $(r coder "['output']")"
[ "$(json_get "$T/out" "[(x['usage']['cost_usd'], x['usage']['input_tokens'], x['usage']['output_tokens']) for x in d if x['id']=='coder'][0]")" \
  = "(0.0123, 110, 22)" ] || fail "usage: $(r coder "")"
[ "$(r review "['output']")" = "$(said "read-only --max-turns 7 --max-budget-usd 1.50" "review the login handler")" ] \
    || fail "reviewer: $(r review "['output']")"
ok "claude -p --output-format stream-json: output from the result, cost and tokens recorded, read-only types lose write tools"
[ "$(r frugal "['output']")" = "$(said "acceptEdits --max-turns 3 --max-budget-usd 0.25" count)" ] \
    || fail "frugal: $(r frugal "")"
[ "$(r greedy "['output']")" = "$(said "acceptEdits --max-turns 7 --max-budget-usd 1.50" spend)" ] \
    || fail "greedy: $(r greedy "")"
ok "a task's --max-turns and --max-budget-usd reach claude, lowered to the agent's ceiling"
[ "$(json_get "$T/out" "[(x['status'], x['exit_code']) for x in d if x['id']=='broken'][0]")" \
  = "('failed', 0)" ] || fail "is_error: $(r broken "")"
r broken "['error']" | grep -q "is_error" || fail "broken: $(r broken "")"
ok "is_error fails the task although claude exited 0"
[ "$(json_get "$T/out" "[(x['status'], x['signal']) for x in d if x['id']=='stuck'][0]")" = "('timed_out', 'TERM')" ] \
    || fail "stuck: $(r stuck "")"
ok "a claude past its timeout is stopped with SIGTERM (it ignored SIGINT)"

expect 0 "$SWARM" init claude-mcp
expect 0 "$SWARM" spawn --id scout --runner claude "FAKE:mcp-store=csrf_token_in_header look"
expect 0 "$SWARM" spawn --id follow --runner claude --after scout "FAKE:mcp-search=csrf_token_in_header"
expect 0 "$SWARM" wait --timeout 60
expect 0 "$SWARM" logs follow
contains "$T/out" "mcp: csrf_token_in_header"
expect 0 "$SWARM" --json memory get --namespace results result-scout
[ "$(json_get "$T/out" "d['value']")" = csrf_token_in_header ] || fail "scout's result: $(cat "$T/out")"
ok "claude workers reach swarm mcp through --mcp-config: one stores, the next finds"

cat > "$T/limits.yaml" <<'EOF'
name: limits
stages:
  - {name: plan, runner: claude, type: architect, task: sketch it, max_turns: 2, max_budget_usd: 0.1}
  - {name: build, runner: claude, task: build it}
EOF
expect 0 "$SWARM" run "$T/limits.yaml" --job limits --wait --timeout 60
expect 0 "$SWARM" --json results --job limits
[ "$(json_get "$T/out" "[x['output'].split(')')[0] for x in d if x['id']=='plan'][0]")" \
  = "claude done (read-only --max-turns 2 --max-budget-usd 0.10" ] || fail "plan stage: $(cat "$T/out")"
[ "$(json_get "$T/out" "[x['output'].split(')')[0] for x in d if x['id']=='build'][0]")" \
  = "claude done (acceptEdits --max-turns 7 --max-budget-usd 1.50" ] || fail "build stage: $(cat "$T/out")"
ok "a plan's max_turns and max_budget_usd reach claude per stage; a stage without them gets the agent's"
