#!/usr/bin/env bash
# Workspaces against hostile tasks and odd names (issue 16, the attack
# pass): what a task leaves in its worktree never breaks the agent, never
# gets lost silently, and never writes outside swarm outputs' --dest.
#   - outputs whose names JSON or a path cannot carry (not UTF-8, a
#     newline) fail the capture naming the file, instead of vanishing from
#     the list or failing swarm outputs later as "escaping";
#   - swarm outputs checks every path of every task before writing one;
#     a path into a .git directory or out of DEST is refused, nothing
#     written;
#   - a worktree its task made impossible to remove (chattr +i, as root)
#     is moved aside: the next task on that slot runs, and the error names
#     the file when even that fails.
. "$(dirname "$0")/lib.sh"
use_redis 122
export FAKE_SCRIPTS="$T/scripts"
mkdir -p "$FAKE_SCRIPTS"
start_coordinator
start_agent a1 --slots 1
wait_agents 1

user_repo
printf 'a\n' >a
mkdir d && printf 'b\n' >d/b
user_commit start

# --- snapshots a new user tries -------------------------------------------------
N="$T/nested"
git init -q -b main "$N" && git init -q -b main "$N/vendor/lib" && printf 'x\n' >"$N/vendor/lib/x"
git -C "$N/vendor/lib" -c user.name=n -c user.email=n@n commit -qm x --allow-empty
expect 2 "$SWARM" init nest --workspace "$N"
contains "$T/err" "nested git repositories"
printf 'vendor/\n' >"$N/.gitignore"
expect 0 "$SWARM" init nest --workspace "$N"
E="$T/empty repo é"
git init -q -b main "$E"
expect 0 "$SWARM" init empty --workspace "$E"
contains "$T/err" "0 files"
mkdir -p "$T/plain"
expect 2 "$SWARM" init plain --workspace "$T/plain"
contains "$T/err" "not inside a git work tree"
cd "$U" || fail "cd"
expect 0 "$SWARM" init att --workspace .
ok "snapshot: a nested repository refused by name (ignored: fine), an empty repository with a space and non-ASCII in its path, a plain directory refused"

# --- a task that writes into its worktree's .git ----------------------------------
cat >"$FAKE_SCRIPTS/dotgit" <<X
mkdir -p .git/hooks
printf '#!/bin/sh\ntouch "$T/PWNED-hook"\n' >.git/hooks/post-checkout
printf '#!/bin/sh\ntouch "$T/PWNED-hook"\n' >.git/hooks/pre-commit
chmod +x .git/hooks/*
printf '[core]\n\tfsmonitor = touch "$T/PWNED-fsmonitor"\n[filter "x"]\n\tclean = touch "$T/PWNED-filter"\n' >>.git/config
printf '* filter=x\n' >.gitattributes
printf 'gitdir: /etc\n' >d/.git
printf 'changed\n' >a; echo done
X
expect 0 "$SWARM" spawn --id dotgit "FAKE:script=dotgit go"
expect 0 "$SWARM" wait --timeout 60 dotgit
expect 0 "$SWARM" diff --stat dotgit
contains "$T/out" "2 files changed"
contains "$T/out" ".gitattributes"
ls "$T"/PWNED-* 2>/dev/null && fail "the task's .git ran code in swarm's capture"
ok "a task's hooks, core.fsmonitor and filter in its worktree's .git run nothing; its .git files are not in the change"

# --- outputs with names a manifest cannot carry ----------------------------------
cat >"$FAKE_SCRIPTS/badutf" <<'X'
printf 'x\n' >ok.o; printf 'y\n' >"$(printf 'bad\377name.o')"; echo made
X
cat >"$FAKE_SCRIPTS/newline" <<'X'
printf 'x\n' >ok.o; printf 'y\n' >"$(printf 'two\nlines.o')"; echo made
X
cat >"$FAKE_SCRIPTS/odd" <<'X'
printf '1\n' >./-rf.o; printf '3\n' >'back\slash.o'
mkdir -p 'dé jà' && printf '4\n' >'dé jà/ü.o'; mkfifo fifo.o; ln -s /etc/passwd link.o; echo made
X
expect 0 "$SWARM" spawn --id badutf --output '*.o' "FAKE:script=badutf go"
expect 0 "$SWARM" spawn --id newline --output '*.o' "FAKE:script=newline go"
expect 0 "$SWARM" spawn --id odd --output '*.o' --output '*/*.o' "FAKE:script=odd go"
expect 1 "$SWARM" wait --timeout 60 badutf newline odd
expect 1 "$SWARM" --json results
cp "$T/out" "$T/results.json"
st() { json_get "$T/results.json" "[r['$2'] for r in d if r['id']=='$1'][0]"; }
[ "$(st badutf status)" = failed ] || fail "an output named in bytes JSON cannot carry was dropped silently: $(st badutf outputs)"
case "$(st badutf error)" in
    *'bad\377name.o'*'UTF-8'*) ;; *) fail "badutf error: $(st badutf error)" ;;
esac
[ "$(st newline status)" = failed ] || fail "an output named with a newline was stored: $(st newline outputs)"
case "$(st newline error)" in
    *'two\nlines.o'*control*) ;; *) fail "newline error: $(st newline error)" ;;
esac
[ "$(st odd status)" = succeeded ] || fail "odd: $(st odd error)"
[ "$(json_get "$T/results.json" "sorted(o['path'] for r in d if r['id']=='odd' for o in r['outputs'])")" \
    = "['-rf.o', 'back\\\\slash.o', 'dé jà/ü.o']" ] \
    || fail "odd outputs: $(st odd outputs)"
expect 0 "$SWARM" outputs --dest "$T/out-odd" odd
[ "$(cat "$T/out-odd/-rf.o")" = 1 ] && [ "$(cat "$T/out-odd/dé jà/ü.o")" = 4 ] \
    && [ ! -e "$T/out-odd/link.o" ] && [ ! -e "$T/out-odd/fifo.o" ] || fail "odd outputs written: $(ls -R "$T/out-odd")"
ok "outputs: a name not UTF-8 or with a newline fails the capture naming it; -rf, backslash, non-ASCII kept; fifo and symlink never taken"

# --- swarm outputs with a manifest that tries to leave DEST -------------------------
# A result as a peer with Redis access could forge it: the CLI checks every
# path of every task before it writes a byte.
good=$(json_get "$T/results.json" "[r['outputs_manifest'] for r in d if r['id']=='odd'][0]")
tkey=$(rkey task att odd)
rcli() { redis-cli -p "$REDIS_PORT" -n 122 "$@"; }
mkdir -p "$T/dest"
for evil in '../escape.o' '/abs.o' 'sub/.git/hooks/post-checkout' '.git/config' 'a/../../b.o'; do
    doc=$(python3 -c 'import json,sys; print(json.dumps({"kind":"swarm-outputs","v":1,"files":[
        {"path":"aaa-first.o","size":2,"sha256":"53c234e5e8472b6ac51c1ae1cab3fe06fad053beb8ebfd8977b010655bfdd3c3","mode":420,"chunks":[]},
        {"path":sys.argv[1],"size":2,"sha256":"53c234e5e8472b6ac51c1ae1cab3fe06fad053beb8ebfd8977b010655bfdd3c3","mode":420,"chunks":[]}]}))' "$evil")
    digest=$(printf '%s' "$doc" | sha256sum | cut -d' ' -f1)
    rcli SET "$(rkey cas "$digest")" "$doc" >/dev/null
    result=$(rcli HGET "$tkey" result | python3 -c 'import json,sys; r=json.load(sys.stdin); r["outputs_manifest"]=sys.argv[1]; print(json.dumps(r))' "$digest")
    rcli HSET "$tkey" result "$result" >/dev/null
    expect 1 "$SWARM" outputs --dest "$T/dest" odd
    contains "$T/err" "$evil"
    [ -z "$(ls -A "$T/dest")" ] || fail "outputs wrote before refusing $evil: $(ls -A "$T/dest")"
    [ ! -e "$T/escape.o" ] && [ ! -e /abs.o ] && [ ! -e "$T/b.o" ] || fail "$evil escaped"
done
ok "outputs: '..', absolute and .git paths refused before anything is written"

# --- a worktree its task made impossible to remove ------------------------------
cat >"$FAKE_SCRIPTS/immutable" <<'X'
printf 'mine\n' >a; chattr +i a && echo locked
X
cat >"$FAKE_SCRIPTS/next" <<'X'
set -e; [ "$(cat a)" = a ]; [ -z "$(git status --porcelain)" ]; echo clean
X
unlock() { find "$T/work-a1" -xdev -exec chattr -i {} + 2>/dev/null; true; }
if touch "$T/work-a1/probe" && chattr +i "$T/work-a1/probe" 2>/dev/null; then
    chattr -i "$T/work-a1/probe"; rm -f "$T/work-a1/probe"
    trap 'unlock; cleanup' EXIT
    expect 0 "$SWARM" spawn --id immutable "FAKE:script=immutable go"
    expect 0 "$SWARM" wait --timeout 60 immutable
    "$SWARM" logs immutable | grep -q locked || fail "the task could not lock its file: $("$SWARM" logs immutable)"
    # whichever worktree the pool hands out next, none may be stuck
    for n in 1 2 3; do
        expect 0 "$SWARM" spawn --id next$n "FAKE:script=next go"
        "$SWARM" wait --timeout 60 next$n >"$T/out" 2>&1 \
            || fail "a worktree the task locked broke the slot: $("$SWARM" results 2>&1 | grep next$n)"
    done
    grep -q "moved aside" "$T/agent-a1.log" || fail "the agent did not say it moved the worktree aside"
    unlock
    ok "a worktree its task made immutable is moved aside; the next task on the slot starts clean"
else
    echo "# chattr +i not possible here (not root, or the file system lacks it): skipped"
fi

# --- an agent killed mid-capture ---------------------------------------------------
# The agent SIGKILLed while its capture helper stores the change; the
# helper and its gits are killed by the next agent (not left writing into
# the state dir beside it);
# the agent restarted on the same workdir and state dir: the retry
# captures the whole change (no half-written state in the way), and the
# mirror is sound. 18 paths: a change of 16 or more is staged into one
# pack (bulk check-in), which the kill may cut short.
cat >"$FAKE_SCRIPTS/bigchange" <<X
head -c 30000000 /dev/urandom >big.bin; printf 'edit\n' >a
for i in \$(seq 16); do echo "part \$i" >part\$i; done
sha256sum big.bin >"$T/big.sum"      # the last attempt's content is the change
touch "$T/bigchange.ran"; echo made
X
rm -f "$T/bigchange.ran"
expect 0 "$SWARM" spawn --id bigchange "FAKE:script=bigchange go"
helper=
for _ in $(seq 600); do
    if [ -e "$T/bigchange.ran" ]; then
        helper=$(ps -o pid= --ppid "$AGENT_PID_a1" -o comm= | awk '/swarm-agent-wo/ {print $1}' | head -1)
        [ -n "$helper" ] && break
    fi
    sleep 0.02
done
[ -n "$helper" ] || fail "never caught the capture helper at work"
kill -9 "$AGENT_PID_a1"
wait "$AGENT_PID_a1" 2>/dev/null
# the helper and its gits outlive the agent: the next agent must find them
left="$helper $(grep -l "GIT_INDEX_FILE=$T/state-a1" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3)"
start_agent a1 --slots 1
wait_agents 1
for p in $left; do
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    kill -0 "$p" 2>/dev/null && fail "$p (helper or its git) the killed agent left still runs: $(tr '\0' ' ' </proc/$p/cmdline)"
done
"$SWARM" wait --timeout 120 bigchange >"$T/out" 2>&1 \
    || fail "the retry after a kill mid-capture failed: $("$SWARM" --json results | python3 -c '
import json, sys
print([(r["attempt"], r.get("error")) for r in json.load(sys.stdin) if r["id"] == "bigchange"])')"
[ "$(task_field bigchange attempt)" -ge 2 ] || fail "bigchange was not retried"
ls "$T/state-a1/ws/run" | grep -q . && fail "stale requests left: $(ls "$T/state-a1/ws/run")"
for m in "$T"/state-a1/ws/mirrors/*.git; do
    git --git-dir="$m" fsck --no-progress --connectivity-only >/dev/null 2>"$T/fsck" || fail "mirror $m: $(cat "$T/fsck")"
done
cd "$U" || fail "cd"
git stash -q -u 2>/dev/null; git checkout -q .; git clean -qfd
expect 0 "$SWARM" apply bigchange
[ "$(cat a)" = edit ] && [ "$(cat part16)" = "part 16" ] || fail "the change is not whole: a is $(cat a)"
[ "$(sha256sum big.bin | cut -d' ' -f1)" = "$(cut -d' ' -f1 "$T/big.sum")" ] \
    || fail "big.bin did not come home whole"
ok "agent SIGKILLed mid-capture: the next agent kills the helper and its gits it left; the retry stores the whole change, no stale request, the mirror fsck-clean"

# --- apply --branch with names git itself refuses for a branch -------------------
refs_before=$(git for-each-ref --format='%(refname)')
for name in HEAD -x refs/heads/x 'a..b' '@'; do
    expect 2 "$SWARM" apply --branch "$name" bigchange
    contains "$T/err" "not a valid branch name"
done
[ "$(git for-each-ref --format='%(refname)')" = "$refs_before" ] || fail "apply --branch made refs: $(git for-each-ref)"
git rev-parse -q --verify HEAD >/dev/null 2>"$T/err" && [ ! -s "$T/err" ] || fail "HEAD is ambiguous now: $(cat "$T/err")"
ok "apply --branch refuses HEAD, a name starting with '-', a full ref, '..' and '@' (refs untouched)"

# --- swarm purge while the job runs -----------------------------------------------
cat >"$FAKE_SCRIPTS/hold" <<X
for _ in \$(seq 600); do [ -e "$T/release" ] && break; sleep 0.05; done; echo held
X
expect 0 "$SWARM" spawn --id hold "FAKE:script=hold go"
wait_status hold running
expect 2 "$SWARM" purge --job att
contains "$T/err" "not finished"
expect 0 "$SWARM" diff bigchange          # nothing was purged
touch "$T/release"
expect 0 "$SWARM" wait --timeout 60 hold
expect 0 "$SWARM" purge --job att
contains "$T/out" "removed"
expect 4 "$SWARM" diff bigchange
expect 0 "$SWARM" init att2 --workspace .
printf 'echo nothing\n' >"$FAKE_SCRIPTS/nothing"
expect 0 "$SWARM" spawn --id hold2 "FAKE:script=nothing go"
expect 0 "$SWARM" --json purge --job att2 --force
ok "purge refuses a job with unfinished tasks (exit 2, nothing removed); after wait, or with --force, it purges"
