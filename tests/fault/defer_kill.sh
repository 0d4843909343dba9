#!/usr/bin/env bash
# Issue 20 attack: the coordinator SIGKILLed inside its deferred-flush
# window (a DONE that frees a slot no queued task wants leaves its writes
# on the pipeline for up to 5 ms). Each round starts as many tasks as
# there are slots, waits for the first to end its work (ledger) and kills
# the coordinator 0-10 ms later, then starts it again at once. Every task
# must end once, with one run and its first attempt; `swarm wait` must
# finish; the audit finds nothing lost, duplicated or stray.
. "$(dirname "$0")/lib.sh"
use_redis 82
start_coordinator
start_agent a1 --slots 2
start_agent a2 --slots 2
wait_agents 2
expect 0 "$SWARM" init dk
restart_coordinator() {
    coordinator_again
    wait_agents 2
}
round=0
for delay in 0 0.001 0.002 0.003 0.004 0.005 0.006 0.008 0.010; do
    round=$((round + 1))
    for i in 1 2 3 4; do
        expect 0 "$SWARM" spawn --id "r$round-$i" "FAKE:sleep=0.$((i + 2)) round $round"
    done
    for _ in $(seq 4000); do
        grep -q "^end dk r$round-" "$FAKE_LEDGER" && break
        sleep 0.001
    done
    grep -q "^end dk r$round-" "$FAKE_LEDGER" || fail "round $round: no task ended its work"
    sleep "$delay"
    kill_coordinator
    fault "SIGKILL to the coordinator ${delay}s after a task of round $round ended"
    restart_coordinator
done
expect 0 "$SWARM" wait --job dk --timeout 120
contains "$T/out" "36/36 finished: 36 succeeded"
for r in $(seq "$round"); do
    for i in 1 2 3 4; do
        [ "$(runs dk "r$r-$i")" = 1 ] || fail "r$r-$i ran $(runs dk "r$r-$i") times"
    done
done
ok "9 kills in the deferred-flush window: every task ran once and the wait finished"
audit dk
