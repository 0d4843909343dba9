#!/usr/bin/env bash
# A change git cannot read whole is refused, not captured in part (issue
# 16, i26-atk2): git's walk of the worktree holds a directory open per
# level, so with the agent's fds at 256 a file 300 directories down is
# out of its reach (as is one in a directory the task made unreadable);
# `git ls-files -o` only warns "could not open directory" and the capture
# stored a change without it, the task succeeded with its work lost.
. "$(dirname "$0")/lib.sh"
use_redis 146
start_coordinator
ulimit -n 256
start_agent a1 --slots 1 --allow-exec
wait_agents 1
user_repo
printf 'base\n' >README
user_commit base
expect 0 "$SWARM" init deep --workspace .
deep='p=d; for i in $(seq 299); do p=$p/d; done'
expect 0 "$SWARM" spawn --id t1 -- sh -c "$deep; mkdir -p \$p && echo z >\$p/f && echo shallow >s"
"$SWARM" wait --timeout 60 t1 >/dev/null 2>&1
st=$(task_outcome t1)
case "$st" in
    failed*"could not open directory"*) ;;
    *) fail "t1 with a file git cannot reach: $st" ;;
esac
ok "a change with a directory git could not open was refused naming it, not stored without it"
