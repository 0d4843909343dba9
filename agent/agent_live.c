/*  agent_live -- see agent_live.h */
#include "agent_live.h"

#include <string.h>

#include "sw_aredis.h"
#include "sw_keys.h"
#include "sw_resp.h"
#include "sw_selftest.h"

struct agent_live_t {
    sw_aredis_t *redis;
    char         ttl[24];       /*  seconds, as EXPIRE takes them */
    uint64_t     lines, dropped;    /*  of the logs already ended */
    zlistx_t    *logs;          /*  agent_log_t *, for the counts */
    sw_buf_t     head;          /*  scratch: an entry's command head */
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
    sw_buf_init(&self->head);
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
    sw_buf_release(&self->head);
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
    conf.room = AGENT_LIVE_ROOM(strlen(self->key));
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

/*  n in decimal in out, NUL-terminated (an argv string): what snprintf
 *  "%llu" writes, without its cost: an entry's head has a dozen numbers.
 *  Every number of an entry is a count, or the wall clock in ms (0 for a
 *  clock set before 1970, rather than a 20-digit number). */
static void
s_num(char out[24], uint64_t n)
{
    *sw_resp_u64(out, n) = '\0';
}

int
agent_live_argv(const char *key, const agent_entry_t *e, const char **argv, size_t *lens,
                char nums[5][24])
{
    s_num(nums[0], AGENT_LIVE_MAXLEN);
    s_num(nums[1], e->wall_ms > 0 ? (uint64_t) e->wall_ms : 0);
    s_num(nums[2], e->lines);
    int argc = 0;
    const char *head[] = { "XADD", key, "MAXLEN", "~", nums[0], "*", "t", nums[1],
                           "s", e->stream == AGENT_ERR ? "err" : "out", "n", nums[2] };
    for (size_t i = 0; i < sizeof head / sizeof *head; i++)
        argv[argc++] = head[i];
    if (e->dropped_lines) {
        s_num(nums[3], e->dropped_lines);
        s_num(nums[4], e->dropped_bytes);
        argv[argc++] = "drop";
        argv[argc++] = nums[3];
        argv[argc++] = "dropb";
        argv[argc++] = nums[4];
    }
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    argv[argc] = "d";
    lens[argc++] = 1;
    argv[argc] = e->data ? e->data : "";
    lens[argc++] = e->len;
    return argc;
}

size_t
agent_live_frame(const char *key, agent_entry_t *e, size_t room, sw_buf_t *head, char **frame,
                 char saved[2])
{
    const char *argv[20];
    size_t lens[20];
    char nums[5][24];
    int argc = agent_live_argv(key, e, argv, lens, nums);
    /*  RESP, as redisFormatCommandArgv writes it: *ARGC, then $LEN ARG
     *  for each; the last argument's bytes are the lines, in place. */
    size_t max = SW_RESP_HEAD_MAX;
    for (int i = 0; i < argc - 1; i++)
        max += SW_RESP_BULK_MAX(lens[i]);
    sw_buf_reset(head);
    sw_buf_reserve(head, max + SW_RESP_HEAD_MAX);
    char *p = sw_resp_array(head->data, (uint64_t) argc);
    for (int i = 0; i < argc - 1; i++)
        p = sw_resp_bulk(p, argv[i], lens[i]);
    p = sw_resp_bulk_head(p, e->len);
    head->len = (size_t) (p - head->data);
    if (!e->data || head->len > room)
        return 0;
    *frame = e->data - head->len;
    memcpy(*frame, head->data, head->len);
    memcpy(saved, e->data + e->len, 2);
    memcpy(e->data + e->len, "\r\n", 2);
    return head->len + e->len + 2;
}

void
agent_live_unframe(agent_entry_t *e, const char saved[2])
{
    memcpy(e->data + e->len, saved, 2);
}

/*  Ships e, written around its lines (agent_live_frame); an entry that
 *  only reports a drop goes as argv. A lost one is counted. */
static void
s_ship_entry(agent_log_t *self, agent_entry_t *e, int64_t now)
{
    sw_aredis_t *r = self->live->redis;
    size_t klen = strlen(self->key);
    char *frame = NULL, saved[2];
    size_t len = e->data ? agent_live_frame(self->key, e, AGENT_LIVE_ROOM(klen),
                                            &self->live->head, &frame, saved)
                         : 0;
    bool shipped = false;
    /*  XADD then EXPIRE: both or neither */
    if (sw_aredis_room(r, len + 128 + 2 * klen)) {
        if (len)
            shipped = sw_aredis_send_formatted(r, frame, len) == 0;
        else {
            const char *argv[20];
            size_t lens[20];
            char nums[5][24];
            int argc = agent_live_argv(self->key, e, argv, lens, nums);
            shipped = sw_aredis_send(r, argc, argv, lens) == 0;
        }
    }
    if (len)
        agent_live_unframe(e, saved);
    if (shipped) {
        const char *ex[] = { "EXPIRE", self->key, self->live->ttl };
        sw_aredis_send(r, 3, ex, NULL);
        self->shipped++;
    }
    else
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
    uint64_t lines, dropped;
    agent_output_counts(self->out, &lines, &dropped);
    if (self->shipped == 0 && lines == 0 && dropped == 0 && strcmp(status, "succeeded") == 0
        && (!error || !*error)) {
        /*  A run that succeeded and wrote nothing gets no stream at all
         *  (issue 20): its end would only repeat the task hash's status,
         *  yet create a stream (~4.7 KB in Redis 7, kept --log-ttl) and
         *  cost redis-server a fifth of its CPU per task of the fanout.
         *  A follower of an attempt with no entry asks the task hash
         *  (cli_logs.c QUIET_MS). A failed one keeps its end: status and
         *  code where the output would have been. */
        agent_log_destroy(self_p);
        return;
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

/*  --- self-test ----------------------------------------------------------------------- */

/*  Ships every entry due: its frame must be byte for byte what hiredis
 *  makes of the same XADD, and the bytes around the lines come back as
 *  they were. The lines of each stream go into got[stream], joined by
 *  '\n'. Returns entries seen. */
static int
s_check_entries(agent_output_t *o, const char *key, size_t room, int64_t now, bool end,
                sw_buf_t got[2], int *bad)
{
    int n = 0;
    agent_entry_t e;
    sw_buf_t head;
    sw_buf_init(&head);
    while (agent_output_next(o, now, now + 7, end, &e)) {
        n++;
        const char *argv[20];
        size_t lens[20];
        char nums[5][24];
        int argc = agent_live_argv(key, &e, argv, lens, nums);
        char *theirs = NULL;
        int tlen = redisFormatCommandArgv(&theirs, argc, argv, lens);
        if (e.data) {
            char before[2], *frame = NULL, saved[2];
            memcpy(before, e.data + e.len, 2);
            size_t len = agent_live_frame(key, &e, room, &head, &frame, saved);
            if (len != (size_t) tlen || memcmp(frame, theirs, len) != 0)
                (*bad)++;
            if (frame + len != e.data + e.len + 2)     /*  in place: ends with the lines */
                (*bad)++;
            agent_live_unframe(&e, saved);
            if (memcmp(before, e.data + e.len, 2) != 0)
                (*bad)++;
            if (got[e.stream].len || got[e.stream].data)
                sw_buf_add(&got[e.stream], "\n", 1);
            sw_buf_add(&got[e.stream], e.data, e.len);
        }
        free(theirs);
        agent_entry_release(&e);
    }
    sw_buf_release(&head);
    return n;
}

int
agent_live_test(bool verbose)
{
    char *key = sw_key_task_log("job:é", "t 1/{x}", 3);
    size_t room = AGENT_LIVE_ROOM(strlen(key));
    static const char pool[] = { '\0', '\n', '\n', '\n', '\r', '"', '\\', (char) 0x80,
                                 (char) 0xc3, (char) 0xa9, (char) 0xff, (char) 0xf0, ' ', 'z' };
    unsigned seed = 17;
    uint64_t moved = 0, total = 0;
    for (int round = 0; round < 80; round++) {
        /*  Rounds 0-59 fit every budget: the lines come back whole. Then
         *  small budgets (entries report drops) and short line caps. */
        bool exact = round < 60;
        agent_output_conf_t c = agent_output_defaults(false);
        c.room = room;
        c.rate_bytes = c.burst_bytes = exact ? 1e12 : 20000;
        c.rate_entries = c.burst_entries = exact ? 1e9 : 3;
        if (exact)
            c.partial_ms = INT64_MAX / 4;   /*  a line never goes before its newline */
        c.batch_max = round % 3 == 0 ? 300 : round % 3 == 1 ? 4096 : 32768;
        if (!exact && round % 2)
            c.line_max = 200;
        agent_output_t *o = agent_output_new(&c, 1000);
        /*  round 0: nothing; round 1: 4 MiB; else up to 200 KB, in lines
         *  of 0 to 2x the batch, with NUL, CR, invalid UTF-8 */
        size_t n = round == 0 ? 0 : round == 1 ? 4u << 20 : (size_t) (rand_r(&seed) % 200000);
        char *in = xmalloc(n + 1);
        int density = 1 + rand_r(&seed) % 4;
        for (size_t k = 0; k < n; k++) {
            int r = rand_r(&seed) % 1000;
            in[k] = r < density ? '\n'
                  : r < 60 ? pool[rand_r(&seed) % sizeof pool] : (char) ('a' + k % 26);
        }
        sw_buf_t want[2], got[2];
        for (int i = 0; i < 2; i++) {
            sw_buf_init(&want[i]);
            sw_buf_init(&got[i]);
        }
        int64_t now = 1000;
        int bad = 0, entries = 0;
        for (size_t k = 0; k < n; ) {
            size_t chunk = 1 + (size_t) rand_r(&seed) % (rand_r(&seed) % 2 ? 70000 : 300);
            chunk = chunk < n - k ? chunk : n - k;
            int stream = rand_r(&seed) % 4 == 0 ? AGENT_ERR : AGENT_OUT;
            agent_output_feed(o, stream, in + k, chunk, now, now + 7);
            sw_buf_add(&want[stream], in + k, chunk);
            k += chunk;
            now += rand_r(&seed) % 120;
            entries += s_check_entries(o, key, room, now, false, got, &bad);
        }
        entries += s_check_entries(o, key, room, now + 5000, true, got, &bad);
        CHECK(bad == 0);
        for (int i = 0; exact && i < 2; i++) {
            /*  what the stream holds is what was written, a last newline
             *  aside (it ends the last line) */
            size_t wl = want[i].len;
            if (wl && want[i].data[wl - 1] == '\n')
                wl--;
            CHECK(got[i].len == wl && (wl == 0 || memcmp(got[i].data, want[i].data, wl) == 0));
        }
        if (exact) {
            /*  bytes moved a second time: at most a line per entry */
            moved += agent_output_moved(o);
            total += n;
            CHECK(agent_output_moved(o) <= (uint64_t) entries * (c.line_max + 1));
        }
        for (int i = 0; i < 2; i++) {
            sw_buf_release(&want[i]);
            sw_buf_release(&got[i]);
        }
        free(in);
        agent_output_destroy(&o);
    }
    /*  A head that does not fit the room is not written. */
    agent_output_conf_t c = agent_output_defaults(false);
    c.room = 8;
    agent_output_t *o = agent_output_new(&c, 0);
    agent_output_feed(o, AGENT_OUT, "x\n", 2, 0, 0);
    agent_entry_t e;
    CHECK(agent_output_next(o, 100, 0, false, &e) && e.data);
    sw_buf_t head;
    sw_buf_init(&head);
    char *frame = NULL, saved[2];
    CHECK(agent_live_frame(key, &e, 8, &head, &frame, saved) == 0 && frame == NULL);
    /*  A wall clock before 1970 is written as 0, not as 2^64 - 1. */
    const char *argv[20];
    size_t lens[20];
    char nums[5][24];
    e.wall_ms = -1;
    CHECK(agent_live_argv(key, &e, argv, lens, nums) > 8 && strcmp(argv[6], "t") == 0
          && strcmp(argv[7], "0") == 0);
    e.wall_ms = 1764547200123;
    CHECK(agent_live_argv(key, &e, argv, lens, nums) > 8 && strcmp(argv[7], "1764547200123") == 0);
    agent_entry_release(&e);
    sw_buf_release(&head);
    agent_output_destroy(&o);
    if (verbose)
        printf("live frames: %llu of %llu bytes moved a second time\n",
               (unsigned long long) moved, (unsigned long long) total);
    free(key);
    return 0;
}
