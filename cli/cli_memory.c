/*  cli_memory -- swarm memory store|get|delete|list|search|export|import|stats
 *
 *  A thin front on common/sw_memory: parse, call, print. With --json every
 *  verb prints exactly one JSON document on stdout; messages go to stderr.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "sw_memory.h"

static const char s_usage[] =
    "usage: swarm memory store  [--namespace NS] [--ttl S] [--no-upsert] [--tags A,B] [--] KEY\n"
    "                           [VALUE|-]\n"
    "       swarm memory get     [--namespace NS] [--] KEY     (alias: retrieve)\n"
    "       swarm memory delete  [--namespace NS] [--] KEY\n"
    "       swarm memory list    [--namespace NS] [--limit N]\n"
    "       swarm memory search  [--namespace NS] [--limit N] [--] QUERY...\n"
    "       swarm memory export  [--namespace NS] > FILE.jsonl\n"
    "       swarm memory import  [--namespace NS] [FILE.jsonl] < FILE.jsonl\n"
    "       swarm memory stats\n"
    "The shared memory in Redis, seen by every agent on every machine.\n"
    "NS defaults to 'default'; task results are in 'results' as result-<id>.\n"
    "store reads VALUE from stdin when it is '-' or absent (binary-safe, 16 MiB\n"
    "at most); --ttl makes Redis delete the entry after S seconds (1 to 31536000,\n"
    "365 days); --no-upsert fails (exit 1) when KEY exists. list shows values\n"
    "newest first and says how many more there are; search matches keys, tags\n"
    "and values, ignoring case in every script (Unicode case folding: straße\n"
    "finds STRASSE), best first. export/import use JSON lines (binary values as\n"
    "value_base64) and round-trip exactly. After '--' nothing is an option: a KEY,\n"
    "VALUE or QUERY that starts with '-' goes there. --json on any verb prints\n"
    "one JSON document.\n";

typedef struct {
    const char *ns;
    bool        ns_given;
    long long   limit;
    int64_t     ttl_s;
    bool        no_upsert;
    const char *tags;
} s_opts_t;

static int
s_fail_err(const sw_err_t *err)
{
    int code = err->code == SW_ENOTFOUND ? EXIT_NOT_FOUND
             : err->code == SW_EINVAL ? EXIT_USAGE
             : err->code == SW_EEXISTS ? EXIT_TASKS_FAILED
             : EXIT_UNREACHABLE;
    return cli_fail(code, "memory: %s", err->msg);
}

static void
s_age(int64_t ms, char *out, size_t n)
{
    int64_t s = (sw_wall_ms() - ms) / 1000;
    if (s < 60)
        snprintf(out, n, "%llds ago", (long long) (s < 0 ? 0 : s));
    else if (s < 3600)
        snprintf(out, n, "%lldm ago", (long long) s / 60);
    else if (s < 86400)
        snprintf(out, n, "%lldh ago", (long long) s / 3600);
    else
        snprintf(out, n, "%lldd ago", (long long) s / 86400);
}

/*  One line: KEY, a preview of the value, tags, age. */
static void
s_print_row(const sw_mem_entry_t *e, bool with_ns)
{
    char age[32], label[SW_MEM_MAX_KEY + 200];
    s_age(e->updated, age, sizeof age);
    snprintf(label, sizeof label, "%s%s%s", with_ns ? e->ns : "", with_ns ? "/" : "", e->key);
    char preview[100 + sizeof "..."];
    if (!sw_utf8_clean(e->value, e->len))
        snprintf(preview, sizeof preview, "<%zu bytes of binary>", e->len);
    else {
        size_t n = 0;
        for (; n < e->len && n < 100; n++)
            preview[n] = e->value[n] == '\n' || e->value[n] == '\t' ? ' ' : e->value[n];
        /*  do not cut a UTF-8 sequence in half */
        while (n > 0 && n < e->len && ((unsigned char) e->value[n] & 0xC0) == 0x80)
            n--;
        preview[n] = '\0';
        if (n < e->len)
            strcat(preview, "...");
    }
    printf("%-32s %s", label, preview);
    if (e->tags && *e->tags)
        printf("  [%s]", e->tags);
    printf("  (%s%s)\n", age, e->ttl_ms >= 0 ? ", expires" : "");
}

static char *
s_read_all(FILE *f, size_t *len, bool *too_big)
{
    sw_buf_t b;
    sw_buf_init(&b);
    char buf[65536];
    size_t n;
    *too_big = false;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        if (b.len + n > SW_MEM_MAX_VALUE) {
            *too_big = true;
            break;
        }
        sw_buf_add(&b, buf, n);
    }
    if (!b.data)
        sw_buf_add(&b, "", 0);
    *len = b.len;
    return b.data;
}

static int
s_store(cli_t *cli, const s_opts_t *o, int argc, char **argv)
{
    if (argc < 1 || argc > 2)
        return cli_fail(EXIT_USAGE, "memory store: KEY [VALUE|-] (see swarm memory --help)");
    const char *key = argv[0];
    char *value;
    size_t len;
    if (argc == 2 && strcmp(argv[1], "-") != 0) {
        value = xstrdup(argv[1]);
        len = strlen(value);
    }
    else {
        bool too_big;
        value = s_read_all(stdin, &len, &too_big);
        if (too_big) {
            free(value);
            return cli_fail(EXIT_USAGE, "memory store: the value on stdin is over the limit "
                            "of %u bytes (16 MiB)", SW_MEM_MAX_VALUE);
        }
    }
    sw_mem_store_opts_t so = { .tags = o->tags, .ttl_ms = o->ttl_s * 1000,
                               .no_upsert = o->no_upsert };
    sw_err_t err = { 0 };
    int rc = 0;
    if (!cli_redis(cli))
        rc = EXIT_UNREACHABLE;
    else if (sw_memory_store(cli->redis, o->ns, key, value, len, &so, &err) < 0)
        rc = s_fail_err(&err);
    else if (cli->json) {
        json_t *j = json_pack("{s:s, s:s, s:I, s:b}", "namespace", o->ns, "key", key,
                              "bytes", (json_int_t) len, "stored", 1);
        json_object_set_new(j, "ttl_s", o->ttl_s ? json_integer((json_int_t) o->ttl_s)
                                                  : json_null());
        cli_print_json(j);
    }
    else
        printf("stored %s in %s (%zu bytes%s)\n", key, o->ns, len, o->ttl_s ? ", with TTL" : "");
    free(value);
    return rc;
}

static int
s_get(cli_t *cli, const s_opts_t *o, int argc, char **argv)
{
    if (argc != 1)
        return cli_fail(EXIT_USAGE, "memory get: name one KEY");
    if (!cli_redis(cli))
        return EXIT_UNREACHABLE;
    sw_mem_entry_t e;
    sw_err_t err = { 0 };
    if (sw_memory_get(cli->redis, o->ns, argv[0], &e, &err) < 0)
        return s_fail_err(&err);
    if (cli->json)
        cli_print_json(sw_memory_entry_json(&e, true));
    else {
        fwrite(e.value, 1, e.len, stdout);
        if (isatty(STDOUT_FILENO) && e.len && e.value[e.len - 1] != '\n')
            putchar('\n');
    }
    sw_mem_entry_release(&e);
    return 0;
}

static int
s_delete(cli_t *cli, const s_opts_t *o, int argc, char **argv)
{
    if (argc != 1)
        return cli_fail(EXIT_USAGE, "memory delete: name one KEY");
    if (!cli_redis(cli))
        return EXIT_UNREACHABLE;
    sw_err_t err = { 0 };
    if (sw_memory_delete(cli->redis, o->ns, argv[0], &err) < 0)
        return s_fail_err(&err);
    if (cli->json)
        cli_print_json(json_pack("{s:s, s:s, s:b}", "namespace", o->ns, "key", argv[0],
                                 "deleted", 1));
    else
        printf("deleted %s from %s\n", argv[0], o->ns);
    return 0;
}

static int
s_list(cli_t *cli, const s_opts_t *o, int argc, char **argv)
{
    if (argc != 0)
        return cli_fail(EXIT_USAGE, "memory list: unexpected argument '%s'", argv[0]);
    if (!cli_redis(cli))
        return EXIT_UNREACHABLE;
    sw_mem_entry_t *v;
    size_t n, total;
    sw_err_t err = { 0 };
    if (sw_memory_list(cli->redis, o->ns, 0, (size_t) o->limit, false, &v, &n, &total, &err) < 0)
        return s_fail_err(&err);
    size_t more = total > n ? total - n : 0;
    if (cli->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, sw_memory_entry_json(&v[i], true));
        cli_print_json(json_pack("{s:s, s:I, s:I, s:I, s:o}", "namespace", o->ns,
                                 "total", (json_int_t) total, "shown", (json_int_t) n,
                                 "more", (json_int_t) more, "entries", arr));
    }
    else {
        for (size_t i = 0; i < n; i++)
            s_print_row(&v[i], false);
        if (total == 0)
            printf("(namespace %s is empty)\n", o->ns);
        else if (more)
            printf("... %zu more in %s (%zu in all; --limit N shows more)\n", more, o->ns, total);
    }
    sw_mem_entries_free(v, n);
    return 0;
}

static int
s_search(cli_t *cli, const s_opts_t *o, int argc, char **argv)
{
    if (argc < 1)
        return cli_fail(EXIT_USAGE, "memory search: give a QUERY");
    sw_buf_t q;
    sw_buf_init(&q);
    for (int i = 0; i < argc; i++)
        sw_buf_printf(&q, "%s%s", i ? " " : "", argv[i]);
    if (!cli_redis(cli)) {
        sw_buf_release(&q);
        return EXIT_UNREACHABLE;
    }
    sw_mem_entry_t *v;
    size_t n;
    sw_err_t err = { 0 };
    int rc = sw_memory_search(cli->redis, o->ns_given ? o->ns : NULL, q.data, (size_t) o->limit,
                              &v, &n, &err);
    if (rc < 0) {
        sw_buf_release(&q);
        return s_fail_err(&err);
    }
    if (cli->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, sw_memory_entry_json(&v[i], true));
        cli_print_json(json_pack("{s:s, s:o, s:I}", "query", q.data, "results", arr,
                                 "count", (json_int_t) n));
    }
    else {
        for (size_t i = 0; i < n; i++)
            s_print_row(&v[i], true);
        if (n == 0)
            printf("no entries match '%s'%s%s\n", q.data, o->ns_given ? " in " : "",
                   o->ns_given ? o->ns : "");
    }
    sw_mem_entries_free(v, n);
    sw_buf_release(&q);
    return 0;
}

static int
s_export(cli_t *cli, const s_opts_t *o, int argc, char **argv)
{
    if (argc != 0)
        return cli_fail(EXIT_USAGE, "memory export: unexpected argument '%s'", argv[0]);
    if (!cli_redis(cli))
        return EXIT_UNREACHABLE;
    sw_strv_t spaces = { 0 };
    sw_err_t err = { 0 };
    if (o->ns_given)
        sw_strv_push(&spaces, o->ns);
    else if (sw_memory_namespaces(cli->redis, &spaces, &err) < 0)
        return s_fail_err(&err);
    json_t *arr = cli->json ? json_array() : NULL;
    size_t count = 0;
    int rc = 0;
    for (size_t s = 0; rc == 0 && s < spaces.n; s++)
        for (size_t off = 0;; off += 1000) {
            sw_mem_entry_t *v;
            size_t n, total;
            if (sw_memory_list(cli->redis, spaces.v[s], off, 1000, true, &v, &n, &total, &err) < 0) {
                rc = s_fail_err(&err);
                break;
            }
            for (size_t i = 0; i < n; i++) {
                json_t *j = sw_memory_entry_json(&v[i], true);
                json_object_del(j, "bytes");
                if (arr)
                    json_array_append_new(arr, j);
                else {
                    char *line = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
                    puts(line);
                    free(line);
                    json_decref(j);
                }
            }
            count += n;
            sw_mem_entries_free(v, n);
            if (off + 1000 >= total)
                break;
        }
    if (arr && rc == 0)
        cli_print_json(arr);
    else if (arr)
        json_decref(arr);
    if (rc == 0 && !cli->json)
        fprintf(stderr, "swarm: exported %zu entr%s\n", count, count == 1 ? "y" : "ies");
    sw_strv_release(&spaces);
    return rc;
}

/*  Reads every line first: a bad line anywhere stores nothing. */
static int
s_import(cli_t *cli, const s_opts_t *o, int argc, char **argv)
{
    if (argc > 1)
        return cli_fail(EXIT_USAGE, "memory import: at most one FILE (default: stdin)");
    FILE *f = argc == 1 && strcmp(argv[0], "-") != 0 ? fopen(argv[0], "r") : stdin;
    const char *name = argc == 1 ? argv[0] : "stdin";
    if (!f)
        return cli_fail(EXIT_USAGE, "memory import: cannot read %s: %m", argv[0]);
    size_t cap = 256, n = 0;
    sw_mem_entry_t *v = xcalloc(cap, sizeof *v);
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    int lineno = 0, rc = 0;
    while (rc == 0 && (len = getline(&line, &lcap, f)) >= 0) {
        lineno++;
        if (len <= 1 && (len == 0 || line[0] == '\n'))
            continue;
        json_error_t jerr;
        json_t *j = json_loadb(line, (size_t) len, 0, &jerr);
        sw_err_t err = { 0 };
        if (!j)
            rc = cli_fail(EXIT_USAGE, "memory import: %s:%d:%d: %s", name, lineno,
                          jerr.column, jerr.text);
        else {
            if (n == cap)
                v = xrealloc(v, (cap *= 2) * sizeof *v);
            if (sw_memory_entry_from_json(j, &v[n], &err) < 0)
                rc = cli_fail(EXIT_USAGE, "memory import: %s:%d: %s", name, lineno, err.msg);
            else {
                if (o->ns_given) {
                    free(v[n].ns);
                    v[n].ns = xstrdup(o->ns);
                }
                n++;
            }
            json_decref(j);
        }
    }
    free(line);
    if (f != stdin)
        fclose(f);
    if (rc == 0 && !cli_redis(cli))
        rc = EXIT_UNREACHABLE;
    /*  Pipelined in batches: one round trip per 500 entries. */
    sw_err_t err = { 0 };
    for (size_t i = 0; rc == 0 && i < n; i++) {
        sw_mem_store_opts_t so = { .tags = v[i].tags, .created_ms = v[i].created,
                                   .updated_ms = v[i].updated,
                                   .ttl_ms = v[i].ttl_ms > 0 ? v[i].ttl_ms : 0 };
        if (sw_memory_store_append(cli->redis, v[i].ns, v[i].key, v[i].value, v[i].len, &so,
                                   &err) < 0
            || ((i % 500 == 499 || i + 1 == n) && sw_redis_flush(cli->redis, &err) < 0))
            rc = s_fail_err(&err);
    }
    if (rc == 0) {
        if (cli->json)
            cli_print_json(json_pack("{s:I}", "imported", (json_int_t) n));
        else
            printf("imported %zu entr%s\n", n, n == 1 ? "y" : "ies");
    }
    sw_mem_entries_free(v, n);
    return rc;
}

static int
s_stats(cli_t *cli, const s_opts_t *o, int argc, char **argv)
{
    if (argc != 0)
        return cli_fail(EXIT_USAGE, "memory stats: unexpected argument '%s'", argv[0]);
    if (!cli_redis(cli))
        return EXIT_UNREACHABLE;
    sw_mem_stat_t *v;
    size_t n;
    sw_err_t err = { 0 };
    if (sw_memory_stats(cli->redis, &v, &n, &err) < 0)
        return s_fail_err(&err);
    size_t entries = 0;
    uint64_t bytes = 0;
    json_t *arr = json_array();
    if (!cli->json)
        printf("%-32s %10s %14s\n", "NAMESPACE", "ENTRIES", "BYTES");
    for (size_t i = 0; i < n; i++) {
        if (o->ns_given && strcmp(v[i].ns, o->ns) != 0)
            continue;
        entries += v[i].entries;
        bytes += v[i].bytes;
        if (cli->json)
            json_array_append_new(arr, json_pack("{s:s, s:I, s:I}", "namespace", v[i].ns,
                                                 "entries", (json_int_t) v[i].entries,
                                                 "bytes", (json_int_t) v[i].bytes));
        else
            printf("%-32s %10zu %14llu\n", v[i].ns, v[i].entries, (unsigned long long) v[i].bytes);
    }
    if (cli->json)
        cli_print_json(json_pack("{s:o, s:I, s:I}", "namespaces", arr, "entries",
                                 (json_int_t) entries, "bytes", (json_int_t) bytes));
    else {
        json_decref(arr);
        printf("%-32s %10zu %14llu\n", "total", entries, (unsigned long long) bytes);
    }
    sw_mem_stats_free(v, n);
    return 0;
}

int
cli_memory(cli_t *cli, int argc, char **argv)
{
    static const sw_arg_t lo[] = {
        { "namespace", 'n', true, 'n' }, { "limit", 0, true, 'l' }, { "ttl", 0, true, 't' },
        { "no-upsert", 0, false, 'U' }, { "tags", 0, true, 'g' }, { NULL, 0, false, 0 },
    };
    static const struct {
        const char *name;
        int (*fn)(cli_t *, const s_opts_t *, int, char **);
    } verbs[] = {
        { "store", s_store }, { "get", s_get }, { "retrieve", s_get }, { "delete", s_delete },
        { "list", s_list }, { "search", s_search }, { "export", s_export },
        { "import", s_import }, { "stats", s_stats },
    };
    s_opts_t o = { .ns = "default", .limit = 20 };
    int c, rc = 0;
    cli_args_t a;
    /*  The verb is the first positional: options may come before it too
     *  (swarm memory --json search ...). */
    cli_args_init(&a, cli, "memory", lo, argc, argv, 0);
    a.g.hint = " (a KEY, VALUE or QUERY that starts with '-' goes after '--')";
    while (rc == 0 && (c = cli_args_next(&a)) != -1) {
        sw_err_t err = { 0 };
        switch (c) {
        case 'n': o.ns = a.g.arg; o.ns_given = true; break;
        case 'l':
            if (sw_parse_int(a.g.arg, 1, 10000000, &o.limit) < 0)
                rc = cli_fail(EXIT_USAGE, "memory: --limit wants a number from 1 to 10000000, "
                              "got '%s'", a.g.arg);
            break;
        case 't':
            if (sw_memory_ttl_parse(a.g.arg, &o.ttl_s, &err) < 0)
                rc = cli_fail(EXIT_USAGE, "memory: --%s", err.msg);
            break;
        case 'U': o.no_upsert = true; break;
        case 'g': o.tags = a.g.arg; break;
        case 'h': fputs(s_usage, stdout); rc = -1; break;
        default: rc = EXIT_USAGE;
        }
    }
    if (rc == 0 && a.g.npos == 0) {
        fputs(s_usage, stderr);
        rc = EXIT_USAGE;
    }
    if (rc == 0 && !sw_id_valid(o.ns))
        rc = cli_fail(EXIT_USAGE, "memory: invalid namespace '%s'", o.ns);
    const char *verb = rc == 0 ? a.g.pos[0] : "";
    bool known = false;
    for (size_t i = 0; rc == 0 && i < sizeof verbs / sizeof verbs[0]; i++)
        if (strcmp(verb, verbs[i].name) == 0) {
            rc = verbs[i].fn(cli, &o, a.g.npos - 1, a.g.pos + 1);
            known = true;
        }
    if (rc == 0 && !known)
        rc = cli_fail(EXIT_USAGE, "memory: unknown command '%s' (store, get, delete, list, "
                      "search, export, import, stats)", verb);
    cli_args_release(&a);
    return rc < 0 ? 0 : rc;
}
