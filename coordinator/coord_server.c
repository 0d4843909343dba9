/*  coord_server -- see coord_server.h */
#include "coord_server.h"

#include <malloc.h>

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coord_record.h"
#include "coord_server_int.h"
#include "sw_keys.h"

#define SWEEP_MS 100
/*  How long writes nothing waits for may stay on the pipeline (ms): the
 *  bound on how late an event shows in `swarm events -f`, and what a
 *  crash of the coordinator can lose of them (docs/design.md, issue 20). */
#define COORD_FLUSH_DEFER_MS 5

static void s_cut_off(coord_server_t *self, coord_agent_t *a, const char *why);

/*  --- scheduler callbacks -------------------------------------------------- */

static void
s_persist(void *ctx, coord_task_t *t)
{
    coord_server_t *self = ctx;
    /*  first: is_new still says whether it was just submitted */
    coord_events_task(self->events, t, sw_now_ms(), sw_wall_ms());
    coord_store_task(self->store, t);
}

/*  An event for a job's log goes on the store's pipeline. */
static bool
s_event(void *ctx, const char *job, int nf, const char *const *fv)
{
    coord_server_t *self = ctx;
    return coord_store_event(self->store, job, nf, fv);
}

static void
s_dispatch(void *ctx, coord_task_t *t, coord_agent_t *a)
{
    coord_server_t *self = ctx;
    zlistx_add_end(self->outbox, t);
    coord_metrics_dispatched(self->metrics, t);
    log_debug("dispatch %s/%s attempt %lld -> %s", t->job->id, t->spec.id,
              (long long) t->spec.attempt, a->id);
}

static void
s_cancel(void *ctx, coord_task_t *t, coord_agent_t *a)
{
    coord_server_t *self = ctx;
    coord_events_cancelling(self->events, t, sw_wall_ms());
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    sw_mp_packer_init(&pk, &sb);
    sw_ref_t r = { .job = t->job->id, .id = t->spec.id, .attempt = t->spec.attempt };
    sw_ref_pack(&pk, &r, false);
    if (sw_msg_send(self->agents, a->routing, SW_CANCEL, sb.data, sb.size) < 0)
        log_warn("cannot send CANCEL %s to agent %s", t->spec.id, a->id);
    msgpack_sbuffer_destroy(&sb);
}

static void
s_stale(void *ctx, coord_agent_t *a, const sw_ref_t *r)
{
    coord_server_t *self = ctx;
    log_info("agent %s still runs %s/%s attempt %lld, which is not its any more: stopping it",
             a->id, r->job, r->id, (long long) r->attempt);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    sw_mp_packer_init(&pk, &sb);
    sw_ref_pack(&pk, r, false);
    if (sw_msg_send(self->agents, a->routing, SW_CANCEL, sb.data, sb.size) < 0)
        log_warn("cannot send CANCEL %s to agent %s", r->id, a->id);
    msgpack_sbuffer_destroy(&sb);
}

static void
s_finished(void *ctx, coord_task_t *t)
{
    coord_server_t *self = ctx;
    coord_metrics_finished(self->metrics, t);
    self->finished = true;
    /*  A line per final task: the fault suite's audit counts them (each
     *  completion fires once, tests/fault/lib.sh). */
    log_info("task %s/%s %s%s%s", t->job->id, t->spec.id, sw_tstate_name(t->state),
             t->reason ? ": " : "", t->reason ? t->reason : "");
    coord_job_t *j = t->job;
    if (j->nfinal == j->ntasks) {   /*  fan-in: once per task, so once here */
        j->complete_ms = sw_now_ms();
        coord_store_job_complete(self->store, j, true);
        coord_events_complete(self->events, j, sw_wall_ms());
        log_info("job %s complete: %d task%s, %d succeeded, %d failed, %d timed out, "
                 "%d cancelled, %d skipped", j->id, j->ntasks, j->ntasks == 1 ? "" : "s",
                 j->counts[SW_TS_SUCCEEDED], j->counts[SW_TS_FAILED],
                 j->counts[SW_TS_TIMED_OUT], j->counts[SW_TS_CANCELLED],
                 j->counts[SW_TS_SKIPPED]);
    }
    if (self->ctl)
        coord_ctl_task_finished(self->ctl, t);
}

static void
s_agent_gone(void *ctx, coord_agent_t *a)
{
    coord_server_t *self = ctx;
    char key[128];
    coord_server_peer_key(a->routing, key, sizeof key);
    zhashx_delete(self->peers, key);
}

/*  Sends the TASK messages of this turn; their state is stored. */
static void
s_send_outbox(coord_server_t *self)
{
    if (zlistx_size(self->outbox) == 0)
        return;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    sw_mp_packer_init(&pk, &sb);
    coord_task_t *t;
    while ((t = zlistx_first(self->outbox))) {
        zlistx_detach_cur(self->outbox);
        if (t->state != SW_TS_RUNNING || !t->agent)
            continue;           /*  its agent died, or Redis refused it, before we could send */
        if (t->cancel_requested) {
            /*  cancelled while its TASK waited for Redis: it never leaves */
            coord_sched_cancel_unsent(self->sched, t, sw_wall_ms());
            continue;
        }
        msgpack_sbuffer_clear(&sb);
        sw_task_t spec;
        coord_task_spec(t, &spec);      /*  borrowed: not released */
        sw_task_pack(&pk, &spec);
        if (sw_msg_send(self->agents, t->agent->routing, SW_TASK, sb.data, sb.size) < 0)
            log_warn("cannot send TASK %s to agent %s", t->spec.id, t->agent->id);
    }
    msgpack_sbuffer_destroy(&sb);
}

/*  Flushes the turn's writes; a write Redis refused ends its task (failed,
 *  with the reason) or request (an error reply), and those endings are
 *  written in turn. True when Redis has everything it did not refuse. */
static bool
s_flush(coord_server_t *self)
{
    /*  The fence against a second coordinator (coord_lease.h): checked
     *  before the turn's writes, so one resumed after another took the
     *  database over stops before it writes. _exit: nothing more may
     *  reach Redis, not even what a clean shutdown would write. */
    sw_err_t lost = { 0 };
    int held = self->lease && coord_store_ok(self->store)
             ? coord_lease_keep(self->lease, sw_now_ms(), &lost) : 0;
    if (held < 0) {
        log_warnx("%s", lost.msg);
        fprintf(stderr, "swarm-coordinator: %s\n", lost.msg);
        _exit(1);
    }
    /*  The renewal met a Redis that takes connections but does not answer
     *  (stopped, hung): the turn's writes would wait out a second command
     *  timeout on the store's connection, and the loop would be held 4 s
     *  in one turn (fault.redis_stop: `swarm status` timed out). The
     *  store takes it as its outage: it tries again after its backoff and
     *  writes its whole state then, as after any outage. */
    if (held > 0)
        coord_store_outage(self->store, lost.msg);
    for (int round = 0; ; round++) {
        if (coord_store_flush(self->store) < 0)
            return false;
        zlistx_t *refusals = coord_store_refusals(self->store);
        if (!refusals)
            return true;
        for (coord_refusal_t *r = zlistx_first(refusals); r; r = zlistx_next(refusals)) {
            char why[1024];
            if (r->task)
                snprintf(why, sizeof why, "Redis refused to store task %s of job %s: %s "
                         "(key %s)", r->task->spec.id, r->job->id, r->error, r->key);
            else if (r->job)
                snprintf(why, sizeof why, "Redis refused to store job %s: %s (key %s)",
                         r->job->id, r->error, r->key);
            else
                snprintf(why, sizeof why, "Redis refused a write: %s (key %s)", r->error,
                         r->key);
            if (r->task && coord_sched_fail(self->sched, r->task, why, sw_wall_ms()))
                log_warnx("task %s/%s failed: %s", r->job->id, r->task->spec.id, why);
            if (r->req)
                coord_ctl_refused(self->ctl, r->req, why);
        }
        zlistx_destroy(&refusals);
        /*  The failures are written in turn; one refused again is not
         *  ended twice (coord_sched_fail), so this ends. */
        if (round > 3)
            return coord_store_flush(self->store) == 0;
    }
}

static void s_settle(coord_server_t *self);
static void s_settle_turn(coord_server_t *self, bool force);

static int
s_on_work(zloop_t *loop, int timer_id, void *arg)
{
    coord_server_t *self = arg;
    self->working = false;
    s_settle(self);
    (void) loop;
    (void) timer_id;
    return 0;
}

static int
s_on_deferred(zloop_t *loop, int timer_id, void *arg)
{
    coord_server_t *self = arg;
    self->deferred = false;
    if (coord_store_pending(self->store) > 0)
        s_settle_turn(self, true);
    (void) loop;
    (void) timer_id;
    return 0;
}

/*  What every handler does last. */
static void
s_settle(coord_server_t *self)
{
    s_settle_turn(self, false);
}

/*  force: flush whatever is queued (the deferred flush's timer). */
static void
s_settle_turn(coord_server_t *self, bool force)
{
    int64_t now = sw_now_ms();
    /*  A big run or cancel goes on in slices of 50 ms; between two, the
     *  loop reads its sockets (heartbeats, requests). */
    if (coord_ctl_work(self->ctl, now + 50) && self->loop && !self->working) {
        self->working = true;
        zloop_timer(self->loop, 1, 1, s_on_work, self);
    }
    coord_sched_dispatch(self->sched, now, sw_wall_ms());
    coord_events_flush(self->events, sw_wall_ms());
    self->turns++;
    /*  A turn whose writes nothing waits for (an ACCEPT's "started" event,
     *  a DONE with no WAIT due and no TASK to send) leaves them on the
     *  pipeline for the next turn that must flush, or for a timer at most
     *  COORD_FLUSH_DEFER_MS away: one Redis round trip instead of two per
     *  task on the hot path. Nothing leaves this turn that depends on
     *  them: no TASK, no reply. A turn in which a task ended flushes:
     *  deferred, its end died with a coordinator killed in the window and
     *  the restart ended the task again from its stored result (its
     *  completion fired twice; issue 20 attack, fault.defer_kill). On the
     *  fanout's hot path such a turn sends the next TASK anyway. */
    bool finished = self->finished;
    self->finished = false;
    if (!force && !finished && zlistx_size(self->outbox) == 0 && coord_store_ok(self->store)
        && coord_store_pending(self->store) > 0 && coord_store_pending(self->store) < 1024
        && !coord_ctl_wants_flush(self->ctl, now)) {
        if (!self->deferred && self->loop) {
            self->deferred = true;
            self->defer_timer = zloop_timer(self->loop, COORD_FLUSH_DEFER_MS, 1, s_on_deferred, self);
        }
        if (self->loop)
            return;
    }
    self->flushes++;
    bool durable = s_flush(self);
    if (durable) {
        s_send_outbox(self);
        durable = s_flush(self);        /*  what the outbox ended */
    }
    /*  This flush took what the deferred timer was for: it would only
     *  wake the loop for nothing (once per task in a roundtrip, up to
     *  200 times a second in a fanout; issue 20, i26-perf). */
    if (self->deferred && self->loop && coord_store_pending(self->store) == 0) {
        zloop_timer_end(self->loop, self->defer_timer);
        self->deferred = false;
    }
    coord_ctl_settle(self->ctl, durable, now);
}

/*  With --admin-keys every request must still come from an allowed key:
 *  ZAP checked it at connect time, this catches a key removed since. */
static bool
s_admin_allowed(coord_server_t *self, sw_msg_t *m)
{
    if (!self->conf.admin_keys)
        return true;
    const char *user = zframe_meta(m->frame, "User-Id");
    if (sw_curve_server_allows(self->curve, SW_CURVE_ADMINS, user))
        return true;
    log_warnx("dropped %s on the control socket: key %s is not (or no longer) an admin key",
              sw_cmd_name(m->cmd), user ? user : "(none)");
    return false;
}

/*  Handles what a ROUTER socket holds, without blocking (rcvtimeo is 0). */
static void
s_drain(coord_server_t *self, zsock_t *sock)
{
    bool control = sock == self->control;
    for (int i = 0; i < 1000; i++) {
        zmsg_t *msg = zmsg_recv(sock);
        if (!msg)
            break;
        sw_msg_t m;
        sw_err_t err = { 0 };
        if (sw_msg_decode(&msg, true, &m, &err) < 0) {
            self->dropped++;
            if (self->dropped < 10 || log_verbose())
                log_warnx("dropped a malformed message on the %s socket: %s",
                          control ? "control" : "agent", err.msg);
            continue;
        }
        bool ctl_cmd = m.cmd >= SW_C_SUBMIT;
        if (ctl_cmd != control) {
            self->dropped++;
            log_warnx("dropped %s on the %s socket", sw_cmd_name(m.cmd),
                      control ? "control" : "agent");
        }
        else if (control && !s_admin_allowed(self, &m))
            self->dropped++;
        else if (control) {
            coord_metrics_request(self->metrics, m.cmd);
            coord_ctl_handle(self->ctl, &m);
        }
        else
            coord_server_agent_msg(self, &m);
        sw_msg_release(&m);
    }
}

static int
s_on_socket(zloop_t *loop, zsock_t *sock, void *arg)
{
    coord_server_t *self = arg;
    s_drain(self, sock);
    s_settle(self);
    (void) loop;
    return 0;
}

void
coord_server_restored(coord_server_t *self)
{
    zlistx_t *jobs = coord_sched_job_list(self->sched);
    for (coord_job_t *j = zlistx_first(jobs); j; j = zlistx_next(jobs)) {
        for (int i = 0; i < j->ntasks; i++)
            if (!j->order[i]->ev_state)
                coord_events_restored(self->events, j->order[i]);
        coord_events_resumed(self->events, j, sw_wall_ms());
    }
    zlistx_destroy(&jobs);
}

coord_job_t *
coord_server_job(coord_server_t *self, const char *id)
{
    if (!id)
        return NULL;
    coord_job_t *j = coord_sched_job(self->sched, id);
    if (!j && (j = coord_store_load_job(self->store, self->sched, id))) {
        log_debug("job %s loaded from Redis", id);
        for (int i = 0; i < j->ntasks; i++)
            coord_events_restored(self->events, j->order[i]);
        if (j->nfinal == j->ntasks)
            j->complete_ms = sw_now_ms();
    }
    return j;
}

/*  Complete jobs leave memory keep_finished_s after their last task (Redis
 *  has them; coord_server_job loads one again when asked), so a coordinator
 *  that runs for months stays small. Not while a TASK is unsent or a WAIT
 *  holds the job. */
static void
s_forget_jobs(coord_server_t *self, int64_t now)
{
    if (now < self->forget_ms || zlistx_size(self->outbox) > 0 || !coord_store_ok(self->store)
        || coord_store_pending(self->store) > 0)
        return;
    self->forget_ms = now + 1000;
    int64_t keep = self->conf.keep_finished_s * 1000;
    zlistx_t *jobs = coord_sched_job_list(self->sched);
    int dropped = 0;
    for (coord_job_t *j = zlistx_first(jobs); j; j = zlistx_next(jobs)) {
        if (!j->complete_ms || now - j->complete_ms < keep)
            continue;
        if (!coord_ctl_holds(self->ctl, j) && coord_sched_job_drop(self->sched, j))
            dropped++;
    }
    zlistx_destroy(&jobs);
    /*  Give freed pages back: those of dropped jobs, and every 10 s under
     *  load those of message buffers. ZeroMQ's I/O thread allocates each
     *  received message and our thread frees it; glibc keeps the freed
     *  pages of that arena (1M tasks on 1,000 agents grew RSS by 2 GiB;
     *  bench/dispatch, docs/benchmarks.md). A trim takes ~1 ms. */
    if (dropped > 0 || (self->done_count != self->trimmed_at && now >= self->trim_ms)) {
        malloc_trim(0);
        self->trimmed_at = self->done_count;
        self->trim_ms = now + 10000;
    }
}

/*  Once a second: an agent whose key left the allowed directory is cut
 *  off (BYE, its tasks requeued); ZAP refuses its reconnection. An admin
 *  key that left its directory is refused on its next request. */
static void
s_check_keys(coord_server_t *self, int64_t now)
{
    if (!self->curve || now < self->curve_check_ms)
        return;
    self->curve_check_ms = now + 1000;
    if (!sw_curve_server_refresh(self->curve))
        return;
    zlistx_t *revoked = zlistx_new();
    zlistx_t *agents = coord_sched_agents(self->sched);
    for (coord_agent_t *a = zlistx_first(agents); a; a = zlistx_next(agents))
        if (a->key && !sw_curve_server_allows(self->curve, SW_CURVE_AGENTS, a->key))
            zlistx_add_end(revoked, a);
    for (coord_agent_t *a = zlistx_first(revoked); a; a = zlistx_next(revoked))
        s_cut_off(self, a, "its key was revoked");
    zlistx_destroy(&revoked);
}

/*  Cuts an agent off: BYE, its tasks requeued, it is forgotten. */
static void
s_cut_off(coord_server_t *self, coord_agent_t *a, const char *why)
{
    log_warnx("agent %s: %s: cutting it off", a->id, why);
    coord_events_agent(self->events, a, "agent_revoked", why, sw_wall_ms());
    sw_msg_send_empty(self->agents, a->routing, SW_BYE);
    coord_sched_agent_lost(self->sched, a, why, sw_wall_ms());
}

static void
s_orphan(void *arg, coord_task_t *t, coord_result_t what, const char *status, int exit_code)
{
    coord_server_t *self = arg;
    if (what == COORD_RESULT_UNKNOWN) {
        int64_t ms = self->orphan_backoff_ms ? self->orphan_backoff_ms : 1000;
        log_info("task %s/%s was not claimed after the restart, and Redis cannot say now "
                 "whether its result is stored: asking again in %lld s", t->job->id,
                 t->spec.id, (long long) ms / 1000);
        coord_sched_orphan_later(self->sched, t, sw_now_ms() + ms);
        self->orphan_unknown = true;
        return;
    }
    bool done = what == COORD_RESULT_FINAL;
    log_info("task %s/%s was not claimed after the restart: %s", t->job->id, t->spec.id,
             done ? "its result is stored" : "running it again");
    coord_sched_resolve(self->sched, t, done ? status : NULL, exit_code, sw_wall_ms());
}

/*  How long agents may take to come back to a coordinator that was away
 *  (restarted or stalled): a lease to notice, then their reconnect
 *  backoff (up to 8 s). */
static int64_t
s_window_ms(const coord_server_t *self)
{
    return self->conf.heartbeat_ms * self->conf.liveness * 3 + 5000;
}

static int
s_on_sweep(zloop_t *loop, int timer_id, void *arg)
{
    coord_server_t *self = arg;
    /*  A gap between sweeps much longer than their period is time this
     *  coordinator did not run (SIGSTOP, a suspended VM, a starved host).
     *  Agents went unheard then through no fault of theirs, and the ones
     *  that reconnected meanwhile have nothing waiting in the socket: move
     *  every lease on by the stall rather than declare the whole swarm
     *  dead and run all its tasks again. A loop held by a slow Redis write
     *  counts the same (its heartbeats are also read just below). */
    int64_t resumed = sw_now_ms();
    if (self->last_sweep_ms && resumed - self->last_sweep_ms > 2 * SWEEP_MS) {
        int64_t stall = resumed - self->last_sweep_ms - SWEEP_MS;
        int64_t lease = self->conf.heartbeat_ms * self->conf.liveness;
        /*  Long enough for the agents to have given up on us: they get
         *  the window a restart gives them to come back (below). */
        bool long_stall = stall >= lease / 2;
        coord_sched_stalled(self->sched, stall, long_stall ? resumed + s_window_ms(self) : 0);
        if (long_stall)
            log_warnx("the coordinator did not run for %lld ms (stopped, suspended or "
                      "starved): agents' leases moved on, not expired", (long long) stall);
    }
    self->last_sweep_ms = resumed;
    /*  zloop runs due timers before it reads sockets. After the loop was
     *  held (a slow Redis write blocks it up to the command timeout), the
     *  heartbeats that came meanwhile are waiting: read them before an
     *  agent is judged by its silence. */
    s_drain(self, self->agents);
    int64_t now = sw_now_ms();
    s_check_keys(self, now);
    /*  the agents coord_sched_expire is about to declare lost */
    zlistx_t *all = coord_sched_agents(self->sched);
    for (coord_agent_t *a = zlistx_first(all); a; a = zlistx_next(all))
        if (now > a->expires_ms)
            coord_events_agent(self->events, a, "agent_lost", "missed its heartbeats",
                               sw_wall_ms());
    coord_sched_expire(self->sched, now, sw_wall_ms());
    zlistx_t *agents = coord_sched_agents(self->sched);
    for (coord_agent_t *a = zlistx_first(agents); a; a = zlistx_next(agents))
        if (now - a->hb_sent_ms >= self->conf.heartbeat_ms) {
            sw_msg_send_empty(self->agents, a->routing, SW_HEARTBEAT);
            a->hb_sent_ms = now;
        }
    /*  Running tasks no agent claimed after a restart: finished if their
     *  result is stored, run again if there is none, asked about again
     *  later if Redis cannot say (never run again on a guess). While the
     *  store is in an outage the answer is "cannot say" without a try
     *  (coord_store_results does not touch the network then). */
    {
        zlistx_t *orphans = coord_sched_orphans_due(self->sched, now);
        if (zlistx_size(orphans)) {
            self->orphan_unknown = false;
            coord_store_results(self->store, orphans, s_orphan, self);
            /*  1, 2, 4 ... 30 s between tries while Redis cannot say */
            int64_t b = self->orphan_backoff_ms;
            self->orphan_backoff_ms = !self->orphan_unknown ? 0 : b ? (b * 2 > 30000 ? 30000
                                                                                   : b * 2)
                                                                    : 2000;
        }
        zlistx_destroy(&orphans);
    }
    s_settle(self);
    s_forget_jobs(self, now);       /*  after the flush: no write of theirs pending */
    if (self->web)
        coord_web_tick(self->web, now);
    (void) loop;
    (void) timer_id;
    return 0;
}

static int
s_on_signal(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    struct signalfd_siginfo si;
    if (read(item->fd, &si, sizeof si) != sizeof si)
        return 0;
    log_info("caught signal %d: shutting down", (int) si.ssi_signo);
    (void) loop;
    (void) arg;
    return -1;
}

static void
s_render_metrics(void *arg, sw_buf_t *out)
{
    coord_server_t *self = arg;
    coord_metrics_render(self->metrics, self, out);
}

/*  --- what the control handlers may do (coord_ctl_ops_t) -------------------------- */

static coord_job_t *
s_job(void *ctx, const char *id)
{
    return coord_server_job(ctx, id);
}

static void
s_drain_agent(void *ctx, coord_agent_t *a)
{
    coord_server_t *self = ctx;
    if (!a->draining)
        coord_events_agent(self->events, a, "agent_drained", "swarm drain", sw_wall_ms());
    coord_sched_drain(self->sched, a);
    sw_msg_send_empty(self->agents, a->routing, SW_DRAIN);
}

static int
s_revoke(void *ctx, coord_agent_t *a, char **key, sw_err_t *err)
{
    coord_server_t *self = ctx;
    if (!self->curve || !a->key)
        return sw_err_set(err, SW_EINVAL, "revoke needs CURVE: without it agents have no keys "
                          "(drain or stop the agent instead)");
    *key = xstrdup(a->key);
    zhashx_update(self->revoked, a->key, (void *) 1);
    coord_store_revoke(self->store, a->key);
    s_cut_off(self, a, "its key was revoked (swarm agents revoke)");     /*  frees a */
    return 0;
}

static uint64_t
s_dropped(void *ctx)
{
    return ((coord_server_t *) ctx)->dropped;
}

static void
s_submitted(void *ctx, size_t n)
{
    coord_metrics_submitted(((coord_server_t *) ctx)->metrics, n);
}

/*  --- life cycle ---------------------------------------------------------------- */

static zsock_t *
s_bind(const char *endpoint, sw_curve_server_t *curve, sw_curve_domain_t domain, sw_err_t *err)
{
    zsock_t *s = zsock_new(ZMQ_ROUTER);
    if (!s) {
        sw_err_set(err, SW_EFAIL, "cannot create a socket");
        return NULL;
    }
    if (curve)
        sw_curve_server_apply(curve, s, domain);
    sw_sock_defaults(s);
    zsock_set_router_mandatory(s, 1);
    zsock_set_rcvtimeo(s, 0);
    /*  A fleet that connects at once (a coordinator restart with 1,000
     *  agents) overflowed ZeroMQ's default listen backlog of 100: each
     *  dropped SYN cost its agent a 1 s retransmit (issue 20). The kernel
     *  caps this at net.core.somaxconn. */
    zsock_set_backlog(s, COORD_LISTEN_BACKLOG);
    if (zsock_bind(s, "%s", endpoint) < 0) {
        sw_err_set(err, SW_EFAIL, "cannot bind %s: %s", endpoint, zmq_strerror(zmq_errno()));
        zsock_destroy(&s);
        return NULL;
    }
    return s;
}

coord_server_t *
coord_server_new(const coord_conf_t *conf, sw_err_t *err)
{
    if (!conf->curve_secret != !conf->allowed_agents) {
        sw_err_set(err, SW_EINVAL, "CURVE needs both --curve-secret FILE and --allowed-agents DIR");
        return NULL;
    }
    bool curve = conf->curve_secret != NULL;
    /*  Fail closed: plaintext only on loopback unless the admin says so. */
    if (conf->admin_keys && !curve)
        sw_err_set(err, SW_EINVAL, "--admin-keys needs CURVE: --curve-secret FILE and "
                   "--allowed-agents DIR");
    else if (!curve && !conf->insecure && !sw_endpoint_is_local(conf->listen))
        sw_err_set(err, SW_EINVAL, "--listen %s is not a loopback address: that needs CURVE "
                   "(--curve-secret, --allowed-agents) or --insecure", conf->listen);
    else if (!conf->admin_keys && !conf->insecure && !sw_endpoint_is_local(conf->control))
        sw_err_set(err, SW_EINVAL, "--control %s is not a loopback address: the control "
                   "socket accepts jobs, so it stays local unless CURVE (--admin-keys DIR) "
                   "or --insecure", conf->control);
    if (err->code)
        return NULL;
    /*  The HTTP servers' settings too, before anything is touched. */
    sw_http_conf_t web = { .name = "dashboard", .addr = conf->http,
                           .token_file = conf->http_token_file, .token_off_loopback = true };
    sw_http_conf_t mon = { .name = "metrics", .addr = conf->metrics };
    if (conf->http_token_file && !conf->http)
        sw_err_set(err, SW_EINVAL, "--http-token-file needs --http ADDR");
    else if ((conf->http && sw_http_conf_check(&web, err) < 0)
             || (conf->metrics && sw_http_conf_check(&mon, err) < 0))
        return NULL;
    if (err->code)
        return NULL;
    if (conf->insecure && !sw_endpoint_is_local(conf->listen))
        log_warnx("--insecure: agents connect to %s in plaintext, unauthenticated",
                  conf->listen);

    sw_prices_t prices = { 0 };
    for (size_t i = 0; i < conf->price.n; i++)
        if (sw_prices_add(&prices, conf->price.v[i], err) < 0) {
            sw_prices_release(&prices);
            return NULL;
        }
    coord_server_t *self = xcalloc(1, sizeof *self);
    self->conf = *conf;
    self->prices = prices;
    self->sigfd = -1;
    self->started_ms = sw_wall_ms();
    self->metrics = coord_metrics_new();
    self->loop = zloop_new();
    zloop_set_nonstop(self->loop, true);
    if (curve && !(self->curve = sw_curve_server_new(conf->curve_secret, conf->allowed_agents,
                                                     conf->admin_keys, err)))
        goto fail;
    self->redis = sw_redis_new(conf->redis, 2000, err);
    if (!self->redis) {
        err->code = SW_EUNREACH;    /*  exit 3, as the CLI: Redis is not usable */
        goto fail;
    }
    /*  One coordinator per database: a second would write over this one's
     *  state and run its tasks again (coord_lease.h). */
    self->lease = coord_lease_acquire(conf->redis, conf->control,
                                      conf->ownership_ms ? conf->ownership_ms
                                                         : COORD_LEASE_TTL_MS, err);
    if (!self->lease)
        goto fail;
    /*  Never mix key layouts: data of layout 1 is moved to this one
     *  first, data of a newer one refused (sw_keys.h). */
    long moved = 0;
    if (sw_keys_migrate(self->redis, &moved, err) < 0)
        goto fail;
    if (moved)
        log_info("moved %ld key(s) to key layout %d", moved, SW_KEYS_LAYOUT);
    coord_sched_ops_t ops = { s_persist, s_dispatch, s_cancel, s_finished, s_agent_gone,
                              s_stale };
    self->sched = coord_sched_new(&ops, self);
    for (size_t i = 0; i < conf->limits.n; i++) {
        char *name;
        long long n;
        if (coord_limit_parse(conf->limits.v[i], &name, &n, err) < 0)
            goto fail;
        coord_sched_limit_set(self->sched, name, n, err);
        log_info("limit %s: at most %lld at once", name, n);
        free(name);
    }
    self->store = coord_store_new(self->redis, self->sched);
    self->events = coord_events_new(s_event, self);
    coord_store_set_prices(self->store, &self->prices);
    coord_store_set_record_ttl(self->store, conf->record_ttl_s ? conf->record_ttl_s
                                                                : COORD_RECORD_TTL_S);
    self->peers = zhashx_new();
    self->outbox = zlistx_new();
    char *current = coord_store_load_current(self->store);
    self->revoked = coord_store_load_revoked(self->store);
    /*  After a restart: the jobs in Redis go on. Tasks that were running
     *  wait one lease for their agent to claim them in its HELLO. */
    /*  Generous: an agent notices the old coordinator is gone only after
     *  its liveness, then reconnects with backoff. Claiming late is fine;
     *  running a task twice is not. */
    zlistx_t *finished = zlistx_new();
    int loaded = coord_store_load(self->store, self->sched,
                                  sw_now_ms() + s_window_ms(self),
                                  finished);
    /*  What the restored tasks went through is in their job's log already;
     *  those that finished while no coordinator ran say so now. */
    coord_server_restored(self);
    for (coord_task_t *t = zlistx_first(finished); t; t = zlistx_next(finished)) {
        t->ev_state = SW_TS_RUNNING + 1;
        coord_events_task(self->events, t, sw_now_ms(), sw_wall_ms());
    }
    /*  Their DONE died with the old coordinator: their completion fires now. */
    for (coord_task_t *t = zlistx_first(finished); t; t = zlistx_next(finished))
        s_finished(self, t);
    zlistx_destroy(&finished);
    coord_events_flush(self->events, sw_wall_ms());
    if (loaded > 0)
        log_info("resumed %d task(s) of %zu job(s) from Redis", loaded,
                 coord_sched_njobs(self->sched));
    else if (loaded < 0)
        log_warnx("Redis went out while the jobs were loaded; those not loaded are loaded "
                  "when a command names them");
    s_flush(self);
    if (!(self->agents = s_bind(conf->listen, self->curve, SW_CURVE_AGENTS, err))
        || !(self->control = s_bind(conf->control, conf->admin_keys ? self->curve : NULL,
                                    SW_CURVE_ADMINS, err))) {
        free(current);
        goto fail;
    }
    coord_ctl_ops_t cops = { .job = s_job, .drain = s_drain_agent, .revoke = s_revoke,
                             .dropped = s_dropped, .submitted = s_submitted,
                             .insecure = conf->insecure, .curve = self->curve != NULL,
                             .lease_ms = conf->heartbeat_ms * conf->liveness };
    self->ctl = coord_ctl_new(self->control, self->sched, self->store, &cops, self);
    coord_ctl_set_current(self->ctl, current);
    free(current);
    /*  A unix-socket control endpoint is guarded by its file mode: the
     *  owner and its group may submit jobs, nobody else. */
    if (strncmp(conf->control, "ipc://", 6) == 0 && chmod(conf->control + 6, 0660) < 0)
        log_warn("chmod 0660 %s", conf->control + 6);
    if (self->curve)
        log_info("CURVE on %s: server key %s, agents allowed by %s", conf->listen,
                 sw_curve_server_public(self->curve), conf->allowed_agents);
    if (conf->admin_keys)
        log_info("CURVE on %s: admins allowed by %s", conf->control, conf->admin_keys);
    if (conf->metrics) {
        if (!(self->metrics_http = sw_http_metrics_new(self->loop, conf->metrics,
                                                       s_render_metrics, self, err)))
            goto fail;
        log_info("metrics on %s/metrics", sw_http_url(self->metrics_http));
    }
    if (conf->http) {
        if (!(self->web = coord_web_new(self, conf->http, conf->http_token_file, err)))
            goto fail;
        log_info("dashboard on %s/%s", coord_web_url(self->web),
                 conf->http_token_file ? " (token: open /?token=TOKEN once, or send "
                 "Authorization: Bearer TOKEN)" : "");
    }
    return self;
fail:
    coord_server_destroy(&self);
    return NULL;
}

void
coord_server_destroy(coord_server_t **self_p)
{
    coord_server_t *self = *self_p;
    if (!self)
        return;
    coord_web_destroy(&self->web);
    sw_http_destroy(&self->metrics_http);
    coord_ctl_destroy(&self->ctl);
    coord_metrics_destroy(&self->metrics);
    zloop_destroy(&self->loop);
    zsock_destroy(&self->agents);
    zsock_destroy(&self->control);
    sw_curve_server_destroy(&self->curve);
    zhashx_destroy(&self->revoked);
    zlistx_destroy(&self->outbox);
    zhashx_destroy(&self->peers);
    coord_sched_destroy(&self->sched);
    coord_events_destroy(&self->events);
    coord_store_destroy(&self->store);
    sw_redis_destroy(&self->redis);
    coord_lease_release(&self->lease);
    sw_prices_release(&self->prices);
    if (self->sigfd >= 0)
        close(self->sigfd);
    free(self);
    *self_p = NULL;
}

int
coord_server_run(coord_server_t *self)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    self->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (self->sigfd < 0)
        fatal("signalfd");

    zloop_reader(self->loop, self->agents, s_on_socket, self);
    zloop_reader(self->loop, self->control, s_on_socket, self);
    zmq_pollitem_t sig = { NULL, self->sigfd, ZMQ_POLLIN, 0 };
    zloop_poller(self->loop, &sig, s_on_signal, self);
    zloop_timer(self->loop, SWEEP_MS, 0, s_on_sweep, self);
    log_info("coordinator %s: agents on %s, control on %s, redis %s", SWARM_VERSION,
             self->conf.listen, self->conf.control, sw_redis_addr(self->redis));
    zloop_start(self->loop);

    /*  Tell the agents we are going, so they reconnect without waiting. */
    zlistx_t *agents = coord_sched_agents(self->sched);
    for (coord_agent_t *a = zlistx_first(agents); a; a = zlistx_next(agents))
        sw_msg_send_empty(self->agents, a->routing, SW_BYE);
    coord_store_flush_last(self->store);
    log_info("coordinator stopped (%llu malformed messages dropped; %llu loop turns, "
             "%llu of them flushed to Redis)", (unsigned long long) self->dropped,
             (unsigned long long) self->turns, (unsigned long long) self->flushes);
    return 0;
}
