#!/usr/bin/env bash
# Usage and budgets of codex tasks (issue 18), through the daemons: the
# agent reads the usage of fake-codex.sh's turn.completed events as they
# come (FAKE:usage=IN,CACHED,OUT, FAKE:turns=N) and names the model from
# codex's config.toml; the coordinator prices it from price.MODEL, or
# counts tokens only; a token cap stops or lets finish the running tasks.
. "$(dirname "$0")/lib.sh"
use_redis 111
printf 'price.gpt-test = 1.25, 0.125, 10\n' > "$T/coord.conf"
start_coordinator -c "$T/coord.conf"

# --- codex: tokens priced from the coordinator's config, live, absurd ---------
mkdir -p "$T/home-priced" "$T/home-free"
printf 'model = "gpt-test"\n' > "$T/home-priced/config.toml"
printf 'model_provider = "x"\nmodel = "nopriced"\n' > "$T/home-free/config.toml"
CODEX_HOME="$T/home-priced" start_agent a2 --slots 2 -L kind=priced
CODEX_HOME="$T/home-free" start_agent a3 --slots 1 -L kind=free
wait_agents 2
expect 0 "$SWARM" init cx
expect 0 "$SWARM" spawn --id p1 --label kind=priced "FAKE:usage=1000000,200000,100000 price me"
expect 0 "$SWARM" spawn --id u1 --label kind=free "FAKE:usage=5000,0,100 no price"
expect 0 "$SWARM" spawn --id live --label kind=priced "FAKE:usage=100,0,10 FAKE:turns=10 FAKE:turn-sleep=1 slow"
expect 0 "$SWARM" spawn --id absurd --label kind=priced "FAKE:absurd-usage"
# while it runs, the job's spend grows with its turns
for _ in $(seq 200); do
    "$SWARM" --json status --job cx > "$T/st.json"
    [ "$(json_get "$T/st.json" "[t['status'] for t in d['tasks'] if t['id']=='live'][0]")" = running ] \
        && [ "$(json_get "$T/st.json" "d['spend']['tokens'] - 1100000 - 5100 - 1234 >= 110")" = True ] && break
    sleep 0.1
done
[ "$(json_get "$T/st.json" "[t['status'] for t in d['tasks'] if t['id']=='live'][0]")" = running ] \
    || fail "live usage never seen while the task ran: $(cat "$T/st.json")"
expect 0 "$SWARM" wait --job cx --timeout 60
expect 0 "$SWARM" --json results --job cx
s() { json_get "$T/out" "[r['spend'] for r in d if r['id']=='$1'][0]$2"; }
[ "$(s p1 "['cost_usd']")" = 2.025 ] || fail "p1 priced: $(s p1 "")"
[ "$(s p1 "['model']")" = gpt-test ] || fail "p1 model: $(s p1 "")"
[ "$(s u1 "")" = "{'tokens': 5100, 'input_tokens': 5000, 'cached_input_tokens': 0, 'output_tokens': 100, 'cost_usd': None, 'model': 'nopriced', 'attempts': 1, 'unpriced': True}" ] \
    || fail "u1 tokens only: $(s u1 "")"
[ "$(s live "['tokens']")" = 1100 ] || fail "live: $(s live "")"
[ "$(s absurd "['tokens']")" = 1234 ] || fail "absurd usage counted: $(s absurd "")"
contains "$T/agent-a2.log" "task cx/absurd: 2 usage reports of its runner ignored (absurd numbers)"
expect 0 "$SWARM" results --job cx
contains "$T/out" "no price"
contains "$T/out" "no price for model nopriced: its tokens are counted, not costed"
grep -E '^p1 +succeeded .* 1\.1M +\$2\.0[23]' "$T/out" >/dev/null || fail "p1 row: $(cat "$T/out")"
expect 0 "$SWARM" status --job cx
contains "$T/out" "(finished and running tasks; some tokens have no price)"
ok "codex tokens priced from price.MODEL (model from codex's config.toml), a model without a price reports tokens only and says so, usage seen while the task runs, absurd usage ignored"

# --- a token cap: running tasks stopped (stop) or finishing (finish) ---------------
expect 0 "$SWARM" init --max-tokens 2000 tk
for i in 1 2; do
    expect 0 "$SWARM" spawn --id "t$i" --label kind=priced "FAKE:usage=1000,0,0 FAKE:turns=30 FAKE:turn-sleep=1"
done
expect 0 "$SWARM" spawn --id t3 --label kind=priced "FAKE:usage=1000,0,0"
expect 1 "$SWARM" wait --job tk --timeout 60
contains "$T/err" "did not succeed: budget exhausted: "
expect 1 "$SWARM" --json results --job tk
for i in 1 2; do
    [ "$(json_get "$T/out" "[r['status'] for r in d if r['id']=='t$i'][0]")" = cancelled ] \
        || fail "t$i not stopped: $(cat "$T/out")"
    json_get "$T/out" "[r['reason'] for r in d if r['id']=='t$i'][0]" | grep -Eq '^budget exhausted: [0-9]+ of 2000 tokens$' \
        || fail "t$i reason: $(cat "$T/out")"
done
[ "$(json_get "$T/out" "[r['status'] for r in d if r['id']=='t3'][0]")" = skipped ] || fail "t3: $(cat "$T/out")"
expect 0 "$SWARM" init --max-tokens 2000 --on-budget finish tf
for i in 1 2; do
    expect 0 "$SWARM" spawn --id "f$i" --label kind=priced "FAKE:usage=1000,0,0 FAKE:turns=3 FAKE:turn-sleep=1"
done
expect 0 "$SWARM" spawn --id f3 --label kind=priced "FAKE:usage=1000,0,0"
expect 1 "$SWARM" wait --job tf --timeout 60
expect 1 "$SWARM" --json results --job tf
[ "$(json_get "$T/out" "[r['status'] for r in d]")" = "['succeeded', 'succeeded', 'skipped']" ] \
    || fail "finish: $(cat "$T/out")"
[ "$(json_get "$T/out" "[r['spend']['tokens'] for r in d if r['spend']]")" = "[3000, 3000]" ] \
    || fail "finish spend: $(cat "$T/out")"
ok "--max-tokens: at the cap the running tasks are stopped (on_budget stop) or finish (finish), the queued one is skipped"
