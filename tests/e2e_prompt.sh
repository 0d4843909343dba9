#!/usr/bin/env bash
# The prompt never travels in argv (issue 14, section 1). The agent gives
# codex (`codex exec ... -`) and claude (`claude -p`) the expanded prompt on
# stdin from a private file; the stand-in CLIs parse their command line as
# the real ones do (an unknown option is an error, `review` or `update` is
# a subcommand, `--version` prints a version and exits 0) and report the
# size and SHA-256 of the prompt they read, so each case checks that the
# prompt reached the "model" byte for byte:
#   - a prompt over 128 KiB built from a dependency's result
#     ({{result:a}} of a 180 KB output), from a 200 KB memory entry, and
#     given to `spawn -` on stdin (each was "Argument list too long",
#     retried on three agents and quarantined);
#   - prompts that start with '-' or are a subcommand's name, and one with
#     control and escape bytes, for codex and claude;
#   - a 1 MiB prompt for both.
# Exec tasks keep argv by nature: one over the kernel's limits (one string
# over 128 KiB, or all of them over ARG_MAX) fails once, at once, with the
# numbers, and is not retried; a program the kernel cannot execute
# (ENOEXEC) neither; a program missing on this agent is retried.
. "$(dirname "$0")/lib.sh"
use_redis 33
start_coordinator
start_agent a1 --slots 4 --allow-exec --claude "$SWARM_SRC/tests/fake-claude.sh"
wait_agents 1
expect 0 "$SWARM" init prompts

sha() { python3 -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$1"; }
nbytes() { wc -c <"$1" | tr -d ' '; }
# reached ID FILE: task ID succeeded at attempt 1 and its runner read FILE exactly
reached() {
    expect 0 "$SWARM" --json results
    local got
    got=$(json_get "$T/out" "[(r['status'], r['attempt'], r['output'][:400]) for r in d if r['id']=='$1'][0]")
    case "$got" in
        "('succeeded', 1, "*"prompt_bytes=$(nbytes "$2") prompt_sha256=$(sha "$2")"*) ;;
        *) fail "$1: the prompt did not arrive byte for byte: $got (want $(nbytes "$2") bytes, $(sha "$2"))" ;;
    esac
}

# A design over 128 KiB from a dependency's result.
expect 0 "$SWARM" spawn --id a -- python3 -c 'print("design line\n"*15000)'
expect 0 "$SWARM" spawn --id b --after a "Implement this design: {{result:a}}"
# A 200 KB memory entry.
python3 -c 'import sys; sys.stdout.write("".join("fact %06d: sessions live 15 minutes\n" % i for i in range(5600)))' >"$T/fact"
expect 0 "$SWARM" memory store --namespace big design - <"$T/fact"
expect 0 "$SWARM" spawn --id m "Use {{memory:big/design}}"
# A 200 KB prompt on stdin.
python3 -c 'import sys; sys.stdout.write("".join("requirement %06d\n" % i for i in range(10500)))' >"$T/p200k"
expect 0 "$SWARM" spawn --id s - <"$T/p200k"
expect 0 "$SWARM" wait --timeout 60 b m s
{ printf 'Implement this design: '; printf 'design line\n%.0s' $(seq 15000); echo; } >"$T/want-b"
reached b "$T/want-b"
{ printf 'Use '; cat "$T/fact"; } >"$T/want-m"
reached m "$T/want-m"
reached s "$T/p200k"
ok "prompts over 128 KiB ({{result:a}} of 180 KB, a 200 KB memory entry, 200 KB on stdin) reach codex whole, at the first attempt"

# Prompts an option parser would take: '-' first, subcommand names, and
# bytes that look binary; for codex and for claude.
i=0
for p in "- [ ] fix the login bug" "--version" "-h" "help" "review" "resume" "fork" "-" \
         $'\x01\x02\x1b[31mred\x1b[0m\r\n\ttab \x7f é 😀 \\ "q"\n\n'; do
    i=$((i + 1))
    printf '%s' "$p" >"$T/codex-$i"
    expect 0 "$SWARM" spawn --id "codex-$i" - <"$T/codex-$i"
done
j=0
for p in "- [ ] fix the login bug" "--version" "update" "doctor" "-p" \
         $'\x01\x1b[2J\r\n--help\n'; do
    j=$((j + 1))
    printf '%s' "$p" >"$T/claude-$j"
    expect 0 "$SWARM" spawn --id "claude-$j" --runner claude - <"$T/claude-$j"
done
expect 0 "$SWARM" wait --timeout 60
for k in $(seq "$i"); do reached "codex-$k" "$T/codex-$k"; done
for k in $(seq "$j"); do reached "claude-$k" "$T/claude-$k"; done
ok "'- [ ] item', --version, -h, help, review, resume, fork, update, doctor and control bytes are prompts, byte for byte, for codex and claude"

# 1 MiB, both runners.
python3 -c 'import sys; sys.stdout.write(("-" + "".join("line %07d of the design\n" % i for i in range(45000)))[:1 << 20])' >"$T/p1m"
expect 0 "$SWARM" spawn --id big-codex - <"$T/p1m"
expect 0 "$SWARM" spawn --id big-claude --runner claude - <"$T/p1m"
expect 0 "$SWARM" wait --timeout 60 big-codex big-claude
reached big-codex "$T/p1m"
reached big-claude "$T/p1m"
ok "a 1 MiB prompt starting with '-' reaches codex and claude whole"
[ -z "$(ls -A "$T/state-a1/run")" ] || fail "prompt files left in the state dir: $(ls "$T/state-a1/run")"
ok "no prompt file stays behind"

# Exec tasks: over the kernel's limits fails once, at once, with the numbers.
expect 0 "$SWARM" init exec-limits
python3 -c 'print("echo " + "x" * 200000)' >"$T/one-long"
limit=$(getconf ARG_MAX)
[ "$limit" -gt $((6 << 20)) ] && limit=$((6 << 20))
python3 -c 'print("echo " + " ".join(["y" * 100000] * (int(__import__("sys").argv[1]) // 100000 + 2)))' "$limit" >"$T/many"
printf 'echo hi\n' >"$T/noexec" && chmod +x "$T/noexec"
expect 0 "$SWARM" run --commands "$T/one-long" --job exec-limits
expect 0 "$SWARM" spawn --id noexec -- "$T/noexec"
expect 0 "$SWARM" spawn --id missing --max-attempts 2 -- "$T/no-such-program"
expect 1 "$SWARM" wait --timeout 60
expect 1 "$SWARM" --json results
err_of() { json_get "$T/out" "[(r['status'], r['attempt'], r['error']) for r in d if r['id']=='$1'][0]"; }
case "$(err_of cmd-1)" in
    "('failed', 1, 'argument list too long: argument 1 is 200001 bytes, the limit here is 131072 per argument')") ;;
    *) fail "one long argument: $(err_of cmd-1)" ;;
esac
expect 1 "$SWARM" run --commands "$T/many" --job exec-limits-2 --wait
expect 1 "$SWARM" --json results --job exec-limits-2
case "$(err_of cmd-1)" in
    "('failed', 1, 'argument list too long: "*" bytes, the limit here is $limit')") ;;
    *) fail "all arguments together: $(err_of cmd-1)" ;;
esac
expect 1 "$SWARM" --json results --job exec-limits
case "$(err_of noexec)" in
    "('failed', 1, '$T/noexec: Exec format error')") ;;
    *) fail "ENOEXEC: $(err_of noexec)" ;;
esac
case "$(err_of missing)" in
    "('failed', 2, '$T/no-such-program: No such file or directory')") ;;
    *) fail "a program missing here is worth another agent: $(err_of missing)" ;;
esac
grep -q "quarantine" "$T/coordinator.log" && fail "a permanent failure was retried into quarantine"
ok "exec: argv over 128 KiB per string or over ARG_MAX ($limit) and ENOEXEC fail at the first attempt with the reason; a missing program is retried"
