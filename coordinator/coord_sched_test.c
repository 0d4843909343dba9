/*  coord_sched_test -- the scheduler's unit test (coord_sched.h); the
 *  model-based test with random sequences is coord_model.c. */
#include "coord_sched_test_int.h"

#include <string.h>

#include "sw_selftest.h"


void st_rec_persist(void *c, coord_task_t *t) { ((st_rec_t *) c)->persisted++; (void) t; }
static void
s_test_count_class(void *arg, const char *runner, bool retries, size_t n)
{
    ((size_t *) arg)[retries] += n;
    (void) runner;
}
void st_rec_cancel(void *c, coord_task_t *t, coord_agent_t *a)
{ ((st_rec_t *) c)->cancels++; ((st_rec_t *) c)->null_cancels += !a; (void) t; }
void st_rec_finished(void *c, coord_task_t *t) { ((st_rec_t *) c)->finished++; (void) t; }
void st_rec_gone(void *c, coord_agent_t *a) { ((st_rec_t *) c)->gone++; (void) a; }
void st_rec_stale(void *c, coord_agent_t *a, const sw_ref_t *r)
{ ((st_rec_t *) c)->stale++; (void) a; (void) r; }
void
st_rec_dispatch(void *c, coord_task_t *t, coord_agent_t *a)
{
    st_rec_t *r = c;
    r->dispatched++;
    r->last_dispatch = t;
    r->last_agent = a;
}

coord_agent_t *
st_agent(coord_sched_t *s, const char *id, int slots, const char *label)
{
    sw_hello_t h = { .agent = (char *) id, .host = (char *) "host", .version = (char *) "t",
                     .slots = slots };
    sw_strv_push(&h.runners, "exec");
    sw_strv_push(&h.runners, "codex");
    if (label)
        sw_kv_set(&h.labels, "os", label);
    zframe_t *routing = zframe_new(id, strlen(id));
    coord_agent_t *a = coord_sched_hello(s, &h, &routing, 0, 5000);
    sw_strv_release(&h.runners);
    sw_kv_release(&h.labels);
    return a;
}

coord_task_t *
st_submit(coord_sched_t *s, const char *id, const char *after, const char *label)
{
    sw_task_t t;
    sw_task_init(&t);
    t.id = xstrdup(id);
    t.job = xstrdup("j");
    sw_strv_push(&t.argv, "true");
    if (after)
        sw_strv_push(&t.after, after);
    if (label)
        sw_kv_set(&t.labels, "os", label);
    sw_err_t err = { 0 };
    if (sw_task_validate(&t, &err) < 0) {
        sw_task_release(&t);
        return NULL;
    }
    return coord_sched_submit(s, &t, 0, &err);
}

int
st_done(coord_sched_t *s, coord_agent_t *a, coord_task_t *t, long long attempt,
            const char *status)
{
    sw_ref_t r = { .job = "j", .id = t->spec.id, .attempt = attempt, .status = (char *) status };
    return coord_sched_done(s, a, &r, 0, 0);
}

coord_task_t *
st_submit_to(coord_sched_t *s, const char *job, const char *id, const char *label)
{
    sw_task_t t;
    sw_task_init(&t);
    t.id = xstrdup(id);
    t.job = xstrdup(job);
    sw_strv_push(&t.argv, "true");
    if (label)
        sw_kv_set(&t.labels, "os", label);
    sw_err_t err = { 0 };
    sw_task_validate(&t, &err);
    return coord_sched_submit(s, &t, 0, &err);
}

/*  Placement classes and the ring of agents with credit. */
static int
s_test_classes(void)
{
    st_rec_t rec = { 0 };
    coord_sched_ops_t ops = { st_rec_persist, st_rec_dispatch, st_rec_cancel, st_rec_finished,
                              st_rec_gone, st_rec_stale };
    coord_sched_t *s = coord_sched_new(&ops, &rec);
    /*  queued first: 500 tasks nobody can run (os=bsd), 500 of a job capped
     *  at 1 running task, then 4 plain ones of another job */
    char id[16];
    for (int i = 0; i < 500; i++) {
        snprintf(id, sizeof id, "b%d", i);
        CHECK(st_submit_to(s, "bsd", id, "bsd") != NULL);
        snprintf(id, sizeof id, "c%d", i);
        CHECK(st_submit_to(s, "capped", id, NULL) != NULL);
    }
    coord_sched_job(s, "capped")->max_agents = 1;
    coord_task_t *p[4];
    for (int i = 0; i < 4; i++) {
        snprintf(id, sizeof id, "p%d", i);
        CHECK((p[i] = st_submit_to(s, "plain", id, NULL)) != NULL);
    }
    CHECK(coord_sched_queued(s) == 1004);
    /*  two agents, 3 slots each: the capped job gets 1, plain gets 4, and
     *  tasks alternate between the agents */
    coord_agent_t *a = st_agent(s, "a", 3, "linux");
    coord_agent_t *b = st_agent(s, "b", 3, "linux");
    CHECK(coord_sched_dispatch(s, 0, 0) == 5);
    CHECK(coord_sched_job(s, "capped")->running == 1);
    for (int i = 0; i < 4; i++)
        CHECK(p[i]->state == SW_TS_RUNNING);
    CHECK(p[0]->agent != p[1]->agent && p[1]->agent != p[2]->agent);
    CHECK(a->running + b->running == 5 && coord_sched_queued(s) == 999);
    /*  the one free slot: nothing fits, nothing moves */
    CHECK(coord_sched_dispatch(s, 0, 0) == 0);
    /*  a bsd agent drains the bsd class; its class goes when empty */
    coord_agent_t *c = st_agent(s, "c", 500, "bsd");
    CHECK(coord_sched_dispatch(s, 0, 0) == 500 && c->running == 500);
    CHECK(coord_sched_queued(s) == 499);
    /*  a finished plain task frees a slot, but the capped job stays capped */
    sw_ref_t r = { .job = "plain", .id = "p0", .attempt = 1, .status = "succeeded" };
    CHECK(coord_sched_done(s, p[0]->agent, &r, 0, 0) == 0);
    CHECK(coord_sched_dispatch(s, 0, 0) == 0);
    /*  draining takes an agent out of the ring */
    coord_sched_drain(s, a);
    coord_sched_drain(s, b);
    coord_sched_job(s, "capped")->max_agents = 0;
    CHECK(coord_sched_dispatch(s, 0, 0) == 0);
    coord_sched_destroy(&s);
    return 0;
}

static coord_task_t *
s_test_task(coord_sched_t *s, const char *job, const char *id, const char *after,
            int max_attempts)
{
    sw_task_t t;
    sw_task_init(&t);
    t.id = xstrdup(id);
    t.job = xstrdup(job);
    sw_strv_push(&t.argv, "true");
    if (after)
        sw_strv_push(&t.after, after);
    if (max_attempts)
        t.max_attempts = max_attempts;
    sw_err_t err = { 0 };
    sw_task_validate(&t, &err);
    return coord_sched_submit(s, &t, 0, &err);
}

/*  A chain of 100,000 tasks whose head fails: every link skipped, without
 *  recursion (the recursive version overflowed the stack at ~25,000), and
 *  the last link names the head of the chain. */
static int
s_test_chain(void)
{
    st_rec_t rec = { 0 };
    coord_sched_ops_t ops = { st_rec_persist, st_rec_dispatch, st_rec_cancel, st_rec_finished,
                              st_rec_gone, st_rec_stale };
    coord_sched_t *s = coord_sched_new(&ops, &rec);
    enum { N = 100000 };
    char id[32], prev[32] = "";
    coord_task_t *head = NULL, *last = NULL;
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "c%d", i);
        last = s_test_task(s, "chain", id, i ? prev : NULL, 0);
        CHECK(last != NULL);
        if (!head)
            head = last;
        snprintf(prev, sizeof prev, "%s", id);
    }
    coord_agent_t *a = st_agent(s, "a", 1, NULL);
    CHECK(coord_sched_dispatch(s, 0, 0) == 1 && head->agent == a);
    sw_ref_t r = { .job = "chain", .id = "c0", .attempt = 1, .status = "failed", .exit_code = 1 };
    int finished = rec.finished;
    CHECK(coord_sched_done(s, a, &r, 0, 0) == 0);
    coord_job_t *j = coord_sched_job(s, "chain");
    CHECK(j->counts[SW_TS_SKIPPED] == N - 1 && j->nfinal == N);
    CHECK(rec.finished - finished == N);
    CHECK(strcmp(j->order[1]->reason, "dependency c0 failed") == 0);
    CHECK(strcmp(last->reason, "dependency c99998 skipped (chain from c0 failed)") == 0);
    CHECK(j->finals[N - 1] == last && last->final_seq == (uint64_t) N);
    /*  a task spawned after the chain ended is skipped at once, naming it */
    coord_task_t *late = s_test_task(s, "chain", "late", "c99999", 0);
    CHECK(late->state == SW_TS_SKIPPED);
    CHECK(strcmp(late->reason, "dependency c99999 skipped (chain from c0 failed)") == 0);
    coord_sched_destroy(&s);
    return 0;
}

/*  Every task cancelled while it ran ends with a reason: swarm cancel, a
 *  halted job, an agent that stopped it, an agent gone before the DONE. */
static int
s_test_reasons(void)
{
    st_rec_t rec = { 0 };
    coord_sched_ops_t ops = { st_rec_persist, st_rec_dispatch, st_rec_cancel, st_rec_finished,
                              st_rec_gone, st_rec_stale };
    coord_sched_t *s = coord_sched_new(&ops, &rec);
    coord_task_t *u = s_test_task(s, "r", "user", NULL, 0);
    coord_task_t *v = s_test_task(s, "r", "vanished", NULL, 0);
    coord_task_t *w = s_test_task(s, "r", "self", NULL, 0);
    coord_task_t *q = s_test_task(s, "r", "queued", NULL, 0);
    coord_agent_t *a = st_agent(s, "a", 3, NULL);
    CHECK(coord_sched_dispatch(s, 0, 0) == 3);
    coord_job_t *j = coord_sched_job(s, "r");
    CHECK(coord_sched_cancel(s, j, "user", NULL, 0) == 1 && u->cancel_requested);
    CHECK(coord_sched_cancel(s, j, "user", NULL, 0) == 0);      /*  asked once */
    CHECK(coord_sched_cancel(s, j, "queued", NULL, 0) == 1);
    CHECK(q->state == SW_TS_CANCELLED && strcmp(q->reason, COORD_CANCEL_REASON) == 0);
    sw_ref_t r = { .job = "r", .id = "user", .attempt = 1, .status = "cancelled" };
    CHECK(coord_sched_done(s, a, &r, 0, 0) == 0);
    CHECK(u->state == SW_TS_CANCELLED && strcmp(u->reason, COORD_CANCEL_REASON) == 0);
    /*  a cancelled DONE nobody here asked for */
    r.id = "self";
    CHECK(coord_sched_done(s, a, &r, 0, 0) == 0);
    CHECK(w->state == SW_TS_CANCELLED && strcmp(w->reason, "cancelled by agent a") == 0);
    /*  its agent leaves before the DONE: cancelled all the same */
    CHECK(coord_sched_cancel(s, j, "vanished", NULL, 0) == 1);
    coord_sched_agent_lost(s, a, "agent left", 0);
    CHECK(v->state == SW_TS_CANCELLED && strcmp(v->reason, COORD_CANCEL_REASON) == 0);

    /*  on_failure: stop, with a task running beside the failure */
    coord_job_t *hj = coord_sched_job_ensure(s, "h", 0);
    hj->halt = true;
    coord_task_t *f = s_test_task(s, "h", "cmd-1", NULL, 0);
    coord_task_t *g = s_test_task(s, "h", "cmd-2", NULL, 0);
    coord_task_t *k = s_test_task(s, "h", "cmd-3", NULL, 0);
    coord_agent_t *b = st_agent(s, "b", 2, NULL);
    CHECK(coord_sched_dispatch(s, 0, 0) == 2 && f->agent == b && g->agent == b);
    sw_ref_t hr = { .job = "h", .id = "cmd-1", .attempt = 1, .status = "failed" };
    CHECK(coord_sched_done(s, b, &hr, 0, 0) == 0);
    coord_sched_dispatch(s, 0, 0);
    CHECK(k->state == SW_TS_CANCELLED && g->cancel_requested);
    CHECK(strcmp(k->reason, "cancelled: job halted after cmd-1 failed") == 0);
    hr.id = "cmd-2";
    hr.status = "cancelled";
    CHECK(coord_sched_done(s, b, &hr, 0, 0) == 0);
    CHECK(strcmp(g->reason, "cancelled: job halted after cmd-1 failed") == 0);

    /*  a drained agent that left with a task: queued again, and says why
     *  until it runs; lost with the reason when no attempt is left */
    coord_sched_drain(s, b);
    coord_task_t *d = s_test_task(s, "d", "d1", NULL, 2);
    coord_agent_t *c = st_agent(s, "c", 1, NULL);
    CHECK(coord_sched_dispatch(s, 0, 0) == 1 && d->agent == c);
    coord_sched_drain(s, c);
    coord_sched_agent_lost(s, c, "stopped by agent c at the end of its drain", 0);
    CHECK(d->state == SW_TS_QUEUED && strstr(d->reason, "queued again: stopped by agent c"));
    c = st_agent(s, "c", 1, NULL);
    CHECK(coord_sched_dispatch(s, 0, 0) == 1 && !d->reason && d->spec.attempt == 2);
    coord_sched_agent_lost(s, c, "stopped by agent c at the end of its drain", 0);
    CHECK(d->state == SW_TS_LOST);
    CHECK(strcmp(d->reason, "stopped by agent c at the end of its drain (attempt 2 of 2)") == 0);

    /*  a refused write: the task fails with the reason, once, and a
     *  running one leaves its agent (which is told to stop it) */
    coord_task_t *x = s_test_task(s, "x", "x1", NULL, 0);
    coord_task_t *y = s_test_task(s, "x", "x2", "x1", 0);
    coord_agent_t *e = st_agent(s, "e", 1, NULL);
    CHECK(coord_sched_dispatch(s, 0, 0) == 1 && x->agent == e);
    int cancels = rec.cancels;
    CHECK(coord_sched_fail(s, x, "Redis refused its state: OOM", 0));
    CHECK(x->state == SW_TS_FAILED && !x->agent && e->running == 0 && rec.cancels == cancels + 1);
    CHECK(y->state == SW_TS_SKIPPED && strcmp(y->reason, "dependency x1 failed") == 0);
    CHECK(!coord_sched_fail(s, x, "again", 0) && strcmp(x->reason, "Redis refused its state: OOM") == 0);
    CHECK(rec.null_cancels == 0);
    coord_sched_destroy(&s);
    return 0;
}

static coord_task_t *
s_test_restore(coord_sched_t *s, const char *job, const char *id, sw_tstate_t st,
               const char *agent, long long attempt, int64_t adopt_by, const char *cancel)
{
    sw_task_t t;
    sw_task_init(&t);
    t.id = xstrdup(id);
    t.job = xstrdup(job);
    sw_strv_push(&t.argv, "true");
    sw_err_t err = { 0 };
    sw_task_validate(&t, &err);
    t.attempt = attempt;
    coord_restore_t r = { .state = st, .agent_id = agent, .host = "host", .exit_code = -1,
                          .cancel = cancel, .adopt_by_ms = adopt_by };
    return coord_sched_restore(s, &t, &r);
}

/*  After a restart: an agent's HELLO that does not list a task restored
 *  as running on it at the same attempt says that run is over and its
 *  result stored (a run leaves the HELLO's list only once its result is
 *  in Redis): it is handed over at once, not at the end of the adoption
 *  window. Waiting, its slot looked free while its cost was not counted:
 *  a job's budget let one more task start (e2e.budget, under load). A
 *  task restored on another agent, or that the HELLO lists, waits. */
static int
s_test_restored_unlisted(void)
{
    st_rec_t rec = { 0 };
    coord_sched_ops_t ops = { st_rec_persist, st_rec_dispatch, st_rec_cancel, st_rec_finished,
                              st_rec_gone, st_rec_stale };
    coord_sched_t *s = coord_sched_new(&ops, &rec);
    coord_task_t *ended = s_test_restore(s, "j", "ended", SW_TS_RUNNING, "a", 1, 50000, NULL);
    coord_task_t *runs = s_test_restore(s, "j", "runs", SW_TS_RUNNING, "a", 2, 50000, NULL);
    coord_task_t *other = s_test_restore(s, "j", "other", SW_TS_RUNNING, "b", 1, 50000, NULL);
    coord_task_t *older = s_test_restore(s, "j", "older", SW_TS_RUNNING, "a", 2, 50000, NULL);
    coord_sched_restore_finish(s, NULL, 0);
    sw_hello_t h = { .agent = "a", .host = "host", .version = "t", .slots = 4 };
    sw_strv_push(&h.runners, "exec");
    sw_strv_push(&h.running, "j\x1f" "runs\x1f" "2");
    sw_strv_push(&h.running, "j\x1f" "older\x1f" "1");    /*  an older attempt: not this one */
    zframe_t *routing = zframe_new("a", 1);
    coord_agent_t *a = coord_sched_hello(s, &h, &routing, 1000, 5000);
    sw_strv_release(&h.runners);
    sw_strv_release(&h.running);
    CHECK(runs->agent == a && !ended->agent && !other->agent && !older->agent);
    zlistx_t *due = coord_sched_orphans_due(s, 1000);
    CHECK(zlistx_size(due) == 2);
    for (coord_task_t *t = zlistx_first(due); t; t = zlistx_next(due))
        CHECK(t == ended || t == older);
    coord_sched_resolve(s, ended, "succeeded", 0, 0);
    coord_sched_resolve(s, older, NULL, -1, 0);             /*  no result: runs again */
    zlistx_destroy(&due);
    CHECK(ended->state == SW_TS_SUCCEEDED && older->state == SW_TS_QUEUED);
    CHECK(strstr(older->reason, "came back without it") != NULL);
    CHECK(other->state == SW_TS_RUNNING && other->adopt_by_ms == 50000);
    due = coord_sched_orphans_due(s, 49999);
    CHECK(zlistx_size(due) == 0);
    zlistx_destroy(&due);
    coord_sched_destroy(&s);
    return 0;
}

/*  After a restart: a task restored as running, cancelled before its
 *  agent claimed it, ends cancelled when the agent comes back or when
 *  the window closes; the CANCEL never goes to a missing agent (the
 *  server dereferenced it: exit 139 on `swarm cancel --job J`). */
static int
s_test_restored(void)
{
    st_rec_t rec = { 0 };
    coord_sched_ops_t ops = { st_rec_persist, st_rec_dispatch, st_rec_cancel, st_rec_finished,
                              st_rec_gone, st_rec_stale };
    coord_sched_t *s = coord_sched_new(&ops, &rec);
    coord_task_t *back = s_test_restore(s, "j", "back", SW_TS_RUNNING, "a", 1, 5000, NULL);
    coord_task_t *gone = s_test_restore(s, "j", "gone", SW_TS_RUNNING, "z", 1, 5000, NULL);
    coord_task_t *kept = s_test_restore(s, "j", "kept", SW_TS_RUNNING, "z", 2, 5000,
                                        "cancelled by swarm cancel");
    coord_task_t *wait = s_test_restore(s, "j", "wait", SW_TS_QUEUED, NULL, 0, 0, NULL);
    coord_sched_restore_finish(s, NULL, 0);
    CHECK(wait->state == SW_TS_QUEUED && kept->cancel_requested);
    coord_job_t *j = coord_sched_job(s, "j");
    CHECK(coord_sched_cancel(s, j, NULL, NULL, 0) == 3);
    CHECK(rec.null_cancels == 0 && rec.cancels == 0);
    CHECK(back->state == SW_TS_RUNNING && back->cancel_requested && wait->state == SW_TS_CANCELLED);
    /*  the agent claims it: its CANCEL goes out at the next dispatch */
    sw_hello_t h = { .agent = "a", .host = "host", .version = "t", .slots = 1 };
    sw_strv_push(&h.runners, "exec");
    sw_strv_push(&h.running, "j\x1f" "back\x1f" "1");
    zframe_t *routing = zframe_new("a", 1);
    coord_agent_t *a = coord_sched_hello(s, &h, &routing, 0, 5000);
    sw_strv_release(&h.runners);
    sw_strv_release(&h.running);
    CHECK(back->agent == a && rec.cancels == 0);
    coord_sched_dispatch(s, 0, 0);
    CHECK(rec.cancels == 1);
    sw_ref_t r = { .job = "j", .id = "back", .attempt = 1, .status = "cancelled" };
    CHECK(coord_sched_done(s, a, &r, 0, 0) == 0);
    CHECK(back->state == SW_TS_CANCELLED && strcmp(back->reason, COORD_CANCEL_REASON) == 0);
    /*  nobody claims the others: the window closes them, cancelled */
    zlistx_t *due = coord_sched_orphans_due(s, 5000);
    CHECK(zlistx_size(due) == 2);
    for (coord_task_t *t = zlistx_first(due); t; t = zlistx_next(due))
        coord_sched_resolve(s, t, NULL, -1, 0);
    zlistx_destroy(&due);
    CHECK(gone->state == SW_TS_CANCELLED && kept->state == SW_TS_CANCELLED);
    CHECK(strcmp(kept->reason, "cancelled by swarm cancel") == 0);
    /*  z comes back still running them: told to stop both (they are not
     *  its any more), and an unknown one too */
    sw_hello_t hz = { .agent = "z", .host = "host", .version = "t", .slots = 2 };
    sw_strv_push(&hz.runners, "exec");
    sw_strv_push(&hz.running, "j\x1f" "gone\x1f" "1");
    sw_strv_push(&hz.running, "j\x1f" "kept\x1f" "2");
    sw_strv_push(&hz.running, "nosuch\x1f" "x\x1f" "1");
    zframe_t *rz = zframe_new("z", 1);
    coord_sched_hello(s, &hz, &rz, 0, 5000);
    sw_strv_release(&hz.runners);
    sw_strv_release(&hz.running);
    CHECK(rec.stale == 0);
    coord_sched_dispatch(s, 0, 0);
    CHECK(rec.stale == 3);
    CHECK(j->nfinal == j->ntasks && rec.null_cancels == 0);

    /*  on_failure: stop halts a job with an unclaimed running task */
    coord_job_t *hj = coord_sched_job_ensure(s, "h", 0);
    hj->halt = true;
    coord_task_t *orphan = s_test_restore(s, "h", "orphan", SW_TS_RUNNING, "z", 1, 9000, NULL);
    coord_task_t *bad = s_test_restore(s, "h", "bad", SW_TS_QUEUED, NULL, 0, 0, NULL);
    coord_sched_restore_finish(s, hj, 0);
    CHECK(coord_sched_dispatch(s, 0, 0) == 1 && bad->agent == a);
    sw_ref_t hr = { .job = "h", .id = "bad", .attempt = 1, .status = "failed" };
    CHECK(coord_sched_done(s, a, &hr, 0, 0) == 0);
    coord_sched_dispatch(s, 0, 0);
    CHECK(orphan->cancel_requested && rec.null_cancels == 0);
    /*  the stored result says it succeeded before the cancel: it stays so */
    due = coord_sched_orphans_due(s, 9000);
    CHECK(zlistx_first(due) == orphan);
    coord_sched_orphan_later(s, orphan, 10000);     /*  Redis could not say */
    CHECK(orphan->state == SW_TS_RUNNING);
    zlistx_destroy(&due);
    due = coord_sched_orphans_due(s, 10000);
    CHECK(zlistx_first(due) == orphan);
    coord_sched_resolve(s, orphan, "succeeded", 0, 0);
    zlistx_destroy(&due);
    CHECK(orphan->state == SW_TS_SUCCEEDED && hj->nfinal == hj->ntasks);

    /*  a comes back without a task it ran (its DONE lost with the old
     *  connection): not requeued on a guess, handed over at once to be
     *  finished from its stored result (or run again when there is none) */
    coord_job_t *cj = coord_sched_job_ensure(s, "c", 0);
    coord_task_t *ended = st_submit_to(s, "c", "ended", NULL);
    coord_task_t *lost = st_submit_to(s, "c", "lost", NULL);
    coord_sched_dispatch(s, 0, 0);
    CHECK(ended->agent && lost->agent);
    const char *ids[2] = { ended->agent->id, lost->agent->id };
    for (int k = 0; k < 2; k++) {
        sw_hello_t hc = { .agent = (char *) ids[k], .host = "host", .version = "t", .slots = 2 };
        sw_strv_push(&hc.runners, "exec");
        zframe_t *rc = zframe_new(ids[k], strlen(ids[k]));
        coord_sched_hello(s, &hc, &rc, 100, 5000);
        sw_strv_release(&hc.runners);
    }
    CHECK(ended->state == SW_TS_RUNNING && !ended->agent && ended->spec.attempt == 1);
    CHECK(!lost->agent && cj->running == 0);
    due = coord_sched_orphans_due(s, 100);
    CHECK(zlistx_size(due) == 2);
    coord_sched_resolve(s, ended, "succeeded", 0, 0);
    coord_sched_resolve(s, lost, NULL, -1, 0);
    zlistx_destroy(&due);
    CHECK(ended->state == SW_TS_SUCCEEDED && ended->spec.attempt == 1);
    CHECK(lost->state == SW_TS_QUEUED && strstr(lost->reason, "came back without it"));
    coord_sched_destroy(&s);
    return 0;
}


int
coord_sched_test(bool verbose)
{
    st_rec_t rec = { 0 };
    coord_sched_ops_t ops = { st_rec_persist, st_rec_dispatch, st_rec_cancel, st_rec_finished,
                              st_rec_gone, st_rec_stale };
    coord_sched_t *s = coord_sched_new(&ops, &rec);

    /*  no agents: tasks wait in the queue */
    coord_task_t *t1 = st_submit(s, "t1", NULL, NULL);
    coord_task_t *t2 = st_submit(s, "t2", NULL, NULL);
    coord_task_t *t3 = st_submit(s, "t3", NULL, NULL);
    CHECK(t1 && t2 && t3);
    CHECK(coord_sched_dispatch(s, 0, 0) == 0 && coord_sched_queued(s) == 3);

    /*  duplicate ids and unknown dependencies are refused */
    CHECK(st_submit(s, "t1", NULL, NULL) == NULL);
    CHECK(st_submit(s, "t9", "nope", NULL) == NULL);

    /*  credit: one agent with 2 slots gets exactly 2, in FIFO order */
    coord_agent_t *a = st_agent(s, "a", 2, "linux");
    CHECK(coord_sched_dispatch(s, 0, 0) == 2);
    CHECK(t1->state == SW_TS_RUNNING && t2->state == SW_TS_RUNNING);
    CHECK(t3->state == SW_TS_QUEUED && a->running == 2);
    CHECK(t1->spec.attempt == 1 && t1->agent == a);
    CHECK(coord_sched_dispatch(s, 0, 0) == 0);

    /*  a DONE frees the slot and the next task goes out */
    CHECK(st_done(s, a, t1, 1, "succeeded") == 0);
    CHECK(t1->state == SW_TS_SUCCEEDED && a->running == 1);
    CHECK(coord_sched_dispatch(s, 0, 0) == 1 && t3->state == SW_TS_RUNNING);

    /*  fencing: a second DONE, or one for the wrong attempt, is stale */
    CHECK(st_done(s, a, t1, 1, "succeeded") == -1);
    CHECK(st_done(s, a, t2, 7, "succeeded") == -1);

    /*  the coordinator's own stall moves leases on (a's ends at 5000:
     *  stalled 3000 and held until at least 9000); a message afterwards
     *  renews, never shortens */
    coord_sched_stalled(s, 3000, 9000);
    CHECK(a->expires_ms == 9000);
    coord_sched_seen(s, a, 100, 5000);
    CHECK(a->expires_ms == 9000);
    CHECK(coord_sched_expire(s, 8999, 0) == 0);
    a->expires_ms = 5000;
    /*  the agent dies: its tasks go back to the front with attempt + 1 */
    coord_agent_t *b = st_agent(s, "b", 4, "mac");
    CHECK(coord_sched_expire(s, 1000, 0) == 0);
    coord_sched_seen(s, b, 10000, 5000);
    CHECK(coord_sched_expire(s, 6000, 0) == 1);         /*  a's lease ran out */
    CHECK(rec.gone == 1 && coord_sched_agent(s, "a") == NULL);
    CHECK(t2->state == SW_TS_QUEUED && t3->state == SW_TS_QUEUED);
    /*  what /metrics reads: the expiry, two requeues, the queue by class */
    CHECK(coord_sched_stats(s)->agents_expired == 1 && coord_sched_stats(s)->retries_lost == 2);
    size_t by_class[2] = { 0, 0 };
    coord_sched_each_class(s, s_test_count_class, by_class);
    CHECK(by_class[0] == 2 && by_class[1] == 0 && coord_sched_queued(s) == 2);
    CHECK(coord_sched_dispatch(s, 0, 0) == 2);
    CHECK(t2->agent == b && t2->spec.attempt == 2);
    /*  a late DONE from the dead agent's attempt changes nothing */
    CHECK(t2->state == SW_TS_RUNNING);

    /*  labels place tasks: os=linux waits for a linux agent */
    coord_task_t *tl = st_submit(s, "tl", NULL, "linux");
    CHECK(coord_sched_dispatch(s, 0, 0) == 0 && tl->state == SW_TS_QUEUED);
    coord_agent_t *c = st_agent(s, "c", 1, "linux");
    CHECK(coord_sched_dispatch(s, 0, 0) == 1 && tl->agent == c);

    /*  dependencies: d waits for t2; failure of t2 skips d and e */
    coord_task_t *d = st_submit(s, "d", "t2", NULL);
    coord_task_t *e = st_submit(s, "e", "d", NULL);
    CHECK(d->state == SW_TS_WAITING && e->state == SW_TS_WAITING);
    CHECK(st_done(s, b, t2, 2, "failed") == 0);
    CHECK(d->state == SW_TS_SKIPPED && e->state == SW_TS_SKIPPED);
    CHECK(d->reason && strstr(d->reason, "t2 failed"));
    /*  a task spawned after its dependency failed is skipped at once */
    coord_task_t *f = st_submit(s, "f", "t2", NULL);
    CHECK(f->state == SW_TS_SKIPPED);
    /*  success releases dependants */
    coord_task_t *g = st_submit(s, "g", "t3", NULL);
    CHECK(g->state == SW_TS_WAITING);
    CHECK(st_done(s, b, t3, 2, "succeeded") == 0);
    CHECK(g->state == SW_TS_QUEUED);

    /*  cancel: queued ones end at once, running ones are asked to stop */
    CHECK(coord_sched_dispatch(s, 0, 0) == 1 && g->state == SW_TS_RUNNING);
    coord_task_t *h = st_submit(s, "h", "g", NULL);
    coord_job_t *job = coord_sched_job(s, "j");
    int cancels = rec.cancels;
    CHECK(coord_sched_cancel(s, job, "g", NULL, 0) == 1 && rec.cancels == cancels + 1);
    CHECK(g->state == SW_TS_RUNNING && g->cancel_requested);
    CHECK(st_done(s, g->agent, g, g->spec.attempt, "failed") == 0);
    CHECK(g->state == SW_TS_CANCELLED && h->state == SW_TS_SKIPPED);

    /*  a task lost on every attempt ends as lost, with the reason */
    coord_task_t *l = st_submit(s, "l", NULL, "linux");
    l->spec.max_attempts = 2;
    CHECK(st_done(s, c, tl, 1, "succeeded") == 0);
    for (int i = 0; i < 2; i++) {
        coord_agent_t *x = st_agent(s, "x", 1, "linux");
        coord_agent_t *cc = coord_sched_agent(s, "c");     /*  may be gone */
        coord_sched_dispatch(s, 0, 0);
        CHECK(l->agent && (l->agent == x || l->agent == cc));
        coord_sched_agent_lost(s, l->agent, "agent stopped answering", 0);
    }
    CHECK(l->state == SW_TS_LOST && strstr(l->reason, "attempt 2 of 2"));

    /*  on_failure: stop cancels the rest of the job, naming the failure */
    coord_job_t *hj = coord_sched_job_ensure(s, "halt", 0);
    hj->halt = true;
    sw_task_t ht;
    sw_err_t herr = { 0 };
    coord_task_t *hs[3];
    for (int i = 0; i < 3; i++) {
        sw_task_init(&ht);
        ht.id = xasprintf("h%d", i);
        ht.job = xstrdup("halt");
        sw_kv_set(&ht.labels, "os", "bsd");
        sw_strv_push(&ht.argv, "true");
        sw_task_validate(&ht, &herr);
        hs[i] = coord_sched_submit(s, &ht, 0, &herr);
    }
    coord_agent_t *m = st_agent(s, "m", 1, "bsd");
    coord_sched_dispatch(s, 0, 0);
    CHECK(hs[0]->state == SW_TS_RUNNING && hs[1]->state == SW_TS_QUEUED);
    sw_ref_t hr = { .job = "halt", .id = "h0", .attempt = 1, .status = "failed" };
    CHECK(coord_sched_done(s, m, &hr, 0, 0) == 0);
    CHECK(hs[1]->state == SW_TS_QUEUED);        /*  nothing from inside the callback */
    coord_sched_dispatch(s, 0, 0);
    CHECK(hs[1]->state == SW_TS_CANCELLED && hs[2]->state == SW_TS_CANCELLED);
    CHECK(strcmp(hs[1]->reason, "cancelled: job halted after h0 failed") == 0);

    /*  drain: no new tasks for a draining agent */
    coord_agent_t *dra = st_agent(s, "dra", 2, "sparc");
    coord_sched_drain(s, dra);
    coord_task_t *dt = st_submit(s, "drained", NULL, "sparc");
    CHECK(coord_sched_dispatch(s, 0, 0) == 0 && dt->state == SW_TS_QUEUED);
    coord_sched_cancel(s, coord_sched_job(s, "j"), "drained", NULL, 0);

    /*  retries: backoff doubles up to 60 s */
    CHECK(coord_sched_backoff_ms(1) == 1000 && coord_sched_backoff_ms(3) == 4000);
    CHECK(coord_sched_backoff_ms(30) == 60000);

    /*  a crash is retried after the backoff, on another agent, and a task
     *  that crashes everywhere is quarantined with the agents named */
    coord_agent_t *r1 = st_agent(s, "r1", 1, "arm");
    coord_agent_t *r2 = st_agent(s, "r2", 1, "arm");
    coord_task_t *cr = st_submit(s, "crash", NULL, "arm");
    CHECK(coord_sched_dispatch(s, 0, 0) == 1);
    coord_agent_t *first = cr->agent;
    sw_ref_t rr = { .job = "j", .id = "crash", .attempt = 1, .status = "failed",
                    .exit_code = 139, .retryable = true };
    CHECK(coord_sched_done(s, first, &rr, 10000, 0) == 0);
    CHECK(cr->state == SW_TS_QUEUED && cr->not_before_ms >= 10000 + 750);
    /*  its dispatch latency counts from the end of the backoff */
    CHECK(cr->ready_ms >= 750 && coord_sched_stats(s)->retries_failed == 1);
    CHECK(coord_sched_dispatch(s, 10000, 0) == 0);             /*  still backing off */
    CHECK(coord_sched_dispatch(s, 20000, 0) == 1);
    CHECK(cr->agent && cr->agent != first && cr->spec.attempt == 2);
    rr.attempt = 2;
    CHECK(coord_sched_done(s, cr->agent, &rr, 20000, 0) == 0);
    CHECK(cr->state == SW_TS_QUEUED);
    CHECK(coord_sched_dispatch(s, 40000, 0) == 1 && cr->spec.attempt == 3);
    rr.attempt = 3;
    CHECK(coord_sched_done(s, cr->agent, &rr, 40000, 0) == 0);
    CHECK(cr->state == SW_TS_FAILED && cr->reason && strstr(cr->reason, "quarantined"));
    CHECK(strstr(cr->reason, "r1") && strstr(cr->reason, "r2"));
    /*  a clean non-zero exit is not retried */
    coord_task_t *det = st_submit(s, "deterministic", NULL, "arm");
    CHECK(coord_sched_dispatch(s, 50000, 0) == 1);
    sw_ref_t dr = { .job = "j", .id = "deterministic", .attempt = 1, .status = "failed",
                    .exit_code = 2 };
    CHECK(coord_sched_done(s, det->agent, &dr, 50000, 0) == 0);
    CHECK(det->state == SW_TS_FAILED && det->spec.attempt == 1 && !det->reason);
    (void) r1;
    (void) r2;

    /*  counts add up */
    CHECK(job->ntasks == 13);
    int sum = 0;
    for (int i = 0; i < SW_TS_COUNT; i++)
        sum += job->counts[i];
    CHECK(sum == job->ntasks);
    CHECK(job->counts[SW_TS_SKIPPED] == 4 && job->counts[SW_TS_CANCELLED] == 2);
    CHECK(job->counts[SW_TS_FAILED] == 3);
    CHECK(rec.null_cancels == 0);

    coord_sched_destroy(&s);
    (void) verbose;
    return s_test_classes() || s_test_chain() || s_test_reasons() || s_test_restored() || s_test_restored_unlisted()
        || coord_sched_test_caps();
}
