#!/usr/bin/env bash
# Context sharing between a pipeline's stages: the orchestrator stores
# context (memory store, spawn --context), the agent expands
# {{memory:NS/KEY}} and {{result:ID}} in prompts before the spawn, and a
# missing reference fails the task with a clear message instead of running
# it with an empty prompt.
. "$(dirname "$0")/lib.sh"
use_redis 10
start_coordinator
start_agent a1 --slots 2
wait_agents 1
expect 0 "$SWARM" memory store --namespace ctx design "USE-JWT-WITH-REFRESH"
expect 0 "$SWARM" init pipe
expect 0 "$SWARM" spawn --id plan --type architect --context ctx/goal=LOGIN-FLOW \
    "Plan {{memory:ctx/goal}} following {{memory:ctx/design}}"
expect 0 "$SWARM" spawn --id build --after plan "Build what the plan says: {{result:plan}}"
expect 0 "$SWARM" spawn --id broken --after plan "Needs {{memory:ctx/missing}}"
expect 1 "$SWARM" wait --timeout 30
expect 0 "$SWARM" logs plan
contains "$T/out" "Plan LOGIN-FLOW following USE-JWT-WITH-REFRESH"
expect 0 "$SWARM" logs build
contains "$T/out" "Build what the plan says: sandbox=read-only task=plan"
ok "{{memory:...}} and {{result:...}} expanded before the spawn; --context stored first"
expect 1 "$SWARM" results --json
cp "$T/out" "$T/r.json"
[ "$(json_get "$T/r.json" "[r['status'] for r in d if r['id']=='broken'][0]")" = failed ] || fail "broken should fail"
json_get "$T/r.json" "[r['error'] for r in d if r['id']=='broken'][0]" > "$T/e"
contains "$T/e" "{{memory:ctx/missing}}: no key 'missing' in namespace 'ctx'"
ok "a missing reference fails the task with a clear message"
expect 2 "$SWARM" spawn --id x --context nokey "p"
contains "$T/err" "NS/KEY=VALUE"
