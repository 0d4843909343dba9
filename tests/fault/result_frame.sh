#!/usr/bin/env bash
# Issue 20: a result's output is escaped straight into the EVALSHA
# command the agent builds itself (one copy before hiredis's buffer).
# Driven through the daemons: outputs of the shapes that frame must get
# right (empty; NUL bytes, lone 0xff, cut and overlong sequences, quotes,
# backslashes, every control; 300 KB read from the pipe in several
# chunks; exactly the capture's head; over --max-output) come back as the
# byte-wise rule gives them, and the document stored in Redis is what
# jansson would write. Then SCRIPT FLUSH: the asynchronous EVALSHA gets
# NOSCRIPT, the result takes the blocking store (EVAL with the script's
# text), and the same shapes still come back byte for byte; the store in
# the memory namespace holds the same document.
. "$(dirname "$0")/lib.sh"
start_private_redis
R() { redis-cli -p "$REDIS_PORT" "$@"; }
start_coordinator
start_agent a1 --slots 4 --allow-exec --max-output 262144
wait_agents 1
expect 0 "$SWARM" init frame
GEN="$T/gen.py"
cp "$SWARM_SRC/tests/utf8_model.py" "$T/"    # the byte-wise rule, imported by gen.py
cat >"$GEN" <<'EOF'
import json, random, sys
import utf8_model
CAP = 262144
def shape(name):
    name = name.split("-")[0]
    if name == "empty": return b""
    if name == "nasty":                     # every byte value, twice, then escapes
        return bytes(range(256)) * 2 + b'"\\\\"\x00\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80\xe2\x82'
    rnd = random.Random(name)
    pool = [b"a", b"line\n", b'"', b"\\", b"\x00", b"\x01", b"\x1f", b"\x7f", b"\xff",
            b"\xc3\xa9", b"\xe2\x82\xac", b"\xf0\x9f\x98\x80", b"\xe2\x82", b"\t", b"\r"]
    size = {"big": 300000, "head": CAP // 2, "over": 3 * CAP}[name]
    out = bytearray()
    while len(out) < size:
        out += b"x" * rnd.randrange(0, 90) + rnd.choice(pool)
    return bytes(out[:size])
def expected(raw):
    return utf8_model.expected(raw, CAP)
if sys.argv[1] == "write":
    sys.stdout.buffer.write(shape(sys.argv[2]))
elif sys.argv[1] == "check":
    utf8_model.check(sys.argv[2], shape, CAP, truncated=True)
else:                                       # doc ID FILE: the stored text as jansson writes it
    raw = open(sys.argv[3], "rb").read().rstrip(b"\n")
    d = json.loads(raw)
    if d["output"] != expected(shape(sys.argv[2])):
        sys.exit("%s: stored output differs" % sys.argv[2])
    # jansson's compact dump: output last, no spaces, "/" as it is, no \u for non-ASCII,
    # controls as \u00XX in upper case (Python writes lower case; no text here has "u00")
    import re
    mine = json.dumps(d, separators=(",", ":"), ensure_ascii=False).encode()
    mine = re.sub(rb"\\u00([0-9a-f]{2})", lambda m: b"\\u00" + m.group(1).upper(), mine)
    if raw != mine:
        sys.exit("%s: stored document is not compact JSON with output last" % sys.argv[2])
EOF
shapes="empty nasty big head over"
run_all() {                                   # SUFFIX
    for s in $shapes; do
        expect 0 "$SWARM" spawn --job frame --id "$s$1" -- python3 "$GEN" write "$s"
    done
    expect 0 "$SWARM" wait --job frame --timeout 120
    expect 0 "$SWARM" --json results --job frame
    python3 - "$T/out" "$1" >"$T/results.json" <<'EOF'
import json, sys
suffix = sys.argv[2]
mine = lambda i: i.endswith(suffix) if suffix else "-" not in i
print(json.dumps([r for r in json.load(open(sys.argv[1])) if mine(r["id"])]))
EOF
    python3 "$GEN" check "$T/results.json" || fail "an output differs from the byte-wise rule ($1)"
    for s in $shapes; do
        R --raw HGET "$(rkey task frame "$s$1")" result >"$T/doc"
        python3 "$GEN" doc "$s" "$T/doc" || fail "task $s$1: the stored document"
    done
}
run_all ""
ok "5 outputs (empty, every byte value, 300 KB in pipe chunks, the head's size, 3x --max-output) through the agent's own frame, byte for byte"
R SCRIPT FLUSH >/dev/null
fault "SCRIPT FLUSH: the agent's EVALSHA gets NOSCRIPT"
run_all "-flushed"
contains "$T/agent-a1.log" "NOSCRIPT"          # the asynchronous call did meet it
ok "after SCRIPT FLUSH (NOSCRIPT, then the blocking store's EVAL) the same 5 outputs, byte for byte"
audit frame
