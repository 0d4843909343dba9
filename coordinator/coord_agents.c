/*  coord_agents -- the scheduler's agents: HELLO, leases, loss and drain
 *  (coord_sched_int.h). */
#include "coord_sched_int.h"

#include <string.h>

void
sched_agent_destroy(coord_agent_t **self_p)
{
    coord_agent_t *a = *self_p;
    if (!a)
        return;
    free(a->id);
    free(a->host);
    free(a->version);
    free(a->key);
    free(a->address);
    sw_kv_release(&a->labels);
    sw_strv_release(&a->runners);
    zframe_destroy(&a->routing);
    zlistx_destroy(&a->tasks);
    free(a);
    *self_p = NULL;
}

coord_agent_t *
coord_sched_agent(coord_sched_t *self, const char *id)
{
    return zhashx_lookup(self->agents, id);
}

zlistx_t *
coord_sched_agents(coord_sched_t *self)
{
    return self->agent_order;
}

void
coord_sched_seen(coord_sched_t *self, coord_agent_t *a, int64_t now_ms, int64_t lease_ms)
{
    (void) self;
    /*  A message renews the lease; it never shortens one a stall of the
     *  coordinator's extended (coord_sched_stalled). */
    if (a->expires_ms < now_ms + lease_ms)
        a->expires_ms = now_ms + lease_ms;
}

/*  One copy of each agent id and host name for every task that ran there:
 *  no allocation per dispatch (which, interleaved with message buffers,
 *  fragmented the heap: 1M tasks on 1,000 agents left 2 GiB of RSS). */
const char *
sched_intern(coord_sched_t *self, const char *name)
{
    if (!name || !*name)
        return NULL;
    char *s = zhashx_lookup(self->names, name);
    if (!s) {
        s = xstrdup(name);
        zhashx_insert(self->names, s, s);
    }
    return s;
}

void
coord_sched_drain(coord_sched_t *self, coord_agent_t *a)
{
    int before = sched_credit(a);
    a->draining = true;
    sched_credit_changed(self, a, before, false);
}

void
sched_unassign(coord_sched_t *self, coord_task_t *t)
{
    coord_agent_t *a = t->agent;
    if (!a)
        return;
    void *h = zlistx_find(a->tasks, t);
    if (h)
        zlistx_detach(a->tasks, h);
    sched_running_add(self, a, -1);
    t->job->running--;
    t->agent = NULL;
}

void
sched_requeue_or_lose(coord_sched_t *self, coord_task_t *t, const char *why, int64_t wall_ms)
{
    sched_unassign(self, t);
    if (t->cancel_requested) {
        sched_finish(self, t, SW_TS_CANCELLED, sched_cancel_reason(t), wall_ms);
        return;
    }
    if (sched_attempts_used(t) < t->spec.max_attempts) {
        /*  Said while it waits (swarm status), forgotten when it runs. */
        free(t->reason);
        t->reason = xasprintf("queued again: %s", why);
        sched_enqueue(self, t, true, wall_ms);
        self->stats.retries_lost++;
        self->ops.persist(self->ctx, t);
        return;
    }
    char reason[512];
    snprintf(reason, sizeof reason, "%s (attempt %lld of %lld)", why,
             (long long) t->spec.attempt, (long long) t->spec.max_attempts);
    sched_finish(self, t, SW_TS_LOST, reason, wall_ms);
}

static bool
s_listed(const sw_strv_t *running, const coord_task_t *t)
{
    char key[2 * SW_MAX_ID + 32];
    snprintf(key, sizeof key, "%s\x1f%s\x1f%lld", t->job->id, t->spec.id,
             (long long) t->spec.attempt);
    for (size_t i = 0; i < running->n; i++)
        if (strcmp(running->v[i], key) == 0)
            return true;
    return false;
}

coord_agent_t *
coord_sched_hello(coord_sched_t *self, const sw_hello_t *h, zframe_t **routing, int64_t now_ms,
                  int64_t lease_ms)
{
    coord_agent_t *a = coord_sched_agent(self, h->agent);
    int before = a ? sched_credit(a) : 0;
    if (a) {
        /*  The same agent on a new connection (it reconnected, or was
         *  restarted). Keep what it says it still runs; requeue the rest. */
        coord_task_t *t = zlistx_first(a->tasks);
        zlistx_t *lost = zlistx_new();
        for (; t; t = zlistx_next(a->tasks))
            if (!s_listed(&h->running, t))
                zlistx_add_end(lost, t);
        for (t = zlistx_first(lost); t; t = zlistx_next(lost)) {
            /*  It ended while the link was down (its DONE went with the
             *  old connection; the result, fenced, is in Redis), or the
             *  agent restarted and lost it. Redis says which: it goes the
             *  way of a task nobody claimed after a restart, due now
             *  (finished from its stored result, else run again). Run
             *  again on a guess, it ran twice. */
            log_warnx("agent %s came back without %s/%s attempt %lld: finished if its result "
                      "is stored, else run again", a->id, t->job->id, t->spec.id,
                      (long long) t->spec.attempt);
            sched_due_now(self, t, now_ms);
        }
        zlistx_destroy(&lost);
        /*  A CANCEL sent to its old connection may be lost with it: what it
         *  still runs and was asked to stop is asked again. */
        for (t = zlistx_first(a->tasks); t; t = zlistx_next(a->tasks))
            if (t->cancel_requested && !zlistx_find(self->cancels, t))
                zlistx_add_end(self->cancels, t);
        before = sched_credit(a);
        zframe_destroy(&a->routing);
        sw_kv_release(&a->labels);
        sw_strv_release(&a->runners);
        free(a->host);
        free(a->version);
    }
    else {
        a = xcalloc(1, sizeof *a);
        a->id = xstrdup(h->agent);
        a->tasks = zlistx_new();
        zhashx_insert(self->agents, a->id, a);
        zlistx_add_end(self->agent_order, a);
    }
    a->host = xstrdup(h->host);
    a->iid = sched_intern(self, a->id);
    a->ihost = sched_intern(self, a->host);
    a->version = xstrdup(h->version);
    a->slots = (int) h->slots;
    sw_kv_copy(&a->labels, &h->labels);
    sw_strv_copy(&a->runners, &h->runners);
    a->routing = *routing;
    *routing = NULL;
    a->since_ms = sw_wall_ms();
    a->expires_ms = now_ms + lease_ms;
    a->hb_sent_ms = now_ms;
    a->draining = false;
    sched_adopt(self, a, &h->running, now_ms);
    /*  What it runs that is not its (any more): the task ended, was
     *  cancelled or requeued while it was away, or is unknown here. A run
     *  left going would only be fenced off at its end; stop it now. */
    for (size_t i = 0; i < h->running.n; i++) {
        char *copy = xstrdup(h->running.v[i]);
        char *id = strchr(copy, '\x1f'), *att = id ? strchr(id + 1, '\x1f') : NULL;
        if (att) {
            *id++ = '\0';
            *att++ = '\0';
            coord_task_t *t = coord_sched_task(self, copy, id);
            bool mine = t && t->agent == a && t->state == SW_TS_RUNNING
                     && t->spec.attempt == atoll(att);
            if (!mine)
                zlistx_add_end(self->stale, xasprintf("%s\x1f%s", a->id, h->running.v[i]));
        }
        free(copy);
    }
    sched_credit_changed(self, a, before, false);   /*  none while it runs more than slots */
    return a;
}

void
coord_sched_agent_lost(coord_sched_t *self, coord_agent_t *a, const char *why, int64_t wall_ms)
{
    while (zlistx_size(a->tasks) > 0) {
        coord_task_t *t = zlistx_first(a->tasks);
        sched_requeue_or_lose(self, t, why, wall_ms);
    }
    for (coord_task_t *t = zlistx_first(self->cancels); t; t = zlistx_next(self->cancels))
        if (t->agent == a || !t->agent)
            zlistx_detach_cur(self->cancels);
    sched_credit_changed(self, a, sched_credit(a), true);
    self->ops.agent_gone(self->ctx, a);
    zhashx_delete(self->agents, a->id);
    void *h = zlistx_find(self->agent_order, a);
    zlistx_delete(self->agent_order, h);
}

void
coord_sched_stalled(coord_sched_t *self, int64_t stall_ms, int64_t until_ms)
{
    for (coord_agent_t *a = zlistx_first(self->agent_order); a;
         a = zlistx_next(self->agent_order)) {
        a->expires_ms += stall_ms;
        if (a->expires_ms < until_ms)
            a->expires_ms = until_ms;
    }
}

int
coord_sched_expire(coord_sched_t *self, int64_t now_ms, int64_t wall_ms)
{
    /*  Collect first: agent_lost deletes from the list being walked. */
    zlistx_t *dead = zlistx_new();
    for (coord_agent_t *a = zlistx_first(self->agent_order); a;
         a = zlistx_next(self->agent_order))
        if (now_ms > a->expires_ms)
            zlistx_add_end(dead, a);
    int n = (int) zlistx_size(dead);
    self->stats.agents_expired += (uint64_t) n;
    for (coord_agent_t *a = zlistx_first(dead); a; a = zlistx_next(dead)) {
        log_warnx("agent %s (%s) missed its heartbeats: declared dead", a->id, a->host);
        coord_sched_agent_lost(self, a, "agent stopped answering", wall_ms);
    }
    zlistx_destroy(&dead);
    return n;
}
