/*  agent_run -- see agent_run.h; this file: a run's stages (the run set is
 *  agent_runs.c). */
#include "agent_run_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent_env.h"
#include "agent_hook.h"
#include "agent_orphans.h"
#include "agent_ratelimit.h"
#include "agent_result.h"
#include "agent_spool.h"

extern char **environ;

static void s_ws_prepared(agent_runs_t *self, run_t *run);
static void s_ws_captured(agent_runs_t *self, run_t *run);

/*  --- usage ---------------------------------------------------------------------- */

void
run_accept(agent_runs_t *self, run_t *run)
{
    if (!run->accept_due)
        return;
    run->accept_due = false;
    self->report(self->ctx, SW_ACCEPT, &run->task, NULL, 0, false, false);
}

void
run_usage_send(agent_runs_t *self, run_t *run, bool final)
{
    run_accept(self, run);
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
 *  coordinator prices. A small local file, read once per run, in the
 *  loop: so only a regular file (a symlink to one is fine, a dotfiles
 *  repo), opened O_NONBLOCK, since a task running as the agent's user
 *  can put a FIFO there, whose open would block the agent for good. */
static void
s_codex_model(run_t *run)
{
    const char *home = getenv("CODEX_HOME"), *uhome = getenv("HOME");
    char *path = home && *home ? xasprintf("%s/config.toml", home)
               : uhome && *uhome ? xasprintf("%s/.codex/config.toml", uhome) : NULL;
    if (!path)
        return;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        sw_buf_t b;
        sw_buf_init(&b);
        char buf[65536];
        ssize_t n;
        while (b.len < sizeof buf && ((n = read(fd, buf, sizeof buf - b.len)) > 0
                                      || (n < 0 && errno == EINTR)))
            if (n > 0)
                sw_buf_add(&b, buf, (size_t) n);
        sw_usage_codex_config_model(b.data ? b.data : "", b.len, &run->usage.total);
        sw_buf_release(&b);
    }
    else if (fd >= 0)
        log_warnx("%s is not a regular file: codex tasks name no model (no price)", path);
    if (fd >= 0)
        close(fd);
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

/*  The result is in Redis (rc 1) or refused (0): the end entry went with
 *  it, the usage goes, then DONE. */
static void
s_stored(agent_runs_t *self, run_t *run)
{
    agent_log_end_release(&run->log_end);
    int code = run->exit_code;
    if (run->usage.seen)
        run_usage_send(self, run, true);  /*  before DONE: counted before the slot frees */
    /*  Its worktree back to the pool before DONE, not at the next tick's
     *  destroy: the next task, which DONE may bring at once, finds it
     *  idle instead of taking a new slot, which made the pool full, every
     *  other worktree removed and checked out afresh (issue 16, capture
     *  speed 2). Nothing of the run touches it after its capture. */
    run_standby_give_up(self, run);
    if (run->task.ws.commit)
        agent_ws_done(self->conf->ws, &run->ws);
    run_accept(self, run);
    self->report(self->ctx, SW_DONE, &run->task, run->status, code > 255 ? 255 : code,
                 run->retryable, run->throttled);
    run->state = RUN_DONE;
    log_info("task %s/%s attempt %lld %s", run->task.job, run->task.id,
             (long long) run->task.attempt, run->status);
}

/*  Which run an asynchronous store was for: found again by name (it may
 *  be gone when the reply comes). */
typedef struct {
    agent_runs_t *runs;
    char         *job, *id;
    int64_t       attempt;
} s_store_call_t;

static void
s_on_stored(void *arg, redisReply *reply)
{
    s_store_call_t *c = arg;
    run_t *run = run_find(c->runs, c->job, c->id, c->attempt);
    agent_runs_t *self = c->runs;
    free(c->job);
    free(c->id);
    free(c);
    if (!run || !run->storing)
        return;
    run->storing = false;
    int rc = agent_result_reply(reply);
    if (rc < 0) {
        /*  Redis away, stalled, an error reply (NOSCRIPT once per server
         *  start): the store's own way, with its spool and back-off */
        run->store_sync = true;
        run_store(self, run);
        return;
    }
    if (rc == 0)
        log_warnx("result of %s/%s attempt %lld refused: a newer attempt owns the task",
                  run->task.job, run->task.id, (long long) run->task.attempt);
    s_stored(self, run);
}

/*  Stores the result, then says DONE. Issue 20: first on the live
 *  output's connection (with the live output off, the results' own:
 *  runs_result_redis), without waiting (DONE goes when the reply says
 *  stored or refused). A failed write is retried from the tick through the
 *  store's connection: DONE goes out only once the result is safe in
 *  Redis, and until then the result is in the spool. */
/*  The frame went to hiredis (or never will): the document in it
 *  becomes a C string, its CR a NUL, for the store's blocking way and
 *  its spool (issue 20: no copy of it). */
static void
s_frame_sent(run_t *run)
{
    if (run->frame.len && !run->json) {
        run->frame.data[run->frame.len - 2] = '\0';
        run->json = run->frame.data + run->json_off;
    }
}

void
run_store(agent_runs_t *self, run_t *run)
{
    if (run->storing)
        return;                 /*  its reply decides */
    sw_aredis_t *ar = runs_result_redis(self);
    if (!run->spooled && !run->store_sync && !run->json && run->frame.len && ar) {
        s_store_call_t *c = xmalloc(sizeof *c);
        *c = (s_store_call_t) { self, xstrdup(run->task.job), xstrdup(run->task.id),
                                run->task.attempt };
        int rc = agent_result_send(ar, run->frame.data,
                                   run->frame.len, s_on_stored, c);
        s_frame_sent(run);
        if (rc == 0) {
            run->storing = true;
            return;
        }
        free(c->job);
        free(c->id);
        free(c);
    }
    s_frame_sent(run);
    /*  Not on the live connection: an end that must follow entries still
     *  in flight there goes there (unless an earlier try was answered:
     *  then they were too). */
    if (run->log_end.after_entries && !run->store_sync)
        agent_log_end_ship(self->live, &run->log_end);
    agent_spooled_t s = { run->task.job, run->task.id, run->task.ns, run->task.attempt,
                          (char *) run->status, run->exit_code, run->retryable, run->json };
    bool was_spooled = run->spooled;
    int rc = agent_store_result(self->store, &s, &run->log_end, &run->spooled);
    if (run->spooled && !was_spooled)
        agent_metrics_spooled(self->conf->metrics);
    if (rc < 0)
        return;
    s_stored(self, run);
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
    /*  The live output ends with the status stored (a workspace that
     *  could not be captured failed the task after its runner ended);
     *  a stream with no entry gets its end with the result, in one call. */
    agent_log_finish(&run->log, run->status, run->exit_code,
                     json_string_value(json_object_get(run->doc, "error")),
                     sw_aredis_ready(agent_live_redis(self->live)), &run->log_end);
    /*  The answer is escaped straight into the script call's frame (issue
     *  20: its one copy before hiredis's buffer). */
    agent_result_frame(run->doc, run->output.data, run->output.len, &run->task, &run->log_end,
                       sw_wall_ms(), &run->frame, &run->json_off);
    sw_buf_release(&run->output);
    json_decref(run->doc);
    run->doc = NULL;
    run->state = RUN_STORING;
    run_store(self, run);
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
    /*  Output that fit in the capture's head is read where it is (issue
     *  20: one copy of up to --max-output fewer per run). */
    const char *odata = c->out.head.data ? c->out.head.data : "";
    size_t olen = c->out.head.len;
    if (sw_capture_truncated(&c->out) || c->out.tail_len) {
        sw_capture_render(&c->out, &out);
        odata = out.data;
        olen = out.len;
    }
    if (run->launch.lastmsg)
        agent_state_read(run->launch.lastmsg, (size_t) self->conf->max_output, &last, &last_cut);
    agent_answer_collect(run->task.runner, odata, olen, sw_capture_truncated(&c->out),
                         last.data, last.len, last_cut, a);
    sw_buf_release(&last);
    if (a->error && strcmp(run->status, "succeeded") == 0) {
        run->status = "failed";     /*  exit 0, but no answer (or claude's is_error) */
        r->error = a->error;
    }
    sw_capture_render(&c->err, errtail);
    /*  issue 18 §4: a run the provider rate-limited goes back to the queue
     *  without using an attempt (the coordinator decides: DONE throttled) */
    if (strcmp(run->status, "failed") == 0 && c->stop == AGENT_STOP_NONE && !r->signal
        && agent_rate_limited(run->task.runner, odata, olen, errtail->data, errtail->len)) {
        run->throttled = run->retryable = true;
        r->error = "rate-limited by the provider (HTTP 429)";
    }
    /*  The answer's bytes become the run's (moved, not copied: issue 20),
     *  kept until the result's frame is built. */
    sw_buf_release(&run->output);
    if (a->text && c->out.head.data && a->text == c->out.head.data) {
        run->output = c->out.head;
        sw_buf_init(&c->out.head);
    }
    else if (a->text && out.data && a->text == out.data) {
        run->output = out;
        sw_buf_init(&out);
    }
    else if (a->text && a->output.data && a->text == a->output.data) {
        run->output = a->output;
        sw_buf_init(&a->output);
    }
    else if (a->text_len)
        sw_buf_add(&run->output, a->text, a->text_len);
    sw_buf_release(&out);
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
        runs_sweep(self);
        self->sweep = true;     /*  a stray's own children, next tick */
        run_ws_capture(self, run);
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
    r.output_apart = true;         /*  run->output, escaped into the frame */
    r.output_truncated = a.truncated;
    r.stderr_tail = errtail.data;
    r.stderr_len = errtail.len;
    if (a.usage && run->usage.total.model[0])     /*  the coordinator prices by it */
        json_object_set_new(a.usage, "model", json_string(run->usage.total.model));
    r.usage = a.usage;
    run->doc = agent_result_doc(&r);
    if (run->throttled)
        json_object_set_new(run->doc, "rate_limited", json_true());
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

void
run_end_poller(agent_runs_t *self, int fd)
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
    int eof = agent_child_read(&run->child, fd, sw_now_ms());
    if (run->role == CHILD_TASK)
        agent_log_flush(run->log);
    if (eof == 1) {
        zmq_pollitem_t end = { NULL, fd, 0, 0 };
        zloop_poller_end(loop, &end);
        agent_child_close_fd(&run->child, fd);
        /*  An exiting child closes its pipes just before it becomes a
         *  zombie: with both at EOF, look now (waitid, WNOWAIT) instead
         *  of one loop pass later, when its pidfd says so (issue 20: a
         *  pass less between the exit and the result). As runs_reap. */
        if (run->child.out_fd < 0 && run->child.err_fd < 0 && !run->child.exited
            && agent_child_poll(&run->child, sw_now_ms()) && run->child.pidfd >= 0)
            run_end_poller(run->runs, run->child.pidfd);
        run_check(run->runs, run);        /*  EOF may come after the exit */
    }
    return 0;
}

/*  Whether PID leads a run whose child is not reaped yet. */
static bool
s_is_leader(agent_runs_t *self, pid_t pid)
{
    if (self->trashing && !self->trash.reaped && self->trash.pid == pid)
        return true;
    if (runs_standby_leads(self, pid))
        return true;
    for (run_t *r = zlistx_first(self->runs); r; r = zlistx_next(self->runs))
        if (r->spawned && !r->child.reaped && r->child.pid == pid)
            return true;
    return false;
}

/*  Notes which task leaders exited, without reaping them (a zombie leader
 *  keeps its group id from being reused until the run is finished:
 *  agent_child.h), and reaps the orphans we inherited as a subreaper. */
void
runs_reap(agent_runs_t *self)
{
    int64_t now = sw_now_ms();
    for (run_t *r = zlistx_first(self->runs); r; r = zlistx_next(self->runs))
        if (r->spawned && !r->child.exited && agent_child_poll(&r->child, now)
            && r->child.pidfd >= 0)
            run_end_poller(self, r->child.pidfd);     /*  it stays readable */
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
            run_end_poller(self, item->fd);
            run_check(self, r);
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
void
run_check(agent_runs_t *self, run_t *run)
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

/*  What the runner writes also goes to its live output. */
static void
s_tee(void *ctx, int stream, const char *data, size_t n)
{
    run_t *run = ctx;
    agent_log_feed(run->log, stream == 1 ? AGENT_ERR : AGENT_OUT, data, n);
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
        .tee = s_tee, .tee_ctx = run,
    };
    if (strcmp(t->runner, "claude") == 0) {
        /*  claude's answer is its last line (the result document): the
         *  capture keeps the end, where it is, not the start. */
        o.out_head = 4096;
        o.out_tail = (size_t) conf->max_output > 8192 ? (size_t) conf->max_output - 4096 : 4096;
    }
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
void
run_start(agent_runs_t *self, run_t *run)
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
void
run_ws_prepare(agent_runs_t *self, run_t *run)
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
        run_start(self, run);
        /*  after the task's start, which it must not delay, and only for
         *  a task that runs a while (runs_standby_tick): none for a run
         *  that could not start */
        if (run->state == RUN_ACTIVE && run->spawned)
            run->standby_at = sw_now_ms() + RUN_STANDBY_AFTER_MS;
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
void
run_ws_capture(agent_runs_t *self, run_t *run)
{
    agent_ws_spawn_t s = { 0 };
    sw_err_t err = { 0 };
    run->capture_at = 0;
    bool ok = strcmp(run->status, "succeeded") == 0, lost = false;
    if (run->cancelled)
        run_standby_give_up(self, run);
    int rc = run->cancelled ? -1
           : agent_ws_capture(self->conf->ws, &run->task, &run->ws, ok, &s, &err);
    /*  the standby, when there is one, takes the request; one found gone
     *  (it may have left the index locked): a request anew, which says so */
    if (rc == 0 && run_standby_take(self, run, &lost)) {
        agent_ws_spawn_release(&s);
        s_watch(self, run, CHILD_WS_CAPTURE, xstrdup(run->ws.token));
        return;
    }
    if (rc == 0 && lost) {
        agent_ws_spawn_release(&s);
        unlink(run->ws.req);
        rc = agent_ws_capture(self->conf->ws, &run->task, &run->ws, ok, &s, &err);
    }
    if (rc < 0 || s_ws_helper(self, run, &s, CHILD_WS_CAPTURE, &err) < 0) {
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

