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
