/*  coord_budget -- the spend of jobs and their caps (coord_sched.h, issue 18).
 *
 *  Part of the scheduler's pure state: no I/O. The server prices a USAGE
 *  (coord_budget_price) and hands it here; what changed is persisted through
 *  the ops like every other change of a task.
 */
#include <math.h>
#include <string.h>

#include "coord_sched_int.h"
#include "sw_selftest.h"

int64_t
coord_budget_price(const sw_prices_t *prices, const sw_usage_t *u, const char **source)
{
    if (u->cost_usd >= 0) {
        *source = "runner";
        return llround(u->cost_usd * 1e6);
    }
    const sw_price_t *p = u->model[0] ? sw_prices_find(prices, u->model) : NULL;
    if (p) {
        /*  at most $1,000,000 an attempt, as a runner's own figure: the
         *  job's sum of a million attempts stays far inside int64 */
        *source = "price";
        double micro = sw_price_cost(p, u) * 1e6;
        return micro < SW_USAGE_MAX_USD * 1e6 ? llround(micro) : (int64_t) (SW_USAGE_MAX_USD * 1e6);
    }
    *source = NULL;
    return -1;
}

void
coord_budget_reason(const coord_job_t *j, char *out, size_t n)
{
    const coord_budget_t *b = &j->budget;
    if (b->max_micro_usd && b->micro_usd >= b->max_micro_usd) {
        char spent[32], cap[32];
        sw_usage_fmt_usd(spent, sizeof spent, (double) b->micro_usd / 1e6);
        sw_usage_fmt_usd(cap, sizeof cap, (double) b->max_micro_usd / 1e6);
        snprintf(out, n, "budget exhausted: %s of %s", spent, cap);
    }
    else
        snprintf(out, n, "budget exhausted: %lld of %lld tokens", (long long) b->tokens,
                 (long long) b->max_tokens);
}

bool
coord_sched_budget_check(coord_sched_t *self, coord_job_t *j)
{
    coord_budget_t *b = &j->budget;
    if (b->out)
        return true;
    if (!(b->max_micro_usd && b->micro_usd >= b->max_micro_usd)
        && !(b->max_tokens && b->tokens >= b->max_tokens))
        return false;
    char why[160];
    coord_budget_reason(j, why, sizeof why);
    b->out = true;
    b->reason = xstrdup(why);
    log_info("job %s: %s: nothing more is dispatched%s", j->id, why,
             b->finish ? "; running tasks finish" : "; running tasks are stopped");
    if (!b->pending) {
        b->pending = true;
        zlistx_add_end(self->budgets, j);
    }
    return true;
}

void
sched_budget_run(coord_sched_t *self, int64_t wall_ms)
{
    coord_job_t *j;
    while ((j = zlistx_first(self->budgets))) {
        zlistx_detach_cur(self->budgets);
        j->budget.pending = false;
        /*  Backwards: dependants come after their dependencies in submit
         *  order, so each ends with the budget's reason rather than
         *  "dependency ... skipped". */
        for (int i = j->ntasks - 1; i >= 0; i--) {
            coord_task_t *t = j->order[i];
            if (SW_TS_FINAL(t->state))
                continue;
            if (t->state == SW_TS_RUNNING) {
                /*  one whose runner is done spending finishes: stopping
                 *  it now saves nothing and loses its work */
                if (!j->budget.finish && !t->cancel_requested
                    && !(t->spend && t->spend->attempt == t->spec.attempt
                         && t->spend->final))
                    coord_sched_cancel(self, j, t->spec.id, j->budget.reason, wall_ms);
            }
            else
                sched_finish(self, t, SW_TS_SKIPPED, j->budget.reason, wall_ms);
        }
    }
}

const coord_spend_t *
coord_task_spend(const coord_task_t *t)
{
    static const coord_spend_t none = { 0 };     /*  as a new one */
    return t->spend ? t->spend : &none;
}

static void
s_spend_add(coord_task_t *t, int64_t micro, int64_t tokens, int sign)
{
    coord_budget_t *b = &t->job->budget;
    if (!t->spend)
        t->spend = xcalloc(1, sizeof *t->spend);
    t->spend->micro_usd += sign * (micro > 0 ? micro : 0);
    t->spend->tokens += sign * tokens;
    b->micro_usd += sign * (micro > 0 ? micro : 0);
    b->tokens += sign * tokens;
    if (micro < 0 && tokens > 0)
        b->unpriced += sign;
}

/*  Attempt's report u (cumulative) replaces its previous one. */
static void
s_count(coord_sched_t *self, coord_task_t *t, int64_t attempt, const sw_usage_t *u,
        int64_t micro, bool final)
{
    if (!t->spend)
        t->spend = xcalloc(1, sizeof *t->spend);
    coord_spend_t *sp = t->spend;
    sp->final = final;
    if (sp->attempt == attempt)         /*  replaces the attempt's last report */
        s_spend_add(t, sp->cur_micro, sw_usage_tokens(&sp->cur), -1);
    else if (sp->attempt && sp->cur_micro < 0 && sw_usage_tokens(&sp->cur) > 0)
        sp->unpriced = true;            /*  an earlier attempt stays unpriced */
    sp->attempt = attempt;
    sp->runner_cost = u->cost_usd >= 0;
    sp->cur = *u;
    sp->cur_micro = micro;
    sp->cur.cost_usd = micro < 0 ? -1 : (double) micro / 1e6;
    s_spend_add(t, micro, sw_usage_tokens(u), 1);
    /*  A $ cap that cannot see tokens caps nothing of them: say so once
     *  (claude's live reports are priced by its result: only its last) */
    coord_budget_t *b = &t->job->budget;
    if (micro < 0 && sw_usage_tokens(u) > 0 && b->max_micro_usd && !b->warned_unpriced
        && (final || !t->spec.runner || strcmp(t->spec.runner, "claude") != 0)) {
        b->warned_unpriced = true;
        log_warnx("job %s: %s tokens without a price (model %s): --max-cost-usd cannot count "
                  "them (price.MODEL in this coordinator's config, or --max-tokens)",
                  t->job->id, t->spec.runner ? t->spec.runner : "runner",
                  u->model[0] ? u->model : "not named");
    }
    self->ops.persist(self->ctx, t);
    coord_sched_budget_check(self, t->job);
}

int
coord_sched_usage(coord_sched_t *self, coord_agent_t *a, const char *job, const char *id,
                  int64_t attempt, const sw_usage_t *u, int64_t micro, bool final)
{
    coord_task_t *t = coord_sched_task(self, job, id);
    if (!t || t->agent != a || t->spec.attempt != attempt || t->state != SW_TS_RUNNING
        || !sw_usage_sane(u) || attempt < coord_task_spend(t)->attempt)
        return -1;
    s_count(self, t, attempt, u, micro, final);
    return 0;
}

void
coord_sched_usage_result(coord_sched_t *self, coord_task_t *t, int64_t attempt,
                         const sw_usage_t *u, int64_t micro)
{
    if (attempt >= 1 && attempt >= coord_task_spend(t)->attempt && sw_usage_sane(u))
        s_count(self, t, attempt, u, micro, true);
}

void
coord_sched_spend_restore(coord_task_t *t, int64_t attempt, const sw_usage_t *u, int64_t micro,
                          bool runner_cost)
{
    if (!sw_usage_sane(u) || attempt < 1)
        return;
    s_spend_add(t, micro, sw_usage_tokens(u), 1);
    coord_spend_t *sp = t->spend;       /*  made by s_spend_add */
    if (attempt >= sp->attempt) {
        sp->attempt = attempt;
        sp->runner_cost = runner_cost;
        sp->cur = *u;
        sp->cur_micro = micro;
        sp->cur.cost_usd = micro < 0 ? -1 : (double) micro / 1e6;
    }
}
