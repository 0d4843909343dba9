#!/usr/bin/env bash
# The orphan sweep reads a task's token whole (issue 14, section 5). With
# a job and a task id of 128 characters (the longest sw_id_valid accepts)
# the token SWARM_RUN=AGENTPID:JOB ID#ATTEMPT is about 270 bytes; read into
# a 128-byte buffer it named no running task, and a live double-forked
# process of the running task was killed within a second. Now it lives as
# long as its task, and goes when the task ends.
. "$(dirname "$0")/lib.sh"
use_redis 37
start_coordinator
start_agent a1 --slots 1
wait_agents 1
job=$(printf 'j%.0s' $(seq 128))
id=$(printf 't%.0s' $(seq 127))x
tok="stray$$"
expect 0 "$SWARM" init "$job"
expect 0 "$SWARM" spawn --id "$id" "FAKE:escape=$tok FAKE:sleep=4"
for _ in $(seq 100); do pgrep -f "sleep 1000; : $tok" >/dev/null && break; sleep 0.05; done
pgrep -f "sleep 1000; : $tok" >/dev/null || fail "the task's double-forked process did not start"
# the sweep runs once a second: give it three
sleep 3
pgrep -f "sleep 1000; : $tok" >/dev/null || fail "a running task's stray was killed (its token was cut)"
grep -q "killing process .* left behind" "$T/agent-a1.log" && fail "the agent killed a live task's process"
ok "with ids of 128 characters, a running task's process outside its group lives"
expect 0 "$SWARM" wait --timeout 30
for _ in $(seq 100); do pgrep -f "sleep 1000; : $tok" >/dev/null || break; sleep 0.05; done
pgrep -f "sleep 1000; : $tok" >/dev/null && fail "the stray outlived its task"
contains "$T/agent-a1.log" "left behind"
ok "and goes when its task ends"
