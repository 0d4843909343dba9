#!/usr/bin/env bash
# Prometheus metrics, scraped the way Prometheus does while a job runs:
# `promtool check metrics` accepts every scrape of the coordinator and of
# both agents, and the values follow the job (agents by state, slots,
# queued by class, finished by status and runner, histograms, retries,
# agents lost, dropped frames, control verbs, Redis errors). The example
# scrape config and alert rules in docs/prometheus pass promtool too.
# Bad addresses, a taken port, a foreign Host header and a POST are refused.
. "$(dirname "$0")/lib.sh"
command -v promtool >/dev/null || { echo "skip: no promtool (deploy/install-deps.sh installs prometheus)"; exit 77; }
use_redis 53

# metric FILE SERIES: the value of one series (exact name and labels), or 0
metric() {
    awk -v s="$2" '$1 == s { print $2; found = 1 } END { if (!found) print 0 }' "$1"
}
# scrape NAME URL: to $T/NAME.txt, and promtool must accept it
scrape() {
    http 200 "$2/metrics"
    cp "$T/body" "$T/$1.txt"
    contains "$T/headers" "text/plain; version=0.0.4"
    promtool check metrics <"$T/$1.txt" >"$T/promtool.out" 2>&1 \
        || { cat "$T/promtool.out"; fail "promtool rejects the $1 scrape"; }
}
# until_metric NAME URL SERIES TEST: scrapes until the value passes the test (10 s)
until_metric() {
    for _ in $(seq 100); do
        scrape "$1" "$2"
        [ "$(awk -v v="$(metric "$T/$1.txt" "$3")" "BEGIN { print (v $4) }")" = 1 ] && return 0
        sleep 0.1
    done
    fail "$3 is $(metric "$T/$1.txt" "$3"), wanted $4"
}

# --- refusals: a bad address stops the daemon before it starts
COORD="$SWARM_BUILD/swarm-coordinator"
expect 2 "$COORD" -f --listen "tcp://127.0.0.1:$(free_port)" --control "tcp://127.0.0.1:$(free_port)" \
    --metrics nonsense
contains "$T/err" "address 'nonsense'"
expect 2 "$COORD" -f --listen "tcp://127.0.0.1:$(free_port)" --control "tcp://127.0.0.1:$(free_port)" \
    --metrics 127.0.0.1:65536
contains "$T/err" "0..65535"
expect 2 "$COORD" -f --listen "tcp://127.0.0.1:$(free_port)" --control "tcp://127.0.0.1:$(free_port)" \
    --metrics example.com:9100
contains "$T/err" "not an IPv4 address"
ok "bad --metrics addresses refused (exit 2)"

MP=$(free_port)
M="http://127.0.0.1:$MP"
start_coordinator --metrics "127.0.0.1:$MP"
# (a database of its own: the running coordinator holds this one)
redis-cli -p "$REDIS_PORT" -n 104 FLUSHDB >/dev/null
expect 1 "$COORD" -f --listen "tcp://127.0.0.1:$(free_port)" --control "tcp://127.0.0.1:$(free_port)" \
    --metrics "127.0.0.1:$MP" --redis "${SWARM_REDIS%/*}/104"
contains "$T/err" "cannot listen on 127.0.0.1:$MP"
ok "a taken metrics port is refused (exit 1)"

scrape c0 "$M"
for f in swarm_build_info swarm_coordinator_agents swarm_coordinator_slots \
         swarm_coordinator_tasks_queued swarm_coordinator_tasks_finished_total \
         swarm_coordinator_task_duration_seconds swarm_coordinator_dispatch_latency_seconds \
         swarm_coordinator_task_retries_total swarm_coordinator_redis_errors_total \
         swarm_coordinator_frames_dropped_total swarm_coordinator_control_requests_total \
         swarm_coordinator_agents_lost_total; do
    contains "$T/c0.txt" "# TYPE $f "
done
[ "$(metric "$T/c0.txt" 'swarm_coordinator_tasks_finished_total{status="succeeded",runner="codex"}')" = 0 ] \
    || fail "counters do not start at 0"

A1P=$(free_port)
A2P=$(free_port)
start_agent a1 --slots 2 --allow-exec --metrics "127.0.0.1:$A1P"
start_agent a2 --slots 2 --allow-exec --metrics "127.0.0.1:$A2P"
wait_agents 2

# --- a job: four quick successes, a failure, a crash that is retried once,
# and a slow task that runs while we scrape
expect 0 "$SWARM" init m1
for i in 1 2 3 4; do expect 0 "$SWARM" spawn --id "ok-$i" -- /bin/echo "ok $i"; done
expect 0 "$SWARM" spawn --id fails -- /bin/sh -c 'echo no >&2; exit 3'
expect 0 "$SWARM" spawn --id crash --max-attempts 2 -- /bin/sh -c 'kill -SEGV $$'
expect 0 "$SWARM" spawn --id slow -- /bin/sh -c 'echo slow; sleep 12'
wait_status slow running
scrape a1 "http://127.0.0.1:$A1P"
scrape a2 "http://127.0.0.1:$A2P"
scrape c1 "$M"
for f in swarm_agent_children_running swarm_agent_spawn_failures_total swarm_agent_output_bytes_total \
         swarm_agent_results_spooled swarm_agent_redis_errors_total swarm_agent_connected; do
    contains "$T/a1.txt" "# TYPE $f "
done
running=$(( $(metric "$T/a1.txt" swarm_agent_children_running) + $(metric "$T/a2.txt" swarm_agent_children_running) ))
[ "$running" -ge 1 ] || fail "no agent says it runs a child"
[ "$(metric "$T/a1.txt" swarm_agent_connected)" = 1 ] || fail "a1 not connected"
[ "$(metric "$T/a1.txt" swarm_agent_slots)" = 2 ] || fail "a1 slots"
[ "$(metric "$T/c1.txt" 'swarm_coordinator_slots')" = 4 ] || fail "slots: $(metric "$T/c1.txt" swarm_coordinator_slots)"
[ "$(metric "$T/c1.txt" 'swarm_coordinator_slots_busy')" -ge 1 ] || fail "no busy slot while slow runs"
[ "$(metric "$T/c1.txt" 'swarm_coordinator_agents{state="busy"}')" -ge 1 ] || fail "no busy agent"
[ "$(metric "$T/c1.txt" 'swarm_coordinator_tasks{state="running"}')" -ge 1 ] || fail "no running task"
[ "$(metric "$T/c1.txt" 'swarm_coordinator_control_requests_total{verb="submit"}')" = 7 ] \
    || fail "submit requests: $(metric "$T/c1.txt" 'swarm_coordinator_control_requests_total{verb="submit"}')"
[ "$(metric "$T/c1.txt" 'swarm_coordinator_tasks_submitted_total')" = 7 ] || fail "submitted"
ok "scraped while the job runs: promtool accepts it, busy agents and slots counted"

expect 1 "$SWARM" wait --timeout 60
scrape c2 "$M"
[ "$(metric "$T/c2.txt" 'swarm_coordinator_tasks_finished_total{status="succeeded",runner="exec"}')" = 5 ] \
    || fail "succeeded: $(metric "$T/c2.txt" 'swarm_coordinator_tasks_finished_total{status="succeeded",runner="exec"}')"
[ "$(metric "$T/c2.txt" 'swarm_coordinator_tasks_finished_total{status="failed",runner="exec"}')" = 2 ] \
    || fail "failed (fails, crash): $(metric "$T/c2.txt" 'swarm_coordinator_tasks_finished_total{status="failed",runner="exec"}')"
[ "$(metric "$T/c2.txt" 'swarm_coordinator_task_retries_total{reason="failure"}')" = 1 ] || fail "crash retry not counted"
[ "$(metric "$T/c2.txt" 'swarm_coordinator_task_duration_seconds_count{runner="exec"}')" = 7 ] || fail "duration count"
[ "$(metric "$T/c2.txt" 'swarm_coordinator_task_duration_seconds_bucket{runner="exec",le="2.5"}')" = 6 ] \
    || fail "slow (12 s) is not in the 2.5 s bucket, the 6 others are"
[ "$(metric "$T/c2.txt" 'swarm_coordinator_task_duration_seconds_bucket{runner="exec",le="+Inf"}')" = 7 ] || fail "+Inf"
# eight dispatches: seven tasks and the crash's second attempt (after its backoff)
[ "$(metric "$T/c2.txt" 'swarm_coordinator_dispatch_latency_seconds_count{runner="exec"}')" = 8 ] \
    || fail "dispatch latency count: $(metric "$T/c2.txt" 'swarm_coordinator_dispatch_latency_seconds_count{runner="exec"}')"
awk '$1 == "swarm_coordinator_task_duration_seconds_sum{runner=\"exec\"}" { exit !($2 >= 12 && $2 < 60) }' "$T/c2.txt" \
    || fail "duration sum: $(metric "$T/c2.txt" 'swarm_coordinator_task_duration_seconds_sum{runner="exec"}')"
[ "$(metric "$T/c2.txt" 'swarm_coordinator_control_requests_total{verb="wait"}')" -ge 1 ] || fail "wait verb"
scrape a1 "http://127.0.0.1:$A1P"
scrape a2 "http://127.0.0.1:$A2P"
sum_agents() { echo $(( $(metric "$T/a1.txt" "$1") + $(metric "$T/a2.txt" "$1") )); }
[ "$(sum_agents 'swarm_agent_tasks_finished_total{status="succeeded",runner="exec"}')" = 5 ] || fail "agents' succeeded"
[ "$(sum_agents 'swarm_agent_children_running')" = 0 ] || fail "children still running"
# stdout: "ok N\n" x 4 and "slow\n"; stderr: "no\n"
[ "$(sum_agents 'swarm_agent_output_bytes_total{stream="stdout"}')" = 25 ] \
    || fail "stdout bytes: $(sum_agents 'swarm_agent_output_bytes_total{stream="stdout"}')"
[ "$(sum_agents 'swarm_agent_output_bytes_total{stream="stderr"}')" = 3 ] \
    || fail "stderr bytes: $(sum_agents 'swarm_agent_output_bytes_total{stream="stderr"}')"
ok "after the job: finished by status and runner, duration and latency histograms, the retry"

# --- a task that cannot start is a spawn failure on its agent
expect 0 "$SWARM" spawn --id missing -- /no/such/program
expect 1 "$SWARM" wait missing --timeout 30
scrape a1 "http://127.0.0.1:$A1P"
scrape a2 "http://127.0.0.1:$A2P"
[ "$(sum_agents 'swarm_agent_spawn_failures_total{runner="exec"}')" -ge 1 ] || fail "spawn failure not counted"
ok "spawn failures counted on the agent"

# --- queued by placement class with free slots: what the alert watches
expect 0 "$SWARM" spawn --id nowhere --label gpu=yes -- /bin/true
until_metric c3 "$M" 'swarm_coordinator_tasks_queued{runner="exec",attempt="first"}' '== 1'
[ "$(metric "$T/c3.txt" 'swarm_coordinator_slots_free')" = 4 ] || fail "free slots"
expect 0 "$SWARM" cancel nowhere
until_metric c3 "$M" 'swarm_coordinator_tasks_queued{runner="exec",attempt="first"}' '== 0'
ok "a task no agent fits is queued by class while slots are free"

# --- an agent that dies is lost, dropped frames are counted
start_agent a3 --slots 1
wait_agents 3
kill -9 "$AGENT_PID_a3"
until_metric c4 "$M" 'swarm_coordinator_agents_lost_total' '== 1'
"$SWARM_BUILD/tests/sw_garbage" "$COORD_LISTEN" 1 || fail "garbage sender failed"
until_metric c4 "$M" 'swarm_coordinator_frames_dropped_total' '> 10'
ok "lost agent and dropped frames counted"

# --- an agent's bad --metrics address stops it before it starts
expect 2 "$SWARM_BUILD/swarm-agent" -f --coordinator "$COORD_LISTEN" --metrics 1.2.3.4.5:1
contains "$T/err" "--metrics"

# --- the HTTP rules: loopback Host only, read-only
http 403 "$M/metrics" -H 'Host: evil.example:9100'
contains "$T/body" "not a loopback address"
http 200 "$M/metrics" -H "Host: localhost:$MP"
http 405 "$M/metrics" -X POST
contains "$T/headers" "Allow: GET, HEAD"
http 200 "$M/"
contains "$T/body" "/metrics"
http 404 "$M/other"
ok "foreign Host (DNS rebinding), POST and unknown paths refused"

# --- Redis goes away mid-task: the coordinator counts errors, the agent
# counts them too and spools the result
RDIR="$T/redis2"
mkdir -p "$RDIR"
RPORT=$(free_port)
R2="redis://127.0.0.1:$RPORT/0"
redis-server --bind 127.0.0.1 --port "$RPORT" --dir "$RDIR" --save '' --appendonly no \
    --daemonize yes --pidfile "$RDIR/redis.pid" --logfile "$RDIR/redis.log" >/dev/null
for _ in $(seq 100); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
MP2=$(free_port)
L2="tcp://127.0.0.1:$(free_port)"
C2="tcp://127.0.0.1:$(free_port)"
"$COORD" -f --listen "$L2" --control "$C2" --redis "$R2" --heartbeat-ms 200 \
    --metrics "127.0.0.1:$MP2" >>"$T/coordinator2.log" 2>&1 &
PIDS+=($!)
A9P=$(free_port)
mkdir -p "$T/work-a9"
"$SWARM_BUILD/swarm-agent" -f --coordinator "$L2" --id a9 --workdir "$T/work-a9" --redis "$R2" \
    --state-dir "$T/state-a9" --allow-exec --metrics "127.0.0.1:$A9P" >>"$T/agent-a9.log" 2>&1 &
PIDS+=($!)
S2=("$SWARM" --coordinator "$C2" --redis "$R2")
for _ in $(seq 300); do [ "$("${S2[@]}" --json agents 2>/dev/null | grep -c '"id"')" = 1 ] && break; sleep 0.1; done
scrape r0 "http://127.0.0.1:$MP2"
[ "$(metric "$T/r0.txt" 'swarm_coordinator_redis_errors_total{kind="unreachable"}')" = 0 ] || fail "errors before"
expect 0 "${S2[@]}" init r1
expect 0 "${S2[@]}" spawn --id late -- /bin/sh -c 'sleep 1.5; echo late'
for _ in $(seq 300); do
    "${S2[@]}" --json status 2>/dev/null | grep -q '"status": "running"' && break
    sleep 0.1
done
kill "$(cat "$RDIR/redis.pid")"
until_metric ag9 "http://127.0.0.1:$A9P" 'swarm_agent_results_spooled' '== 1'
[ "$(metric "$T/ag9.txt" 'swarm_agent_results_spooled_total')" = 1 ] || fail "spooled total"
[ "$(metric "$T/ag9.txt" 'swarm_agent_redis_errors_total{kind="unreachable"}')" -ge 1 ] || fail "agent redis errors"
"${S2[@]}" init r2 >/dev/null 2>&1      # the coordinator writes the job: Redis is gone
until_metric r1 "http://127.0.0.1:$MP2" 'swarm_coordinator_redis_errors_total{kind="unreachable"}' '>= 1'
ok "Redis gone: errors counted on both daemons, the result spooled ($(metric "$T/r1.txt" 'swarm_coordinator_redis_errors_total{kind="unreachable"}') coordinator errors)"

# --- the example configuration and alert rules
promtool check rules "$SWARM_SRC/docs/prometheus/alerts.yml" >"$T/out" 2>&1 || { cat "$T/out"; fail "alert rules"; }
contains "$T/out" "SUCCESS: 3 rules found"
cp "$SWARM_SRC/docs/prometheus/"*.yml "$T/"
promtool check config "$T/prometheus.yml" >"$T/out" 2>&1 || { cat "$T/out"; fail "scrape config"; }
ok "docs/prometheus: the scrape config and the three alert rules pass promtool"
