/*  sw_plan -- YAML plans (see sw_plan.h; checks in sw_plan_check.c, command lists and templates in sw_plan_text.c) */
#include "sw_plan_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "sw_usage.h"

void
sw_plan_err_at(sw_plan_ctx_t *c, int line, int col, const char *fmt, ...)
{
    if (c->errors->n >= SW_PLAN_MAX_ERRORS)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char *full = xasprintf("%s:%d:%d: %s", c->file, line, col, msg);
    sw_strv_push(c->errors, full);
    free(full);
    if (c->errors->n == SW_PLAN_MAX_ERRORS)
        sw_strv_push(c->errors, "(more errors not shown)");
}

#define LINE(n) ((int) (n)->start_mark.line + 1)
#define COL(n)  ((int) (n)->start_mark.column + 1)
#define s_err(c, node, ...) sw_plan_err_at(c, LINE(node), COL(node), __VA_ARGS__)

static yaml_node_t *
s_node(sw_plan_ctx_t *c, int idx)
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
s_want_str(sw_plan_ctx_t *c, const yaml_node_t *n, const char *what, char **out)
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
s_want_int(sw_plan_ctx_t *c, const yaml_node_t *n, const char *what, long long min, long long max,
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
s_want_usd(sw_plan_ctx_t *c, const yaml_node_t *n, const char *what, int64_t *cents)
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
s_want_list(sw_plan_ctx_t *c, const yaml_node_t *n, const char *what, sw_strv_t *out, int **lines,
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
s_want_map(sw_plan_ctx_t *c, const yaml_node_t *n, const char *what, sw_kv_t *out)
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

static sw_plan_entry_t *
s_add(sw_plan_ctx_t *c, const yaml_node_t *where)
{
    if (c->n == c->cap)
        c->v = xrealloc(c->v, (c->cap = c->cap ? 2 * c->cap : 16) * sizeof *c->v);
    sw_plan_entry_t *e = &c->v[c->n++];
    memset(e, 0, sizeof *e);
    sw_task_init(&e->t.task);
    e->t.line = LINE(where);
    e->t.column = COL(where);
    return e;
}

static const char *const s_task_keys =
    "id, name, type, task, runner, command, timeout, idle_timeout, max_attempts, max_turns, "
    "max_budget_usd, labels, env, dir, depends_on, workspace, outputs, resources";

/*  One task mapping (a worker, a stage, a spawn_workers item). */
static sw_plan_entry_t *
s_task(sw_plan_ctx_t *c, const yaml_node_t *n, const char *section, const char *default_type,
       const char *default_id)
{
    if (n->type != YAML_MAPPING_NODE) {
        s_err(c, n, "each %s entry must be a mapping (id, type, task, ...), not %s", section,
              s_kind(n));
        return NULL;
    }
    sw_plan_entry_t *e = s_add(c, n);
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
        else if (s_is(k, "resources", NULL))
            s_want_list(c, vn, "resources", &t->resources, NULL, NULL);
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
s_tasks_list(sw_plan_ctx_t *c, const yaml_node_t *n, const char *section, bool pipeline)
{
    if (n->type != YAML_SEQUENCE_NODE) {
        s_err(c, n, "%s must be a list of tasks, not %s", section, s_kind(n));
        return;
    }
    const char *prev = NULL;
    for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top; i++) {
        sw_plan_entry_t *e = s_task(c, s_node(c, *i), section, NULL, NULL);
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
s_aggregate(sw_plan_ctx_t *c, const yaml_node_t *at, const yaml_node_t *n, size_t from)
{
    sw_plan_entry_t *e;
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
s_depend_on(sw_plan_entry_t *e, const sw_strv_t *barrier)
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
s_steps(sw_plan_ctx_t *c, const yaml_node_t *n)
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
                    sw_plan_entry_t *e = s_task(c, &copy, "spawn_workers", "coder", "");
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
                    sw_plan_entry_t *e = s_add(c, vn);
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
s_unique_keys(sw_plan_ctx_t *c)
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
    "hooks, workspace, workers, stages, steps, aggregate, max_cost_usd, max_tokens, on_budget";

/*  The job's budget keys (issue 18); false when k is none of them. */
static bool
s_budget_key(sw_plan_ctx_t *c, const char *k, const yaml_node_t *vn, sw_plan_t *p)
{
    const char *s = s_scalar(vn);
    if (strcmp(k, "max_cost_usd") == 0) {
        if (!s || vn->data.scalar.style != YAML_PLAIN_SCALAR_STYLE
            || sw_usage_parse_usd(s, &p->max_micro_usd) < 0)
            s_err(c, vn, "max_cost_usd must be dollars above 0 and at most 1000000, "
                  "at most 6 decimals (got '%s')", s ? s : "");
    }
    else if (strcmp(k, "max_tokens") == 0)
        s_want_int(c, vn, k, 1, 1000000000000000LL, &p->max_tokens);
    else if (strcmp(k, "on_budget") == 0) {
        if (!s || (strcmp(s, "stop") && strcmp(s, "finish")))
            s_err(c, vn, "on_budget must be stop or finish (got '%s')", s ? s : "");
        else
            p->budget_finish = strcmp(s, "finish") == 0;
    }
    else
        return false;
    return true;
}

/*  One phase of hooks: a list of commands, each an argv list or a string
 *  split like a shell splits words (as command: is); a lone string is a
 *  list of one. */
static void
s_hook_list(sw_plan_ctx_t *c, const yaml_node_t *n, const char *phase, bool post)
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
s_hooks(sw_plan_ctx_t *c, const yaml_node_t *n)
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
    sw_plan_ctx_t c = { .file = file, .doc = &doc, .errors = errors, .plan = p };
    if (!yaml_parser_load(&parser, &doc)) {
        sw_plan_err_at(&c, (int) parser.problem_mark.line + 1, (int) parser.problem_mark.column + 1,
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
        sw_plan_err_at(&c, root ? LINE(root) : 1, root ? COL(root) : 1,
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
        else if (s_budget_key(&c, k, vn, p))
            ;
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
        sw_plan_err_at(&c, 1, 1, "topology must be hierarchical, mesh or star (got '%s')", p->topology);
    if (errors->n == 0 && c.n == 0)
        s_err(&c, root, "the plan has no tasks");
    if (errors->n == 0)
        sw_plan_check(&c, false);
out:
    free(on_failure);
    free(description);
    if (errors->n == 0)
        sw_plan_ctx_to_plan(&c);
    else
        sw_plan_ctx_drop(&c);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (errors->n) {
        sw_plan_release(p);
        return -1;
    }
    return 0;
}
