/*  coord_store -- see coord_store.h */
#include "coord_store.h"

#include <jansson.h>
#include <string.h>

struct coord_store_t {
    sw_redis_t *redis;
    bool        failing;        /*  last flush failed: log once per outage */
};

coord_store_t *
coord_store_new(sw_redis_t *redis)
{
    coord_store_t *self = xcalloc(1, sizeof *self);
    self->redis = redis;
    return self;
}

void
coord_store_destroy(coord_store_t **self_p)
{
    if (*self_p) {
        free(*self_p);
        *self_p = NULL;
    }
}

static void
s_append(coord_store_t *self, const char **argv, int argc)
{
    sw_redis_append(self->redis, argc, argv, NULL);
}

void
coord_store_job(coord_store_t *self, const coord_job_t *j)
{
    char key[256], created[32], max_agents[32];
    snprintf(key, sizeof key, "swarm:job:%s", j->id);
    snprintf(created, sizeof created, "%lld", (long long) j->created_ms);
    snprintf(max_agents, sizeof max_agents, "%d", j->max_agents);
    const char *hset[] = { "HSET", key, "created", created, "namespace", j->ns,
                           "max_agents", max_agents,
                           "topology", j->topology ? j->topology : "",
                           "strategy", j->strategy ? j->strategy : "",
                           "on_failure", j->halt ? "stop" : "continue" };
    s_append(self, hset, 14);
    const char *zadd[] = { "ZADD", "swarm:jobs", created, j->id };
    s_append(self, zadd, 4);
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
    char key[512], attempt[32], exit_code[32], sub[32], start[32], fin[32];
    snprintf(key, sizeof key, "swarm:task:%s:%s", t->job->id, t->spec.id);
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
        char list[256];
        snprintf(list, sizeof list, "swarm:job:%s:tasks", t->job->id);
        const char *rpush[] = { "RPUSH", list, t->spec.id };
        s_append(self, rpush, 3);
        t->is_new = false;
    }
    const char *hset[] = { "HSET", key, "status", sw_tstate_name(t->state), "attempt", attempt,
                           "agent", t->agent_id ? t->agent_id : "",
                           "host", t->host ? t->host : "", "started", start,
                           "finished", fin, "exit_code", exit_code,
                           "reason", t->reason ? t->reason : "" };
    s_append(self, hset, 18);
}

void
coord_store_current(coord_store_t *self, const char *job)
{
    const char *set[] = { "SET", "swarm:current_job", job };
    s_append(self, set, 3);
}

char *
coord_store_load_current(coord_store_t *self)
{
    sw_err_t err = { 0 };
    redisReply *r = sw_redis_cmdv(self->redis, &err, "GET", "swarm:current_job", NULL);
    char *job = NULL;
    if (r && r->type == REDIS_REPLY_STRING)
        job = xstrdup(r->str);
    if (r)
        freeReplyObject(r);
    return job;
}

int
coord_store_flush(coord_store_t *self)
{
    if (sw_redis_pending(self->redis) == 0)
        return 0;
    sw_err_t err = { 0 };
    if (sw_redis_flush(self->redis, &err) < 0) {
        if (!self->failing)
            log_warnx("cannot write job state: %s", err.msg);
        self->failing = true;
        return -1;
    }
    if (self->failing)
        log_info("writing job state to %s again", sw_redis_addr(self->redis));
    self->failing = false;
    return 0;
}
