#!/usr/bin/env bash
# Issue 16 (capture speed 3): `swarm diff TASK` is byte for byte what
# `git diff --binary --full-index -M` of the same change gives in the
# user's repository. The capture starts its patch's git before the commit
# exists and diffs the two trees (diff-tree --stdin, whose first line, the
# trees' names, is not part of the patch): names with a space, UTF-8 (git
# quotes them), a leading dash, a rename, a new symlink and a symlink
# retargeted, a binary edit, chmod +x, a delete, a new empty file, and 20
# more edited files so that the change is staged as one pack.
# That pack is staged undeflated (level 0); the agent's remover deflates
# it after the answer: the mirror ends with no stored pack left, its
# blobs deflated and `git fsck` clean (i30-stage).
. "$(dirname "$0")/lib.sh"
use_redis 119
export FAKE_SCRIPTS="$T/scripts"
mkdir -p "$FAKE_SCRIPTS"
start_coordinator
start_agent a1 --slots 1
wait_agents 1
user_repo
printf 'one\ntwo\nthree\n' >"a file.txt"
printf 'grüße\n' >"ü-ñame.txt"
printf 'dash\n' >./-dash.txt
seq 1 200 >old.txt
head -c 3000 /dev/urandom >bin.dat
printf '#!/bin/sh\necho hi\n' >script.sh
printf 'bye\n' >gone.txt
ln -s "a file.txt" link
mkdir -p "dir with space"
for i in $(seq 20); do printf 'line %s\n' "$i" >"dir with space/f$i.txt"; done
user_commit base
base=$(git rev-parse HEAD)
expect 0 "$SWARM" init cp --workspace .
# the change, made by the task in its worktree and by hand in a clone
cat >"$FAKE_SCRIPTS/change" <<'EOF'
set -e
printf 'one\nTWO\nthree\n' >"a file.txt"
printf 'grüße, welt\n' >>"ü-ñame.txt"
printf 'more\n' >>./-dash.txt
mv old.txt "new näme.txt"
echo 201 >>"new näme.txt"
printf '\000\001\002' | dd of=bin.dat bs=1 seek=100 conv=notrunc 2>/dev/null
chmod +x script.sh
rm gone.txt
ln -s "ü-ñame.txt" "./-new link"
ln -sfn script.sh link
: >empty
for f in "dir with space"/f*.txt; do echo edited >>"$f"; done
echo changed
EOF
expect 0 "$SWARM" spawn --id t1 "FAKE:script=change the lot"
"$SWARM" wait t1 --timeout 60 >/dev/null || true
[ "$(task_field t1 status)" = succeeded ] || { "$SWARM" logs t1 >&2 || true; fail "t1 failed"; }
"$SWARM" diff t1 >"$T/swarm.patch" 2>"$T/diff.err" || { cat "$T/diff.err"; fail "swarm diff t1"; }
git clone -q "$U" "$T/clone"
(cd "$T/clone" && git checkout -q "$base" && sh "$FAKE_SCRIPTS/change" >/dev/null && git add -A &&
    git diff --cached --binary --full-index -M "$base" &&
    git diff --cached -M --shortstat "$base" >"$T/git.shortstat") >"$T/git.patch" ||
    fail "the same change by hand in a clone"
[ -s "$T/git.patch" ] || fail "git diff gave nothing"
if ! cmp -s "$T/swarm.patch" "$T/git.patch"; then
    diff -u "$T/git.patch" "$T/swarm.patch" | head -40 >&2
    fail "swarm diff t1 is not git diff's patch byte for byte"
fi
for want in 'rename from old.txt' 'new mode 100755' 'deleted file mode 100644' \
    'new file mode 120000' 'GIT binary patch' '"a/\303\274-\303\261ame.txt"' 'a/-dash.txt' \
    'a/a file.txt'; do
    contains "$T/swarm.patch" "$want"
done
# and the diffstat agrees with git's
"$SWARM" diff t1 --stat >"$T/stat" 2>&1 || { cat "$T/stat"; fail "swarm diff t1 --stat"; }
contains "$T/stat" "$(sed 's/^ *//' "$T/git.shortstat")"
ok "swarm diff is git diff's patch byte for byte ($(wc -c <"$T/swarm.patch") bytes)"
# the staged pack, stored, is deflated by the remover after the answer
M=$(ls -d "$T"/state-a1/ws/mirrors/*.git)
[ -d "$M" ] || fail "no mirror on a1"
blob=$(cd "$T/clone" && git rev-parse ":dir with space/f1.txt")
for _ in $(seq 100); do
    [ -z "$(ls "$M/swarm-stored" 2>/dev/null)" ] && break
    sleep 0.1
done
[ -z "$(ls "$M/swarm-stored" 2>/dev/null)" ] || fail "the staged pack is still marked stored"
# a stored 17-byte blob takes 17 + 11 bytes (zlib header, one stored block, adler32) + its
# pack header: deflated, 'line 1\nedited\n' takes fewer
disk=$(echo "$blob" | GIT_DIR="$M" git cat-file --batch-check='%(objectsize) %(objectsize:disk)')
set -- $disk
[ "$1" = 14 ] || fail "unexpected blob size: $disk"
[ "$2" -lt 26 ] || fail "the captured blob is still stored undeflated in the mirror ($disk)"
GIT_DIR="$M" git fsck --strict >"$T/fsck" 2>&1 || { cat "$T/fsck"; fail "git fsck of the mirror"; }
ok "the staged pack is deflated after the answer ($disk), the mirror is fsck-clean"
