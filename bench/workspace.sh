#!/usr/bin/env bash
# bench/workspace.sh -- the workspace targets of issue 16, as ratios
# measured in ONE run on a generated repository (~2,000 files, ~30 MB):
#
#   first    the first task with a workspace on a fresh host, over the
#            same task without one, against `git clone` of the same
#            repository from a local bundle           target <= 1.5x
#            (median of F hosts, each a new agent with empty dirs, as
#            the clone is the median of 3)
#   further  every further task on that host, p50 over the same task
#            without a workspace                      target <= 50 ms
#   capture  capture + upload of a 100-file change   target <= 100 ms
#            (p50 of C tasks, each changing the same 100 files anew)
#   apply    swarm apply of 20 tasks' changes         target <= 1 s
#   memory   RSS of the agent and the coordinator before and after
#            (nothing of a workspace is held whole in RAM: flat)
#
#   bench/workspace.sh             FILES=2000 SIZE_MB=30 N=20 C=5 F=3
#   bench/workspace.sh --smoke     CI: FILES=200 SIZE_MB=2 N=5 C=2 F=1; checks the
#                                  runs work, not the targets
#
# A private redis-server, coordinator and agent; exec tasks (`true`, or a
# command that edits files) so only the workspace costs differ. Prints a
# table with PASS or MISS per target; with OUT=DIR also writes it there.
set -euo pipefail
project=$(cd "$(dirname "$0")/.." && pwd)
build=${SWARM_BUILD:-$project/build}
case ${1:-} in
    --smoke) FILES=${FILES:-200} SIZE_MB=${SIZE_MB:-2} N=${N:-5} C=${C:-2} F=${F:-1}; smoke=true ;;
    "") FILES=${FILES:-2000} SIZE_MB=${SIZE_MB:-30} N=${N:-20} C=${C:-5} F=${F:-3}; smoke=false ;;
    -h|--help) sed -n 2,22p "$0"; exit 0 ;;
    *) echo "bench/workspace.sh: unknown argument '$1' (--smoke, --help)" >&2; exit 2 ;;
esac
for b in swarm swarm-coordinator swarm-agent; do
    [ -x "$build/$b" ] || { echo "bench/workspace.sh: missing $build/$b" >&2; exit 2; }
done
SWARM="$build/swarm"
T=$(mktemp -d /tmp/swarm-bench-ws.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    [ -n "${KEEP:-}" ] && echo "kept $T" >&2 || rm -rf "$T"
}
trap cleanup EXIT INT TERM
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now_ms() { date +%s%3N; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# --- the repository ------------------------------------------------------------------
R="$T/repo"
python3 - "$R" "$FILES" "$SIZE_MB" <<'PY'
import os, random, sys
root, files, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) << 20
random.seed(16)
words = ["int", "return", "static", "const", "char", "void", "struct", "if", "else", "for",
         "while", "buf", "len", "err", "self", "node", "value", "count", "sw_", "free"]
per = size // files
for i in range(files):
    d = os.path.join(root, "src", f"mod{i % 40:02d}")
    os.makedirs(d, exist_ok=True)
    lines, n = [], 0
    while n < per:
        line = " ".join(random.choice(words) + str(random.randrange(1000)) for _ in range(10))
        lines.append(line)
        n += len(line) + 1
    with open(os.path.join(d, f"file{i:04d}.c"), "w") as f:
        f.write("\n".join(lines) + "\n")
PY
git -C "$R" init -q -b main
git -C "$R" add -A
git -C "$R" -c user.name=b -c user.email=b@e commit -qm generated
size=$(du -sm "$R" --exclude=.git | cut -f1)
echo "repository: $FILES files, ${size} MB in the tree"

# --- git clone from a local bundle: the yardstick ----------------------------------------
git -C "$R" bundle create -q "$T/repo.bundle" --all
clone_ms=()
for i in 1 2 3; do
    t0=$(now_ms)
    git clone -q "$T/repo.bundle" "$T/clone$i"
    clone_ms+=($(( $(now_ms) - t0 )))
done
clone=$(printf '%s\n' "${clone_ms[@]}" | sort -n | sed -n 2p)
echo "git clone from a local bundle: ${clone} ms (median of 3)"

# --- the daemons ---------------------------------------------------------------------
rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$T" >/dev/null 2>&1 &
PIDS+=("$!")
for _ in $(seq 100); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.05; done
export SWARM_REDIS="redis://127.0.0.1:$rport/0"
listen="tcp://127.0.0.1:$(free_port)"
export SWARM_COORDINATOR="tcp://127.0.0.1:$(free_port)"
"$build/swarm-coordinator" -f --listen "$listen" --control "$SWARM_COORDINATOR" 2>"$T/coordinator.log" &
cpid=$!
PIDS+=("$cpid")
for _ in $(seq 100); do "$SWARM" --timeout 1 status >/dev/null 2>&1 && break; sleep 0.05; done
# A host: an agent "bench" with its own, empty, state and work dirs (no
# mirror, no worktree). start_host K: apid is its pid, alog its log, and
# rss0_* the idle RSS of it and of the coordinator.
start_host() {
    mkdir -p "$T/work$1"
    alog="$T/agent$1.log"
    "$build/swarm-agent" -f --coordinator "$listen" --id bench --slots 1 --allow-exec \
        --workdir "$T/work$1" --state-dir "$T/state$1" 2>"$alog" &
    apid=$!
    PIDS+=("$apid")
    for _ in $(seq 200); do "$SWARM" --json agents 2>/dev/null | grep -q '"bench"' && break; sleep 0.05; done
    rss0_agent=$(rss_kb "$apid")
    rss0_coord=$(rss_kb "$cpid")
}
# stops it, and waits until the coordinator has seen it go
stop_host() {
    kill "$apid"
    wait "$apid" 2>/dev/null || true
    for _ in $(seq 200); do "$SWARM" --json agents 2>/dev/null | grep -q '"bench"' || break; sleep 0.05; done
}
start_host 0

# one task, spawned and waited for: its wall time in ms
task() {
    local id=$1; shift
    local t0
    t0=$(now_ms)
    "$SWARM" spawn --id "$id" "$@" >/dev/null
    "$SWARM" wait --timeout 600 "$id" >/dev/null
    echo $(( $(now_ms) - t0 ))
}
p50() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

cd "$R"
"$SWARM" init plain >/dev/null
for i in $(seq "$N"); do task "p$i" -- true; done >"$T/plain.ms"
plain=$(p50 <"$T/plain.ms")
echo "a task without a workspace: ${plain} ms p50 of $N"

"$SWARM" init ws --workspace . 2>"$T/snapshot.txt" >/dev/null
sed 's/^swarm: //' "$T/snapshot.txt"
# the first task on F fresh hosts (the median, as git clone's): each a new
# agent with empty dirs; the last one stays for the rest
for k in $(seq "$F"); do
    if [ "$k" -gt 1 ]; then stop_host; start_host "$k"; fi
    ms=$(task "w0-$k" -- true)
    prep=$(grep -o "ws/w0-$k: worktree at [0-9a-f]* in [0-9]* ms" "$alog" | awk '{print $(NF-1)}')
    echo "$ms $prep"
done >"$T/first.ms"
first_task=$(cut -d' ' -f1 <"$T/first.ms" | p50)
prepared=$(cut -d' ' -f2 <"$T/first.ms" | p50)
first=$(( first_task - plain ))
echo "first task with a workspace on a fresh host: ${first_task} ms p50 of $F ($(cut -d' ' -f1 <"$T/first.ms" | tr '\n' ' ' | sed 's/ $//') ms; +${first} ms; prepare ${prepared} ms)"
for i in $(seq "$N"); do task "w$i" -- true; done >"$T/ws.ms"
further=$(( $(p50 <"$T/ws.ms") - plain ))
echo "further tasks with a workspace: $(p50 <"$T/ws.ms") ms p50 of $N (+${further} ms)"

# capture + upload of a 100-file change: p50 of C tasks, each a change of
# its own (the same bytes again would find their objects stored)
files=$(git ls-files | sed -n 1,100p | tr '\n' ' ')
# CPU of the agent and of its reaped children (helpers, their gits, the
# tasks), from /proc/PID/stat: utime stime cutime cstime, in clock ticks
cpu_ticks() { awk '{print $14 + $15 + $16 + $17}' "/proc/$apid/stat"; }
cpu0=$(cpu_ticks)
for i in $(seq "$C"); do
    task "c$i" -- sh -c "for f in $files; do echo changed $i >>\"\$f\"; done" >/dev/null
    grep -o "ws/c$i: change captured in [0-9]* ms" "$alog" | awk '{print $(NF-1)}'
done >"$T/capture.ms"
capture=$(p50 <"$T/capture.ms")
capture_cpu=$(( ($(cpu_ticks) - cpu0) * 1000 / $(getconf CLK_TCK) / C ))
echo "capture + upload of a 100-file change: ${capture} ms p50 of $C ($(tr '\n' ' ' <"$T/capture.ms"| sed 's/ $//') ms; CPU of the agent, its helpers, gits and tasks: ${capture_cpu} ms a task)"

# swarm apply of 20 tasks' changes (a file each, 20 tasks in a chain)
"$SWARM" init chain --workspace . 2>/dev/null >/dev/null
prev=
for i in $(seq 20); do
    f=$(git ls-files | sed -n "$((i * 7))p")
    "$SWARM" spawn --id "e$i" ${prev:+--after "$prev"} -- sh -c "echo 'edit $i' >>'$f'" >/dev/null
    prev="e$i"
done
"$SWARM" wait --timeout 600 >/dev/null
git clone -q "$R" "$T/target"
cd "$T/target"
t0=$(now_ms)
"$SWARM" apply --job chain >/dev/null
apply=$(( $(now_ms) - t0 ))
[ "$(git status --porcelain | wc -l)" = 20 ] || { echo "apply: not 20 files changed" >&2; exit 1; }
echo "swarm apply of 20 changes: ${apply} ms"

rss1_agent=$(rss_kb "$apid")
rss1_coord=$(rss_kb "$cpid")
echo "RSS KiB: agent ${rss0_agent} -> ${rss1_agent}, coordinator ${rss0_coord} -> ${rss1_coord}"

verdict() { if [ "$1" = 1 ]; then echo PASS; else echo MISS; fi; }
ratio=$(awk -v a="$first" -v b="$clone" 'BEGIN { printf "%.2f", a / b }')
table=$(cat <<EOF
| target | measured | goal | |
|---|---:|---:|---|
| first task on a fresh host, over no workspace, / git clone from a bundle (${clone} ms) | ${ratio}x (+${first} ms) | <= 1.5x | $(verdict "$(awk -v r="$ratio" 'BEGIN { print (r <= 1.5) }')") |
| further tasks, p50 over no workspace (${plain} ms) | +${further} ms | <= 50 ms | $(verdict "$(( further <= 50 ))") |
| capture + upload of a 100-file change, p50 of $C | ${capture} ms | <= 100 ms | $(verdict "$(( capture <= 100 ))") |
| swarm apply of 20 tasks' changes | ${apply} ms | <= 1000 ms | $(verdict "$(( apply <= 1000 ))") |
| RSS of agent / coordinator, before -> after (KiB) | ${rss0_agent} -> ${rss1_agent} / ${rss0_coord} -> ${rss1_coord} | flat | $(verdict "$(( rss1_agent < rss0_agent * 3 / 2 && rss1_coord < rss0_coord * 3 / 2 ))") |
EOF
)
echo
echo "$table"
if [ -n "${OUT:-}" ]; then
    mkdir -p "$OUT"
    echo "$table" >"$OUT/workspace.md"
fi
$smoke && echo "smoke run: the targets are not checked"
exit 0
