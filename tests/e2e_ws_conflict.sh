#!/usr/bin/env bash
# Workspaces: dependencies that conflict, and a user's tree that moved on.
#   - two coders change the same line: the task after both fails before it
#     starts, naming the file; the other tasks are fine;
#   - swarm apply of both exits 1 naming the task and the file, and leaves
#     the repository exactly as it was (files, index, HEAD);
#   - two coders changing different files: the task after both starts from
#     their merge and sees both;
#   - the user commits and edits after the snapshot: apply merges 3-way
#     (both sides kept) when the lines differ, and refuses cleanly (exit 1,
#     nothing changed) when the user changed the same line.
. "$(dirname "$0")/lib.sh"
use_redis 74
export FAKE_SCRIPTS="$T/scripts"
mkdir -p "$FAKE_SCRIPTS"
start_coordinator
start_agent a1 --slots 2 --allow-exec
start_agent a2 --slots 2 --allow-exec
wait_agents 2

U="$T/user"
git init -q -b main "$U"
cd "$U" || fail "cd"
git config user.name u && git config user.email u@example.com
printf 'one\ntwo\nthree\nfour\nfive\n' >f.txt
printf 'a\nb\nc\n' >g.txt
git add -A && git commit -qm base
state() { (cd "$U" && sha256sum .git/index f.txt g.txt && git rev-parse HEAD && git status --porcelain) ; }

expect 0 "$SWARM" init clash --workspace .
# coders as plain commands: sed edits line 2 in two ways
expect 0 "$SWARM" spawn --id left -- sed -i 's/^two$/two by left/' f.txt
expect 0 "$SWARM" spawn --id right -- sed -i 's/^two$/two by right/' f.txt
expect 0 "$SWARM" spawn --id after --after left,right -- cat f.txt
expect 1 "$SWARM" wait --timeout 60
[ "$(task_field left status)" = succeeded ] && [ "$(task_field right status)" = succeeded ] \
    || fail "the coders"
[ "$(task_field after status)" = failed ] || fail "after: $(task_field after status)"
expect 1 "$SWARM" results --json
reason=$(json_get "$T/out" "[r['error'] for r in d if r['id']=='after'][0]")
case "$reason" in *"dependencies left, right conflict in f.txt"*) ;; *) fail "the failure does not name the file: $reason" ;; esac
[ "$(json_get "$T/out" "[r['exit_code'] for r in d if r['id']=='after'][0]")" = None ] \
    || fail "the task ran anyway"
ok "two coders changed the same line: the task after both failed before it started, naming f.txt"

before=$(state)
expect 1 "$SWARM" apply left right
contains "$T/err" "the change of task right conflicts in f.txt; nothing was changed"
[ "$(state)" = "$before" ] || fail "a failed apply changed the repository"
expect 1 "$SWARM" --json apply left right
[ "$(json_get "$T/out" "(d['conflict'], d['files'])")" = "('right', ['f.txt'])" ] || fail "apply --json"
[ "$(state)" = "$before" ] || fail "a failed apply changed the repository"
ok "apply of both: exit 1 naming the task and the file; files, index and HEAD unchanged"
expect 0 "$SWARM" apply left
grep -qx 'two by left' f.txt || fail "apply left"
git checkout -q -- f.txt
ok "apply of one of them works"

# --- merges that work: different files, then the user moves on ------------------------
expect 0 "$SWARM" init merge --workspace .
expect 0 "$SWARM" spawn --id edit-f -- sed -i 's/^five$/five by f/' f.txt
expect 0 "$SWARM" spawn --id edit-g -- sed -i 's/^c$/c by g/' g.txt
expect 0 "$SWARM" spawn --id both --after edit-f,edit-g -- sh -c 'grep -x "five by f" f.txt && grep -x "c by g" g.txt && echo merged >merged.txt'
expect 0 "$SWARM" wait --timeout 60
expect 0 "$SWARM" results --json
[ "$(json_get "$T/out" "[r['workspace']['files'] for r in d if r['id']=='both'][0]")" = 1 ] \
    || fail "the merge task's own change: $(json_get "$T/out" "[r['workspace'] for r in d if r['id']=='both'][0]")"
ok "two coders on different files: the task after both started from their merge"

# the user's tree moves on: a commit to line 1, a dirty edit of g.txt line 1
sed -i 's/^one$/one by the user/' f.txt
git commit -qam "user edit"
sed -i 's/^a$/a by the user/' g.txt
expect 0 "$SWARM" apply
contains "$T/out" "applied 3 changes"
grep -qx 'one by the user' f.txt && grep -qx 'five by f' f.txt && grep -qx 'a by the user' g.txt \
    && grep -qx 'c by g' g.txt && [ -f merged.txt ] || fail "3-way merge lost a side: $(cat f.txt g.txt)"
ok "the user's tree moved on (a commit and a dirty edit): apply merged 3-way, both sides kept"

git checkout -q -- f.txt g.txt && rm -f merged.txt
sed -i 's/^five$/five by the user/' f.txt
before=$(state)
expect 1 "$SWARM" apply
contains "$T/err" "the change of task edit-f conflicts in f.txt; nothing was changed"
[ "$(state)" = "$before" ] || fail "a failed apply changed the repository"
[ ! -e merged.txt ] || fail "a failed apply wrote a file"
ok "the user changed the same line: apply exits 1, the repository exactly as it was"

# --- a task after two others that changes nothing ------------------------------------
# Its start is their merge and its tree stays that merge: there is no patch
# to upload. The capture used to poll the patch stream it never opened (fd
# 0) until --workspace-timeout (600 s); the wait below allows 60.
expect 0 "$SWARM" init still --workspace .
expect 0 "$SWARM" spawn --id edit-3 -- sed -i 's/^three$/three by 3/' f.txt
expect 0 "$SWARM" spawn --id edit-b -- sed -i 's/^b$/b by b/' g.txt
expect 0 "$SWARM" spawn --id look --after edit-3,edit-b -- sh -c 'grep -x "three by 3" f.txt && grep -x "b by b" g.txt'
expect 0 "$SWARM" wait --timeout 60
expect 0 "$SWARM" results --json
[ "$(json_get "$T/out" "[r['workspace']['files'] for r in d if r['id']=='look'][0]")" = 0 ] \
    || fail "the read-only task's change: $(json_get "$T/out" "[r['workspace'] for r in d if r['id']=='look'][0]")"
ok "a task after two others that changed nothing: captured at once, an empty change"
