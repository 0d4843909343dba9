/*  coord_events -- see coord_events.h */
#include "coord_events.h"

#include <stdlib.h>
#include <string.h>

#include "sw_selftest.h"

#define SUBMIT_IDS  20          /*  ids a "submitted" event names */
#define MAX_FIELDS  12

/*  One event under construction: field/value pairs, numbers kept here. */
typedef struct {
    const char *fv[2 * MAX_FIELDS];
    int         nf;
    char        num[6][24];
    int         nn;
} s_ev_t;

static void
s_add(s_ev_t *e, const char *f, const char *v)
{
    if (!v || e->nf >= MAX_FIELDS)
        return;
    e->fv[2 * e->nf] = f;
    e->fv[2 * e->nf + 1] = v;
    e->nf++;
}

static void
s_addn(s_ev_t *e, const char *f, long long v)
{
    if (e->nn >= 6)
        return;
    snprintf(e->num[e->nn], sizeof e->num[0], "%lld", v);
    s_add(e, f, e->num[e->nn++]);
}

static void
s_begin(s_ev_t *e, const char *event, int64_t wall_ms)
{
    e->nf = e->nn = 0;
    s_addn(e, "t", wall_ms);
    s_add(e, "e", event);
}

typedef struct {
    char    *job;
    long     n;
    sw_buf_t ids;
    int      nids;
} s_submit_t;

struct coord_events_t {
    coord_events_emit_fn *emit;
    void                 *ctx;
    zlistx_t             *submits;  /*  s_submit_t *, this turn's, in order */
    zhashx_t             *lost;     /*  job id -> events dropped (long, as a pointer) */
    zhashx_t             *gone;     /*  agent id -> why it is leaving (this turn) */
    struct {                        /*  the DONE being handled (no allocation per DONE) */
        char     job[SW_MAX_ID + 1], id[SW_MAX_ID + 1];
        int64_t  attempt;
        char     status[32];
        int      code;
    } done;
};

coord_events_t *
coord_events_new(coord_events_emit_fn *emit, void *ctx)
{
    coord_events_t *self = xcalloc(1, sizeof *self);
    self->emit = emit;
    self->ctx = ctx;
    self->submits = zlistx_new();
    self->lost = zhashx_new();
    self->gone = zhashx_new();
    zhashx_set_destructor(self->gone, (zhashx_destructor_fn *) zstr_free);
    return self;
}

static void
s_submit_free(s_submit_t *s)
{
    free(s->job);
    sw_buf_release(&s->ids);
    free(s);
}

void
coord_events_destroy(coord_events_t **self_p)
{
    coord_events_t *self = *self_p;
    if (!self)
        return;
    s_submit_t *s;
    while ((s = zlistx_first(self->submits))) {
        zlistx_detach_cur(self->submits);
        s_submit_free(s);
    }
    zlistx_destroy(&self->submits);
    zhashx_destroy(&self->lost);
    zhashx_destroy(&self->gone);
    free(self);
    *self_p = NULL;
}

static void s_emit(coord_events_t *self, const char *job, s_ev_t *e);

/*  The "submitted" event gathered for job, if any: it comes before any
 *  other event of the job's tasks. */
static void
s_flush_submit(coord_events_t *self, const char *job, const char *wall)
{
    for (s_submit_t *s = zlistx_first(self->submits); s; s = zlistx_next(self->submits)) {
        if (strcmp(s->job, job) != 0)
            continue;
        zlistx_detach_cur(self->submits);
        s_ev_t e;
        s_begin(&e, "submitted", atoll(wall));
        s_addn(&e, "n", s->n);
        s_add(&e, "ids", s->ids.data ? s->ids.data : "");
        s_emit(self, s->job, &e);
        s_submit_free(s);
        return;
    }
}

/*  Emits e for job; what Redis could not take is counted, and said before
 *  the job's next event that gets through. */
static void
s_emit(coord_events_t *self, const char *job, s_ev_t *e)
{
    if (strcmp(e->fv[3], "submitted") != 0)
        s_flush_submit(self, job, e->fv[1]);
    long lost = (long) (intptr_t) zhashx_lookup(self->lost, job);
    if (lost) {
        s_ev_t l;
        s_begin(&l, "events_lost", atoll(e->fv[1]));
        s_addn(&l, "n", lost);
        if (!self->emit(self->ctx, job, l.nf, l.fv))
            goto dropped;
        zhashx_delete(self->lost, job);
        lost = 0;
    }
    if (self->emit(self->ctx, job, e->nf, e->fv))
        return;
dropped:
    zhashx_update(self->lost, job, (void *) (intptr_t) (lost + 1));
}

/*  The fields every task event has: its id, attempt and agent. */
static void
s_task(s_ev_t *e, const coord_task_t *t, int64_t attempt)
{
    s_add(e, "task", t->spec.id);
    if (attempt > 0)
        s_addn(e, "attempt", attempt);
    if (t->agent_id && *t->agent_id)
        s_add(e, "agent", t->agent_id);
}

static void
s_submitted(coord_events_t *self, const coord_task_t *t)
{
    s_submit_t *s = zlistx_last(self->submits);
    if (!s || strcmp(s->job, t->job->id) != 0) {
        for (s = zlistx_first(self->submits); s; s = zlistx_next(self->submits))
            if (strcmp(s->job, t->job->id) == 0)
                break;
    }
    if (!s) {
        s = xcalloc(1, sizeof *s);
        s->job = xstrdup(t->job->id);
        zlistx_add_end(self->submits, s);
    }
    s->n++;
    if (s->nids < SUBMIT_IDS) {
        sw_buf_printf(&s->ids, "%s%s", s->nids ? "," : "", t->spec.id);
        s->nids++;
    }
}

void
coord_events_done(coord_events_t *self, const char *job, const char *id, int64_t attempt,
                  const char *status, int exit_code)
{
    snprintf(self->done.job, sizeof self->done.job, "%s", job);
    snprintf(self->done.id, sizeof self->done.id, "%s", id);
    self->done.attempt = attempt;
    snprintf(self->done.status, sizeof self->done.status, "%s", status ? status : "failed");
    self->done.code = exit_code;
}

/*  Why t went back to the queue: the DONE that failed it, else the agent
 *  that went away (as its event said), else the scheduler's word (its
 *  "queued again: WHY", without the prefix). */
static const char *
s_retry_reason(coord_events_t *self, const coord_task_t *t, int64_t attempt, char *buf,
               size_t n)
{
    static const char again[] = "queued again: ";
    if (*self->done.job && strcmp(self->done.job, t->job->id) == 0
        && strcmp(self->done.id, t->spec.id) == 0 && self->done.attempt == attempt) {
        if (self->done.code > 128)
            snprintf(buf, n, "%s: killed by signal %d (exit %d)", self->done.status,
                     self->done.code - 128, self->done.code);
        else
            snprintf(buf, n, "%s (exit %d)", self->done.status, self->done.code);
        return buf;
    }
    const char *why = t->agent_id ? zhashx_lookup(self->gone, t->agent_id) : NULL;
    if (why) {
        snprintf(buf, n, "agent %s %s", t->agent_id, why);
        return buf;
    }
    if (t->reason && strncmp(t->reason, again, sizeof again - 1) == 0 && t->reason[sizeof again - 1])
        return t->reason + sizeof again - 1;
    if (t->reason && *t->reason)
        return t->reason;
    return "its attempt ended";
}

void
coord_events_restored(coord_events_t *self, coord_task_t *t)
{
    t->ev_state = (uint8_t) (t->state + 1);
    t->ev_attempt = t->spec.attempt;
    (void) self;
}

void
coord_events_task(coord_events_t *self, coord_task_t *t, int64_t now_ms, int64_t wall_ms)
{
    int old = (int) t->ev_state - 1;        /*  -1: no event yet */
    int64_t old_attempt = t->ev_attempt;
    sw_tstate_t now = t->state;
    t->ev_state = (uint8_t) (now + 1);
    t->ev_attempt = t->spec.attempt;
    if (old < 0 && !t->is_new)
        return;                 /*  restored: what it went through is told already */
    s_ev_t e;
    char why[300];
    if (old < 0)
        s_submitted(self, t);
    if (old == (int) now && old_attempt == t->spec.attempt)
        return;
    switch (now) {
    case SW_TS_WAITING:
        return;                 /*  submitted (its dependencies are not done) */
    case SW_TS_QUEUED:
        if (old < 0)
            return;             /*  submitted, ready at once: "submitted" says it */
        if (old == SW_TS_RUNNING || t->spec.attempt > 0) {
            /*  back in the queue: a retryable failure, or its agent went */
            s_begin(&e, "retried", wall_ms);
            s_task(&e, t, old_attempt);
            s_add(&e, "reason", s_retry_reason(self, t, old_attempt, why, sizeof why));
            if (t->not_before_ms > now_ms)
                s_addn(&e, "retry_ms", t->not_before_ms - now_ms);
        }
        else {
            s_begin(&e, "queued", wall_ms);
            s_add(&e, "task", t->spec.id);
            s_add(&e, "reason", "its dependencies succeeded");
        }
        break;
    case SW_TS_RUNNING:
        if (old == SW_TS_RUNNING && old_attempt > 0 && old_attempt < t->spec.attempt) {
            /*  requeued and dispatched again before the store saw it */
            s_ev_t r;
            s_begin(&r, "retried", wall_ms);
            s_add(&r, "task", t->spec.id);
            s_addn(&r, "attempt", old_attempt);
            s_add(&r, "reason", s_retry_reason(self, t, old_attempt, why, sizeof why));
            s_emit(self, t->job->id, &r);
        }
        s_begin(&e, "dispatched", wall_ms);
        s_task(&e, t, t->spec.attempt);
        break;
    case SW_TS_SUCCEEDED:
    case SW_TS_FAILED:
    case SW_TS_TIMED_OUT:
        s_begin(&e, "finished", wall_ms);
        s_task(&e, t, t->spec.attempt);
        s_add(&e, "status", sw_tstate_name(now));
        if (t->spec.attempt > 0 && t->exit_code >= 0)
            s_addn(&e, "code", t->exit_code);
        if (now != SW_TS_SUCCEEDED)
            s_add(&e, "reason", t->reason);
        break;
    case SW_TS_CANCELLED:
    case SW_TS_LOST:
    case SW_TS_SKIPPED:
        s_begin(&e, now == SW_TS_CANCELLED ? "cancelled" : now == SW_TS_LOST ? "lost"
                    : "skipped", wall_ms);
        s_task(&e, t, now == SW_TS_SKIPPED ? 0 : t->spec.attempt);
        s_add(&e, "reason", t->reason);
        break;
    default:
        return;
    }
    s_emit(self, t->job->id, &e);
}

void
coord_events_cancelling(coord_events_t *self, coord_task_t *t, int64_t wall_ms)
{
    s_ev_t e;
    s_begin(&e, "cancelling", wall_ms);
    s_task(&e, t, t->spec.attempt);
    /*  the reason it will end with (issue 15 keeps it apart from reason) */
    s_add(&e, "reason", t->cancel_reason && *t->cancel_reason ? t->cancel_reason : t->reason);
    s_emit(self, t->job->id, &e);
}

void
coord_events_started(coord_events_t *self, coord_task_t *t, int64_t wall_ms)
{
    s_ev_t e;
    s_begin(&e, "started", wall_ms);
    s_task(&e, t, t->spec.attempt);
    s_emit(self, t->job->id, &e);
}

void
coord_events_agent(coord_events_t *self, const coord_agent_t *a, const char *event,
                   const char *why, int64_t wall_ms)
{
    /*  Its jobs, each once, with how many of their tasks it runs. */
    zhashx_t *seen = zhashx_new();
    zlistx_t *order = zlistx_new();
    for (coord_task_t *t = zlistx_first(a->tasks); t; t = zlistx_next(a->tasks)) {
        long n = (long) (intptr_t) zhashx_lookup(seen, t->job->id);
        if (!n)
            zlistx_add_end(order, t->job->id);
        zhashx_update(seen, t->job->id, (void *) (intptr_t) (n + 1));
    }
    if (strcmp(event, "agent_drained") != 0) {
        static const char *const words[][2] = {
            { "agent_lost", "lost" }, { "agent_left", "left" }, { "agent_revoked", "was revoked" },
        };
        const char *word = "went away";
        for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
            if (strcmp(event, words[i][0]) == 0)
                word = words[i][1];
        zhashx_update(self->gone, a->id, xasprintf("%s%s%s", word, why ? ": " : "",
                                                   why ? why : ""));
    }
    for (const char *job = zlistx_first(order); job; job = zlistx_next(order)) {
        s_ev_t e;
        s_begin(&e, event, wall_ms);
        s_add(&e, "agent", a->id);
        s_add(&e, "reason", why);
        s_addn(&e, "n", (long) (intptr_t) zhashx_lookup(seen, job));
        s_emit(self, job, &e);
    }
    zlistx_destroy(&order);
    zhashx_destroy(&seen);
}

void
coord_events_resumed(coord_events_t *self, const coord_job_t *j, int64_t wall_ms)
{
    s_ev_t e;
    s_begin(&e, "resumed", wall_ms);
    s_addn(&e, "n", j->ntasks);
    char counts[64];
    snprintf(counts, sizeof counts, "%d running, %d final", j->counts[SW_TS_RUNNING], j->nfinal);
    s_add(&e, "counts", counts);
    s_emit(self, j->id, &e);
}

void
coord_events_complete(coord_events_t *self, const coord_job_t *j, int64_t wall_ms)
{
    sw_buf_t counts;
    sw_buf_init(&counts);
    for (int s = SW_TS_SUCCEEDED; s < SW_TS_COUNT; s++)
        if (j->counts[s])
            sw_buf_printf(&counts, "%s%d %s", counts.len ? ", " : "", j->counts[s],
                          sw_tstate_name((sw_tstate_t) s));
    s_ev_t e;
    s_begin(&e, "complete", wall_ms);
    s_addn(&e, "n", j->ntasks);
    s_add(&e, "counts", counts.data ? counts.data : "");
    /*  the turn's submits come first: they happened before */
    coord_events_flush(self, wall_ms);
    s_emit(self, j->id, &e);
    sw_buf_release(&counts);
}

void
coord_events_flush(coord_events_t *self, int64_t wall_ms)
{
    char wall[24];
    snprintf(wall, sizeof wall, "%lld", (long long) wall_ms);
    s_submit_t *s;
    while ((s = zlistx_first(self->submits)))
        s_flush_submit(self, s->job, wall);
    zhashx_purge(self->gone);
}

/*  --- self-test: tasks driven by hand, events caught as text ------------------------ */

typedef struct {
    sw_buf_t log;
    bool     down;              /*  Redis out: emit drops */
} s_sink_t;

static bool
s_sink(void *ctx, const char *job, int nf, const char *const *fv)
{
    s_sink_t *k = ctx;
    if (k->down)
        return false;
    sw_buf_printf(&k->log, "%s:", job);
    for (int i = 1; i < nf; i++)            /*  t (i = 0) varies */
        sw_buf_printf(&k->log, " %s=%s", fv[2 * i], fv[2 * i + 1]);
    sw_buf_addstr(&k->log, ";");
    return true;
}

static const char *
s_take(s_sink_t *k)
{
    static char out[2048];
    snprintf(out, sizeof out, "%s", k->log.data ? k->log.data : "");
    sw_buf_reset(&k->log);
    return out;
}

int
coord_events_test(bool verbose)
{
    s_sink_t k = { { 0 }, false };
    coord_events_t *ev = coord_events_new(s_sink, &k);
    coord_job_t j = { .id = "j" };
    coord_task_t a = { .job = &j, .state = SW_TS_QUEUED, .is_new = true, .exit_code = -1 };
    coord_task_t b = a;
    a.spec.id = "a";
    b.spec.id = "b";
    b.state = SW_TS_WAITING;
    /*  two tasks in one turn: one submitted event */
    coord_events_task(ev, &a, 0, 1);
    a.is_new = false;
    coord_events_task(ev, &b, 0, 1);
    b.is_new = false;
    CHECK(strcmp(s_take(&k), "") == 0);
    coord_events_flush(ev, 2);
    CHECK(strcmp(s_take(&k), "j: e=submitted n=2 ids=a,b;") == 0);
    /*  dispatched, then a crash sends it back, then attempt 2 succeeds */
    a.state = SW_TS_RUNNING;
    a.spec.attempt = 1;
    a.agent_id = "a1";
    coord_events_task(ev, &a, 0, 3);
    coord_events_started(ev, &a, 3);
    CHECK(strcmp(s_take(&k), "j: e=dispatched task=a attempt=1 agent=a1;"
                             "j: e=started task=a attempt=1 agent=a1;") == 0);
    a.state = SW_TS_QUEUED;
    a.not_before_ms = 2500;
    coord_events_done(ev, "j", "a", 1, "failed", 139);
    coord_events_task(ev, &a, 1000, 4);
    CHECK(strcmp(s_take(&k), "j: e=retried task=a attempt=1 agent=a1 reason=failed: killed "
                             "by signal 11 (exit 139) retry_ms=1500;") == 0);
    coord_events_task(ev, &a, 1000, 4);         /*  persisted again, nothing new */
    CHECK(strcmp(s_take(&k), "") == 0);
    a.state = SW_TS_RUNNING;
    a.spec.attempt = 2;
    a.agent_id = "a2";
    a.reason = NULL;
    coord_events_task(ev, &a, 0, 5);
    a.state = SW_TS_SUCCEEDED;
    a.exit_code = 0;
    coord_events_task(ev, &a, 0, 6);
    CHECK(strcmp(s_take(&k), "j: e=dispatched task=a attempt=2 agent=a2;"
                             "j: e=finished task=a attempt=2 agent=a2 status=succeeded "
                             "code=0;") == 0);
    /*  b's dependency is done: queued; then cancelled while running */
    b.state = SW_TS_QUEUED;
    coord_events_task(ev, &b, 0, 7);
    b.state = SW_TS_RUNNING;
    b.spec.attempt = 1;
    b.agent_id = "a1";
    coord_events_task(ev, &b, 0, 8);
    b.cancel_requested = true;
    b.cancel_reason = "cancelled by swarm cancel";
    coord_events_task(ev, &b, 0, 9);            /*  nothing: its state is the same */
    coord_events_cancelling(ev, &b, 9);
    b.state = SW_TS_CANCELLED;
    b.reason = "cancelled by swarm cancel";
    b.exit_code = 143;
    coord_events_task(ev, &b, 0, 10);
    CHECK(strcmp(s_take(&k), "j: e=queued task=b reason=its dependencies succeeded;"
                             "j: e=dispatched task=b attempt=1 agent=a1;"
                             "j: e=cancelling task=b attempt=1 agent=a1 reason=cancelled by "
                             "swarm cancel;"
                             "j: e=cancelled task=b attempt=1 agent=a1 reason=cancelled by "
                             "swarm cancel;") == 0);
    /*  a task restored after a restart tells nothing of its past */
    coord_task_t c = { .job = &j, .state = SW_TS_RUNNING, .exit_code = -1 };
    c.spec.id = "c";
    c.spec.attempt = 3;
    coord_events_task(ev, &c, 0, 11);
    CHECK(strcmp(s_take(&k), "") == 0);
    c.state = SW_TS_LOST;
    c.reason = "agent stopped answering (attempt 3 of 3)";
    c.agent_id = "a1";
    coord_events_task(ev, &c, 0, 12);
    CHECK(strcmp(s_take(&k), "j: e=lost task=c attempt=3 agent=a1 reason=agent stopped "
                             "answering (attempt 3 of 3);") == 0);
    /*  skipped at submit */
    coord_task_t d = { .job = &j, .state = SW_TS_SKIPPED, .is_new = true, .exit_code = -1,
                       .reason = "dependency c was lost" };
    d.spec.id = "d";
    coord_events_task(ev, &d, 0, 13);
    coord_events_flush(ev, 13);
    CHECK(strcmp(s_take(&k), "j: e=submitted n=1 ids=d;"
                             "j: e=skipped task=d reason=dependency c was lost;") == 0);
    /*  Redis out: events dropped, counted, said before the next one */
    k.down = true;
    coord_events_started(ev, &a, 14);
    coord_events_started(ev, &a, 14);
    k.down = false;
    j.ntasks = 4;
    j.counts[SW_TS_SUCCEEDED] = 1;
    j.counts[SW_TS_CANCELLED] = 1;
    j.counts[SW_TS_LOST] = 1;
    j.counts[SW_TS_SKIPPED] = 1;
    coord_events_complete(ev, &j, 15);
    CHECK(strcmp(s_take(&k), "j: e=events_lost n=2;j: e=complete n=4 counts=1 succeeded, "
                             "1 cancelled, 1 lost, 1 skipped;") == 0);
    /*  a task submitted and dispatched in one turn: submitted first */
    coord_task_t e1 = { .job = &j, .state = SW_TS_QUEUED, .is_new = true, .exit_code = -1 };
    e1.spec.id = "e1";
    coord_events_task(ev, &e1, 0, 20);
    e1.is_new = false;
    e1.state = SW_TS_RUNNING;
    e1.spec.attempt = 1;
    e1.agent_id = "a9";
    coord_events_task(ev, &e1, 0, 20);
    coord_events_flush(ev, 21);
    CHECK(strcmp(s_take(&k), "j: e=submitted n=1 ids=e1;j: e=dispatched task=e1 attempt=1 "
                             "agent=a9;") == 0);
    /*  an agent: one event per job it runs tasks of; its tasks' retries say why */
    coord_job_t j2 = { .id = "j2" };
    coord_task_t x = { .job = &j2 }, y = { .job = &j }, z = { .job = &j2 };
    coord_agent_t ag = { .id = "a9", .tasks = zlistx_new() };
    zlistx_add_end(ag.tasks, &x);
    zlistx_add_end(ag.tasks, &y);
    zlistx_add_end(ag.tasks, &z);
    coord_events_agent(ev, &ag, "agent_lost", "agent stopped answering", 16);
    CHECK(strcmp(s_take(&k), "j2: e=agent_lost agent=a9 reason=agent stopped answering n=2;"
                             "j: e=agent_lost agent=a9 reason=agent stopped answering n=1;")
          == 0);
    e1.state = SW_TS_QUEUED;
    coord_events_task(ev, &e1, 0, 22);
    CHECK(strcmp(s_take(&k), "j: e=retried task=e1 attempt=1 agent=a9 reason=agent a9 lost: "
                             "agent stopped answering;") == 0);
    coord_events_flush(ev, 23);         /*  the turn is over: a later retry is not that */
    e1.state = SW_TS_RUNNING;
    e1.spec.attempt = 2;
    coord_events_task(ev, &e1, 0, 24);
    e1.state = SW_TS_QUEUED;
    coord_events_task(ev, &e1, 0, 25);
    CHECK(strcmp(s_take(&k), "j: e=dispatched task=e1 attempt=2 agent=a9;j: e=retried task=e1 "
                             "attempt=2 agent=a9 reason=its attempt ended;") == 0);
    zlistx_destroy(&ag.tasks);
    coord_events_destroy(&ev);
    sw_buf_release(&k.log);
    (void) verbose;
    return 0;
}
