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
#include "agent_hook.h"
#include "agent_orphans.h"
#include "agent_prepare.h"
#include "agent_result.h"
#include "agent_spool.h"

extern char **environ;

typedef enum { RUN_ACTIVE, RUN_STORING, RUN_DONE } run_state_t;

/*  What the run's child is. A run has one child at a time, in this order:
 *  the workspace's preparation, the pre-task hook, the runner, the
 *  post-task hook, the workspace's capture. */
typedef enum {
    CHILD_WS_PREPARE, CHILD_PRE_TASK, CHILD_TASK, CHILD_POST_TASK, CHILD_WS_CAPTURE
} child_role_t;

typedef struct {
    agent_runs_t *runs;
    sw_task_t     task;
    run_state_t   state;
    char         *token;        /*  SWARM_RUN: AGENTPID:JOB ID#ATTEMPT (whole: never cut) */
    char         *live;         /*  the SWARM_RUN of the child now running: the runner's
                                    token, or the hook's ("TOKEN pre-task"); NULL */
    /*  prepare and spawn */
    agent_launch_t launch;      /*  what prepare made (agent_prepare.h) */
    char         *dir;          /*  the working directory, once prepare passed: hooks
                                    run there */
    char         *error;        /*  why it could not run */
    bool          deterministic;    /*  ... for a reason no retry changes */
    bool          start_failed; /*  prepare or the runner's spawn failed (metrics) */
    /*  the child in flight */
    agent_child_t child;
    child_role_t  role;
    bool          spawned;      /*  child holds a process (until released) */
    bool          cancelled;    /*  a CANCEL came: the runner no longer starts */
    /*  result and store */
    const char   *status;
    bool          retryable;    /*  worth another attempt, maybe elsewhere */
    int           exit_code;    /*  the runner's; -1 when it never ran */
    sw_buf_t      errtail;      /*  the stderr tail of a run whose runner never started */
    json_t       *doc;          /*  the result document, until it is text */
    json_t       *hooks;        /*  its hooks field; NULL while no hook ran */
    char         *json;         /*  result waiting to be stored */
    bool          spooled;      /*  its result is in the spool */
    /*  workspace (task.ws.commit set) */
    agent_wsrun_t ws;
    bool          ran;          /*  the runner ran: its worktree is captured */
    int64_t       capture_at;   /*  monotonic: the capture's next try; 0 = none waiting */
    int64_t       capture_backoff_ms;
    /*  usage (issue 18): read from the runner's stdout as it comes */
    sw_usage_reader_t usage;
    bool          usage_dirty;  /*  grew since the last USAGE */
    int64_t       usage_sent_ms;    /*  monotonic: the last USAGE sent */
} run_t;

struct agent_runs_t {
    zloop_t                *loop;
    const agent_run_conf_t *conf;
    agent_store_t          *store;
    agent_run_report_fn    *report;
    agent_run_usage_fn     *usage;  /*  or NULL */
    void                   *ctx;
    zlistx_t               *runs;   /*  run_t * */
    bool                    sweep;  /*  look for strays at the next tick */
    unsigned                ticks;
};

static void s_check(agent_runs_t *self, run_t *run);
static void s_sweep(agent_runs_t *self);
static void s_ws_capture(agent_runs_t *self, run_t *run);
static void s_ws_prepared(agent_runs_t *self, run_t *run);
static void s_ws_captured(agent_runs_t *self, run_t *run);

static void
s_run_destroy(run_t **run_p)
{
    run_t *run = *run_p;
    if (!run)
        return;
    if (run->spawned)
        agent_child_release(&run->child);
    if (run->task.ws.commit)
        agent_ws_done(run->runs->conf->ws, &run->ws);
    agent_launch_release(&run->launch);
    sw_task_release(&run->task);
    free(run->token);
    free(run->live);
    free(run->error);
    free(run->dir);
    sw_buf_release(&run->errtail);
    json_decref(run->doc);
    json_decref(run->hooks);
    free(run->json);
    sw_usage_reader_release(&run->usage);
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

/*  --- usage ---------------------------------------------------------------------- */

static void
s_usage_send(agent_runs_t *self, run_t *run, bool final)
{
    run->usage_dirty = false;
    run->usage_sent_ms = sw_now_ms();
    if (!self->usage)
        return;
    sw_usage_msg_t m = { .ref = { .job = run->task.job, .id = run->task.id,
                                  .attempt = run->task.attempt },
                         .u = run->usage.total, .final = final };
    self->usage(self->ctx, &m);
}

/*  codex names no model in its events: the one its config.toml sets
 *  ($CODEX_HOME, else ~/.codex; a task cannot set CODEX_HOME), which the
 *  coordinator prices. A small local file, read once per run. */
static void
s_codex_model(run_t *run)
{
    const char *home = getenv("CODEX_HOME"), *uhome = getenv("HOME");
    char *path = home && *home ? xasprintf("%s/config.toml", home)
               : uhome && *uhome ? xasprintf("%s/.codex/config.toml", uhome) : NULL;
    if (!path)
        return;
    sw_buf_t b;
    sw_buf_init(&b);
    bool cut = false;
    if (sw_read_file(path, 65536, &b, &cut) == 0)
        sw_usage_codex_config_model(b.data, b.len, &run->usage.total);
    sw_buf_release(&b);
    free(path);
}

/*  The runner's stdout as it comes: its usage so far. */
static void
s_on_out(void *arg, const char *p, size_t n)
{
    run_t *run = arg;
    if (sw_usage_reader_feed(&run->usage, p, n))
        run->usage_dirty = true;
}

/*  --- stage: store ----------------------------------------------------------------- */

/*  Stores the result, then says DONE. A failed write is retried from the
 *  tick: DONE goes out only once the result is safe in Redis, and until
 *  then the result is in the spool. */
static void
s_store(agent_runs_t *self, run_t *run)
{
    agent_spooled_t s = { run->task.job, run->task.id, run->task.ns, run->task.attempt,
                          (char *) run->status, run->exit_code, run->retryable, run->json };
    bool was_spooled = run->spooled;
    int rc = agent_store_result(self->store, &s, &run->spooled);
    if (run->spooled && !was_spooled)
        agent_metrics_spooled(self->conf->metrics);
    if (rc < 0)
        return;
    int code = run->exit_code;
    if (run->usage.seen)
        s_usage_send(self, run, true);  /*  before DONE: counted before the slot frees */
    self->report(self->ctx, SW_DONE, &run->task, run->status, code > 255 ? 255 : code,
                 run->retryable);
    run->state = RUN_DONE;
    log_info("task %s/%s attempt %lld %s", run->task.job, run->task.id,
             (long long) run->task.attempt, run->status);
}

/*  The end of the result stage: the document, with its hooks field,
 *  becomes the text that is stored. */
static void
s_store_result(agent_runs_t *self, run_t *run)
{
    if (run->hooks)
        json_object_set(run->doc, "hooks", run->hooks);
    if (run->task.ws.commit)
        agent_ws_result(&run->ws, run->doc);
    run->json = json_dumps(run->doc, JSON_COMPACT);
    json_decref(run->doc);
    run->doc = NULL;
    run->state = RUN_STORING;
    s_store(self, run);
}

/*  --- stages: collect and result ----------------------------------------------------- */

/*  What the finished runner left: its status, and its answer
 *  (agent_answer_collect: codex's -o file or last agent_message, claude's
 *  result, a command's stdout) into a. */
static void
s_collect(agent_runs_t *self, run_t *run, agent_result_t *r, agent_answer_t *a,
          sw_buf_t *errtail)
{
    agent_child_t *c = &run->child;
    r->exit_code = run->exit_code = agent_child_exit_code(c);
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
    if (run->launch.lastmsg)
        agent_state_read(run->launch.lastmsg, (size_t) self->conf->max_output, &last, &last_cut);
    agent_answer_collect(run->task.runner, out.data, out.len, sw_capture_truncated(&c->out),
                         last.data, last.len, last_cut, a);
    sw_buf_release(&out);
    sw_buf_release(&last);
    if (a->error && strcmp(run->status, "succeeded") == 0) {
        run->status = "failed";     /*  exit 0, but no answer (or claude's is_error) */
        r->error = a->error;
    }
    sw_capture_render(&c->err, errtail);
    if (sw_usage_reader_end(&run->usage))
        run->usage_dirty = true;
    if (run->usage.rejected)
        log_warnx("task %s/%s: %llu usage reports of its runner ignored (absurd numbers)",
                  run->task.job, run->task.id, (unsigned long long) run->usage.rejected);
}

/*  Releases the finished (reaped) child: the run may start the next. */
static void
s_child_release(run_t *run)
{
    if (run->spawned)
        agent_child_release(&run->child);
    run->spawned = false;
    free(run->live);
    run->live = NULL;
}

static void s_hook_start(agent_runs_t *self, run_t *run, agent_hook_t h);

/*  The result document is made and the post-task hook (if any) is over:
 *  a workspace's capture, then the store. */
static void
s_finish(agent_runs_t *self, run_t *run)
{
    if (run->task.ws.commit && run->ran) {
        /*  Nothing of the task may change the worktree while or after it
         *  is captured: what the runner and the hooks left outside their
         *  groups goes first (no live child carries their tokens now). */
        s_sweep(self);
        self->sweep = true;     /*  a stray's own children, next tick */
        s_ws_capture(self, run);
        return;
    }
    s_store_result(self, run);
}

/*  The task is over, the runner's child finished or never started: the
 *  result document, then the post-task hook (when there is one and the
 *  run reached its working directory), then the store. */
static void
s_result(agent_runs_t *self, run_t *run)
{
    bool ran = run->spawned && run->role == CHILD_TASK;
    sw_buf_t errtail;
    sw_buf_init(&errtail);
    agent_answer_t a = { 0 };
    sw_buf_init(&a.output);
    agent_result_t r = { .task = &run->task, .agent = self->conf->agent_id,
                         .host = self->conf->host, .exit_code = -1,
                         .started_wall_ms = sw_wall_ms(), .error = run->error };
    if (ran)
        s_collect(self, run, &r, &a, &errtail);
    else {
        /*  a CANCEL during the pre-task hook; else a failure before the
         *  runner: a missing binary or directory may exist on another
         *  agent, a hook's crash or timeout may pass there */
        run->status = run->cancelled ? "cancelled" : "failed";
        run->retryable = !run->cancelled && !run->deterministic;
        if (run->errtail.len)
            sw_buf_add(&errtail, run->errtail.data, run->errtail.len);
        else if (run->error)
            sw_buf_addstr(&errtail, run->error);
    }
    if (run->start_failed)
        agent_metrics_spawn_failed(self->conf->metrics, run->task.runner);
    agent_metrics_finished(self->conf->metrics, run->status, run->task.runner,
                           ran ? run->child.out.total : 0, ran ? run->child.err.total : 0);
    r.status = run->status;
    r.output = a.output.data;
    r.output_len = a.output.len;
    r.output_truncated = a.truncated;
    r.stderr_tail = errtail.data;
    r.stderr_len = errtail.len;
    if (a.usage && run->usage.total.model[0])     /*  the coordinator prices by it */
        json_object_set_new(a.usage, "model", json_string(run->usage.total.model));
    r.usage = a.usage;
    run->doc = agent_result_doc(&r);
    agent_answer_release(&a);
    sw_buf_release(&errtail);
    if (ran)
        s_child_release(run);
    run->ran = ran;
    self->sweep = true;         /*  what the runner left goes, even while post-task runs */
    if (self->conf->hooks[AGENT_HOOK_POST_TASK] && run->dir)
        s_hook_start(self, run, AGENT_HOOK_POST_TASK);
    else
        s_finish(self, run);
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
    /*  An item of a child already released (its number may be another
     *  child's now) is not read. */
    if (!run->spawned || fd < 0 || (fd != run->child.out_fd && fd != run->child.err_fd))
        return 0;
    if (agent_child_read(&run->child, fd, sw_now_ms()) == 1) {
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

static void s_spawn(agent_runs_t *self, run_t *run);

/*  A hook's child finished: its entry in the result's hooks field, and
 *  what follows it. A pre-task hook that did not succeed fails the task
 *  (its reason and stderr tail), and the runner never starts; a post-task
 *  hook's failure is logged and recorded, the task's status stays. */
static void
s_hook_done(agent_runs_t *self, run_t *run, agent_hook_t h, const char *spawn_error)
{
    agent_child_t *c = &run->child;
    sw_buf_t out, err;
    sw_buf_init(&out);
    sw_buf_init(&err);
    agent_hook_end_t e = { .h = h, .spawned = !spawn_error, .spawn_error = spawn_error,
                           .timeout_ms = self->conf->hook_timeout_ms };
    if (!spawn_error) {
        e.stop = c->stop;
        e.exit_code = agent_child_exit_code(c);
        e.signal = agent_child_signal(c);
        e.duration_ms = c->duration_ms;
        sw_capture_render(&c->out, &out);
        sw_capture_render(&c->err, &err);
        e.out = out.data;
        e.out_len = out.len;
        e.err = err.data;
        e.err_len = err.len;
    }
    if (!run->hooks)
        run->hooks = json_object();
    json_object_set_new(run->hooks, agent_hook_name(h), agent_hook_doc(&e));
    char *why = agent_hook_error(&e);
    if (why) {
        /*  the last line of its stderr says most */
        size_t n = err.len;
        while (n > 0 && err.data[n - 1] == '\n')
            n--;
        size_t b = n;
        while (b > 0 && err.data[b - 1] != '\n')
            b--;
        log_warnx("task %s/%s attempt %lld: %s%s%.*s", run->task.job, run->task.id,
                  (long long) run->task.attempt, why, n > b ? ": " : "",
                  (int) (n - b > 300 ? 300 : n - b), err.data ? err.data + b : "");
    }
    s_child_release(run);
    if (h == AGENT_HOOK_POST_TASK)
        s_finish(self, run);
    else if (!why && !run->cancelled)
        s_spawn(self, run);
    else {
        if (!run->cancelled) {
            run->error = why;
            why = NULL;
            run->deterministic = !agent_hook_retryable(&e);
            sw_buf_add(&run->errtail, err.data, err.len);
        }
        agent_launch_spawned(&run->launch);
        s_result(self, run);
    }
    free(why);
    sw_buf_release(&out);
    sw_buf_release(&err);
}

/*  Once the run's child has exited and both its pipes reached EOF: the
 *  stage after it. */
static void
s_check(agent_runs_t *self, run_t *run)
{
    if (run->state != RUN_ACTIVE || !run->spawned || !agent_child_finished(&run->child))
        return;
    agent_child_finish(&run->child);    /*  the last group kill, then the reap */
    if (run->role == CHILD_TASK)
        s_result(self, run);
    else if (run->role == CHILD_WS_PREPARE)
        s_ws_prepared(self, run);
    else if (run->role == CHILD_WS_CAPTURE)
        s_ws_captured(self, run);
    else
        s_hook_done(self, run, run->role == CHILD_PRE_TASK ? AGENT_HOOK_PRE_TASK
                                                           : AGENT_HOOK_POST_TASK, NULL);
}

/*  --- stages: prepare and spawn ---------------------------------------------------------- */

/*  The run's child on the loop: its pipes and pidfd. */
static void
s_watch(agent_runs_t *self, run_t *run, child_role_t role, char *live)
{
    run->spawned = true;
    run->role = role;
    free(run->live);
    run->live = live;
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
}

/*  Stage spawn: the runner's child, supervised from here on. A runner
 *  that cannot start completes the run at once (its result says why). */
static void
s_spawn(agent_runs_t *self, run_t *run)
{
    const agent_run_conf_t *conf = self->conf;
    const sw_task_t *t = &run->task;
    const agent_launch_t *l = &run->launch;
    sw_err_t err = { 0 };
    agent_child_opts_t o = {
        .argv = l->argv.v, .envp = l->envp, .dir = l->dir, .stdin_fd = l->prompt_fd,
        .timeout_ms = t->timeout_s * 1000, .idle_ms = t->idle_timeout_s * 1000,
        .grace_ms = conf->grace_ms,
        /*  codex cleans up its tool processes on SIGINT */
        .term_signal = strcmp(t->runner, "codex") == 0 ? SIGINT : SIGTERM,
        .out_head = (size_t) conf->max_output / 2,
        .out_tail = (size_t) conf->max_output / 2, .err_tail = 4096,
    };
    int rc = agent_child_spawn(&run->child, &o, &err);
    agent_launch_spawned(&run->launch);     /*  the child has its prompt, or never will */
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
        run->start_failed = true;
        log_warnx("task %s/%s cannot run: %s", t->job, t->id, run->error);
        s_result(self, run);
        return;
    }
    run->child.out_sink = s_on_out;
    run->child.out_sink_arg = run;
    if (strcmp(t->runner, "codex") == 0)
        s_codex_model(run);
    s_watch(self, run, CHILD_TASK, xstrdup(run->token));
    log_debug("started %s/%s attempt %lld: pid %d", t->job, t->id, (long long) t->attempt,
              (int) run->child.pid);
}

/*  Stage hook: the node owner's hook H as the run's child, in the task's
 *  working directory, with its own SWARM_RUN token (what it leaves behind
 *  is swept once it ends, while the run goes on). One that cannot start
 *  ends at once like a failed one. */
static void
s_hook_start(agent_runs_t *self, run_t *run, agent_hook_t h)
{
    const agent_run_conf_t *conf = self->conf;
    char *token = xasprintf("%s %s", run->token, agent_hook_name(h));
    agent_hook_env_t he = { .base = environ, .pass_env = conf->pass_env,
                            .policy = &conf->env_policy, .agent_id = conf->agent_id,
                            .token = token, .status = run->status,
                            .exit_code = run->exit_code };
    char **envp = agent_hook_env(h, &run->task, &he);
    char *argv[] = { (char *) conf->hooks[h], NULL };
    agent_child_opts_t o = {
        .argv = argv, .envp = envp, .dir = run->dir, .stdin_fd = -1,
        .timeout_ms = conf->hook_timeout_ms, .grace_ms = conf->grace_ms,
        .term_signal = SIGTERM,
        .out_head = 0, .out_tail = AGENT_HOOK_TAIL, .err_tail = AGENT_HOOK_TAIL,
    };
    sw_err_t err = { 0 };
    int rc = agent_child_spawn(&run->child, &o, &err);
    agent_env_free(envp);
    if (rc < 0) {
        free(token);
        s_hook_done(self, run, h, err.msg);
        return;
    }
    s_watch(self, run, h == AGENT_HOOK_PRE_TASK ? CHILD_PRE_TASK : CHILD_POST_TASK, token);
    log_debug("%s hook of %s/%s attempt %lld: pid %d", agent_hook_name(h), run->task.job,
              run->task.id, (long long) run->task.attempt, (int) run->child.pid);
}

/*  A TASK's run: prepare, then (once its working directory exists) the
 *  pre-task hook, then the runner. A run that cannot start completes at
 *  once (its result says why). */
static void
s_start(agent_runs_t *self, run_t *run)
{
    if (agent_prepare(self->conf, self->store, &run->task, run->token,
                      run->task.ws.commit ? run->ws.cwd : NULL, &run->launch) < 0) {
        run->error = run->launch.error;
        run->launch.error = NULL;
        run->deterministic = run->launch.deterministic;
        log_warnx("task %s/%s cannot run: %s", run->task.job, run->task.id, run->error);
        run->start_failed = true;
        agent_launch_spawned(&run->launch);
        s_result(self, run);
        return;
    }
    /*  The working directory exists: the hooks run there. */
    run->dir = xstrdup(run->launch.dir);
    if (self->conf->hooks[AGENT_HOOK_PRE_TASK])
        s_hook_start(self, run, AGENT_HOOK_PRE_TASK);
    else
        s_spawn(self, run);
}

/*  --- stages: workspace ------------------------------------------------------------------ */

/*  Starts the workspace helper of a stage as the run's child (agent_ws
 *  gave it the token "TOKEN workspace": what it leaves goes once it ends,
 *  the runner's strays while it works). */
static int
s_ws_helper(agent_runs_t *self, run_t *run, agent_ws_spawn_t *s, child_role_t role,
            sw_err_t *err)
{
    int rc = agent_child_spawn(&run->child, &s->opts, err);
    agent_ws_spawn_release(s);
    if (rc == 0)
        s_watch(self, run, role, xstrdup(run->ws.token));
    return rc;
}

/*  The first stage of a task with a workspace: its worktree. */
static void
s_ws_prepare(agent_runs_t *self, run_t *run)
{
    agent_ws_spawn_t s = { 0 };
    sw_err_t err = { 0 };
    run->ws.token = xasprintf("%s workspace", run->token);
    if (agent_ws_prepare(self->conf->ws, &run->task, &run->ws, &s, &err) < 0
        || s_ws_helper(self, run, &s, CHILD_WS_PREPARE, &err) < 0) {
        agent_ws_spawn_release(&s);
        run->error = xasprintf("workspace: %s", err.msg);
        log_warnx("task %s/%s cannot run: %s", run->task.job, run->task.id, run->error);
        s_result(self, run);
    }
}

static void
s_ws_prepared(agent_runs_t *self, run_t *run)
{
    bool cancelled = run->child.stop == AGENT_STOP_CANCEL || run->cancelled;
    int rc = agent_ws_prepared(self->conf->ws, &run->task, &run->ws, &run->child);
    s_child_release(run);
    if (!cancelled && rc == 0) {
        s_start(self, run);
        return;
    }
    run->cancelled = cancelled;
    run->error = cancelled ? xstrdup("cancelled while its workspace was prepared")
               : xasprintf("workspace: %s", run->ws.error);
    /*  a conflict or a corrupt chunk fails the same way everywhere */
    run->deterministic = !cancelled && !run->ws.retry;
    log_warnx("task %s/%s cannot run: %s", run->task.job, run->task.id, run->error);
    s_result(self, run);
}

/*  After the task: the change and the outputs into the store. */
static void
s_ws_capture(agent_runs_t *self, run_t *run)
{
    agent_ws_spawn_t s = { 0 };
    sw_err_t err = { 0 };
    run->capture_at = 0;
    bool ok = strcmp(run->status, "succeeded") == 0;
    if (run->cancelled || agent_ws_capture(self->conf->ws, &run->task, &run->ws, ok, &s, &err) < 0
        || s_ws_helper(self, run, &s, CHILD_WS_CAPTURE, &err) < 0) {
        agent_ws_spawn_release(&s);
        free(run->ws.error);
        run->ws.error = xstrdup(run->cancelled ? "cancelled" : err.msg);
        run->ws.retry = false;
        s_ws_captured(self, run);
    }
}

static void
s_ws_captured(agent_runs_t *self, run_t *run)
{
    int rc = -1;
    bool cancelled = run->cancelled;
    if (run->spawned) {
        cancelled = cancelled || run->child.stop == AGENT_STOP_CANCEL;
        rc = agent_ws_captured(self->conf->ws, &run->task, &run->ws, &run->child);
        s_child_release(run);
    }
    if (rc < 0 && run->ws.retry && !cancelled) {
        run->capture_at = sw_now_ms() + run->ws.retry_ms;   /*  Redis is out */
        return;
    }
    if (rc < 0) {
        /*  The task's work cannot come home: it did not succeed. */
        const char *why = cancelled ? "cancelled while its workspace was captured"
                        : run->ws.error ? run->ws.error : "?";
        log_warnx("task %s/%s: its workspace was not stored: %s", run->task.job, run->task.id,
                  why);
        if (cancelled || strcmp(run->status, "succeeded") == 0) {
            run->status = cancelled ? "cancelled" : "failed";
            run->retryable = false;
            json_object_set_new(run->doc, "status", json_string(run->status));
            json_object_set_new(run->doc, "error", json_string(why));
        }
    }
    s_store_result(self, run);
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
    agent_launch_init(&run->launch);
    run->task = *t;
    sw_task_init(t);
    /*  a space, which no id holds, between job and id (coll x/y is not coll/x y) */
    run->token = xasprintf("%d:%s %s#%lld", (int) getpid(), run->task.job, run->task.id,
                           (long long) run->task.attempt);
    agent_wsrun_init(&run->ws);
    sw_usage_reader_init(&run->usage, run->task.runner);
    long long busy = 0;
    for (run_t *r = zlistx_first(self->runs); r; r = zlistx_next(self->runs))
        busy += r->state != RUN_DONE;
    if (busy >= self->conf->slots)
        log_warnx("TASK %s beyond our %lld slots: running it anyway", run->task.id,
                  self->conf->slots);
    zlistx_add_end(self->runs, run);
    self->report(self->ctx, SW_ACCEPT, &run->task, NULL, 0, false);
    if (run->task.ws.commit)
        s_ws_prepare(self, run);
    else
        s_start(self, run);
}

void
agent_runs_set_usage(agent_runs_t *self, agent_run_usage_fn *fn)
{
    self->usage = fn;
}

void
agent_runs_cancel(agent_runs_t *self, const char *job, const char *id, int64_t attempt)
{
    run_t *run = s_find(self, job, id, attempt);
    if (!run || run->state != RUN_ACTIVE)
        return;
    /*  Whatever runs now stops: the pre-task hook (the runner then never
     *  starts), the runner, or the post-task hook. A post-task hook still
     *  runs after a cancelled runner, like `finally`. */
    run->cancelled = true;
    if (!run->spawned && run->capture_at) {
        log_info("cancelling %s/%s", job, id);
        s_ws_capture(self, run);        /*  waiting for Redis: ends now, cancelled */
    }
    else if (run->spawned) {
        log_info("cancelling %s/%s", job, id);
        agent_child_stop(&run->child, AGENT_STOP_CANCEL, sw_now_ms());
    }
}

size_t
agent_runs_finish_results(agent_runs_t *self, int64_t now_ms)
{
    size_t n = 0;
    for (run_t *r = zlistx_first(self->runs); r; r = zlistx_next(self->runs)) {
        bool post = r->state == RUN_ACTIVE && r->spawned && r->role == CHILD_POST_TASK;
        if (post && r->child.stop == AGENT_STOP_NONE)
            agent_child_stop(&r->child, AGENT_STOP_SHUTDOWN, now_ms);
        n += post || r->state == RUN_STORING
             || (r->state == RUN_ACTIVE && r->role == CHILD_WS_CAPTURE && r->ran);
    }
    return n;
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
    agent_launch_init(&run->launch);
    agent_wsrun_init(&run->ws);
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
}

int
agent_runs_unspool(agent_runs_t *self)
{
    return agent_store_unspool(self->store, s_unspool, self);
}

/*  --- strays ------------------------------------------------------------------------------ */

/*  A child of ours that leads no task stays if it carries the token of a
 *  running child (a runner, or a hook: each has its own, so what the
 *  runner left goes while the post-task hook runs); one without a token
 *  stays while any task runs. */
static bool
s_keep_child(pid_t pid, const char *token, void *arg)
{
    agent_runs_t *self = arg;
    bool active = false;
    for (run_t *r = zlistx_first(self->runs); r; r = zlistx_next(self->runs)) {
        if (r->state == RUN_ACTIVE) {
            active = true;
            if (token && r->live && strcmp(token, r->live) == 0)
                return true;
        }
    }
    if (!token && active)
        return true;
    /*  "JOB ID#N[ HOOK]" as the logs name tasks: JOB/ID#N */
    char *task = token && strchr(token, ':') ? xstrdup(strchr(token, ':') + 1) : NULL;
    if (task && strchr(task, ' '))
        *strchr(task, ' ') = '/';
    log_warnx("killing process %d that %s left behind", (int) pid,
              task ? task : "a finished task");
    free(task);
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
        /*  Usage as it grows, at most once a second per run: a runner
         *  printing a line per token costs one message a second. */
        if (r->usage_dirty && r->state == RUN_ACTIVE && now - r->usage_sent_ms >= 1000)
            s_usage_send(self, r, r->usage.have_result);   /*  claude's result: it is done */
        if (r->state == RUN_ACTIVE && !r->spawned && r->capture_at && now >= r->capture_at)
            s_ws_capture(self, r);
        else if (r->state == RUN_ACTIVE)
            s_check(self, r);
        else if (r->state == RUN_STORING)
            s_store(self, r);
    }
    for (run_t *r = zlistx_first(self->runs); r; r = zlistx_next(self->runs))
        if (r->state == RUN_DONE) {
            zlistx_detach_cur(self->runs);
            s_run_destroy(&r);
        }
}
