#!/usr/bin/env bash
# Pass: a child that prints nothing for --idle-timeout is stopped like a
# timeout (SIGINT for codex, then SIGKILL to the group) and reported
# timed_out with "no output for the idle timeout", long before its
# wall-clock timeout; a child that keeps printing is not touched by the
# same watchdog. Every task: one result; no stray process.
. "$(dirname "$0")/lib.sh"
use_redis 24
start_coordinator
start_agent a1 --slots 2
wait_agents 1
expect 0 "$SWARM" init idle
expect 0 "$SWARM" spawn --id silent --idle-timeout 1 --timeout 120 --max-attempts 1 \
    "FAKE:ignore-term FAKE:sleep=100 hangs silently, like codex on a dead endpoint"
expect 0 "$SWARM" spawn --id chatty --idle-timeout 1 --timeout 120 "FAKE:chatty=8 keeps talking"
fault "child hangs silently past its idle timeout and ignores SIGINT"
expect 1 "$SWARM" wait --timeout 60
expect 1 "$SWARM" results --json
cp "$T/out" "$T/r.json"
[ "$(json_get "$T/r.json" "[r['status'] for r in d if r['id']=='silent'][0]")" = timed_out ] || fail "silent not timed_out"
[ "$(json_get "$T/r.json" "[r['error'] for r in d if r['id']=='silent'][0]")" = "no output for the idle timeout" ] || fail "no idle reason"
[ "$(json_get "$T/r.json" "[r['signal'] for r in d if r['id']=='silent'][0]")" = KILL ] || fail "silent not escalated to SIGKILL"
[ "$(json_get "$T/r.json" "[r['duration_ms'] < 30000 for r in d if r['id']=='silent'][0]")" = True ] || fail "silent ran to its wall timeout"
[ "$(json_get "$T/r.json" "[r['status'] for r in d if r['id']=='chatty'][0]")" = succeeded ] || fail "chatty was stopped"
ok "the idle watchdog stops a silent child and leaves a talking one alone"
audit idle
