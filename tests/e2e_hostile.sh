#!/usr/bin/env bash
# A task's input cannot break its agent, continued (issue 14, reviewed as a
# hostile task would):
#   - {{memory:NS/KEY}} and {{result:ID}} expand to at most 16 MiB and 4096
#     references: ten references to a 6 MiB entry used to make the agent
#     build a 60 MiB prompt in its event loop, miss its heartbeats and get
#     the task "lost"; now the task fails at once, naming the limit, and
#     the agent stays registered. One reference to it still arrives whole.
#   - a memory value with a NUL byte used to cut the prompt there, silently;
#     now the task fails, naming the reference. A value with {{ in it is
#     not expanded again.
#   - a reference no attempt can satisfy (an invalid namespace) fails at the
#     first attempt instead of being tried on every agent and quarantined,
#     and an error holding bytes that are not UTF-8 is in the result
#     document (it used to vanish from it).
#   - TMPDIR is refused for codex and claude tasks: codex's workspace-write
#     sandbox lets the model write where TMPDIR points (the agent's state
#     dir, ~/.ssh ...); so is SWARM_CTL_MODULE, a library the swarm CLI
#     loads (the runners start `swarm mcp` outside their sandbox).
#   - an argv of more than 4096 items is refused by the CLI, naming the
#     limit (the coordinator used to drop the request without an answer).
#   - claude gets a prompt with bytes that are not UTF-8 byte for byte.
. "$(dirname "$0")/lib.sh"
use_redis 105
export FAKE_LEDGER="$T/ledger"
: >"$FAKE_LEDGER"
# a lease of 3 s (15 heartbeats of 200 ms): room for a loaded machine
start_coordinator --liveness 15
start_agent h1 --slots 4 --allow-exec --claude "$SWARM_SRC/tests/fake-claude.sh"
wait_agents 1
expect 0 "$SWARM" init hostile

sha() { python3 -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$1"; }
nbytes() { wc -c <"$1" | tr -d ' '; }
# field ID EXPR: EXPR of the result document r of task ID (from results --json)
field() {
    "$SWARM" --json results >"$T/res" 2>/dev/null
    json_get "$T/res" "[$2 for r in d if r['id']=='$1'][0]"
}
started() { grep -q "^start hostile $1 " "$FAKE_LEDGER"; }

# Big expansions.
python3 -c 'import sys; sys.stdout.write("x" * (6 << 20))' >"$T/big"
expect 0 "$SWARM" memory store --namespace big v - <"$T/big"
python3 -c 'import sys; sys.stdout.write("{{memory:big/v}}\n" * 10)' >"$T/ten"
expect 0 "$SWARM" spawn --id ten --prompt-file "$T/ten"
expect 0 "$SWARM" memory store --namespace big tiny t
python3 -c 'import sys; sys.stdout.write("{{memory:big/tiny}}" * 4097)' >"$T/many"
expect 0 "$SWARM" spawn --id many --prompt-file "$T/many"
expect 0 "$SWARM" spawn --id one "FAKE:x {{memory:big/v}}"
expect 1 "$SWARM" wait --timeout 60 ten many one
[ "$(field ten "(r['status'], r['attempt'])")" = "('failed', 1)" ] || fail "ten: $(field ten "(r['status'], r['attempt'], r['error'])")"
case "$(field ten "r['error']")" in
    "the prompt references {{memory:big/v}}: the expanded prompt would be over 16777216 bytes"*) ;;
    *) fail "ten: $(field ten "r['error']")" ;;
esac
[ "$(field many "(r['status'], r['attempt'])")" = "('failed', 1)" ] || fail "many: $(field many "r['error']")"
case "$(field many "r['error']")" in
    "the prompt references {{memory:big/tiny}}: more than 4096 references"*) ;;
    *) fail "many: $(field many "r['error']")" ;;
esac
started ten && fail "ten started"
started many && fail "many started"
grep -q "declared dead" "$T/coordinator.log" && fail "the agent missed its heartbeats"
{ printf 'FAKE:x '; cat "$T/big"; } >"$T/want-one"
case "$(field one "r['output'][:400]")" in
    *"prompt_bytes=$(nbytes "$T/want-one") prompt_sha256=$(sha "$T/want-one")"*) ;;
    *) fail "one: the 6 MiB entry did not arrive whole" ;;
esac
ok "expansions are bounded (16 MiB, 4096 references): over them the task fails at once and the agent keeps its lease; a 6 MiB entry still arrives whole"

# NUL bytes and nested braces in a value.
printf 'abc\0def' | "$SWARM" memory store --namespace ns nul - >/dev/null || fail "store nul"
printf 'has {{memory:ns/nul}} inside' | "$SWARM" memory store --namespace ns curly - >/dev/null || fail "store curly"
expect 0 "$SWARM" spawn --id nul "X {{memory:ns/nul}} Y"
expect 0 "$SWARM" spawn --id curly "X {{memory:ns/curly}} Y"
printf 'go {{memory:\377ns/k}} now' >"$T/badref"
expect 0 "$SWARM" spawn --id badref --prompt-file "$T/badref"
expect 1 "$SWARM" wait --timeout 60 nul curly badref
[ "$(field nul "(r['status'], r['attempt'], r['error'])")" = "('failed', 1, 'the prompt references {{memory:ns/nul}}: its value holds a NUL byte, and a prompt is text')" ] \
    || fail "nul: $(field nul "(r['status'], r['attempt'], r['error'])")"
started nul && fail "nul started"
case "$(field curly "r['output']")" in
    *": done: X has {{memory:ns/nul}} inside Y"*) ;;
    *) fail "curly: $(field curly "r['output']")" ;;
esac
[ "$(field badref "(r['status'], r['attempt'])")" = "('failed', 1)" ] \
    || fail "badref: $(field badref "(r['status'], r['attempt'], r['error'])")"
[ "$(field badref "(r.get('error') or '').startswith('the prompt references {{memory:\\ufffdns/k}}: invalid namespace')")" = True ] \
    || fail "badref: the error is not in the result: $(field badref "r.get('error')")"
ok "a NUL in a value fails the task, naming the reference; {{ in a value stays text; an invalid reference fails at once, its error in the result"

# TMPDIR widens codex's workspace-write sandbox.
expect 0 "$SWARM" spawn --id tmpdir --env "TMPDIR=$T/state-h1" "FAKE:env=TMPDIR"
expect 0 "$SWARM" spawn --id tmpexec --env "TMPDIR=$T" -- sh -c 'echo "$TMPDIR"'
expect 0 "$SWARM" spawn --id ctlmod --runner claude --env "SWARM_CTL_MODULE=$T/evil.so" "hi"
expect 1 "$SWARM" wait --timeout 60 tmpdir tmpexec ctlmod
case "$(field tmpdir "(r['status'], r['attempt'], r['error'])")" in
    "('failed', 1, \"task variable TMPDIR is refused: codex's workspace-write sandbox lets the model write where it points"*"(start the agent with --task-env TMPDIR to allow it)\")") ;;
    *) fail "tmpdir: $(field tmpdir "(r['status'], r['attempt'], r['error'])")" ;;
esac
started tmpdir && fail "tmpdir started"
[ "$(field ctlmod "(r['status'], r['attempt'], r['error'])")" = "('failed', 1, 'task variable SWARM_CTL_MODULE is refused: the swarm CLI loads code from it, and the runners start swarm mcp outside their sandbox (start the agent with --task-env SWARM_CTL_MODULE to allow it)')" ] \
    || fail "ctlmod: $(field ctlmod "(r['status'], r['attempt'], r['error'])")"
[ "$(field tmpexec "r['output']")" = "$T" ] || fail "tmpexec: $(field tmpexec "r['output']")"
ok "a task's TMPDIR (it would open the state dir to codex's sandbox) and SWARM_CTL_MODULE are refused; exec tasks on an --allow-exec agent keep TMPDIR"

# An argv longer than the protocol carries.
expect 2 "$SWARM" spawn --id longargv -- echo $(seq 1 4100)
contains "$T/err" "task longargv: argv has 4101 items, at most 4096"
expect 0 "$SWARM" spawn --id okargv -- sh -c 'echo $#' $(seq 1 4093)
expect 0 "$SWARM" wait --timeout 60 okargv
[ "$(field okargv "r['output']")" = "4092" ] || fail "okargv: $(field okargv "r['output']")"
ok "an argv over 4096 items is refused by the CLI with the limit; 4096 run"

# claude and bytes that are not UTF-8.
printf 'caf\351 \377\376 {{ }} \303' >"$T/latin1"
expect 0 "$SWARM" spawn --id cl --runner claude --prompt-file "$T/latin1"
expect 0 "$SWARM" wait --timeout 60 cl
case "$(field cl "r['output'][:400]")" in
    *"prompt_bytes=$(nbytes "$T/latin1") prompt_sha256=$(sha "$T/latin1")"*) ;;
    *) fail "cl: $(field cl "(r['output'][:400], r['error'])")" ;;
esac
ok "claude gets a prompt that is not UTF-8 byte for byte"

# A working directory the agent cannot enter is named as such (it was
# "PROGRAM: Permission denied", blaming the runner).
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
    mkdir -p "$T/nb/work" "$T/private" && chown -R nobody "$T/nb" && chmod 0700 "$T/private"
    chmod 0711 "$T"
    # the agent as nobody, from a copy nobody can reach: the checkout may
    # sit under a directory only root may enter (mktemp -d makes 0700)
    mkdir -p "$T/bin" && cp "$SWARM_BUILD/swarm-agent" "$SWARM_BUILD/swarm-agent-workspace" "$T/bin/" \
        && chmod 0755 "$T/bin" || fail "cannot copy the agent for nobody"
    setpriv --reuid nobody --regid nogroup --clear-groups env HOME="$T/nb" \
        "$T/bin/swarm-agent" -f --coordinator "$COORD_LISTEN" --id nb --workdir "$T/nb/work" \
        --state-dir "$T/nb/state" --allow-exec --label pool=nb >>"$T/agent-nb.log" 2>&1 &
    PIDS+=("$!")
    wait_agents 2
    expect 0 "$SWARM" spawn --id noentry --label pool=nb --max-attempts 1 --dir "$T/private" -- true
    expect 1 "$SWARM" wait --timeout 60 noentry
    [ "$(field noentry "r['error']")" = "working directory $T/private: Permission denied" ] \
        || fail "noentry: $(field noentry "r['error']")"
    chmod 0700 "$T"
    ok "a working directory the agent cannot enter is named, not the program"
fi

# A spool that cannot be written (a full disk; here a file in its place)
# while Redis is away: said once, not every 100 ms, and used again as soon
# as it can be.
deadredis="redis://127.0.0.1:$(free_port)/0"
start_agent sp --allow-exec --label pool=sp --redis "$deadredis" --spool "$T/spool-sp"
for _ in $(seq 200); do grep -q "registered with the coordinator" "$T/agent-sp.log" && break; sleep 0.05; done
rm -rf "$T/spool-sp" && echo full >"$T/spool-sp"
expect 0 "$SWARM" spawn --id nodisk --label pool=sp -- true
for _ in $(seq 200); do grep -q "waits in memory only" "$T/agent-sp.log" && break; sleep 0.05; done
sleep 2
n=$(grep -c "waits in memory only" "$T/agent-sp.log")
[ "$n" = 1 ] || fail "the failing spool was reported $n times in 2 s"
rm -f "$T/spool-sp"
for _ in $(seq 200); do grep -q "result of hostile/nodisk attempt 1 spooled to disk" "$T/agent-sp.log" && break; sleep 0.05; done
contains "$T/agent-sp.log" "result of hostile/nodisk attempt 1 spooled to disk"
ok "a spool that cannot be written is reported once, and used again once it can be"
