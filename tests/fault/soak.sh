#!/usr/bin/env bash
# Pass: 10,000 no-op tasks over 2 agents leave the daemons as small as they
# were. RSS (VmRSS) of the coordinator and of each agent is read after a
# 2,000-task warm-up job and again after 10,000 more tasks in five jobs of
# the same size; growth must be under 10 % for each. (Same-size jobs: the
# check is for leaks, which grow with tasks run, not for the high-water
# mark of one big job, which a warm-up of the same size already reached.) Finished jobs leave the coordinator's memory after
# --keep-finished (1 s here) and are loaded back from Redis when asked
# for. Every task: one result; no stray process.
. "$(dirname "$0")/lib.sh"
use_redis 30
start_coordinator --keep-finished 1
start_agent a1 --slots 4 --allow-exec
start_agent a2 --slots 4 --allow-exec
wait_agents 2
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
yes /bin/true | head -n 2000 >"$T/cmds.txt"
expect 0 "$SWARM" run --commands "$T/cmds.txt" --job warm --wait --timeout 600
sleep 2         # past --keep-finished: the warm-up job leaves memory
before="$(rss "$COORD_PID") $(rss "$AGENT_PID_a1") $(rss "$AGENT_PID_a2")"
for i in 1 2 3 4 5; do
    expect 0 "$SWARM" run --commands "$T/cmds.txt" --job "soak$i" --wait --timeout 600
    contains "$T/out" "2000 tasks: 2000 succeeded"
done
sleep 2
after="$(rss "$COORD_PID") $(rss "$AGENT_PID_a1") $(rss "$AGENT_PID_a2")"
FAULTS=0
echo "RSS in KiB (coordinator a1 a2): before $before, after $after"
read -r c0 a0 b0 <<<"$before"
read -r c1 a1 b1 <<<"$after"
if [ "${SWARM_SANITIZED:-0}" = 1 ]; then
    # ASan keeps freed memory in quarantine: RSS says nothing here. Leaks
    # are its own report at exit, which fails the test (tests/lib.sh).
    ok "RSS not checked under ASan; its leak check runs at exit"
else
    for pair in "coordinator $c0 $c1" "a1 $a0 $a1" "a2 $b0 $b1"; do
        set -- $pair
        [ $(($3 * 100)) -lt $(($2 * 110)) ] || fail "$1 grew from $2 KiB to $3 KiB (10 % allowed)"
    done
    ok "10,000 tasks: RSS growth under 10 % for the coordinator and both agents"
fi
grep -q "job warm complete" "$T/coordinator.log" || fail "warm did not complete"
expect 0 "$SWARM" --json status --job warm
[ "$(json_get "$T/out" "len(d['tasks'])")" = 2000 ] || fail "warm, forgotten, was not loaded back: $(head -c 300 "$T/out")"
expect 0 "$SWARM" wait --job warm --timeout 10
ok "a forgotten job is loaded back from Redis for status and wait"
for i in 1 2 3 4 5; do audit "soak$i"; done
