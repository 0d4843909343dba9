#!/usr/bin/env bash
# swarm mcp: the shared memory as MCP tools over stdio (JSON-RPC 2.0, one
# message per line), driven as a worker's CLI would. A value stored through
# the tools is what `swarm memory` reads, and the reverse; every bad call
# gets a JSON-RPC error or a tool error and the server goes on; a worker
# task that runs `swarm mcp` sees its own task and its dependency's result
# through task_context.
. "$(dirname "$0")/lib.sh"
use_redis 18

# mcp_session FILE: sends the lines of FILE to one `swarm mcp`, replies to $T/replies
mcp_session() { "$SWARM" mcp <"$1" >"$T/replies" 2>"$T/mcp.err"; }
# reply ID EXPR: EXPR over the reply with that id (r)
reply() {
    python3 - "$T/replies" "$1" "$2" <<'PY'
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
r = [x for x in rs if x.get("id") == json.loads(sys.argv[2])]
print(eval(sys.argv[3]) if r else "NO REPLY")
PY
}
req() { printf '{"jsonrpc":"2.0","id":%s,"method":"%s","params":%s}\n' "$1" "$2" "${3:-{\}}"; }
call() { req "$1" tools/call "{\"name\":\"$2\",\"arguments\":$3}"; }

{
    req 1 initialize '{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"t","version":"1"}}'
    echo '{"jsonrpc":"2.0","method":"notifications/initialized"}'
    req 2 tools/list
    req 3 ping
    req 4 initialize '{"protocolVersion":"1999-01-01"}'
} >"$T/in"
mcp_session "$T/in" || fail "swarm mcp exited $?"
[ "$(wc -l <"$T/replies")" = 4 ] || fail "want 4 replies (none to the notification): $(cat "$T/replies")"
[ "$(reply 1 'r[0]["result"]["protocolVersion"]')" = 2024-11-05 ] || fail "version not echoed"
[ "$(reply 4 'r[0]["result"]["protocolVersion"]')" = 2025-06-18 ] || fail "unknown version: not the latest"
[ "$(reply 1 'r[0]["result"]["serverInfo"]["name"]')" = swarm ] || fail "serverInfo"
[ "$(reply 2 'sorted(t["name"] for t in r[0]["result"]["tools"])')" = \
  "['memory_delete', 'memory_list', 'memory_retrieve', 'memory_search', 'memory_store', 'task_context']" ] \
    || fail "tools: $(reply 2 'r[0]')"
[ "$(reply 2 '[t["inputSchema"]["required"] for t in r[0]["result"]["tools"] if t["name"]=="memory_store"][0]')" \
  = "['key', 'value']" ] || fail "memory_store schema"
[ "$(reply 3 'r[0]["result"]')" = "{}" ] || fail "ping"
ok "initialize (version negotiated), tools/list with schemas, ping; no reply to a notification"

{
    call 1 memory_store '{"key":"result-w1","value":"JWT with refresh tokens; bcrypt cost 12","namespace":"results","tags":["auth","jwt"]}'
    call 2 memory_search '{"query":"bcrypt","namespace":"results"}'
    call 3 memory_retrieve '{"key":"result-w1","namespace":"results"}'
    call 4 memory_list '{"namespace":"results","limit":5}'
    call 5 memory_store '{"key":"result-w1","value":"again","namespace":"results","upsert":false}'
    call 6 memory_store '{"key":"short","value":"gone soon","ttl":60}'
} >"$T/in"
mcp_session "$T/in"
[ "$(reply 1 'r[0]["result"]["isError"]')" = False ] || fail "store: $(reply 1 'r[0]')"
[ "$(reply 2 '[e["key"] for e in r[0]["result"]["structuredContent"]["entries"]]')" = "['result-w1']" ] \
    || fail "search: $(reply 2 'r[0]')"
[ "$(reply 3 'r[0]["result"]["structuredContent"]["value"]')" = "JWT with refresh tokens; bcrypt cost 12" ] \
    || fail "retrieve: $(reply 3 'r[0]')"
[ "$(reply 4 'r[0]["result"]["structuredContent"]["total"]')" = 1 ] || fail "list: $(reply 4 'r[0]')"
[ "$(reply 5 'r[0]["result"]["isError"]')" = True ] || fail "upsert false replaced an entry"
expect 0 "$SWARM" memory get --namespace results result-w1
contains "$T/out" "bcrypt cost 12"
expect 0 "$SWARM" --json memory get short
[ "$(json_get "$T/out" "0 < d['ttl_ms'] <= 60000")" = True ] || fail "ttl: $(cat "$T/out")"
expect 0 "$SWARM" memory store --namespace ctx design "use JWT"
printf '%s\n' "$(call 1 memory_retrieve '{"key":"design","namespace":"ctx"}')" \
    "$(call 2 memory_delete '{"key":"design","namespace":"ctx"}')" \
    "$(call 3 memory_retrieve '{"key":"design","namespace":"ctx"}')" >"$T/in"
mcp_session "$T/in"
[ "$(reply 1 'r[0]["result"]["structuredContent"]["value"]')" = "use JWT" ] || fail "CLI -> MCP"
[ "$(reply 3 'r[0]["result"]["content"][0]["text"]')" = "no entry 'design' in namespace ctx" ] \
    || fail "after delete: $(reply 3 'r[0]')"
ok "memory_store/search/retrieve/list/delete share one memory with swarm memory (ttl, tags, upsert)"

{
    echo 'not json'
    echo '[{"jsonrpc":"2.0","id":1,"method":"ping"}]'
    echo '{"jsonrpc":"1.0","id":2,"method":"ping"}'
    req 3 no/such/method
    call 4 no_such_tool '{}'
    call 5 memory_store '{"value":"no key"}'
    call 6 memory_store '{"key":"k","value":"v","ttl":"soon"}'
    call 7 memory_list '{"limit":0}'
    call 8 memory_store '{"key":"k","value":"v","tags":[1]}'
    call 9 memory_retrieve '{"key":"tab\tin key"}'
    call 10 task_context '{}'
    req 11 tools/call '{"name":"memory_list","arguments":"x"}'
    req 12 ping
} >"$T/in"
mcp_session "$T/in" || fail "swarm mcp exited $? on bad input"
python3 - "$T/replies" <<'PY' || fail "error replies: $(cat "$T/replies")"
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
by = {r.get("id"): r for r in rs if r.get("id") is not None}
nulls = [r["error"]["code"] for r in rs if r.get("id") is None]
assert nulls == [-32700, -32600], nulls
assert by[2]["error"]["code"] == -32600
assert by[3]["error"]["code"] == -32601
assert by[4]["error"]["code"] == -32602 and "no_such_tool" in by[4]["error"]["message"]
want = {5: "missing argument 'key'", 6: "'ttl' must be an integer", 7: "'limit' must be between 1 and 1000",
        8: "'tags' must hold only strings", 9: "invalid key", 10: "not running as a swarm task",
        11: "arguments must be an object"}
for i, text in want.items():
    res = by[i]["result"]
    assert res["isError"] is True and text in res["content"][0]["text"], (i, res)
assert by[12]["result"] == {}
PY
ok "parse errors, batches, bad versions, unknown methods and tools, schema violations: errors, and the server goes on"

# Redis away: a tool error, the server stays up; back: the next call works.
printf '%s\n' "$(call 1 memory_list '{}')" "$(req 2 ping)" >"$T/in"
SWARM_REDIS="redis://127.0.0.1:$(free_port)/0" mcp_session "$T/in"
[ "$(reply 1 'r[0]["result"]["isError"]')" = True ] || fail "no Redis: $(reply 1 'r[0]')"
contains "$T/replies" "shared memory unavailable"
[ "$(reply 2 'r[0]["result"]')" = "{}" ] || fail "server died without Redis"
ok "without Redis a call is a tool error naming the address; the server answers on"

# A worker task runs swarm mcp: task_context shows its task and its
# dependency's result, and what it stores is what the next stage reads.
start_coordinator
start_agent a1 --slots 2 --allow-exec
wait_agents 1
expect 0 "$SWARM" init mcpjob
expect 0 "$SWARM" spawn --id research -- echo "sessions expire after 15 minutes"
ctx=$(call 1 task_context '{}')
store=$(call 2 memory_store '{"key":"result-impl","value":"implemented with the 15 minute expiry","namespace":"results"}')
expect 0 "$SWARM" spawn --id impl --after research -- sh -c \
    "printf '%s\n%s\n' '$ctx' '$store' | '$SWARM' --redis '$SWARM_REDIS' mcp"
expect 0 "$SWARM" wait --timeout 60
expect 0 "$SWARM" logs impl
head -1 "$T/out" >"$T/ctx.json"
[ "$(json_get "$T/ctx.json" "d['result']['structuredContent']['task_id'], d['result']['structuredContent']['job']")" \
  = "('impl', 'mcpjob')" ] || fail "task_context: $(cat "$T/ctx.json")"
json_get "$T/ctx.json" "d['result']['structuredContent']['dependencies']['research']['output']" \
    | grep -q "sessions expire after 15 minutes" || fail "dependency result: $(cat "$T/ctx.json")"
expect 0 "$SWARM" memory get --namespace results result-impl
contains "$T/out" "15 minute expiry"
ok "a worker's swarm mcp: task_context has its id, job and research's output; its memory_store is in Redis"

# codex workers: the agent configures `swarm mcp` as their MCP server (-c
# mcp_servers.swarm.*, tools approved, the task's ids in its env). The
# stand-in codex starts it as codex does and calls the tools: the first
# worker stores a finding as its result, the second, after it, finds it.
expect 0 "$SWARM" spawn --id finder "FAKE:mcp-store=refresh_tokens_rotate_daily look around"
expect 0 "$SWARM" spawn --id builder --after finder "FAKE:mcp-search=refresh_tokens_rotate_daily build on it"
expect 0 "$SWARM" wait --timeout 60
expect 0 "$SWARM" logs builder
contains "$T/out" "mcp: refresh_tokens_rotate_daily"
expect 0 "$SWARM" --json memory get --namespace results result-finder
[ "$(json_get "$T/out" "d['value']")" = refresh_tokens_rotate_daily ] \
    || fail "the worker's own result was replaced: $(cat "$T/out")"
[ "$(redis-cli -p "$REDIS_PORT" -n 18 HGET "$(rkey mem results result-finder)" run \
     | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')" = succeeded ] \
    || fail "no run record beside the worker's result"
ok "codex workers get swarm mcp: one stores its finding as its result (kept, run record beside it), the next finds it"
