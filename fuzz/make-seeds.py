#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets: corpus/proto holds real
swarm messages (docs/protocol.md) in fuzz_proto's input format, corpus/plan
the examples' plans and command lists. Run it again when the protocol
changes; the corpus is committed."""
import glob
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def pack(o):
    """The msgpack subset swarm sends: maps, arrays, str, int, bool."""
    if isinstance(o, bool):
        return b"\xc3" if o else b"\xc2"
    if isinstance(o, int):
        if 0 <= o < 128:
            return bytes([o])
        if -32 <= o < 0:
            return struct.pack("b", o)
        return b"\xd3" + struct.pack(">q", o)
    if isinstance(o, str):
        b = o.encode()
        if len(b) < 32:
            return bytes([0xA0 | len(b)]) + b
        return b"\xd9" + bytes([len(b)]) + b if len(b) < 256 else b"\xda" + struct.pack(">H", len(b)) + b
    if isinstance(o, list):
        assert len(o) < 16
        return bytes([0x90 | len(o)]) + b"".join(pack(x) for x in o)
    if isinstance(o, dict):
        head = bytes([0x80 | len(o)]) if len(o) < 16 else b"\xde" + struct.pack(">H", len(o))
        return head + b"".join(pack(k) + pack(v) for k, v in o.items())
    raise TypeError(o)


def frames(*fs):
    """fuzz_proto's format: count, then a 2-byte length before all but the last."""
    out = bytes([len(fs)])
    for i, f in enumerate(fs):
        if i + 1 < len(fs):
            out += struct.pack("<H", len(f))
        out += f
    return out


def message(cmd, body, routing=None):
    fs = [b"SWARM1", bytes([cmd]), pack(body)]
    return frames(*([routing] if routing else []) + fs)


TASK = {"id": "w1", "job": "auth", "type": "coder", "runner": "codex",
        "prompt": "implement {{result:arch}}", "argv": [], "dir": "", "after": ["arch"],
        "labels": {"gpu": "1"}, "env": {"K": "v"}, "timeout_s": 600,
        "idle_timeout_s": 120, "max_attempts": 3, "attempt": 1, "ns": "results"}
EXEC = dict(TASK, id="cc-1", runner="exec", prompt="", argv=["cc", "-c", "a.c"], after=[])
CLAUDE = dict(TASK, id="rev", runner="claude", type="reviewer", max_turns=8,
              max_budget_cents=250)
SEEDS = {
    "hello": message(0x01, {"agent": "a1", "host": "h", "version": "0.1.0", "slots": 4,
                            "labels": {"os": "linux"}, "runners": ["codex", "exec"],
                            "running": ["auth\x1fw1\x1f2"]}),
    "welcome": message(0x02, {"heartbeat_ms": 1000, "liveness": 5}),
    "heartbeat": message(0x03, {"busy": 1}, routing=b"\x00\x6b\x8b\x45\x67"),
    "task": message(0x04, TASK),
    "task-exec": message(0x04, EXEC),
    "task-claude": message(0x04, CLAUDE),
    "accept": message(0x05, {"job": "auth", "id": "w1", "attempt": 1}),
    "done": message(0x06, {"job": "auth", "id": "w1", "attempt": 2, "status": "succeeded",
                           "exit_code": 0, "retryable": False}),
    "cancel": message(0x07, {"job": "auth", "id": "w1", "attempt": 1}),
    "submit": message(0x20, {"job": "auth", "tasks": [TASK, EXEC]}, routing=b"\x00\x01"),
    "wait": message(0x24, {"job": "auth", "ids": ["w1"], "timeout_ms": 500, "since": 3}),
    "init": message(0x25, {"job": "auth", "max_agents": 2}),
    "revoke": message(0x27, {"agent": "a1"}),
    "bad-id": frames(b"SWARM2", b"\x01", pack({})),
    "bad-count": bytes([0x05]) + b"\xff\xff",
    "deep": message(0x04, {"id": [[[[[[[[[[["x"]]]]]]]]]]]}),
}


def main():
    proto = os.path.join(HERE, "corpus", "proto")
    plan = os.path.join(HERE, "corpus", "plan")
    for d in (proto, plan):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    for name, data in SEEDS.items():
        with open(os.path.join(proto, name), "wb") as f:
            f.write(data)
    root = os.path.dirname(HERE)
    for path in sorted(glob.glob(os.path.join(root, "examples", "**", "*"), recursive=True)):
        if os.path.isfile(path) and path.endswith((".yaml", ".yml", ".txt")):
            shutil.copy(path, os.path.join(plan, os.path.basename(path)))
    with open(os.path.join(plan, "errors.yaml"), "w") as f:
        f.write("name: broken\nworkers:\n  - id: a\n    depends_on: [b]\n  - id: b\n"
                "    depends_on: [a]\n    timeout: -1\n    bogus: 1\n  - id: a\n")


if __name__ == "__main__":
    main()
