/*  coord_store -- see coord_store.h; this file: the writes. */
#include "coord_store_int.h"

#include <jansson.h>
#include <stdint.h>
#include <string.h>

#include "sw_events.h"
#include "sw_keys.h"
#include "sw_memory.h"

/*  A pipeline is sent once it holds this many commands, even within a
 *  turn: submitting 100,000 tasks must not hold them all in one buffer. */
#define S_CHUNK 4096

static void
s_refusal_destroy(coord_refusal_t **self_p)
{
    coord_refusal_t *r = *self_p;
    if (!r)
        return;
    free(r->key);
    free(r->error);
    free(r);
    *self_p = NULL;
}

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
coord_store_set_prices(coord_store_t *self, const sw_prices_t *prices)
{
    self->prices = prices;
}

void
coord_store_set_record_ttl(coord_store_t *self, int64_t ttl_s)
{
    self->record_ttl_s = ttl_s;
}

static void
s_owners_clear(coord_store_t *self)
{
    for (size_t i = 0; i < self->nowners; i++)
        free(self->owners[i].arg);
    self->nowners = 0;
}

void
coord_store_destroy(coord_store_t **self_p)
{
    coord_store_t *self = *self_p;
    if (!self)
        return;
    s_owners_clear(self);
    free(self->owners);
    zlistx_destroy(&self->refusals);
    coord_records_destroy(&self->records);
    free(self);
    *self_p = NULL;
}

/*  The owner of the command just queued. */
static void
s_own(coord_store_t *self, s_what_t what, const coord_job_t *j, coord_task_t *t,
      const char *arg)
{
    if (self->nowners == self->owners_cap) {
        self->owners_cap = self->owners_cap ? self->owners_cap * 2 : 256;
        self->owners = xrealloc(self->owners, self->owners_cap * sizeof *self->owners);
    }
    /*  An event is the log's, not the request's that caused it. */
    uint64_t req = what == S_W_EVENTS ? 0 : self->req;
    self->owners[self->nowners++] = (s_owner_t) { .what = what, .job = (coord_job_t *) j,
                                                  .task = t, .req = req,
                                                  .arg = arg ? xstrdup(arg) : NULL };
    if (req)
        self->req_writes++;
}

static void
s_append(coord_store_t *self, const char **argv, int argc, s_what_t what, const coord_job_t *j,
         coord_task_t *t, const char *arg)
{
    /*  During an outage every write would first try to reconnect, and a
     *  stopped server would hold the loop for a timeout each time. The
     *  whole state is written again when Redis is back. */
    if (self->failing)
        return;
    int before = sw_redis_pending(self->redis);
    if ((size_t) before != self->nowners)
        s_owners_clear(self);   /*  a read flushed them (sw_redis_cmd does): unknown now */
    sw_redis_append(self->redis, argc, argv, NULL);
    if (sw_redis_pending(self->redis) == before)
        return;             /*  not queued: the flush reports the outage */
    s_own(self, what, j, t, arg);
    if (self->nowners >= S_CHUNK)
        coord_store_sync(self);
}

void
coord_store_begin(coord_store_t *self, uint64_t req)
{
    self->req = req;
    self->req_writes = 0;
}

int
coord_store_end(coord_store_t *self)
{
    int n = self->req_writes;
    self->req = 0;
    self->req_writes = 0;
    return n;
}

void
coord_store_job(coord_store_t *self, const coord_job_t *j)
{
    char created[32], max_agents[32], max_cost[48], max_tokens[32];
    char *key = sw_key_job(j->id);
    json_t *wsj = j->ws.commit ? sw_task_ws_json(&j->ws) : NULL;
    char *ws = wsj ? json_dumps(wsj, JSON_COMPACT) : xstrdup("");
    json_decref(wsj);
    snprintf(created, sizeof created, "%lld", (long long) j->created_ms);
    snprintf(max_agents, sizeof max_agents, "%d", j->max_agents);
    snprintf(max_cost, sizeof max_cost, "%.6f", (double) j->budget.max_micro_usd / 1e6);
    snprintf(max_tokens, sizeof max_tokens, "%lld", (long long) j->budget.max_tokens);
    const char *hset[] = { "HSET", key, "created", created, "namespace", j->ns,
                           "max_agents", max_agents,
                           "topology", j->topology ? j->topology : "",
                           "strategy", j->strategy ? j->strategy : "",
                           "on_failure", j->halt ? "stop" : "continue",
                           "workspace", ws,
                           "max_cost_usd", max_cost, "max_tokens", max_tokens,
                           "on_budget", j->budget.finish ? "finish" : "stop" };
    s_append(self, hset, 22, S_W_JOB, j, NULL, NULL);
    free(key);
    free(ws);
    const char *zadd[] = { "ZADD", SW_KEY_JOBS, created, j->id };
    s_append(self, zadd, 4, S_W_JOBS, j, NULL, NULL);
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
    if (t->ws.commit)
        json_object_set_new(o, "workspace", sw_task_ws_json(&t->ws));
    if (t->outputs.n)
        json_object_set_new(o, "outputs", s_strv_json(&t->outputs));
    if (t->resources.n)
        json_object_set_new(o, "resources", s_strv_json(&t->resources));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

void
coord_store_task(coord_store_t *self, coord_task_t *t)
{
    char attempt[24], exit_code[16], sub[24], start[24], fin[24], throttled[16];
    char *key = sw_key_task(t->job->id, t->spec.id);
    snprintf(attempt, sizeof attempt, "%lld", (long long) t->spec.attempt);
    snprintf(exit_code, sizeof exit_code, "%d", t->exit_code);
    snprintf(start, sizeof start, "%lld", (long long) t->started_ms);
    snprintf(fin, sizeof fin, "%lld", (long long) t->finished_ms);
    snprintf(throttled, sizeof throttled, "%d", t->throttled);
    /*  One HSET with every field this change writes (issue 20): the spec
     *  of a new task, its state, and what its attempt used so far. */
    const char *argv[2 + 2 * 15] = { "HSET", key };
    int argc = 2;
#define S_FIELD(f, v) do { argv[argc++] = (f); argv[argc++] = (v); } while (0)
    char *spec = NULL, *field = NULL, *usage = NULL;
    bool is_new = t->is_new;
    if (is_new) {
        sw_task_t whole;
        coord_task_spec(t, &whole);     /*  borrowed: not released */
        spec = s_spec_json(&whole);
        snprintf(sub, sizeof sub, "%lld", (long long) t->submitted_ms);
        S_FIELD("spec", spec);
        S_FIELD("type", t->spec.type);
        S_FIELD("runner", t->spec.runner);
        S_FIELD("submitted", sub);
        t->is_new = false;
    }
    S_FIELD("status", sw_tstate_name(t->state));
    S_FIELD("attempt", attempt);
    S_FIELD("agent", t->agent_id ? t->agent_id : "");
    S_FIELD("host", t->host ? t->host : "");
    S_FIELD("started", start);
    S_FIELD("finished", fin);
    S_FIELD("exit_code", exit_code);
    S_FIELD("reason", t->reason ? t->reason : "");
    S_FIELD("cancel", t->cancel_requested && t->cancel_reason ? t->cancel_reason : "");
    S_FIELD("throttled", throttled);
    if (t->spend && t->spend->attempt > 0) {
        /*  what the attempt used so far (coord_budget.c): the latest report
         *  replaces the last, so a restart counts it once */
        json_t *u = sw_usage_to_json(&t->spend->cur);
        if (t->spend->cur_micro >= 0)
            json_object_set_new(u, "cost_source",
                                json_string(t->spend->runner_cost ? "runner" : "price"));
        field = sw_field_usage(t->spend->attempt);
        usage = json_dumps(u, JSON_COMPACT);
        json_decref(u);
        S_FIELD(field, usage);
    }
#undef S_FIELD
    s_append(self, argv, argc, S_W_TASK, t->job, t, NULL);
    if (is_new) {
        /*  after the hash: a restart reads the list, then each task */
        char *list = sw_key_job_tasks(t->job->id);
        const char *rpush[] = { "RPUSH", list, t->spec.id };
        s_append(self, rpush, 3, S_W_TASKS, t->job, t, NULL);
        free(list);
    }
    free(spec);
    free(field);
    free(usage);
    free(key);
    coord_records_touch(self->records, t->job->id);
}

bool
coord_store_event(coord_store_t *self, const char *job, int nf, const char *const *fv)
{
    if (self->failing)
        return false;
    static char maxlen[24];
    if (!*maxlen)
        snprintf(maxlen, sizeof maxlen, "%d", SW_EVENTS_MAXLEN);
    char *key = sw_key_job_events(job);
    const char *argv[6 + 2 * 16] = { "XADD", key, "MAXLEN", "~", maxlen, "*" };
    int argc = 6;
    for (int i = 0; i < nf && i < 16; i++) {
        argv[argc++] = fv[2 * i];
        argv[argc++] = fv[2 * i + 1];
    }
    /*  Owned by no task nor request: a refused event (its key is not a
     *  stream, Redis is out of memory) is logged and passed over; it never
     *  fails the task or the request it tells of, nor is it an outage. */
    s_append(self, argv, argc, S_W_EVENTS, NULL, NULL, job);
    free(key);
    return !self->failing;
}

void
coord_store_current(coord_store_t *self, const char *job)
{
    const char *set[] = { "SET", SW_KEY_CURRENT_JOB, job };
    s_append(self, set, 3, S_W_CURRENT, NULL, NULL, job);
}

void
coord_store_job_complete(coord_store_t *self, const coord_job_t *j, bool complete)
{
    char when[32];
    char *key = sw_key_job(j->id);
    snprintf(when, sizeof when, "%lld", (long long) sw_wall_ms());
    const char *set[] = { "HSET", key, "complete", when };
    const char *del[] = { "HDEL", key, "complete" };
    s_append(self, complete ? set : del, complete ? 4 : 3, S_W_JOB, j, NULL, NULL);
    free(key);
    coord_records_touch(self->records, j->id);
}

void
coord_store_job_txn(coord_store_t *self, const coord_job_t *j, long from)
{
    char at[32];
    char *key = sw_key_job(j->id);
    snprintf(at, sizeof at, "%ld", from);
    const char *set[] = { "HSET", key, "txn_from", at };
    const char *del[] = { "HDEL", key, "txn_from" };
    s_append(self, from >= 0 ? set : del, from >= 0 ? 4 : 3, S_W_JOB, j, NULL, NULL);
    free(key);
}

void
coord_store_revoke(coord_store_t *self, const char *key)
{
    const char *argv[] = { "SADD", SW_KEY_REVOKED, key };
    s_append(self, argv, 3, S_W_REVOKED, NULL, NULL, key);
}

/*  --- flushing and refusals ------------------------------------------------------ */

static char *
s_owner_key(const s_owner_t *o)
{
    switch (o->what) {
    case S_W_TASK:    return sw_key_task(o->job->id, o->task->spec.id);
    case S_W_TASKS:   return sw_key_job_tasks(o->job->id);
    case S_W_JOB:     return sw_key_job(o->job->id);
    case S_W_JOBS:    return xstrdup(SW_KEY_JOBS);
    case S_W_CURRENT: return xstrdup(SW_KEY_CURRENT_JOB);
    case S_W_REVOKED: return xstrdup(SW_KEY_REVOKED);
    case S_W_RECORD:  return sw_key_mem(COORD_RECORD_NS, o->job->id);
    case S_W_EVENTS:  return sw_key_job_events(o->arg);
    }
    return xstrdup("?");
}

/*  One reply of a flushed pipeline. */
static void
s_on_reply(void *arg, int i, redisReply *r)
{
    coord_store_t *self = arg;
    if ((size_t) i >= self->nowners || sw_redis_reply_class(r) == SW_REPLY_OK)
        return;
    if (sw_redis_reply_class(r) == SW_REPLY_TRANSIENT)
        return;             /*  flush fails with SW_EUNREACH: an outage */
    const s_owner_t *o = &self->owners[i];
    coord_refusal_t *ref = xcalloc(1, sizeof *ref);
    ref->job = o->job;
    ref->task = o->task;
    ref->req = o->req;
    ref->key = s_owner_key(o);
    ref->error = xstrdup(r->str ? r->str : "error");
    char what[2 * SW_MAX_ID + 16] = "";
    if (o->task)
        snprintf(what, sizeof what, " (task %s/%s)", o->job->id, o->task->spec.id);
    else if (o->job)
        snprintf(what, sizeof what, " (job %s)", o->job->id);
    else if (o->what == S_W_EVENTS)
        snprintf(what, sizeof what, " (an event of job %s, passed over)", o->arg);
    log_warnx("Redis at %s refused the write of %s%s: %s", sw_redis_addr(self->redis),
              ref->key, what, ref->error);
    if (!self->refusals) {
        self->refusals = zlistx_new();
        zlistx_set_destructor(self->refusals, (zlistx_destructor_fn *) s_refusal_destroy);
    }
    zlistx_add_end(self->refusals, ref);
}

void
coord_store_outage(coord_store_t *self, const char *why)
{
    if (!self->logged)
        log_warnx("cannot write job state: %s; holding new tasks until Redis is back", why);
    self->logged = true;
    self->failing = true;
    self->backoff_ms = self->backoff_ms ? self->backoff_ms * 2 : 1000;
    if (self->backoff_ms > 4000)
        self->backoff_ms = 4000;
    self->retry_ms = sw_now_ms() + self->backoff_ms;
}

int
coord_store_sync(coord_store_t *self)
{
    if (self->failing)
        return -1;
    sw_err_t err = { 0 };
    int rc = sw_redis_flush_each(self->redis, s_on_reply, self, &err);
    s_owners_clear(self);
    if (rc < 0 && err.code == SW_EUNREACH) {
        coord_store_outage(self, err.msg);
        return -1;
    }
    return 0;               /*  refusals are in the list, not an outage */
}

/*  After an outage: every job and every task again, the task lists
 *  rebuilt in submit order (writes of the outage were dropped). */
static int
s_resync(coord_store_t *self)
{
    zlistx_t *jobs = coord_sched_job_list(self->sched);
    int n = 0;
    for (coord_job_t *j = zlistx_first(jobs); j && !self->failing; j = zlistx_next(jobs)) {
        coord_store_job(self, j);
        char *list = sw_key_job_tasks(j->id);
        const char *del[] = { "DEL", list };
        s_append(self, del, 2, S_W_TASKS, j, NULL, NULL);
        free(list);
        for (int i = 0; i < j->ntasks && !self->failing; i++) {
            coord_task_t *t = j->order[i];
            t->is_new = true;
            coord_store_task(self, t);
            n++;
        }
    }
    zlistx_destroy(&jobs);
    return n;
}

/*  One job's coordination record (coord_record.h), on the pipeline, with
 *  the memory's store script. */
static void
s_write_record(void *arg, coord_job_t *j, bool final)
{
    coord_store_t *self = arg;
    char *json = coord_record_json(j, sw_wall_ms());
    sw_mem_store_opts_t o = { .tags = COORD_RECORD_NS,
                              .ttl_ms = final ? self->record_ttl_s * 1000 : 0 };
    sw_err_t err = { 0 };
    int before = sw_redis_pending(self->redis);
    if ((size_t) before != self->nowners)
        s_owners_clear(self);
    if (sw_memory_store_append(self->redis, COORD_RECORD_NS, j->id, json, strlen(json), &o,
                               &err) < 0 && !self->record_warned) {
        log_warnx("cannot write the coordination record of job %s: %s", j->id, err.msg);
        self->record_warned = true;
    }
    /*  Loading the script first (a command of its own) flushes what was
     *  queued: then only this one is, and it is ours. */
    int after = sw_redis_pending(self->redis);
    if (after < before)
        s_owners_clear(self);
    if (after > (int) self->nowners)
        s_own(self, S_W_RECORD, j, NULL, NULL);
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
    /*  The coordination records that are due, after the state they show,
     *  before any reply of this turn (a `swarm wait` that returned reads
     *  the final counts). Once the memory's script is loaded on this
     *  connection they go on the same pipeline, after the turn's writes:
     *  Redis runs a pipeline in order, so a record still never shows a
     *  state Redis does not hold, and the turn pays one round trip, not
     *  two (a roundtrip's SUBMIT and DONE each made a record due). The
     *  first record of a connection loads the script with a command of
     *  its own, which would read the pipeline's replies: that one waits
     *  for an empty pipeline, after the flush, as before. */
    bool early = !outage && sw_memory_store_ready(self->redis)
              && (size_t) sw_redis_pending(self->redis) == self->nowners;   /*  every write owned */
    /*  Leaving: a time past every record's interval makes each one due. */
    int64_t now = self->closing ? INT64_MAX / 2 : sw_now_ms();
    if (early && coord_records_pending(self->records))
        coord_records_due(self->records, self->sched, now, s_write_record, self);
    if (coord_store_sync(self) < 0)
        return -1;
    if (!early && coord_records_pending(self->records)
        && coord_records_due(self->records, self->sched, now, s_write_record, self) > 0
        && coord_store_sync(self) < 0)
        return -1;
    if (outage)
        log_info("Redis at %s is back: job state written again (%d tasks)",
                 sw_redis_addr(self->redis), rewritten);
    self->backoff_ms = 0;
    self->logged = false;
    return 0;
}

int
coord_store_flush_last(coord_store_t *self)
{
    self->closing = true;
    int rc = coord_store_flush(self);
    self->closing = false;
    return rc;
}

bool
coord_store_ok(const coord_store_t *self)
{
    return !self->failing;
}

int
coord_store_pending(const coord_store_t *self)
{
    return (int) self->nowners;
}

zlistx_t *
coord_store_refusals(coord_store_t *self)
{
    zlistx_t *list = self->refusals;
    self->refusals = NULL;
    return list;
}
