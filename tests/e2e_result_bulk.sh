#!/usr/bin/env bash
# A result document larger than Redis takes in one value (its
# proto-max-bulk-len: 512 MB by default, reached by --max-output 86 MiB
# of control bytes, each escaped to 6; lowered here to its 1 MB minimum
# so that a 180 KB output, 1.08 MB as JSON, reaches it) is refused on
# every try ("Protocol error: invalid bulk length", then Redis closes the
# connection). The agent retried it every 8 s for ever: the task stayed
# "running", no DONE ever went out. Now that refusal is final: the result
# is stored without its output, output_truncated true, and an error
# naming the limit; the task ends (with its own status) and the job
# completes.
. "$(dirname "$0")/lib.sh"
private_redis 94
redis-cli -p "$REDIS_PORT" CONFIG SET proto-max-bulk-len 1048576 >/dev/null \
    || fail "cannot lower proto-max-bulk-len"
start_coordinator
start_agent a1 --slots 2 --allow-exec --max-output 1048576
wait_agents 1
expect 0 "$SWARM" init bulk
expect 0 "$SWARM" spawn --job bulk --id big -- \
    python3 -c 'import sys; sys.stdout.buffer.write(b"\x01" * 180000)'
expect 0 "$SWARM" spawn --job bulk --id small -- echo fine
expect 0 "$SWARM" wait --job bulk --timeout 30
expect 0 "$SWARM" --json results --job bulk
python3 - "$T/out" <<'EOF' || fail "the oversized result"
import json, sys
rs = {r["id"]: r for r in json.load(open(sys.argv[1]))}
big, small = rs["big"], rs["small"]
assert small["status"] == "succeeded" and small["output"] == "fine\n", small
assert big["status"] == "succeeded", big["status"]
assert big["output_truncated"] is True, big
assert big["output"] == "", len(big["output"])
assert "proto-max-bulk-len" in big.get("error", ""), big.get("error")
assert big["exit_code"] == 0 and big["agent"] == "a1", big
EOF
contains "$T/agent-a1.log" "larger than Redis takes"
ok "a result over Redis's proto-max-bulk-len is stored without its output, naming the limit; the job completes"
