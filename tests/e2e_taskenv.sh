#!/usr/bin/env bash
# A task's environment cannot make a runner execute foreign code (issue
# 14, section 4). On an agent without --allow-exec a read-only reviewer
# codex task used to receive LD_PRELOAD, NODE_OPTIONS=--import=data:... and
# CODEX_HOME; NODE_OPTIONS alone runs code inside claude. Now:
#   - such a variable fails the task at its first attempt, before anything
#     starts (the stand-in's ledger has no start), naming the variable and
#     the option that would allow it;
#   - ordinary variables and git's identity pass;
#   - --task-env PATTERN is an allowlist, and a pattern that names a
#     refused variable narrowly enough (NODE_OPTIONS) admits it, with a
#     warning at start;
#   - exec tasks on an --allow-exec agent (no --allow-cmd) may set them:
#     they run any program anyway; codex tasks on that agent may not.
. "$(dirname "$0")/lib.sh"
use_redis 36
export FAKE_LEDGER="$T/ledger"
: >"$FAKE_LEDGER"
start_coordinator
CLAUDE="$SWARM_SRC/tests/fake-claude.sh"
start_agent plain --slots 2 --claude "$CLAUDE" --label pool=plain
start_agent listed --slots 2 --claude "$CLAUDE" --label pool=listed \
    --task-env 'FOO_*' --task-env NODE_OPTIONS --task-env GIT_AUTHOR_NAME
start_agent execer --slots 2 --allow-exec --label pool=exec
wait_agents 3
grep -q "task-env NODE_OPTIONS lets tasks set NODE_\*, refused by default" "$T/agent-listed.log" \
    || fail "no warning for --task-env NODE_OPTIONS"
expect 0 "$SWARM" init taskenv
node_import='--import=data:text/javascript,console.log("pwned")'
s() { local id=$1 pool=$2; shift 2; expect 0 "$SWARM" spawn --id "$id" --label "pool=$pool" "$@"; }
s preload plain --type reviewer --env LD_PRELOAD=/tmp/evil.so "FAKE:env=LD_PRELOAD review"
s nodeopt plain --runner claude --env "NODE_OPTIONS=$node_import" "review"
s codexhome plain --type reviewer --env CODEX_HOME=/tmp/evil-home "review"
s gitssh plain --env "GIT_SSH_COMMAND=sh -c id" "push it"
s home plain --env HOME=/tmp/evil-home "work"
s fine plain --env MY_SETTING=42 --env GIT_AUTHOR_NAME=me "FAKE:env=MY_SETTING FAKE:env=GIT_AUTHOR_NAME ok"
s allowed listed --env "NODE_OPTIONS=--max-old-space-size=100" --env FOO_X=1 \
    "FAKE:env=NODE_OPTIONS FAKE:env=FOO_X ok"
s unlisted listed --env OTHER=1 "no"
s pyexec exec --env PYTHONSTARTUP=/tmp/x.py --env LD_LIBRARY_PATH=/opt/lib -- env
s execcodex exec --env LD_PRELOAD=/tmp/evil.so "codex on an exec agent"
expect 1 "$SWARM" wait --timeout 30
expect 1 "$SWARM" --json results
f() { json_get "$T/out" "['%s|%s|%s' % (r['status'], r['attempt'], r['error']) for r in d if r['id']=='$1'][0]"; }
refused() {
    local id=$1 var=$2 why=$3
    [ "$(f "$id")" = "failed|1|task variable $var is refused: $why (start the agent with --task-env $var to allow it)" ] \
        || fail "$id: $(f "$id")"
    grep -q "^start taskenv $id " "$FAKE_LEDGER" && fail "$id started"
    return 0
}
refused preload LD_PRELOAD "the dynamic loader loads code from it"
refused nodeopt NODE_OPTIONS "Node reads options and modules from it (NODE_OPTIONS=--require runs code); claude and codex's launcher are Node programs"
refused codexhome CODEX_HOME "codex's configuration (CODEX_HOME's config.toml starts programs outside the sandbox)"
refused gitssh GIT_SSH_COMMAND "git runs programs named by several (GIT_SSH_COMMAND, GIT_EXTERNAL_DIFF, GIT_CONFIG_* with core.fsmonitor), and claude runs git outside any sandbox"
refused home HOME "runners and git read their configuration there (~/.codex, ~/.claude, ~/.gitconfig)"
refused execcodex LD_PRELOAD "the dynamic loader loads code from it"
ok "LD_PRELOAD, NODE_OPTIONS, CODEX_HOME, GIT_SSH_COMMAND, HOME fail the task at once, before it starts, naming the variable and --task-env"
o() { json_get "$T/out" "[r['output'] for r in d if r['id']=='$1'][0]"; }
case "$(o fine)" in *" env MY_SETTING=42 env GIT_AUTHOR_NAME=me") ;; *) fail "fine: $(o fine)" ;; esac
case "$(o allowed)" in *" env NODE_OPTIONS=--max-old-space-size=100 env FOO_X=1") ;; *) fail "allowed: $(o allowed)" ;; esac
[ "$(f unlisted)" = "failed|1|task variable OTHER is not allowed by this agent's --task-env patterns (start the agent with --task-env OTHER to allow it)" ] \
    || fail "unlisted: $(f unlisted)"
ok "ordinary variables and git's identity pass; --task-env is an allowlist that admits NODE_OPTIONS by name"
o pyexec | grep -q "^PYTHONSTARTUP=/tmp/x.py$" && o pyexec | grep -q "^LD_LIBRARY_PATH=/opt/lib$" \
    || fail "exec on an --allow-exec agent: $(o pyexec)"
ok "exec tasks on an --allow-exec agent may set them (they run any program anyway); codex tasks there may not"
