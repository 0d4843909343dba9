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
expect 0 "$SWARM" spawn --id env --env MINE=1 -- env
expect 0 "$SWARM" spawn --id limits -- sh -c 'ulimit -n; ulimit -v'
expect 0 "$SWARM" spawn --id codex "FAKE:sleep=0 a codex task under limits"
expect 0 "$SWARM" wait --timeout 30
expect 0 "$SWARM" logs env
out="$T/out"
for want in "PATH=" "EXTRA_OK=passed" "MINE=1" "SWARM_JOB=sandbox" "SWARM_TASK_ID=env"; do
    grep -q "^$want" "$out" || fail "env lacks $want"
done
grep -q "SECRET_TOKEN" "$out" && fail "the agent's SECRET_TOKEN reached the task"
grep -q "^SWARM_REDIS" "$out" && fail "the agent's SWARM_REDIS reached the task"
ok "tasks get the allowlist, --pass-env and their own --env; not the agent's secrets"
expect 0 "$SWARM" logs limits
[ "$(tr '\n' ' ' <"$T/out")" = "64 781250 " ] || fail "limits: $(cat "$T/out")"
[ "$(task_field codex status)" = succeeded ] || fail "codex under limits: $(task_field codex status)"
ok "--rlimit-nofile and --rlimit-as hold in the task; codex runs through the limits"
