#!/usr/bin/env bash
# The coding-agent workflow through the real system: architect, then two
# coders in parallel, then a tester, then a reviewer, on two agents, with
# the stand-in codex. Passes when every task succeeds, reviewer and
# architect ran read-only and the others workspace-write, the coders ran
# on both agents, and results/memory give each task's output.
. "$(dirname "$0")/lib.sh"
use_redis 1
start_coordinator
start_agent agent-1 --slots 2
start_agent agent-2 --slots 2
wait_agents 2

expect 0 "$SWARM" init auth
contains "$T/out" "auth"
expect 0 "$SWARM" spawn --id architect --type architect "Design user authentication"
expect 0 "$SWARM" spawn --id coder-1 --type coder --after architect "FAKE:sleep=1 Implement the login API"
expect 0 "$SWARM" spawn --id coder-2 --type coder --after architect "FAKE:sleep=1 Implement the session store"
expect 0 "$SWARM" spawn --id tester --type tester --after coder-1,coder-2 "Write the tests"
expect 0 "$SWARM" spawn --id reviewer --type reviewer --after tester "Review the change"
contains "$T/out" "spawned reviewer in job auth"

expect 0 "$SWARM" wait --timeout 60
contains "$T/out" "job auth: 5/5 finished: 5 succeeded"
ok "wait: all five succeeded"

expect 0 "$SWARM" results --json
cp "$T/out" "$T/results.json"
[ "$(json_get "$T/results.json" 'len(d)')" = 5 ] || fail "results has not 5 entries"
for id in architect reviewer; do
    [ "$(json_get "$T/results.json" "[r['output'] for r in d if r['id']=='$id'][0].startswith('sandbox=read-only')")" = True ] \
        || fail "$id did not run read-only"
done
for id in coder-1 coder-2 tester; do
    [ "$(json_get "$T/results.json" "[r['output'] for r in d if r['id']=='$id'][0].startswith('sandbox=workspace-write')")" = True ] \
        || fail "$id did not run workspace-write"
done
ok "sandbox by type"
[ "$(json_get "$T/results.json" "sorted({r['agent'] for r in d if r['id'].startswith('coder')})")" = "['agent-1', 'agent-2']" ] \
    || fail "the two coders did not run on both agents"
ok "the parallel coders ran on both agents"
[ "$(json_get "$T/results.json" "all(r['status']=='succeeded' and r['attempt']==1 and r['exit_code']==0 for r in d)")" = True ] \
    || fail "not all succeeded at attempt 1"
[ "$(json_get "$T/results.json" "[r['output'] for r in d if r['id']=='tester'][0].strip()")" = \
  "sandbox=workspace-write task=tester agent=$(json_get "$T/results.json" "[r['agent'] for r in d if r['id']=='tester'][0]") prompt_bytes=15 prompt_sha256=$(printf 'Write the tests' | sha256sum | cut -d' ' -f1): done: Write the tests" ] \
    || fail "tester output is not codex's last message"
ok "output is codex's last message (-o file)"
[ "$(json_get "$T/results.json" "[(r['usage']['input_tokens'], r['usage']['output_tokens'], r['usage']['num_turns']) for r in d if r['id']=='tester'][0]")" \
  = "(1200, 34, 1)" ] || fail "codex usage: $(json_get "$T/results.json" "[r.get('usage') for r in d if r['id']=='tester'][0]")"
ok "token usage from codex's --json events is in the result"

# the table: one row per task, in submit order, and exit 0
expect 0 "$SWARM" results
[ "$(sed -n '2,6p' "$T/out" | awk '{print $1}' | tr '\n' ' ')" = "architect coder-1 coder-2 tester reviewer " ] \
    || fail "results table order"
contains "$T/out" "5 tasks: 5 succeeded"

# the same result is in memory, namespace results, key result-<id>
expect 0 "$SWARM" memory get --namespace results result-reviewer
contains "$T/out" '"status":"succeeded"'
expect 0 "$SWARM" memory list --namespace results
[ "$(grep -c '^result-' "$T/out")" = 5 ] || fail "memory list does not show the 5 results"
expect 0 "$SWARM" logs coder-2
contains "$T/out" "Implement the session store"
ok "memory and logs"
