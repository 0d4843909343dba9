/*  cli_common -- helpers of the swarm CLI, in the binary and in the
 *  swarm-ctl module alike. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static char s_last_error[1024];

void
cli_term_write(FILE *f, bool tty, const char *s, size_t n)
{
    if (!tty) {
        fwrite(s, 1, n, f);
        return;
    }
    sw_buf_t b;
    sw_buf_init(&b);
    for (size_t i = 0; i < n; ) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t len = nl ? (size_t) (nl - (s + i)) : n - i;
        sw_term_sanitize(s + i, len, &b);
        if (nl)
            sw_buf_add(&b, "\n", 1);
        i += len + (nl != NULL);
    }
    fwrite(b.data ? b.data : "", 1, b.len, f);
    sw_buf_release(&b);
}

int
cli_redis_exit(const sw_err_t *err)
{
    return err->code == SW_EUNREACH ? EXIT_UNREACHABLE
         : err->code == SW_ENOTFOUND ? EXIT_NOT_FOUND : EXIT_TASKS_FAILED;
}

int
cli_fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s_last_error, sizeof s_last_error, fmt, ap);
    va_end(ap);
    fprintf(stderr, "swarm: %s\n", s_last_error);
    return code;
}

const char *
cli_last_error(void)
{
    return s_last_error;
}

void
cli_clear_error(void)
{
    s_last_error[0] = '\0';
}

enum { CLI_OPT_JSON = 0x7fff0001 };

void
cli_args_init(cli_args_t *a, cli_t *cli, const char *verb, const sw_arg_t *table, int argc,
              char **argv, int flags)
{
    size_t n = 0;
    while (table && table[n].name)
        n++;
    a->table = xcalloc(n + 3, sizeof *a->table);
    if (n)
        memcpy(a->table, table, n * sizeof *table);
    a->table[n] = (sw_arg_t) { "json", 0, false, CLI_OPT_JSON };
    a->table[n + 1] = (sw_arg_t) { "help", 'h', false, 'h' };
    a->cli = cli;
    a->verb = verb;
    sw_args_init(&a->g, a->table, argc, argv, flags);
}

int
cli_args_next(cli_args_t *a)
{
    int c;
    while ((c = sw_args_next(&a->g)) == CLI_OPT_JSON)
        a->cli->json = true;
    if (c == '?')
        cli_fail(EXIT_USAGE, "%s: %s (see swarm %s --help)", a->verb, a->g.err, a->verb);
    return c;
}

void
cli_args_release(cli_args_t *a)
{
    sw_args_release(&a->g);
    free(a->table);
    a->table = NULL;
}

json_t *
cli_mp_to_json(const msgpack_object *o)
{
    return sw_mp_to_json(o);
}

void
cli_print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    puts(s ? s : "null");
    free(s);
    json_decref(j);
}

void
cli_duration(int64_t ms, char *out, size_t n)
{
    if (ms < 0)
        snprintf(out, n, "-");
    else if (ms < 60000)
        snprintf(out, n, "%.1fs", (double) ms / 1000);
    else if (ms < 3600000)
        snprintf(out, n, "%dm%02ds", (int) (ms / 60000), (int) (ms / 1000 % 60));
    else
        snprintf(out, n, "%dh%02dm", (int) (ms / 3600000), (int) (ms / 60000 % 60));
}

sw_redis_t *
cli_redis(cli_t *cli)
{
    if (cli->redis)
        return cli->redis;
    sw_err_t err = { 0 };
    cli->redis = sw_keys_connect(cli->redis_url, 2000, &err);
    if (!cli->redis)
        cli_fail(err.code == SW_EINVAL ? EXIT_USAGE : EXIT_UNREACHABLE, "%s", err.msg);
    return cli->redis;
}

char *
cli_current_job(cli_t *cli, const char *flag)
{
    if (flag)
        return xstrdup(flag);
    sw_err_t err = { 0 };
    redisReply *r = sw_redis_cmdv(cli->redis, &err, "GET", SW_KEY_CURRENT_JOB, NULL);
    char *job = r && r->type == REDIS_REPLY_STRING ? xstrdup(r->str) : NULL;
    if (r)
        freeReplyObject(r);
    return job;
}

