#!/usr/bin/env bash
# The coordinator SIGKILLed and back before its agents notice (a restart by
# systemd takes well under a lease): an agent's DEALER reconnects on its
# own and delivers the heartbeats queued while the coordinator was away.
# The new coordinator answers each message of that unknown connection with
# BYE ("say HELLO again"); the agent says HELLO once and must not take the
# second BYE for a refusal of that HELLO (it used to drop the connection,
# wait its backoff, be declared dead and see its running task run again).
. "$(dirname "$0")/lib.sh"
use_redis 64
start_coordinator
start_agent a1 --slots 1
wait_agents 1
expect 0 "$SWARM" init quick
expect 0 "$SWARM" spawn --id long "FAKE:sleep=4 outlives two restarts"
wait_started quick long
for round in 1 2; do
    kill_coordinator
    fault "SIGKILL to the coordinator, back at once (round $round)"
    sleep 0.6       # three heartbeats queue up in the agent's socket (200 ms)
    coordinator_again
    wait_agents 1
done
expect 0 "$SWARM" wait --job quick --timeout 60
! grep -q "refused our HELLO" "$T/agent-a1.log" || fail "the agent took a BYE for an unknown connection as a refusal: $(grep -m1 'refused our HELLO' "$T/agent-a1.log")"
! grep -q "agent a1 .*lost\|declared dead\|a1 went away" "$T/coordinator.log" || fail "a1 was declared lost: $(grep -m1 'lost\|dead' "$T/coordinator.log")"
[ "$(runs quick long)" = 1 ] || fail "long ran $(runs quick long) times"
[ "$(task_field long attempt)" = 1 ] || fail "long is at attempt $(task_field long attempt)"
ok "two quick restarts: the agent said HELLO again at once, long was adopted and ran once"
audit quick
