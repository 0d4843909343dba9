/*  sw_plan -- see sw_plan.h */
#include "sw_plan.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "sw_selftest.h"

#define MAX_ERRORS 25

const char sw_plan_default_template[] =
    "You are {{worker_name}} (worker id {{worker_id}}), one of several workers of a swarm "
    "working on: {{plan_name}}.\n"
    "\n"
    "Your task: {{worker_task}}\n"
    "Keywords: {{task_keywords}}\n"
    "\n"
    "Before you start, search the shared memory (namespace results) for what other workers "
    "found. When you are done, store your result under the key result-{{worker_id}} in "
    "namespace results (with the swarm memory tools when they are available), and end with a "
    "short summary of what you did.\n";

/*  A task while the plan is parsed: where its dependencies were written. */
typedef struct {
    sw_plan_task_t t;
    int           *dep_line, *dep_col;  /*  per entry of t.task.after; 0 = implied */
    bool           deps_given;
} s_entry_t;

/*  The tasks by id, sorted, for lookups in O(log n): a plan of 100,000
 *  stages is checked and ordered in well under a second (a scan per
 *  lookup and a quadratic sort took hours). */
typedef struct {
    const char *id;
    size_t      i;
} s_idx_t;

typedef struct {
    const char      *file;
    yaml_document_t *doc;
    sw_strv_t       *errors;
    sw_plan_t       *plan;
    s_entry_t       *v;
    size_t           n, cap;
    s_idx_t         *idx;       /*  while s_check runs */
    size_t           nidx;
} s_ctx_t;

static void s_err_at(s_ctx_t *c, int line, int col, const char *fmt, ...) SW_PRINTF(4, 5);

static void
s_err_at(s_ctx_t *c, int line, int col, const char *fmt, ...)
{
    if (c->errors->n >= MAX_ERRORS)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char *full = xasprintf("%s:%d:%d: %s", c->file, line, col, msg);
    sw_strv_push(c->errors, full);
    free(full);
    if (c->errors->n == MAX_ERRORS)
        sw_strv_push(c->errors, "(more errors not shown)");
}

#define LINE(n) ((int) (n)->start_mark.line + 1)
#define COL(n)  ((int) (n)->start_mark.column + 1)
#define s_err(c, node, ...) s_err_at(c, LINE(node), COL(node), __VA_ARGS__)

static yaml_node_t *
s_node(s_ctx_t *c, int idx)
{
    return yaml_document_get_node(c->doc, idx);
}

static const char *
s_scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *) n->data.scalar.value : NULL;
}

static bool
s_null(const yaml_node_t *n)
{
    const char *s = s_scalar(n);
    return s && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE
        && (!*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0);
}

static const char *
s_kind(const yaml_node_t *n)
{
    return n->type == YAML_MAPPING_NODE ? "a mapping" : n->type == YAML_SEQUENCE_NODE
         ? "a list" : "a scalar";
}

static bool
s_want_str(s_ctx_t *c, const yaml_node_t *n, const char *what, char **out)
{
    const char *s = s_scalar(n);
    if (!s || s_null(n)) {
        s_err(c, n, "%s must be a string, not %s", what, s_null(n) ? "empty" : s_kind(n));
        return false;
    }
    free(*out);
    *out = xstrdup(s);
    return true;
}

static bool
s_want_int(s_ctx_t *c, const yaml_node_t *n, const char *what, long long min, long long max,
           int64_t *out)
{
    const char *s = s_scalar(n);
    long long v;
    if (!s || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || sw_parse_int(s, min, max, &v) < 0) {
        s_err(c, n, "%s must be a whole number from %lld to %lld%s%s%s", what, min, max,
              s ? " (got '" : "", s ? s : "", s ? "')" : "");
        return false;
    }
    *out = v;
    return true;
}

static bool
s_want_usd(s_ctx_t *c, const yaml_node_t *n, const char *what, int64_t *cents)
{
    const char *s = s_scalar(n);
    long long v;
    if (!s || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE
        || sw_parse_usd(s, SW_MAX_BUDGET_CENTS, &v) < 0) {
        s_err(c, n, "%s must be dollars with at most two decimals, like 2.50%s%s%s", what,
              s ? " (got '" : "", s ? s : "", s ? "')" : "");
        return false;
    }
    *cents = v;
    return true;
}

/*  A string or a list of strings. Records each item's position. */
static bool
s_want_list(s_ctx_t *c, const yaml_node_t *n, const char *what, sw_strv_t *out, int **lines,
            int **cols)
{
    size_t count = 0;
    if (n->type == YAML_SCALAR_NODE && !s_null(n))
        count = 1;
    else if (n->type == YAML_SEQUENCE_NODE)
        count = (size_t) (n->data.sequence.items.top - n->data.sequence.items.start);
    else if (!s_null(n)) {
        s_err(c, n, "%s must be a list of strings, not %s", what, s_kind(n));
        return false;
    }
    if (lines) {
        *lines = xcalloc(count + 1, sizeof **lines);
        *cols = xcalloc(count + 1, sizeof **cols);
    }
    for (size_t i = 0; i < count; i++) {
        const yaml_node_t *item = n->type == YAML_SCALAR_NODE ? n
                                : s_node(c, n->data.sequence.items.start[i]);
        const char *s = s_scalar(item);
        if (!s || s_null(item)) {
            s_err(c, item, "%s must be a list of strings; this item is %s", what,
                  s_null(item) ? "empty" : s_kind(item));
            return false;
        }
        sw_strv_push(out, s);
        if (lines) {
            (*lines)[i] = LINE(item);
            (*cols)[i] = COL(item);
        }
    }
    return true;
}

static bool
s_want_map(s_ctx_t *c, const yaml_node_t *n, const char *what, sw_kv_t *out)
{
    if (n->type != YAML_MAPPING_NODE) {
        s_err(c, n, "%s must be a mapping of strings (K: V), not %s", what, s_kind(n));
        return false;
    }
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const char *k = s_scalar(s_node(c, p->key)), *v = s_scalar(s_node(c, p->value));
        if (!k || !v) {
            s_err(c, s_node(c, v ? p->key : p->value), "%s must map strings to strings", what);
            return false;
        }
        sw_kv_set(out, k, v);
    }
    return true;
}

static bool
s_is(const char *key, const char *a, const char *b)
{
    return strcmp(key, a) == 0 || (b && strcmp(key, b) == 0);
}

static s_entry_t *
s_add(s_ctx_t *c, const yaml_node_t *where)
{
    if (c->n == c->cap)
        c->v = xrealloc(c->v, (c->cap = c->cap ? 2 * c->cap : 16) * sizeof *c->v);
    s_entry_t *e = &c->v[c->n++];
    memset(e, 0, sizeof *e);
    sw_task_init(&e->t.task);
    e->t.line = LINE(where);
    e->t.column = COL(where);
    return e;
}

static const char *const s_task_keys =
    "id, name, type, task, runner, command, timeout, idle_timeout, max_attempts, max_turns, "
    "max_budget_usd, labels, env, dir, depends_on, workspace, outputs";

/*  One task mapping (a worker, a stage, a spawn_workers item). */
static s_entry_t *
s_task(s_ctx_t *c, const yaml_node_t *n, const char *section, const char *default_type,
       const char *default_id)
{
    if (n->type != YAML_MAPPING_NODE) {
        s_err(c, n, "each %s entry must be a mapping (id, type, task, ...), not %s", section,
              s_kind(n));
        return NULL;
    }
    s_entry_t *e = s_add(c, n);
    sw_task_t *t = &e->t.task;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = s_node(c, p->key), *vn = s_node(c, p->value);
        const char *k = s_scalar(kn);
        if (!k) {
            s_err(c, kn, "keys must be strings");
            continue;
        }
        if (s_is(k, "id", NULL))
            s_want_str(c, vn, "id", &t->id);
        else if (s_is(k, "name", NULL))
            s_want_str(c, vn, "name", &e->t.name);
        else if (s_is(k, "type", NULL))
            s_want_str(c, vn, "type", &t->type);
        else if (s_is(k, "task", "prompt"))
            s_want_str(c, vn, "task", &t->prompt);
        else if (s_is(k, "runner", NULL))
            s_want_str(c, vn, "runner", &t->runner);
        else if (s_is(k, "dir", NULL))
            s_want_str(c, vn, "dir", &t->dir);
        else if (s_is(k, "timeout", "timeout_s"))
            s_want_int(c, vn, "timeout", 1, 7 * 86400, &t->timeout_s);
        else if (s_is(k, "idle_timeout", "idle_timeout_s"))
            s_want_int(c, vn, "idle_timeout", 0, 7 * 86400, &t->idle_timeout_s);
        else if (s_is(k, "max_attempts", "maxAttempts"))
            s_want_int(c, vn, "max_attempts", 1, 100, &t->max_attempts);
        else if (s_is(k, "max_turns", "maxTurns"))
            s_want_int(c, vn, "max_turns", 1, SW_MAX_TURNS, &t->max_turns);
        else if (s_is(k, "max_budget_usd", "maxBudgetUsd"))
            s_want_usd(c, vn, "max_budget_usd", &t->max_budget_cents);
        else if (s_is(k, "labels", NULL))
            s_want_map(c, vn, "labels", &t->labels);
        else if (s_is(k, "env", NULL))
            s_want_map(c, vn, "env", &t->env);
        else if (s_is(k, "workspace", NULL))
            s_want_str(c, vn, "workspace", &e->t.workspace);
        else if (s_is(k, "outputs", NULL))
            s_want_list(c, vn, "outputs", &t->outputs, NULL, NULL);
        else if (s_is(k, "depends_on", "after") && e->deps_given)
            s_err(c, kn, "depends_on and after are one key: give one of them");
        else if (s_is(k, "depends_on", "after")) {
            e->deps_given = true;
            s_want_list(c, vn, k, &t->after, &e->dep_line, &e->dep_col);
        }
        else if (s_is(k, "command", "argv") && t->argv.n > 0)
            s_err(c, kn, "command and argv are one key: give one of them");
        else if (s_is(k, "command", "argv")) {
            if (vn->type == YAML_SCALAR_NODE && s_scalar(vn)) {
                const char *why = NULL;
                if (sw_shlex(s_scalar(vn), &t->argv, &why) < 0)
                    s_err(c, vn, "command: %s", why);
            }
            else
                s_want_list(c, vn, "command", &t->argv, NULL, NULL);
        }
        else
            s_err(c, kn, "unknown key '%s' in %s (known: %s)", k, section, s_task_keys);
    }
    if (!t->id && e->t.name && sw_id_valid(e->t.name))
        t->id = xstrdup(e->t.name);
    /*  default_id "" means the caller names the task (spawn_workers) */
    if (!t->id && default_id && *default_id)
        t->id = xstrdup(default_id);
    if (!t->id && !default_id)
        s_err(c, n, "this %s entry needs an id (or a name usable as one)", section);
    if (!t->type && default_type)
        t->type = xstrdup(default_type);
    return e;
}

/*  --- the two explicit shapes --------------------------------------------------- */

static void
s_tasks_list(s_ctx_t *c, const yaml_node_t *n, const char *section, bool pipeline)
{
    if (n->type != YAML_SEQUENCE_NODE) {
        s_err(c, n, "%s must be a list of tasks, not %s", section, s_kind(n));
        return;
    }
    const char *prev = NULL;
    for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top; i++) {
        s_entry_t *e = s_task(c, s_node(c, *i), section, NULL, NULL);
        if (!e)
            continue;
        /*  A stage without depends_on follows the stage before it. */
        if (pipeline && !e->deps_given && prev) {
            sw_strv_push(&e->t.task.after, prev);
            e->dep_line = xcalloc(2, sizeof *e->dep_line);
            e->dep_col = xcalloc(2, sizeof *e->dep_col);
        }
        prev = e->t.task.id;
    }
}

/*  An aggregate task: depends on the tasks [from, n) and reads their
 *  results through the agent's {{result:ID}} expansion. */
static void
s_aggregate(s_ctx_t *c, const yaml_node_t *at, const yaml_node_t *n, size_t from)
{
    s_entry_t *e;
    if (n && n->type == YAML_MAPPING_NODE)
        e = s_task(c, n, "aggregate", "docs", "aggregate");
    else {
        e = s_add(c, at);
        if (n && !s_null(n))
            s_err(c, n, "aggregate must be a mapping (id, type, task, ...) or empty");
        e->t.task.type = xstrdup("docs");
    }
    if (!e)
        return;
    if (!e->t.task.id)
        e->t.task.id = xstrdup("aggregate");
    sw_buf_t b;
    sw_buf_init(&b);
    sw_buf_addstr(&b, e->t.task.prompt ? e->t.task.prompt
                      : "Aggregate the results of the workers below into one report: what was "
                        "done, what failed, what is left to do.");
    sw_buf_addstr(&b, "\n");
    size_t last = c->n - 1;
    e = &c->v[last];
    for (size_t i = from; i < last; i++) {
        sw_strv_push(&e->t.task.after, c->v[i].t.task.id ? c->v[i].t.task.id : "?");
        sw_buf_printf(&b, "\n### %s\n{{result:%s}}\n", c->v[i].t.task.id, c->v[i].t.task.id);
    }
    e->dep_line = xcalloc(e->t.task.after.n + 1, sizeof *e->dep_line);
    e->dep_col = xcalloc(e->t.task.after.n + 1, sizeof *e->dep_col);
    free(e->t.task.prompt);
    e->t.task.prompt = b.data;
}

/*  --- the steps shape ------------------------------------------------------------- */

static const char *const s_types[] = { "coder", "tester", "reviewer", "docs", "architect",
                                       "cmd", NULL };

typedef struct {
    char *type;
    int   next;
} s_counter_t;

static int
s_next_number(s_counter_t **counters, size_t *nc, const char *type)
{
    for (size_t i = 0; i < *nc; i++)
        if (strcmp((*counters)[i].type, type) == 0)
            return ++(*counters)[i].next;
    *counters = xrealloc(*counters, (*nc + 1) * sizeof **counters);
    (*counters)[*nc].type = xstrdup(type);
    (*counters)[*nc].next = 1;
    (*nc)++;
    return 1;
}

static void
s_depend_on(s_entry_t *e, const sw_strv_t *barrier)
{
    if (e->deps_given)
        return;
    sw_strv_copy(&e->t.task.after, barrier);
    free(e->dep_line);
    free(e->dep_col);
    e->dep_line = xcalloc(barrier->n + 1, sizeof *e->dep_line);
    e->dep_col = xcalloc(barrier->n + 1, sizeof *e->dep_col);
}

static void
s_steps(s_ctx_t *c, const yaml_node_t *n)
{
    if (n->type != YAML_SEQUENCE_NODE) {
        s_err(c, n, "steps must be a list, not %s", s_kind(n));
        return;
    }
    sw_strv_t barrier = { 0 };          /*  everything before the last wait_for */
    size_t since = 0;                   /*  first task after that wait_for */
    s_counter_t *counters = NULL;
    size_t nc = 0;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
        yaml_node_t *step = s_node(c, *it);
        const char *bare = s_scalar(step);
        yaml_node_t *kn = NULL, *vn = NULL;
        const char *k = bare;
        if (!bare) {
            if (step->type != YAML_MAPPING_NODE
                || step->data.mapping.pairs.top - step->data.mapping.pairs.start != 1) {
                s_err(c, step, "each step must be one of swarm_init, spawn_workers, spawn, "
                      "wait_for, aggregate_results (a mapping with one key)");
                continue;
            }
            kn = s_node(c, step->data.mapping.pairs.start->key);
            vn = s_node(c, step->data.mapping.pairs.start->value);
            k = s_scalar(kn);
        }
        if (k && strcmp(k, "swarm_init") == 0) {
            if (!vn || s_null(vn))
                continue;
            if (vn->type != YAML_MAPPING_NODE) {
                s_err(c, vn, "swarm_init must be a mapping (topology, maxAgents, strategy)");
                continue;
            }
            for (yaml_node_pair_t *p = vn->data.mapping.pairs.start; p < vn->data.mapping.pairs.top; p++) {
                yaml_node_t *ik = s_node(c, p->key), *iv = s_node(c, p->value);
                const char *key = s_scalar(ik);
                if (key && strcmp(key, "topology") == 0)
                    s_want_str(c, iv, "topology", &c->plan->topology);
                else if (key && strcmp(key, "strategy") == 0)
                    s_want_str(c, iv, "strategy", &c->plan->strategy);
                else if (key && (strcmp(key, "maxAgents") == 0 || strcmp(key, "max_agents") == 0))
                    s_want_int(c, iv, key, 0, 100000, &c->plan->max_agents);
                else
                    s_err(c, ik, "unknown key '%s' in swarm_init (known: topology, maxAgents, "
                          "strategy)", key ? key : "");
            }
        }
        else if (k && strcmp(k, "spawn_workers") == 0) {
            if (!vn || vn->type != YAML_SEQUENCE_NODE) {
                s_err(c, vn ? vn : step, "spawn_workers must be a list of {type, count, task}");
                continue;
            }
            for (yaml_node_item_t *w = vn->data.sequence.items.start; w < vn->data.sequence.items.top; w++) {
                yaml_node_t *wn = s_node(c, *w);
                if (wn->type != YAML_MAPPING_NODE) {
                    s_err(c, wn, "each spawn_workers item must be a mapping {type, count, task}");
                    continue;
                }
                /*  count is ours; the rest is a task entry without an id */
                int64_t count = 1;
                yaml_node_t copy = *wn;
                yaml_node_pair_t pairs[64];
                size_t np = 0;
                for (yaml_node_pair_t *p = wn->data.mapping.pairs.start;
                     p < wn->data.mapping.pairs.top && np < 64; p++) {
                    const char *key = s_scalar(s_node(c, p->key));
                    if (key && strcmp(key, "count") == 0)
                        s_want_int(c, s_node(c, p->value), "count", 1, 1000, &count);
                    else
                        pairs[np++] = *p;
                }
                copy.data.mapping.pairs.start = pairs;
                copy.data.mapping.pairs.top = pairs + np;
                for (int64_t i = 0; i < count; i++) {
                    s_entry_t *e = s_task(c, &copy, "spawn_workers", "coder", "");
                    if (!e)
                        break;
                    if (!e->t.task.id) {            /*  TYPE-N */
                        const char *type = e->t.task.type ? e->t.task.type : "coder";
                        e->t.task.id = xasprintf("%s-%d", type,
                                                 s_next_number(&counters, &nc, type));
                    }
                    else if (count > 1) {
                        char *id = xasprintf("%s-%lld", e->t.task.id, (long long) i + 1);
                        free(e->t.task.id);
                        e->t.task.id = id;
                    }
                    s_depend_on(e, &barrier);
                }
            }
        }
        else if (k && strcmp(k, "spawn") == 0) {
            sw_strv_t ids = { 0 };
            int *lines = NULL, *cols = NULL;
            if (vn && s_want_list(c, vn, "spawn", &ids, &lines, &cols))
                for (size_t i = 0; i < ids.n; i++) {
                    s_entry_t *e = s_add(c, vn);
                    e->t.line = lines[i];
                    e->t.column = cols[i];
                    e->t.task.id = xstrdup(ids.v[i]);
                    char *dash = strchr(ids.v[i], '-');
                    if (dash)
                        *dash = '\0';
                    bool typed = false;
                    for (const char *const *ty = s_types; *ty; ty++)
                        typed |= strcmp(*ty, ids.v[i]) == 0;
                    e->t.task.type = xstrdup(typed ? ids.v[i] : "coder");
                    e->t.task.prompt = xasprintf("Do your part as %s.", e->t.task.id);
                    s_depend_on(e, &barrier);
                }
            free(lines);
            free(cols);
            sw_strv_release(&ids);
        }
        else if (k && strcmp(k, "wait_for") == 0) {
            for (size_t i = since; i < c->n; i++)
                if (c->v[i].t.task.id)
                    sw_strv_push(&barrier, c->v[i].t.task.id);
            since = c->n;
        }
        else if (k && strcmp(k, "aggregate_results") == 0) {
            s_aggregate(c, step, vn, 0);
        }
        else
            s_err(c, kn ? kn : step, "unknown step '%s' (swarm_init, spawn_workers, spawn, "
                  "wait_for, aggregate_results)", k ? k : "");
    }
    for (size_t i = 0; i < nc; i++)
        free(counters[i].type);
    free(counters);
    sw_strv_release(&barrier);
}

/*  --- checks and order ------------------------------------------------------------ */

static int
s_idx_cmp(const void *a, const void *b)
{
    const s_idx_t *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : x->i < y->i ? -1 : x->i > y->i;
}

/*  The first task with this id, or -1. */
static ssize_t
s_find(s_ctx_t *c, const char *id)
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
static void
s_check(s_ctx_t *c, bool commands)
{
    c->idx = xcalloc(c->n + 1, sizeof *c->idx);
    c->nidx = 0;
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i].t.task.id)
            c->idx[c->nidx++] = (s_idx_t) { c->v[i].t.task.id, i };
    qsort(c->idx, c->nidx, sizeof *c->idx, s_idx_cmp);
    for (size_t i = 0; i < c->n; i++) {
        s_entry_t *e = &c->v[i];
        sw_task_t *t = &e->t.task;
        if (!t->id)
            continue;
        /*  command lists: ids unique by construction, no dependencies */
        ssize_t first = commands ? -1 : s_find(c, t->id);
        if (first >= 0 && (size_t) first < i)
            s_err_at(c, e->t.line, e->t.column, "duplicate id '%s' (first at line %d)",
                     t->id, c->v[first].t.line);
        for (size_t d = 0; d < t->after.n; d++)
            if (s_find(c, t->after.v[d]) < 0) {
                int line = e->dep_line && e->dep_line[d] ? e->dep_line[d] : e->t.line;
                int col = e->dep_col && e->dep_col[d] ? e->dep_col[d] : e->t.column;
                s_err_at(c, line, col, "'%s' depends on '%s', which is not a task of this plan",
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
            s_err_at(c, e->t.line, e->t.column, "%s: %s", t->id, msg);
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
    s_entry_t *ordered = xcalloc(n + 1, sizeof *ordered);
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
            s_err_at(c, c->v[at].t.line, c->v[at].t.column, "dependency cycle of %zu tasks: %s "
                     "(each depends on the next)", count, b.data);
        else
            s_err_at(c, c->v[at].t.line, c->v[at].t.column,
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

static void
s_ctx_to_plan(s_ctx_t *c)
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

static void
s_ctx_drop(s_ctx_t *c)
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

/*  --- the file ------------------------------------------------------------------------ */

void
sw_plan_init(sw_plan_t *p)
{
    memset(p, 0, sizeof *p);
}

void
sw_plan_release(sw_plan_t *p)
{
    for (size_t i = 0; i < p->n; i++) {
        sw_task_release(&p->tasks[i].task);
        free(p->tasks[i].name);
        free(p->tasks[i].workspace);
    }
    free(p->tasks);
    free(p->name);
    free(p->ns);
    free(p->template);
    free(p->topology);
    free(p->strategy);
    free(p->workspace);
    sw_hooks_release(&p->hooks);
    sw_plan_init(p);
}

/*  A key given twice in one mapping is an error (YAML 1.2 says so; libyaml
 *  keeps both), reported for the whole document before anything is read,
 *  so no field is ever half-overwritten. false if there was one. */
static bool
s_unique_keys(s_ctx_t *c)
{
    bool ok = true;
    for (yaml_node_t *n = c->doc->nodes.start; n < c->doc->nodes.top; n++) {
        /*  A NUL byte (YAML "\0", JSON "\u0000") would cut the C string
         *  every field becomes short: refused, never truncated. */
        if (n->type == YAML_SCALAR_NODE
            && memchr(n->data.scalar.value, '\0', n->data.scalar.length)) {
            s_err(c, n, "a string with a NUL byte (\\0 or \\u0000): not allowed");
            ok = false;
        }
        if (n->type != YAML_MAPPING_NODE)
            continue;
        for (yaml_node_pair_t *a = n->data.mapping.pairs.start; a < n->data.mapping.pairs.top; a++) {
            const yaml_node_t *ka = s_node(c, a->key);
            const char *sa = s_scalar(ka);
            for (yaml_node_pair_t *b = n->data.mapping.pairs.start; sa && b < a; b++) {
                const yaml_node_t *kb = s_node(c, b->key);
                const char *sb = s_scalar(kb);
                if (sb && strcmp(sa, sb) == 0) {
                    s_err(c, ka, "duplicate key '%s' (first at line %d)", sa, LINE(kb));
                    ok = false;
                    break;
                }
            }
        }
    }
    return ok;
}

static const char *const s_top_keys =
    "name, description, max_agents, namespace, on_failure, template, topology, strategy, "
    "hooks, workspace, workers, stages, steps, aggregate";

/*  One phase of hooks: a list of commands, each an argv list or a string
 *  split like a shell splits words (as command: is); a lone string is a
 *  list of one. */
static void
s_hook_list(s_ctx_t *c, const yaml_node_t *n, const char *phase, bool post)
{
    size_t count = n->type == YAML_SEQUENCE_NODE
                 ? (size_t) (n->data.sequence.items.top - n->data.sequence.items.start)
                 : s_null(n) ? 0 : 1;
    if (n->type == YAML_MAPPING_NODE) {
        s_err(c, n, "hooks.%s must be a list of commands, not a mapping", phase);
        return;
    }
    if (count > SW_HOOK_MAX) {
        s_err(c, n, "hooks.%s has %zu commands; at most %d", phase, count, SW_HOOK_MAX);
        return;
    }
    for (size_t i = 0; i < count; i++) {
        const yaml_node_t *item = n->type == YAML_SEQUENCE_NODE
                                ? s_node(c, n->data.sequence.items.start[i]) : n;
        sw_strv_t argv = { 0 };
        if (item->type == YAML_SCALAR_NODE && !s_null(item)) {
            const char *why = NULL;
            if (sw_shlex(s_scalar(item), &argv, &why) < 0)
                s_err(c, item, "hooks.%s: %s", phase, why);
        }
        else if (item->type == YAML_SEQUENCE_NODE)
            s_want_list(c, item, "a hook command", &argv, NULL, NULL);
        else
            s_err(c, item, "each hooks.%s entry is a command (a string or a list of strings), "
                  "not %s%s", phase, s_null(item) ? "empty" : s_kind(item),
                  item->type == YAML_MAPPING_NODE ? " (YAML reads an unquoted 'a: b' as a "
                  "mapping: quote the command, or give it as a list)" : "");
        if (argv.n == 0 || !*argv.v[0]) {
            if (item->type != YAML_MAPPING_NODE && !s_null(item))
                s_err(c, item, "hooks.%s: an empty command", phase);
        }
        else
            sw_hooks_add(&c->plan->hooks, post, &argv);
        sw_strv_release(&argv);
    }
}

static void
s_hooks(s_ctx_t *c, const yaml_node_t *n)
{
    if (n->type != YAML_MAPPING_NODE) {
        s_err(c, n, "hooks must be a mapping (pre, post, timeout), not %s", s_kind(n));
        return;
    }
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = s_node(c, p->key), *vn = s_node(c, p->value);
        const char *k = s_scalar(kn);
        if (!k)
            s_err(c, kn, "keys must be strings");
        else if (strcmp(k, "pre") == 0 || strcmp(k, "post") == 0)
            s_hook_list(c, vn, k, k[1] == 'o');
        else if (strcmp(k, "timeout") == 0 || strcmp(k, "timeout_s") == 0)
            s_want_int(c, vn, "hooks.timeout", 1, SW_HOOK_MAX_TIMEOUT_S, &c->plan->hooks.timeout_s);
        else
            s_err(c, kn, "unknown key '%s' in hooks (known: pre, post, timeout)", k);
    }
}

int
sw_plan_parse(const char *file, const char *text, size_t len, sw_plan_t *p, sw_strv_t *errors)
{
    sw_plan_init(p);
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *) text, len);
    s_ctx_t c = { .file = file, .doc = &doc, .errors = errors, .plan = p };
    if (!yaml_parser_load(&parser, &doc)) {
        s_err_at(&c, (int) parser.problem_mark.line + 1, (int) parser.problem_mark.column + 1,
                 "YAML: %s%s%s", parser.problem ? parser.problem : "syntax error",
                 parser.context ? " " : "", parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        return -1;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    yaml_node_t *workers = NULL, *stages = NULL, *steps = NULL, *aggregate = NULL;
    char *on_failure = NULL, *description = NULL;
    if (!s_unique_keys(&c))
        goto out;
    if (!root || root->type != YAML_MAPPING_NODE) {
        s_err_at(&c, root ? LINE(root) : 1, root ? COL(root) : 1,
                 "a plan is a mapping with workers:, stages: or steps:");
        goto out;
    }
    for (yaml_node_pair_t *pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top; pr++) {
        yaml_node_t *kn = s_node(&c, pr->key), *vn = s_node(&c, pr->value);
        const char *k = s_scalar(kn);
        if (!k)
            s_err(&c, kn, "keys must be strings");
        else if (strcmp(k, "name") == 0)
            s_want_str(&c, vn, "name", &p->name);
        else if (strcmp(k, "description") == 0)
            s_want_str(&c, vn, "description", &description);
        else if (s_is(k, "max_agents", "maxAgents"))
            s_want_int(&c, vn, k, 0, 100000, &p->max_agents);
        else if (strcmp(k, "namespace") == 0) {
            if (s_want_str(&c, vn, "namespace", &p->ns) && !sw_id_valid(p->ns))
                s_err(&c, vn, "invalid namespace '%s'", p->ns);
        }
        else if (strcmp(k, "on_failure") == 0) {
            if (s_want_str(&c, vn, "on_failure", &on_failure)) {
                if (strcmp(on_failure, "stop") == 0)
                    p->halt = true;
                else if (strcmp(on_failure, "continue") != 0)
                    s_err(&c, vn, "on_failure must be stop or continue (got '%s')", on_failure);
            }
        }
        else if (strcmp(k, "template") == 0)
            s_want_str(&c, vn, "template", &p->template);
        else if (strcmp(k, "topology") == 0)
            s_want_str(&c, vn, "topology", &p->topology);
        else if (strcmp(k, "strategy") == 0)
            s_want_str(&c, vn, "strategy", &p->strategy);
        else if (strcmp(k, "workspace") == 0)
            s_want_str(&c, vn, "workspace", &p->workspace);
        else if (strcmp(k, "hooks") == 0)
            s_hooks(&c, vn);
        else if (strcmp(k, "workers") == 0)
            workers = vn;
        else if (strcmp(k, "stages") == 0)
            stages = vn;
        else if (strcmp(k, "steps") == 0)
            steps = vn;
        else if (strcmp(k, "aggregate") == 0)
            aggregate = vn;
        else
            s_err(&c, kn, "unknown key '%s' (known: %s)", k, s_top_keys);
    }
    int shapes = !!workers + !!stages + !!steps;
    if (shapes != 1)
        s_err(&c, root, shapes ? "give only one of workers:, stages: and steps:"
                               : "a plan needs workers:, stages: or steps:");
    else if (workers) {
        s_tasks_list(&c, workers, "workers", false);
        if (aggregate)
            s_aggregate(&c, aggregate, aggregate, 0);
    }
    else if (stages)
        s_tasks_list(&c, stages, "stages", true);
    else
        s_steps(&c, steps);
    if (aggregate && !workers)
        s_err(&c, aggregate, "aggregate: goes with workers: (in steps, use aggregate_results)");
    if (p->topology && strcmp(p->topology, "hierarchical") && strcmp(p->topology, "mesh")
        && strcmp(p->topology, "star"))
        s_err_at(&c, 1, 1, "topology must be hierarchical, mesh or star (got '%s')", p->topology);
    if (errors->n == 0 && c.n == 0)
        s_err(&c, root, "the plan has no tasks");
    if (errors->n == 0)
        s_check(&c, false);
out:
    free(on_failure);
    free(description);
    if (errors->n == 0)
        s_ctx_to_plan(&c);
    else
        s_ctx_drop(&c);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (errors->n) {
        sw_plan_release(p);
        return -1;
    }
    return 0;
}

/*  --- command lists --------------------------------------------------------------------- */

int
sw_shlex(const char *line, sw_strv_t *argv, const char **why)
{
    sw_buf_t w;
    sw_buf_init(&w);
    bool in_word = false;
    const char *p = line;
    for (; *p; p++) {
        char ch = *p;
        if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') {
            if (in_word) {
                sw_strv_push(argv, w.data ? w.data : "");
                sw_buf_reset(&w);
                in_word = false;
            }
            continue;
        }
        if (ch == '#' && !in_word)
            break;                  /*  a comment */
        in_word = true;
        if (ch == '\'') {
            const char *end = strchr(p + 1, '\'');
            if (!end) {
                *why = "unterminated single quote";
                sw_buf_release(&w);
                return -1;
            }
            sw_buf_add(&w, p + 1, (size_t) (end - p - 1));
            p = end;
        }
        else if (ch == '"') {
            for (p++; *p && *p != '"'; p++) {
                if (*p == '\\' && p[1] && strchr("\"\\$`", p[1]))
                    p++;
                sw_buf_add(&w, p, 1);
            }
            if (!*p) {
                *why = "unterminated double quote";
                sw_buf_release(&w);
                return -1;
            }
        }
        else if (ch == '\\') {
            if (p[1])
                p++;
            sw_buf_add(&w, p, 1);
        }
        else
            sw_buf_add(&w, p, 1);
        if (!w.data)
            sw_buf_add(&w, "", 0);
    }
    if (in_word)
        sw_strv_push(argv, w.data ? w.data : "");
    sw_buf_release(&w);
    return 0;
}

int
sw_plan_commands(const char *file, const char *text, size_t len, sw_plan_t *p, sw_strv_t *errors)
{
    sw_plan_init(p);
    s_ctx_t c = { .file = file, .errors = errors, .plan = p };
    int lineno = 0;
    const char *at = text, *end = text + len;
    while (at < end) {
        const char *nl = memchr(at, '\n', (size_t) (end - at));
        size_t n = nl ? (size_t) (nl - at) : (size_t) (end - at);
        char *line = xstrndup(at, n);
        const char *nul = memchr(at, '\0', n);      /*  the line would be cut there */
        lineno++;
        sw_strv_t argv = { 0 };
        const char *why = NULL;
        if (nul)
            s_err_at(&c, lineno, (int) (nul - at) + 1, "a NUL byte: a command line is text");
        else if (sw_shlex(line, &argv, &why) < 0)
            s_err_at(&c, lineno, 1, "%s", why);
        else if (argv.n) {
            if (c.n == c.cap)
                c.v = xrealloc(c.v, (c.cap = c.cap ? 2 * c.cap : 64) * sizeof *c.v);
            s_entry_t *e = &c.v[c.n++];
            memset(e, 0, sizeof *e);
            e->t.line = lineno;
            e->t.column = 1;
            e->t.task.id = xasprintf("cmd-%d", lineno);
            e->t.task.runner = xstrdup("exec");
            e->t.task.type = xstrdup("cmd");
            e->t.task.argv = argv;
            argv = (sw_strv_t) { 0 };
        }
        sw_strv_release(&argv);
        free(line);
        at += n + (nl ? 1 : 0);
    }
    if (errors->n == 0 && c.n == 0)
        s_err_at(&c, 1, 1, "no commands (one per line; # starts a comment)");
    if (errors->n == 0)
        s_check(&c, true);
    if (errors->n == 0)
        s_ctx_to_plan(&c);
    else
        s_ctx_drop(&c);
    return errors->n ? -1 : 0;
}

/*  --- templates -------------------------------------------------------------------------- */

void
sw_plan_keywords(const char *text, size_t max, sw_buf_t *out)
{
    static const char *const stop[] = {
        "about", "after", "also", "because", "before", "could", "each", "every", "from",
        "have", "into", "just", "make", "more", "must", "only", "other", "should", "some",
        "than", "that", "their", "them", "then", "there", "these", "they", "this", "those",
        "through", "under", "until", "very", "what", "when", "where", "which", "while", "with",
        "within", "without", "would", "your", NULL,
    };
    sw_strv_t seen = { 0 };
    const char *p = text;
    while (*p && seen.n < max) {
        while (*p && !isalnum((unsigned char) *p))
            p++;
        const char *s = p;
        while (*p && (isalnum((unsigned char) *p) || *p == '_' || *p == '-'))
            p++;
        size_t n = (size_t) (p - s);
        if (n < 4 || n > 40)
            continue;
        char *w = xstrndup(s, n);
        for (char *q = w; *q; q++)
            *q = (char) tolower((unsigned char) *q);
        bool skip = false;
        for (const char *const *x = stop; *x && !skip; x++)
            skip = strcmp(*x, w) == 0;
        for (size_t i = 0; i < seen.n && !skip; i++)
            skip = strcmp(seen.v[i], w) == 0;
        if (!skip)
            sw_strv_push(&seen, w);
        free(w);
    }
    for (size_t i = 0; i < seen.n; i++)
        sw_buf_printf(out, "%s%s", i ? ", " : "", seen.v[i]);
    if (!out->data)
        sw_buf_add(out, "", 0);
    sw_strv_release(&seen);
}

static void
s_replace(sw_buf_t *out, const char *tmpl, const char *const *vars, const char *const *vals)
{
    const char *p = tmpl;
    while (*p) {
        bool hit = false;
        for (size_t i = 0; vars[i] && !hit; i++) {
            size_t n = strlen(vars[i]);
            if (strncmp(p, vars[i], n) == 0) {
                sw_buf_addstr(out, vals[i]);
                p += n;
                hit = true;
            }
        }
        if (!hit)
            sw_buf_add(out, p++, 1);
    }
}

void
sw_plan_render(sw_plan_t *p)
{
    const char *tmpl = p->template ? p->template : sw_plan_default_template;
    for (size_t i = 0; i < p->n; i++) {
        sw_task_t *t = &p->tasks[i].task;
        if (!t->prompt || (t->runner && strcmp(t->runner, "exec") == 0))
            continue;
        sw_buf_t kw, out;
        sw_buf_init(&kw);
        sw_buf_init(&out);
        sw_plan_keywords(t->prompt, 8, &kw);
        const char *vars[] = { "{{worker_name}}", "{{worker_id}}", "{{worker_task}}",
                               "{{task_keywords}}", "{{plan_name}}", NULL };
        const char *vals[] = { p->tasks[i].name ? p->tasks[i].name : t->id, t->id, t->prompt,
                               kw.data, p->name ? p->name : "this plan", NULL };
        s_replace(&out, tmpl, vars, vals);
        free(t->prompt);
        t->prompt = out.data;
        sw_buf_release(&kw);
    }
}

/*  --- self-test ------------------------------------------------------------------------- */

/*  Parses text; returns the first error, or "" when it parsed. */
static const char *
s_try(const char *text, sw_plan_t *p, sw_strv_t *errors)
{
    sw_strv_release(errors);
    if (sw_plan_parse("p.yaml", text, strlen(text), p, errors) == 0)
        return "";
    return errors->v[0];
}

int
sw_plan_test(bool verbose)
{
    sw_plan_t p;
    sw_strv_t errors = { 0 };

    /*  workers + aggregate */
    CHECK(strcmp(s_try("name: auth\nmax_agents: 2\non_failure: stop\nworkers:\n"
                       "  - {id: api, type: coder, task: Build the API}\n"
                       "  - {id: ui, task: Build the UI, timeout: 60, labels: {os: linux}}\n"
                       "aggregate:\n", &p, &errors), "") == 0);
    CHECK(p.n == 3 && p.max_agents == 2 && p.halt && strcmp(p.name, "auth") == 0);
    CHECK(strcmp(p.tasks[2].task.id, "aggregate") == 0 && p.tasks[2].task.after.n == 2);
    CHECK(strstr(p.tasks[2].task.prompt, "{{result:ui}}") != NULL);
    CHECK(p.tasks[1].task.timeout_s == 60);
    CHECK(strcmp(sw_kv_get(&p.tasks[1].task.labels, "os"), "linux") == 0);
    sw_plan_render(&p);
    CHECK(strstr(p.tasks[0].task.prompt, "You are api (worker id api)") != NULL);
    CHECK(strstr(p.tasks[0].task.prompt, "Your task: Build the API") != NULL);
    CHECK(strstr(p.tasks[0].task.prompt, "result-api") != NULL);
    sw_plan_release(&p);

    /*  stages: a pipeline unless depends_on says otherwise; ordered */
    CHECK(strcmp(s_try("stages:\n  - {name: review, type: reviewer, task: r, depends_on: [test]}\n"
                       "  - {name: arch, type: architect, task: a, depends_on: []}\n"
                       "  - {name: code, task: c}\n  - {name: test, type: tester, task: t}\n",
                       &p, &errors), "") == 0);
    CHECK(p.n == 4);
    CHECK(strcmp(p.tasks[0].task.id, "arch") == 0 && strcmp(p.tasks[1].task.id, "code") == 0);
    CHECK(strcmp(p.tasks[2].task.id, "test") == 0 && strcmp(p.tasks[3].task.id, "review") == 0);
    CHECK(p.tasks[1].task.after.n == 1 && strcmp(p.tasks[1].task.after.v[0], "arch") == 0);
    sw_plan_release(&p);

    /*  steps: barriers, TYPE-N ids, aggregate */
    CHECK(strcmp(s_try("steps:\n  - swarm_init: {topology: hierarchical, maxAgents: 5}\n"
                       "  - spawn_workers: [{type: architect, task: design}]\n"
                       "  - wait_for: design\n"
                       "  - spawn_workers: [{type: coder, count: 2, task: build}]\n"
                       "  - wait_for: coders\n  - spawn: tester\n  - aggregate_results\n",
                       &p, &errors), "") == 0);
    CHECK(p.n == 5 && p.max_agents == 5 && strcmp(p.topology, "hierarchical") == 0);
    CHECK(strcmp(p.tasks[1].task.id, "coder-1") == 0 && strcmp(p.tasks[2].task.id, "coder-2") == 0);
    CHECK(p.tasks[1].task.after.n == 1 && strcmp(p.tasks[1].task.after.v[0], "architect-1") == 0);
    CHECK(strcmp(p.tasks[3].task.id, "tester") == 0 && strcmp(p.tasks[3].task.type, "tester") == 0);
    CHECK(p.tasks[3].task.after.n == 3);
    CHECK(strcmp(p.tasks[4].task.id, "aggregate") == 0 && p.tasks[4].task.after.n == 4);
    sw_plan_release(&p);

    /*  validation errors, with positions */
    CHECK(strcmp(s_try("workers:\n  - {id: a, task: x, dependson: [b]}\n", &p, &errors),
                 "p.yaml:2:22: unknown key 'dependson' in workers (known: id, name, type, task, "
                 "runner, command, timeout, idle_timeout, max_attempts, max_turns, "
                 "max_budget_usd, labels, env, dir, depends_on, workspace, outputs)") == 0);
    CHECK(strcmp(s_try("workers:\n  - {id: a, task: x}\n  - {id: a, task: y}\n", &p, &errors),
                 "p.yaml:3:5: duplicate id 'a' (first at line 2)") == 0);
    /*  found by fuzz_plan: a key given twice leaked and misplaced positions */
    CHECK(strcmp(s_try("workers:\n  - id: a\n    task: x\n    depends_on: [b]\n"
                       "    depends_on: [c]\n", &p, &errors),
                 "p.yaml:5:5: duplicate key 'depends_on' (first at line 4)") == 0);
    CHECK(strcmp(s_try("workers:\n  - {id: a, task: x, depends_on: [b], after: [c]}\n"
                       "  - {id: b, task: y}\n  - {id: c, task: z}\n", &p, &errors),
                 "p.yaml:2:39: depends_on and after are one key: give one of them") == 0);
    CHECK(strcmp(s_try("workers:\n  - id: a\n    task: x\n    depends_on: [a2]\n", &p, &errors),
                 "p.yaml:4:18: 'a' depends on 'a2', which is not a task of this plan") == 0);
    CHECK(strcmp(s_try("stages:\n  - {name: a, task: x, depends_on: [c]}\n"
                       "  - {name: b, task: y, depends_on: [a]}\n"
                       "  - {name: c, task: z, depends_on: [b]}\n", &p, &errors),
                 "p.yaml:2:5: dependency cycle: a -> c -> b -> a (each depends on the next)") == 0);
    /*  A NUL byte (YAML "\0", JSON "\u0000") would cut a C string short:
     *  id "a\0b" ran as task "a", a prompt lost its tail. Refused. */
    CHECK(strcmp(s_try("workers:\n  - {id: \"a\\0b\", type: coder, task: t}\n", &p, &errors),
                 "p.yaml:2:10: a string with a NUL byte (\\0 or \\u0000): not allowed") == 0);
    CHECK(strcmp(s_try("{\"workers\": [{\"id\": \"ok\", \"type\": \"coder\", "
                       "\"task\": \"t\\u0000x\"}]}", &p, &errors),
                 "p.yaml:1:52: a string with a NUL byte (\\0 or \\u0000): not allowed") == 0);
    {
        /*  A cycle of 100,000: found without recursion, and said in a line
         *  (its ends and its length), not cut off mid-way at 512 bytes. */
        sw_buf_t y;
        sw_buf_init(&y);
        sw_buf_addstr(&y, "workers:\n");
        for (int i = 0; i < 100000; i++)
            sw_buf_printf(&y, "  - {id: w%d, type: coder, task: t, depends_on: [w%d]}\n", i,
                          (i + 1) % 100000);
        const char *e = s_try(y.data, &p, &errors);
        CHECK(strcmp(e, "p.yaml:2:5: dependency cycle of 100000 tasks: w0 -> w1 -> w2 -> w3 -> "
                        "... -> w99998 -> w99999 -> w0 (each depends on the next)") == 0);
        sw_buf_release(&y);
    }
    CHECK(strcmp(s_try("workers:\n  - {id: a, type: dev, task: x}\n", &p, &errors),
                 "p.yaml:2:5: a: unknown type 'dev' (coder, tester, reviewer, docs, architect, cmd)")
          == 0);
    CHECK(strcmp(s_try("workers:\n  - {id: a, task: x, timeout: soon}\n", &p, &errors),
                 "p.yaml:2:31: timeout must be a whole number from 1 to 604800 (got 'soon')") == 0);
    CHECK(strcmp(s_try("workers:\n  - {id: a, task: x, runner: claude, max_budget_usd: 1.505}\n",
                       &p, &errors),
                 "p.yaml:2:54: max_budget_usd must be dollars with at most two decimals, like "
                 "2.50 (got '1.505')") == 0);
    CHECK(strcmp(s_try("workers:\n  - {id: a, task: x, max_turns: 3}\n", &p, &errors),
                 "p.yaml:2:5: a: max_turns and max_budget_usd are limits of the claude runner "
                 "(codex exec has neither: bound it with a timeout)") == 0);
    CHECK(strcmp(s_try("workers:\n  - {id: a, task: x, runner: claude, max_turns: 3,\n"
                       "      max_budget_usd: 0.5}\n", &p, &errors), "") == 0);
    CHECK(p.n == 1 && p.tasks[0].task.max_turns == 3 && p.tasks[0].task.max_budget_cents == 50);
    sw_plan_release(&p);
    /*  workspaces: a job's, a task's own, and output globs */
    CHECK(strcmp(s_try("workspace: ..\nworkers:\n  - {id: a, task: x, outputs: ['*.o', "
                       "'lib/*.a']}\n  - {id: b, task: y, workspace: /srv/other}\n", &p,
                       &errors), "") == 0);
    CHECK(p.workspace && strcmp(p.workspace, "..") == 0 && p.n == 2);
    CHECK(p.tasks[0].task.outputs.n == 2 && strcmp(p.tasks[0].task.outputs.v[1], "lib/*.a") == 0);
    CHECK(!p.tasks[0].workspace && strcmp(p.tasks[1].workspace, "/srv/other") == 0);
    sw_plan_release(&p);
    CHECK(strcmp(s_try("workers:\n  - {id: a, task: [x]}\n", &p, &errors),
                 "p.yaml:2:19: task must be a string, not a list") == 0);
    CHECK(strcmp(s_try("workers:\n  - {id: a, task: x}\nstagez: []\n", &p, &errors),
                 "p.yaml:3:1: unknown key 'stagez' (known: name, description, max_agents, "
                 "namespace, on_failure, template, topology, strategy, hooks, workspace, "
                 "workers, stages, steps, aggregate)") == 0);
    CHECK(strncmp(s_try("workers:\n  - {id: a, task: x\n", &p, &errors), "p.yaml:3:1: YAML: ",
                  18) == 0);
    CHECK(strcmp(s_try("name: x\n", &p, &errors), "p.yaml:1:1: a plan needs workers:, stages: "
                 "or steps:") == 0);
    CHECK(strcmp(s_try("on_failure: halt\nworkers: [{id: a, task: x}]\n", &p, &errors),
                 "p.yaml:1:13: on_failure must be stop or continue (got 'halt')") == 0);
    CHECK(strcmp(s_try("workers:\n  - {id: a}\n", &p, &errors),
                 "p.yaml:2:5: a: the codex runner needs a prompt") == 0);
    /*  all errors are reported, not just the first */
    s_try("workers:\n  - {id: a, bogus: 1, task: x}\n  - {id: b, type: dev, task: y}\n",
          &p, &errors);
    CHECK(errors.n == 1);      /*  key errors stop before task checks */
    s_try("workers:\n  - {id: a, bogus: 1, task: x}\n  - {id: b, other: 2, task: y}\n",
          &p, &errors);
    CHECK(errors.n == 2);

    /*  hooks: argv lists or shell-split strings, a timeout; errors placed */
    CHECK(strcmp(s_try("hooks:\n  pre:\n    - echo 'starting the job'\n    - [swarm, init]\n"
                       "  post: swarm memory list --namespace results\n  timeout: 60\n"
                       "workers: [{id: a, task: x}]\n", &p, &errors), "") == 0);
    CHECK(p.hooks.npre == 2 && p.hooks.npost == 1 && p.hooks.timeout_s == 60);
    CHECK(p.hooks.pre[0].n == 2 && strcmp(p.hooks.pre[0].v[1], "starting the job") == 0);
    CHECK(p.hooks.pre[1].n == 2 && strcmp(p.hooks.pre[1].v[0], "swarm") == 0);
    CHECK(p.hooks.post[0].n == 5 && strcmp(p.hooks.post[0].v[4], "results") == 0);
    sw_plan_release(&p);
    CHECK(p.hooks.npre == 0 && p.hooks.pre == NULL);
    CHECK(strcmp(s_try("hooks: {pre: [echo], before: [x]}\nworkers: [{id: a, task: x}]\n",
                       &p, &errors),
                 "p.yaml:1:22: unknown key 'before' in hooks (known: pre, post, timeout)") == 0);
    CHECK(strcmp(s_try("hooks: {pre: [\"echo 'open\"]}\nworkers: [{id: a, task: x}]\n",
                       &p, &errors), "p.yaml:1:15: hooks.pre: unterminated single quote") == 0);
    CHECK(strcmp(s_try("hooks: {post: [\"\"]}\nworkers: [{id: a, task: x}]\n", &p, &errors),
                 "p.yaml:1:16: hooks.post: an empty command") == 0);
    CHECK(strcmp(s_try("hooks: {post: [{a: b}]}\nworkers: [{id: a, task: x}]\n", &p, &errors),
                 "p.yaml:1:16: each hooks.post entry is a command (a string or a list of "
                 "strings), not a mapping (YAML reads an unquoted 'a: b' as a mapping: quote "
                 "the command, or give it as a list)") == 0);
    CHECK(strcmp(s_try("hooks: {timeout: 0}\nworkers: [{id: a, task: x}]\n", &p, &errors),
                 "p.yaml:1:18: hooks.timeout must be a whole number from 1 to 86400 (got '0')")
          == 0);
    CHECK(strcmp(s_try("hooks: [echo]\nworkers: [{id: a, task: x}]\n", &p, &errors),
                 "p.yaml:1:8: hooks must be a mapping (pre, post, timeout), not a list") == 0);

    /*  shell-like splitting, no shell */
    sw_strv_t argv = { 0 };
    const char *why;
    CHECK(sw_shlex("gcc -c 'a b.c' \"x \\\"y\\\"\" c\\ d $HOME # note", &argv, &why) == 0);
    CHECK(argv.n == 6 && strcmp(argv.v[2], "a b.c") == 0 && strcmp(argv.v[3], "x \"y\"") == 0);
    CHECK(strcmp(argv.v[4], "c d") == 0 && strcmp(argv.v[5], "$HOME") == 0);
    sw_strv_release(&argv);
    CHECK(sw_shlex("echo ''", &argv, &why) == 0 && argv.n == 2 && argv.v[1][0] == '\0');
    sw_strv_release(&argv);
    CHECK(sw_shlex("echo 'open", &argv, &why) < 0 && strcmp(why, "unterminated single quote") == 0);
    sw_strv_release(&argv);

    const char *cmds = "# build\ncc -c a.c\n\ncc -c 'b c.c'\necho \"oops\n";
    sw_strv_release(&errors);
    CHECK(sw_plan_commands("cmds", cmds, strlen(cmds), &p, &errors) < 0);
    CHECK(errors.n == 1 && strcmp(errors.v[0], "cmds:5:1: unterminated double quote") == 0);
    sw_strv_release(&errors);
    CHECK(sw_plan_commands("cmds", cmds, strlen(cmds) - 12, &p, &errors) == 0);
    CHECK(p.n == 2 && strcmp(p.tasks[0].task.id, "cmd-2") == 0 && strcmp(p.tasks[1].task.id, "cmd-4") == 0);
    CHECK(strcmp(p.tasks[1].task.argv.v[2], "b c.c") == 0 && strcmp(p.tasks[1].task.runner, "exec") == 0);
    sw_plan_release(&p);
    /*  "true\0 x": ran as "true", the rest of the line dropped. */
    sw_strv_release(&errors);
    CHECK(sw_plan_commands("cmds", "true\0 x\n", 8, &p, &errors) < 0);
    CHECK(errors.n == 1 && strcmp(errors.v[0], "cmds:1:5: a NUL byte: a command line is text")
          == 0);
    sw_strv_release(&errors);

    sw_buf_t kw;
    sw_buf_init(&kw);
    sw_plan_keywords("Implement the JWT login API with refresh tokens, with tests; login!", 8, &kw);
    CHECK(strcmp(kw.data, "implement, login, refresh, tokens, tests") == 0);
    sw_buf_release(&kw);
    sw_strv_release(&errors);
    (void) verbose;
    return 0;
}
