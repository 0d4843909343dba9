#!/usr/bin/env bash
# The swarm demo on one machine: installs the dependencies (apt), builds,
# then starts a private Redis, a coordinator and two agents on this host
# and runs the classic "implement user authentication" job, decomposed
# into architect, two coders, a tester and a reviewer. The model behind
# codex is replaced by tests/fake-codex.sh, so it runs offline and free.
# Everything it starts is stopped at the end; nothing is left running.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${SWARM_BUILD:-$src/build}

"$src/deploy/install-deps.sh" --demo
cmake -S "$src" -B "$build" >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
echo "built swarm in $build"

tmp=$(mktemp -d /tmp/swarm-demo.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ -f "$tmp/redis.pid" ] && kill "$(cat "$tmp/redis.pid")" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

rport=$(port)
redis-server --bind 127.0.0.1 --port "$rport" --dir "$tmp" --save '' --appendonly no \
    --daemonize yes --pidfile "$tmp/redis.pid" --logfile "$tmp/redis.log"
export SWARM_REDIS="redis://127.0.0.1:$rport/0"
listen="tcp://127.0.0.1:$(port)"
export SWARM_COORDINATOR="tcp://127.0.0.1:$(port)"
export PATH="$build:$PATH"
export FAKE_CODEX_DELAY=1

swarm-coordinator -f --listen "$listen" --control "$SWARM_COORDINATOR" 2>"$tmp/coordinator.log" &
pids+=($!)
for a in agent-1 agent-2; do
    mkdir -p "$tmp/$a"
    swarm-agent -f --id "$a" --slots 2 --coordinator "$listen" --workdir "$tmp/$a" \
        --state-dir "$tmp/state-$a" --codex "$src/tests/fake-codex.sh" --pass-env FAKE_CODEX_DELAY 2>"$tmp/$a.log" &
    pids+=($!)
done
for _ in $(seq 100); do
    [ "$(swarm --json agents 2>/dev/null | grep -c '"id"')" -ge 2 ] && break
    sleep 0.1
done

set -x
swarm agents
swarm init user-auth
swarm spawn --id architect --type architect "Design user authentication: data model, endpoints, session handling"
swarm spawn --id coder-api --type coder --after architect "Implement the login and logout API"
swarm spawn --id coder-store --type coder --after architect "Implement the password hashing and session store"
swarm spawn --id tester --type tester --after coder-api,coder-store "Write tests for the authentication flow"
swarm spawn --id reviewer --type reviewer --after tester "Review the authentication change for security issues"
swarm wait --timeout 120
swarm results
swarm memory get --namespace results result-reviewer
set +x
echo
echo "demo finished: a real Redis, coordinator and two agents ran the job; all stopped now."
