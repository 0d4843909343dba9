#!/usr/bin/env bash
# A program started with stdin, stdout or stderr closed (a cron line's
# `>&-`, a supervisor that closes them, `nohup` gone wrong) opens
# /dev/null on them first. Before, the coordinator's first Redis
# connections became fds 1 and 2, and every line it logged to stderr went
# into a Redis connection as an inline command; `swarm --json ...`
# printed its JSON into its own sockets. Here the coordinator, the agent
# and the CLI run with 0, 1 and 2 closed: each daemon's fds 0-2 are
# /dev/null, tasks run and report, and Redis has answered no command
# with ERR (the text of a log line would be one: "-ERR unknown
# command").
. "$(dirname "$0")/lib.sh"
private_redis 145
COORD_LISTEN="tcp://127.0.0.1:$(free_port)"
export SWARM_COORDINATOR="tcp://127.0.0.1:$(free_port)"
"$SWARM_BUILD/swarm-coordinator" -f --listen "$COORD_LISTEN" --control "$SWARM_COORDINATOR" \
    --heartbeat-ms 200 0<&- 1>&- 2>&- &
COORD_PID=$!
PIDS+=("$COORD_PID")
coordinator_up || fail "coordinator did not come up with fds 0-2 closed"
mkdir -p "$T/work-c"
"$SWARM_BUILD/swarm-agent" -f --coordinator "$COORD_LISTEN" --id c --allow-exec --slots 2 \
    --workdir "$T/work-c" --state-dir "$T/state-c" 0<&- 1>&- 2>&- &
AGENT=$!
PIDS+=("$AGENT")
wait_agents 1

for pid in "$COORD_PID" "$AGENT"; do
    for fd in 0 1 2; do
        t=$(readlink "/proc/$pid/fd/$fd" || true)
        [ "$t" = /dev/null ] || fail "pid $pid: fd $fd is '$t', not /dev/null"
    done
done
ok "both daemons have /dev/null on fds 0-2"

redis-cli -p "$REDIS_PORT" config resetstat >/dev/null
"$SWARM" init closed >/dev/null
# a success, a failure with output on both streams, a cancel: each one
# makes the daemons log a line
"$SWARM" spawn --id good -- sh -c 'echo fine' >/dev/null
"$SWARM" spawn --id bad -- sh -c 'echo out; echo err >&2; exit 3' >/dev/null
"$SWARM" spawn --id slow -- sleep 30 >/dev/null
wait_status slow running
"$SWARM" cancel slow >/dev/null
# the CLI with its own streams closed: its output has nowhere to go, and
# must not go into its sockets
"$SWARM" --json wait 0<&- 1>&- 2>&- && fail "swarm wait said 0 with a task failed"
rc=0
"$SWARM" --json results 0<&- 1>&- 2>&- || rc=$?
[ "$rc" = 1 ] || fail "swarm results with stdout closed: exit $rc, not 1 (a task failed)"
"$SWARM" --json status good 1>&- 2>&- || fail "swarm status failed with stdout closed"
for want in good=succeeded bad=failed slow=cancelled; do
    got=$(task_field "${want%=*}" status)
    [ "$got" = "${want#*=}" ] || fail "task ${want%=*} is $got, not ${want#*=}"
done
"$SWARM" --json results >"$T/bad.txt" || true
contains "$T/bad.txt" out
# a store through the memory API with closed streams too
echo value | "$SWARM" memory store --namespace ns k - 1>&- 2>&- \
    || fail "memory store failed with stdout closed"
got=$("$SWARM" memory get --namespace ns k)
[ "$got" = value ] || fail "memory get gave '$got'"
# (NOSCRIPT is how a script is first loaded: EVALSHA, then EVAL)
errs=$(redis-cli -p "$REDIS_PORT" info errorstats | tr -d '\r' | sed -n 's/^errorstat_ERR:count=//p')
[ -z "$errs" ] || {
    redis-cli -p "$REDIS_PORT" info errorstats >&2
    fail "Redis answered $errs commands with ERR: text went into a Redis connection"
}
ok "no log or output text reached Redis"
kill -0 "$COORD_PID" && kill -0 "$AGENT" || fail "a daemon died"
