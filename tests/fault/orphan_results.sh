#!/usr/bin/env bash
# Pass: after a coordinator restart, running tasks nobody claims are
# resolved from their stored results, and "Redis cannot say" is not "no
# result" (issue 15, section 2). Here the agent cannot reach the restarted
# coordinator (it listens elsewhere) but stores its results in Redis; Redis
# is SIGSTOPped when the adoption window closes. The coordinator must not
# run the tasks again on a guess, must not block for a command timeout per
# task (20 tasks took it 40 s and the CLI gave up), and once Redis answers
# it finishes each from its stored result: nothing runs twice.
. "$(dirname "$0")/lib.sh"
start_private_redis
start_coordinator
start_agent a1 --slots 20
wait_agents 1
expect 0 "$SWARM" init orph
for i in $(seq 1 20); do
    expect 0 "$SWARM" spawn --id "o$i" "FAKE:sleep=6 finishes while nobody listens"
done
for i in $(seq 1 20); do wait_started orph "o$i"; done
kill_coordinator
start_coordinator --liveness 10  # new ports: the agent goes on calling the old ones
t0=$(date +%s)
fault "coordinator SIGKILLed; the new one is out of its agent's reach"
grep -q "resumed 20 task(s)" "$T/coordinator.log" || fail "the job was not loaded"
for _ in $(seq 200); do
    [ "$(grep -c "^end orph " "$FAKE_LEDGER")" = 20 ] && break
    sleep 0.1
done
[ "$(grep -c "^end orph " "$FAKE_LEDGER")" = 20 ] || fail "the tasks did not finish"
sleep 1                         # their results are in Redis
kill -STOP "$REDIS_PID"
fault "Redis SIGSTOPped before the adoption window closes"
# the window: heartbeat 200 ms x liveness 10 x 3 + 5 s = 11 s after the start
while [ $(($(date +%s) - t0)) -lt 14 ]; do sleep 0.2; done
expect 0 timeout 20 "$SWARM" --timeout 6 --json status --job orph
# those found finished at the load (a slow start) are done; none is queued again
[ "$(json_get "$T/out" 'd["counts"]["running"] + d["counts"]["succeeded"]')" = 20 ] \
    || fail "tasks neither running nor finished: $(cat "$T/out")"
[ "$(json_get "$T/out" 'd["counts"]["running"] > 0')" = True ] || fail "no task waited for Redis"
[ "$(json_get "$T/out" 'max(t["attempt"] for t in d["tasks"])')" = 1 ] || fail "a task was run again"
grep -q "Redis cannot say now whether its result is stored" "$T/coordinator.log" \
    || fail "the coordinator did not wait for Redis"
ok "Redis stopped when the window closed: nothing run again, the coordinator answers"
kill -CONT "$REDIS_PID"
expect 0 "$SWARM" wait --job orph --timeout 60
contains "$T/out" "20/20 finished: 20 succeeded"
expect 0 "$SWARM" --json status --job orph
[ "$(json_get "$T/out" 'max(t["attempt"] for t in d["tasks"])')" = 1 ] || fail "a task was run again"
for i in $(seq 1 20); do
    [ "$(runs orph "o$i")" = 1 ] || fail "o$i ran $(runs orph "o$i") times"
done
ok "Redis back: each task finished from its stored result, none ran twice"
audit orph
