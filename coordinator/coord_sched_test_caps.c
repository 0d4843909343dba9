/*  coord_sched_test_caps -- the scheduler's unit tests of what caps a
 *  farm and a job (issue 18): farm-wide limits and rate-limits, budgets,
 *  and the two together. */
#include "coord_sched_test_int.h"

#include <string.h>

#include "sw_selftest.h"

/*  issue 18 §3, §4: limits with slots, no head-of-line blocking, use
 *  released on every way out, throttled runs requeued without an attempt,
 *  AIMD on the effective limit. */
static coord_task_t *
s_test_res(coord_sched_t *s, const char *id, const char *runner, const char *res)
{
    sw_task_t t;
    sw_task_init(&t);
    t.id = xstrdup(id);
    t.job = xstrdup("j");
    t.runner = xstrdup(runner);
    if (strcmp(runner, "exec") == 0)
        sw_strv_push(&t.argv, "true");
    else
        t.prompt = xstrdup("p");
    if (res)
        sw_strv_push(&t.resources, res);
    sw_err_t err = { 0 };
    if (sw_task_validate(&t, &err) < 0) {
        sw_task_release(&t);
        return NULL;
    }
    return coord_sched_submit(s, &t, 0, &err);
}

static coord_limit_t *
s_test_limit(coord_sched_t *s, const char *name)
{
    zlistx_t *ls = coord_sched_limits(s);
    for (coord_limit_t *l = zlistx_first(ls); l; l = zlistx_next(ls))
        if (strcmp(l->name, name) == 0)
            return l;
    return NULL;
}

static int
s_test_limits(void)
{
    st_rec_t rec = { 0 };
    coord_sched_ops_t ops = { st_rec_persist, st_rec_dispatch, st_rec_cancel, st_rec_finished,
                              st_rec_gone, st_rec_stale };
    coord_sched_t *s = coord_sched_new(&ops, &rec);
    sw_err_t err = { 0 };
    /*  parsing --limit */
    char *name;
    long long n;
    CHECK(coord_limit_parse("codex=8", &name, &n, &err) == 0 && strcmp(name, "codex") == 0
          && n == 8);
    free(name);
    CHECK(coord_limit_parse("x=0", &name, &n, &err) < 0 && strstr(err.msg, "from 1 to"));
    CHECK(coord_limit_parse("=3", &name, &n, &err) < 0 && strstr(err.msg, "invalid resource"));
    CHECK(coord_limit_parse("codex=abc", &name, &n, &err) < 0 && strstr(err.msg, "'abc'"));
    CHECK(coord_limit_parse("codex", &name, &n, &err) < 0 && strstr(err.msg, "NAME=N"));
    CHECK(coord_limit_parse("codex=99999999999999999999", &name, &n, &err) < 0);
    CHECK(coord_limit_parse("codex=1000001", &name, &n, &err) < 0);
    CHECK(coord_limit_parse("a\x01=3", &name, &n, &err) < 0);
    CHECK(coord_limit_parse("codex= 2", &name, &n, &err) < 0);
    CHECK(coord_limit_parse("codex=+2", &name, &n, &err) < 0);
    CHECK(coord_limit_parse("codex=1000000", &name, &n, &err) == 0 && n == 1000000);
    free(name);
    CHECK(coord_sched_limit_set(s, "codex", 2, &err) == 0);
    CHECK(coord_sched_limit_set(s, "gpu", 1, &err) == 0);
    coord_limit_t *lc = s_test_limit(s, "codex"), *lg = s_test_limit(s, "gpu");
    CHECK(lc && lg && lc->effective == 2 && lg->limit == 1);
    /*  queued first: 5 codex tasks, 2 exec tasks on gpu, 3 plain exec, 1
     *  exec task on a resource no limit names (unlimited) */
    coord_task_t *c[5], *g[2], *e[3], *u;
    char id[16];
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof id, "c%d", i);
        CHECK((c[i] = s_test_res(s, id, "codex", NULL)) && c[i]->nres == 1);
    }
    for (int i = 0; i < 2; i++) {
        snprintf(id, sizeof id, "g%d", i);
        CHECK((g[i] = s_test_res(s, id, "exec", "gpu")) != NULL);
    }
    for (int i = 0; i < 3; i++) {
        snprintf(id, sizeof id, "e%d", i);
        CHECK((e[i] = s_test_res(s, id, "exec", NULL)) != NULL);
    }
    CHECK((u = s_test_res(s, "u", "exec", "licence")) && u->nres == 0);
    /*  3 agents x 2 slots: 2 codex, 1 gpu, and exec tasks past them */
    coord_agent_t *ag[3] = { st_agent(s, "a", 2, NULL), st_agent(s, "b", 2, NULL),
                             st_agent(s, "c", 2, NULL) };
    CHECK(coord_sched_dispatch(s, 0, 0) == 6);
    CHECK(c[0]->state == SW_TS_RUNNING && c[1]->state == SW_TS_RUNNING
          && c[2]->state == SW_TS_QUEUED && lc->used == 2);
    CHECK(g[0]->state == SW_TS_RUNNING && g[1]->state == SW_TS_QUEUED && lg->used == 1);
    CHECK(e[0]->state == SW_TS_RUNNING && e[1]->state == SW_TS_RUNNING
          && e[2]->state == SW_TS_RUNNING && u->state == SW_TS_QUEUED);
    /*  an exec task ends: the freed slot goes past the blocked classes */
    CHECK(st_done(s, e[0]->agent, e[0], 1, "succeeded") == 0);
    CHECK(coord_sched_dispatch(s, 0, 0) == 1 && u->state == SW_TS_RUNNING && lc->used == 2);
    /*  a codex task ends: the next codex task takes its place */
    CHECK(st_done(s, c[0]->agent, c[0], 1, "succeeded") == 0 && lc->used == 1);
    CHECK(coord_sched_dispatch(s, 0, 0) == 1 && c[2]->state == SW_TS_RUNNING && lc->used == 2);
    /*  rate-limited: requeued without using an attempt, effective halved */
    coord_agent_t *was = c[1]->agent;
    sw_ref_t r = { .job = "j", .id = "c1", .attempt = 1, .status = "failed", .exit_code = 1,
                   .retryable = true, .throttled = true };
    CHECK(coord_sched_done(s, was, &r, 1000, 0) == 0);
    CHECK(c[1]->state == SW_TS_QUEUED && c[1]->throttled == 1 && lc->used == 1
          && lc->effective == 1 && lc->throttled == 1);
    CHECK(c[1]->tried.n == 0 && c[1]->reason && strstr(c[1]->reason, "rate-limited"));
    /*  a late DONE of the throttled attempt is stale */
    CHECK(coord_sched_done(s, was, &r, 1000, 0) == -1);
    /*  effective 1 with 1 in use: no codex dispatch; the backoff holds c1 */
    CHECK(coord_sched_dispatch(s, 1000, 0) == 0);
    CHECK(st_done(s, c[2]->agent, c[2], 1, "succeeded") == 0 && lc->used == 0);
    CHECK(coord_sched_dispatch(s, 1001, 0) == 1 && c[3]->state == SW_TS_RUNNING);
    CHECK(c[1]->state == SW_TS_QUEUED);         /*  in its backoff, the others went */
    CHECK(st_done(s, c[3]->agent, c[3], 1, "succeeded") == 0);
    CHECK(coord_sched_dispatch(s, 1000 + 60000, 0) == 1);
    coord_task_t *next = c[1]->state == SW_TS_RUNNING ? c[1] : c[4];
    CHECK(next->state == SW_TS_RUNNING && lc->used == 1);
    if (next == c[1])
        CHECK(c[1]->spec.attempt == 2 && sched_attempts_used(c[1]) == 1);
    /*  successes raise it again, one step after COORD_LIMIT_RAISE_AFTER in a
     *  row (c2 and c3 were two) */
    CHECK(lc->successes == 2);
    for (int i = 0; i < COORD_LIMIT_RAISE_AFTER - 3; i++)
        sched_res_succeeded(next);
    CHECK(lc->effective == 1);
    sched_res_succeeded(next);
    CHECK(lc->effective == 2 && lc->successes == 0);
    for (int i = 0; i < 10 * COORD_LIMIT_RAISE_AFTER; i++)
        sched_res_succeeded(next);
    CHECK(lc->effective == 2);                  /*  never above the limit */
    /*  halved once per burst: a run dispatched before the cut does not cut again */
    uint64_t seq = next->dispatch_seq;
    next->dispatch_seq = lc->cut_seq;
    sched_res_throttled(s, next);
    CHECK(lc->effective == 2);
    next->dispatch_seq = seq;
    /*  never below 1 */
    lc->effective = 1;
    lc->cut_seq = 0;
    sched_res_throttled(s, next);
    CHECK(lc->effective == 1);
    lc->effective = 2;
    /*  the agent lost: its tasks' use is given back */
    coord_agent_t *holder = next->agent;
    int gpu_before = lg->used, codex_before = lc->used;
    int lost_codex = 0, lost_gpu = 0;
    for (coord_task_t *t = zlistx_first(holder->tasks); t; t = zlistx_next(holder->tasks)) {
        lost_codex += t->nres && t->res[0] == lc;
        lost_gpu += t->nres && t->res[0] == lg;
    }
    coord_sched_agent_lost(s, holder, "gone", 0);
    CHECK(lc->used == codex_before - lost_codex && lg->used == gpu_before - lost_gpu);
    /*  cancel of the job: every use given back once the runs end */
    coord_sched_cancel(s, coord_sched_job(s, "j"), NULL, NULL, 0);
    (void) ag;
    zlistx_t *agents = coord_sched_agents(s);
    for (coord_agent_t *a = zlistx_first(agents); a; a = zlistx_first(agents)) {
        coord_sched_agent_lost(s, a, "gone", 0);
        agents = coord_sched_agents(s);
    }
    CHECK(lc->used == 0 && lg->used == 0);
    coord_sched_destroy(&s);
    return 0;
}

/*  A restart: running tasks restored take their limits again, and give
 *  them back when they are resolved. */
static int
s_test_limits_restored(void)
{
    st_rec_t rec = { 0 };
    coord_sched_ops_t ops = { st_rec_persist, st_rec_dispatch, st_rec_cancel, st_rec_finished,
                              st_rec_gone, st_rec_stale };
    coord_sched_t *s = coord_sched_new(&ops, &rec);
    sw_err_t err = { 0 };
    CHECK(coord_sched_limit_set(s, "claude", 3, &err) == 0);
    coord_limit_t *l = s_test_limit(s, "claude");
    coord_task_t *t[4];
    for (int i = 0; i < 4; i++) {
        sw_task_t spec;
        sw_task_init(&spec);
        char id[8];
        snprintf(id, sizeof id, "r%d", i);
        spec.id = xstrdup(id);
        spec.job = xstrdup("j");
        spec.runner = xstrdup("claude");
        spec.prompt = xstrdup("p");
        spec.attempt = 3;
        CHECK(sw_task_validate(&spec, &err) == 0);
        coord_restore_t r = { .state = i < 2 ? SW_TS_RUNNING : SW_TS_SUCCEEDED,
                              .agent_id = "a", .host = "h", .adopt_by_ms = 100,
                              .throttled = i == 0 ? 2 : 0 };
        CHECK((t[i] = coord_sched_restore(s, &spec, &r)) != NULL);
    }
    coord_sched_restore_finish(s, NULL, 0);
    CHECK(l->used == 2 && t[0]->throttled == 2 && sched_attempts_used(t[0]) == 1);
    coord_sched_resolve(s, t[0], NULL, -1, 0);      /*  nobody claimed it: queued again */
    CHECK(l->used == 1 && t[0]->state == SW_TS_QUEUED);
    coord_sched_resolve(s, t[1], "succeeded", 0, 0);
    CHECK(l->used == 0);
    coord_sched_destroy(&s);
    return 0;
}

/*  Budgets (coord_budget.c): the dispatch rule, reports replacing each
 *  other, stale reports refused, what a stop stops. */
static sw_usage_t
s_test_usage(int64_t input, int64_t output)
{
    sw_usage_t u = { .input = input, .output = output, .cost_usd = -1 };
    return u;
}

static int
s_test_budget(void)
{
    st_rec_t rec = { 0 };
    coord_sched_ops_t ops = { st_rec_persist, st_rec_dispatch, st_rec_cancel, st_rec_finished,
                              st_rec_gone, st_rec_stale };
    coord_sched_t *s = coord_sched_new(&ops, &rec);
    coord_agent_t *a = st_agent(s, "a", 1, NULL);
    coord_agent_t other_agent = { 0 }, *other = &other_agent;     /*  not the holder */
    coord_job_t *j = coord_sched_job_ensure(s, "b", 0);
    j->budget.max_micro_usd = 70000;            /*  $0.07 */
    coord_task_t *t[10];
    char id[8];
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof id, "b%d", i);
        t[i] = st_submit_to(s, "b", id, NULL);
    }
    /*  $0.02 a task, one at a time: dispatched while spend < cap, so the
     *  4th runs ($0.06 < $0.07) and the job stops at $0.08 */
    sw_usage_t u = s_test_usage(100, 10);
    int ran = 0;
    while (coord_sched_dispatch(s, 0, 0) == 1) {
        coord_task_t *r = rec.last_dispatch;
        CHECK(rec.last_agent == a);
        /*  a live report, then the final one: the second replaces the first */
        CHECK(coord_sched_usage(s, a, "b", r->spec.id, 1, &u, 5000, false) == 0);
        CHECK(coord_sched_usage(s, a, "b", r->spec.id, 1, &u, 20000, true) == 0);
        /*  refused: another attempt, another agent, an absurd report */
        CHECK(coord_sched_usage(s, a, "b", r->spec.id, 2, &u, 1, false) < 0);
        CHECK(coord_sched_usage(s, other, "b", r->spec.id, 1, &u, 1, false) < 0);
        sw_usage_t bad = s_test_usage(-1, 0);
        CHECK(coord_sched_usage(s, a, "b", r->spec.id, 1, &bad, 1, false) < 0);
        sw_ref_t done = { .job = "b", .id = r->spec.id, .attempt = 1, .status = "succeeded" };
        CHECK(coord_sched_done(s, a, &done, 0, 0) == 0);
        /*  after its DONE, a late report of it is refused */
        CHECK(coord_sched_usage(s, a, "b", r->spec.id, 1, &u, 999999, true) < 0);
        ran++;
    }
    CHECK(ran == 4 && j->budget.out && j->budget.micro_usd == 80000 && j->budget.tokens == 440);
    CHECK(j->budget.reason && strcmp(j->budget.reason, "budget exhausted: $0.08 of $0.07") == 0);
    for (int i = 4; i < 10; i++)
        CHECK(t[i]->state == SW_TS_SKIPPED && t[i]->reason && j->budget.reason
              && strcmp(t[i]->reason, j->budget.reason) == 0);
    CHECK(coord_task_spend(t[0])->micro_usd == 20000 && coord_task_spend(t[0])->tokens == 110);
    /*  a task submitted after the job ran out ends skipped too */
    coord_task_t *late = st_submit_to(s, "b", "late", NULL);
    CHECK(coord_sched_dispatch(s, 0, 0) == 0 && late->state == SW_TS_QUEUED);
    coord_sched_dispatch(s, 0, 0);
    CHECK(late->state == SW_TS_SKIPPED);
    coord_sched_destroy(&s);

    /*  a token cap reached while two run: the one still spending is
     *  stopped, the one whose runner is done is not; under finish neither */
    for (int finish = 0; finish < 2; finish++) {
        memset(&rec, 0, sizeof rec);
        s = coord_sched_new(&ops, &rec);
        a = st_agent(s, "a", 2, NULL);
        j = coord_sched_job_ensure(s, "j", 0);
        j->budget.max_tokens = 100;
        j->budget.finish = finish;
        coord_task_t *x = st_submit(s, "x", NULL, NULL), *y = st_submit(s, "y", NULL, NULL),
                     *z = st_submit(s, "z", NULL, NULL);
        CHECK(coord_sched_dispatch(s, 0, 0) == 2);
        sw_usage_t sixty = s_test_usage(50, 10);
        CHECK(coord_sched_usage(s, a, "j", "x", 1, &sixty, -1, false) == 0 && !j->budget.out);
        CHECK(coord_sched_usage(s, a, "j", "y", 1, &sixty, -1, true) == 0 && j->budget.out);
        CHECK(j->budget.unpriced && j->budget.micro_usd == 0);
        CHECK(j->budget.reason && strcmp(j->budget.reason, "budget exhausted: 120 of 100 tokens") == 0);
        coord_sched_dispatch(s, 0, 0);
        CHECK(z->state == SW_TS_SKIPPED);
        CHECK(x->cancel_requested == !finish && !y->cancel_requested);
        CHECK(rec.cancels == !finish);
        coord_sched_destroy(&s);
    }

    /*  pricing: the runner's dollars, else the table's, else none; capped */
    sw_prices_t prices = { 0 };
    sw_err_t perr = { 0 };
    CHECK(sw_prices_add(&prices, "m=1000000,1000000,1000000", &perr) == 0);
    const char *src;
    sw_usage_t pu = { .input = 2000000, .cached = 1000000, .output = 0, .cost_usd = -1,
                      .model = "m" };
    CHECK(coord_budget_price(&prices, &pu, &src) == 2000000000000LL / 2 && strcmp(src, "price") == 0);
    pu.input = pu.cached = 1;
    CHECK(coord_budget_price(&prices, &pu, &src) == 1000000 && strcmp(src, "price") == 0);
    pu.cost_usd = 0.5;
    CHECK(coord_budget_price(&prices, &pu, &src) == 500000 && strcmp(src, "runner") == 0);
    pu.cost_usd = -1;
    snprintf(pu.model, sizeof pu.model, "other");
    CHECK(coord_budget_price(&prices, &pu, &src) == -1 && !src);
    sw_prices_release(&prices);

    /*  restart: each attempt's stored usage counted once, the cap seen again */
    memset(&rec, 0, sizeof rec);
    s = coord_sched_new(&ops, &rec);
    j = coord_sched_job_ensure(s, "j", 0);
    j->budget.max_micro_usd = 50000;
    coord_task_t *r1 = st_submit(s, "r1", NULL, NULL);
    sw_usage_t ru = s_test_usage(10, 1);
    coord_sched_spend_restore(r1, 1, &ru, 30000, true);
    coord_sched_spend_restore(r1, 2, &ru, 30000, true);
    CHECK(coord_task_spend(r1)->attempt == 2 && coord_task_spend(r1)->micro_usd == 60000 && j->budget.micro_usd == 60000);
    CHECK(coord_sched_budget_check(s, j) && j->budget.out);
    coord_sched_dispatch(s, 0, 0);
    CHECK(r1->state == SW_TS_SKIPPED);
    coord_sched_destroy(&s);

    /*  a claude run's live reports carry tokens, no dollars; once its
     *  result priced the attempt, nothing is unpriced (a count, not a
     *  sticky flag), after a restart too. A cap reached exactly is
     *  reached: $0.035 twice under $0.07 stops the job. */
    memset(&rec, 0, sizeof rec);
    s = coord_sched_new(&ops, &rec);
    a = st_agent(s, "a", 1, NULL);
    j = coord_sched_job_ensure(s, "c", 0);
    j->budget.max_micro_usd = 70000;
    coord_task_t *c1 = st_submit_to(s, "c", "c1", NULL), *c2 = st_submit_to(s, "c", "c2", NULL),
                 *c3 = st_submit_to(s, "c", "c3", NULL);
    CHECK(coord_sched_dispatch(s, 0, 0) == 1 && rec.last_dispatch == c1);
    CHECK(coord_sched_usage(s, a, "c", "c1", 1, &ru, -1, false) == 0 && j->budget.unpriced == 1);
    CHECK(coord_sched_usage(s, a, "c", "c1", 1, &ru, 35000, true) == 0 && j->budget.unpriced == 0);
    sw_ref_t d1 = { .job = "c", .id = "c1", .attempt = 1, .status = "succeeded" };
    CHECK(coord_sched_done(s, a, &d1, 0, 0) == 0 && !j->budget.out);
    CHECK(coord_sched_dispatch(s, 0, 0) == 1 && rec.last_dispatch == c2);
    CHECK(coord_sched_usage(s, a, "c", "c2", 1, &ru, 35000, true) == 0);
    CHECK(j->budget.micro_usd == 70000 && j->budget.out);
    sw_ref_t d2 = { .job = "c", .id = "c2", .attempt = 1, .status = "succeeded" };
    CHECK(coord_sched_done(s, a, &d2, 0, 0) == 0);
    coord_sched_dispatch(s, 0, 0);
    CHECK(c3->state == SW_TS_SKIPPED && strcmp(c3->reason, "budget exhausted: $0.07 of $0.07") == 0);
    coord_sched_destroy(&s);
    memset(&rec, 0, sizeof rec);
    s = coord_sched_new(&ops, &rec);
    j = coord_sched_job_ensure(s, "c", 0);
    c1 = st_submit_to(s, "c", "c1", NULL);
    coord_sched_spend_restore(c1, 1, &ru, -1, false);   /*  attempt 1 never priced */
    coord_sched_spend_restore(c1, 2, &ru, -1, false);   /*  attempt 2 live, then priced */
    CHECK(j->budget.unpriced == 2);
    coord_sched_usage_result(s, c1, 2, &ru, 35000);
    CHECK(j->budget.unpriced == 1 && j->budget.micro_usd == 35000);
    coord_sched_destroy(&s);
    return 0;
}

/*  Limits and budgets together (issue 18): a rate-limited attempt keeps
 *  what it spent and its requeue is counted under the next attempt only;
 *  a budget stop gives the resource's units back, and queued tasks ended
 *  by the budget never take one. */
static int
s_test_limits_budget(void)
{
    st_rec_t rec = { 0 };
    coord_sched_ops_t ops = { st_rec_persist, st_rec_dispatch, st_rec_cancel, st_rec_finished,
                              st_rec_gone, st_rec_stale };
    coord_sched_t *s = coord_sched_new(&ops, &rec);
    sw_err_t err = { 0 };
    CHECK(coord_sched_limit_set(s, "codex", 1, &err) == 0);
    coord_limit_t *lc = s_test_limit(s, "codex");
    coord_job_t *j = coord_sched_job_ensure(s, "j", 0);
    j->budget.max_tokens = 100;
    coord_task_t *c[3];
    CHECK((c[0] = s_test_res(s, "c0", "codex", NULL)) && (c[1] = s_test_res(s, "c1", "codex", NULL)));
    coord_agent_t *a = st_agent(s, "a", 4, NULL);
    CHECK(coord_sched_dispatch(s, 0, 0) == 1 && c[0]->state == SW_TS_RUNNING && lc->used == 1);
    /*  attempt 1 spends 30 tokens, then the provider rate-limits it */
    sw_usage_t u30 = s_test_usage(20, 10);
    CHECK(coord_sched_usage(s, a, "j", "c0", 1, &u30, -1, true) == 0);
    sw_ref_t r = { .job = "j", .id = "c0", .attempt = 1, .status = "failed", .exit_code = 1,
                   .retryable = true, .throttled = true };
    CHECK(coord_sched_done(s, a, &r, 0, 0) == 0);
    CHECK(c[0]->state == SW_TS_QUEUED && c[0]->throttled == 1 && lc->used == 0);
    CHECK(j->budget.tokens == 30 && coord_task_spend(c[0])->tokens == 30 && !j->budget.out);
    /*  its report is stale now: nothing counted twice */
    CHECK(coord_sched_usage(s, a, "j", "c0", 1, &u30, -1, true) < 0 && j->budget.tokens == 30);
    /*  the effective limit is 1 (halved from 1: never below): c1 runs */
    CHECK(coord_sched_dispatch(s, 0, 0) == 1 && c[1]->state == SW_TS_RUNNING && lc->used == 1);
    /*  c0's backoff over and c1 done: c0 runs as attempt 2, using attempt 1 */
    CHECK(st_done(s, a, c[1], 1, "succeeded") == 0 && lc->used == 0);
    CHECK(coord_sched_dispatch(s, 120000, 0) == 1 && c[0]->state == SW_TS_RUNNING);
    CHECK(c[0]->spec.attempt == 2 && sched_attempts_used(c[0]) == 1 && lc->used == 1);
    /*  c2 waits for the unit c0 holds */
    CHECK((c[2] = s_test_res(s, "c2", "codex", NULL)) != NULL);
    CHECK(coord_sched_dispatch(s, 120000, 0) == 0 && c[2]->state == SW_TS_QUEUED);
    /*  attempt 2 spends 80: 110 of 100, the budget stops it */
    sw_usage_t u80 = s_test_usage(60, 20);
    CHECK(coord_sched_usage(s, a, "j", "c0", 2, &u80, -1, false) == 0);
    CHECK(coord_task_spend(c[0])->tokens == 110 && j->budget.tokens == 110 && j->budget.out);
    coord_sched_dispatch(s, 120000, 0);
    CHECK(c[2]->state == SW_TS_SKIPPED && c[0]->cancel_requested && lc->used == 1);
    sw_ref_t stop = { .job = "j", .id = "c0", .attempt = 2, .status = "cancelled",
                      .exit_code = -1 };
    CHECK(coord_sched_done(s, a, &stop, 120000, 0) == 0);
    CHECK(c[0]->state == SW_TS_CANCELLED && lc->used == 0 && j->budget.tokens == 110);
    coord_sched_destroy(&s);
    return 0;
}

/*  A provider that rate-limits every run forever: the task waits its
 *  backoff each time (never dispatched before it: no busy loop), 1, 2, 4
 *  ... 60 s +-25 %, and after COORD_MAX_THROTTLES the rate-limits count as
 *  attempts, so it ends failed, saying why, after 30 + max_attempts runs. */
static int
s_test_throttled_forever(void)
{
    st_rec_t rec = { 0 };
    coord_sched_ops_t ops = { st_rec_persist, st_rec_dispatch, st_rec_cancel, st_rec_finished,
                              st_rec_gone, st_rec_stale };
    coord_sched_t *s = coord_sched_new(&ops, &rec);
    coord_agent_t *a = st_agent(s, "a", 1, NULL);
    coord_task_t *t = st_submit_to(s, "f", "forever", NULL);
    int64_t now = 0, runs = 0;
    while (t->state != SW_TS_FAILED && runs < 100) {
        if (runs > 0)
            CHECK(coord_sched_dispatch(s, t->not_before_ms - 1, 0) == 0);  /*  held */
        now = t->not_before_ms > now ? t->not_before_ms : now;
        CHECK(coord_sched_dispatch(s, now, 0) == 1 && t->state == SW_TS_RUNNING);
        runs++;
        sw_ref_t r = { .job = "f", .id = "forever", .attempt = t->spec.attempt,
                       .status = "failed", .exit_code = 1, .retryable = true, .throttled = true };
        CHECK(coord_sched_done(s, a, &r, now, 0) == 0);
        if (t->state == SW_TS_QUEUED) {
            int64_t k = runs <= COORD_MAX_THROTTLES ? runs : sched_attempts_used(t);
            int64_t base = coord_sched_backoff_ms(k), wait = t->not_before_ms - now;
            CHECK(wait >= base - base / 4 && wait <= base + base / 4 && wait <= 75000);
        }
    }
    CHECK(t->state == SW_TS_FAILED && t->throttled == COORD_MAX_THROTTLES);
    CHECK(runs == COORD_MAX_THROTTLES + t->spec.max_attempts);
    CHECK(t->reason && strstr(t->reason, "rate-limited by the provider 30 times; gave up"));
    coord_sched_destroy(&s);
    return 0;
}

int
coord_sched_test_caps(void)
{
    return s_test_limits() || s_test_limits_restored() || s_test_budget()
        || s_test_throttled_forever()
        || s_test_limits_budget();
}
