/*  coord_sched -- see coord_sched.h; the files of the module: coord_sched_int.h.
 *
 *  This file: the objects, jobs and the task state machine. */
#include "coord_sched_int.h"

#include <string.h>
#include <unistd.h>

/*  the basis of the hash of task ids (s_id_hash), drawn at the first
 *  coord_sched_new */
static uint64_t s_hash_basis;

/*  --- objects ------------------------------------------------------------- */

static void
s_task_destroy(coord_task_t **self_p)
{
    coord_task_t *t = *self_p;
    if (!t)
        return;
    /*  what it shares with its job and the scheduler is not its to free */
    if (!(t->interned & COORD_TI_INLINE)) {
        free(t->spec.id);
        sw_strv_release(&t->spec.argv);
    }
    if (!(t->interned & COORD_TI_JOB))
        free(t->spec.job);
    if (!(t->interned & COORD_TI_TYPE))
        free(t->spec.type);
    if (!(t->interned & COORD_TI_RUNNER))
        free(t->spec.runner);
    if (!(t->interned & COORD_TI_NS))
        free(t->spec.ns);
    if (t->spec.rest) {
        sw_task_release(t->spec.rest);
        free(t->spec.rest);
    }
    sw_strv_release(&t->tried);
    free(t->res);
    free(t->spend);
    zlistx_destroy(&t->dependents);
    free(t->reason);
    free(t->cancel_reason);
    free(t);
    *self_p = NULL;
}

static void
s_job_destroy(coord_job_t **self_p)
{
    coord_job_t *j = *self_p;
    if (!j)
        return;
    free(j->index);
    for (int i = 0; i < j->ntasks; i++)
        s_task_destroy(&j->order[i]);
    free(j->order);
    free(j->finals);
    free(j->id);
    free(j->ns);
    free(j->topology);
    free(j->strategy);
    free(j->halt_reason);
    free(j->budget.reason);
    sw_task_ws_release(&j->ws);
    free(j);
    *self_p = NULL;
}

coord_sched_t *
coord_sched_new(const coord_sched_ops_t *ops, void *ctx)
{
    coord_sched_t *self = xcalloc(1, sizeof *self);
    if (!s_hash_basis && getentropy(&s_hash_basis, sizeof s_hash_basis) < 0)
        s_hash_basis = (uint64_t) zclock_usecs() * 6364136223846793005ULL;
    s_hash_basis |= 1;                  /*  never 0: drawn */
    self->ops = *ops;
    self->ctx = ctx;
    self->jobs = zhashx_new();
    zhashx_set_destructor(self->jobs, (zhashx_destructor_fn *) s_job_destroy);
    self->agents = zhashx_new();
    self->agent_order = zlistx_new();
    zlistx_set_destructor(self->agent_order, (zlistx_destructor_fn *) sched_agent_destroy);
    self->free = zlistx_new();
    self->classes = zhashx_new();
    zhashx_set_destructor(self->classes, (zhashx_destructor_fn *) sched_class_destroy);
    self->active = zlistx_new();
    self->names = zhashx_new();
    zhashx_set_destructor(self->names, (zhashx_destructor_fn *) zstr_free);
    zhashx_set_key_duplicator(self->names, NULL);     /*  the key is the value */
    zhashx_set_key_destructor(self->names, NULL);
    self->halting = zlistx_new();
    self->budgets = zlistx_new();
    self->unadopted = zlistx_new();
    self->cancels = zlistx_new();
    self->stale = zlistx_new();
    zlistx_set_destructor(self->stale, (zlistx_destructor_fn *) zstr_free);
    self->seed = (unsigned) zclock_usecs();
    sched_limits_init(self);
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
    zlistx_destroy(&self->budgets);
    zlistx_destroy(&self->unadopted);
    zlistx_destroy(&self->cancels);
    zlistx_destroy(&self->stale);
    zhashx_destroy(&self->agents);
    zlistx_destroy(&self->agent_order);
    zhashx_destroy(&self->jobs);
    sched_limits_release(self);         /*  after the tasks that point at them */
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
    if (j->nfinal < j->ntasks || j->running > 0 || zlistx_find(self->halting, j)
        || j->budget.pending)
        return false;
    /*  A CANCEL still due for one of its tasks goes nowhere now. */
    for (coord_task_t *t = zlistx_first(self->cancels); t; t = zlistx_next(self->cancels))
        if (t->job == j)
            zlistx_detach_cur(self->cancels);
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

/*  FNV-1a, 64 bits, from a basis drawn once per process: ids are short and
 *  chosen by whoever submits, and a fixed hash would let a submitter
 *  precompute ids that collide and slow every lookup of their job (the
 *  zhashx before it had the same exposure, unseeded). */
static uint64_t
s_id_hash(const char *id)
{
    uint64_t h = s_hash_basis;
    for (const unsigned char *p = (const unsigned char *) id; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h ^ (h >> 29);               /*  the low bits pick the slot: fold the high in */
}

coord_task_t *
coord_job_task(const coord_job_t *j, const char *id)
{
    if (!j || !id || !j->index_cap)
        return NULL;
    size_t mask = j->index_cap - 1;
    for (size_t i = (size_t) s_id_hash(id) & mask; j->index[i]; i = (i + 1) & mask) {
        coord_task_t *t = j->order[j->index[i] - 1];
        if (strcmp(t->spec.id, id) == 0)
            return t;
    }
    return NULL;
}

/*  The task at j->order[k] goes into index. */
static void
s_index_put(const coord_job_t *j, uint32_t *index, size_t cap, size_t k)
{
    size_t i = (size_t) s_id_hash(j->order[k]->spec.id) & (cap - 1);
    while (index[i])
        i = (i + 1) & (cap - 1);
    index[i] = (uint32_t) k + 1;
}

/*  The task last in j->order goes into j's index, which doubles when it
 *  would be over 3/4 full. */
static void
s_index_add(coord_job_t *j)
{
    size_t n = (size_t) j->ntasks;          /*  that task included; an int, fits 32 bits */
    if (n * 4 > j->index_cap * 3) {
        size_t cap = j->index_cap ? j->index_cap * 2 : 16;
        uint32_t *index = xcalloc(cap, sizeof *index);
        for (size_t k = 0; k + 1 < n; k++)
            s_index_put(j, index, cap, k);
        free(j->index);
        j->index = index;
        j->index_cap = cap;
    }
    s_index_put(j, j->index, j->index_cap, n - 1);
}

coord_task_t *
coord_sched_task(coord_sched_t *self, const char *job, const char *id)
{
    coord_job_t *j = coord_sched_job(self, job);
    return coord_job_task(j, id);
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
    for (coord_class_t *c = zlistx_first(self->active); c; c = zlistx_next(self->active)) {
        if (c->head)
            fn(arg, c->head->spec.runner, c->retries, c->n);
    }
}

/*  Grows *v (of *cap pointers) to hold n + 1. */
static void
s_reserve(coord_task_t ***v, size_t *cap, size_t n)
{
    if (n < *cap)
        return;
    *cap = *cap ? *cap * 2 : 16;
    *v = xrealloc(*v, *cap * sizeof **v);
}

void
sched_set_state(coord_task_t *t, sw_tstate_t st)
{
    coord_job_t *j = t->job;
    if (t->state != SW_TS_RUNNING && st == SW_TS_RUNNING)
        sched_res_take(t, 1);
    else if (t->state == SW_TS_RUNNING && st != SW_TS_RUNNING)
        sched_res_take(t, -1);
    j->rev++;
    j->counts[t->state]--;
    j->counts[st]++;
    if (!SW_TS_FINAL(t->state) && SW_TS_FINAL(st)) {
        s_reserve(&j->finals, &j->finals_cap, (size_t) j->nfinal);
        j->finals[j->nfinal++] = t;
        t->final_seq = ++j->final_seq;
    }
    t->state = st;
}

/*  One copy of what a job's tasks have in common (issue 20): the job id
 *  is the job's; the type and runner (a few fixed names) are interned; the
 *  namespace is the previous task's when equal (any string a user chose:
 *  interned, every one would live as long as the coordinator; shared
 *  within the job, it lives as long as the job, like both tasks). */
static void
s_share(coord_sched_t *self, coord_task_t *t)
{
    coord_job_t *j = t->job;
    if (t->spec.job && strcmp(t->spec.job, j->id) == 0) {
        free(t->spec.job);
        t->spec.job = j->id;
        t->interned |= COORD_TI_JOB;
    }
    struct { char **field; uint8_t bit; } f[] = {
        { &t->spec.type, COORD_TI_TYPE }, { &t->spec.runner, COORD_TI_RUNNER } };
    for (size_t i = 0; i < sizeof f / sizeof *f; i++) {
        if (!*f[i].field || !**f[i].field)
            continue;
        const char *in = sched_intern(self, *f[i].field);
        free(*f[i].field);
        *f[i].field = (char *) in;
        t->interned |= f[i].bit;
    }
    const coord_task_t *prev = j->ntasks ? j->order[j->ntasks - 1] : NULL;
    if (t->spec.ns && prev && prev->spec.ns && strcmp(t->spec.ns, prev->spec.ns) == 0) {
        free(t->spec.ns);
        t->spec.ns = prev->spec.ns;
        t->interned |= COORD_TI_NS;
    }
}

/*  Whether spec's fields outside coord_spec_t are an exec task's
 *  defaults, which coord_task_spec gives back without a rest. */
static bool
s_rest_default(const sw_task_t *s)
{
    return !s->prompt && !s->dir && !s->output_schema && !s->after.n && !s->after.v
        && !s->labels.n && !s->labels.k && !s->env.n && !s->env.k
        && s->timeout_s == COORD_SPEC_TIMEOUT_S && s->idle_timeout_s == 0
        && s->max_turns == 0 && s->max_budget_cents == 0 && !s->ws.repo && !s->ws.commit
        && !s->ws.manifest && !s->ws.url && !s->outputs.n && !s->outputs.v
        && !s->resources.n && !s->resources.v;
}

/*  Moves spec into c (spec is left empty). */
static void
s_spec_take(coord_spec_t *c, sw_task_t *spec)
{
    c->id = spec->id;
    c->job = spec->job;
    c->type = spec->type;
    c->runner = spec->runner;
    c->ns = spec->ns;
    c->argv = spec->argv;
    c->max_attempts = spec->max_attempts;
    c->attempt = spec->attempt;
    spec->id = spec->job = spec->type = spec->runner = spec->ns = NULL;
    spec->argv.v = NULL;
    spec->argv.n = 0;
    if (s_rest_default(spec))
        sw_task_release(spec);
    else {
        c->rest = xmalloc(sizeof *c->rest);
        *c->rest = *spec;
    }
    sw_task_init(spec);
}

void
coord_task_spec(const coord_task_t *t, sw_task_t *out)
{
    const coord_spec_t *c = &t->spec;
    if (c->rest)
        *out = *c->rest;
    else {
        sw_task_init(out);
        out->timeout_s = COORD_SPEC_TIMEOUT_S;
    }
    out->id = c->id;
    out->job = c->job;
    out->type = c->type;
    out->runner = c->runner;
    out->ns = c->ns;
    out->argv = c->argv;
    out->max_attempts = c->max_attempts;
    out->attempt = c->attempt;
}

static const sw_strv_t s_no_strv;
static const sw_kv_t s_no_kv;

const sw_strv_t *
coord_task_after(const coord_task_t *t)
{
    return t->spec.rest ? &t->spec.rest->after : &s_no_strv;
}

const sw_strv_t *
coord_task_resources(const coord_task_t *t)
{
    return t->spec.rest ? &t->spec.rest->resources : &s_no_strv;
}

const sw_kv_t *
coord_task_labels(const coord_task_t *t)
{
    return t->spec.rest ? &t->spec.rest->labels : &s_no_kv;
}

const char *
coord_task_prompt(const coord_task_t *t)
{
    return t->spec.rest ? t->spec.rest->prompt : NULL;
}

/*  A new task of job j in state st (spec is consumed). */
coord_task_t *
sched_task_add(coord_sched_t *self, coord_job_t *j, sw_task_t *spec, sw_tstate_t st,
               int64_t submitted_ms)
{
    /*  One allocation holds the task, its command line and its id (issue
     *  20): up to three fewer per task, and their malloc headers. */
    size_t argc = spec->argv.n, idn = strlen(spec->id) + 1;
    size_t argvn = argc ? (argc + 1) * sizeof(char *) : 0;
    for (size_t i = 0; i < argc; i++)
        argvn += strlen(spec->argv.v[i]) + 1;
    coord_task_t *t = xcalloc(1, sizeof *t + argvn + idn);
    s_spec_take(&t->spec, spec);
    char *p = (char *) (t + 1);         /*  at the struct's alignment: a pointer's */
    if (argc) {
        char **v = (char **) (void *) p;
        p += (argc + 1) * sizeof(char *);
        for (size_t i = 0; i < argc; i++) {
            size_t n = strlen(t->spec.argv.v[i]) + 1;
            v[i] = memcpy(p, t->spec.argv.v[i], n);
            p += n;
        }
        v[argc] = NULL;
        sw_strv_release(&t->spec.argv);
        t->spec.argv.v = v;
        t->spec.argv.n = argc;
    }
    char *id = t->spec.id;
    t->spec.id = memcpy(p, id, idn);
    free(id);
    t->interned |= COORD_TI_INLINE;
    t->job = j;
    s_share(self, t);
    t->state = SW_TS_WAITING;
    t->submitted_ms = submitted_ms;
    t->exit_code = -1;
    j->counts[SW_TS_WAITING]++;
    s_reserve(&j->order, &j->order_cap, (size_t) j->ntasks);
    j->order[j->ntasks++] = t;
    j->rev++;
    s_index_add(j);
    sched_res_resolve(self, t);
    if (st != SW_TS_WAITING)
        sched_set_state(t, st);
    return t;
}

const char *
sched_cancel_reason(const coord_task_t *t)
{
    return t->cancel_reason && *t->cancel_reason ? t->cancel_reason : COORD_CANCEL_REASON;
}

/*  t becomes final: out of the queue and off any agent, counted, stored,
 *  reported. The halt of an on_failure: stop job starts here. */
static void
s_end(coord_sched_t *self, coord_task_t *t, sw_tstate_t st, const char *reason, int64_t wall_ms)
{
    sched_dequeue(self, t);
    if (t->agent) {
        /*  Ended by something else than its DONE (a skip, a refused
         *  write): the agent must stop it, and its slot is free. */
        self->ops.cancel(self->ctx, t, t->agent);
        sched_unassign(self, t);
    }
    if (t->adopt_by_ms)
        sched_unadopted_remove(self, t);
    sched_set_state(t, st);
    t->finished_ms = wall_ms;
    if (reason) {
        free(t->reason);
        t->reason = xstrdup(reason);
    }
    coord_job_t *j = t->job;
    if (j->halt && !j->halting
        && (st == SW_TS_FAILED || st == SW_TS_TIMED_OUT || st == SW_TS_LOST)) {
        /*  on_failure: stop. Cancelled at the next dispatch, not from here:
         *  we may be inside a walk of this job's tasks. */
        j->halting = true;
        free(j->halt_reason);
        j->halt_reason = xasprintf("cancelled: job halted after %s %s", t->spec.id,
                                   sw_tstate_name(st));
        zlistx_add_end(self->halting, j);
    }
    self->ops.persist(self->ctx, t);
    self->ops.finished(self->ctx, t);
}

/*  Its dependants are told in a loop over an explicit stack, never by
 *  recursion: a chain of 100,000 tasks whose head fails skips them all
 *  (it overflowed the stack at ~25,000). A skip names the dependency that
 *  ended, and the head of the chain when that one was skipped too, so the
 *  report of the last link still says what started it. */
void
sched_finish(coord_sched_t *self, coord_task_t *t, sw_tstate_t st, const char *reason,
             int64_t wall_ms)
{
    if (SW_TS_FINAL(t->state))
        return;
    s_end(self, t, st, reason, wall_ms);
    size_t n = 0, cap = 0;
    coord_task_t **stack = NULL;
    s_reserve(&stack, &cap, n);
    stack[n++] = t;
    sw_buf_t why;
    sw_buf_init(&why);
    while (n > 0) {
        coord_task_t *p = stack[--n];
        bool ok = p->state == SW_TS_SUCCEEDED;
        coord_task_t *root = p->state == SW_TS_SKIPPED && p->skip_root ? p->skip_root : p;
        if (!p->dependents)
            continue;
        for (coord_task_t *d = zlistx_first(p->dependents); d; d = zlistx_next(p->dependents)) {
            if (ok) {
                if (--d->deps_left == 0 && d->state == SW_TS_WAITING) {
                    sched_enqueue(self, d, false, wall_ms);
                    self->ops.persist(self->ctx, d);
                }
                continue;
            }
            if (SW_TS_FINAL(d->state))
                continue;
            sw_buf_reset(&why);
            if (root == p)
                sw_buf_printf(&why, "dependency %s %s", p->spec.id, sw_tstate_name(p->state));
            else
                sw_buf_printf(&why, "dependency %s skipped (chain from %s %s)", p->spec.id,
                              root->spec.id, sw_tstate_name(root->state));
            d->skip_root = root;
            s_end(self, d, SW_TS_SKIPPED, why.data, wall_ms);
            s_reserve(&stack, &cap, n);
            stack[n++] = d;
        }
    }
    sw_buf_release(&why);
    free(stack);
}

void
sched_link(coord_sched_t *self, coord_task_t *t, int64_t wall_ms)
{
    coord_task_t *failed = NULL;
    const sw_strv_t *after = coord_task_after(t);
    for (size_t i = 0; i < after->n; i++) {
        coord_task_t *dep = coord_job_task(t->job, after->v[i]);
        if (!dep || dep->state == SW_TS_SUCCEEDED)
            continue;
        if (SW_TS_FINAL(dep->state))
            failed = dep;
        else {
            t->deps_left++;
            if (!dep->dependents)
                dep->dependents = zlistx_new();
            zlistx_add_end(dep->dependents, t);
        }
    }
    if (t->state == SW_TS_RUNNING)
        return;
    if (failed) {
        coord_task_t *root = failed->state == SW_TS_SKIPPED && failed->skip_root
                           ? failed->skip_root : failed;
        char why[512];
        if (root == failed)
            snprintf(why, sizeof why, "dependency %s %s", failed->spec.id,
                     sw_tstate_name(failed->state));
        else
            snprintf(why, sizeof why, "dependency %s skipped (chain from %s %s)",
                     failed->spec.id, root->spec.id, sw_tstate_name(root->state));
        t->skip_root = root;
        sched_finish(self, t, SW_TS_SKIPPED, why, wall_ms);
    }
    else if (t->deps_left == 0)
        sched_enqueue(self, t, false, wall_ms);
}

coord_task_t *
coord_sched_submit(coord_sched_t *self, sw_task_t *spec, int64_t wall_ms, sw_err_t *err)
{
    coord_job_t *j = coord_sched_job_ensure(self, spec->job, wall_ms);
    j->complete_ms = 0;
    if (coord_job_task(j, spec->id)) {
        sw_err_set(err, SW_EINVAL, "task '%s' already exists in job '%s'", spec->id, j->id);
        sw_task_release(spec);
        return NULL;
    }
    for (size_t i = 0; i < spec->after.n; i++)
        if (!coord_job_task(j, spec->after.v[i])) {
            sw_err_set(err, SW_ENOTFOUND, "task '%s': unknown dependency '%s' in job '%s' "
                       "(spawn it first)", spec->id, spec->after.v[i], j->id);
            sw_task_release(spec);
            return NULL;
        }
    coord_task_t *t = sched_task_add(self, j, spec, SW_TS_WAITING, wall_ms);
    t->is_new = true;
    sched_link(self, t, wall_ms);
    if (t->state != SW_TS_SKIPPED)
        self->ops.persist(self->ctx, t);
    return t;
}

/*  --- DONE --------------------------------------------------------------------- */

int64_t
coord_sched_backoff_ms(int64_t attempt)
{
    int64_t ms = 1000;
    for (int64_t i = 1; i < attempt && ms < 60000; i++)
        ms *= 2;
    return ms > 60000 ? 60000 : ms;
}

/*  The provider rate-limited t's run (issue 18 §4): unless it has been
 *  throttled COORD_MAX_THROTTLES times, it is queued again after a backoff
 *  of 1, 2, 4 ... 60 s (+-25% jitter) without using one of its attempts
 *  (its attempt number still grows: a late DONE of this run is stale), and
 *  its limits are halved. Returns whether it was queued. */
static bool
s_throttled(coord_sched_t *self, coord_task_t *t, coord_agent_t *a, int64_t now_ms,
            int64_t wall_ms)
{
    sched_res_throttled(self, t);
    if (t->throttled >= COORD_MAX_THROTTLES)
        return false;
    t->throttled++;
    self->stats.throttled++;
    int64_t ms = coord_sched_backoff_ms(t->throttled);
    ms += (int64_t) (rand_r(&self->seed) % (unsigned) (ms / 2 + 1)) - ms / 4;
    t->not_before_ms = now_ms + ms;
    log_info("task %s/%s attempt %lld rate-limited on %s (%d times): queued again in %.1f s",
             t->job->id, t->spec.id, (long long) t->spec.attempt, a->id, t->throttled,
             (double) ms / 1000);
    free(t->reason);
    t->reason = xasprintf("queued again: rate-limited by the provider (%d times)", t->throttled);
    sched_enqueue(self, t, false, wall_ms + ms);
    self->ops.persist(self->ctx, t);
    return true;
}

int
coord_sched_done(coord_sched_t *self, coord_agent_t *a, const sw_ref_t *r, int64_t now_ms,
                 int64_t wall_ms)
{
    coord_task_t *t = coord_sched_task(self, r->job, r->id);
    if (!t || t->agent != a || t->spec.attempt != r->attempt || t->state != SW_TS_RUNNING)
        return -1;
    sched_unassign(self, t);
    a->completed++;
    t->exit_code = (int) r->exit_code;
    int st = sw_tstate_parse(r->status);
    if (st < 0 || !SW_TS_FINAL(st) || st == SW_TS_SKIPPED)
        st = SW_TS_FAILED;          /*  sw_ref_unpack checked it; defence in depth */
    const char *cancelled = NULL;
    char by_agent[SW_MAX_ID + 64];
    if (t->cancel_requested && st != SW_TS_SUCCEEDED) {
        st = SW_TS_CANCELLED;
        cancelled = sched_cancel_reason(t);
    }
    else if (st == SW_TS_CANCELLED) {
        /*  Nobody here asked for it (a coordinator before a restart did,
         *  or the agent stopped it itself): say who. */
        snprintf(by_agent, sizeof by_agent, "cancelled by agent %s", a->id);
        cancelled = by_agent;
    }
    if (st == SW_TS_SUCCEEDED)
        sched_res_succeeded(t);
    if (r->throttled && st != SW_TS_SUCCEEDED && !cancelled
        && s_throttled(self, t, a, now_ms, wall_ms))
        return 0;
    bool retry = r->retryable && st != SW_TS_SUCCEEDED && st != SW_TS_CANCELLED;
    if (retry && !sched_tried(t, a))
        sw_strv_push(&t->tried, a->id);
    if (retry && sched_attempts_used(t) < t->spec.max_attempts) {
        int64_t ms = coord_sched_backoff_ms(sched_attempts_used(t));
        ms += (int64_t) (rand_r(&self->seed) % (unsigned) (ms / 2 + 1)) - ms / 4;
        t->not_before_ms = now_ms + ms;
        log_info("task %s/%s attempt %lld %s on %s: retrying in %.1f s", t->job->id, t->spec.id,
                 (long long) t->spec.attempt, sw_tstate_name((sw_tstate_t) st), a->id,
                 (double) ms / 1000);
        sched_enqueue(self, t, false, wall_ms + ms);
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
                     (long long) sched_attempts_used(t), (long long) t->spec.max_attempts);
        log_warnx("task %s/%s %s", t->job->id, t->spec.id, reason);
    }
    else if (r->throttled && !cancelled)
        snprintf(reason, sizeof reason, "rate-limited by the provider %d times; gave up",
                 t->throttled);
    sched_finish(self, t, (sw_tstate_t) st, cancelled ? cancelled : reason[0] ? reason : NULL,
                 wall_ms);
    return 0;
}

/*  --- cancel and refusal ----------------------------------------------------------- */

/*  One unfinished task: ended now, or asked to stop. */
static void
s_cancel_one(coord_sched_t *self, coord_task_t *t, const char *reason, int64_t wall_ms)
{
    if (t->state != SW_TS_RUNNING) {
        sched_finish(self, t, SW_TS_CANCELLED, reason, wall_ms);
        return;
    }
    t->cancel_requested = true;
    free(t->cancel_reason);
    t->cancel_reason = xstrdup(reason);
    self->ops.persist(self->ctx, t);            /*  a restart keeps the request */
    if (t->agent)
        self->ops.cancel(self->ctx, t, t->agent);
    /*  else: restored as running and not claimed yet. Its agent gets the
     *  CANCEL when it claims it (sched_adopt); if nobody claims it, the
     *  adoption window ends it (coord_sched_resolve). */
}

int
coord_sched_cancel(coord_sched_t *self, coord_job_t *job, const char *id, const char *reason,
                   int64_t wall_ms)
{
    if (!reason || !*reason)
        reason = COORD_CANCEL_REASON;
    if (id) {
        coord_task_t *t = coord_job_task(job, id);
        if (!t || SW_TS_FINAL(t->state) || t->cancel_requested)
            return 0;
        s_cancel_one(self, t, reason, wall_ms);
        return 1;
    }
    /*  A snapshot first: a cancel skips dependants, which changes states
     *  ahead in the walk. */
    coord_task_t **todo = xmalloc(((size_t) job->ntasks + 1) * sizeof *todo);
    size_t n = 0;
    for (int i = 0; i < job->ntasks; i++) {
        coord_task_t *t = job->order[i];
        if (!SW_TS_FINAL(t->state) && !t->cancel_requested)
            todo[n++] = t;
    }
    int cancelled = 0;
    for (size_t i = 0; i < n; i++) {
        if (SW_TS_FINAL(todo[i]->state))   /*  skipped by an earlier cancel */
            continue;
        s_cancel_one(self, todo[i], reason, wall_ms);
        cancelled++;
    }
    free(todo);
    return cancelled;
}

bool
coord_sched_fail(coord_sched_t *self, coord_task_t *t, const char *reason, int64_t wall_ms)
{
    t->refused = true;
    if (SW_TS_FINAL(t->state))
        return false;
    sched_finish(self, t, SW_TS_FAILED, reason, wall_ms);
    return true;
}

void
coord_sched_cancel_unsent(coord_sched_t *self, coord_task_t *t, int64_t wall_ms)
{
    if (t->state != SW_TS_RUNNING || !t->cancel_requested || !t->agent)
        return;
    sched_unassign(self, t);     /*  no CANCEL: it never had the task */
    sched_finish(self, t, SW_TS_CANCELLED, sched_cancel_reason(t), wall_ms);
}
