#!/usr/bin/env bash
# The coordinator's deferred flush (issue 20, docs/design.md): writes that
# nothing waits for stay on the pipeline for at most a few ms, and are
# never lost on the way.
#   - an ACCEPT's "started" event reaches Redis while its task still runs
#     and nothing else happens (the timer flushes it, within a bound);
#   - 300 tasks through one agent: every task stored succeeded, the event
#     log has each one's dispatched, started and finished exactly once;
#   - the coordinator flushed in fewer loop turns than it ran (its stop
#     line says how many), so the deferral did happen.
. "$(dirname "$0")/lib.sh"
use_redis 57
start_coordinator
start_agent a1 --slots 4 --allow-exec
wait_agents 1
expect 0 "$SWARM" init defer
ev=$(rkey events defer)

expect 0 "$SWARM" spawn --id hold -- /bin/sleep 30
wait_status hold running
started=""
for _ in $(seq 80); do
    started=$(redis-cli -p "$REDIS_PORT" -n 57 --raw XRANGE "$ev" - + | grep -c '^started$')
    [ "$started" = 1 ] && break
    sleep 0.05
done
[ "$started" = 1 ] || fail "the started event of a running task did not reach Redis in 4 s"
expect 0 "$SWARM" cancel hold

N=300
for _ in $(seq "$N"); do echo /bin/true; done >"$T/cmds"
expect 0 "$SWARM" --timeout 30 run --commands "$T/cmds" --job defer
expect 1 "$SWARM" wait --job defer --timeout 120        # hold was cancelled
expect 1 "$SWARM" --json results --job defer      # hold: cancelled
python3 - "$T/out" "$N" <<'PY' || fail "results of the fan-out"
import json, sys
d = json.load(open(sys.argv[1]))
ok = [t for t in d if t["id"].startswith("cmd-") and t["status"] == "succeeded"]
assert len(ok) == int(sys.argv[2]), "%d of %s succeeded" % (len(ok), sys.argv[2])
PY
expect 0 "$SWARM" --json events --job defer
python3 - "$T/out" "$N" <<'PY' || fail "the event log lost or repeated an event"
import collections, json, sys
n = int(sys.argv[2])
seen = collections.Counter()
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("task", "").startswith("cmd-") and e["event"] in ("dispatched", "started", "finished"):
        seen[(e["task"], e["event"])] += 1
for i in range(1, n + 1):
    for ev in ("dispatched", "started", "finished"):
        assert seen[("cmd-%d" % i, ev)] == 1, ("cmd-%d" % i, ev, seen[("cmd-%d" % i, ev)])
PY
kill -TERM "$COORD_PID"
wait "$COORD_PID" 2>/dev/null
line=$(grep -o '[0-9]* loop turns, [0-9]* of them flushed' "$T/coordinator.log" | tail -1)
[ -n "$line" ] || fail "no stop line with the loop's counts"
turns=${line%% loop*}
flushed=$(echo "$line" | sed 's/.*turns, \([0-9]*\) of.*/\1/')
[ "$flushed" -lt "$turns" ] || fail "every loop turn flushed ($line): nothing was deferred"
ok "deferred writes: started shown while running, $N tasks each told once, $line"
