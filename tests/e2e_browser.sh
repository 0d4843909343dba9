#!/usr/bin/env bash
# The dashboard in a real browser (Debian's headless Chromium, driven over
# the DevTools protocol by tests/browser.py) while a job runs: the agents,
# the job's tasks in the table and the graph, a running task with the lines
# of its live output as it prints them (the second only after the page showed
# the first), and a task's output appear; a <script> in an agent label and <script> and <img
# onerror> in an output show as text and run nothing (the title stays, no
# element is injected). Task ids cannot hold '<' (their alphabet is
# A-Z a-z 0-9 . _ - / : @ +); the strangest legal one is used instead.
# A second browser logs in to a dashboard with a token through /?token=:
# the cookie it gets is HttpOnly, the token leaves the address bar, the
# live updates work with it. Screenshots: BUILD/dashboard.png and
# BUILD/dashboard-token.png.
. "$(dirname "$0")/lib.sh"
command -v chromium >/dev/null || { echo "skip: no chromium (deploy/install-deps.sh installs it)"; exit 77; }
use_redis 55

HP=$(free_port)
H="http://127.0.0.1:$HP"
PWN='<script>document.title="pwned"</script>'
start_coordinator --http "127.0.0.1:$HP"
start_agent build-1 --slots 2 --allow-exec --label os=linux --label "note=$PWN"
start_agent build-2 --slots 2 --allow-exec --label os=linux --label gpu=0
wait_agents 2
STRANGE='lint/src:main.c@v1+o'
expect 0 "$SWARM" init user-auth
expect 0 "$SWARM" spawn --id architect -- /bin/sh -c 'echo "design: sessions in Redis, bcrypt for passwords"'
expect 0 "$SWARM" spawn --id coder-api --after architect -- /bin/sh -c \
    'echo "api: writing handlers"; while [ ! -e "$0" ]; do sleep 0.1; done; echo "api: handlers written"; sleep 60' "$T/go-on"
expect 0 "$SWARM" spawn --id coder-store --after architect -- /bin/sh -c "
    echo 'store: hashing with bcrypt'
    echo '$PWN'
    echo '<img src=x onerror=\"document.title=1\">'
    echo 'warning: weak test key' >&2
    echo 'store: done'"
expect 0 "$SWARM" spawn --id tester --after coder-api,coder-store -- /bin/echo tests
expect 0 "$SWARM" spawn --id reviewer --after tester -- /bin/echo review
expect 0 "$SWARM" spawn --id "$STRANGE" -- /bin/sh -c 'echo "main.c:3: unused variable"; exit 1'
wait_status coder-store succeeded
wait_status coder-api running

# Phase 1: everything shows with coder-store's output; phase 2: the running
# coder-api's live output line appears while it runs (its live stream), and
# a line it prints later appears too; phase 3: back to coder-store for the
# screenshot.
cat >"$T/checks.js" <<'EOF'
(() => {
  const W = window.__swarmTest || (window.__swarmTest = { phase: 1 });
  const texts = (sel) => Array.from(document.querySelectorAll(sel)).map((e) => e.textContent);
  const row = (id) => Array.from(document.querySelectorAll("#tasks tbody tr"))
      .find((tr) => tr.cells[0].textContent === id);
  const r = { phase: W.phase, title: document.title, live: document.getElementById("live").textContent };
  r.agents = texts("#agents tbody tr td:first-child");
  r.labels = texts("#agents tbody tr td:nth-child(6)");
  r.tasks = texts("#tasks tbody tr td:first-child");
  r.running = row("coder-api") ? row("coder-api").cells[1].textContent : null;
  r.nodes = document.querySelectorAll("#graph g.node").length;
  r.edges = document.querySelectorAll("#graph path.edge").length;
  r.output = document.getElementById("output").textContent;
  r.stderr = texts("#output .stderr");
  r.note = document.getElementById("output-note").textContent;
  r.injected = document.querySelectorAll("img, iframe, object, embed").length
             + document.querySelectorAll("script").length - 1;
  const common = r.title === "swarm dashboard" && r.injected === 0 && r.live === "live";
  if (W.phase === 1) {
    r.ok1 = common && r.agents.includes("build-1") && r.agents.includes("build-2")
      && r.labels.some((l) => l.includes('note=<script>document.title="pwned"</script>'))
      && r.running === "running" && r.tasks.includes("lint/src:main.c@v1+o")
      && r.nodes === 6 && r.edges === 5
      && r.output.includes('<script>document.title="pwned"</script>\n')
      && r.output.includes('<img src=x onerror="document.title=1">\n')
      && r.output.includes("store: done") && r.stderr.includes("warning: weak test key\n");
    if (r.ok1) { W.r1 = r; W.phase = 2; location.hash = "#job=user-auth&task=coder-api"; }
    return r;
  }
  if (W.phase === 2) {
    // the running task's live line, then (once the test lets it go on) the next
    if (common && document.getElementById("task-id").textContent === "coder-api"
        && r.running === "running" && r.output.includes("api: writing handlers\n")
        && r.note.includes("so far")) {
      W.live1 = true;
      r.wantNext = true;
      if (r.output.includes("api: handlers written\n")) {
        W.live2 = true; W.phase = 3; location.hash = "#job=user-auth&task=coder-store";
      }
    }
    return r;
  }
  r.ok = common && r.output.includes("store: done") && r.output.includes("<img src=x")
      && W.live1 && W.live2;
  r.first = W.r1;
  return r;
})()
EOF
python3 "$SWARM_SRC/tests/browser.py" "$H/#job=user-auth&task=coder-store" "$T/checks.js" \
    "$SWARM_BUILD/dashboard.png" --timeout 60 --signal "wantNext=$T/go-on" \
    >"$T/result.json" 2>"$T/browser.err" \
    || { cat "$T/result.json" "$T/browser.err"; fail "the dashboard did not show what it should"; }
[ -s "$SWARM_BUILD/dashboard.png" ] || fail "no screenshot"
ok "chromium: agents, tasks, graph, a running task with its live output lines, and an output appear; <script> and <img onerror> stay text"
kill -0 "$COORD_PID" || fail "the coordinator died"

# --- a dashboard with a token, as a browser logs in
use_redis 56
TOKEN=$(head -c 24 /dev/urandom | base64 | tr -d '\n/+=')
printf '%s\n' "$TOKEN" >"$T/token"
chmod 600 "$T/token"
TP=$(free_port)
L2="tcp://127.0.0.1:$(free_port)"
C2="tcp://127.0.0.1:$(free_port)"
"$SWARM_BUILD/swarm-coordinator" -f --listen "$L2" --control "$C2" --heartbeat-ms 200 \
    --http "127.0.0.1:$TP" --http-token-file "$T/token" >>"$T/coordinator2.log" 2>&1 &
PIDS+=($!)
mkdir -p "$T/work-t1"
"$SWARM_BUILD/swarm-agent" -f --coordinator "$L2" --id token-agent --workdir "$T/work-t1" \
    --state-dir "$T/state-t1" >>"$T/agent-t1.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 300); do [ "$("$SWARM" --coordinator "$C2" --json agents 2>/dev/null | grep -c '"id"')" = 1 ] && break; sleep 0.1; done
wait_http "http://127.0.0.1:$TP/"
cat >"$T/checks2.js" <<'EOF'
(() => {
  const r = { title: document.title, search: location.search, cookie: document.cookie,
              live: document.getElementById("live").textContent,
              agents: Array.from(document.querySelectorAll("#agents tbody tr td:first-child")).map((e) => e.textContent) };
  r.ok = r.title === "swarm dashboard" && r.search === "" && r.cookie === "" && r.live === "live"
      && r.agents.includes("token-agent");
  return r;
})()
EOF
python3 "$SWARM_SRC/tests/browser.py" "http://127.0.0.1:$TP/?token=$TOKEN" "$T/checks2.js" \
    "$SWARM_BUILD/dashboard-token.png" --timeout 30 >"$T/result2.json" 2>"$T/browser2.err" \
    || { cat "$T/result2.json" "$T/browser2.err"; fail "the token login did not work in the browser"; }
ok "chromium: /?token= logs in; the cookie is HttpOnly, the token left the address bar, live updates work"
