#!/usr/bin/env bash
# Pass: processes that leave their task's process group die with the task.
# A codex task leaves a setsid'd `sleep` in a session of its own and ends;
# a task that ignores SIGTERM/SIGINT and leaves one too is timed out. The
# agent, a child subreaper, inherits both escapees when their parents exit
# and kills them (they carry the task's SWARM_RUN); a task still running
# keeps its own. Every task: one result; no stray process.
. "$(dirname "$0")/lib.sh"
use_redis 21
start_coordinator
start_agent a1 --slots 3
wait_agents 1
tok="escape$$x"
expect 0 "$SWARM" init escjob
expect 0 "$SWARM" spawn --id quits "FAKE:escape=$tok-a leaves a daemon behind"
expect 0 "$SWARM" spawn --id stubborn --timeout 1 --max-attempts 1 \
    "FAKE:ignore-term FAKE:escape=$tok-b FAKE:sleep=60 hangs"
expect 0 "$SWARM" spawn --id busy "FAKE:escape=$tok-c FAKE:sleep=4 still running"
fault "a task escapes its group with setsid and exits"
fault "a task escapes with setsid, ignores TERM and hangs past its timeout"
expect 0 "$SWARM" wait --timeout 30 quits
sleep 0.5
pgrep -f "$tok-a" >/dev/null && fail "the escapee of a finished task survived"
pgrep -f "$tok-c" >/dev/null || fail "the escapee of a running task was killed early"
ok "a finished task's escapee is killed, a running task's is kept"
expect 1 "$SWARM" wait --timeout 60
[ "$(task_field stubborn status)" = timed_out ] || fail "stubborn is $(task_field stubborn status)"
[ "$(task_field busy status)" = succeeded ] || fail "busy is $(task_field busy status)"
grep -q "killing process [0-9]* that escjob/quits#1 left behind" "$T/agent-a1.log" \
    || fail "the agent did not say what it killed"
sleep 0.5
pgrep -f "$tok" >/dev/null && { pgrep -af "$tok"; fail "an escapee survived its task"; }
ok "no escapee survived"
audit escjob
