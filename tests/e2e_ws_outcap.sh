#!/usr/bin/env bash
# Workspaces: an output over the agent's --max-outputs is refused before
# any of it is stored (issue 16, the acceptance pass). The capture read
# the file into the store chunk by chunk and refused it only when the
# count passed the cap: a 5 GB build artefact under the default 1G cap
# left 1 GB of chunks in Redis, nothing referencing them, until they
# expired. The file's size is known before the first byte is read.
#   - a 48 MiB output under --max-outputs 8M: the task fails naming the
#     cap and the file, and Redis holds no more than it did (a chunk is
#     4 MiB: two of them were stored before the refusal);
#   - an output of 6 MiB under the same cap is stored (the cap is a cap,
#     not a ban).
. "$(dirname "$0")/lib.sh"
private_redis 162
start_coordinator
start_agent a1 --slots 1 --allow-exec --max-outputs 8M
wait_agents 1

used() { redis-cli -p "$REDIS_PORT" INFO memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p'; }

user_repo
printf 'src\n' >src.c
printf '*.bin\n' >.gitignore          # build outputs: not part of the change
user_commit "the user's work"
expect 0 "$SWARM" init outcap --workspace .
# warm: the snapshot and a task's result are in the store before we measure
expect 0 "$SWARM" spawn --id warm -- true
expect 0 "$SWARM" wait --timeout 60
m0=$(used)
expect 0 "$SWARM" spawn --id big --output '*.bin' -- sh -c 'head -c 50331648 /dev/urandom >big.bin'
expect 1 "$SWARM" wait --timeout 60
[ "$(task_field big status)" = failed ] || fail "big: $(task_field big status)"
expect 1 "$SWARM" --json results
reason=$(json_get "$T/out" "[str(r.get('error')) + str(r.get('workspace_error')) for r in d if r['id']=='big'][0]")
case "$reason" in *--max-outputs*big.bin*) ;; *) fail "big's error names neither the cap nor the file: $reason" ;; esac
m1=$(used)
[ $((m1 - m0)) -lt $((2 << 20)) ] \
    || fail "the refused output left $(( (m1 - m0) >> 20 )) MiB in Redis (before: $m0, after: $m1)"
ok "an output over --max-outputs fails the task naming the cap and the file; nothing of it stored"

expect 0 "$SWARM" spawn --id fits --output '*.bin' -- sh -c 'head -c 6291456 /dev/urandom >fits.bin'
expect 0 "$SWARM" wait --timeout 60 fits
mkdir -p "$T/dest"
expect 0 "$SWARM" outputs --dest "$T/dest" fits
[ "$(stat -c %s "$T/dest/fits.bin")" = 6291456 ] || fail "fits.bin did not come back whole"
ok "an output under the cap is stored and comes back"

# From the attack on the whole feature (stop 31):
#   - a path one task writes as a file and another as a directory is
#     refused before anything is written (it wrote part of the set);
#   - a job or task not found leaves no --dest directory behind;
#   - content gone from the store exits 4 (not found), as apply does.
expect 0 "$SWARM" spawn --id oA --output '*.o' -- sh -c 'echo a >k.o'
expect 0 "$SWARM" spawn --id oB --output '*.o' -- sh -c 'mkdir k.o && echo b >k.o/y.o && echo z >z.o'
expect 0 "$SWARM" wait --timeout 60 oA oB
expect 1 "$SWARM" outputs --dest "$T/clash" oA oB
contains "$T/err" "k.o is a file of oA and a directory of oB"
[ -e "$T/clash" ] && fail "the refused outputs wrote into DEST: $(ls -R "$T/clash")"
ok "a file of one task that is a directory of another: refused, nothing written"
expect 4 "$SWARM" outputs --job nosuchjob --dest "$T/none"
[ -e "$T/none" ] && fail "outputs of a job not found made its --dest"
ok "outputs of a job not found: exit 4, no --dest made"
expect 1 "$SWARM" --json results  # big failed
manifest=$(json_get "$T/out" "[r['outputs_manifest'] for r in d if r['id']=='oA'][0]")
blob=$(redis-cli -p "$REDIS_PORT" -n 162 GET "$(rkey cas "$manifest")" \
       | python3 -c 'import json,sys; print(json.load(sys.stdin)["files"][0]["chunks"][0][0])')
[ "$(redis-cli -p "$REDIS_PORT" -n 162 DEL "$(rkey cas "$blob")")" = 1 ] || fail "no chunk $blob to remove"
expect 4 "$SWARM" outputs --dest "$T/gone" oA
contains "$T/err" "is gone"
expect 1 "$SWARM" --json results  # big failed
patch=$(json_get "$T/out" "[r['workspace']['patch'] for r in d if r['id']=='oA'][0]")
pchunk=$(redis-cli -p "$REDIS_PORT" -n 162 GET "$(rkey cas "$patch")" \
         | python3 -c 'import json,sys; print(json.load(sys.stdin)["chunks"][0][0])')
[ "$(redis-cli -p "$REDIS_PORT" -n 162 DEL "$(rkey cas "$pchunk")")" = 1 ] || fail "no patch chunk"
expect 4 "$SWARM" diff oA
expect 4 "$SWARM" diff --stat oA
expect 4 "$SWARM" --json diff oA
ok "content gone from the store: outputs and diff exit 4"
