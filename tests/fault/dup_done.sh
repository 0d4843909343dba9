#!/usr/bin/env bash
# Pass: every DONE frame reaches the coordinator twice (a proxy between the
# agents and the coordinator duplicates them, as a retransmitting network
# or a buggy agent might). The second copy is ignored as stale: each task
# completes once, an agent's credit is returned once (no agent is ever
# given more tasks than its slots), and the job completes once. Every
# task: one result; no stray process.
. "$(dirname "$0")/lib.sh"
use_redis 29
start_coordinator
PROXY="tcp://127.0.0.1:$(free_port)"
"$SWARM_BUILD/tests/sw_faultproxy" "$PROXY" "$COORD_LISTEN" --dup-done >"$T/proxy.log" 2>&1 &
PROXY_PID=$!
PIDS+=("$PROXY_PID")
start_agent a1 --slots 1 --coordinator "$PROXY"
start_agent a2 --slots 1 --coordinator "$PROXY"
wait_agents 2
expect 0 "$SWARM" init dups
for i in $(seq 1 8); do
    expect 0 "$SWARM" spawn --id "t$i" "FAKE:sleep=0 task $i"
done
expect 0 "$SWARM" wait --timeout 60
contains "$T/out" "8/8 finished: 8 succeeded"
kill -TERM "$PROXY_PID"
wait "$PROXY_PID"
contains "$T/proxy.log" "8 DONE duplicated"
FAULTS=8
echo "fault 1-8: every DONE frame sent twice"
n=$(grep -c "ignored a stale DONE for dups/" "$T/coordinator.log")
[ "$n" = 8 ] || fail "$n of 8 duplicate DONEs were ignored"
grep -q "beyond our 1 slots" "$T"/agent-*.log && fail "a duplicate DONE gave an agent credit twice"
ok "8 duplicate DONEs ignored; credit returned once each"
audit dups
