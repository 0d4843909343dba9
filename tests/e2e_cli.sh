#!/usr/bin/env bash
# The CLI takes any user text (issue 14, section 5), driven as a user would
# through the real coordinator, agent, Redis and `swarm mcp`:
#   - memory search folds case in every script, in keys, tags and values,
#     in the CLI and in MCP's memory_search (дизайн/ДИЗАЙН, école/ÉCOLE,
#     straße/STRASSE), also in a 1 MiB and in a binary value;
#   - a prompt or memory value that starts with '-' gets through
#     (spawn --prompt, --prompt-file, '-', and '--' before positionals);
#   - every option error names the offending element, in every verb;
#   - swarm --json logs ID prints one JSON document;
#   - memory store --ttl and MCP's ttl: one limit, one message.
. "$(dirname "$0")/lib.sh"
use_redis 45
M() { "$SWARM" memory "$@"; }
# one_json FILE: FILE is exactly one JSON document
one_json() {
    python3 -c 'import json,sys; json.loads(open(sys.argv[1]).read())' "$1" \
        || { cat "$1"; fail "$1 is not one JSON document"; }
}

# --- Unicode case folding ---------------------------------------------------
expect 0 M store --namespace uni ru-notes "Обсуждали ДИЗАЙН системы и API"
expect 0 M store --namespace uni --tags "STRASSE,berlin" addr "Hauptstrasse 5"
expect 0 M store --namespace uni "ÉCOLE-plan" "the school's timetable"
expect 0 M store --namespace uni decomposed "$(printf 'une e\xcc\x81cole normale')"
expect 0 M store --namespace uni ascii "nothing special here"
expect 0 M search --namespace uni дизайн
contains "$T/out" "ru-notes"
expect 0 M search --namespace uni ДИЗАЙН
contains "$T/out" "ru-notes"
expect 0 M --json search --namespace uni école
[ "$(json_get "$T/out" "sorted(e['key'] for e in d['results'])")" = "['decomposed', 'ÉCOLE-plan']" ] \
    || fail "école: $(cat "$T/out")"
expect 0 M --json search --namespace uni straße
[ "$(json_get "$T/out" "[e['key'] for e in d['results']]")" = "['addr']" ] \
    || fail "straße in tags and value: $(cat "$T/out")"
expect 0 M --json search --namespace uni ecole
[ "$(json_get "$T/out" "d['count']")" = 0 ] || fail "ecole is not école: $(cat "$T/out")"
ok "memory search folds case in every script: дизайн/ДИЗАЙН (value), école/ÉCOLE (key, decomposed é), straße/STRASSE (tag and value)"

# The largest and the strangest value: the word at the end of 1 MiB, and in
# bytes that are not UTF-8.
python3 -c 'import sys; sys.stdout.write("x" * (1 << 20) + " ΣΥΣΤΗΜΑ")' >"$T/big"
expect 0 M store --namespace uni big - <"$T/big"
printf '\377\376\000ΔΟΚΙΜΗ\200' | M store --namespace uni binary - >/dev/null || fail "binary store"
expect 0 M --json search --namespace uni συστημα δοκιμη
[ "$(json_get "$T/out" "sorted(e['key'] for e in d['results'])")" = "['big', 'binary']" ] \
    || fail "1 MiB and binary values: $(cat "$T/out")"
expect 2 M search --namespace uni ""
contains "$T/err" "empty search query"
expect 2 M search --namespace uni "   "
contains "$T/err" "empty search query"
ok "the word at the end of a 1 MiB value and inside a binary value is found; an empty or blank query is exit 2"

# MCP's memory_search is the same search.
printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"memory_search","arguments":{"query":"дизайн","namespace":"uni"}}}' \
    '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"memory_search","arguments":{"query":"STRASSE"}}}' \
    '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"memory_search","arguments":{"query":"école","namespace":"uni"}}}' \
    | "$SWARM" mcp >"$T/mcp" 2>"$T/mcp.err" || fail "swarm mcp exited $?"
python3 - "$T/mcp" <<'PY' || fail "MCP memory_search: $(cat "$T/mcp")"
import json, sys
by = {r["id"]: r["result"]["structuredContent"]["entries"] for r in map(json.loads, open(sys.argv[1]))}
assert [e["key"] for e in by[1]] == ["ru-notes"], by[1]
assert [e["key"] for e in by[2]] == ["addr"], by[2]
assert sorted(e["key"] for e in by[3]) == ["decomposed", "ÉCOLE-plan"], by[3]
PY
ok "MCP memory_search folds case the same way"

# --- dash-first values, and '--' before positionals ----------------------------
expect 0 M store --namespace dash -- -k "-1 + 2 = ?"
expect 0 M get --namespace dash -- -k
[ "$(cat "$T/out")" = "-1 + 2 = ?" ] || fail "dash-first value: $(cat "$T/out")"
expect 0 M store --namespace dash k2 -- --json
expect 0 M get --namespace dash k2
[ "$(cat "$T/out")" = "--json" ] || fail "a value '--json' after '--': $(cat "$T/out")"
expect 0 M --json search --namespace dash -- "-1"
[ "$(json_get "$T/out" "[e['key'] for e in d['results']]")" = "['-k']" ] || fail "search -- -1: $(cat "$T/out")"
expect 0 M delete --namespace dash -- -k
expect 2 M store --namespace dash k3 "-v"
contains "$T/err" "unknown option '-v'"
contains "$T/err" "goes after '--'"
ok "memory: a KEY, VALUE or QUERY that starts with '-' goes after '--'; without it the error names it"

start_coordinator
start_agent a1 --slots 2
wait_agents 1
expect 0 "$SWARM" init dashjob

# The issue's example: the error names the prompt, not 'x1'.
expect 2 "$SWARM" spawn --id x1 "-1 + 2 = ?"
contains "$T/err" "unknown option '-1 + 2 = ?'"
contains "$T/err" "--prompt TEXT"
grep -q "'x1'" "$T/err" && fail "the error names x1: $(cat "$T/err")"
expect 0 "$SWARM" spawn --id x1 --prompt "-1 + 2 = ?"
# --prompt-file: a 100 KB prompt with a dash first, quotes, Unicode, lines
python3 - "$T/prompt" <<'PY'
import sys
line = "- [ ] fix the login bug: \"quoted\" 'single' $HOME `tick` ünïcødé ✓\n"
open(sys.argv[1], "w").write(line * (100_000 // len(line.encode())))
PY
expect 0 "$SWARM" spawn --id x2 --prompt-file "$T/prompt"
printf -- '--version\n' | "$SWARM" spawn --id x3 --prompt-file - >"$T/out" 2>"$T/err" \
    || fail "--prompt-file - : $(cat "$T/err")"
printf -- '-h' | "$SWARM" spawn --id x4 - >"$T/out" 2>"$T/err" || fail "spawn - : $(cat "$T/err")"
expect 0 "$SWARM" wait --timeout 60
expect 0 "$SWARM" logs x1
contains "$T/out" "done: -1 + 2 = ?"
expect 0 "$SWARM" logs x2
python3 - "$T/out" "$T/prompt" <<'PY' || fail "the 100 KB prompt did not arrive byte for byte"
import sys
out, want = open(sys.argv[1]).read(), open(sys.argv[2]).read()
assert out.split("done: ", 1)[1] == want + "\n", (len(out), len(want))
PY
expect 0 "$SWARM" logs x3
contains "$T/out" "done: --version"
expect 0 "$SWARM" logs x4
contains "$T/out" "done: -h"
ok "spawn: --prompt '-1 + 2 = ?', a 100 KB dash-first --prompt-file, --prompt-file - and '-' reach the worker byte for byte"

: >"$T/empty"
expect 2 "$SWARM" spawn --id e1 --prompt-file "$T/empty"
contains "$T/err" "needs a prompt ($T/empty is empty)"
expect 2 "$SWARM" spawn --id e2 --prompt ""
contains "$T/err" "needs a prompt"
expect 2 "$SWARM" spawn --id e3 --prompt-file "$T/nonexistent"
contains "$T/err" "$T/nonexistent"
head -c $((7 << 20)) /dev/zero | tr '\0' 'x' >"$T/huge"
echo more >>"$T/huge"
expect 2 "$SWARM" spawn --id e4 --prompt-file "$T/huge"
contains "$T/err" "is over 7340032 bytes"
printf 'a\0b' >"$T/nul"
expect 2 "$SWARM" spawn --id e5 --prompt-file "$T/nul"
contains "$T/err" "NUL byte"
expect 2 "$SWARM" spawn --id e6 --prompt a --prompt-file "$T/prompt"
contains "$T/err" "give one of"
expect 2 "$SWARM" spawn --id e7 --prompt a -- echo
expect 2 "$SWARM" spawn --id e8 one two
contains "$T/err" "'two' is one too many"
expect 0 "$SWARM" --json status
[ "$(json_get "$T/out" "sorted(t['id'] for t in d['tasks'])")" = "['x1', 'x2', 'x3', 'x4']" ] \
    || fail "a refused spawn queued something: $(cat "$T/out")"
ok "spawn refuses an empty, missing, over-large (7 MiB) or NUL prompt file and two prompt sources, naming them; nothing is queued"

# --- every option error names the offending element ----------------------------
for verb in init spawn wait status agents drain cancel run keygen results logs "memory get" \
            "memory store" mcp; do
    # shellcheck disable=SC2086
    expect 2 "$SWARM" $verb -1q
    contains "$T/err" "unknown option '-1q'"
    # shellcheck disable=SC2086
    expect 2 "$SWARM" $verb --no-such-option=1
    contains "$T/err" "unknown option '--no-such-option=1'"
done
expect 2 "$SWARM" spawn --id x9 --timeout
contains "$T/err" "option '--timeout' needs a value"
expect 2 "$SWARM" spawn --id x9 --timeout soon p
contains "$T/err" "--timeout wants seconds, at most 604800, got 'soon'"
expect 2 "$SWARM" --timeoutx 3 status
contains "$T/err" "unknown option '--timeoutx'"
expect 2 "$SWARM" logs -fz x1
contains "$T/err" "unknown option '-z' in '-fz'"
expect 2 "$SWARM" run --wait=yes plan.yaml
contains "$T/err" "option '--wait' takes no value"
expect 2 "$SWARM_BUILD/swarm-agent" -fz
contains "$T/err" "unknown option '-z' in '-fz'"
ok "every verb's option errors name the element: unknown, in a cluster, missing value, value for a flag"

# '--' ends options before positionals everywhere it is not an argv
expect 0 "$SWARM" wait --timeout 5 -- x1 x2
expect 0 "$SWARM" logs -- x1
expect 0 "$SWARM" cancel -- x1
expect 0 "$SWARM" results --json --
ok "'--' before positional values in wait, logs, cancel, results"

# --- logs --json ------------------------------------------------------------------
expect 0 "$SWARM" --json logs x1
one_json "$T/out"
[ "$(json_get "$T/out" "(d['id'], d['job'], d['status'], d['output'].split('done: ')[1])")" \
  = "('x1', 'dashjob', 'succeeded', '-1 + 2 = ?\n')" ] || fail "logs --json: $(cat "$T/out")"
expect 0 "$SWARM" logs x1 --json
one_json "$T/out"
expect 0 "$SWARM" spawn --id later --label never=1 "never runs"
expect 0 "$SWARM" --json logs later
one_json "$T/out"
[ "$(json_get "$T/out" "(d['status'], d['output'])")" = "('queued', None)" ] \
    || fail "logs --json of a queued task: $(cat "$T/out")"
expect 4 "$SWARM" --json logs nosuch
[ -s "$T/out" ] && fail "not found printed on stdout: $(cat "$T/out")"
contains "$T/err" "no task 'nosuch'"
ok "swarm --json logs ID prints one JSON document (the result with status; output null while there is none); exit 4 for an unknown task"

# --- one TTL limit, one message --------------------------------------------------
expect 0 M store --ttl 31536000 --namespace ttl max "a year"
expect 2 M store --ttl 31536001 --namespace ttl over "too long"
cli_msg=$(sed -n "s/^swarm: memory: --//p" "$T/err")
[ -n "$cli_msg" ] || fail "no TTL message: $(cat "$T/err")"
expect 2 M store --ttl 0 --namespace ttl zero "never"
printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"memory_store","arguments":{"key":"over","value":"v","ttl":31536001}}}' \
    '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"memory_store","arguments":{"key":"max","value":"v","ttl":31536000}}}' \
    | "$SWARM" mcp >"$T/mcp" 2>"$T/mcp.err"
python3 - "$T/mcp" "$cli_msg" <<'PY' || fail "MCP ttl: $(cat "$T/mcp")"
import json, sys
by = {r["id"]: r["result"] for r in map(json.loads, open(sys.argv[1]))}
assert by[1]["isError"] and by[1]["content"][0]["text"].endswith(sys.argv[2]), (by[1], sys.argv[2])
assert not by[2]["isError"], by[2]
PY
expect 4 M get --namespace ttl over
ok "memory store --ttl and MCP's ttl: 31536000 accepted by both, 31536001 refused by both with one message: $cli_msg"
