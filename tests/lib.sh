# tests/lib.sh -- shared helpers of the end-to-end tests (bash).
#
# Every test runs real processes: the redis-server started by the CTest
# fixture (tests/redis-fixture.sh; its URL is in $SWARM_TEST_REDIS_FILE),
# a swarm-coordinator and swarm-agents on free tcp://127.0.0.1 ports, and
# the swarm CLI. The only stand-in is tests/fake-codex.sh for the model.
# Each test uses its own Redis database and temp dir, and kills what it
# started on exit, whatever happens.
set -u
: "${SWARM_BUILD:?SWARM_BUILD must point at the build directory}"
: "${SWARM_SRC:?SWARM_SRC must point at the source directory}"
SWARM="$SWARM_BUILD/swarm"
FAKE_CODEX="$SWARM_SRC/tests/fake-codex.sh"
TEST_NAME=$(basename "$0" .sh)
T=$(mktemp -d "/tmp/swarm-$TEST_NAME.XXXXXX")
PIDS=()
OWNER_DIRS=()

# owner_dir: prints a new directory outside /tmp for a node owner's files
# (agent hooks: the agent refuses one under /tmp, which codex's sandbox
# lets tasks write), removed on exit. Call it as DIR=$(owner_dir), then
# OWNER_DIRS+=("$DIR") in the test itself (a subshell cannot add it).
owner_dir() {
    mktemp -d "/var/tmp/swarm-$TEST_NAME.XXXXXX"
}

cleanup() {
    local rc=$?
    # SIGTERM first: the daemons shut down cleanly, and under ASan the leak
    # check runs at their exit. What still runs after 3 s is killed.
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for _ in $(seq 60); do
        local alive=0
        for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.05
    done
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    if grep -l -E "AddressSanitizer|LeakSanitizer|runtime error:" "$T"/*.log 2>/dev/null; then
        echo "FAIL ($TEST_NAME): a sanitizer reported an error in a daemon" >&2
        rc=1
    fi
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
        for f in "$T"/*.log; do
            [ -f "$f" ] && { echo "--- $f"; tail -n 40 "$f"; }
        done
    fi
    [ -n "${KEEP_T:-}" ] || rm -rf "$T" "${OWNER_DIRS[@]}"
    exit "$rc"
}
trap cleanup EXIT

fail() { echo "FAIL ($TEST_NAME): $*" >&2; exit 1; }
ok() { echo "ok - $*"; }

# expect CODE CMD...: runs CMD, stdout/stderr to $T/out and $T/err, checks the exit code
expect() {
    local want=$1; shift
    "$@" >"$T/out" 2>"$T/err"
    local got=$?
    [ "$got" -eq "$want" ] || {
        echo "--- stdout"; cat "$T/out"; echo "--- stderr"; cat "$T/err"
        fail "exit $got, wanted $want: $*"
    }
}
contains() { grep -qF -- "$2" "$1" || { echo "--- $1"; cat "$1"; fail "$1 lacks '$2'"; }; }

# rkey KIND ARG...: a Redis key as common/sw_keys.c builds it (tests never
# spell one by hand; see tests/selftest.c)
rkey() { "$SWARM_BUILD/tests/swarm_selftest" key "$@"; }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Uses the fixture's Redis with a database of this test's own.
use_redis() {
    local url db
    url=$(cat "${SWARM_TEST_REDIS_FILE:?run through ctest, which starts the Redis fixture}")
    db=${1:?db number}
    export SWARM_REDIS="$url/$db"
    REDIS_PORT=${url##*:}
    redis-cli -p "$REDIS_PORT" -n "$db" FLUSHDB >/dev/null || fail "redis fixture not reachable"
}

# Starts a redis-server of this test's own and uses its database DB: for a
# test that changes what is server-wide (CONFIG SET maxmemory, SCRIPT
# FLUSH, MONITOR counts), which would reach every test sharing the
# fixture's server under ctest -j.
private_redis() {
    local db=${1:?db number}
    REDIS_PORT=$(free_port)
    mkdir -p "$T/redis"
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$T/redis" --save '' \
        --appendonly no --databases 256 >>"$T/redis.log" 2>&1 &
    PIDS+=("$!")
    for _ in $(seq 100); do
        redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
        sleep 0.05
    done
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 || fail "redis-server did not come up"
    export SWARM_REDIS="redis://127.0.0.1:$REDIS_PORT/$db"
}

# start_coordinator [ARGS...]: on free ports; sets SWARM_COORDINATOR, COORD_LISTEN
start_coordinator() {
    COORD_LISTEN="tcp://127.0.0.1:$(free_port)"
    export SWARM_COORDINATOR="tcp://127.0.0.1:$(free_port)"
    coordinator_again "$@"
    coordinator_up || fail "coordinator did not come up"
}

# coordinator_again [ARGS...]: a coordinator on start_coordinator's endpoints
# (the old one gone: see kill_coordinator); sets COORD_PID; does not wait.
coordinator_again() {
    "$SWARM_BUILD/swarm-coordinator" -f --listen "$COORD_LISTEN" --control "$SWARM_COORDINATOR" \
        --heartbeat-ms 200 "$@" >>"$T/coordinator.log" 2>&1 &
    COORD_PID=$!
    PIDS+=("$COORD_PID")
}

# coordinator_up: until the control socket answers (5 s at most); 1 if not
coordinator_up() {
    for _ in $(seq 100); do
        "$SWARM" --timeout 1 status >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    return 1
}

# kill_coordinator: SIGKILL and reap it (a crash, not a shutdown)
kill_coordinator() {
    kill -9 "$COORD_PID"
    wait "$COORD_PID" 2>/dev/null || true
}

# mcp_swarm_config: prints the [mcp_servers.swarm] block of codex's
# config.toml that README gives codex users (swarm mcp --control against
# this test's coordinator and Redis)
mcp_swarm_config() {
    cat <<EOF
[mcp_servers.swarm]
command = "$SWARM"
args = ["mcp", "--control"]
env = { SWARM_COORDINATOR = "$SWARM_COORDINATOR", SWARM_REDIS = "$SWARM_REDIS" }
default_tools_approval_mode = "approve"
EOF
}

# start_agent ID [ARGS...]: sets AGENT_PID_<ID>. Its workdir is $T/work-ID,
# its state dir $T/state-ID (tests run as root: the default would be
# /var/lib/swarm-agent/ID).
start_agent() {
    local id=$1; shift
    mkdir -p "$T/work-$id"
    "$SWARM_BUILD/swarm-agent" -f --coordinator "$COORD_LISTEN" --id "$id" \
        --workdir "$T/work-$id" --state-dir "$T/state-$id" --codex "$FAKE_CODEX" \
        --kill-grace-ms 500 --pass-env "FAKE_*" "$@" \
        >>"$T/agent-$id.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    eval "AGENT_PID_${id//[^A-Za-z0-9_]/_}=$pid"
}

# wait_agents N: until N agents are registered
wait_agents() {
    for _ in $(seq 200); do
        [ "$("$SWARM" --json agents 2>/dev/null | grep -c '"id"')" -ge "$1" ] && return 0
        sleep 0.05
    done
    fail "$1 agents did not register"
}

# task_field ID FIELD: a field of the task as `swarm status --json` reports it
task_field() {
    "$SWARM" --json status | python3 -c '
import json, sys
doc = json.load(sys.stdin)
for t in doc.get("tasks", []):
    if t["id"] == sys.argv[1]:
        print(t.get(sys.argv[2]))' "$1" "$2"
}

# wait_status ID STATUS: until the task has that status (10 s at most)
wait_status() {
    for _ in $(seq 200); do
        [ "$(task_field "$1" status)" = "$2" ] && return 0
        sleep 0.05
    done
    fail "task $1 never reached $2 (is $(task_field "$1" status))"
}

# json_get FILE EXPR: evaluates a Python expression on the JSON document d
json_get() {
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# http CODE URL [-X METHOD] [-H 'Name: value']...: a request that must answer
# CODE; the body is in $T/body, the response headers in $T/headers
http() {
    local want=$1 url=$2; shift 2
    local got
    got=$(python3 "$SWARM_SRC/tests/http_get.py" "$@" "$url" "$T/body" "$T/headers") \
        || fail "cannot reach $url"
    [ "$got" = "$want" ] || { echo "--- body"; cat "$T/body"; echo; fail "$url answered $got, wanted $want"; }
}

# wait_http URL: until an HTTP server answers there (any status; 30 s at most)
wait_http() {
    for _ in $(seq 300); do
        python3 "$SWARM_SRC/tests/http_get.py" "$1" "$T/wait.body" "$T/wait.headers" >/dev/null 2>&1 \
            && return 0
        sleep 0.1
    done
    fail "nothing answers at $1"
}

# --- workspaces: the user's repository ------------------------------------------
# user_repo [DIR]: a new git repository on branch main at DIR (default
# $T/user), set as U and made the current directory (call it directly,
# not in $(...)), with a committer identity of its own ("Test User") so
# that the test's commits never depend on the machine's git config. The
# test writes its files, then commits them with user_commit.
user_repo() {
    U=${1:-$T/user}
    git init -q -b main "$U" || fail "git init $U"
    cd "$U" || fail "cd $U"
    git config user.name "Test User"
    git config user.email test@example.com
}
# user_commit MSG: commits everything in the current repository (git add -A)
user_commit() {
    git add -A && git commit -qm "$1" || fail "git commit in $PWD"
}

# task_outcome ID: "STATUS ERROR WORKSPACE" of task ID of the current job,
# from `swarm --json results` (the workspace field as Python prints it)
task_outcome() {
    "$SWARM" --json results >"$T/out" 2>/dev/null || true
    json_get "$T/out" "[r['status'] + ' ' + str(r.get('error') or '') + ' ' + str(r.get('workspace') or '') for r in d if r['id']=='$1'][0]"
}

# --- e2e.ws_trash*: worktrees moved aside for removal (issue 16) ---------------
# trash_repo JOB: a user repository in $T/user (README, junk/ ignored), the
# current directory from then on, and job JOB with it as its workspace.
trash_repo() {
    user_repo
    printf 'base\n' >README
    printf 'junk/\n' >.gitignore
    user_commit base
    expect 0 "$SWARM" init "$1" --workspace .
}
# the worktrees moved aside under $ROOT, a line each
trash() { ls -A "$ROOT" 2>/dev/null | grep '^\.trash-' || true; }
# until no worktree is left moved aside (bounded)
no_trash() {
    for _ in $(seq 400); do [ -z "$(trash)" ] && return 0; sleep 0.05; done
    fail "worktrees moved aside were not removed: $(trash)"
}
