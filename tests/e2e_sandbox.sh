#!/usr/bin/env bash
# What a task inherits from its agent: only an allowlist of the agent's
# environment (PATH, HOME, locale, proxies, OPENAI_*/CODEX_*/... for the
# runners) plus --pass-env additions and the task's own --env; never the
# agent's other variables (its secrets). --rlimit-nofile and --rlimit-as
# hold from the task's first instruction (set before exec, not after), for
# plain commands and codex alike.
. "$(dirname "$0")/lib.sh"
use_redis 16
start_coordinator
SECRET_TOKEN=must-not-leak EXTRA_OK=passed start_agent a1 --slots 2 --allow-exec \
    --pass-env EXTRA_OK --rlimit-nofile 64 --rlimit-as 800000000
wait_agents 1
expect 0 "$SWARM" init sandbox
expect 0 "$SWARM" spawn --id env --env MINE=1 --env EXTRA_OK=the-task-says -- env
expect 2 "$SWARM" spawn --id forged --env SWARM_RUN=x -- env
contains "$T/err" "SWARM_RUN is set by the agent, not the task"
expect 0 "$SWARM" spawn --id limits -- sh -c 'ulimit -n; ulimit -v'
expect 0 "$SWARM" spawn --id codex "FAKE:sleep=0 a codex task under limits"
expect 0 "$SWARM" wait --timeout 30
expect 0 "$SWARM" logs env
out="$T/out"
for want in "PATH=" "EXTRA_OK=the-task-says" "MINE=1" "SWARM_JOB=sandbox" "SWARM_TASK_ID=env"; do
    grep -q "^$want" "$out" || fail "env lacks $want"
done
[ "$(grep -c "^EXTRA_OK=" "$out")" = 1 ] || fail "EXTRA_OK twice: the task's must replace the agent's"
grep -q "SECRET_TOKEN" "$out" && fail "the agent's SECRET_TOKEN reached the task"
grep -q "^SWARM_REDIS" "$out" && fail "the agent's SWARM_REDIS reached the task"
ok "tasks get the allowlist, --pass-env and their own --env (which wins, once); not the agent's secrets; SWARM_RUN cannot be forged"
expect 0 "$SWARM" logs limits
[ "$(tr '\n' ' ' <"$T/out")" = "64 781250 " ] || fail "limits: $(cat "$T/out")"
[ "$(task_field codex status)" = succeeded ] || fail "codex under limits: $(task_field codex status)"
ok "--rlimit-nofile and --rlimit-as hold in the task; codex runs through the limits"

# --allow-cmd: an agent that runs only the programs it names. The agent
# finds the program in its own PATH (a task's PATH or LD_* cannot swap it),
# and a refused task fails with the reason instead of running.
mkdir -p "$T/evil" && printf '#!/bin/sh\necho pwned\n' >"$T/evil/true" && chmod +x "$T/evil/true"
start_agent a2 --slots 1 --allow-cmd "e*o" --allow-cmd true --label only=cmd
wait_agents 2
grep -q "exec allowed for --allow-cmd programs" "$T/agent-a2.log" || fail "a2 did not announce --allow-cmd"
expect 0 "$SWARM" init allow-cmd
expect 0 "$SWARM" spawn --id echo --label only=cmd -- echo allowed
expect 0 "$SWARM" spawn --id sh --label only=cmd -- sh -c 'echo should not run'
expect 0 "$SWARM" spawn --id path --label only=cmd --env "PATH=$T/evil" -- true
expect 0 "$SWARM" spawn --id abs --label only=cmd -- "$T/evil/true"
expect 1 "$SWARM" wait --timeout 30
[ "$(task_field echo status)" = succeeded ] || fail "echo: $(task_field echo status)"
expect 0 "$SWARM" logs echo
contains "$T/out" "allowed"
for id in sh path abs; do
    [ "$(task_field "$id" status)" = failed ] || fail "$id: $(task_field "$id" status)"
done
expect 1 "$SWARM" --json results
json_get "$T/out" "[r['error'] for r in d if r['id']=='sh'][0]" | grep -q "program /.*/sh is not allowed on this agent (--allow-cmd)" \
    || fail "sh: $(json_get "$T/out" "[r for r in d if r['id']=='sh']")"
json_get "$T/out" "[r['error'] for r in d if r['id']=='path'][0]" | grep -q "task variable PATH is not allowed" \
    || fail "path: $(json_get "$T/out" "[r for r in d if r['id']=='path']")"
json_get "$T/out" "[r['error'] for r in d if r['id']=='abs'][0]" | grep -q "program $T/evil/true is not allowed" \
    || fail "abs: $(json_get "$T/out" "[r for r in d if r['id']=='abs']")"
ok "--allow-cmd: echo runs; sh, a PATH override and an absolute path outside the patterns are refused with the reason"
