/*  coord_ctl_submit -- SUBMIT, CANCEL and the work they leave for later
 *  (coord_ctl_int.h): a submit in several batches held as a transaction
 *  until its last batch, then put in a slice per loop turn with its job
 *  held from dispatch; a whole job cancelled the same way. */
#include "coord_ctl_int.h"

#include <string.h>

void
ctl_txn_destroy(ctl_txn_t **self_p)
{
    ctl_txn_t *x = *self_p;
    if (!x)
        return;
    for (size_t i = 0; i < x->n; i++)
        sw_task_release(&x->specs[i]);
    free(x->specs);
    zhashx_destroy(&x->ids);
    zframe_destroy(&x->routing);
    free(x->refused);
    free(x->key);
    free(x->job);
    free(x);
    *self_p = NULL;
}

void
ctl_cancel_destroy(ctl_cancel_t **self_p)
{
    ctl_cancel_t *c = *self_p;
    if (!c)
        return;
    zframe_destroy(&c->routing);
    free(c->refused);
    free(c);
    *self_p = NULL;
}

/*  --- SUBMIT ---------------------------------------------------------------------- */

/*  A task without a workspace gets the job's, else the one of its first
 *  dependency that has one (in this batch, earlier batches of its
 *  transaction, or the job): a tester after a coder works on the coder's
 *  tree without saying so (docs/workspaces.md). */
static void
s_workspace_default(const coord_job_t *j, const ctl_txn_t *x, zhashx_t *batch, sw_task_t *t)
{
    if (t->ws.commit)
        return;
    const sw_task_ws_t *from = j && j->ws.commit ? &j->ws : NULL;
    for (size_t k = 0; !from && k < t->after.n; k++) {
        const sw_task_t *dep = zhashx_lookup(batch, t->after.v[k]);
        uintptr_t at = !dep && x ? (uintptr_t) zhashx_lookup(x->ids, t->after.v[k]) : 0;
        if (at)
            dep = &x->specs[at - 1];
        const coord_task_t *ct = !dep && j ? coord_job_task(j, t->after.v[k]) : NULL;
        if (ct && ct->spec.rest)
            dep = ct->spec.rest;        /*  a task's workspace lives in its rest */
        if (dep && dep->ws.commit)
            from = &dep->ws;
    }
    if (from)
        sw_task_ws_copy(&t->ws, from);
}

static bool
s_known(const coord_job_t *j, const ctl_txn_t *x, zhashx_t *batch, const char *id)
{
    return (j && coord_job_task(j, id)) || (x && zhashx_lookup(x->ids, id))
        || zhashx_lookup(batch, id);
}

/*  Another submit in batches of this job, going in, has this id. */
static bool
s_taken(zhashx_t *txns, const char *job, const ctl_txn_t *mine, const char *id)
{
    for (ctl_txn_t *x = zhashx_first(txns); x; x = zhashx_next(txns))
        if (x != mine && x->committing && strcmp(x->job, job) == 0 && zhashx_lookup(x->ids, id))
            return true;
    return false;
}

/*  Unpacks and checks one batch: every task, duplicates and dependencies
 *  (on the job's tasks, the transaction's, or earlier ones in this batch).
 *  Fills specs[0..n); returns how many were unpacked (all of them to
 *  release), with err set on the first problem. */
static size_t
s_check_batch(const msgpack_object *tasks, const char *job, const coord_job_t *j,
              const ctl_txn_t *x, zhashx_t *txns, sw_task_t *specs, sw_err_t *err)
{
    size_t n = tasks->via.array.size, ok = 0;
    zhashx_t *batch = zhashx_new();
    for (; ok < n && !err->code; ok++) {
        sw_task_t *t = &specs[ok];
        if (sw_task_unpack(&tasks->via.array.ptr[ok], t, err) < 0)
            break;
        free(t->job);
        t->job = xstrdup(job);
        const msgpack_object *nso = sw_mp_find(&tasks->via.array.ptr[ok], "ns");
        if (j && j->ns && (!nso || nso->type == MSGPACK_OBJECT_NIL)) {
            free(t->ns);
            t->ns = xstrdup(j->ns);
        }
        s_workspace_default(j, x, batch, t);
        if (sw_task_validate(t, err) < 0)
            continue;
        if (t->outputs.n && !t->ws.commit) {
            sw_err_set(err, SW_EINVAL, "task '%s': output globs need a workspace "
                       "(--workspace, or the job's: swarm init --workspace)", t->id);
            continue;
        }
        if (s_known(j, x, batch, t->id)) {
            sw_err_set(err, SW_EINVAL, "task '%s' already exists in job '%s'", t->id, job);
            continue;
        }
        if (s_taken(txns, job, x, t->id)) {
            sw_err_set(err, SW_EINVAL, "task '%s' is being submitted to job '%s' by a run "
                       "(try again when it is in)", t->id, job);
            continue;
        }
        for (size_t k = 0; k < t->after.n && !err->code; k++)
            if (!s_known(j, x, batch, t->after.v[k]))
                sw_err_set(err, SW_ENOTFOUND, "task '%s': unknown dependency '%s' in job "
                           "'%s' (spawn it first)", t->id, t->after.v[k], job);
        if (!err->code)
            zhashx_insert(batch, t->id, t);
    }
    zhashx_destroy(&batch);
    return ok;
}

/*  The job tasks go into: made, stored, no longer complete. */
static coord_job_t *
s_job_for_submit(coord_ctl_t *self, const char *job)
{
    coord_job_t *j = self->ops.job(self->ctx, job);
    bool fresh = !j;
    j = coord_sched_job_ensure(self->sched, job, sw_wall_ms());
    self->stash_job = j;
    if (fresh)
        coord_store_job(self->store, j);
    else if (j->complete_ms)
        coord_store_job_complete(self->store, j, false);      /*  it goes on */
    if (!self->current_job)
        ctl_set_current(self, job);
    return j;
}

/*  The tasks, checked, go to the scheduler (consumed). */
static void
s_submit_all(coord_ctl_t *self, const char *job, sw_task_t *specs, size_t n)
{
    s_job_for_submit(self, job);
    sw_err_t err = { 0 };
    for (size_t i = 0; i < n; i++)
        if (!coord_sched_submit(self->sched, &specs[i], sw_wall_ms(), &err))
            log_warnx("submit: %s", err.msg);     /*  cannot happen: checked before */
    if (self->ops.submitted)
        self->ops.submitted(self->ctx, n);
    log_info("job %s: %zu task%s submitted", job, n, n == 1 ? "" : "s");
}

void
ctl_on_submit(coord_ctl_t *self, sw_msg_t *m)
{
    sw_err_t err = { 0 };
    char *job = NULL, *txn = NULL;
    bool more = false;
    if (sw_mp_str(m->body, "job", false, &job, &err) < 0
        || sw_mp_str(m->body, "txn", false, &txn, &err) < 0
        || sw_mp_bool(m->body, "more", false, &more, &err) < 0) {
        ctl_reply_error(self, m->routing, 2, "%s", err.msg);
        goto out;
    }
    if (!job)
        job = xstrdup(self->current_job ? self->current_job : "default");
    if (txn && (!*txn || strlen(txn) > 64)) {
        ctl_reply_error(self, m->routing, 2, "SUBMIT: txn must be 1 to 64 bytes");
        goto out;
    }
    const msgpack_object *tasks = sw_mp_find(m->body, "tasks");
    bool empty_ok = txn && !more;       /*  a transaction may end with no task */
    if (!tasks || tasks->type != MSGPACK_OBJECT_ARRAY
        || (tasks->via.array.size == 0 && !empty_ok)) {
        ctl_reply_error(self, m->routing, 2, "SUBMIT needs a non-empty 'tasks' array");
        goto out;
    }
    char *key = txn ? xasprintf("%s\x1f%s", job, txn) : NULL;
    ctl_txn_t *x = key ? zhashx_lookup(self->txns, key) : NULL;
    coord_job_t *j = self->ops.job(self->ctx, job);
    if (j && j->held && (!txn || !more)) {
        /*  A run's tasks are going in: a task added now would sit among
         *  them, and go with them if the coordinator stopped meanwhile. */
        ctl_reply_error(self, m->routing, 1, "job '%s' is taking in the tasks of a run (swarm "
                        "run); try again when it is in", job);
        if (x && !x->committing)
            zhashx_delete(self->txns, key);
        free(key);
        goto out;
    }
    size_t n = tasks->via.array.size;
    sw_task_t *specs = xcalloc(n + 1, sizeof *specs);
    size_t unpacked = s_check_batch(tasks, job, j, x, self->txns, specs, &err);
    if (err.code) {
        /*  All or nothing: a failed batch ends its transaction. */
        ctl_reply_error(self, m->routing, err.code, "%s%s", err.msg,
                        x ? " (nothing of this run was submitted)" : "");
        if (x)
            zhashx_delete(self->txns, key);
        for (size_t i = 0; i < unpacked; i++)
            sw_task_release(&specs[i]);
        free(specs);
        free(key);
        goto out;
    }
    if (txn) {
        if (!x) {
            x = xcalloc(1, sizeof *x);
            x->key = xstrdup(key);
            x->job = xstrdup(job);
            x->ids = zhashx_new();
            zhashx_insert(self->txns, key, x);
        }
        if (x->committing) {
            ctl_reply_error(self, m->routing, 2, "SUBMIT: transaction '%s' already ended", txn);
            for (size_t i = 0; i < n; i++)
                sw_task_release(&specs[i]);
            free(specs);
            free(key);
            goto out;
        }
        x->touched_ms = sw_now_ms();
        if (x->n + n > x->cap) {
            x->cap = (x->n + n) * 2;
            x->specs = xrealloc(x->specs, x->cap * sizeof *x->specs);
        }
        for (size_t i = 0; i < n; i++) {
            x->specs[x->n] = specs[i];
            /*  its index + 1: workspace defaults look specs up by id */
            zhashx_insert(x->ids, x->specs[x->n].id, (void *) (uintptr_t) (x->n + 1));
            x->n++;
        }
        free(specs);
        specs = NULL;
        size_t total = x->n;
        if (!more) {
            /*  The last batch: a task spawned meanwhile may have taken an
             *  id of ours (then nothing goes in), else all of it goes, a
             *  slice per turn (coord_ctl_work), the job held meanwhile.
             *  The reply comes when it is all in. */
            for (size_t i = 0; i < x->n && !err.code; i++)
                if (j && coord_job_task(j, x->specs[i].id))
                    sw_err_set(&err, SW_EINVAL, "task '%s' already exists in job '%s' "
                               "(nothing of this run was submitted)", x->specs[i].id, job);
            if (err.code) {
                ctl_reply_error(self, m->routing, err.code, "%s", err.msg);
                zhashx_delete(self->txns, key);
            }
            else {
                x->j = s_job_for_submit(self, job);
                x->j->held++;
                coord_store_job_txn(self->store, x->j, x->j->ntasks);
                x->committing = true;
                x->routing = zframe_dup(m->routing);
                x->req = self->req;
            }
            free(key);
            goto out;
        }
        ctl_reply_t r;
        ctl_reply_begin(&r, 3);
        sw_mp_kv_str(&r.pk, "job", job);
        sw_mp_kv_int(&r.pk, "count", (int64_t) n);
        sw_mp_kv_int(&r.pk, "staged", (int64_t) total);
        ctl_reply_send(self, m->routing, &r);
        free(key);
        goto out;
    }
    s_submit_all(self, job, specs, n);
    free(specs);
    free(key);
    ctl_reply_t r;
    ctl_reply_begin(&r, 2);
    sw_mp_kv_str(&r.pk, "job", job);
    sw_mp_kv_int(&r.pk, "count", (int64_t) n);
    ctl_reply_send(self, m->routing, &r);
out:
    free(job);
    free(txn);
}

/*  --- CANCEL ------------------------------------------------------------------------- */

void
ctl_on_cancel(coord_ctl_t *self, sw_msg_t *m)
{
    coord_job_t *j = ctl_job_of(self, m, false);
    if (!j)
        return;
    sw_err_t err = { 0 };
    sw_strv_t ids = { 0 };
    if (sw_mp_strv(m->body, "ids", false, SW_MAX_LIST, &ids, &err) < 0) {
        ctl_reply_error(self, m->routing, 2, "%s", err.msg);
        return;
    }
    /*  Every id checked first (all or nothing), each in O(1). */
    for (size_t i = 0; i < ids.n; i++)
        if (!coord_job_task(j, ids.v[i])) {
            ctl_reply_error(self, m->routing, 4, "no task '%s' in job '%s'", ids.v[i], j->id);
            sw_strv_release(&ids);
            return;
        }
    int n = 0;
    if (ids.n == 0) {
        /*  The whole job: a slice per loop turn (a million tasks take
         *  seconds), the job held from dispatch meanwhile; the reply comes
         *  at the end. A run still going in: what is not in yet is
         *  cancelled as it comes. */
        ctl_cancel_t *c = xcalloc(1, sizeof *c);
        c->j = j;
        c->routing = zframe_dup(m->routing);
        c->req = self->req;
        for (ctl_txn_t *x = zhashx_first(self->txns); x; x = zhashx_next(self->txns))
            if (x->committing && x->j == j && !x->cancelled) {
                x->cancelled = true;
                c->count += (int64_t) (x->n - x->done);
            }
            else if (!x->committing && strcmp(x->job, j->id) == 0 && !x->cancelled) {
                /*  Its batches are still coming: they land cancelled
                 *  (coord_ctl_work), what came so far counted here. A
                 *  cancel of the job that let them run would be lost. */
                x->cancelled = true;
                c->count += (int64_t) x->n;
            }
        j->held++;
        zlistx_add_end(self->cancels, c);
        sw_strv_release(&ids);
        return;
    }
    for (size_t i = 0; i < ids.n; i++)
        n += coord_sched_cancel(self->sched, j, ids.v[i], COORD_CANCEL_REASON, sw_wall_ms());
    sw_strv_release(&ids);
    ctl_reply_t r;
    ctl_reply_begin(&r, 2);
    sw_mp_kv_str(&r.pk, "job", j->id);
    sw_mp_kv_int(&r.pk, "cancelled", n);
    ctl_reply_send(self, m->routing, &r);
}

bool
coord_ctl_work(coord_ctl_t *self, int64_t deadline_ms)
{
    zlistx_t *ended = zlistx_new();
    for (ctl_txn_t *x = zhashx_first(self->txns); x; x = zhashx_next(self->txns)) {
        if (!x->committing)
            continue;
        coord_store_begin(self->store, x->req);
        sw_err_t err = { 0 };
        while (x->done < x->n) {
            coord_task_t *t = coord_sched_submit(self->sched, &x->specs[x->done++],
                                                 sw_wall_ms(), &err);
            if (!t)
                log_warnx("submit: %s", err.msg);     /*  cannot happen: checked before */
            else if (x->cancelled)
                coord_sched_cancel(self->sched, x->j, t->spec.id, COORD_CANCEL_REASON,
                                   sw_wall_ms());
            if ((x->done & 255) == 0 && sw_now_ms() >= deadline_ms)
                break;
        }
        if (x->done == x->n) {
            x->j->held--;
            coord_store_job_txn(self->store, x->j, -1);
            log_info("job %s: %zu task%s submitted (in batches)", x->job, x->n,
                     x->n == 1 ? "" : "s");
            if (self->ops.submitted)
                self->ops.submitted(self->ctx, x->n);
            ctl_reply_t r;
            if (x->refused) {
                msgpack_sbuffer_init(&r.sb);
                ctl_error_body(&r.sb, 1, x->refused);
            }
            else {
                ctl_reply_begin(&r, 2);
                sw_mp_kv_str(&r.pk, "job", x->job);
                sw_mp_kv_int(&r.pk, "count", (int64_t) x->n);
            }
            ctl_hold(self, x->routing, &r.sb, x->req, x->j);
            zlistx_add_end(ended, x->key);
        }
        coord_store_end(self->store);
    }
    for (const char *key = zlistx_first(ended); key; key = zlistx_next(ended))
        zhashx_delete(self->txns, key);
    zlistx_destroy(&ended);
    ctl_cancel_t *c = zlistx_first(self->cancels);
    while (c) {
        coord_store_begin(self->store, c->req);
        coord_job_t *j = c->j;
        for (; c->next < j->ntasks; c->next++) {
            coord_task_t *t = j->order[c->next];
            if (!SW_TS_FINAL(t->state) && !t->cancel_requested)
                c->count += coord_sched_cancel(self->sched, j, t->spec.id, COORD_CANCEL_REASON,
                                               sw_wall_ms());
            if ((c->next & 255) == 255 && sw_now_ms() >= deadline_ms) {
                c->next++;
                break;
            }
        }
        coord_store_end(self->store);
        if (c->next < j->ntasks) {
            c = zlistx_next(self->cancels);
            continue;
        }
        j->held--;
        ctl_reply_t r;
        if (c->refused) {
            msgpack_sbuffer_init(&r.sb);
            ctl_error_body(&r.sb, 1, c->refused);
        }
        else {
            ctl_reply_begin(&r, 2);
            sw_mp_kv_str(&r.pk, "job", j->id);
            sw_mp_kv_int(&r.pk, "cancelled", c->count);
        }
        ctl_hold(self, c->routing, &r.sb, c->req, j);
        zlistx_detach_cur(self->cancels);       /*  the cursor moves back */
        ctl_cancel_destroy(&c);
        c = zlistx_next(self->cancels);
    }
    bool more = zlistx_size(self->cancels) > 0;
    for (ctl_txn_t *x = zhashx_first(self->txns); x && !more; x = zhashx_next(self->txns))
        more = x->committing;
    return more;
}

