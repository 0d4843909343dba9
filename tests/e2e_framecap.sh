#!/usr/bin/env bash
# No reply, and no request, may outgrow the 8 MiB frame cap of the control
# socket (issue 15, section 4): ZeroMQ drops a bigger frame together with
# the connection, and the CLI waited for nothing ("did not answer", exit
# 3). A request too big is refused by the CLI before it is sent (exit 2,
# saying why); a reply too big is answered by an error that says so.
. "$(dirname "$0")/lib.sh"
use_redis 69
start_coordinator
expect 0 "$SWARM" init cap
head -c $((9 << 20)) /dev/zero | tr '\0' a > "$T/prompt"
expect 2 "$SWARM" spawn --id big - < "$T/prompt"
contains "$T/err" "the most one request to the coordinator carries"
head -c $((6 << 20)) /dev/zero | tr '\0' a > "$T/prompt"
expect 0 "$SWARM" --timeout 10 spawn --id six --label os=none - < "$T/prompt"
ok "a 9 MiB prompt is refused by the CLI, saying why; 6 MiB goes through"
# six agents with 1.5 MB of labels each: the list of agents is over 8 MiB
for i in 1 2 3 4 5 6; do
    labels=()
    for k in $(seq 1 12); do labels+=(--label "k$k=$(head -c 125000 /dev/zero | tr '\0' v)"); done
    start_agent "big$i" --slots 1 "${labels[@]}"
done
for _ in $(seq 200); do
    [ "$(grep -c "joined" "$T/coordinator.log")" -ge 6 ] && break
    sleep 0.05
done
expect 1 "$SWARM" --timeout 10 agents
contains "$T/err" "over the 8 MiB frame cap of the control socket"
expect 0 "$SWARM" --timeout 10 status
ok "a reply over the frame cap is an error the CLI reports, not a silence"
