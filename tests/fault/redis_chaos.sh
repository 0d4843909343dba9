#!/usr/bin/env bash
# Pass: Redis SIGKILLed and restarted at random points (seeded, repeatable:
# SWARM_SEED) of a 10,000-task job. Every task ends succeeded with its
# stored result; each task's command ran once per attempt it was given
# (a ledger line per run, keyed by task and attempt: no attempt ran twice);
# and no replay loop: the coordinator's CPU time and log stay bounded.
. "$(dirname "$0")/lib.sh"
SEED=${SWARM_SEED:-15}
N=10000
KILLS=3
echo "seed $SEED (SWARM_SEED=$SEED replays it)"
start_private_redis
start_coordinator --liveness 25
start_agent a1 --slots 8 --allow-exec
start_agent a2 --slots 8 --allow-exec
wait_agents 2
LEDGER="$T/runs"
: >"$LEDGER"
# Each command appends "task attempt" to the ledger (O_APPEND: one write).
python3 - "$T/cmds" "$N" "$LEDGER" <<'PY'
import sys
path, n, ledger = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(path, "w") as f:
    for i in range(n):
        f.write("sh -c 'echo \"$SWARM_TASK_ID $SWARM_ATTEMPT\" >> %s'\n" % ledger)
PY
expect 0 "$SWARM" --timeout 30 run --commands "$T/cmds" --job chaos
# The kill points: after how many finished runs Redis dies, and for how
# long it stays down; drawn from the seed.
read -r -a plan <<<"$(python3 -c "
import random, sys
r = random.Random($SEED)
pts = sorted(r.sample(range(200, $N - 500), $KILLS))
print(' '.join('%d:%d' % (p, r.randint(1, 20)) for p in pts))")"
for p in "${plan[@]}"; do
    at=${p%%:*} down=${p##*:}
    for _ in $(seq 1200); do
        [ "$(wc -l <"$LEDGER")" -ge "$at" ] && break
        sleep 0.05
    done
    kill -9 "$REDIS_PID"
    wait "$REDIS_PID" 2>/dev/null
    fault "SIGKILL to redis-server after $(wc -l <"$LEDGER") runs, down $((down * 100)) ms"
    sleep "$(awk "BEGIN { print $down / 10 }")"
    redis_up
done
expect 0 "$SWARM" wait --job chaos --timeout 600
contains "$T/out" "$N/$N finished: $N succeeded"
python3 - "$LEDGER" "$N" <<'PY' || fail "a task ran twice in one attempt, or never"
import collections, sys
runs = collections.Counter(tuple(l.split()) for l in open(sys.argv[1]) if l.strip())
twice = [k for k, c in runs.items() if c > 1]
assert not twice, "ran twice in one attempt: %s" % twice[:5]
ids = {k[0] for k in runs}
assert len(ids) == int(sys.argv[2]), "%d tasks ran" % len(ids)
PY
expect 0 "$SWARM" --json results --job chaos
python3 - "$T/out" "$N" <<'PY' || fail "results missing after the outages"
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d) == int(sys.argv[2]), len(d)
bad = [t["id"] for t in d if t["status"] != "succeeded" or t.get("exit_code") != 0]
assert not bad, bad[:5]
PY
cpu=$(awk '{ print int(($14 + $15) / 100) }' "/proc/$COORD_PID/stat")
lines=$(wc -l <"$T/coordinator.log")
echo "coordinator: $cpu s of CPU, $lines log lines for $N tasks and $KILLS outages"
# a line per task ("task chaos/cmd-N succeeded"), a few per outage
[ "$lines" -lt $((N + 500)) ] || fail "the coordinator logged $lines lines (a replay loop?)"
[ "$cpu" -lt 60 ] || fail "the coordinator used $cpu s of CPU (a replay loop?)"
ok "$N tasks through $KILLS Redis kills: each attempt ran once, every result stored"
audit chaos
