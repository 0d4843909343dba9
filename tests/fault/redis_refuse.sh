#!/usr/bin/env bash
# Pass: Redis refusing writes (an error reply) is not an outage (issue 15,
# section 2). Each refusal, made for real on a private redis-server, ends
# the task or request it was about, with Redis's words and the key, and is
# never written again, while the other jobs go on:
# - WRONGTYPE: a key of the wrong type where a task's hash goes (the
#   coordinator used to take it for an outage, hold every TASK and replay
#   the write forever);
# - OOM: maxmemory reached with noeviction; the task that was running
#   finishes once Redis has memory again;
# - READONLY: the coordinator's Redis became a replica (a failover);
# - SCRIPT FLUSH and a Redis restart: scripts are loaded again (NOSCRIPT);
#   sw_redis itself is checked on this server (swarm_selftest redis-live).
# The job that ran beside them is audited: every task one result.
. "$(dirname "$0")/lib.sh"
start_private_redis
R() { redis-cli -p "$REDIS_PORT" "$@"; }
start_coordinator
start_agent a1 --allow-exec --slots 4
wait_agents 1
expect 0 "$SWARM_BUILD/tests/swarm_selftest" redis-live "$SWARM_REDIS"
ok "sw_redis: error replies classified, NOSCRIPT after SCRIPT FLUSH and a lost connection"

# --- WRONGTYPE ----------------------------------------------------------------------
expect 0 "$SWARM" init x
expect 0 "$SWARM" spawn --job x --id t1 -- true
R SET "$(rkey task x t2)" "not a hash" >/dev/null
fault "a string where task x/t2's hash goes (WRONGTYPE)"
expect 1 "$SWARM" spawn --job x --id t2 -- echo never
contains "$T/err" "Redis refused to store task t2 of job x: WRONGTYPE"
contains "$T/err" "(key $(rkey task x t2))"
expect 0 "$SWARM" init y
for i in 1 2 3; do expect 0 "$SWARM" spawn --job y --id "y$i" -- echo "y$i"; done
expect 0 "$SWARM" wait --job y --timeout 30
expect 1 "$SWARM" wait --job x --timeout 30
contains "$T/out" "2/2 finished: 1 succeeded, 1 failed"
expect 0 "$SWARM" --json status --job x
[ "$(json_get "$T/out" '[t["status"] for t in d["tasks"] if t["id"] == "t2"][0]')" = failed ] \
    || fail "t2 did not fail"
json_get "$T/out" '[t["reason"] for t in d["tasks"] if t["id"] == "t2"][0]' > "$T/why"
contains "$T/why" "WRONGTYPE"
refusals() { grep -c "refused the write of $(rkey task x t2)" "$T/coordinator.log"; }
n1=$(refusals)
expect 0 "$SWARM" spawn --job y --id y4 -- echo y4
expect 0 "$SWARM" wait --job y --timeout 30
sleep 2
[ "$(refusals)" = "$n1" ] && [ "$n1" -le 4 ] || fail "the refused write was tried $n1, then $(refusals) times"
! grep -q "holding new tasks" "$T/coordinator.log" || fail "the refusal was taken for an outage"
ok "WRONGTYPE: the spawn fails naming the key, t2 fails, job y runs, nothing is replayed"

# --- OOM ---------------------------------------------------------------------------
expect 0 "$SWARM" init z
expect 0 "$SWARM" spawn --job z --id zlong -- sleep 2
wait_status zlong running
R CONFIG SET maxmemory-policy noeviction >/dev/null
R CONFIG SET maxmemory 1 >/dev/null
fault "maxmemory reached (noeviction): every write refused with OOM"
expect 1 "$SWARM" spawn --job z --id z2 -- true
contains "$T/err" "OOM command not allowed"
expect 0 "$SWARM" status --job z
sleep 2.5                                   # zlong ends meanwhile: its result waits
R CONFIG SET maxmemory 0 >/dev/null
expect 0 "$SWARM" spawn --job z --id z3 -- true
expect 1 "$SWARM" wait --job z --timeout 30
contains "$T/out" "3/3 finished: 2 succeeded, 1 failed"
[ "$(task_field zlong status)" = succeeded ] || fail "zlong is $(task_field zlong status)"
ok "OOM: the spawn fails, the running task finishes once Redis has memory, the next spawn runs"

# --- READONLY: a failover made our Redis a replica ------------------------------------
P2=$(free_port)
redis-server --bind 127.0.0.1 --port "$P2" --dir "$T/redis" --dbfilename other.rdb --save '' \
    >>"$T/redis2.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 100); do redis-cli -p "$P2" ping >/dev/null 2>&1 && break; sleep 0.05; done
synced() { redis-cli -p "$1" info replication | grep -q "master_link_status:up"; }
redis-cli -p "$P2" REPLICAOF 127.0.0.1 "$REDIS_PORT" >/dev/null
for _ in $(seq 200); do synced "$P2" && break; sleep 0.05; done
redis-cli -p "$P2" REPLICAOF NO ONE >/dev/null
R REPLICAOF 127.0.0.1 "$P2" >/dev/null
for _ in $(seq 200); do synced "$REDIS_PORT" && break; sleep 0.05; done
synced "$REDIS_PORT" || fail "our Redis did not become a replica"
fault "our Redis became a read-only replica"
expect 1 "$SWARM" spawn --job z --id r1 -- true
contains "$T/err" "READONLY"
expect 0 "$SWARM" status --job z
R REPLICAOF NO ONE >/dev/null
expect 0 "$SWARM" spawn --job z --id r2 -- true
expect 0 "$SWARM" wait --job z --timeout 30 r2
ok "READONLY: the spawn fails saying so; writable again, the next one runs"

# --- scripts forgotten: SCRIPT FLUSH, then a restart -----------------------------------
R SCRIPT FLUSH >/dev/null
fault "SCRIPT FLUSH"
expect 0 "$SWARM" spawn --job y --id y5 -- echo y5
expect 0 "$SWARM" memory store --namespace flushed k v
expect 0 "$SWARM" wait --job y --timeout 30
R SHUTDOWN NOSAVE >/dev/null 2>&1
wait "$REDIS_PID" 2>/dev/null
fault "Redis restarted (scripts forgotten)"
redis_up
expect 0 "$SWARM" wait --job y --timeout 30       # the state written again
expect 0 "$SWARM" spawn --job y --id y6 -- echo y6
expect 0 "$SWARM" wait --job y --timeout 30
contains "$T/out" "6/6 finished: 6 succeeded"
ok "after SCRIPT FLUSH and a restart, results are stored (the scripts loaded again)"
kill -0 "$COORD_PID" || fail "the coordinator died"
audit y
