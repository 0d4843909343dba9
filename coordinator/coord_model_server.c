/*  coord_model_server -- the seeded model test's stand-in for the server
 *  around the scheduler (coord_model.c): what "Redis" holds of each task,
 *  and the scheduler's callbacks (persist, dispatch, cancel, stale, a
 *  completion, an agent gone), which check the invariants of the moment
 *  they fire. */
#include "coord_model_int.h"

#include <stdio.h>
#include <string.h>

m_task_t *
m_task(m_t *m, const coord_task_t *t)
{
    char key[64];
    snprintf(key, sizeof key, "%s\x1f%s", t->job->id, t->spec.id);
    return zhashx_lookup(m->tasks, key);
}

m_agent_t *
m_agent(m_t *m, const char *id)
{
    for (int i = 0; i < m->nagents; i++)
        if (strcmp(m->agents[i].id, id) == 0)
            return &m->agents[i];
    return NULL;
}

/*  --- "Redis" ---------------------------------------------------------------- */

void
m_store(m_t *m, const coord_task_t *t)
{
    m_task_t *mt = m_task(m, t);
    if (!mt) {
        m_fail(m, "persist of unknown task %s/%s", t->job->id, t->spec.id);
        return;
    }
    mt->state = t->state;
    mt->attempt = t->spec.attempt;
    mt->throttled = t->throttled;
    free(mt->reason);
    mt->reason = t->reason ? xstrdup(t->reason) : NULL;
    free(mt->cancel);
    mt->cancel = t->cancel_requested && t->cancel_reason ? xstrdup(t->cancel_reason) : NULL;
    if (coord_task_spend(t)->attempt >= M_ATTEMPTS)
        m_fail(m, "%s/%s spent in attempt %lld: past the model's usage:N fields", t->job->id,
               t->spec.id, (long long) coord_task_spend(t)->attempt);
    else if (coord_task_spend(t)->attempt > 0)                      /*  its usage:N field */
        mt->used[coord_task_spend(t)->attempt] = sw_usage_tokens(&coord_task_spend(t)->cur);
}

/*  Redis is back: the coordinator writes everything again. */
void
m_resync(m_t *m)
{
    zlistx_t *jobs = coord_sched_job_list(m->s);
    for (coord_job_t *j = zlistx_first(jobs); j; j = zlistx_next(jobs))
        for (int i = 0; i < j->ntasks; i++)
            m_store(m, j->order[i]);
    zlistx_destroy(&jobs);
}

/*  --- the scheduler's callbacks: the server's part ----------------------------- */

void
m_on_persist(void *ctx, coord_task_t *t)
{
    m_t *m = ctx;
    if (m->redis_up)
        m_store(m, t);
}

void
m_on_dispatch(void *ctx, coord_task_t *t, coord_agent_t *a)
{
    m_t *m = ctx;
    for (size_t i = 0; i < coord_task_after(t)->n; i++) {
        coord_task_t *d = coord_sched_task(m->s, t->job->id, coord_task_after(t)->v[i]);
        if (!d || d->state != SW_TS_SUCCEEDED)
            m_fail(m, "%s/%s started before its dependency %s succeeded (%s)", t->job->id,
                   t->spec.id, coord_task_after(t)->v[i], d ? sw_tstate_name(d->state) : "missing");
    }
    if (sched_attempts_used(t) > t->spec.max_attempts)
        m_fail(m, "%s/%s dispatched as attempt %lld of %lld", t->job->id, t->spec.id,
               (long long) sched_attempts_used(t), (long long) t->spec.max_attempts);
    if (t->job->budget.out || (t->job->budget.max_tokens
                               && t->job->budget.tokens >= t->job->budget.max_tokens))
        m_fail(m, "%s/%s dispatched with its job's budget spent (%lld of %lld tokens)",
               t->job->id, t->spec.id, (long long) t->job->budget.tokens,
               (long long) t->job->budget.max_tokens);
    m_send_t *o = xcalloc(1, sizeof *o);
    snprintf(o->key, sizeof o->key, "%s\x1f%s", t->job->id, t->spec.id);
    snprintf(o->agent, sizeof o->agent, "%s", a->id);
    o->attempt = t->spec.attempt;
    zlistx_add_end(m->outbox, o);
}

void
m_on_cancel(void *ctx, coord_task_t *t, coord_agent_t *a)
{
    m_t *m = ctx;
    if (!a) {
        m_fail(m, "CANCEL of %s/%s for no agent (the server dereferences it)", t->job->id,
               t->spec.id);
        return;
    }
    m_agent_t *ma = m_agent(m, a->id);
    if (!ma || !ma->alive || ma->silent)
        return;                 /*  the message is lost */
    for (m_run_t *r = zlistx_first(ma->runs); r; r = zlistx_next(ma->runs))
        if (strcmp(r->job, t->job->id) == 0 && strcmp(r->id, t->spec.id) == 0
            && r->attempt == t->spec.attempt && !r->finished)
            r->cancelled = true;
}

/*  The agent is told to stop a run it listed that is not its any more. */
void
m_on_stale(void *ctx, coord_agent_t *a, const sw_ref_t *r)
{
    m_t *m = ctx;
    coord_task_t *t = coord_sched_task(m->s, r->job, r->id);
    if (t && t->agent == a && t->spec.attempt == r->attempt && t->state == SW_TS_RUNNING)
        m_fail(m, "agent %s told to stop %s/%s attempt %lld, which is its", a->id, r->job,
               r->id, (long long) r->attempt);
    m_agent_t *ma = m_agent(m, a->id);
    if (!ma || !ma->alive || ma->silent)
        return;
    for (m_run_t *x = zlistx_first(ma->runs); x; x = zlistx_next(ma->runs))
        if (strcmp(x->job, r->job) == 0 && strcmp(x->id, r->id) == 0 && x->attempt == r->attempt
            && !x->finished)
            x->cancelled = true;
}

void
m_on_finished(void *ctx, coord_task_t *t)
{
    m_t *m = ctx;
    m_task_t *mt = m_task(m, t);
    if (!mt)
        return;
    if (++mt->fired > 1)
        m_fail(m, "the completion of %s/%s fired %d times", t->job->id, t->spec.id, mt->fired);
    if (!SW_TS_FINAL(t->state))
        m_fail(m, "%s/%s completed while %s", t->job->id, t->spec.id, sw_tstate_name(t->state));
}

void
m_on_gone(void *ctx, coord_agent_t *a)
{
    m_t *m = ctx;
    m_agent_t *ma = m_agent(m, a->id);
    if (ma && ma->a == a)
        ma->a = NULL;
}
