#!/usr/bin/env bash
# Jobs of any size answer every command (issue 15, sections 3 and 4):
# - a 100,000-task chain whose head fails: every link skipped (no recursion:
#   it overflowed the coordinator's stack at ~25,000), the chain named in the
#   report, the coordinator alive and its RSS bounded;
# - status, status --json, wait --json, results (table, --json) and logs of
#   a 100,000-task job: the replies used to outgrow the 8 MiB frame cap and
#   the CLI waited for nothing ("did not answer", exit 3);
# - swarm run of several batches is atomic: a batch the coordinator refuses
#   leaves nothing of the run behind (the first batches used to run);
# - cancel of 5,000 ids (over one request's 4,096) in time proportional to
#   the ids.
. "$(dirname "$0")/lib.sh"
use_redis 66
start_coordinator
start_agent a1 --allow-exec --slots 4
wait_agents 1

rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }

# --- the chain ------------------------------------------------------------------
python3 - "$T/chain.yaml" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("name: chain\nstages:\n  - {name: c0, command: [sh, -c, 'exit 3']}\n")
    for i in range(1, 100000):
        f.write("  - {name: c%d, command: ['true']}\n" % i)
PY
expect 0 "$SWARM" --timeout 10 run "$T/chain.yaml" --job chain
expect 1 "$SWARM" --timeout 10 wait --job chain --timeout 300
contains "$T/out" "job chain: 100000/100000 finished: 1 failed, 99999 skipped"
kill -0 "$COORD_PID" || fail "the coordinator died"
rss=$(rss_kib "$COORD_PID")
echo "coordinator RSS after the 100,000-task chain: $rss KiB"
# ~110 MiB plain; ASan's shadow memory and quarantine take several times that
limit=$((600 * 1024))
ldd "$SWARM_BUILD/swarm-coordinator" | grep -q libasan && limit=$((3 * 1024 * 1024))
[ "$rss" -lt "$limit" ] || fail "coordinator RSS $rss KiB (at most $limit)"
ok "a 100,000-task chain whose head failed: all skipped, coordinator alive ($rss KiB)"

# status: the summary and the most relevant rows, at once
expect 0 "$SWARM" status --job chain
contains "$T/out" "job chain: 100000 tasks: 1 failed, 99999 skipped"
contains "$T/out" "... and 99980 more tasks (swarm status --all lists every one)"
[ "$(wc -l < "$T/out")" -le 25 ] || fail "status printed $(wc -l < "$T/out") lines"
head -n 3 "$T/out" | grep -q "^failed .*c0 " || fail "the failure is not the first row"
expect 0 "$SWARM" status --job chain --limit 3
[ "$(grep -c '^skipped' "$T/out")" = 2 ] || fail "--limit 3 did not show 3 rows"
expect 0 "$SWARM" status --job chain --all
[ "$(grep -c '^skipped ' "$T/out")" = 99999 ] || fail "status --all did not list every task"
# --json: the document scripts parse, with every task, from the pages
expect 0 "$SWARM" --json status --job chain
python3 - "$T/out" <<'PY' || fail "status --json is not the whole job"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["job"] == "chain" and d["total"] == 100000, d.get("total")
assert len(d["tasks"]) == 100000
assert d["counts"]["skipped"] == 99999 and d["agents"] == 1
assert [t["id"] for t in d["tasks"][:3]] == ["c0", "c1", "c2"]
last = d["tasks"][-1]
assert last["reason"] == "dependency c99998 skipped (chain from c0 failed)", last["reason"]
assert set(last) >= {"id", "type", "runner", "status", "attempt", "agent", "host", "exit_code",
                     "reason", "submitted", "started", "finished"}
PY
expect 0 "$SWARM" --json status --job chain --limit 5
[ "$(json_get "$T/out" 'len(d["tasks"])')" = 5 ] || fail "--json --limit 5"
ok "status of 100,000 tasks: summary and top rows; --all and --json list every one"

expect 1 "$SWARM" --json wait --job chain --timeout 60
python3 - "$T/out" <<'PY' || fail "wait --json is not the whole job"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["done"] is True and d["timed_out"] is False and d["total"] == 100000
assert len(d["tasks"]) == 100000 and d["tasks"][0]["status"] == "failed"
PY
expect 1 "$SWARM" results --job chain
[ "$(grep -c ' skipped ' "$T/out")" = 99999 ] || fail "results did not list every task"
contains "$T/out" "dependency c99998 skipped (chain from c0 failed)"
contains "$T/out" "100000 tasks: 1 failed, 99999 skipped"
contains "$T/err" "c0 (failed), c1 (skipped)"
contains "$T/err" "and 99990 more"
expect 1 "$SWARM" results --job chain --json
python3 - "$T/out" <<'PY' || fail "results --json is not the whole job"
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d) == 100000 and d[0]["status"] == "failed" and d[0]["exit_code"] == 3
assert d[-1]["reason"] == "dependency c99998 skipped (chain from c0 failed)"
PY
expect 1 "$SWARM" results --job chain --markdown
contains "$T/out" "| \`c99999\` | **skipped** |"
expect 0 "$SWARM" logs --job chain c0
ok "wait --json, results (table, --json, --markdown) and logs of 100,000 tasks"

# --- cancel by many ids ------------------------------------------------------------
seq 1 20000 | sed 's/.*/true/' > "$T/cmds"
expect 0 "$SWARM" --timeout 10 run --commands "$T/cmds" --job flat --label os=none
ids=$(seq 1 5000 | sed 's/^/cmd-/')
t0=$(date +%s%N)
# shellcheck disable=SC2086
expect 0 "$SWARM" cancel --job flat $ids
t1=$(date +%s%N)
contains "$T/out" "cancelled 5000 task(s) in job flat"
echo "cancel of 5,000 ids in a 20,000-task job: $(( (t1 - t0) / 1000000 )) ms"
expect 0 "$SWARM" --json status --job flat --limit 1
[ "$(json_get "$T/out" 'd["counts"]["cancelled"]')" = 5000 ] || fail "not 5000 cancelled"
[ "$(json_get "$T/out" 'd["counts"]["queued"]')" = 15000 ] || fail "not 15000 queued"
# shellcheck disable=SC2086
expect 4 "$SWARM" cancel --job flat cmd-6000 nosuch
contains "$T/err" "no task 'nosuch'"
[ "$(json_get <("$SWARM" --json status --job flat --limit 1) 'd["counts"]["queued"]')" = 15000 ] \
    || fail "a cancel with an unknown id cancelled something"
ok "cancel of 5,000 ids (two requests), all or nothing per request"

# --- a run in batches is atomic ----------------------------------------------------
expect 0 "$SWARM" init atomic
expect 0 "$SWARM" spawn --job atomic --id cmd-4001 --label os=none -- true
seq 1 4500 | sed 's/.*/true/' > "$T/cmds"
expect 2 "$SWARM" --timeout 10 run --commands "$T/cmds" --job atomic --label os=linux
contains "$T/err" "task 'cmd-4001' already exists in job 'atomic'"
contains "$T/err" "none of job atomic's 4500 tasks was submitted"
expect 0 "$SWARM" --json status --job atomic
[ "$(json_get "$T/out" 'd["total"]')" = 1 ] || fail "the failed run left $(json_get "$T/out" 'd["total"]') tasks"
ok "a run whose third batch is refused submits nothing"
# ... and one that lands is held until its last batch: never half a job
expect 0 "$SWARM" --timeout 10 run --commands "$T/cmds" --job whole --wait
contains "$T/out" "4500 tasks: 4500 succeeded"
ok "a run of 4,500 commands in 3 batches ran whole"
kill -0 "$COORD_PID" || fail "the coordinator died"
