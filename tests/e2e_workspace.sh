#!/usr/bin/env bash
# Workspaces through the daemons: two agents with separate workdirs and
# state dirs (nothing shared but Redis and the coordinator).
#   - a dirty tree with untracked files is snapshot while the user's git
#     status, index and HEAD stay exactly as they were;
#   - a coder on one agent edits (text, binary, chmod +x, symlink, delete,
#     rename, new directory); a tester after it on the other agent sees all
#     of it (its script fails otherwise) and adds a file; a reviewer
#     (read-only) changes nothing: an empty change; the tester's 21 new
#     files (a change staged into one pack) reach the reviewer on a1;
#   - results (table, --json, --markdown) show each task's diffstat; diff
#     prints the binary-safe patch; diff --stat;
#   - a second task on the same base on an agent fetches nothing (the
#     mirror has it) and reuses the finished worktree;
#   - apply brings every change into the user's (dirty) work tree,
#     byte for byte, modes and symlinks kept, index and HEAD untouched;
#     apply --branch in a clone makes one commit per task, its work tree
#     untouched; a task dir inside the workspace; an unknown task: exit 4.
. "$(dirname "$0")/lib.sh"
use_redis 73
export FAKE_SCRIPTS="$T/scripts"      # the fake codex's edits (tests/fake-codex.sh)
mkdir -p "$FAKE_SCRIPTS"
start_coordinator
start_agent a1 --slots 2 --label node=a1
start_agent a2 --slots 2 --label node=a2
wait_agents 2

# --- the user's repository: committed, then dirty ---------------------------------
user_repo
printf 'line one\nline two\nline three\n' >text.txt
printf '\x00\x01\x02binary\xff\xfe' >data.bin
printf '#!/bin/sh\necho run\n' >run.sh
printf 'to be deleted\n' >gone.txt
printf 'to be renamed\n' >old-name.txt
mkdir -p src/lib
printf 'int main(void) { return 0; }\n' >src/main.c
printf '*.log\nbuild/\n' >.gitignore
user_commit "the user's work"
printf 'a dirty line\n' >>text.txt                  # tracked, not staged
printf 'staged\n' >staged.txt && git add staged.txt  # staged, not committed
printf 'untracked\n' >notes.txt                     # untracked
printf 'ignored\n' >debug.log                       # ignored: not in the snapshot
index_before=$(sha256sum .git/index)
status_before=$(git status --porcelain=v1)
head_before=$(git rev-parse HEAD)

expect 0 "$SWARM" init shop --workspace .
contains "$T/err" "workspace $U"
[ "$(sha256sum .git/index)" = "$index_before" ] || fail "the snapshot changed the user's index"
[ "$(git status --porcelain=v1)" = "$status_before" ] || fail "the snapshot changed git status"
[ "$(git rev-parse HEAD)" = "$head_before" ] || fail "the snapshot moved HEAD"
[ -z "$(git for-each-ref refs/swarm)" ] || fail "the snapshot made refs"
ok "dirty tree snapshot: git status, index, HEAD and refs unchanged"

# --- coder on a1, tester on a2, reviewer on a1 ------------------------------------
cat >"$FAKE_SCRIPTS/coder" <<'EOF'
set -e
grep -q 'a dirty line' text.txt            # the uncommitted change came along
[ -f notes.txt ] && [ -f staged.txt ] && [ ! -e debug.log ]
printf 'line one\nline 2 by the coder\nline three\na dirty line\n' >text.txt
printf '\000\001\002BINARY\377\376\000' >data.bin
chmod +x run.sh
ln -s src/main.c main-link.c
rm gone.txt
mv old-name.txt new-name.txt
mkdir -p src/auth
printf 'int login(void) { return 1; }\n' >src/auth/login.c
printf 'build junk\n' >build.log                # ignored: not in the change
git status --porcelain >/dev/null              # the worktree has a working .git
echo coded
EOF
cat >"$FAKE_SCRIPTS/tester" <<'EOF'
set -e
grep -qx 'line 2 by the coder' text.txt
[ "$(od -An -tx1 data.bin | tr -d ' \n')" = "00010242494e415259fffe00" ]
[ -x run.sh ] && [ -L main-link.c ] && [ "$(readlink main-link.c)" = src/main.c ]
[ ! -e gone.txt ] && [ ! -e old-name.txt ] && grep -q renamed new-name.txt
grep -q login src/auth/login.c
[ ! -e build.log ]                          # ignored files do not travel
[ -z "$(git status --porcelain)" ]          # starts clean on the coder's commit
mkdir -p tests && echo 'test login' >tests/login_test.txt
# 20 files more: a change of 16 paths or more is staged into one pack
for i in $(seq 20); do echo "case $i of the login" >"tests/case$i.txt"; done
echo "tested on $SWARM_AGENT in $(pwd)"
EOF
cat >"$FAKE_SCRIPTS/nothing" <<'EOF'
echo looked
EOF
# the reviewer on a1 may get the coder's finished worktree, moved to the
# tester's commit: the coder's ignored file must be gone, the tester's file there
cat >"$FAKE_SCRIPTS/review" <<'EOF'
set -e
grep -qx 'line 2 by the coder' text.txt && [ -f tests/login_test.txt ] && [ ! -e build.log ]
[ "$(cat tests/case1.txt tests/case20.txt)" = "$(printf 'case 1 of the login\ncase 20 of the login')" ]
[ -z "$(git status --porcelain)" ]
echo reviewed
EOF
# a task whose stray (outside its process group) would write into its
# worktree after it ended: killed before the capture looks
cat >"$FAKE_SCRIPTS/stray" <<'EOF'
setsid sh -c 'sleep 2; echo stray >>text.txt; echo stray >stray.txt' </dev/null >/dev/null 2>&1 &
echo "left a stray behind"
EOF
# the snapshot as it was, whatever ran in this worktree before
cat >"$FAKE_SCRIPTS/pristine" <<'EOF'
set -e
[ "$(cat text.txt)" = "$(printf 'line one\nline two\nline three\na dirty line')" ]
[ -f gone.txt ] && [ -f old-name.txt ] && [ ! -e src/auth ] && [ ! -e tests ]
[ ! -e build.log ] && [ ! -e stray.txt ] && [ ! -L main-link.c ]
[ -z "$(git status --porcelain)" ]
echo pristine
EOF
cat >"$FAKE_SCRIPTS/where" <<'EOF'
pwd
EOF
expect 0 "$SWARM" spawn --id coder --label node=a1 "FAKE:script=coder implement login"
expect 0 "$SWARM" spawn --id tester --type tester --after coder --label node=a2 \
    "FAKE:script=tester test it"
expect 0 "$SWARM" spawn --id reviewer --type reviewer --after tester --label node=a1 \
    "FAKE:script=review review it"
expect 0 "$SWARM" spawn --id insrc --label node=a2 --dir src/lib "FAKE:script=where in src/lib"
expect 0 "$SWARM" wait --timeout 90
expect 0 "$SWARM" results --json
cp "$T/out" "$T/results.json"
[ "$(json_get "$T/results.json" "[r['status'] for r in d]")" \
    = "['succeeded', 'succeeded', 'succeeded', 'succeeded']" ] || fail "statuses: $(cat "$T/out")"
[ "$(json_get "$T/results.json" "[r['agent'] for r in d][:3]")" = "['a1', 'a2', 'a1']" ] \
    || fail "placement"
case "$(json_get "$T/results.json" "[r['output'] for r in d if r['id']=='tester'][0]")" in
    *"tested on a2"*) ;; *) fail "tester output" ;;
esac
ok "coder on a1 changed text, binary, mode, symlink, delete, rename; tester on a2 saw all of it"
w() { json_get "$T/results.json" "[r['workspace'] for r in d if r['id']=='$1'][0]$2"; }
[ "$(w coder "['files']")" = 7 ] || fail "coder files: $(w coder '')"
[ "$(w tester "['base']")" = "$(w coder "['commit']")" ] || fail "the tester did not start from the coder's commit"
[ "$(w reviewer "['base']")" = "$(w tester "['commit']")" ] || fail "reviewer base"
[ "$(w reviewer "['commit']")" = "$(w reviewer "['base']")" ] && [ "$(w reviewer "['files']")" = 0 ] \
    || fail "the read-only reviewer's change is not empty: $(w reviewer '')"
case "$(json_get "$T/results.json" "[r['output'] for r in d if r['id']=='insrc'][0]")" in
    *swarm-worktrees/a2/[0-9]*/src/lib*) ;; *) fail "dir inside the workspace" ;;
esac
ok "result fields: workspace {base, commit, files, insertions, deletions}; reviewer's change empty; dir inside the workspace"

expect 0 "$SWARM" results
contains "$T/out" "CHANGE"
grep -E '^coder .*\+[0-9]+ -[0-9]+ \(7 files\)' "$T/out" >/dev/null || fail "table diffstat: $(cat "$T/out")"
grep -E '^reviewer .*no change' "$T/out" >/dev/null || fail "table: reviewer"
expect 0 "$SWARM" results --markdown
contains "$T/out" "| change |"
contains "$T/out" "(7 files) |"
expect 0 "$SWARM" diff coder
contains "$T/out" "GIT binary patch"
contains "$T/out" "rename from old-name.txt"
contains "$T/out" "new file mode 120000"
contains "$T/out" "old mode 100644"
cp "$T/out" "$T/coder.patch"
expect 0 "$SWARM" diff --stat coder
contains "$T/out" "7 files changed"
expect 0 "$SWARM" diff reviewer
[ ! -s "$T/out" ] || fail "the reviewer's diff is not empty"
expect 4 "$SWARM" diff nosuchtask
expect 0 "$SWARM" --json diff tester
[ "$(json_get "$T/out" "'tests/login_test.txt' in d['patch']")" = True ] || fail "diff --json"
ok "results table, --markdown and --json show the diffstat; diff is a binary-safe patch; --stat"

# --- the second task on the same base: the mirror has it --------------------------
grep -q "task shop/coder: worktree at .* (fetched" "$T/agent-a1.log" || fail "a1 did not fetch first"
expect 0 "$SWARM" spawn --id strayer --label node=a1 "FAKE:script=stray leave a stray"
expect 0 "$SWARM" wait --timeout 60 strayer
expect 0 "$SWARM" diff strayer
[ ! -s "$T/out" ] || fail "the stray's write was captured: $(cat "$T/out")"
sleep 3                                    # past the stray's write, had it lived
expect 0 "$SWARM" spawn --id again --label node=a1 "FAKE:script=pristine again"
expect 0 "$SWARM" wait --timeout 60 again
grep -q "task shop/again: worktree at .* (mirror hit, checkout reset" "$T/agent-a1.log" \
    || fail "the second task on a1 fetched again or did not reuse a worktree: $(grep 'shop/again' "$T/agent-a1.log")"
grep -q "killing process .* that shop/strayer#1 left behind" "$T/agent-a1.log" \
    || fail "the stray was not killed: $(grep -i stray "$T/agent-a1.log")"
ok "second task on the same base on a1: mirror hit, a finished worktree moved back to the snapshot exactly (another base's files, ignored files and a killed stray's writes gone)"

# --- apply: into the user's dirty tree -------------------------------------------
cd "$U" || fail "cd"
expect 0 "$SWARM" apply
contains "$T/out" "applied 2 changes of job shop: coder tester"
[ "$(git rev-parse HEAD)" = "$head_before" ] || fail "apply moved HEAD"
[ "$(sha256sum .git/index)" = "$index_before" ] || fail "apply changed the index"
grep -qx 'line 2 by the coder' text.txt && grep -q 'a dirty line' text.txt || fail "text.txt"
[ "$(od -An -tx1 data.bin | tr -d ' \n')" = "00010242494e415259fffe00" ] || fail "binary"
[ -x run.sh ] && [ -L main-link.c ] && [ ! -e gone.txt ] && [ ! -e old-name.txt ] \
    && [ -f new-name.txt ] && [ -f src/auth/login.c ] && [ -f tests/login_test.txt ] \
    || fail "the change did not come home: $(ls -la)"
[ "$(cat tests/case*.txt | sort | md5sum)" = "$(for i in $(seq 20); do echo "case $i of the login"; done | sort | md5sum)" ] \
    || fail "the tester's 21-file change (staged into a pack) did not come home: $(ls tests)"
[ -f debug.log ] && [ -f notes.txt ] || fail "apply lost the user's own files"
ok "apply: binary, chmod +x, symlink, delete, rename and a 21-file change came home into the dirty tree; index and HEAD untouched"
expect 0 "$SWARM" apply
contains "$T/out" "the work tree has every change already; nothing changed"
ok "apply again: already there, nothing changes"

# --- apply --branch in a clone -----------------------------------------------------
C="$T/clone"
git clone -q "$U" "$C"
cd "$C" || fail "cd"
git config user.name "Clone User"
git config user.email clone@example.com
expect 0 "$SWARM" apply --branch swarm/shop
contains "$T/out" "branch swarm/shop: 2 commits"
[ -z "$(git status --porcelain)" ] || fail "apply --branch touched the work tree"
[ "$(git rev-list --count main..swarm/shop)" = 2 ] || fail "not one commit per task"
[ "$(git log -1 --format=%an swarm/shop)" = "Clone User" ] || fail "branch author"
git log --format=%s main..swarm/shop | grep -q "swarm: coder (job shop)" || fail "commit message"
git diff --stat main swarm/shop | grep -q "new-name.txt" || fail "branch content"
[ "$(git show swarm/shop:data.bin | od -An -tx1 | tr -d ' \n')" = "00010242494e415259fffe00" ] \
    || fail "binary on the branch"
[ "$(git ls-tree swarm/shop run.sh | cut -c1-6)" = 100755 ] || fail "mode on the branch"
expect 2 "$SWARM" apply --branch swarm/shop
contains "$T/err" "exists already"
expect 4 "$SWARM" apply nosuchtask
ok "apply --branch: one commit per task on top of HEAD, work tree untouched; an existing branch refused"

# --- a task that leaves a nested git repository: its change cannot be captured ------
cd "$U" || fail "cd"
cat >"$FAKE_SCRIPTS/nested" <<'EOF'
git init -q vendor/lib && git -C vendor/lib -c user.name=t -c user.email=t@e commit -q --allow-empty -m x
EOF
expect 0 "$SWARM" spawn --id nested "FAKE:script=nested vendor a library"
expect 1 "$SWARM" wait --timeout 60 nested
expect 1 "$SWARM" --json results
case "$(json_get "$T/out" "[r['error'] for r in d if r['id']=='nested'][0]")" in
    *"left a git repository at vendor/lib"*) ;; *) fail "nested: $(cat "$T/out")" ;;
esac
ok "a task that leaves a nested git repository fails, naming it (a submodule is not captured)"

# --- the coordinator's MCP tool: swarm_init with a workspace --------------------------
mcp_swarm_config >"$T/config.toml"
printf '["swarm_init", {"job": "mcpws", "workspace": "%s"}]\n["swarm_spawn", {"id": "m", "task": "FAKE:script=nothing look"}]\n["swarm_wait", {"timeout": 60}]\n' "$U" >"$T/calls"
python3 "$SWARM_SRC/tests/fake-mcp-client.py" --session "$T/config.toml" "$T/calls" >"$T/replies" \
    2>"$T/session.err" || fail "MCP session: $(cat "$T/session.err")"
python3 - "$T/replies" <<'PY' || fail "swarm_init with a workspace: $(cat "$T/replies")"
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
assert all(not x["result"]["isError"] for x in r[1:]), r
PY
expect 0 "$SWARM" --json results --job mcpws
[ "$(json_get "$T/out" "d[0]['workspace']['base'] == d[0]['workspace']['commit']")" = True ] \
    || fail "the MCP job's task ran without the workspace"
ok "swarm mcp --control: swarm_init with a workspace; its task ran on the snapshot"

# --- what a snapshot refuses, naming it --------------------------------------------
R="$T/refuse"
git init -q -b main "$R" && cd "$R" || fail "cd"
echo a >a.txt && git add a.txt && git -c user.name=u -c user.email=u@e commit -qm a
head -c 3000000 /dev/zero >big.bin
expect 2 "$SWARM" init big --workspace . --max-file 1M
contains "$T/err" "files over --max-file 1.0 MiB: big.bin (3000000 bytes)"
expect 2 "$SWARM" init big --workspace . --max-snapshot 2M
contains "$T/err" "over --max-snapshot 2.0 MiB"
rm big.bin
printf '*.psd filter=lfs diff=lfs merge=lfs -text\n' >.gitattributes && echo pointer >art.psd
expect 2 "$SWARM" init lfs --workspace .
contains "$T/err" "Git LFS files (art.psd"
rm .gitattributes art.psd
git init -q sub && git -C sub -c user.name=u -c user.email=u@e commit -q --allow-empty -m s
git add sub 2>/dev/null
expect 2 "$SWARM" init sub --workspace .
contains "$T/err" "has a submodule at sub"
expect 2 "$SWARM" init nogit --workspace "$T/scripts"
contains "$T/err" "is not inside a git work tree"
expect 2 "$SWARM" init x --workspace . --max-file lots
contains "$T/err" "--max-file wants a size"
# 0 read as "no cap", the default, silently (i29-atk)
expect 2 "$SWARM" init x --workspace . --max-snapshot 0
contains "$T/err" "--max-snapshot wants a size above 0"
mkdir -p "$T/zw"
timeout 10 "$SWARM_BUILD/swarm-agent" -f --id z --workdir "$T/zw" --state-dir "$T/zs" --max-change 0 >"$T/out" 2>"$T/err" && fail "swarm-agent --max-change 0 started"
contains "$T/err" "--max-change wants a size above 0"
expect 2 "$SWARM" spawn --id x --repo-url file:///x -- true
contains "$T/err" "--repo-url and --max-* go with --workspace"
ok "a snapshot refuses files over --max-file, a tree over --max-snapshot, Git LFS files, submodules and a non-git directory, naming them"

# --- the agents' disks: worktrees below the workdir, state elsewhere ----------------
[ -d "$T/work-a1/swarm-worktrees/a1" ] && [ -d "$T/state-a1/ws/mirrors" ] || fail "layout"
[ -z "$(ls "$T/work-a1/swarm-worktrees/a1" | grep -v '^[0-9]*$')" ] || fail "strange worktree names"
ls "$T/state-a1/ws/mirrors" | grep -q '\.git$' || fail "no mirror on a1"
ok "worktrees below the workdir, mirrors in the state dir"
