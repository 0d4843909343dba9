#!/usr/bin/env bash
# Issue 20 attack: a run's output through the agent's new hot path (read
# in place when it fit in the capture's head, the tail made on first use,
# the 8-byte ASCII check, the result's own JSON escaping) gives exactly
# what the byte-wise rule gives: every byte that is not UTF-8, and NUL,
# becomes U+FFFD, one per byte; output over --max-output keeps its head
# and tail around the "bytes omitted" line. Shapes: a lone 0xff at each
# offset around an 8-byte boundary, NULs, a sequence cut by the end, a
# multibyte character split by the head/tail cut, controls and quotes,
# sizes at the head's size, one over, the cap, one over the cap, 3x.
. "$(dirname "$0")/lib.sh"
use_redis 84
start_coordinator
start_agent a1 --slots 4 --allow-exec --max-output 4096
wait_agents 1
expect 0 "$SWARM" init outs
GEN="$T/gen.py"
cp "$SWARM_SRC/tests/utf8_model.py" "$T/"    # the byte-wise rule, imported by gen.py
cat >"$GEN" <<'EOF'
import sys
import utf8_model
def shape(name):
    if name.startswith("ff"):                 # a lone 0xff at offset k
        k = int(name[2:]); return b"a" * k + b"\xff" + b"b" * (16 - k)
    if name == "nul": return b"abcdefg\x00hijklmno\x00\x00" + b"p" * 9
    if name == "cut": return b"abcdefghijklmno\xe2\x82"
    if name == "ctl": return b'"q\\\x01\x1f\x7f\t\r\n\xc3\xa9\xe2\x80\xa8 \xf0\x9f\x98\x80 \xed\xa0\x80 \xc0\xaf'
    if name.startswith("n"):                  # n<size>: text with a 3-byte char every 7 bytes
        size = int(name[1:]); unit = b"abcd\xe2\x82\xac"
        return (unit * (size // len(unit) + 1))[:size]
    raise SystemExit("unknown shape " + name)
if sys.argv[1] == "write":
    sys.stdout.buffer.write(shape(sys.argv[2]))
else:
    utf8_model.check(sys.argv[2], shape, 4096)
EOF
shapes="nul cut ctl n2047 n2048 n2049 n4095 n4096 n4097 n12288"
for k in $(seq 0 16); do shapes="$shapes ff$k"; done
for s in $shapes; do
    expect 0 "$SWARM" spawn --id "$s" -- python3 "$GEN" write "$s"
done
expect 0 "$SWARM" wait --timeout 120
expect 0 "$SWARM" --json results
cp "$T/out" "$T/results.json"
python3 "$GEN" check "$T/results.json" || fail "an output differs from the byte-wise rule"
ok "27 outputs (lone 0xff at offsets 0-16, NULs, cut sequence, controls, the head/tail/cap edges) as the byte-wise rule gives them"
