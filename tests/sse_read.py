#!/usr/bin/env python3
"""Reads a server-sent event stream for the tests (standard library).

    sse_read.py URL OUT_FILE EVENT PYEXPR [TIMEOUT_S]

Writes every event as a JSON line {"event", "data"} to OUT_FILE (data
parsed as JSON) and exits 0 at the first EVENT for which PYEXPR, evaluated
with the parsed data as d, is true; 1 when TIMEOUT_S (default 15) passes
first or the stream ends, 3 when the server cannot be reached.
"""
import http.client
import json
import sys
import time
import urllib.parse


def main():
    url, out_file, want, expr = sys.argv[1:5]
    timeout = float(sys.argv[5]) if len(sys.argv) > 5 else 15
    deadline = time.monotonic() + timeout
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        conn.request("GET", u.path + ("?" + u.query if u.query else ""),
                     headers={"Accept": "text/event-stream"})
        r = conn.getresponse()
    except OSError as e:
        print(f"sse_read.py: {url}: {e}", file=sys.stderr)
        return 3
    if r.status != 200:
        print(f"sse_read.py: {url}: status {r.status}", file=sys.stderr)
        return 1
    event, data = "message", []
    with open(out_file, "w") as out:
        while time.monotonic() < deadline:
            try:
                raw = r.readline()
            except OSError:
                return 1
            if not raw:
                return 1
            line = raw.decode("utf-8").rstrip("\n")
            if line.startswith(":"):
                continue
            if line:
                field, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if field == "event":
                    event = value
                elif field == "data":
                    data.append(value)
                continue
            if data:
                d = json.loads("\n".join(data))
                out.write(json.dumps({"event": event, "data": d}) + "\n")
                out.flush()
                if event == want and eval(expr, {"d": d}):
                    return 0
            event, data = "message", []
    return 1


sys.exit(main())
