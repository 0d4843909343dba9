#!/usr/bin/env bash
# swarm events: a job's history through the daemons, as a user reads it.
#   - `events -f` started before the job follows it live and ends by itself
#     when the job is complete: submitted, queued, dispatched to AGENT
#     (attempt N), started, finished STATUS (exit), retried with how the
#     attempt ended, skipped and cancelled with the reason;
#   - --json: one object per line with the fields of each event;
#   - an agent SIGKILLed while it runs a task: "agent lost", the task
#     retried naming the agent, attempt 2 elsewhere; a drained agent;
#   - a coordinator SIGKILLed and restarted: "resumed", nothing told twice;
#   - swarm status --job J ID: the task and its last events (--json too);
#   - --task, --tail, and usage errors.
. "$(dirname "$0")/lib.sh"
use_redis 91
start_coordinator
start_agent a1 --slots 2 --allow-exec
start_agent a2 --slots 2 --allow-exec --label place=b
wait_agents 2
expect 0 "$SWARM" init hist
"$SWARM" events -f --job hist >"$T/f.out" 2>"$T/f.err" &
follower=$!
PIDS+=("$follower")
"$SWARM" --json events -f --job hist >"$T/fj.out" 2>"$T/fj.err" &
jfollower=$!
PIDS+=("$jfollower")
# design waits until every task is in: else the job would be complete (and
# the followers done) between two spawns
expect 0 "$SWARM" spawn --id design -- /bin/sh -c 'while [ ! -e "$0" ]; do sleep 0.05; done' "$T/all-in"
expect 0 "$SWARM" spawn --id build --after design -- /bin/sh -c \
    '[ "$SWARM_ATTEMPT" = 1 ] && kill -SEGV $$; exit 0'
expect 0 "$SWARM" spawn --id lint -- /bin/sh -c 'exit 2'
expect 0 "$SWARM" spawn --id docs --after lint -- /bin/true
expect 0 "$SWARM" spawn --id slow -- /bin/sleep 60
wait_status slow running
touch "$T/all-in"
expect 0 "$SWARM" cancel slow
expect 1 "$SWARM" wait --timeout 60
for _ in $(seq 200); do kill -0 "$follower" 2>/dev/null || break; sleep 0.05; done
kill -0 "$follower" 2>/dev/null && fail "events -f did not end with the job"
wait "$follower" || fail "events -f exited $?: $(cat "$T/f.err")"
wait "$jfollower" || fail "events -f --json exited $?"
for want in "submitted 1 task: design" "dispatched design to a" "started design on a" \
            "finished design succeeded (exit 0, attempt 1 on a" "queued build: its dependencies succeeded" \
            "retried build: failed: killed by signal 11 (exit 139) (attempt 1 on a" \
            "dispatched build to a" "(attempt 2)" "finished build succeeded (exit 0, attempt 2 on a" \
            "finished lint failed (exit 2, attempt 1 on a" "skipped docs: dependency lint failed" \
            "cancelling slow (attempt 1 on a" "cancelled slow (attempt 1 on a" \
            "complete: 5 tasks, 2 succeeded, 1 failed, 1 cancelled, 1 skipped"; do
    grep -qF -- "$want" "$T/f.out" || { cat "$T/f.out"; fail "events -f lacks '$want'"; }
done
grep -qE 'cancelling slow \(attempt 1 on a[12]\): cancelled by swarm cancel$' "$T/f.out" \
    || { cat "$T/f.out"; fail "the cancelling event lacks its reason"; }
grep -qE '^[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}  submitted' "$T/f.out" || fail "no time on the lines"
[ "$(tail -n 1 "$T/f.out" | cut -c 15-)" = "complete: 5 tasks, 2 succeeded, 1 failed, 1 cancelled, 1 skipped" ] \
    || fail "the last event: $(tail -n 1 "$T/f.out")"
python3 - "$T/fj.out" <<'EOF' || fail "events --json: $(cat "$T/fj.out")"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
assert all(isinstance(e["t"], int) and e["t"] > 1.7e12 for e in ev)
assert [e["t"] for e in ev] == sorted(e["t"] for e in ev)
def one(**kw):
    hits = [e for e in ev if all(e.get(k) == v for k, v in kw.items())]
    assert len(hits) == 1, (kw, hits)
    return hits[0]
d = one(event="dispatched", task="design")
assert d["attempt"] == 1 and d["agent"] in ("a1", "a2"), d
f = one(event="finished", task="lint")
assert (f["status"], f["exit_code"], f["attempt"]) == ("failed", 2, 1), f
r = one(event="retried", task="build")
assert r["attempt"] == 1 and r["retry_ms"] >= 0 and "exit 139" in r["reason"], r
one(event="dispatched", task="build", attempt=2)
s = one(event="skipped", task="docs")
assert s["reason"] == "dependency lint failed", s
c = one(event="complete")
assert c["count"] == 5, c
# each submitted once, before anything else of its task
sub = [i for e in ev if e["event"] == "submitted" for i in e["ids"]]
assert sorted(sub) == ["build", "design", "docs", "lint", "slow"], sub
for task in sub:
    first = [e for e in ev if e.get("task") == task or task in e.get("ids", [])][0]
    assert first["event"] == "submitted", (task, first)
EOF
ok "events -f followed the job live and ended with it; --json: one object per line with each event's fields"

expect 0 "$SWARM" status --job hist build
contains "$T/out" "task build of job hist: succeeded, attempt 2"
contains "$T/out" "retried build: failed: killed by signal 11"
contains "$T/out" "finished build succeeded (exit 0, attempt 2"
expect 0 "$SWARM" --json status --job hist build
[ "$(json_get "$T/out" "(d['status'], d['attempt'], d['exit_code'], [e['event'] for e in d['events']][-2:])")" \
  = "('succeeded', 2, 0, ['started', 'finished'])" ] || fail "status --json of a task: $(cat "$T/out")"
expect 4 "$SWARM" status --job hist nope
expect 2 "$SWARM" status --job hist a b
expect 0 "$SWARM" events --job hist --task lint
[ "$(grep -vc 'lint' "$T/out")" = 0 ] && [ "$(wc -l <"$T/out")" = 3 ] || fail "--task lint: $(cat "$T/out")"
expect 0 "$SWARM" events --job hist --tail 2
[ "$(wc -l <"$T/out")" = 2 ] && contains "$T/out" "complete: 5 tasks"
expect 0 "$SWARM" events --job hist --task build --tail 1
contains "$T/out" "finished build succeeded"
[ "$(wc -l <"$T/out")" = 1 ] || fail "--task --tail: $(cat "$T/out")"
ok "status --job J ID shows the task and its last events; --task and --tail"

# --- an agent lost, an agent drained
expect 0 "$SWARM" init hist2
expect 0 "$SWARM" spawn --id far --label place=b --max-attempts 2 -- /bin/sh -c \
    '[ "$SWARM_AGENT" = a2 ] && sleep 60; echo ok'
wait_status far running
kill -9 "$AGENT_PID_a2"
start_agent a3 --slots 1 --allow-exec --label place=b
expect 0 "$SWARM" wait --timeout 60 far
expect 0 "$SWARM" spawn --id held -- /bin/sh -c 'while [ ! -e "$0" ]; do sleep 0.05; done' "$T/go"
wait_status held running
holder=$(task_field held agent)
expect 0 "$SWARM" drain "$holder"
touch "$T/go"
expect 0 "$SWARM" wait --timeout 60
expect 0 "$SWARM" events
contains "$T/out" "agent a2 lost: missed its heartbeats (1 task of this job ran there)"
contains "$T/out" "retried far: agent a2 lost: missed its heartbeats (attempt 1 on a2)"
contains "$T/out" "dispatched far to a3 (attempt 2)"
contains "$T/out" "agent $holder draining: swarm drain (it finishes its 1 task of this job, takes no new ones)"
ok "an agent SIGKILLed: agent lost, the task retried naming it, attempt 2 on another; a drained agent"

# --- the coordinator SIGKILLed and restarted mid-job
expect 0 "$SWARM" init hist3
# long runs until the coordinator is back (a loaded machine may take
# seconds between two lines here)
expect 0 "$SWARM" spawn --id long -- /bin/sh -c 'while [ ! -e "$0" ]; do sleep 0.05; done; echo done' "$T/go3"
wait_status long running
"$SWARM" events -f --job hist3 >"$T/r.out" 2>"$T/r.err" &
rfollower=$!
PIDS+=("$rfollower")
kill_coordinator
sleep 0.5
coordinator_again
for _ in $(seq 200); do grep -qE "resumed [0-9]+ task" "$T/coordinator.log" && break; sleep 0.05; done
touch "$T/go3"
expect 0 "$SWARM" wait --timeout 60 --job hist3
expect 0 "$SWARM" --json events --job hist3
python3 - "$T/out" <<'EOF' || fail "events across a restart: $(cat "$T/out")"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
kinds = [(e["event"], e.get("task")) for e in ev]
assert kinds.count(("submitted", None)) == 1, kinds
assert [e["attempt"] for e in ev if e["event"] == "dispatched"].count(1) == 1, kinds
assert ("resumed", None) in kinds, kinds
assert kinds.index(("resumed", None)) < kinds.index(("finished", "long")), kinds
assert kinds[-1] == ("complete", None), kinds
EOF
ok "a restarted coordinator: 'resumed', then the task's end; nothing of before told again"
for _ in $(seq 200); do kill -0 "$rfollower" 2>/dev/null || break; sleep 0.05; done
kill -0 "$rfollower" 2>/dev/null && fail "events -f did not end with the job across the restart"
wait "$rfollower" || fail "events -f across the restart exited $?: $(cat "$T/r.err")"
contains "$T/r.out" "resumed"
contains "$T/r.out" "finished long succeeded"
contains "$T/r.out" "complete: 1 task, 1 succeeded"
ok "events -f followed the job across the coordinator's restart to its end"

# --- Redis refuses the event log's write (the key is not a stream): the
# task and the request it tells of go on; the refusal is logged, once per
# write, naming the key; swarm events says what is wrong.
expect 0 "$SWARM" init hist4
evkey=$(rkey events hist4)
redis-cli -p "$REDIS_PORT" -n 91 SET "$evkey" not-a-stream >/dev/null
expect 0 "$SWARM" spawn --id fine -- /bin/sh -c 'echo fine'
expect 0 "$SWARM" wait --timeout 60 --job hist4
expect 0 "$SWARM" status --job hist4 fine
contains "$T/out" "succeeded"
contains "$T/out" "last events: cannot be read: "
contains "$T/out" "WRONGTYPE"
expect 0 "$SWARM" --json status --job hist4 fine
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["status"]=="succeeded" and d["events"]==[] and "WRONGTYPE" in d["events_error"], d' "$T/out" || fail "status --json: $(cat "$T/out")"
contains "$T/coordinator.log" "refused the write of $evkey (an event of job hist4, passed over)"
grep -q "Redis refused to store task fine" "$T/coordinator.log" && fail "a refused event failed its task"
[ "$(redis-cli -p "$REDIS_PORT" -n 91 GET "$evkey")" = not-a-stream ] || fail "the key was overwritten"
expect 1 "$SWARM" events --job hist4
contains "$T/err" "WRONGTYPE"
ok "a refused event write is logged and passed over: the task succeeded, no outage"

expect 4 "$SWARM" events --job nope
contains "$T/err" "no job 'nope'"
expect 2 "$SWARM" events --tail x
expect 2 "$SWARM" events --job 'bad job'
expect 2 "$SWARM" events extra
expect 0 "$SWARM" events --help
contains "$T/out" "--follow"
ok "usage errors (exit 2), an unknown job (exit 4)"
