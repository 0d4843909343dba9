/*  sw_keys -- see sw_keys.h */
#include "sw_keys.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sw_mpack.h"
#include "sw_selftest.h"

void
sw_keys_escape(sw_buf_t *out, const char *part)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *) part; *p; p++) {
        if (*p == '%' || *p == ':' || *p == '{' || *p == '}' || *p < 0x20 || *p == 0x7f) {
            char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };
            sw_buf_add(out, e, 3);
        }
        else
            sw_buf_add(out, p, 1);
    }
}

/*  swarm:KIND:{SCOPE}[:SUB[:ITEM]] */
static char *
s_key(const char *kind, const char *scope, const char *sub, const char *item)
{
    sw_buf_t b;
    sw_buf_init(&b);
    sw_buf_printf(&b, "swarm:%s:{", kind);
    sw_keys_escape(&b, scope);
    sw_buf_addstr(&b, "}");
    if (sub) {
        sw_buf_printf(&b, ":%s", sub);
        if (item) {
            sw_buf_addstr(&b, ":");
            sw_keys_escape(&b, item);
        }
    }
    return b.data;
}

char *
sw_key_job(const char *job)
{
    return s_key("job", job, NULL, NULL);
}

char *
sw_key_job_tasks(const char *job)
{
    return s_key("job", job, "tasks", NULL);
}

char *
sw_key_task(const char *job, const char *id)
{
    return s_key("job", job, "task", id);
}

char *
sw_key_task_log(const char *job, const char *id, long long attempt)
{
    char *base = s_key("job", job, "log", id);
    char *key = xasprintf("%s:%lld", base, attempt);
    free(base);
    return key;
}

char *
sw_key_job_events(const char *job)
{
    return s_key("job", job, "events", NULL);
}

char *
sw_key_ns_index(const char *ns)
{
    return s_key("ns", ns, NULL, NULL);
}

char *
sw_key_ns_ttl(const char *ns)
{
    return s_key("ns", ns, "ttl", NULL);
}

char *
sw_key_mem(const char *ns, const char *key)
{
    return s_key("ns", ns, "entry", key);
}

char *
sw_key_cas(const char *digest)
{
    return s_key("cas", digest, NULL, NULL);
}

char *
sw_key_cas_jobs(const char *digest)
{
    return s_key("cas", digest, "jobs", NULL);
}

char *
sw_key_job_cas(const char *job)
{
    return s_key("job", job, "cas", NULL);
}

char *
sw_key_commit(const char *oid)
{
    return s_key("commit", oid, NULL, NULL);
}

/*  --- layout ------------------------------------------------------------------ */

/*  KEYS: layout mark, then keys only layout 1 data has (or shares).
 *  ARGV: this layout. Returns the data's layout; marks an empty database. */
static const char s_check_lua[] =
    "local v = redis.call('GET', KEYS[1])\n"
    "if v then return v end\n"
    "if redis.call('EXISTS', KEYS[2], KEYS[3], KEYS[4], KEYS[5]) > 0 then return '1' end\n"
    "redis.call('SET', KEYS[1], ARGV[1])\n"
    "return ARGV[1]\n";

#define V1_TTL_KEY "swarm:mem:ttl"

/*  The layout of the data: 0 unknown (err set), else its number. */
static long
s_layout(sw_redis_t *r, sw_err_t *err)
{
    char want[16];
    snprintf(want, sizeof want, "%d", SW_KEYS_LAYOUT);
    const char *argv[] = { SW_KEY_LAYOUT, SW_KEY_JOBS, SW_KEY_NAMESPACES, V1_TTL_KEY,
                           SW_KEY_CURRENT_JOB, want };
    redisReply *rep = sw_redis_eval(r, s_check_lua, 5, 6, argv, NULL, err);
    if (!rep)
        return 0;
    long layout = rep->type == REDIS_REPLY_STRING ? atol(rep->str) : 0;
    freeReplyObject(rep);
    if (layout <= 0)
        sw_err_set(err, SW_EFAIL, "redis at %s: %s holds no layout number", sw_redis_addr(r),
                   SW_KEY_LAYOUT);
    return layout;
}

static int
s_judge(sw_redis_t *r, long layout, sw_err_t *err)
{
    if (layout == SW_KEYS_LAYOUT)
        return 0;
    if (layout == 1)
        return sw_err_set(err, SW_EFAIL, "redis at %s holds swarm data in key layout 1 (swarm "
                          "0.1); start swarm-coordinator once against it to migrate the data "
                          "to layout %d (stop older agents and coordinators first)",
                          sw_redis_addr(r), SW_KEYS_LAYOUT);
    return sw_err_set(err, SW_EFAIL, "redis at %s holds swarm data in key layout %ld, newer "
                      "than this swarm's (%d): upgrade swarm", sw_redis_addr(r), layout,
                      SW_KEYS_LAYOUT);
}

int
sw_keys_check(sw_redis_t *r, sw_err_t *err)
{
    long layout = s_layout(r, err);
    return layout ? s_judge(r, layout, err) : -1;
}

sw_redis_t *
sw_keys_connect(const char *url, int timeout_ms, sw_err_t *err)
{
    sw_redis_t *r = sw_redis_new(url, timeout_ms, err);
    if (r && sw_keys_check(r, err) < 0)
        sw_redis_destroy(&r);
    return r;
}

/*  --- migration from layout 1 ------------------------------------------------------ */

/*  Renames a batch of keys old[i] -> new[i] whose type is type[i]; a key
 *  that is missing or of another type (layout 1 let two ids share it) is
 *  left where it is. Frees the names. Two round trips per batch. */
typedef struct {
    sw_strv_t from, to;
    sw_strv_t type;
    long      moved, skipped;
} s_batch_t;

static void
s_type_reply(void *arg, int i, redisReply *rep)
{
    s_batch_t *b = arg;
    bool ok = rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, b->type.v[i]) == 0;
    if (!ok) {
        free(b->from.v[i]);
        b->from.v[i] = NULL;
    }
}

static int
s_batch_flush(sw_redis_t *r, s_batch_t *b, sw_err_t *err)
{
    int rc = 0;
    for (size_t i = 0; i < b->from.n; i++) {
        const char *argv[] = { "TYPE", b->from.v[i] };
        sw_redis_append(r, 2, argv, NULL);
    }
    if (b->from.n && sw_redis_flush_each(r, s_type_reply, b, err) < 0)
        rc = -1;
    long renames = 0;
    for (size_t i = 0; rc == 0 && i < b->from.n; i++) {
        if (!b->from.v[i]) {
            b->skipped++;
            continue;
        }
        const char *argv[] = { "RENAME", b->from.v[i], b->to.v[i] };
        sw_redis_append(r, 3, argv, NULL);
        renames++;
    }
    if (renames && sw_redis_flush(r, err) < 0)
        rc = -1;
    b->moved += renames;
    sw_strv_release(&b->from);
    sw_strv_release(&b->to);
    sw_strv_release(&b->type);
    return rc;
}

static int
s_batch_add(sw_redis_t *r, s_batch_t *b, char *from, char *to, const char *type, sw_err_t *err)
{
    sw_strv_push(&b->from, from);
    sw_strv_push(&b->to, to);
    sw_strv_push(&b->type, type);
    free(from);
    free(to);
    return b->from.n >= 1000 ? s_batch_flush(r, b, err) : 0;
}

/*  Calls fn for every member of a list or sorted set, a page at a time
 *  (a job may have a million tasks). withscores: sorted set with scores. */
typedef int (*s_member_fn)(void *arg, const char *member, const char *score, sw_err_t *err);

static int
s_each(sw_redis_t *r, const char *cmd, const char *key, bool withscores, s_member_fn fn,
       void *arg, sw_err_t *err)
{
    for (long off = 0;; off += 1000) {
        char a[24], z[24];
        snprintf(a, sizeof a, "%ld", off);
        snprintf(z, sizeof z, "%ld", off + 999);
        const char *argv[] = { cmd, key, a, z, "WITHSCORES" };
        redisReply *rep = sw_redis_cmd(r, withscores ? 5 : 4, argv, NULL, err);
        if (!rep)
            return -1;
        size_t step = withscores ? 2 : 1, got = rep->elements / step;
        int rc = 0;
        for (size_t i = 0; rc == 0 && i + step - 1 < rep->elements; i += step)
            rc = fn(arg, rep->element[i]->str, withscores ? rep->element[i + 1]->str : NULL,
                    err);
        freeReplyObject(rep);
        if (rc < 0)
            return -1;
        if (got < 1000)
            return 0;
    }
}

typedef struct {
    sw_redis_t *r;
    s_batch_t  *b;
    const char *scope;          /*  the job or namespace being moved */
} s_mig_t;

static int
s_mig_task(void *arg, const char *id, const char *score, sw_err_t *err)
{
    s_mig_t *m = arg;
    return s_batch_add(m->r, m->b, xasprintf("swarm:task:%s:%s", m->scope, id),
                       sw_key_task(m->scope, id), "hash", err);
}

static int
s_mig_job(void *arg, const char *job, const char *score, sw_err_t *err)
{
    s_mig_t *m = arg;
    s_mig_t tm = { m->r, m->b, job };
    char *old_list = xasprintf("swarm:job:%s:tasks", job);
    /*  the tasks first: their ids are in the list about to move */
    int rc = s_each(m->r, "LRANGE", old_list, false, s_mig_task, &tm, err);
    if (rc == 0)
        rc = s_batch_add(m->r, m->b, xasprintf("swarm:job:%s", job), sw_key_job(job), "hash",
                         err);
    if (rc == 0)
        rc = s_batch_add(m->r, m->b, old_list, sw_key_job_tasks(job), "list", err);
    else
        free(old_list);
    return rc;
}

static int
s_mig_entry(void *arg, const char *key, const char *score, sw_err_t *err)
{
    s_mig_t *m = arg;
    return s_batch_add(m->r, m->b, xasprintf("swarm:mem:%s:%s", m->scope, key),
                       sw_key_mem(m->scope, key), "hash", err);
}

/*  layout 1's one TTL schedule held "NS\nKEY" members; layout 2 has one
 *  per namespace. */
static int
s_mig_ttl(void *arg, const char *member, const char *score, sw_err_t *err)
{
    s_mig_t *m = arg;
    const char *nl = strchr(member, '\n');
    if (!nl)
        return 0;
    char *ns = xstrndup(member, (size_t) (nl - member));
    char *key = sw_key_ns_ttl(ns);
    const char *argv[] = { "ZADD", key, score, nl + 1 };
    sw_redis_append(m->r, 4, argv, NULL);
    free(key);
    free(ns);
    return 0;
}

static int
s_migrate(sw_redis_t *r, long *moved, sw_err_t *err)
{
    s_batch_t b = { 0 };
    s_mig_t m = { r, &b, NULL };
    int rc = s_each(r, "ZRANGE", SW_KEY_JOBS, false, s_mig_job, &m, err);
    redisReply *spaces = rc == 0 ? sw_redis_cmdv(r, err, "SMEMBERS", SW_KEY_NAMESPACES, NULL)
                                 : NULL;
    if (!spaces)
        rc = -1;
    for (size_t i = 0; rc == 0 && i < spaces->elements; i++) {
        const char *ns = spaces->element[i]->str;
        char *old_index = xasprintf("swarm:ns:%s", ns);
        m.scope = ns;
        rc = s_each(r, "ZRANGE", old_index, false, s_mig_entry, &m, err);
        if (rc == 0)
            rc = s_batch_add(r, &b, old_index, sw_key_ns_index(ns), "zset", err);
        else
            free(old_index);
    }
    if (spaces)
        freeReplyObject(spaces);
    if (rc == 0)
        rc = s_batch_flush(r, &b, err);
    if (rc == 0)
        rc = s_each(r, "ZRANGE", V1_TTL_KEY, true, s_mig_ttl, &m, err);
    if (rc == 0 && sw_redis_flush(r, err) < 0)
        rc = -1;
    if (rc == 0) {
        redisReply *del = sw_redis_cmdv(r, err, "DEL", V1_TTL_KEY, NULL);
        rc = del ? 0 : -1;
        if (del)
            freeReplyObject(del);
    }
    sw_strv_release(&b.from);
    sw_strv_release(&b.to);
    sw_strv_release(&b.type);
    if (b.skipped)
        log_warnx("layout migration: %ld key(s) of layout 1 were missing or shared by two "
                  "ids (layout 1 let ids with ':' collide) and were left as they are",
                  b.skipped);
    if (moved)
        *moved = b.moved;
    return rc;
}

int
sw_keys_migrate(sw_redis_t *r, long *moved, sw_err_t *err)
{
    if (moved)
        *moved = 0;
    long layout = s_layout(r, err);
    if (layout != 1)
        return layout ? s_judge(r, layout, err) : -1;
    char token[64];
    snprintf(token, sizeof token, "%ld-%lld", (long) getpid(), (long long) sw_wall_ms());
    redisReply *lock = sw_redis_cmdv(r, err, "SET", "swarm:layout-lock", token, "NX", "PX",
                                     "600000", NULL);
    if (!lock)
        return -1;
    bool mine = lock->type == REDIS_REPLY_STATUS;
    freeReplyObject(lock);
    if (!mine)
        return sw_err_set(err, SW_EFAIL, "redis at %s: another coordinator is migrating the "
                          "data to key layout %d (swarm:layout-lock); try again when it is "
                          "done", sw_redis_addr(r), SW_KEYS_LAYOUT);
    log_info("redis at %s holds key layout 1: migrating it to layout %d", sw_redis_addr(r),
             SW_KEYS_LAYOUT);
    int rc = s_migrate(r, moved, err);
    if (rc == 0) {
        char want[16];
        snprintf(want, sizeof want, "%d", SW_KEYS_LAYOUT);
        redisReply *set = sw_redis_cmdv(r, err, "SET", SW_KEY_LAYOUT, want, NULL);
        rc = set ? 0 : -1;
        if (set)
            freeReplyObject(set);
    }
    sw_err_t ignored = { 0 };
    redisReply *del = sw_redis_cmdv(r, &ignored, "DEL", "swarm:layout-lock", NULL);
    if (del)
        freeReplyObject(del);
    return rc;
}

/*  --- self-test ----------------------------------------------------------------------- */

/*  Whether key is want; frees key. */
static bool
s_is(char *key, const char *want)
{
    bool same = strcmp(key, want) == 0;
    if (!same)
        log_warnx("key %s, wanted %s", key, want);
    free(key);
    return same;
}

char *
sw_field_usage(int64_t attempt)
{
    return xasprintf(SW_FIELD_USAGE_PREFIX "%lld", (long long) attempt);
}

int
sw_keys_test(bool verbose)
{
    CHECK(s_is(sw_key_job("x"), "swarm:job:{x}"));
    CHECK(s_is(sw_key_job_tasks("x"), "swarm:job:{x}:tasks"));
    CHECK(s_is(sw_key_task("j", "a:b"), "swarm:job:{j}:task:a%3Ab"));
    CHECK(s_is(sw_key_mem("n", "50% {x}"), "swarm:ns:{n}:entry:50%25 %7Bx%7D"));
    CHECK(s_is(sw_key_ns_ttl("a:b"), "swarm:ns:{a%3Ab}:ttl"));
    CHECK(s_is(sw_key_mem("n", "дизайн\x01"), "swarm:ns:{n}:entry:дизайн%01"));
    CHECK(s_is(sw_key_task_log("j", "a:b", 2), "swarm:job:{j}:log:a%3Ab:2"));
    CHECK(s_is(sw_key_job_events("j:x"), "swarm:job:{j%3Ax}:events"));
    CHECK(s_is(sw_key_cas("ab12"), "swarm:cas:{ab12}"));
    CHECK(s_is(sw_key_cas_jobs("ab12"), "swarm:cas:{ab12}:jobs"));
    CHECK(s_is(sw_key_job_cas("j:1"), "swarm:job:{j%3A1}:cas"));
    CHECK(s_is(sw_key_commit("0f"), "swarm:commit:{0f}"));

    /*  The pairs that collided in layout 1 (and neighbours) are distinct,
     *  and no key of one kind equals a key of another. */
    char *keys[] = {
        sw_key_job("x:tasks"), sw_key_job_tasks("x"), sw_key_job("x"),
        sw_key_task("j:a", "b"), sw_key_task("j", "a:b"), sw_key_task("j", "a%3Ab"),
        sw_key_mem("a:b", "c"), sw_key_mem("a", "b:c"), sw_key_mem("a", "b%3Ac"),
        sw_key_mem("a", "ttl"), sw_key_ns_ttl("a"), sw_key_ns_index("a"),
        sw_key_mem("a}", "b"), sw_key_mem("a", "}b"), sw_key_mem("{a", "b"),
        sw_key_task("x", "tasks"), sw_key_job_tasks("x:task:tasks"), sw_key_mem("x", "*"),
        sw_key_task("j", "entry:k"), sw_key_mem("j", "k"), sw_key_job("j:task:a"),
        sw_key_task_log("j", "a", 1), sw_key_task_log("j", "a:1", 1),
        sw_key_task_log("j", "a", 11), sw_key_task_log("j:log:a", "1", 1),
        sw_key_task("j", "log"), sw_key_job_events("j"), sw_key_job_events("j:events"),
        sw_key_task("j", "events"), sw_key_job_tasks("j:events"),
        sw_key_job_cas("j"), sw_key_task("j", "cas"), sw_key_job("j:cas"), sw_key_cas("j"),
        sw_key_cas_jobs("j"), sw_key_cas("j:jobs"), sw_key_commit("j"),
    };
    size_t n = sizeof keys / sizeof keys[0];
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (strcmp(keys[i], keys[j]) == 0) {
                CHECK(!"two tuples share a key");
                log_warnx("%zu and %zu share %s", i, j, keys[i]);
            }
    /*  Each key has exactly one hash tag, and it is the scope's. */
    for (size_t i = 0; i < n; i++) {
        const char *open = strchr(keys[i], '{'), *close = open ? strchr(open, '}') : NULL;
        CHECK(open && close && !strchr(open + 1, '{') && !strchr(close + 1, '}'));
        free(keys[i]);
    }
    (void) verbose;
    return 0;
}
