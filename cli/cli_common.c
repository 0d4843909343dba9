/*  cli_common -- helpers of the swarm CLI, in the binary and in the
 *  swarm-ctl module alike. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

int
cli_fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("swarm: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

json_t *
cli_mp_to_json(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:              return json_null();
    case MSGPACK_OBJECT_BOOLEAN:          return json_boolean(o->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER: return json_integer((json_int_t) o->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return json_integer(o->via.i64);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:          return json_real(o->via.f64);
    case MSGPACK_OBJECT_STR: {
        sw_buf_t b;
        sw_buf_init(&b);
        sw_utf8_sanitize(o->via.str.ptr, o->via.str.size, &b);
        json_t *s = json_stringn(b.data ? b.data : "", b.len);
        sw_buf_release(&b);
        return s;
    }
    case MSGPACK_OBJECT_ARRAY: {
        json_t *a = json_array();
        for (uint32_t i = 0; i < o->via.array.size; i++)
            json_array_append_new(a, cli_mp_to_json(&o->via.array.ptr[i]));
        return a;
    }
    case MSGPACK_OBJECT_MAP: {
        json_t *m = json_object();
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            char *k = sw_mp_dup(&o->via.map.ptr[i].key);
            if (k && strcmp(k, "ok") != 0)
                json_object_set_new(m, k, cli_mp_to_json(&o->via.map.ptr[i].val));
            free(k);
        }
        return m;
    }
    default:
        return json_null();
    }
}

void
cli_print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
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

