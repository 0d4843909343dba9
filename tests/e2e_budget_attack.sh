#!/usr/bin/env bash
# Issue 18 under hostile input, through the daemons: what a task or a
# user's files can do to usage accounting must neither hang an agent nor
# count what the CLI did not report.
. "$(dirname "$0")/lib.sh"
use_redis 39
start_coordinator

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
