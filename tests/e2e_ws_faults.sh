#!/usr/bin/env bash
# Workspaces under faults (a private Redis: it is stopped on purpose).
#   - a corrupt chunk in Redis is refused by its digest: the task fails
#     before it starts, naming the chunk, and no git object of it enters
#     the agent's mirror;
#   - Redis stopped mid-upload (a capture's chunks half stored): the
#     capture is tried again after SIGCONT and the change comes home whole;
#   - an agent SIGKILLed mid-task and restarted on the same workdir and
#     state dir: the retry starts from a clean worktree (nothing attempt 1
#     wrote is in it, nor in the change);
#   - an agent SIGSTOPped past its lease: its task runs again elsewhere; on
#     SIGCONT its late capture is stored but its result is refused (fenced
#     on the attempt): the change is the new attempt's.
. "$(dirname "$0")/lib.sh"
REDIS_PORT=$(free_port)
mkdir -p "$T/redis"
export SWARM_REDIS="redis://127.0.0.1:$REDIS_PORT/0"
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$T/redis" --save '' --appendonly no \
    >>"$T/redis.log" 2>&1 &
REDIS_PID=$!
PIDS+=("$REDIS_PID")
for _ in $(seq 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
rc() { redis-cli -p "$REDIS_PORT" "$@"; }
start_coordinator --liveness 5
start_agent f1 --slots 2 --allow-exec --label node=f1
start_agent f2 --slots 2 --allow-exec --label node=f2
wait_agents 2

U="$T/user"
git init -q -b main "$U"
cd "$U" || fail "cd"
for i in $(seq 1 20); do echo "file $i" >"f$i.txt"; done
git add -A && git -c user.name=u -c user.email=u@e commit -qm base

# --- a corrupt chunk ------------------------------------------------------------------
expect 0 "$SWARM" init corrupt --workspace .
manifest=$(rc HGET "$(rkey job corrupt)" workspace | python3 -c 'import json,sys; print(json.load(sys.stdin)["manifest"])')
chunk=$(rc GET "$(rkey cas "$manifest")" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pack"]["chunks"][0][0])')
[ "$(rc SETRANGE "$(rkey cas "$chunk")" 12 XXXX)" -gt 0 ] || fail "cannot corrupt the chunk"
expect 0 "$SWARM" spawn --id victim --label node=f1 -- true
expect 1 "$SWARM" wait --timeout 60 victim
expect 1 "$SWARM" --json results
err=$(json_get "$T/out" "[r['error'] for r in d if r['id']=='victim'][0]")
case "$err" in *"chunk $chunk is corrupt"*refused*) ;; *) fail "the error: $err" ;; esac
[ "$(json_get "$T/out" "[r['attempt'] for r in d if r['id']=='victim'][0]")" = 1 ] \
    || fail "a corrupt chunk was retried"
[ "$(rc EXISTS "$(rkey cas "$chunk")")" = 0 ] || fail "the corrupt chunk stays in Redis"
commit=$(rc HGET "$(rkey job corrupt)" workspace | python3 -c 'import json,sys; print(json.load(sys.stdin)["commit"])')
for m in "$T"/state-f1/ws/mirrors/*.git; do
    ! git --git-dir="$m" cat-file -e "$commit" 2>/dev/null || fail "the corrupt pack entered the mirror"
done
ok "a corrupt chunk is refused by its digest: the task fails naming it; the mirror never saw it; the chunk is deleted"

# --- Redis stopped mid-upload -----------------------------------------------------------
expect 0 "$SWARM" init stop --workspace .
grep -q "stored before" "$T/err" && fail "the snapshot with the deleted chunk was reused"
expect 0 "$SWARM" spawn --id big --label node=f2 -- sh -c \
    "head -c 41943040 /dev/urandom >big.bin && echo small >small.txt"
jobcas=$(rkey jobcas stop)
start=$(rc SCARD "$jobcas")
for _ in $(seq 1500); do
    [ "$(rc SCARD "$jobcas")" -gt "$start" ] && break
    sleep 0.02
done
[ "$(rc SCARD "$jobcas")" -gt "$start" ] || fail "the capture never began to upload"
kill -STOP "$REDIS_PID"
ok "Redis SIGSTOPped after the capture's first chunk"
sleep 5
kill -CONT "$REDIS_PID"
expect 0 "$SWARM" wait --timeout 120 big
grep -q "task stop/big: the capture of its workspace failed (.*): trying again" "$T/agent-f2.log" \
    || fail "no capture was tried again"
expect 0 "$SWARM" diff --stat big
contains "$T/out" "big.bin"
contains "$T/out" "small.txt"
expect 0 "$SWARM" --json results
[ "$(json_get "$T/out" "[r['workspace']['files'] for r in d if r['id']=='big'][0]")" = 2 ] \
    || fail "the change is not whole"
cd "$U" && expect 0 "$SWARM" apply big
[ "$(stat -c %s "$U/big.bin")" = 41943040 ] || fail "big.bin came home cut"
rm -f "$U/big.bin" "$U/small.txt"
ok "after SIGCONT the capture was tried again; the 40 MiB change came home whole"

# --- agent SIGKILLed mid-task: the retry starts clean --------------------------------------
expect 0 "$SWARM" init kill --workspace .
expect 0 "$SWARM" spawn --id k --label node=f1 --max-attempts 3 -- sh -c \
    "if [ \"\$SWARM_ATTEMPT\" = 1 ]; then echo partial >partial.txt; touch '$T/k-started'; sleep 60; fi; \
     [ ! -e partial.txt ] || exit 3; echo clean >clean.txt"
for _ in $(seq 400); do [ -e "$T/k-started" ] && break; sleep 0.05; done
[ -e "$T/k-started" ] || fail "attempt 1 never started"
kill -9 "$AGENT_PID_f1"
wait "$AGENT_PID_f1" 2>/dev/null         # gone, its state-dir lock released, before the restart
start_agent f1 --slots 2 --allow-exec --label node=f1
expect 0 "$SWARM" wait --timeout 90 k
expect 0 "$SWARM" --json results
[ "$(json_get "$T/out" "[r['attempt'] for r in d if r['id']=='k'][0]")" = 2 ] || fail "not attempt 2"
expect 0 "$SWARM" diff --stat k
contains "$T/out" "clean.txt"
grep -q partial "$T/out" && fail "attempt 1's file is in the change"
ok "agent SIGKILLed mid-task and restarted: attempt 2 started from a clean worktree"

# --- an agent stopped past its lease: its late capture is fenced --------------------------
expect 0 "$SWARM" init late --workspace .
# attempt 1 runs until the test has stopped its agent (bounded: 60 s), so
# it cannot finish first on a loaded machine
expect 0 "$SWARM" spawn --id l --max-attempts 3 -- sh -c \
    "echo \"attempt \$SWARM_ATTEMPT\" >who.txt; if [ \"\$SWARM_ATTEMPT\" = 1 ]; then touch '$T/l-started'; for i in \$(seq 600); do [ -e '$T/l-go' ] && break; sleep 0.1; done; fi"
for _ in $(seq 400); do [ -e "$T/l-started" ] && break; sleep 0.05; done
[ -e "$T/l-started" ] || fail "attempt 1 did not start"
victim=$(task_field l agent)
eval "vpid=\$AGENT_PID_$victim"
kill -STOP "$vpid"
touch "$T/l-go"                          # attempt 1's child ends while its agent is stopped
expect 0 "$SWARM" wait --timeout 60 l
kill -CONT "$vpid"
for _ in $(seq 600); do
    grep -q "result of late/l attempt 1 refused" "$T/agent-$victim.log" && break
    sleep 0.05
done
grep -q "result of late/l attempt 1 refused" "$T/agent-$victim.log" || fail "the late result was not refused"
expect 0 "$SWARM" --json results
[ "$(json_get "$T/out" "[r['attempt'] for r in d if r['id']=='l'][0]")" = 2 ] || fail "attempt"
expect 0 "$SWARM" diff l
contains "$T/out" "+attempt 2"
ok "an agent stopped past its lease: attempt 2's change is the result; attempt 1's late one was refused"
