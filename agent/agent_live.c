/*  agent_live -- see agent_live.h */
#include "agent_live.h"

#include <string.h>

#include "sw_aredis.h"
#include "sw_keys.h"

struct agent_live_t {
    sw_aredis_t *redis;
    char         ttl[24];       /*  seconds, as EXPIRE takes them */
    uint64_t     lines, dropped;    /*  of the logs already ended */
    zlistx_t    *logs;          /*  agent_log_t *, for the counts */
};

struct agent_log_t {
    agent_live_t   *live;
    char           *key;
    agent_output_t *out;
    void           *handle;     /*  in live->logs */
    uint64_t        shipped;    /*  entries queued on the live connection */
};

agent_live_t *
agent_live_new(zloop_t *loop, const char *redis_url, long long ttl_s, sw_err_t *err)
{
    sw_aredis_t *redis = sw_aredis_new(loop, "live output", redis_url, AGENT_LIVE_PENDING, err);
    if (!redis)
        return NULL;
    agent_live_t *self = xcalloc(1, sizeof *self);
    self->redis = redis;
    snprintf(self->ttl, sizeof self->ttl, "%lld", ttl_s > 0 ? ttl_s : (long long) AGENT_LIVE_TTL_S);
    self->logs = zlistx_new();
    return self;
}

void
agent_live_destroy(agent_live_t **self_p)
{
    agent_live_t *self = *self_p;
    if (!self)
        return;
    agent_log_t *l;
    while ((l = zlistx_first(self->logs)))
        agent_log_destroy(&l);
    zlistx_destroy(&self->logs);
    sw_aredis_destroy(&self->redis);
    free(self);
    *self_p = NULL;
}

void
agent_live_tick(agent_live_t *self, int64_t now_ms)
{
    if (self)
        sw_aredis_tick(self->redis, now_ms);
}

sw_aredis_t *
agent_live_redis(agent_live_t *self)
{
    return self ? self->redis : NULL;
}

void
agent_live_counts(const agent_live_t *self, uint64_t *lines, uint64_t *dropped)
{
    *lines = *dropped = 0;
    if (!self)
        return;
    *lines = self->lines;
    *dropped = self->dropped;
    for (agent_log_t *l = zlistx_first(self->logs); l; l = zlistx_next(self->logs)) {
        uint64_t a, b;
        agent_output_counts(l->out, &a, &b);
        *lines += a;
        *dropped += b;
    }
}

agent_log_t *
agent_log_new(agent_live_t *live, const char *job, const char *id, int64_t attempt,
              bool json_events)
{
    if (!live)
        return NULL;
    agent_log_t *self = xcalloc(1, sizeof *self);
    self->live = live;
    self->key = sw_key_task_log(job, id, (long long) attempt);
    agent_output_conf_t conf = agent_output_defaults(json_events);
    self->out = agent_output_new(&conf, sw_now_ms());
    self->handle = zlistx_add_end(live->logs, self);
    return self;
}

void
agent_log_feed(agent_log_t *self, int stream, const char *data, size_t n)
{
    if (self)
        agent_output_feed(self->out, stream, data, n, sw_now_ms(), sw_wall_ms());
}

/*  XADD KEY MAXLEN ~ N * FIELD VALUE ..., then EXPIRE KEY TTL: both or
 *  neither. */
static bool
s_ship(agent_log_t *self, int nf, const char **fields, const char **values,
       const size_t *lens)
{
    const char *argv[32];
    size_t argl[32];
    int argc = 0;
    char maxlen[16];
    snprintf(maxlen, sizeof maxlen, "%d", AGENT_LIVE_MAXLEN);
    const char *head[] = { "XADD", self->key, "MAXLEN", "~", maxlen, "*" };
    size_t bytes = 64 + 2 * strlen(self->key);
    for (size_t i = 0; i < sizeof head / sizeof *head; i++) {
        argv[argc] = head[i];
        argl[argc++] = strlen(head[i]);
    }
    for (int i = 0; i < nf && argc + 2 <= 32; i++) {
        argv[argc] = fields[i];
        argl[argc++] = strlen(fields[i]);
        argv[argc] = values[i];
        argl[argc++] = lens[i];
        bytes += lens[i] + 32;
    }
    sw_aredis_t *r = self->live->redis;
    if (!sw_aredis_room(r, bytes))
        return false;
    sw_aredis_send(r, argc, argv, argl);
    const char *ex[] = { "EXPIRE", self->key, self->live->ttl };
    sw_aredis_send(r, 3, ex, NULL);
    self->shipped++;
    return true;
}

static void
s_ship_entry(agent_log_t *self, agent_entry_t *e, int64_t now)
{
    char t[24], n[24], drop[24], dropb[24];
    snprintf(t, sizeof t, "%lld", (long long) e->wall_ms);
    snprintf(n, sizeof n, "%llu", (unsigned long long) e->lines);
    const char *fields[6] = { "t", "s", "n", "d", "drop", "dropb" };
    const char *values[6] = { t, e->stream == AGENT_ERR ? "err" : "out", n,
                              e->data.data ? e->data.data : "", drop, dropb };
    size_t lens[6] = { strlen(t), 3, strlen(n), e->data.len, 0, 0 };
    int nf = 4;
    if (e->dropped_lines) {
        snprintf(drop, sizeof drop, "%llu", (unsigned long long) e->dropped_lines);
        snprintf(dropb, sizeof dropb, "%llu", (unsigned long long) e->dropped_bytes);
        lens[4] = strlen(drop);
        lens[5] = strlen(dropb);
        nf = 6;
    }
    if (!s_ship(self, nf, fields, values, lens))
        agent_output_lost(self->out, e, now);
}

void
agent_log_flush(agent_log_t *self)
{
    if (!self)
        return;
    int64_t now = sw_now_ms(), wall = sw_wall_ms();
    agent_entry_t e;
    while (agent_output_next(self->out, now, wall, false, &e)) {
        s_ship_entry(self, &e, now);
        agent_entry_release(&e);
    }
}

void
agent_log_end(agent_log_t **self_p, const char *status, int code, const char *error)
{
    agent_log_finish(self_p, status, code, error, false, NULL);
}

void
agent_log_end_ship(agent_live_t *live, agent_log_end_t *end)
{
    if (live && end->key) {
        char maxlen[16];
        snprintf(maxlen, sizeof maxlen, "%d", AGENT_LIVE_MAXLEN);
        const char *argv[] = { "XADD", end->key, "MAXLEN", "~", maxlen, "*", "t", end->t,
                               "s", "end", "n", "0", "status", end->status, "code", end->code,
                               "d", end->error };
        size_t bytes = 128 + 2 * strlen(end->key) + strlen(end->error);
        if (sw_aredis_room(live->redis, bytes)) {
            sw_aredis_send(live->redis, 18, argv, NULL);
            const char *ex[] = { "EXPIRE", end->key, end->ttl };
            sw_aredis_send(live->redis, 3, ex, NULL);
        }
    }
    agent_log_end_release(end);
}

void
agent_log_end_release(agent_log_end_t *end)
{
    free(end->key);
    free(end->status);
    free(end->error);
    memset(end, 0, sizeof *end);
}

void
agent_log_finish(agent_log_t **self_p, const char *status, int code, const char *error,
                 bool in_order, agent_log_end_t *end)
{
    agent_log_t *self = *self_p;
    if (end)
        memset(end, 0, sizeof *end);
    if (!self)
        return;
    int64_t now = sw_now_ms(), wall = sw_wall_ms();
    agent_entry_t e;
    /*  Lost entries come back as drop counts: at most a few rounds. */
    for (int round = 0; round < 4 && agent_output_next(self->out, now, wall, true, &e); ) {
        bool lost_before = e.lines == 0;
        s_ship_entry(self, &e, now);
        agent_entry_release(&e);
        round += lost_before;
    }
    char t[24], c[24];
    snprintf(t, sizeof t, "%lld", (long long) wall);
    snprintf(c, sizeof c, "%d", code);
    if (end && (self->shipped == 0 || in_order)) {
        /*  nothing of this stream is in flight on the live connection:
         *  the end may go with the result, on the store's connection */
        end->key = self->key;
        self->key = NULL;
        memcpy(end->ttl, self->live->ttl, sizeof end->ttl);
        memcpy(end->t, t, sizeof end->t);
        memcpy(end->code, c, sizeof end->code);
        end->status = xstrdup(status);
        end->error = xstrdup(error ? error : "");
        end->after_entries = self->shipped > 0;
        agent_log_destroy(self_p);
        return;
    }
    const char *fields[] = { "t", "s", "n", "status", "code", "d" };
    const char *values[] = { t, "end", "0", status, c, error ? error : "" };
    size_t lens[] = { strlen(t), 3, 1, strlen(status), strlen(c), error ? strlen(error) : 0 };
    s_ship(self, 6, fields, values, lens);
    agent_log_destroy(self_p);
}

void
agent_log_destroy(agent_log_t **self_p)
{
    agent_log_t *self = *self_p;
    if (!self)
        return;
    uint64_t a, b;
    agent_output_counts(self->out, &a, &b);
    self->live->lines += a;
    self->live->dropped += b;
    zlistx_delete(self->live->logs, self->handle);
    agent_output_destroy(&self->out);
    free(self->key);
    free(self);
    *self_p = NULL;
}
