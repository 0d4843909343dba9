# tests/fault/lib.sh -- helpers of the fault-injection suite (bash).
#
# On top of tests/lib.sh: every fake-codex call writes "start" and "end"
# lines to a ledger ($FAKE_LEDGER), each injected fault is counted with
# `fault`, and `audit JOB` checks the suite's pass criterion for a job:
#   lost        a task without a final state, or final without the stored
#               result of its final attempt (skipped/cancelled need none)
#   duplicated  a task whose completion fired more than once, or whose
#               stored result belongs to another attempt; a job whose
#               completion with all its tasks fired more than once
#   strays      processes still carrying SWARM_JOB=JOB after the job
# It prints one line of counts, appends it to the suite's summary file
# (fault.summary prints the totals) and fails the test unless lost,
# duplicated and strays are all zero.
. "$(dirname "$0")/../lib.sh"
FAULTS=0
export FAKE_LEDGER="$T/ledger"
: >"$FAKE_LEDGER"
FAULT_SUMMARY=${SWARM_FAULT_SUMMARY:-$SWARM_BUILD/fault-summary.txt}

# fault WHAT: counts one injected fault and says what it was
fault() {
    FAULTS=$((FAULTS + 1))
    echo "fault $FAULTS: $*"
}

# strays JOB: pids of processes whose environment has SWARM_JOB=JOB
strays() {
    grep -lzx "SWARM_JOB=$1" /proc/[0-9]*/environ 2>/dev/null \
        | sed -n 's|/proc/\([0-9]*\)/environ|\1|p' | grep -vx "$$" || true
}

# no_strays JOB: waits up to 5 s for the job's processes to be gone
no_strays() {
    local left
    for _ in $(seq 100); do
        left=$(strays "$1")
        [ -z "$left" ] && return 0
        sleep 0.05
    done
    for p in $left; do ps -o pid,ppid,pgid,sid,args -p "$p" | tail -n +2; done
    return 1
}

# runs JOB ID: how many calls of the task finished their work (ledger)
runs() { grep -c "^end $1 $2 " "$FAKE_LEDGER" || true; }

# audit JOB: see the header
audit() {
    local job=$1 redis_url=${SWARM_REDIS#redis://}
    local port=${redis_url#*:} db
    db=${port#*/}
    port=${port%%/*}
    local nstray=0
    no_strays "$job" || nstray=$(strays "$job" | wc -l)
    local line
    line=$(python3 - "$job" "$port" "$db" "$T/coordinator.log" "$nstray" "$FAULTS" "$TEST_NAME" <<'PY'
import collections, json, os, re, subprocess, sys
job, port, db, log, nstray, faults, name = sys.argv[1:]
def redis_batch(cmds):
    """One redis-cli for many commands: one output line per reply."""
    text = "".join(" ".join('"%s"' % a for a in c) + "\n" for c in cmds)
    out = subprocess.run(["redis-cli", "-p", port, "-n", db, "--raw"], input=text,
                         capture_output=True, text=True, check=True).stdout
    return out.split("\n")[:len(cmds)]
def rkey(*args):
    """A Redis key as common/sw_keys.c builds it (tests/selftest.c)."""
    return subprocess.run([os.environ["SWARM_BUILD"] + "/tests/swarm_selftest", "key", *args],
                          capture_output=True, text=True, check=True).stdout.strip()
ids = subprocess.run(["redis-cli", "-p", port, "-n", db, "--raw", "LRANGE",
                      rkey("tasks", job), "0", "-1"],
                     capture_output=True, text=True, check=True).stdout.split()
task_keys = rkey("task", job, *ids).split("\n") if ids else []
final = {"succeeded", "failed", "timed_out", "cancelled", "lost", "skipped"}
ran = {"succeeded", "failed", "timed_out"}
cmds = []
for key in task_keys:
    cmds += [["HGET", key, "status"], ["HGET", key, "attempt"], ["HGET", key, "result"]]
replies = redis_batch(cmds) if cmds else []
text = open(log, errors="replace").read()
fired = collections.Counter(
    m.group(1) for m in re.finditer(
        rf"task {re.escape(job)}/(\S+) ({'|'.join(final)})(:|\n)", text))
lost, dup, problems = 0, 0, []
for n, i in enumerate(ids):
    status, attempt, raw = replies[3 * n:3 * n + 3]
    attempt = int(attempt or 0)
    if status not in final:
        lost += 1; problems.append(f"{i}: {status or 'missing'}")
        continue
    if status in ran:
        res = json.loads(raw) if raw else None
        if res is None:
            lost += 1; problems.append(f"{i}: {status} without a stored result")
        elif res.get("attempt") != attempt:
            dup += 1; problems.append(f"{i}: stored result of attempt {res.get('attempt')}, task at {attempt}")
    f = fired[i]
    if f != 1 and not (f == 0 and status in ("skipped", "cancelled")):
        dup += f > 1; lost += f == 0
        problems.append(f"{i}: completion fired {f} times")
# A job completes each time its tasks are all final; spawning into it
# again starts a new round. The round with every task must fire once.
jobs_done = len(re.findall(rf"job {re.escape(job)} complete: {len(ids)} tasks?,", text))
if jobs_done != 1:
    dup += jobs_done > 1; lost += jobs_done == 0
    problems.append(f"job completion fired {jobs_done} times")
for p in problems[:20]:
    print("  " + p, file=sys.stderr)
print(f"{name}: tasks={len(ids)} faults={faults} lost={lost} duplicated={dup} strays={nstray}")
PY
) || fail "audit of $job failed"
    echo "fault-suite $line"
    echo "$line" >>"$FAULT_SUMMARY"
    case "$line" in
    *" lost=0 duplicated=0 strays=0") ;;
    *) fail "audit: $line" ;;
    esac
}

# start_private_redis: a redis-server of this test's own, to kill or stop,
# with an append-only file (fsync always) so that a restart keeps the data
# as a production server's would. Sets SWARM_REDIS, REDIS_PORT, REDIS_PID.
start_private_redis() {
    REDIS_PORT=$(free_port)
    mkdir -p "$T/redis"
    export SWARM_REDIS="redis://127.0.0.1:$REDIS_PORT/0"
    redis_up
}

# redis_up: (re)starts the private server on its port and data directory
redis_up() {
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$T/redis" --save '' \
        --appendonly yes --appendfsync always >>"$T/redis.log" 2>&1 &
    REDIS_PID=$!
    PIDS+=("$REDIS_PID")
    for _ in $(seq 100); do
        redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    fail "redis-server did not come up on port $REDIS_PORT"
}

# wait_started JOB ID: until the fake codex of that task has started (its
# ledger line; cheaper and quicker than polling `swarm status`, so short
# tasks are not missed on a slow, sanitized build). 20 s at most.
wait_started() {
    for _ in $(seq 400); do
        grep -q "^start $1 $2 " "$FAKE_LEDGER" && return 0
        sleep 0.05
    done
    fail "task $1/$2 never started"
}
