#!/usr/bin/env bash
# CURVE: a certificate replaced in place in --allowed-agents takes effect
# (issue 15, section 5). The key sets were re-read only when the
# directory's mtime changed, which writing into an existing file does not
# do: the old key stayed allowed and the new one refused.
. "$(dirname "$0")/lib.sh"
use_redis 68
K="$T/keys"
mkdir -p "$K" "$T/allowed"
for n in coord a1 a2; do
    expect 0 "$SWARM" keygen --dir "$K" "$n"
done
cp "$K/a1.cert" "$T/allowed/slot.cert"
start_coordinator --curve-secret "$K/coord.cert_secret" --allowed-agents "$T/allowed"
curve() { echo --curve-secret "$K/$1.cert_secret" --coordinator-key "$K/coord.cert"; }
# shellcheck disable=SC2046
start_agent a1 --slots 1 $(curve a1)
# shellcheck disable=SC2046
start_agent a2 --slots 1 $(curve a2)
wait_agents 1
sleep 1
expect 0 "$SWARM" --json agents
[ "$(json_get "$T/out" "' '.join(sorted(a['id'] for a in d))")" = a1 ] || fail "agents: $(cat "$T/out")"
mtime=$(stat -c %Y.%y "$T/allowed")
cat "$K/a2.cert" > "$T/allowed/slot.cert"       # the same file, another key
[ "$(stat -c %Y.%y "$T/allowed")" = "$mtime" ] || fail "the directory's mtime changed"
for _ in $(seq 100); do
    "$SWARM" --json agents > "$T/agents.json" 2>/dev/null
    [ "$(json_get "$T/agents.json" "' '.join(sorted(a['id'] for a in d))")" = a2 ] && break
    sleep 0.1
done
[ "$(json_get "$T/agents.json" "' '.join(sorted(a['id'] for a in d))")" = a2 ] \
    || fail "agents after the replacement: $(cat "$T/agents.json")"
grep -q "agent a1: its key was revoked: cutting it off" "$T/coordinator.log" || fail "a1 not cut off"
ok "a certificate rewritten in place: its old key cut off, its new key let in"
