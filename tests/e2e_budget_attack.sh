#!/usr/bin/env bash
# Issue 18 under hostile input, through the daemons: what a task or a
# user's files can do to usage accounting must neither hang an agent nor
# count what the CLI did not report.
. "$(dirname "$0")/lib.sh"
use_redis 39
start_coordinator --limit codex=1

# --- codex's config.toml is a FIFO (a task running as the agent's user can
# make one): the agent must not block its loop opening it -------------------
mkdir -p "$T/home-fifo"
mkfifo "$T/home-fifo/config.toml"
CODEX_HOME="$T/home-fifo" start_agent a1 --slots 1
wait_agents 1
expect 0 "$SWARM" init fx
expect 0 "$SWARM" spawn --id f1 "FAKE:usage=100,0,10 fifo config"
expect 0 "$SWARM" wait --job fx --timeout 30
expect 0 "$SWARM" --json results --job fx
[ "$(json_get "$T/out" "d[0]['spend']['tokens']")" = 110 ] || fail "f1 spend: $(cat "$T/out")"
ok "a FIFO as codex's config.toml does not block the agent: the task runs, its tokens count (no model, no price)"

# --- claude's live messages carry tokens but no dollars (those come with its
# result): once the result priced the run, the job must not say "some
# tokens have no price" ----------------------------------------------------
start_agent a2 --slots 1 --claude "$SWARM_SRC/tests/fake-claude.sh" -L kind=claude
wait_agents 2
expect 0 "$SWARM" init cl
expect 0 "$SWARM" spawn --id c1 --runner claude --label kind=claude "FAKE:chatty=8 FAKE:cost=0.02 live"
for _ in $(seq 100); do
    "$SWARM" --json status --job cl > "$T/st.json"
    [ "$(json_get "$T/st.json" "d['spend']['tokens'] > 0")" = True ] && break
    sleep 0.1
done
[ "$(json_get "$T/st.json" "d['spend']['tokens'] > 0 and d['tasks'][0]['status'] == 'running'")" = True ] \
    || fail "no live usage while c1 ran: $(cat "$T/st.json")"
expect 0 "$SWARM" wait --job cl --timeout 60
expect 0 "$SWARM" --json status --job cl
[ "$(json_get "$T/out" "(d['spend']['cost_usd'], d['spend']['unpriced'])")" = "(0.02, False)" ] \
    || fail "claude job spend: $(cat "$T/out")"
expect 0 "$SWARM" status --job cl
! grep -qF "no price" "$T/out" || fail "status says no price: $(cat "$T/out")"
ok "a claude run's live tokens (no dollars yet) leave no 'no price' mark once its result priced it"

# --- resource names at the edges -----------------------------------------------
expect 0 "$SWARM" init rn
long=$(head -c 64 /dev/zero | tr '\0' r)
expect 0 "$SWARM" spawn --id long --label kind=claude --runner claude --resource "$long" "FAKE:cost=0.01 x"
sixteen=(); for i in $(seq 16); do sixteen+=(--resource "r$i"); done
expect 0 "$SWARM" spawn --id sixteen --label kind=claude --runner claude "${sixteen[@]}" "FAKE:cost=0.01 x"
expect 2 "$SWARM" spawn --id seventeen --runner claude "${sixteen[@]}" --resource r17 "x"
contains "$T/err" "at most 16 resources, got 17"
expect 2 "$SWARM" spawn --id uni --runner claude --resource "gpü" "x"
contains "$T/err" "--resource"
expect 0 "$SWARM" wait --job rn --timeout 60
ok "a 64-byte resource name and 16 resources run; a 17th and a non-ASCII name are refused (exit 2, saying why)"

# --- --limit codex=1, 50 codex tasks and a cancel storm: no unit leaks -----------
start_agent a3 --slots 4 -L kind=storm
wait_agents 3
expect 0 "$SWARM" init storm
for i in $(seq 50); do
    "$SWARM" spawn --id "s$i" --label kind=storm "FAKE:sleep=30 storm $i" >/dev/null || fail "spawn s$i"
done
wait_status s1 running
# cancel them one by one, out of order, while the head runs, then the job
cpids=()
for i in $(seq 50 -1 2) 1; do
    "$SWARM" cancel --job storm "s$i" >/dev/null 2>&1 &
    cpids+=($!)
done
wait "${cpids[@]}"
"$SWARM" cancel --job storm >/dev/null 2>&1 || true
expect 1 "$SWARM" wait --job storm --timeout 60
expect 1 "$SWARM" --json results --job storm
[ "$(json_get "$T/out" "sorted(set(r['status'] for r in d))")" = "['cancelled']" ] \
    || fail "storm statuses: $(cat "$T/out")"
expect 0 "$SWARM" init after
expect 0 "$SWARM" spawn --id next --label kind=storm "FAKE:usage=1,0,1 after the storm"
expect 0 "$SWARM" wait --job after --timeout 30
expect 0 "$SWARM" status
contains "$T/out" "limit codex: 0 of 1 in use"
ok "--limit codex=1: 50 codex tasks cancelled in a storm give the unit back (the next codex task runs, 0 of 1 in use)"

# --- a job out of budget stays out: raising its cap must say so, not
# succeed silently while every new task is skipped -------------------------
expect 0 "$SWARM" init --max-tokens 100 pj
expect 0 "$SWARM" spawn --id p1 --label kind=storm "FAKE:usage=1000,0,0 over"
# p1 ends succeeded (its final report came with its DONE) or cancelled by
# the budget (a live report came first, under on_budget stop): either way
# the job is out of budget, which is what this part is about
rc=0
"$SWARM" wait --job pj --timeout 30 >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" = 0 ] || { [ "$rc" = 1 ] && grep -q "budget exhausted" "$T/err"; } \
    || fail "wait pj: exit $rc: $(cat "$T/err")"
expect 0 "$SWARM" init --max-tokens 100 pj          # the same budget again: fine
expect 1 "$SWARM" init --max-tokens 100000 pj
contains "$T/err" "job pj is out of budget (budget exhausted: 1000 of 100 tokens)"
expect 1 "$SWARM" init --on-budget finish pj
expect 0 "$SWARM" --json status --job pj
[ "$(json_get "$T/out" "(d['spend']['max_tokens'], d['spend']['on_budget'])")" = "(100, 'stop')" ] \
    || fail "the refused init changed the budget: $(cat "$T/out")"
ok "raising the cap of a job out of budget is refused naming why (exit 1); the same budget again is fine"

# --- a dollar cap over codex tokens without a price: the cap cannot see
# them, and status and the coordinator's log must say so ----------------------
expect 0 "$SWARM" init --max-cost-usd 1 up
expect 0 "$SWARM" spawn --id u1 --label kind=storm "FAKE:usage=5000,0,100 unpriced"
expect 0 "$SWARM" wait --job up --timeout 30
expect 0 "$SWARM" status --job up
contains "$T/out" "spend: \$0.00 of \$1.00, 5100 tokens (finished and running tasks; some tokens have no price, so the \$ cap does not count them)"
contains "$T/coordinator.log" "job up: codex tokens without a price (model not named): --max-cost-usd cannot count them (price.MODEL"
ok "a dollar cap over unpriced codex tokens is flagged in status and in the coordinator's log"
