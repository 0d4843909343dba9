#!/usr/bin/env bash
# Issue 20 (roundtrip): a due coordination record goes on the same Redis
# pipeline as the state it shows, after it (one round trip per turn, not
# two). What a user sees must not change: every `swarm wait` that returns
# finds the record already holding that task's final counts, task after
# task of one job (each SUBMIT reopens the job, each DONE ends it: both
# turns have a record due); and a Redis that forgot the script (SCRIPT
# FLUSH, the coordinator's "loaded" mark now stale) still gets the record
# in the same flush (the pipeline runs the script again with its text).
. "$(dirname "$0")/lib.sh"
private_redis 58     # SCRIPT FLUSH: server-wide
start_coordinator --coordination-ttl 86400
start_agent a1 --slots 2 --allow-exec
wait_agents 1
job=rt-rec
expect 0 "$SWARM" init "$job"

record() {
    "$SWARM" --json memory get --namespace coordination "$1" >"$T/rec.json" 2>"$T/rec.err"
}
# final_after N: the record says succeeded with N tasks, all succeeded
final_after() {
    record "$job" || fail "no record after task $1: $(cat "$T/rec.err")"
    [ "$(json_get "$T/rec.json" "(json.loads(d['value'])['status'], json.loads(d['value'])['counts']['succeeded'], json.loads(d['value'])['counts']['total'], d['ttl_ms'] is not None)")" \
        = "('succeeded', $1, $1, True)" ] || fail "after task $1: $(cat "$T/rec.json")"
}

for i in $(seq 1 12); do
    expect 0 "$SWARM" spawn --id "t$i" -- true
    expect 0 "$SWARM" wait --timeout 60 "t$i"
    final_after "$i"
done
ok "12 roundtrips in one job: each wait returns with the record's final counts in Redis"

redis-cli -u "$SWARM_REDIS" SCRIPT FLUSH >/dev/null || fail "SCRIPT FLUSH"
expect 0 "$SWARM" spawn --id after-flush -- true
expect 0 "$SWARM" wait --timeout 60 after-flush
final_after 13
expect 0 "$SWARM" spawn --id after-flush2 -- true
expect 0 "$SWARM" wait --timeout 60 after-flush2
final_after 14
grep -q "refused the write\|cannot write the coordination record" "$T/coordinator.log" \
    && fail "a write refused: $(grep -E 'refused|cannot write' "$T/coordinator.log")"
ok "after Redis forgot the script: the record is still written before the wait returns"
