#!/usr/bin/env bash
# CURVE: keys made with `swarm keygen`; the coordinator lets in only agents
# whose public certificate is in --allowed-agents (zauth, checked to refuse
# strangers before the coordinator starts). An unknown key, no key and the
# wrong server key never register; an allowed key cannot take over another
# agent's id; a job runs over the encrypted link; removing an agent's
# certificate cuts it off within a second or two and its task runs again
# elsewhere; `swarm agents revoke` does the same for good. Half a CURVE
# configuration, or a public certificate given as a secret one, is refused
# at start (exit 2). The control socket as a unix socket is mode 0660.
. "$(dirname "$0")/lib.sh"
use_redis 15
K="$T/keys"
mkdir -p "$K" "$T/allowed"
for n in coord a1 a2 rogue; do
    expect 0 "$SWARM" keygen --dir "$K" "$n"
done
[ "$(stat -c %a "$K/a1.cert_secret")" = 600 ] || fail "secret not 0600"
cp "$K/a1.cert" "$K/a2.cert" "$T/allowed/"

expect 2 "$SWARM_BUILD/swarm-coordinator" -f --curve-secret "$K/coord.cert_secret"
contains "$T/err" "CURVE needs both --curve-secret FILE and --allowed-agents DIR"
expect 2 "$SWARM_BUILD/swarm-coordinator" -f --curve-secret "$K/coord.cert" --allowed-agents "$T/allowed"
contains "$T/err" "not a secret certificate"
expect 2 "$SWARM_BUILD/swarm-agent" -f --curve-secret "$K/a1.cert_secret"
contains "$T/err" "CURVE needs both"
ok "half a CURVE setup, or a public certificate as the secret, is refused"

start_coordinator --curve-secret "$K/coord.cert_secret" --allowed-agents "$T/allowed" --liveness 4
grep -q "CURVE on $COORD_LISTEN" "$T/coordinator.log" || fail "CURVE not announced"
curve() { echo --curve-secret "$K/$1.cert_secret" --coordinator-key "$K/${2:-coord}.cert"; }
# shellcheck disable=SC2046
start_agent a1 --slots 1 $(curve a1)
# shellcheck disable=SC2046
start_agent a2 --slots 1 $(curve a2)
wait_agents 2
# shellcheck disable=SC2046
start_agent rogue --slots 1 $(curve rogue)
start_agent plain --slots 1
# shellcheck disable=SC2046
start_agent wrongkey --slots 1 $(curve a1 rogue)
mkdir -p "$T/work-thief"
# shellcheck disable=SC2046
"$SWARM_BUILD/swarm-agent" -f --coordinator "$COORD_LISTEN" --id a1 --workdir "$T/work-thief" \
    --state-dir "$T/state-thief" --codex "$FAKE_CODEX" --pass-env "FAKE_*" $(curve a2) >>"$T/agent-thief.log" 2>&1 &
PIDS+=("$!")
sleep 3
expect 0 "$SWARM" --json agents
ids=$(json_get "$T/out" "' '.join(sorted(a['id'] for a in d['agents'] if True))" 2>/dev/null \
      || json_get "$T/out" "' '.join(sorted(a['id'] for a in d))")
[ "$ids" = "a1 a2" ] || fail "registered agents: $ids"
grep -q "refused HELLO from agent a1: its key is for another agent id" \
    "$T/coordinator.log" || fail "a2's key took a1's id"
grep -q "it refused our HELLO: its key is for another agent id" "$T/agent-thief.log" \
    || fail "the refused agent does not say why: $(grep -m1 HELLO "$T/agent-thief.log")"
grep -q "joined" <(grep -E "agent (rogue|plain|wrongkey) " "$T/coordinator.log") \
    && fail "a stranger joined"
ok "unknown key, no key, wrong server key and a stolen id are all kept out"

expect 0 "$SWARM" init sec
expect 0 "$SWARM" spawn --id one "FAKE:sleep=0 over CURVE"
expect 0 "$SWARM" spawn --id long "FAKE:sleep=4 outlives its agent's key"
expect 0 "$SWARM" wait --timeout 60 one
for _ in $(seq 200); do
    [ "$(task_field long status)" = running ] && break
    sleep 0.05
done
victim=$(task_field long agent)
rm "$T/allowed/$victim.cert"
for _ in $(seq 100); do
    grep -q "agent $victim: its key was revoked" "$T/coordinator.log" && break
    sleep 0.05
done
grep -q "agent $victim: its key was revoked" "$T/coordinator.log" || fail "$victim was not cut off"
expect 0 "$SWARM" wait --timeout 60
[ "$(task_field long attempt)" = 2 ] || fail "long at attempt $(task_field long attempt)"
[ "$(task_field long agent)" != "$victim" ] || fail "long finished on the revoked agent"
expect 0 "$SWARM" --json agents
[ "$(grep -c '"id"' "$T/out")" = 1 ] || fail "the revoked agent is still registered"
expect 0 "$SWARM" events --job sec
contains "$T/out" "agent $victim revoked: its key was revoked (1 task of this job ran there)"
contains "$T/out" "retried long: agent $victim was revoked: its key was revoked (attempt 1 on $victim)"
ok "revoking $victim's key cut it off; its task finished elsewhere as attempt 2; the job's events say so"

# swarm agents revoke: the other one, for good (the key is kept in Redis)
other=$([ "$victim" = a1 ] && echo a2 || echo a1)
expect 4 "$SWARM" agents revoke nosuch
expect 0 "$SWARM" --json agents revoke "$other"
key=$(json_get "$T/out" "d['key']")
[ "$(redis-cli -p "$REDIS_PORT" -n 15 SISMEMBER "$(rkey revoked)" "$key")" = 1 ] || fail "revocation not kept"
expect 0 "$SWARM" --json agents
[ "$(cat "$T/out" | tr -d ' \n')" = "[]" ] || fail "$other is still registered: $(cat "$T/out")"
for _ in $(seq 100); do
    grep -q "refused HELLO from agent $other: its key was revoked" "$T/coordinator.log" && break
    sleep 0.05
done
grep -q "refused HELLO from agent $other: its key was revoked" "$T/coordinator.log" \
    || fail "$other was let in again"
ok "swarm agents revoke $other: cut off, kept out, remembered in Redis"

# The control socket on a unix socket: mode 0660, so the owner and its
# group may submit jobs and others may not.
mkdir -p "$T/run" && chmod 755 "$T" "$T/run"
# (a database of its own: the first coordinator holds 15)
redis-cli -p "$REDIS_PORT" -n 103 FLUSHDB >/dev/null
"$SWARM_BUILD/swarm-coordinator" -f --listen "tcp://127.0.0.1:$(free_port)" \
    --control "ipc://$T/run/ctl.sock" --redis "${SWARM_REDIS%/*}/103" >>"$T/coordinator-ipc.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 100); do [ -S "$T/run/ctl.sock" ] && break; sleep 0.05; done
expect 0 "$SWARM" --coordinator "ipc://$T/run/ctl.sock" status
expect 2 "$SWARM" --coordinator "ipc://$T/run/ctl.sock" agents revoke a1
contains "$T/err" "revoke needs CURVE"
[ "$(stat -c %a "$T/run/ctl.sock")" = 660 ] || fail "control socket mode $(stat -c %a "$T/run/ctl.sock")"
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1 && runuser -u nobody -- test -x "$SWARM"; then
    expect 3 runuser -u nobody -- "$SWARM" --timeout 1 --coordinator "ipc://$T/run/ctl.sock" status
    contains "$T/err" "did not answer"
    ok "ipc:// control socket: 0660, another user is refused"
else
    ok "ipc:// control socket: 0660 (no second user here to try it)"
fi

# The control socket over CURVE (--admin-keys): only admin keys may submit.
# --admin-keys alone is refused; each wrong client is told why (exit 3).
mkdir -p "$T/admins"
redis-cli -p "$REDIS_PORT" -n 17 FLUSHDB >/dev/null
expect 0 "$SWARM" keygen --dir "$T/admins" ops
expect 2 "$SWARM_BUILD/swarm-coordinator" -f --admin-keys "$T/admins"
contains "$T/err" "--admin-keys needs CURVE"
expect 2 "$SWARM_BUILD/swarm-coordinator" -f --listen "tcp://127.0.0.1:$(free_port)" \
    --control "tcp://10.255.255.1:$(free_port)"
contains "$T/err" "stays local unless CURVE (--admin-keys DIR) or --insecure"
CTL="tcp://127.0.0.1:$(free_port)"
"$SWARM_BUILD/swarm-coordinator" -f --listen "tcp://127.0.0.1:$(free_port)" --control "$CTL" \
    --redis "${SWARM_REDIS%/*}/17" --curve-secret "$K/coord.cert_secret" --allowed-agents "$T/allowed" \
    --admin-keys "$T/admins" >>"$T/coordinator-admin.log" 2>&1 &
PIDS+=("$!")
admin() { "$SWARM" --coordinator "$CTL" --timeout 2 "$@"; }
for _ in $(seq 100); do
    admin --curve-secret "$T/admins/ops.cert_secret" --coordinator-key "$K/coord.cert" status \
        >/dev/null 2>&1 && break
    sleep 0.05
done
grep -q "CURVE on $CTL: admins allowed by" "$T/coordinator-admin.log" || fail "admin CURVE not announced"
SWARM_CURVE_SECRET="$T/admins/ops.cert_secret" SWARM_COORDINATOR_KEY="$K/coord.cert" \
    expect 0 admin init remote-job
contains "$T/out" "remote-job"
expect 3 admin status
contains "$T/err" "wants CURVE: give --curve-secret and --coordinator-key"
expect 3 admin --curve-secret "$K/a1.cert_secret" --coordinator-key "$K/coord.cert" status
contains "$T/err" "refused our key (not in its --admin-keys)"
expect 3 admin --curve-secret "$T/admins/ops.cert_secret" --coordinator-key "$K/rogue.cert" status
contains "$T/err" "failed the CURVE handshake: is --coordinator-key its certificate"
expect 3 "$SWARM" --timeout 2 --curve-secret "$T/admins/ops.cert_secret" --coordinator-key "$K/coord.cert" status
grep -qE "does not speak CURVE on its control socket|does it have --admin-keys" "$T/err" \
    || fail "CURVE client, plaintext control: $(cat "$T/err")"
expect 2 admin --curve-secret "$T/admins/ops.cert_secret" status
contains "$T/err" "CURVE needs both"
grep -q "refused a client from 127.0.0.1 on the control socket: unknown key" \
    "$T/coordinator-admin.log" || fail "the refusal was not logged"
ok "--admin-keys: an admin key submits; no key, an agent's key, the wrong server key are refused with the reason"
rm "$T/admins/ops.cert"
expect 3 admin --curve-secret "$T/admins/ops.cert_secret" --coordinator-key "$K/coord.cert" status
contains "$T/err" "refused our key"
ok "an admin key removed from --admin-keys is refused at once"
