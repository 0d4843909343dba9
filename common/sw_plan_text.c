/*  sw_plan_text -- plans that are not YAML (command lists, shell-like word
 *  splitting) and the prompt template (see sw_plan.h) */
#include "sw_plan_int.h"

#include <ctype.h>
#include <string.h>

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
    sw_plan_ctx_t c = { .file = file, .errors = errors, .plan = p };
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
            sw_plan_err_at(&c, lineno, (int) (nul - at) + 1, "a NUL byte: a command line is text");
        else if (sw_shlex(line, &argv, &why) < 0)
            sw_plan_err_at(&c, lineno, 1, "%s", why);
        else if (argv.n) {
            if (c.n == c.cap)
                c.v = xrealloc(c.v, (c.cap = c.cap ? 2 * c.cap : 64) * sizeof *c.v);
            sw_plan_entry_t *e = &c.v[c.n++];
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
        sw_plan_err_at(&c, 1, 1, "no commands (one per line; # starts a comment)");
    if (errors->n == 0)
        sw_plan_check(&c, true);
    if (errors->n == 0)
        sw_plan_ctx_to_plan(&c);
    else
        sw_plan_ctx_drop(&c);
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
