#!/usr/bin/env bash
# Many machines, on one: three network namespaces joined by veth pairs
# (10.77.1.0/24 and 10.77.2.0/24, no default route, no NAT; nothing leaves
# this host). Redis and the coordinator live in "hub", one agent in each of
# "n1" and "n2", connecting over CURVE to the hub's addresses. A job runs
# on both; each agent is seen from its own address. From n1, `swarm logs
# -f` follows a codex task running on n2, live. Then n1's link goes
# down while it runs a task: the coordinator declares it dead and the task
# finishes on n2 as attempt 2. Before that, a coder -> tester pipeline
# with a workspace: the client's repository is snapshot in the hub, the
# coder edits on n1, the tester on n2 sees it, and the change is applied
# on the client; nothing shared between the namespaces but the network.
# The namespaces are deleted at the end.
# Skipped (77) where network namespaces cannot be made (not root, no
# CAP_NET_ADMIN, no iproute2).
. "$(dirname "$0")/lib.sh"
NS="sw$$"
HUB="$NS-hub" N1="$NS-n1" N2="$NS-n2"
if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null || ! ip netns add "$HUB" 2>/dev/null; then
    echo "skip: network namespaces are not available here (needs root and iproute2)"
    exit 77
fi
netns_cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    sleep 0.5
    for n in "$HUB" "$N1" "$N2"; do
        ip netns pids "$n" 2>/dev/null | xargs -r kill -9 2>/dev/null
        ip netns del "$n" 2>/dev/null
    done
}
trap 'st=$?; netns_cleanup; (exit $st); cleanup' EXIT
ip netns add "$N1"
ip netns add "$N2"
nsx() { local n=$1; shift; ip netns exec "$n" "$@"; }
for i in 1 2; do
    eval "n=\$N$i"
    ip link add "h$NS$i" type veth peer name "a$NS$i"
    ip link set "h$NS$i" netns "$HUB"
    ip link set "a$NS$i" netns "$n"
    nsx "$HUB" ip addr add "10.77.$i.1/24" dev "h$NS$i"
    nsx "$n" ip addr add "10.77.$i.2/24" dev "a$NS$i"
    nsx "$HUB" ip link set "h$NS$i" up
    nsx "$n" ip link set "a$NS$i" up
    nsx "$n" ip link set lo up
done
nsx "$HUB" ip link set lo up
nsx "$N1" ip route | grep -q default && fail "n1 has a default route"
ok "namespaces $HUB, $N1, $N2 joined by veth pairs, no default route"

# Redis and the coordinator in the hub
RPORT=6399 CPORT=7790 KPORT=7791
nsx "$HUB" redis-server --bind 127.0.0.1 10.77.1.1 10.77.2.1 --port "$RPORT" --save '' \
    --appendonly no --protected-mode no >"$T/redis.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 100); do nsx "$HUB" redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
K="$T/keys"
mkdir -p "$K" "$T/allowed"
for n in coord n1 n2; do expect 0 "$SWARM" keygen --dir "$K" "$n"; done
cp "$K/n1.cert" "$K/n2.cert" "$T/allowed/"
# The control socket listens on every address of the hub, over CURVE: the
# CLI submits with an admin key, here and from the other namespaces.
mkdir -p "$T/admins"
expect 0 "$SWARM" keygen --dir "$T/admins" ops
export SWARM_COORDINATOR="tcp://127.0.0.1:$KPORT" SWARM_REDIS="redis://127.0.0.1:$RPORT/0" \
    SWARM_CURVE_SECRET="$T/admins/ops.cert_secret" SWARM_COORDINATOR_KEY="$K/coord.cert"
nsx "$HUB" "$SWARM_BUILD/swarm-coordinator" -f --listen "tcp://0.0.0.0:$CPORT" \
    --control "tcp://0.0.0.0:$KPORT" --redis "redis://127.0.0.1:$RPORT/0" \
    --curve-secret "$K/coord.cert_secret" --allowed-agents "$T/allowed" --admin-keys "$T/admins" \
    --heartbeat-ms 200 --liveness 5 >"$T/coordinator.log" 2>&1 &
PIDS+=("$!")
hub() { nsx "$HUB" "$SWARM" "$@"; }
for _ in $(seq 100); do hub --timeout 1 status >/dev/null 2>&1 && break; sleep 0.05; done
export FAKE_SCRIPTS="$T/scripts"     # the fake codex's edits (workspaces, below)
mkdir -p "$FAKE_SCRIPTS"
for i in 1 2; do
    eval "n=\$N$i"
    mkdir -p "$T/work-n$i"
    nsx "$n" "$SWARM_BUILD/swarm-agent" -f --id "n$i" --slots 1 --label "ns=n$i" \
        --coordinator "tcp://10.77.$i.1:$CPORT" --redis "redis://10.77.$i.1:$RPORT/0" \
        --curve-secret "$K/n$i.cert_secret" --coordinator-key "$K/coord.cert" \
        --workdir "$T/work-n$i" --state-dir "$T/state-n$i" --codex "$FAKE_CODEX" --kill-grace-ms 500 --pass-env "FAKE_*" \
        --label "where=n$i" \
        >"$T/agent-n$i.log" 2>&1 &
    PIDS+=("$!")
done
for _ in $(seq 200); do
    [ "$(hub --json agents 2>/dev/null | grep -c '"id"')" = 2 ] && break
    sleep 0.05
done
hub --json agents >"$T/agents.json" || fail "agents"
[ "$(json_get "$T/agents.json" "sorted((a['id'], a['address'], a['curve']) for a in d)")" \
    = "[('n1', '10.77.1.2', True), ('n2', '10.77.2.2', True)]" ] \
    || fail "agents: $(cat "$T/agents.json")"
ok "n1 and n2 registered over CURVE from 10.77.1.2 and 10.77.2.2"

expect 0 hub init farm
for t in 1 2 3 4; do expect 0 hub spawn --id "t$t" "FAKE:sleep=0.5 task $t"; done
expect 0 hub wait --timeout 60
expect 0 hub --json results
agents=$(json_get "$T/out" "sorted(set(r['agent'] for r in d))")
[ "$agents" = "['n1', 'n2']" ] || fail "the job ran on $agents"
ok "a job ran across both namespaces"

# From n1's namespace, as another machine would: with the admin key a task
# goes in; without it, or with an agent's key, the coordinator says no.
remote() { nsx "$N1" "$SWARM" --coordinator "tcp://10.77.1.1:$KPORT" --timeout 3 "$@"; }
expect 0 remote spawn --id remote "FAKE:sleep=0 submitted from n1"
expect 0 remote wait --timeout 60 remote
expect 3 env -u SWARM_CURVE_SECRET -u SWARM_COORDINATOR_KEY \
    ip netns exec "$N1" "$SWARM" --coordinator "tcp://10.77.1.1:$KPORT" --timeout 3 status
contains "$T/err" "wants CURVE"
expect 3 remote --curve-secret "$K/n1.cert_secret" status
contains "$T/err" "refused our key"
ok "jobs submitted from n1 over CURVE with an admin key; no key or an agent's key refused"

# From n1, live: a codex task on n2, followed through the hub's Redis.
expect 0 remote spawn --id watched --label where=n2 "FAKE:events=3 watched from n1"
expect 0 nsx "$N1" "$SWARM" --redis "redis://10.77.1.1:$RPORT/0" logs -f watched
contains "$T/out" '$ make step3'
contains "$T/out" "said: fixed step 3"
contains "$T/err" "task watched succeeded (exit 0, attempt 1 on n2"
ok "from n1, logs -f followed a codex task running on n2, rendered, to its status"

# Workspaces across the namespaces: the client snapshots its repository,
# the coder edits on n1, the tester on n2 must see the coder's change, and
# the change is applied on the client.
U="$T/user"
git init -q -b main "$U"
( cd "$U" && printf 'one\ntwo\n' >a.txt && git add -A && git -c user.name=u -c user.email=u@e commit -qm base )
cat >"$FAKE_SCRIPTS/coder" <<'EOF'
set -e
printf 'one\ntwo by the coder\n' >a.txt
mkdir -p lib && echo 'int f(void);' >lib/f.h
echo coded
EOF
cat >"$FAKE_SCRIPTS/tester" <<'EOF'
set -e
grep -qx 'two by the coder' a.txt && grep -q 'int f' lib/f.h
echo ok >tested.txt
EOF
cd "$U" || fail "cd"
expect 0 hub init wsjob --workspace .
expect 0 hub spawn --id coder --label ns=n1 "FAKE:script=coder implement f"
expect 0 hub spawn --id tester --type tester --after coder --label ns=n2 "FAKE:script=tester test f"
expect 0 hub wait --timeout 60
expect 0 hub apply
grep -qx 'two by the coder' a.txt && [ -f lib/f.h ] && [ -f tested.txt ] || fail "the change did not come home"
cd "$T" || fail "cd"
ok "workspace pipeline across namespaces: coder on n1, tester on n2 saw its change, applied on the client"

expect 0 hub spawn --id cut "FAKE:sleep=8 its agent's link goes down"
for _ in $(seq 200); do
    [ "$(hub --json status | python3 -c 'import json,sys; print([t["status"] for t in json.load(sys.stdin)["tasks"] if t["id"]=="cut"][0])')" = running ] && break
    sleep 0.05
done
victim=$(hub --json status | python3 -c 'import json,sys; print([t["agent"] for t in json.load(sys.stdin)["tasks"] if t["id"]=="cut"][0])')
vi=${victim#n}
eval "vns=\$N$vi"
nsx "$vns" ip link set "a$NS$vi" down
ok "cut the link of $victim while it runs cut"
expect 0 hub wait --timeout 60
expect 0 hub --json results
[ "$(json_get "$T/out" "[(r['attempt'], r['agent'] != '$victim') for r in d if r['id']=='cut'][0]")" = "(2, True)" ] \
    || fail "cut: $(json_get "$T/out" "[r for r in d if r['id']=='cut']")"
grep -q "agent $victim .* missed its heartbeats" "$T/coordinator.log" || fail "no death noticed"
ok "$victim's task finished on the other namespace as attempt 2"
