#!/usr/bin/env bash
# Issue 20: an attempt that succeeds without writing a byte has no live
# output stream (agent_log_finish). What `swarm logs -f` must still do
# around such attempts, as a user meets them:
#   - followed from before any agent exists (queued, attempt 0): names the
#     attempt, ends with its status and exit 0, prints nothing else;
#   - attempt 1 crashes silently (end entry), attempt 2 succeeds silently
#     (no stream): the follower leaves attempt 1, names attempt 2, and
#     ends 0 with attempt 2's status; the same after a silent timeout;
#   - output that is only "\n", only "\r", only a partial line, only
#     stderr, or comes after a silent second: a stream, and the bytes;
#   - a follower of a silent task cancelled while it runs: exit 1,
#     cancelled; a silent failure keeps its end (exit 1, failed);
#   - 30 silent tasks leave no live output key at all.
. "$(dirname "$0")/lib.sh"
use_redis 103
start_coordinator
expect 0 "$SWARM" init silent
LOGS=$(rkey log silent x 1); LOGS=${LOGS%x:1}     # the job's stream prefix

# queued before any agent: followers in text and JSON
expect 0 "$SWARM" spawn --id early -- /bin/true
timeout 60 "$SWARM" logs -f early >"$T/early.out" 2>"$T/early.err" &
F1=$!
timeout 60 "$SWARM" --json logs -f early >"$T/earlyj.out" 2>"$T/earlyj.err" &
F2=$!
sleep 0.5
start_agent a1 --slots 2 --allow-exec
wait_agents 1
wait "$F1" || fail "logs -f early exited $?: $(cat "$T/early.err")"
wait "$F2" || fail "logs -f --json early exited $?: $(cat "$T/earlyj.err")"
[ ! -s "$T/early.out" ] || fail "early printed: $(cat "$T/early.out")"
contains "$T/early.err" "attempt 1 on a1"
contains "$T/early.err" "task early succeeded (exit 0, attempt 1"
python3 - "$T/earlyj.out" <<'PY' || fail "logs -f --json early: $(cat "$T/earlyj.out")"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert [l.get("line") for l in lines[:-1]] == ["attempt 1 on a1"], lines
assert lines[-1]["status"] == "succeeded" and lines[-1]["exit_code"] == 0, lines
PY
ok "a silent task followed from before it was dispatched: its attempt, then its status"

# a silent crash, then a silent success (a crash is retried)
expect 0 "$SWARM" spawn --id crash --max-attempts 3 -- \
    /bin/sh -c 'if [ -e "$0" ]; then exit 0; fi; touch "$0"; kill -9 $$' "$T/crash.flag"
expect 0 timeout 60 "$SWARM" logs -f crash
[ ! -s "$T/out" ] || fail "crash printed: $(cat "$T/out")"
contains "$T/err" "attempt 1 ended: crashed"
contains "$T/err" "attempt 2 on a1"
contains "$T/err" "task crash succeeded (exit 0, attempt 2"
[ "$(redis-cli -p "$REDIS_PORT" -n 103 EXISTS "$(rkey log silent crash 1)" "$(rkey log silent crash 2)")" = 1 ] \
    || fail "crash: the crashed attempt's end, and no stream of the silent success"
# a silent timeout, then a silent success, followed while it waits
expect 0 "$SWARM" spawn --id slow --max-attempts 3 --timeout 1 -- \
    /bin/sh -c 'if [ -e "$0" ]; then exit 0; fi; touch "$0"; sleep 30' "$T/slow.flag"
expect 0 timeout 60 "$SWARM" logs -f slow
contains "$T/err" "attempt 1 ended: timed out"
contains "$T/err" "task slow succeeded (exit 0, attempt 2"
ok "a silent crash or timeout, then a silent success: both attempts named, exit 0"

# the smallest outputs are not silent
check_bytes() {    # ID WANT_STDOUT_HEX WANT_IN_STDERR CMD
    local id=$1 want=$2 inerr=$3; shift 3
    expect 0 "$SWARM" spawn --id "$id" -- /bin/sh -c "$1"
    expect 0 timeout 60 "$SWARM" logs -f "$id"
    [ "$(od -An -tx1 "$T/out" | tr -d ' \n')" = "$want" ] || fail "$id printed $(od -c "$T/out")"
    [ -z "$inerr" ] || contains "$T/err" "$inerr"
    contains "$T/err" "task $id succeeded"
    [ "$(redis-cli -p "$REDIS_PORT" -n 103 EXISTS "$(rkey log silent "$id" 1)")" = 1 ] \
        || fail "$id has no stream"
}
check_bytes nl 0a "" 'echo'
check_bytes cr 0d0a "" 'printf "\r"'
check_bytes part 6162630a "" 'printf abc'
check_bytes err "" "late-err" 'sleep 0.3; printf late-err >&2'
check_bytes late 68690a "" 'sleep 1.2; echo hi'
ok "only a newline, a CR, a partial line, stderr, or a line after a silence: a stream, the bytes"

# cancelled while silent; a silent failure
expect 0 "$SWARM" spawn --id canc -- /bin/sh -c 'sleep 30'
wait_status canc running
timeout 60 "$SWARM" logs -f canc >"$T/canc.out" 2>"$T/canc.err" &
F=$!
sleep 0.3
expect 0 "$SWARM" cancel canc
wait "$F"; rc=$?
[ "$rc" = 1 ] || fail "logs -f canc exited $rc: $(cat "$T/canc.err")"
contains "$T/canc.err" "task canc cancelled"
expect 0 "$SWARM" spawn --id nay --max-attempts 1 -- /bin/sh -c 'exit 7'
expect 1 timeout 60 "$SWARM" logs -f nay
contains "$T/err" "task nay failed (exit 7"
[ "$(redis-cli -p "$REDIS_PORT" -n 103 EXISTS "$(rkey log silent nay 1)")" = 1 ] || fail "nay has no end"
ok "a silent task cancelled or failed: exit 1, its status, its end kept"

# many silent tasks: no key of live output
for i in $(seq 30); do expect 0 "$SWARM" spawn --id "m$i" -- /bin/true; done
expect 0 "$SWARM" wait --timeout 60 $(seq -f "m%g" 30)
n=$(redis-cli -p "$REDIS_PORT" -n 103 --scan --pattern "${LOGS}m*" | wc -l)
[ "$n" = 0 ] || fail "$n streams for 30 silent tasks"
expect 0 "$SWARM" logs -f m30
contains "$T/err" "task m30 succeeded"
ok "30 silent tasks leave no stream; logs -f of one ends with its status"
