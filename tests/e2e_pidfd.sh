#!/usr/bin/env bash
# A finished task's group is never signalled once its leader is reaped
# (issue 14, section 5). The agent used to SIGKILL -PGID when it freed a
# run, which can be long after the child was reaped: during a Redis outage
# the result waits in the spool, and meanwhile the pid (and so the group
# id) can belong to another process. This test makes that happen: the
# agent runs in a pid namespace of its own (nothing else forks there), its
# results Redis is down, the task's pid is handed to a new group leader
# through ns_last_pid once the task ended, then Redis comes up and the
# agent stores the result and frees the run. The new group must live.
. "$(dirname "$0")/lib.sh"
use_redis 38
if ! unshare --pid --fork --mount-proc true 2>/dev/null; then
    echo "SKIP: cannot make a pid namespace here"; exit 77
fi
start_coordinator
RPORT=$(free_port)
mkdir -p "$T/work-ns"
unshare --pid --fork --kill-child --mount-proc bash -c \
    '"$0" -f --coordinator "$1" --id ns1 --workdir "$2" --state-dir "$3" --allow-exec \
         --redis "redis://127.0.0.1:$4/0" --kill-grace-ms 500 >>"$5" 2>&1 &
     wait' \
    "$SWARM_BUILD/swarm-agent" "$COORD_LISTEN" "$T/work-ns" "$T/state-ns" "$RPORT" \
    "$T/agent-ns.log" &
UNSHARE=$!
for _ in $(seq 100); do
    INIT=$(pgrep -P "$UNSHARE")
    [ -n "$INIT" ] && AGENT=$(pgrep -P "$INIT") && [ -n "$AGENT" ] && break
    sleep 0.05
done
[ -n "${AGENT:-}" ] || fail "the agent did not start in its namespace"
PIDS+=("$AGENT" "$UNSHARE")     # the agent first: it exits cleanly on SIGTERM
wait_agents 1
expect 0 "$SWARM" init pidns
expect 0 "$SWARM" spawn --id leader -- sh -c "echo \$\$ >'$T/taskpid'"
for _ in $(seq 200); do grep -q "spooled to disk until Redis is back" "$T/agent-ns.log" && break; sleep 0.05; done
contains "$T/agent-ns.log" "result of pidns/leader attempt 1 spooled to disk until Redis is back"
taskpid=$(cat "$T/taskpid")
tok="victim$$"
# The task's pid, now free, goes to a new session (and group) leader.
nsenter --target "$INIT" --pid --mount -- sh -c '
    echo $(($1 - 1)) >/proc/sys/kernel/ns_last_pid
    setsid sh -c "sleep 1000; : $2" </dev/null >/dev/null 2>&1 &
    echo $! >"$3"' _ "$taskpid" "$tok" "$T/victimpid"
[ "$(cat "$T/victimpid")" = "$taskpid" ] || fail "could not give pid $taskpid to another process (got $(cat "$T/victimpid"))"
pgrep -f "sleep 1000; : $tok" >/dev/null || fail "the new group did not start"
ok "the task ended (pid $taskpid), its result waits in the spool, and pid $taskpid leads another group"
redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no >"$T/redis-ns.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 400); do grep -q "task pidns/leader attempt 1 succeeded" "$T/agent-ns.log" && break; sleep 0.05; done
contains "$T/agent-ns.log" "task pidns/leader attempt 1 succeeded"
sleep 0.5       # the run is freed at the next tick (100 ms)
pgrep -f "sleep 1000; : $tok" >/dev/null || fail "the agent killed the group that reused its task's pid"
ok "the result stored and the run freed, the other group lives"
