#!/usr/bin/env bash
# Retries: a crash (a signal the agent did not send) is retried after a
# backoff on another agent; a task that crashes on every attempt is
# quarantined, and the report names the agents; a clean non-zero exit is
# not retried (it would fail the same way again).
. "$(dirname "$0")/lib.sh"
use_redis 12
start_coordinator
start_agent a1 --slots 1 --allow-exec
start_agent a2 --slots 1 --allow-exec
wait_agents 2
flag="$T/flaky-ran-once"
expect 0 "$SWARM" init retry
expect 0 "$SWARM" spawn --id segv -- /bin/sh -c 'kill -SEGV $$'
expect 0 "$SWARM" spawn --id flaky -- /bin/sh -c "if [ -e $flag ]; then echo second try; else touch $flag; kill -SEGV \$\$; fi"
expect 0 "$SWARM" spawn --id exit3 -- /bin/sh -c 'exit 3'
expect 1 "$SWARM" wait --timeout 60
expect 1 "$SWARM" results --json
cp "$T/out" "$T/r.json"
get() { json_get "$T/r.json" "[r['$2'] for r in d if r['id']=='$1'][0]"; }
[ "$(get segv status)" = failed ] && [ "$(get segv attempt)" = 3 ] || fail "segv: $(get segv status) attempt $(get segv attempt)"
[ "$(get segv signal)" = SEGV ] || fail "segv signal"
get segv reason > "$T/reason"
contains "$T/reason" "quarantined: failed on every attempt, on agents a"
contains "$T/reason" "(attempt 3 of 3)"
grep -q "a1" "$T/reason" && grep -q "a2" "$T/reason" || fail "quarantine names only one agent: $(cat "$T/reason")"
ok "a task that crashes everywhere is quarantined, both agents named"
[ "$(get flaky status)" = succeeded ] && [ "$(get flaky attempt)" = 2 ] || fail "flaky: $(get flaky status) attempt $(get flaky attempt)"
[ "$(get flaky output)" = "second try" ] || fail "flaky output"
grep -q "flaky attempt 1 failed on a[12]: retrying in" "$T/coordinator.log" || fail "no retry logged"
first=$(sed -n 's/.*flaky attempt 1 failed on \(a[12]\).*/\1/p' "$T/coordinator.log")
[ "$(get flaky agent)" != "$first" ] || fail "the retry ran on the agent it crashed on"
ok "a crash is retried after a backoff, on the other agent"
[ "$(get exit3 status)" = failed ] && [ "$(get exit3 attempt)" = 1 ] || fail "exit3 was retried"
ok "a clean non-zero exit is not retried"
