/*  coord_restore -- the scheduler after a restart (coord_sched_int.h): the
 *  state rebuilt from Redis, and the running tasks it found, claimed by
 *  their agents or resolved when the adoption window closes. */
#include "coord_sched_int.h"

#include <string.h>

coord_task_t *
coord_sched_restore(coord_sched_t *self, sw_task_t *spec, const coord_restore_t *r)
{
    coord_job_t *j = coord_sched_job_ensure(self, spec->job, r->submitted_ms);
    if (coord_job_task(j, spec->id)) {
        sw_task_release(spec);
        return NULL;
    }
    /*  queued and waiting are decided again by restore_finish */
    sw_tstate_t st = r->state;
    coord_task_t *t = sched_task_add(self, j, spec, SW_TS_FINAL(st) || st == SW_TS_RUNNING
                                              ? st : SW_TS_WAITING, r->submitted_ms);
    t->agent_id = sched_intern(self, r->agent_id);
    t->host = sched_intern(self, r->host);
    t->started_ms = r->started_ms;
    t->finished_ms = r->finished_ms;
    t->exit_code = r->exit_code;
    t->reason = r->reason && *r->reason ? xstrdup(r->reason) : NULL;
    t->throttled = r->throttled > 0 && r->throttled <= t->spec.attempt ? r->throttled : 0;
    if (t->state == SW_TS_RUNNING) {
        t->dispatch_seq = ++self->dispatch_seq;
        if (r->cancel && *r->cancel) {
            t->cancel_requested = true;
            t->cancel_reason = xstrdup(r->cancel);
        }
        t->adopt_by_ms = r->adopt_by_ms;
        zlistx_add_end(self->unadopted, t);
    }
    return t;
}

void
coord_sched_restore_finish(coord_sched_t *self, coord_job_t *only, int64_t wall_ms)
{
    zlistx_t *jobs = zlistx_new();
    for (coord_job_t *j = zhashx_first(self->jobs); j; j = zhashx_next(self->jobs))
        if (!only || j == only)
            zlistx_add_end(jobs, j);
    for (coord_job_t *j = zlistx_first(jobs); j; j = zlistx_next(jobs)) {
        /*  By index: skips may add to finals, never to order. */
        int n = j->ntasks;
        for (int i = 0; i < n; i++)
            if (!SW_TS_FINAL(j->order[i]->state))
                sched_link(self, j->order[i], wall_ms);
    }
    zlistx_destroy(&jobs);
}

void
sched_unadopted_remove(coord_sched_t *self, coord_task_t *t)
{
    void *h = zlistx_find(self->unadopted, t);
    if (h)
        zlistx_detach(self->unadopted, h);
    t->adopt_by_ms = 0;
}

void
sched_adopt(coord_sched_t *self, coord_agent_t *a, const sw_strv_t *running, int64_t now_ms)
{
    /*  Claims: tasks a restarted coordinator found running, that this
     *  agent says it still runs at the same attempt. */
    for (size_t i = 0; i < running->n && zlistx_size(self->unadopted); i++) {
        char *copy = xstrdup(running->v[i]);
        char *id = strchr(copy, '\x1f'), *att = id ? strchr(id + 1, '\x1f') : NULL;
        if (att) {
            *id++ = '\0';
            *att++ = '\0';
            coord_task_t *t = coord_sched_task(self, copy, id);
            if (t && t->adopt_by_ms && !t->agent && t->state == SW_TS_RUNNING
                && t->spec.attempt == atoll(att)) {
                sched_unadopted_remove(self, t);
                t->agent = a;
                a->running++;           /*  the caller fixes a's credit */
                t->job->running++;
                zlistx_add_end(a->tasks, t);
                t->agent_id = sched_intern(self, a->id);
                t->job->rev++;
                log_info("agent %s still runs %s/%s attempt %lld: adopted", a->id, t->job->id,
                         t->spec.id, (long long) t->spec.attempt);
                /*  Cancelled while nobody ran it: the CANCEL goes out at
                 *  the next dispatch, once the agent has its WELCOME. */
                if (t->cancel_requested)
                    zlistx_add_end(self->cancels, t);
            }
        }
        free(copy);
    }
    /*  What it does not list of the tasks restored as running on it: a run
     *  leaves the HELLO's list only once its result is in Redis (or the
     *  agent restarted and lost it), so Redis can say now what waiting for
     *  the window would only say later; meanwhile its slot looked free and
     *  its cost was not counted (a budget let one more task start). Due
     *  now: finished from its stored result, else run again. */
    for (coord_task_t *t = zlistx_first(self->unadopted); t; t = zlistx_next(self->unadopted))
        if (t->agent_id == a->iid && !t->agent && t->adopt_by_ms > now_ms) {
            log_info("agent %s came back without %s/%s attempt %lld after the restart: "
                     "finished if its result is stored, else run again", a->id, t->job->id,
                     t->spec.id, (long long) t->spec.attempt);
            sched_due_now(self, t, now_ms);
        }
}

void
sched_due_now(coord_sched_t *self, coord_task_t *t, int64_t now_ms)
{
    /*  On the list exactly while adopt_by_ms is set (0 once adopted,
     *  resolved or handed over by orphans_due): not twice. */
    bool listed = t->adopt_by_ms != 0;
    sched_unassign(self, t);
    t->came_back_without = true;
    t->adopt_by_ms = now_ms > 0 ? now_ms : 1;
    if (!listed)
        zlistx_add_end(self->unadopted, t);
}

zlistx_t *
coord_sched_orphans_due(coord_sched_t *self, int64_t now_ms)
{
    zlistx_t *due = zlistx_new();
    for (coord_task_t *t = zlistx_first(self->unadopted); t; t = zlistx_next(self->unadopted))
        if (now_ms >= t->adopt_by_ms) {
            zlistx_detach_cur(self->unadopted);
            t->adopt_by_ms = 0;
            zlistx_add_end(due, t);
        }
    return due;
}

void
coord_sched_orphan_later(coord_sched_t *self, coord_task_t *t, int64_t retry_ms)
{
    if (t->state != SW_TS_RUNNING || t->agent || t->adopt_by_ms)
        return;
    t->adopt_by_ms = retry_ms > 0 ? retry_ms : 1;
    zlistx_add_end(self->unadopted, t);
}

void
coord_sched_resolve(coord_sched_t *self, coord_task_t *t, const char *status, int exit_code,
                    int64_t wall_ms)
{
    if (t->state != SW_TS_RUNNING || t->agent)
        return;
    if (t->adopt_by_ms)
        sched_unadopted_remove(self, t);
    sched_res_take(t, -1);                  /*  it runs no more */
    bool came_back = t->came_back_without;
    t->came_back_without = false;
    t->job->counts[SW_TS_RUNNING]--;        /*  it was never on an agent */
    t->job->counts[SW_TS_WAITING]++;
    t->state = SW_TS_WAITING;
    int st = status ? sw_tstate_parse(status) : -1;
    if (st < 0 || !SW_TS_FINAL(st) || st == SW_TS_SKIPPED)
        st = -1;
    if (t->cancel_requested && st != SW_TS_SUCCEEDED) {
        if (st >= 0)
            t->exit_code = exit_code;
        sched_finish(self, t, SW_TS_CANCELLED, sched_cancel_reason(t), wall_ms);
    }
    else if (st >= 0) {
        t->exit_code = exit_code;
        sched_finish(self, t, (sw_tstate_t) st, NULL, wall_ms);
    }
    else if (sched_attempts_used(t) < t->spec.max_attempts) {
        free(t->reason);
        t->reason = xstrdup(came_back
                            ? "queued again: its agent came back without it (restarted), "
                              "and no result of it is stored"
                            : "queued again: no agent claimed it after a coordinator restart");
        sched_enqueue(self, t, true, wall_ms);
        self->stats.retries_lost++;
        self->ops.persist(self->ctx, t);
    }
    else {
        char reason[128];
        snprintf(reason, sizeof reason, came_back ? "agent restarted (attempt %lld of %lld)"
                                                  : "lost in a coordinator restart (attempt %lld "
                                                    "of %lld)",
                 (long long) t->spec.attempt, (long long) t->spec.max_attempts);
        sched_finish(self, t, SW_TS_LOST, reason, wall_ms);
    }
}
