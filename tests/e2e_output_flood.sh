#!/usr/bin/env bash
# A child that writes as fast as it can (`yes`) never leaves its pipe
# empty: the agent must still answer its coordinator. It read a readable
# pipe until EAGAIN in one handler call, so six floods on six slots held
# its loop for seconds: no heartbeat went out, the coordinator declared it
# dead, and every attempt of every task was lost ("agent stopped
# answering", attempt 3 of 3) instead of timing out. Now a call reads a
# bounded amount and the loop turns: heartbeats, the timeout's timer and
# the other runs' pipes all get their turn. The outputs come back cut
# around the "bytes omitted" line, as --max-output says.
. "$(dirname "$0")/lib.sh"
use_redis 94
start_coordinator
start_agent a1 --slots 6 --allow-exec --max-output 65536
wait_agents 1
expect 0 "$SWARM" init flood
for i in 1 2 3 4 5 6; do
    expect 0 "$SWARM" spawn --job flood --id "y$i" --timeout 2 -- yes
done
expect 1 "$SWARM" wait --job flood --timeout 100
expect 1 "$SWARM" --json results --job flood
python3 - "$T/out" <<'EOF' || fail "a flooding task was not timed out by its own agent"
import json, re, sys
rs = {r["id"]: r for r in json.load(open(sys.argv[1]))}
bad = 0
for i in range(1, 7):
    r = rs["y%d" % i]
    out = r.get("output") or ""
    m = re.fullmatch(r"(?:y\n)+y?\n\[\.\.\. swarm: (\d+) bytes omitted \.\.\.\]\n(?:y\n)+", out, re.S)
    if r["status"] != "timed_out" or not r.get("output_truncated") or not m or len(out) < 65536:
        bad += 1
        print("y%d: %s %s, output %d chars %r..." % (i, r["status"], r.get("error"), len(out), out[:40]))
sys.exit(1 if bad else 0)
EOF
if grep -q "declared dead" "$T/coordinator.log"; then
    grep "declared dead\|lost" "$T/coordinator.log"
    fail "the agent missed its heartbeats while its children flooded their pipes"
fi
ok "6 children flooding their pipes: each timed out by its agent, which kept its heartbeats"
