#!/usr/bin/env bash
# The CLI at the edges of what it takes, found by a review of issues 14 and
# 19, driven as a user would through the real coordinator, agent and Redis:
#   - MCP memory_list shortens a value at a character, never inside one:
#     a value of 2-byte characters keeps its (shortened) value;
#   - a memory KEY or tag that is not UTF-8 is refused naming it (exit 2):
#     it could not be shown in JSON (list, search, MCP, export);
#   - an MCP call whose strings hold \u0000 gets an answer with its id;
#   - two `swarm run` of one plan at the same moment are two jobs: each
#     runs its own hooks on its own tasks, neither touches the other's;
#   - a hook's output reaches the terminal byte for byte (NUL, not UTF-8);
#   - a plan whose tasks together outgrow one request is sent in several;
#     one task or an MCP batch over a request is refused up front, naming
#     it (it was dropped by the coordinator's socket: "did not answer");
#   - `swarm agents revoke` without NAME says so.
. "$(dirname "$0")/lib.sh"
use_redis 85
export PATH="$SWARM_BUILD:$PATH"
M() { "$SWARM" memory "$@"; }
# mcp LINE...: one `swarm mcp` session, the replies in $T/mcp
mcp() {
    printf '%s\n' "$@" | "$SWARM" mcp >"$T/mcp" 2>"$T/mcp.err" || fail "swarm mcp exited $?"
}

# --- memory: shortened values and names that are not UTF-8 -------------------------
long=$(python3 -c 'print("a" + "é" * 150, end="")')     # byte 200 is inside an é
expect 0 M store --namespace edge long "$long"
mcp '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"memory_list","arguments":{"namespace":"edge"}}}'
python3 - "$T/mcp" <<'PY' || fail "memory_list of a long UTF-8 value: $(cat "$T/mcp")"
import json, sys
e = json.loads(open(sys.argv[1]).readline())["result"]["structuredContent"]["entries"][0]
assert e["truncated"] is True and e["bytes"] == 301, e
v = e["value"]
assert v.startswith("aéé") and set(v[1:]) == {"é"} and len(v.encode()) <= 200, e
PY
ok "MCP memory_list shortens a value of 2-byte characters at a character: the value is there"

expect 2 M store --namespace edge "$(printf 'bad\377key')" value
contains "$T/err" "UTF-8"
expect 2 M store --namespace edge --tags "$(printf 'ok,t\377g')" key2 value
contains "$T/err" "UTF-8"
expect 0 M store --namespace edge --tags "ÉCOLE,дизайн" key3 "$(printf 'value \377 not UTF-8')"
expect 0 M --json list --namespace edge
[ "$(json_get "$T/out" "sorted(e['key'] for e in d['entries'])")" = "['key3', 'long']" ] \
    || fail "list: $(cat "$T/out")"
M export --namespace edge >"$T/edge.jsonl" || fail "export"
expect 0 M delete --namespace edge key3
expect 0 M import "$T/edge.jsonl"
expect 0 M --json get --namespace edge key3
[ "$(json_get "$T/out" "d['tags']")" = "['ÉCOLE', 'дизайн']" ] || fail "round trip: $(cat "$T/out")"
ok "a memory key or tag that is not UTF-8 is refused (exit 2); UTF-8 tags and binary values round-trip through export and import"

# --- MCP: \u0000 in a string ----------------------------------------------------------
mcp '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"memory_store","arguments":{"key":"k","value":"a\u0000b"}}}' \
    '{"jsonrpc":"2.0","id":8,"method":"ping"}'
python3 - "$T/mcp" <<'PY' || fail "\\u0000: $(cat "$T/mcp")"
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
assert r[0]["id"] == 7 and "error" in r[0] and "\\u0000" in r[0]["error"]["message"], r[0]
assert r[1]["id"] == 8 and r[1]["result"] == {}, r[1]
PY
expect 4 M get k
ok "an MCP call with \\u0000 in a string is answered with its own id (an error naming it), and nothing is stored"

# --- two swarm run of one plan at once -------------------------------------------------
start_coordinator
start_agent a1 --slots 4 --allow-exec
wait_agents 1
cat >"$T/twice.yaml" <<EOF
name: twice
max_agents: 1
hooks:
  pre: [[sh, -c, 'echo "\$SWARM_JOB" >>"$T/pre.jobs"']]
  post: [[sh, -c, 'echo "\$SWARM_JOB \$SWARM_STATUS \$SWARM_TOTAL" >>"$T/post.jobs"']]
workers:
  - {id: one, command: "sleep 1"}
  - {id: two, command: "true"}
EOF
for i in 1 2; do
    "$SWARM" run "$T/twice.yaml" --wait >"$T/run$i.out" 2>"$T/run$i.err" &
    eval "run$i=\$!"
done
wait "$run1"; rc1=$?
wait "$run2"; rc2=$?
[ "$rc1$rc2" = 00 ] || fail "two runs at once exited $rc1 and $rc2: $(cat "$T"/run*.err)"
[ "$(sort -u "$T/pre.jobs" | wc -l)" = 2 ] || fail "the runs shared a job: $(cat "$T/pre.jobs")"
[ "$(wc -l <"$T/post.jobs")" = 2 ] || fail "post hooks: $(cat "$T/post.jobs")"
while read -r job; do
    grep -qx "$job succeeded 2" "$T/post.jobs" || fail "post of $job: $(cat "$T/post.jobs")"
    expect 0 "$SWARM" results --job "$job"
    contains "$T/out" "2 tasks: 2 succeeded"
done <"$T/pre.jobs"
ok "two swarm run of one plan at the same moment: two jobs, each with its own hooks and 2 of 2 tasks"

# --- plans and batches bigger than one request ---------------------------------------------
python3 - "$T" <<'PY'
import json, sys
big = "x" * (5 << 20)
open(sys.argv[1] + "/big.yaml", "w").write(
    "workers:\n  - {id: a, task: \"%s\"}\n  - {id: b, task: \"%s\"}\n" % (big, big))
open(sys.argv[1] + "/huge.yaml", "w").write(
    "workers:\n  - {id: a, task: \"%s\"}\n  - {id: b, task: x}\n" % ("y" * (8 << 20)))
call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "swarm_spawn_batch",
        "arguments": {"job": "mcp-big", "tasks": [{"id": "a", "task": big}, {"id": "b", "task": big}]}}}
open(sys.argv[1] + "/batch.json", "w").write(json.dumps(call) + "\n")
PY
expect 0 "$SWARM" run "$T/big.yaml" --job big
expect 0 "$SWARM" --json status --job big
[ "$(json_get "$T/out" "len(d['tasks'])")" = 2 ] || fail "big plan: $(cat "$T/out")"
expect 0 "$SWARM" cancel --job big
expect 2 "$SWARM" run "$T/huge.yaml" --job huge
contains "$T/err" "task a is"
contains "$T/err" "nothing was submitted"
expect 4 "$SWARM" results --job huge
expect 0 "$SWARM" init mcp-big
"$SWARM" mcp --control <"$T/batch.json" >"$T/mcp" 2>"$T/mcp.err" || fail "swarm mcp exited $?"
python3 - "$T/mcp" <<'PY' || fail "oversized batch: $(cut -c1-300 "$T/mcp")"
import json, sys
r = json.loads(open(sys.argv[1]).readline())["result"]
assert r["isError"] and "more than one request to the coordinator carries" in r["content"][0]["text"], r
PY
ok "a plan of two 5 MiB prompts goes in two requests; a task over one request, or an MCP batch over it, is exit 2 / a tool error naming why, nothing submitted"

# --- a hook's output, byte for byte ------------------------------------------------------
printf 'printf "a\\000b\\377c\\n"\n' >"$T/bin.sh"
expect 0 "$SWARM" run --commands - --job bytes --pre "sh $T/bin.sh" <<<"true"
printf '[pre 1] a\000b\377c\n' >"$T/want"
grep -a '^\[pre 1\] a' "$T/out" | cmp - "$T/want" || fail "hook output: $(od -c "$T/out" | head)"
ok "a hook's output reaches stdout byte for byte (a NUL, a byte that is not UTF-8)"

# --- small messages ------------------------------------------------------------------------
expect 2 "$SWARM" agents revoke
contains "$T/err" "agents: revoke needs NAME"
ok "swarm agents revoke without NAME says so"
