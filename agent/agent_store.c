/*  agent_store -- see agent_store.h */
#include "agent_store.h"

#include <jansson.h>
#include <string.h>

#include "agent_result.h"
#include "agent_runner.h"
#include "sw_keys.h"
#include "sw_memory.h"
#include "sw_selftest.h"

struct agent_store_t {
    const char *redis_url;
    agent_spool_t *spool;
    sw_redis_t *redis;
    int64_t     retry_ms;       /*  monotonic: no try before */
    int64_t     backoff_ms;     /*  1 -> 8 s while Redis fails; 0 when it answers */
    int64_t     spool_quiet_ms; /*  monotonic: no warning of a failing spool before */
};

agent_store_t *
agent_store_new(const char *redis_url, agent_spool_t *spool)
{
    agent_store_t *self = xcalloc(1, sizeof *self);
    self->redis_url = redis_url;
    self->spool = spool;
    return self;
}

void
agent_store_destroy(agent_store_t **self_p)
{
    agent_store_t *self = *self_p;
    if (!self)
        return;
    sw_redis_destroy(&self->redis);
    free(self);
    *self_p = NULL;
}

/*  Redis failed: try again after 1, 2, 4, 8, 8 ... s. */
static void
s_failed(agent_store_t *self)
{
    self->backoff_ms = self->backoff_ms ? self->backoff_ms * 2 : 1000;
    if (self->backoff_ms > 8000)
        self->backoff_ms = 8000;
    self->retry_ms = sw_now_ms() + self->backoff_ms;
}

sw_redis_t *
agent_store_redis(agent_store_t *self)
{
    if (self->redis)
        return self->redis;
    if (sw_now_ms() < self->retry_ms)
        return NULL;
    sw_err_t err = { 0 };
    self->redis = sw_keys_connect(self->redis_url, 2000, &err);
    if (!self->redis) {
        if (self->backoff_ms == 0)
            log_warnx("%s; results wait in the spool", err.msg);
        s_failed(self);
    }
    return self->redis;
}

/*  Looks up {{memory:NS/KEY}} and {{result:ID}} for a prompt. */
typedef struct {
    agent_store_t   *store;
    const sw_task_t *task;
} s_lookup_t;

static int
s_lookup(void *ctx, const char *kind, const char *ref, sw_buf_t *out, sw_err_t *err)
{
    s_lookup_t *l = ctx;
    sw_redis_t *redis = agent_store_redis(l->store);
    if (!redis)
        return sw_err_set(err, SW_EUNREACH, "Redis at %s is unreachable", l->store->redis_url);
    if (strcmp(kind, "memory") == 0) {
        const char *slash = strchr(ref, '/');
        char *ns = xstrndup(ref, (size_t) (slash - ref));
        sw_mem_entry_t e;
        int rc = sw_memory_get(redis, ns, slash + 1, &e, err);
        free(ns);
        if (rc < 0)
            return -1;
        sw_buf_add(out, e.value, e.len);
        sw_mem_entry_release(&e);
        return 0;
    }
    char *key = sw_key_task(l->task->job, ref);
    redisReply *r = sw_redis_cmdv(redis, err, "HGET", key, "result", NULL);
    free(key);
    if (!r)
        return -1;
    json_t *doc = r->type == REDIS_REPLY_STRING ? json_loads(r->str, 0, NULL) : NULL;
    freeReplyObject(r);
    const char *output = json_string_value(json_object_get(doc, "output"));
    if (output)
        sw_buf_addstr(out, output);
    json_decref(doc);
    if (!output)
        return sw_err_set(err, SW_ENOTFOUND, "task %s has no result in job %s", ref,
                          l->task->job);
    return 0;
}

int
agent_store_expand(agent_store_t *self, const sw_task_t *t, sw_buf_t *out, sw_err_t *err)
{
    s_lookup_t l = { self, t };
    return agent_template_expand(t->prompt, s_lookup, &l, out, err);
}

/*  Keeps the result on disk until Redis takes it (once per run). */
static void
s_spool(agent_store_t *self, const agent_spooled_t *s, bool *spooled)
{
    if (*spooled)
        return;
    sw_err_t err = { 0 };
    if (agent_spool_put(self->spool, s, &err) < 0) {
        /*  tried again at every store (the disk may free up), said every
         *  10 s: a full disk must not fill the log as well */
        if (sw_now_ms() >= self->spool_quiet_ms) {
            log_warnx("%s; the result waits in memory only", err.msg);
            self->spool_quiet_ms = sw_now_ms() + 10000;
        }
        return;
    }
    self->spool_quiet_ms = 0;
    *spooled = true;
    log_info("result of %s/%s attempt %lld spooled to disk until Redis is back", s->job, s->id,
             (long long) s->attempt);
}

char *
agent_store_shrink(const char *json, size_t len)
{
    /*  The top level's output is the last field (agent_result_frame,
     *  agent_result_dumps): the last '"output":"' that is not inside a
     *  string (in one, a quote is escaped) is its key. */
    static const char key[] = "\"output\":\"";
    size_t klen = sizeof key - 1, pos = 0;
    bool found = false;
    for (size_t i = len >= klen ? len - klen + 1 : 0; !found && i-- > 0;)
        if (json[i] == '"' && memcmp(json + i, key, klen) == 0) {
            pos = i;
            found = true;
        }
    if (!found || pos < 1)
        return NULL;
    /*  what comes before it, closed: a small document */
    size_t cut = json[pos - 1] == ',' ? pos - 1 : pos;
    char *head = xmalloc(cut + 2);
    memcpy(head, json, cut);
    memcpy(head + cut, "}", 2);
    json_t *doc = json_loads(head, 0, NULL);
    free(head);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return NULL;
    }
    const char *was = json_string_value(json_object_get(doc, "error"));
    char *why = xasprintf("%s%sthe result (%zu bytes as JSON) is larger than Redis takes in "
                          "one value (proto-max-bulk-len): stored without its output; lower "
                          "the agent's --max-output", was ? was : "", was ? "; " : "", len);
    json_object_set_new(doc, "error", json_string(why));
    free(why);
    json_object_set_new(doc, "output_truncated", json_true());
    json_object_set_new(doc, "output", json_string(""));
    char *out = agent_result_dumps(doc);
    json_decref(doc);
    return out;
}

/*  Whether Redis refused the value (len bytes) as too long for it:
 *  final, however often it is sent again. */
static bool
s_too_long(size_t len, const sw_err_t *err)
{
    return len > AGENT_STORE_BULK_MAX || strstr(err->msg, "invalid bulk length");
}

int
agent_store_result(agent_store_t *self, const agent_spooled_t *s,
                   const agent_log_end_t *end, bool *spooled)
{
    sw_redis_t *redis = agent_store_redis(self);
    if (!redis) {
        s_spool(self, s, spooled);
        return -1;
    }
    sw_err_t err = { 0 };
    sw_task_t t;
    sw_task_init(&t);
    t.job = s->job;
    t.id = s->id;
    t.ns = s->ns;
    t.attempt = s->attempt;
    /*  A document Redis cannot take (proto-max-bulk-len: 512 MB by
     *  default, --max-output 86 MiB of control bytes escaped 6 times)
     *  was refused on every try, the task left running for ever: it goes
     *  without its output (e2e.result_bulk). Over the default, it is not
     *  even sent (Redis would close the connection while it is). */
    char *small = NULL;
    size_t len = strlen(s->result);     /*  once: it may be hundreds of MB */
    int rc = len > AGENT_STORE_BULK_MAX
             ? (sw_err_set(&err, SW_EFAIL, "over %u bytes", AGENT_STORE_BULK_MAX), -1)
             : agent_result_store(redis, &t, s->result, end, &err);
    if (rc < 0 && s_too_long(len, &err) && (small = agent_store_shrink(s->result, len))) {
        log_warnx("result of %s/%s attempt %lld: %zu bytes as JSON, larger than Redis takes in "
                  "one value (%s): stored without its output", s->job, s->id,
                  (long long) s->attempt, len, err.msg);
        sw_redis_destroy(&self->redis);     /*  Redis closed it */
        redis = agent_store_redis(self);
        memset(&err, 0, sizeof err);
        rc = redis ? agent_result_store(redis, &t, small, end, &err)
                   : sw_err_set(&err, SW_EUNREACH, "Redis is away");
        free(small);
    }
    if (rc < 0) {
        log_warnx("cannot store the result of %s: %s", s->id, err.msg);
        if (err.code == SW_EUNREACH)
            sw_redis_destroy(&self->redis);
        s_failed(self);
        s_spool(self, s, spooled);
        return -1;
    }
    if (self->backoff_ms) {
        log_info("Redis at %s is back: storing results again", sw_redis_addr(redis));
        self->backoff_ms = 0;
    }
    if (rc == 0)
        log_warnx("result of %s/%s attempt %lld refused: a newer attempt owns the task", s->job,
                  s->id, (long long) s->attempt);
    if (*spooled)
        agent_spool_remove(self->spool, s->job, s->id, s->attempt);
    return rc;
}

int
agent_store_unspool(agent_store_t *self, void (*fn)(void *arg, agent_spooled_t *s), void *arg)
{
    return agent_spool_load(self->spool, fn, arg);
}

/*  --- self-test ------------------------------------------------------------------ */

int
agent_store_test(bool verbose)
{
    (void) verbose;
    /*  the top level's output goes, a nested "output" (a hook's) and an
     *  output that spells the key stay as they were */
    const char *doc = "{\"id\":\"t\",\"status\":\"succeeded\",\"output_truncated\":false,"
                      "\"hooks\":[{\"output\":\"h\\\\\"}],\"output\":\"a\\\"output\\\":\\\"b\\\\\"}";
    json_t *in = json_loads(doc, 0, NULL);
    CHECK(in && strcmp(json_string_value(json_object_get(in, "output")),
                       "a\"output\":\"b\\") == 0);
    json_decref(in);
    char *out = agent_store_shrink(doc, strlen(doc));
    json_t *d = out ? json_loads(out, 0, NULL) : NULL;
    CHECK(d && strcmp(json_string_value(json_object_get(d, "output")), "") == 0);
    CHECK(json_is_true(json_object_get(d, "output_truncated")));
    CHECK(strcmp(json_string_value(json_object_get(d, "status")), "succeeded") == 0);
    CHECK(strstr(json_string_value(json_object_get(d, "error")), "proto-max-bulk-len"));
    CHECK(strcmp(json_string_value(json_object_get(json_array_get(json_object_get(d, "hooks"),
                                                                   0), "output")), "h\\") == 0);
    CHECK(out && strstr(out, ",\"output\":\"\"}"));          /*  output last */
    json_decref(d);
    free(out);
    /*  an error it had is kept, first */
    const char *failed = "{\"error\":\"crashed\",\"output\":\"x\"}";
    out = agent_store_shrink(failed, strlen(failed));
    CHECK(out && strstr(out, "\"error\":\"crashed; the result (") != NULL);
    free(out);
    /*  output alone; not a result document */
    out = agent_store_shrink("{\"output\":\"x\"}", 14);
    CHECK(out && strncmp(out, "{\"error\":", 9) == 0);
    free(out);
    CHECK(agent_store_shrink("{\"id\":\"t\"}", 10) == NULL);
    CHECK(agent_store_shrink("\"output\":\"x\"", 12) == NULL);
    CHECK(agent_store_shrink("", 0) == NULL);
    return 0;
}
