#!/usr/bin/env python3
"""The MCP client half of tests/fake-codex.sh: what codex does with the
server the agent configured through -c mcp_servers.swarm.* (TOML values).

usage: fake-mcp-client.py CONFIG STORE_TEXT SEARCH_QUERY [NS/KEY]
       fake-mcp-client.py --session CONFIG_FILE CALLS_FILE
CONFIG holds codex's KEY=VALUE lines (TOML), or claude's --mcp-config JSON
({"mcpServers": {"swarm": {...}}}). Checks that command, args, env (and for
codex default_tools_approval_mode = "approve") are there and that env names this
task (as $SWARM_TASK_ID says); starts the server the way codex does (its
own environment: PATH and HOME plus the env table, not the worker's), runs
initialize, tools/list, and memory_store and/or memory_search and/or
memory_retrieve of NS/KEY; prints what the search found (values,
'; '-separated), then the value retrieved. Exit 1 with a reason otherwise.
A worker's server must not offer the control tools (swarm_*).

--session: a coordinating agent's session. CONFIG_FILE is what a user puts
in ~/.codex/config.toml (a [mcp_servers.swarm] table, README); the server
is started from it as codex starts it (PATH and HOME plus its env table).
CALLS_FILE holds one JSON array [TOOL, ARGUMENTS] per line, or a bare JSON
object sent as it is (a raw JSON-RPC message), or {"__run": ARGV}: a
command the test runs between two calls. The calls go one at a time,
each after the previous reply, over one connection; every reply is printed
as one line, and every line the server printed on stdout must be a JSON-RPC
2.0 message with an id we sent."""
import json
import os
import subprocess
import sys
import tomllib


def fail(why):
    print(why)
    sys.exit(1)


def session(config_file, calls_file):
    with open(config_file, "rb") as f:
        conf = tomllib.load(f)["mcp_servers"]["swarm"]
    if conf.get("default_tools_approval_mode") != "approve":
        fail("default_tools_approval_mode is not approve: codex exec would refuse every call")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/")}
    env.update(conf.get("env", {}))
    p = subprocess.Popen([conf["command"], *conf.get("args", [])], env=env, text=True,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    sent = set()

    def rpc(msg):
        p.stdin.write(json.dumps(msg) + "\n")
        p.stdin.flush()
        if "id" not in msg:
            return None
        sent.add(msg["id"])
        line = p.stdout.readline()
        if not line:
            fail(f"the server closed stdout after {msg}")
        reply = json.loads(line)
        if reply.get("jsonrpc") != "2.0" or reply.get("id") not in sent:
            fail(f"not a JSON-RPC reply to us on stdout: {line!r}")
        return reply

    print(json.dumps(rpc({"jsonrpc": "2.0", "id": 0, "method": "initialize",
                          "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                                     "clientInfo": {"name": "fake-coordinator", "version": "0"}}})))
    rpc({"jsonrpc": "2.0", "method": "notifications/initialized"})
    n = 0
    for line in open(calls_file):
        if not line.strip():
            continue
        call = json.loads(line)
        n += 1
        if isinstance(call, dict) and "__run" in call:
            subprocess.run(call["__run"], check=True)   # the test acts between two calls
            continue
        if isinstance(call, dict):
            call.setdefault("id", 1000 + n)
            print(json.dumps(rpc(call)))
            continue
        print(json.dumps(rpc({"jsonrpc": "2.0", "id": n, "method": "tools/call",
                              "params": {"name": call[0], "arguments": call[1]}})))
        sys.stdout.flush()
    p.stdin.close()
    rest = p.stdout.read()
    if rest.strip():
        fail(f"the server printed more than replies on stdout: {rest!r}")
    if p.wait(timeout=30) != 0:
        fail(f"the server exited {p.returncode}")


if sys.argv[1] == "--session":
    session(sys.argv[2], sys.argv[3])
    sys.exit(0)

if sys.argv[1].startswith("{"):
    conf = json.loads(sys.argv[1])["mcpServers"]["swarm"]
    needed = ("command", "args", "env")
else:
    conf = tomllib.loads(sys.argv[1])
    needed = ("command", "args", "env", "default_tools_approval_mode")
for key in needed:
    if key not in conf:
        fail(f"mcp_servers.swarm.{key} is not configured")
if "default_tools_approval_mode" in needed and conf["default_tools_approval_mode"] != "approve":
    fail("tools are not approved: codex exec would refuse every call")
env = conf["env"]
if env.get("SWARM_TASK_ID") != os.environ.get("SWARM_TASK_ID"):
    fail(f"env names task {env.get('SWARM_TASK_ID')}, we are {os.environ.get('SWARM_TASK_ID')}")
server_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/")}
server_env.update(env)
# A host whose clock is off (tests/e2e_clock.sh runs agents under libfaketime):
# the server runs on that host, so it keeps the preload and the offset.
for name in ("LD_PRELOAD", "FAKETIME", "ASAN_OPTIONS"):
    if name in os.environ:
        server_env[name] = os.environ[name]
msgs = [{"jsonrpc": "2.0", "id": 1, "method": "initialize",
         "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                    "clientInfo": {"name": "fake-codex", "version": "0"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}]
store, query = sys.argv[2], sys.argv[3]
if store:
    msgs.append({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                 "params": {"name": "memory_store",
                            "arguments": {"key": "result-" + env["SWARM_TASK_ID"], "value": store,
                                          "namespace": "results"}}})
if query:
    msgs.append({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
                 "params": {"name": "memory_search", "arguments": {"query": query}}})
get = sys.argv[4] if len(sys.argv) > 4 else ""
if get:
    ns, _, key = get.partition("/")
    msgs.append({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
                 "params": {"name": "memory_retrieve",
                            "arguments": {"namespace": ns, "key": key}}})
p = subprocess.run([conf["command"], *conf["args"]], env=server_env, capture_output=True,
                   text=True, timeout=30,
                   input="".join(json.dumps(m) + "\n" for m in msgs))
replies = {r.get("id"): r for r in map(json.loads, p.stdout.splitlines())}
if 2 not in replies or not any(t["name"] == "memory_store" for t in replies[2]["result"]["tools"]):
    fail(f"no tools from the server: {p.stdout} {p.stderr}")
control = [t["name"] for t in replies[2]["result"]["tools"] if t["name"].startswith("swarm_")]
if control:
    fail(f"a worker's MCP server offers control tools: {control}")
for i in (3, 4, 5):
    if i in replies and replies[i]["result"].get("isError"):
        fail(replies[i]["result"]["content"][0]["text"])
if 4 in replies:
    hits = replies[4]["result"]["structuredContent"]["entries"]
    print("; ".join(h.get("value", h.get("preview", "")) for h in hits))
if 5 in replies:
    print(replies[5]["result"]["structuredContent"]["value"])
