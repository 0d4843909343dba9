#!/usr/bin/env bash
# A codex result is codex's answer or an honest failure (issue 14,
# section 3): the -o file; when that is missing or empty, the last
# agent_message of the --json event stream; when neither exists, the task
# fails with "codex exited 0 but gave no final message" and the stderr
# tail, never with the event stream as its output. claude likewise: its
# result document's result, or a failure.
. "$(dirname "$0")/lib.sh"
use_redis 35
start_coordinator
start_agent a1 --slots 4 --claude "$SWARM_SRC/tests/fake-claude.sh"
wait_agents 1
expect 0 "$SWARM" init answers
expect 0 "$SWARM" spawn --id file "the usual answer"
expect 0 "$SWARM" spawn --id stream "FAKE:no-last=only_in_the_event_stream"
expect 0 "$SWARM" spawn --id mute "FAKE:silent say nothing"
expect 0 "$SWARM" spawn --id cmute --runner claude "FAKE:no-result"
expect 1 "$SWARM" wait --timeout 30
expect 1 "$SWARM" --json results
f() { json_get "$T/out" "[r for r in d if r['id']=='$1'][0]$2"; }
case "$(f file "['output']")" in *": done: the usual answer") ;; *) fail "file: $(f file "")" ;; esac
[ "$(f stream "['status']")" = succeeded ] && [ "$(f stream "['output']")" = only_in_the_event_stream ] \
    || fail "stream: $(f stream "")"
[ "$(f stream "['usage']['input_tokens']")" = 1200 ] || fail "stream usage: $(f stream "")"
ok "the -o file is the output; without it, the last agent_message of the event stream"
[ "$(f mute "['status']")|$(f mute "['attempt']")|$(f mute "['error']")|$(f mute "['output']")" \
    = "failed|1|codex exited 0 but gave no final message|" ] || fail "mute: $(f mute "")"
case "$(f mute "['stderr_tail']")" in *"the model said nothing"*) ;; *) fail "mute stderr: $(f mute "")" ;; esac
[ "$(f cmute "['status']")|$(f cmute "['error']")|$(f cmute "['output']")" \
    = "failed|claude exited 0 but gave no result document|" ] || fail "cmute: $(f cmute "")"
grep -q thread.started "$T/out" && fail "an event stream became a task's output"
ok "no answer from codex or claude is a failure with the reason and the stderr tail, never their raw stdout"
