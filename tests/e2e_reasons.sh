#!/usr/bin/env bash
# Every task that ends without succeeding says why, in `swarm results` (the
# table, --json and --markdown) and in `swarm status` (issue 15, section 5):
# tasks cancelled while they ran had no reason at all (null, an empty
# column). A user's cancel, a halted job (on_failure: stop) and an agent
# whose drain timed out each say so; a task queued again says why until it
# runs.
. "$(dirname "$0")/lib.sh"
use_redis 67
start_coordinator
start_agent a1 --allow-exec --slots 2 --label pool=a
wait_agents 1

reason() {  # reason JOB ID: from swarm results --json
    "$SWARM" --json results --job "$1" | python3 -c '
import json, sys
print([r["reason"] for r in json.load(sys.stdin) if r["id"] == sys.argv[1]][0])' "$2"
}

# a user's cancel of a running task
expect 0 "$SWARM" init user
expect 0 "$SWARM" spawn --id long --label pool=a "FAKE:sleep=30 runs until cancelled"
expect 0 "$SWARM" spawn --id waits --label pool=a --after long "never starts"
wait_status long running
expect 0 "$SWARM" cancel long
expect 1 "$SWARM" wait --timeout 30
[ "$(reason user long)" = "cancelled by swarm cancel" ] || fail "long: $(reason user long)"
[ "$(reason user waits)" = "dependency long cancelled" ] || fail "waits: $(reason user waits)"
expect 1 "$SWARM" results --job user
grep -q "^long .*cancelled .*cancelled by swarm cancel$" "$T/out" || { cat "$T/out"; fail "table"; }
expect 1 "$SWARM" results --job user --markdown
contains "$T/out" "| \`long\` | **cancelled** | 1 | a1 |"
contains "$T/out" "| cancelled by swarm cancel |"
ok "a running task cancelled by swarm cancel says so (table, --json, --markdown)"

# a halted job: the running task and the queued one both name the failure
printf 'sleep 30\nsh -c "sleep 1; exit 7"\nsleep 30\n' > "$T/cmds"
expect 1 "$SWARM" run --commands "$T/cmds" --job halt --label pool=a --halt-on-failure \
    --max-agents 2 --wait --timeout 60
[ "$(reason halt cmd-2)" = None ] || fail "the failure itself has reason $(reason halt cmd-2)"
for id in cmd-1 cmd-3; do
    [ "$(reason halt $id)" = "cancelled: job halted after cmd-2 failed" ] \
        || fail "$id: $(reason halt $id)"
done
expect 1 "$SWARM" results --job halt
grep -q "^cmd-1 .*cancelled .*cancelled: job halted after cmd-2 failed$" "$T/out" \
    || { cat "$T/out"; fail "halt table"; }
ok "on_failure: stop: running and queued tasks say the job halted after cmd-2 failed"

# an agent whose drain timed out: its tasks say so, queued again or lost
start_agent d1 --allow-exec --slots 2 --label pool=d --drain-timeout 1
wait_agents 2
expect 0 "$SWARM" init drain
expect 0 "$SWARM" spawn --id once --label pool=d --max-attempts 1 "FAKE:sleep=30 one attempt"
# twice's first attempt outlasts the drain however loaded the machine is
# (a 3 s sleep ended before the 1 s drain timeout did); its second is quick
expect 0 "$SWARM" spawn --id twice --label pool=d --max-attempts 2 -- /bin/sh -c \
    '[ "$SWARM_ATTEMPT" = 1 ] && sleep 30; echo two attempts'
wait_status once running
wait_status twice running
expect 0 "$SWARM" drain d1
wait_status once lost
[ "$(task_field once reason)" = "stopped by agent d1 at the end of its drain (--drain-timeout or a second SIGTERM) (attempt 1 of 1)" ] \
    || fail "once: $(task_field once reason)"
[ "$(task_field twice status)" = queued ] || fail "twice is $(task_field twice status)"
[ "$(task_field twice reason)" = "queued again: stopped by agent d1 at the end of its drain (--drain-timeout or a second SIGTERM)" ] \
    || fail "twice: $(task_field twice reason)"
start_agent d2 --allow-exec --slots 1 --label pool=d
expect 1 "$SWARM" wait --job drain --timeout 60
[ "$(task_field twice status)" = succeeded ] || fail "twice is $(task_field twice status)"
[ "$(task_field twice reason)" = None ] || fail "twice kept reason $(task_field twice reason)"
expect 1 "$SWARM" results --job drain --json
[ "$(json_get "$T/out" '[r["reason"] for r in d if r["id"] == "once"][0]')" = \
  "stopped by agent d1 at the end of its drain (--drain-timeout or a second SIGTERM) (attempt 1 of 1)" ] \
    || fail "results --json of once"
ok "a drain timeout: the task lost says so, the one queued again says why until it runs"

# A whole-job cancel that comes between the batches of a run (before its
# last batch) cancels the run's tasks too, as they land. It used to answer
# "cancelled 0 task(s)" and let the run land and run every task.
"$SWARM_BUILD/tests/sw_ctltxn" "$SWARM_COORDINATOR" midrun "$T/gate" >"$T/txn.out" 2>&1 &
txn=$!
for _ in $(seq 200); do grep -q "^first: " "$T/txn.out" && break; sleep 0.05; done
contains "$T/txn.out" "first: submitted"
expect 0 "$SWARM" init midrun
expect 0 "$SWARM" cancel --job midrun
contains "$T/out" "cancelled 3 task(s) in job midrun"
touch "$T/gate"
wait "$txn" || fail "the run's last batch was not answered: $(cat "$T/txn.out")"
expect 1 "$SWARM" wait --job midrun --timeout 30      # cancelled: not succeeded
expect 0 "$SWARM" --json status --job midrun
python3 - "$T/out" <<'PY' || fail "the run cancelled mid-way: $(cat "$T/out")"
import json, sys
d = json.load(open(sys.argv[1]))
assert sorted(t["id"] for t in d["tasks"]) == ["a1", "a2", "a3", "b1", "b2", "b3"], d["tasks"]
for t in d["tasks"]:
    assert t["status"] == "cancelled" and t["reason"] == "cancelled by swarm cancel", t
PY
ok "a cancel of the job between a run's batches cancels all of the run's tasks"
