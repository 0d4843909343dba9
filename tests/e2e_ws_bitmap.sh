#!/usr/bin/env bash
# Issue 16 (capture speed 3): a change captured in a mirror whose objects
# carry a pack bitmap still goes up as deltas against its start. git gc
# --auto writes a bitmap in a bare repository (every agent mirror made
# before this fix has one after its first gc), and git 2.39's bitmap walk
# finds no thin bases: a 40-file change of one line each went up as 40
# whole files (~200 KB instead of ~5 KB; a 100-file change took 250 ms of
# pack-objects instead of 35). The change must also come through intact.
. "$(dirname "$0")/lib.sh"
private_redis 51
export FAKE_SCRIPTS="$T/scripts"
mkdir -p "$FAKE_SCRIPTS"
start_coordinator
start_agent a1 --slots 1
wait_agents 1
user_repo
# 40 files of ~12 KB that deflate to about half: whole, they are ~200 KB
for i in $(seq 40); do
    awk -v s="$i" 'BEGIN { x = s * 7919 + 1; for (j = 0; j < 800; j++) {
        x = (x * 69069 + 12345) % 4294967296; printf "%d %d\n", j, x } }' >"f$i.dat"
done
user_commit base
expect 0 "$SWARM" init bm --workspace .
printf 'echo ready\n' >"$FAKE_SCRIPTS/none"
cat >"$FAKE_SCRIPTS/edit" <<'EOF'
set -e
for f in f*.dat; do echo "edited $f" >>"$f"; done
echo edited
EOF
expect 0 "$SWARM" spawn --id t0 "FAKE:script=none a first task: the mirror"
expect 0 "$SWARM" wait t0 --timeout 60
M=$(ls -d "$T"/state-a1/ws/mirrors/*.git)
[ -d "$M" ] || fail "no mirror on a1"
# what git gc --auto did to a bare mirror before this fix
git -C "$M" repack -qadb
ls "$M"/objects/pack/*.bitmap >/dev/null 2>&1 || fail "no bitmap in the mirror to test with"
expect 0 "$SWARM" spawn --id t1 --after t0 "FAKE:script=edit append a line to 40 files"
expect 0 "$SWARM" wait t1 --timeout 60
[ "$(task_field t1 status)" = succeeded ] || { "$SWARM" logs t1 >&2 || true; fail "t1 failed"; }
line=$(grep -o 'task bm/t1: change captured in [0-9]* ms ([0-9]* files, [0-9]* bytes sent' \
    "$T/agent-a1.log" | tail -1)
[ -n "$line" ] || fail "no capture line for t1 in the agent's log"
files=$(echo "$line" | sed 's/.*(\([0-9]*\) files.*/\1/')
sent=$(echo "$line" | sed 's/.* \([0-9]*\) bytes sent/\1/')
[ "$files" = 40 ] || fail "t1's change has $files files, not 40 ($line)"
# the pack and the patch: deltas of one line each are a few KB; whole
# files would be ~200 KB
[ "$sent" -lt 60000 ] || fail "t1's change sent $sent bytes: whole files, not deltas ($line)"
# and it comes home as it was made
"$SWARM" diff t1 --stat >"$T/stat" 2>&1 || { cat "$T/stat"; fail "swarm diff t1"; }
contains "$T/stat" "40 files changed, 40 insertions(+)"
expect 0 "$SWARM" apply t1
[ "$(tail -1 f7.dat)" = "edited f7.dat" ] || fail "swarm apply did not bring the change home"
ok "a change captured in a mirror with a bitmap goes up as deltas ($sent bytes for 40 files) and applies"
