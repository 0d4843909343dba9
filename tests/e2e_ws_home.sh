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

# Agent ids name directories: "x/../.." is refused; "nest" and "nest/1"
# on one workdir each get one directory of their own ('/' is "%2F", as
# in the state dir), so one's start does not sweep the other's worktrees.
expect 2 "$SWARM_BUILD/swarm-agent" -f --coordinator "$COORD_LISTEN" --id 'x/../..' \
    --workdir "$T/shared" --state-dir "$T/state-x"
contains "$T/err" "may not be empty, '.' or '..'"
[ -e "$T/state-x" ] && fail "a refused id made its state dir"
W="$T/shared"
mkdir -p "$W"
# start_agent names files by id: these ids hold '/'
start_nest() {
    "$SWARM_BUILD/swarm-agent" -f --coordinator "$COORD_LISTEN" --id "$1" --workdir "$W" \
        --state-dir "$T/state-$2" --codex "$FAKE_CODEX" --kill-grace-ms 500 --slots 2 \
        --allow-exec --label "host=$2" >>"$T/agent-$2.log" 2>&1 &
    PIDS+=("$!")
}
start_nest nest/1 n1
wait_agents 2
expect 0 "$SWARM" spawn --id slow --label host=n1 -- sh -c 'sleep 4; cat f.txt >/dev/null && pwd'
for _ in $(seq 100); do
    ls -d "$W/swarm-worktrees/nest%2F1/"* >/dev/null 2>&1 && break
    sleep 0.1
done
[ -d "$W/swarm-worktrees/nest%2F1" ] || fail "no worktree root nest%2F1: $(ls -R "$W" | head)"
start_nest nest n0
wait_agents 3
expect 0 "$SWARM" wait --timeout 60 slow
ok "agent ids: 'x/../..' refused; 'nest' starting beside 'nest/1' on one workdir keeps its worktrees"

# A repository URL agents refuse (a remote helper, another transport) is
# refused where it is given, not by each agent that meets it.
cd "$U" || fail "cd"
expect 2 "$SWARM" init badurl --workspace . --repo-url 'ext::sh -c touch% /tmp/pwned'
contains "$T/err" "agents refuse"
expect 2 "$SWARM" init badurl --workspace . --repo-url 'fd::3'
ok "a --repo-url with a transport agents refuse: exit 2 at init"
expect 0 "$SWARM" spawn --id d1 -- true
expect 2 "$SWARM" spawn --id d2 --workspace . --after d1 -- true
contains "$T/err" "--workspace with --after"
ok "spawn --workspace --after: refused (the snapshot would never be used)"
