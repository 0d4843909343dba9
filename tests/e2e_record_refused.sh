#!/usr/bin/env bash
# Issue 20 (roundtrip), hostile review: the coordination record rides the
# same pipeline as the turn's state writes. A write Redis refuses in that
# pipeline (a task key of the wrong type, set by hand) must fail that task
# with a clear reason and nothing else: the record after it is written,
# shows the failure, and the next task of the job runs and is counted.
# Then SCRIPT FLUSH and a refused write in one turn.
# Then a coordinator SIGKILLed the moment it logs a DONE (before or after
# that turn's pipeline reached Redis): after the restart the task is
# succeeded once and the record shows it.
. "$(dirname "$0")/lib.sh"
private_redis 81     # SCRIPT FLUSH, maxmemory: server-wide
start_coordinator --coordination-ttl 86400
start_agent a1 --slots 2 --allow-exec
wait_agents 1
job=rf-rec
expect 0 "$SWARM" init "$job"
record() {
    "$SWARM" --json memory get --namespace coordination "$job" >"$T/rec.json" 2>"$T/rec.err" \
        || fail "no record: $(cat "$T/rec.err")"
    json_get "$T/rec.json" "(json.loads(d['value'])['counts']['succeeded'], json.loads(d['value'])['counts']['failed'], json.loads(d['value'])['counts']['total'])"
}
expect 0 "$SWARM" spawn --id good1 -- true
expect 0 "$SWARM" wait --timeout 60 good1
[ "$(record)" = "(1, 0, 1)" ] || fail "after good1: $(cat "$T/rec.json")"

redis-cli -u "$SWARM_REDIS" SET "$(rkey task "$job" bad)" not-a-hash >/dev/null
"$SWARM" spawn --id bad -- true >"$T/bad.out" 2>&1
rc=$?
[ "$rc" -ne 0 ] || fail "a refused task was accepted: $(cat "$T/bad.out")"
contains "$T/bad.out" "WRONGTYPE"
expect 0 "$SWARM" spawn --id good2 -- true
"$SWARM" wait --timeout 60 >/dev/null 2>&1
r=$(record)
[ "$r" = "(2, 1, 3)" ] || [ "$r" = "(2, 0, 2)" ] || fail "after the refusal: $r $(cat "$T/rec.json")"
ok "a refused write in the record's pipeline: the task ends with the reason, the record follows ($r)"

redis-cli -u "$SWARM_REDIS" SCRIPT FLUSH >/dev/null
redis-cli -u "$SWARM_REDIS" SET "$(rkey task "$job" bad2)" not-a-hash >/dev/null
"$SWARM" spawn --id bad2 -- true >"$T/bad2.out" 2>&1 && fail "bad2 accepted"
expect 0 "$SWARM" spawn --id good3 -- true
"$SWARM" wait --timeout 60 >/dev/null 2>&1
r2=$(record)
case "$r2" in "(3, 2, 5)"|"(3, 0, 3)"|"(3, 1, 4)") ;; *) fail "after flush + refusal: $r2 (was $r)";; esac
grep -q "cannot write the coordination record" "$T/coordinator.log" \
    && fail "record not written: $(grep 'coordination record' "$T/coordinator.log")"
ok "SCRIPT FLUSH and a refused write in one turn: record still written ($r2)"

restart_coordinator() {
    kill_coordinator
    coordinator_again --coordination-ttl 86400
}
read -r s0 f0 n0 < <(record | tr -d '(),')
for i in 1 2 3; do
    expect 0 "$SWARM" spawn --id "k$i" -- sh -c 'sleep 0.3'
    for _ in $(seq 1000); do
        grep -q "task $job/k$i succeeded" "$T/coordinator.log" && break
        sleep 0.01
    done
    restart_coordinator
    expect 0 "$SWARM" --timeout 60 wait --timeout 60 "k$i"
    [ "$(task_field "k$i" status)" = succeeded ] || fail "k$i: $(task_field "k$i" status)"
    [ "$(task_field "k$i" attempt)" = 1 ] || fail "k$i ran $(task_field "k$i" attempt) times"
    want="($((s0 + i)), $f0, $((n0 + i)))"
    ok=0
    for _ in $(seq 200); do [ "$(record)" = "$want" ] && { ok=1; break; }; sleep 0.05; done
    [ $ok = 1 ] || fail "after SIGKILL at k$i's DONE: record $(record), wanted $want"
done
ok "SIGKILL at a DONE: the task succeeded once, the record follows"

# A Redis out of memory (maxmemory, noeviction) that also forgot the
# script: the turn's writes are refused, the user is told, and the
# coordinator recovers once memory is back.
redis-cli -u "$SWARM_REDIS" SCRIPT FLUSH >/dev/null
redis-cli -u "$SWARM_REDIS" CONFIG SET maxmemory-policy noeviction >/dev/null
redis-cli -u "$SWARM_REDIS" CONFIG SET maxmemory 1 >/dev/null
"$SWARM" spawn --id oom -- true >"$T/oom.out" 2>&1
rc=$?
redis-cli -u "$SWARM_REDIS" CONFIG SET maxmemory 0 >/dev/null
[ "$rc" -ne 0 ] || fail "a task Redis could not store was accepted: $(cat "$T/oom.out")"
contains "$T/oom.out" "OOM"
grep "refused the write" "$T/coordinator.log" | grep -q NOSCRIPT \
    && fail "a refusal reported as NOSCRIPT: $(grep 'refused the write' "$T/coordinator.log" | grep NOSCRIPT)"
expect 0 "$SWARM" spawn --id after-oom -- true
expect 0 "$SWARM" wait --timeout 60 after-oom
ok "out of memory in the record's pipeline: refused with the reason, then back"

# The record's own key of the wrong type, after SCRIPT FLUSH: the retry
# with the script's text is refused; the log names that refusal, not the
# NOSCRIPT that came before it.
expect 0 "$SWARM" init rf-two
redis-cli -u "$SWARM_REDIS" SET "$(rkey mem coordination rf-two)" not-a-hash >/dev/null
redis-cli -u "$SWARM_REDIS" SCRIPT FLUSH >/dev/null
expect 0 "$SWARM" spawn --id w1 -- true
expect 0 "$SWARM" wait --timeout 60 w1
grep "refused the write" "$T/coordinator.log" | grep -q NOSCRIPT \
    && fail "a refusal reported as NOSCRIPT: $(grep 'refused the write' "$T/coordinator.log" | grep NOSCRIPT)"
grep "refused the write of .*entry:rf-two" "$T/coordinator.log" | grep -q WRONGTYPE \
    || fail "the record's refusal not logged with WRONGTYPE: $(grep 'rf-two' "$T/coordinator.log")"
ok "a refused retry after NOSCRIPT is reported with its own reason"
