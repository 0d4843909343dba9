#!/usr/bin/env bash
# The capture's standby helper (issue 16, i31-standby): started when a task
# with a workspace starts, it refreshes the slot's index once its second
# is over and starts the capture's gits, then takes the capture when the
# task ends. A long task's capture is right and has no refresh in it; the
# same change captured without the standby (killed by the task: the agent
# falls back on a helper of its own) is the same patch byte for byte; a
# cancel and an agent SIGKILLed mid-task leave no standby, no git of it
# and no index.lock behind.
. "$(dirname "$0")/lib.sh"
use_redis 40
start_coordinator
SWARM_GIT_TRACE=1 start_agent a1 --slots 1 --allow-exec
wait_agents 1
user_repo
for i in $(seq 100); do printf 'file %s\n' "$i" >"f$i.txt"; done
user_commit base
expect 0 "$SWARM" init sb --workspace .
log="$T/agent-a1.log"
state="$T/state-a1"
# processes of this agent's standby (its request file is in argv), and of
# any git on one of its slots' index files (GIT_INDEX_FILE in environ)
standbys() { pgrep -f "$state/ws/run/.*[.]sb[.]req" || true; }
slot_gits() {
    local p
    for p in /proc/[0-9]*; do
        tr '\0' '\n' <"$p/environ" 2>/dev/null | grep -q "^GIT_INDEX_FILE=$state/ws/index/" \
            && echo "${p#/proc/}"
    done
    true
}
locks() { ls "$state/ws/index/" 2>/dev/null | grep '[.]lock$' || true; }
# the capture trace of task ID (from the trace's start to its result line)
trace_of() {
    awk -v t="task sb/$1: change captured" '
        /the workspace capture helper.s trace:/ { buf = ""; on = 1 }
        on { buf = buf $0 "\n" }
        index($0, t) { printf "%s", buf; exit }' "$log"
}
edit100='for i in $(seq 100); do printf "edit %s\n" "$i" >>"f$i.txt"; done'

# --- a long task: the refresh on standby, not in the capture ---------------------------
expect 0 "$SWARM" spawn --id long -- sh -c "sleep 3; $edit100"
expect 0 "$SWARM" wait --timeout 60 long
trace_of long >"$T/long.trace"
grep -q "helper standby: handed over (update-index waiting, pack/diff waiting)" "$T/long.trace" \
    || fail "the long task's capture did not use the standby's gits: $(cat "$T/long.trace")"
# the refresh, when one ran, is before the hand-over: never in the capture
sed -n '/handed over/,$p' "$T/long.trace" | grep -q "git update-index -q" \
    && fail "the capture of a long task ran the refresh: $(cat "$T/long.trace")"
# (a refresh is due only when the checkout wrote files in the second it
# wrote the index: racy; else none runs anywhere)
refreshed=no
grep -q "helper standby: refresh" "$T/long.trace" && refreshed=yes
expect 0 "$SWARM" diff long
cp "$T/out" "$T/long.patch"
expect 0 "$SWARM" diff --stat long
contains "$T/out" "100 files changed, 100 insertions(+)"
ok "a long task: no refresh in the capture (one on standby: $refreshed), the capture used the standby's gits, 100 files changed"

# --- the standby killed by the task: the capture goes without it, the same patch -----------
expect 0 "$SWARM" spawn --id killsb -- sh -c \
    "for i in \$(seq 200); do pgrep -f '$state/ws/run/.*[.]sb[.]req' >/dev/null && break; sleep 0.05; done; \
     sleep 0.5; pkill -KILL -f '$state/ws/run/.*[.]sb[.]req' || exit 9; sleep 1; $edit100"
expect 0 "$SWARM" wait --timeout 60 killsb
grep -q "task sb/killsb: its capture standby" "$log" \
    || fail "the standby's death was not noticed: $(grep 'sb/killsb' "$log")"
trace_of killsb | grep -q "handed over" && fail "killsb's capture was a standby's"
expect 0 "$SWARM" diff killsb
cmp -s "$T/out" "$T/long.patch" \
    || fail "the change captured without the standby differs: $(diff "$T/out" "$T/long.patch" | head)"
[ -z "$(locks)" ] || fail "index.lock left: $(locks)"
ok "the standby killed mid-task: the capture went without it, the same patch byte for byte"

# --- a short task: no standby (it starts after RUN_STANDBY_AFTER_MS, 1 s), the same patch ----
expect 0 "$SWARM" spawn --id short -- sh -c "$edit100"
expect 0 "$SWARM" wait --timeout 60 short
expect 0 "$SWARM" diff short
cmp -s "$T/out" "$T/long.patch" || fail "the short task's patch differs"
trace_of short | grep -q "handed over" && fail "short: a standby for a task under 1 s: $(trace_of short)"
ok "a short task: captured without a standby (none for a task under 1 s), the same patch"

# --- the worktree moved away and another made in its place: the same change -----------------
# (git chdirs into its work tree when it starts: the standby's waiting
# update-index would stage the old directory's files)
expect 0 "$SWARM" spawn --id moved -- sh -c \
    "sleep 3; wt=\$PWD; cd .. && mv \"\$wt\" \"\$wt.old\" && mkdir \"\$wt\" && \
     cp -a \"\$wt.old/.\" \"\$wt/\" && cd \"\$wt\" && $edit100"
expect 0 "$SWARM" wait --timeout 60 moved
expect 0 "$SWARM" diff moved
cmp -s "$T/out" "$T/long.patch" \
    || fail "the change of a task that replaced its worktree differs: $(diff "$T/out" "$T/long.patch" | head)"
trace_of moved | grep -q "the worktree was replaced" \
    || fail "the standby's update-index was not ended: $(trace_of moved)"
ok "a task that moved its worktree away and made another in its place: the standby's update-index ended, the same patch"

# --- cancel during the task: no standby, no git, no lock ------------------------------------
expect 0 "$SWARM" spawn --id cancelled -- sh -c "touch '$T/c-started'; sleep 60"
for _ in $(seq 400); do [ -e "$T/c-started" ] && break; sleep 0.05; done
[ -e "$T/c-started" ] || fail "the task to cancel never started"
for _ in $(seq 100); do [ -n "$(standbys)" ] && break; sleep 0.05; done
[ -n "$(standbys)" ] || fail "no standby while the task runs"
expect 0 "$SWARM" cancel cancelled
"$SWARM" wait --timeout 60 cancelled >/dev/null 2>&1
for _ in $(seq 200); do [ -z "$(standbys)$(slot_gits)" ] && break; sleep 0.05; done
[ -z "$(standbys)" ] || fail "a standby is left after a cancel: $(standbys)"
[ -z "$(slot_gits)" ] || fail "a git of the slot is left after a cancel: $(slot_gits)"
[ -z "$(locks)" ] || fail "index.lock left after a cancel: $(locks)"
# the slot is usable at once
expect 0 "$SWARM" spawn --id after -- sh -c 'echo after >>f1.txt'
expect 0 "$SWARM" wait --timeout 60 after
ok "cancel mid-task: no standby, no git of the slot, no index.lock; the next task captured"

# --- the agent SIGKILLed mid-task: its standby and gits go ---------------------------------
expect 0 "$SWARM" spawn --id k --max-attempts 3 -- sh -c \
    "if [ \"\$SWARM_ATTEMPT\" = 1 ]; then touch '$T/k-started'; sleep 60; fi; $edit100"
for _ in $(seq 400); do [ -e "$T/k-started" ] && break; sleep 0.05; done
[ -e "$T/k-started" ] || fail "attempt 1 never started"
for _ in $(seq 100); do [ -n "$(slot_gits)" ] && break; sleep 0.05; done
[ -n "$(standbys)" ] && [ -n "$(slot_gits)" ] || fail "no standby with its gits while the task runs"
kill -9 "$AGENT_PID_a1"
wait "$AGENT_PID_a1" 2>/dev/null
# EOF on its stdin: it ends its gits and itself, agent or not
for _ in $(seq 200); do [ -z "$(standbys)$(slot_gits)" ] && break; sleep 0.05; done
[ -z "$(standbys)" ] || fail "the standby outlived its agent: $(standbys)"
[ -z "$(slot_gits)" ] || fail "a standby's git outlived its agent: $(slot_gits)"
SWARM_GIT_TRACE=1 start_agent a1 --slots 1 --allow-exec
expect 0 "$SWARM" wait --timeout 90 k
expect 0 "$SWARM" diff --stat k
contains "$T/out" "100 files changed"
for _ in $(seq 100); do [ -z "$(standbys)$(slot_gits)" ] && break; sleep 0.05; done
[ -z "$(standbys)$(slot_gits)" ] || fail "left after the retry: $(standbys) $(slot_gits)"
ok "agent SIGKILLed mid-task: its standby and gits went; the retry captured"

# --- the task kills the standby's waiting update-index (`pkill -9 git`) --------------------
# The killed git left the index's lock; the standby took the dead git for
# a worktree replaced and the capture's own update-index met the lock: the
# task failed and its change was lost (the attack of stop 31).
expect 0 "$SWARM" spawn --id killui -- sh -c \
    "for i in \$(seq 100); do p=\$(pgrep -f '$state/ws/run/.*[.]sb[.]req' | head -1); \
       [ -n \"\$p\" ] && u=\$(pgrep -P \"\$p\" -f update-index) && [ -n \"\$u\" ] && break; sleep 0.05; done; \
     [ -n \"\$u\" ] || exit 9; kill -9 \$u; sleep 0.3; \
     for i in \$(seq 12); do echo killui >>f\$i.txt; done"
expect 0 "$SWARM" wait --timeout 60 killui
expect 0 "$SWARM" diff --stat killui
contains "$T/out" "12 files changed"
trace_of killui | grep -q "its update-index died" \
    || fail "killui: the dead update-index was not seen: $(trace_of killui)"
[ -z "$(locks)" ] || fail "index.lock left: $(locks)"
ok "the task killed the standby's update-index: its lock removed, the change captured whole"

# --- two standbys ending in one tick (the read-only review of stop 31) ---------------------
# s_free moved the list's cursor under the tick's loop: two standbys given
# up together were a use after free and a double free in the agent.
start_agent a2 --slots 2 --allow-exec --label host=two
wait_agents 2
state2="$T/state-a2"
expect 0 "$SWARM" spawn --id two1 --label host=two -- sh -c "touch '$T/t1'; sleep 60"
expect 0 "$SWARM" spawn --id two2 --label host=two -- sh -c "touch '$T/t2'; sleep 60"
for _ in $(seq 200); do
    [ "$(pgrep -f "$state2/ws/run/.*[.]sb[.]req" | wc -l)" -ge 2 ] && break
    sleep 0.05
done
[ "$(pgrep -f "$state2/ws/run/.*[.]sb[.]req" | wc -l)" -ge 2 ] || fail "a2: not two standbys"
expect 0 "$SWARM" cancel two1 two2
"$SWARM" wait --timeout 60 two1 two2 >/dev/null 2>&1
for _ in $(seq 200); do [ -z "$(pgrep -f "$state2/ws/run/.*[.]sb[.]req")" ] && break; sleep 0.05; done
[ -z "$(pgrep -f "$state2/ws/run/.*[.]sb[.]req")" ] || fail "a2's standbys are left"
sleep 0.5
kill -0 "$AGENT_PID_a2" 2>/dev/null || fail "agent a2 died: $(tail -20 "$T/agent-a2.log")"
expect 0 "$SWARM" spawn --id two3 --label host=two -- sh -c "$edit100"
expect 0 "$SWARM" wait --timeout 60 two3
ok "two standbys given up in one tick: the agent lives on and captures the next task"
