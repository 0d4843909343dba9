/*  coord_ctl -- see coord_ctl.h; the files of the module: coord_ctl_int.h.
 *
 *  This file: the life cycle, replies (held for the turn's flush when a
 *  request wrote), INIT, AGENTS, DRAIN, REVOKE, and the dispatch of
 *  requests. */
#include "coord_ctl_int.h"

#include <string.h>
#include <time.h>

/*  --- life cycle ------------------------------------------------------------------ */

static void
s_held_destroy(ctl_held_t **self_p)
{
    ctl_held_t *h = *self_p;
    if (!h)
        return;
    zframe_destroy(&h->routing);
    msgpack_sbuffer_destroy(&h->sb);
    free(h->error);
    free(h);
    *self_p = NULL;
}

coord_ctl_t *
coord_ctl_new(zsock_t *control, coord_sched_t *sched, coord_store_t *store,
              const coord_ctl_ops_t *ops, void *ctx)
{
    coord_ctl_t *self = xcalloc(1, sizeof *self);
    self->control = control;
    self->sched = sched;
    self->store = store;
    self->ops = *ops;
    self->ctx = ctx;
    self->held = zlistx_new();
    zlistx_set_destructor(self->held, (zlistx_destructor_fn *) s_held_destroy);
    self->waiters = zlistx_new();
    zlistx_set_destructor(self->waiters, (zlistx_destructor_fn *) ctl_waiter_destroy);
    self->txns = zhashx_new();
    zhashx_set_destructor(self->txns, (zhashx_destructor_fn *) ctl_txn_destroy);
    self->cancels = zlistx_new();
    zlistx_set_destructor(self->cancels, (zlistx_destructor_fn *) ctl_cancel_destroy);
    return self;
}

void
coord_ctl_destroy(coord_ctl_t **self_p)
{
    coord_ctl_t *self = *self_p;
    if (!self)
        return;
    zlistx_destroy(&self->held);
    zlistx_destroy(&self->waiters);
    zhashx_destroy(&self->txns);
    zlistx_destroy(&self->cancels);
    s_held_destroy(&self->stash);
    free(self->current_job);
    free(self);
    *self_p = NULL;
}

const char *
coord_ctl_current(const coord_ctl_t *self)
{
    return self->current_job;
}

void
coord_ctl_set_current(coord_ctl_t *self, const char *job)
{
    if (!job || (self->current_job && strcmp(self->current_job, job) == 0))
        return;
    free(self->current_job);
    self->current_job = xstrdup(job);
}

/*  swarm init JOB makes JOB current, here and in Redis. */
void
ctl_set_current(coord_ctl_t *self, const char *job)
{
    if (self->current_job && strcmp(self->current_job, job) == 0)
        return;
    coord_ctl_set_current(self, job);
    coord_store_current(self->store, job);
}

/*  --- replies ------------------------------------------------------------------ */

void
ctl_reply_begin(ctl_reply_t *r, size_t nfields)
{
    msgpack_sbuffer_init(&r->sb);
    sw_mp_packer_init(&r->pk, &r->sb);
    msgpack_pack_map(&r->pk, nfields + 1);
    sw_mp_kv_bool(&r->pk, "ok", true);
}

void
ctl_error_body(msgpack_sbuffer *sb, int code, const char *msg)
{
    msgpack_packer pk;
    sw_mp_packer_init(&pk, sb);
    msgpack_pack_map(&pk, 3);
    sw_mp_kv_bool(&pk, "ok", false);
    sw_mp_kv_str(&pk, "error", msg);
    sw_mp_kv_int(&pk, "code", code);
}

static void
s_send(coord_ctl_t *self, zframe_t *routing, msgpack_sbuffer *sb)
{
    /*  Bigger than the frame cap, ZeroMQ would drop the client's
     *  connection and the CLI would wait for nothing: say so instead.
     *  Listings come in pages well under it; this is the backstop. */
    if (sb->size > SW_MAX_FRAME - 4096) {
        char msg[256];
        snprintf(msg, sizeof msg, "the reply (%zu bytes) is over the %d MiB frame cap of the "
                 "control socket: not sent (please report this)", sb->size, SW_MAX_FRAME >> 20);
        log_warnx("%s", msg);
        msgpack_sbuffer_clear(sb);
        ctl_error_body(sb, 1, msg);
    }
    if (sw_msg_send(self->control, routing, SW_C_REPLY, sb->data, sb->size) < 0)
        log_debug("reply not sent (client gone): %s", zmq_strerror(zmq_errno()));
}

void
ctl_reply_send(coord_ctl_t *self, zframe_t *routing, ctl_reply_t *r)
{
    if (self->req && !self->stash) {
        /*  Held until the handler returns: if it wrote to Redis, the
         *  reply waits for the flush. */
        ctl_held_t *h = xcalloc(1, sizeof *h);
        h->routing = zframe_dup(routing);
        h->sb = r->sb;
        h->req = self->req;
        h->job = self->stash_job;
        self->stash = h;
        return;
    }
    s_send(self, routing, &r->sb);
    msgpack_sbuffer_destroy(&r->sb);
}

int
ctl_reply_error(coord_ctl_t *self, zframe_t *routing, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ctl_reply_t r;
    msgpack_sbuffer_init(&r.sb);
    ctl_error_body(&r.sb, code, msg);
    ctl_reply_send(self, routing, &r);
    return -1;
}

void
ctl_pack_counts(msgpack_packer *pk, const coord_job_t *j)
{
    sw_mp_pack_str(pk, "counts");
    msgpack_pack_map(pk, SW_TS_COUNT);
    for (int i = 0; i < SW_TS_COUNT; i++)
        sw_mp_kv_int(pk, sw_tstate_name((sw_tstate_t) i), j->counts[i]);
}

coord_job_t *
ctl_job_of(coord_ctl_t *self, sw_msg_t *m, bool allow_none)
{
    char *name = NULL;
    sw_err_t err = { 0 };
    if (sw_mp_str(m->body, "job", false, &name, &err) < 0) {
        ctl_reply_error(self, m->routing, 2, "%s", err.msg);
        return NULL;
    }
    const char *want = name ? name : self->current_job;
    coord_job_t *j = want ? self->ops.job(self->ctx, want) : NULL;
    if (!j && !allow_none) {
        if (want)
            ctl_reply_error(self, m->routing, 4, "no job '%s' on this coordinator", want);
        else
            ctl_reply_error(self, m->routing, 4, "no job given and no current job "
                            "(swarm init JOB, or --job JOB)");
    }
    free(name);
    self->stash_job = j;
    return j;
}

void
coord_ctl_refused(coord_ctl_t *self, uint64_t req, const char *why)
{
    for (ctl_held_t *h = zlistx_first(self->held); h; h = zlistx_next(self->held))
        if (h->req == req) {
            if (!h->error)
                h->error = xstrdup(why);
            return;
        }
    for (ctl_txn_t *x = zhashx_first(self->txns); x; x = zhashx_next(self->txns))
        if (x->committing && x->req == req && !x->refused)
            x->refused = xstrdup(why);
    for (ctl_cancel_t *c = zlistx_first(self->cancels); c; c = zlistx_next(self->cancels))
        if (c->req == req && !c->refused)
            c->refused = xstrdup(why);
}

bool
coord_ctl_holds(const coord_ctl_t *self, const coord_job_t *j)
{
    for (ctl_waiter_t *w = zlistx_first(self->waiters); w; w = zlistx_next(self->waiters))
        if (w->job == j)
            return true;
    for (ctl_held_t *h = zlistx_first(self->held); h; h = zlistx_next(self->held))
        if (h->job == j)
            return true;
    for (ctl_txn_t *x = zhashx_first(self->txns); x; x = zhashx_next(self->txns))
        if (x->j == j)
            return true;
    for (ctl_cancel_t *c = zlistx_first(self->cancels); c; c = zlistx_next(self->cancels))
        if (c->j == j)
            return true;
    return false;
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

/*  INIT's budget (issue 18): max_cost_micro_usd, max_tokens (0: no cap),
 *  on_budget stop|finish; -1 / NULL where absent. */
typedef struct {
    int64_t micro, tokens;
    char   *on_budget;
} s_budget_req_t;

static int
s_budget_unpack(const msgpack_object *body, s_budget_req_t *b, sw_err_t *err)
{
    b->micro = b->tokens = -1;
    b->on_budget = NULL;
    if (sw_mp_int(body, "max_cost_micro_usd", false, 0,
                  (int64_t) (COORD_BUDGET_MAX_USD * 1e6), &b->micro, err) < 0
        || sw_mp_int(body, "max_tokens", false, 0, COORD_BUDGET_MAX_TOKENS, &b->tokens, err) < 0
        || sw_mp_str(body, "on_budget", false, &b->on_budget, err) < 0)
        return -1;
    if (b->on_budget && strcmp(b->on_budget, "stop") && strcmp(b->on_budget, "finish"))
        return sw_err_set(err, SW_EINVAL, "on_budget must be stop or finish");
    return 0;
}

/*  Whether b would change j's budget (the same one again changes nothing:
 *  a script may run its `swarm init` twice). */
static bool
s_budget_changes(const coord_job_t *j, const s_budget_req_t *b)
{
    return (b->micro >= 0 && b->micro != j->budget.max_micro_usd)
        || (b->tokens >= 0 && b->tokens != j->budget.max_tokens)
        || (b->on_budget && (strcmp(b->on_budget, "finish") == 0) != j->budget.finish);
}

static void
s_budget_apply(coord_ctl_t *self, coord_job_t *j, const s_budget_req_t *b)
{
    if (b->micro >= 0)
        j->budget.max_micro_usd = b->micro;
    if (b->tokens >= 0)
        j->budget.max_tokens = b->tokens;
    if (b->on_budget)
        j->budget.finish = strcmp(b->on_budget, "finish") == 0;
    coord_sched_budget_check(self->sched, j);  /*  a cap under what it spent already */
}

static void
s_on_init(coord_ctl_t *self, sw_msg_t *m)
{
    s_budget_req_t budget = { -1, -1, NULL };
    sw_err_t err = { 0 };
    char *job = NULL, *topology = NULL, *strategy = NULL, *ns = NULL, *on_failure = NULL;
    int64_t max_agents = -1;
    sw_task_ws_t ws = { 0 };
    if (sw_mp_str(m->body, "job", false, &job, &err) < 0
        || sw_task_ws_unpack(m->body, "workspace", &ws, &err) < 0
        || sw_mp_str(m->body, "topology", false, &topology, &err) < 0
        || sw_mp_str(m->body, "strategy", false, &strategy, &err) < 0
        || sw_mp_str(m->body, "namespace", false, &ns, &err) < 0
        || sw_mp_str(m->body, "on_failure", false, &on_failure, &err) < 0
        || sw_mp_int(m->body, "max_agents", false, 0, 100000, &max_agents, &err) < 0
        || s_budget_unpack(m->body, &budget, &err) < 0) {
        ctl_reply_error(self, m->routing, 2, "%s", err.msg);
        goto out;
    }
    char name[64];
    if (!job) {
        s_new_job_name(name, sizeof name);
        job = xstrdup(name);
    }
    if (!sw_id_valid(job)) {
        ctl_reply_error(self, m->routing, 2, "invalid job name '%s'", job);
        goto out;
    }
    if (ns && !sw_id_valid(ns)) {
        ctl_reply_error(self, m->routing, 2, "invalid namespace '%s'", ns);
        goto out;
    }
    /*  Free text, but shown in every job's coordination record (written
     *  up to four times a second) and status: a name, not a document. */
    const char *text[][2] = { { "topology", topology }, { "strategy", strategy } };
    for (size_t i = 0; i < 2; i++)
        if (text[i][1] && (strlen(text[i][1]) > SW_MAX_ID
                           || !sw_utf8_clean(text[i][1], strlen(text[i][1])))) {
            ctl_reply_error(self, m->routing, 2, "%s must be UTF-8 text of at most %d bytes",
                            text[i][0], SW_MAX_ID);
            goto out;
        }
    if (on_failure && strcmp(on_failure, "stop") && strcmp(on_failure, "continue")) {
        ctl_reply_error(self, m->routing, 2, "on_failure must be stop or continue");
        goto out;
    }
    coord_job_t *j = self->ops.job(self->ctx, job);
    if (j && j->budget.out && s_budget_changes(j, &budget)) {
        /*  A job out of budget stays out (docs/design.md): a new cap that
         *  seemed to work while every new task is skipped would mislead. */
        ctl_reply_error(self, m->routing, 1, "job %s is out of budget (%s): its budget cannot "
                        "be changed once reached; run the rest in a new job", j->id,
                        j->budget.reason ? j->budget.reason : "budget exhausted");
        goto out;
    }
    if (!j)
        j = coord_sched_job_ensure(self->sched, job, sw_wall_ms());
    self->stash_job = j;
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
    s_budget_apply(self, j, &budget);
    if (ws.commit) {
        sw_task_ws_release(&j->ws);
        j->ws = ws;
        memset(&ws, 0, sizeof ws);
    }
    coord_store_job(self->store, j);
    ctl_set_current(self, j->id);
    ctl_reply_t r;
    ctl_reply_begin(&r, 1);
    sw_mp_kv_str(&r.pk, "job", j->id);
    ctl_reply_send(self, m->routing, &r);
out:
    free(budget.on_budget);
    free(job);
    free(topology);
    free(strategy);
    free(ns);
    free(on_failure);
    sw_task_ws_release(&ws);
}

/*  --- AGENTS, DRAIN, REVOKE ------------------------------------------------------------ */

void
coord_ctl_pack_agents(coord_ctl_t *self, msgpack_packer *pk)
{
    zlistx_t *agents = coord_sched_agents(self->sched);
    int64_t now = sw_now_ms(), wall = sw_wall_ms(), lease = self->ops.lease_ms;
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
s_on_agents(coord_ctl_t *self, sw_msg_t *m)
{
    ctl_reply_t r;
    msgpack_sbuffer_init(&r.sb);
    sw_mp_packer_init(&r.pk, &r.sb);
    coord_ctl_pack_agents(self, &r.pk);
    ctl_reply_send(self, m->routing, &r);
}

/*  The registered agent a request names; NULL when there is none (the
 *  error reply was sent). */
static coord_agent_t *
s_agent_of(coord_ctl_t *self, sw_msg_t *m)
{
    sw_err_t err = { 0 };
    char *id = NULL;
    if (sw_mp_str(m->body, "agent", true, &id, &err) < 0) {
        ctl_reply_error(self, m->routing, 2, "%s", err.msg);
        return NULL;
    }
    coord_agent_t *a = coord_sched_agent(self->sched, id);
    if (!a)
        ctl_reply_error(self, m->routing, 4, "no agent '%s' is registered", id);
    free(id);
    return a;
}

static void
s_on_drain(coord_ctl_t *self, sw_msg_t *m)
{
    coord_agent_t *a = s_agent_of(self, m);
    if (!a)
        return;
    self->ops.drain(self->ctx, a);
    log_info("draining agent %s (%d running)", a->id, a->running);
    ctl_reply_t r;
    ctl_reply_begin(&r, 2);
    sw_mp_kv_str(&r.pk, "agent", a->id);
    sw_mp_kv_int(&r.pk, "running", a->running);
    ctl_reply_send(self, m->routing, &r);
}

static void
s_on_revoke(coord_ctl_t *self, sw_msg_t *m)
{
    if (!self->ops.curve) {
        ctl_reply_error(self, m->routing, 2, "revoke needs CURVE: without it agents have no "
                        "keys (drain or stop the agent instead)");
        return;
    }
    coord_agent_t *a = s_agent_of(self, m);
    if (!a)
        return;
    char *id = xstrdup(a->id), *key = NULL;
    int running = a->running;
    sw_err_t err = { 0 };
    if (self->ops.revoke(self->ctx, a, &key, &err) < 0)      /*  frees a */
        ctl_reply_error(self, m->routing, 2, "%s", err.msg);
    else {
        ctl_reply_t r;
        ctl_reply_begin(&r, 3);
        sw_mp_kv_str(&r.pk, "agent", id);
        sw_mp_kv_str(&r.pk, "key", key);
        sw_mp_kv_int(&r.pk, "requeued", running);
        ctl_reply_send(self, m->routing, &r);
    }
    free(id);
    free(key);
}

/*  --- the entry points ------------------------------------------------------------- */

void
coord_ctl_handle(coord_ctl_t *self, sw_msg_t *m)
{
    self->req = ++self->next_req;
    self->stash_job = NULL;
    coord_store_begin(self->store, self->req);
    switch (m->cmd) {
    case SW_C_INIT:   s_on_init(self, m); break;
    case SW_C_SUBMIT: ctl_on_submit(self, m); break;
    case SW_C_STATUS: ctl_on_status(self, m); break;
    case SW_C_AGENTS: s_on_agents(self, m); break;
    case SW_C_CANCEL: ctl_on_cancel(self, m); break;
    case SW_C_WAIT:   ctl_on_wait(self, m); break;
    case SW_C_DRAIN:  s_on_drain(self, m); break;
    case SW_C_REVOKE: s_on_revoke(self, m); break;
    default:
        self->dropped++;
        ctl_reply_error(self, m->routing, 2, "%s is not a control request",
                        sw_cmd_name(m->cmd));
    }
    int writes = coord_store_end(self->store);
    ctl_held_t *h = self->stash;
    self->stash = NULL;
    self->req = 0;
    if (h && writes > 0)
        zlistx_add_end(self->held, h);      /*  answered once the writes are flushed */
    else if (h) {
        s_send(self, h->routing, &h->sb);
        s_held_destroy(&h);
    }
}

/*  A reply that waits for the turn's flush, outside of a request. */
void
ctl_hold(coord_ctl_t *self, zframe_t *routing, msgpack_sbuffer *sb, uint64_t req,
       coord_job_t *j)
{
    ctl_held_t *h = xcalloc(1, sizeof *h);
    h->routing = zframe_dup(routing);
    h->sb = *sb;
    h->req = req;
    h->job = j;
    zlistx_add_end(self->held, h);
}

void
coord_ctl_task_finished(coord_ctl_t *self, coord_task_t *t)
{
    ctl_wait_finished(self, t);
}

bool
coord_ctl_wants_flush(const coord_ctl_t *self, int64_t now_ms)
{
    return zlistx_size(self->held) > 0
        || (zlistx_size(self->waiters) > 0 && ctl_wait_due(self, now_ms));
}

void
coord_ctl_settle(coord_ctl_t *self, bool durable, int64_t now_ms)
{
    ctl_held_t *h;
    while ((h = zlistx_first(self->held))) {
        zlistx_detach_cur(self->held);
        if (h->error) {
            msgpack_sbuffer_clear(&h->sb);
            ctl_error_body(&h->sb, 1, h->error);
        }
        s_send(self, h->routing, &h->sb);
        s_held_destroy(&h);
    }
    if (zlistx_size(self->waiters) > 0)
        ctl_wait_settle(self, durable, now_ms);
    /*  A transaction whose client went away: its batches go. */
    if (zhashx_size(self->txns) == 0)
        return;                 /*  the common case: no list made per turn */
    zlistx_t *idle = zlistx_new();
    for (ctl_txn_t *x = zhashx_first(self->txns); x; x = zhashx_next(self->txns))
        if (!x->committing && now_ms - x->touched_ms > COORD_TXN_IDLE_MS)
            zlistx_add_end(idle, x->key);
    for (const char *key = zlistx_first(idle); key; key = zlistx_next(idle)) {
        ctl_txn_t *x = zhashx_lookup(self->txns, key);
        log_warnx("job %s: a submit of %zu task(s) in batches was abandoned before its last "
                  "batch; nothing of it was submitted", x->job, x->n);
        zhashx_delete(self->txns, key);
    }
    zlistx_destroy(&idle);
}
