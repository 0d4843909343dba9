#!/usr/bin/env bash
# Redis keys (common/sw_keys.c): ids and names that collided in key layout 1
# run and store apart; the layout is marked in Redis; layout 1 data is
# migrated by the coordinator and refused by the CLI and agents until then;
# data of a newer layout is refused by everyone.
. "$(dirname "$0")/lib.sh"
use_redis 61
R() { redis-cli -p "$REDIS_PORT" -n 61 "$@"; }

start_coordinator
start_agent a1 --allow-exec
wait_agents 1
[ "$(R GET "$(rkey layout)")" = 2 ] || fail "the layout is not marked in Redis"

# --- pairs that shared a key in layout 1 -------------------------------------
# job x:tasks vs the task list of job x (layout 1: WRONGTYPE, coordinator wedged)
expect 0 "$SWARM" init x
expect 0 "$SWARM" spawn --job x --id t1 -- echo job-x
expect 0 "$SWARM" init x:tasks
expect 0 "$SWARM" spawn --job x:tasks --id t1 -- echo job-x-tasks
# task b of job j:a vs task a:b of job j
expect 0 "$SWARM" init j:a
expect 0 "$SWARM" spawn --job j:a --id b -- echo j:a/b
expect 0 "$SWARM" init j
expect 0 "$SWARM" spawn --job j --id a:b -- echo j/a:b
# an id that looks like a key's other parts
expect 0 "$SWARM" spawn --job j --id task:tasks -- echo j/task:tasks
for job in x x:tasks j:a j; do
    expect 0 "$SWARM" wait --job "$job" --timeout 30
done
for pair in "x t1 job-x" "x:tasks t1 job-x-tasks" "j:a b j:a/b" "j a:b j/a:b" \
            "j task:tasks j/task:tasks"; do
    set -- $pair
    expect 0 "$SWARM" logs --job "$1" "$2"
    [ "$(cat "$T/out")" = "$3" ] || fail "job $1 task $2 printed '$(cat "$T/out")', want '$3'"
done
expect 0 "$SWARM" --json results --job j
[ "$(json_get "$T/out" 'len(d)')" = 2 ] || fail "job j has $(json_get "$T/out" 'len(d)') results"
ok "jobs x and x:tasks, tasks j:a/b and j/a:b all ran and keep their own results"

# a restart loads every job (layout 1 stopped at a job whose keys were mixed up)
kill_coordinator
start_coordinator
for job in x x:tasks j:a j; do
    expect 0 "$SWARM" --json status --job "$job"
done
ok "a restarted coordinator loads all four jobs"

# memory: namespace a:b key c vs namespace a key b:c (layout 1: one key)
expect 0 "$SWARM" memory store --namespace a:b c value-of-a:b/c
expect 0 "$SWARM" memory store --namespace a b:c value-of-a/b:c
expect 0 "$SWARM" memory get --namespace a:b c
[ "$(cat "$T/out")" = value-of-a:b/c ] || fail "a:b/c is '$(cat "$T/out")'"
expect 0 "$SWARM" memory get --namespace a b:c
[ "$(cat "$T/out")" = value-of-a/b:c ] || fail "a/b:c is '$(cat "$T/out")'"
# keys with the characters the layout escapes, and their escaped spellings
i=0
for key in '*' '{x}' '}' '{' '%' '%3A' ':' 'a%b' 'ttl' 'entry:z' '{a}:b' 'дизайн'; do
    i=$((i + 1))
    expect 0 "$SWARM" memory store --namespace odd -- "$key" "v$i"
done
i=0
for key in '*' '{x}' '}' '{' '%' '%3A' ':' 'a%b' 'ttl' 'entry:z' '{a}:b' 'дизайн'; do
    i=$((i + 1))
    expect 0 "$SWARM" memory get --namespace odd -- "$key"
    [ "$(cat "$T/out")" = "v$i" ] || fail "key '$key' holds '$(cat "$T/out")', want v$i"
done
expect 0 "$SWARM" --json memory list --namespace odd --limit 100
[ "$(json_get "$T/out" 'd["total"]')" = 12 ] || fail "namespace odd lists $(cat "$T/out")"
expect 0 "$SWARM" memory delete --namespace odd -- '{x}'
expect 4 "$SWARM" memory get --namespace odd -- '{x}'
expect 0 "$SWARM" memory get --namespace odd -- '*'
# TTLs live per namespace: an expired entry leaves the index of its own only
expect 0 "$SWARM" memory store --namespace odd --ttl 1 -- 'short{lived}' gone-soon
sleep 1.2
expect 0 "$SWARM" --json memory list --namespace odd --limit 100
[ "$(json_get "$T/out" 'd["total"]')" = 11 ] || fail "the expired entry is still listed"
ok "memory keys with * { } % : and escapes of them store, list, expire and delete apart"

# ids outside the id alphabet are refused, naming it
for id in 'a*b' 'a{b' 'a}b' 'a%b'; do
    expect 2 "$SWARM" spawn --job j --id "$id" -- true
    contains "$T/err" "invalid task id"
done
ok "task ids with * { } % are refused with the allowed alphabet"

# --- layout 1 data: migrated by the coordinator, refused before that ---------
kill -TERM "$COORD_PID"
wait "$COORD_PID" 2>/dev/null
use_redis 62
R2() { redis-cli -p "$REDIS_PORT" -n 62 "$@"; }
# Layout 1 as swarm 0.1 wrote it (the only place keys are spelt by hand:
# this is the old layout, on purpose).
R2 ZADD swarm:jobs 1000 old >/dev/null
R2 HSET swarm:job:old created 1000 namespace results max_agents 0 on_failure continue \
    complete 2000 >/dev/null
R2 RPUSH swarm:job:old:tasks t1 t:2 >/dev/null
for t in t1 t:2; do
    R2 HSET "swarm:task:old:$t" spec "{\"id\":\"$t\",\"job\":\"old\",\"type\":\"cmd\",\"runner\":\"exec\",\"argv\":[\"true\"],\"timeout_s\":300,\"idle_timeout_s\":0,\"max_attempts\":3,\"ns\":\"results\",\"after\":[],\"labels\":{},\"env\":{}}" \
        type cmd runner exec submitted 1000 status succeeded attempt 1 agent a1 host h \
        started 1001 finished 1002 exit_code 0 reason "" \
        result "{\"id\":\"$t\",\"status\":\"succeeded\",\"attempt\":1,\"exit_code\":0,\"output\":\"old-$t\"}" >/dev/null
done
R2 SADD swarm:namespaces notes >/dev/null
R2 HSET swarm:mem:notes:design value "use JWT" tags "" created 1 updated 2 >/dev/null
R2 ZADD swarm:ns:notes 2 design >/dev/null
R2 HSET "swarm:mem:notes:a:b" value "colon key" tags "" created 1 updated 3 >/dev/null
R2 ZADD swarm:ns:notes 3 a:b >/dev/null
R2 HSET swarm:mem:notes:brief value "expires" tags "" created 1 updated 4 >/dev/null
R2 PEXPIRE swarm:mem:notes:brief 600000 >/dev/null
R2 ZADD swarm:ns:notes 4 brief >/dev/null
R2 ZADD swarm:mem:ttl 99999999999999 "$(printf 'notes\nbrief')" >/dev/null
R2 SET swarm:current_job old >/dev/null

expect 3 "$SWARM" memory get --namespace notes design
contains "$T/err" "key layout 1"
contains "$T/err" "start swarm-coordinator once"
[ -z "$(R2 GET "$(rkey layout)")" ] || fail "the CLI marked layout 1 data as layout 2"
ok "the CLI refuses layout 1 data and says how to migrate it"

start_coordinator
contains "$T/coordinator.log" "migrating it to layout 2"
[ "$(R2 GET "$(rkey layout)")" = 2 ] || fail "not marked layout 2 after the migration"
expect 0 "$SWARM" --json results --job old
[ "$(json_get "$T/out" '",".join(r["output"] for r in d)')" = "old-t1,old-t:2" ] \
    || fail "old results: $(cat "$T/out")"
expect 0 "$SWARM" memory get --namespace notes design
[ "$(cat "$T/out")" = "use JWT" ] || fail "old memory: $(cat "$T/out")"
expect 0 "$SWARM" memory get --namespace notes a:b
[ "$(cat "$T/out")" = "colon key" ] || fail "old memory a:b: $(cat "$T/out")"
[ "$(R2 ZSCORE "$(rkey ttl notes)" brief)" = 99999999999999 ] || fail "TTL schedule not moved"
[ "$(R2 PTTL "$(rkey mem notes brief)")" -gt 0 ] || fail "the entry lost its TTL"
[ "$(R2 EXISTS swarm:mem:ttl swarm:job:old swarm:task:old:t1 swarm:mem:notes:design)" = 0 ] \
    || fail "layout 1 keys are left"
ok "the coordinator migrates layout 1 data: results, memory, TTLs all readable"

# --- a newer layout: everybody refuses -----------------------------------------
kill -TERM "$COORD_PID"
wait "$COORD_PID" 2>/dev/null
R2 SET "$(rkey layout)" 3 >/dev/null
expect 3 "$SWARM" memory get --namespace notes design
contains "$T/err" "layout 3, newer"
"$SWARM_BUILD/swarm-coordinator" -f --listen "tcp://127.0.0.1:$(free_port)" \
    --control "tcp://127.0.0.1:$(free_port)" --redis "$SWARM_REDIS" >"$T/newer.log" 2>&1
rc=$?
[ "$rc" -ne 0 ] || fail "the coordinator started on a newer layout"
contains "$T/newer.log" "layout 3, newer"
ok "data of a newer layout is refused by the CLI and the coordinator"
