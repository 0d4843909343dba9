#!/usr/bin/env bash
# Agents survive their coordinator: after a SIGKILL of the coordinator (no
# BYE) the agents notice the silence, drop the socket and reconnect with
# backoff; a new coordinator on the same endpoints gets their HELLO and
# runs new work on them. After a clean stop (SIGTERM sends BYE), they
# register again at once.
. "$(dirname "$0")/lib.sh"
use_redis 8
start_coordinator
start_agent a1 --slots 1
start_agent a2 --slots 1
wait_agents 2
expect 0 "$SWARM" init before
expect 0 "$SWARM" spawn --id t1 "first"
expect 0 "$SWARM" wait --timeout 30

kill_coordinator
# the agents' liveness is 5 heartbeats of the coordinator's 200 ms
sleep 1.5
coordinator_again
wait_agents 2
grep -q "reconnecting in" "$T/agent-a1.log" || fail "a1 did not notice the dead coordinator"
ok "agents reconnected with backoff to a new coordinator"
expect 0 "$SWARM" init after
expect 0 "$SWARM" spawn --id t2 "second"
expect 0 "$SWARM" spawn --id t3 "third"
expect 0 "$SWARM" wait --timeout 30
contains "$T/out" "2/2 finished: 2 succeeded"
ok "new work runs on the reconnected agents"

kill -TERM "$COORD_PID"
wait "$COORD_PID" 2>/dev/null
coordinator_again
wait_agents 2
ok "after a clean coordinator stop the agents registered again"
expect 0 "$SWARM" results --job after
contains "$T/out" "2 tasks: 2 succeeded"
ok "results of the earlier job are still in Redis"
