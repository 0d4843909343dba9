/*  coord_load -- the coordinator's reads of Redis (coord_store.h): the
 *  state after a restart, finished jobs loaded back on demand, and the
 *  results of running tasks nobody claimed. */
#include <math.h>

#include "coord_store_int.h"

#include <jansson.h>
#include <string.h>

#include "sw_keys.h"

/*  Task hashes are read this many at a time: a job of 1,000,000 tasks
 *  never sits whole in one pipeline. */
#define S_PAGE 4096

/*  A sync read: what is queued goes first (its replies are the store's),
 *  and an outage during the read counts as one. NULL with err. */
static redisReply *
s_read(coord_store_t *self, sw_err_t *err, const char *cmd, const char *a1, const char *a2,
       const char *a3)
{
    if (coord_store_sync(self) < 0)
        return sw_err_set(err, SW_EUNREACH, "redis at %s is out", sw_redis_addr(self->redis)),
               NULL;
    redisReply *r = sw_redis_cmdv(self->redis, err, cmd, a1, a2, a3, NULL);
    if (!r && err->code == SW_EUNREACH)
        coord_store_outage(self, err->msg);
    return r;
}

char *
coord_store_load_current(coord_store_t *self)
{
    sw_err_t err = { 0 };
    redisReply *r = s_read(self, &err, "GET", SW_KEY_CURRENT_JOB, NULL, NULL);
    char *job = NULL;
    if (r && r->type == REDIS_REPLY_STRING)
        job = xstrdup(r->str);
    if (r)
        freeReplyObject(r);
    return job;
}

zhashx_t *
coord_store_load_revoked(coord_store_t *self)
{
    zhashx_t *keys = zhashx_new();
    sw_err_t err = { 0 };
    redisReply *r = s_read(self, &err, "SMEMBERS", SW_KEY_REVOKED, NULL, NULL);
    if (!r && err.code)
        log_warnx("cannot read the revoked keys: %s", err.msg);
    for (size_t i = 0; r && i < r->elements; i++)
        if (r->element[i]->type == REDIS_REPLY_STRING)
            zhashx_update(keys, r->element[i]->str, (void *) 1);
    if (r)
        freeReplyObject(r);
    return keys;
}

/*  --- task specs from JSON ------------------------------------------------------- */

static char *
s_jdup(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? xstrdup(s) : NULL;
}

static void
s_jstrv(json_t *o, const char *key, sw_strv_t *out)
{
    json_t *a = json_object_get(o, key);
    for (size_t i = 0; json_is_array(a) && i < json_array_size(a); i++)
        if (json_is_string(json_array_get(a, i)))
            sw_strv_push(out, json_string_value(json_array_get(a, i)));
}

static void
s_jkv(json_t *o, const char *key, sw_kv_t *out)
{
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(o, key), k, v)
        if (json_is_string(v))
            sw_kv_set(out, k, json_string_value(v));
}

static int
s_spec_from_json(const char *text, sw_task_t *t)
{
    json_t *o = json_loads(text, 0, NULL);
    if (!o)
        return -1;
    sw_task_init(t);
    t->id = s_jdup(o, "id");
    t->job = s_jdup(o, "job");
    t->type = s_jdup(o, "type");
    t->runner = s_jdup(o, "runner");
    t->prompt = s_jdup(o, "prompt");
    t->dir = s_jdup(o, "dir");
    t->ns = s_jdup(o, "ns");
    t->output_schema = s_jdup(o, "output_schema");
    s_jstrv(o, "argv", &t->argv);
    s_jstrv(o, "after", &t->after);
    s_jkv(o, "labels", &t->labels);
    s_jkv(o, "env", &t->env);
    t->timeout_s = json_integer_value(json_object_get(o, "timeout_s"));
    t->idle_timeout_s = json_integer_value(json_object_get(o, "idle_timeout_s"));
    t->max_attempts = json_integer_value(json_object_get(o, "max_attempts"));
    t->max_turns = json_integer_value(json_object_get(o, "max_turns"));
    t->max_budget_cents = json_integer_value(json_object_get(o, "max_budget_cents"));
    s_jstrv(o, "outputs", &t->outputs);
    sw_err_t err = { 0 };
    json_t *ws = json_object_get(o, "workspace");
    if (ws && sw_task_ws_from_json(ws, &t->ws, &err) < 0)
        log_warnx("stored task %s: workspace ignored: %s", t->id ? t->id : "?", err.msg);
    json_decref(o);
    if (sw_task_validate(t, &err) < 0) {
        log_warnx("stored task %s/%s is not valid: %s", t->job ? t->job : "?",
                  t->id ? t->id : "?", err.msg);
        sw_task_release(t);
        return -1;
    }
    return 0;
}

/*  A stand-in spec for a task whose hash cannot be read: enough to show
 *  it, failed, with why. */
static int
s_spec_unreadable(const char *job, const char *id, sw_task_t *t)
{
    sw_task_init(t);
    t->id = xstrdup(id);
    t->job = xstrdup(job);
    sw_strv_push(&t->argv, "true");
    sw_err_t err = { 0 };
    if (sw_task_validate(t, &err) < 0) {
        sw_task_release(t);
        return -1;
    }
    return 0;
}

/*  --- hashes read in a pipeline ----------------------------------------------- */

/*  A reply kept past the flush: the fields of a hash, or an error. */
typedef struct {
    char  **kv;                 /*  field, value, field, value ... */
    size_t  n;
    char   *error;              /*  the reply was an error */
} s_hash_t;

static void
s_keep_reply(void *arg, int i, redisReply *r)
{
    s_hash_t *h = &((s_hash_t *) arg)[i];
    if (r->type == REDIS_REPLY_ERROR) {
        h->error = xstrdup(r->str ? r->str : "error");
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY)
        return;
    h->n = r->elements;
    h->kv = xcalloc(r->elements + 1, sizeof *h->kv);
    for (size_t k = 0; k < r->elements; k++)
        h->kv[k] = xstrndup(r->element[k]->str ? r->element[k]->str : "", r->element[k]->len);
}

static void
s_hash_release(s_hash_t *h)
{
    for (size_t k = 0; k < h->n; k++)
        free(h->kv[k]);
    free(h->kv);
    free(h->error);
    memset(h, 0, sizeof *h);
}

static const char *
s_field(const s_hash_t *h, const char *name)
{
    for (size_t k = 0; k + 1 < h->n; k += 2)
        if (strcmp(h->kv[k], name) == 0)
            return h->kv[k + 1];
    return NULL;
}

static int64_t
s_field_ms(const s_hash_t *h, const char *name, int64_t dflt)
{
    const char *v = s_field(h, name);
    return v && *v ? atoll(v) : dflt;
}

static const char *
s_rfield(const redisReply *h, const char *name)
{
    for (size_t k = 0; h && k + 1 < h->elements; k += 2)
        if (strcmp(h->element[k]->str, name) == 0)
            return h->element[k + 1]->str;
    return NULL;
}

/*  The final status and exit code of a result document for attempt. */
static bool
s_result_final(const char *json, long long attempt, char *status, size_t n, int *exit_code)
{
    json_t *r = json ? json_loads(json, 0, NULL) : NULL;
    const char *st = json_string_value(json_object_get(r, "status"));
    bool ok = st && json_integer_value(json_object_get(r, "attempt")) == attempt
           && sw_tstate_parse(st) >= 0 && SW_TS_FINAL(sw_tstate_parse(st));
    if (ok) {
        snprintf(status, n, "%s", st);
        json_t *ec = json_object_get(r, "exit_code");
        *exit_code = json_is_integer(ec) ? (int) json_integer_value(ec) : -1;
    }
    json_decref(r);
    return ok;
}

/*  What each attempt of t used (its usage:N fields; coord_budget.c). A
 *  field that does not parse is logged and left out. */
static void
s_restore_spend(coord_task_t *t, const s_hash_t *h)
{
    size_t plen = strlen(SW_FIELD_USAGE_PREFIX);
    for (size_t k = 0; k + 1 < h->n; k += 2) {
        if (strncmp(h->kv[k], SW_FIELD_USAGE_PREFIX, plen) != 0)
            continue;
        long long attempt = 0;
        sw_err_t err = { 0 };
        json_t *o = json_loads(h->kv[k + 1], 0, NULL);
        sw_usage_t u;
        if (sw_parse_int(h->kv[k] + plen, 1, INT32_MAX, &attempt) < 0
            || sw_usage_from_json(o, &u, &err) < 0)
            log_warnx("task %s/%s: stored usage %s ignored: %s", t->job->id, t->spec.id,
                      h->kv[k], err.msg[0] ? err.msg : "bad attempt");
        else {
            const char *src = json_string_value(json_object_get(o, "cost_source"));
            coord_sched_spend_restore(t, attempt, &u,
                                      u.cost_usd < 0 ? -1 : llround(u.cost_usd * 1e6),
                                      src && strcmp(src, "runner") == 0);
        }
        json_decref(o);
    }
}

/*  A task finished from its stored result: what the attempt used, as the
 *  result recorded it (its USAGE may have died with the old coordinator). */
static void
s_result_spend(coord_store_t *self, coord_task_t *t, const char *json)
{
    json_t *doc = json ? json_loads(json, 0, NULL) : NULL;
    sw_usage_t u;
    if (doc && sw_usage_from_result(doc, &u) == 0) {
        static const sw_prices_t none = { 0 };
        const char *source;
        int64_t micro = coord_budget_price(self->prices ? self->prices : &none, &u, &source);
        coord_sched_usage_result(self->sched, t, t->spec.attempt, &u, micro);
    }
    json_decref(doc);
}

/*  One task from its hash (or its read error). */
static coord_task_t *
s_restore_task(coord_store_t *self, coord_sched_t *sched, const char *job, const char *id,
               const s_hash_t *h, int64_t adopt_by_ms, zlistx_t *done)
{
    int64_t wall = sw_wall_ms();
    sw_task_t t;
    const char *spec = s_field(h, "spec"), *status = s_field(h, "status");
    if (h->error) {
        char *key = sw_key_task(job, id);
        char *why = xasprintf("its state in Redis cannot be read: %s (key %s)", h->error, key);
        log_warnx("task %s/%s: %s", job, id, why);
        coord_task_t *ct = NULL;
        if (s_spec_unreadable(job, id, &t) == 0) {
            coord_restore_t r = { .state = SW_TS_FAILED, .submitted_ms = wall,
                                  .finished_ms = wall, .exit_code = -1, .reason = why };
            ct = coord_sched_restore(sched, &t, &r);
            if (ct)
                ct->refused = true;     /*  its key takes no write either */
        }
        free(key);
        free(why);
        return ct;
    }
    if (!spec || !status || s_spec_from_json(spec, &t) < 0)
        return NULL;
    t.attempt = s_field_ms(h, "attempt", 0);
    int st = sw_tstate_parse(status);
    char rstatus[32];
    int rcode = -1;
    bool from_result = st == SW_TS_RUNNING
                    && s_result_final(s_field(h, "result"), t.attempt, rstatus,
                                      sizeof rstatus, &rcode);
    if (from_result)        /*  its DONE died with the old coordinator */
        st = sw_tstate_parse(rstatus);
    const char *cancel = s_field(h, "cancel"), *reason = s_field(h, "reason");
    if (from_result && cancel && *cancel && st != SW_TS_SUCCEEDED) {
        st = SW_TS_CANCELLED;       /*  a cancel asked before the crash wins */
        reason = cancel;
    }
    coord_restore_t r = { .state = st < 0 ? SW_TS_WAITING : (sw_tstate_t) st,
                          .agent_id = s_field(h, "agent"), .host = s_field(h, "host"),
                          .submitted_ms = s_field_ms(h, "submitted", wall),
                          .started_ms = s_field_ms(h, "started", 0),
                          .finished_ms = from_result ? wall : s_field_ms(h, "finished", 0),
                          .exit_code = from_result ? rcode : (int) s_field_ms(h, "exit_code", -1),
                          .reason = reason, .cancel = cancel, .adopt_by_ms = adopt_by_ms };
    coord_task_t *ct = coord_sched_restore(sched, &t, &r);
    if (ct)
        s_restore_spend(ct, h);
    if (ct && from_result)
        s_result_spend(self, ct, s_field(h, "result"));
    if (ct && from_result) {
        coord_store_task(self, ct);
        zlistx_add_end(done, ct);
    }
    return ct;
}

/*  A submit in batches that a crash cut short: its tasks (from `from` on
 *  in the job's list) go, so that none of it runs. 0, or -1 when Redis
 *  went out. */
static int
s_drop_partial(coord_store_t *self, const char *job, long from)
{
    sw_err_t err = { 0 };
    char at[32];
    snprintf(at, sizeof at, "%ld", from);
    char *list = sw_key_job_tasks(job);
    redisReply *ids = s_read(self, &err, "LRANGE", list, at, "-1");
    if (!ids) {
        free(list);
        return err.code == SW_EUNREACH ? -1 : 0;
    }
    for (size_t i = 0; i < ids->elements; i++) {
        char *key = sw_key_task(job, ids->element[i]->str);
        const char *argv[] = { "DEL", key };
        sw_redis_append(self->redis, 2, argv, NULL);
        free(key);
    }
    char last[32];
    snprintf(last, sizeof last, "%ld", from - 1);
    const char *trim[] = { "LTRIM", list, "0", last };
    const char *del[] = { "DEL", list };
    if (from > 0)
        sw_redis_append(self->redis, 4, trim, NULL);
    else
        sw_redis_append(self->redis, 2, del, NULL);     /*  LTRIM 0 -1 would keep it all */
    char *jkey = sw_key_job(job);
    const char *hdel[] = { "HDEL", jkey, "txn_from" };
    sw_redis_append(self->redis, 3, hdel, NULL);
    int rc = sw_redis_flush(self->redis, &err);
    if (rc < 0 && err.code == SW_EUNREACH)
        coord_store_outage(self, err.msg);
    else
        log_warnx("job %s: a submit of %zu task(s) in batches was cut short by a stop of the "
                  "coordinator; none of it runs (removed)", job, ids->elements);
    free(jkey);
    free(list);
    freeReplyObject(ids);
    return rc < 0 && err.code == SW_EUNREACH ? -1 : 0;
}

/*  Loads one job and its tasks; returns how many tasks, or -1 when Redis
 *  went out. A job Redis refuses to read is logged and passed over (0).
 *  With skip_complete, a job marked complete is left in Redis (0). */
static int
s_load_job(coord_store_t *self, coord_sched_t *sched, const char *job, int64_t adopt_by_ms,
           zlistx_t *done, bool skip_complete)
{
    sw_err_t err = { 0 };
    char *key = sw_key_job(job);
    redisReply *jh = s_read(self, &err, "HGETALL", key, NULL, NULL);
    if (!jh) {
        log_warnx("cannot load job %s: %s", job, err.msg);
        free(key);
        return err.code == SW_EUNREACH ? -1 : 0;
    }
    free(key);
    if (jh->elements == 0 || (skip_complete && s_rfield(jh, "complete"))) {
        freeReplyObject(jh);
        return 0;
    }
    const char *txn = s_rfield(jh, "txn_from");
    if (txn && s_drop_partial(self, job, atol(txn)) < 0) {
        freeReplyObject(jh);
        return -1;
    }
    key = sw_key_job_tasks(job);
    redisReply *ids = s_read(self, &err, "LRANGE", key, "0", "-1");
    free(key);
    if (!ids) {
        freeReplyObject(jh);
        log_warnx("cannot load job %s: %s", job, err.msg);
        return err.code == SW_EUNREACH ? -1 : 0;
    }
    const char *created = s_rfield(jh, "created"), *ns = s_rfield(jh, "namespace");
    coord_job_t *cj = coord_sched_job_ensure(sched, job, created ? atoll(created) : sw_wall_ms());
    if (ns && *ns) {
        free(cj->ns);
        cj->ns = xstrdup(ns);
    }
    const char *v;
    if ((v = s_rfield(jh, "max_agents")))
        cj->max_agents = atoi(v);
    if ((v = s_rfield(jh, "on_failure")))
        cj->halt = strcmp(v, "stop") == 0;
    if ((v = s_rfield(jh, "max_cost_usd")) && *v) {
        double d = strtod(v, NULL);
        if (isfinite(d) && d > 0 && d <= COORD_BUDGET_MAX_USD)
            cj->budget.max_micro_usd = llround(d * 1e6);
    }
    if ((v = s_rfield(jh, "max_tokens")) && *v)
        cj->budget.max_tokens = atoll(v) > 0 ? atoll(v) : 0;
    if ((v = s_rfield(jh, "on_budget")))
        cj->budget.finish = strcmp(v, "finish") == 0;
    if ((v = s_rfield(jh, "topology")) && *v)
        cj->topology = xstrdup(v);
    if ((v = s_rfield(jh, "strategy")) && *v)
        cj->strategy = xstrdup(v);
    if ((v = s_rfield(jh, "workspace")) && *v) {
        json_t *o = json_loads(v, 0, NULL);
        sw_err_t werr = { 0 };
        sw_task_ws_release(&cj->ws);
        if (sw_task_ws_from_json(o, &cj->ws, &werr) < 0)
            log_warnx("job %s: stored workspace ignored: %s", job, werr.msg);
        json_decref(o);
    }
    freeReplyObject(jh);
    int loaded = 0, rc = 0;
    s_hash_t *page = xcalloc(S_PAGE, sizeof *page);
    for (size_t from = 0; from < ids->elements && rc == 0; from += S_PAGE) {
        size_t n = ids->elements - from < S_PAGE ? ids->elements - from : S_PAGE;
        if (coord_store_sync(self) < 0) {
            rc = -1;
            break;
        }
        for (size_t i = 0; i < n; i++) {
            key = sw_key_task(job, ids->element[from + i]->str);
            const char *argv[] = { "HGETALL", key };
            sw_redis_append(self->redis, 2, argv, NULL);
            free(key);
        }
        if (sw_redis_flush_each(self->redis, s_keep_reply, page, &err) < 0
            && err.code == SW_EUNREACH) {
            coord_store_outage(self, err.msg);
            log_warnx("cannot load the tasks of %s: %s", job, err.msg);
            rc = -1;
        }
        for (size_t i = 0; i < n; i++) {
            if (rc == 0)
                loaded += s_restore_task(self, sched, job, ids->element[from + i]->str,
                                         &page[i], adopt_by_ms, done) != NULL;
            s_hash_release(&page[i]);
        }
    }
    free(page);
    freeReplyObject(ids);
    if (rc == 0)
        coord_sched_budget_check(sched, cj);   /*  its spend, as the tasks stored it */
    return rc < 0 ? -1 : loaded;
}

int
coord_store_load(coord_store_t *self, coord_sched_t *sched, int64_t adopt_by_ms,
                 zlistx_t *done)
{
    sw_err_t err = { 0 };
    redisReply *jobs = s_read(self, &err, "ZRANGE", SW_KEY_JOBS, "0", "-1");
    if (!jobs) {
        log_warnx("cannot load jobs: %s", err.msg);
        return err.code == SW_EUNREACH ? -1 : 0;
    }
    int loaded = 0;
    for (size_t j = 0; j < jobs->elements; j++) {
        int n = s_load_job(self, sched, jobs->element[j]->str, adopt_by_ms, done, true);
        if (n < 0) {
            loaded = -1;
            break;
        }
        if (n > 0)      /*  its record may be older than its tasks */
            coord_records_touch(self->records, jobs->element[j]->str);
        loaded += n;
    }
    freeReplyObject(jobs);
    coord_sched_restore_finish(sched, NULL, sw_wall_ms());
    return loaded;
}

coord_job_t *
coord_store_load_job(coord_store_t *self, coord_sched_t *sched, const char *job)
{
    if (self->failing || !sw_id_valid(job))
        return NULL;
    zlistx_t *done = zlistx_new();
    int n = s_load_job(self, sched, job, 0, done, false);
    zlistx_destroy(&done);
    coord_job_t *j = n > 0 ? coord_sched_job(sched, job) : NULL;
    if (j)
        coord_sched_restore_finish(sched, j, sw_wall_ms());
    return j;
}

/*  --- results of unclaimed tasks ---------------------------------------------------- */

typedef struct {
    char **json;                /*  per task: the result field, or NULL */
    char **error;               /*  per task: a refused read */
} s_results_t;

static void
s_keep_result(void *arg, int i, redisReply *r)
{
    s_results_t *rs = arg;
    if (r->type == REDIS_REPLY_STRING)
        rs->json[i] = xstrndup(r->str, r->len);
    else if (r->type == REDIS_REPLY_ERROR && sw_redis_reply_class(r) == SW_REPLY_REFUSED)
        rs->error[i] = xstrdup(r->str);
    else if (r->type == REDIS_REPLY_ERROR)
        rs->error[i] = NULL;        /*  transient: the flush says outage */
}

void
coord_store_results(coord_store_t *self, zlistx_t *tasks, coord_result_fn *fn, void *arg)
{
    size_t n = zlistx_size(tasks);
    s_results_t rs = { xcalloc(n + 1, sizeof *rs.json), xcalloc(n + 1, sizeof *rs.error) };
    bool out = coord_store_sync(self) < 0;
    sw_err_t err = { 0 };
    if (!out) {
        for (coord_task_t *t = zlistx_first(tasks); t; t = zlistx_next(tasks)) {
            char *key = sw_key_task(t->job->id, t->spec.id);
            const char *argv[] = { "HGET", key, "result" };
            sw_redis_append(self->redis, 3, argv, NULL);
            free(key);
        }
        /*  One round trip for all of them: a stopped Redis costs one
         *  command timeout here, not one per task. */
        if (sw_redis_flush_each(self->redis, s_keep_result, &rs, &err) < 0
            && err.code == SW_EUNREACH) {
            coord_store_outage(self, err.msg);
            out = true;
        }
    }
    size_t i = 0;
    for (coord_task_t *t = zlistx_first(tasks); t; t = zlistx_next(tasks), i++) {
        char status[32];
        int code = -1;
        if (out)
            fn(arg, t, COORD_RESULT_UNKNOWN, NULL, -1);
        else if (rs.error[i]) {
            /*  Refused for good (a key of another type): no result can
             *  be read there, so none will be; it runs again. */
            log_warnx("the result of %s/%s cannot be read: %s", t->job->id, t->spec.id,
                      rs.error[i]);
            fn(arg, t, COORD_RESULT_NONE, NULL, -1);
        }
        else if (s_result_final(rs.json[i], t->spec.attempt, status, sizeof status, &code)) {
            s_result_spend(self, t, rs.json[i]);
            fn(arg, t, COORD_RESULT_FINAL, status, code);
        }
        else
            fn(arg, t, COORD_RESULT_NONE, NULL, -1);
        free(rs.json[i]);
        free(rs.error[i]);
    }
    free(rs.json);
    free(rs.error);
}
