#!/usr/bin/env bash
# Fencing trusts only what the coordinator issued (the attempt number),
# never two machines' clocks. Agents run under libfaketime an hour behind
# and an hour ahead of the coordinator (their workers' `swarm mcp` too, as
# on a real host whose clock is off):
# - a worker on the late host stores its own result: the agent keeps it
#   (the clock comparison of layout 1 thought it older than the attempt
#   and overwrote it);
# - a worker on the early host stores its result in job c2; task w of job c3
#   runs on a right host without storing one: c3's result replaces c2's
#   (the clock comparison thought c2's entry belonged to c3's attempt).
. "$(dirname "$0")/lib.sh"
command -v faketime >/dev/null || { echo "skip: faketime not installed"; exit 77; }
lib=$(dpkg -L libfaketime 2>/dev/null | grep '/libfaketime.so.1$' | head -n 1)
[ -n "$lib" ] || { echo "skip: libfaketime.so.1 not found"; exit 77; }
use_redis 63

start_coordinator
skewed_agent() {
    local id=$1 offset=$2; shift 2
    mkdir -p "$T/work-$id" "$T/state-$id"
    LD_PRELOAD=$lib FAKETIME=$offset ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
        "$SWARM_BUILD/swarm-agent" -f --coordinator "$COORD_LISTEN" --id "$id" \
        --workdir "$T/work-$id" --state-dir "$T/state-$id" --codex "$FAKE_CODEX" --kill-grace-ms 500 --pass-env "FAKE_*" \
        --pass-env LD_PRELOAD --pass-env FAKETIME --pass-env ASAN_OPTIONS "$@" \
        >>"$T/agent-$id.log" 2>&1 &
    PIDS+=("$!")
}
skewed_agent behind -1h --label clock=behind
skewed_agent ahead +1h --label clock=ahead
start_agent right --label clock=right
wait_agents 3

expect 0 "$SWARM" init c1
expect 0 "$SWARM" spawn --id w --label clock=behind "FAKE:mcp-store=mine-from-the-late-host"
expect 0 "$SWARM" wait --timeout 60
expect 0 "$SWARM" memory get --namespace results result-w
[ "$(cat "$T/out")" = mine-from-the-late-host ] \
    || fail "the worker's own result on a host an hour behind was replaced: $(head -c 200 "$T/out")"
ok "a worker's own result on a host an hour behind is kept"

expect 0 "$SWARM" init c2
expect 0 "$SWARM" spawn --id w --label clock=ahead "FAKE:mcp-store=c2-from-the-early-host"
expect 0 "$SWARM" wait --timeout 60
expect 0 "$SWARM" memory get --namespace results result-w
[ "$(cat "$T/out")" = c2-from-the-early-host ] || fail "c2's worker result: $(head -c 200 "$T/out")"
expect 0 "$SWARM" init c3
expect 0 "$SWARM" spawn --id w --label clock=right "plain answer for c3"
expect 0 "$SWARM" wait --timeout 60
expect 0 "$SWARM" --json memory get --namespace results result-w
[ "$(json_get "$T/out" 'json.loads(d["value"])["job"]')" = c3 ] \
    || fail "job c3's result is job c2's worker's: $(head -c 300 "$T/out")"
ok "an entry written an hour ahead by another job's worker does not pass for this attempt's"
