/*  swarm-agent -- runs the coordinator's tasks on this machine.
 *
 *  One loop: the link to the coordinator, the pipes and pidfds of the
 *  children, a signalfd and a 100 ms tick (timeouts, escalation, reaping
 *  of orphans, retrying result writes). The agent is a child subreaper, so
 *  tool processes that daemonize out of a task are re-parented here and
 *  reaped, not left to init.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent_child.h"
#include "agent_link.h"
#include "agent_metrics.h"
#include "agent_orphans.h"
#include "agent_spool.h"
#include "agent_wshelper.h"
#include "sw_curve.h"
#include "sw_http.h"
#include "agent_runner.h"
#include "sw_keys.h"
#include "sw_memory.h"
#include "sw_opts.h"

extern char **environ;

#define EXEC_LIMITS_ARG "--exec-with-limits"

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
    long long  slots;
    long long  grace_ms;
    long long  max_output;
    long long  drain_timeout_s;
    sw_strv_t  labels;
    sw_strv_t  pass_env;
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
} agent_conf_t;

typedef enum { RUN_ACTIVE, RUN_STORING, RUN_DONE } run_state_t;

typedef struct agent_s agent_t;

typedef struct {
    agent_t      *agent;
    sw_task_t     task;
    agent_child_t child;
    bool          spawned;
    char         *lastmsg;      /*  codex's -o file */
    char         *schema;       /*  codex's --output-schema file */
    char         *error;        /*  why it could not run */
    char         *json;         /*  result waiting to be stored */
    const char   *status;
    bool          retryable;    /*  worth another attempt, maybe elsewhere */
    bool          deterministic;    /*  failed for a reason no retry changes */
    run_state_t   state;
    char          token[320];   /*  SWARM_RUN: AGENTPID:JOB/ID#ATTEMPT */
    bool          spooled;      /*  its result is in the spool */
    int           exit_code;    /*  of a result loaded from the spool */
} run_t;

struct agent_s {
    agent_conf_t       *conf;
    zloop_t            *loop;
    agent_link_t       *link;
    sw_redis_t         *redis;
    int64_t             redis_retry_ms;
    int64_t             redis_backoff_ms;   /*  1 -> 8 s while Redis fails */
    zlistx_t           *runs;   /*  run_t * */
    agent_runner_conf_t rconf;
    sw_kv_t             labels;
    char                host[256];
    int                 sigfd;
    bool                draining;       /*  finishing what runs, then leaving */
    int64_t             drain_deadline; /*  monotonic; 0 = none */
    bool                sweep;          /*  look for strays at the next tick */
    char                self_exe[4096]; /*  this binary, for the limits trampoline */
    unsigned            ticks;
    agent_metrics_t    *metrics;
    sw_http_t          *metrics_http;   /*  --metrics */
};

static void s_check(agent_t *self, run_t *run);
static void s_drain(agent_t *self, const char *why);

/*  --- runs ----------------------------------------------------------------- */

static void
s_run_destroy(run_t **run_p)
{
    run_t *run = *run_p;
    if (!run)
        return;
    if (run->spawned)
        agent_child_release(&run->child);
    if (run->lastmsg)
        unlink(run->lastmsg);
    if (run->schema)
        unlink(run->schema);
    sw_task_release(&run->task);
    free(run->lastmsg);
    free(run->schema);
    free(run->error);
    free(run->json);
    free(run);
    *run_p = NULL;
}

static run_t *
s_find(agent_t *self, const char *job, const char *id, int64_t attempt)
{
    for (run_t *r = zlistx_first(self->runs); r; r = zlistx_next(self->runs))
        if (strcmp(r->task.job, job) == 0 && strcmp(r->task.id, id) == 0
            && (attempt < 0 || r->task.attempt == attempt))
            return r;
    return NULL;
}

static void
s_send_ref(agent_t *self, int cmd, const sw_task_t *t, const char *status, int exit_code,
           bool retryable)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    sw_mp_packer_init(&pk, &sb);
    sw_ref_t r = { .job = t->job, .id = t->id, .attempt = t->attempt, .status = (char *) status,
                   .exit_code = exit_code, .retryable = retryable };
    sw_ref_pack(&pk, &r, cmd == SW_DONE);
    agent_link_send(self->link, cmd, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

/*  Redis failed: try again after 1, 2, 4, 8, 8 ... s. A stopped server
 *  costs the loop a command timeout per try, so tries are spaced out. */
static void
s_redis_failed(agent_t *self)
{
    self->redis_backoff_ms = self->redis_backoff_ms ? self->redis_backoff_ms * 2 : 1000;
    if (self->redis_backoff_ms > 8000)
        self->redis_backoff_ms = 8000;
    self->redis_retry_ms = sw_now_ms() + self->redis_backoff_ms;
}

static bool
s_redis_ready(agent_t *self)
{
    if (self->redis)
        return true;
    int64_t now = sw_now_ms();
    if (now < self->redis_retry_ms)
        return false;
    sw_err_t err = { 0 };
    self->redis = sw_keys_connect(self->conf->redis, 2000, &err);
    if (!self->redis) {
        if (self->redis_backoff_ms == 0)
            log_warnx("%s; results wait in the spool", err.msg);
        s_redis_failed(self);
    }
    return self->redis != NULL;
}

/*  Stores the result, then says DONE. A failed write is retried from the
 *  tick: DONE goes out only once the result is safe in Redis. */
static int
s_exit_code(const run_t *run)
{
    if (run->spawned)
        return run->child.exited ? agent_child_exit_code(&run->child) : -1;
    return run->exit_code;
}

/*  Keeps the result on disk until Redis takes it (once per run). */
static void
s_spool(agent_t *self, run_t *run)
{
    if (run->spooled)
        return;
    sw_err_t err = { 0 };
    agent_spooled_t s = { run->task.job, run->task.id, run->task.ns, run->task.attempt,
                          (char *) run->status, s_exit_code(run), run->retryable, run->json };
    if (agent_spool_put(self->conf->spool, &s, &err) < 0) {
        log_warnx("%s; the result waits in memory only", err.msg);
        return;
    }
    run->spooled = true;
    agent_metrics_spooled(self->metrics);
    log_info("result of %s/%s attempt %lld spooled to disk until Redis is back", run->task.job,
             run->task.id, (long long) run->task.attempt);
}

/*  Stores the result, then says DONE. A failed write is retried from the
 *  tick: DONE goes out only once the result is safe in Redis, and until
 *  then the result is in the spool. */
static void
s_store(agent_t *self, run_t *run)
{
    if (!s_redis_ready(self)) {
        s_spool(self, run);
        return;
    }
    sw_err_t err = { 0 };
    int rc = agent_result_store(self->redis, &run->task, run->json, &err);
    if (rc < 0) {
        log_warnx("cannot store the result of %s: %s", run->task.id, err.msg);
        if (err.code == SW_EUNREACH)
            sw_redis_destroy(&self->redis);
        s_redis_failed(self);
        s_spool(self, run);
        return;
    }
    if (self->redis_backoff_ms) {
        log_info("Redis at %s is back: storing results again", sw_redis_addr(self->redis));
        self->redis_backoff_ms = 0;
    }
    if (rc == 0)
        log_warnx("result of %s/%s attempt %lld refused: a newer attempt owns the task",
                  run->task.job, run->task.id, (long long) run->task.attempt);
    if (run->spooled)
        agent_spool_remove(self->conf->spool, run->task.job, run->task.id, run->task.attempt);
    int code = s_exit_code(run);
    s_send_ref(self, SW_DONE, &run->task, run->status, code > 255 ? 255 : code, run->retryable);
    run->state = RUN_DONE;
    log_info("task %s/%s attempt %lld %s", run->task.job, run->task.id,
             (long long) run->task.attempt, run->status);
}

/*  The task is over: build its result. */
static void
s_complete(agent_t *self, run_t *run)
{
    agent_child_t *c = &run->child;
    sw_buf_t output, errtail;
    sw_buf_init(&output);
    sw_buf_init(&errtail);
    bool truncated = false;
    json_t *usage = NULL;
    agent_result_t r = { .task = &run->task, .agent = self->conf->id, .host = self->host,
                         .exit_code = -1, .started_wall_ms = sw_wall_ms(),
                         .error = run->error };
    if (!run->spawned) {
        run->status = "failed";
        /*  a missing binary or directory may exist on another agent */
        run->retryable = !run->deterministic;
    }
    else {
        r.exit_code = agent_child_exit_code(c);
        r.signal = agent_child_signal(c);
        r.started_wall_ms = c->start_wall_ms;
        r.duration_ms = c->duration_ms;
        run->status = c->stop == AGENT_STOP_TIMEOUT || c->stop == AGENT_STOP_IDLE ? "timed_out"
                    : c->stop == AGENT_STOP_CANCEL ? "cancelled"
                    : r.exit_code == 0 ? "succeeded" : "failed";
        /*  Crashes (a signal we did not send) and timeouts may pass on
         *  another attempt; a clean non-zero exit will not. */
        run->retryable = c->stop == AGENT_STOP_TIMEOUT || c->stop == AGENT_STOP_IDLE
                      || (r.signal && c->stop == AGENT_STOP_NONE);
        if (c->stop == AGENT_STOP_TIMEOUT)
            r.error = "timed out";
        else if (r.signal && c->stop == AGENT_STOP_NONE)
            r.error = "crashed";
        else if (c->stop == AGENT_STOP_IDLE)
            r.error = "no output for the idle timeout";
        /*  The output: codex's last message, else claude's result, else the
         *  child's stdout. codex's stdout holds its --json events, claude's
         *  its result document: the usage is read from them. */
        sw_buf_t out;
        sw_buf_init(&out);
        sw_capture_render(&c->out, &out);
        bool from_stdout = false, is_error = false;
        if (run->lastmsg)
            sw_read_file(run->lastmsg, (size_t) self->conf->max_output, &output, &truncated);
        if (strcmp(run->task.runner, "codex") == 0)
            agent_codex_usage(out.data, out.len, &usage);
        else if (strcmp(run->task.runner, "claude") == 0
                 && agent_claude_parse(out.data, out.len, &output, &usage, &is_error) == 0) {
            from_stdout = true;
            if (is_error && strcmp(run->status, "succeeded") == 0) {
                run->status = "failed";
                r.error = "claude reported an error (is_error)";
            }
        }
        if (output.len == 0 && !from_stdout) {
            sw_buf_release(&output);
            output = out;
            sw_buf_init(&out);
            from_stdout = true;
        }
        if (from_stdout)
            truncated = sw_capture_truncated(&c->out);
        sw_buf_release(&out);
        sw_capture_render(&c->err, &errtail);
    }
    if (run->error && !run->spawned)
        sw_buf_addstr(&errtail, run->error);
    if (!run->spawned)
        agent_metrics_spawn_failed(self->metrics, run->task.runner);
    agent_metrics_finished(self->metrics, run->status, run->task.runner,
                           run->spawned ? c->out.total : 0, run->spawned ? c->err.total : 0);
    r.status = run->status;
    r.output = output.data;
    r.output_len = output.len;
    r.output_truncated = truncated;
    r.stderr_tail = errtail.data;
    r.stderr_len = errtail.len;
    r.usage = usage;
    run->json = agent_result_json(&r);
    json_decref(usage);
    run->state = RUN_STORING;
    self->sweep = true;
    sw_buf_release(&output);
    sw_buf_release(&errtail);
    s_store(self, run);
}

/*  --- child I/O ---------------------------------------------------------------- */

static void
s_end_poller(agent_t *self, int fd)
{
    zmq_pollitem_t item = { NULL, fd, 0, 0 };
    zloop_poller_end(self->loop, &item);
}

static int
s_on_pipe(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    run_t *run = arg;
    /*  libzmq reports a pipe's hang-up as ZMQ_POLLERR: read to find EOF. */
    int fd = item->fd;
    if (agent_child_read(&run->child, fd, sw_now_ms()) == 1) {
        zmq_pollitem_t end = { NULL, fd, 0, 0 };
        zloop_poller_end(loop, &end);
        agent_child_close_fd(&run->child, fd);
        s_check(run->agent, run);       /*  EOF may come after the exit */
    }
    return 0;
}

/*  Reaps every exited child. We spawn all children of this process, and as
 *  a subreaper we also inherit orphaned grandchildren, which only
 *  waitpid(-1) can collect. */
static void
s_reap(agent_t *self)
{
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        run_t *run = zlistx_first(self->runs);
        for (; run; run = zlistx_next(self->runs))
            if (run->spawned && run->child.pid == pid && !run->child.exited)
                break;
        if (!run) {
            log_debug("reaped orphan %d", (int) pid);
            self->sweep = true;     /*  its children are ours now */
            continue;
        }
        agent_child_reaped(&run->child, st, sw_now_ms());
        if (run->child.pidfd >= 0) {
            s_end_poller(self, run->child.pidfd);
            close(run->child.pidfd);
            run->child.pidfd = -1;
        }
    }
}

static int
s_on_pidfd(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    agent_t *self = arg;
    s_reap(self);
    for (run_t *r = zlistx_first(self->runs); r; r = zlistx_next(self->runs))
        if (r->state == RUN_ACTIVE)
            s_check(self, r);
    (void) loop;
    (void) item;
    return 0;
}

static void
s_check(agent_t *self, run_t *run)
{
    if (run->state == RUN_ACTIVE && (!run->spawned || agent_child_finished(&run->child)))
        s_complete(self, run);
}

/*  --- tasks ---------------------------------------------------------------------- */

/*  Looks up {{memory:NS/KEY}} and {{result:ID}} for a prompt. */
typedef struct {
    agent_t         *agent;
    const sw_task_t *task;
} s_lookup_t;

static int
s_lookup(void *ctx, const char *kind, const char *ref, sw_buf_t *out, sw_err_t *err)
{
    s_lookup_t *l = ctx;
    if (!s_redis_ready(l->agent))
        return sw_err_set(err, SW_EUNREACH, "Redis at %s is unreachable", l->agent->conf->redis);
    if (strcmp(kind, "memory") == 0) {
        const char *slash = strchr(ref, '/');
        char *ns = xstrndup(ref, (size_t) (slash - ref));
        sw_mem_entry_t e;
        int rc = sw_memory_get(l->agent->redis, ns, slash + 1, &e, err);
        free(ns);
        if (rc < 0)
            return -1;
        sw_buf_add(out, e.value, e.len);
        sw_mem_entry_release(&e);
        return 0;
    }
    char *key = sw_key_task(l->task->job, ref);
    redisReply *r = sw_redis_cmdv(l->agent->redis, err, "HGET", key, "result", NULL);
    free(key);
    if (!r)
        return -1;
    json_t *doc = r->type == REDIS_REPLY_STRING ? json_loads(r->str, 0, NULL) : NULL;
    freeReplyObject(r);
    const char *output = json_string_value(json_object_get(doc, "output"));
    if (output)
        sw_buf_addstr(out, output);
    json_decref(doc);
    if (!output)
        return sw_err_set(err, SW_ENOTFOUND, "task %s has no result in job %s", ref,
                          l->task->job);
    return 0;
}

static char *
s_safe_name(const char *s)
{
    char *p = xstrdup(s);
    for (char *q = p; *q; q++)
        if (*q == '/' || *q == ':')
            *q = '_';
    return p;
}

/*  Whether the task's own env sets the variable of entry NAME=VALUE. */
static bool
s_task_sets(const sw_task_t *t, const char *entry)
{
    size_t len = strcspn(entry, "=");
    for (size_t i = 0; i < t->env.n; i++)
        if (strlen(t->env.k[i]) == len && strncmp(t->env.k[i], entry, len) == 0)
            return true;
    return false;
}

/*  The agent's variables that pass, then ours, then the task's. Each name
 *  once: the task's value replaces the agent's (getenv takes the first);
 *  the SWARM_* names below are refused in a task (sw_task_validate). */
static char **
s_envp(agent_t *self, const run_t *run)
{
    const sw_task_t *t = &run->task;
    size_t n = 0;
    while (environ[n])
        n++;
    char **envp = xcalloc(n + t->env.n + 7, sizeof *envp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (agent_env_passes(environ[i], &self->conf->pass_env) && !s_task_sets(t, environ[i]))
            envp[k++] = xstrdup(environ[i]);
    envp[k++] = xasprintf("SWARM_JOB=%s", t->job);
    envp[k++] = xasprintf("SWARM_TASK_ID=%s", t->id);
    envp[k++] = xasprintf("SWARM_ATTEMPT=%lld", (long long) t->attempt);
    envp[k++] = xasprintf("SWARM_AGENT=%s", self->conf->id);
    envp[k++] = xasprintf(AGENT_RUN_ENV "=%s", run->token);
    for (size_t i = 0; i < t->env.n; i++)
        envp[k++] = xasprintf("%s=%s", t->env.k[i], t->env.v[i]);
    envp[k] = NULL;
    return envp;
}

static void
s_free_envp(char **envp)
{
    for (char **e = envp; *e; e++)
        free(*e);
    free(envp);
}

static void
s_start(agent_t *self, run_t *run)
{
    sw_err_t err = { 0 };
    const sw_task_t *t = &run->task;
    char *dir = !t->dir ? xstrdup(self->conf->workdir)
              : t->dir[0] == '/' ? xstrdup(t->dir)
              : xasprintf("%s/%s", self->conf->workdir, t->dir);
    struct stat sb;
    sw_strv_t argv = { 0 };
    char **envp = NULL;
    if (stat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
        run->error = xasprintf("working directory %s: %s", dir,
                               errno ? strerror(errno) : "not a directory");
        goto out;
    }
    if (strcmp(t->runner, "codex") == 0) {
        char *job = s_safe_name(t->job), *id = s_safe_name(t->id);
        run->lastmsg = xasprintf("%s/.swarm/%s.%s.%lld.last", self->conf->workdir, job, id,
                                 (long long) t->attempt);
        if (t->output_schema) {
            run->schema = xasprintf("%s/.swarm/%s.%s.%lld.schema.json", self->conf->workdir, job,
                                    id, (long long) t->attempt);
            FILE *f = fopen(run->schema, "w");
            bool ok = f && fputs(t->output_schema, f) >= 0;
            if (f && fclose(f) != 0)
                ok = false;
            if (!ok) {
                run->error = xasprintf("cannot write the output schema to %s: %s", run->schema,
                                       strerror(errno));
                free(job);
                free(id);
                goto out;
            }
        }
        free(job);
        free(id);
        unlink(run->lastmsg);
    }
    if (t->prompt && strstr(t->prompt, "{{")) {
        sw_buf_t expanded;
        sw_buf_init(&expanded);
        s_lookup_t l = { self, t };
        if (agent_template_expand(t->prompt, s_lookup, &l, &expanded, &err) < 0) {
            sw_buf_release(&expanded);
            run->error = xstrdup(err.msg);
            run->deterministic = err.code == SW_ENOTFOUND;
            goto out;
        }
        free(run->task.prompt);
        run->task.prompt = expanded.data;
    }
    if (agent_runner_argv(&self->rconf, t, dir, run->lastmsg, run->schema, &argv, &err) < 0) {
        run->error = xstrdup(err.msg);
        run->deterministic = true;
        goto out;
    }
    envp = s_envp(self, run);
    if (self->conf->rlimit_as || self->conf->rlimit_nofile) {
        /*  posix_spawn cannot set limits: the child execs this agent once
         *  more, which sets them and execs the runner (no window without
         *  them, unlike prlimit after the spawn). */
        sw_strv_t wrapped = { 0 };
        char lim[2][32];
        snprintf(lim[0], sizeof lim[0], "%lld", self->conf->rlimit_as);
        snprintf(lim[1], sizeof lim[1], "%lld", self->conf->rlimit_nofile);
        sw_strv_push(&wrapped, self->self_exe);
        sw_strv_push(&wrapped, EXEC_LIMITS_ARG);
        sw_strv_push(&wrapped, lim[0]);
        sw_strv_push(&wrapped, lim[1]);
        for (size_t i = 0; i < argv.n; i++)
            sw_strv_push(&wrapped, argv.v[i]);
        sw_strv_release(&argv);
        argv = wrapped;
    }
    agent_child_opts_t o = {
        .argv = argv.v, .envp = envp, .dir = dir,
        .timeout_ms = t->timeout_s * 1000, .idle_ms = t->idle_timeout_s * 1000,
        .grace_ms = self->conf->grace_ms,
        /*  codex cleans up its tool processes on SIGINT */
        .term_signal = strcmp(t->runner, "codex") == 0 ? SIGINT : SIGTERM,
        .out_head = (size_t) self->conf->max_output / 2,
        .out_tail = (size_t) self->conf->max_output / 2, .err_tail = 4096,
    };
    if (agent_child_spawn(&run->child, &o, &err) < 0) {
        bool missing = strstr(err.msg, "No such file") != NULL;
        run->error = xasprintf("%s%s", err.msg,
                               missing && strcmp(t->runner, "codex") == 0
                               ? " (is codex installed? the agent's --codex PATH says where)"
                               : missing && strcmp(t->runner, "claude") == 0
                               ? " (is claude installed? the agent's --claude PATH says where)"
                               : "");
        goto out;
    }
    run->spawned = true;
    zmq_pollitem_t out_item = { NULL, run->child.out_fd, ZMQ_POLLIN, 0 };
    zmq_pollitem_t err_item = { NULL, run->child.err_fd, ZMQ_POLLIN, 0 };
    zloop_poller(self->loop, &out_item, s_on_pipe, run);
    zloop_poller(self->loop, &err_item, s_on_pipe, run);
    zloop_poller_set_tolerant(self->loop, &out_item);
    zloop_poller_set_tolerant(self->loop, &err_item);
    if (run->child.pidfd >= 0) {
        zmq_pollitem_t pid_item = { NULL, run->child.pidfd, ZMQ_POLLIN, 0 };
        zloop_poller(self->loop, &pid_item, s_on_pidfd, self);
        zloop_poller_set_tolerant(self->loop, &pid_item);
    }
    log_debug("started %s/%s attempt %lld: pid %d", t->job, t->id, (long long) t->attempt,
              (int) run->child.pid);
out:
    if (run->error)
        log_warnx("task %s/%s cannot run: %s", t->job, t->id, run->error);
    if (envp)
        s_free_envp(envp);
    sw_strv_release(&argv);
    free(dir);
    s_check(self, run);
}

static void
s_on_task(agent_t *self, sw_msg_t *m)
{
    sw_err_t err = { 0 };
    run_t *run = xcalloc(1, sizeof *run);
    run->agent = self;
    run->exit_code = -1;
    if (sw_task_unpack(m->body, &run->task, &err) < 0
        || sw_task_validate(&run->task, &err) < 0 || run->task.attempt < 1) {
        log_warnx("dropped a malformed TASK: %s", err.msg[0] ? err.msg : "no attempt");
        s_run_destroy(&run);
        return;
    }
    snprintf(run->token, sizeof run->token, "%d:%s/%s#%lld", (int) getpid(), run->task.job,
             run->task.id, (long long) run->task.attempt);
    if (s_find(self, run->task.job, run->task.id, run->task.attempt)) {
        log_debug("duplicate TASK %s ignored", run->task.id);
        s_run_destroy(&run);
        return;
    }
    long long busy = 0;
    for (run_t *r = zlistx_first(self->runs); r; r = zlistx_next(self->runs))
        busy += r->state != RUN_DONE;
    if (busy >= self->conf->slots)
        log_warnx("TASK %s beyond our %lld slots: running it anyway", run->task.id,
                  self->conf->slots);
    zlistx_add_end(self->runs, run);
    s_send_ref(self, SW_ACCEPT, &run->task, NULL, 0, false);
    s_start(self, run);
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
    run_t *run = s_find(self, r.job, r.id, r.attempt);
    if (run && run->spawned) {
        log_info("cancelling %s/%s", r.job, r.id);
        agent_child_stop(&run->child, AGENT_STOP_CANCEL, sw_now_ms());
    }
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
    for (run_t *r = zlistx_first(self->runs); r; r = zlistx_next(self->runs))
        if (r->state != RUN_DONE) {
            char *key = xasprintf("%s\x1f%s\x1f%lld", r->task.job, r->task.id,
                                  (long long) r->task.attempt);
            sw_strv_push(&h->running, key);
            free(key);
        }
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

/*  A result an earlier run of this agent could not store: deliver it. */
static void
s_unspool(void *arg, agent_spooled_t *s)
{
    agent_t *self = arg;
    run_t *run = xcalloc(1, sizeof *run);
    run->agent = self;
    run->task.job = s->job;
    run->task.id = s->id;
    run->task.ns = s->ns;
    run->task.attempt = s->attempt;
    run->json = s->result;
    s->job = s->id = s->ns = s->result = NULL;
    int st = sw_tstate_parse(s->status);
    run->status = sw_tstate_name(st < 0 ? SW_TS_FAILED : (sw_tstate_t) st);
    run->exit_code = s->exit_code;
    run->retryable = s->retryable;
    run->spooled = true;
    run->state = RUN_STORING;
    zlistx_add_end(self->runs, run);
    log_info("result of %s/%s attempt %lld found in the spool: delivering it", run->task.job,
             run->task.id, (long long) run->task.attempt);
}

/*  --- loop ---------------------------------------------------------------------------- */

/*  A child of ours that leads no task stays if it carries the token of a
 *  running one; one without a token stays while any task runs. */
static bool
s_keep_child(pid_t pid, const char *token, void *arg)
{
    agent_t *self = arg;
    bool active = false;
    for (run_t *r = zlistx_first(self->runs); r; r = zlistx_next(self->runs)) {
        if (r->state == RUN_ACTIVE) {
            active = true;
            if (token && strcmp(token, r->token) == 0)
                return true;
        }
    }
    if (!token && active)
        return true;
    const char *task = token ? strchr(token, ':') : NULL;
    log_warnx("killing process %d that %s left behind", (int) pid,
              task ? task + 1 : "a finished task");
    return false;
}

/*  Kills what finished tasks left behind; the processes of running tasks
 *  are passed as leaders, so their environments are not even read. */
static void
s_sweep(agent_t *self)
{
    pid_t *leaders = xcalloc(zlistx_size(self->runs) + 1, sizeof *leaders);
    size_t n = 0;
    for (run_t *r = zlistx_first(self->runs); r; r = zlistx_next(self->runs))
        if (r->spawned && !r->child.exited)
            leaders[n++] = r->child.pid;
    agent_orphans_sweep(leaders, n, s_keep_child, self);
    free(leaders);
}

static int
s_on_tick(zloop_t *loop, int timer_id, void *arg)
{
    agent_t *self = arg;
    int64_t now = sw_now_ms();
    s_reap(self);
    /*  After a task ends and after an orphan dies, and once a second in
     *  case a stray's parent died between ticks. */
    if (self->sweep || ++self->ticks % 10 == 0) {
        self->sweep = false;
        s_sweep(self);
    }
    for (run_t *r = zlistx_first(self->runs); r; r = zlistx_next(self->runs)) {
        if (r->state == RUN_ACTIVE && r->spawned && agent_child_tick(&r->child, now)) {
            log_warnx("task %s: a process outside its group holds its output open; "
                      "closing", r->task.id);
            for (int i = 0; i < 2; i++) {
                int fd = i ? r->child.err_fd : r->child.out_fd;
                if (fd >= 0) {
                    s_end_poller(self, fd);
                    agent_child_close_fd(&r->child, fd);
                }
            }
        }
        if (r->state == RUN_ACTIVE)
            s_check(self, r);
        else if (r->state == RUN_STORING)
            s_store(self, r);
    }
    for (run_t *r = zlistx_first(self->runs); r; r = zlistx_next(self->runs))
        if (r->state == RUN_DONE) {
            zlistx_detach_cur(self->runs);
            s_run_destroy(&r);
        }
    if (self->draining && zlistx_size(self->runs) == 0) {
        log_info("drained: every task finished; leaving");
        return -1;
    }
    if (self->draining && self->drain_deadline && now >= self->drain_deadline) {
        log_warnx("drain timeout: stopping %zu task(s); the coordinator runs them again",
                  zlistx_size(self->runs));
        return -1;
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
             why, zlistx_size(self->runs));
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
    if (si.ssi_signo == SIGTERM && !self->draining && zlistx_size(self->runs) > 0) {
        s_drain(self, "SIGTERM");
        return 0;
    }
    log_info("caught signal %d: stopping", (int) si.ssi_signo);
    (void) loop;
    return -1;
}

static const char s_usage[] =
    "usage: swarm-agent [-c FILE] [--coordinator EP] [--id NAME] [--slots N] [--label K=V]...\n"
    "                   [--workdir DIR] [--redis URL] [--codex PATH] [--claude PATH]\n"
    "                   [--allow-exec] [--allow-cmd PATTERN]... [--pass-env NAME]...\n"
    "                   [--swarm-cli PATH | --no-mcp] [--claude-max-turns N]\n"
    "                   [--claude-max-budget-usd USD] [--rlimit-as BYTES]\n"
    "                   [--rlimit-nofile N] [--spool DIR] [--redis-password-file FILE]\n"
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
      "the swarm CLI codex workers run as their MCP server (default: beside this program)" },
    { "claude-max-turns", 0, SW_OPT_INT, offsetof(agent_conf_t, claude_max_turns), 1, 10000, "N",
      "claude --max-turns: default and ceiling per task" },
    { "claude-max-budget-usd", 0, SW_OPT_STR, offsetof(agent_conf_t, claude_max_budget_usd), 0,
      0, "USD", "claude --max-budget-usd: default and ceiling per task" },
    { "no-mcp", 0, SW_OPT_FLAG, offsetof(agent_conf_t, no_mcp), 0, 0, NULL,
      "do not give codex workers the shared memory as MCP tools" },
    { "allow-cmd", 0, SW_OPT_LIST, offsetof(agent_conf_t, allow_cmd), 0, 0, "PATTERN",
      "run only exec tasks whose program matches (glob; repeatable; implies --allow-exec)" },
    { "kill-grace-ms", 0, SW_OPT_INT, offsetof(agent_conf_t, grace_ms), 0, 600000, "MS",
      "between the stop signal and SIGKILL (default 5000)" },
    { "max-output", 0, SW_OPT_INT, offsetof(agent_conf_t, max_output), 1024, 256 << 20, "BYTES",
      "output kept per task, head + tail (default 1048576)" },
    { "drain-timeout", 0, SW_OPT_INT, offsetof(agent_conf_t, drain_timeout_s), 0, 7 * 86400, "S",
      "when draining, stop what still runs after S s (default 0: wait)" },
    { "pass-env", 0, SW_OPT_LIST, offsetof(agent_conf_t, pass_env), 0, 0, "NAME|PREFIX*",
      "also pass this variable of ours to tasks (repeatable; '*' passes all)" },
    { "rlimit-as", 0, SW_OPT_INT, offsetof(agent_conf_t, rlimit_as), 0, 1LL << 50, "BYTES",
      "address-space limit of every task (default: inherited)" },
    { "rlimit-nofile", 0, SW_OPT_INT, offsetof(agent_conf_t, rlimit_nofile), 0, 1 << 20, "N",
      "open-file limit of every task (default: inherited)" },
    { "spool", 0, SW_OPT_STR, offsetof(agent_conf_t, spool), 0, 0, "DIR",
      "results wait here while Redis is down (default WORKDIR/.swarm/spool-ID)" },
    { "curve-secret", 0, SW_OPT_STR, offsetof(agent_conf_t, curve_secret), 0, 0, "FILE",
      "this agent's CURVE secret certificate (swarm keygen); with --coordinator-key" },
    { "coordinator-key", 0, SW_OPT_STR, offsetof(agent_conf_t, coordinator_key), 0, 0, "FILE",
      "the coordinator's public certificate (NAME.cert)" },
    { "metrics", 0, SW_OPT_STR, offsetof(agent_conf_t, metrics), 0, 0, "ADDR",
      "serve Prometheus /metrics on ADDR (PORT = 127.0.0.1:PORT, HOST:PORT, [V6]:PORT)" },
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
    for (run_t *r = zlistx_first(self->runs); r; r = zlistx_next(self->runs)) {
        if (r->spawned && !r->child.exited)
            now.children++;
        if (r->spawned && r->state == RUN_ACTIVE) {
            now.out_bytes += r->child.out.total;
            now.err_bytes += r->child.err.total;
        }
        now.spooled += r->spooled;
    }
    agent_metrics_render(self->metrics, &now, out);
}

/*  swarm-agent --exec-with-limits AS NOFILE ARGV...: set the limits, then
 *  become ARGV (looked up in PATH). Only the agent starts it this way. */
static int
s_exec_with_limits(int argc, char **argv)
{
    if (argc < 5)
        return 127;
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
    execvp(argv[4], argv + 4);
    fprintf(stderr, "swarm-agent: %s: %s\n", argv[4], strerror(errno));
    return 127;
}

int
main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], EXEC_LIMITS_ARG) == 0)
        return s_exec_with_limits(argc, argv);
    if (argc > 1 && strcmp(argv[1], AGENT_WS_HELPER_ARG) == 0)
        return agent_wshelper_main(argc, argv);
    const char *env_redis = getenv("SWARM_REDIS");
    s_conf.grace_ms = 5000;
    s_conf.max_output = 1 << 20;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    s_conf.slots = cpus > 0 ? cpus : 1;
    sw_err_t err = { 0 };
    int rc = sw_opts_parse(s_opts, &s_conf, argc, argv, s_usage, &err);
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
    if (!s_conf.coordinator)
        s_conf.coordinator = xstrdup("tcp://127.0.0.1:7700");
    if (!s_conf.redis)
        s_conf.redis = xstrdup(env_redis && *env_redis ? env_redis : SW_REDIS_DEFAULT);
    if (!s_conf.id)
        s_conf.id = xstrdup(self.host);
    if (!sw_id_valid(s_conf.id)) {
        fprintf(stderr, "swarm-agent: invalid --id '%s'\n", s_conf.id);
        return 2;
    }
    if (!s_conf.codex)
        s_conf.codex = xstrdup("codex");
    if (!s_conf.claude)
        s_conf.claude = xstrdup("claude");
    char resolved[PATH_MAX];
    if (!realpath(s_conf.workdir ? s_conf.workdir : ".", resolved)) {
        fprintf(stderr, "swarm-agent: --workdir %s: %s\n", s_conf.workdir, strerror(errno));
        return 2;
    }
    free(s_conf.workdir);
    s_conf.workdir = xstrdup(resolved);
    char *dotdir = xasprintf("%s/.swarm", s_conf.workdir);
    if (mkdir(dotdir, 0700) < 0 && errno != EEXIST) {
        fprintf(stderr, "swarm-agent: cannot create %s: %s\n", dotdir, strerror(errno));
        return 1;
    }
    free(dotdir);
    if (!s_conf.spool)
        s_conf.spool = xasprintf("%s/.swarm/spool-%s", s_conf.workdir, s_conf.id);
    if (agent_spool_open(s_conf.spool, &err) < 0) {
        fprintf(stderr, "swarm-agent: %s\n", err.msg);
        return 1;
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
    self.runs = zlistx_new();
    self.loop = zloop_new();
    zloop_set_nonstop(self.loop, true);
    self.metrics = agent_metrics_new();
    if (s_conf.metrics
        && !(self.metrics_http = sw_http_metrics_new(self.loop, s_conf.metrics, s_render_metrics,
                                                     &self, &err)))
        fatalx("--metrics: %s", err.msg);
    s_redis_ready(&self);
    int spooled = agent_spool_load(s_conf.spool, s_unspool, &self);
    if (spooled > 0)
        log_info("%d result(s) in the spool %s", spooled, s_conf.spool);
    agent_link_ops_t ops = { s_hello, s_message };
    self.link = agent_link_new(self.loop, s_conf.coordinator, s_conf.curve_secret,
                               s_conf.coordinator_key, &ops, &self);
    zmq_pollitem_t sig = { NULL, self.sigfd, ZMQ_POLLIN, 0 };
    zloop_poller(self.loop, &sig, s_on_signal, &self);
    zloop_timer(self.loop, 100, 0, s_on_tick, &self);
    log_info("agent %s on %s: %lld slots, coordinator %s, workdir %s%s", s_conf.id, self.host,
             s_conf.slots, s_conf.coordinator, s_conf.workdir,
             s_conf.allow_cmd.n ? ", exec allowed for --allow-cmd programs"
             : s_conf.allow_exec ? ", exec allowed" : "");
    zloop_start(self.loop);

    /*  Leaving: the coordinator requeues what we ran; nothing we started
     *  outlives us. */
    agent_link_bye(self.link);
    for (run_t *r = zlistx_first(self.runs); r; r = zlistx_next(self.runs))
        if (r->spawned && !r->child.exited)
            kill(-r->child.pid, SIGKILL);
    run_t *r;
    while ((r = zlistx_first(self.runs))) {
        zlistx_detach_cur(self.runs);
        if (r->spawned && !r->child.exited) {
            int st;
            waitpid(r->child.pid, &st, 0);
            r->child.exited = true;
        }
        s_run_destroy(&r);
    }
    /*  No task runs now: whatever escaped its group goes, tree by tree. */
    pid_t child[1];
    for (int i = 0; i < 100 && agent_orphans_children(child, 1) > 0; i++) {
        s_sweep(&self);
        usleep(10000);
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
    }
    sw_http_destroy(&self.metrics_http);
    agent_metrics_destroy(&self.metrics);
    agent_link_destroy(&self.link);
    zlistx_destroy(&self.runs);
    zloop_destroy(&self.loop);
    sw_redis_destroy(&self.redis);
    sw_kv_release(&self.labels);
    free((char *) self.rconf.mcp);
    free((char *) self.rconf.redis_password_file);
    close(self.sigfd);
    zsys_shutdown();
    return 0;
}
