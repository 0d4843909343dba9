#!/usr/bin/env bash
# What the review of issue 19 (hooks, swarm mcp --control) broke, driven as
# a user or a hostile client would, each fixed:
#   - `swarm run PLAN | head -1` while a pre hook runs: the hook and its
#     group are stopped (not left running after swarm run died of SIGPIPE),
#     nothing is submitted;
#   - an MCP client that sends a line of 200 MB without a newline: the
#     server's memory stays bounded, the line is refused, the next request
#     answered;
#   - a valid request whose number jansson cannot hold (10^30) gets an
#     answer with its id, not a parse error without one (the client would
#     wait for it forever);
#   - a spawn of an empty program name (MCP command [] or [""], the CLI's
#     -- '') is refused with the reason, nothing queued;
#   - `swarm run PLAN --wait | true`: the post hooks still run;
#   - two coordinating MCP sessions at once each act on their own job;
#   - job coll's task x/y and job coll/x's task y: one's strays are killed
#     while the other runs;
#   - a 6 MB or non-UTF-8 strategy is refused, before any hook;
#   - an agent stopped (drain timeout, SIGINT) in a post-task hook stores
#     the finished task's result instead of running it again.
. "$(dirname "$0")/lib.sh"
use_redis 118
start_coordinator
start_agent a1 --slots 2 --allow-exec
wait_agents 1

# --- swarm run | head while a pre hook runs -------------------------------------
mark="hooks-attack-$$"
cat >"$T/pipe.yaml" <<EOF
name: pp
hooks:
  pre:
    - [sh, -c, 'echo first; sleep 0.5; yes line | head -c 1000000; sleep 60; : $mark']
workers:
  - {id: w1, command: [echo, hi]}
EOF
"$SWARM" run "$T/pipe.yaml" --wait 2>"$T/err" | head -1 >"$T/out"
st=("${PIPESTATUS[@]}")
[ "${st[0]}" -eq 141 ] || fail "swarm run | head: exit ${st[0]}, wanted 141 ($(cat "$T/err"))"
contains "$T/err" "pre hook 1"
contains "$T/err" "nothing was submitted"
for _ in $(seq 50); do pgrep -f "[h]ooks-attack-$$" >/dev/null || break; sleep 0.1; done
pgrep -af "[h]ooks-attack-$$" && fail "the pre hook outlived swarm run"
"$SWARM" --json status --all | grep -q '"pp-' && fail "a job was submitted after a stopped pre hook"
ok "swarm run | head: the pre hook is stopped with its group, nothing submitted"

# Once the job is submitted, post hooks are its `finally`: a reader that
# quits early (| true) made swarm run die of SIGPIPE in the wait, and post
# never ran.
cat >"$T/post.yaml" <<EOF
name: pt
hooks:
  post:
    - [sh, -c, 'echo "\$SWARM_STATUS \$SWARM_TOTAL" >"$T/post-ran"']
workers:
  - {id: w1, command: [sh, -c, 'sleep 0.5; echo hi']}
EOF
"$SWARM" run "$T/post.yaml" --wait 2>"$T/err" | true
st=("${PIPESTATUS[@]}")
[ "${st[0]}" -eq 0 ] || fail "swarm run --wait | true: exit ${st[0]}, wanted 0 ($(cat "$T/err"))"
[ "$(cat "$T/post-ran" 2>/dev/null)" = "succeeded 1" ] || fail "the post hook did not run after | true"
ok "swarm run --wait | true: the job's post hooks still run"

# --- MCP: hostile input ----------------------------------------------------------
python3 - "$SWARM" <<'PY' || fail "MCP hostile input"
import json, subprocess, sys, time
p = subprocess.Popen([sys.argv[1], "mcp", "--control"], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
def rss():
    for l in open("/proc/%d/status" % p.pid):
        if l.startswith("VmRSS:"):
            return int(l.split()[1])
def send(raw):
    p.stdin.write(raw.encode() + b"\n"); p.stdin.flush()
    return json.loads(p.stdout.readline())
def call(i, name, args):
    return send(json.dumps({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                            "params": {"name": name, "arguments": args}}))
# 200 MB without a newline: the server must not hold it (it grew by all of
# it), only up to the 20 MiB a message may have; measured against its own
# size once it answered (ASan's quarantine keeps what it freed: ~60 MB)
assert send('{"jsonrpc":"2.0","id":1,"method":"ping"}')["id"] == 1
base = rss()
chunk = b"x" * (1 << 20)
for _ in range(200):
    p.stdin.write(chunk)
p.stdin.flush()
time.sleep(0.3)
kb = rss()
assert kb - base < 80 * 1024, "RSS %d kB after a 200 MB line, %d before" % (kb, base)
p.stdin.write(b"\n"); p.stdin.flush()
r = json.loads(p.stdout.readline())
assert r["error"]["code"] == -32700 and "too large" in r["error"]["message"], r
r = send('{"jsonrpc":"2.0","id":2,"method":"ping"}')
assert r == {"jsonrpc": "2.0", "id": 2, "result": {}}, r
# a number jansson cannot hold: an answer with the request's id
r = send('{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"swarm_init",'
         '"arguments":{"job":"mj","maxAgents":1000000000000000000000000000000}}}')
assert r["id"] == 3 and r["error"]["code"] == -32602 and "number" in r["error"]["message"], r
r = send('{"jsonrpc":"2.0","id":1e400,"method":"ping"}')
assert r["id"] is None and r["error"]["code"] == -32700, r
# empty program names
assert not call(4, "swarm_init", {"job": "mj"})["result"]["isError"]
r = call(5, "swarm_spawn", {"id": "e1", "command": []})["result"]
assert r["isError"] and "command" in r["content"][0]["text"], r
r = call(6, "swarm_spawn", {"id": "e2", "command": [""]})["result"]
assert r["isError"] and "program name (argv[0]) is empty" in r["content"][0]["text"], r
p.stdin.close()
assert p.wait() == 0
PY
expect 2 "$SWARM" spawn --job mj --id e3 -- ''
contains "$T/err" "task e3: the program name (argv[0]) is empty"
expect 0 "$SWARM" --json status --job mj
grep -q '"e[123]"' "$T/out" && fail "a task with an empty program was queued"
ok "MCP: a 100 MB line, a number too large, empty program names"

# --- MCP: two coordinating sessions at once ---------------------------------------
# Each swarm_init makes its job the session's own: a spawn, wait, status or
# cancel without a job acts on it, not on whichever job another session (or
# a person's swarm init) made current last.
python3 - "$SWARM" <<'PY' || fail "MCP: two sessions"
import json, subprocess, sys
def server():
    return subprocess.Popen([sys.argv[1], "mcp", "--control"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
def call(p, i, name, args):
    p.stdin.write((json.dumps({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                               "params": {"name": name, "arguments": args}}) + "\n").encode())
    p.stdin.flush()
    r = json.loads(p.stdout.readline())["result"]
    assert not r["isError"], (name, args, r)
    return r["structuredContent"]
a, b = server(), server()
assert call(a, 1, "swarm_init", {"job": "sess-a"})["job"] == "sess-a"
assert call(b, 1, "swarm_init", {"job": "sess-b"})["job"] == "sess-b"
assert call(a, 2, "swarm_spawn", {"id": "t1", "command": ["sleep", "30"]})["job"] == "sess-a"
assert call(b, 2, "swarm_spawn", {"id": "t1", "command": ["echo", "b"]})["job"] == "sess-b"
w = call(b, 3, "swarm_wait", {"timeout": 20})
assert w["job"] == "sess-b" and w["done"], w
st = call(a, 3, "swarm_status", {})
assert [t["id"] for t in st["tasks"]] == ["t1"] and st["tasks"][0]["status"] != "succeeded", st
c = call(a, 4, "swarm_cancel", {"ids": ["t1"]})
w = call(a, 5, "swarm_wait", {"timeout": 20})
assert w["job"] == "sess-a" and w["done"] and w["counts"]["cancelled"] == 1, w
r = call(b, 4, "swarm_results", {})
assert r["job"] == "sess-b", r
for p in (a, b):
    p.stdin.close()
    assert p.wait() == 0
PY
expect 0 "$SWARM" --json results --job sess-b
[ "$(json_get "$T/out" "[t['status'] for t in d]")" = "['succeeded']" ] || fail "sess-b: $(cat "$T/out")"
ok "MCP: two sessions at once, each on the job its swarm_init made"

# --- strays of tasks whose JOB/ID read alike ------------------------------------
# Job coll and task x/y, job coll/x and task y: the SWARM_RUN token was
# AGENTPID:JOB/ID#N for both (now JOB ID), so what the second left behind was
# taken for the first's while it ran, and lived on.
smark="strays-attack-$$"
expect 0 "$SWARM" init coll
expect 0 "$SWARM" spawn --job coll --id x/y -- sleep 15
expect 0 "$SWARM" init coll/x
expect 0 "$SWARM" spawn --job coll/x --id y -- sh -c \
    "setsid sh -c 'sleep 100; : $smark' </dev/null >/dev/null 2>&1 & echo started"
expect 0 "$SWARM" wait --job coll/x --timeout 30
for _ in $(seq 60); do pgrep -f "[s]trays-attack-$$" >/dev/null || break; sleep 0.1; done
[ "$("$SWARM" --json status --job coll | python3 -c 'import json,sys; print(json.load(sys.stdin)["tasks"][0]["status"])')" = running ] \
    || fail "coll x/y should still run"
pgrep -af "[s]trays-attack-$$" && fail "a stray of coll/x y lived on while coll x/y ran"
expect 0 "$SWARM" cancel --job coll
ok "strays of coll/x y are killed while coll x/y runs"

# --- the coordination record's free text: topology and strategy -----------------
# A 6 MB strategy was taken and written into the job's record four times a
# second; one that is not UTF-8 silently vanished from it.
expect 2 "$SWARM" init --strategy "$(printf 'a\377b')" jx
contains "$T/err" "strategy must be UTF-8 text of at most 128 bytes"
expect 2 "$SWARM" init --strategy "$(head -c 129 /dev/zero | tr '\0' s)" jx
contains "$T/err" "strategy must be UTF-8 text of at most 128 bytes"
expect 0 "$SWARM" init --strategy "$(head -c 128 /dev/zero | tr '\0' s)" --topology mesh jx
python3 -c '
import sys
print("name: big\nstrategy: " + "y" * 6000000 + "\nhooks:\n  pre: [[touch, " + sys.argv[1] + "]]\n"
      "workers:\n  - {id: w1, command: [echo, hi]}")' "$T/pre-ran" >"$T/big.yaml"
expect 2 "$SWARM" run "$T/big.yaml"
contains "$T/err" "strategy must be UTF-8 text of at most 128 bytes"
[ -e "$T/pre-ran" ] && fail "the pre hook ran for a plan the coordinator refuses"
ok "topology and strategy: UTF-8, at most 128 bytes, checked before any hook"

# --- the agent stops while a post-task hook runs -----------------------------------
# The runner has finished: its result is final. It used to be thrown away
# with the hook and the task ran again (the runner twice); now the hook is
# stopped (recorded as cancelled) and the result stored before the agent
# leaves: at the drain timeout, and at SIGINT.
H=$(owner_dir) || fail "no owner dir"
OWNER_DIRS+=("$H")
cat >"$H/post" <<'SH'
#!/bin/sh
touch "$POST_MARK.$SWARM_TASK_ID"
sleep 60
SH
chmod 755 "$H/post"
export POST_MARK="$T/post-started"
for how in drain int; do
    start_agent "p$how" --slots 1 --allow-exec --label stop="$how" --pass-env POST_MARK \
        --drain-timeout 1 --hook "post-task=$H/post"
    wait_agents 2
    expect 0 "$SWARM" init "stop-$how"
    expect 0 "$SWARM" spawn --job "stop-$how" --id t --label stop="$how" -- \
        sh -c "echo run >>'$T/runs-$how'; echo ran"
    for _ in $(seq 100); do [ -e "$POST_MARK.t" ] && break; sleep 0.1; done
    [ -e "$POST_MARK.t" ] || fail "$how: the post-task hook never started"
    rm -f "$POST_MARK.t"
    pid_var="AGENT_PID_p$how"
    if [ "$how" = drain ]; then kill -TERM "${!pid_var}"; else kill -INT "${!pid_var}"; fi
    for _ in $(seq 100); do kill -0 "${!pid_var}" 2>/dev/null || break; sleep 0.1; done
    kill -0 "${!pid_var}" 2>/dev/null && fail "$how: the agent did not leave"
    expect 0 "$SWARM" --json results --job "stop-$how"
    [ "$(json_get "$T/out" "(d[0]['status'], d[0]['attempt'], d[0]['output'], d[0]['hooks']['post-task']['status'], d[0]['hooks']['post-task']['error'])")" \
        = "('succeeded', 1, 'ran\\n', 'cancelled', 'post-task hook stopped: the agent was stopping')" ] \
        || fail "$how: $(cat "$T/out")"
    [ "$(wc -l <"$T/runs-$how")" -eq 1 ] || fail "$how: the runner ran $(wc -l <"$T/runs-$how") times"
    pgrep -f "[s]leep 60" >/dev/null && pgrep -af "[s]leep 60"
done
ok "an agent stopped (drain timeout, SIGINT) during post-task stores the finished task's result"
