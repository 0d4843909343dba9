/*  coord_sched -- see coord_sched.h */
#include "coord_sched.h"

#include <string.h>

#include "sw_selftest.h"

struct coord_sched_t {
    coord_sched_ops_t ops;
    void      *ctx;
    zhashx_t  *jobs;            /*  id -> coord_job_t * (owns) */
    zhashx_t  *agents;          /*  id -> coord_agent_t * */
    zlistx_t  *agent_order;     /*  coord_agent_t * in HELLO order (owns) */
    zlistx_t  *free;            /*  coord_agent_t * with credit, round robin */
    zhashx_t  *classes;         /*  key -> s_class_t * with ready tasks (owns) */
    zlistx_t  *active;          /*  s_class_t * in the order they appeared */
    size_t     nready;
    zhashx_t  *names;           /*  agent ids and hosts, interned (owns) */
    zlistx_t  *halting;         /*  coord_job_t * to stop at the next dispatch */
    zlistx_t  *unadopted;       /*  coord_task_t * restored as running, not yet claimed */
    unsigned   seed;            /*  backoff jitter */
    int        free_slots;      /*  sum of credit over agents */
    coord_sched_stats_t stats;
};

/*  Ready tasks are queued by placement class: tasks of one job, for one
 *  runner, with one set of labels, first attempts or retries apart. All
 *  tasks of a class fit the same agents, so dispatch looks at the head of
 *  each class only: a class nobody free can run costs one look per
 *  dispatch, not one per queued task, and a job at its max_agents costs
 *  nothing. Retries (backoff, preferred agents) are few and looked at one
 *  by one. */
typedef struct {
    char     *key;
    bool      retries;
    zlistx_t *tasks;            /*  coord_task_t *, FIFO */
    void     *handle;           /*  in active */
} s_class_t;

static void
s_class_destroy(s_class_t **self_p)
{
    s_class_t *c = *self_p;
    if (!c)
        return;
    zlistx_destroy(&c->tasks);
    free(c->key);
    free(c);
    *self_p = NULL;
}

/*  --- objects ------------------------------------------------------------- */

static void
s_task_destroy(coord_task_t **self_p)
{
    coord_task_t *t = *self_p;
    if (!t)
        return;
    sw_task_release(&t->spec);
    sw_strv_release(&t->tried);
    zlistx_destroy(&t->dependents);
    free(t->reason);
    free(t);
    *self_p = NULL;
}

static void
s_job_destroy(coord_job_t **self_p)
{
    coord_job_t *j = *self_p;
    if (!j)
        return;
    zhashx_destroy(&j->tasks);
    coord_task_t *t = zlistx_first(j->order);
    while (t) {
        s_task_destroy(&t);
        t = zlistx_next(j->order);
    }
    zlistx_destroy(&j->order);
    free(j->id);
    free(j->ns);
    free(j->topology);
    free(j->strategy);
    free(j->halt_reason);
    sw_task_ws_release(&j->ws);
    free(j);
    *self_p = NULL;
}

static void
s_agent_destroy(coord_agent_t **self_p)
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

coord_sched_t *
coord_sched_new(const coord_sched_ops_t *ops, void *ctx)
{
    coord_sched_t *self = xcalloc(1, sizeof *self);
    self->ops = *ops;
    self->ctx = ctx;
    self->jobs = zhashx_new();
    zhashx_set_destructor(self->jobs, (zhashx_destructor_fn *) s_job_destroy);
    self->agents = zhashx_new();
    self->agent_order = zlistx_new();
    zlistx_set_destructor(self->agent_order, (zlistx_destructor_fn *) s_agent_destroy);
    self->free = zlistx_new();
    self->classes = zhashx_new();
    zhashx_set_destructor(self->classes, (zhashx_destructor_fn *) s_class_destroy);
    self->active = zlistx_new();
    self->names = zhashx_new();
    zhashx_set_destructor(self->names, (zhashx_destructor_fn *) zstr_free);
    self->halting = zlistx_new();
    self->unadopted = zlistx_new();
    self->seed = (unsigned) zclock_usecs();
    return self;
}

void
coord_sched_destroy(coord_sched_t **self_p)
{
    coord_sched_t *self = *self_p;
    if (!self)
        return;
    zlistx_destroy(&self->active);
    zhashx_destroy(&self->names);
    zhashx_destroy(&self->classes);
    zlistx_destroy(&self->free);
    zlistx_destroy(&self->halting);
    zlistx_destroy(&self->unadopted);
    zhashx_destroy(&self->agents);
    zlistx_destroy(&self->agent_order);
    zhashx_destroy(&self->jobs);
    free(self);
    *self_p = NULL;
}

/*  --- jobs and tasks ---------------------------------------------------------- */

coord_job_t *
coord_sched_job(coord_sched_t *self, const char *id)
{
    return id ? zhashx_lookup(self->jobs, id) : NULL;
}

coord_job_t *
coord_sched_job_ensure(coord_sched_t *self, const char *id, int64_t wall_ms)
{
    coord_job_t *j = coord_sched_job(self, id);
    if (j)
        return j;
    j = xcalloc(1, sizeof *j);
    j->id = xstrdup(id);
    j->ns = xstrdup("results");
    j->created_ms = wall_ms;
    j->order = zlistx_new();
    j->tasks = zhashx_new();
    zhashx_insert(self->jobs, id, j);
    return j;
}

size_t
coord_sched_njobs(coord_sched_t *self)
{
    return zhashx_size(self->jobs);
}

bool
coord_sched_job_drop(coord_sched_t *self, coord_job_t *j)
{
    if (j->nfinal < j->ntasks || j->running > 0 || zlistx_find(self->halting, j))
        return false;
    zhashx_delete(self->jobs, j->id);
    return true;
}

zlistx_t *
coord_sched_job_list(coord_sched_t *self)
{
    zlistx_t *list = zlistx_new();
    for (coord_job_t *j = zhashx_first(self->jobs); j; j = zhashx_next(self->jobs))
        zlistx_add_end(list, j);
    return list;
}

coord_task_t *
coord_sched_task(coord_sched_t *self, const char *job, const char *id)
{
    coord_job_t *j = coord_sched_job(self, job);
    return j ? zhashx_lookup(j->tasks, id) : NULL;
}

static void
s_set_state(coord_task_t *t, sw_tstate_t st)
{
    t->job->rev++;
    t->job->counts[t->state]--;
    t->job->counts[st]++;
    if (!SW_TS_FINAL(t->state) && SW_TS_FINAL(st)) {
        t->job->nfinal++;
        t->final_seq = ++t->job->final_seq;
    }
    t->state = st;
}

/*  ready_ms (wall clock): from when it may run; its dispatch latency is
 *  measured from then. */
static void
s_enqueue(coord_sched_t *self, coord_task_t *t, bool front, int64_t ready_ms)
{
    s_set_state(t, SW_TS_QUEUED);
    t->ready_ms = ready_ms;
    sw_buf_t key;
    sw_buf_init(&key);
    sw_buf_printf(&key, "%s\x1f%s\x1f%c", t->job->id, t->spec.runner, t->tried.n ? 'r' : 'f');
    for (size_t i = 0; i < t->spec.labels.n; i++)
        sw_buf_printf(&key, "\x1f%s=%s", t->spec.labels.k[i], t->spec.labels.v[i]);
    s_class_t *c = zhashx_lookup(self->classes, key.data);
    if (!c) {
        c = xcalloc(1, sizeof *c);
        c->key = key.data;
        sw_buf_init(&key);
        c->retries = t->tried.n > 0;
        c->tasks = zlistx_new();
        zhashx_insert(self->classes, c->key, c);
        c->handle = zlistx_add_end(self->active, c);
    }
    sw_buf_release(&key);
    t->qclass = c;
    t->qhandle = front ? zlistx_add_start(c->tasks, t) : zlistx_add_end(c->tasks, t);
    self->nready++;
}

/*  Takes a ready task out of its class; an empty class goes. */
static void
s_dequeue(coord_sched_t *self, coord_task_t *t)
{
    s_class_t *c = t->qclass;
    if (!c)
        return;
    zlistx_detach(c->tasks, t->qhandle);
    t->qclass = t->qhandle = NULL;
    self->nready--;
    if (zlistx_size(c->tasks) == 0) {
        zlistx_detach(self->active, c->handle);
        zhashx_delete(self->classes, c->key);
    }
}

/*  A new task of job j in state st (spec is consumed). */
static coord_task_t *
s_task_add(coord_job_t *j, sw_task_t *spec, sw_tstate_t st, int64_t submitted_ms)
{
    coord_task_t *t = xcalloc(1, sizeof *t);
    t->spec = *spec;
    sw_task_init(spec);
    t->job = j;
    t->state = SW_TS_WAITING;
    t->submitted_ms = submitted_ms;
    t->exit_code = -1;
    t->dependents = zlistx_new();
    j->counts[SW_TS_WAITING]++;
    j->ntasks++;
    j->rev++;
    zlistx_add_end(j->order, t);
    zhashx_insert(j->tasks, t->spec.id, t);
    if (st != SW_TS_WAITING)
        s_set_state(t, st);
    return t;
}

/*  Moves t to a final state and tells its dependants: success may make
 *  them ready, anything else skips them (and their dependants). */
static void
s_finish(coord_sched_t *self, coord_task_t *t, sw_tstate_t st, const char *reason,
         int64_t wall_ms)
{
    if (SW_TS_FINAL(t->state))
        return;
    s_dequeue(self, t);
    s_set_state(t, st);
    t->finished_ms = wall_ms;
    if (reason) {
        free(t->reason);
        t->reason = xstrdup(reason);
    }
    coord_job_t *j = t->job;
    if (j->halt && !j->halting
        && (st == SW_TS_FAILED || st == SW_TS_TIMED_OUT || st == SW_TS_LOST)) {
        /*  on_failure: stop. Cancelled at the next dispatch, not from here:
         *  we may be inside a walk of this job's lists. */
        j->halting = true;
        j->halt_reason = xasprintf("job stopped on failure: %s %s", t->spec.id,
                                   sw_tstate_name(st));
        zlistx_add_end(self->halting, j);
    }
    self->ops.persist(self->ctx, t);
    self->ops.finished(self->ctx, t);
    for (coord_task_t *d = zlistx_first(t->dependents); d; d = zlistx_next(t->dependents)) {
        if (st == SW_TS_SUCCEEDED) {
            if (--d->deps_left == 0 && d->state == SW_TS_WAITING) {
                s_enqueue(self, d, false, wall_ms);
                self->ops.persist(self->ctx, d);
            }
        }
        else {
            char why[256];
            snprintf(why, sizeof why, "dependency %s %s", t->spec.id, sw_tstate_name(st));
            s_finish(self, d, SW_TS_SKIPPED, why, wall_ms);
        }
    }
}

/*  Links a new or restored task to its unfinished dependencies. Unless it
 *  is running (restored), it is then skipped if a dependency ended without
 *  success, or queued when it has nothing left to wait for. */
static void
s_link(coord_sched_t *self, coord_task_t *t, int64_t wall_ms)
{
    coord_task_t *failed = NULL;
    for (size_t i = 0; i < t->spec.after.n; i++) {
        coord_task_t *dep = zhashx_lookup(t->job->tasks, t->spec.after.v[i]);
        if (!dep || dep->state == SW_TS_SUCCEEDED)
            continue;
        if (SW_TS_FINAL(dep->state))
            failed = dep;
        else {
            t->deps_left++;
            zlistx_add_end(dep->dependents, t);
        }
    }
    if (t->state == SW_TS_RUNNING)
        return;
    if (failed) {
        char why[256];
        snprintf(why, sizeof why, "dependency %s %s", failed->spec.id,
                 sw_tstate_name(failed->state));
        s_finish(self, t, SW_TS_SKIPPED, why, wall_ms);
    }
    else if (t->deps_left == 0)
        s_enqueue(self, t, false, wall_ms);
}

coord_task_t *
coord_sched_submit(coord_sched_t *self, sw_task_t *spec, int64_t wall_ms, sw_err_t *err)
{
    coord_job_t *j = coord_sched_job_ensure(self, spec->job, wall_ms);
    j->complete_ms = 0;
    if (zhashx_lookup(j->tasks, spec->id)) {
        sw_err_set(err, SW_EINVAL, "task '%s' already exists in job '%s'", spec->id, j->id);
        sw_task_release(spec);
        return NULL;
    }
    for (size_t i = 0; i < spec->after.n; i++)
        if (!zhashx_lookup(j->tasks, spec->after.v[i])) {
            sw_err_set(err, SW_ENOTFOUND, "task '%s': unknown dependency '%s' in job '%s' "
                       "(spawn it first)", spec->id, spec->after.v[i], j->id);
            sw_task_release(spec);
            return NULL;
        }
    coord_task_t *t = s_task_add(j, spec, SW_TS_WAITING, wall_ms);
    t->is_new = true;
    s_link(self, t, wall_ms);
    if (t->state != SW_TS_SKIPPED)
        self->ops.persist(self->ctx, t);
    return t;
}

size_t
coord_sched_queued(coord_sched_t *self)
{
    return self->nready;
}

int
coord_sched_free_slots(const coord_sched_t *self)
{
    return self->free_slots;
}

const coord_sched_stats_t *
coord_sched_stats(const coord_sched_t *self)
{
    return &self->stats;
}

void
coord_sched_each_class(coord_sched_t *self, coord_sched_class_fn *fn, void *arg)
{
    for (s_class_t *c = zlistx_first(self->active); c; c = zlistx_next(self->active)) {
        coord_task_t *head = zlistx_first(c->tasks);
        if (head)
            fn(arg, head->spec.runner, c->retries, zlistx_size(c->tasks));
    }
}

/*  --- agents ------------------------------------------------------------------ */

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
    a->expires_ms = now_ms + lease_ms;
}

static int
s_credit(const coord_agent_t *a)
{
    return !a->draining && a->running < a->slots ? a->slots - a->running : 0;
}

/*  One copy of each agent id and host name for every task that ran there:
 *  no allocation per dispatch (which, interleaved with message buffers,
 *  fragmented the heap: 1M tasks on 1,000 agents left 2 GiB of RSS). */
static const char *
s_intern(coord_sched_t *self, const char *name)
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

/*  After anything that changes a's credit (running, slots, draining, gone)
 *  from before: keeps the credit sum and the ring of agents with credit. */
static void
s_credit_changed(coord_sched_t *self, coord_agent_t *a, int before, bool gone)
{
    int now = gone ? 0 : s_credit(a);
    self->free_slots += now - before;
    if (now > 0 && !a->free_handle)
        a->free_handle = zlistx_add_end(self->free, a);
    else if (now == 0 && a->free_handle) {
        zlistx_detach(self->free, a->free_handle);
        a->free_handle = NULL;
    }
}

void
coord_sched_drain(coord_sched_t *self, coord_agent_t *a)
{
    int before = s_credit(a);
    a->draining = true;
    s_credit_changed(self, a, before, false);
}

/*  Changes an agent's running count, keeping its credit right. */
static void
s_running_add(coord_sched_t *self, coord_agent_t *a, int delta)
{
    int before = s_credit(a);
    a->running += delta;
    s_credit_changed(self, a, before, false);
}

/*  Takes t off its agent and frees the slot. */
static void
s_unassign(coord_sched_t *self, coord_task_t *t)
{
    coord_agent_t *a = t->agent;
    if (!a)
        return;
    void *h = zlistx_find(a->tasks, t);
    if (h)
        zlistx_detach(a->tasks, h);
    s_running_add(self, a, -1);
    t->job->running--;
    t->agent = NULL;
}

/*  A task whose agent went away: run it again if attempts remain. */
static void
s_requeue_or_lose(coord_sched_t *self, coord_task_t *t, const char *why, int64_t wall_ms)
{
    s_unassign(self, t);
    if (t->cancel_requested) {
        s_finish(self, t, SW_TS_CANCELLED, "cancelled", wall_ms);
        return;
    }
    if (t->spec.attempt < t->spec.max_attempts) {
        s_enqueue(self, t, true, wall_ms);
        self->stats.retries_lost++;
        self->ops.persist(self->ctx, t);
        return;
    }
    char reason[256];
    snprintf(reason, sizeof reason, "%s (attempt %lld of %lld)", why,
             (long long) t->spec.attempt, (long long) t->spec.max_attempts);
    s_finish(self, t, SW_TS_LOST, reason, wall_ms);
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
    int before = a ? s_credit(a) : 0;
    if (a) {
        /*  The same agent on a new connection (it reconnected, or was
         *  restarted). Keep what it says it still runs; requeue the rest. */
        coord_task_t *t = zlistx_first(a->tasks);
        zlistx_t *lost = zlistx_new();
        for (; t; t = zlistx_next(a->tasks))
            if (!s_listed(&h->running, t))
                zlistx_add_end(lost, t);
        for (t = zlistx_first(lost); t; t = zlistx_next(lost)) {
            log_warnx("agent %s came back without %s/%s attempt %lld: it runs again",
                      a->id, t->job->id, t->spec.id, (long long) t->spec.attempt);
            s_requeue_or_lose(self, t, "agent restarted", sw_wall_ms());
        }
        zlistx_destroy(&lost);
        before = s_credit(a);
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
    /*  Claims: tasks a restarted coordinator found running, that this
     *  agent says it still runs at the same attempt. */
    for (size_t i = 0; i < h->running.n && zlistx_size(self->unadopted); i++) {
        char *copy = xstrdup(h->running.v[i]);
        char *id = strchr(copy, '\x1f'), *att = id ? strchr(id + 1, '\x1f') : NULL;
        if (att) {
            *id++ = '\0';
            *att++ = '\0';
            coord_task_t *t = coord_sched_task(self, copy, id);
            void *h2 = t && t->adopt_by_ms && !t->agent ? zlistx_find(self->unadopted, t) : NULL;
            if (h2 && t->spec.attempt == atoll(att)) {
                zlistx_detach(self->unadopted, h2);
                t->adopt_by_ms = 0;
                t->agent = a;
                a->running++;
                t->job->running++;
                zlistx_add_end(a->tasks, t);
                t->agent_id = s_intern(self, a->id);
                t->job->rev++;
                log_info("agent %s still runs %s/%s attempt %lld: adopted", a->id, t->job->id,
                         t->spec.id, (long long) t->spec.attempt);
            }
        }
        free(copy);
    }
    s_credit_changed(self, a, before, false);   /*  none while it runs more than slots */
    return a;
}

void
coord_sched_agent_lost(coord_sched_t *self, coord_agent_t *a, const char *why, int64_t wall_ms)
{
    while (zlistx_size(a->tasks) > 0) {
        coord_task_t *t = zlistx_first(a->tasks);
        s_requeue_or_lose(self, t, why, wall_ms);
    }
    s_credit_changed(self, a, s_credit(a), true);
    self->ops.agent_gone(self->ctx, a);
    zhashx_delete(self->agents, a->id);
    void *h = zlistx_find(self->agent_order, a);
    zlistx_delete(self->agent_order, h);
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
    for (size_t i = 0; i < t->spec.labels.n; i++) {
        const char *v = sw_kv_get(&a->labels, t->spec.labels.k[i]);
        if (!v || strcmp(v, t->spec.labels.v[i]) != 0)
            return false;
    }
    return true;
}

static bool
s_tried(const coord_task_t *t, const coord_agent_t *a)
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
        if (!t->tried.n || !s_tried(t, a))
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
        bool could = !s_tried(t, a) && s_fits(a, t);
        a->running = running;
        if (could)
            return NULL;
    }
    return fallback;
}

int64_t
coord_sched_backoff_ms(int64_t attempt)
{
    int64_t ms = 1000;
    for (int64_t i = 1; i < attempt && ms < 60000; i++)
        ms *= 2;
    return ms > 60000 ? 60000 : ms;
}

/*  t (out of its class) goes to a. */
static void
s_assign(coord_sched_t *self, coord_task_t *t, coord_agent_t *a, int64_t wall_ms)
{
    t->agent = a;
    s_running_add(self, a, 1);
    t->job->running++;
    zlistx_add_end(a->tasks, t);
    t->spec.attempt++;
    s_set_state(t, SW_TS_RUNNING);
    t->started_ms = wall_ms;
    t->agent_id = s_intern(self, a->id);
    t->host = s_intern(self, a->host);
    self->ops.persist(self->ctx, t);
    self->ops.dispatch(self->ctx, t, a);
}

int
coord_sched_dispatch(coord_sched_t *self, int64_t now_ms, int64_t wall_ms)
{
    coord_job_t *halt;
    while ((halt = zlistx_first(self->halting))) {
        zlistx_detach_cur(self->halting);
        coord_sched_cancel(self, halt, NULL, halt->halt_reason, wall_ms);
    }
    int n = 0;
    s_class_t *c = zlistx_first(self->active);
    while (c && self->free_slots > 0) {
        s_class_t *next_class = zlistx_next(self->active);
        coord_task_t *t = zlistx_first(c->tasks);
        while (t && self->free_slots > 0) {
            coord_task_t *next = zlistx_next(c->tasks);
            coord_job_t *j = t->job;
            if (j->max_agents && j->running >= j->max_agents)
                break;                      /*  the whole class is that job's */
            coord_agent_t *a = now_ms < t->not_before_ms ? NULL : s_pick(self, t);
            if (a) {
                s_dequeue(self, t);         /*  may free c: t was not its last if next */
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

int
coord_sched_done(coord_sched_t *self, coord_agent_t *a, const sw_ref_t *r, int64_t now_ms,
                 int64_t wall_ms)
{
    coord_task_t *t = coord_sched_task(self, r->job, r->id);
    if (!t || t->agent != a || t->spec.attempt != r->attempt || t->state != SW_TS_RUNNING)
        return -1;
    s_unassign(self, t);
    a->completed++;
    t->exit_code = (int) r->exit_code;
    int st = sw_tstate_parse(r->status);
    if (t->cancel_requested && st != SW_TS_SUCCEEDED)
        st = SW_TS_CANCELLED;
    bool retry = r->retryable && st != SW_TS_SUCCEEDED && st != SW_TS_CANCELLED;
    if (retry && !s_tried(t, a))
        sw_strv_push(&t->tried, a->id);
    if (retry && t->spec.attempt < t->spec.max_attempts) {
        int64_t ms = coord_sched_backoff_ms(t->spec.attempt);
        ms += (int64_t) (rand_r(&self->seed) % (unsigned) (ms / 2 + 1)) - ms / 4;
        t->not_before_ms = now_ms + ms;
        log_info("task %s/%s attempt %lld %s on %s: retrying in %.1f s", t->job->id, t->spec.id,
                 (long long) t->spec.attempt, sw_tstate_name((sw_tstate_t) st), a->id,
                 (double) ms / 1000);
        s_enqueue(self, t, false, wall_ms + ms);
        self->stats.retries_failed++;
        self->ops.persist(self->ctx, t);
        return 0;
    }
    char reason[512] = "";
    if (retry && t->tried.n > 1) {
        size_t n = (size_t) snprintf(reason, sizeof reason, "quarantined: %s on every attempt, "
                                     "on agents ", sw_tstate_name((sw_tstate_t) st));
        for (size_t i = 0; i < t->tried.n && n < sizeof reason; i++)
            n += (size_t) snprintf(reason + n, sizeof reason - n, "%s%s", i ? ", " : "",
                                   t->tried.v[i]);
        if (n < sizeof reason)
            snprintf(reason + n, sizeof reason - n, " (attempt %lld of %lld)",
                     (long long) t->spec.attempt, (long long) t->spec.max_attempts);
        log_warnx("task %s/%s %s", t->job->id, t->spec.id, reason);
    }
    s_finish(self, t, (sw_tstate_t) st, reason[0] ? reason : NULL, wall_ms);
    return 0;
}

int
coord_sched_cancel(coord_sched_t *self, coord_job_t *job, const char *id, const char *reason,
                   int64_t wall_ms)
{
    /*  Collect first: callbacks may walk the job's list. */
    zlistx_t *todo = zlistx_new();
    for (coord_task_t *t = zlistx_first(job->order); t; t = zlistx_next(job->order))
        if ((!id || strcmp(t->spec.id, id) == 0) && !SW_TS_FINAL(t->state)
            && !t->cancel_requested)
            zlistx_add_end(todo, t);
    int n = 0;
    for (coord_task_t *t = zlistx_first(todo); t; t = zlistx_next(todo)) {
        if (SW_TS_FINAL(t->state))          /*  skipped by an earlier cancel */
            continue;
        if (t->state == SW_TS_RUNNING) {
            t->cancel_requested = true;
            self->ops.cancel(self->ctx, t, t->agent);
        }
        else
            s_finish(self, t, SW_TS_CANCELLED, reason ? reason : "cancelled before it started",
                     wall_ms);
        n++;
    }
    zlistx_destroy(&todo);
    return n;
}

/*  --- restart ------------------------------------------------------------------ */

coord_task_t *
coord_sched_restore(coord_sched_t *self, sw_task_t *spec, sw_tstate_t state, const char *agent_id,
                    const char *host, int64_t submitted_ms, int64_t started_ms,
                    int64_t finished_ms, int exit_code, const char *reason, int64_t adopt_by_ms)
{
    coord_job_t *j = coord_sched_job_ensure(self, spec->job, submitted_ms);
    if (zhashx_lookup(j->tasks, spec->id)) {
        sw_task_release(spec);
        return NULL;
    }
    /*  queued and waiting are decided again by restore_finish */
    coord_task_t *t = s_task_add(j, spec, SW_TS_FINAL(state) || state == SW_TS_RUNNING
                                          ? state : SW_TS_WAITING, submitted_ms);
    t->agent_id = s_intern(self, agent_id);
    t->host = s_intern(self, host);
    t->started_ms = started_ms;
    t->finished_ms = finished_ms;
    t->exit_code = exit_code;
    t->reason = reason && *reason ? xstrdup(reason) : NULL;
    if (t->state == SW_TS_RUNNING) {
        t->adopt_by_ms = adopt_by_ms;
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
        /*  a snapshot: s_finish below may skip tasks of this job */
        zlistx_t *order = zlistx_dup(j->order);
        for (coord_task_t *t = zlistx_first(order); t; t = zlistx_next(order))
            if (!SW_TS_FINAL(t->state))
                s_link(self, t, wall_ms);
        zlistx_destroy(&order);
    }
    zlistx_destroy(&jobs);
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
coord_sched_resolve(coord_sched_t *self, coord_task_t *t, const char *status, int exit_code,
                    int64_t wall_ms)
{
    if (t->state != SW_TS_RUNNING || t->agent)
        return;
    t->job->counts[SW_TS_RUNNING]--;        /*  it was never on an agent */
    t->job->counts[SW_TS_WAITING]++;
    t->state = SW_TS_WAITING;
    int st = status ? sw_tstate_parse(status) : -1;
    if (st >= 0 && SW_TS_FINAL(st)) {
        t->exit_code = exit_code;
        s_finish(self, t, (sw_tstate_t) st, NULL, wall_ms);
    }
    else if (t->spec.attempt < t->spec.max_attempts) {
        s_enqueue(self, t, true, wall_ms);
        self->stats.retries_lost++;
        self->ops.persist(self->ctx, t);
    }
    else {
        char reason[128];
        snprintf(reason, sizeof reason, "lost in a coordinator restart (attempt %lld of %lld)",
                 (long long) t->spec.attempt, (long long) t->spec.max_attempts);
        s_finish(self, t, SW_TS_LOST, reason, wall_ms);
    }
}

/*  --- self-test ---------------------------------------------------------------- */

typedef struct {
    int            persisted, dispatched, cancels, finished, gone;
    coord_task_t  *last_dispatch;
    coord_agent_t *last_agent;
} s_rec_t;

static void s_rec_persist(void *c, coord_task_t *t) { ((s_rec_t *) c)->persisted++; (void) t; }
static void
s_test_count_class(void *arg, const char *runner, bool retries, size_t n)
{
    ((size_t *) arg)[retries] += n;
    (void) runner;
}
static void s_rec_cancel(void *c, coord_task_t *t, coord_agent_t *a)
{ ((s_rec_t *) c)->cancels++; (void) t; (void) a; }
static void s_rec_finished(void *c, coord_task_t *t) { ((s_rec_t *) c)->finished++; (void) t; }
static void s_rec_gone(void *c, coord_agent_t *a) { ((s_rec_t *) c)->gone++; (void) a; }
static void
s_rec_dispatch(void *c, coord_task_t *t, coord_agent_t *a)
{
    s_rec_t *r = c;
    r->dispatched++;
    r->last_dispatch = t;
    r->last_agent = a;
}

static coord_agent_t *
s_test_agent(coord_sched_t *s, const char *id, int slots, const char *label)
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

static coord_task_t *
s_test_submit(coord_sched_t *s, const char *id, const char *after, const char *label)
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

static int
s_test_done(coord_sched_t *s, coord_agent_t *a, coord_task_t *t, long long attempt,
            const char *status)
{
    sw_ref_t r = { .job = "j", .id = t->spec.id, .attempt = attempt, .status = (char *) status };
    return coord_sched_done(s, a, &r, 0, 0);
}

static coord_task_t *
s_test_submit_to(coord_sched_t *s, const char *job, const char *id, const char *label)
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
    s_rec_t rec = { 0 };
    coord_sched_ops_t ops = { s_rec_persist, s_rec_dispatch, s_rec_cancel, s_rec_finished,
                              s_rec_gone };
    coord_sched_t *s = coord_sched_new(&ops, &rec);
    /*  queued first: 500 tasks nobody can run (os=bsd), 500 of a job capped
     *  at 1 running task, then 4 plain ones of another job */
    char id[16];
    for (int i = 0; i < 500; i++) {
        snprintf(id, sizeof id, "b%d", i);
        CHECK(s_test_submit_to(s, "bsd", id, "bsd") != NULL);
        snprintf(id, sizeof id, "c%d", i);
        CHECK(s_test_submit_to(s, "capped", id, NULL) != NULL);
    }
    coord_sched_job(s, "capped")->max_agents = 1;
    coord_task_t *p[4];
    for (int i = 0; i < 4; i++) {
        snprintf(id, sizeof id, "p%d", i);
        CHECK((p[i] = s_test_submit_to(s, "plain", id, NULL)) != NULL);
    }
    CHECK(coord_sched_queued(s) == 1004);
    /*  two agents, 3 slots each: the capped job gets 1, plain gets 4, and
     *  tasks alternate between the agents */
    coord_agent_t *a = s_test_agent(s, "a", 3, "linux");
    coord_agent_t *b = s_test_agent(s, "b", 3, "linux");
    CHECK(coord_sched_dispatch(s, 0, 0) == 5);
    CHECK(coord_sched_job(s, "capped")->running == 1);
    for (int i = 0; i < 4; i++)
        CHECK(p[i]->state == SW_TS_RUNNING);
    CHECK(p[0]->agent != p[1]->agent && p[1]->agent != p[2]->agent);
    CHECK(a->running + b->running == 5 && coord_sched_queued(s) == 999);
    /*  the one free slot: nothing fits, nothing moves */
    CHECK(coord_sched_dispatch(s, 0, 0) == 0);
    /*  a bsd agent drains the bsd class; its class goes when empty */
    coord_agent_t *c = s_test_agent(s, "c", 500, "bsd");
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

int
coord_sched_test(bool verbose)
{
    s_rec_t rec = { 0 };
    coord_sched_ops_t ops = { s_rec_persist, s_rec_dispatch, s_rec_cancel, s_rec_finished,
                              s_rec_gone };
    coord_sched_t *s = coord_sched_new(&ops, &rec);

    /*  no agents: tasks wait in the queue */
    coord_task_t *t1 = s_test_submit(s, "t1", NULL, NULL);
    coord_task_t *t2 = s_test_submit(s, "t2", NULL, NULL);
    coord_task_t *t3 = s_test_submit(s, "t3", NULL, NULL);
    CHECK(t1 && t2 && t3);
    CHECK(coord_sched_dispatch(s, 0, 0) == 0 && coord_sched_queued(s) == 3);

    /*  duplicate ids and unknown dependencies are refused */
    CHECK(s_test_submit(s, "t1", NULL, NULL) == NULL);
    CHECK(s_test_submit(s, "t9", "nope", NULL) == NULL);

    /*  credit: one agent with 2 slots gets exactly 2, in FIFO order */
    coord_agent_t *a = s_test_agent(s, "a", 2, "linux");
    CHECK(coord_sched_dispatch(s, 0, 0) == 2);
    CHECK(t1->state == SW_TS_RUNNING && t2->state == SW_TS_RUNNING);
    CHECK(t3->state == SW_TS_QUEUED && a->running == 2);
    CHECK(t1->spec.attempt == 1 && t1->agent == a);
    CHECK(coord_sched_dispatch(s, 0, 0) == 0);

    /*  a DONE frees the slot and the next task goes out */
    CHECK(s_test_done(s, a, t1, 1, "succeeded") == 0);
    CHECK(t1->state == SW_TS_SUCCEEDED && a->running == 1);
    CHECK(coord_sched_dispatch(s, 0, 0) == 1 && t3->state == SW_TS_RUNNING);

    /*  fencing: a second DONE, or one for the wrong attempt, is stale */
    CHECK(s_test_done(s, a, t1, 1, "succeeded") == -1);
    CHECK(s_test_done(s, a, t2, 7, "succeeded") == -1);

    /*  the agent dies: its tasks go back to the front with attempt + 1 */
    coord_agent_t *b = s_test_agent(s, "b", 4, "mac");
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
    coord_task_t *tl = s_test_submit(s, "tl", NULL, "linux");
    CHECK(coord_sched_dispatch(s, 0, 0) == 0 && tl->state == SW_TS_QUEUED);
    coord_agent_t *c = s_test_agent(s, "c", 1, "linux");
    CHECK(coord_sched_dispatch(s, 0, 0) == 1 && tl->agent == c);

    /*  dependencies: d waits for t2; failure of t2 skips d and e */
    coord_task_t *d = s_test_submit(s, "d", "t2", NULL);
    coord_task_t *e = s_test_submit(s, "e", "d", NULL);
    CHECK(d->state == SW_TS_WAITING && e->state == SW_TS_WAITING);
    CHECK(s_test_done(s, b, t2, 2, "failed") == 0);
    CHECK(d->state == SW_TS_SKIPPED && e->state == SW_TS_SKIPPED);
    CHECK(d->reason && strstr(d->reason, "t2 failed"));
    /*  a task spawned after its dependency failed is skipped at once */
    coord_task_t *f = s_test_submit(s, "f", "t2", NULL);
    CHECK(f->state == SW_TS_SKIPPED);
    /*  success releases dependants */
    coord_task_t *g = s_test_submit(s, "g", "t3", NULL);
    CHECK(g->state == SW_TS_WAITING);
    CHECK(s_test_done(s, b, t3, 2, "succeeded") == 0);
    CHECK(g->state == SW_TS_QUEUED);

    /*  cancel: queued ones end at once, running ones are asked to stop */
    CHECK(coord_sched_dispatch(s, 0, 0) == 1 && g->state == SW_TS_RUNNING);
    coord_task_t *h = s_test_submit(s, "h", "g", NULL);
    coord_job_t *job = coord_sched_job(s, "j");
    int cancels = rec.cancels;
    CHECK(coord_sched_cancel(s, job, "g", NULL, 0) == 1 && rec.cancels == cancels + 1);
    CHECK(g->state == SW_TS_RUNNING && g->cancel_requested);
    CHECK(s_test_done(s, g->agent, g, g->spec.attempt, "failed") == 0);
    CHECK(g->state == SW_TS_CANCELLED && h->state == SW_TS_SKIPPED);

    /*  a task lost on every attempt ends as lost, with the reason */
    coord_task_t *l = s_test_submit(s, "l", NULL, "linux");
    l->spec.max_attempts = 2;
    CHECK(s_test_done(s, c, tl, 1, "succeeded") == 0);
    for (int i = 0; i < 2; i++) {
        coord_agent_t *x = s_test_agent(s, "x", 1, "linux");
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
    coord_agent_t *m = s_test_agent(s, "m", 1, "bsd");
    coord_sched_dispatch(s, 0, 0);
    CHECK(hs[0]->state == SW_TS_RUNNING && hs[1]->state == SW_TS_QUEUED);
    sw_ref_t hr = { .job = "halt", .id = "h0", .attempt = 1, .status = "failed" };
    CHECK(coord_sched_done(s, m, &hr, 0, 0) == 0);
    CHECK(hs[1]->state == SW_TS_QUEUED);        /*  nothing from inside the callback */
    coord_sched_dispatch(s, 0, 0);
    CHECK(hs[1]->state == SW_TS_CANCELLED && hs[2]->state == SW_TS_CANCELLED);
    CHECK(strcmp(hs[1]->reason, "job stopped on failure: h0 failed") == 0);

    /*  drain: no new tasks for a draining agent */
    coord_agent_t *dra = s_test_agent(s, "dra", 2, "sparc");
    coord_sched_drain(s, dra);
    coord_task_t *dt = s_test_submit(s, "drained", NULL, "sparc");
    CHECK(coord_sched_dispatch(s, 0, 0) == 0 && dt->state == SW_TS_QUEUED);
    coord_sched_cancel(s, coord_sched_job(s, "j"), "drained", NULL, 0);

    /*  retries: backoff doubles up to 60 s */
    CHECK(coord_sched_backoff_ms(1) == 1000 && coord_sched_backoff_ms(3) == 4000);
    CHECK(coord_sched_backoff_ms(30) == 60000);

    /*  a crash is retried after the backoff, on another agent, and a task
     *  that crashes everywhere is quarantined with the agents named */
    coord_agent_t *r1 = s_test_agent(s, "r1", 1, "arm");
    coord_agent_t *r2 = s_test_agent(s, "r2", 1, "arm");
    coord_task_t *cr = s_test_submit(s, "crash", NULL, "arm");
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
    coord_task_t *det = s_test_submit(s, "deterministic", NULL, "arm");
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

    coord_sched_destroy(&s);
    (void) verbose;
    return s_test_classes();
}
