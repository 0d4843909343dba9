#!/usr/bin/env bash
# Pass: Redis SIGSTOPped for 7 s or more, over three times its 2 s command
# timeout, while tasks run and finish. Nobody hangs: the CLI gives up with
# exit 3 naming the address, the agents spool the results, the coordinator
# holds new dispatches and keeps its agents (leases are renewed
# meanwhile); a task cancelled meanwhile is not reported finished before
# Redis has it; after SIGCONT the job completes. Every task: one result; nothing runs
# twice; no stray process.
. "$(dirname "$0")/lib.sh"
start_private_redis
start_coordinator --liveness 20
start_agent a1 --slots 2
start_agent a2 --slots 2
wait_agents 2
expect 0 "$SWARM" init rstop
for i in 1 2 3 4 5 6; do
    expect 0 "$SWARM" spawn --id "t$i" "FAKE:sleep=1 task $i"
done
expect 0 "$SWARM" spawn --id parked --label gpu=yes "FAKE:sleep=1 no agent has a gpu"
wait_started rstop t1
kill -STOP "$REDIS_PID"
fault "SIGSTOP to redis-server for 6 s with tasks running"
t0=$(date +%s)
expect 3 timeout 30 "$SWARM" memory get k
contains "$T/err" "127.0.0.1:$REDIS_PORT"
[ $(($(date +%s) - t0)) -lt 15 ] || fail "the CLI took too long to give up"
expect 0 timeout 30 "$SWARM" status
ok "the CLI gives up on a stopped Redis; the coordinator still answers"
# A task cancelled while Redis cannot take the news is final in the
# coordinator's memory only: WAIT must not call it done until Redis has
# it, or `swarm results` right after `swarm wait` disagrees with it.
expect 0 timeout 30 "$SWARM" --timeout 10 cancel parked
expect 124 timeout 30 "$SWARM" --timeout 10 wait --timeout 2 parked
ok "a task cancelled while Redis is stopped is not reported finished before Redis has it"
sleep 3
kill -CONT "$REDIS_PID"
expect 1 "$SWARM" wait --timeout 60
contains "$T/out" "7/7 finished: 6 succeeded, 1 cancelled"
expect 1 "$SWARM" --json results
[ "$(json_get "$T/out" "[x['status'] for x in d if x['id']=='parked'][0]")" = cancelled ] \
    || fail "results right after wait: $(cat "$T/out")"
grep -q "spooled to disk until Redis is back" "$T"/agent-*.log || fail "no result was spooled"
grep -q "missed its heartbeats" "$T/coordinator.log" && fail "an agent was declared dead"
for i in 1 2 3 4 5 6; do
    [ "$(runs rstop "t$i")" = 1 ] || fail "t$i ran $(runs rstop "t$i") times"
done
ok "after SIGCONT every result was stored; no agent was lost, nothing ran twice"
audit rstop
