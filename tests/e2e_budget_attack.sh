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
