#!/usr/bin/env bash
# Garbage on both coordinator sockets (bad ids and versions, unknown
# commands, truncated and lying msgpack, wrong frame counts, an oversize
# frame, random bytes) is dropped and counted while work goes on.
. "$(dirname "$0")/lib.sh"
use_redis 6
start_coordinator
start_agent a1 --slots 2 --allow-exec
wait_agents 1
expect 0 "$SWARM" init g
expect 0 "$SWARM" spawn --id before -- /bin/sh -c 'sleep 1; echo before'
"$SWARM_BUILD/tests/sw_garbage" "$COORD_LISTEN" 5 || fail "garbage sender failed"
"$SWARM_BUILD/tests/sw_garbage" "$SWARM_COORDINATOR" 5 || fail "garbage sender failed"
kill -0 "$COORD_PID" || fail "coordinator died"
expect 0 "$SWARM" spawn --id after -- /bin/echo after
expect 0 "$SWARM" wait --timeout 30
contains "$T/out" "2/2 finished: 2 succeeded"
expect 0 "$SWARM" --json status
cp "$T/out" "$T/s.json"
[ "$(json_get "$T/s.json" "d['dropped'] > 100")" = True ] || fail "drops not counted: $(json_get "$T/s.json" "d['dropped']")"
[ "$(json_get "$T/s.json" "d['agents']")" = 1 ] || fail "garbage registered an agent"
ok "garbage dropped and counted ($(json_get "$T/s.json" "d['dropped']")), work went on"
