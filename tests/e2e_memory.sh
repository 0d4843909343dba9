#!/usr/bin/env bash
# swarm memory against a real redis-server: every verb, its --json form
# (one JSON document on stdout), TTLs enforced by Redis, --no-upsert,
# binary-safe values and the size limit, list/search/stats through the
# namespace index, export/import round-tripping exactly, bad input that
# stores nothing, concurrent writers that lose nothing, unreachable Redis
# and wrong passwords.
. "$(dirname "$0")/lib.sh"
use_redis 9
M() { "$SWARM" memory "$@"; }
is_json() { python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$1" || fail "stdout is not one JSON document: $(head -c 300 "$1")"; }

# store / get / retrieve, from an argument and from stdin
expect 0 M store --namespace ctx --tags auth,api design "Use JWT; sessions in Redis"
contains "$T/out" "stored design in ctx"
printf 'line1\n"quoted" \\ back\nünïcode ✓\n' > "$T/notes"
expect 0 M store --namespace ctx notes - < "$T/notes"
expect 0 M get --namespace ctx notes
cmp "$T/out" "$T/notes" || fail "stdin value not kept byte for byte"
head -c 4096 /dev/urandom > "$T/bin"
expect 0 M store --namespace ctx blob < "$T/bin"
expect 0 M retrieve --namespace ctx blob
cmp "$T/out" "$T/bin" || fail "binary value changed"
ok "store/get: arguments, stdin, binary"

# --no-upsert, size limit, bad names: clear errors, nothing changed
expect 1 M store --namespace ctx --no-upsert design "other"
contains "$T/err" "already exists"
expect 0 M get --namespace ctx design
contains "$T/out" "Use JWT"
head -c $((16 * 1024 * 1024 + 1)) /dev/zero > "$T/huge"
expect 2 M store --namespace ctx huge < "$T/huge"
contains "$T/err" "over the limit"
expect 4 M get --namespace ctx huge
expect 2 M store --namespace 'bad ns' k v
expect 2 M store --namespace ctx --ttl 0 k v
expect 2 M frobnicate
expect 2 M list --bogus
ok "no-upsert exit 1, size limit and bad input exit 2, nothing stored"

# TTL is enforced by Redis, and the index forgets the entry too
expect 0 M store --namespace ttl --ttl 1 brief "gone soon"
expect 0 M store --namespace ttl stays "here"
expect 0 M get --namespace ttl brief
sleep 1.3
expect 4 M get --namespace ttl brief
expect 0 M list --namespace ttl --json
is_json "$T/out"
[ "$(json_get "$T/out" "(d['total'], [e['key'] for e in d['entries']])")" = "(1, ['stays'])" ] || fail "expired entry still listed"
ok "TTL enforced; list and counts exclude expired entries"

# list: newest first, values, --limit says how many more
for i in $(seq 1 25); do M store --namespace many "k$i" "value $i" >/dev/null || fail store; done
expect 0 M list --namespace many --limit 3
[ "$(awk '{print $1}' "$T/out" | head -3 | tr '\n' ' ')" = "k25 k24 k23 " ] || fail "not newest first"
contains "$T/out" "value 25"
contains "$T/out" "22 more in many"
expect 0 M list --namespace many --limit 3 --json
is_json "$T/out"
[ "$(json_get "$T/out" "(d['total'], d['more'], d['entries'][0]['value'])")" = "(25, 22, 'value 25')" ] || fail "list --json"
ok "list: newest first, values shown, says how many more"

# search: keys, tags and values, case-insensitive, ranked, names the namespace
expect 0 M store --namespace other jwt-notes "rotation of refresh tokens"
expect 0 M search JWT
[ "$(head -1 "$T/out" | awk '{print $1}')" = "other/jwt-notes" ] || fail "key match should rank first: $(cat "$T/out")"
contains "$T/out" "ctx/design"
expect 0 M search --namespace ctx --json API
is_json "$T/out"
[ "$(json_get "$T/out" "[(r['namespace'], r['key']) for r in d['results']]")" = "[('ctx', 'design')]" ] || fail "tag search"
expect 0 M search nothing-matches-this
contains "$T/out" "no entries match"
ok "search ranks key > tag > value, across namespaces"

# delete
expect 0 M delete --namespace many k1
expect 4 M delete --namespace many k1
contains "$T/err" "no key 'k1' in namespace 'many'"
ok "delete, and exit 4 for a missing key"

# stats
expect 0 M stats --json
is_json "$T/out"
[ "$(json_get "$T/out" "[(n['namespace'], n['entries']) for n in d['namespaces'] if n['namespace'] in ('ctx','many')]")" = "[('ctx', 3), ('many', 24)]" ] \
    || fail "stats: $(cat "$T/out")"
[ "$(json_get "$T/out" "[n['bytes'] for n in d['namespaces'] if n['namespace']=='ctx'][0]")" = \
  "$(( $(printf 'Use JWT; sessions in Redis' | wc -c) + $(wc -c < "$T/notes") + 4096 ))" ] || fail "stats bytes"
ok "stats: entries and bytes per namespace"

# export / import round trip exactly
expect 0 M export
cp "$T/out" "$T/dump.jsonl"
[ "$(wc -l < "$T/dump.jsonl")" = "$(( 3 + 1 + 24 + 1 ))" ] || fail "export line count"
redis-cli -p "$REDIS_PORT" -n 9 FLUSHDB >/dev/null
expect 0 M import < "$T/dump.jsonl"
contains "$T/out" "imported 29 entries"
expect 0 M get --namespace ctx blob
cmp "$T/out" "$T/bin" || fail "binary changed through export/import"
expect 0 M get --namespace ctx notes
cmp "$T/out" "$T/notes" || fail "text changed through export/import"
expect 0 M export
cmp "$T/out" "$T/dump.jsonl" || { diff "$T/out" "$T/dump.jsonl" | head; fail "second export differs"; }
ok "export/import round-trips exactly (binary, quotes, newlines, UTF-8, times, tags)"

# a bad line anywhere: exit 2 naming the line, nothing imported
{ head -2 "$T/dump.jsonl" | sed 's/"ctx"/"fresh"/'; echo '{"namespace": "fresh", "key": '; } > "$T/bad.jsonl"
expect 2 M import "$T/bad.jsonl"
contains "$T/err" "bad.jsonl:3:"
expect 0 M list --namespace fresh --json
[ "$(json_get "$T/out" "d['total']")" = 0 ] || fail "a bad import stored something"
ok "bad import: line number, nothing stored"

# --json on every verb gives one document
for args in "store --namespace j k v" "get --namespace j k" "list --namespace j" "search k" \
            "stats" "export --namespace j" "delete --namespace j k"; do
    # shellcheck disable=SC2086
    expect 0 "$SWARM" --json memory $args
    is_json "$T/out"
done
ok "--json: one JSON document from every verb"

# concurrent writers: 8 importers x 1000 entries, and 8 x 25 store processes
for w in $(seq 1 8); do
    python3 -c "
import json, sys
w = int(sys.argv[1])
for i in range(1000):
    print(json.dumps({'namespace': 'conc', 'key': 'w%d-%d' % (w, i), 'value': 'v%d-%d' % (w, i)}))" "$w" > "$T/w$w.jsonl"
done
for w in $(seq 1 8); do M import "$T/w$w.jsonl" >/dev/null 2>"$T/imp$w.err" & done
for w in $(seq 1 8); do
    ( for i in $(seq 1 25); do M store --namespace conc "s$w-$i" "sv$w-$i" >/dev/null || echo FAIL; done ) > "$T/st$w.out" &
done
wait
cat "$T"/st*.out | grep -q FAIL && fail "a concurrent store failed"
expect 0 M export --namespace conc
[ "$(wc -l < "$T/out")" = 8200 ] || fail "lost writes: $(wc -l < "$T/out") of 8200"
python3 - "$T/out" <<'PY' || fail "a value or the index is wrong"
import json, sys
seen = {}
for line in open(sys.argv[1]):
    e = json.loads(line)
    seen[e['key']] = e['value']
assert len(seen) == 8200, len(seen)
for k, v in seen.items():
    # w3-5 (imported) holds v3-5; s3-5 (stored by a process) holds sv3-5
    expected = ('s' if k.startswith('s') else '') + 'v' + k[1:]
    assert v == expected, (k, v, expected)
PY
[ "$(redis-cli -p "$REDIS_PORT" -n 9 ZCARD "$(rkey index conc)")" = 8200 ] || fail "index count"
ok "8 concurrent importers x 1000 + 200 concurrent store processes: all 8200 entries, index exact"

# Redis unreachable: exit 3 naming the address; wrong or missing password
dead=$(free_port)
expect 3 "$SWARM" --redis "redis://127.0.0.1:$dead/0" memory get k
contains "$T/err" "127.0.0.1:$dead"
pw_port=$(free_port)
redis-server --bind 127.0.0.1 --port "$pw_port" --requirepass s3cret --save '' --appendonly no \
    --dir "$T" --dbfilename pw.rdb >"$T/redis-pw.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do redis-cli -p "$pw_port" -a s3cret --no-auth-warning ping >/dev/null 2>&1 && break; sleep 0.05; done
expect 3 "$SWARM" --redis "redis://:wrong@127.0.0.1:$pw_port/0" memory list
contains "$T/err" "authentication failed"
expect 3 "$SWARM" --redis "redis://127.0.0.1:$pw_port/0" memory list
contains "$T/err" "authentication required"
SWARM_REDIS_PASSWORD=s3cret expect 0 "$SWARM" --redis "redis://127.0.0.1:$pw_port/0" memory store k v
expect 0 "$SWARM" --redis "redis://:s3cret@127.0.0.1:$pw_port/0" memory get k
ok "unreachable: exit 3 with the address; wrong/missing password: clear auth errors"

# --redis-password-file: the daemons read the password from a file, so it
# is not in their command line; a wrong one is "authentication failed"
printf 'wrong\n' >"$T/pw-bad" && printf 's3cret\n' >"$T/pw" && chmod 600 "$T/pw" "$T/pw-bad"
expect 3 "$SWARM_BUILD/swarm-coordinator" -f --redis "redis://127.0.0.1:$pw_port/0" \
    --redis-password-file "$T/pw-bad" --listen "tcp://127.0.0.1:$(free_port)" \
    --control "tcp://127.0.0.1:$(free_port)"
contains "$T/err" "authentication failed"
expect 2 "$SWARM_BUILD/swarm-coordinator" -f --redis-password-file "$T/none"
contains "$T/err" "--redis-password-file $T/none: No such file"
SWARM_REDIS="redis://127.0.0.1:$pw_port/0" start_coordinator --redis-password-file "$T/pw"
start_agent pw1 --slots 1 --redis "redis://127.0.0.1:$pw_port/0" --redis-password-file "$T/pw"
wait_agents 1
tr '\0' ' ' <"/proc/$COORD_PID/cmdline" | grep -q s3cret && fail "the password is in ps"
expect 0 "$SWARM" init pwjob
expect 0 "$SWARM" spawn --id p "FAKE:sleep=0 stored behind a password"
expect 0 "$SWARM" wait --timeout 30
SWARM_REDIS_PASSWORD=s3cret expect 0 "$SWARM" --redis "redis://127.0.0.1:$pw_port/0" results --job pwjob
contains "$T/out" "1 task: 1 succeeded"
ok "--redis-password-file: both daemons authenticate, the password stays out of ps"
