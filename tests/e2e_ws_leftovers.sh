#!/usr/bin/env bash
# What a task leaves in its reused worktree never reaches the next task
# on it (issue 16, i26-ws): ignored files and directories, an empty
# directory, a fifo, an untracked file in an ignored directory, a tracked
# file edited, a nested .git; and the short cuts the prepare takes when
# there is nothing to clean (no `git clean`), when the worktree is at the
# start already (no git at all) and the capture's tree from the index (no
# `write-tree`) are taken only when they hold, shown by the helpers' trace.
. "$(dirname "$0")/lib.sh"
use_redis 135
start_coordinator
SWARM_GIT_TRACE=1 start_agent a1 --slots 1 --allow-exec
wait_agents 1
user_repo
printf 'base\n' >README
mkdir -p src
printf 'int x;\n' >src/a.c
printf '*.log\nbuild/\n' >.gitignore
user_commit base
expect 0 "$SWARM" init left --workspace .
log="$T/agent-a1.log"
# the prepare's trace line of task ID: which way its worktree was made
way() {
    awk -v t="task left/$1: worktree at" '
        /the workspace preparation helper.s trace:/ { buf = ""; on = 1; next }
        on && /helper (worktree at the start|clean skipped|clean needed)/ { buf = $0 }
        index($0, t) { print buf; exit }' "$log"
}
# the snapshot as it was, and nothing else
pristine='set -e
[ "$(cat README)" = base ] && [ "$(cat src/a.c)" = "int x;" ]
[ "$(find . -path ./.git -prune -o -print | sort | tr "\n" " ")" = ". ./.gitignore ./README ./src ./src/a.c " ]
[ -z "$(git status --porcelain --ignored)" ]
[ "$(git config --local --list | tr "\n" " ")" = "core.repositoryformatversion=0 core.bare=false " ]
echo pristine'

expect 0 "$SWARM" spawn --id t1 -- sh -c "$pristine"
expect 0 "$SWARM" wait --timeout 60 t1

# a read-only task: the next one finds its worktree at the start already
expect 0 "$SWARM" spawn --id t2 -- sh -c "$pristine"
expect 0 "$SWARM" wait --timeout 60 t2
grep -A8 "the workspace capture helper's trace" "$log" | grep -q "helper tree from the index" \
    || fail "a capture that changed nothing ran write-tree: $(grep -A8 "capture helper's trace" "$log")"
expect 0 "$SWARM" spawn --id t3 -- sh -c "$pristine"
expect 0 "$SWARM" wait --timeout 60 t3
case "$(way t3)" in *"worktree at the start"*) ;; *) fail "t3 after a read-only task: $(way t3)" ;; esac
ok "a task after a read-only one: no git in the prepare, no write-tree in the capture"

# leftovers of every kind, one task each, then the check on the same base
mkdir -p "$T/outside" && printf 'outside\n' >"$T/outside/a.c"
n=0
for litter in 'echo x >junk.log' 'mkdir -p build/o && echo o >build/o/a.o' 'mkdir empty' \
        'mkfifo pipe.log' 'mkdir -p build && echo u >build/untracked.c' \
        'echo edit >>src/a.c' 'mkdir -p src/.git && echo x >src/.git/HEAD' \
        'mkdir -p deep/er && echo y >deep/er/z.log' 'ln -s README link.log' \
        'touch -r src/a.c .git/r && printf "int y;\n" >src/a.c && touch -r .git/r src/a.c' \
        'printf "int z;\n" >src/a.c' 'chmod +x src/a.c' 'ln -f README src/a.c' \
        'rm src/a.c && mkdir src/a.c && echo q >src/a.c/q' \
        "rm -r src && ln -s '$T/outside' src" 'rm -r src && echo f >src'; do
    n=$((n + 1))
    expect 0 "$SWARM" spawn --id "l$n" -- sh -c "$litter"
    expect 0 "$SWARM" wait --timeout 60 "l$n"
    expect 0 "$SWARM" spawn --id "c$n" -- sh -c "$pristine"
    expect 0 "$SWARM" wait --timeout 60 "c$n" || fail "after '$litter': $(cat "$T/out")"
    expect 0 "$SWARM" --json results
    [ "$(json_get "$T/out" "[r['status'] for r in d if r['id']=='c$n'][0]")" = succeeded ] \
        || fail "after '$litter' the next task saw it: $(json_get "$T/out" "[r['output'] for r in d if r['id']=='c$n'][0]")"
    grep -q "task left/c$n: worktree at .*checkout reset" "$log" \
        || fail "c$n did not reuse the worktree: $(grep "left/c$n:" "$log")"
    case "$litter" in
        'echo edit'* | 'touch -r'* | 'printf'* | 'chmod'* | 'ln -f'* | 'rm '*) case "$(way "c$n")" in *"clean skipped"*) ;;
                      *) fail "after an edit of a tracked file: $(way "c$n")" ;; esac ;;
        *) case "$(way "c$n")" in *"clean needed"*) ;;
           *) fail "after '$litter': $(way "c$n")" ;; esac ;;
    esac
done
[ "$(ls "$T/outside")" = a.c ] && [ "$(cat "$T/outside/a.c")" = outside ] \
    || fail "a checkout wrote through the symlink src: $(ls -l "$T/outside")"
ok "ignored files and directories, an empty directory, a fifo, an untracked file in an ignored directory, a nested .git, an ignored symlink, an edited tracked file: none reached the next task (git clean where it had work, and only there)"

# the worktree's .git is the task's to use, not to leave: a config it
# set there (an alias, a name; core.fsmonitor or core.hooksPath would run
# a command in the next task's git) is gone for the next task, and a
# HEAD it hard-linked to a file of the agent's is not written through
result_of() { "$SWARM" --json results >"$T/out" 2>/dev/null || true
    json_get "$T/out" "[r['status'] + ' ' + (r.get('output') or '') for r in d if r['id']=='$1'][0]"; }
expect 0 "$SWARM" spawn --id g1 -- sh -c 'git config user.name leftover && git config alias.st status'
expect 0 "$SWARM" wait --timeout 60 g1
expect 0 "$SWARM" spawn --id g2 -- sh -c "$pristine"
"$SWARM" wait --timeout 60 g2 >/dev/null 2>&1
case "$(result_of g2)" in succeeded*) ;; *) fail "g2 saw the config g1 set: $(result_of g2)" ;; esac
mirror=$(ls -d "$T/state-a1/ws/mirrors/"*.git)
cp "$mirror/config" "$T/mirror-config"
expect 0 "$SWARM" spawn --id g3 -- sh -c "rm .git/HEAD && ln '$mirror/config' .git/HEAD"
expect 0 "$SWARM" wait --timeout 60 g3
expect 0 "$SWARM" spawn --id g4 -- sh -c "$pristine"
"$SWARM" wait --timeout 60 g4 >/dev/null 2>&1
cmp -s "$T/mirror-config" "$mirror/config" \
    || fail "the prepare wrote through a HEAD hard-linked to the mirror's config: $(head -c 200 "$mirror/config")"
case "$(result_of g4)" in succeeded*) ;; *) fail "g4: $(result_of g4)" ;; esac
ok "a config set in the worktree's .git did not reach the next task; a HEAD hard-linked to the mirror's config was not written through"

# a gc the capture finds due runs after its answer, in the remover, not
# in the capture (the result does not wait for a repack of the mirror)
mirror=$(ls -d "$T/state-a1/ws/mirrors/"*.git)
for i in $(seq 52); do
    echo "pack $i" | git --git-dir="$mirror" hash-object -w --stdin \
        | git --git-dir="$mirror" pack-objects -q "$mirror/objects/pack/pack" >/dev/null
done
packs() { ls "$mirror/objects/pack" | grep -c '[.]pack$'; }
[ "$(packs)" -gt 50 ] || fail "the mirror has $(packs) packs, not a gc's worth"
expect 0 "$SWARM" spawn --id gc1 -- sh -c 'echo gc >>README'
expect 0 "$SWARM" wait --timeout 60 gc1
for _ in $(seq 300); do [ "$(packs)" -le 50 ] && break; sleep 0.1; done
[ "$(packs)" -le 50 ] || fail "no gc after the capture: $(packs) packs"
awk '/capture helper.s trace:/ { on = 1; buf = "" } on { buf = buf $0 "\n" }
     /task left\/gc1: change captured/ { print buf; exit }' "$log" >"$T/gc1.trace"
grep -q "git gc" "$T/gc1.trace" && fail "the gc ran inside the capture: $(cat "$T/gc1.trace")"
grep -q "helper run" "$T/gc1.trace" || fail "no capture trace for gc1: $(cat "$T/gc1.trace")"
ok "a gc found due by a capture ran after its answer (the mirror from $(( $(packs) )) packs after it), not inside it"
