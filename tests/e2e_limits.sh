#!/usr/bin/env bash
# Farm-wide limits and rate-limits (issue 18 §3, §4), through the daemons:
#   - bad --limit values are refused at startup (exit 2, naming the value);
#     a bad --resource is refused by spawn (exit 2) and by a plan;
#   - `--limit codex=2` with 3 agents x 2 slots: the stand-in's ledger
#     (start and end times of every codex process) never shows a third codex
#     at once, while exec tasks flow past the waiting codex tasks;
#   - a task on a resource no limit names runs (unlimited);
#   - swarm status shows each limit with its use (text and --json);
#   - a coordinator restart while two codex tasks run: the use is rebuilt
#     from the running tasks, so a queued codex task still waits;
#   - a provider answering 429 three times, then succeeding: the task
#     succeeds having used one attempt, throttled 3 (status, results), the
#     effective limit dropped to 1 and climbed back to 2 after
#     COORD_LIMIT_RAISE_AFTER (5) successes.
. "$(dirname "$0")/lib.sh"
use_redis 115
FAKE_CLAUDE="$SWARM_SRC/tests/fake-claude.sh"
export FAKE_LEDGER="$T/ledger"
: >"$FAKE_LEDGER"

# --- bad input: the coordinator refuses to start, naming the value
for bad in "x=0" "=3" "codex=abc" "codex=99999999999999999999999" "codex=1000001" \
           "codex" "a b=2" "$(printf 'caf\xc3\xa9=2')" "codex=-1" "codex= 2"; do
    timeout 10 "$SWARM_BUILD/swarm-coordinator" -f --listen "tcp://127.0.0.1:$(free_port)" \
        --control "tcp://127.0.0.1:$(free_port)" --limit "$bad" >"$T/out" 2>"$T/err"
    rc=$?
    [ "$rc" = 2 ] || fail "--limit '$bad' exited $rc, wanted 2: $(cat "$T/err")"
    grep -q -- "--limit" "$T/err" || fail "--limit '$bad': the error does not say which: $(cat "$T/err")"
done
printf 'limit = codex=0\n' >"$T/bad.conf"
timeout 10 "$SWARM_BUILD/swarm-coordinator" -f -c "$T/bad.conf" --listen "tcp://127.0.0.1:$(free_port)" \
    --control "tcp://127.0.0.1:$(free_port)" >"$T/out" 2>"$T/err"
[ $? = 2 ] || fail "limit = codex=0 in the config file was taken"
ok "bad --limit values (0, no name, not a number, huge, odd bytes) exit 2 naming the value"

# the limit from the config file, plus one on the command line
printf '# farm-wide limits\nlimit = codex=2\n' >"$T/coord.conf"
start_coordinator -c "$T/coord.conf" --limit gpu=1
for a in a1 a2 a3; do
    start_agent "$a" --slots 2 --allow-exec --claude "$FAKE_CLAUDE"
done
wait_agents 3

expect 0 "$SWARM" init lim
expect 2 "$SWARM" spawn --id bad --resource "a b" "x"
contains "$T/err" "--resource"
expect 2 "$SWARM" spawn --id bad --resource "" "x"
expect 2 "$SWARM" spawn --id bad --resource "$(printf 'r\x01')" "x"
expect 2 "$SWARM" spawn --id bad --resource "$(head -c 65 /dev/zero | tr '\0' r)" "x"
printf 'name: p\nworkers:\n  - {id: w, task: x, resources: ["a b"]}\n' >"$T/bad-plan.yaml"
"$SWARM" run "$T/bad-plan.yaml" >"$T/out" 2>"$T/err" && fail "a plan with a bad resource ran"
grep -q "invalid resource name 'a b'" "$T/err" || fail "plan error: $(cat "$T/err")"
ok "bad resource names refused by spawn and by a plan"

# --- 8 codex tasks of 1.5 s, 6 exec tasks of 0.5 s, one on an unlimited resource
for i in 1 2 3 4 5 6 7 8; do
    expect 0 "$SWARM" spawn --id "c$i" "FAKE:sleep=1.5 codex work $i"
done
for i in 1 2 3 4 5 6; do
    expect 0 "$SWARM" spawn --id "e$i" -- sleep 0.5
done
expect 0 "$SWARM" spawn --id lic --resource licence -- true
# while it runs: status shows the limit in use, never above 2
seen=0
for _ in $(seq 100); do
    expect 0 "$SWARM" --json status
    used=$(json_get "$T/out" "[l['used'] for l in d['limits'] if l['name']=='codex'][0]")
    [ "$used" -le 2 ] || fail "status shows codex used $used of 2"
    [ "$used" = 2 ] && { seen=1; break; }
    sleep 0.05
done
[ "$seen" = 1 ] || fail "codex never at its limit of 2"
expect 0 "$SWARM" status
grep -q "limit codex: 2 of 2 in use" "$T/out" || { cat "$T/out"; fail "status text lacks the limit"; }
grep -q "limit gpu: 0 of 1 in use" "$T/out" || { cat "$T/out"; fail "status text lacks gpu"; }
expect 0 "$SWARM" wait --timeout 120
python3 - "$FAKE_LEDGER" <<'PY' || fail "the ledger shows more than 2 codex at once"
import sys
ev = []
for line in open(sys.argv[1]):
    kind, job, tid, att, agent, pid, ns = line.split()
    if job == "lim":
        ev.append((int(ns), 0 if kind == "end" else 1, tid))
ev.sort()
run = peak = 0
for ns, k, tid in ev:
    run += 1 if k else -1
    peak = max(peak, run)
starts = sum(1 for e in ev if e[1])
assert starts == 8, f"{starts} codex runs"
assert peak == 2, f"peak {peak} codex at once"
PY
# exec tasks flowed past the waiting codex tasks: all done before the last codex started
expect 0 "$SWARM" --json status
json_get "$T/out" "max(t['finished'] for t in d['tasks'] if t['id'].startswith('e')) < max(t['started'] for t in d['tasks'] if t['id'].startswith('c'))" \
    | grep -q True || fail "exec tasks waited behind codex tasks"
[ "$(task_field lic status)" = succeeded ] || fail "the task on an unlimited resource: $(task_field lic status)"
[ "$(json_get "$T/out" "[l['used'] for l in d['limits'] if l['name']=='codex'][0]")" = 0 ] \
    || fail "codex still in use after the job"
ok "--limit codex=2 over 3 agents x 2 slots: at most 2 codex at once (ledger), exec tasks flowed past"

# --- a plan's resources: three exec tasks on gpu (limit 1) run one at a time
cat >"$T/gpu-plan.yaml" <<'YAML'
name: gpu
workers:
  - {id: g1, command: sleep 0.7, resources: [gpu]}
  - {id: g2, command: sleep 0.7, resources: [gpu]}
  - {id: g3, command: sleep 0.7, resources: [gpu]}
  - {id: free, command: "true"}
YAML
expect 0 "$SWARM" run --job gpu --wait --timeout 60 "$T/gpu-plan.yaml"
expect 0 "$SWARM" --json status --job gpu
python3 - "$T/out" <<'PY' || fail "gpu tasks overlapped"
import json, sys
d = json.load(open(sys.argv[1]))
iv = sorted((t["started"], t["finished"]) for t in d["tasks"] if t["id"].startswith("g"))
assert len(iv) == 3 and all(s and f for s, f in iv), iv
assert all(iv[i][1] <= iv[i + 1][0] for i in range(2)), iv
PY
ok "a plan's resources: [gpu] with --limit gpu=1 runs its tasks one at a time"

# --- restart: the use is rebuilt from the running tasks
expect 0 "$SWARM" init lim2
expect 0 "$SWARM" spawn --id r1 "FAKE:sleep=30 long one"
expect 0 "$SWARM" spawn --id r2 "FAKE:sleep=30 long two"
wait_status r1 running
wait_status r2 running
kill_coordinator
MPORT=$(free_port)
coordinator_again -c "$T/coord.conf" --limit gpu=1 --metrics "$MPORT"
coordinator_up || fail "the coordinator did not come back"
expect 0 "$SWARM" --json status
[ "$(json_get "$T/out" "([l['used'] for l in d['limits'] if l['name']=='codex'][0], sorted(t['status'] for t in d['tasks']))")" \
    = "(2, ['running', 'running'])" ] \
    || fail "after a restart: $(json_get "$T/out" "(d['limits'], [(t['id'], t['status']) for t in d['tasks']])")"
expect 0 "$SWARM" spawn --id r3 "FAKE:sleep=0 third"
sleep 1
[ "$(task_field r3 status)" = queued ] || fail "r3 ran past the limit after a restart: $(task_field r3 status)"
# a cancel gives the unit back: r3 runs
expect 0 "$SWARM" cancel r1
expect 0 "$SWARM" wait --timeout 30 r3
[ "$(task_field r3 status)" = succeeded ] || fail "r3 is $(task_field r3 status)"
[ "$(task_field r2 status)" = running ] || fail "r2 is $(task_field r2 status)"
expect 0 "$SWARM" cancel r2
expect 1 "$SWARM" wait --timeout 30
# the restart cost no attempt: the agents' re-HELLO got through at once
# (a BYE before WELCOME is not a refusal: fault.coord_quick_restart)
[ "$(task_field r1 status)" = cancelled ] || fail "r1: $(task_field r1 status)"
[ "$(task_field r1 attempt)" = 1 ] && [ "$(task_field r2 attempt)" = 1 ] \
    || fail "the restart cost an attempt: r1 at $(task_field r1 attempt), r2 at $(task_field r2 attempt)"
expect 0 "$SWARM" --json status
[ "$(json_get "$T/out" "[l['used'] for l in d['limits'] if l['name']=='codex'][0]")" = 0 ] \
    || fail "codex still in use after the cancels"
ok "after a coordinator restart the limit's use comes from the running tasks; a cancel gives it back"

# --- rate-limits: 429 three times, then success
expect 0 "$SWARM" init thr
expect 0 "$SWARM" spawn --id t1 --max-attempts 2 "FAKE:ratelimit=3 busy provider"
expect 0 "$SWARM" wait --timeout 60
[ "$(task_field t1 status)" = succeeded ] || fail "t1 is $(task_field t1 status)"
[ "$(task_field t1 throttled)" = 3 ] || fail "t1 throttled $(task_field t1 throttled)"
[ "$(task_field t1 attempt)" = 4 ] || fail "t1 at attempt $(task_field t1 attempt)"
expect 0 "$SWARM" --json results
[ "$(json_get "$T/out" "[(x['attempts_used'], x['throttled']) for x in d if x['id']=='t1'][0]")" = "(1, 3)" ] \
    || fail "results: $(cat "$T/out")"
expect 0 "$SWARM" results
grep -qE "^t1 +succeeded +1 .*\[rate-limited 3x\]" "$T/out" || { cat "$T/out"; fail "results text: attempt 1 and the throttles"; }
expect 0 "$SWARM" results --markdown
grep -qF '| `t1` | succeeded | 1 |' "$T/out" || { cat "$T/out"; fail "results markdown: attempt 1"; }
expect 0 "$SWARM" status
grep -q "attempt 1 (+3 rate-limited)" "$T/out" || { cat "$T/out"; fail "status text lacks the throttles"; }
grep -q "limit codex: 0 of 1 in use (lowered from 2 after rate-limits), 3 rate-limited runs" "$T/out" \
    || { cat "$T/out"; fail "status does not show the lowered limit"; }
[ "$(grep -c "^start thr t1 " "$FAKE_LEDGER")" = 4 ] || fail "t1 ran $(grep -c "^start thr t1 " "$FAKE_LEDGER") times"
# the job's history names each retry a rate-limit
expect 0 "$SWARM" events --job thr --task t1
[ "$(grep -c "retried.*rate-limited by the provider" "$T/out")" = 3 ] \
    || { cat "$T/out"; fail "events: t1's 3 retries are not named rate-limits"; }
# a claude task throttled once: its own limit is unlimited, it succeeds too
expect 0 "$SWARM" spawn --id k1 --runner claude "FAKE:ratelimit=1 claude busy"
expect 0 "$SWARM" wait --timeout 60 k1
[ "$(task_field k1 throttled)" = 1 ] && [ "$(task_field k1 status)" = succeeded ] \
    || fail "claude k1: $(task_field k1 status), throttled $(task_field k1 throttled)"
http 200 "http://127.0.0.1:$MPORT/metrics"
for m in 'swarm_coordinator_limit{resource="codex"} 2' 'swarm_coordinator_limit_effective{resource="codex"} 1' \
         'swarm_coordinator_limit_rate_limited_total{resource="codex"} 3' \
         'swarm_coordinator_task_retries_total{reason="rate_limited"} 4' \
         'swarm_coordinator_limit_used{resource="gpu"} 0'; do
    grep -qxF "$m" "$T/body" || { grep swarm_coordinator_limit "$T/body"; fail "/metrics lacks $m"; }
done
ok "429 three times then success: succeeded on its first attempt's count, throttled 3 shown, limit lowered to 1"
# recovery: 5 successes raise it by one
for i in 1 2 3 4 5; do
    expect 0 "$SWARM" spawn --id "ok$i" "FAKE:sleep=0 fine $i"
done
expect 0 "$SWARM" wait --timeout 60
expect 0 "$SWARM" --json status
[ "$(json_get "$T/out" "[(l['effective'], l['limit']) for l in d['limits'] if l['name']=='codex'][0]")" = "(2, 2)" ] \
    || fail "codex did not recover: $(json_get "$T/out" "d['limits']")"
ok "the effective limit climbed back to 2 after 5 successes"

# --- the throttle count is stored with the task: a restart keeps it
kill_coordinator
coordinator_again -c "$T/coord.conf"
coordinator_up || fail "the coordinator did not come back"
[ "$(task_field t1 throttled)" = 3 ] && [ "$(task_field t1 attempt)" = 4 ] \
    || fail "after a restart t1: throttled $(task_field t1 throttled), attempt $(task_field t1 attempt)"
expect 0 "$SWARM" --json results --job thr
[ "$(json_get "$T/out" "[(x['attempts_used'], x['throttled']) for x in d if x['id']=='t1'][0]")" = "(1, 3)" ] \
    || fail "results after a restart: $(cat "$T/out")"
ok "a coordinator restart keeps a task's rate-limited runs"
