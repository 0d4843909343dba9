/*  agent_runs -- see agent_run.h; this file: the run set (start, cancel,
 *  tick, the spool, strays). A run's stages are agent_run.c. */
#include "agent_run_int.h"

#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent_orphans.h"
#include "agent_spool.h"

void
run_destroy(run_t **run_p)
{
    run_t *run = *run_p;
    if (!run)
        return;
    run_standby_give_up(run->runs, run);
    if (run->spawned)
        agent_child_release(&run->child);
    agent_log_destroy(&run->log);
    agent_log_end_release(&run->log_end);
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
    if (!run->frame.data)
        free(run->json);
    sw_buf_release(&run->frame);
    sw_buf_release(&run->output);
    sw_usage_reader_release(&run->usage);
    free(run);
    *run_p = NULL;
}

run_t *
run_find(agent_runs_t *self, const char *job, const char *id, int64_t attempt)
{
    for (run_t *r = zlistx_first(self->runs); r; r = zlistx_next(self->runs))
        if (strcmp(r->task.job, job) == 0 && strcmp(r->task.id, id) == 0
            && (attempt < 0 || r->task.attempt == attempt))
            return r;
    return NULL;
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
    self->standbys = zlistx_new();
    sw_err_t err = { 0 };
    if (conf->log_ttl_s > 0 && conf->redis_url
        && !(self->live = agent_live_new(loop, conf->redis_url, conf->log_ttl_s, &err)))
        log_warnx("no live output: %s", err.msg);
    /*  Issue 20: with the live output off, a result still goes out without
     *  waiting for its reply (the blocking store stalled every slot for a
     *  round trip per task); the blocking store stays its fallback. */
    if (!self->live && conf->redis_url
        && !(self->results = sw_aredis_new(loop, "results", conf->redis_url,
                                           AGENT_LIVE_PENDING, &err)))
        log_warnx("results stored with a blocking call: %s", err.msg);
    return self;
}

sw_aredis_t *
runs_result_redis(agent_runs_t *self)
{
    return self->live ? agent_live_redis(self->live) : self->results;
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
        run_destroy(&r);
    }
    /*  before the orphans' loop below, whose waitpid(-1) would reap them */
    runs_standby_destroy(self);
    /*  No task runs now: whatever escaped its group goes, tree by tree. */
    pid_t child[1];
    for (int i = 0; i < 100 && agent_orphans_children(child, 1) > 0; i++) {
        runs_sweep(self);
        usleep(10000);
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
    }
    if (self->trashing)
        agent_child_release(&self->trash);  /*  what it left, the next start removes */
    zlistx_destroy(&self->runs);
    zlistx_destroy(&self->standbys);
    agent_live_destroy(&self->live);
    sw_aredis_destroy(&self->results);
    free(self);
    *self_p = NULL;
}

void
agent_runs_start(agent_runs_t *self, sw_task_t *t)
{
    if (run_find(self, t->job, t->id, t->attempt)) {
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
    /*  ACCEPT goes at the next tick (≤ 100 ms), or with the run's first
     *  USAGE or its DONE if they come first (issue 20): a quick task's
     *  ACCEPT no longer wakes both daemons' I/O threads and the
     *  coordinator's loop while its child is spawned. It only makes the
     *  coordinator's "started" event, whose time is when it comes. */
    run->accept_due = true;
    /*  From the start: a run that cannot start (its workspace, its
     *  preparation) says why in its live output too. */
    run->log = agent_log_new(self->live, run->task.job, run->task.id, run->task.attempt,
                             strcmp(run->task.runner, "exec") != 0);
    if (run->task.ws.commit)
        run_ws_prepare(self, run);
    else
        run_start(self, run);
}

void
agent_runs_set_usage(agent_runs_t *self, agent_run_usage_fn *fn)
{
    self->usage = fn;
}

void
agent_runs_cancel(agent_runs_t *self, const char *job, const char *id, int64_t attempt)
{
    run_t *run = run_find(self, job, id, attempt);
    if (!run || run->state != RUN_ACTIVE)
        return;
    /*  Whatever runs now stops: the pre-task hook (the runner then never
     *  starts), the runner, or the post-task hook. A post-task hook still
     *  runs after a cancelled runner, like `finally`. */
    run->cancelled = true;
    if (!run->spawned && run->capture_at) {
        log_info("cancelling %s/%s", job, id);
        run_ws_capture(self, run);        /*  waiting for Redis: ends now, cancelled */
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
    /*  the result document says whether the provider rate-limited it */
    json_t *doc = run->json ? json_loads(run->json, 0, NULL) : NULL;
    run->throttled = json_is_true(json_object_get(doc, "rate_limited"));
    json_decref(doc);
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
void
runs_sweep(agent_runs_t *self)
{
    size_t max = zlistx_size(self->runs) + zlistx_size(self->standbys) + 2;
    pid_t *leaders = xcalloc(max, sizeof *leaders);
    size_t n = runs_standby_pids(self, leaders, zlistx_size(self->standbys));
    for (run_t *r = zlistx_first(self->runs); r; r = zlistx_next(self->runs))
        if (r->spawned && !r->child.reaped)
            leaders[n++] = r->child.pid;
    if (self->trashing && !self->trash.reaped)
        leaders[n++] = self->trash.pid;
    agent_orphans_sweep(leaders, n, s_keep_child, self);
    free(leaders);
}

/*  The remover of worktrees moved aside: polled here, at most one at a
 *  time, never on a run's path (its pipes carry a few lines at most:
 *  read each tick, the child never blocks on them). */
static void
s_trash_tick(agent_runs_t *self, int64_t now)
{
    agent_ws_t *ws = self->conf->ws;
    if (!ws)
        return;
    if (self->trashing) {
        agent_child_t *c = &self->trash;
        for (int i = 0; i < 2; i++) {
            int fd = i ? c->err_fd : c->out_fd;
            if (fd >= 0 && agent_child_read(c, fd, now))
                agent_child_close_fd(c, fd);
        }
        agent_child_poll(c, now);
        if (agent_child_tick(c, now))
            for (int i = 0; i < 2; i++) {
                int fd = i ? c->err_fd : c->out_fd;
                if (fd >= 0)
                    agent_child_close_fd(c, fd);
            }
        if (!agent_child_finished(c))
            return;
        agent_child_finish(c);
        agent_ws_trash_done(ws, c);
        agent_child_release(c);
        self->trashing = false;
    }
    agent_ws_spawn_t s = { 0 };
    sw_err_t err = { 0 };
    int rc = agent_ws_trash_spawn(ws, &s, &err);
    if (rc > 0 && agent_child_spawn(&self->trash, &s.opts, &err) == 0)
        self->trashing = true;
    else if (rc != 0) {
        log_warnx("cannot start the removal of worktrees moved aside: %s", err.msg);
        if (rc > 0)
            agent_ws_trash_done(ws, NULL);
    }
    agent_ws_spawn_release(&s);
}

void
agent_runs_tick(agent_runs_t *self, int64_t now)
{
    agent_live_tick(self->live, now);
    if (self->results)
        sw_aredis_tick(self->results, now);
    runs_reap(self);
    /*  After a task ends and after an orphan dies, and once a second in
     *  case a stray's parent died between ticks. */
    if (self->sweep || ++self->ticks % 10 == 0) {
        self->sweep = false;
        runs_sweep(self);
    }
    for (run_t *r = zlistx_first(self->runs); r; r = zlistx_next(self->runs)) {
        run_accept(self, r);
        if (r->state == RUN_ACTIVE && r->spawned && agent_child_tick(&r->child, now)) {
            log_warnx("task %s: a process outside its group holds its output open; "
                      "closing", r->task.id);
            for (int i = 0; i < 2; i++) {
                int fd = i ? r->child.err_fd : r->child.out_fd;
                if (fd >= 0) {
                    run_end_poller(self, fd);
                    agent_child_close_fd(&r->child, fd);
                }
            }
        }
        /*  Usage as it grows, at most once a second per run: a runner
         *  printing a line per token costs one message a second. */
        if (r->usage_dirty && r->state == RUN_ACTIVE && now - r->usage_sent_ms >= 1000)
            run_usage_send(self, r, r->usage.have_result);   /*  claude's result: it is done */
        if (r->state == RUN_ACTIVE && !r->spawned && r->capture_at && now >= r->capture_at)
            run_ws_capture(self, r);
        else if (r->state == RUN_ACTIVE) {
            agent_log_flush(r->log);
            run_check(self, r);
        }
        else if (r->state == RUN_STORING)
            run_store(self, r);
    }
    /*  Freed here, in the tick (a zloop timer), and only here: a DONE run's
     *  pipes were taken off the loop (zloop_poller_end, by s_on_pipe at EOF
     *  or above when forced) before its child could finish. czmq 4.2.1's
     *  zloop dispatches no poller in a pass whose timers ended one ("Check
     *  if timers changed pollset": the pass restarts with a rebuilt set),
     *  and stops a pass after a handler that ended one: no s_on_pipe of
     *  this pass reaches a run freed here (e2e.timeout, leaver). */
    for (run_t *r = zlistx_first(self->runs); r; r = zlistx_next(self->runs))
        if (r->state == RUN_DONE) {
            zlistx_detach_cur(self->runs);
            run_destroy(&r);
        }
    s_trash_tick(self, now);
    runs_standby_tick(self, now);
}
