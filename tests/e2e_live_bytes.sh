#!/usr/bin/env bash
# The live output stream holds what the child wrote, byte for byte (issue
# 20: the agent writes each XADD around the lines in place, docs/design.md
# "Decisions for issue 20 (live output copies)"), through the daemons:
#   - a task writes 400 KB on stdout and 60 KB on stderr in odd chunks with
#     pauses: NUL, CR, invalid UTF-8, escapes, empty lines, lines of 8 KB,
#     its last line without a newline;
#   - `swarm logs -f`, started while it runs and again after it ended,
#     writes to its files exactly what the task wrote (a newline ends the
#     last line), stderr lines on stderr, then the status line;
#   - the attempt's Redis stream, read raw: the `d` of its out entries
#     joined by '\n' is the task's stdout (its err entries its stderr),
#     no entry reports a drop, `n` counts the lines, and the last entry is
#     `s end` with the status;
#   - a task that writes nothing: only the end entry.
. "$(dirname "$0")/lib.sh"
use_redis 95
start_coordinator
start_agent a1 --slots 2 --allow-exec
wait_agents 1
expect 0 "$SWARM" init bytes

# wait_for FILE TEXT [SECONDS]: until FILE holds TEXT (bounded)
wait_for() {
    local n=$(( ${3:-20} * 20 ))
    for _ in $(seq "$n"); do
        grep -qaF -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "--- $1"; cat -v "$1" 2>/dev/null | head -c 2000
    fail "$1 never showed '$2'"
}

cat >"$T/child.py" <<'PY'
import os, random, sys, time
d = sys.argv[1]
while not os.path.exists(d + "/go"):
    time.sleep(0.02)
rnd = random.Random(20)
pool = [b"\0", b"\r", b"\xff", b"\xc3", b"\xc3\xa9", b"\x1b[31m", b"\xf0\x9f\x90", b" ", b"\t"]
def text(n):
    out = bytearray()
    while len(out) < n:
        r = rnd.random()
        if r < 0.03:
            out += b"\n"
        elif r < 0.05:
            out += b"\n\n"
        elif r < 0.12:
            out += rnd.choice(pool)
        else:
            out += bytes([rnd.randrange(97, 123)]) * rnd.randrange(1, 40)
    return bytes(out)
out = b"first line\n" + text(200000) + b"\n" + b"L" * 8000 + b"\n" + text(200000) + b"\nno newline at the end"
err = text(60000) + b"\n"
want = {1: out, 2: err}
with open(d + "/want.out", "wb") as f: f.write(out)
with open(d + "/want.err", "wb") as f: f.write(err)
pos = {1: 0, 2: 0}
while pos[1] < len(out) or pos[2] < len(err):
    fd = 2 if rnd.random() < 0.2 and pos[2] < len(err) else 1
    if pos[fd] >= len(want[fd]):
        fd = 3 - fd
    k = rnd.choice([1, 7, 100, 4095, 4096, 20000, 70000])
    os.write(fd, want[fd][pos[fd]:pos[fd] + k])
    pos[fd] += k
    if rnd.random() < 0.1:
        time.sleep(rnd.random() * 0.08)
PY

expect 0 "$SWARM" spawn --id bin -- python3 "$T/child.py" "$T"
wait_status bin running
"$SWARM" logs -f bin >"$T/f1.out" 2>"$T/f1.err" &
follower=$!
PIDS+=("$follower")
touch "$T/go"
wait "$follower" || fail "logs -f of a succeeded task exited $?"
wait_status bin succeeded
expect 0 "$SWARM" logs -f bin
cp "$T/out" "$T/f2.out"
cp "$T/err" "$T/f2.err"

python3 - "$T" <<'PY' || fail "logs -f did not print what the task wrote"
import sys
d = sys.argv[1]
out = open(d + "/want.out", "rb").read()
err = open(d + "/want.err", "rb").read()
for f in ("f1", "f2"):
    got = open(f"{d}/{f}.out", "rb").read()
    assert got == out + b"\n", (f, len(got), len(out))
    e = open(f"{d}/{f}.err", "rb").read()
    assert e.startswith(err), (f, len(e), len(err))
    assert e[len(err):].startswith(b"swarm: task bin succeeded"), e[len(err):][:200]
PY
ok "logs -f prints the task's bytes as it wrote them, while it ran and after"

# the stream itself, read raw (RESP over a socket: binary-safe)
cat >"$T/xrange.py" <<'PY'
import socket, sys
port, db, key = int(sys.argv[1]), sys.argv[2], sys.argv[3].encode()
s = socket.create_connection(("127.0.0.1", port))
f = s.makefile("rb")
def cmd(*args):
    b = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        b += b"$%d\r\n%s\r\n" % (len(a), a)
    s.sendall(b)
    return reply()
def reply():
    line = f.readline()[:-2]
    t, rest = line[:1], line[1:]
    if t == b"+": return rest
    if t == b"-": raise SystemExit("redis: " + rest.decode())
    if t == b":": return int(rest)
    if t == b"$":
        n = int(rest)
        if n < 0: return None
        data = f.read(n + 2)[:-2]
        return data
    if t == b"*":
        return [reply() for _ in range(int(rest))]
cmd("SELECT", db)
entries = cmd("XRANGE", key, "-", "+")
out, err, end = [], [], None
for eid, fields in entries:
    kv = dict(zip(fields[0::2], fields[1::2]))
    assert end is None, "an entry after the end"
    assert b"drop" not in kv, kv.get(b"drop")
    if kv[b"s"] == b"end":
        end = kv
        continue
    assert int(kv[b"n"]) == kv[b"d"].count(b"\n") + 1, (kv[b"n"], kv[b"d"][:80])
    (out if kv[b"s"] == b"out" else err).append(kv[b"d"])
    assert list(fields[-2:-1]) == [b"d"], "d is not the last field"
print(len(entries))
sys.stdout.flush()
d = sys.argv[4] if len(sys.argv) > 4 else None
if d:
    want_out = open(d + "/want.out", "rb").read()
    want_err = open(d + "/want.err", "rb").read()
    assert b"\n".join(out) == want_out, "stdout differs"
    assert b"\n".join(err) == want_err[:-1], "stderr differs"
else:
    assert not out and not err, "lines of a task that wrote nothing"
assert end and end[b"status"] == b"succeeded" and end[b"code"] == b"0", end
PY
n=$(python3 "$T/xrange.py" "$REDIS_PORT" 95 "$(rkey log bytes bin 1)" "$T") \
    || fail "the stream does not hold what the task wrote"
[ "$n" -gt 10 ] || fail "only $n entries for 460 KB"
ok "the stream holds the task's bytes ($n entries), its end entry last"

expect 0 "$SWARM" spawn --id quiet -- true
wait_status quiet succeeded
[ "$(redis-cli -p "$REDIS_PORT" -n 95 EXISTS "$(rkey log bytes quiet 1)")" = 0 ] \
    || fail "a quiet task that succeeded has a stream"
ok "a task that writes nothing and succeeds: no stream (its status is in the task hash)"
