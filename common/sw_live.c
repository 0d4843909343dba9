/*  sw_live -- see sw_live.h */
#include "sw_live.h"

#include <stdlib.h>
#include <string.h>

#include "sw_keys.h"
#include "sw_selftest.h"

void
sw_live_batch_release(sw_live_batch_t *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->v[i].data);
    free(b->v);
    b->v = NULL;
    b->n = 0;
}

static uint64_t
s_u64(const redisReply *v)
{
    return v->type == REDIS_REPLY_STRING ? strtoull(v->str, NULL, 10) : 0;
}

/*  One [id, [field, value, ...]]; false when it is not one. */
static bool
s_entry(const redisReply *r, sw_live_entry_t *e)
{
    memset(e, 0, sizeof *e);
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2
        || r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_ARRAY
        || r->element[0]->len >= sizeof e->id)
        return false;
    memcpy(e->id, r->element[0]->str, r->element[0]->len);
    e->kind = SW_LIVE_OTHER;
    e->code = -1;
    const redisReply *f = r->element[1];
    for (size_t k = 0; k + 1 < f->elements; k += 2) {
        const redisReply *name = f->element[k], *v = f->element[k + 1];
        if (name->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        const char *fn = name->str;
        if (strcmp(fn, "t") == 0)
            e->t = (int64_t) s_u64(v);
        else if (strcmp(fn, "s") == 0)
            e->kind = strcmp(v->str, "out") == 0 ? SW_LIVE_OUT
                    : strcmp(v->str, "err") == 0 ? SW_LIVE_ERR
                    : strcmp(v->str, "end") == 0 ? SW_LIVE_END : SW_LIVE_OTHER;
        else if (strcmp(fn, "n") == 0)
            e->lines = s_u64(v);
        else if (strcmp(fn, "d") == 0 && !e->data) {
            e->data = xmalloc(v->len + 1);
            memcpy(e->data, v->str, v->len);
            e->data[v->len] = '\0';
            e->len = v->len;
        }
        else if (strcmp(fn, "drop") == 0)
            e->dropped = s_u64(v);
        else if (strcmp(fn, "dropb") == 0)
            e->dropped_bytes = s_u64(v);
        else if (strcmp(fn, "status") == 0)
            snprintf(e->status, sizeof e->status, "%s", v->str);
        else if (strcmp(fn, "code") == 0)
            e->code = atoi(v->str);
    }
    if (!e->data)
        e->data = xstrdup("");
    /*  An entry without a count (not ours, or older) has as many lines as
     *  its text shows. */
    if (!e->lines && e->len && e->kind != SW_LIVE_END) {
        e->lines = 1;
        for (size_t i = 0; i < e->len; i++)
            e->lines += e->data[i] == '\n';
    }
    return true;
}

void
sw_live_parse(const redisReply *entries, sw_live_batch_t *b)
{
    if (!entries || entries->type != REDIS_REPLY_ARRAY)
        return;
    b->v = xrealloc(b->v, (b->n + entries->elements + 1) * sizeof *b->v);
    for (size_t i = 0; i < entries->elements; i++)
        if (s_entry(entries->element[i], &b->v[b->n]))
            b->n++;
}

void
sw_live_lines(const sw_live_entry_t *e, void (*fn)(void *arg, const char *line, size_t n),
              void *arg)
{
    if (e->kind != SW_LIVE_OUT && e->kind != SW_LIVE_ERR)
        return;
    if (!e->lines)
        return;
    const char *p = e->data, *end = e->data + e->len;
    for (;;) {
        const char *nl = memchr(p, '\n', (size_t) (end - p));
        fn(arg, p, nl ? (size_t) (nl - p) : (size_t) (end - p));
        if (!nl)
            break;
        p = nl + 1;
    }
}

int
sw_live_range(sw_redis_t *r, const char *key, const char *after, size_t count,
              sw_live_batch_t *b, sw_err_t *err)
{
    char start[64], n[24];
    if (!after || !*after || strcmp(after, "0") == 0)
        snprintf(start, sizeof start, "-");
    else
        snprintf(start, sizeof start, "(%s", after);
    snprintf(n, sizeof n, "%zu", count);
    redisReply *rep = sw_redis_cmdv(r, err, "XRANGE", key, start, "+", "COUNT", n, NULL);
    if (!rep)
        return -1;
    sw_live_parse(rep, b);
    freeReplyObject(rep);
    return 0;
}

int
sw_live_tail(sw_redis_t *r, const char *key, uint64_t lines, sw_live_batch_t *b, sw_err_t *err)
{
    sw_live_batch_t rev = { 0 };
    uint64_t have = 0;
    char end[64] = "+";
    size_t page = lines ? 64 : 1;
    for (;;) {
        char n[24];
        snprintf(n, sizeof n, "%zu", page);
        redisReply *rep = sw_redis_cmdv(r, err, "XREVRANGE", key, end, "-", "COUNT", n, NULL);
        if (!rep) {
            sw_live_batch_release(&rev);
            return -1;
        }
        size_t before = rev.n;
        sw_live_parse(rep, &rev);
        size_t got = rep->type == REDIS_REPLY_ARRAY ? rep->elements : 0;
        freeReplyObject(rep);
        for (size_t i = before; i < rev.n; i++)
            have += rev.v[i].lines;
        if (!lines || have >= lines || got < page || rev.n == before)
            break;
        snprintf(end, sizeof end, "(%s", rev.v[rev.n - 1].id);
    }
    /*  newest first -> oldest first */
    b->v = xrealloc(b->v, (b->n + rev.n + 1) * sizeof *b->v);
    for (size_t i = rev.n; i-- > 0; )
        b->v[b->n++] = rev.v[i];
    free(rev.v);
    return 0;
}

int
sw_live_read(sw_redis_t *r, int nkeys, const char *const *keys, const char *const *after,
             size_t count, int block_ms, sw_live_batch_t *out, sw_err_t *err)
{
    const char **argv = xcalloc((size_t) (6 + 2 * nkeys), sizeof *argv);
    char n[24], ms[24];
    snprintf(n, sizeof n, "%zu", count);
    snprintf(ms, sizeof ms, "%d", block_ms);
    int argc = 0;
    argv[argc++] = "XREAD";
    argv[argc++] = "COUNT";
    argv[argc++] = n;
    argv[argc++] = "BLOCK";
    argv[argc++] = ms;
    argv[argc++] = "STREAMS";
    for (int i = 0; i < nkeys; i++)
        argv[argc++] = keys[i];
    for (int i = 0; i < nkeys; i++)
        argv[argc++] = after[i] && *after[i] ? after[i] : "0";
    redisReply *rep = sw_redis_cmd(r, argc, argv, NULL, err);
    free(argv);
    if (!rep)
        return -1;
    /*  nil when the block time passed; else [[key, entries], ...] */
    for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++) {
        const redisReply *s = rep->element[i];
        if (s->type != REDIS_REPLY_ARRAY || s->elements != 2
            || s->element[0]->type != REDIS_REPLY_STRING)
            continue;
        for (int k = 0; k < nkeys; k++)
            if (strcmp(s->element[0]->str, keys[k]) == 0)
                sw_live_parse(s->element[1], &out[k]);
    }
    freeReplyObject(rep);
    return 0;
}

/*  --- purge ----------------------------------------------------------------------------- */

typedef struct {
    long long *attempts;
} s_attempts_t;

static void
s_attempt_reply(void *arg, int i, redisReply *r)
{
    s_attempts_t *a = arg;
    a->attempts[i] = r->type == REDIS_REPLY_STRING ? atoll(r->str) : 0;
}

static void
s_count_deleted(void *arg, int i, redisReply *r)
{
    long *deleted = arg;
    if (r->type == REDIS_REPLY_INTEGER)
        *deleted += (long) r->integer;
    (void) i;
}

int
sw_live_purge_job(sw_redis_t *r, const char *job, long *deleted, sw_err_t *err)
{
    *deleted = 0;
    char *tasks = sw_key_job_tasks(job);
    int rc = 0;
    for (long off = 0; rc == 0; off += 500) {
        char a[24], z[24];
        snprintf(a, sizeof a, "%ld", off);
        snprintf(z, sizeof z, "%ld", off + 499);
        redisReply *ids = sw_redis_cmdv(r, err, "LRANGE", tasks, a, z, NULL);
        if (!ids) {
            rc = -1;
            break;
        }
        size_t n = ids->type == REDIS_REPLY_ARRAY ? ids->elements : 0;
        long long *attempts = xcalloc(n + 1, sizeof *attempts);
        for (size_t i = 0; i < n; i++) {
            char *key = sw_key_task(job, ids->element[i]->str);
            const char *argv[] = { "HGET", key, "attempt" };
            sw_redis_append(r, 3, argv, NULL);
            free(key);
        }
        s_attempts_t at = { attempts };
        if (n && sw_redis_flush_each(r, s_attempt_reply, &at, err) < 0)
            rc = -1;
        /*  every attempt up to the task's (an attempt the coordinator
         *  numbered once may have written a stream) */
        int dels = 0;
        for (size_t i = 0; rc == 0 && i < n; i++)
            for (long long k = 1; k <= attempts[i] && k <= 1000; k++) {
                char *key = sw_key_task_log(job, ids->element[i]->str, k);
                const char *argv[] = { "DEL", key };
                sw_redis_append(r, 2, argv, NULL);
                free(key);
                dels++;
            }
        if (dels && sw_redis_flush_each(r, s_count_deleted, deleted, err) < 0)
            rc = -1;
        free(attempts);
        freeReplyObject(ids);
        if (n < 500)
            break;
    }
    free(tasks);
    if (rc == 0) {
        char *events = sw_key_job_events(job);
        redisReply *d = sw_redis_cmdv(r, err, "DEL", events, NULL);
        free(events);
        if (!d)
            return -1;
        *deleted += d->type == REDIS_REPLY_INTEGER ? (long) d->integer : 0;
        freeReplyObject(d);
    }
    return rc;
}

/*  --- self-test: replies as Redis sends them, through hiredis' parser ---------------- */

static redisReply *
s_reply(const char *resp)
{
    redisReader *rd = redisReaderCreate();
    void *reply = NULL;
    redisReaderFeed(rd, resp, strlen(resp));
    if (redisReaderGetReply(rd, &reply) != REDIS_OK)
        reply = NULL;
    redisReaderFree(rd);
    return reply;
}

static void
s_collect(void *arg, const char *line, size_t n)
{
    sw_buf_t *b = arg;
    sw_buf_add(b, line, n);
    sw_buf_addstr(b, "|");
}

int
sw_live_test(bool verbose)
{
    redisReply *r = s_reply(
        "*4\r\n"
        "*2\r\n$3\r\n1-0\r\n*8\r\n$1\r\nt\r\n$3\r\n123\r\n$1\r\ns\r\n$3\r\nout\r\n"
        "$1\r\nn\r\n$1\r\n3\r\n$1\r\nd\r\n$6\r\na\n\nb\nc\r\n"
        "*2\r\n$3\r\n2-0\r\n*10\r\n$1\r\nt\r\n$3\r\n124\r\n$1\r\ns\r\n$3\r\nerr\r\n"
        "$1\r\nn\r\n$1\r\n0\r\n$1\r\nd\r\n$0\r\n\r\n$4\r\ndrop\r\n$2\r\n17\r\n"
        "*2\r\n$3\r\n3-0\r\n*10\r\n$1\r\ns\r\n$3\r\nend\r\n$6\r\nstatus\r\n$6\r\nfailed\r\n"
        "$4\r\ncode\r\n$1\r\n2\r\n$1\r\nd\r\n$7\r\nno such\r\n$1\r\nn\r\n$1\r\n0\r\n"
        "*2\r\n$3\r\nbad\r\n$4\r\nnope\r\n");
    CHECK(r != NULL);
    sw_live_batch_t b = { 0 };
    sw_live_parse(r, &b);
    freeReplyObject(r);
    CHECK(b.n == 3);        /*  the last one is not an entry */
    CHECK(b.v[0].kind == SW_LIVE_OUT && b.v[0].t == 123 && b.v[0].lines == 3);
    sw_buf_t lines;
    sw_buf_init(&lines);
    sw_live_lines(&b.v[0], s_collect, &lines);
    CHECK(lines.data && strcmp(lines.data, "a||b|c|") == 0);
    CHECK(b.v[1].kind == SW_LIVE_ERR && b.v[1].dropped == 17 && b.v[1].lines == 0);
    sw_buf_reset(&lines);
    sw_live_lines(&b.v[1], s_collect, &lines);
    CHECK(lines.len == 0);
    CHECK(b.v[2].kind == SW_LIVE_END && strcmp(b.v[2].status, "failed") == 0
          && b.v[2].code == 2 && b.v[2].len == 7 && strcmp(b.v[2].id, "3-0") == 0);
    sw_live_batch_release(&b);
    sw_buf_release(&lines);
    (void) verbose;
    return 0;
}
