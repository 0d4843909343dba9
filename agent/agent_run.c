/*  agent_run -- see agent_run.h */
#include "agent_run.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent_child.h"
#include "agent_env.h"
#include "agent_live.h"
#include "agent_orphans.h"
#include "agent_result.h"
#include "agent_spool.h"

extern char **environ;

typedef enum { RUN_ACTIVE, RUN_STORING, RUN_DONE } run_state_t;

typedef struct {
    agent_runs_t *runs;
    sw_task_t     task;
    run_state_t   state;
    char         *token;        /*  SWARM_RUN: AGENTPID:JOB/ID#ATTEMPT (whole: never cut) */
    /*  prepare and spawn */
    char         *lastmsg;      /*  codex's -o file */
    char         *schema;       /*  codex's --output-schema file */
    char         *error;        /*  why it could not run */
    bool          deterministic;    /*  ... for a reason no retry changes */
    int           prompt_fd;    /*  the child's stdin (codex, claude), until the spawn */
    char         *prompt_path;
    agent_child_t child;
    bool          spawned;
    agent_log_t  *log;          /*  its live output stream */
    /*  result and store */
    const char   *status;
    bool          retryable;    /*  worth another attempt, maybe elsewhere */
    char         *json;         /*  result waiting to be stored */
    bool          spooled;      /*  its result is in the spool */
    int           exit_code;    /*  of a result loaded from the spool */
} run_t;

struct agent_runs_t {
    zloop_t                *loop;
    const agent_run_conf_t *conf;
    agent_store_t          *store;
    agent_run_report_fn    *report;
    void                   *ctx;
    zlistx_t               *runs;   /*  run_t * */
    agent_live_t           *live;   /*  the runs' live output; NULL: off */
    bool                    sweep;  /*  look for strays at the next tick */
    unsigned                ticks;
};

static void s_check(agent_runs_t *self, run_t *run);
static void s_sweep(agent_runs_t *self);

/*  Once the child has its stdin (or will never run), the prompt file goes:
 *  no prompt stays on disk. */
static void
s_prompt_close(run_t *run)
{
    if (run->prompt_fd >= 0)
        close(run->prompt_fd);
    run->prompt_fd = -1;
    if (run->prompt_path)
        unlink(run->prompt_path);
    free(run->prompt_path);
    run->prompt_path = NULL;
}

static void
s_run_destroy(run_t **run_p)
{
    run_t *run = *run_p;
    if (!run)
        return;
    if (run->spawned)
        agent_child_release(&run->child);
    agent_log_destroy(&run->log);
    s_prompt_close(run);
    if (run->lastmsg)
        unlink(run->lastmsg);
    if (run->schema)
        unlink(run->schema);
    sw_task_release(&run->task);
    free(run->token);
    free(run->lastmsg);
    free(run->schema);
    free(run->error);
    free(run->json);
    free(run);
    *run_p = NULL;
}

static run_t *
s_find(agent_runs_t *self, const char *job, const char *id, int64_t attempt)
{
    for (run_t *r = zlistx_first(self->runs); r; r = zlistx_next(self->runs))
        if (strcmp(r->task.job, job) == 0 && strcmp(r->task.id, id) == 0
            && (attempt < 0 || r->task.attempt == attempt))
            return r;
    return NULL;
}

/*  --- stage: store ----------------------------------------------------------------- */

static int
s_exit_code(const run_t *run)
{
    if (run->spawned)
        return run->child.reaped ? agent_child_exit_code(&run->child) : -1;
    return run->exit_code;
}

/*  Stores the result, then says DONE. A failed write is retried from the
 *  tick: DONE goes out only once the result is safe in Redis, and until
 *  then the result is in the spool. */
static void
s_store(agent_runs_t *self, run_t *run)
{
    agent_spooled_t s = { run->task.job, run->task.id, run->task.ns, run->task.attempt,
                          (char *) run->status, s_exit_code(run), run->retryable, run->json };
    bool was_spooled = run->spooled;
    int rc = agent_store_result(self->store, &s, &run->spooled);
    if (run->spooled && !was_spooled)
        agent_metrics_spooled(self->conf->metrics);
    if (rc < 0)
        return;
    int code = s_exit_code(run);
    self->report(self->ctx, SW_DONE, &run->task, run->status, code > 255 ? 255 : code,
                 run->retryable);
    run->state = RUN_DONE;
    log_info("task %s/%s attempt %lld %s", run->task.job, run->task.id,
             (long long) run->task.attempt, run->status);
}

/*  --- stages: collect and result ----------------------------------------------------- */

/*  What the finished child left: its status, and the runner's answer
 *  (agent_answer_collect: codex's -o file or last agent_message, claude's
 *  result, a command's stdout) into a. */
static void
s_collect(agent_runs_t *self, run_t *run, agent_result_t *r, agent_answer_t *a,
          sw_buf_t *errtail)
{
    agent_child_t *c = &run->child;
    r->exit_code = agent_child_exit_code(c);
    r->signal = agent_child_signal(c);
    r->started_wall_ms = c->start_wall_ms;
    r->duration_ms = c->duration_ms;
    run->status = c->stop == AGENT_STOP_TIMEOUT || c->stop == AGENT_STOP_IDLE ? "timed_out"
                : c->stop == AGENT_STOP_CANCEL ? "cancelled"
                : r->exit_code == 0 ? "succeeded" : "failed";
    /*  Crashes (a signal we did not send) and timeouts may pass on another
     *  attempt; a clean non-zero exit will not. */
    run->retryable = c->stop == AGENT_STOP_TIMEOUT || c->stop == AGENT_STOP_IDLE
                  || (r->signal && c->stop == AGENT_STOP_NONE);
    if (c->stop == AGENT_STOP_TIMEOUT)
        r->error = "timed out";
    else if (r->signal && c->stop == AGENT_STOP_NONE)
        r->error = "crashed";
    else if (c->stop == AGENT_STOP_IDLE)
        r->error = "no output for the idle timeout";
    sw_buf_t out, last;
    sw_buf_init(&out);
    sw_buf_init(&last);
    bool last_cut = false;
    sw_capture_render(&c->out, &out);
    if (run->lastmsg)
        agent_state_read(run->lastmsg, (size_t) self->conf->max_output, &last, &last_cut);
    agent_answer_collect(run->task.runner, out.data, out.len, sw_capture_truncated(&c->out),
                         last.data, last.len, last_cut, a);
    sw_buf_release(&out);
    sw_buf_release(&last);
    if (a->error && strcmp(run->status, "succeeded") == 0) {
        run->status = "failed";     /*  exit 0, but no answer (or claude's is_error) */
        r->error = a->error;
    }
    sw_capture_render(&c->err, errtail);
}

/*  The task is over: its result document, then on to the store. */
static void
s_complete(agent_runs_t *self, run_t *run)
{
    sw_buf_t errtail;
    sw_buf_init(&errtail);
    agent_answer_t a = { 0 };
    sw_buf_init(&a.output);
    agent_result_t r = { .task = &run->task, .agent = self->conf->agent_id,
                         .host = self->conf->host, .exit_code = -1,
                         .started_wall_ms = sw_wall_ms(), .error = run->error };
    if (run->spawned)
        s_collect(self, run, &r, &a, &errtail);
    else {
        run->status = "failed";
        /*  a missing binary or directory may exist on another agent */
        run->retryable = !run->deterministic;
        if (run->error)
            sw_buf_addstr(&errtail, run->error);
    }
    if (!run->spawned)
        agent_metrics_spawn_failed(self->conf->metrics, run->task.runner);
    agent_metrics_finished(self->conf->metrics, run->status, run->task.runner,
                           run->spawned ? run->child.out.total : 0,
                           run->spawned ? run->child.err.total : 0);
    r.status = run->status;
    r.output = a.output.data;
    r.output_len = a.output.len;
    r.output_truncated = a.truncated;
    r.stderr_tail = errtail.data;
    r.stderr_len = errtail.len;
    r.usage = a.usage;
    agent_log_end(&run->log, run->status, run->spawned ? r.exit_code : -1, r.error);
    run->json = agent_result_json(&r);
    agent_answer_release(&a);
    sw_buf_release(&errtail);
    run->state = RUN_STORING;
    self->sweep = true;
    s_store(self, run);
}

/*  --- stage: supervise ----------------------------------------------------------------- */

static void
s_end_poller(agent_runs_t *self, int fd)
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
    int eof = agent_child_read(&run->child, fd, sw_now_ms());
    agent_log_flush(run->log);
    if (eof == 1) {
        zmq_pollitem_t end = { NULL, fd, 0, 0 };
        zloop_poller_end(loop, &end);
        agent_child_close_fd(&run->child, fd);
        s_check(run->runs, run);        /*  EOF may come after the exit */
    }
    return 0;
}

/*  Whether PID leads a run whose child is not reaped yet. */
static bool
s_is_leader(agent_runs_t *self, pid_t pid)
{
    for (run_t *r = zlistx_first(self->runs); r; r = zlistx_next(self->runs))
        if (r->spawned && !r->child.reaped && r->child.pid == pid)
            return true;
    return false;
}

/*  Notes which task leaders exited, without reaping them (a zombie leader
 *  keeps its group id from being reused until the run is finished:
 *  agent_child.h), and reaps the orphans we inherited as a subreaper. */
static void
s_reap(agent_runs_t *self)
{
    int64_t now = sw_now_ms();
    for (run_t *r = zlistx_first(self->runs); r; r = zlistx_next(self->runs))
        if (r->spawned && !r->child.exited && agent_child_poll(&r->child, now)
            && r->child.pidfd >= 0)
            s_end_poller(self, r->child.pidfd);     /*  it stays readable */
    pid_t pids[1024];
    size_t n = agent_orphans_children(pids, sizeof pids / sizeof *pids);
    for (size_t i = 0; i < n; i++) {
        if (s_is_leader(self, pids[i]))
            continue;
        int st;
        if (waitpid(pids[i], &st, WNOHANG) == pids[i]) {
            log_debug("reaped orphan %d", (int) pids[i]);
            self->sweep = true;     /*  its children are ours now */
        }
    }
}

static int
s_on_pidfd(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    agent_runs_t *self = arg;
    int64_t now = sw_now_ms();
    for (run_t *r = zlistx_first(self->runs); r; r = zlistx_next(self->runs))
        if (r->spawned && r->child.pidfd == item->fd && agent_child_poll(&r->child, now)) {
            s_end_poller(self, item->fd);
            s_check(self, r);
            break;
        }
    (void) loop;
    return 0;
}

static void
s_check(agent_runs_t *self, run_t *run)
{
    if (run->state != RUN_ACTIVE || (run->spawned && !agent_child_finished(&run->child)))
        return;
    if (run->spawned)
        agent_child_finish(&run->child);    /*  the last group kill, then the reap */
    s_complete(self, run);
}

/*  --- stages: prepare and spawn ---------------------------------------------------------- */

/*  The expanded prompt, in a private file that becomes the runner's stdin:
 *  never in argv, where an option parser would read it and the kernel
 *  caps it at 128 KiB. */
static int
s_prompt_file(agent_runs_t *self, run_t *run)
{
    const sw_task_t *t = &run->task;
    sw_err_t err = { 0 };
    run->prompt_fd = agent_state_create(self->conf->state, t->job, t->id, t->attempt, "prompt",
                                        &run->prompt_path, &err);
    if (run->prompt_fd < 0) {
        run->error = xstrdup(err.msg);
        return -1;
    }
    const char *p = t->prompt;
    size_t len = strlen(p), off = 0;
    while (off < len) {
        ssize_t w = write(run->prompt_fd, p + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            break;
        off += (size_t) w;
    }
    if (off < len || lseek(run->prompt_fd, 0, SEEK_SET) != 0) {
        run->error = xasprintf("cannot write the prompt to %s: %s", run->prompt_path,
                               strerror(errno));
        return -1;
    }
    return 0;
}

/*  codex's last-message file (-o; created empty here, so nothing else can
 *  take its name) and its output schema, in the state directory. */
static int
s_codex_files(agent_runs_t *self, run_t *run)
{
    const sw_task_t *t = &run->task;
    sw_err_t err = { 0 };
    int fd = agent_state_create(self->conf->state, t->job, t->id, t->attempt, "last",
                                &run->lastmsg, &err);
    if (fd < 0) {
        run->error = xstrdup(err.msg);
        return -1;
    }
    close(fd);
    if (!t->output_schema)
        return 0;
    fd = agent_state_create(self->conf->state, t->job, t->id, t->attempt, "schema.json",
                            &run->schema, &err);
    if (fd < 0) {
        run->error = xstrdup(err.msg);
        return -1;
    }
    size_t len = strlen(t->output_schema);
    bool ok = write(fd, t->output_schema, len) == (ssize_t) len;
    if (close(fd) < 0)
        ok = false;
    if (!ok) {
        run->error = xasprintf("cannot write the output schema to %s: %s", run->schema,
                               strerror(errno));
        return -1;
    }
    return 0;
}

/*  What a prepared run hands the spawn. */
typedef struct {
    char     *dir;
    sw_strv_t argv;
    char    **envp;
} s_launch_t;

static void
s_launch_release(s_launch_t *l)
{
    free(l->dir);
    sw_strv_release(&l->argv);
    agent_env_free(l->envp);
    memset(l, 0, sizeof *l);
}

/*  Stage prepare: everything the spawn needs, checked in the order that
 *  costs least first. -1 with run->error (and run->deterministic when no
 *  other attempt could pass). */
static int
s_prepare(agent_runs_t *self, run_t *run, s_launch_t *l)
{
    const agent_run_conf_t *conf = self->conf;
    sw_err_t err = { 0 };
    const sw_task_t *t = &run->task;
    /*  A variable that could make the runner run foreign code: refused
     *  before anything else happens (agent_env.h). */
    if (agent_env_check(&conf->env_policy, t, &err) < 0) {
        run->error = xstrdup(err.msg);
        run->deterministic = true;
        return -1;
    }
    l->dir = !t->dir ? xstrdup(conf->workdir)
           : t->dir[0] == '/' ? xstrdup(t->dir)
           : xasprintf("%s/%s", conf->workdir, t->dir);
    struct stat sb;
    char *real = NULL;
    int e = stat(l->dir, &sb) < 0 ? errno : !S_ISDIR(sb.st_mode) ? ENOTDIR
          : !(real = realpath(l->dir, NULL)) ? errno : 0;
    if (e) {
        /*  it may exist on another agent: retryable */
        run->error = xasprintf("working directory %s: %s", l->dir, strerror(e));
        return -1;
    }
    /*  The agent's own files are out of every task's reach: no task runs
     *  where they are, whatever its --dir says. */
    const char *state_dir = agent_state_dir(conf->state);
    bool in_state = agent_path_inside(real, state_dir) || agent_path_inside(state_dir, real)
                 || (conf->spool_dir && (agent_path_inside(real, conf->spool_dir)
                                         || agent_path_inside(conf->spool_dir, real)));
    free(real);
    if (in_state) {
        run->error = xasprintf("working directory %s holds the agent's state: no task may "
                               "run there", l->dir);
        run->deterministic = true;
        return -1;
    }
    if (strcmp(t->runner, "codex") == 0 && s_codex_files(self, run) < 0)
        return -1;
    if (t->prompt && strstr(t->prompt, "{{")) {
        sw_buf_t expanded;
        sw_buf_init(&expanded);
        if (agent_store_expand(self->store, t, &expanded, &err) < 0) {
            sw_buf_release(&expanded);
            run->error = xstrdup(err.msg);
            run->deterministic = err.code == SW_ENOTFOUND;
            return -1;
        }
        free(run->task.prompt);
        run->task.prompt = expanded.data;
    }
    if (t->prompt && s_prompt_file(self, run) < 0)
        return -1;
    if (agent_runner_argv(conf->runner, t, l->dir, run->lastmsg, run->schema, &l->argv,
                          &err) < 0) {
        run->error = xstrdup(err.msg);
        run->deterministic = true;
        return -1;
    }
    l->envp = agent_env_build(environ, conf->pass_env, t, conf->agent_id, run->token);
    if (conf->rlimit_as || conf->rlimit_nofile) {
        /*  posix_spawn cannot set limits: the child execs this agent once
         *  more, which sets them and execs the runner (no window without
         *  them, unlike prlimit after the spawn). */
        sw_strv_t wrapped = { 0 };
        char lim[2][32];
        snprintf(lim[0], sizeof lim[0], "%lld", conf->rlimit_as);
        snprintf(lim[1], sizeof lim[1], "%lld", conf->rlimit_nofile);
        sw_strv_push(&wrapped, conf->self_exe);
        sw_strv_push(&wrapped, conf->exec_limits_arg);
        sw_strv_push(&wrapped, lim[0]);
        sw_strv_push(&wrapped, lim[1]);
        for (size_t i = 0; i < l->argv.n; i++)
            sw_strv_push(&wrapped, l->argv.v[i]);
        sw_strv_release(&l->argv);
        l->argv = wrapped;
    }
    /*  An exec task's argv is the task's own: one that the kernel would
     *  refuse fails now, once, with the numbers (no retry changes them). */
    if (agent_child_check_args(l->argv.v[0], l->argv.v, l->envp, agent_child_arg_limit(),
                               &err) < 0) {
        run->error = xstrdup(err.msg);
        run->deterministic = true;
        return -1;
    }
    return 0;
}

/*  What the child writes also goes to its live output. */
static void
s_tee(void *ctx, int stream, const char *data, size_t n)
{
    run_t *run = ctx;
    agent_log_feed(run->log, stream == 1 ? AGENT_ERR : AGENT_OUT, data, n);
}

/*  Stage spawn: the child, its pipes and pidfd on the loop. */
static int
s_spawn(agent_runs_t *self, run_t *run, const s_launch_t *l)
{
    const agent_run_conf_t *conf = self->conf;
    const sw_task_t *t = &run->task;
    sw_err_t err = { 0 };
    agent_child_opts_t o = {
        .argv = l->argv.v, .envp = l->envp, .dir = l->dir, .stdin_fd = run->prompt_fd,
        .timeout_ms = t->timeout_s * 1000, .idle_ms = t->idle_timeout_s * 1000,
        .grace_ms = conf->grace_ms,
        /*  codex cleans up its tool processes on SIGINT */
        .term_signal = strcmp(t->runner, "codex") == 0 ? SIGINT : SIGTERM,
        .out_head = (size_t) conf->max_output / 2,
        .out_tail = (size_t) conf->max_output / 2, .err_tail = 4096,
        .tee = s_tee, .tee_ctx = run,
    };
    if (strcmp(t->runner, "claude") == 0) {
        /*  claude's answer is its last line (the result document): the
         *  capture keeps the end, where it is, not the start. */
        o.out_head = 4096;
        o.out_tail = (size_t) conf->max_output > 8192 ? (size_t) conf->max_output - 4096 : 4096;
    }
    int rc = agent_child_spawn(&run->child, &o, &err);
    s_prompt_close(run);        /*  the child has it, or will never */
    if (rc < 0) {
        int e = run->child.spawn_errno;
        bool missing = e == ENOENT;
        run->error = xasprintf("%s%s", err.msg,
                               missing && strcmp(t->runner, "codex") == 0
                               ? " (is codex installed? the agent's --codex PATH says where)"
                               : missing && strcmp(t->runner, "claude") == 0
                               ? " (is claude installed? the agent's --claude PATH says where)"
                               : "");
        /*  What the task itself brings fails everywhere; a runner or
         *  program missing here may be on another agent. */
        run->deterministic = e == E2BIG || e == ENOEXEC || e == ENAMETOOLONG;
        return -1;
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
    return 0;
}

/*  A TASK's run, from prepare to spawn; a run that cannot start completes
 *  at once (its result says why). */
static void
s_start(agent_runs_t *self, run_t *run)
{
    s_launch_t l = { 0 };
    if (s_prepare(self, run, &l) < 0 || s_spawn(self, run, &l) < 0)
        log_warnx("task %s/%s cannot run: %s", run->task.job, run->task.id, run->error);
    s_prompt_close(run);
    s_launch_release(&l);
    s_check(self, run);
}

/*  --- the run set ---------------------------------------------------------------------- */

agent_runs_t *
agent_runs_new(zloop_t *loop, const agent_run_conf_t *conf, agent_store_t *store,
               agent_run_report_fn *report, void *ctx)
{
    agent_runs_t *self = xcalloc(1, sizeof *self);
    self->loop = loop;
    self->conf = conf;
    self->store = store;
    self->report = report;
    self->ctx = ctx;
    self->runs = zlistx_new();
    sw_err_t err = { 0 };
    if (conf->log_ttl_s > 0 && conf->redis_url
        && !(self->live = agent_live_new(loop, conf->redis_url, conf->log_ttl_s, &err)))
        log_warnx("no live output: %s", err.msg);
    return self;
}

void
agent_runs_destroy(agent_runs_t **self_p)
{
    agent_runs_t *self = *self_p;
    if (!self)
        return;
    /*  agent_child_release SIGKILLs the group of a child not reaped yet
     *  and waits for it. */
    run_t *r;
    while ((r = zlistx_first(self->runs))) {
        zlistx_detach_cur(self->runs);
        s_run_destroy(&r);
    }
    /*  No task runs now: whatever escaped its group goes, tree by tree. */
    pid_t child[1];
    for (int i = 0; i < 100 && agent_orphans_children(child, 1) > 0; i++) {
        s_sweep(self);
        usleep(10000);
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
    }
    zlistx_destroy(&self->runs);
    agent_live_destroy(&self->live);
    free(self);
    *self_p = NULL;
}

void
agent_runs_start(agent_runs_t *self, sw_task_t *t)
{
    if (s_find(self, t->job, t->id, t->attempt)) {
        log_debug("duplicate TASK %s ignored", t->id);
        sw_task_release(t);
        return;
    }
    run_t *run = xcalloc(1, sizeof *run);
    run->runs = self;
    run->exit_code = -1;
    run->prompt_fd = -1;
    run->task = *t;
    sw_task_init(t);
    run->token = xasprintf("%d:%s/%s#%lld", (int) getpid(), run->task.job, run->task.id,
                           (long long) run->task.attempt);
    long long busy = 0;
    for (run_t *r = zlistx_first(self->runs); r; r = zlistx_next(self->runs))
        busy += r->state != RUN_DONE;
    if (busy >= self->conf->slots)
        log_warnx("TASK %s beyond our %lld slots: running it anyway", run->task.id,
                  self->conf->slots);
    zlistx_add_end(self->runs, run);
    self->report(self->ctx, SW_ACCEPT, &run->task, NULL, 0, false);
    /*  From the start: a run that cannot start says why in it too. */
    run->log = agent_log_new(self->live, run->task.job, run->task.id, run->task.attempt,
                             strcmp(run->task.runner, "exec") != 0);
    s_start(self, run);
}

void
agent_runs_cancel(agent_runs_t *self, const char *job, const char *id, int64_t attempt)
{
    run_t *run = s_find(self, job, id, attempt);
    if (run && run->spawned) {
        log_info("cancelling %s/%s", job, id);
        agent_child_stop(&run->child, AGENT_STOP_CANCEL, sw_now_ms());
    }
}

size_t
agent_runs_count(const agent_runs_t *self)
{
    return zlistx_size(self->runs);
}

void
agent_runs_list(const agent_runs_t *self, sw_strv_t *out)
{
    for (run_t *r = zlistx_first(self->runs); r; r = zlistx_next(self->runs))
        if (r->state != RUN_DONE) {
            char *key = xasprintf("%s\x1f%s\x1f%lld", r->task.job, r->task.id,
                                  (long long) r->task.attempt);
            sw_strv_push(out, key);
            free(key);
        }
}

/*  A result an earlier run of this agent could not store: deliver it. */
static void
s_unspool(void *arg, agent_spooled_t *s)
{
    agent_runs_t *self = arg;
    run_t *run = xcalloc(1, sizeof *run);
    run->runs = self;
    run->prompt_fd = -1;
    sw_task_init(&run->task);
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

void
agent_runs_gauges(const agent_runs_t *self, agent_metrics_now_t *now)
{
    for (run_t *r = zlistx_first(self->runs); r; r = zlistx_next(self->runs)) {
        if (r->spawned && !r->child.reaped)
            now->children++;
        if (r->spawned && r->state == RUN_ACTIVE) {
            now->out_bytes += r->child.out.total;
            now->err_bytes += r->child.err.total;
        }
        now->spooled += r->spooled;
    }
    agent_live_counts(self->live, &now->live_lines, &now->live_dropped);
}

int
agent_runs_unspool(agent_runs_t *self)
{
    return agent_store_unspool(self->store, s_unspool, self);
}

/*  --- strays ------------------------------------------------------------------------------ */

/*  A child of ours that leads no task stays if it carries the token of a
 *  running one; one without a token stays while any task runs. */
static bool
s_keep_child(pid_t pid, const char *token, void *arg)
{
    agent_runs_t *self = arg;
    bool active = false;
    for (run_t *r = zlistx_first(self->runs); r; r = zlistx_next(self->runs)) {
        if (r->state == RUN_ACTIVE) {
            active = true;
            if (token && r->token && strcmp(token, r->token) == 0)
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
s_sweep(agent_runs_t *self)
{
    pid_t *leaders = xcalloc(zlistx_size(self->runs) + 1, sizeof *leaders);
    size_t n = 0;
    for (run_t *r = zlistx_first(self->runs); r; r = zlistx_next(self->runs))
        if (r->spawned && !r->child.reaped)
            leaders[n++] = r->child.pid;
    agent_orphans_sweep(leaders, n, s_keep_child, self);
    free(leaders);
}

void
agent_runs_tick(agent_runs_t *self, int64_t now)
{
    agent_live_tick(self->live, now);
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
        if (r->state == RUN_ACTIVE) {
            agent_log_flush(r->log);
            s_check(self, r);
        }
        else if (r->state == RUN_STORING)
            s_store(self, r);
    }
    for (run_t *r = zlistx_first(self->runs); r; r = zlistx_next(self->runs))
        if (r->state == RUN_DONE) {
            zlistx_detach_cur(self->runs);
            s_run_destroy(&r);
        }
}
