#!/usr/bin/env bash
# Issue 20 attack: Redis SIGSTOPped right when a result is on its way on
# the agent's asynchronous (live output) connection.
#   short: stopped 2 s (under the 5 s stall limit): the agent must not
#          send DONE while Redis is stopped (the coordinator, blocked on
#          the same Redis, cannot be asked); after SIGCONT the reply comes
#          and the task ends once;
#   long:  stopped 8 s (the connection is dropped as stalled, the result
#          takes the blocking store and its spool): still no DONE before
#          Redis has the result; once back, exactly one result, one run,
#          and the attempt's live output has exactly one end entry.
. "$(dirname "$0")/lib.sh"
start_private_redis
start_coordinator --liveness 30
start_agent a1 --slots 2
wait_agents 1
expect 0 "$SWARM" init astop
for what in short long; do
    hold=2; [ "$what" = long ] && hold=8
    # stopped 0.5 s before the run ends, so that its result can only
    # leave while Redis is stopped (a stop after the ledger's end line
    # could come after a quick agent's store)
    expect 0 "$SWARM" spawn --id "$what" "FAKE:sleep=2 then a result in flight ($what)"
    wait_started astop "$what"
    sleep 1.5
    kill -STOP "$REDIS_PID"
    ! grep -q "^end astop $what " "$FAKE_LEDGER" || { kill -CONT "$REDIS_PID"; echo "the run ended before Redis was stopped: a loaded machine" >&2; exit 77; }
    fault "SIGSTOP to redis-server for $hold s as $what's result leaves"
    sleep "$hold"
    cont=$(date +%H:%M:%S.%3N)
    kill -CONT "$REDIS_PID"
    expect 0 "$SWARM" wait --timeout 60 "$what"
    # the agent logs a task's end when it sends DONE (agent_run.c, s_stored)
    done_at=$(grep -m1 "task astop/$what attempt 1 succeeded" "$T/agent-a1.log" | cut -c1-12)
    [ -n "$done_at" ] || fail "no DONE line for $what"
    [[ "$done_at" > "$cont" || "$done_at" = "$cont" ]] \
        || fail "$what: DONE at $done_at, before Redis was back at $cont (the result was not stored yet)"
    ok "$what: DONE at $done_at, after Redis was back at $cont"
done
for what in short long; do
    [ "$(runs astop "$what")" = 1 ] || fail "$what ran $(runs astop "$what") times"
    key=$(rkey log astop "$what" 1)
    ends=$(redis-cli -p "$REDIS_PORT" XRANGE "$key" - + | grep -cx end || true)
    [ "$ends" = 1 ] || fail "$what's live output has $ends end entries: $(redis-cli -p "$REDIS_PORT" XRANGE "$key" - + | tr '\n' ' ')"
done
ok "each task ran once and its live output ended once"
audit astop
