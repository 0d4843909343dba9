/*  coord_place -- the scheduler's ready queue and dispatch (coord_sched_int.h).
 *
 *  Ready tasks are queued by placement class (one job, one runner, one
 *  set of labels, first attempts or retries apart): dispatch looks at the
 *  head of each class only, so a class nobody free can run costs one look
 *  per dispatch, not one per queued task, and a job at its max_agents
 *  costs nothing. Retries (backoff, preferred agents) are few and looked
 *  at one by one. Agents with credit sit in a ring, served round robin. */
#include "coord_sched_int.h"

#include <string.h>

void
sched_class_destroy(coord_class_t **self_p)
{
    coord_class_t *c = *self_p;
    if (!c)
        return;
    free(c->key);
    free(c);
    *self_p = NULL;
}

void
sched_enqueue(coord_sched_t *self, coord_task_t *t, bool front, int64_t ready_ms)
{
    sched_set_state(t, SW_TS_QUEUED);
    t->ready_ms = ready_ms;
    sw_buf_t key;
    sw_buf_init(&key);
    /*  Retries (looked at one by one), rate-limited runs waiting out their
     *  backoff, and first runs are apart: neither holds back the others. */
    /*  (built without printf: once per task queued, a million at a submit) */
    char kind[3] = { '\x1f', t->tried.n ? 'r' : t->throttled ? 't' : 'f', '\0' };
    sw_buf_addstr(&key, t->job->id);
    sw_buf_add(&key, "\x1f", 1);
    sw_buf_addstr(&key, t->spec.runner);
    sw_buf_addstr(&key, kind);
    for (size_t i = 0; i < coord_task_labels(t)->n; i++) {
        sw_buf_add(&key, "\x1f", 1);
        sw_buf_addstr(&key, coord_task_labels(t)->k[i]);
        sw_buf_add(&key, "=", 1);
        sw_buf_addstr(&key, coord_task_labels(t)->v[i]);
    }
    /*  The limits it takes are part of its class: a class waits as a whole
     *  while one of them is used up (sched_res_blocked), so its peers must
     *  take the same ones. Names have no \x1e or \x1f (sw_resource_valid). */
    for (int i = 0; i < t->nres; i++) {
        sw_buf_add(&key, "\x1e", 1);
        sw_buf_addstr(&key, t->res[i]->name);
    }
    coord_class_t *c = zhashx_lookup(self->classes, key.data);
    if (!c) {
        c = xcalloc(1, sizeof *c);
        c->key = key.data;
        sw_buf_init(&key);
        c->retries = t->tried.n > 0;
        zhashx_insert(self->classes, c->key, c);
        c->handle = zlistx_add_end(self->active, c);
    }
    sw_buf_release(&key);
    t->qclass = c;
    if (front) {
        t->qprev = NULL;
        t->qnext = c->head;
        if (c->head)
            c->head->qprev = t;
        else
            c->tail = t;
        c->head = t;
    }
    else {
        t->qnext = NULL;
        t->qprev = c->tail;
        if (c->tail)
            c->tail->qnext = t;
        else
            c->head = t;
        c->tail = t;
    }
    c->n++;
    self->nready++;
}

/*  Takes a ready task out of its class; an empty class goes. */
void
sched_dequeue(coord_sched_t *self, coord_task_t *t)
{
    coord_class_t *c = t->qclass;
    if (!c)
        return;
    if (t->qprev)
        t->qprev->qnext = t->qnext;
    else
        c->head = t->qnext;
    if (t->qnext)
        t->qnext->qprev = t->qprev;
    else
        c->tail = t->qprev;
    t->qclass = NULL;
    t->qnext = t->qprev = NULL;
    c->n--;
    self->nready--;
    if (c->n == 0) {
        zlistx_detach(self->active, c->handle);
        zhashx_delete(self->classes, c->key);
    }
}

/*  --- credit ------------------------------------------------------------------ */

int
sched_credit(const coord_agent_t *a)
{
    return !a->draining && a->running < a->slots ? a->slots - a->running : 0;
}

/*  After anything that changes a's credit (running, slots, draining, gone)
 *  from before: keeps the credit sum and the ring of agents with credit. */
void
sched_credit_changed(coord_sched_t *self, coord_agent_t *a, int before, bool gone)
{
    int now = gone ? 0 : sched_credit(a);
    self->free_slots += now - before;
    if (now > 0 && !a->free_handle)
        a->free_handle = zlistx_add_end(self->free, a);
    else if (now == 0 && a->free_handle) {
        zlistx_detach(self->free, a->free_handle);
        a->free_handle = NULL;
    }
}

/*  Changes an agent's running count, keeping its credit right. */
void
sched_running_add(coord_sched_t *self, coord_agent_t *a, int delta)
{
    int before = sched_credit(a);
    a->running += delta;
    sched_credit_changed(self, a, before, false);
}

/*  --- dispatch ------------------------------------------------------------------ */

static bool
s_fits(const coord_agent_t *a, const coord_task_t *t)
{
    if (a->running >= a->slots || a->draining)
        return false;
    bool runner = false;
    for (size_t i = 0; i < a->runners.n && !runner; i++)
        runner = strcmp(a->runners.v[i], t->spec.runner) == 0;
    if (!runner)
        return false;
    for (size_t i = 0; i < coord_task_labels(t)->n; i++) {
        const char *v = sw_kv_get(&a->labels, coord_task_labels(t)->k[i]);
        if (!v || strcmp(v, coord_task_labels(t)->v[i]) != 0)
            return false;
    }
    return true;
}

bool
sched_tried(const coord_task_t *t, const coord_agent_t *a)
{
    for (size_t i = 0; i < t->tried.n; i++)
        if (strcmp(t->tried.v[i], a->id) == 0)
            return true;
    return false;
}

/*  Round robin over the agents with credit, starting after the last one
 *  given work, so tasks spread across machines instead of filling the
 *  first: the first agent in the ring that fits takes it, O(1) when every
 *  agent offers what the task needs. A task that failed on some agents
 *  prefers the others; it goes back to one of those only when no other
 *  agent could ever take it (a walk over all agents, for retries only). */
static coord_agent_t *
s_pick(coord_sched_t *self, const coord_task_t *t)
{
    coord_agent_t *fallback = NULL;
    size_t n = zlistx_size(self->free);
    for (size_t i = 0; i < n; i++) {
        coord_agent_t *a = zlistx_first(self->free);
        zlistx_move_end(self->free, a->free_handle);
        if (!s_fits(a, t))
            continue;
        if (!t->tried.n || !sched_tried(t, a))
            return a;
        if (!fallback)
            fallback = a;
    }
    if (!fallback)
        return NULL;
    /*  Only agents it failed on are free: wait if another could take it. */
    for (coord_agent_t *a = zlistx_first(self->agent_order); a;
         a = zlistx_next(self->agent_order)) {
        int running = a->running;
        a->running = 0;
        bool could = !sched_tried(t, a) && s_fits(a, t);
        a->running = running;
        if (could)
            return NULL;
    }
    return fallback;
}

/*  t (out of its class) goes to a. */
static void
s_assign(coord_sched_t *self, coord_task_t *t, coord_agent_t *a, int64_t wall_ms)
{
    t->agent = a;
    sched_running_add(self, a, 1);
    t->job->running++;
    zlistx_add_end(a->tasks, t);
    t->spec.attempt++;
    t->dispatch_seq = ++self->dispatch_seq;
    sched_set_state(t, SW_TS_RUNNING);      /*  takes its limits */
    t->started_ms = wall_ms;
    t->agent_id = a->iid;
    t->host = a->ihost;
    free(t->reason);            /*  why it was queued again, if it was */
    t->reason = NULL;
    self->ops.persist(self->ctx, t);
    self->ops.dispatch(self->ctx, t, a);
}

int
coord_sched_dispatch(coord_sched_t *self, int64_t now_ms, int64_t wall_ms)
{
    char *st;
    while ((st = zlistx_first(self->stale))) {
        zlistx_detach_cur(self->stale);
        char *job = strchr(st, '\x1f'), *id = job ? strchr(job + 1, '\x1f') : NULL,
             *att = id ? strchr(id + 1, '\x1f') : NULL;
        if (att) {
            *job++ = *id++ = *att++ = '\0';
            coord_agent_t *a = coord_sched_agent(self, st);
            sw_ref_t r = { .job = job, .id = id, .attempt = atoll(att) };
            if (a && self->ops.stale)
                self->ops.stale(self->ctx, a, &r);
        }
        free(st);
    }
    coord_task_t *ct;
    while ((ct = zlistx_first(self->cancels))) {
        zlistx_detach_cur(self->cancels);
        if (ct->state == SW_TS_RUNNING && ct->agent && ct->cancel_requested)
            self->ops.cancel(self->ctx, ct, ct->agent);
    }
    coord_job_t *halt;
    while ((halt = zlistx_first(self->halting))) {
        zlistx_detach_cur(self->halting);
        coord_sched_cancel(self, halt, NULL, halt->halt_reason, wall_ms);
    }
    sched_budget_run(self, wall_ms);
    int n = 0;
    coord_class_t *c = zlistx_first(self->active);
    while (c && self->free_slots > 0) {
        coord_class_t *next_class = zlistx_next(self->active);
        coord_task_t *t = c->head;
        while (t && self->free_slots > 0) {
            coord_task_t *next = t->qnext;
            coord_job_t *j = t->job;
            if (j->held || (j->max_agents && j->running >= j->max_agents))
                break;                      /*  the whole class is that job's */
            if (j->budget.out) {
                /*  submitted after it ran out: ends at the next dispatch */
                if (!j->budget.pending) {
                    j->budget.pending = true;
                    zlistx_add_end(self->budgets, j);
                }
                break;
            }
            if (t->nres && sched_res_blocked(t))
                break;                      /*  its peers take the same limits */
            coord_agent_t *a = now_ms < t->not_before_ms ? NULL : s_pick(self, t);
            if (a) {
                sched_dequeue(self, t);     /*  may free c: t was not its last if next */
                s_assign(self, t, a, wall_ms);
                n++;
            }
            else if (!c->retries)
                break;                      /*  its peers fit no better */
            t = next;
        }
        c = next_class;
    }
    return n;
}
