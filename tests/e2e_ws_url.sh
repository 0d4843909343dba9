#!/usr/bin/env bash
# Workspaces with --repo-url: the agents fetch HEAD from the remote (the
# path large repositories need), and only what is not committed there
# travels through Redis.
#   - a clean tree: nothing of the tree is stored in Redis; the agent
#     fetches the commit from the remote;
#   - a dirty tree: a small pack of the uncommitted change (with HEAD as
#     its prerequisite) travels; the task sees committed and uncommitted
#     content; its change comes home with apply;
#   - a HEAD the remote does not have: the task fails, naming the commit
#     and the URL.
. "$(dirname "$0")/lib.sh"
use_redis 77
start_coordinator
start_agent u1 --slots 2 --allow-exec
wait_agents 1
rc() { redis-cli -p "$REDIS_PORT" -n 77 "$@"; }

R="$T/remote.git"
git init -q --bare -b main "$R"
U="$T/user"
git clone -q "$R" "$U" 2>/dev/null
cd "$U" || fail "cd"
git config user.name u && git config user.email u@e
head -c 3000000 /dev/urandom | base64 >big.txt       # 4 MB that must not go through Redis
echo hello >small.txt
git add -A && git commit -qm base && git push -q origin main
URL="file://$R"

expect 0 "$SWARM" init clean --workspace . --repo-url "$URL"
contains "$T/err" "agents fetch it from $URL"
[ "$(rc SCARD "$(rkey jobcas clean)")" = 0 ] || fail "a clean tree stored content in Redis"
expect 0 "$SWARM" spawn --id read -- sh -c 'test "$(cat small.txt)" = hello && wc -c <big.txt'
expect 0 "$SWARM" wait --timeout 60 read
ok "a clean tree with --repo-url: nothing stored in Redis, the agent fetched HEAD from the remote"

echo "uncommitted" >>small.txt
echo new >untracked.txt
expect 0 "$SWARM" init dirty --workspace . --repo-url "$URL"
manifest=$(rc HGET "$(rkey job dirty)" workspace | python3 -c 'import json,sys; print(json.load(sys.stdin)["manifest"])')
pack=$(rc GET "$(rkey cas "$manifest")" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["pack"]["size"], d["prereqs"][0]["url"])')
[ "${pack#* }" = "$URL" ] || fail "the prerequisite is not the remote: $pack"
[ "${pack%% *}" -lt 10000 ] || fail "the dirty snapshot sent ${pack%% *} bytes: more than the change"
expect 0 "$SWARM" spawn --id edit -- sh -c 'grep -q uncommitted small.txt && test -f untracked.txt && echo edited >>small.txt'
expect 0 "$SWARM" wait --timeout 60 edit
expect 0 "$SWARM" apply
[ "$(tail -1 small.txt)" = edited ] || fail "the change did not come home"
ok "a dirty tree with --repo-url: a ${pack%% *}-byte pack travels on top of the remote's HEAD; apply brings the change"

git checkout -q -- small.txt && rm -f untracked.txt
echo local >local.txt && git add local.txt && git commit -qm "not pushed"
expect 0 "$SWARM" init unpushed --workspace . --repo-url "$URL"
expect 0 "$SWARM" spawn --id lost -- true
expect 1 "$SWARM" wait --timeout 60 lost
expect 1 "$SWARM" --json results
err=$(json_get "$T/out" "[r['error'] for r in d if r['id']=='lost'][0]")
case "$err" in *"cannot fetch commit"*"$URL"*) ;; *) fail "the error: $err" ;; esac
ok "a HEAD the remote lacks: the task fails naming the commit and the URL"
