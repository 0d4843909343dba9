#!/usr/bin/env bash
# A task starts with every signal at its default, whatever the agent was
# started with (issue 20, roundtrip). The agent's child reset only eight
# signals (PIPE, TERM, INT, HUP, QUIT, CHLD, USR1, USR2) to their default:
# any other one the agent inherited ignored (a service manager's or
# nohup's, a shell's background job) stayed ignored in every task, and so
# did glibc's two internal signals, which its posix_spawn sets to SIG_IGN
# in the child unless they are in the set to reset. Now the whole set is
# reset, which is also the cheaper call (64 rt_sigaction in the child
# instead of 114 per spawn). Here the agent runs under a wrapper that
# ignores SIGINT, SIGPIPE, SIGTERM, SIGALRM and SIGXFSZ; its tasks must see
# SigIgn 0 (and SigBlk 0) in /proc/self/status, and the agent must still
# stop on SIGTERM (it reads it through its signalfd). (SigCgt is the
# program's own: grep catches SIGSEGV.) SIGCHLD too (i26-attack): an agent
# that inherited it ignored had its children reaped by the kernel, never
# saw a task end, and every task stayed running for good; the agent sets
# it back to its default as it starts.
. "$(dirname "$0")/lib.sh"
use_redis 127
start_coordinator
mkdir -p "$T/work-ign"
bash -c 'trap "" INT PIPE TERM ALRM XFSZ CHLD; exec "$@"' wrapper \
    "$SWARM_BUILD/swarm-agent" -f --coordinator "$COORD_LISTEN" --id ign --allow-exec \
    --workdir "$T/work-ign" --state-dir "$T/state-ign" >>"$T/agent-ign.log" 2>&1 &
AGENT=$!
PIDS+=("$AGENT")
wait_agents 1
# the wrapper did its part: the agent itself has them ignored (bits of
# INT 2, PIPE 13, ALRM 14, TERM 15, XFSZ 25; not CHLD 17: the agent
# set that one back)
ign=$(awk '/^SigIgn:/ { print $2 }' "/proc/$AGENT/status")
(( (16#$ign >> 16) & 1 )) && fail "the agent still ignores SIGCHLD (SigIgn $ign): its children are reaped by the kernel"
for s in 2 13 14 15 25; do
    (( (16#$ign >> (s - 1)) & 1 )) || fail "the agent does not ignore signal $s (SigIgn $ign): the wrapper failed"
done
ok "the agent runs with INT, PIPE, TERM, ALRM and XFSZ ignored (SigIgn $ign)"

expect 0 "$SWARM" init sigdef
expect 0 "$SWARM" spawn --id sig -- grep -E '^Sig(Ign|Blk):' /proc/self/status
expect 0 "$SWARM" spawn --id shsig -- sh -c 'grep -E "^Sig(Ign|Blk):" /proc/$$/status'
expect 0 "$SWARM" spawn --id three -- sh -c 'exit 3'
expect 1 "$SWARM" wait --timeout 30
expect 1 "$SWARM" --json results
[ "$(json_get "$T/out" "[(r['status'], r['exit_code']) for r in d if r['id']=='three'][0]")" = "('failed', 3)" ] \
    || fail "three: $(json_get "$T/out" "[r for r in d if r['id']=='three']")"
o() { json_get "$T/out" "[r['output'] for r in d if r['id']=='$1'][0]"; }
for id in sig shsig; do
    out=$(o "$id")
    want=$'SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000'
    [ "$out" = "$want" ] || [ "$out" = "$want"$'\n' ] || fail "task $id started with: $out"
done
ok "its tasks start with no signal ignored or blocked"

kill -TERM "$AGENT"
for _ in $(seq 100); do kill -0 "$AGENT" 2>/dev/null || break; sleep 0.05; done
kill -0 "$AGENT" 2>/dev/null && fail "the agent did not stop on SIGTERM"
contains "$T/agent-ign.log" "caught signal 15"
ok "the agent still stops on SIGTERM (its signalfd reads it)"
