"""tests/utf8_model.py -- the byte-wise rule a run's output follows, in Python.

The model the end-to-end tests check the agent's output path against
(tests/e2e_output_edges.sh, tests/fault/result_frame.sh): they copy this
file next to the generator they write into their temp dir and import it.

- sanitize(raw): every byte that does not start a whole, shortest UTF-8
  sequence of one character (and NUL) becomes U+FFFD, one per byte; the
  rest decodes as it is (sw_utf8_sanitize in common/sw_util.c).
- expected(raw, cap): what a result's "output" holds for raw bytes of
  output under --max-output cap: all of it when it fits, else its first
  and last cap/2 bytes around the "bytes omitted" line, then sanitized.
- check(path, shape, cap, truncated): compares the `swarm --json results`
  document at path with expected(shape(id), cap) for each result (and its
  output_truncated flag when truncated is set); prints each difference and
  a count, and exits non-zero when any differs.
"""
import json
import sys


def sanitize(b):
    out, k = [], 0
    while k < len(b):
        c = b[k]
        n = 1 if c < 0x80 else 2 if 0xc0 <= c < 0xe0 else 3 if 0xe0 <= c < 0xf0 else 4 if 0xf0 <= c < 0xf8 else 0
        ok = False
        if n and c != 0 and k + n <= len(b):
            try:
                ok = len(b[k:k + n].decode("utf-8")) == 1
            except UnicodeDecodeError:
                ok = False
        if ok:
            out.append(b[k:k + n].decode("utf-8")); k += n
        else:
            out.append("\ufffd"); k += 1
    return "".join(out)


def expected(raw, cap):
    if len(raw) <= cap:
        return sanitize(raw)
    h = cap // 2
    return sanitize(raw[:h] + b"\n[... swarm: %d bytes omitted ...]\n" % (len(raw) - cap) + raw[-h:])


def check(path, shape, cap, truncated=False):
    d = json.load(open(path)); bad = 0
    for r in d:
        raw = shape(r["id"])
        want = expected(raw, cap)
        got = r.get("output")
        if got != want or (truncated and r.get("output_truncated") != (len(raw) > cap)):
            bad += 1
            print("%s: got %r... (%d chars), want %r... (%d chars)" % (r["id"], (got or "")[:60], len(got or ""), want[:60], len(want)))
    print("%d of %d outputs differ" % (bad, len(d)))
    sys.exit(1 if bad else 0)
