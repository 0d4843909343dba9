#!/usr/bin/env bash
# Issue 20/16 attack: a change staged into one pack (16 paths or more,
# agent_wscapture.c) gives the tree `git add -A` gives, at the threshold
# and around it (15, 16, 17 paths) and for a big change (3,000 paths), in
# a repository whose .gitattributes converts eol for *.txt (those go the
# loose way) beside files it leaves alone (those go in the pack), with a
# deletion, an executable and an empty file. Each change is checked by a
# task after it on the other agent: its HEAD's tree must be the tree a
# fresh `git add -A` of the same files makes.
. "$(dirname "$0")/lib.sh"
use_redis 83
export FAKE_SCRIPTS="$T/scripts"
mkdir -p "$FAKE_SCRIPTS"
start_coordinator
start_agent a1 --slots 2 --label node=a1
start_agent a2 --slots 2 --label node=a2
wait_agents 2
user_repo
printf '*.txt text eol=lf\n*.raw -text\n' >.gitattributes
for i in $(seq 40); do printf 'base %s\n' "$i" >"base$i.dat"; done
printf 'keep\r\n' >keep.txt
user_commit base
expect 0 "$SWARM" init packs --workspace .
# change N: N paths in all (N-3 new files, half CRLF text, half binary-ish
# data; one base file edited, one deleted, one made executable)
for n in 15 16 17 3000; do
    cat >"$FAKE_SCRIPTS/change$n" <<EOF
set -e
mkdir -p d$n
for i in \$(seq $((n - 4))); do
    if [ \$((i % 2)) = 0 ]; then printf 'text %s\r\nmore\r\n' "\$i" >"d$n/f\$i.txt"
    else printf 'data %s\000\377\n' "\$i" >"d$n/f\$i.raw"; fi
done
: >d$n/empty.raw
printf 'edited\n' >>base1.dat
rm base2.dat
chmod +x base3.dat
rm -rf "$T/scratch$n" && mkdir -p "$T/scratch$n"
tar --exclude=.git -cf - . | tar -C "$T/scratch$n" -xf -
cd "$T/scratch$n" && git init -q . && git add -A && git write-tree >"$T/expect$n"
echo "changed $n paths"
EOF
    cat >"$FAKE_SCRIPTS/check$n" <<EOF
set -e
got=\$(git rev-parse HEAD^{tree})
want=\$(cat "$T/expect$n")
[ "\$got" = "\$want" ] || { echo "tree \$got, git add -A gives \$want"; exit 1; }
[ -z "\$(git status --porcelain)" ]
echo "tree of $n ok"
EOF
    expect 0 "$SWARM" spawn --id "c$n" --label node=a1 "FAKE:script=change$n make $n changes"
    expect 0 "$SWARM" spawn --id "k$n" --after "c$n" --label node=a2 "FAKE:script=check$n check $n"
done
"$SWARM" wait --timeout 240 >"$T/wait.out" 2>&1 || cat "$T/wait.out"
"$SWARM" --json results >"$T/out" 2>"$T/err" || true
for n in 15 16 17 3000; do
    [ "$(json_get "$T/out" "[r['status'] for r in d if r['id']=='k$n'][0]")" = succeeded ] \
        || { "$SWARM" logs "k$n" >&2 || true; fail "the change of $n paths did not come out as git add -A makes it"; }
done
ok "changes of 15, 16, 17 and 3,000 paths (eol conversion, binary, empty, delete, chmod) captured as git add -A makes them"
