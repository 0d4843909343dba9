#!/usr/bin/env bash
# The build-farm example with workspaces: examples/farm compiled on two
# agents that share no directory (each has its own workdir and state dir;
# neither has the sources), the object files fetched home with swarm
# outputs and linked into a program that runs.
#   - outputs keep paths and modes, are checked by SHA-256, and a path that
#     would leave --dest through a symlink there is refused, nothing
#     written outside;
#   - output globs without a workspace are refused at submit;
#   - swarm purge --job removes the job's stored changes and outputs
#     (swarm outputs then exits 4), and keeps what another job still uses.
. "$(dirname "$0")/lib.sh"
use_redis 75
command -v cc >/dev/null || { echo "skip: no C compiler"; exit 77; }
start_coordinator
start_agent b1 --slots 2 --allow-exec --label farm=yes
start_agent b2 --slots 2 --allow-exec --label farm=yes
start_agent tiny --slots 1 --allow-exec --label caps=tiny --max-change 100K --max-outputs 100K
wait_agents 3

F="$T/farm"
cp -r "$SWARM_SRC/examples/farm" "$F"
cd "$F" || fail "cd"
git init -q -b main && git add -A && git -c user.name=u -c user.email=u@e commit -qm farm
for a in b1 b2; do
    [ -z "$(find "$T/work-$a" -name '*.c' 2>/dev/null)" ] || fail "agent $a already has sources"
done

expect 0 "$SWARM" run --commands commands.txt --workspace . --outputs '*.o' --job farm --wait \
    --label farm=yes
contains "$T/out" "4 tasks: 4 succeeded"
expect 0 "$SWARM" results --job farm --json
[ "$(json_get "$T/out" "sorted(set(r['agent'] for r in d))")" = "['b1', 'b2']" ] \
    || fail "the farm did not use both agents"
[ "$(json_get "$T/out" "sorted(o['path'] for r in d for o in r['outputs'])")" \
    = "['add.o', 'greet.o', 'main.o', 'mul.o']" ] || fail "outputs: $(cat "$T/out")"
[ "$(json_get "$T/out" "all(r['workspace']['files'] == 0 for r in d)")" = True ] \
    || fail "ignored objects leaked into the change"
ok "examples/farm compiled on b1 and b2, which share no directory; four objects stored"

expect 0 "$SWARM" outputs --job farm --dest build/
[ "$(ls build | tr '\n' ' ')" = "add.o greet.o main.o mul.o " ] || fail "build/: $(ls build)"
cc -o hello build/*.o || fail "the objects do not link"
[ "$(./hello)" = "built by swarm: 14" ] || fail "the program says: $(./hello)"
expect 0 "$SWARM" --json outputs --job farm --dest build2
[ "$(json_get "$T/out" "len(d['files'])")" = 4 ] || fail "outputs --json"
sha=$(json_get "$T/out" "[f['sha256'] for f in d['files'] if f['path']=='main.o'][0]")
[ "$(sha256sum build2/main.o | cut -d' ' -f1)" = "$sha" ] || fail "sha256"
ok "swarm outputs fetched the objects; they link into a program that runs"

# a task's outputs in a subdirectory, an executable, and a trap in --dest
expect 0 "$SWARM" spawn --job farm --id sub --label farm=yes --output 'obj/*.o' --output tool -- \
    sh -c 'mkdir -p obj && echo x >obj/x.o && printf "#!/bin/sh\necho tool\n" >tool && chmod 755 tool'
expect 0 "$SWARM" wait --job farm --timeout 60 sub
expect 0 "$SWARM" outputs --job farm --dest kept sub
[ -f kept/obj/x.o ] && [ -x kept/tool ] && [ "$(kept/tool)" = tool ] || fail "paths and modes"
mkdir -p trap "$T/outside"
ln -s "$T/outside" trap/obj
expect 1 "$SWARM" outputs --job farm --dest trap sub
contains "$T/err" "a symlink"
[ -z "$(ls "$T/outside")" ] || fail "an output went through the symlink"
expect 0 "$SWARM" diff --job farm --stat sub
contains "$T/out" "tool"
ok "outputs keep subdirectories and modes; a symlink in --dest is never followed"

# the agent's caps, named in the errors
expect 0 "$SWARM" spawn --job farm --id toobig --label caps=tiny -- sh -c 'head -c 300000 /dev/zero >blob.dat'
expect 0 "$SWARM" spawn --job farm --id toomuch --label caps=tiny --output '*.o' -- sh -c 'head -c 300000 /dev/zero >big.o'
expect 1 "$SWARM" wait --job farm --timeout 60 toobig toomuch
expect 1 "$SWARM" --json results --job farm
case "$(json_get "$T/out" "[r['error'] for r in d if r['id']=='toobig'][0]")" in
    *"over the agent's --max-change 100.0 KiB (the biggest file: blob.dat"*) ;; *) fail "max-change: $(cat "$T/out")" ;;
esac
case "$(json_get "$T/out" "[r['error'] for r in d if r['id']=='toomuch'][0]")" in
    *"over the agent's --max-outputs 102400 bytes (at big.o)"*) ;; *) fail "max-outputs: $(cat "$T/out")" ;;
esac
ok "an agent's --max-change and --max-outputs fail the task, naming the cap and the file"

expect 2 "$SWARM" spawn --job nowork --id o --output '*.o' -- true
contains "$T/err" "output globs need a workspace"
ok "output globs without a workspace are refused at submit"

# purge: this job's content goes; another job's use of the same snapshot stays
expect 0 "$SWARM" init other --workspace .
jobcas=$(rkey jobcas farm)
[ "$(redis-cli -p "$REDIS_PORT" -n 75 SCARD "$jobcas")" -gt 5 ] || fail "the job records its content"
expect 0 "$SWARM" purge --job farm
contains "$T/out" "kept for other jobs"
[ "$(redis-cli -p "$REDIS_PORT" -n 75 EXISTS "$jobcas")" = 0 ] || fail "the job's set stays"
expect 4 "$SWARM" outputs --job farm --dest build3
contains "$T/err" "gone"
expect 4 "$SWARM" diff --job farm sub       # its change: the new file tool
contains "$T/err" "gone"
expect 0 "$SWARM" spawn --job other --id still --label farm=yes -- test -f src/main.c
expect 0 "$SWARM" wait --job other --timeout 60 still
expect 4 "$SWARM" purge --job nosuchjob
expect 2 "$SWARM" purge
ok "purge removed the job's outputs and changes; the snapshot another job uses stayed"
