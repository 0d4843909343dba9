#!/usr/bin/env bash
# The agent's own state lives where no task can touch it (issue 14,
# section 2): --state-dir, never under --workdir.
#   - refused at start: a state dir (or --spool) inside the workdir, one
#     others can write, one under a directory others can write, one another
#     agent uses; the default is $STATE_DIRECTORY, else
#     /var/lib/swarm-agent/ID for root, else
#     ${XDG_STATE_HOME:-~/.local/state}/swarm-agent/ID;
#   - nothing of the agent's is under the workdir; a task that wipes its
#     workdir (git clean -xfd, rm -rf .swarm) does not break the next codex
#     task, whose output is still codex's answer, not its event stream;
#   - a symlink planted where the old agent wrote codex's output schema is
#     not followed (the file it pointed at is untouched);
#   - no task runs in the state dir, whatever its --dir says;
#   - spool records planted or altered in the spool are set aside with a
#     log line and never delivered; the agent's own are.
. "$(dirname "$0")/lib.sh"
use_redis 34
start_coordinator
A="$SWARM_BUILD/swarm-agent"
mkdir -p "$T/w"
# start_refused WHAT ARGS...: the agent exits 2 at once, naming WHAT
start_refused() {
    local what=$1; shift
    timeout 10 "$A" -f --coordinator "$COORD_LISTEN" --id r1 --workdir "$T/w" "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    [ "$rc" = 2 ] || { cat "$T/err"; fail "exit $rc, wanted 2: $*"; }
    contains "$T/err" "$what"
}
start_refused "overlap" --state-dir "$T/w/.swarm"
start_refused "overlap" --state-dir "$T"
mkdir -p "$T/open" && chmod 0777 "$T/open"
start_refused "is writable by others (mode 0777)" --state-dir "$T/open"
mkdir -p "$T/shared/a1" && chmod 0777 "$T/shared"
start_refused "is under $T/shared, which others can change" --state-dir "$T/shared/a1"
start_refused "--spool $T/w/spool and --workdir $T/w overlap" --state-dir "$T/st-r1" --spool "$T/w/spool"
[ ! -e "$T/w/.swarm" ] && [ ! -e "$T/w/spool" ] || fail "a refused agent left files in the workdir"
ok "refused: state or spool inside the workdir, writable by others, under a directory others can change"

# The default place, without --state-dir.
# agent_up ID LOG ENV...: starts an agent (no --state-dir) and waits for its start line
agent_up() {
    local id=$1 log=$2; shift 2
    env "$@" "$A" -f --coordinator "$COORD_LISTEN" --id "$id" --workdir "$T/w" >"$log" 2>&1 &
    local pid=$!
    for _ in $(seq 100); do grep -q "agent $id on" "$log" && break; sleep 0.05; done
    kill -TERM "$pid"; wait "$pid"
}
agent_up sd1 "$T/sd1.log" STATE_DIRECTORY="$T/systemd-state:$T/other"
contains "$T/sd1.log" "state $T/systemd-state"
[ "$(stat -c %a "$T/systemd-state")" = 700 ] || fail "the state dir is not 0700"
if [ "$(id -u)" = 0 ]; then
    uniq="e2e-statedir-$$"
    agent_up "$uniq" "$T/root.log"
    contains "$T/root.log" "state /var/lib/swarm-agent/$uniq"
    rm -rf "/var/lib/swarm-agent/$uniq"
    rmdir /var/lib/swarm-agent 2>/dev/null
    if command -v setpriv >/dev/null; then
        mkdir -p "$T/home" && chown nobody "$T/home" "$T/w" && chmod 0711 "$T"
        agent_up u1 "$T/u1.log" HOME="$T/home" XDG_STATE_HOME= \
            setpriv --reuid nobody --regid nogroup --clear-groups
        contains "$T/u1.log" "state $T/home/.local/state/swarm-agent/u1"
        agent_up u2 "$T/u2.log" HOME="$T/home" XDG_STATE_HOME="$T/home/xdg" \
            setpriv --reuid nobody --regid nogroup --clear-groups
        contains "$T/u2.log" "state $T/home/xdg/swarm-agent/u2"
        chmod 0700 "$T"
    fi
fi
ok "default state dir: \$STATE_DIRECTORY, /var/lib/swarm-agent/ID for root, else \${XDG_STATE_HOME:-~/.local/state}/swarm-agent/ID"

start_agent a1 --slots 2 --allow-exec
wait_agents 1
start_refused "another agent uses the state directory" --state-dir "$T/state-a1"
ok "two agents never share a state dir"

# Nothing of the agent's under the workdir; a task wiping it changes nothing.
expect 0 "$SWARM" init wipe
expect 0 "$SWARM" spawn --id first "first task"
expect 0 "$SWARM" wait --timeout 30 first
[ -z "$(ls -A "$T/work-a1")" ] || fail "the agent keeps files in the workdir: $(ls -A "$T/work-a1")"
# (the wipe runs only where it must: a wrong cwd would empty another place)
expect 0 "$SWARM" spawn --id wiper --after first -- sh -c \
    "[ \"\$(pwd -P)\" = '$(cd "$T/work-a1" && pwd -P)' ] || exit 3; rm -rf .swarm; git clean -xfd 2>/dev/null; find . -mindepth 1 -delete; echo wiped"
expect 0 "$SWARM" spawn --id wiper2 --after wiper "FAKE:wipe wipe it from codex too"
expect 0 "$SWARM" spawn --id after --after wiper2 "the task after"
expect 0 "$SWARM" wait --timeout 30
expect 0 "$SWARM" --json results
out=$(json_get "$T/out" "[r['output'] for r in d if r['id']=='after'][0]")
case "$out" in
    "sandbox=workspace-write task=after agent=a1 prompt_bytes=14 "*": done: the task after") ;;
    *) fail "after the wipe, codex's output is not its answer: $out" ;;
esac
[ -d "$T/state-a1/spool" ] && [ -f "$T/state-a1/hmac.key" ] || fail "the state dir lost files"
ok "nothing of the agent's in the workdir; after tasks wiped it, codex's output is still its answer"

# A symlink where the old agent wrote codex's output schema
# (WORKDIR/.swarm/JOB.ID.ATTEMPT.schema.json) is not followed.
echo "precious" >"$T/victim"
mkdir -p "$T/work-a1/.swarm"
ln -s "$T/victim" "$T/work-a1/.swarm/dec.decompose.1.schema.json"
ln -s "$T/victim" "$T/work-a1/.swarm/dec.decompose.1.last"
expect 0 "$SWARM" run --decompose "Implement user authentication" --workers 2 --dry-run --job dec
[ "$(cat "$T/victim")" = precious ] || fail "a planted symlink was followed: $(head -c 200 "$T/victim")"
ok "a symlink planted where the schema and last message used to go is not followed"

# No task runs in the state dir.
expect 0 "$SWARM" init nostate
expect 0 "$SWARM" spawn --id abs --dir "$T/state-a1" -- sh -c 'echo owned >planted'
expect 0 "$SWARM" spawn --id rel --dir "../state-a1/spool" "FAKE:wipe"
expect 0 "$SWARM" spawn --id up --dir "$T" -- true
expect 1 "$SWARM" wait --timeout 30
expect 1 "$SWARM" --json results
for id in abs rel up; do
    json_get "$T/out" "['%s|%s|%s' % (r['status'], r['attempt'], r['error']) for r in d if r['id']=='$id'][0]" \
        | grep -q "^failed|1|working directory .* holds the agent's state: no task may run there$" \
        || fail "$id: $(json_get "$T/out" "[r for r in d if r['id']=='$id']")"
done
[ ! -e "$T/state-a1/planted" ] && [ -f "$T/state-a1/hmac.key" ] || fail "a task ran in the state dir"
ok "no task runs in the state dir or above it, whatever its --dir"

# Spool records: only the agent's own are delivered. Records planted while
# the agent is down (forged, and a true one copied under another task's
# name) are set aside at its start.
kill -TERM "$AGENT_PID_a1"
for _ in $(seq 100); do kill -0 "$AGENT_PID_a1" 2>/dev/null || break; sleep 0.05; done
spool="$T/state-a1/spool"
printf '{"job":"wipe","id":"forged","ns":"results","attempt":1,"status":"succeeded","exit_code":0,"retryable":false,"result":"{\\"output\\":\\"forged\\"}","mac":"%064d"}' 0 \
    >"$spool/$(printf 'wipe\0forged\0%s' 1 | sha256sum | cut -d' ' -f1).json"
printf '{"job":"wipe"}' >"$spool/junk.json"
start_agent a1 --slots 2 --allow-exec
wait_agents 1
for _ in $(seq 100); do [ -e "$spool/junk.json.bad" ] && break; sleep 0.05; done
grep -q "spool file $spool/.*refused: its MAC is wrong" "$T/agent-a1.log" || fail "the forged record was not refused"
grep -q "spool file $spool/junk.json refused: not a spooled result" "$T/agent-a1.log" || fail "junk not refused"
[ -z "$(redis-cli -p "$REDIS_PORT" -n 34 HGET "$(rkey task wipe forged)" result)" ] \
    || fail "a forged result reached Redis"
ls "$spool" | grep -q '\.json\.bad$' || fail "the refused records were not kept aside"
ok "forged spool records are set aside with a log line, never delivered"
