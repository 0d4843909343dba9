/*  cli_memory -- swarm memory get|list (the namespace layout is in
 *  docs/redis.md; store, search, export and import come with the memory
 *  issue). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static int
s_get(cli_t *cli, const char *ns, const char *key)
{
    char k[512];
    snprintf(k, sizeof k, "swarm:mem:%s:%s", ns, key);
    sw_err_t err = { 0 };
    redisReply *r = sw_redis_cmdv(cli->redis, &err, "HGET", k, "value", NULL);
    if (!r)
        return cli_fail(EXIT_UNREACHABLE, "%s", err.msg);
    int rc = 0;
    if (r->type != REDIS_REPLY_STRING)
        rc = cli_fail(EXIT_NOT_FOUND, "no key '%s' in namespace '%s'", key, ns);
    else if (cli->json) {
        json_t *o = json_object();
        sw_buf_t b;
        sw_buf_init(&b);
        sw_utf8_sanitize(r->str, r->len, &b);
        json_object_set_new(o, "namespace", json_string(ns));
        json_object_set_new(o, "key", json_string(key));
        json_object_set_new(o, "value", json_stringn(b.data ? b.data : "", b.len));
        sw_buf_release(&b);
        cli_print_json(o);
    }
    else {
        fwrite(r->str, 1, r->len, stdout);
        if (r->len && r->str[r->len - 1] != '\n')
            putchar('\n');
    }
    freeReplyObject(r);
    return rc;
}

typedef struct {
    redisReply **values;
} s_list_t;

static void
s_keep(void *arg, int i, redisReply *r)
{
    s_list_t *l = arg;
    /*  flush frees each reply after the callback: copy what we need */
    l->values[i] = NULL;
    if (r->type == REDIS_REPLY_STRING) {
        redisReply *copy = xcalloc(1, sizeof *copy);
        copy->type = REDIS_REPLY_STRING;
        copy->str = xstrndup(r->str, r->len);
        copy->len = r->len;
        l->values[i] = copy;
    }
}

static int
s_list(cli_t *cli, const char *ns, long long limit)
{
    char idx[256];
    snprintf(idx, sizeof idx, "swarm:ns:%s", ns);
    sw_err_t err = { 0 };
    char stop[32];
    snprintf(stop, sizeof stop, "%lld", limit - 1);
    redisReply *keys = sw_redis_cmdv(cli->redis, &err, "ZREVRANGE", idx, "0", stop, NULL);
    redisReply *total = keys ? sw_redis_cmdv(cli->redis, &err, "ZCARD", idx, NULL) : NULL;
    if (!keys || !total) {
        if (keys)
            freeReplyObject(keys);
        return cli_fail(EXIT_UNREACHABLE, "%s", err.msg);
    }
    s_list_t l = { .values = xcalloc(keys->elements + 1, sizeof *l.values) };
    for (size_t i = 0; i < keys->elements; i++) {
        char k[512];
        snprintf(k, sizeof k, "swarm:mem:%s:%s", ns, keys->element[i]->str);
        const char *argv[] = { "HGET", k, "value" };
        sw_redis_append(cli->redis, 3, argv, NULL);
    }
    int rc = sw_redis_flush_each(cli->redis, s_keep, &l, &err) < 0
           ? cli_fail(EXIT_UNREACHABLE, "%s", err.msg) : 0;
    json_t *arr = json_array();
    size_t shown = 0;
    for (size_t i = 0; rc == 0 && i < keys->elements; i++) {
        redisReply *v = l.values[i];
        if (!v)
            continue;           /*  expired: its index entry is stale */
        shown++;
        sw_buf_t b;
        sw_buf_init(&b);
        sw_utf8_sanitize(v->str, v->len, &b);
        if (cli->json) {
            json_t *o = json_object();
            json_object_set_new(o, "key", json_string(keys->element[i]->str));
            json_object_set_new(o, "value", json_stringn(b.data ? b.data : "", b.len));
            json_array_append_new(arr, o);
        }
        else {
            size_t n = strcspn(b.data ? b.data : "", "\n");
            printf("%-32s %.*s%s\n", keys->element[i]->str, (int) (n > 100 ? 100 : n),
                   b.data ? b.data : "", n > 100 || (b.data && b.data[n]) ? " ..." : "");
        }
        sw_buf_release(&b);
    }
    long long more = total->integer - (long long) keys->elements;
    if (rc == 0 && cli->json) {
        json_t *o = json_object();
        json_object_set_new(o, "namespace", json_string(ns));
        json_object_set_new(o, "entries", arr);
        json_object_set_new(o, "total", json_integer(total->integer));
        json_object_set_new(o, "more", json_integer(more > 0 ? more : 0));
        cli_print_json(o);
    }
    else {
        json_decref(arr);
        if (rc == 0 && shown == 0)
            printf("(namespace %s is empty)\n", ns);
        if (rc == 0 && more > 0)
            printf("... %lld more (--limit N to see them)\n", more);
    }
    for (size_t i = 0; i < keys->elements; i++)
        if (l.values[i]) {
            free(l.values[i]->str);
            free(l.values[i]);
        }
    free(l.values);
    freeReplyObject(keys);
    freeReplyObject(total);
    return rc;
}

int
cli_memory(cli_t *cli, int argc, char **argv)
{
    static const char usage[] =
        "usage: swarm memory get  --namespace NS KEY      (alias: retrieve)\n"
        "       swarm memory list --namespace NS [--limit N]\n"
        "Reads the shared memory in Redis. Task results are in namespace 'results'\n"
        "under result-<task id>.\n";
    static const struct option lo[] = {
        { "namespace", required_argument, NULL, 'n' }, { "limit", required_argument, NULL, 'l' },
        { "json", no_argument, NULL, 'J' }, { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    const char *verb = argv[1];
    const char *ns = "default";
    long long limit = 20;
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, ":n:h", lo, NULL)) != -1) {
        switch (c) {
        case 'n': ns = optarg; break;
        case 'l':
            if (sw_parse_int(optarg, 1, 1000000, &limit) < 0)
                return cli_fail(EXIT_USAGE, "memory: --limit wants a number, got '%s'", optarg);
            break;
        case 'J': cli->json = true; break;
        case 'h': fputs(usage, stdout); return 0;
        default: return cli_fail(EXIT_USAGE, "memory: unknown option '%s'", argv[optind - 1]);
        }
    }
    if (!sw_id_valid(ns))
        return cli_fail(EXIT_USAGE, "memory: invalid namespace '%s'", ns);
    bool get = strcmp(verb, "get") == 0 || strcmp(verb, "retrieve") == 0;
    if (!get && strcmp(verb, "list") != 0)
        return cli_fail(EXIT_USAGE, "memory: unknown command '%s' (get, list)", verb);
    if (get && argc - optind != 1)
        return cli_fail(EXIT_USAGE, "memory get: name one KEY");
    if (!get && argc - optind != 0)
        return cli_fail(EXIT_USAGE, "memory list: unexpected argument '%s'", argv[optind]);
    if (!cli_redis(cli))
        return EXIT_UNREACHABLE;
    return get ? s_get(cli, ns, argv[optind]) : s_list(cli, ns, limit);
}
