/*  sw_cas -- see sw_cas.h */
#include "sw_cas.h"

#include <stdlib.h>
#include <string.h>

#include "sw_keys.h"
#include "sw_selftest.h"

void
sw_sha256_init(sw_sha256_t *h)
{
    crypto_hash_sha256_init(&h->st);
}

void
sw_sha256_add(sw_sha256_t *h, const void *data, size_t n)
{
    crypto_hash_sha256_update(&h->st, data, n);
}

static void
s_hex(const unsigned char *d, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[2 * n] = '\0';
}

void
sw_sha256_final(sw_sha256_t *h, char out[65])
{
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&h->st, d);
    s_hex(d, sizeof d, out);
}

void
sw_sha256_hex(const void *data, size_t n, char out[65])
{
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(d, data, n);
    s_hex(d, sizeof d, out);
}

bool
sw_sha256_valid(const char *hex)
{
    if (!hex || strlen(hex) != 64)
        return false;
    for (const char *p = hex; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

void
sw_cas_init(sw_cas_t *c, sw_redis_t *redis, const char *job, int64_t ttl_s)
{
    memset(c, 0, sizeof *c);
    c->redis = redis;
    c->job = job;
    c->ttl_s = ttl_s > 0 ? ttl_s : SW_CAS_TTL_S;
}

/*  --- scripts -------------------------------------------------------------------- */

/*  KEYS: entry, its jobs. ARGV: data, ttl (s), job ("" for none).
 *  Stores the entry unless it is there; either way refreshes the TTL and
 *  records the job. 1 stored, 0 already there. */
static const char s_put_lua[] =
    "local stored = 0\n"
    "if redis.call('EXISTS', KEYS[1]) == 1 then\n"
    "  redis.call('EXPIRE', KEYS[1], ARGV[2])\n"
    "else\n"
    "  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])\n"
    "  stored = 1\n"
    "end\n"
    "if ARGV[3] ~= '' then\n"
    "  redis.call('SADD', KEYS[2], ARGV[3])\n"
    "  redis.call('EXPIRE', KEYS[2], ARGV[2])\n"
    "end\n"
    "return stored\n";

/*  KEYS: entry, its jobs. ARGV: ttl (s), job. 1 when the entry is there
 *  (TTL refreshed, job recorded), 0 when it is not. */
static const char s_ref_lua[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[1])\n"
    "if ARGV[2] ~= '' then\n"
    "  redis.call('SADD', KEYS[2], ARGV[2])\n"
    "end\n"
    "if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('EXPIRE', KEYS[2], ARGV[1]) end\n"
    "return 1\n";

/*  KEYS: entry, its jobs. ARGV: job. Forgets the job; deletes the entry
 *  when no job is left. 1 deleted, 0 kept. */
static const char s_unref_lua[] =
    "redis.call('SREM', KEYS[2], ARGV[1])\n"
    "if redis.call('SCARD', KEYS[2]) == 0 then\n"
    "  redis.call('DEL', KEYS[1], KEYS[2])\n"
    "  return 1\n"
    "end\n"
    "return 0\n";

/*  Records the digest in the job's set (the job's slot): after the entry
 *  script, in the same pipeline. */
static void
s_job_append(sw_cas_t *c, const char *digest)
{
    if (!c->job)
        return;
    char *key = sw_key_job_cas(c->job);
    const char *argv[] = { "SADD", key, digest };
    sw_redis_append(c->redis, 3, argv, NULL);
    free(key);
}

/*  The replies of a deferred queue: each put's 1 (stored) or 0 (there). */
static void
s_queued_reply(void *arg, int i, redisReply *r)
{
    sw_cas_t *c = arg;
    for (size_t k = 0; k < c->nqueued; k++) {
        if (c->queued[k].pos != i)
            continue;
        if (r->type == REDIS_REPLY_INTEGER && r->integer == 1)
            c->sent += c->queued[k].n;
        else if (r->type == REDIS_REPLY_INTEGER)
            c->reused += c->queued[k].n;
        break;
    }
}

int
sw_cas_send(sw_cas_t *c, sw_err_t *err)
{
    if (!c->queued_any)
        return 0;
    int rc = sw_redis_flush_each(c->redis, s_queued_reply, c, err);
    free(c->queued);
    c->queued = NULL;
    c->nqueued = c->qcap = 0;
    c->qbytes = 0;
    c->queued_any = false;
    return rc;
}

int
sw_cas_defer(sw_cas_t *c, bool on, sw_err_t *err)
{
    int rc = on ? 0 : sw_cas_send(c, err);
    c->defer = on;
    return rc;
}

/*  Queues the put of an entry (sw_cas_defer). EVAL with the text, not
 *  EVALSHA: a pipelined EVALSHA needs the script loaded on this
 *  connection first, a round trip of its own on a helper's new one. What
 *  is queued is held (hiredis's output buffer) until sent: sent at once
 *  from SW_CAS_CHUNK bytes on, so a long stream is never held whole. */
static int
s_queue(sw_cas_t *c, const char *key, const char *jobs, const char *digest, const void *data,
        size_t n, const char *ttl, const char *job, sw_err_t *err)
{
    if (c->nqueued == c->qcap) {
        c->qcap = c->qcap ? c->qcap * 2 : 8;
        c->queued = xrealloc(c->queued, c->qcap * sizeof *c->queued);
    }
    c->queued[c->nqueued++] = (struct sw_cas_queued) { sw_redis_pending(c->redis), n };
    const char *argv[] = { "EVAL", s_put_lua, "2", key, jobs, data, ttl, job };
    size_t lens[] = { 4, strlen(s_put_lua), 1, strlen(key), strlen(jobs), n, strlen(ttl),
                      strlen(job) };
    sw_redis_append(c->redis, 8, argv, lens);
    s_job_append(c, digest);
    c->queued_any = true;
    c->qbytes += n;
    return c->qbytes >= SW_CAS_CHUNK ? sw_cas_send(c, err) : 0;
}

/*  Stores one entry (the data's digest given) unless Redis has it. */
static int
s_store(sw_cas_t *c, const char *digest, const void *data, size_t n, sw_err_t *err)
{
    char ttl[32];
    snprintf(ttl, sizeof ttl, "%lld", (long long) c->ttl_s);
    char *key = sw_key_cas(digest), *jobs = sw_key_cas_jobs(digest);
    const char *job = c->job ? c->job : "";
    int rc = 0;
    if (n >= SW_CAS_CHECK_MIN) {
        /*  A big chunk: ask first, send only what is missing. A question
         *  waits for its answer: what is queued goes before it. */
        const char *argv[] = { key, jobs, ttl, job };
        redisReply *r = sw_cas_send(c, err) < 0 ? NULL
            : sw_redis_eval(c->redis, s_ref_lua, 2, 4, argv, NULL, err);
        if (!r)
            rc = -1;
        else {
            bool there = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
            freeReplyObject(r);
            if (there) {
                c->reused += n;
                s_job_append(c, digest);
                if (c->defer)
                    c->queued_any = true;
                else
                    rc = sw_redis_flush(c->redis, err);
                goto out;
            }
        }
    }
    if (rc == 0 && c->defer)
        rc = s_queue(c, key, jobs, digest, data, n, ttl, job, err);
    else if (rc == 0) {
        const char *argv[] = { key, jobs, data, ttl, job };
        size_t lens[] = { strlen(key), strlen(jobs), n, strlen(ttl), strlen(job) };
        redisReply *r = sw_redis_eval(c->redis, s_put_lua, 2, 5, argv, lens, err);
        if (!r)
            rc = -1;
        else {
            if (r->type == REDIS_REPLY_INTEGER && r->integer == 1)
                c->sent += n;
            else
                c->reused += n;
            freeReplyObject(r);
            s_job_append(c, digest);
            rc = sw_redis_flush(c->redis, err);
        }
    }
out:
    free(key);
    free(jobs);
    return rc;
}

int
sw_cas_put(sw_cas_t *c, const void *data, size_t n, char digest[65], sw_err_t *err)
{
    sw_sha256_hex(data, n, digest);
    return s_store(c, digest, data, n, err);
}

/*  GET with the TTLs refreshed, in one round trip. The value in *rep
 *  (the GET's reply: free with freeReplyObject on the array). */
typedef struct {
    redisReply *value;
} s_get_t;

static void
s_get_reply(void *arg, int i, redisReply *r)
{
    s_get_t *g = arg;
    if (i == 0 && r->type == REDIS_REPLY_STRING) {
        g->value = xcalloc(1, sizeof *g->value);
        g->value->type = REDIS_REPLY_STRING;
        g->value->str = xmalloc(r->len + 1);
        memcpy(g->value->str, r->str, r->len);
        g->value->str[r->len] = '\0';
        g->value->len = r->len;
    }
}

static void
s_value_free(redisReply *v)
{
    if (v) {
        free(v->str);
        free(v);
    }
}

/*  Reads one entry, checked: the value (caller frees with s_value_free),
 *  or NULL with err. */
static redisReply *
s_fetch(sw_cas_t *c, const char *digest, sw_err_t *err)
{
    if (!sw_sha256_valid(digest)) {
        sw_err_set(err, SW_EFAIL, "'%s' is not a SHA-256 digest", digest);
        return NULL;
    }
    if (sw_cas_send(c, err) < 0)
        return NULL;
    char ttl[32];
    snprintf(ttl, sizeof ttl, "%lld", (long long) c->ttl_s);
    char *key = sw_key_cas(digest), *jobs = sw_key_cas_jobs(digest);
    const char *get[] = { "GET", key };
    const char *e1[] = { "EXPIRE", key, ttl };
    const char *e2[] = { "EXPIRE", jobs, ttl };
    sw_redis_append(c->redis, 2, get, NULL);
    sw_redis_append(c->redis, 3, e1, NULL);
    sw_redis_append(c->redis, 3, e2, NULL);
    s_get_t g = { NULL };
    int rc = sw_redis_flush_each(c->redis, s_get_reply, &g, err);
    free(key);
    free(jobs);
    if (rc < 0) {
        s_value_free(g.value);
        return NULL;
    }
    if (!g.value) {
        sw_err_set(err, SW_ENOTFOUND, "stored content %.12s is gone (expired after its TTL, "
                   "or removed by swarm purge)", digest);
        return NULL;
    }
    char got[65];
    sw_sha256_hex(g.value->str, g.value->len, got);
    if (strcmp(got, digest) != 0) {
        sw_err_set(err, SW_EFAIL, "chunk %s is corrupt (its content hashes to %.12s): refused",
                   digest, got);
        s_value_free(g.value);
        /*  Useless to everyone: gone, so the next writer of this content
         *  stores it again instead of finding it there. */
        key = sw_key_cas(digest);
        sw_err_t ignored = { 0 };
        redisReply *del = sw_redis_cmdv(c->redis, &ignored, "DEL", key, NULL);
        if (del)
            freeReplyObject(del);
        free(key);
        return NULL;
    }
    c->fetched += g.value->len;
    return g.value;
}

int
sw_cas_get(sw_cas_t *c, const char *digest, size_t max, sw_buf_t *out, sw_err_t *err)
{
    redisReply *v = s_fetch(c, digest, err);
    if (!v)
        return -1;
    int rc = 0;
    if (v->len > max)
        rc = sw_err_set(err, SW_EFAIL, "stored document %.12s is %zu bytes, more than %zu",
                        digest, v->len, max);
    else
        sw_buf_add(out, v->str, v->len);
    s_value_free(v);
    return rc;
}

/*  --- writer ---------------------------------------------------------------------- */

void
sw_cas_writer_init(sw_cas_writer_t *w, sw_cas_t *cas, uint64_t max, const char *cap_name)
{
    memset(w, 0, sizeof *w);
    w->cas = cas;
    w->buf = xmalloc(SW_CAS_CHUNK);
    w->chunks = json_array();
    w->max = max;
    w->cap_name = cap_name;
    sw_sha256_init(&w->whole);
}

void
sw_cas_writer_release(sw_cas_writer_t *w)
{
    free(w->buf);
    w->buf = NULL;
    json_decref(w->chunks);
    w->chunks = NULL;
}

static int
s_flush_chunk(sw_cas_writer_t *w, sw_err_t *err)
{
    if (w->len == 0)
        return 0;
    char digest[65];
    sw_sha256_hex(w->buf, w->len, digest);
    if (s_store(w->cas, digest, w->buf, w->len, err) < 0)
        return -1;
    json_array_append_new(w->chunks, json_pack("[s, I]", digest, (json_int_t) w->len));
    w->len = 0;
    return 0;
}

int
sw_cas_writer_add(sw_cas_writer_t *w, const void *data, size_t n, sw_err_t *err)
{
    const char *d = data;
    w->size += n;
    if (w->max && w->size > w->max)
        return sw_err_set(err, SW_EFAIL, "more than %s %llu bytes", w->cap_name ? w->cap_name
                          : "the cap", (unsigned long long) w->max);
    sw_sha256_add(&w->whole, data, n);
    while (n > 0) {
        size_t room = SW_CAS_CHUNK - w->len, k = n < room ? n : room;
        memcpy(w->buf + w->len, d, k);
        w->len += k;
        d += k;
        n -= k;
        if (w->len == SW_CAS_CHUNK && s_flush_chunk(w, err) < 0)
            return -1;
    }
    return 0;
}

json_t *
sw_cas_writer_finish(sw_cas_writer_t *w, sw_err_t *err)
{
    json_t *blob = NULL;
    if (s_flush_chunk(w, err) == 0) {
        char whole[65];
        sw_sha256_final(&w->whole, whole);
        blob = json_pack("{s:I, s:s, s:O}", "size", (json_int_t) w->size, "sha256", whole,
                         "chunks", w->chunks);
    }
    sw_cas_writer_release(w);
    return blob;
}

int
sw_cas_blob_check(const json_t *blob, sw_err_t *err)
{
    json_t *size = json_object_get(blob, "size"), *chunks = json_object_get(blob, "chunks");
    const char *whole = json_string_value(json_object_get(blob, "sha256"));
    if (!json_is_integer(size) || json_integer_value(size) < 0 || !sw_sha256_valid(whole)
        || !json_is_array(chunks))
        return sw_err_set(err, SW_EFAIL, "a stored blob description is malformed");
    json_int_t sum = 0;
    size_t i;
    json_t *c;
    json_array_foreach(chunks, i, c) {
        json_t *n = json_array_get(c, 1);
        if (json_array_size(c) != 2 || !sw_sha256_valid(json_string_value(json_array_get(c, 0)))
            || !json_is_integer(n) || json_integer_value(n) < 0
            || json_integer_value(n) > SW_CAS_CHUNK)
            return sw_err_set(err, SW_EFAIL, "a stored blob description has a malformed chunk");
        sum += json_integer_value(n);
    }
    if (sum != json_integer_value(size))
        return sw_err_set(err, SW_EFAIL, "a stored blob description's chunks do not add up to "
                          "its size");
    return 0;
}

int
sw_cas_read(sw_cas_t *c, const json_t *blob, sw_cas_sink_fn sink, void *arg, sw_err_t *err)
{
    if (sw_cas_blob_check(blob, err) < 0)
        return -1;
    sw_sha256_t whole;
    sw_sha256_init(&whole);
    size_t i;
    json_t *ch;
    json_array_foreach(json_object_get(blob, "chunks"), i, ch) {
        const char *digest = json_string_value(json_array_get(ch, 0));
        redisReply *v = s_fetch(c, digest, err);
        if (!v)
            return -1;
        int rc = 0;
        if ((json_int_t) v->len != json_integer_value(json_array_get(ch, 1)))
            rc = sw_err_set(err, SW_EFAIL, "chunk %s has %zu bytes, not the %lld its "
                            "description says", digest, v->len,
                            (long long) json_integer_value(json_array_get(ch, 1)));
        else {
            sw_sha256_add(&whole, v->str, v->len);
            rc = sink(arg, v->str, v->len, err);
        }
        s_value_free(v);
        if (rc < 0)
            return -1;
    }
    char got[65];
    sw_sha256_final(&whole, got);
    if (strcmp(got, json_string_value(json_object_get(blob, "sha256"))) != 0)
        return sw_err_set(err, SW_EFAIL, "stored content %.12s does not hash to its "
                          "description's digest: refused",
                          json_string_value(json_object_get(blob, "sha256")));
    return 0;
}

int
sw_cas_ref(sw_cas_t *c, const char *digest, sw_err_t *err)
{
    if (sw_cas_send(c, err) < 0)
        return -1;
    char ttl[32];
    snprintf(ttl, sizeof ttl, "%lld", (long long) c->ttl_s);
    char *key = sw_key_cas(digest), *jobs = sw_key_cas_jobs(digest);
    const char *argv[] = { key, jobs, ttl, c->job ? c->job : "" };
    redisReply *r = sw_redis_eval(c->redis, s_ref_lua, 2, 4, argv, NULL, err);
    free(key);
    free(jobs);
    if (!r)
        return -1;
    int there = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    if (there) {
        s_job_append(c, digest);
        if (sw_redis_flush(c->redis, err) < 0)
            return -1;
    }
    return there;
}

int
sw_cas_ref_blob(sw_cas_t *c, const json_t *blob, sw_err_t *err)
{
    if (sw_cas_blob_check(blob, err) < 0)
        return -1;
    size_t i;
    json_t *ch;
    json_array_foreach(json_object_get(blob, "chunks"), i, ch) {
        int rc = sw_cas_ref(c, json_string_value(json_array_get(ch, 0)), err);
        if (rc <= 0)
            return rc;
    }
    return 1;
}

int
sw_cas_purge_job(sw_redis_t *redis, const char *job, long *deleted, long *kept, sw_err_t *err)
{
    long del = 0, keep = 0;
    char *set = sw_key_job_cas(job);
    int rc = 0;
    /*  A page at a time: SPOP would lose digests if Redis failed midway;
     *  SSCAN then SREM what is done. */
    for (;;) {
        redisReply *page = sw_redis_cmdv(redis, err, "SRANDMEMBER", set, "500", NULL);
        if (!page) {
            rc = -1;
            break;
        }
        size_t n = page->type == REDIS_REPLY_ARRAY ? page->elements : 0;
        for (size_t i = 0; rc == 0 && i < n; i++) {
            const char *d = page->element[i]->str;
            char *key = sw_key_cas(d), *jobs = sw_key_cas_jobs(d);
            const char *argv[] = { key, jobs, job };
            redisReply *r = sw_redis_eval(redis, s_unref_lua, 2, 3, argv, NULL, err);
            free(key);
            free(jobs);
            if (!r) {
                rc = -1;
                break;
            }
            if (r->type == REDIS_REPLY_INTEGER && r->integer == 1)
                del++;
            else
                keep++;
            freeReplyObject(r);
            const char *srem[] = { "SREM", set, d };
            sw_redis_append(redis, 3, srem, NULL);
        }
        if (rc == 0 && n && sw_redis_flush(redis, err) < 0)
            rc = -1;
        freeReplyObject(page);
        if (rc < 0 || n == 0)
            break;
    }
    free(set);
    if (deleted)
        *deleted = del;
    if (kept)
        *kept = keep;
    return rc;
}

/*  --- self-test (the parts without Redis; e2e.ws_* drive the rest) ------------------- */

int
sw_cas_test(bool verbose)
{
    char d[65];
    sw_sha256_hex("abc", 3, d);
    CHECK(strcmp(d, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
    sw_sha256_t h;
    sw_sha256_init(&h);
    sw_sha256_add(&h, "a", 1);
    sw_sha256_add(&h, "bc", 2);
    char d2[65];
    sw_sha256_final(&h, d2);
    CHECK(strcmp(d, d2) == 0);
    CHECK(sw_sha256_valid(d) && !sw_sha256_valid("ABC") && !sw_sha256_valid(NULL));
    sw_err_t err = { 0 };
    json_t *ok = json_loads("{\"size\":5,\"sha256\":\"ba7816bf8f01cfea414140de5dae2223b00361a396"
                            "177a9cb410ff61f20015ad\",\"chunks\":[[\"ba7816bf8f01cfea414140de5dae2"
                            "223b00361a396177a9cb410ff61f20015ad\",2],[\"ba7816bf8f01cfea414140de5"
                            "dae2223b00361a396177a9cb410ff61f20015ad\",3]]}", 0, NULL);
    CHECK(ok && sw_cas_blob_check(ok, &err) == 0);
    json_object_set_new(ok, "size", json_integer(6));
    CHECK(sw_cas_blob_check(ok, &err) < 0 && strstr(err.msg, "add up"));
    json_object_set_new(ok, "size", json_integer(5));
    json_array_set_new(json_array_get(json_object_get(ok, "chunks"), 0), 0, json_string("x"));
    CHECK(sw_cas_blob_check(ok, &err) < 0 && strstr(err.msg, "malformed chunk"));
    json_decref(ok);
    CHECK(sw_cas_blob_check(json_null(), &err) < 0);
    (void) verbose;
    return 0;
}
