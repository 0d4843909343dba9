#!/usr/bin/env bash
# swarm apply into the work tree, all or nothing (issue 16 item 7; the
# attack of 03:03, H1-H3 and L1/L3/L4):
#   - a sparse checkout: git would leave out the paths outside it (apply
#     said "applied", exit 0): refused, exit 1, naming them and --branch;
#   - a change that deletes (or replaces) files the user never committed
#     nor staged (they came in through the snapshot as untracked files):
#     refused, exit 1, naming them (git could not restore them);
#   - git fails halfway through writing the work tree (a required smudge
#     filter that fails for one file): exit 1, git's error and "nothing
#     was changed", the work tree exactly as it was (contents, modes,
#     the user's uncommitted edits, files the change deletes and adds);
#   - the same with the disk full (a small tmpfs in a mount namespace of
#     the test's own; skipped where one cannot be made);
#   - a second apply while one runs: "another swarm apply is running".
. "$(dirname "$0")/lib.sh"
private_redis 171
start_coordinator
start_agent a1 --slots 2 --allow-exec
wait_agents 1

# state: everything apply could change in the repository here: the
# user's index (byte for byte), git status, every path's type, mode,
# symlink target and content. --no-optional-locks: status itself does
# not rewrite the index.
state() {
    sha256sum "$(git rev-parse --git-path index)"
    git --no-optional-locks status --porcelain --ignored --untracked-files=all
    find . -path ./.git -prune -o -printf '%p %y %m %l\n' | LC_ALL=C sort
    find . -path ./.git -prune -o -type f -exec sha256sum {} + | LC_ALL=C sort
}
# no save directory of apply's left in the git dir
no_leftovers() {
    local left
    left=$(ls -A "$(git rev-parse --git-dir)" | grep 'swarm-apply-save' || true)
    [ -z "$left" ] || fail "apply left $left in the git dir"
}

# --- a sparse checkout ---------------------------------------------------------------
user_repo "$T/sparse"
mkdir in out
printf 'i\n' >in/i.txt
printf 'o\n' >out/o.txt
user_commit base
git sparse-checkout set in || fail "sparse-checkout"
[ ! -e out/o.txt ] || fail "the sparse checkout has out/o.txt"
expect 0 "$SWARM" init sparse --workspace .
expect 0 "$SWARM" spawn --id t -- sh -c 'printf "changed\n" >>out/o.txt; printf "new\n" >out/new.txt; printf "ii\n" >>in/i.txt'
expect 0 "$SWARM" wait --timeout 60 t
before=$(state)
expect 1 "$SWARM" apply
contains "$T/err" "sparse checkout"
contains "$T/err" "out/o.txt"
contains "$T/err" "--branch"
contains "$T/err" "nothing was changed"
[ "$(state)" = "$before" ] || fail "apply in a sparse checkout changed the work tree: $(cat in/i.txt)"
expect 0 "$SWARM" apply --branch swarm/sparse
[ "$(git show swarm/sparse:out/new.txt)" = new ] || fail "the branch lacks out/new.txt"
ok "apply into a sparse checkout: exit 1 naming the paths outside it and --branch, nothing changed; --branch has the whole change"

# --- files git does not track deleted or replaced by the change ------------------------
user_repo "$T/untracked"
printf 'code\n' >code.c
printf 'old\n' >gone.c
user_commit base
printf 'unsaved draft\n' >draft.md
mkdir notes
printf 'ideas\n' >notes/ideas.txt
printf 'will be a link\n' >linkme
printf 'staged, never committed\n' >staged.txt
git add staged.txt
expect 0 "$SWARM" init untracked --workspace .
expect 0 "$SWARM" spawn --id rmit -- sh -c 'rm -rf draft.md notes linkme staged.txt gone.c; ln -s code.c linkme; printf "more\n" >>code.c'
expect 0 "$SWARM" wait --timeout 60 rmit
before=$(state)
expect 1 "$SWARM" apply
contains "$T/err" "draft.md"
contains "$T/err" "notes/ideas.txt"
contains "$T/err" "linkme"
contains "$T/err" "git does not track them here"
contains "$T/err" "nothing was changed"
grep -qF "staged.txt" "$T/err" && fail "staged.txt is in the index (git can restore it), named: $(cat "$T/err")"
grep -qF "gone.c" "$T/err" && fail "gone.c is tracked, named: $(cat "$T/err")"
[ "$(state)" = "$before" ] || fail "apply deleted the user's untracked files: $(ls -A)"
rm -r draft.md notes
git add linkme                                  # or staged: git can give it back
expect 0 "$SWARM" apply
[ -L linkme ] && [ ! -e staged.txt ] && [ ! -e gone.c ] && [ "$(cat code.c)" = "$(printf 'code\nmore')" ] \
    || fail "apply after removing them: $(ls -A)"
ok "a change deleting or replacing files git does not track here: exit 1 naming them, nothing changed; once the user removed (or staged) them, apply works"

# --- files with content git has not stored, deleted by the change (attack of stop 31) ---
# added with git add -N (intent to add: the index holds no content), or
# tracked with edits not staged: git's 3-way result removes them and no
# git command gives that content back.
user_repo "$T/unstaged"
printf 'a\n' >a.txt
printf 'kept\n' >edited.c
printf 'plain\n' >plain.c
user_commit base
printf 'precious draft\n' >draft.txt
git add -N draft.txt
printf 'my unstaged edit\n' >>edited.c
touch plain.c                                   # only touched: not an edit
expect 0 "$SWARM" init unstaged --workspace .
expect 0 "$SWARM" spawn --id rmu -- sh -c 'rm draft.txt edited.c plain.c; printf "x\n" >>a.txt'
expect 0 "$SWARM" wait --timeout 60 rmu
before=$(state)
expect 1 "$SWARM" apply
contains "$T/err" "draft.txt"
contains "$T/err" "edited.c"
contains "$T/err" "could not be restored"
contains "$T/err" "nothing was changed"
grep -qF "plain.c" "$T/err" && fail "plain.c was only touched, named: $(cat "$T/err")"
[ "$(state)" = "$before" ] || fail "apply changed the repository: $(ls -A)"
[ "$(cat draft.txt)" = "precious draft" ] || fail "the intent-to-add draft lost its content"
git add draft.txt edited.c                      # now git can give them back
expect 0 "$SWARM" apply
[ ! -e draft.txt ] && [ ! -e edited.c ] && [ ! -e plain.c ] && [ "$(cat a.txt)" = "$(printf 'a\nx')" ] \
    || fail "apply after git add: $(ls -A)"
ok "a change deleting an intent-to-add file or one with unstaged edits: exit 1 naming them, nothing changed; after git add, apply works"

# --- git fails halfway through writing the work tree --------------------------------------
# A required smudge filter (git-crypt style) that fails for f5.txt: git
# has deleted f7.txt, written a-new/, big.dat and d-empty/e.txt, rewritten f1-f4
# (f2 made executable, f3 over the user's edit) and unlinked f5.txt (the
# user's edit in it) when it dies.
user_repo "$T/filter"
printf '*.txt filter=bad\n' >.gitattributes
git config filter.bad.clean cat
git config filter.bad.smudge cat
git config filter.bad.required true
for i in 1 2 3 4 5 6 7 8; do seq 10 | sed "s/^/f$i line /" >f$i.txt; done
seq -f "big line %g" 150000 >big.dat            # 2 MB
user_commit base
mkdir d-empty                                     # the user's empty directory
expect 0 "$SWARM" init filter --workspace .
expect 0 "$SWARM" spawn --id e1 -- sh -c 'echo e1 >>big.dat; for i in 1 2 3 4 5 6 8; do echo e1 >>f$i.txt; done; chmod +x f2.txt; rm f7.txt; mkdir -p a-new/deep d-empty; echo n >a-new/deep/n.txt; echo e >d-empty/e.txt'
expect 0 "$SWARM" wait --timeout 60 e1
sed -i '1s/.*/MY UNCOMMITTED EDIT/' f5.txt
sed -i '1s/.*/my edit of f3/' f3.txt
git config filter.bad.smudge 'sh -c "case %f in f5.txt) exit 1;; esac; cat"'
before=$(state)
expect 1 "$SWARM" apply
contains "$T/err" "filter"
contains "$T/err" "nothing was changed"
[ "$(state)" = "$before" ] || { diff <(echo "$before") <(state); fail "git failed halfway: the work tree is not as it was"; }
no_leftovers
git config filter.bad.smudge cat
expect 0 "$SWARM" apply
[ "$(head -1 f5.txt)" = "MY UNCOMMITTED EDIT" ] && [ "$(tail -1 f5.txt)" = e1 ] && [ -x f2.txt ] \
    && [ ! -e f7.txt ] && [ "$(cat a-new/deep/n.txt)" = n ] && [ "$(head -1 f3.txt)" = "my edit of f3" ] \
    && [ "$(tail -1 big.dat)" = e1 ] \
    || fail "apply after the filter was fixed: $(ls -A)"
no_leftovers
ok "git failing halfway through the write (a smudge filter): exit 1 with git's error, the work tree exactly as it was (edits, modes, deleted and added files); fixed, apply works"

# --- the disk full halfway through the write -------------------------------------------
# The report's case: the work tree on a 3 MB tmpfs, the git dir elsewhere
# (--separate-git-dir: the saved files are copies, and go back as
# copies), nine 117 KB files each growing by 400 KB, two of them edited
# by the user: git fails writing the eighth. In a mount namespace of the
# test's own; skipped where one cannot be made.
if unshare -m true 2>/dev/null; then
    git init -q -b main --separate-git-dir "$T/full.git" "$T/full" || fail "git init"
    cd "$T/full" || fail "cd"
    git config user.name "Test User" && git config user.email test@example.com
    for i in 1 2 3 4 5 6 7 8 9; do seq -f "f$i line %g" 9000 >f$i.txt; done
    user_commit base
    expect 0 "$SWARM" init full --workspace .
    expect 0 "$SWARM" spawn --id grow -- sh -c 'for i in 1 2 3 4 5 6 7 8 9; do seq -f "grown line %g" 30000 >>f$i.txt; done'
    expect 0 "$SWARM" wait --timeout 60 grow
    cp -a "$T/full" "$T/full.stage" || fail "cp"
    export -f state
    unshare -m bash -c 'mount -t tmpfs -o size=3m swarm-test "$1/full" && cp -a "$1/full.stage/." "$1/full/" &&
        cd "$1/full" && sed -i "1s/.*/MY EDIT/" f5.txt f9.txt && state >"$1/before" &&
        "$0" apply >"$1/out" 2>"$1/err"; echo $? >"$1/rc"; state >"$1/after"' "$SWARM" "$T"
    [ "$(cat "$T/rc")" = 1 ] || fail "apply on a full disk: exit $(cat "$T/rc"): $(cat "$T/err")"
    contains "$T/err" "nothing was changed"
    diff "$T/before" "$T/after" || fail "the disk full halfway: the work tree is not as it was: $(cat "$T/err")"
    [ -z "$(ls -A "$T/full.git" | grep swarm-apply-save)" ] || fail "the save was left in the git dir"
    cd "$T" || fail "cd"
    ok "the disk full halfway through the write: exit 1 with git's error, every file as it was (the user's edits kept)"
fi

# --- a second apply while one writes; a signal while it writes -------------------------
# A smudge filter that takes its time holds the first apply in the middle
# of the write. The second is told another apply runs (it used to report
# a bogus conflict with the half-written tree). SIGINT to the first, to
# its process group as a terminal's ^C: the write ends whole and apply
# says so, exit 0 (it used to die with 130, saying nothing).
user_repo "$T/lock"
printf '*.txt filter=slow\n' >.gitattributes
for i in 1 2 3 4 5 6; do printf 'line %s\n' "$i" >f$i.txt; done
user_commit base
expect 0 "$SWARM" init lock --workspace .
expect 0 "$SWARM" spawn --id edit -- sh -c 'for i in 1 2 3 4 5 6; do printf "edited %s\n" "$i" >>f$i.txt; done'
expect 0 "$SWARM" wait --timeout 60 edit
git config filter.slow.smudge 'sleep 0.4; cat'
edited() { grep -l edited f*.txt 2>/dev/null | wc -l; }
# SIGINT's default action back (a script's background command has it
# ignored; a terminal's ^C would reach a shell's foreground apply)
setsid python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])' \
    "$SWARM" apply >"$T/out1" 2>"$T/err1" &
pid=$!
for _ in $(seq 200); do [ "$(edited)" -ge 1 ] && break; sleep 0.02; done
[ "$(edited)" -ge 1 ] || fail "apply never started writing"
expect 1 "$SWARM" apply
contains "$T/err" "another swarm apply is running in this repository"
kill -INT -- -"$pid"
wait "$pid"
rc=$?
[ "$rc" = 0 ] || fail "apply with SIGINT during the write: exit $rc: $(cat "$T/err1")"
contains "$T/err1" "the change is applied whole"
contains "$T/out1" "applied 1 change"
[ "$(edited)" = 6 ] || fail "$(edited) of 6 files applied"
ok "a second apply while one writes: exit 1, another apply is running; SIGINT during the write: the change whole, said, exit 0"

# --- a signal while the snapshot's temporary index exists --------------------------------
# init --workspace copies the user's index and runs git add -A on the
# copy: a kill then left the copy behind (in /tmp, mode 0644: another
# user could read the file names). A clean filter that takes its time
# holds git add -A.
user_repo "$T/snap"
printf '*.txt filter=slow\n' >.gitattributes
for i in 1 2 3 4 5 6; do printf 'line %s\n' "$i" >f$i.txt; done
user_commit base
for i in 1 2 3 4 5 6; do printf 'more %s\n' "$i" >>f$i.txt; done
git config filter.slow.clean 'sleep 0.3; cat'
mkdir -p "$T/tmp"
copies() { ls -A "$T/tmp" .git | grep 'swarm-index' || true; }
TMPDIR="$T/tmp" "$SWARM" init snap --workspace . >"$T/out" 2>"$T/err" &
pid=$!
for _ in $(seq 200); do [ -n "$(copies)" ] && break; sleep 0.02; done
[ -n "$(copies)" ] || fail "init never made its temporary index"
sleep 0.3
kill -TERM "$pid"
wait "$pid"
[ -z "$(copies)" ] || fail "SIGTERM during init left the index copy: $(copies)"
ok "SIGTERM while init's temporary index exists: removed (it is in the git dir, not TMPDIR)"

# --- apply --branch with no commit, with no identity ------------------------------------
user_repo "$T/nohead"
printf 'a\n' >a.txt                         # never committed
expect 0 "$SWARM" init nohead --workspace .
expect 0 "$SWARM" spawn --id ed -- sh -c 'printf "b\n" >>a.txt'
expect 0 "$SWARM" wait --timeout 60 ed
expect 1 "$SWARM" apply --branch swarm/nohead
contains "$T/err" "HEAD has no commit yet"
user_commit base
git config --unset user.name; git config --unset user.email
git config user.useConfigOnly true          # no identity guessed from the host
mkdir -p "$T/home"
HOME="$T/home" expect 1 "$SWARM" apply --branch swarm/noid
contains "$T/err" "git config user.email"
git rev-parse -q --verify refs/heads/swarm/noid >/dev/null && fail "swarm/noid made"
ok "apply --branch with no commit yet, or no git identity: exit 1 saying which (no bogus conflict, no raw git error)"
