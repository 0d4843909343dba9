/*  sw_args -- see sw_args.h */
#include "sw_args.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sw_selftest.h"
#include "sw_util.h"

void
sw_args_init(sw_args_t *g, const sw_arg_t *table, int argc, char **argv, int flags)
{
    memset(g, 0, sizeof *g);
    g->table = table;
    g->argc = argc;
    g->argv = argv;
    g->flags = flags;
    g->i = 1;
    g->rest = argc;
    g->pos = xcalloc((size_t) (argc > 0 ? argc : 1), sizeof *g->pos);
}

void
sw_args_release(sw_args_t *g)
{
    free(g->pos);
    g->pos = NULL;
    g->npos = 0;
}

static int s_error(sw_args_t *g, const char *fmt, ...) SW_PRINTF(2, 3);

static int
s_error(sw_args_t *g, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->err, sizeof g->err, fmt, ap);
    va_end(ap);
    return '?';
}

static int
s_unknown(sw_args_t *g, const char *what, const char *token)
{
    if (strcmp(what, token) == 0)
        snprintf(g->err, sizeof g->err, "unknown option '%s'%s", token, g->hint ? g->hint : "");
    else
        snprintf(g->err, sizeof g->err, "unknown option '%s' in '%s'%s", what, token,
                 g->hint ? g->hint : "");
    return '?';
}

/*  "--name[=value]" */
static int
s_long(sw_args_t *g, const char *token)
{
    const char *name = token + 2, *eq = strchr(name, '=');
    size_t n = eq ? (size_t) (eq - name) : strlen(name);
    const sw_arg_t *hit = NULL;
    int prefixes = 0;
    for (const sw_arg_t *o = g->table; o->name; o++) {
        if (strlen(o->name) == n && strncmp(o->name, name, n) == 0) {
            hit = o;
            prefixes = 1;
            break;
        }
        if (strncmp(o->name, name, n) == 0 && n > 0) {
            if (!hit)
                hit = o;
            prefixes++;
        }
    }
    char opt[160];
    snprintf(opt, sizeof opt, "--%.*s", (int) (n < 150 ? n : 150), name);
    if (!hit)
        return s_unknown(g, token, token);
    if (prefixes > 1) {
        char names[256] = "";
        size_t len = 0;
        for (const sw_arg_t *o = g->table; o->name; o++)
            if (strncmp(o->name, name, n) == 0 && len < sizeof names)
                len += (size_t) snprintf(names + len, sizeof names - len, "%s--%s",
                                         len ? ", " : "", o->name);
        return s_error(g, "option '%s' is ambiguous: %s", opt, names);
    }
    g->token = token;
    if (!hit->has_arg) {
        if (eq)
            return s_error(g, "option '--%s' takes no value, got '%s'", hit->name, token);
        return hit->id;
    }
    if (eq) {
        g->arg = eq + 1;
        return hit->id;
    }
    if (g->i >= g->argc)
        return s_error(g, "option '--%s' needs a value", hit->name);
    g->arg = g->argv[g->i++];
    return hit->id;
}

/*  One character of a short cluster; g->cluster points at it. */
static int
s_short(sw_args_t *g)
{
    const char *token = g->token;
    char c = *g->cluster++;
    const sw_arg_t *hit = NULL;
    for (const sw_arg_t *o = g->table; o->name && !hit; o++)
        if (o->short_opt && o->short_opt == c)
            hit = o;
    if (!hit) {
        /*  A first character we do not know names the whole token: a
         *  "-1 + 2 = ?" is no cluster of options. */
        char what[3] = { '-', c, '\0' };
        bool first = g->cluster == token + 2;
        g->cluster = NULL;
        return s_unknown(g, first ? token : what, token);
    }
    if (!hit->has_arg) {
        if (!*g->cluster)
            g->cluster = NULL;
        return hit->id;
    }
    if (*g->cluster) {
        g->arg = g->cluster;
        g->cluster = NULL;
        return hit->id;
    }
    g->cluster = NULL;
    if (g->i >= g->argc) {
        char what[3] = { '-', c, '\0' };
        return s_error(g, "option '%s' needs a value", what);
    }
    g->arg = g->argv[g->i++];
    return hit->id;
}

int
sw_args_next(sw_args_t *g)
{
    g->arg = NULL;
    g->err[0] = '\0';
    if (g->cluster)
        return s_short(g);
    while (g->i < g->argc) {
        const char *token = g->argv[g->i];
        if (strcmp(token, "--") == 0) {
            g->dashdash = true;
            g->i++;
            if (g->flags & (SW_ARGS_REST | SW_ARGS_IN_ORDER)) {
                g->rest = g->i;
                g->i = g->argc;
                return -1;
            }
            while (g->i < g->argc)
                g->pos[g->npos++] = g->argv[g->i++];
            return -1;
        }
        if (token[0] != '-' || token[1] == '\0') {
            if (g->flags & SW_ARGS_IN_ORDER) {
                g->rest = g->i;
                g->i = g->argc;
                return -1;
            }
            g->pos[g->npos++] = g->argv[g->i++];
            continue;
        }
        g->i++;
        g->token = token;
        if (token[1] == '-')
            return s_long(g, token);
        g->cluster = token + 1;
        return s_short(g);
    }
    return -1;
}

/*  --- self-test ------------------------------------------------------------------ */

enum { T_ID = 256, T_JOB, T_WAIT, T_NS, T_FG, T_TIMEOUT, T_TAGS };

static const sw_arg_t s_table[] = {
    { "id", 0, true, T_ID }, { "job", 'j', true, T_JOB }, { "wait", 'w', false, T_WAIT },
    { "namespace", 'n', true, T_NS }, { "foreground", 'f', false, T_FG },
    { "timeout", 0, true, T_TIMEOUT }, { "tags", 0, true, T_TAGS }, { NULL, 0, false, 0 },
};

/*  Scans argv (NULL-terminated); returns the options as "id=value id ..."
 *  and the positionals after a '|', or "ERR: message". */
static char *
s_scan(int flags, char **argv)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    sw_args_t g;
    sw_args_init(&g, s_table, argc, argv, flags);
    sw_buf_t b;
    sw_buf_init(&b);
    int c;
    while ((c = sw_args_next(&g)) != -1) {
        if (c == '?') {
            sw_buf_reset(&b);
            sw_buf_printf(&b, "ERR: %s", g.err);
            sw_args_release(&g);
            return b.data;
        }
        sw_buf_printf(&b, "%d%s%s ", c - T_ID, g.arg ? "=" : "", g.arg ? g.arg : "");
    }
    sw_buf_addstr(&b, "|");
    for (int i = 0; i < g.npos; i++)
        sw_buf_printf(&b, " %s", g.pos[i]);
    if (g.rest < argc)
        sw_buf_printf(&b, " rest=%s", argv[g.rest]);
    sw_args_release(&g);
    return b.data;
}

#define SCAN(flags, want, ...)                                                  \
    do {                                                                        \
        char *argv_[] = { "verb", __VA_ARGS__, NULL };                          \
        char *got_ = s_scan(flags, argv_);                                      \
        if (strcmp(got_, want) != 0)                                            \
            fprintf(stderr, "args: got '%s', want '%s'\n", got_, want);         \
        CHECK(strcmp(got_, want) == 0);                                         \
        free(got_);                                                             \
    } while (0)

int
sw_args_test(bool verbose)
{
    /*  values are the next element, whatever they look like */
    SCAN(0, "0=x1 3=-1 + 2 | p", "--id", "x1", "--namespace", "-1 + 2", "p");
    SCAN(0, "0=--job |", "--id", "--job");
    SCAN(0, "0=a=b 3=ns |", "--id=a=b", "-nns");
    SCAN(0, "0= |", "--id=");
    /*  clusters and permutation */
    SCAN(0, "4 2 3=ns | a b", "a", "-fwn", "ns", "b");
    SCAN(0, "4 3=ns | -", "-fnns", "-");
    SCAN(0, "5=9 | p", "--ti", "9", "p");
    /*  "--" ends options: positionals, or the rest for the caller */
    SCAN(0, "0=x | -1 + 2 = ? --wait", "--id", "x", "--", "-1 + 2 = ?", "--wait");
    SCAN(SW_ARGS_REST, "0=x | rest=gcc", "--id", "x", "--", "gcc", "-c");
    SCAN(SW_ARGS_REST, "0=x | rest=--", "--id", "x", "--", "--");
    SCAN(SW_ARGS_IN_ORDER, "2 | rest=memory", "-w", "memory", "--wait");
    SCAN(SW_ARGS_IN_ORDER, "2 | rest=--x", "-w", "--", "--x");
    /*  every error names the offending element (issue 14) */
    SCAN(0, "ERR: unknown option '-1 + 2 = ?'", "--id", "x1", "-1 + 2 = ?");
    SCAN(0, "ERR: unknown option '-x' in '-fx'", "-fx");
    SCAN(0, "ERR: unknown option '--bogus=1'", "--bogus=1");
    SCAN(0, "ERR: option '--id' needs a value", "p", "--id");
    SCAN(0, "ERR: option '-n' needs a value", "-fn");
    SCAN(0, "ERR: option '--wait' takes no value, got '--wait=yes'", "--wait=yes");
    SCAN(0, "ERR: option '--t' is ambiguous: --timeout, --tags", "--t", "1");
    SCAN(0, "ERR: unknown option '---'", "---");
    SCAN(0, "ERR: unknown option '-\xc3\xa9t\xc3\xa9'", "-\xc3\xa9t\xc3\xa9");
    /*  the emptiest: nothing, an empty positional, an empty value */
    SCAN(0, "|", NULL);
    SCAN(0, "| ", "");
    SCAN(0, "0= |", "--id", "");
    (void) verbose;
    return 0;
}
