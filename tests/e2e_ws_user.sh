#!/usr/bin/env bash
# Workspaces from the user's side, attacked (issue 16, the acceptance
# pass): what the CLI does in the user's repository when it refuses.
#   - a snapshot that refuses an uncommitted file over --max-file refuses
#     it before hashing it: the user's object store does not grow by the
#     file it refused (git add -A wrote it whole, then the check ran);
#   - swarm apply names the tasks it leaves out, refuses a named task with
#     no result, says when --branch has nothing new;
#   - ^C or SIGTERM while apply writes the work tree: never half applied;
#   - Redis stopped: apply says Redis does not answer (not "Resource
#     temporarily unavailable"), exit 3, the repository untouched.
. "$(dirname "$0")/lib.sh"
private_redis 161                   # its own server: a case below stops it
REDIS_PID=${PIDS[-1]}
start_coordinator
start_agent a1 --slots 2 --allow-exec
start_agent a2 --slots 2 --allow-exec
wait_agents 2

objects() { find "$1/.git/objects" -type f | wc -l; }
bytes() { du -sk "$1/.git/objects" | cut -f1; }

# --- a file over --max-file is refused before it is hashed ---------------------
user_repo
printf 'code\n' >main.c
user_commit "the user's work"
head -c 3000000 /dev/urandom >dataset.bin               # untracked, not ignored
printf 'an edit\n' >>main.c
n0=$(objects "$U") k0=$(bytes "$U")
expect 2 "$SWARM" init big --workspace . --max-file 1M
contains "$T/err" "dataset.bin (3000000 bytes)"
contains "$T/err" "--max-file"
[ "$(objects "$U")" = "$n0" ] && [ "$(bytes "$U")" = "$k0" ] \
    || fail "the refused snapshot wrote into the user's object store: $n0 -> $(objects "$U") files, $k0 -> $(bytes "$U") KiB"
rm dataset.bin
expect 0 "$SWARM" init big --workspace . --max-file 1M
ok "an uncommitted file over --max-file is refused naming it, before anything is hashed into the user's repository"

# --- swarm apply names what it leaves out ---------------------------------------
# A named task still running was "nothing to apply", exit 0; a failed
# tester's absence from the job's change was silent.
cd "$U" || fail "cd"
expect 0 "$SWARM" init leftout --workspace .
expect 0 "$SWARM" spawn --id coder -- sh -c 'printf "by the coder\n" >coder.txt'
expect 0 "$SWARM" spawn --id tester --after coder -- sh -c 'printf "tests\n" >test.txt; exit 3'
expect 0 "$SWARM" spawn --id slow -- sh -c 'printf "late\n" >slow.txt; sleep 30'
expect 1 "$SWARM" wait --timeout 60 coder tester
expect 4 "$SWARM" apply slow
contains "$T/err" "task slow has no result yet (running)"
[ ! -e slow.txt ] || fail "apply slow wrote slow.txt"
expect 0 "$SWARM" apply
contains "$T/err" "not applied: tester (failed), slow (running)"
[ -f coder.txt ] && [ ! -e test.txt ] || fail "apply: $(ls)"
expect 0 "$SWARM" --json apply
json_get "$T/out" "d['skipped']" | grep -q "'tester'" || { cat "$T/out"; fail "--json lacks skipped"; }
expect 0 "$SWARM" cancel slow
ok "apply of a running task: exit 4 naming its status, nothing written; the job's apply names the tasks it left out"

# --- apply --branch when HEAD has it all, and outside a repository --------------
rm -f coder.txt
expect 0 "$SWARM" apply --branch swarm/leftout
contains "$T/out" "branch swarm/leftout: 1 commit"
git merge -q --ff-only swarm/leftout || fail "merge"
expect 0 "$SWARM" apply --branch swarm/again
contains "$T/out" "branch swarm/again not made: HEAD has every change"
git rev-parse -q --verify refs/heads/swarm/again >/dev/null && fail "swarm/again made"
mkdir -p "$T/plain" && cd "$T/plain" || fail "cd"
expect 2 "$SWARM" apply --job leftout
contains "$T/err" "the current directory is not inside a git work tree: run it in the repository"
ok "apply --branch with nothing new says so (no empty branch); outside a repository it says where to run it"

# --- a signal while apply writes the work tree -------------------------------------
# git read-tree writes file after file: ^C (SIGINT to the terminal's
# process group) or a kill halfway left the work tree half applied, the
# file being written truncated, and the next apply refused (a conflict
# with the half). A smudge filter that takes its time (the user's own
# config, which apply honours) holds git in the middle of the write.
user_repo "$T/sig"
printf '*.txt filter=slow\n' >.gitattributes
for i in 1 2 3 4 5 6; do printf 'line %s\n' "$i" >f$i.txt; done
user_commit base
expect 0 "$SWARM" init sig --workspace .
expect 0 "$SWARM" spawn --id edit -- sh -c 'for i in 1 2 3 4 5 6; do printf "edited %s\n" "$i" >>f$i.txt; done'
expect 0 "$SWARM" wait --timeout 60 edit
git config filter.slow.smudge 'sleep 0.4; cat'
edited() { grep -l edited f*.txt 2>/dev/null | wc -l; }
for sig in INT TERM; do
    setsid "$SWARM" apply >"$T/out" 2>"$T/err" &
    pid=$!
    for _ in $(seq 200); do [ "$(edited)" -ge 1 ] && break; sleep 0.02; done
    [ "$(edited)" -ge 1 ] || fail "apply never started writing"
    kill -"$sig" -- -"$pid"
    wait "$pid"
    for i in 1 2 3 4 5 6; do
        [ "$(cat f$i.txt)" = "$(printf 'line %s\nedited %s' "$i" "$i")" ] \
            || fail "SIG$sig mid-apply: f$i.txt is '$(cat f$i.txt)' ($(edited) of 6 files applied)"
    done
    git checkout -q -- . || fail "checkout"
done
ok "SIGINT or SIGTERM to apply's process group while git writes the work tree: the whole result, never half (nor a truncated file)"

# --- Redis stopped when apply starts --------------------------------------------
cd "$T/sig" || fail "cd"
git config --unset filter.slow.smudge
before=$(git status --porcelain; sha256sum .git/index f*.txt)
kill -STOP "$REDIS_PID"
expect 3 "$SWARM" apply
kill -CONT "$REDIS_PID"
contains "$T/err" "no answer within"
[ "$(git status --porcelain; sha256sum .git/index f*.txt)" = "$before" ] || fail "the repository changed"
expect 0 "$SWARM" apply
ok "Redis stopped: apply exits 3 saying Redis does not answer, the repository untouched; after, it applies"

# --- swarm outputs --dest whose parents do not exist yet ----------------------------
expect 0 "$SWARM" spawn --id obj --output '*.o' -- sh -c 'printf obj >a.o'
expect 0 "$SWARM" wait --timeout 60 obj
expect 0 "$SWARM" outputs --dest "$T/fresh/out/objs" obj
[ "$(cat "$T/fresh/out/objs/a.o")" = obj ] || fail "a.o did not come"
expect 2 "$SWARM" outputs --dest "" obj
contains "$T/err" "--dest is empty"
ok "outputs --dest makes DEST's missing parents; an empty --dest is refused"

# --- apply over a file the user ignores -----------------------------------------------
# A change that adds a path the user's .gitignore ignores and the user has
# (a local config): git read-tree -u overwrote it (git 2.35 on), its
# content in no object store: lost.
user_repo "$T/ign"
printf 'local.cfg\ncache\n' >.gitignore
printf 'code\n' >code.c
user_commit base
printf 'my precious local config\n' >local.cfg
printf 'ignored cache file\n' >cache
expect 0 "$SWARM" init ign --workspace .
expect 0 "$SWARM" spawn --id unignore -- sh -c 'printf "*.tmp\n" >.gitignore; printf "task config\n" >local.cfg; mkdir cache; printf x >cache/entry'
expect 0 "$SWARM" wait --timeout 60 unignore
before=$(git status --porcelain --ignored; cat local.cfg cache .gitignore)
expect 1 "$SWARM" apply
contains "$T/err" "the change writes"
contains "$T/err" "local.cfg"
contains "$T/err" "cache"
[ "$(git status --porcelain --ignored; cat local.cfg cache .gitignore)" = "$before" ] \
    || fail "apply changed the work tree: local.cfg is '$(cat local.cfg)'"
expect 0 "$SWARM" apply --branch swarm/ign
rm local.cfg cache
expect 0 "$SWARM" apply
[ "$(cat local.cfg)" = "task config" ] && [ -f cache/entry ] || fail "apply after moving them: $(ls -A)"
ok "apply refuses to overwrite an ignored file (or one in the way of a new directory) the change adds, naming it, nothing changed; --branch works; once moved, apply works"

# --- apply of a directory made a file, over the user's ignored files in it ------------
# The change deletes cfg/'s tracked files and makes cfg a file: git
# removes the whole directory to put it there, the user's ignored
# cfg/local.yml with it. An empty directory made a file is no loss.
user_repo "$T/ign2"
mkdir cfg empty
printf 'cfg/local.yml\nempty/\n' >.gitignore
printf 'defaults\n' >cfg/default.yml
user_commit base
printf 'my local settings\n' >cfg/local.yml
expect 0 "$SWARM" init ign2 --workspace .
expect 0 "$SWARM" spawn --id flatten -- sh -c 'rm -r cfg; printf "one file\n" >cfg'
expect 0 "$SWARM" wait --timeout 60 flatten
before=$(git status --porcelain --ignored; cat cfg/local.yml)
expect 1 "$SWARM" apply
contains "$T/err" "cfg/local.yml"
[ "$(git status --porcelain --ignored; cat cfg/local.yml)" = "$before" ] \
    || fail "apply changed the work tree: $(ls -A cfg 2>&1)"
mv cfg/local.yml "$T/local.yml.saved"
expect 0 "$SWARM" apply
[ "$(cat cfg)" = "one file" ] || fail "apply after moving it: $(ls -A)"
expect 0 "$SWARM" spawn --id flat2 -- sh -c 'printf "now a file\n" >empty'
expect 0 "$SWARM" wait --timeout 60 flat2
expect 0 "$SWARM" apply flat2
[ "$(cat empty)" = "now a file" ] || fail "an empty directory made a file: $(ls -A)"
ok "apply refuses a directory made a file while the user keeps ignored files in it, naming them, nothing changed; once moved, and for an empty directory, apply works"

# --- the same, with the ignored files on a mount inside the directory -----------------
# git's removal crosses into a mount (a bind mount, a tmpfs, a container
# volume): the walk names the mount, not entering it. In a mount
# namespace of this test's own (a tmpfs, gone with it); skipped where
# one cannot be made.
if unshare -m true 2>/dev/null; then
    user_repo "$T/ign3"
    mkdir -p cfg/cache
    printf 'cfg/cache/\n' >.gitignore
    printf 'defaults\n' >cfg/default.yml
    user_commit base
    expect 0 "$SWARM" init ign3 --workspace .
    expect 0 "$SWARM" spawn --id flatten3 -- sh -c 'rm -rf cfg; printf "one file\n" >cfg'
    expect 0 "$SWARM" wait --timeout 60 flatten3
    unshare -m sh -c 'mount -t tmpfs swarm-test cfg/cache && printf "on the mount\n" >cfg/cache/data &&
        "$0" apply >"$1/out" 2>"$1/err"; echo $? >"$1/rc"; cat cfg/cache/data >"$1/kept"' "$SWARM" "$T"
    [ "$(cat "$T/rc")" = 1 ] || fail "apply over a mount in a directory made a file: exit $(cat "$T/rc"): $(cat "$T/err")"
    contains "$T/err" "cfg/cache"
    [ "$(cat "$T/kept")" = "on the mount" ] || fail "the mount's file is gone"
    [ -f cfg/default.yml ] || fail "apply changed the work tree"
    ok "apply refuses a directory made a file with a mount below it, naming the mount, nothing changed"
fi
