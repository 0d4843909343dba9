# tests/realcli-lib.sh -- what realcli_codex.sh and realcli_claude.sh share
# (bash, sourced after lib.sh). Set RUNNER (codex or claude) first.
#
# realcli_install PACKAGE: installs the npm PACKAGE into the cache
#   ($SWARM_REALCLI_CACHE, default ~/.cache/swarm-realcli) unless there, and
#   sets CLI to its $RUNNER binary; exit 77 (skip) only when npm is missing or
#   cannot reach its registry.
# start_mock_model: tests/mock-model.py on loopback; sets MODEL_PORT.
# start_realcli_agents ARGS...: agents a1 and a2, 2 slots each, with ARGS.
# realcli_memory_tools: scout stores a finding with memory_store as its
#   result, builder (read-only, after it) finds it with memory_search.
# realcli_faults PATTERN TEXT: a failing model call fails, a hanging one
#   times out; no process matching PATTERN with TEXT in its argv is left.
# realcli_pipeline: examples/user-auth-pipeline.yaml with $RUNNER workers.
# realcli_prompts WORD...: prompts an option parser would take ('- [ ] item',
#   --version, the WORDs: subcommands of $RUNNER), bytes that look binary, and
#   1 MiB starting with '-' reach the model byte for byte (the mock's log).
# realcli_check_coordination JOB: a coordinating session (swarm mcp --control)
#   left job JOB as it should.

realcli_install() {
    local cache=${SWARM_REALCLI_CACHE:-$HOME/.cache/swarm-realcli}
    CLI="$cache/node_modules/.bin/$RUNNER"
    if [ ! -x "$CLI" ]; then
        command -v npm >/dev/null || { echo "SKIP: no npm on this machine"; exit 77; }
        mkdir -p "$cache"
        if ! timeout 300 npm install --no-audit --no-fund --prefix "$cache" "$1" >"$T/npm.log" 2>&1; then
            if grep -qiE "ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|network" "$T/npm.log"; then
                echo "SKIP: npm cannot reach its registry:"; tail -3 "$T/npm.log"; exit 77
            fi
            cat "$T/npm.log"; fail "npm install $1 failed"
        fi
    fi
    "$CLI" --version >"$T/version" 2>&1 || fail "$RUNNER does not run: $(cat "$T/version")"
    ok "real $RUNNER: $(cat "$T/version")"
}

start_mock_model() {
    python3 "$SWARM_SRC/tests/mock-model.py" "$T/model.port" "$T/model.log" 2>"$T/model.err" &
    PIDS+=("$!")
    for _ in $(seq 100); do [ -s "$T/model.port" ] && break; sleep 0.05; done
    MODEL_PORT=$(cat "$T/model.port")
}

start_realcli_agents() {
    start_coordinator
    for a in a1 a2; do
        mkdir -p "$T/work-$a"
        "$SWARM_BUILD/swarm-agent" -f --coordinator "$COORD_LISTEN" --id "$a" --slots 2 \
            --workdir "$T/work-$a" --state-dir "$T/state-$a" --kill-grace-ms 1000 "$@" >>"$T/agent-$a.log" 2>&1 &
        PIDS+=("$!")
    done
    wait_agents 2
}

realcli_memory_tools() {
    expect 0 "$SWARM" init "real$RUNNER"
    expect 0 "$SWARM" spawn --id scout --type coder --runner "$RUNNER" \
        "TASK:scout MOCK:mcp-store=sessions_live_15_minutes"
    expect 0 "$SWARM" spawn --id builder --type reviewer --after scout --runner "$RUNNER" \
        "MOCK:mcp-search=sessions"
    expect 0 "$SWARM" wait --timeout 120
    expect 0 "$SWARM" --json memory get --namespace results result-scout
    [ "$(json_get "$T/out" "d['value']")" = "sessions live 15 minutes" ] \
        || fail "scout's own result: $(cat "$T/out")"
    expect 0 "$SWARM" logs builder
    contains "$T/out" "sessions live 15 minutes"
}

realcli_faults() {
    expect 0 "$SWARM" init "real$RUNNER-faults"
    expect 0 "$SWARM" spawn --id refused --runner "$RUNNER" "MOCK:http-error"
    expect 0 "$SWARM" spawn --id hung --runner "$RUNNER" --timeout 6 "MOCK:hang"
    expect 1 "$SWARM" wait --timeout 120
    [ "$(task_field refused status)" = failed ] || fail "http error: $(task_field refused status)"
    [ "$(task_field hung status)" = timed_out ] || fail "hang: $(task_field hung status)"
    sleep 1
    pgrep -f "$1" -a | grep -F "$2" && fail "a $RUNNER process outlived its task"
    ok "a failing model call fails the task; a hanging model times out and leaves no process"
}

# Each stage searches the memory, stores its own result-<stage> through the
# tools, and a later stage's result names what the earlier ones found.
realcli_pipeline() {
    local plan="$SWARM_SRC/examples/user-auth-pipeline.yaml"
    if [ "$RUNNER" != codex ]; then
        sed "s/^\(    type: .*\)$/\1\n    runner: $RUNNER/" "$plan" >"$T/pipeline.yaml"
        plan="$T/pipeline.yaml"
    fi
    expect 0 "$SWARM" run "$plan" --wait
    for stage in architect coder tester reviewer; do
        expect 0 "$SWARM" --json memory get --namespace results "result-$stage"
        json_get "$T/out" "d['value']" | grep -q "^finding of $stage" \
            || fail "result-$stage is not the worker's own: $(cat "$T/out")"
    done
    expect 0 "$SWARM" --json memory get --namespace results result-coder
    json_get "$T/out" "d['value']" | grep -q "finding of architect" \
        || fail "the coder did not find the architect's result: $(cat "$T/out")"
    expect 0 "$SWARM" --json memory get --namespace results result-reviewer
    json_get "$T/out" "d['value']" | grep -q "finding of coder" \
        || fail "the reviewer did not find the coder's result: $(cat "$T/out")"
    ok "examples/user-auth-pipeline.yaml: every stage stored its own result through the tools; later stages found the earlier ones"
}

realcli_prompts() {
    expect 0 "$SWARM" init "real$RUNNER-prompts"
    local i=0 p
    for p in "- [ ] fix the login bug" "--version" "$@" \
             $'\x01\x02\x1b[31mred\x1b[0m\r\n\ttab \x7f \xc3\xa9 \\ "q"\n\n'; do
        i=$((i + 1))
        printf '%s' "$p" >"$T/prompt-$i"
    done
    python3 -c 'import sys; sys.stdout.write(("-" + "".join("line %07d of the design\n" % i for i in range(45000)))[:1 << 20])' \
        >"$T/prompt-big"
    for f in "$T"/prompt-*; do
        expect 0 "$SWARM" spawn --id "p-${f##*-}" --runner "$RUNNER" --timeout 300 - <"$f"
    done
    expect 0 "$SWARM" wait --timeout 300
    python3 - "$T/model.log" "$T"/prompt-* <<'PY' || fail "a prompt did not reach the model byte for byte"
import json, sys
seen = set()
for line in open(sys.argv[1]):
    body = json.loads(line)["body"]
    for item in body.get("input", []) + body.get("messages", []):
        if not isinstance(item, dict) or item.get("role") != "user":
            continue
        content = item.get("content")
        for c in content if isinstance(content, list) else [{"text": content}]:
            if isinstance(c, dict) and isinstance(c.get("text"), str):
                seen.add(c["text"])
for path in sys.argv[2:]:
    want = open(path, "rb").read().decode()
    assert want in seen, "%s (%d bytes) never reached the model as it was" % (path, len(want))
PY
    ok "real $RUNNER: '- [ ] item', --version, $*, control bytes and 1 MiB starting with '-' reach the model byte for byte"
}

# realcli_check_coordination JOB: what a coordinating session (the real CLI
# with `swarm mcp --control`, driven by the mock model's MOCK:coordinate)
# must have done: the job exists with w1 and w2 succeeded, w2 started after
# w1 had finished, and the model called the tools in the order a
# coordinator does (init, spawn, spawn, wait..., results).
realcli_check_coordination() {
    local job=$1
    expect 0 "$SWARM" results --job "$job"
    contains "$T/out" "2 tasks: 2 succeeded"
    expect 0 "$SWARM" --json status --job "$job"
    python3 - "$T/out" <<'PY' || fail "w2 did not run after w1: $(cat "$T/out")"
import json, sys
t = {x["id"]: x for x in json.load(open(sys.argv[1]))["tasks"]}
assert t["w2"]["started"] >= t["w1"]["finished"] > 0, t
PY
    expect 0 "$SWARM" logs --job "$job" w1
    contains "$T/out" "w1 designed the api"
    expect 0 "$SWARM" logs --job "$job" w2
    contains "$T/out" "w2 built the api"
    python3 - "$T/model.log" "$job" <<'PY' || fail "the coordinator's tool calls: $(tail -c 3000 "$T/model.log")"
import json, re, sys
job = sys.argv[2]
calls = []
for line in open(sys.argv[1]):
    body = json.loads(line)["body"]
    if f"MOCK:coordinate={job}" not in json.dumps(body):
        continue
    names = []
    for item in body.get("input", []) if isinstance(body.get("input"), list) else []:
        if isinstance(item, dict) and item.get("type") == "function_call":
            names.append(item["name"])
    for msg in body.get("messages", []):
        for block in msg.get("content", []) if isinstance(msg.get("content"), list) else []:
            if isinstance(block, dict) and block.get("type") == "tool_use":
                names.append(block["name"])
    if len(names) > len(calls):
        calls = names
calls = [re.sub(r"^mcp__swarm__", "", c) for c in calls]
assert calls[:3] == ["swarm_init", "swarm_spawn", "swarm_spawn"], calls
assert calls[-1] == "swarm_results" and set(calls[3:-1]) == {"swarm_wait"}, calls
PY
}
