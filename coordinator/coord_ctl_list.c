/*  coord_ctl_list -- STATUS and WAIT (coord_ctl_int.h): the requests that
 *  list tasks, in pages that never outgrow the frame cap.
 *
 *  STATUS {job?, offset?, limit?, order?}: the cluster, the job's counts
 *  and a page of its tasks: in submit order from offset, or (order
 *  "relevant") the most relevant first: running, then failed, timed out
 *  and lost, then cancelled and skipped (the latest first), then queued
 *  and waiting, then succeeded (the latest first). `next` says where the
 *  next page starts; it is absent on the last page.
 *
 *  WAIT {job?, ids?, max_ms?, since?, offset?, limit?, running?}: a long poll. With
 *  since: the tasks that became final after that cursor (at most a page;
 *  seq is the cursor to send next, and done stays false while more are to
 *  come). Without: a page of every task waited for (offset, next). With
 *  running N (0..100): also up to N running tasks (swarm wait's terminal
 *  display). */
#include "coord_ctl_int.h"

#include <string.h>

#define MAX_WAIT_MS 60000

/*  --- rows ---------------------------------------------------------------------- */

typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer  pk;
    size_t          n, limit;
    bool            full;       /*  a row did not fit */
    bool            after;      /*  rows list the tasks' dependencies (status) */
} s_rows_t;

static void
s_rows_init(s_rows_t *rows, int64_t limit, bool after)
{
    msgpack_sbuffer_init(&rows->sb);
    sw_mp_packer_init(&rows->pk, &rows->sb);
    rows->n = 0;
    rows->limit = limit > 0 && limit < CTL_PAGE_ROWS ? (size_t) limit : CTL_PAGE_ROWS;
    rows->full = false;
    rows->after = after;
}

/*  A task as status and wait list it; status adds its dependencies (the
 *  dashboard draws the graph from them), wait does not (it lists tasks as
 *  they finish, the CLI needs no graph there). */
static void
s_pack_task(msgpack_packer *pk, const coord_task_t *t, bool with_after)
{
    msgpack_pack_map(pk, (with_after ? 13 : 12) + (t->throttled > 0));
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
    if (t->throttled > 0)       /*  issue 18 §4: rate-limited runs (used no attempt) */
        sw_mp_kv_int(pk, "throttled", t->throttled);
    if (with_after)
        sw_mp_kv_strv(pk, "after", coord_task_after(t));
}

/*  Adds t's summary; false (and nothing added) when the page is full. */
static bool
s_rows_add(s_rows_t *rows, const coord_task_t *t)
{
    if (rows->full || rows->n >= rows->limit) {
        rows->full = true;
        return false;
    }
    size_t before = rows->sb.size;
    s_pack_task(&rows->pk, t, rows->after);
    if (rows->sb.size > CTL_PAGE_BYTES && rows->n > 0) {
        rows->sb.size = before;         /*  it goes on the next page */
        rows->full = true;
        return false;
    }
    rows->n++;
    return true;
}

/*  "tasks": [the rows]; consumes rows. */
static void
s_rows_pack(msgpack_packer *pk, s_rows_t *rows)
{
    sw_mp_pack_str(pk, "tasks");
    msgpack_pack_array(pk, rows->n);
    if (rows->sb.size)
        msgpack_sbuffer_write(pk->data, rows->sb.data, rows->sb.size);
    msgpack_sbuffer_destroy(&rows->sb);
}

/*  --- STATUS ---------------------------------------------------------------------- */

static int
s_cmp_started(const void *a, const void *b)
{
    const coord_task_t *x = *(const coord_task_t *const *) a, *y = *(const coord_task_t *const *) b;
    return x->started_ms < y->started_ms ? -1 : x->started_ms > y->started_ms;
}

/*  Adds the tasks of rank r, in its order, skipping *skip first. */
static void
s_rank(const coord_job_t *j, int r, int64_t *skip, s_rows_t *rows)
{
    static const int finals[][3] = {
        [1] = { SW_TS_FAILED, SW_TS_TIMED_OUT, SW_TS_LOST },
        [2] = { SW_TS_CANCELLED, SW_TS_SKIPPED, -1 },
        [5] = { SW_TS_SUCCEEDED, -1, -1 },
    };
    if (r == 0) {
        /*  running: the longest running first */
        size_t n = (size_t) j->counts[SW_TS_RUNNING], k = 0;
        coord_task_t **v = xcalloc(n + 1, sizeof *v);
        for (int i = 0; i < j->ntasks && k < n; i++)
            if (j->order[i]->state == SW_TS_RUNNING)
                v[k++] = j->order[i];
        qsort(v, k, sizeof *v, s_cmp_started);
        for (size_t i = 0; i < k && !rows->full; i++)
            if ((*skip)-- <= 0)
                s_rows_add(rows, v[i]);
        free(v);
    }
    else if (r == 3 || r == 4) {
        sw_tstate_t want = r == 3 ? SW_TS_QUEUED : SW_TS_WAITING;
        for (int i = 0; i < j->ntasks && !rows->full; i++)
            if (j->order[i]->state == want && (*skip)-- <= 0)
                s_rows_add(rows, j->order[i]);
    }
    else {
        /*  final ones: the latest first, from the order they ended in */
        for (int i = j->nfinal - 1; i >= 0 && !rows->full; i--) {
            int st = (int) j->finals[i]->state;
            if ((st == finals[r][0] || st == finals[r][1] || st == finals[r][2])
                && (*skip)-- <= 0)
                s_rows_add(rows, j->finals[i]);
        }
    }
}

/*  issue 18 §3, §4: each limit with its use, its effective value (AIMD)
 *  and the rate-limits seen; one field of the cluster part. At most
 *  COORD_MAX_LIMITS, so it always fits a reply. */
static void
s_pack_limits(coord_ctl_t *self, msgpack_packer *pk)
{
    zlistx_t *limits = coord_sched_limits(self->sched);
    sw_mp_pack_str(pk, "limits");
    msgpack_pack_array(pk, zlistx_size(limits));
    for (coord_limit_t *l = zlistx_first(limits); l; l = zlistx_next(limits)) {
        msgpack_pack_map(pk, 5);
        sw_mp_kv_str(pk, "name", l->name);
        sw_mp_kv_int(pk, "limit", l->limit);
        sw_mp_kv_int(pk, "effective", l->effective);
        sw_mp_kv_int(pk, "used", l->used);
        sw_mp_kv_int(pk, "throttled", (int64_t) l->throttled);
    }
}

/*  The cluster part of a STATUS reply: S_CLUSTER_FIELDS fields. */
#define S_CLUSTER_FIELDS 7
static void
s_pack_cluster(coord_ctl_t *self, msgpack_packer *pk)
{
    s_pack_limits(self, pk);
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
    sw_mp_kv_int(pk, "dropped", (int64_t) (self->ops.dropped(self->ctx) + self->dropped));
    sw_mp_kv_bool(pk, "insecure", self->ops.insecure);
}

/*  The job's spend and budget (issue 18): "spend": {cost_usd,
 *  cost_micro_usd, tokens, unpriced, max_cost_usd, max_tokens (0: no cap),
 *  on_budget, exhausted (the reason, or nil)}. Finished and running
 *  attempts alike, as reported so far. */
static void
s_pack_spend(msgpack_packer *pk, const coord_job_t *j)
{
    const coord_budget_t *b = &j->budget;
    sw_mp_pack_str(pk, "spend");
    msgpack_pack_map(pk, 8);
    sw_mp_pack_str(pk, "cost_usd");
    msgpack_pack_double(pk, (double) b->micro_usd / 1e6);
    sw_mp_kv_int(pk, "cost_micro_usd", b->micro_usd);
    sw_mp_kv_int(pk, "tokens", b->tokens);
    sw_mp_kv_bool(pk, "unpriced", b->unpriced > 0);
    sw_mp_pack_str(pk, "max_cost_usd");
    msgpack_pack_double(pk, (double) b->max_micro_usd / 1e6);
    sw_mp_kv_int(pk, "max_tokens", b->max_tokens);
    sw_mp_kv_str(pk, "on_budget", b->finish ? "finish" : "stop");
    sw_mp_kv_str(pk, "exhausted", b->reason);
}

void
coord_ctl_pack_status(coord_ctl_t *self, coord_job_t *j, msgpack_packer *pk)
{
    msgpack_pack_map(pk, (j ? 7 : 2) + S_CLUSTER_FIELDS);
    sw_mp_kv_bool(pk, "ok", true);
    sw_mp_kv_str(pk, "job", j ? j->id : NULL);
    s_pack_cluster(self, pk);
    if (j) {
        sw_mp_kv_int(pk, "max_agents", j->max_agents);
        s_pack_spend(pk, j);
        ctl_pack_counts(pk, j);
        sw_mp_kv_int(pk, "total", j->ntasks);
        sw_mp_pack_str(pk, "tasks");
        msgpack_pack_array(pk, (size_t) j->ntasks);
        for (int i = 0; i < j->ntasks; i++)
            s_pack_task(pk, j->order[i], true);
    }
}

void
ctl_on_status(coord_ctl_t *self, sw_msg_t *m)
{
    sw_err_t err = { 0 };
    int64_t offset = 0, limit = 0;
    char *order = NULL;
    if (sw_mp_int(m->body, "offset", false, 0, INT32_MAX, &offset, &err) < 0
        || sw_mp_int(m->body, "limit", false, 1, INT32_MAX, &limit, &err) < 0
        || sw_mp_str(m->body, "order", false, &order, &err) < 0
        || (order && strcmp(order, "submit") && strcmp(order, "relevant")
            && sw_err_set(&err, SW_EINVAL, "order must be submit or relevant"))) {
        ctl_reply_error(self, m->routing, 2, "%s", err.msg);
        free(order);
        return;
    }
    bool named = sw_mp_find(m->body, "job") != NULL;
    coord_job_t *j = ctl_job_of(self, m, !named);
    if (!j && named) {
        free(order);
        return;
    }
    s_rows_t rows;
    s_rows_init(&rows, limit, true);
    int64_t next = -1;
    if (j) {
        /*  A job that fits the page is listed in submit order anyway. */
        bool relevant = order && strcmp(order, "relevant") == 0
                     && (offset > 0 || (size_t) j->ntasks > rows.limit);
        if (relevant) {
            int64_t skip = offset;
            for (int r = 0; r < 6 && !rows.full; r++)
                s_rank(j, r, &skip, &rows);
        }
        else
            for (int64_t i = offset; i < j->ntasks && s_rows_add(&rows, j->order[i]); i++)
                ;
        if (offset + (int64_t) rows.n < j->ntasks)
            next = offset + (int64_t) rows.n;
    }
    free(order);
    ctl_reply_t r;
    ctl_reply_begin(&r, (j ? 7 + (next >= 0) : 1) + S_CLUSTER_FIELDS);
    sw_mp_kv_str(&r.pk, "job", j ? j->id : NULL);
    s_pack_cluster(self, &r.pk);
    if (j) {
        sw_mp_kv_int(&r.pk, "max_agents", j->max_agents);
        s_pack_spend(&r.pk, j);
        ctl_pack_counts(&r.pk, j);
        sw_mp_kv_int(&r.pk, "total", j->ntasks);
        sw_mp_kv_int(&r.pk, "offset", offset);
        if (next >= 0)
            sw_mp_kv_int(&r.pk, "next", next);
        s_rows_pack(&r.pk, &rows);
    }
    else
        msgpack_sbuffer_destroy(&rows.sb);
    ctl_reply_send(self, m->routing, &r);
}

/*  --- WAIT --------------------------------------------------------------------------- */

void
ctl_waiter_destroy(ctl_waiter_t **self_p)
{
    ctl_waiter_t *w = *self_p;
    if (!w)
        return;
    zframe_destroy(&w->routing);
    zhashx_destroy(&w->ids);
    free(w->idv);
    free(w);
    *self_p = NULL;
}

static bool
s_waiter_done(const ctl_waiter_t *w)
{
    return w->ids ? w->remaining == 0 : w->job->nfinal == w->job->ntasks;
}

/*  How many final tasks a cursor-wait has not been told about yet. */
static int64_t
s_backlog(const ctl_waiter_t *w)
{
    if (w->since < 0)
        return 0;
    if (!w->ids)
        return (int64_t) w->job->final_seq - w->since;
    int64_t n = 0;
    for (size_t i = 0; i < w->nid; i++)
        n += SW_TS_FINAL(w->idv[i]->state) && (int64_t) w->idv[i]->final_seq > w->since;
    return n;
}

static int
s_cmp_final(const void *a, const void *b)
{
    const coord_task_t *x = *(const coord_task_t *const *) a, *y = *(const coord_task_t *const *) b;
    return x->final_seq < y->final_seq ? -1 : x->final_seq > y->final_seq;
}

/*  "running": up to w->running running tasks (of its ids, if any), the
 *  longest running first: what a terminal shows each one doing (issue
 *  17). At most 100 rows: well under the frame cap. */
static void
s_pack_running(msgpack_packer *pk, const ctl_waiter_t *w)
{
    const coord_job_t *j = w->job;
    size_t n = w->ids ? w->nid : (size_t) j->counts[SW_TS_RUNNING], k = 0;
    coord_task_t **v = xcalloc(n + 1, sizeof *v);
    if (w->ids) {
        for (size_t i = 0; i < w->nid; i++)
            if (w->idv[i]->state == SW_TS_RUNNING)
                v[k++] = w->idv[i];
    }
    else
        for (int i = 0; i < j->ntasks && k < n; i++)
            if (j->order[i]->state == SW_TS_RUNNING)
                v[k++] = j->order[i];
    qsort(v, k, sizeof *v, s_cmp_started);
    s_rows_t rows;
    s_rows_init(&rows, w->running, false);
    for (size_t i = 0; i < k && s_rows_add(&rows, v[i]); i++)
        ;
    free(v);
    sw_mp_pack_str(pk, "running");
    msgpack_pack_array(pk, rows.n);
    if (rows.sb.size)
        msgpack_sbuffer_write(pk->data, rows.sb.data, rows.sb.size);
    msgpack_sbuffer_destroy(&rows.sb);
}

/*  The counts of the named tasks only, as ctl_pack_counts packs a job's:
 *  `wait a` must not say "1/1 finished: 1 succeeded, 2 failed" for the
 *  job's other tasks. O(n) per reply, n at most SW_MAX_LIST. */
static void
s_pack_counts_of(msgpack_packer *pk, coord_task_t *const *v, size_t n)
{
    int64_t c[SW_TS_COUNT] = { 0 };
    for (size_t i = 0; i < n; i++)
        c[v[i]->state]++;
    sw_mp_pack_str(pk, "counts");
    msgpack_pack_map(pk, SW_TS_COUNT);
    for (int i = 0; i < SW_TS_COUNT; i++)
        sw_mp_kv_int(pk, sw_tstate_name((sw_tstate_t) i), c[i]);
}

static void
s_waiter_reply(coord_ctl_t *self, ctl_waiter_t *w, bool durable)
{
    coord_job_t *j = w->job;
    size_t n = w->ids ? w->nid : (size_t) j->ntasks;
    s_rows_t rows;
    s_rows_init(&rows, w->limit, false);
    int64_t seq = (int64_t) j->final_seq, next = -1;
    bool more = false;
    if (w->since >= 0 && !w->ids) {
        /*  what became final after the cursor, in that order: a poll costs
         *  what changed, never a walk over the job */
        int64_t k = w->since;
        for (; k < j->nfinal && s_rows_add(&rows, j->finals[k]); k++)
            ;
        more = k < j->nfinal;
        seq = k;
    }
    else if (w->since >= 0) {
        coord_task_t **v = xcalloc(w->nid + 1, sizeof *v);
        size_t k = 0;
        for (size_t i = 0; i < w->nid; i++)
            if (SW_TS_FINAL(w->idv[i]->state) && (int64_t) w->idv[i]->final_seq > w->since)
                v[k++] = w->idv[i];
        qsort(v, k, sizeof *v, s_cmp_final);
        size_t i = 0;
        for (; i < k && s_rows_add(&rows, v[i]); i++)
            ;
        more = i < k;
        if (more)
            seq = (int64_t) v[i - 1]->final_seq;
        free(v);
    }
    else {
        int64_t i = w->offset;
        for (; i < (int64_t) n && s_rows_add(&rows, w->ids ? w->idv[i] : j->order[i]); i++)
            ;
        if (i < (int64_t) n)
            next = i;
    }
    ctl_reply_t r;
    ctl_reply_begin(&r, 7 + (next >= 0) + more + (w->running > 0));
    sw_mp_kv_str(&r.pk, "job", j->id);
    sw_mp_kv_bool(&r.pk, "done", durable && s_waiter_done(w) && !more);
    sw_mp_kv_int(&r.pk, "total", (int64_t) n);
    sw_mp_kv_int(&r.pk, "final", w->ids ? (int64_t) n - w->remaining : j->nfinal);
    sw_mp_kv_int(&r.pk, "seq", seq);
    if (next >= 0)
        sw_mp_kv_int(&r.pk, "next", next);
    if (more)
        sw_mp_kv_bool(&r.pk, "more", true);
    if (w->ids)
        s_pack_counts_of(&r.pk, w->idv, w->nid);
    else
        ctl_pack_counts(&r.pk, j);
    s_rows_pack(&r.pk, &rows);
    if (w->running > 0)
        s_pack_running(&r.pk, w);
    ctl_reply_send(self, w->routing, &r);
}

void
ctl_on_wait(coord_ctl_t *self, sw_msg_t *m)
{
    coord_job_t *j = ctl_job_of(self, m, false);
    if (!j)
        return;
    sw_err_t err = { 0 };
    sw_strv_t ids = { 0 };
    int64_t max_ms = 1000, since = -1, offset = 0, limit = 0, running = 0;
    if (sw_mp_strv(m->body, "ids", false, SW_MAX_LIST, &ids, &err) < 0
        || sw_mp_int(m->body, "max_ms", false, 0, MAX_WAIT_MS, &max_ms, &err) < 0
        || sw_mp_int(m->body, "since", false, 0, INT64_MAX, &since, &err) < 0
        || sw_mp_int(m->body, "offset", false, 0, INT32_MAX, &offset, &err) < 0
        || sw_mp_int(m->body, "limit", false, 1, INT32_MAX, &limit, &err) < 0
        || sw_mp_int(m->body, "running", false, 0, 100, &running, &err) < 0) {
        ctl_reply_error(self, m->routing, 2, "%s", err.msg);
        sw_strv_release(&ids);
        return;
    }
    ctl_waiter_t *w = xcalloc(1, sizeof *w);
    w->job = j;
    w->since = since;
    w->offset = offset;
    w->limit = limit;
    w->running = running;
    w->routing = zframe_dup(m->routing);
    w->deadline_ms = sw_now_ms() + max_ms;
    if (ids.n) {
        w->ids = zhashx_new();
        w->idv = xcalloc(ids.n + 1, sizeof *w->idv);
        for (size_t i = 0; i < ids.n; i++) {
            coord_task_t *t = coord_job_task(j, ids.v[i]);
            if (!t) {
                ctl_reply_error(self, m->routing, 4, "no task '%s' in job '%s'", ids.v[i], j->id);
                ctl_waiter_destroy(&w);
                sw_strv_release(&ids);
                return;
            }
            if (zhashx_insert(w->ids, ids.v[i], t) == 0) {
                w->idv[w->nid++] = t;
                w->remaining += !SW_TS_FINAL(t->state);
            }
        }
    }
    sw_strv_release(&ids);
    /*  Answered by coord_ctl_settle at the end of this turn at the latest
     *  (done, or max_ms 0), once this turn's state is written. */
    zlistx_add_end(self->waiters, w);
}

void
ctl_wait_finished(coord_ctl_t *self, coord_task_t *t)
{
    ctl_waiter_t *w = zlistx_first(self->waiters);
    for (; w; w = zlistx_next(self->waiters))
        if (w->job == t->job && w->ids && zhashx_lookup(w->ids, t->spec.id))
            w->remaining--;
}

bool
ctl_wait_due(const coord_ctl_t *self, int64_t now_ms)
{
    for (ctl_waiter_t *w = zlistx_first(self->waiters); w; w = zlistx_next(self->waiters))
        if (s_waiter_done(w) || now_ms >= w->deadline_ms || s_backlog(w) >= CTL_PAGE_ROWS)
            return true;
    return false;
}

void
ctl_wait_settle(coord_ctl_t *self, bool durable, int64_t now_ms)
{
    ctl_waiter_t *w = zlistx_first(self->waiters);
    for (; w; w = zlistx_next(self->waiters))
        if ((durable && s_waiter_done(w)) || now_ms >= w->deadline_ms
            || s_backlog(w) >= CTL_PAGE_ROWS) {
            s_waiter_reply(self, w, durable);
            zlistx_detach_cur(self->waiters);       /*  cursor moves back */
            ctl_waiter_destroy(&w);
        }
}
