#!/usr/bin/env bash
# Live output through a Redis restart (a redis-server of this test's own,
# SIGKILLed and started again on its append-only file, as a production
# server restarts): `swarm logs -f` says it lost Redis, waits, goes on from
# the last line it printed, and ends with the task's status; the lines the
# agent could not ship meanwhile are neither queued nor lost silently: the
# follower shows "[... N lines dropped ...]", and what it shows plus what
# was dropped is every line, each once, in order. The task itself (its
# child never waits for Redis) finishes on time, and its stored result has
# every line. A follower started while Redis is down exits 3 naming the
# address, as every command does; one already following waits.
. "$(dirname "$0")/lib.sh"
REDIS_PORT=$(free_port)
mkdir -p "$T/redis"
export SWARM_REDIS="redis://127.0.0.1:$REDIS_PORT/0"
redis_up() {
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$T/redis" --save '' \
        --appendonly yes --appendfsync always >>"$T/redis.log" 2>&1 &
    REDIS_PID=$!
    PIDS+=("$REDIS_PID")
    for _ in $(seq 100); do
        redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    fail "redis-server did not come up on port $REDIS_PORT"
}
redis_up
start_coordinator --liveness 20
start_agent a1 --slots 2 --allow-exec
wait_agents 1
expect 0 "$SWARM" init rlive
expect 0 "$SWARM" spawn --id ticker -- /bin/sh -c \
    'i=0; while [ $i -lt 60 ]; do i=$((i + 1)); echo "tick $i"; sleep 0.1; done'
"$SWARM" logs -f ticker >"$T/f.out" 2>"$T/f.err" &
follower=$!
PIDS+=("$follower")
for _ in $(seq 200); do grep -q "tick 5" "$T/f.out" && break; sleep 0.05; done
grep -q "tick 5" "$T/f.out" || fail "no live line before the restart: $(cat "$T/f.out" "$T/f.err")"
kill -9 "$REDIS_PID"
sleep 0.3
"$SWARM" logs -f ticker >"$T/g.out" 2>"$T/g.err" &
late=$!
PIDS+=("$late")
sleep 1.2
redis_up
ok "redis-server SIGKILLed after tick 5, started again 1.5 s later"
wait "$follower"
rc=$?
[ "$rc" = 0 ] || fail "logs -f exited $rc: $(cat "$T/f.err")"
contains "$T/f.err" "trying again"
contains "$T/f.err" "Redis answers again; going on"
contains "$T/f.err" "task ticker succeeded"
python3 - "$T/f.out" <<'EOF' || fail "the lines through the restart: $(cat "$T/f.out")"
import re, sys
ticks, dropped = [], 0
for line in open(sys.argv[1]).read().splitlines():
    m = re.fullmatch(r"tick (\d+)", line)
    d = re.fullmatch(r"\[\.\.\. (\d+) lines? dropped \.\.\.\]", line)
    assert m or d, line
    if m:
        ticks.append(int(m.group(1)))
    else:
        dropped += int(d.group(1))
assert ticks == sorted(set(ticks)), "repeated or out of order: %s" % ticks
assert ticks[0] == 1 and ticks[-1] == 60, ticks
assert dropped > 0, "nothing was dropped while Redis was down"
assert len(ticks) + dropped == 60, (len(ticks), dropped)
print("shown %d, dropped %d" % (len(ticks), dropped))
EOF
ok "logs -f went on after the restart from where it was: every tick shown once or counted as dropped, in order"
wait "$late"
[ $? = 3 ] || fail "the follower started during the outage: $(cat "$T/g.err")"
contains "$T/g.err" "127.0.0.1:$REDIS_PORT"
expect 0 "$SWARM" --json results
[ "$(json_get "$T/out" "[r['output'].count('tick') for r in d][0]")" = 60 ] \
    || fail "the stored result lost lines: $(cat "$T/out")"
[ "$(json_get "$T/out" "[r['duration_ms'] < 15000 for r in d][0]")" = True ] \
    || fail "the task was slowed down: $(cat "$T/out")"
grep -q "live output: Redis at 127.0.0.1:$REDIS_PORT/0: .*; dropped until it answers" "$T/agent-a1.log" \
    || fail "the agent did not say it dropped the live output"
grep -q "live output: Redis at 127.0.0.1:$REDIS_PORT/0 is back" "$T/agent-a1.log" \
    || fail "the agent did not say Redis was back"
ok "a follower started during the outage exits 3 naming Redis; the result holds every line; the task was not slowed; the agent logged the outage and its end"
