/*  coord_limits -- farm-wide limits on shared resources (issue 18 §3, §4;
 *  coord_sched.h, coord_sched_int.h).
 *
 *  A limit caps how many tasks that take a resource run at once across
 *  all agents, whatever their slots. A task's use is tied to its state
 *  (sched_set_state): taken when it becomes running (dispatch, or a
 *  running task restored after a restart), given back when it stops
 *  running for any reason (DONE, its agent lost, cancelled, skipped,
 *  resolved after a restart). So the count is right by construction, and
 *  after a restart it is rebuilt from the running tasks alone.
 *
 *  The effective limit adapts to the provider like TCP's congestion window
 *  (AIMD): a rate-limited run halves it (never below 1), once per burst:
 *  runs dispatched before the last halving were sent at the old rate, so
 *  their 429s are the same burst and do not halve it again;
 *  COORD_LIMIT_RAISE_AFTER successes in a row raise it by one, never above
 *  the configured limit. */
#include "coord_sched_int.h"

#include <ctype.h>
#include <string.h>

static void
s_limit_destroy(coord_limit_t **self_p)
{
    coord_limit_t *l = *self_p;
    if (!l)
        return;
    free(l->name);
    free(l);
    *self_p = NULL;
}

void
sched_limits_init(coord_sched_t *self)
{
    self->limits = zhashx_new();
    self->limit_order = zlistx_new();
    zlistx_set_destructor(self->limit_order, (zlistx_destructor_fn *) s_limit_destroy);
}

void
sched_limits_release(coord_sched_t *self)
{
    zhashx_destroy(&self->limits);
    zlistx_destroy(&self->limit_order);
}

int
coord_limit_parse(const char *arg, char **name, long long *n, sw_err_t *err)
{
    *name = NULL;
    const char *eq = arg ? strchr(arg, '=') : NULL;
    if (!eq)
        return sw_err_set(err, SW_EINVAL, "--limit wants NAME=N (e.g. codex=8), got '%.80s'",
                          arg ? arg : "");
    char *nm = xstrndup(arg, (size_t) (eq - arg));
    if (!sw_resource_valid(nm)) {
        sw_err_set(err, SW_EINVAL, "--limit %.80s: invalid resource name '%.80s' (1..%d of "
                   "A-Z a-z 0-9 . _ -, starting with a letter or digit)", arg, nm,
                   SW_MAX_RESOURCE_NAME);
        free(nm);
        return -1;
    }
    long long v;
    if (!isdigit((unsigned char) eq[1]) || sw_parse_int(eq + 1, 1, COORD_LIMIT_MAX, &v) < 0) {
        sw_err_set(err, SW_EINVAL, "--limit %.80s: N must be a whole number from 1 to %d "
                   "(got '%.40s')", arg, COORD_LIMIT_MAX, eq + 1);
        free(nm);
        return -1;
    }
    *name = nm;
    *n = v;
    return 0;
}

int
coord_sched_limit_set(coord_sched_t *self, const char *name, long long n, sw_err_t *err)
{
    if (!sw_resource_valid(name))
        return sw_err_set(err, SW_EINVAL, "invalid resource name '%.80s'", name ? name : "");
    if (n < 1 || n > COORD_LIMIT_MAX)
        return sw_err_set(err, SW_EINVAL, "limit %s: N must be 1..%d", name, COORD_LIMIT_MAX);
    coord_limit_t *l = zhashx_lookup(self->limits, name);
    if (!l && zhashx_size(self->limits) >= COORD_MAX_LIMITS)
        return sw_err_set(err, SW_EINVAL, "at most %d limits (--limit %s=%lld is one too many)",
                          COORD_MAX_LIMITS, name, n);
    if (!l) {
        l = xcalloc(1, sizeof *l);
        l->name = xstrdup(name);
        zhashx_insert(self->limits, l->name, l);
        zlistx_add_end(self->limit_order, l);
    }
    l->limit = l->effective = (int) n;
    l->successes = 0;
    return 0;
}

zlistx_t *
coord_sched_limits(coord_sched_t *self)
{
    return self->limit_order;
}

/*  Adds l to v[*n] unless it is NULL or there already. */
static void
s_add(coord_limit_t **v, int *n, coord_limit_t *l)
{
    if (!l)
        return;
    for (int i = 0; i < *n; i++)
        if (v[i] == l)
            return;
    v[(*n)++] = l;
}

void
sched_res_resolve(coord_sched_t *self, coord_task_t *t)
{
    if (zhashx_size(self->limits) == 0)
        return;
    coord_limit_t *v[SW_MAX_RESOURCES + 1];
    int n = 0;
    const char *runner = t->spec.runner;
    if (runner && (strcmp(runner, "codex") == 0 || strcmp(runner, "claude") == 0))
        s_add(v, &n, zhashx_lookup(self->limits, runner));
    const sw_strv_t *res = coord_task_resources(t);
    for (size_t i = 0; i < res->n && n <= SW_MAX_RESOURCES; i++)
        s_add(v, &n, zhashx_lookup(self->limits, res->v[i]));
    if (n == 0)
        return;
    /*  exactly what it takes: a million queued tasks pay 8 bytes a limit */
    t->res = xmalloc((size_t) n * sizeof *t->res);
    memcpy(t->res, v, (size_t) n * sizeof *v);
    t->nres = n;
}

void
sched_res_take(coord_task_t *t, int delta)
{
    for (int i = 0; i < t->nres; i++)
        t->res[i]->used += delta;
}

bool
sched_res_blocked(const coord_task_t *t)
{
    for (int i = 0; i < t->nres; i++)
        if (t->res[i]->used >= t->res[i]->effective)
            return true;
    return false;
}

void
sched_res_throttled(coord_sched_t *self, coord_task_t *t)
{
    for (int i = 0; i < t->nres; i++) {
        coord_limit_t *l = t->res[i];
        l->throttled++;
        l->successes = 0;
        if (t->dispatch_seq <= l->cut_seq)
            continue;                   /*  same burst: halved already */
        int before = l->effective;
        l->effective = l->effective / 2 > 1 ? l->effective / 2 : 1;
        l->cut_seq = self->dispatch_seq;
        if (l->effective != before)
            log_warnx("limit %s: rate-limited by the provider, effective limit %d -> %d "
                      "(of %d)", l->name, before, l->effective, l->limit);
    }
}

void
sched_res_succeeded(coord_task_t *t)
{
    for (int i = 0; i < t->nres; i++) {
        coord_limit_t *l = t->res[i];
        if (l->effective >= l->limit)
            continue;
        if (++l->successes >= COORD_LIMIT_RAISE_AFTER) {
            l->effective++;
            l->successes = 0;
            log_info("limit %s: %d successes in a row, effective limit %d (of %d)", l->name,
                     COORD_LIMIT_RAISE_AFTER, l->effective, l->limit);
        }
    }
}

int64_t
sched_attempts_used(const coord_task_t *t)
{
    return t->spec.attempt - t->throttled;
}
