#!/usr/bin/env bash
# swarm run: the example plans (parallel workers with an aggregate, a
# pipeline, coordination steps) and the build-farm command list run end to
# end through coordinator, agents and the stand-in codex; their reports are
# asserted. Also: on_failure stop, skipped chains in the report, the
# markdown report, and validation errors with FILE:LINE:COLUMN (exit 2,
# nothing submitted).
. "$(dirname "$0")/lib.sh"
use_redis 11
EX="$SWARM_SRC/examples"
cp -r "$EX/farm" "$T/farm"
start_coordinator
start_agent a1 --slots 2 --allow-exec --label os=linux --workdir "$T/farm"
start_agent a2 --slots 2
wait_agents 2

# pipeline: each stage sees the previous stages' output
expect 0 "$SWARM" run "$EX/user-auth-pipeline.yaml" --wait --job pipe --timeout 60
contains "$T/out" "job pipe: 4 tasks submitted"
contains "$T/out" "4 tasks: 4 succeeded"
[ "$(sed -n '/^TASK/,/^$/p' "$T/out" | awk 'NR>1 && NF {print $1}' | tr '\n' ' ')" = "architect coder tester reviewer " ] \
    || fail "pipeline report order"
expect 0 "$SWARM" logs --job pipe coder
contains "$T/out" "Your task: Implement this design: sandbox=read-only task=architect"
expect 0 "$SWARM" logs --job pipe reviewer
contains "$T/out" "sandbox=read-only task=reviewer"
contains "$T/out" "Implementation notes: sandbox=workspace-write task=coder"
ok "pipeline: stages in order, each reading the earlier results"

# parallel workers + aggregate, max_agents respected
expect 0 "$SWARM" run "$EX/user-auth-parallel.yaml" --wait --job par --json
cp "$T/out" "$T/par.json"
[ "$(json_get "$T/par.json" "[r['id'] for r in d]")" = "['api', 'store', 'tests', 'docs', 'aggregate']" ] || fail "parallel ids"
[ "$(json_get "$T/par.json" "all(r['status'] == 'succeeded' for r in d)")" = True ] || fail "parallel statuses"
agg=$(json_get "$T/par.json" "d[4]['output']")
for id in api store tests docs; do
    case "$agg" in *"### $id"*"task=$id"*) ;; *) fail "aggregate lacks $id's result" ;; esac
done
ok "parallel workers, then an aggregate that read all four results"

# steps: barriers
expect 0 "$SWARM" run "$EX/user-auth-steps.yaml" --wait --job steps
contains "$T/out" "5 tasks: 5 succeeded"
expect 0 "$SWARM" --json status --job steps
cp "$T/out" "$T/steps.json"
python3 - "$T/steps.json" <<'PY' || fail "a step started before its barrier"
import json, sys
t = {x['id']: x for x in json.load(open(sys.argv[1]))['tasks']}
assert t['coder-1']['started'] >= t['architect-1']['finished']
assert t['coder-2']['started'] >= t['architect-1']['finished']
assert t['tester']['started'] >= max(t['coder-1']['finished'], t['coder-2']['finished'])
assert t['aggregate']['started'] >= t['tester']['finished']
PY
ok "steps: each barrier held"

# build farm: a command list, placed by label, really compiled
expect 0 "$SWARM" run --commands "$EX/farm/commands.txt" --label os=linux --wait --job farm --markdown
contains "$T/out" "| \`cmd-5\` | succeeded | 1 | a1 |"
contains "$T/out" "**4 tasks: 4 succeeded**"
for o in add mul main greet; do [ -s "$T/farm/$o.o" ] || fail "$o.o was not built"; done
cc -o "$T/farm/prog" "$T/farm"/*.o && [ "$("$T/farm/prog")" = "built by swarm: 14" ] || fail "the farm's objects do not link"
ok "command list compiled on the labelled agent; markdown report"

# on_failure stop from stdin: the failure cancels the rest, named in the report
printf 'sh -c "exit 7"\nsleep 30\nsleep 30\nsleep 30\n' > "$T/cmds"
expect 1 "$SWARM" run --commands - --label os=linux --halt-on-failure --max-agents 1 --wait --job halt < "$T/cmds"
contains "$T/out" "cancelled: job halted after cmd-1 failed"
contains "$T/out" "4 tasks: 1 failed, 3 cancelled"
contains "$T/err" "cmd-1 (failed)"
ok "--halt-on-failure: the first failure cancels what is left"

# a plan's namespace is where its results go
printf 'name: ns\nnamespace: team-a\nworkers:\n  - {id: w1, task: work}\n' > "$T/ns.yaml"
expect 0 "$SWARM" run "$T/ns.yaml" --wait --job nsjob
expect 0 "$SWARM" memory get --namespace team-a result-w1
contains "$T/out" '"job":"nsjob"'
ok "the plan's namespace holds its results"

# a failing stage skips the chain after it; results show why
cat > "$T/chain.yaml" <<'YAML'
name: chain
stages:
  - {name: a, task: "FAKE:exit=2 breaks"}
  - {name: b, task: never}
  - {name: c, task: never}
YAML
expect 1 "$SWARM" run "$T/chain.yaml" --wait --job chain
contains "$T/out" "dependency a failed"
contains "$T/out" "dependency b skipped"
contains "$T/out" "3 tasks: 1 failed, 2 skipped"
ok "a failed stage skips its dependants, and the report shows the chain"

# goal decomposition: codex (read-only, with the plan schema) splits the goal,
# the plan is checked like a file's, shown, and run in the same job
expect 0 "$SWARM" run --decompose "Implement user authentication" --workers 2 --wait --job dec
contains "$T/out" "job dec: 5 tasks"
contains "$T/out" "coder-2                  coder/codex        after architect"
contains "$T/out" "6 tasks: 6 succeeded"
expect 0 "$SWARM" logs --job dec decompose
contains "$T/out" '"name":"decomposed"'
expect 0 "$SWARM" --json status --job dec
[ "$(json_get "$T/out" "[t['id'] for t in d['tasks']]")" = \
  "['decompose', 'architect', 'coder-1', 'coder-2', 'tester', 'reviewer']" ] || fail "decomposed tasks"
ok "--decompose: codex's plan validated, shown and run"
expect 1 "$SWARM" run --decompose "FAKE:plan=bad Implement user authentication" --job decbad
contains "$T/err" "codex-plan:1:"
contains "$T/err" "dependency cycle"
contains "$T/err" "swarm memory get --namespace decompose decbad"
expect 0 "$SWARM" memory get --namespace decompose decbad
contains "$T/out" '"depends_on":["reviewer"]'
expect 0 "$SWARM" --json status --job decbad
[ "$(json_get "$T/out" "len(d['tasks'])")" = 1 ] || fail "a bad plan ran tasks"
ok "a malformed plan from the model: an error, nothing run, its text kept in memory"

# validation: every problem with its position, exit 2, nothing submitted
cat > "$T/bad.yaml" <<'YAML'
name: bad
stages:
  - {name: a, task: x, dependson: [b]}
  - {name: b, type: dev, task: y}
YAML
expect 2 "$SWARM" run "$T/bad.yaml" --job bad
contains "$T/err" "$T/bad.yaml:3:24: unknown key 'dependson' in stages"
contains "$T/err" "nothing was submitted"
cat > "$T/cycle.yaml" <<'YAML'
workers:
  - {id: a, task: x, depends_on: [b]}
  - {id: b, task: y, depends_on: [a]}
YAML
expect 2 "$SWARM" run "$T/cycle.yaml" --job cyc
contains "$T/err" "$T/cycle.yaml:2:5: dependency cycle: a -> b -> a"
printf 'workers:\n  - {id: a, task: x\n' > "$T/syntax.yaml"
expect 2 "$SWARM" run "$T/syntax.yaml"
contains "$T/err" "$T/syntax.yaml:3:1: YAML:"
printf 'echo "unterminated\n' | expect 2 "$SWARM" run --commands -
contains "$T/err" "stdin:1:1: unterminated double quote"
expect 4 "$SWARM" status --job bad
expect 4 "$SWARM" status --job cyc
ok "validation errors name file:line:column; nothing submitted"
