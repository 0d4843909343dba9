#!/usr/bin/env bash
# Issue 20: with the live output off (--log-ttl 0) a result still leaves
# on an asynchronous connection of its own: Redis SIGSTOPped as a result
# leaves must not stall the agent's loop (before, the blocking store held
# it for its 2 s command timeout: every slot, heartbeat and /metrics
# scrape waited). The agent's /metrics, served from its loop, answers
# while Redis is stopped; DONE still waits for the result to be stored,
# and the task runs once.
. "$(dirname "$0")/lib.sh"
start_private_redis
start_coordinator --liveness 30
MP=$(free_port)
start_agent q1 --slots 2 --log-ttl 0 --metrics "127.0.0.1:$MP"
wait_agents 1
expect 0 "$SWARM" init nolive
expect 0 "$SWARM" spawn --id quiet "FAKE:sleep=2 then a result with the live output off"
wait_started nolive quiet
sleep 1.5
kill -STOP "$REDIS_PID"
! grep -q "^end nolive quiet " "$FAKE_LEDGER" || { kill -CONT "$REDIS_PID"; echo "the run ended before Redis was stopped: a loaded machine" >&2; exit 77; }
fault "SIGSTOP to redis-server for 3 s as quiet's result leaves"
for _ in $(seq 60); do grep -q "^end nolive quiet " "$FAKE_LEDGER" && break; sleep 0.05; done
grep -q "^end nolive quiet " "$FAKE_LEDGER" || { kill -CONT "$REDIS_PID"; fail "the run did not end"; }
sleep 0.3           # the agent reaped it and sent its result
t0=$(date +%s%N)
code=$(curl -s -o "$T/metrics.txt" -w '%{http_code}' --max-time 1 "http://127.0.0.1:$MP/metrics" || true)
took=$(( ($(date +%s%N) - t0) / 1000000 ))
sleep 2
cont=$(date +%H:%M:%S.%3N)
kill -CONT "$REDIS_PID"
[ "$code" = 200 ] || fail "the agent's /metrics did not answer while Redis was stopped (HTTP '$code' after $took ms): its loop was blocked"
ok "the agent's loop answered /metrics in $took ms while Redis was stopped"
expect 0 "$SWARM" wait --timeout 60 quiet
[ "$(task_field quiet status)" = succeeded ] || fail "quiet is $(task_field quiet status)"
done_at=$(grep -m1 "task nolive/quiet attempt 1 succeeded" "$T/agent-q1.log" | cut -c1-12)
[ -n "$done_at" ] || fail "no DONE line for quiet"
[[ "$done_at" > "$cont" || "$done_at" = "$cont" ]] \
    || fail "DONE at $done_at, before Redis was back at $cont (the result was not stored yet)"
[ "$(runs nolive quiet)" = 1 ] || fail "quiet ran $(runs nolive quiet) times"
ok "DONE at $done_at, after Redis was back at $cont; the task ran once"
audit nolive
