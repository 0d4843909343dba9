#!/usr/bin/env bash
# Supervision: a task past its --timeout that ignores SIGTERM and left a
# grandchild is killed with its whole process group (nothing is left),
# and reported timed_out; a flood of output is capped head+tail and the
# child never blocks; a grandchild holding stdout after the child exits
# does not hang the task.
. "$(dirname "$0")/lib.sh"
use_redis 3
start_coordinator
start_agent a1 --slots 3 --allow-exec --max-output 65536
wait_agents 1
tok="swarmtok$$x"

expect 0 "$SWARM" init sup
expect 0 "$SWARM" spawn --id slow --timeout 1 "FAKE:ignore-term FAKE:grandchild=$tok FAKE:sleep=60 hang"
expect 0 "$SWARM" spawn --id flood -- /bin/sh -c 'head -c 5000000 /dev/zero | tr "\0" y; echo END'
expect 0 "$SWARM" spawn --id holder -- /bin/sh -c "sleep 1000 & echo $tok-holder"
# a holder that left the group (setsid) and writes without pause: its
# pipes are closed from the 100 ms tick while output is pending, the
# result stored and the run destroyed in that tick; the loop must not
# read the pending output for the freed run (issue 16, i26-uaf)
expect 0 "$SWARM" spawn --id leaver -- /bin/sh -c "echo $tok-leaver; setsid sh -c 'while :; do echo leaking; done' &"
expect 1 "$SWARM" wait --timeout 40
expect 1 "$SWARM" results --json
cp "$T/out" "$T/r.json"
[ "$(json_get "$T/r.json" "[r['status'] for r in d if r['id']=='slow'][0]")" = timed_out ] || fail "slow not timed_out"
[ "$(json_get "$T/r.json" "[r['signal'] for r in d if r['id']=='slow'][0]")" = KILL ] || fail "slow not escalated to SIGKILL"
sleep 0.3
pgrep -f "$tok" >/dev/null && { pgrep -af "$tok"; fail "a process of the timed-out task survived"; }
ok "timeout: TERM ignored, group killed, nothing left"

[ "$(json_get "$T/r.json" "[r['status'] for r in d if r['id']=='flood'][0]")" = succeeded ] || fail "flood failed"
[ "$(json_get "$T/r.json" "[r['output_truncated'] for r in d if r['id']=='flood'][0]")" = True ] || fail "flood not truncated"
[ "$(json_get "$T/r.json" "[len(r['output']) < 70000 for r in d if r['id']=='flood'][0]")" = True ] || fail "flood output not capped"
[ "$(json_get "$T/r.json" "[r['output'].rstrip().endswith('END') for r in d if r['id']=='flood'][0]")" = True ] || fail "flood tail lost"
[ "$(json_get "$T/r.json" "[('bytes omitted' in r['output']) for r in d if r['id']=='flood'][0]")" = True ] || fail "no omission marker"
ok "5 MB of output capped head+tail"

[ "$(json_get "$T/r.json" "[r['status'] for r in d if r['id']=='holder'][0]")" = succeeded ] || fail "holder failed"
[ "$(json_get "$T/r.json" "[r['output'].strip() for r in d if r['id']=='holder'][0]")" = "$tok-holder" ] || fail "holder output"
pgrep -f "sleep 1000" -P "$AGENT_PID_a1" >/dev/null && fail "holder's grandchild survived"
ok "grandchild holding the pipe does not hang the task"

[ "$(json_get "$T/r.json" "[r['status'] for r in d if r['id']=='leaver'][0]")" = succeeded ] || fail "leaver failed"
[ "$(json_get "$T/r.json" "[r['output'].startswith('$tok-leaver') for r in d if r['id']=='leaver'][0]")" = True ] \
    || fail "leaver output lost"
kill -0 "$AGENT_PID_a1" 2>/dev/null || fail "the agent died after closing the pipes of a writer outside the group"
grep -q "holds its output open; closing" "$T/agent-a1.log" || fail "the agent did not close the leaver's pipes (the case did not happen)"
ok "a writer outside the group: pipes closed mid-output, the run stored, the agent alive"
