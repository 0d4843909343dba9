#!/usr/bin/env bash
# A task under --rlimit-* is found and refused as one without (the attack
# of issue 20's spawn): the agent runs it through `swarm-agent
# --exec-with-limits`, which used execvp, and execvp runs an executable
# file without "#!" through /bin/sh, where agent_spawn (and posix_spawnp
# before it) refuses it with ENOEXEC. So the same task failed on an agent
# without limits and ran, as a shell script, on one with them. Now the
# wrapper searches and execs as agent_spawn does. And it searched the
# task's PATH (its environment is the task's), where agent_spawn searches
# the agent's: a task's --env PATH found another program under limits.
# Now the agent passes its PATH to the wrapper.
. "$(dirname "$0")/lib.sh"
use_redis 215
start_coordinator
start_agent lim --slots 1 --allow-exec --rlimit-nofile 128
wait_agents 1
printf 'touch "%s/ran"\n' "$T" >"$T/noshebang"
chmod +x "$T/noshebang"
expect 0 "$SWARM" init rlexec
expect 0 "$SWARM" spawn --id ns -- "$T/noshebang"
expect 0 "$SWARM" spawn --id lim -- sh -c 'ulimit -n'
mkdir -p "$T/other"
printf '#!/bin/sh\n: >"%s/other-ran"\n' "$T" >"$T/other/true"
chmod +x "$T/other/true"
expect 0 "$SWARM" spawn --id swap --env PATH="$T/other" -- true
expect 1 "$SWARM" wait --timeout 30
[ -e "$T/ran" ] && fail "a file without #! ran through /bin/sh under --rlimit-nofile"
[ "$(task_field ns status)" = failed ] || fail "ns: $(task_field ns status)"
[ -e "$T/other-ran" ] && fail "under --rlimit-nofile the task's PATH chose the program"
[ "$(task_field swap status)" = succeeded ] || fail "swap: $(task_field swap status)"
expect 0 "$SWARM" logs lim
[ "$(cat "$T/out")" = 128 ] || fail "lim: $(cat "$T/out")"
# The wrapper's form before this change (an agent started before its
# binary was upgraded execs the new one with it): still understood,
# searching its own PATH as that agent's wrapper did.
got=$("$SWARM_BUILD/swarm-agent" --exec-with-limits 0 64 sh -c 'ulimit -n') \
    || fail "the old wrapper form failed"
[ "$got" = 64 ] || fail "the old wrapper form: ulimit -n said $got"
got=$("$SWARM_BUILD/swarm-agent" --exec-with-limits-path 0 65 /usr/bin:/bin sh -c 'ulimit -n') \
    || fail "the wrapper failed"
[ "$got" = 65 ] || fail "the wrapper: ulimit -n said $got"
ok "under --rlimit-nofile a file without #! is refused (ENOEXEC), not run by /bin/sh; the program is found in the agent's PATH, not the task's; the limit holds"
