#!/usr/bin/env bash
# sw_aredis's accounting (issue 20: send, send_formatted, call and
# call_formatted share one s_queue) on a redis-server of this test's own
# (CLIENT KILL reaches every client of a server): what is pending, sent
# and refused stays right through replies, refusals by room, error
# replies, a connection the server closes with calls pending, a stall the
# tick drops, and a destroy with calls pending (swarm_selftest
# aredis-live; under ASan nothing leaks).
. "$(dirname "$0")/lib.sh"
private_redis 104
"$SWARM_BUILD/tests/swarm_selftest" aredis-live "$SWARM_REDIS" >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 0 ] || { cat "$T/out" "$T/err"; fail "aredis-live exited $rc"; }
contains "$T/out" "aredis-live: OK"
ok "sw_aredis: pending, sent, refused and errors right on every path"
