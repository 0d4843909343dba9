#!/usr/bin/env bash
# swarm logs, live, through the daemons, as a user runs it:
#   - `logs -f` of a task placed on the other agent prints each line while
#     the task runs (the task prints its second line only once the first
#     reached the follower), ends with a status line and the task's exit
#     status (1 for a failure); from the start, with --tail N, and without
#     -f (what is there now, and the finished task's result as before);
#   - --json: JSON lines {t, stream, line}, then {status, ...}; without -f
#     one document, with "live" while the task runs;
#   - a retry: the follower goes on to the new attempt with a line naming it;
#   - a flood of 50 MB: the lines that pass plus the "[... N lines dropped
#     ...]" counts add up to every line the task wrote, the agent's memory
#     stays bounded, the stored result is the head + tail as before;
#   - codex's and claude's events rendered as progress lines, and as they
#     came with --raw;
#   - swarm wait on a terminal shows each running task's latest line;
#   - odd input: no output, NUL bytes and invalid UTF-8 (JSON stays JSON),
#     a line of 300 KB, the strangest id, a task that could not run; usage
#     errors and unknown tasks.
. "$(dirname "$0")/lib.sh"
use_redis 89
FAKE_CLAUDE="$SWARM_SRC/tests/fake-claude.sh"
start_coordinator
start_agent a1 --slots 4 --allow-exec --claude "$FAKE_CLAUDE"
start_agent a2 --slots 4 --allow-exec --claude "$FAKE_CLAUDE" --label place=far
wait_agents 2
expect 0 "$SWARM" init live

# wait_for FILE TEXT [SECONDS]: until FILE holds TEXT (bounded)
wait_for() {
    local n=$(( ${3:-20} * 20 ))
    for _ in $(seq "$n"); do
        grep -qF -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "--- $1"; cat "$1" 2>/dev/null
    fail "$1 never showed '$2'"
}

# --- live, on the other agent: line 2 comes only after line 1 was followed
expect 0 "$SWARM" spawn --id far --label place=far -- /bin/sh -c \
    'echo "first line"; echo "to stderr" >&2; while [ ! -e "$0" ]; do sleep 0.05; done
     for i in 2 3 4 5 6; do echo "line $i"; done; exit 3' "$T/go-far"
"$SWARM" logs -f far >"$T/f.out" 2>"$T/f.err" &
follower=$!
PIDS+=("$follower")
wait_for "$T/f.out" "first line"
wait_for "$T/f.err" "to stderr"
[ "$(task_field far status)" = running ] || fail "far is not running"
[ "$(task_field far agent)" = a2 ] || fail "far ran on $(task_field far agent)"
grep -q "line 2" "$T/f.out" && fail "line 2 before the go"
expect 0 "$SWARM" logs far
contains "$T/out" "first line"
contains "$T/err" "task far is running (attempt 1 on a2)"
expect 0 "$SWARM" logs --tail 1 far
[ ! -s "$T/out" ] && [ "$(cat "$T/err" | head -n 1)" = "to stderr" ] \
    || fail "logs --tail 1 of a running task: $(cat "$T/out" "$T/err")"
expect 0 "$SWARM" logs --tail 2 far
[ "$(cat "$T/out")" = "first line" ] || fail "logs --tail 2 of a running task: $(cat "$T/out")"
expect 0 "$SWARM" --json logs far
[ "$(json_get "$T/out" "(d['output'], d['status'], [(l['stream'], l['line']) for l in d['live']])")" \
  = "(None, 'running', [('stdout', 'first line'), ('stderr', 'to stderr')])" ] \
    || fail "logs --json of a running task: $(cat "$T/out")"
"$SWARM" --json logs -f far >"$T/fj.out" 2>"$T/fj.err" &
jfollower=$!
PIDS+=("$jfollower")
wait_for "$T/fj.out" '"first line"'
touch "$T/go-far"
wait "$follower"
rc=$?
[ "$rc" = 1 ] || fail "logs -f of a failed task exited $rc"
[ "$(cat "$T/f.out")" = "$(printf 'first line\nline 2\nline 3\nline 4\nline 5\nline 6')" ] \
    || fail "logs -f: $(cat "$T/f.out")"
contains "$T/f.err" "swarm: task far failed (exit 3, attempt 1 on a2"
wait "$jfollower"
[ $? = 1 ] || fail "logs -f --json of a failed task"
python3 - "$T/fj.out" <<'EOF' || fail "logs -f --json: $(cat "$T/fj.out")"
import json, sys
docs = [json.loads(l) for l in open(sys.argv[1])]
lines = [(d["stream"], d["line"]) for d in docs[:-1]]
assert lines == [("stdout", "first line"), ("stderr", "to stderr")] + \
       [("stdout", "line %d" % i) for i in range(2, 7)], lines
assert all(isinstance(d["t"], int) and d["t"] > 1.7e12 for d in docs[:-1])
end = docs[-1]
assert (end["status"], end["exit_code"], end["attempt"], end["agent"], end["id"]) == \
       ("failed", 3, 1, "a2", "far"), end
EOF
ok "logs -f of a task on the other agent: each line while it runs, stderr apart, a status line, exit 1; --json lines"

# after the end: from the start, the last N, and the result as before
expect 1 "$SWARM" logs -f far
[ "$(head -n 1 "$T/out")" = "first line" ] && [ "$(wc -l <"$T/out")" = 6 ] || fail "again: $(cat "$T/out")"
expect 1 "$SWARM" logs -f --tail 2 far
[ "$(cat "$T/out")" = "$(printf 'line 5\nline 6')" ] || fail "--tail 2: $(cat "$T/out")"
expect 1 "$SWARM" logs -f --tail 0 far
[ ! -s "$T/out" ] || fail "--tail 0 printed $(cat "$T/out")"
contains "$T/err" "task far failed"
expect 0 "$SWARM" logs far
[ "$(cat "$T/out")" = "$(printf 'first line\nline 2\nline 3\nline 4\nline 5\nline 6')" ] \
    || fail "logs of a finished task: $(cat "$T/out")"
contains "$T/err" "to stderr"
expect 0 "$SWARM" logs --tail 2 far
[ "$(cat "$T/out")" = "$(printf 'line 5\nline 6')" ] || fail "logs --tail 2: $(cat "$T/out")"
expect 0 "$SWARM" --json logs far
[ "$(json_get "$T/out" "(d['status'], d['exit_code'], 'live' in d)")" = "('failed', 3, False)" ] \
    || fail "logs --json of a finished task: $(cat "$T/out")"
ok "after the end: logs -f from the start, --tail 2, --tail 0; logs prints the result as before"

# --- a retry: the follower goes on to attempt 2
expect 0 "$SWARM" spawn --id flaky -- /bin/sh -c \
    'echo "attempt $SWARM_ATTEMPT starts"; [ "$SWARM_ATTEMPT" = 1 ] && kill -SEGV $$; echo "attempt $SWARM_ATTEMPT done"'
expect 0 "$SWARM" logs -f flaky
contains "$T/out" "attempt 1 starts"
contains "$T/out" "attempt 2 starts"
contains "$T/out" "attempt 2 done"
grep -q "attempt 1 done" "$T/out" && fail "attempt 1 went on after its crash"
contains "$T/err" "swarm: attempt 2 on a"
contains "$T/err" "task flaky succeeded (exit 0, attempt 2"
ok "logs -f follows a retry to attempt 2 with a line naming it, exit 0"

# --- a flood: 500,000 lines, 50 MB
# the peak RSS (KiB) of the agents, summed: the flood runs on either
rss() { cat "/proc/$AGENT_PID_a1/status" "/proc/$AGENT_PID_a2/status" | awk '/^VmHWM/ { n += $2 } END { print n }'; }
before=$(rss)
expect 0 "$SWARM" spawn --id flood -- /bin/sh -c \
    'head -c 50000000 /dev/zero | tr "\0" x | fold -w 99; echo done'
expect 0 "$SWARM" --json logs -f flood
after=$(rss)
python3 - "$T/out" <<'EOF' || fail "flood: lines and drops do not add up"
import json, sys
docs = [json.loads(l) for l in open(sys.argv[1])]
end = docs[-1]
assert end["status"] == "succeeded", end
shown = sum(1 for d in docs[:-1] if "dropped" not in d)
dropped = sum(d["dropped"] for d in docs[:-1] if "dropped" in d)
markers = [d["line"] for d in docs if "dropped" in d]
print("flood: %d lines shown, %d dropped in %d markers, e.g. %s" % (shown, dropped, len(markers), markers[:1]))
assert dropped > 0 and markers[0].startswith("[... ") and markers[0].endswith(" lines dropped ...]")
# 505,050 lines of 99 x, then 50 x and "done" in the last one
assert shown + dropped == 505051, (shown, dropped)
EOF
# (under ASan freed memory sits in its quarantine: the bound means nothing)
if ldd "$SWARM_BUILD/swarm-agent" | grep -q libasan; then
    echo "the agents' peak RSS grew by $((after - before)) KiB (ASan build: not checked)"
else
    [ $((after - before)) -lt 20000 ] || fail "the agent grew by $((after - before)) KiB during the flood"
fi
expect 1 "$SWARM" --json results
[ "$(json_get "$T/out" "[(r['output_truncated'], r['output'][-5:]) for r in d if r['id']=='flood'][0]")" \
  = "(True, 'done\n')" ] || fail "the flood's stored result: $(cut -c 1-300 "$T/out")"
ok "a 50 MB flood: shown lines plus '[... N lines dropped ...]' counts add up to every line; agent peak RSS +$((after - before)) KiB; the result is head + tail as before"

# --- codex and claude, rendered and raw
expect 0 "$SWARM" spawn --id cx "FAKE:events=2 build it"
expect 0 "$SWARM" spawn --id cl --runner claude "FAKE:chatty=2 build it"
expect 0 "$SWARM" logs -f cx
for want in "codex session started" "thinking: **Looking at step 1**" '$ make step1' \
            "  exit 2: make: *** [step1] Error 2" "edit src/step2.c (update)" "said: fixed step 2" \
            "tokens: 1200 in (200 cached), 34 out (5 reasoning)"; do
    grep -qxF -- "$want" "$T/out" || { cat "$T/out"; fail "codex rendering lacks '$want'"; }
done
grep -q '"type"' "$T/out" && fail "raw events in the rendered output"
expect 0 "$SWARM" logs -f --raw cx
contains "$T/out" '{"type":"item.started","item":{"id":"item_c1","type":"command_execution","command":"/bin/bash -lc '"'"'make step1'"'"'"'
expect 0 "$SWARM" logs -f cl
for want in "claude session started (fake-claude)" '$ make step1' "  -> built step1" \
            "said: step 2 built" "done: success, 3 turns, 110 in / 22 out tokens, \$0.0123"; do
    grep -qxF -- "$want" "$T/out" || { cat "$T/out"; fail "claude rendering lacks '$want'"; }
done
expect 0 "$SWARM" --json logs -f --raw cl
python3 - "$T/out" <<'EOF' || fail "claude --raw --json"
import json, sys
docs = [json.loads(l) for l in open(sys.argv[1])]
events = [json.loads(d["line"]) for d in docs[:-1] if d["stream"] == "stdout"]
assert events[0]["type"] == "system" and events[-1]["type"] == "result", events
EOF
expect 0 "$SWARM" logs cl
grep -q "^claude done (acceptEdits" "$T/out" || fail "claude's answer: $(cat "$T/out")"
ok "codex and claude events rendered as progress lines, raw with --raw; claude's answer is still its result"

# --- swarm wait on a terminal: each running task's latest line
expect 0 "$SWARM" init live-wait
expect 0 "$SWARM" spawn --id compile-1 -- /bin/sh -c \
    'echo "compiling unit 1"; while [ ! -e "$0" ]; do sleep 0.05; done' "$T/go-wait"
expect 0 "$SWARM" spawn --id review --runner claude "FAKE:chatty=40 review"
wait_status compile-1 running
(script -qfec "$SWARM wait --timeout 60" "$T/wait.tty" >/dev/null 2>&1; echo "$?" >"$T/wait.rc") &
PIDS+=("$!")
wait_for "$T/wait.tty" "compiling unit 1" 30
wait_for "$T/wait.tty" "review" 30
touch "$T/go-wait"
for _ in $(seq 600); do [ -s "$T/wait.rc" ] && break; sleep 0.05; done
[ "$(cat "$T/wait.rc")" = 0 ] || fail "wait on a terminal exited $(cat "$T/wait.rc")"
grep -aE 'compile-1 +[0-9.]+s +compiling unit 1' "$T/wait.tty" >/dev/null \
    || { cat -v "$T/wait.tty"; fail "no activity line for compile-1"; }
grep -aE 'review +[0-9.]+s +(\$ make step|  -> built step|said: step)' "$T/wait.tty" >/dev/null \
    || { cat -v "$T/wait.tty"; fail "no rendered activity line for review"; }
contains "$T/wait.tty" "2/2 finished"
expect 0 "$SWARM" wait
grep -q "compiling unit" "$T/out" && fail "activity lines without a terminal"
ok "swarm wait on a terminal: each running task with its elapsed time and latest (rendered) line"

# --- odd input
expect 0 "$SWARM" init live-odd
STRANGE='lint/src:main.c@v1+o'
expect 0 "$SWARM" spawn --id "$STRANGE" -- /bin/sh -c 'echo "strange ok"'
expect 0 "$SWARM" spawn --id quiet -- /bin/true
expect 0 "$SWARM" spawn --id bytes -- /bin/sh -c 'printf "a\000b \377\376 <script>\n"; printf "no newline at the end"'
expect 0 "$SWARM" spawn --id long -- /bin/sh -c 'head -c 300000 /dev/zero | tr "\0" y; echo; echo after'
expect 0 "$SWARM" spawn --id nodir --dir "$T/no/such/dir" --max-attempts 1 -- /bin/true
expect 0 "$SWARM" logs -f "$STRANGE"
[ "$(cat "$T/out")" = "strange ok" ] || fail "the strange id: $(cat "$T/out")"
expect 0 "$SWARM" logs -f quiet
[ ! -s "$T/out" ] || fail "quiet printed $(cat "$T/out")"
contains "$T/err" "task quiet succeeded"
expect 0 "$SWARM" --json logs -f bytes
python3 - "$T/out" <<'EOF' || fail "bytes: $(cat "$T/out")"
import json, sys
docs = [json.loads(l) for l in open(sys.argv[1])]
# as the results' JSON does: NUL and bytes that are not UTF-8 become U+FFFD
assert [d["line"] for d in docs[:-1]] == ["a\ufffdb \ufffd\ufffd <script>", "no newline at the end"], docs
EOF
expect 0 "$SWARM" logs -f bytes
cmp -s "$T/out" <(printf 'a\000b \377\376 <script>\nno newline at the end\n') || fail "bytes, as text: $(od -c "$T/out" | head)"
# --tail keeps what it shows (NUL, bytes that are not UTF-8) as it came
expect 0 "$SWARM" logs -f --tail 5 bytes
cmp -s "$T/out" <(printf 'a\000b \377\376 <script>\nno newline at the end\n') || fail "bytes, --tail: $(od -c "$T/out" | head)"
expect 0 "$SWARM" logs --tail 1 bytes
[ "$(cat "$T/out")" = "no newline at the end" ] || fail "bytes, the result's --tail 1: $(od -c "$T/out" | head)"
# a terminal gets escapes shown, not obeyed (a title, a clipboard write,
# colours, a C1 CSI); --raw gives it the bytes; a pipe gets the bytes
expect 0 "$SWARM" spawn --id ansi -- /bin/sh -c \
    'printf "\033]0;pwned\007\033]52;c;aGk=\007\033[31mred\033[0m \302\233""2J\n"; printf "err \033[2J\n" >&2'
expect 0 "$SWARM" logs -f ansi
cmp -s "$T/out" <(printf '\033]0;pwned\007\033]52;c;aGk=\007\033[31mred\033[0m \302\233''2J\n') || fail "ansi, piped: $(od -c "$T/out" | head)"
# a reason that carries escapes (the directory the submitter named)
expect 0 "$SWARM" spawn --id escdir --dir "$T/no/$(printf '\033]0;x\007')" --max-attempts 1 -- /bin/true
expect 1 "$SWARM" wait --timeout 60 escdir
for how in "logs -f ansi" "logs ansi" "logs -f --tail 3 ansi" "logs -f escdir" "events --task escdir" \
           "status escdir"; do
    want=0
    [ "$how" = "logs -f escdir" ] && want=1
    script -qfec "$SWARM $how" "$T/ansi.tty" >/dev/null 2>&1
    rc=$?
    [ "$rc" = "$want" ] || fail "$how on a terminal: exit $rc, wanted $want: $(cat -v "$T/ansi.tty")"
    grep -q "$(printf '\033')" "$T/ansi.tty" && fail "$how: an escape reached the terminal: $(od -c "$T/ansi.tty" | head)"
    grep -q "$(printf '\007')" "$T/ansi.tty" && fail "$how: a BEL reached the terminal"
    [ "$how" = "logs -f ansi" ] && { grep -qF 'err ^[[2J' "$T/ansi.tty" || fail "stderr on a terminal: $(cat -v "$T/ansi.tty")"; }
    case $how in events*|status*) continue ;; *escdir) grep -qF "no/^[]0;x^G" "$T/ansi.tty" || fail "$how: $(cat -v "$T/ansi.tty")"; continue ;; esac
    grep -qF '^[]0;pwned^G^[]52;c;aGk=^G^[[31mred^[[0m \u009b2J' "$T/ansi.tty" || fail "$how: $(cat -v "$T/ansi.tty")"
done
script -qfec "$SWARM logs -f --raw ansi" "$T/ansi.tty" >/dev/null 2>&1
grep -q "$(printf '\033')]0;pwned" "$T/ansi.tty" || fail "--raw on a terminal: $(cat -v "$T/ansi.tty")"
ok "a terminal is shown escapes and control bytes as text (^[, \\u009b), not obeyed; --raw and pipes get the bytes; --tail keeps NUL and bad UTF-8"

# a 10 MB line with no newline, then more: shown cut (its start, how much
# was cut), the next line after it; the child is not held up
expect 0 "$SWARM" spawn --id huge -- /bin/sh -c 'head -c 10000000 /dev/zero | tr "\0" x; sleep 0.3; printf "\nafter huge\n"'
expect 0 "$SWARM" logs -f huge
[ "$(sed -n 1p "$T/out" | head -c 10)" = xxxxxxxxxx ] || fail "huge: $(head -c 200 "$T/out")"
[ "$(wc -c <"$T/out")" -le 40000 ] || fail "huge: $(wc -c <"$T/out") bytes shown"
grep -qE '\[\.\.\. [0-9]+ bytes cut \.\.\.\]' "$T/out" || fail "huge not marked: $(tail -c 300 "$T/out")"
contains "$T/out" "after huge"
contains "$T/err" "task huge succeeded"
expect 0 "$SWARM" logs -f long
[ "$(sed -n 1p "$T/out" | head -c 20)" = yyyyyyyyyyyyyyyyyyyy ] || fail "long line"
sed -n 1p "$T/out" | grep -qE ' \[\.\.\. [0-9]+ bytes cut \.\.\.\]$' || fail "long line not marked: $(sed -n 1p "$T/out" | tail -c 80)"
[ "$(sed -n 2p "$T/out")" = after ] || fail "after the long line: $(sed -n 2p "$T/out")"
[ "$(sed -n 1p "$T/out" | wc -c)" -le 8193 ] || fail "a stored line over 8 KiB"
expect 1 "$SWARM" logs -f nodir
contains "$T/err" "swarm: attempt 1 ended: working directory $T/no/such/dir"
contains "$T/err" "task nodir failed"
ok "no output, NUL and invalid UTF-8 (as they are in text, U+FFFD in JSON), an unfinished last line, 300 KB in one line, the strangest id, a task that could not run"

expect 4 "$SWARM" logs -f nope
contains "$T/err" "no task 'nope'"
expect 4 "$SWARM" logs --job nojob -f x
expect 2 "$SWARM" logs -f
expect 2 "$SWARM" logs a b
contains "$T/err" "name one task id, not several"
expect 2 "$SWARM" logs --tail -1 quiet
expect 2 "$SWARM" logs --tail lots quiet
contains "$T/err" "--tail wants a number of lines"
expect 2 "$SWARM" logs -f 'bad id'
expect 2 "$SWARM" logs -f 'a{b}'
contains "$T/err" "invalid task id 'a{b}'"
expect 2 "$SWARM" logs -f "t$(printf '\303\242')che"
contains "$T/err" "invalid task id"
expect 2 "$SWARM" logs -f --job 'j{1}' x
contains "$T/err" "invalid job name 'j{1}'"
expect 0 "$SWARM" logs --help
contains "$T/out" "--follow"
ok "usage errors (exit 2) and unknown tasks or jobs (exit 4) say what is wrong"

# --- Redis refuses the stream (its key is not a stream): the follower says
# so and ends (exit 1) instead of asking again forever; the agent's
# refused XADDs do not touch the task
expect 0 "$SWARM" init live-wt
expect 0 "$SWARM" spawn --id wt -- /bin/sh -c 'echo one; while [ ! -e "$0" ]; do sleep 0.05; done; echo two' "$T/go-wt"
wait_for_status() { for _ in $(seq 200); do [ "$(task_field "$1" status)" = "$2" ] && return 0; sleep 0.05; done; fail "$1 never $2"; }
wait_for_status wt running
redis-cli -p "$REDIS_PORT" -n 89 DEL "$(rkey log live-wt wt 1)" >/dev/null
redis-cli -p "$REDIS_PORT" -n 89 SET "$(rkey log live-wt wt 1)" not-a-stream >/dev/null
expect 1 timeout 20 "$SWARM" logs -f wt
contains "$T/err" "WRONGTYPE"
touch "$T/go-wt"
expect 0 "$SWARM" wait --timeout 60 wt
expect 0 "$SWARM" logs wt
contains "$T/out" "two"
ok "a stream key Redis refuses: logs -f ends with Redis's words (exit 1); the task went on"

# --- an agent SIGKILLed while its task prints: the follower sees the
# lines so far, then the task lost (no end entry ever comes), exit 1
start_agent a3 --slots 1 --allow-exec --label place=victim
wait_agents 3
expect 0 "$SWARM" init live-kill
expect 0 "$SWARM" spawn --id victim --label place=victim --max-attempts 1 -- /bin/sh -c \
    'echo "before the kill"; while :; do sleep 0.05; done'
"$SWARM" logs -f victim >"$T/k.out" 2>"$T/k.err" &
kfollower=$!
PIDS+=("$kfollower")
wait_for "$T/k.out" "before the kill"
kill -9 "$AGENT_PID_a3"
for _ in $(seq 400); do kill -0 "$kfollower" 2>/dev/null || break; sleep 0.05; done
kill -0 "$kfollower" 2>/dev/null && fail "logs -f did not end after its agent died: $(cat "$T/k.err")"
wait "$kfollower"
rc=$?
[ "$rc" = 1 ] || fail "logs -f of a task whose agent died exited $rc: $(cat "$T/k.err")"
contains "$T/k.err" "task victim lost"
ok "an agent SIGKILLed mid-stream: the follower ends with the task lost, exit 1"

# --- swarm purge --job: every attempt's stream of the job goes, and its event log
n_before=$(redis-cli -p "$REDIS_PORT" -n 89 EXISTS "$(rkey log live flaky 1)" "$(rkey log live flaky 2)" "$(rkey log live far 1)")
[ "$n_before" = 3 ] || fail "streams before the purge: $n_before"
[ "$(redis-cli -p "$REDIS_PORT" -n 89 TTL "$(rkey log live far 1)")" -gt 600000 ] || fail "no TTL on a stream"
[ "$(redis-cli -p "$REDIS_PORT" -n 89 EXISTS "$(rkey events live)")" = 1 ] || fail "no event log before the purge"
expect 0 "$SWARM" --json purge --job live
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["job"]=="live" and d["logs"]>=6, d' "$T/out" \
    || fail "purge --json: $(cat "$T/out")"
[ "$(redis-cli -p "$REDIS_PORT" -n 89 EXISTS "$(rkey events live)")" = 0 ] || fail "the event log stayed"
[ "$(redis-cli -p "$REDIS_PORT" -n 89 EXISTS "$(rkey log live flaky 1)" "$(rkey log live flaky 2)" "$(rkey log live far 1)")" = 0 ] \
    || fail "streams left after the purge"
[ "$(redis-cli -p "$REDIS_PORT" -n 89 EXISTS "$(rkey log live-odd bytes 1)")" = 1 ] || fail "the purge took another job's stream"
expect 0 "$SWARM" logs --job live far
contains "$T/out" "line 6"
ok "the streams expire (a week by default) and swarm purge --job removes every attempt's of a job and its event log, no other job's; the result stays"
