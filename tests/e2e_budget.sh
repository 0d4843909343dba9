#!/usr/bin/env bash
# Usage, cost and job budgets (issue 18), through the daemons as a user
# drives them: the agent reads codex's and claude's usage from their
# output as it comes and reports it (USAGE); the coordinator prices codex
# tokens from its config (price.MODEL), counts every attempt once in Redis
# with the task, and stops a job at its cap. The stand-ins: fake-claude.sh
# (FAKE:cost=USD) and fake-codex.sh (FAKE:usage=IN,CACHED,OUT, FAKE:turns).
. "$(dirname "$0")/lib.sh"
use_redis 110
FAKE_CLAUDE="$SWARM_SRC/tests/fake-claude.sh"

# --- bad input: prices and caps ------------------------------------------------
printf '# prices\nprice.gpt-test = 1.25, 0.125\n' > "$T/bad.conf"
expect 2 "$SWARM_BUILD/swarm-coordinator" -f -c "$T/bad.conf"
contains "$T/err" "bad.conf:2: --price: price 'gpt-test=1.25, 0.125': expected three prices"
expect 2 "$SWARM_BUILD/swarm-coordinator" -f --price "gpt-test=nan,1,1"
contains "$T/err" "expected three prices"
printf 'price.gpt-test = 1.25, 0.125, 10\nprice.claude-x = 3, 0.3, 15\n' > "$T/coord.conf"

start_coordinator -c "$T/coord.conf"
for bad in -1 nan inf 1e9 0 "" 1000000.5 0.0000001 '$' 12abc; do
    expect 2 "$SWARM" init --max-cost-usd "$bad" j
    contains "$T/err" "--max-cost-usd wants dollars above 0"
done
expect 2 "$SWARM" init --max-tokens 0 j
contains "$T/err" "--max-tokens wants a whole number from 1"
expect 2 "$SWARM" init --max-tokens 99999999999999999999 j
expect 2 "$SWARM" init --on-budget later j
contains "$T/err" "--on-budget is stop or finish, got 'later'"
ok "bad prices fail the coordinator's start naming the config line; negative, NaN, infinite, huge and zero caps are refused"

# --- a claude job of 10 tasks at $0.02 under a $0.07 cap, restarted mid-job ---------
start_agent a1 --slots 1 --claude "$FAKE_CLAUDE"
wait_agents 1
expect 0 "$SWARM" init --max-cost-usd 0.07 cj
for i in 1 2 3 4 5 6 7 8 9 10; do
    expect 0 "$SWARM" spawn --id "c$i" --runner claude "FAKE:cost=0.02 FAKE:sleep=3 task $i"
done
wait_status c2 succeeded
wait_status c3 running
# SIGKILL mid-job: the spend so far ($0.04) is read back from Redis
kill_coordinator
coordinator_again -c "$T/coord.conf"
expect 1 "$SWARM" wait --job cj --timeout 90
contains "$T/err" "6 tasks did not succeed: budget exhausted: \$0.08 of \$0.07"
expect 1 "$SWARM" --json results --job cj
for i in 1 2 3 4; do
    [ "$(json_get "$T/out" "[r['status'] for r in d if r['id']=='c$i'][0]")" = succeeded ] \
        || fail "c$i did not succeed: $(cat "$T/out")"
done
for i in 5 6 7 8 9 10; do
    [ "$(json_get "$T/out" "[(r['status'], r['reason']) for r in d if r['id']=='c$i'][0]")" \
      = "('skipped', 'budget exhausted: \$0.08 of \$0.07')" ] || fail "c$i: $(cat "$T/out")"
done
[ "$(json_get "$T/out" "round(sum(r['spend']['cost_usd'] for r in d if r['spend']), 6)")" = 0.08 ] \
    || fail "total spend: $(cat "$T/out")"
# the model: from claude's init event (stream-json, the live output's
# format, says it as the real claude does)
[ "$(json_get "$T/out" "[r['spend'] for r in d if r['id']=='c1'][0]")" \
  = "{'tokens': 137, 'input_tokens': 115, 'cached_input_tokens': 5, 'output_tokens': 22, 'cost_usd': 0.02, 'model': 'fake-claude', 'attempts': 1, 'unpriced': False}" ] \
    || fail "c1 spend: $(cat "$T/out")"
expect 1 "$SWARM" results --job cj
contains "$T/out" "TOKENS      COST"
contains "$T/out" "spend: 548 tokens (460 input, 20 of them cached, 88 output), \$0.08"
contains "$T/err" "swarm: job cj: budget exhausted: \$0.08 of \$0.07 (6 tasks skipped)"
grep -E '^c1 +succeeded +1 +a1 .* 137 +\$0\.02' "$T/out" >/dev/null || fail "row: $(cat "$T/out")"
expect 1 "$SWARM" results --job cj --markdown
contains "$T/out" "| tokens | cost |"
contains "$T/out" "| 137 | \$0.02 |"
expect 0 "$SWARM" status --job cj
contains "$T/out" "spend: \$0.08 of \$0.07, 548 tokens (finished and running tasks)  [budget exhausted: \$0.08 of \$0.07: on_budget stop]"
expect 0 "$SWARM" --json status --job cj
contains "$T/out" '"cost_usd": 0.08,'
contains "$T/out" '"max_cost_usd": 0.07,'
contains "$T/out" '"exhausted": "budget exhausted: $0.08 of $0.07"'
ok "10 claude tasks at \$0.02 under --max-cost-usd 0.07: 4 run, 6 skipped with the reason, \$0.08 in all across a coordinator restart; results, status and wait name it"

