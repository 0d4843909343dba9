/*  coord_model_check -- the invariants of the scheduler's model-based test
 *  (coord_model.c), checked on its real state after every step. */
#include "coord_model_int.h"

#include <string.h>

/*  --- invariants ------------------------------------------------------------------ */

void
m_check(m_t *m)
{
    coord_sched_t *s = m->s;
    int free_sum = 0;
    size_t held = 0;
    for (coord_agent_t *a = zlistx_first(s->agent_order); a; a = zlistx_next(s->agent_order)) {
        int credit = sched_credit(a);
        free_sum += credit;
        if (credit < 0 || a->running < 0)
            m_fail(m, "agent %s has credit %d, running %d", a->id, credit, a->running);
        if ((credit > 0) != (a->free_handle != NULL))
            m_fail(m, "agent %s: credit %d but %s the ring", a->id, credit,
                   a->free_handle ? "in" : "not in");
        if ((size_t) a->running != zlistx_size(a->tasks))
            m_fail(m, "agent %s runs %d but holds %zu", a->id, a->running, zlistx_size(a->tasks));
        for (coord_task_t *t = zlistx_first(a->tasks); t; t = zlistx_next(a->tasks))
            if (t->agent != a || t->state != SW_TS_RUNNING)
                m_fail(m, "agent %s holds %s/%s (%s) of agent %s", a->id, t->job->id, t->spec.id,
                       sw_tstate_name(t->state), t->agent ? t->agent->id : "none");
        held += zlistx_size(a->tasks);
    }
    if (free_sum != s->free_slots || s->free_slots < 0)
        m_fail(m, "free slots %d, credit sum %d", s->free_slots, free_sum);
    size_t queued = 0, on_agents = 0;
    int lic_running = 0;
    zlistx_t *jobs = coord_sched_job_list(s);
    for (coord_job_t *j = zlistx_first(jobs); j; j = zlistx_next(jobs)) {
        int sum = 0, running = 0, nfinal = 0;
        for (int k = 0; k < SW_TS_COUNT; k++)
            sum += j->counts[k];
        if (sum != j->ntasks)
            m_fail(m, "job %s counts %d of %d tasks", j->id, sum, j->ntasks);
        int64_t spent = 0;
        for (int k = 0; k < j->ntasks; k++)
            spent += coord_task_spend(j->order[k])->tokens;
        if (spent != j->budget.tokens || spent < 0)
            m_fail(m, "job %s spent %lld tokens, its tasks %lld", j->id,
                   (long long) j->budget.tokens, (long long) spent);
        if (j->budget.max_tokens && j->budget.tokens >= j->budget.max_tokens && !j->budget.out)
            m_fail(m, "job %s spent %lld of %lld tokens but is not out of budget", j->id,
                   (long long) j->budget.tokens, (long long) j->budget.max_tokens);
        for (int k = 0; k < j->nfinal; k++)
            if (j->finals[k]->final_seq != (uint64_t) k + 1 || !SW_TS_FINAL(j->finals[k]->state))
                m_fail(m, "job %s: finals[%d] is out of order", j->id, k);
        for (int i = 0; i < j->ntasks; i++) {
            coord_task_t *t = j->order[i];
            const char *jid = j->id, *tid = t->spec.id;
            running += t->agent != NULL;
            nfinal += SW_TS_FINAL(t->state);
            queued += t->state == SW_TS_QUEUED;
            on_agents += t->agent != NULL;
            if ((t->state == SW_TS_QUEUED) != (t->qclass != NULL))
                m_fail(m, "%s/%s is %s, %s a queue", jid, tid, sw_tstate_name(t->state),
                       t->qclass ? "in" : "not in");
            if (t->agent && t->state != SW_TS_RUNNING)
                m_fail(m, "%s/%s is %s on agent %s", jid, tid, sw_tstate_name(t->state),
                       t->agent->id);
            if (t->state == SW_TS_RUNNING && !t->agent && !t->adopt_by_ms)
                m_fail(m, "%s/%s runs nowhere and waits for nobody", jid, tid);
            if (sched_attempts_used(t) > t->spec.max_attempts || t->throttled < 0
                || t->throttled > COORD_MAX_THROTTLES)
                m_fail(m, "%s/%s at attempt %lld of %lld (%d throttled)", jid, tid,
                       (long long) t->spec.attempt, (long long) t->spec.max_attempts,
                       t->throttled);
            lic_running += t->state == SW_TS_RUNNING && coord_task_resources(t)->n > 0;
            if (t->state == SW_TS_CANCELLED && (!t->reason || !*t->reason))
                m_fail(m, "%s/%s cancelled without a reason", jid, tid);
            if (t->state == SW_TS_WAITING && t->deps_left <= 0)
                m_fail(m, "%s/%s waits for nothing", jid, tid);
            bool started = t->state == SW_TS_QUEUED || t->state == SW_TS_RUNNING;
            bool named = false;
            for (size_t k = 0; k < coord_task_after(t)->n; k++) {
                coord_task_t *d = coord_job_task(j, coord_task_after(t)->v[k]);
                if (started && (!d || d->state != SW_TS_SUCCEEDED))
                    m_fail(m, "%s/%s is %s before its dependency %s succeeded", jid, tid,
                           sw_tstate_name(t->state), coord_task_after(t)->v[k]);
                char prefix[64];
                snprintf(prefix, sizeof prefix, "dependency %s ", coord_task_after(t)->v[k]);
                if (t->reason && strncmp(t->reason, prefix, strlen(prefix)) == 0 && d
                    && SW_TS_FINAL(d->state) && d->state != SW_TS_SUCCEEDED)
                    named = true;
            }
            if (j->budget.out && t->reason && j->budget.reason
                && strcmp(t->reason, j->budget.reason) == 0)
                named = true;           /*  skipped at the job's budget */
            if (t->state == SW_TS_SKIPPED && !named)
                m_fail(m, "%s/%s skipped without naming its chain: %s", jid, tid,
                       t->reason ? t->reason : "(no reason)");
        }
        if (running != j->running || nfinal != j->nfinal || (uint64_t) nfinal != j->final_seq)
            m_fail(m, "job %s: running %d/%d, final %d/%d", j->id, running, j->running, nfinal,
                   j->nfinal);
    }
    zlistx_destroy(&jobs);
    if (queued != s->nready)
        m_fail(m, "%zu queued, the queue holds %zu", queued, s->nready);
    if (held != on_agents)
        m_fail(m, "agents hold %zu tasks, %zu tasks are on agents", held, on_agents);
    /*  issue 18 §3, §4: a limit's use is its running tasks (restored ones
     *  too), its effective value within 1..limit */
    coord_limit_t *lic = zlistx_first(coord_sched_limits(s));
    if (!lic || lic->used != lic_running || lic->effective < 1 || lic->effective > lic->limit)
        m_fail(m, "limit lic: used %d, %d running take it, effective %d of %d",
               lic ? lic->used : -1, lic_running, lic ? lic->effective : -1,
               lic ? lic->limit : -1);
}

