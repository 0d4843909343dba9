/*  sw_opts -- see sw_opts.h */
#include "sw_opts.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sw_args.h"
#include "sw_selftest.h"

static const sw_opt_t *
s_find(const sw_opt_t *table, const char *name)
{
    for (const sw_opt_t *o = table; o->name; o++)
        if (strcmp(o->name, name) == 0)
            return o;
    return NULL;
}

static struct {
    const char      *name;
    sw_opt_check_fn *fn;
} s_checks[8];

void
sw_opts_set_check(const char *name, sw_opt_check_fn *fn)
{
    for (size_t i = 0; i < sizeof s_checks / sizeof s_checks[0]; i++)
        if (!s_checks[i].name || strcmp(s_checks[i].name, name) == 0) {
            s_checks[i].name = name;
            s_checks[i].fn = fn;
            return;
        }
}

static sw_opt_check_fn *
s_check_of(const char *name)
{
    for (size_t i = 0; i < sizeof s_checks / sizeof s_checks[0] && s_checks[i].name; i++)
        if (strcmp(s_checks[i].name, name) == 0)
            return s_checks[i].fn;
    return NULL;
}

static int
s_apply(const sw_opt_t *o, void *conf, const char *value, const char *where, sw_err_t *err)
{
    char *field = (char *) conf + o->offset;
    long long v;
    switch (o->kind) {
    case SW_OPT_FLAG:
        if (!value || !strcmp(value, "yes") || !strcmp(value, "true") || !strcmp(value, "1"))
            *(bool *) field = true;
        else if (!strcmp(value, "no") || !strcmp(value, "false") || !strcmp(value, "0"))
            *(bool *) field = false;
        else
            return sw_err_set(err, SW_EINVAL, "%s--%s: expected yes or no, got '%s'", where,
                              o->name, value);
        return 0;
    case SW_OPT_STR:
        free(*(char **) field);
        *(char **) field = xstrdup(value);
        return 0;
    case SW_OPT_INT:
        if (sw_parse_int(value, o->min, o->max, &v) < 0)
            return sw_err_set(err, SW_EINVAL, "%s--%s: expected an integer in %lld..%lld, "
                              "got '%s'", where, o->name, o->min, o->max, value);
        *(long long *) field = v;
        return 0;
    case SW_OPT_LIST:
        if (s_check_of(o->name)) {
            sw_err_t why = { 0 };
            if (s_check_of(o->name)(value, &why) < 0)
                return sw_err_set(err, SW_EINVAL, "%s--%s: %s", where, o->name, why.msg);
        }
        sw_strv_push((sw_strv_t *) field, value);
        return 0;
    }
    return -1;
}

static char *
s_trim(char *s)
{
    while (isspace((unsigned char) *s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char) e[-1]))
        *--e = '\0';
    return s;
}

static int
s_load_file(const sw_opt_t *table, void *conf, const char *path, sw_err_t *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return sw_err_set(err, SW_EINVAL, "cannot read config %s: %m", path);
    char line[4096];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *s = s_trim(line);
        if (!*s)
            continue;
        char *eq = strchr(s, '=');
        char *name = s, *value = NULL;
        if (eq) {
            *eq = '\0';
            value = s_trim(eq + 1);
            name = s_trim(name);
        }
        char where[512];
        snprintf(where, sizeof where, "%s:%d: ", path, lineno);
        const sw_opt_t *o = s_find(table, name);
        char *dot = o ? NULL : strchr(name, '.');
        char *joined = NULL;
        if (dot && value) {
            /*  LIST.NAME = VALUE: NAME=VALUE added to the list option */
            *dot = '\0';
            o = s_find(table, name);
            if (o && o->kind == SW_OPT_LIST && dot[1])
                value = joined = xasprintf("%s=%s", dot + 1, value);
            else {
                *dot = '.';
                o = NULL;
            }
        }
        if (!o || strcmp(name, "config") == 0)
            rc = sw_err_set(err, SW_EINVAL, "%sunknown setting '%s'", where, name);
        else if (!value && o->kind != SW_OPT_FLAG)
            rc = sw_err_set(err, SW_EINVAL, "%s'%s' needs '= VALUE'", where, name);
        else
            rc = s_apply(o, conf, value, where, err);
        free(joined);
    }
    fclose(f);
    return rc;
}

void
sw_opts_usage(FILE *f, const char *usage_head, const sw_opt_t *table)
{
    fprintf(f, "%s\nOptions:\n", usage_head);
    fprintf(f, "  -c, --config FILE         read settings (name = value) from FILE\n");
    for (const sw_opt_t *o = table; o->name; o++) {
        char left[64];
        snprintf(left, sizeof left, "%c%c%s--%s%s%s", o->short_opt ? '-' : ' ',
                 o->short_opt ? o->short_opt : ' ', o->short_opt ? ", " : "  ", o->name,
                 o->arg ? " " : "", o->arg ? o->arg : "");
        fprintf(f, "  %-24s  %s\n", left, o->help);
    }
    fprintf(f, "  -h, --help                this text\n"
               "      --version             print the version\n");
}

int
sw_opts_parse(const sw_opt_t *table, void *conf, int argc, char **argv, const char *usage_head,
              sw_err_t *err)
{
    size_t n = 0;
    for (const sw_opt_t *o = table; o->name; o++)
        n++;
    sw_arg_t *lo = xcalloc(n + 4, sizeof *lo);
    for (size_t i = 0; i < n; i++)
        lo[i] = (sw_arg_t) { table[i].name, table[i].short_opt, table[i].kind != SW_OPT_FLAG,
                             256 + (int) i };
    lo[n] = (sw_arg_t) { "config", 'c', true, 'c' };
    lo[n + 1] = (sw_arg_t) { "help", 'h', false, 'h' };
    lo[n + 2] = (sw_arg_t) { "version", 0, false, 'V' };

    /*  Pass 1: find the config file, so the command line overrides it. */
    int rc = 0, c;
    const char *config = NULL;
    sw_args_t g;
    sw_args_init(&g, lo, argc, argv, 0);
    while ((c = sw_args_next(&g)) != -1)
        if (c == 'c')
            config = g.arg;
    sw_args_release(&g);
    if (config && s_load_file(table, conf, config, err) < 0) {
        free(lo);
        return -1;
    }
    sw_args_init(&g, lo, argc, argv, 0);
    while (rc == 0 && (c = sw_args_next(&g)) != -1) {
        if (c >= 256)
            rc = s_apply(&table[c - 256], conf, g.arg, "", err);
        else if (c == 'h') {
            sw_opts_usage(stdout, usage_head, table);
            rc = 1;
        }
        else if (c == 'V') {
            printf("%s %s\n", argv[0], SWARM_VERSION);
            rc = 1;
        }
        else if (c == '?')
            rc = sw_err_set(err, SW_EINVAL, "%s (see --help)", g.err);
    }
    if (rc == 0 && g.npos > 0)
        rc = sw_err_set(err, SW_EINVAL, "unexpected argument '%s' (see --help)", g.pos[0]);
    sw_args_release(&g);
    free(lo);
    return rc;
}

typedef struct {
    char     *name;
    long long slots;
    bool      fg;
    sw_strv_t labels;
} s_test_conf_t;

static int
s_test_check(const char *value, sw_err_t *err)
{
    return strstr(value, "bad") ? sw_err_set(err, SW_EINVAL, "no 'bad' here") : 0;
}

int
sw_opts_test(bool verbose)
{
    static const sw_opt_t table[] = {
        { "name", 0, SW_OPT_STR, offsetof(s_test_conf_t, name), 0, 0, "N", "name" },
        { "slots", 's', SW_OPT_INT, offsetof(s_test_conf_t, slots), 1, 64, "N", "slots" },
        { "foreground", 'f', SW_OPT_FLAG, offsetof(s_test_conf_t, fg), 0, 0, NULL, "fg" },
        { "label", 0, SW_OPT_LIST, offsetof(s_test_conf_t, labels), 0, 0, "K=V", "label" },
        { NULL, 0, 0, 0, 0, 0, NULL, NULL },
    };
    sw_err_t err = { 0 };
    char path[] = "/tmp/swarm-opts-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("# comment\nname = from-file\nslots = 3\nlabel = a=1\n", f);
    fclose(f);

    s_test_conf_t conf = { .slots = 1 };
    char *argv1[] = { "prog", "-c", path, "-s", "5", "--label", "b=2", "-f", NULL };
    CHECK(sw_opts_parse(table, &conf, 8, argv1, "usage", &err) == 0);
    CHECK(conf.slots == 5 && conf.fg && strcmp(conf.name, "from-file") == 0);
    CHECK(conf.labels.n == 2 && strcmp(conf.labels.v[1], "b=2") == 0);

    char *argv2[] = { "prog", "--slots", "99", NULL };
    CHECK(sw_opts_parse(table, &conf, 3, argv2, "usage", &err) < 0);
    CHECK(strstr(err.msg, "1..64") != NULL);
    char *argv3[] = { "prog", "--bogus", NULL };
    CHECK(sw_opts_parse(table, &conf, 2, argv3, "usage", &err) < 0);
    CHECK(strstr(err.msg, "unknown option '--bogus'") != NULL);
    /*  the offending element, also inside a cluster (issue 14) */
    char *argv5[] = { "prog", "-fz", NULL };
    CHECK(sw_opts_parse(table, &conf, 2, argv5, "usage", &err) < 0);
    CHECK(strstr(err.msg, "unknown option '-z' in '-fz'") != NULL);
    char *argv6[] = { "prog", "-f", "stray", NULL };
    CHECK(sw_opts_parse(table, &conf, 3, argv6, "usage", &err) < 0);
    CHECK(strstr(err.msg, "unexpected argument 'stray'") != NULL);
    char *argv7[] = { "prog", "--slots", NULL };
    CHECK(sw_opts_parse(table, &conf, 2, argv7, "usage", &err) < 0);
    CHECK(strstr(err.msg, "option '--slots' needs a value") != NULL);

    f = fopen(path, "w");
    fputs("name = x\n\nwhat = 1\n", f);
    fclose(f);
    char *argv4[] = { "prog", "-c", path, NULL };
    CHECK(sw_opts_parse(table, &conf, 3, argv4, "usage", &err) < 0);
    CHECK(strstr(err.msg, ":3: unknown setting 'what'") != NULL);
    /*  LIST.NAME = VALUE, and a list's check naming the line */
    sw_strv_release(&conf.labels);
    f = fopen(path, "w");
    fputs("label.zone = eu 1\nname.x = 2\n", f);
    fclose(f);
    CHECK(sw_opts_parse(table, &conf, 3, argv4, "usage", &err) < 0);
    CHECK(strstr(err.msg, ":2: unknown setting 'name.x'") != NULL);
    CHECK(conf.labels.n == 1 && strcmp(conf.labels.v[0], "zone=eu 1") == 0);
    sw_strv_release(&conf.labels);
    f = fopen(path, "w");
    fputs("label.a = 1\n# x\nlabel.b = bad\n", f);
    fclose(f);
    sw_opts_set_check("label", s_test_check);
    CHECK(sw_opts_parse(table, &conf, 3, argv4, "usage", &err) < 0);
    CHECK(strstr(err.msg, ":3: --label: no 'bad' here") != NULL);
    sw_opts_set_check("label", NULL);
    unlink(path);
    free(conf.name);
    sw_strv_release(&conf.labels);
    (void) verbose;
    return 0;
}
