#!/usr/bin/env python3
"""A stand-in for the paid model behind the real CLIs, on loopback only:
the OpenAI Responses API (codex, custom provider, wire_api = "responses")
and the Anthropic Messages API (claude, ANTHROPIC_BASE_URL), both streamed
as server-sent events.

usage: mock-model.py PORT_FILE [LOG_FILE]
Binds 127.0.0.1 on a free port and writes it to PORT_FILE. What it does is
chosen by markers in the newest user text of each request:
  MOCK:answer=TEXT       answer TEXT (underscores become spaces)
  MOCK:shell=WORD        first call the shell tool (codex exec_command, claude
                         Bash) to echo WORD, then answer with what it printed
  MOCK:write=FILE        first call the shell tool to write "written by the
                         model" into FILE in the worker's directory (a file
                         edit, as a coding model makes one), then answer
  MOCK:mcp-store=TEXT    first call the MCP tool memory_store (key
                         result-<task id from the prompt's TASK:id>, namespace
                         results), then answer with the tool's reply
  MOCK:mcp-search=Q      first call memory_search, then answer with the hits
  MOCK:http-error        answer HTTP 400 (not retried: the call fails)
  MOCK:usage=IN,OUT      report IN input and OUT output tokens for each
                         request (default: $MOCK_USAGE, else 42,7)
  MOCK:hang              accept the request and never answer
  MOCK:coordinate=JOB    act as a coordinating agent with the control tools of
                         `swarm mcp --control`: swarm_init {job: JOB}, then
                         swarm_spawn w1, then swarm_spawn w2 after w1 (with
                         MOCK:runner=R, on runner R), swarm_wait until the
                         result says done, swarm_results, then answer with
                         what the results said
Without a marker, a prompt made from swarm's worker template ("store your
result under the key result-ID in namespace results") is answered as a
worker would: memory_search for earlier findings, memory_store of
result-ID (naming what the search saw), then a short summary.
When codex defers the MCP tools behind its tool_search tool (it does for
model slugs it knows), the mock first calls tool_search for the tool it
wants, as a real model would.
Every request body is appended to LOG_FILE (one JSON per line)."""
import json
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT_FILE = sys.argv[1]
LOG = sys.argv[2] if len(sys.argv) > 2 else None
lock = threading.Lock()


def texts(obj):
    """Every string under obj, in order."""
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from texts(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from texts(v)


def marker(body, name):
    for t in texts(body):
        m = re.search(r"MOCK:%s(?:=(\S+))?" % re.escape(name), t)
        if m:
            return (m.group(1) or "").replace("_", " ") if m.group(1) is not None else ""
    return None


def tool_outputs(body):
    """The outputs of the tool calls so far in the conversation."""
    outs = []
    for item in body.get("input", []) if isinstance(body.get("input"), list) else []:
        if isinstance(item, dict) and item.get("type") in ("function_call_output",
                                                          "custom_tool_call_output"):
            o = item.get("output")
            outs.append(o if isinstance(o, str) else " ".join(texts(o)))
    for msg in body.get("messages", []):
        for block in msg.get("content", []) if isinstance(msg.get("content"), list) else []:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                c = block.get("content")
                outs.append(c if isinstance(c, str) else " ".join(texts(c)))
    return outs


def searched_tools(body):
    """The tools codex loaded with tool_search: for model slugs it knows,
    codex defers MCP tools behind its tool_search tool, and the model gets
    them from the tool_search_output items of the conversation."""
    found = []
    for item in body.get("input", []):
        if isinstance(item, dict) and item.get("type") == "tool_search_output":
            found.extend(t for t in item.get("tools") or [] if isinstance(t, dict))
    return found


def searches(body):
    return sum(1 for item in body.get("input", [])
               if isinstance(item, dict) and item.get("type") == "tool_search_call")


def find_tool(body, suffix):
    """(name, namespace) under which the CLI offered a tool ending in
    suffix: codex puts MCP tools in a namespace tool mcp__<server>, claude
    names them mcp__<server>__<tool>."""
    for t in body.get("tools", []) + searched_tools(body):
        name = t.get("name") or t.get("function", {}).get("name") or ""
        if name == suffix or name.endswith("__" + suffix):
            return name, None
        for sub in t.get("tools", []) if isinstance(t.get("tools"), list) else []:
            if sub.get("name") == suffix:
                return suffix, name
    return None, None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def sse(self, events):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        for ev in events:
            self.wfile.write(f"event: {ev['type']}\ndata: {json.dumps(ev)}\n\n".encode())
        self.wfile.flush()
        self.close_connection = True

    def do_GET(self):
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(n) or b"{}")
        if LOG:
            with lock, open(LOG, "a") as f:
                f.write(json.dumps({"path": self.path, "body": body}) + "\n")
        if marker(body, "hang") is not None:
            time.sleep(3600)
            return
        if marker(body, "http-error") is not None:
            # 400: an error no client retries (a 500 is retried with backoff)
            data = b'{"type":"error","error":{"type":"invalid_request_error","message":"mock: refused"}}'
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if self.path.endswith("/responses"):
            self.openai(body)
        elif self.path.startswith("/v1/messages"):
            self.anthropic(body)
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

    def plan(self, body):
        """('answer', text) or ('call', tool name, arguments[, namespace])."""
        outs = tool_outputs(body)
        job = marker(body, "coordinate")
        if job:
            return self.coordinate(body, job, outs)
        worker = None
        for t in texts(body):
            m = re.search(r"under the key result-(\S+) in namespace results", t)
            if m:
                worker = m.group(1)
        if worker and marker(body, "answer") is None:
            return self.worker(body, worker, outs)
        if outs:
            return "answer", f"tool said: {outs[-1]}"
        name = marker(body, "write")
        if name is not None:
            cmd = f"printf 'written by the model\\n' > {name} && echo wrote {name}"
            if find_tool(body, "Bash")[0]:
                return "call", "Bash", {"command": cmd}
            return "call", "exec_command", {"cmd": cmd}
        word = marker(body, "shell")
        if word is not None:
            # codex offers exec_command {cmd}; claude offers Bash {command}
            if find_tool(body, "Bash")[0]:
                return "call", "Bash", {"command": f"echo {word}"}
            return "call", "exec_command", {"cmd": f"echo {word}"}
        task = None
        for t in texts(body):
            m = re.search(r"TASK:(\S+)", t)
            if m:
                task = m.group(1)
        for tool, arg in (("memory_store", "mcp-store"), ("memory_search", "mcp-search")):
            v = marker(body, arg)
            if v is not None:
                args = ({"key": f"result-{task}", "value": v, "namespace": "results"}
                        if tool == "memory_store" else {"query": v})
                return self.call(body, tool, args)
        return "answer", marker(body, "answer") or "mock answer"

    def coordinate(self, body, job, outs):
        """A coordinator session: init, two workers one after the other,
        a bounded wait until done, the results, a summary. The step is the
        number of tool results in the conversation so far."""
        runner = marker(body, "runner") or None
        def worker(wid, text, after=None):
            args = {"id": wid, "task": f"TASK:{wid} MOCK:answer={text}"}
            if runner:
                args["runner"] = runner
            if after:
                args["after"] = after
            return args
        steps = [("swarm_init", {"job": job, "topology": "hierarchical", "maxAgents": 2}),
                 ("swarm_spawn", worker("w1", "w1_designed_the_api")),
                 ("swarm_spawn", worker("w2", "w2_built_the_api", ["w1"]))]
        n = len(outs)
        if n < len(steps):
            return self.call(body, *steps[n])
        key = lambda name, out: re.search(name + r'\\*"\s*:\s*', out) is not None
        rest = outs[len(steps):]                # the waits, then the results
        if any(key("results", o) for o in rest):
            return "answer", f"coordinated {job}: {rest[-1][:800]}"
        if rest and (re.search(r'done\\*"\s*:\s*true', rest[-1]) or len(rest) >= 12):
            return self.call(body, "swarm_results", {})
        return self.call(body, "swarm_wait", {"timeout": 10})

    def worker(self, body, worker, outs):
        """What swarm's worker template asks for: search the memory, store
        the result as result-<worker id>, end with a summary."""
        tool = ("memory_search", {"query": "finding"}) if not outs else \
               ("memory_store", {"key": f"result-{worker}", "namespace": "results",
                                 "value": f"finding of {worker}; it saw: {outs[0][:300]}"}) \
               if len(outs) == 1 else None
        if not tool:
            return "answer", f"{worker}: searched the memory and stored result-{worker}"
        return self.call(body, tool[0], tool[1], f"{worker}: ")

    def call(self, body, tool, args, who=""):
        """Call tool; when the CLI deferred it behind tool_search (codex,
        known model slugs), search for it first, as a real model does."""
        name, ns = find_tool(body, tool)
        if name:
            return "call", name, args, ns
        if any(t.get("type") == "tool_search" for t in body.get("tools", [])) \
                and searches(body) < 4:
            return "search", tool
        return "answer", f"{who}no {tool} tool offered"

    def openai(self, body):
        what = self.plan(body)
        tin, tout = usage_of(body)
        usage = {"input_tokens": tin, "input_tokens_details": None, "output_tokens": tout,
                 "output_tokens_details": None, "total_tokens": tin + tout}
        if what[0] == "search":
            n = searches(body) + 1
            item = {"type": "tool_search_call", "call_id": f"search_{n}", "execution": "client",
                    "arguments": {"query": what[1], "limit": 8}}
        elif what[0] == "call":
            n = len(tool_outputs(body)) + 1     # ids unique within a conversation
            item = {"type": "function_call", "id": f"fc_{n}", "call_id": f"call_{n}", "name": what[1],
                    "arguments": json.dumps(what[2])}
            if len(what) > 3 and what[3]:
                item["namespace"] = what[3]
        else:
            item = {"type": "message", "role": "assistant", "id": "msg_1",
                    "content": [{"type": "output_text", "text": what[1]}]}
        self.sse([{"type": "response.created", "response": {"id": "resp_1"}},
                  {"type": "response.output_item.done", "item": item},
                  {"type": "response.completed", "response": {"id": "resp_1", "usage": usage}}])

    def anthropic(self, body):
        what = self.plan(body)
        start = {"type": "message_start", "message": {
            "id": "msg_1", "type": "message", "role": "assistant", "model": body.get("model", "mock"),
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": usage_of(body)[0], "output_tokens": 1}}}
        if what[0] == "call":
            n = len(tool_outputs(body)) + 1     # ids unique within a conversation
            block = {"type": "tool_use", "id": f"toolu_{n}", "name": what[1], "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(what[2])}
            stop = "tool_use"
        else:
            block = {"type": "text", "text": ""}
            delta = {"type": "text_delta", "text": what[1]}
            stop = "end_turn"
        self.sse([start,
                  {"type": "content_block_start", "index": 0, "content_block": block},
                  {"type": "content_block_delta", "index": 0, "delta": delta},
                  {"type": "content_block_stop", "index": 0},
                  {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                   "usage": {"output_tokens": usage_of(body)[1]}},
                  {"type": "message_stop"}])


def usage_of(body):
    """Tokens (input, output) this request reports (issue 18): MOCK:usage=IN,OUT
    in the conversation, else $MOCK_USAGE, else 42,7."""
    m = re.search(r"MOCK:usage=(\d+),(\d+)", json.dumps(body))
    spec = f"{m.group(1)},{m.group(2)}" if m else os.environ.get("MOCK_USAGE", "42,7")
    tin, tout = spec.split(",")
    return int(tin), int(tout)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
with open(PORT_FILE + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.rename(PORT_FILE + ".tmp", PORT_FILE)
server.serve_forever()
