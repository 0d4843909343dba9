#!/usr/bin/env bash
# The agent's gits ignore its host user's git files (issue 16 attack):
# HOME/.config/git/ignore and .../attributes, and XDG_CONFIG_HOME/git,
# are read by git by default even with GIT_CONFIG_GLOBAL=/dev/null. A
# `*.env` there dropped a task's app.env from its change without a word,
# an `eol=crlf` gave tasks on that host other bytes than on the next.
. "$(dirname "$0")/lib.sh"
use_redis 163
X=$(owner_dir) || fail "no owner dir"
OWNER_DIRS+=("$X")
mkdir -p "$X/.config/git" "$X/xdg/git"
printf '*.env\nnotes/\n' >"$X/.config/git/ignore"
printf '*.txt text eol=crlf\n' >"$X/.config/git/attributes"
printf '*.log\n' >"$X/xdg/git/ignore"
start_coordinator
HOME=$X XDG_CONFIG_HOME=$X/xdg start_agent h1 --slots 1 --allow-exec
wait_agents 1

U="$T/user"
git init -q -b main "$U"
cd "$U" || fail "cd"
printf 'line one\nline two\n' >f.txt
git add -A && git -c user.name=u -c user.email=u@e commit -qm base
expect 0 "$SWARM" init home --workspace .
# the checkout: f.txt with LF only, as committed
expect 0 "$SWARM" spawn --id t1 -- sh -c 'od -c f.txt | grep -c "\\\\r" || true; echo k=v >app.env; mkdir notes; echo n >notes/n.md; echo l >run.log'
expect 0 "$SWARM" wait --timeout 60 t1
expect 0 "$SWARM" --json results
out=$(json_get "$T/out" "[r['output'] for r in d if r['id']=='t1'][0]")
[ "$(printf '%s' "$out" | head -1)" = 0 ] || fail "f.txt has CRs in the worktree: $out"
ok "the host user's attributes do not change a worktree's bytes"
expect 0 "$SWARM" diff --stat t1
for f in app.env notes/n.md run.log; do
    contains "$T/out" "$f"
done
ok "the host user's excludes (HOME and XDG_CONFIG_HOME) do not drop a task's files from its change"
