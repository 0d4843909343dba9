/*  sw_memory -- see sw_memory.h */
#include "sw_memory.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unicase.h>
#include <uninorm.h>

#include "sw_keys.h"
#include "sw_mpack.h"
#include "sw_selftest.h"

/*  KEYS: entry, namespace index, namespace set, the namespace's TTL
 *  schedule. ARGV: value, tags, updated, ttl_ms, no_upsert, key, ns,
 *  created, now, writer. */
static const char s_store_lua[] =
    "local exists = redis.call('EXISTS', KEYS[1]) == 1\n"
    "if ARGV[5] == '1' and exists then return 0 end\n"
    "local created = ARGV[8]\n"
    "if created == '0' then\n"
    "  created = (exists and redis.call('HGET', KEYS[1], 'created')) or ARGV[3]\n"
    "end\n"
    "redis.call('DEL', KEYS[1])\n"
    "redis.call('HSET', KEYS[1], 'value', ARGV[1], 'tags', ARGV[2], 'created', created,\n"
    "           'updated', ARGV[3])\n"
    "if ARGV[10] ~= '' then redis.call('HSET', KEYS[1], 'writer', ARGV[10]) end\n"
    "if ARGV[4] ~= '0' then\n"
    "  redis.call('PEXPIRE', KEYS[1], ARGV[4])\n"
    "  redis.call('ZADD', KEYS[4], tonumber(ARGV[9]) + tonumber(ARGV[4]), ARGV[6])\n"
    "else\n"
    "  redis.call('ZREM', KEYS[4], ARGV[6])\n"
    "end\n"
    "redis.call('ZADD', KEYS[2], ARGV[3], ARGV[6])\n"
    "redis.call('SADD', KEYS[3], ARGV[7])\n"
    "return 1\n";

/*  KEYS: the namespace's TTL schedule, its index, then the entries of
 *  the due keys. ARGV: now, then those keys. An index member goes only
 *  when Redis has really expired its entry and it is still due (a store
 *  since then moved or removed its expiry). Every key it touches is in
 *  KEYS, all in the namespace's hash slot (Cluster-safe). */
static const char s_purge_lua[] =
    "local n = 0\n"
    "for i = 3, #KEYS do\n"
    "  local key = ARGV[i - 1]\n"
    "  local due = tonumber(redis.call('ZSCORE', KEYS[1], key) or 'inf')\n"
    "  if due <= tonumber(ARGV[1]) and redis.call('EXISTS', KEYS[i]) == 0 then\n"
    "    redis.call('ZREM', KEYS[2], key)\n"
    "    redis.call('ZREM', KEYS[1], key)\n"
    "    n = n + 1\n"
    "  end\n"
    "end\n"
    "return n\n";

/*  KEYS: entry, namespace index, its TTL schedule. ARGV: key. */
static const char s_delete_lua[] =
    "local n = redis.call('DEL', KEYS[1])\n"
    "redis.call('ZREM', KEYS[2], ARGV[1])\n"
    "redis.call('ZREM', KEYS[3], ARGV[1])\n"
    "return n\n";

void
sw_mem_entry_release(sw_mem_entry_t *e)
{
    free(e->ns);
    free(e->key);
    free(e->value);
    free(e->tags);
    memset(e, 0, sizeof *e);
}

void
sw_mem_entries_free(sw_mem_entry_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sw_mem_entry_release(&v[i]);
    free(v);
}

bool
sw_memory_key_valid(const char *key)
{
    size_t n = key ? strlen(key) : 0;
    if (n == 0 || n > SW_MEM_MAX_KEY)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char) key[i] < 0x20 || key[i] == 0x7f)
            return false;
    return true;
}

int
sw_memory_ttl_parse(const char *text, int64_t *ttl_s, sw_err_t *err)
{
    long long v;
    if (!text || sw_parse_int(text, 1, SW_MEM_MAX_TTL_S, &v) < 0)
        return sw_err_set(err, SW_EINVAL, "ttl must be whole seconds from 1 to %d (365 days), "
                          "got '%.40s'", SW_MEM_MAX_TTL_S, text ? text : "");
    *ttl_s = v;
    return 0;
}

static int
s_check_names(const char *ns, const char *key, sw_err_t *err)
{
    if (!sw_id_valid(ns))
        return sw_err_set(err, SW_EINVAL, "invalid namespace '%s' (letters, digits and "
                          ". _ - / : @ +, at most %d)", ns ? ns : "", SW_MAX_ID);
    if (key && !sw_memory_key_valid(key))
        return sw_err_set(err, SW_EINVAL, "invalid key (1-%d bytes, no control characters)",
                          SW_MEM_MAX_KEY);
    return 0;
}

/*  Builds the store script's arguments; s_store_args_release frees the
 *  keys. */
typedef struct {
    char       *entry, *index, *ttl;
    char        updated[24], ttlms[24], created[24], now[24];
    const char *argv[14];
    size_t      lens[14];
} s_store_args_t;

static void
s_store_args_release(s_store_args_t *a)
{
    free(a->entry);
    free(a->index);
    free(a->ttl);
}

static int
s_store_args(s_store_args_t *a, const char *ns, const char *key, const void *value, size_t len,
             const sw_mem_store_opts_t *o, sw_err_t *err)
{
    static const sw_mem_store_opts_t none = { 0 };
    memset(a, 0, sizeof *a);
    if (!o)
        o = &none;
    if (s_check_names(ns, key, err) < 0)
        return -1;
    /*  Names are text: every listing shows them as JSON strings. (Values
     *  may be bytes: JSON shows those as value_base64.) */
    if (!sw_utf8_clean(key, strlen(key)))
        return sw_err_set(err, SW_EINVAL, "invalid key: not UTF-8 text");
    if (o->tags && !sw_utf8_clean(o->tags, strlen(o->tags)))
        return sw_err_set(err, SW_EINVAL, "invalid tags: not UTF-8 text");
    if (len > SW_MEM_MAX_VALUE)
        return sw_err_set(err, SW_EINVAL, "value is %zu bytes; the limit is %u bytes (16 MiB)",
                          len, SW_MEM_MAX_VALUE);
    if (o->ttl_ms < 0 || o->ttl_ms > (int64_t) SW_MEM_MAX_TTL_S * 1000)
        return sw_err_set(err, SW_EINVAL, "ttl must be whole seconds from 1 to %d (365 days), "
                          "got %lld ms", SW_MEM_MAX_TTL_S, (long long) o->ttl_ms);
    int64_t now = sw_wall_ms();
    a->entry = sw_key_mem(ns, key);
    a->index = sw_key_ns_index(ns);
    a->ttl = sw_key_ns_ttl(ns);
    snprintf(a->updated, sizeof a->updated, "%lld", (long long) (o->updated_ms ? o->updated_ms : now));
    snprintf(a->ttlms, sizeof a->ttlms, "%lld", (long long) o->ttl_ms);
    snprintf(a->created, sizeof a->created, "%lld", (long long) o->created_ms);
    snprintf(a->now, sizeof a->now, "%lld", (long long) now);
    const char *v[] = { a->entry, a->index, SW_KEY_NAMESPACES, a->ttl, value ? value : "",
                        o->tags ? o->tags : "", a->updated, a->ttlms, o->no_upsert ? "1" : "0",
                        key, ns, a->created, a->now, o->writer ? o->writer : "" };
    for (int i = 0; i < 14; i++) {
        a->argv[i] = v[i];
        a->lens[i] = i == 4 ? len : strlen(v[i]);
    }
    return 0;
}

int
sw_memory_store(sw_redis_t *r, const char *ns, const char *key, const void *value, size_t len,
                const sw_mem_store_opts_t *o, sw_err_t *err)
{
    s_store_args_t a;
    if (s_store_args(&a, ns, key, value, len, o, err) < 0)
        return -1;
    redisReply *rep = sw_redis_eval(r, s_store_lua, 4, 14, a.argv, a.lens, err);
    s_store_args_release(&a);
    if (!rep)
        return -1;
    bool stored = rep->type == REDIS_REPLY_INTEGER && rep->integer == 1;
    freeReplyObject(rep);
    if (!stored)
        return sw_err_set(err, SW_EEXISTS, "key '%s' already exists in namespace '%s' "
                          "(--no-upsert)", key, ns);
    return 0;
}

int
sw_memory_store_append(sw_redis_t *r, const char *ns, const char *key, const void *value,
                       size_t len, const sw_mem_store_opts_t *o, sw_err_t *err)
{
    s_store_args_t a;
    if (s_store_args(&a, ns, key, value, len, o, err) < 0)
        return -1;
    int rc = sw_redis_eval_append(r, s_store_lua, 4, 14, a.argv, a.lens, err);
    s_store_args_release(&a);
    return rc;
}

bool
sw_memory_store_ready(const sw_redis_t *r)
{
    return sw_redis_script_loaded(r, s_store_lua);
}

/*  Fills e from an HGETALL reply; false when the entry is gone. */
static bool
s_fill(sw_mem_entry_t *e, const redisReply *h)
{
    if (!h || h->type != REDIS_REPLY_ARRAY || h->elements == 0)
        return false;
    bool have_value = false;
    for (size_t k = 0; k + 1 < h->elements; k += 2) {
        const char *f = h->element[k]->str;
        const redisReply *v = h->element[k + 1];
        if (strcmp(f, "value") == 0) {
            e->value = xmalloc(v->len + 1);
            memcpy(e->value, v->str, v->len);
            e->value[v->len] = '\0';
            e->len = v->len;
            have_value = true;
        }
        else if (strcmp(f, "tags") == 0)
            e->tags = xstrdup(v->str);
        else if (strcmp(f, "created") == 0)
            e->created = atoll(v->str);
        else if (strcmp(f, "updated") == 0)
            e->updated = atoll(v->str);
    }
    if (!e->tags)
        e->tags = xstrdup("");
    return have_value;
}

int
sw_memory_get(sw_redis_t *r, const char *ns, const char *key, sw_mem_entry_t *e, sw_err_t *err)
{
    memset(e, 0, sizeof *e);
    if (s_check_names(ns, key, err) < 0)
        return -1;
    char *k = sw_key_mem(ns, key);
    redisReply *h = sw_redis_cmdv(r, err, "HGETALL", k, NULL);
    redisReply *t = h ? sw_redis_cmdv(r, err, "PTTL", k, NULL) : NULL;
    free(k);
    if (!h)
        return -1;
    bool found = s_fill(e, h);
    freeReplyObject(h);
    e->ttl_ms = t && t->type == REDIS_REPLY_INTEGER && t->integer >= 0 ? t->integer : -1;
    if (t)
        freeReplyObject(t);
    if (!found) {
        sw_mem_entry_release(e);
        return sw_err_set(err, SW_ENOTFOUND, "no key '%s' in namespace '%s'", key, ns);
    }
    e->ns = xstrdup(ns);
    e->key = xstrdup(key);
    return 0;
}

int
sw_memory_delete(sw_redis_t *r, const char *ns, const char *key, sw_err_t *err)
{
    if (s_check_names(ns, key, err) < 0)
        return -1;
    char *k = sw_key_mem(ns, key), *idx = sw_key_ns_index(ns), *ttl = sw_key_ns_ttl(ns);
    const char *argv[] = { k, idx, ttl, key };
    redisReply *rep = sw_redis_eval(r, s_delete_lua, 3, 4, argv, NULL, err);
    free(k);
    free(idx);
    free(ttl);
    if (!rep)
        return -1;
    bool gone = rep->type == REDIS_REPLY_INTEGER && rep->integer == 1;
    freeReplyObject(rep);
    if (!gone)
        return sw_err_set(err, SW_ENOTFOUND, "no key '%s' in namespace '%s'", key, ns);
    return 0;
}

int
sw_memory_purge(sw_redis_t *r, const char *ns, sw_err_t *err)
{
    char now[24];
    snprintf(now, sizeof now, "%lld", (long long) sw_wall_ms());
    char *ttl = sw_key_ns_ttl(ns);
    int rc = 0;
    /*  The due keys first (usually none: one round trip), then a script
     *  that names every key it touches, a page of them at a time. */
    for (int round = 0; rc == 0 && round < 100; round++) {
        redisReply *due = sw_redis_cmdv(r, err, "ZRANGEBYSCORE", ttl, "-inf", now, "LIMIT", "0",
                                        "25", NULL);
        if (!due) {
            rc = -1;
            break;
        }
        size_t n = due->elements;
        if (n == 0) {
            freeReplyObject(due);
            break;
        }
        const char **argv = xcalloc(2 * n + 3, sizeof *argv);
        char **entries = xcalloc(n, sizeof *entries);
        char *idx = sw_key_ns_index(ns);
        argv[0] = ttl;
        argv[1] = idx;
        argv[n + 2] = now;
        for (size_t i = 0; i < n; i++) {
            entries[i] = sw_key_mem(ns, due->element[i]->str);
            argv[2 + i] = entries[i];
            argv[n + 3 + i] = due->element[i]->str;
        }
        redisReply *rep = sw_redis_eval(r, s_purge_lua, (int) n + 2, (int) (2 * n + 3), argv,
                                        NULL, err);
        /*  Members still there were stored again without expiring: the
         *  next due ones come after them, so stop once a page purged none. */
        bool progress = rep && rep->type == REDIS_REPLY_INTEGER && rep->integer > 0;
        if (!rep)
            rc = -1;
        else
            freeReplyObject(rep);
        for (size_t i = 0; i < n; i++)
            free(entries[i]);
        free(entries);
        free(argv);
        free(idx);
        freeReplyObject(due);
        if (!progress || n < 25)
            break;
    }
    free(ttl);
    return rc;
}

int
sw_memory_namespaces(sw_redis_t *r, sw_strv_t *out, sw_err_t *err)
{
    redisReply *rep = sw_redis_cmdv(r, err, "SMEMBERS", SW_KEY_NAMESPACES, NULL);
    if (!rep)
        return -1;
    /*  sorted, for stable output */
    for (size_t i = 0; i < rep->elements; i++)
        sw_strv_push(out, rep->element[i]->str);
    freeReplyObject(rep);
    for (size_t i = 1; i < out->n; i++)
        for (size_t k = i; k > 0 && strcmp(out->v[k - 1], out->v[k]) > 0; k--) {
            char *t = out->v[k];
            out->v[k] = out->v[k - 1];
            out->v[k - 1] = t;
        }
    return 0;
}

/*  Collects one HGETALL or PTTL reply per pipeline slot. */
typedef struct {
    sw_mem_entry_t *entries;
    bool           *found;
} s_page_t;

static void
s_page_reply(void *arg, int i, redisReply *rep)
{
    s_page_t *p = arg;
    sw_mem_entry_t *e = &p->entries[i / 2];
    if (i % 2 == 0)
        p->found[i / 2] = s_fill(e, rep);
    else
        e->ttl_ms = rep->type == REDIS_REPLY_INTEGER && rep->integer >= 0 ? rep->integer : -1;
}

int
sw_memory_list(sw_redis_t *r, const char *ns, size_t offset, size_t limit, bool oldest_first,
               sw_mem_entry_t **out, size_t *n, size_t *total, sw_err_t *err)
{
    *out = NULL;
    *n = 0;
    if (s_check_names(ns, NULL, err) < 0 || sw_memory_purge(r, ns, err) < 0)
        return -1;
    char start[24], stop[24];
    char *idx = sw_key_ns_index(ns);
    snprintf(start, sizeof start, "%zu", offset);
    snprintf(stop, sizeof stop, "%zu", offset + (limit ? limit : 1) - 1);
    redisReply *card = sw_redis_cmdv(r, err, "ZCARD", idx, NULL);
    redisReply *keys = card && limit ? sw_redis_cmdv(r, err, oldest_first ? "ZRANGE" : "ZREVRANGE",
                                                     idx, start, stop, NULL) : NULL;
    free(idx);
    if (!card)
        return -1;
    *total = (size_t) card->integer;
    freeReplyObject(card);
    if (limit == 0)
        return 0;
    if (!keys)
        return -1;
    sw_mem_entry_t *v = xcalloc(keys->elements + 1, sizeof *v);
    bool *found = xcalloc(keys->elements + 1, sizeof *found);
    for (size_t i = 0; i < keys->elements; i++) {
        char *k = sw_key_mem(ns, keys->element[i]->str);
        const char *a1[] = { "HGETALL", k }, *a2[] = { "PTTL", k };
        sw_redis_append(r, 2, a1, NULL);
        sw_redis_append(r, 2, a2, NULL);
        free(k);
    }
    s_page_t page = { v, found };
    int rc = sw_redis_flush_each(r, s_page_reply, &page, err);
    /*  Compact: keep the entries that still exist, in index order. */
    size_t k = 0;
    for (size_t i = 0; i < keys->elements; i++) {
        if (rc == 0 && found[i]) {
            v[i].ns = xstrdup(ns);
            v[i].key = xstrdup(keys->element[i]->str);
            if (k != i) {
                v[k] = v[i];
                memset(&v[i], 0, sizeof v[i]);
            }
            k++;
        }
        else
            sw_mem_entry_release(&v[i]);
    }
    freeReplyObject(keys);
    free(found);
    if (rc < 0) {
        sw_mem_entries_free(v, k);
        return -1;
    }
    *out = v;
    *n = k;
    return 0;
}

/*  --- search (the pure scoring is in sw_memory_search.c) ---------------------- */

static int
s_rank(const void *a, const void *b)
{
    const sw_mem_entry_t *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    return x->updated < y->updated ? 1 : x->updated > y->updated ? -1 : 0;
}

int
sw_memory_search(sw_redis_t *r, const char *ns, const char *query, size_t limit,
                 sw_mem_entry_t **out, size_t *n, sw_err_t *err)
{
    *out = NULL;
    *n = 0;
    sw_strv_t terms = { 0 }, spaces = { 0 };
    if (sw_memory_terms(query ? query : "", &terms) < 0) {
        sw_strv_release(&terms);
        return sw_err_set(err, SW_EINVAL, "empty search query");
    }
    int rc = 0;
    if (ns)
        rc = s_check_names(ns, NULL, err) < 0 ? -1 : (sw_strv_push(&spaces, ns), 0);
    else
        rc = sw_memory_namespaces(r, &spaces, err);
    size_t cap = 16, count = 0;
    sw_mem_entry_t *hits = xcalloc(cap, sizeof *hits);
    /*  Walk each namespace's index a page at a time: no SCAN, and memory
     *  holds one page plus the matches. */
    for (size_t s = 0; rc == 0 && s < spaces.n; s++) {
        for (size_t off = 0;; off += 500) {
            sw_mem_entry_t *page;
            size_t got, total;
            if (sw_memory_list(r, spaces.v[s], off, 500, false, &page, &got, &total, err) < 0) {
                rc = -1;
                break;
            }
            for (size_t i = 0; i < got; i++) {
                double score = sw_memory_score(&terms, page[i].key, page[i].tags, page[i].value,
                                               page[i].len);
                if (score <= 0) {
                    sw_mem_entry_release(&page[i]);
                    continue;
                }
                if (count == cap)
                    hits = xrealloc(hits, (cap *= 2) * sizeof *hits);
                hits[count] = page[i];
                hits[count++].score = score;
            }
            free(page);
            if (off + 500 >= total)
                break;
        }
    }
    sw_strv_release(&terms);
    sw_strv_release(&spaces);
    if (rc < 0) {
        sw_mem_entries_free(hits, count);
        return -1;
    }
    qsort(hits, count, sizeof *hits, s_rank);
    if (limit && count > limit) {
        for (size_t i = limit; i < count; i++)
            sw_mem_entry_release(&hits[i]);
        count = limit;
    }
    *out = hits;
    *n = count;
    return 0;
}

/*  --- stats ---------------------------------------------------------------------- */

static void
s_add_len(void *arg, int i, redisReply *rep)
{
    if (rep->type == REDIS_REPLY_INTEGER)
        *(uint64_t *) arg += (uint64_t) rep->integer;
    (void) i;
}

int
sw_memory_stats(sw_redis_t *r, sw_mem_stat_t **out, size_t *n, sw_err_t *err)
{
    *out = NULL;
    *n = 0;
    sw_strv_t spaces = { 0 };
    if (sw_memory_namespaces(r, &spaces, err) < 0)
        return -1;
    sw_mem_stat_t *v = xcalloc(spaces.n + 1, sizeof *v);
    int rc = 0;
    for (size_t s = 0; rc == 0 && s < spaces.n; s++) {
        v[s].ns = xstrdup(spaces.v[s]);
        if (sw_memory_purge(r, spaces.v[s], err) < 0) {
            rc = -1;
            break;
        }
        char *idx = sw_key_ns_index(spaces.v[s]);
        for (size_t off = 0; rc == 0; off += 1000) {
            char a[24], b[24];
            snprintf(a, sizeof a, "%zu", off);
            snprintf(b, sizeof b, "%zu", off + 999);
            redisReply *keys = sw_redis_cmdv(r, err, "ZRANGE", idx, a, b, NULL);
            if (!keys) {
                rc = -1;
                break;
            }
            v[s].entries += keys->elements;
            for (size_t i = 0; i < keys->elements; i++) {
                char *k = sw_key_mem(spaces.v[s], keys->element[i]->str);
                const char *av[] = { "HSTRLEN", k, "value" };
                sw_redis_append(r, 3, av, NULL);
                free(k);
            }
            size_t got = keys->elements;
            freeReplyObject(keys);
            if (sw_redis_flush_each(r, s_add_len, &v[s].bytes, err) < 0)
                rc = -1;
            if (got < 1000)
                break;
        }
        free(idx);
    }
    *n = spaces.n;
    sw_strv_release(&spaces);
    if (rc < 0) {
        sw_mem_stats_free(v, *n);
        *n = 0;
        return -1;
    }
    *out = v;
    return 0;
}

void
sw_mem_stats_free(sw_mem_stat_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].ns);
    free(v);
}

/*  --- JSON ------------------------------------------------------------------------- */

json_t *
sw_memory_entry_json(const sw_mem_entry_t *e, bool with_value)
{
    json_t *o = json_object();
    json_object_set_new(o, "namespace", json_string(e->ns));
    json_object_set_new(o, "key", json_string(e->key));
    size_t len = with_value || e->len <= 200 ? e->len : 200;
    if (sw_utf8_clean(e->value, e->len)) {
        /*  Shortened at a character: JSON cannot hold half of one. */
        while (len < e->len && len > 0 && ((unsigned char) e->value[len] & 0xC0) == 0x80)
            len--;
        json_object_set_new(o, "value", json_stringn(e->value, len));
    }
    else {
        sw_buf_t b;
        sw_buf_init(&b);
        sw_base64_encode(e->value, len, &b);
        json_object_set_new(o, "value_base64", json_stringn(b.data, b.len));
        sw_buf_release(&b);
    }
    if (!with_value)
        json_object_set_new(o, "truncated", json_boolean(len < e->len));
    json_object_set_new(o, "bytes", json_integer((json_int_t) e->len));
    json_t *tags = json_array();
    char *copy = xstrdup(e->tags ? e->tags : ""), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
        json_array_append_new(tags, json_string(t));
    free(copy);
    json_object_set_new(o, "tags", tags);
    json_object_set_new(o, "created", json_integer(e->created));
    json_object_set_new(o, "updated", json_integer(e->updated));
    json_object_set_new(o, "ttl_ms", e->ttl_ms >= 0 ? json_integer(e->ttl_ms) : json_null());
    if (e->score > 0)
        json_object_set_new(o, "score", json_real(e->score));
    return o;
}

int
sw_memory_entry_from_json(json_t *o, sw_mem_entry_t *e, sw_err_t *err)
{
    memset(e, 0, sizeof *e);
    e->ttl_ms = -1;
    const char *ns = json_string_value(json_object_get(o, "namespace"));
    const char *key = json_string_value(json_object_get(o, "key"));
    json_t *val = json_object_get(o, "value"), *b64 = json_object_get(o, "value_base64");
    if (!json_is_object(o) || !ns || !key || (!json_is_string(val) && !json_is_string(b64)))
        return sw_err_set(err, SW_EINVAL, "needs namespace, key and value (or value_base64)");
    if (s_check_names(ns, key, err) < 0)
        return -1;
    sw_buf_t b;
    sw_buf_init(&b);
    if (json_is_string(val))
        sw_buf_add(&b, json_string_value(val), json_string_length(val));
    else if (sw_base64_decode(json_string_value(b64), json_string_length(b64), &b) < 0) {
        sw_buf_release(&b);
        return sw_err_set(err, SW_EINVAL, "value_base64 is not base64");
    }
    e->value = b.data ? b.data : xstrdup("");
    e->len = b.len;
    e->ns = xstrdup(ns);
    e->key = xstrdup(key);
    sw_buf_t tags;
    sw_buf_init(&tags);
    json_t *t = json_object_get(o, "tags");
    for (size_t i = 0; json_is_array(t) && i < json_array_size(t); i++) {
        const char *s = json_string_value(json_array_get(t, i));
        if (s && *s && !strchr(s, ','))
            sw_buf_printf(&tags, "%s%s", tags.len ? "," : "", s);
    }
    e->tags = tags.data ? tags.data : xstrdup("");
    e->created = json_integer_value(json_object_get(o, "created"));
    e->updated = json_integer_value(json_object_get(o, "updated"));
    json_t *ttl = json_object_get(o, "ttl_ms");
    if (json_is_integer(ttl))
        e->ttl_ms = json_integer_value(ttl);
    return 0;
}

int
sw_memory_test(bool verbose)
{
    sw_err_t err = { 0 };
    sw_strv_t terms = { 0 };
    sw_strv_push(&terms, "auth");
    /*  the terms the callers pass are folded already */
    double key_hit = sw_memory_score(&terms, "auth-design", "", "nothing", 7);
    double tag_hit = sw_memory_score(&terms, "x", "auth,api", "nothing", 7);
    double val_hit = sw_memory_score(&terms, "x", "", "uses AUTH tokens", 16);
    CHECK(key_hit > tag_hit && tag_hit > val_hit && val_hit > 0);
    CHECK(sw_memory_score(&terms, "x", "", "no match here", 13) == 0);
    CHECK(sw_memory_score(&terms, "auth", "", "", 0) > key_hit);      /*  exact key */
    sw_strv_push(&terms, "jwt");
    /*  two matched terms beat one strong one */
    CHECK(sw_memory_score(&terms, "x", "", "auth with jwt", 13) > key_hit);
    /*  values may hold NULs */
    CHECK(sw_memory_score(&terms, "x", "", "\0\0jwt", 5) > 0);
    sw_strv_release(&terms);

    /*  Full Unicode case folding (issue 14): Cyrillic, accents, ß -> ss,
     *  precomposed and decomposed alike, in keys, tags and values. */
    static const struct { const char *query, *key, *tags, *value; } fold[] = {
        { "дизайн", "x", "", "ДИЗАЙН системы" },
        { "ДИЗАЙН", "дизайн-api", "", "" },
        { "école", "x", "ÉCOLE,paris", "" },
        { "ÉCOLE", "x", "", "une e\xcc\x81" "cole" },           /*  decomposed é */
        { "straße", "x", "", "STRASSE 5" },
        { "STRASSE", "x", "", "straße 5" },
        { "ǆ", "x", "", "Ǆ ǅ" },                            /*  title case */
        { "ﬁle", "FILE-1", "", "" },                        /*  ligature */
    };
    for (size_t i = 0; i < sizeof fold / sizeof fold[0]; i++) {
        CHECK(sw_memory_terms(fold[i].query, &terms) == 0);
        CHECK(sw_memory_score(&terms, fold[i].key, fold[i].tags, fold[i].value,
                              strlen(fold[i].value)) > 0);
        sw_strv_release(&terms);
    }
    /*  no false friends: e is not é, and matching is on folded text */
    CHECK(sw_memory_terms("ecole", &terms) == 0);
    CHECK(sw_memory_score(&terms, "x", "", "ÉCOLE", strlen("ÉCOLE")) == 0);
    sw_strv_release(&terms);
    /*  binary values (NUL, ill-formed UTF-8) are searched, not refused */
    CHECK(sw_memory_terms("jwt", &terms) == 0);
    CHECK(sw_memory_score(&terms, "x", "", "\xff\xfe\0JWT\x80", 7) > 0);
    sw_strv_release(&terms);
    /*  the empty and the blank query have no terms */
    CHECK(sw_memory_terms("", &terms) < 0 && sw_memory_terms(" \t\n", &terms) < 0);
    CHECK(sw_memory_terms("  Auth\tJWT  ", &terms) == 0 && terms.n == 2);
    CHECK(strcmp(terms.v[0], "auth") == 0 && strcmp(terms.v[1], "jwt") == 0);
    sw_strv_release(&terms);
    size_t flen;
    char *f = sw_memory_fold("A\0\xc3\x9f", 4, &flen);
    CHECK(flen == 4 && memcmp(f, "a\0ss", 4) == 0);
    free(f);
    f = sw_memory_fold("", 0, &flen);
    CHECK(flen == 0 && f[0] == '\0');
    free(f);
    /*  folded piecewise (ASCII apart) is folded whole: random texts of
     *  pieces that compose, change length, are ill-formed or far apart */
    static const char *const pieces[] = {
        "a", "E", "e\xcc\x81", "\xcc\x81", "\xcc\xa3", "\xc3\xa9", "\xc3\x89", "\xc3\x9f",
        "\xe1\xba\x9e", "\xc4\xb0", "\xef\xac\x81", "\xce\xa3", "\xcf\x82", "\xed\x95\x9c",
        "\xe1\x84\x92", "\xe1\x85\xa1", "\xe1\x86\xab", "\xff", "\xe2\x80", " ", "\0",
        "\xe2\x84\xaa", "\xc7\x85", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "Q.",
    };
    uint32_t seed = 14;
    for (int round = 0; round < 3000; round++) {
        sw_buf_t text;
        sw_buf_init(&text);
        int count = 1 + (int) (seed % 12);
        for (int k = 0; k < count; k++) {
            seed = seed * 1103515245u + 12345u;
            const char *piece = pieces[(seed >> 16) % (sizeof pieces / sizeof *pieces)];
            sw_buf_add(&text, piece, *piece ? strlen(piece) : 1);
        }
        size_t whole_len = 0;
        uint8_t *whole = u8_casefold((const uint8_t *) text.data, text.len, NULL, UNINORM_NFC,
                                     NULL, &whole_len);
        f = sw_memory_fold(text.data, text.len, &flen);
        CHECK(whole && flen == whole_len && memcmp(f, whole, flen) == 0);
        free(whole);
        free(f);
        sw_buf_release(&text);
    }

    /*  one TTL limit, one message (issue 14: the CLI took 31536001) */
    int64_t ttl;
    CHECK(sw_memory_ttl_parse("31536000", &ttl, &err) == 0 && ttl == 31536000);
    CHECK(sw_memory_ttl_parse("1", &ttl, &err) == 0 && ttl == 1);
    CHECK(sw_memory_ttl_parse("31536001", &ttl, &err) < 0 && err.code == SW_EINVAL);
    CHECK(strcmp(err.msg, "ttl must be whole seconds from 1 to 31536000 (365 days), "
                 "got '31536001'") == 0);
    CHECK(sw_memory_ttl_parse("0", &ttl, &err) < 0 && sw_memory_ttl_parse("", &ttl, &err) < 0);
    CHECK(sw_memory_ttl_parse("-5", &ttl, &err) < 0 && sw_memory_ttl_parse("1e3", &ttl, &err) < 0);

    CHECK(sw_memory_key_valid("result-coder-1") && sw_memory_key_valid("a b:c/d"));
    CHECK(!sw_memory_key_valid("") && !sw_memory_key_valid("a\nb"));

    /*  JSON: clean text as value, binary as base64, and back */
    sw_mem_entry_t e = { .ns = "n", .key = "k", .value = "a\0\xff", .len = 3, .tags = "x,y",
                         .created = 1, .updated = 2, .ttl_ms = -1 };
    json_t *o = sw_memory_entry_json(&e, true);
    CHECK(json_object_get(o, "value") == NULL);
    CHECK(strcmp(json_string_value(json_object_get(o, "value_base64")), "YQD/") == 0);
    sw_mem_entry_t back;
    CHECK(sw_memory_entry_from_json(o, &back, &err) == 0);
    CHECK(back.len == 3 && memcmp(back.value, "a\0\xff", 3) == 0);
    CHECK(strcmp(back.tags, "x,y") == 0 && back.created == 1 && back.updated == 2);
    sw_mem_entry_release(&back);
    json_decref(o);
    /*  a preview is cut at a character, never inside one */
    char pv[302] = "a";
    for (int i = 0; i < 150; i++)
        memcpy(pv + 1 + 2 * i, "\xc3\xa9", 2);
    sw_mem_entry_t pe = { .ns = "n", .key = "k", .value = pv, .len = 301, .tags = "",
                          .ttl_ms = -1 };
    o = sw_memory_entry_json(&pe, false);
    CHECK(json_string_length(json_object_get(o, "value")) == 199);
    CHECK(json_is_true(json_object_get(o, "truncated")));
    json_decref(o);
    /*  names are text; a store of one that is not is refused before Redis */
    CHECK(sw_memory_store(NULL, "n", "k\xff", "v", 1, NULL, &err) < 0 && err.code == SW_EINVAL);
    sw_mem_store_opts_t bad_tags = { .tags = "a,\xc3" };
    CHECK(sw_memory_store(NULL, "n", "k", "v", 1, &bad_tags, &err) < 0 && err.code == SW_EINVAL);
    json_t *bad = json_pack("{s:s}", "key", "k");
    CHECK(sw_memory_entry_from_json(bad, &back, &err) < 0);
    json_decref(bad);
    (void) verbose;
    return 0;
}
