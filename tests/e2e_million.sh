#!/usr/bin/env bash
# A job of 1,000,000 tasks answers every command (issue 15, section 4):
# swarm run of a million commands (500 batches, one transaction), status
# (summary, --all, --json), a task run and its logs beside the million
# queued, cancel of the whole job, wait --json and results (table and
# --json) of a million. CTest label `heavy`: CI skips it (ctest -LE heavy);
# docs/benchmarks.md has a run. Prints the time of each step and the
# coordinator's RSS.
. "$(dirname "$0")/lib.sh"
avail=$(awk '/^MemAvailable/ { print int($2 / 1024 / 1024) }' /proc/meminfo)
[ "${avail:-0}" -ge 6 ] || { echo "skip: $avail GiB of memory available, 6 wanted"; exit 77; }
use_redis 70
start_coordinator
start_agent a1 --allow-exec --slots 4
wait_agents 1
N=${MILLION_N:-1000000}
rss() { awk '/^VmRSS/ { printf "%d MiB", $2 / 1024 }' "/proc/$COORD_PID/status"; }
t0=0
tick() { t0=$(date +%s%N); }
tock() { echo "  $1: $(( ($(date +%s%N) - t0) / 1000000 )) ms, coordinator RSS $(rss)"; }
echo "  idle: coordinator RSS $(rss)"

seq 1 "$N" | sed 's/.*/true/' > "$T/cmds"
tick
expect 0 "$SWARM" --timeout 60 run --commands "$T/cmds" --job million --label os=none
tock "swarm run of $N commands (not runnable: os=none)"
tick
expect 0 "$SWARM" --timeout 60 status --job million
tock "swarm status (summary)"
contains "$T/out" "job million: $N tasks: $N queued"
contains "$T/out" "more tasks (swarm status --all lists every one)"
tick
"$SWARM" --timeout 60 status --job million --all > "$T/all" || fail "status --all"
tock "swarm status --all"
[ "$(grep -c '^queued ' "$T/all")" = "$N" ] || fail "status --all listed $(grep -c '^queued ' "$T/all")"
tick
"$SWARM" --timeout 60 --json status --job million > "$T/status.json" || fail "status --json"
tock "swarm status --json"
[ "$(grep -c '^      "id": "cmd-' "$T/status.json")" = "$N" ] || fail "status --json rows"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["tasks"]) == int(sys.argv[2])' \
    "$T/status.json" "$N" || fail "status --json is not one document"
ok "status of $N tasks"

tick
expect 0 "$SWARM" spawn --job million --id beside -- echo "ran beside a million"
expect 0 "$SWARM" --timeout 60 wait --job million --timeout 60 beside
tock "a task spawned beside them, run and waited for"
expect 0 "$SWARM" logs --job million beside
contains "$T/out" "ran beside a million"
ok "a task runs beside $N queued ones; its logs"

tick
expect 0 "$SWARM" --timeout 120 cancel --job million
tock "swarm cancel --job (the whole job)"
contains "$T/out" "cancelled $N task(s) in job million"
tick
"$SWARM" --timeout 60 --json wait --job million --timeout 300 > "$T/wait.json"
rc=$?
tock "swarm wait --json"
[ "$rc" = 1 ] || fail "wait --json exit $rc"
[ "$(grep -c '^      "id": ' "$T/wait.json")" = $((N + 1)) ] || fail "wait --json rows"
tick
"$SWARM" results --job million > "$T/results" 2>"$T/results.err"
rc=$?
tock "swarm results"
[ "$rc" = 1 ] || fail "results exit $rc"
contains "$T/results" "$((N + 1)) tasks: 1 succeeded, $N cancelled"
tick
"$SWARM" results --job million --json > "$T/results.json" 2>/dev/null
tock "swarm results --json"
[ "$(grep -c '^    "id": ' "$T/results.json")" = $((N + 1)) ] || fail "results --json rows"
kill -0 "$COORD_PID" || fail "the coordinator died"
ok "cancel, wait --json and results of $N tasks; coordinator RSS $(rss)"
