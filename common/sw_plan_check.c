/*  sw_plan_check -- validation and dependency order of a parsed plan
 *  (see sw_plan_int.h) */
#include "sw_plan_int.h"

#include <stdlib.h>
#include <string.h>

/*  --- checks and order ------------------------------------------------------------ */

static int
s_idx_cmp(const void *a, const void *b)
{
    const sw_plan_idx_t *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : x->i < y->i ? -1 : x->i > y->i;
}

/*  The first task with this id, or -1. */
static ssize_t
s_find(sw_plan_ctx_t *c, const char *id)
{
    size_t lo = 0, hi = c->nidx;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(c->idx[mid].id, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < c->nidx && strcmp(c->idx[lo].id, id) == 0 ? (ssize_t) c->idx[lo].i : -1;
}

/*  A binary min-heap of task indices: the ready task that comes first in
 *  the file is placed first, as the plan was written. */
typedef struct {
    size_t *v, n;
} s_heap_t;

static void
s_heap_push(s_heap_t *h, size_t x)
{
    size_t i = h->n++;
    while (i > 0 && h->v[(i - 1) / 2] > x) {
        h->v[i] = h->v[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->v[i] = x;
}

static size_t
s_heap_pop(s_heap_t *h)
{
    size_t top = h->v[0], x = h->v[--h->n], i = 0;
    for (;;) {
        size_t l = 2 * i + 1, m = l + 1 < h->n && h->v[l + 1] < h->v[l] ? l + 1 : l;
        if (l >= h->n || h->v[m] >= x)
            break;
        h->v[i] = h->v[m];
        i = m;
    }
    if (h->n)
        h->v[i] = x;
    return top;
}

/*  Validates every task, ids, dependencies; orders the tasks so each comes
 *  after what it depends on (stable: file order otherwise). */
void
sw_plan_check(sw_plan_ctx_t *c, bool commands)
{
    c->idx = xcalloc(c->n + 1, sizeof *c->idx);
    c->nidx = 0;
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i].t.task.id)
            c->idx[c->nidx++] = (sw_plan_idx_t) { c->v[i].t.task.id, i };
    qsort(c->idx, c->nidx, sizeof *c->idx, s_idx_cmp);
    for (size_t i = 0; i < c->n; i++) {
        sw_plan_entry_t *e = &c->v[i];
        sw_task_t *t = &e->t.task;
        if (!t->id)
            continue;
        /*  command lists: ids unique by construction, no dependencies */
        ssize_t first = commands ? -1 : s_find(c, t->id);
        if (first >= 0 && (size_t) first < i)
            sw_plan_err_at(c, e->t.line, e->t.column, "duplicate id '%s' (first at line %d)",
                     t->id, c->v[first].t.line);
        for (size_t d = 0; d < t->after.n; d++)
            if (s_find(c, t->after.v[d]) < 0) {
                int line = e->dep_line && e->dep_line[d] ? e->dep_line[d] : e->t.line;
                int col = e->dep_col && e->dep_col[d] ? e->dep_col[d] : e->t.column;
                sw_plan_err_at(c, line, col, "'%s' depends on '%s', which is not a task of this plan",
                         t->id, t->after.v[d]);
            }
        /*  the task's own rules, with a placeholder job */
        bool has_text = t->prompt != NULL;
        if (t->argv.n && !t->runner)
            t->runner = xstrdup("exec");
        if (t->argv.n && !t->type)
            t->type = xstrdup("cmd");
        char *job = t->job;
        t->job = xstrdup("plan");
        bool had_ns = t->ns != NULL;
        sw_err_t err = { 0 };
        if (sw_task_validate(t, &err) < 0) {
            const char *msg = err.msg;
            if (strncmp(msg, "task ", 5) == 0 && strchr(msg, ':'))
                msg = strchr(msg, ':') + 2;
            sw_plan_err_at(c, e->t.line, e->t.column, "%s: %s", t->id, msg);
        }
        (void) has_text;
        free(t->job);
        t->job = job;
        if (!had_ns) {          /*  the job's namespace applies, not the default */
            free(t->ns);
            t->ns = NULL;
        }
    }
    if (c->errors->n || commands) {
        free(c->idx);
        c->idx = NULL;
        return;
    }

    /*  Kahn's algorithm, taking the earliest ready task each round; each
     *  dependency is an edge from the task it names (found by id) to the
     *  task that waits for it. */
    size_t n = c->n, done = 0, nedges = 0;
    int *left = xcalloc(n + 1, sizeof *left);
    bool *placed = xcalloc(n + 1, sizeof *placed);
    sw_plan_entry_t *ordered = xcalloc(n + 1, sizeof *ordered);
    size_t *first = xcalloc(n + 1, sizeof *first);     /*  CSR: edges of k at first[k].. */
    for (size_t i = 0; i < n; i++) {
        left[i] = (int) c->v[i].t.task.after.n;
        for (size_t d = 0; d < c->v[i].t.task.after.n; d++)
            first[s_find(c, c->v[i].t.task.after.v[d])]++, nedges++;
    }
    for (size_t k = 0, sum = 0; k <= n; k++) {
        size_t cnt = first[k];
        first[k] = sum;
        sum += cnt;
    }
    size_t *edge = xcalloc(nedges + 1, sizeof *edge), *fill = xcalloc(n + 1, sizeof *fill);
    for (size_t i = 0; i < n; i++)
        for (size_t d = 0; d < c->v[i].t.task.after.n; d++) {
            size_t k = (size_t) s_find(c, c->v[i].t.task.after.v[d]);
            edge[first[k] + fill[k]++] = i;
        }
    s_heap_t ready = { xcalloc(n + 1, sizeof *ready.v), 0 };
    for (size_t i = 0; i < n; i++)
        if (left[i] == 0)
            s_heap_push(&ready, i);
    while (ready.n) {
        size_t i = s_heap_pop(&ready);
        placed[i] = true;
        ordered[done++] = c->v[i];
        for (size_t e = first[i]; e < first[i + 1]; e++)
            if (--left[edge[e]] == 0)
                s_heap_push(&ready, edge[e]);
    }
    free(ready.v);
    free(edge);
    free(fill);
    free(first);
    if (done < n) {
        /*  Walk dependencies among the unplaced tasks until one repeats. */
        size_t start = 0;
        while (placed[start])
            start++;
        size_t *path = xcalloc(n + 1, sizeof *path), len = 0, at = start;
        bool *seen = xcalloc(n + 1, sizeof *seen);
        while (!seen[at]) {
            seen[at] = true;
            path[len++] = at;
            const sw_strv_t *after = &c->v[at].t.task.after;
            for (size_t d = 0; d < after->n; d++) {
                ssize_t k = s_find(c, after->v[d]);
                if (k >= 0 && !placed[k]) {
                    at = (size_t) k;
                    break;
                }
            }
        }
        size_t from = 0;
        while (path[from] != at)
            from++;
        sw_buf_t b;
        sw_buf_init(&b);
        /*  A long cycle is said by its ends and its length: the whole of
         *  it would be cut off mid-way (an error line is 512 bytes). */
        size_t count = len - from;
        for (size_t i = from; i < len; i++) {
            if (count > 8 && i == from + 4) {
                sw_buf_addstr(&b, "... -> ");
                i = len - 3;
                continue;
            }
            sw_buf_printf(&b, "%s -> ", c->v[path[i]].t.task.id);
        }
        sw_buf_addstr(&b, c->v[at].t.task.id);
        if (count > 8)
            sw_plan_err_at(c, c->v[at].t.line, c->v[at].t.column, "dependency cycle of %zu "
                           "tasks: %s (each depends on the next)", count, b.data);
        else
            sw_plan_err_at(c, c->v[at].t.line, c->v[at].t.column,
                           "dependency cycle: %s (each depends on the next)", b.data);
        sw_buf_release(&b);
        free(path);
        free(seen);
        free(ordered);
    }
    else {
        memcpy(c->v, ordered, n * sizeof *ordered);
        free(ordered);
    }
    free(left);
    free(placed);
    free(c->idx);
    c->idx = NULL;
}

void
sw_plan_ctx_to_plan(sw_plan_ctx_t *c)
{
    sw_plan_t *p = c->plan;
    p->tasks = xcalloc(c->n + 1, sizeof *p->tasks);
    for (size_t i = 0; i < c->n; i++) {
        p->tasks[i] = c->v[i].t;
        free(c->v[i].dep_line);
        free(c->v[i].dep_col);
    }
    p->n = c->n;
    free(c->v);
    c->v = NULL;
    c->n = 0;
}

void
sw_plan_ctx_drop(sw_plan_ctx_t *c)
{
    for (size_t i = 0; i < c->n; i++) {
        sw_task_release(&c->v[i].t.task);
        free(c->v[i].t.name);
        free(c->v[i].t.workspace);
        free(c->v[i].dep_line);
        free(c->v[i].dep_col);
    }
    free(c->v);
    c->v = NULL;
    c->n = 0;
}
