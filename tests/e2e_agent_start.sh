#!/usr/bin/env bash
# swarm-agent's start, as a node owner meets it (issue 14, reviewed):
#   - an endpoint libzmq cannot parse is exit 2 at start (the agent used to
#     run on, "cannot connect"), and a bad --id says what an id is;
#   - an empty --state-dir or --spool (a config line `state-dir =`) is
#     refused; it used to mean the current directory, which then got the
#     lock, the key and the spool, and a chmod 0700;
#   - --task-env, --pass-env and --allow-cmd patterns that can match nothing
#     ('', 'A*B', 'A=B') are refused, naming the pattern (an empty
#     --task-env used to refuse every task variable, silently);
#   - a state dir refused because a directory above it is open to others
#     leaves nothing behind (it used to be created first);
#   - $SWARM_AGENT_COORDINATOR is the coordinator when --coordinator is not
#     given, as --help says;
#   - an agent started again after a SIGKILL kills what its predecessor's
#     tasks left running, also when that predecessor is still a zombie
#     (its parent does not reap it: it used to count as alive, and the
#     strays ran on beside the new attempt).
. "$(dirname "$0")/lib.sh"
use_redis 106
start_coordinator
A="$SWARM_BUILD/swarm-agent"
mkdir -p "$T/w" "$T/cwd"
# start_refused WHAT ARGS...: the agent exits 2 at once, naming WHAT
start_refused() {
    local what=$1; shift
    (cd "$T/cwd" && timeout 10 "$A" -f --coordinator "$COORD_LISTEN" --id r1 --workdir "$T/w" "$@") \
        >"$T/out" 2>"$T/err"
    local rc=$?
    [ "$rc" = 2 ] || { cat "$T/err"; fail "exit $rc, wanted 2: $*"; }
    contains "$T/err" "$what"
}
start_refused "--state-dir needs a directory" --state-dir ''
start_refused "--spool needs a directory" --state-dir "$T/st" --spool ''
printf 'state-dir =\n' >"$T/agent.conf"
start_refused "--state-dir needs a directory" -c "$T/agent.conf"
[ -z "$(ls -A "$T/cwd")" ] || fail "a refused agent left files in its current directory: $(ls -A "$T/cwd")"
for p in '' 'NODE_*_X' 'A=B' '*X'; do
    start_refused "--task-env '$p': a pattern is NAME, PREFIX* or * (no '=')" --state-dir "$T/st" --task-env "$p"
    start_refused "--pass-env '$p': a pattern is NAME, PREFIX* or * (no '=')" --state-dir "$T/st" --pass-env "$p"
done
start_refused "--allow-cmd '': an empty pattern allows no program" --state-dir "$T/st" --allow-cmd ''
start_refused "invalid --coordinator 'bogus' (tcp://HOST:PORT, ipc://PATH): Invalid argument" \
    --state-dir "$T/st" --coordinator bogus
start_refused "invalid --id 'a b' (1-128 characters of A-Z a-z 0-9 . _ - / : @ +, not starting with - or .)" \
    --state-dir "$T/st" --id 'a b'
mkdir -p "$T/open" && chmod 0777 "$T/open"
start_refused "is under $T/open, which others can change" --state-dir "$T/open/a1/state"
[ ! -e "$T/open/a1" ] || fail "a refused state dir was created"
ok "empty --state-dir and --spool, patterns that match nothing, a state dir under an open directory: refused, nothing made"

SWARM_AGENT_COORDINATOR="$COORD_LISTEN" "$A" -f --id envco --workdir "$T/w" --state-dir "$T/st-envco" \
    --label pool=envco >>"$T/agent-envco.log" 2>&1 &
PIDS+=("$!")
wait_agents 1
contains "$T/agent-envco.log" "coordinator $COORD_LISTEN"
ok "\$SWARM_AGENT_COORDINATOR says where the coordinator is"
# (its state dir is under /tmp, as every test agent's)
contains "$T/agent-envco.log" "$T/st-envco is under /tmp, which codex's workspace-write sandbox lets tasks write"
ok "a state dir under /tmp is named at start: codex's workspace-write sandbox can write there"

# A predecessor that stays a zombie: its parent (python) never waits for it.
expect 0 "$SWARM" init leftovers
cat >"$T/parent.py" <<EOF
import os, subprocess, sys, time
p = subprocess.Popen(sys.argv[1:], stdout=open("$T/agent-z.log", "ab"), stderr=subprocess.STDOUT)
open("$T/z.pid", "w").write(str(p.pid))
time.sleep(600)
EOF
python3 "$T/parent.py" "$A" -f --coordinator "$COORD_LISTEN" --id z1 --workdir "$T/w" \
    --state-dir "$T/st-z1" --codex "$FAKE_CODEX" --kill-grace-ms 500 --label pool=z &
PIDS+=("$!")
wait_agents 2
# one attempt: the task is not run again beside its stray
expect 0 "$SWARM" spawn --id t1 --label pool=z --max-attempts 1 --timeout 60 \
    "FAKE:escape=zombie-left-$$ FAKE:sleep=30"
for _ in $(seq 200); do pgrep -f "zombie-left-$$" >/dev/null && break; sleep 0.05; done
pgrep -f "zombie-left-$$" >/dev/null || fail "the task did not start its stray"
zpid=$(cat "$T/z.pid")
kill -KILL "$zpid"
for _ in $(seq 100); do [ "$(ps -o stat= -p "$zpid" | cut -c1)" = Z ] && break; sleep 0.05; done
[ "$(ps -o stat= -p "$zpid" | cut -c1)" = Z ] || fail "the killed agent is not a zombie"
start_agent z1 --label pool=z
for _ in $(seq 200); do pgrep -f "zombie-left-$$" >/dev/null || break; sleep 0.05; done
pgrep -f "zombie-left-$$" >/dev/null && { kill -KILL $(pgrep -f "zombie-left-$$"); fail "the stray of the killed agent runs on"; }
contains "$T/agent-z1.log" "process(es) an earlier agent z1 left running"
ok "an agent started after a SIGKILL kills its predecessor's strays, also while the predecessor is a zombie"
