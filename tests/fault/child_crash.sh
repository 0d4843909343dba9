#!/usr/bin/env bash
# Pass: a child killed by SIGKILL or SIGSEGV (a signal the agent did not
# send) is a crash: reported with its signal, retried after a backoff,
# preferably on the other agent, and its second attempt's result is the one
# stored. With --max-attempts 1 the crash is final and says so. Every task:
# one result; no stray process.
. "$(dirname "$0")/lib.sh"
use_redis 23
start_coordinator
start_agent a1 --slots 2
start_agent a2 --slots 2
wait_agents 2
expect 0 "$SWARM" init crashes
expect 0 "$SWARM" spawn --id segv "FAKE:crash=SEGV@1 segfaults on attempt 1"
expect 0 "$SWARM" spawn --id killed "FAKE:crash=KILL@1 OOM-killed on attempt 1"
expect 0 "$SWARM" spawn --id once --max-attempts 1 "FAKE:crash=SEGV@1 no second chance"
expect 0 "$SWARM" spawn --id fine "FAKE:sleep=0 unaffected"
fault "child dies of SIGSEGV"
fault "child dies of SIGKILL"
fault "child dies of SIGSEGV with no attempts left"
expect 1 "$SWARM" wait --timeout 60
expect 1 "$SWARM" results --json
cp "$T/out" "$T/r.json"
for id in segv killed; do
    [ "$(json_get "$T/r.json" "[r['status'] for r in d if r['id']=='$id'][0]")" = succeeded ] || fail "$id did not succeed on retry"
    [ "$(json_get "$T/r.json" "[r['attempt'] for r in d if r['id']=='$id'][0]")" = 2 ] || fail "$id not at attempt 2"
    [ "$(runs crashes "$id")" = 1 ] || fail "$id finished $(runs crashes "$id") times"
done
grep -q "task crashes/segv attempt 1 crashed on a[12]: retrying" "$T/coordinator.log" \
    || grep -q "task crashes/segv attempt 1 .* retrying" "$T/coordinator.log" || fail "no retry logged"
[ "$(json_get "$T/r.json" "[r['status'] for r in d if r['id']=='once'][0]")" = failed ] || fail "once did not fail"
[ "$(json_get "$T/r.json" "[r['signal'] for r in d if r['id']=='once'][0]")" = SEGV ] || fail "once's signal not reported"
[ "$(json_get "$T/r.json" "[r['attempt'] for r in d if r['id']=='once'][0]")" = 1 ] || fail "once was retried"
ok "crashes by SIGSEGV and SIGKILL are retried; with no attempts left the crash is final"
audit crashes
