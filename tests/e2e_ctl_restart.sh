#!/usr/bin/env bash
# Waiting through a coordinator restart. The coordinator rebuilds its jobs
# from Redis when it is started again (docs/reliability.md); whoever waits
# on it meanwhile must see the job through, not give up on a request the
# dead process took with it:
#   - `swarm wait` across a SIGKILL and restart of the coordinator ends
#     with the job's real outcome (exit 1: a task failed after the
#     restart), each finished task reported once;
#   - `swarm mcp --control`'s swarm_wait across a restart returns done;
#   - `swarm run --wait` with a post hook across a restart: the post hook
#     runs once every task has finished, with the final counts;
#   - a coordinator that is gone for good during `swarm run --wait` is
#     exit 3 (unreachable), not the exit of the report read from Redis.
. "$(dirname "$0")/lib.sh"
use_redis 86
export PATH="$SWARM_BUILD:$PATH"
start_coordinator
start_agent a1 --slots 4 --allow-exec
wait_agents 1

# restart_coordinator: SIGKILL, then the same endpoints again
restart_coordinator() {
    kill_coordinator
    coordinator_again
}
# until_in FILE TEXT: until FILE holds TEXT (10 s at most)
until_in() {
    for _ in $(seq 200); do grep -qF -- "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
    cat "$1"; fail "$1 never showed '$2'"
}

# --- swarm wait ------------------------------------------------------------------
expect 0 "$SWARM" init rs-wait
expect 0 "$SWARM" spawn --id early -- true
expect 0 "$SWARM" spawn --id slow -- sleep 3
expect 0 "$SWARM" spawn --id bad -- sh -c 'sleep 3; exit 3'
wait_status early succeeded
"$SWARM" wait --job rs-wait --timeout 60 >"$T/wait.out" 2>"$T/wait.err" &
wait_pid=$!
until_in "$T/wait.out" "early"          # the wait is under way: its next
sleep 0.3                               # long poll is held by the coordinator
restart_coordinator
wait "$wait_pid"
rc=$?
[ "$rc" = 1 ] || fail "swarm wait across a restart exited $rc, want 1: $(cat "$T/wait.out" "$T/wait.err")"
contains "$T/wait.out" "3/3 finished"
for id in early slow bad; do
    [ "$(grep -c " $id " "$T/wait.out")" = 1 ] || fail "$id not reported once: $(cat "$T/wait.out")"
done
grep -q "^failed  *bad " "$T/wait.out" || fail "bad not reported failed: $(cat "$T/wait.out")"
grep -q "^succeeded  *slow " "$T/wait.out" || fail "slow not reported: $(cat "$T/wait.out")"
ok "swarm wait through a coordinator SIGKILL and restart: the job's outcome (exit 1, bad failed), every task reported once"

# --- swarm mcp --control: swarm_wait -----------------------------------------------
expect 0 "$SWARM" init rs-mcp
expect 0 "$SWARM" spawn --id m-slow -- sleep 3
expect 0 "$SWARM" spawn --id m-after --after m-slow -- echo after
python3 - "$T/mcp.out" >"$T/mcp.log" 2>&1 <<'PY' &
import json, subprocess, sys
p = subprocess.Popen(["swarm", "mcp", "--control"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                     text=True)
def rpc(i, method, params):
    p.stdin.write(json.dumps({"jsonrpc": "2.0", "id": i, "method": method, "params": params}) + "\n")
    p.stdin.flush()
    return json.loads(p.stdout.readline())
rpc(0, "initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                      "clientInfo": {"name": "t", "version": "0"}})
open(sys.argv[1] + ".started", "w").close()
r = rpc(1, "tools/call", {"name": "swarm_wait", "arguments": {"job": "rs-mcp", "timeout": 60}})
p.stdin.close()
p.wait()
open(sys.argv[1], "w").write(json.dumps(r))
PY
mcp_pid=$!
for _ in $(seq 200); do [ -e "$T/mcp.out.started" ] && break; sleep 0.05; done
[ -e "$T/mcp.out.started" ] || fail "the MCP session did not start: $(cat "$T/mcp.log")"
sleep 0.5                               # swarm_wait is under way (m-slow takes 3 s)
restart_coordinator
wait "$mcp_pid" || fail "MCP session: $(cat "$T/mcp.log")"
python3 - "$T/mcp.out" <<'PY' || fail "swarm_wait across a restart: $(cat "$T/mcp.out")"
import json, sys
r = json.load(open(sys.argv[1]))["result"]
assert not r["isError"], r
w = r["structuredContent"]
assert w["done"] is True and w["timed_out"] is False, w
assert sorted((t["id"], t["status"]) for t in w["tasks"]) == [("m-after", "succeeded"), ("m-slow", "succeeded")], w
PY
ok "swarm_wait (swarm mcp --control) through a coordinator restart returns done with the final statuses"

# --- swarm run --wait with a post hook ------------------------------------------------
cat >"$T/plan.yaml" <<EOF
hooks:
  post: [[sh, -c, 'env | grep "^SWARM_" | sort >"$T/post.env"']]
workers:
  - {id: r-slow, command: "sleep 3"}
  - {id: r-fast, command: "true"}
EOF
"$SWARM" run "$T/plan.yaml" --wait --job rs-run >"$T/run.out" 2>"$T/run.err" &
run_pid=$!
until_in "$T/run.out" "r-fast"
sleep 0.3
restart_coordinator
wait "$run_pid"
rc=$?
[ "$rc" = 0 ] || fail "swarm run --wait across a restart exited $rc: $(cat "$T/run.out" "$T/run.err")"
contains "$T/post.env" "SWARM_STATUS=succeeded"
contains "$T/post.env" "SWARM_SUCCEEDED=2"
contains "$T/post.env" "SWARM_UNFINISHED=0"
ok "swarm run --wait through a coordinator restart: the post hook runs once both tasks finished (succeeded, 2 of 2)"

# --- gone for good: exit 3 ---------------------------------------------------------------
rm -f "$T/post.env"
cat >"$T/plan2.yaml" <<EOF
hooks:
  post: [[sh, -c, 'env | grep "^SWARM_" | sort >"$T/post.env"']]
workers:
  - {id: g-slow, command: "sleep 30"}
  - {id: g-fast, command: "true"}
EOF
"$SWARM" run "$T/plan2.yaml" --wait --job rs-gone >"$T/run.out" 2>"$T/run.err" &
run_pid=$!
until_in "$T/run.out" "g-fast"
sleep 0.3
kill -9 "$COORD_PID"
wait "$run_pid"
rc=$?
[ "$rc" = 3 ] || fail "swarm run --wait with the coordinator gone exited $rc, want 3: $(cat "$T/run.err")"
contains "$T/run.err" "$SWARM_COORDINATOR"
contains "$T/post.env" "SWARM_STATUS=failed"
contains "$T/post.env" "SWARM_UNFINISHED=1"
ok "the coordinator gone for good during swarm run --wait: exit 3 naming it; the post hook still runs (failed, 1 unfinished)"
