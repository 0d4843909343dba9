#!/usr/bin/env bash
# Two coordinators pointed at the same Redis database (issue 15): the
# second one used to load the first one's jobs, find their running tasks
# unclaimed (their agents talk to the first) and queue them again,
# writing over the first one's state: a task ran twice. Now a coordinator
# holds the database (swarm:coordinator, renewed every second):
# - a second one refuses to start, naming the holder, and writes nothing;
# - one started after the holder was SIGKILLed on this host takes over at
#   once (the holder's pid is gone), and its agents come back to it;
# - a holder SIGSTOPped past its hold while another took over stops when
#   resumed, before it writes: no cross-writes.
. "$(dirname "$0")/lib.sh"
use_redis 100
start_coordinator --ownership-ms 5000
start_agent a1 --allow-exec --slots 2
wait_agents 1
first=$COORD_PID
expect 0 "$SWARM" init shared
expect 0 "$SWARM" spawn --id long -- sleep 3
wait_status long running

# --- a second coordinator on the same database refuses --------------------------
second_control="tcp://127.0.0.1:$(free_port)"
"$SWARM_BUILD/swarm-coordinator" -f --listen "tcp://127.0.0.1:$(free_port)" \
    --control "$second_control" --heartbeat-ms 200 --ownership-ms 5000 >"$T/second.log" 2>&1 &
pid2=$!
PIDS+=("$pid2")
for _ in $(seq 200); do kill -0 "$pid2" 2>/dev/null || break; sleep 0.05; done
kill -0 "$pid2" 2>/dev/null && fail "the second coordinator on the same Redis database runs"
wait "$pid2"
rc=$?
[ "$rc" = 1 ] || fail "the second coordinator exited $rc, not 1"
contains "$T/second.log" "another coordinator holds"
contains "$T/second.log" "$SWARM_COORDINATOR"
grep -q "resumed\|running it again" "$T/second.log" && fail "the second coordinator loaded the jobs"
expect 0 "$SWARM" wait --timeout 30 long
[ "$(task_field long attempt)" = 1 ] || fail "long ran again"
ok "a second coordinator on the same database refuses to start, naming the holder"

# --- the holder SIGKILLed: the next one takes over at once ----------------------
kill -KILL "$first"
started=$(date +%s%N)
start_coordinator --ownership-ms 5000     # same host, the holder's pid gone
took=$((($(date +%s%N) - started) / 1000000))
contains "$T/coordinator.log" "took over"
[ "$took" -lt 4000 ] || fail "the takeover took $took ms: it waited for the hold to lapse"
expect 0 "$SWARM" status --job shared
contains "$T/out" "succeeded  long"
ok "after a SIGKILL the next coordinator takes the database over at once"

# --- the holder stopped past its hold, another took over: it stops -------------
holder=$COORD_PID
holder_control=$SWARM_COORDINATOR
kill -STOP "$holder"
third_control="tcp://127.0.0.1:$(free_port)"
"$SWARM_BUILD/swarm-coordinator" -f --listen "tcp://127.0.0.1:$(free_port)" \
    --control "$third_control" --heartbeat-ms 200 --ownership-ms 5000 >>"$T/third.log" 2>&1 &
pid3=$!
PIDS+=("$pid3")
for _ in $(seq 400); do                   # it waits for the 5 s hold to lapse
    SWARM_COORDINATOR=$third_control "$SWARM" --timeout 1 status >/dev/null 2>&1 && break
    sleep 0.05
done
SWARM_COORDINATOR=$third_control "$SWARM" --timeout 2 status >/dev/null \
    || fail "the third coordinator did not take over an expired hold"
kill -CONT "$holder"
for _ in $(seq 200); do kill -0 "$holder" 2>/dev/null || break; sleep 0.05; done
kill -0 "$holder" 2>/dev/null && fail "the resumed coordinator runs on beside the new holder"
contains "$T/coordinator.log" "took this Redis database over"
SWARM_COORDINATOR=$third_control expect 0 "$SWARM" init after
SWARM_COORDINATOR=$third_control expect 0 "$SWARM" spawn --job after --id x -- true
ok "a holder resumed after another took over stops before it writes"
