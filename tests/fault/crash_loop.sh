#!/usr/bin/env bash
# Pass: a task that crashes on every attempt is retried with backoff on the
# other agent, then quarantined after --max-attempts (3): failed, with a
# reason naming the agents, never run a fourth time; the rest of the job
# goes on. Every task: one result; no stray process.
. "$(dirname "$0")/lib.sh"
use_redis 26
start_coordinator
start_agent a1 --slots 1
start_agent a2 --slots 1
wait_agents 2
expect 0 "$SWARM" init loop
expect 0 "$SWARM" spawn --id looper --max-attempts 3 \
    "FAKE:crash=SEGV@all crashes every time"
expect 0 "$SWARM" spawn --id ok1 "FAKE:sleep=0 fine"
expect 0 "$SWARM" spawn --id ok2 "FAKE:sleep=0 fine too"
fault "a task crashes on every attempt"
expect 1 "$SWARM" wait --timeout 60
[ "$(task_field looper status)" = failed ] || fail "looper is $(task_field looper status)"
[ "$(task_field looper attempt)" = 3 ] || fail "looper at attempt $(task_field looper attempt)"
reason=$(task_field looper reason)
case "$reason" in *quarantined*a1*a2*|*quarantined*a2*a1*) ;; *) fail "reason: $reason" ;; esac
[ "$(grep -c "^start loop looper " "$FAKE_LEDGER")" = 3 ] || fail "looper started $(grep -c "^start loop looper " "$FAKE_LEDGER") times"
[ "$(task_field ok1 status)" = succeeded ] && [ "$(task_field ok2 status)" = succeeded ] \
    || fail "the rest of the job did not finish"
ok "quarantined after 3 attempts on both agents: $reason"
audit loop
