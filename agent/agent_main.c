/*  swarm-agent -- runs the coordinator's tasks on this machine.
 *
 *  One loop: the link to the coordinator, the pipes and pidfds of the
 *  children, a signalfd and a 100 ms tick (timeouts, escalation, reaping
 *  of orphans, retrying result writes). The agent is a child subreaper, so
 *  tool processes that daemonize out of a task are re-parented here and
 *  reaped, not left to init.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "agent_link.h"
#include "agent_live.h"
#include "agent_metrics.h"
#include "agent_orphans.h"
#include "agent_run.h"
#include "agent_spawn.h"
#include "agent_spool.h"
#include "agent_state.h"
#include "agent_ws.h"
#include "agent_wshelper.h"
#include "sw_ws.h"
#include "sw_curve.h"
#include "sw_http.h"
#include "sw_opts.h"


/*  The wrapper's argument: AS NOFILE PATH ARGV... (PATH: the agent's, to
 *  search ARGV[0] in). The form before it, "--exec-with-limits" AS NOFILE
 *  ARGV..., is still understood: an agent that started before its binary
 *  was upgraded execs the new binary with it. */
#define EXEC_LIMITS_ARG "--exec-with-limits-path"
#define EXEC_LIMITS_ARG_OLD "--exec-with-limits"

typedef struct {
    char      *coordinator;
    char      *id;
    char      *workdir;
    char      *redis;
    char      *redis_password_file;
    char      *codex;
    char      *claude;
    char      *curve_secret;
    char      *coordinator_key;
    char      *spool;
    char      *state_dir;
    long long  slots;
    long long  grace_ms;
    long long  max_output;
    long long  log_ttl_s;       /*  live output streams expire after; 0: none kept */
    long long  drain_timeout_s;
    sw_strv_t  labels;
    sw_strv_t  pass_env;
    sw_strv_t  task_env;        /*  the task variables allowed; empty: all but the denylist */
    sw_strv_t  allow_cmd;       /*  exec: only these programs (implies allow_exec) */
    char      *swarm_cli;       /*  for `swarm mcp` in codex runs */
    long long  claude_max_turns;
    char      *claude_max_budget_usd;
    bool       no_mcp;
    long long  rlimit_as;       /*  bytes; 0 = inherit */
    long long  rlimit_nofile;   /*  0 = inherit */
    bool       allow_exec;
    bool       foreground;
    bool       verbose;
    char      *metrics;         /*  ADDR of /metrics; NULL = off */
    /*  workspaces */
    char      *mirror_dir;
    char      *mirror_cache;    /*  sizes as given (100M, 2G) */
    char      *max_snapshot;
    char      *max_change;
    char      *max_outputs;
    long long  workspace_timeout_s;
    long long  workspace_ttl_s;
    long long  idle_worktrees;  /*  -1: --slots */
    bool       keep_worktrees;
    sw_strv_t  hook;            /*  NAME=PATH: the node owner's hooks around every task */
    long long  hook_timeout_s;
} agent_conf_t;

typedef struct {
    agent_conf_t       *conf;
    zloop_t            *loop;
    agent_link_t       *link;
    agent_state_t      *state;
    agent_spool_t      *spool;
    agent_store_t      *store;
    agent_runs_t       *runs;
    agent_run_conf_t    run_conf;
    agent_runner_conf_t rconf;
    agent_ws_conf_t     ws_conf;
    agent_ws_t         *ws;
    sw_kv_t             labels;
    char                host[256];
    int                 sigfd;
    bool                draining;       /*  finishing what runs, then leaving */
    int64_t             drain_deadline; /*  monotonic; 0 = none */
    int64_t             stop_deadline;  /*  stopping: results of ended runners are stored
                                            until then (monotonic; 0 = not stopping) */
    char                self_exe[4096]; /*  this binary, for the limits trampoline */
    char               *hooks[AGENT_HOOK_COUNT];
    agent_metrics_t    *metrics;
    sw_http_t          *metrics_http;   /*  --metrics */
} agent_t;

static void s_drain(agent_t *self, const char *why);

/*  The runs' reports to the coordinator: ACCEPT and DONE. */
static void
s_report(void *ctx, int cmd, const sw_task_t *t, const char *status, int exit_code,
         bool retryable, bool throttled)
{
    agent_t *self = ctx;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    sw_mp_packer_init(&pk, &sb);
    sw_ref_t r = { .job = t->job, .id = t->id, .attempt = t->attempt, .status = (char *) status,
                   .exit_code = exit_code, .retryable = retryable, .throttled = throttled };
    sw_ref_pack(&pk, &r, cmd == SW_DONE);
    agent_link_send(self->link, cmd, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

/*  USAGE: what a run used so far (agent_run.h says when). */
static void
s_report_usage(void *ctx, const sw_usage_msg_t *m)
{
    agent_t *self = ctx;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    sw_mp_packer_init(&pk, &sb);
    sw_usage_msg_pack(&pk, m);
    agent_link_send(self->link, SW_USAGE, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

/*  --- protocol ---------------------------------------------------------------------- */

static void
s_on_task(agent_t *self, sw_msg_t *m)
{
    sw_err_t err = { 0 };
    sw_task_t t;
    sw_task_init(&t);
    if (sw_task_unpack(m->body, &t, &err) < 0 || sw_task_validate(&t, &err) < 0
        || t.attempt < 1) {
        log_warnx("dropped a malformed TASK: %s", err.msg[0] ? err.msg : "no attempt");
        sw_task_release(&t);
        return;
    }
    agent_runs_start(self->runs, &t);
    sw_task_release(&t);
}

static void
s_on_cancel(agent_t *self, sw_msg_t *m)
{
    sw_err_t err = { 0 };
    sw_ref_t r;
    if (sw_ref_unpack(m->body, &r, false, &err) < 0) {
        log_warnx("dropped a malformed CANCEL: %s", err.msg);
        return;
    }
    agent_runs_cancel(self->runs, r.job, r.id, r.attempt);
    sw_ref_release(&r);
}

/*  --- link callbacks ------------------------------------------------------------------ */

static void
s_hello(void *ctx, sw_hello_t *h)
{
    agent_t *self = ctx;
    h->agent = xstrdup(self->conf->id);
    h->host = xstrdup(self->host);
    h->version = xstrdup(SWARM_VERSION);
    h->slots = self->conf->slots;
    sw_kv_copy(&h->labels, &self->labels);
    sw_strv_push(&h->runners, "codex");
    sw_strv_push(&h->runners, "claude");
    if (self->conf->allow_exec)
        sw_strv_push(&h->runners, "exec");
    agent_runs_list(self->runs, &h->running);
}

static void
s_message(void *ctx, sw_msg_t *m)
{
    agent_t *self = ctx;
    switch (m->cmd) {
    case SW_TASK:   s_on_task(self, m); break;
    case SW_CANCEL: s_on_cancel(self, m); break;
    case SW_DRAIN:  s_drain(self, "the coordinator asked"); break;
    default:
        log_warnx("ignored %s from the coordinator", sw_cmd_name(m->cmd));
    }
}

/*  --- loop ---------------------------------------------------------------------------- */

/*  Leaving now, but not with a finished task's result: a run whose runner
 *  has ended (its post-task hook is stopped) is stored first, for at most
 *  the kill grace and 5 s; the tasks still running are killed on the way
 *  out and run again. 0 to go on looping, -1 to leave. */
static int
s_stop(agent_t *self)
{
    int64_t now = sw_now_ms();
    size_t n = agent_runs_finish_results(self->runs, now);
    if (n && !self->stop_deadline) {
        self->stop_deadline = now + self->conf->grace_ms + 5000;
        if (!self->draining) {
            self->draining = true;      /*  no new tasks meanwhile */
            agent_link_send(self->link, SW_DRAIN, "\x80", 1);
        }
        log_info("stopping: storing the result of %zu finished task(s) first", n);
    }
    if (n && now < self->stop_deadline)
        return 0;
    if (n)
        log_warnx("leaving with %zu finished task result(s) not stored", n);
    return -1;
}

static int
s_on_tick(zloop_t *loop, int timer_id, void *arg)
{
    agent_t *self = arg;
    int64_t now = sw_now_ms();
    agent_runs_tick(self->runs, now);
    if (self->stop_deadline)
        return s_stop(self);
    if (self->draining && agent_runs_count(self->runs) == 0) {
        log_info("drained: every task finished; leaving");
        return -1;
    }
    if (self->draining && self->drain_deadline && now >= self->drain_deadline) {
        log_warnx("drain timeout: stopping %zu task(s); the coordinator runs them again",
                  agent_runs_count(self->runs));
        return s_stop(self);
    }
    (void) loop;
    (void) timer_id;
    return 0;
}

/*  Takes no new tasks, tells the coordinator so, and leaves once the
 *  running ones are done (the tick checks). */
static void
s_drain(agent_t *self, const char *why)
{
    if (self->draining)
        return;
    self->draining = true;
    if (self->conf->drain_timeout_s)
        self->drain_deadline = sw_now_ms() + self->conf->drain_timeout_s * 1000;
    agent_link_send(self->link, SW_DRAIN, "\x80", 1);
    log_info("draining (%s): %zu task(s) to finish, no new ones; SIGTERM again to stop them",
             why, agent_runs_count(self->runs));
}

/*  The first SIGTERM drains (running tasks finish, no new ones); the
 *  second, or SIGINT, stops now: tasks are killed and requeued. */
static int
s_on_signal(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    agent_t *self = arg;
    struct signalfd_siginfo si;
    if (read(item->fd, &si, sizeof si) != sizeof si)
        return 0;
    if (si.ssi_signo == SIGTERM && !self->draining && agent_runs_count(self->runs) > 0) {
        s_drain(self, "SIGTERM");
        return 0;
    }
    log_info("caught signal %d: stopping", (int) si.ssi_signo);
    (void) loop;
    /*  a signal while stopping already: leave at once */
    return self->stop_deadline ? -1 : s_stop(self);
}

static const char s_usage[] =
    "usage: swarm-agent [-c FILE] [--coordinator EP] [--id NAME] [--slots N] [--label K=V]...\n"
    "                   [--workdir DIR] [--redis URL] [--codex PATH] [--claude PATH]\n"
    "                   [--allow-exec] [--allow-cmd PATTERN]... [--pass-env NAME]...\n"
    "                   [--task-env PATTERN]... [--hook pre-task|post-task=PATH]...\n"
    "                   [--hook-timeout S]\n"
    "                   [--swarm-cli PATH | --no-mcp] [--claude-max-turns N]\n"
    "                   [--claude-max-budget-usd USD] [--rlimit-as BYTES]\n"
    "                   [--rlimit-nofile N] [--state-dir DIR] [--spool DIR]\n"
    "                   [--redis-password-file FILE] [--keep-worktrees]\n"
    "                   [--mirror-dir DIR] [--mirror-cache SIZE] [--max-snapshot SIZE]\n"
    "                   [--max-change SIZE] [--max-outputs SIZE] [--idle-worktrees N]\n"
    "                   [--workspace-timeout S] [--workspace-ttl S]\n"
    "                   [--curve-secret FILE --coordinator-key FILE] [--metrics ADDR]\n"
    "                   [-f] [-v]\n"
    "\n"
    "Runs the coordinator's tasks on this machine, at most --slots at once, each in\n"
    "its own process group with a timeout, and stores every result in Redis.\n";

static const sw_opt_t s_opts[] = {
    { "coordinator", 'C', SW_OPT_STR, offsetof(agent_conf_t, coordinator), 0, 0, "EP",
      "coordinator endpoint (default $SWARM_AGENT_COORDINATOR or tcp://127.0.0.1:7700)" },
    { "id", 0, SW_OPT_STR, offsetof(agent_conf_t, id), 0, 0, "NAME",
      "agent id (default: the host name)" },
    { "slots", 's', SW_OPT_INT, offsetof(agent_conf_t, slots), 1, 4096, "N",
      "tasks run at once (default: number of CPUs)" },
    { "label", 'L', SW_OPT_LIST, offsetof(agent_conf_t, labels), 0, 0, "K=V",
      "placement label, repeatable (e.g. os=linux)" },
    { "workdir", 'w', SW_OPT_STR, offsetof(agent_conf_t, workdir), 0, 0, "DIR",
      "where tasks run (default: the current directory)" },
    { "redis-password-file", 0, SW_OPT_STR, offsetof(agent_conf_t, redis_password_file), 0, 0,
      "FILE", "Redis password from this file (not the command line)" },
    { "redis", 'r', SW_OPT_STR, offsetof(agent_conf_t, redis), 0, 0, "URL",
      "Redis URL (default $SWARM_REDIS or " SW_REDIS_DEFAULT ")" },
    { "codex", 0, SW_OPT_STR, offsetof(agent_conf_t, codex), 0, 0, "PATH",
      "codex binary (default: codex on PATH)" },
    { "claude", 0, SW_OPT_STR, offsetof(agent_conf_t, claude), 0, 0, "PATH",
      "claude binary (default: claude on PATH)" },
    { "allow-exec", 0, SW_OPT_FLAG, offsetof(agent_conf_t, allow_exec), 0, 0, NULL,
      "run plain commands (exec runner)" },
    { "swarm-cli", 0, SW_OPT_STR, offsetof(agent_conf_t, swarm_cli), 0, 0, "PATH",
      "the swarm CLI codex and claude workers run as their MCP server (default: beside this "
      "program)" },
    { "claude-max-turns", 0, SW_OPT_INT, offsetof(agent_conf_t, claude_max_turns), 1, 10000, "N",
      "claude --max-turns: default and ceiling per task" },
    { "claude-max-budget-usd", 0, SW_OPT_STR, offsetof(agent_conf_t, claude_max_budget_usd), 0,
      0, "USD", "claude --max-budget-usd: default and ceiling per task" },
    { "no-mcp", 0, SW_OPT_FLAG, offsetof(agent_conf_t, no_mcp), 0, 0, NULL,
      "do not give codex and claude workers the shared memory as MCP tools" },
    { "allow-cmd", 0, SW_OPT_LIST, offsetof(agent_conf_t, allow_cmd), 0, 0, "PATTERN",
      "run only exec tasks whose program matches (glob; repeatable; implies --allow-exec)" },
    { "kill-grace-ms", 0, SW_OPT_INT, offsetof(agent_conf_t, grace_ms), 0, 600000, "MS",
      "between the stop signal and SIGKILL (default 5000)" },
    { "max-output", 0, SW_OPT_INT, offsetof(agent_conf_t, max_output), 1024, 256 << 20, "BYTES",
      "output kept per task, head + tail (default 1048576)" },
    { "log-ttl", 0, SW_OPT_INT, offsetof(agent_conf_t, log_ttl_s), 0, 365LL * 86400, "S",
      "tasks' live output streams in Redis expire S s after their last line (default "
      "604800, a week; 0: no live output)" },
    { "drain-timeout", 0, SW_OPT_INT, offsetof(agent_conf_t, drain_timeout_s), 0, 7 * 86400, "S",
      "when draining, stop what still runs after S s (default 0: wait)" },
    { "pass-env", 0, SW_OPT_LIST, offsetof(agent_conf_t, pass_env), 0, 0, "NAME|PREFIX*",
      "also pass this variable of ours to tasks (repeatable; '*' passes all)" },
    { "task-env", 0, SW_OPT_LIST, offsetof(agent_conf_t, task_env), 0, 0, "NAME|PREFIX*",
      "the task variables allowed (repeatable; default: all but the list above)" },
    { "hook", 0, SW_OPT_LIST, offsetof(agent_conf_t, hook), 0, 0, "NAME=PATH",
      "the node owner's program around every task: pre-task=PATH or post-task=PATH" },
    { "hook-timeout", 0, SW_OPT_INT, offsetof(agent_conf_t, hook_timeout_s), 1, 86400, "S",
      "stop a hook after S s (default 300)" },
    { "rlimit-as", 0, SW_OPT_INT, offsetof(agent_conf_t, rlimit_as), 0, 1LL << 50, "BYTES",
      "address-space limit of every task (default: inherited)" },
    { "rlimit-nofile", 0, SW_OPT_INT, offsetof(agent_conf_t, rlimit_nofile), 0, 1 << 20, "N",
      "open-file limit of every task (default: inherited)" },
    { "state-dir", 0, SW_OPT_STR, offsetof(agent_conf_t, state_dir), 0, 0, "DIR",
      "the agent's private files, never under --workdir (default $STATE_DIRECTORY, else "
      "/var/lib/swarm-agent/ID as root, else ${XDG_STATE_HOME:-~/.local/state}/swarm-agent/ID)" },
    { "spool", 0, SW_OPT_STR, offsetof(agent_conf_t, spool), 0, 0, "DIR",
      "results wait here while Redis is down (default STATE_DIR/spool)" },
    { "curve-secret", 0, SW_OPT_STR, offsetof(agent_conf_t, curve_secret), 0, 0, "FILE",
      "this agent's CURVE secret certificate (swarm keygen); with --coordinator-key" },
    { "coordinator-key", 0, SW_OPT_STR, offsetof(agent_conf_t, coordinator_key), 0, 0, "FILE",
      "the coordinator's public certificate (NAME.cert)" },
    { "metrics", 0, SW_OPT_STR, offsetof(agent_conf_t, metrics), 0, 0, "ADDR",
      "serve Prometheus /metrics on ADDR (PORT = 127.0.0.1:PORT, HOST:PORT, [V6]:PORT)" },
    { "keep-worktrees", 0, SW_OPT_FLAG, offsetof(agent_conf_t, keep_worktrees), 0, 0, NULL,
      "workspaces: leave every worktree as its task left it (debugging)" },
    { "idle-worktrees", 0, SW_OPT_INT, offsetof(agent_conf_t, idle_worktrees), 0, 4096, "N",
      "workspaces: finished worktrees kept for the next task (default: --slots; 0 removes "
      "each when its result is stored)" },
    { "mirror-dir", 0, SW_OPT_STR, offsetof(agent_conf_t, mirror_dir), 0, 0, "DIR",
      "workspaces: the repository mirrors (default STATE_DIR/ws/mirrors; agents on one host "
      "may share one)" },
    { "mirror-cache", 0, SW_OPT_STR, offsetof(agent_conf_t, mirror_cache), 0, 0, "SIZE",
      "workspaces: mirrors on disk, least recently used evicted first (default 10G)" },
    { "max-snapshot", 0, SW_OPT_STR, offsetof(agent_conf_t, max_snapshot), 0, 0, "SIZE",
      "workspaces: what one task may fetch from Redis (default 1G)" },
    { "max-change", 0, SW_OPT_STR, offsetof(agent_conf_t, max_change), 0, 0, "SIZE",
      "workspaces: one task's change (default 256M)" },
    { "max-outputs", 0, SW_OPT_STR, offsetof(agent_conf_t, max_outputs), 0, 0, "SIZE",
      "workspaces: one task's build outputs (default 1G)" },
    { "workspace-timeout", 0, SW_OPT_INT, offsetof(agent_conf_t, workspace_timeout_s), 1,
      7 * 86400, "S", "workspaces: one preparation or capture (default 600)" },
    { "workspace-ttl", 0, SW_OPT_INT, offsetof(agent_conf_t, workspace_ttl_s), 60,
      10 * 365 * 86400LL, "S", "workspaces: how long stored changes and outputs live after "
      "their last use (default 2592000: 30 days)" },
    { "foreground", 'f', SW_OPT_FLAG, offsetof(agent_conf_t, foreground), 0, 0, NULL,
      "stay in the foreground and log to stderr" },
    { "verbose", 'v', SW_OPT_FLAG, offsetof(agent_conf_t, verbose), 0, 0, NULL,
      "log debug messages" },
    { NULL, 0, 0, 0, 0, 0, NULL, NULL },
};

static agent_conf_t s_conf;

/*  /metrics: what is true now, from the runs. */
static void
s_render_metrics(void *arg, sw_buf_t *out)
{
    agent_t *self = arg;
    agent_metrics_now_t now = { .slots = (int) self->conf->slots,
                                .connected = agent_link_welcomed(self->link) };
    agent_runs_gauges(self->runs, &now);
    agent_metrics_render(self->metrics, &now, out);
}

/*  Whether libzmq can connect to EP at all (a usage error otherwise, not
 *  a reconnect loop). A context of its own, ended before the agent forks
 *  or starts czmq: it leaves no thread behind. */
static int
s_check_endpoint(const char *ep)
{
    void *ctx = zmq_ctx_new();
    void *sock = ctx ? zmq_socket(ctx, ZMQ_DEALER) : NULL;
    int rc = sock ? zmq_connect(sock, ep) : -1;
    int e = zmq_errno(), linger = 0;
    if (sock) {
        zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
        zmq_close(sock);
    }
    if (ctx)
        zmq_ctx_term(ctx);
    errno = e;
    return rc;
}

/*  swarm-agent --exec-with-limits-path AS NOFILE PATH ARGV...: set the
 *  limits, then become ARGV (looked up in the agent's PATH given, as
 *  agent_spawn does: a file without "#!" is ENOEXEC, not run by /bin/sh).
 *  OLD (--exec-with-limits AS NOFILE ARGV..., from an agent started
 *  before an upgrade): ARGV looked up in this process's PATH, the
 *  task's, as that agent's wrapper did. Only the agent starts it. */
static int
s_exec_with_limits(int argc, char **argv, bool old)
{
    if (argc < (old ? 5 : 6))
        return 127;
    const char *path = old ? agent_spawn_path() : argv[4];
    char **cmd = argv + (old ? 4 : 5);
    long long as = atoll(argv[2]), nofile = atoll(argv[3]);
    struct rlimit rl;
    if (as > 0) {
        rl.rlim_cur = rl.rlim_max = (rlim_t) as;
        if (setrlimit(RLIMIT_AS, &rl) < 0)
            fprintf(stderr, "swarm-agent: RLIMIT_AS %lld: %s\n", as, strerror(errno));
    }
    if (nofile > 0) {
        rl.rlim_cur = rl.rlim_max = (rlim_t) nofile;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            fprintf(stderr, "swarm-agent: RLIMIT_NOFILE %lld: %s\n", nofile, strerror(errno));
    }
    agent_spawn_exec(path, cmd, environ);
    fprintf(stderr, "swarm-agent: %s: %s\n", cmd[0], strerror(errno));
    return 127;
}

/*  An agent id names its directories and is shown as a path: "a//b",
 *  "a/" and "x/../.." are refused, though a task or job id may be them
 *  (those only ever go into paths hashed). */
static bool
s_id_parts_ok(const char *id)
{
    for (const char *p = id;; ) {
        size_t n = strcspn(p, "/");
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return false;
        if (!p[n])
            return true;
        p += n + 1;
    }
}

int
main(int argc, char **argv)
{
    if (sw_stdio_open() < 0)
        return 1;                       /*  no /dev/null: nowhere to say so */
    /*  SIGCHLD at its default whatever the agent was started with, first
     *  (its own gits are waited for too): ignored (a wrapper's `trap ''
     *  CHLD`, a service manager's), the kernel reaps every child at once,
     *  waitpid never reports one, and every task stayed running for good
     *  (e2e.sigdefault). */
    signal(SIGCHLD, SIG_DFL);
    if (argc > 1 && strcmp(argv[1], EXEC_LIMITS_ARG) == 0)
        return s_exec_with_limits(argc, argv, false);
    if (argc > 1 && strcmp(argv[1], EXEC_LIMITS_ARG_OLD) == 0)
        return s_exec_with_limits(argc, argv, true);
    if (argc > 1 && strcmp(argv[1], AGENT_WS_HELPER_ARG) == 0)
        return agent_wshelper_main(argc, argv);
    const char *env_redis = getenv("SWARM_REDIS");
    s_conf.grace_ms = 5000;
    s_conf.hook_timeout_s = AGENT_HOOK_TIMEOUT_S;
    s_conf.max_output = 1 << 20;
    s_conf.log_ttl_s = AGENT_LIVE_TTL_S;
    s_conf.idle_worktrees = -1;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    s_conf.slots = cpus > 0 ? cpus : 1;
    sw_err_t err = { 0 };
    /*  --help lists the task variables refused by default. */
    sw_buf_t usage;
    sw_buf_init(&usage);
    sw_buf_addstr(&usage, s_usage);
    sw_buf_addstr(&usage, "\nA task's own variables (its --env) pass, except those that could make a "
                  "runner\nor a tool it starts run code the task chose, or send the runners' "
                  "keys\nelsewhere; these pass only when --task-env names them (e.g. --task-env\n"
                  "NODE_OPTIONS; '*' is not enough):\n ");
    size_t col = 1;
    const char *reason;
    for (size_t i = 0; agent_env_denylist(i, &reason); i++) {
        const char *pat = agent_env_denylist(i, &reason);
        if (col + strlen(pat) + 1 > 79) {
            sw_buf_addstr(&usage, "\n ");
            col = 1;
        }
        sw_buf_printf(&usage, " %s", pat);
        col += strlen(pat) + 1;
    }
    sw_buf_addstr(&usage, "\n(GIT_AUTHOR_* and GIT_COMMITTER_* pass.) With --task-env, only the names "
                  "its\npatterns match pass. Exec tasks on an agent with --allow-exec and "
                  "without\n--allow-cmd may set any: they run any program anyway.\n");
    int rc = sw_opts_parse(s_opts, &s_conf, argc, argv, usage.data, &err);
    sw_buf_release(&usage);
    if (rc != 0) {
        if (rc < 0)
            fprintf(stderr, "swarm-agent: %s\n", err.msg);
        return rc < 0 ? 2 : 0;
    }
    if (!s_conf.curve_secret != !s_conf.coordinator_key) {
        fprintf(stderr, "swarm-agent: CURVE needs both --curve-secret FILE and "
                        "--coordinator-key FILE\n");
        return 2;
    }
    if (s_conf.curve_secret) {
        char key[41];
        zcert_t *mine = sw_curve_load_secret(s_conf.curve_secret, &err);
        if (!mine) {
            fprintf(stderr, "swarm-agent: --curve-secret %s\n", err.msg);
            return 2;
        }
        zcert_destroy(&mine);
        if (sw_curve_load_public(s_conf.coordinator_key, key, &err) < 0) {
            fprintf(stderr, "swarm-agent: --coordinator-key %s\n", err.msg);
            return 2;
        }
    }
    agent_t self = { .conf = &s_conf, .sigfd = -1 };
    gethostname(self.host, sizeof self.host - 1);
    for (size_t i = 0; i < s_conf.labels.n; i++) {
        char *eq = strchr(s_conf.labels.v[i], '=');
        if (!eq || eq == s_conf.labels.v[i]) {
            fprintf(stderr, "swarm-agent: --label wants K=V, got '%s'\n", s_conf.labels.v[i]);
            return 2;
        }
        *eq = '\0';
        sw_kv_set(&self.labels, s_conf.labels.v[i], eq + 1);
        *eq = '=';
    }
    const char *env_coordinator = getenv("SWARM_AGENT_COORDINATOR");
    if (!s_conf.coordinator)
        s_conf.coordinator = xstrdup(env_coordinator && *env_coordinator ? env_coordinator
                                                                         : "tcp://127.0.0.1:7700");
    /*  An empty value (a config line "state-dir =") would be the current
     *  directory; a pattern that can match nothing would refuse or drop
     *  every variable without a word. */
    const char *dir_opts[] = { "--state-dir", s_conf.state_dir, "--spool", s_conf.spool };
    for (size_t i = 0; i < 4; i += 2)
        if (dir_opts[i + 1] && !*dir_opts[i + 1]) {
            fprintf(stderr, "swarm-agent: %s needs a directory\n", dir_opts[i]);
            return 2;
        }
    const struct { const char *opt; const sw_strv_t *v; } pattern_opts[] = {
        { "--task-env", &s_conf.task_env }, { "--pass-env", &s_conf.pass_env },
    };
    for (size_t i = 0; i < 2; i++)
        for (size_t k = 0; k < pattern_opts[i].v->n; k++)
            if (!agent_env_pattern_valid(pattern_opts[i].v->v[k])) {
                fprintf(stderr, "swarm-agent: %s '%s': a pattern is NAME, PREFIX* or * (no "
                        "'=')\n", pattern_opts[i].opt, pattern_opts[i].v->v[k]);
                return 2;
            }
    for (size_t k = 0; k < s_conf.allow_cmd.n; k++)
        if (!*s_conf.allow_cmd.v[k]) {
            fprintf(stderr, "swarm-agent: --allow-cmd '': an empty pattern allows no program\n");
            return 2;
        }
    if (!s_conf.redis)
        s_conf.redis = xstrdup(env_redis && *env_redis ? env_redis : SW_REDIS_DEFAULT);
    if (!s_conf.id)
        s_conf.id = xstrdup(self.host);
    if (!sw_id_valid(s_conf.id)) {
        fprintf(stderr, "swarm-agent: invalid --id '%s' (1-%d characters of A-Z a-z 0-9 . _ - "
                "/ : @ +, not starting with - or .)\n", s_conf.id, SW_MAX_ID);
        return 2;
    }
    if (!s_id_parts_ok(s_conf.id)) {
        fprintf(stderr, "swarm-agent: invalid --id '%s': a part between '/' may not be empty, "
                "'.' or '..'\n", s_conf.id);
        return 2;
    }
    if (s_check_endpoint(s_conf.coordinator) < 0) {
        fprintf(stderr, "swarm-agent: invalid --coordinator '%s' (tcp://HOST:PORT, ipc://PATH): "
                "%s\n", s_conf.coordinator, zmq_strerror(errno));
        return 2;
    }
    if (!s_conf.codex)
        s_conf.codex = xstrdup("codex");
    if (!s_conf.claude)
        s_conf.claude = xstrdup("claude");
    char resolved[PATH_MAX], cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) {
        fprintf(stderr, "swarm-agent: the current directory: %s\n", strerror(errno));
        return 1;
    }
    if (!realpath(s_conf.workdir ? s_conf.workdir : ".", resolved)) {
        fprintf(stderr, "swarm-agent: --workdir %s: %s\n", s_conf.workdir, strerror(errno));
        return 2;
    }
    free(s_conf.workdir);
    s_conf.workdir = xstrdup(resolved);
    /*  The node owner's hooks: checked before anything starts. */
    if (agent_hooks_parse(&s_conf.hook, s_conf.workdir, self.hooks, &err) < 0) {
        fprintf(stderr, "swarm-agent: %s\n", err.msg);
        return 2;
    }
    if (s_conf.redis_password_file && sw_redis_password_file(s_conf.redis_password_file, &err) < 0) {
        fprintf(stderr, "swarm-agent: %s\n", err.msg);
        return 2;
    }
    sw_redis_url_t url;
    if (sw_redis_url_parse(s_conf.redis, &url, &err) < 0) {
        fprintf(stderr, "swarm-agent: %s\n", err.msg);
        return 2;
    }
    sw_redis_url_release(&url);
    struct sockaddr_storage maddr;
    socklen_t mlen;
    if (s_conf.metrics && sw_http_parse_addr(s_conf.metrics, &maddr, &mlen, &err) < 0) {
        fprintf(stderr, "swarm-agent: --metrics: %s\n", err.msg);
        return 2;
    }

    long long budget_cents = 0;
    if (s_conf.claude_max_budget_usd
        && sw_parse_usd(s_conf.claude_max_budget_usd, SW_MAX_BUDGET_CENTS, &budget_cents) < 0) {
        fprintf(stderr, "swarm-agent: --claude-max-budget-usd wants dollars with at most two "
                "decimals (e.g. 2.50), got '%s'\n", s_conf.claude_max_budget_usd);
        return 2;
    }
    /*  Workspace sizes: checked now, not at the first task. */
    uint64_t sizes[4] = { 0 };
    const char *size_names[] = { "--mirror-cache", "--max-snapshot", "--max-change",
                                 "--max-outputs" };
    char *size_args[] = { s_conf.mirror_cache, s_conf.max_snapshot, s_conf.max_change,
                          s_conf.max_outputs };
    for (int i = 0; i < 4; i++)
        /*  0 is refused: it read as "not given", the default, silently */
        if (size_args[i] && (sw_parse_size(size_args[i], &sizes[i]) < 0 || sizes[i] == 0)) {
            fprintf(stderr, "swarm-agent: %s wants a size above 0 (bytes, or 512K, 100M, 2G), "
                    "got '%s'\n",
                    size_names[i], size_args[i]);
            return 2;
        }
    /*  The agent's own files: out of every task's reach. */
    if (!s_conf.state_dir) {
        s_conf.state_dir = agent_state_default(s_conf.id, geteuid(), getenv("STATE_DIRECTORY"),
                                               getenv("XDG_STATE_HOME"), getenv("HOME"), &err);
        if (!s_conf.state_dir) {
            fprintf(stderr, "swarm-agent: %s\n", err.msg);
            return 2;
        }
    }
    if (s_conf.state_dir[0] != '/') {
        char *abs = xasprintf("%s/%s", cwd, s_conf.state_dir);
        free(s_conf.state_dir);
        s_conf.state_dir = abs;
    }
    agent_state_t *state = agent_state_open(s_conf.state_dir, s_conf.workdir, &err);
    if (!state) {
        fprintf(stderr, "swarm-agent: %s\n", err.msg);
        return err.code == SW_EINVAL ? 2 : 1;
    }
    /*  Where the spool will be, checked before anything is made there. */
    char *spool_dir = s_conf.spool ? agent_path_resolve(s_conf.spool)
                                   : xasprintf("%s/spool", agent_state_dir(state));
    agent_spool_t *spool = NULL;
    if (!spool_dir)
        sw_err_set(&err, SW_EFAIL, "--spool %s: %s", s_conf.spool, strerror(errno));
    else if (agent_path_inside(spool_dir, s_conf.workdir)
             || agent_path_inside(s_conf.workdir, spool_dir))
        sw_err_set(&err, SW_EINVAL, "--spool %s and --workdir %s overlap: tasks write under "
                   "the workdir, and the spool must be out of their reach", spool_dir,
                   s_conf.workdir);
    else if (!(spool = agent_spool_new(spool_dir, state, &err))) {
        char why[sizeof err.msg];
        memcpy(why, err.msg, sizeof why);
        sw_err_set(&err, err.code, "--spool %s", why);
    }
    if (!spool) {
        fprintf(stderr, "swarm-agent: %s\n", err.msg);
        free(spool_dir);
        agent_state_destroy(&state);
        return err.code == SW_EINVAL ? 2 : 1;
    }
    free(s_conf.spool);
    s_conf.spool = spool_dir;

    log_init("swarm-agent", s_conf.foreground, s_conf.verbose);
    if (!s_conf.foreground && daemon(1, 0) < 0)
        fatal("daemon");
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
        log_warn("PR_SET_CHILD_SUBREAPER");
    /*  The coordinator runs again what an agent that died was running:
     *  what it left behind must not run on beside the new attempt. */
    int left = agent_orphans_leftovers(s_conf.id);
    if (left > 0)
        log_warnx("killed %d process(es) an earlier agent %s left running", left, s_conf.id);

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    self.sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (self.sigfd < 0)
        fatal("signalfd");
    zsys_handler_set(NULL);
    zsys_init();

    ssize_t len = readlink("/proc/self/exe", self.self_exe, sizeof self.self_exe - 1);
    if (len <= 0 && (s_conf.rlimit_as || s_conf.rlimit_nofile))
        fatal("cannot find this program for --rlimit-*: /proc/self/exe");
    self.self_exe[len > 0 ? len : 0] = '\0';
    s_conf.allow_exec = s_conf.allow_exec || s_conf.allow_cmd.n > 0;
    for (size_t i = 0; i < s_conf.task_env.n; i++) {
        const char *which = NULL, *why = NULL;
        if (agent_env_pattern_admits_denied(s_conf.task_env.v[i], &which)) {
            agent_env_denied(which, strlen(which) - (which[strlen(which) - 1] == '*'), &why);
            log_warnx("--task-env %s lets tasks set %s, refused by default: %s",
                      s_conf.task_env.v[i], which, why ? why : "");
        }
    }
    char *mcp = NULL, *password_file = NULL;
    if (!s_conf.no_mcp) {
        char *dir = xstrdup(self.self_exe);
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = '\0';
        mcp = s_conf.swarm_cli ? xstrdup(s_conf.swarm_cli) : xasprintf("%s/swarm", dir);
        free(dir);
        if (access(mcp, X_OK) < 0) {
            log_warnx("no swarm CLI at %s: codex workers get no memory tools (--swarm-cli)", mcp);
            free(mcp);
            mcp = NULL;
        }
    }
    if (s_conf.redis_password_file)
        password_file = realpath(s_conf.redis_password_file, NULL);
    self.rconf = (agent_runner_conf_t) { .codex = s_conf.codex, .claude = s_conf.claude,
                                         .allow_exec = s_conf.allow_exec,
                                         .allow_cmd = &s_conf.allow_cmd, .mcp = mcp,
                                         .redis_url = s_conf.redis,
                                         .redis_password_file = password_file,
                                         .agent_id = s_conf.id,
                                         .claude_max_turns = s_conf.claude_max_turns,
                                         .claude_max_budget_cents = budget_cents };
    self.run_conf = (agent_run_conf_t) { .agent_id = s_conf.id, .host = self.host,
                                         .workdir = s_conf.workdir, .self_exe = self.self_exe,
                                         .exec_limits_arg = EXEC_LIMITS_ARG,
                                         .state = state, .spool_dir = spool_dir,
                                         .runner = &self.rconf, .pass_env = &s_conf.pass_env,
                                         .env_policy = { &s_conf.task_env, s_conf.allow_exec,
                                                         s_conf.allow_cmd.n > 0 },
                                         .slots = s_conf.slots, .grace_ms = s_conf.grace_ms,
                                         .max_output = s_conf.max_output,
                                         .rlimit_as = s_conf.rlimit_as,
                                         .rlimit_nofile = s_conf.rlimit_nofile,
                                         .hooks = { self.hooks[AGENT_HOOK_PRE_TASK],
                                                    self.hooks[AGENT_HOOK_POST_TASK] },
                                         .hook_timeout_ms = s_conf.hook_timeout_s * 1000,
                                         .redis_url = s_conf.redis,
                                         .log_ttl_s = s_conf.log_ttl_s };
    /*  Worktrees below the workdir (where tasks write), one directory per
     *  agent id; mirrors, indexes and requests in the state dir. */
    char *id_dir = agent_id_dirname(s_conf.id, &err);
    if (!id_dir)
        fatalx("workspaces: %s", err.msg);
    /*  One name per id, as the state dir's: agent "a" and agent "a/1"
     *  on one workdir once shared a directory ("a"'s slot 1 was "a/1"'s
     *  root), and the start's sweep of one removed the other's live
     *  worktrees (issue 16 attack, e2e.ws_home). */
    char *ws_root = xasprintf("%s/swarm-worktrees/%s", s_conf.workdir, id_dir);
    free(id_dir);
    self.ws_conf = (agent_ws_conf_t) {
        .agent_id = s_conf.id, .self_exe = self.self_exe, .state_dir = agent_state_dir(state),
        .mirrors = s_conf.mirror_dir, .root = ws_root, .redis_url = s_conf.redis,
        .password_file = password_file, .mirror_cache = sizes[0], .max_snapshot = sizes[1],
        .max_change = sizes[2], .max_outputs = sizes[3],
        .ttl_s = s_conf.workspace_ttl_s, .timeout_ms = s_conf.workspace_timeout_s * 1000,
        .idle = s_conf.idle_worktrees >= 0 ? (long) s_conf.idle_worktrees : (long) s_conf.slots,
        .keep = s_conf.keep_worktrees };
    self.ws = agent_ws_new(&self.ws_conf, &err);
    if (!self.ws)
        fatalx("workspaces: %s", err.msg);
    self.run_conf.ws = self.ws;
    self.loop = zloop_new();
    zloop_set_nonstop(self.loop, true);
    self.metrics = agent_metrics_new();
    self.run_conf.metrics = self.metrics;
    if (s_conf.metrics
        && !(self.metrics_http = sw_http_metrics_new(self.loop, s_conf.metrics, s_render_metrics,
                                                     &self, &err)))
        fatalx("--metrics: %s", err.msg);
    self.state = state;
    self.spool = spool;
    self.store = agent_store_new(s_conf.redis, spool);
    self.runs = agent_runs_new(self.loop, &self.run_conf, self.store, s_report, &self);
    agent_runs_set_usage(self.runs, s_report_usage);
    agent_store_redis(self.store);
    int spooled = agent_runs_unspool(self.runs);
    if (spooled > 0)
        log_info("%d result(s) in the spool %s", spooled, s_conf.spool);
    agent_link_ops_t ops = { s_hello, s_message };
    self.link = agent_link_new(self.loop, s_conf.coordinator, s_conf.curve_secret,
                               s_conf.coordinator_key, &ops, &self);
    zmq_pollitem_t sig = { NULL, self.sigfd, ZMQ_POLLIN, 0 };
    zloop_poller(self.loop, &sig, s_on_signal, &self);
    zloop_timer(self.loop, 100, 0, s_on_tick, &self);
    log_info("agent %s on %s: %lld slots, coordinator %s, workdir %s, state %s%s", s_conf.id,
             self.host, s_conf.slots, s_conf.coordinator, s_conf.workdir,
             agent_state_dir(state),
             s_conf.allow_cmd.n ? ", exec allowed for --allow-cmd programs"
             : s_conf.allow_exec ? ", exec allowed" : "");
    for (int h = 0; h < AGENT_HOOK_COUNT; h++)
        if (self.hooks[h])
            log_info("%s hook: %s (timeout %lld s)", agent_hook_name(h), self.hooks[h],
                     s_conf.hook_timeout_s);
    /*  codex's workspace-write sandbox lets the model write /tmp and the
     *  TMPDIR it inherits (ours): state there is in a task's reach. */
    const char *tmp_dirs[] = { "/tmp", getenv("TMPDIR") };
    for (size_t i = 0; i < 2; i++) {
        char *tmp = tmp_dirs[i] && tmp_dirs[i][0] == '/' ? realpath(tmp_dirs[i], NULL) : NULL;
        const char *mine = !tmp ? NULL
                         : agent_path_inside(agent_state_dir(state), tmp) ? agent_state_dir(state)
                         : agent_path_inside(spool_dir, tmp) ? spool_dir : NULL;
        if (mine)
            log_warnx("%s is under %s, which codex's workspace-write sandbox lets tasks "
                      "write: give the agent's state a place of its own (--state-dir, --spool)",
                      mine, tmp);
        free(tmp);
        if (mine)
            break;
    }
    zloop_start(self.loop);

    /*  Leaving: the coordinator requeues what we ran; nothing we started
     *  outlives us. */
    agent_link_bye(self.link);
    agent_runs_destroy(&self.runs);
    sw_http_destroy(&self.metrics_http);
    agent_metrics_destroy(&self.metrics);
    agent_ws_destroy(&self.ws);
    free(ws_root);
    agent_link_destroy(&self.link);
    zloop_destroy(&self.loop);
    agent_store_destroy(&self.store);
    agent_spool_destroy(&self.spool);
    agent_state_destroy(&self.state);
    sw_kv_release(&self.labels);
    free((char *) self.rconf.mcp);
    free((char *) self.rconf.redis_password_file);
    for (int h = 0; h < AGENT_HOOK_COUNT; h++)
        free(self.hooks[h]);
    close(self.sigfd);
    zsys_shutdown();
    return 0;
}
