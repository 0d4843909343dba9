/*  coord_ctl -- requests on the control socket (the swarm CLI).
 *
 *  Every request gets exactly one REPLY {ok, ...} or {ok: false, error,
 *  code}, where code is the exit code the CLI should use. WAIT is a long
 *  poll: the reply comes when the tasks waited for are all final, or at
 *  the request's max_ms with progress, whichever is first; the CLI asks
 *  again until done. That gives immediate completion without polling and
 *  progress without a stream.
 */
#include <string.h>
#include <time.h>

#include "coord_server.h"

#define MAX_WAIT_MS 60000

void
coord_ctl_waiter_destroy(coord_waiter_t **self_p)
{
    coord_waiter_t *w = *self_p;
    if (!w)
        return;
    zframe_destroy(&w->routing);
    zhashx_destroy(&w->ids);
    free(w);
    *self_p = NULL;
}

/*  --- replies ---------------------------------------------------------------- */

typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer  pk;
} s_reply_t;

/*  Starts a successful reply with nfields fields after "ok". */
static void
s_reply_begin(s_reply_t *r, size_t nfields)
{
    msgpack_sbuffer_init(&r->sb);
    sw_mp_packer_init(&r->pk, &r->sb);
    msgpack_pack_map(&r->pk, nfields + 1);
    sw_mp_kv_bool(&r->pk, "ok", true);
}

static void
s_reply_send(coord_server_t *self, zframe_t *routing, s_reply_t *r)
{
    if (sw_msg_send(self->control, routing, SW_C_REPLY, r->sb.data, r->sb.size) < 0)
        log_debug("reply not sent (client gone): %s", zmq_strerror(zmq_errno()));
    msgpack_sbuffer_destroy(&r->sb);
}

static int
s_reply_error(coord_server_t *self, zframe_t *routing, int code, const char *fmt, ...)
    SW_PRINTF(4, 5);

static int
s_reply_error(coord_server_t *self, zframe_t *routing, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    s_reply_t r;
    msgpack_sbuffer_init(&r.sb);
    sw_mp_packer_init(&r.pk, &r.sb);
    msgpack_pack_map(&r.pk, 3);
    sw_mp_kv_bool(&r.pk, "ok", false);
    sw_mp_kv_str(&r.pk, "error", msg);
    sw_mp_kv_int(&r.pk, "code", code);
    s_reply_send(self, routing, &r);
    return -1;
}

/*  A task as status and wait list it; status adds its dependencies (the
 *  dashboard draws the graph from them), wait does not (it lists tasks
 *  as they finish, the CLI needs no graph there). */
static void
s_pack_task(msgpack_packer *pk, const coord_task_t *t, bool with_after)
{
    msgpack_pack_map(pk, with_after ? 13 : 12);
    sw_mp_kv_str(pk, "id", t->spec.id);
    sw_mp_kv_str(pk, "type", t->spec.type);
    sw_mp_kv_str(pk, "runner", t->spec.runner);
    sw_mp_kv_str(pk, "status", sw_tstate_name(t->state));
    sw_mp_kv_int(pk, "attempt", t->spec.attempt);
    sw_mp_kv_str(pk, "agent", t->agent_id);
    sw_mp_kv_str(pk, "host", t->host);
    sw_mp_kv_int(pk, "exit_code", t->exit_code);
    sw_mp_kv_str(pk, "reason", t->reason);
    sw_mp_kv_int(pk, "submitted", t->submitted_ms);
    sw_mp_kv_int(pk, "started", t->started_ms);
    sw_mp_kv_int(pk, "finished", t->finished_ms);
    if (with_after)
        sw_mp_kv_strv(pk, "after", &t->spec.after);
}

static void
s_pack_counts(msgpack_packer *pk, const coord_job_t *j)
{
    sw_mp_pack_str(pk, "counts");
    msgpack_pack_map(pk, SW_TS_COUNT);
    for (int i = 0; i < SW_TS_COUNT; i++)
        sw_mp_kv_int(pk, sw_tstate_name((sw_tstate_t) i), j->counts[i]);
}

/*  --- job resolution ---------------------------------------------------------- */

/*  The job a request names, else the current one. NULL when there is none
 *  (a reply was sent unless allow_none). */
static coord_job_t *
s_job_of(coord_server_t *self, sw_msg_t *m, bool allow_none)
{
    char *name = NULL;
    sw_err_t err = { 0 };
    if (sw_mp_str(m->body, "job", false, &name, &err) < 0) {
        s_reply_error(self, m->routing, 2, "%s", err.msg);
        return NULL;
    }
    const char *want = name ? name : self->current_job;
    coord_job_t *j = coord_server_job(self, want);
    if (!j && !allow_none) {
        if (want)
            s_reply_error(self, m->routing, 4, "no job '%s' on this coordinator", want);
        else
            s_reply_error(self, m->routing, 4, "no job given and no current job "
                          "(swarm init JOB, or --job JOB)");
    }
    free(name);
    return j;
}

static void
s_set_current(coord_server_t *self, const char *job)
{
    if (self->current_job && strcmp(self->current_job, job) == 0)
        return;
    free(self->current_job);
    self->current_job = xstrdup(job);
    coord_store_current(self->store, job);
}

/*  --- INIT ---------------------------------------------------------------------- */

static void
s_new_job_name(char *out, size_t n)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    snprintf(out, n, "job-%s-%04x", stamp, (unsigned) (zclock_usecs() & 0xffff));
}

static void
s_on_init(coord_server_t *self, sw_msg_t *m)
{
    sw_err_t err = { 0 };
    char *job = NULL, *topology = NULL, *strategy = NULL, *ns = NULL, *on_failure = NULL;
    int64_t max_agents = -1;
    if (sw_mp_str(m->body, "job", false, &job, &err) < 0
        || sw_mp_str(m->body, "topology", false, &topology, &err) < 0
        || sw_mp_str(m->body, "strategy", false, &strategy, &err) < 0
        || sw_mp_str(m->body, "namespace", false, &ns, &err) < 0
        || sw_mp_str(m->body, "on_failure", false, &on_failure, &err) < 0
        || sw_mp_int(m->body, "max_agents", false, 0, 100000, &max_agents, &err) < 0) {
        s_reply_error(self, m->routing, 2, "%s", err.msg);
        goto out;
    }
    char name[64];
    if (!job) {
        s_new_job_name(name, sizeof name);
        job = xstrdup(name);
    }
    if (!sw_id_valid(job)) {
        s_reply_error(self, m->routing, 2, "invalid job name '%s'", job);
        goto out;
    }
    if (ns && !sw_id_valid(ns)) {
        s_reply_error(self, m->routing, 2, "invalid namespace '%s'", ns);
        goto out;
    }
    if (on_failure && strcmp(on_failure, "stop") && strcmp(on_failure, "continue")) {
        s_reply_error(self, m->routing, 2, "on_failure must be stop or continue");
        goto out;
    }
    coord_job_t *j = coord_server_job(self, job);
    if (!j)
        j = coord_sched_job_ensure(self->sched, job, sw_wall_ms());
    if (topology) {
        free(j->topology);
        j->topology = xstrdup(topology);
    }
    if (strategy) {
        free(j->strategy);
        j->strategy = xstrdup(strategy);
    }
    if (ns) {
        free(j->ns);
        j->ns = xstrdup(ns);
    }
    if (max_agents >= 0)
        j->max_agents = (int) max_agents;
    if (on_failure)
        j->halt = strcmp(on_failure, "stop") == 0;
    coord_store_job(self->store, j);
    s_set_current(self, j->id);
    s_reply_t r;
    s_reply_begin(&r, 1);
    sw_mp_kv_str(&r.pk, "job", j->id);
    s_reply_send(self, m->routing, &r);
out:
    free(job);
    free(topology);
    free(strategy);
    free(ns);
    free(on_failure);
}

/*  --- SUBMIT ---------------------------------------------------------------------- */

static void
s_on_submit(coord_server_t *self, sw_msg_t *m)
{
    sw_err_t err = { 0 };
    char *job = NULL;
    if (sw_mp_str(m->body, "job", false, &job, &err) < 0) {
        s_reply_error(self, m->routing, 2, "%s", err.msg);
        return;
    }
    if (!job)
        job = xstrdup(self->current_job ? self->current_job : "default");
    const msgpack_object *tasks = sw_mp_find(m->body, "tasks");
    if (!tasks || tasks->type != MSGPACK_OBJECT_ARRAY || tasks->via.array.size == 0) {
        s_reply_error(self, m->routing, 2, "SUBMIT needs a non-empty 'tasks' array");
        free(job);
        return;
    }
    /*  All or nothing: check every task, duplicates and dependencies
     *  (on the job's tasks or earlier ones in this batch) first. */
    size_t n = tasks->via.array.size;
    sw_task_t *specs = xcalloc(n, sizeof *specs);
    zhashx_t *batch = zhashx_new();
    coord_job_t *j = coord_server_job(self, job);
    size_t ok = 0;
    for (; ok < n; ok++) {
        sw_task_t *t = &specs[ok];
        if (sw_task_unpack(&tasks->via.array.ptr[ok], t, &err) < 0)
            break;
        free(t->job);
        t->job = xstrdup(job);
        const msgpack_object *nso = sw_mp_find(&tasks->via.array.ptr[ok], "ns");
        if (j && j->ns && (!nso || nso->type == MSGPACK_OBJECT_NIL)) {
            free(t->ns);
            t->ns = xstrdup(j->ns);
        }
        if (sw_task_validate(t, &err) < 0) {
            ok++;
            break;
        }
        if ((j && zhashx_lookup(j->tasks, t->id)) || zhashx_lookup(batch, t->id)) {
            sw_err_set(&err, SW_EINVAL, "task '%s' already exists in job '%s'", t->id, job);
            ok++;
            break;
        }
        for (size_t k = 0; k < t->after.n && !err.code; k++)
            if (!(j && zhashx_lookup(j->tasks, t->after.v[k]))
                && !zhashx_lookup(batch, t->after.v[k]))
                sw_err_set(&err, SW_ENOTFOUND, "task '%s': unknown dependency '%s' in job "
                           "'%s' (spawn it first)", t->id, t->after.v[k], job);
        if (err.code) {
            ok++;
            break;
        }
        zhashx_insert(batch, t->id, t);
    }
    if (err.code)
        s_reply_error(self, m->routing, err.code, "%s", err.msg);
    else {
        bool fresh = !j;
        j = coord_sched_job_ensure(self->sched, job, sw_wall_ms());
        if (fresh)
            coord_store_job(self->store, j);
        else if (j->complete_ms)
            coord_store_job_complete(self->store, j, false);      /*  it goes on */
        if (!self->current_job)
            s_set_current(self, job);
        for (size_t i = 0; i < n; i++)
            if (!coord_sched_submit(self->sched, &specs[i], sw_wall_ms(), &err))
                log_warnx("submit: %s", err.msg);     /*  cannot happen: checked above */
        coord_metrics_submitted(self->metrics, n);
        s_reply_t r;
        s_reply_begin(&r, 2);
        sw_mp_kv_str(&r.pk, "job", job);
        sw_mp_kv_int(&r.pk, "count", (int64_t) n);
        s_reply_send(self, m->routing, &r);
        log_info("job %s: %zu task%s submitted", job, n, n == 1 ? "" : "s");
    }
    for (size_t i = 0; i < ok; i++)
        sw_task_release(&specs[i]);
    free(specs);
    zhashx_destroy(&batch);
    free(job);
}

/*  --- STATUS / AGENTS ------------------------------------------------------------------ */

static void
s_pack_cluster(coord_server_t *self, msgpack_packer *pk)
{
    int slots = 0, running = 0;
    zlistx_t *agents = coord_sched_agents(self->sched);
    for (coord_agent_t *a = zlistx_first(agents); a; a = zlistx_next(agents)) {
        slots += a->slots;
        running += a->running;
    }
    sw_mp_kv_int(pk, "agents", (int64_t) zlistx_size(agents));
    sw_mp_kv_int(pk, "slots", slots);
    sw_mp_kv_int(pk, "busy", running);
    sw_mp_kv_int(pk, "queued", (int64_t) coord_sched_queued(self->sched));
    sw_mp_kv_int(pk, "dropped", (int64_t) self->dropped);
    sw_mp_kv_bool(pk, "insecure", self->conf.insecure);
}

void
coord_ctl_pack_status(coord_server_t *self, coord_job_t *j, msgpack_packer *pk)
{
    msgpack_pack_map(pk, j ? 11 : 8);
    sw_mp_kv_bool(pk, "ok", true);
    sw_mp_kv_str(pk, "job", j ? j->id : NULL);
    s_pack_cluster(self, pk);
    if (j) {
        sw_mp_kv_int(pk, "max_agents", j->max_agents);
        s_pack_counts(pk, j);
        sw_mp_pack_str(pk, "tasks");
        msgpack_pack_array(pk, zlistx_size(j->order));
        for (coord_task_t *t = zlistx_first(j->order); t; t = zlistx_next(j->order))
            s_pack_task(pk, t, true);
    }
}

static void
s_on_status(coord_server_t *self, sw_msg_t *m)
{
    bool named = sw_mp_find(m->body, "job") != NULL;
    coord_job_t *j = s_job_of(self, m, !named);
    if (!j && named)
        return;
    s_reply_t r;
    msgpack_sbuffer_init(&r.sb);
    sw_mp_packer_init(&r.pk, &r.sb);
    coord_ctl_pack_status(self, j, &r.pk);
    s_reply_send(self, m->routing, &r);
}

void
coord_ctl_pack_agents(coord_server_t *self, msgpack_packer *pk)
{
    zlistx_t *agents = coord_sched_agents(self->sched);
    int64_t now = sw_now_ms(), wall = sw_wall_ms(), lease = self->conf.heartbeat_ms
                                                                * self->conf.liveness;
    msgpack_pack_map(pk, 2);
    sw_mp_kv_bool(pk, "ok", true);
    sw_mp_pack_str(pk, "agents");
    msgpack_pack_array(pk, zlistx_size(agents));
    for (coord_agent_t *a = zlistx_first(agents); a; a = zlistx_next(agents)) {
        msgpack_pack_map(pk, 13);
        sw_mp_kv_str(pk, "id", a->id);
        sw_mp_kv_bool(pk, "draining", a->draining);
        sw_mp_kv_str(pk, "host", a->host);
        sw_mp_kv_str(pk, "address", a->address ? a->address : "");
        sw_mp_kv_bool(pk, "curve", a->key != NULL);
        sw_mp_kv_str(pk, "version", a->version);
        sw_mp_kv_int(pk, "slots", a->slots);
        sw_mp_kv_int(pk, "running", a->running);
        sw_mp_kv_int(pk, "completed", (int64_t) a->completed);
        sw_mp_kv_int(pk, "since", a->since_ms);
        /*  its last message (heartbeat or other), on this clock: the lease
         *  was renewed then for heartbeat x liveness */
        sw_mp_kv_int(pk, "last_seen", wall - (now - (a->expires_ms - lease)));
        sw_mp_kv_kv(pk, "labels", &a->labels);
        sw_mp_kv_strv(pk, "runners", &a->runners);
    }
}

static void
s_on_agents(coord_server_t *self, sw_msg_t *m)
{
    s_reply_t r;
    msgpack_sbuffer_init(&r.sb);
    sw_mp_packer_init(&r.pk, &r.sb);
    coord_ctl_pack_agents(self, &r.pk);
    s_reply_send(self, m->routing, &r);
}

/*  --- DRAIN, REVOKE ------------------------------------------------------------------ */

/*  The registered agent a request names; NULL when there is none (the
 *  error reply was sent). */
static coord_agent_t *
s_agent_of(coord_server_t *self, sw_msg_t *m)
{
    sw_err_t err = { 0 };
    char *id = NULL;
    if (sw_mp_str(m->body, "agent", true, &id, &err) < 0) {
        s_reply_error(self, m->routing, 2, "%s", err.msg);
        return NULL;
    }
    coord_agent_t *a = coord_sched_agent(self->sched, id);
    if (!a)
        s_reply_error(self, m->routing, 4, "no agent '%s' is registered", id);
    free(id);
    return a;
}

static void
s_on_drain(coord_server_t *self, sw_msg_t *m)
{
    coord_agent_t *a = s_agent_of(self, m);
    if (!a)
        return;
    if (!a->draining)
        coord_events_agent(self->events, a, "agent_drained", "swarm drain", sw_wall_ms());
    coord_sched_drain(self->sched, a);
    sw_msg_send_empty(self->agents, a->routing, SW_DRAIN);
    log_info("draining agent %s (%d running)", a->id, a->running);
    s_reply_t r;
    s_reply_begin(&r, 2);
    sw_mp_kv_str(&r.pk, "agent", a->id);
    sw_mp_kv_int(&r.pk, "running", a->running);
    s_reply_send(self, m->routing, &r);
}

static void
s_on_revoke(coord_server_t *self, sw_msg_t *m)
{
    if (!self->curve) {
        s_reply_error(self, m->routing, 2, "revoke needs CURVE: without it agents have no keys "
                      "(drain or stop the agent instead)");
        return;
    }
    coord_agent_t *a = s_agent_of(self, m);
    if (!a)
        return;
    char *id = xstrdup(a->id), *key = xstrdup(a->key);
    int running = a->running;
    zhashx_update(self->revoked, key, (void *) 1);
    coord_store_revoke(self->store, key);
    coord_server_cut_off(self, a, "its key was revoked (swarm agents revoke)");     /*  frees a */
    s_reply_t r;
    s_reply_begin(&r, 3);
    sw_mp_kv_str(&r.pk, "agent", id);
    sw_mp_kv_str(&r.pk, "key", key);
    sw_mp_kv_int(&r.pk, "requeued", running);
    s_reply_send(self, m->routing, &r);
    free(id);
    free(key);
}

/*  --- CANCEL ------------------------------------------------------------------------- */

static void
s_on_cancel(coord_server_t *self, sw_msg_t *m)
{
    coord_job_t *j = s_job_of(self, m, false);
    if (!j)
        return;
    sw_err_t err = { 0 };
    sw_strv_t ids = { 0 };
    if (sw_mp_strv(m->body, "ids", false, SW_MAX_LIST, &ids, &err) < 0) {
        s_reply_error(self, m->routing, 2, "%s", err.msg);
        return;
    }
    for (size_t i = 0; i < ids.n; i++)
        if (!zhashx_lookup(j->tasks, ids.v[i])) {
            s_reply_error(self, m->routing, 4, "no task '%s' in job '%s'", ids.v[i], j->id);
            sw_strv_release(&ids);
            return;
        }
    int n = 0;
    if (ids.n == 0)
        n = coord_sched_cancel(self->sched, j, NULL, NULL, sw_wall_ms());
    for (size_t i = 0; i < ids.n; i++)
        n += coord_sched_cancel(self->sched, j, ids.v[i], NULL, sw_wall_ms());
    sw_strv_release(&ids);
    s_reply_t r;
    s_reply_begin(&r, 2);
    sw_mp_kv_str(&r.pk, "job", j->id);
    sw_mp_kv_int(&r.pk, "cancelled", n);
    s_reply_send(self, m->routing, &r);
}

/*  --- WAIT --------------------------------------------------------------------------- */

static bool
s_waiter_done(const coord_waiter_t *w)
{
    return w->ids ? w->remaining == 0 : w->job->nfinal == w->job->ntasks;
}

static bool
s_waiter_lists(const coord_waiter_t *w, const coord_task_t *t)
{
    if (w->ids && !zhashx_lookup(w->ids, t->spec.id))
        return false;
    return w->since < 0 || (SW_TS_FINAL(t->state) && t->final_seq > (uint64_t) w->since);
}

static void
s_waiter_reply(coord_server_t *self, coord_waiter_t *w, bool durable)
{
    coord_job_t *j = w->job;
    size_t n = w->ids ? zhashx_size(w->ids) : zlistx_size(j->order);
    /*  With since: only the tasks that became final after that cursor, so
     *  polling a big job costs what changed, not the whole job. */
    size_t listed = 0;
    for (coord_task_t *t = zlistx_first(j->order); t; t = zlistx_next(j->order))
        listed += s_waiter_lists(w, t);
    s_reply_t r;
    s_reply_begin(&r, w->running ? 8 : 7);
    sw_mp_kv_str(&r.pk, "job", j->id);
    sw_mp_kv_bool(&r.pk, "done", durable && s_waiter_done(w));
    sw_mp_kv_int(&r.pk, "total", (int64_t) n);
    sw_mp_kv_int(&r.pk, "final", w->ids ? (int64_t) n - w->remaining : j->nfinal);
    sw_mp_kv_int(&r.pk, "seq", (int64_t) j->final_seq);
    s_pack_counts(&r.pk, j);
    sw_mp_pack_str(&r.pk, "tasks");
    msgpack_pack_array(&r.pk, listed);
    for (coord_task_t *t = zlistx_first(j->order); t; t = zlistx_next(j->order))
        if (s_waiter_lists(w, t))
            s_pack_task(&r.pk, t, false);
    if (w->running) {
        /*  The first running ones, in submit order (a terminal shows
         *  what each of them is doing). */
        size_t k = 0;
        for (coord_task_t *t = zlistx_first(j->order); t; t = zlistx_next(j->order))
            k += t->state == SW_TS_RUNNING && (!w->ids || zhashx_lookup(w->ids, t->spec.id))
                 && k < (size_t) w->running;
        sw_mp_pack_str(&r.pk, "running");
        msgpack_pack_array(&r.pk, k);
        for (coord_task_t *t = zlistx_first(j->order); t && k; t = zlistx_next(j->order))
            if (t->state == SW_TS_RUNNING && (!w->ids || zhashx_lookup(w->ids, t->spec.id))) {
                s_pack_task(&r.pk, t, false);
                k--;
            }
    }
    s_reply_send(self, w->routing, &r);
}

static void
s_on_wait(coord_server_t *self, sw_msg_t *m)
{
    coord_job_t *j = s_job_of(self, m, false);
    if (!j)
        return;
    sw_err_t err = { 0 };
    sw_strv_t ids = { 0 };
    int64_t max_ms = 1000, since = -1, running = 0;
    if (sw_mp_strv(m->body, "ids", false, SW_MAX_LIST, &ids, &err) < 0
        || sw_mp_int(m->body, "max_ms", false, 0, MAX_WAIT_MS, &max_ms, &err) < 0
        || sw_mp_int(m->body, "since", false, 0, INT64_MAX, &since, &err) < 0
        || sw_mp_int(m->body, "running", false, 0, 100, &running, &err) < 0) {
        s_reply_error(self, m->routing, 2, "%s", err.msg);
        sw_strv_release(&ids);
        return;
    }
    coord_waiter_t *w = xcalloc(1, sizeof *w);
    w->job = j;
    w->since = since;
    w->running = running;
    w->routing = zframe_dup(m->routing);
    w->deadline_ms = sw_now_ms() + max_ms;
    if (ids.n) {
        w->ids = zhashx_new();
        for (size_t i = 0; i < ids.n; i++) {
            coord_task_t *t = zhashx_lookup(j->tasks, ids.v[i]);
            if (!t) {
                s_reply_error(self, m->routing, 4, "no task '%s' in job '%s'", ids.v[i], j->id);
                coord_ctl_waiter_destroy(&w);
                sw_strv_release(&ids);
                return;
            }
            if (zhashx_insert(w->ids, ids.v[i], t) == 0 && !SW_TS_FINAL(t->state))
                w->remaining++;
        }
    }
    sw_strv_release(&ids);
    /*  Answered by coord_ctl_settle at the end of this turn at the latest
     *  (done, or max_ms 0), once this turn's state is written. */
    zlistx_add_end(self->waiters, w);
}

void
coord_ctl_task_finished(coord_server_t *self, coord_task_t *t)
{
    coord_waiter_t *w = zlistx_first(self->waiters);
    for (; w; w = zlistx_next(self->waiters))
        if (w->job == t->job && w->ids && zhashx_lookup(w->ids, t->spec.id))
            w->remaining--;
}

void
coord_ctl_settle(coord_server_t *self, bool durable, int64_t now_ms)
{
    coord_waiter_t *w = zlistx_first(self->waiters);
    for (; w; w = zlistx_next(self->waiters))
        if ((durable && s_waiter_done(w)) || now_ms >= w->deadline_ms) {
            s_waiter_reply(self, w, durable);
            zlistx_detach_cur(self->waiters);       /*  cursor moves back */
            coord_ctl_waiter_destroy(&w);
        }
}

int
coord_ctl_handle(coord_server_t *self, sw_msg_t *m)
{
    switch (m->cmd) {
    case SW_C_INIT:   s_on_init(self, m); break;
    case SW_C_SUBMIT: s_on_submit(self, m); break;
    case SW_C_STATUS: s_on_status(self, m); break;
    case SW_C_AGENTS: s_on_agents(self, m); break;
    case SW_C_CANCEL: s_on_cancel(self, m); break;
    case SW_C_WAIT:   s_on_wait(self, m); break;
    case SW_C_DRAIN:  s_on_drain(self, m); break;
    case SW_C_REVOKE: s_on_revoke(self, m); break;
    default:
        self->dropped++;
        return s_reply_error(self, m->routing, 2, "%s is not a control request",
                             sw_cmd_name(m->cmd));
    }
    return 0;
}
