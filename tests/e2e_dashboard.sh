#!/usr/bin/env bash
# The dashboard's HTTP side, as a script or a browser uses it: its JSON
# documents are the CLI's --json documents (status, agents, results), a
# task's output comes in pages from a cursor (the largest, the emptiest and
# the strangest: 5,000 lines, none, invalid UTF-8 and stderr, an id with
# / : @ + .), the event stream pushes a task the moment it is submitted,
# and the page carries a fresh CSP nonce. Refused: a non-loopback address
# without a token file, bad token files, requests without the token or
# with a wrong one, the token in an API query, a foreign Host, a POST.
. "$(dirname "$0")/lib.sh"
use_redis 54
COORD="$SWARM_BUILD/swarm-coordinator"
ports() { echo --listen "tcp://127.0.0.1:$(free_port)" --control "tcp://127.0.0.1:$(free_port)"; }
# same FILE1 FILE2 [DROP_KEY]: the same JSON value (DROP_KEY removed from every object in a list)
same() {
    python3 - "$@" <<'EOF' || fail "$1 and $2 differ"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
if len(sys.argv) > 3:
    for doc in (a, b):
        for o in doc:
            o.pop(sys.argv[3], None)
if a != b:
    print(json.dumps(a, indent=1)[:2000]); print(json.dumps(b, indent=1)[:2000]); sys.exit(1)
EOF
}

# --- refusals at start
expect 2 "$COORD" -f $(ports) --http "0.0.0.0:$(free_port)"
contains "$T/err" "is not a loopback address: the dashboard needs --http-token-file"
expect 2 "$COORD" -f $(ports) --http "[::]:$(free_port)"
contains "$T/err" "--http-token-file"
expect 2 "$COORD" -f $(ports) --http "127.0.0.1:$(free_port)" --http-token-file "$T/none"
contains "$T/err" "--http-token-file $T/none: No such file"
echo short >"$T/short.token"
expect 2 "$COORD" -f $(ports) --http "127.0.0.1:$(free_port)" --http-token-file "$T/short.token"
contains "$T/err" "at least 16 characters"
printf 'has spaces in the token\n' >"$T/spaces.token"
expect 2 "$COORD" -f $(ports) --http "127.0.0.1:$(free_port)" --http-token-file "$T/spaces.token"
contains "$T/err" "only letters, digits"
expect 2 "$COORD" -f $(ports) --http "localhost"
contains "$T/err" "port must be 0..65535"
ok "refused at start: non-loopback without a token file, bad token files, bad addresses"

HP=$(free_port)
H="http://127.0.0.1:$HP"
start_coordinator --http "127.0.0.1:$HP"
start_agent a1 --slots 2 --allow-exec --label 'note=<b>bold</b>'
wait_agents 1
expect 0 "$SWARM" init d1
STRANGE='dir/sub:x@y+z.o'
STRANGE_Q=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$STRANGE")
expect 0 "$SWARM" spawn --id first -- /usr/bin/printf 'line one\nline two\n'
expect 0 "$SWARM" spawn --id "$STRANGE" --after first -- /bin/sh -c \
    'printf "\377\376 bad utf8 <script>document.title=1</script>\n"; echo to-stderr >&2'
expect 0 "$SWARM" spawn --id big -- /usr/bin/seq 1 5000
expect 0 "$SWARM" spawn --id empty -- /bin/true
expect 0 "$SWARM" wait --timeout 60

# --- the documents are the CLI's
expect 0 "$SWARM" --json status --job d1
cp "$T/out" "$T/cli-status.json"
http 200 "$H/api/status?job=d1"
contains "$T/headers" "Content-Type: application/json"
cp "$T/body" "$T/web-status.json"
same "$T/cli-status.json" "$T/web-status.json"
[ "$(json_get "$T/web-status.json" "[t['after'] for t in d['tasks'] if t['id'] == '$STRANGE'][0]")" = "['first']" ] \
    || fail "status lacks the dependencies"
expect 0 "$SWARM" --json status
cp "$T/out" "$T/cli-status.json"
http 200 "$H/api/status"
same "$T/cli-status.json" "$T/body"
expect 0 "$SWARM" --json agents
cp "$T/out" "$T/cli-agents.json"
http 200 "$H/api/agents"
cp "$T/body" "$T/web-agents.json"
same "$T/cli-agents.json" "$T/web-agents.json" last_seen
[ "$(json_get "$T/web-agents.json" "d[0]['labels']['note']")" = '<b>bold</b>' ] || fail "label"
expect 0 "$SWARM" --json results --job d1
cp "$T/out" "$T/cli-results.json"
http 200 "$H/api/results?job=d1"
cp "$T/body" "$T/web-results.json"
same "$T/cli-results.json" "$T/web-results.json"
[ "$(json_get "$T/web-results.json" "len(d)")" = 4 ] || fail "results count"
http 200 "$H/api/jobs"
[ "$(json_get "$T/body" "[(j['tasks'], j['final'], j['complete'], j['current']) for j in d if j['id'] == 'd1']")" \
  = "[(4, 4, True, True)]" ] || fail "jobs: $(cat "$T/body")"
expect 0 "$SWARM" init empty-job
http 200 "$H/api/results?job=empty-job"
[ "$(json_get "$T/body" "d")" = "[]" ] || fail "results of an empty job"
ok "status, agents and results are the CLI's documents; jobs list progress"

# --- a task's output, in pages: the live stream (the cursor is an entry
# id), or the stored result once the stream is gone ("r:N")
http 200 "$H/api/output?job=d1&task=first"
[ "$(json_get "$T/body" "[l['line'] for l in d['lines']], d['done']")" \
  = "(['line one', 'line two'], True)" ] || fail "output of first: $(cat "$T/body")"
json_get "$T/body" "d['cursor']" | grep -Eq '^[0-9]+-[0-9]+$' || fail "cursor: $(cat "$T/body")"
[ "$(json_get "$T/body" "all(isinstance(l['t'], int) and l['t'] > 0 for l in d['lines'])")" = True ] \
    || fail "line times: $(cat "$T/body")"
http 200 "$H/api/output?job=d1&task=$STRANGE_Q"
[ "$(json_get "$T/body" "d['task']")" = "$STRANGE" ] || fail "the strange id"
[ "$(json_get "$T/body" "d['lines'][0]['line'].startswith('\ufffd\ufffd bad utf8 <script>')")" = True ] \
    || fail "invalid UTF-8: $(cat "$T/body")"
[ "$(json_get "$T/body" "[(l['stream'], l['line']) for l in d['lines']][-1]")" = "('stderr', 'to-stderr')" ] \
    || fail "stderr line"
http 200 "$H/api/output?job=d1&task=empty"
[ "$(json_get "$T/body" "(d['lines'], d['done'])")" = "([], True)" ] || fail "empty output"
# pages: the stream, then (stream deleted) the stored result
read_pages() {
    cursor=0 pages=0 total=0
    while :; do
        http 200 "$H/api/output?job=d1&task=big&since=$cursor"
        n=$(json_get "$T/body" "len(d['lines'])")
        [ "$pages" = 0 ] && { [ "$(json_get "$T/body" "d['lines'][0]['line']")" = 1 ] || fail "first line"; }
        total=$((total + n)); pages=$((pages + 1))
        cursor=$(json_get "$T/body" "d['cursor']")
        [ "$(json_get "$T/body" "d['done']")" = True ] && break
        [ "$pages" -lt 10 ] || fail "output pages never end"
    done
    [ "$(json_get "$T/body" "d['lines'][-1]['line']")" = 5000 ] || fail "last line"
}
read_pages
[ "$total" = 5000 ] || fail "big, live: $total lines in $pages pages"
redis-cli -p "$REDIS_PORT" -n 54 DEL "$(rkey log d1 big 1)" >/dev/null
read_pages
[ "$total" = 5000 ] && [ "$pages" = 3 ] && [ "$cursor" = r:5000 ] \
    || fail "big, stored: $total lines in $pages pages, cursor $cursor"
http 400 "$H/api/output?job=d1&task=big&since=1-x"
http 400 "$H/api/output?job=d1&task=big&since=r:x"
http 400 "$H/api/output?job=d1&task=big&since=-1"
http 404 "$H/api/output?job=d1&task=nope"
http 404 "$H/api/output?job=nope&task=first"
http 400 "$H/api/output?job=d1"
http 400 "$H/api/output?job=bad%20job&task=x"
http 404 "$H/api/status?job=nope"
contains "$T/body" "no job 'nope'"
http 404 "$H/api/results?job=nope"
ok "output pages: the live stream, or (stream gone) 5,000 stored lines in 3; none, invalid UTF-8 and stderr, the strange id; bad requests refused"

# --- live: the event stream shows a task the moment it is submitted
python3 "$SWARM_SRC/tests/sse_read.py" "$H/api/events?job=d1" "$T/events.jsonl" status \
    "any(t['id'] == 'later' and t['status'] == 'running' for t in d['tasks'])" 30 &
reader=$!
for _ in $(seq 300); do [ -s "$T/events.jsonl" ] && break; sleep 0.1; done
expect 0 "$SWARM" spawn --job d1 --id later -- /bin/sleep 20
wait "$reader" || { cat "$T/events.jsonl" | cut -c1-300; fail "the running task never reached the event stream"; }
for ev in agents jobs status tick; do grep -q "\"event\": \"$ev\"" "$T/events.jsonl" || fail "no $ev event"; done
python3 "$SWARM_SRC/tests/sse_read.py" "$H/api/events?job=nope" "$T/missing.jsonl" missing True 10 \
    || fail "no 'missing' event for an unknown job"
ok "server-sent events: agents, jobs, status, ticks; a new task arrives while it runs"

# --- the page: one document, a fresh nonce, no framing
http 200 "$H/"
contains "$T/headers" "Content-Type: text/html"
contains "$T/headers" "X-Frame-Options: DENY"
nonce=$(sed -n "s/.*script-src 'nonce-\([^']*\)'.*/\1/p" "$T/headers")
[ -n "$nonce" ] && grep -qF "<script nonce=\"$nonce\">" "$T/body" || fail "CSP nonce not on the script"
http 200 "$H/"
grep -qF "$nonce" "$T/headers" && fail "the nonce did not change"
grep -qE '<(script|link|img)[^>]+(src|href)=' "$T/body" && fail "the page loads an external asset"
http 405 "$H/api/status" -X POST
http 403 "$H/api/status" -H 'Host: attacker.example'
ok "the page: CSP with a fresh nonce, no external assets; POST and a foreign Host refused"

# --- with a token: bearer for scripts, a cookie for the browser
head -c 24 /dev/urandom | base64 | tr -d '\n' >"$T/good.token"
TOKEN=$(cat "$T/good.token")
chmod 600 "$T/good.token"
TP=$(free_port)
TH="http://127.0.0.1:$TP"
# (each coordinator holds a database of its own: a second one on 54 would refuse)
redis-cli -p "$REDIS_PORT" -n 101 FLUSHDB >/dev/null
redis-cli -p "$REDIS_PORT" -n 102 FLUSHDB >/dev/null
"$COORD" -f $(ports) --http "127.0.0.1:$TP" --http-token-file "$T/good.token" \
    --redis "${SWARM_REDIS%/*}/101" >>"$T/coordinator-token.log" 2>&1 &
PIDS+=($!)
wait_http "$TH/"
http 401 "$TH/api/agents"
contains "$T/headers" 'WWW-Authenticate: Bearer'
contains "$T/body" "needs its token"
http 401 "$TH/api/agents" -H "Authorization: Bearer ${TOKEN}x"
http 401 "$TH/api/agents" -H "Authorization: Bearer ${TOKEN%?}"
http 401 "$TH/api/agents" -H "Authorization: Basic $TOKEN"
http 200 "$TH/api/agents" -H "Authorization: Bearer $TOKEN"
TOKEN_Q=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$TOKEN")
http 401 "$TH/api/agents?token=$TOKEN_Q"
http 401 "$TH/?token=wrong-token-0123456789"
grep -q 'Set-Cookie' "$T/headers" && fail "a cookie for a wrong token"
http 303 "$TH/?token=$TOKEN_Q"
contains "$T/headers" "Location: /"
contains "$T/headers" "Set-Cookie: swarm_token_$TP=$TOKEN; Path=/; HttpOnly; SameSite=Strict"
http 200 "$TH/api/status" -H "Cookie: swarm_token_$TP=$TOKEN"
http 401 "$TH/api/status" -H "Cookie: swarm_token_$TP=${TOKEN}x"
http 401 "$TH/api/status" -H "Cookie: swarm_token_1=$TOKEN"
python3 "$SWARM_SRC/tests/sse_read.py" "$TH/api/events" "$T/t.jsonl" tick True 5 && fail "events without the token"
ok "token: none, wrong, truncated, Basic, in an API query refused; bearer and the cookie from /?token= admitted"

# beyond loopback a token file makes it start (we still talk to it on loopback)
chmod 644 "$T/good.token"
AP=$(free_port)
"$COORD" -f $(ports) --http "0.0.0.0:$AP" --http-token-file "$T/good.token" \
    --redis "${SWARM_REDIS%/*}/102" >>"$T/coordinator-any.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$AP/"
http 401 "http://127.0.0.1:$AP/api/agents"
http 200 "http://127.0.0.1:$AP/api/agents" -H "Authorization: Bearer $TOKEN"
contains "$T/coordinator-any.log" "can be read by other users"
ok "a non-loopback dashboard with a token file starts, asks for the token, warns about the file's mode"

# --- the coordinator stops cleanly with an event stream open (under ASan:
# no leak, no use after free; libmicrohttpd must see no suspended stream)
python3 "$SWARM_SRC/tests/sse_read.py" "$H/api/events?job=d1" "$T/open.jsonl" never False 120 &
reader=$!
for _ in $(seq 300); do [ -s "$T/open.jsonl" ] && break; sleep 0.1; done
[ -s "$T/open.jsonl" ] || fail "the stream did not open"
kill -TERM "$COORD_PID"
for _ in $(seq 300); do kill -0 "$COORD_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$COORD_PID" 2>/dev/null && fail "the coordinator did not stop with a stream open"
wait "$COORD_PID"
rc=$?
kill "$reader" 2>/dev/null
wait "$reader" 2>/dev/null
[ "$rc" = 0 ] || fail "the coordinator exited $rc with a stream open"
contains "$T/coordinator.log" "coordinator stopped"
ok "the coordinator stops cleanly while a page watches"
