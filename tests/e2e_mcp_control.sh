#!/usr/bin/env bash
# swarm mcp --control (issue 19, section 3): a coordinating agent drives
# the farm through MCP tools. The client is tests/fake-mcp-client.py
# --session, configured as README tells a codex user to (~/.codex/
# config.toml, [mcp_servers.swarm]), against a real coordinator, agents and
# Redis:
#   - tools/list publishes the control tools with input schemas;
#   - swarm_init, swarm_spawn (one after the other), swarm_spawn_batch,
#     swarm_wait, swarm_results, swarm_logs, swarm_status, swarm_cancel do
#     what the CLI does; `swarm results` sees the job;
#   - swarm_wait is bounded: at its timeout it returns a summary;
#   - errors are tool errors carrying the CLI's message, and the server
#     goes on; stdout carries nothing but JSON-RPC;
#   - without --control: no control tools, and ZeroMQ is never loaded;
#     a worker's server (started by the agent) never offers them.
. "$(dirname "$0")/lib.sh"
use_redis 46
start_coordinator
start_agent a1 --slots 2 --allow-exec
start_agent a2 --slots 2 --allow-exec
wait_agents 2

# The configuration README gives codex users.
mcp_swarm_config >"$T/config.toml"
# session FILE: one session with the calls in FILE; replies in $T/replies
session() {
    python3 "$SWARM_SRC/tests/fake-mcp-client.py" --session "$T/config.toml" "$1" \
        >"$T/replies" 2>"$T/session.err" || { cat "$T/replies" "$T/session.err"; fail "session failed"; }
}
# check PYTHON: asserts over the replies (r[i] is the i-th reply, 0 = initialize)
check() {
    python3 - "$T/replies" "$1" <<'PY' || fail "$2: $(cat "$T/replies")"
import json, os, sys
r = [json.loads(l) for l in open(sys.argv[1])]
def res(i): return r[i]["result"]
def data(i):
    assert not res(i)["isError"], res(i)
    return res(i)["structuredContent"]
def error(i):
    assert res(i)["isError"], res(i)
    return res(i)["content"][0]["text"]
exec(sys.argv[2])
PY
}

cat >"$T/calls" <<'EOF'
{"jsonrpc": "2.0", "method": "tools/list"}
["swarm_init", {"job": "ctl-job", "topology": "hierarchical", "maxAgents": 3}]
["swarm_spawn", {"id": "design", "type": "architect", "task": "Design the login API", "context": {"ctx/goal": "login with JWT"}}]
["swarm_spawn", {"id": "build", "task": "Implement {{memory:ctx/goal}} after: {{result:design}}", "after": ["design"]}]
["swarm_spawn_batch", {"tasks": [{"id": "lint", "command": ["echo", "lint ok"]}, {"id": "test", "command": ["sh", "-c", "echo tests passed; echo warn >&2"], "after": ["lint", "build"]}]}]
["swarm_wait", {"timeout": 60}]
["swarm_results", {}]
["swarm_logs", {"id": "test"}]
["swarm_status", {"job": "ctl-job"}]
["swarm_results", {"ids": ["build"]}]
EOF
session "$T/calls"
check '
tools = {t["name"]: t for t in res(1)["tools"]}
for name in ["swarm_init", "swarm_spawn", "swarm_spawn_batch", "swarm_wait", "swarm_status",
             "swarm_results", "swarm_cancel", "swarm_logs", "memory_search"]:
    assert name in tools and tools[name]["inputSchema"]["type"] == "object", name
assert tools["swarm_spawn"]["inputSchema"]["required"] == ["id"]
assert tools["swarm_logs"]["inputSchema"]["required"] == ["id"]
assert tools["swarm_spawn_batch"]["inputSchema"]["properties"]["tasks"]["items"]["required"] == ["id"]
assert "instructions" in r[0]["result"] and "swarm_init" in r[0]["result"]["instructions"]
' "tools/list"
check '
assert data(2)["job"] == "ctl-job"
assert data(3)["ids"] == ["design"] and data(4)["ids"] == ["build"]
assert data(5)["ids"] == ["lint", "test"] and data(5)["count"] == 2
w = data(6)
assert w["done"] is True and w["timed_out"] is False and w["total"] == 4, w
assert sorted(t["status"] for t in w["tasks"]) == ["succeeded"] * 4, w
res7 = data(7)
assert res7["job"] == "ctl-job" and res7["total"] == 4 and res7["counts"] == {"succeeded": 4}, res7
by = {x["id"]: x for x in res7["results"]}
assert "login with JWT" in by["build"]["output"] and "sandbox=workspace-write" in by["build"]["output"]
assert "sandbox=read-only" in by["design"]["output"]
assert by["lint"]["output"] == "lint ok\n"
logs = data(8)
assert logs["output"] == "tests passed\n" and logs["stderr_tail"] == "warn\n" and logs["status"] == "succeeded", logs
st = data(9)
assert st["job"] == "ctl-job" and len(st["tasks"]) == 4 and st["agents"] == 2, st
assert [x["id"] for x in data(10)["results"]] == ["build"] and data(10)["total"] == 4
' "init, spawn (one after the other), batch, wait, results, logs, status"
expect 0 "$SWARM" results --job ctl-job
contains "$T/out" "4 tasks: 4 succeeded"
expect 0 "$SWARM" --json status --job ctl-job
[ "$(json_get "$T/out" "[(t['id'], t['attempt']) for t in d['tasks'] if t['id'] == 'build'][0]")" = "('build', 1)" ] \
    || fail "status: $(cat "$T/out")"
python3 - "$T/out" <<'PY' || fail "build started before design finished: $(cat "$T/out")"
import json, sys
t = {x["id"]: x for x in json.load(open(sys.argv[1]))["tasks"]}
assert t["build"]["started"] >= t["design"]["finished"], t
assert t["test"]["started"] >= t["build"]["finished"], t
PY
ok "a coordinating session: swarm_init, swarm_spawn one after the other, swarm_spawn_batch, swarm_wait, swarm_results, swarm_logs, swarm_status; swarm results sees the job"

# --- errors are tool errors with the CLI's message; wait is bounded --------------
expect 2 "$SWARM" spawn --job ctl-job --id design "again"
export CLI_DUP; CLI_DUP=$(sed 's/^swarm: //' "$T/err")
expect 2 "$SWARM" spawn --job ctl-job --id 'bad id' "x"
export CLI_BADID; CLI_BADID=$(sed 's/^swarm: spawn: //' "$T/err")
cat >"$T/calls" <<'EOF'
["swarm_spawn", {"job": "ctl-job", "id": "design", "task": "again"}]
["swarm_spawn", {"job": "ctl-job", "id": "bad id", "task": "x"}]
["swarm_spawn", {"job": "ctl-job", "id": "both", "task": "x", "command": ["true"]}]
["swarm_spawn", {"job": "ctl-job", "id": "orphan", "task": "x", "after": ["nothere"]}]
["swarm_spawn", {"job": "ctl-job", "id": "x", "task": "x", "labels": {"os": 1}}]
["swarm_spawn_batch", {"job": "ctl-job", "tasks": [{"id": "ok-1", "command": ["true"]}, {"id": "ok-1", "command": ["true"]}]}]
["swarm_spawn", {"job": "ctl-job", "id": "slow", "task": "FAKE:sleep=30 slowly"}]
["swarm_wait", {"job": "ctl-job", "ids": ["slow"], "timeout": 1}]
["swarm_cancel", {"job": "ctl-job", "ids": ["slow"]}]
["swarm_wait", {"job": "ctl-job", "ids": ["slow"], "timeout": 30}]
["swarm_logs", {"job": "ctl-job", "id": "zz"}]
["swarm_cancel", {}]
["swarm_results", {"job": "nosuchjob"}]
["swarm_init", {"topology": "ring"}]
["swarm_wait", {"timeout": 601}]
EOF
start=$(date +%s)
session "$T/calls"
check "
assert error(1) == os.environ['CLI_DUP'], (error(1), os.environ['CLI_DUP'])
assert error(2) == os.environ['CLI_BADID'], (error(2), os.environ['CLI_BADID'])
assert 'not both' in error(3)
assert 'unknown dependency' in error(4) and 'nothere' in error(4)
assert error(5) == \"invalid arguments for swarm_spawn: 'labels.os' must be a string\"
assert 'ok-1' in error(6)
assert data(7)['ids'] == ['slow']
w = data(8)
assert w['done'] is False and w['timed_out'] is True, w
assert w['tasks'][0]['status'] in ('queued', 'running'), w
assert data(9)['cancelled'] == 1
assert data(10)['done'] is True and data(10)['tasks'][0]['status'] == 'cancelled'
assert \"no task 'zz' in job 'ctl-job'\" in error(11)
assert 'name a job or task ids' in error(12)
assert \"no job 'nosuchjob'\" in error(13)
assert error(14) == \"invalid arguments for swarm_init: 'topology' must be one of hierarchical, mesh, star\"
assert error(15) == \"invalid arguments for swarm_wait: 'timeout' must be between 1 and 600\"
" "tool errors"
[ $(( $(date +%s) - start )) -lt 20 ] || fail "the bounded wait did not return at its timeout"
expect 4 "$SWARM" logs --job ctl-job both
ok "errors are tool errors with the CLI's message (duplicate, bad id, unknown dependency, not found); swarm_wait returns a summary at its timeout; swarm_cancel stops a running task"

# The coordinator away: a tool error naming it; back: the same server works,
# and the late reply to the call that timed out answers nothing.
kill -STOP "$COORD_PID"
cat >"$T/calls" <<EOF
["swarm_status", {}]
{"jsonrpc": "2.0", "method": "ping"}
["memory_search", {"query": "login"}]
{"__run": ["kill", "-CONT", "$COORD_PID"]}
["swarm_init", {"job": "after-stop"}]
["swarm_status", {"job": "ctl-job"}]
EOF
session "$T/calls"
kill -CONT "$COORD_PID"
check "
assert 'did not answer' in error(1) and '$SWARM_COORDINATOR' in error(1)
assert r[2]['result'] == {}
assert any(e['key'] == 'goal' for e in data(3)['entries'])
assert data(4) == {'job': 'after-stop'}, data(4)
assert data(5)['job'] == 'ctl-job' and len(data(5)['tasks']) == 5, data(5)
" "coordinator away"
ok "with the coordinator stopped a control tool is a tool error naming it; the server answers on, memory tools work; back, the next calls get their own replies"

# --- without --control: memory tools only, no ZeroMQ ------------------------------
printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' \
    '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"swarm_spawn","arguments":{"id":"x","task":"y"}}}' \
    | "$SWARM" mcp >"$T/plain" 2>&1
python3 - "$T/plain" <<'PY' || fail "memory-only server: $(cat "$T/plain")"
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
assert not [t for t in r[0]["result"]["tools"] if t["name"].startswith("swarm_")]
assert r[1]["error"]["code"] == -32602 and "swarm_spawn" in r[1]["error"]["message"]
PY
maps_of() {     # maps_of ARGS...: /proc/PID/maps of a live `swarm mcp ARGS`, once it answered
    mkfifo "$T/fifo.$#"
    "$SWARM" mcp "$@" <"$T/fifo.$#" >"$T/fifo-out.$#" 2>&1 &
    local pid=$!
    exec 7>"$T/fifo.$#"
    printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"ping"}' >&7
    for _ in $(seq 200); do grep -q '"id":1' "$T/fifo-out.$#" && break; sleep 0.05; done
    grep -q '"id":1' "$T/fifo-out.$#" || fail "swarm mcp $* did not answer: $(cat "$T/fifo-out.$#")"
    cat "/proc/$pid/maps"
    exec 7>&-
    wait "$pid"
}
maps_of >"$T/maps.plain"
maps_of --control >"$T/maps.control"
grep -q libzmq "$T/maps.plain" && fail "the memory-only swarm mcp loaded ZeroMQ"
grep -q libzmq "$T/maps.control" || fail "swarm mcp --control did not load the module (test broken?)"
ok "swarm mcp without --control offers no control tools (calling one is an unknown tool) and never loads ZeroMQ"

# A worker's server, configured by its agent: memory tools, never control tools
# (tests/fake-mcp-client.py fails the task if it sees a swarm_* tool).
expect 0 "$SWARM" spawn --job ctl-job --id worker "FAKE:mcp-store=worker_finding look"
expect 0 "$SWARM" wait --job ctl-job --timeout 60 worker
expect 0 "$SWARM" --json memory get --namespace results result-worker
[ "$(json_get "$T/out" "d['value']")" = worker_finding ] || fail "worker: $(cat "$T/out")"
ok "a worker's MCP server (started by the agent) has the memory tools and no control tools"
