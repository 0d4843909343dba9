/*  coord_store -- see coord_store.h */
#include "coord_store.h"

#include <jansson.h>
#include <string.h>

#include "sw_events.h"
#include "coord_record.h"
#include "sw_keys.h"
#include "sw_memory.h"

struct coord_store_t {
    sw_redis_t    *redis;
    coord_sched_t *sched;       /*  rewritten whole after an outage */
    bool           failing;     /*  Redis is out: writes are dropped */
    int64_t        retry_ms;    /*  monotonic: when to try Redis again */
    int64_t        backoff_ms;  /*  1 -> 4 s */
    coord_records_t *records;   /*  jobs whose coordination record is due */
    int64_t        record_ttl_s;
    bool           record_warned;
};

coord_store_t *
coord_store_new(sw_redis_t *redis, coord_sched_t *sched)
{
    coord_store_t *self = xcalloc(1, sizeof *self);
    self->redis = redis;
    self->sched = sched;
    self->records = coord_records_new();
    self->record_ttl_s = COORD_RECORD_TTL_S;
    return self;
}

void
coord_store_destroy(coord_store_t **self_p)
{
    if (*self_p) {
        coord_records_destroy(&(*self_p)->records);
        free(*self_p);
        *self_p = NULL;
    }
}

void
coord_store_set_record_ttl(coord_store_t *self, int64_t ttl_s)
{
    self->record_ttl_s = ttl_s;
}

static void
s_append(coord_store_t *self, const char **argv, int argc)
{
    /*  During an outage every write would first try to reconnect, and a
     *  stopped server would hold the loop for a timeout each time. The
     *  whole state is written again when Redis is back. */
    if (!self->failing)
        sw_redis_append(self->redis, argc, argv, NULL);
}

void
coord_store_job(coord_store_t *self, const coord_job_t *j)
{
    char created[32], max_agents[32];
    char *key = sw_key_job(j->id);
    snprintf(created, sizeof created, "%lld", (long long) j->created_ms);
    snprintf(max_agents, sizeof max_agents, "%d", j->max_agents);
    const char *hset[] = { "HSET", key, "created", created, "namespace", j->ns,
                           "max_agents", max_agents,
                           "topology", j->topology ? j->topology : "",
                           "strategy", j->strategy ? j->strategy : "",
                           "on_failure", j->halt ? "stop" : "continue" };
    s_append(self, hset, 14);
    free(key);
    const char *zadd[] = { "ZADD", SW_KEY_JOBS, created, j->id };
    s_append(self, zadd, 4);
    coord_records_touch(self->records, j->id);
}

static json_t *
s_kv_json(const sw_kv_t *kv)
{
    json_t *o = json_object();
    for (size_t i = 0; i < kv->n; i++)
        json_object_set_new(o, kv->k[i], json_string(kv->v[i]));
    return o;
}

static json_t *
s_strv_json(const sw_strv_t *sv)
{
    json_t *a = json_array();
    for (size_t i = 0; i < sv->n; i++)
        json_array_append_new(a, json_string(sv->v[i]));
    return a;
}

/*  The spec as JSON, for `swarm status`, debugging, and recovery. */
static char *
s_spec_json(const sw_task_t *t)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s}",
                          "id", t->id, "job", t->job, "type", t->type, "runner", t->runner,
                          "timeout_s", (json_int_t) t->timeout_s,
                          "idle_timeout_s", (json_int_t) t->idle_timeout_s,
                          "max_attempts", (json_int_t) t->max_attempts, "ns", t->ns);
    if (t->prompt)
        json_object_set_new(o, "prompt", json_string(t->prompt));
    if (t->dir)
        json_object_set_new(o, "dir", json_string(t->dir));
    if (t->output_schema)
        json_object_set_new(o, "output_schema", json_string(t->output_schema));
    if (t->max_turns)
        json_object_set_new(o, "max_turns", json_integer((json_int_t) t->max_turns));
    if (t->max_budget_cents)
        json_object_set_new(o, "max_budget_cents", json_integer((json_int_t) t->max_budget_cents));
    json_object_set_new(o, "argv", s_strv_json(&t->argv));
    json_object_set_new(o, "after", s_strv_json(&t->after));
    json_object_set_new(o, "labels", s_kv_json(&t->labels));
    json_object_set_new(o, "env", s_kv_json(&t->env));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

void
coord_store_task(coord_store_t *self, coord_task_t *t)
{
    char attempt[32], exit_code[32], sub[32], start[32], fin[32];
    char *key = sw_key_task(t->job->id, t->spec.id);
    snprintf(attempt, sizeof attempt, "%lld", (long long) t->spec.attempt);
    snprintf(exit_code, sizeof exit_code, "%d", t->exit_code);
    snprintf(sub, sizeof sub, "%lld", (long long) t->submitted_ms);
    snprintf(start, sizeof start, "%lld", (long long) t->started_ms);
    snprintf(fin, sizeof fin, "%lld", (long long) t->finished_ms);
    if (t->is_new) {
        char *spec = s_spec_json(&t->spec);
        const char *hset[] = { "HSET", key, "spec", spec, "type", t->spec.type,
                               "runner", t->spec.runner, "submitted", sub };
        s_append(self, hset, 10);
        free(spec);
        char *list = sw_key_job_tasks(t->job->id);
        const char *rpush[] = { "RPUSH", list, t->spec.id };
        s_append(self, rpush, 3);
        free(list);
        t->is_new = false;
    }
    const char *hset[] = { "HSET", key, "status", sw_tstate_name(t->state), "attempt", attempt,
                           "agent", t->agent_id ? t->agent_id : "",
                           "host", t->host ? t->host : "", "started", start,
                           "finished", fin, "exit_code", exit_code,
                           "reason", t->reason ? t->reason : "" };
    s_append(self, hset, 18);
    free(key);
    coord_records_touch(self->records, t->job->id);
}

bool
coord_store_event(coord_store_t *self, const char *job, int nf, const char *const *fv)
{
    if (self->failing)
        return false;
    char maxlen[24];
    snprintf(maxlen, sizeof maxlen, "%d", SW_EVENTS_MAXLEN);
    char *key = sw_key_job_events(job);
    const char *argv[6 + 2 * 16] = { "XADD", key, "MAXLEN", "~", maxlen, "*" };
    int argc = 6;
    for (int i = 0; i < nf && i < 16; i++) {
        argv[argc++] = fv[2 * i];
        argv[argc++] = fv[2 * i + 1];
    }
    s_append(self, argv, argc);
    free(key);
    return true;
}

void
coord_store_current(coord_store_t *self, const char *job)
{
    const char *set[] = { "SET", SW_KEY_CURRENT_JOB, job };
    s_append(self, set, 3);
}

char *
coord_store_load_current(coord_store_t *self)
{
    sw_err_t err = { 0 };
    redisReply *r = sw_redis_cmdv(self->redis, &err, "GET", SW_KEY_CURRENT_JOB, NULL);
    char *job = NULL;
    if (r && r->type == REDIS_REPLY_STRING)
        job = xstrdup(r->str);
    if (r)
        freeReplyObject(r);
    return job;
}

/*  --- loading after a restart ------------------------------------------------- */

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
    json_decref(o);
    sw_err_t err = { 0 };
    if (sw_task_validate(t, &err) < 0) {
        log_warnx("stored task %s/%s is not valid: %s", t->job ? t->job : "?",
                  t->id ? t->id : "?", err.msg);
        sw_task_release(t);
        return -1;
    }
    return 0;
}

typedef struct {
    redisReply **v;
} s_replies_t;

static void
s_keep_reply(void *arg, int i, redisReply *r)
{
    /*  flush frees each reply after the callback: keep a deep copy of the
     *  fields we need as a string array */
    s_replies_t *rs = arg;
    redisReply *c = xcalloc(1, sizeof *c);
    c->type = REDIS_REPLY_ARRAY;
    if (r->type == REDIS_REPLY_ARRAY) {
        c->elements = r->elements;
        c->element = xcalloc(r->elements + 1, sizeof *c->element);
        for (size_t k = 0; k < r->elements; k++) {
            c->element[k] = xcalloc(1, sizeof **c->element);
            c->element[k]->type = REDIS_REPLY_STRING;
            c->element[k]->str = xstrndup(r->element[k]->str ? r->element[k]->str : "",
                                          r->element[k]->len);
            c->element[k]->len = r->element[k]->len;
        }
    }
    rs->v[i] = c;
}

static void
s_free_copy(redisReply *c)
{
    for (size_t k = 0; c && k < c->elements; k++) {
        free(c->element[k]->str);
        free(c->element[k]);
    }
    if (c)
        free(c->element);
    free(c);
}

static const char *
s_field(const redisReply *h, const char *name)
{
    for (size_t k = 0; h && k + 1 < h->elements; k += 2)
        if (strcmp(h->element[k]->str, name) == 0)
            return h->element[k + 1]->str;
    return NULL;
}

static int64_t
s_field_ms(const redisReply *h, const char *name, int64_t dflt)
{
    const char *v = s_field(h, name);
    return v && *v ? atoll(v) : dflt;
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

/*  Loads one job and its tasks; returns how many tasks, or -1. With
 *  skip_complete, a job marked complete is left in Redis (0). */
static int
s_load_job(coord_store_t *self, coord_sched_t *sched, const char *job, int64_t adopt_by_ms,
           zlistx_t *done, bool skip_complete)
{
    sw_err_t err = { 0 };
    int64_t wall = sw_wall_ms();
    char *key = sw_key_job(job);
    redisReply *jh = sw_redis_cmdv(self->redis, &err, "HGETALL", key, NULL);
    free(key);
    if (!jh) {
        log_warnx("cannot load job %s: %s", job, err.msg);
        return -1;
    }
    if (jh->elements == 0 || (skip_complete && s_field(jh, "complete"))) {
        freeReplyObject(jh);
        return 0;
    }
    key = sw_key_job_tasks(job);
    redisReply *ids = sw_redis_cmdv(self->redis, &err, "LRANGE", key, "0", "-1", NULL);
    free(key);
    if (!ids) {
        freeReplyObject(jh);
        log_warnx("cannot load job %s: %s", job, err.msg);
        return -1;
    }
    const char *created = s_field(jh, "created"), *ns = s_field(jh, "namespace");
    coord_job_t *cj = coord_sched_job_ensure(sched, job, created ? atoll(created) : wall);
    if (ns && *ns) {
        free(cj->ns);
        cj->ns = xstrdup(ns);
    }
    const char *v;
    if ((v = s_field(jh, "max_agents")))
        cj->max_agents = atoi(v);
    if ((v = s_field(jh, "on_failure")))
        cj->halt = strcmp(v, "stop") == 0;
    if ((v = s_field(jh, "topology")) && *v)
        cj->topology = xstrdup(v);
    if ((v = s_field(jh, "strategy")) && *v)
        cj->strategy = xstrdup(v);
    freeReplyObject(jh);
    s_replies_t rs = { xcalloc(ids->elements + 1, sizeof *rs.v) };
    for (size_t i = 0; i < ids->elements; i++) {
        key = sw_key_task(job, ids->element[i]->str);
        const char *argv[] = { "HGETALL", key };
        sw_redis_append(self->redis, 2, argv, NULL);
        free(key);
    }
    if (sw_redis_flush_each(self->redis, s_keep_reply, &rs, &err) < 0)
        log_warnx("cannot load the tasks of %s: %s", job, err.msg);
    int loaded = 0;
    for (size_t i = 0; i < ids->elements; i++) {
        redisReply *h = rs.v[i];
        const char *spec = s_field(h, "spec"), *status = s_field(h, "status");
        sw_task_t t;
        if (!spec || !status || s_spec_from_json(spec, &t) < 0) {
            s_free_copy(h);
            continue;
        }
        t.attempt = s_field_ms(h, "attempt", 0);
        int st = sw_tstate_parse(status);
        char rstatus[32];
        int rcode = -1;
        bool from_result = st == SW_TS_RUNNING
                        && s_result_final(s_field(h, "result"), t.attempt, rstatus,
                                          sizeof rstatus, &rcode);
        if (from_result)        /*  its DONE died with the old coordinator */
            st = sw_tstate_parse(rstatus);
        int64_t submitted = s_field_ms(h, "submitted", wall);
        int64_t started = s_field_ms(h, "started", 0);
        int64_t finished = from_result ? wall : s_field_ms(h, "finished", 0);
        int code = from_result ? rcode : (int) s_field_ms(h, "exit_code", -1);
        coord_task_t *ct = coord_sched_restore(
            sched, &t, st < 0 ? SW_TS_WAITING : (sw_tstate_t) st, s_field(h, "agent"),
            s_field(h, "host"), submitted, started, finished, code, s_field(h, "reason"),
            adopt_by_ms);
        if (ct && from_result) {
            coord_store_task(self, ct);
            zlistx_add_end(done, ct);
        }
        loaded += ct != NULL;
        s_free_copy(h);
    }
    free(rs.v);
    freeReplyObject(ids);
    return loaded;
}

int
coord_store_load(coord_store_t *self, coord_sched_t *sched, int64_t adopt_by_ms,
                 zlistx_t *done)
{
    sw_err_t err = { 0 };
    redisReply *jobs = sw_redis_cmdv(self->redis, &err, "ZRANGE", SW_KEY_JOBS, "0", "-1", NULL);
    if (!jobs) {
        log_warnx("cannot load jobs: %s", err.msg);
        return -1;
    }
    int loaded = 0;
    for (size_t j = 0; j < jobs->elements; j++) {
        int n = s_load_job(self, sched, jobs->element[j]->str, adopt_by_ms, done, true);
        if (n < 0) {
            freeReplyObject(jobs);
            return -1;
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

void
coord_store_job_complete(coord_store_t *self, const coord_job_t *j, bool complete)
{
    char when[32];
    char *key = sw_key_job(j->id);
    snprintf(when, sizeof when, "%lld", (long long) sw_wall_ms());
    const char *set[] = { "HSET", key, "complete", when };
    const char *del[] = { "HDEL", key, "complete" };
    s_append(self, complete ? set : del, complete ? 4 : 3);
    free(key);
    coord_records_touch(self->records, j->id);
}

int
coord_store_result(coord_store_t *self, const coord_task_t *t, char *status, size_t n,
                   int *exit_code)
{
    char *key = sw_key_task(t->job->id, t->spec.id);
    sw_err_t err = { 0 };
    redisReply *r = sw_redis_cmdv(self->redis, &err, "HGET", key, "result", NULL);
    free(key);
    bool ok = r && r->type == REDIS_REPLY_STRING
           && s_result_final(r->str, t->spec.attempt, status, n, exit_code);
    if (r)
        freeReplyObject(r);
    return ok ? 0 : -1;
}

/*  After an outage: every job and every task again, the task lists
 *  rebuilt in submit order (writes of the outage were dropped). */
static int
s_resync(coord_store_t *self)
{
    zlistx_t *jobs = coord_sched_job_list(self->sched);
    int n = 0;
    for (coord_job_t *j = zlistx_first(jobs); j; j = zlistx_next(jobs)) {
        coord_store_job(self, j);
        char *list = sw_key_job_tasks(j->id);
        const char *del[] = { "DEL", list };
        s_append(self, del, 2);
        free(list);
        for (coord_task_t *t = zlistx_first(j->order); t; t = zlistx_next(j->order)) {
            t->is_new = true;
            coord_store_task(self, t);
            n++;
        }
    }
    zlistx_destroy(&jobs);
    return n;
}

/*  Sends the pipeline; an error starts (or continues) an outage. */
static int
s_flush(coord_store_t *self, bool outage)
{
    sw_err_t err = { 0 };
    if (sw_redis_flush(self->redis, &err) < 0) {
        if (!outage)
            log_warnx("cannot write job state: %s; holding new tasks until Redis is back",
                      err.msg);
        self->failing = true;
        self->backoff_ms = self->backoff_ms ? self->backoff_ms * 2 : 1000;
        if (self->backoff_ms > 4000)
            self->backoff_ms = 4000;
        self->retry_ms = sw_now_ms() + self->backoff_ms;
        return -1;
    }
    return 0;
}

/*  One job's coordination record (coord_record.h), on the pipeline. */
static void
s_write_record(void *arg, coord_job_t *j, bool final)
{
    coord_store_t *self = arg;
    char *json = coord_record_json(j, sw_wall_ms());
    sw_mem_store_opts_t o = { .tags = COORD_RECORD_NS,
                              .ttl_ms = final ? self->record_ttl_s * 1000 : 0 };
    sw_err_t err = { 0 };
    if (sw_memory_store_append(self->redis, COORD_RECORD_NS, j->id, json, strlen(json), &o,
                               &err) < 0 && !self->record_warned) {
        log_warnx("cannot write the coordination record of job %s: %s", j->id, err.msg);
        self->record_warned = true;
    }
    free(json);
}

int
coord_store_flush(coord_store_t *self)
{
    bool outage = self->failing;
    int rewritten = 0;
    if (outage) {
        if (sw_now_ms() < self->retry_ms)
            return -1;
        self->failing = false;
        rewritten = s_resync(self);
    }
    if (s_flush(self, outage) < 0)
        return -1;
    /*  The coordination records that are due, after the state they show
     *  (and on an empty pipeline: the first one loads the memory's script
     *  with a command of its own). Before any reply of this turn: a `swarm
     *  wait` that returned reads the final counts. */
    if (coord_records_pending(self->records)
        && coord_records_due(self->records, self->sched, sw_now_ms(), s_write_record, self) > 0
        && s_flush(self, outage) < 0)
        return -1;
    if (outage)
        log_info("Redis at %s is back: job state written again (%d tasks)",
                 sw_redis_addr(self->redis), rewritten);
    self->backoff_ms = 0;
    return 0;
}

bool
coord_store_ok(const coord_store_t *self)
{
    return !self->failing;
}

zhashx_t *
coord_store_load_revoked(coord_store_t *self)
{
    zhashx_t *keys = zhashx_new();
    sw_err_t err = { 0 };
    redisReply *r = sw_redis_cmdv(self->redis, &err, "SMEMBERS", SW_KEY_REVOKED, NULL);
    for (size_t i = 0; r && i < r->elements; i++)
        if (r->element[i]->type == REDIS_REPLY_STRING)
            zhashx_update(keys, r->element[i]->str, (void *) 1);
    if (r)
        freeReplyObject(r);
    return keys;
}

void
coord_store_revoke(coord_store_t *self, const char *key)
{
    const char *argv[] = { "SADD", SW_KEY_REVOKED, key };
    s_append(self, argv, 3);
}
