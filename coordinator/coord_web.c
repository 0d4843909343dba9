/*  coord_web -- see coord_web.h */
#include "coord_web.h"

#include <jansson.h>
#include <string.h>
#include <sys/random.h>

#include "coord_server.h"
#include "sw_http.h"
#include "sw_keys.h"
#include "sw_live.h"
#include "sw_render.h"
#include "sw_results.h"

#define PUSH_MS             500         /*  at most this often to the event streams */
#define OUTPUT_PAGE_LINES   2000        /*  lines in one output page */
#define OUTPUT_PAGE_BYTES   (1u << 20)
#define OUTPUT_PAGE_ENTRIES 200         /*  live stream entries in one output page */
#define RESULTS_BATCH       200         /*  results read from Redis per part */
#define REDIS_BACKOFF_MS    5000        /*  after a failure, 503 at once this long */
#define DOC_IDLE_MS         10000       /*  a cached status nobody asked for goes */

/*  The page, from coordinator/web/dashboard.html (generated source). */
extern const char coord_web_page[];
extern const size_t coord_web_page_len;

/*  One event stream (a browser tab). */
typedef struct {
    coord_web_t      *web;
    sw_http_stream_t *stream;
    char             *job;          /*  as asked; NULL: the current job */
    uint64_t          sent_agents, sent_jobs, sent_status;  /*  hashes of what it has */
    int64_t           load_ms;      /*  next try to load its job from Redis */
} s_client_t;

/*  A job's status document, rebuilt only when the job or the cluster
 *  changed: a big job costs its size once per change, not once per push. */
typedef struct {
    char     key[256];              /*  what it depends on */
    char    *json;
    uint64_t hash;
    int64_t  used_ms;
    int64_t  next_ms;               /*  not rebuilt before (monotonic) */
} s_doc_t;

struct coord_web_t {
    coord_server_t *server;
    sw_http_t      *http;
    zlistx_t       *clients;        /*  s_client_t * */
    zhashx_t       *docs;           /*  job id ("" = none) -> s_doc_t * */
    int64_t         push_ms;        /*  next push */
    sw_redis_t     *redis;          /*  our own: results and output reads */
    int64_t         redis_retry_ms;
};

static uint64_t
s_hash(const char *s)
{
    uint64_t h = 14695981039346656037ull;      /*  FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char) *s) * 1099511628211ull;
    return h;
}

/*  --- documents ------------------------------------------------------------------- */

/*  A packed control reply as the CLI prints it (the value of sw_mp_to_json,
 *  written directly). */
static char *
s_packed_json(const msgpack_sbuffer *sb)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    sw_buf_t text;
    sw_buf_init(&text);
    if (msgpack_unpack_next(&u, sb->data, sb->size, &off) == MSGPACK_UNPACK_SUCCESS)
        sw_mp_write_json(&u.data, &text);
    else
        sw_buf_addstr(&text, "null");
    msgpack_unpacked_destroy(&u);
    return text.data;
}

static char *
s_status_json(coord_web_t *self, coord_job_t *j)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    sw_mp_packer_init(&pk, &sb);
    coord_ctl_pack_status(self->server->ctl, j, &pk);
    char *text = s_packed_json(&sb);
    msgpack_sbuffer_destroy(&sb);
    return text;
}

/*  `swarm agents --json` is the reply's "agents" array. */
static char *
s_agents_json(coord_web_t *self)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    sw_mp_packer_init(&pk, &sb);
    coord_ctl_pack_agents(self->server->ctl, &pk);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    sw_buf_t text;
    sw_buf_init(&text);
    const msgpack_object *agents = NULL;
    if (msgpack_unpack_next(&u, sb.data, sb.size, &off) == MSGPACK_UNPACK_SUCCESS)
        agents = sw_mp_find(&u.data, "agents");
    if (agents)
        sw_mp_write_json(agents, &text);
    else
        sw_buf_addstr(&text, "[]");
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
    return text.data;
}

static int
s_by_created(const void *a, const void *b)
{
    const coord_job_t *x = *(const coord_job_t *const *) a, *y = *(const coord_job_t *const *) b;
    if (x->created_ms != y->created_ms)
        return x->created_ms > y->created_ms ? -1 : 1;
    return strcmp(x->id, y->id);
}

/*  The jobs in memory, newest first, with their progress. */
static char *
s_jobs_json(coord_web_t *self)
{
    coord_server_t *srv = self->server;
    zlistx_t *list = coord_sched_job_list(srv->sched);
    size_t n = zlistx_size(list), i = 0;
    coord_job_t **jobs = xcalloc(n + 1, sizeof *jobs);
    for (coord_job_t *j = zlistx_first(list); j; j = zlistx_next(list))
        jobs[i++] = j;
    zlistx_destroy(&list);
    qsort(jobs, n, sizeof *jobs, s_by_created);
    json_t *arr = json_array();
    for (i = 0; i < n; i++) {
        coord_job_t *j = jobs[i];
        json_t *counts = json_object();
        for (int s = 0; s < SW_TS_COUNT; s++)
            json_object_set_new(counts, sw_tstate_name((sw_tstate_t) s),
                                json_integer(j->counts[s]));
        json_array_append_new(arr, json_pack(
            "{s:s, s:I, s:i, s:i, s:i, s:i, s:b, s:b, s:o}", "id", j->id,
            "created", (json_int_t) j->created_ms, "tasks", j->ntasks, "final", j->nfinal,
            "running", j->running, "max_agents", j->max_agents,
            "complete", j->ntasks > 0 && j->nfinal == j->ntasks,
            "current", coord_ctl_current(srv->ctl)
                       && strcmp(coord_ctl_current(srv->ctl), j->id) == 0,
            "counts", counts));
    }
    free(jobs);
    char *text = json_dumps(arr, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(arr);
    return text;
}

/*  The status document of job id (NULL: the current job) through the
 *  cache. *found is false when a named job does not exist. */
static const s_doc_t *
s_status_doc(coord_web_t *self, const char *id, bool *found, int64_t now)
{
    coord_server_t *srv = self->server;
    const char *want = id ? id : coord_ctl_current(srv->ctl);
    coord_job_t *j = want ? coord_sched_job(srv->sched, want) : NULL;
    *found = !id || j;
    int slots = 0, busy = 0;
    zlistx_t *agents = coord_sched_agents(srv->sched);
    for (coord_agent_t *a = zlistx_first(agents); a; a = zlistx_next(agents)) {
        slots += a->slots;
        busy += a->running;
    }
    char key[256];
    snprintf(key, sizeof key, "%llu/%d/%zu/%d/%d/%zu/%llu",
             j ? (unsigned long long) j->rev : 0ull, j ? j->max_agents : -1,
             zlistx_size(agents), slots, busy, coord_sched_queued(srv->sched),
             (unsigned long long) srv->dropped);
    const char *name = j ? j->id : "";
    s_doc_t *d = zhashx_lookup(self->docs, name);
    if (!d) {
        d = xcalloc(1, sizeof *d);
        zhashx_insert(self->docs, name, d);
    }
    d->used_ms = now;
    /*  A job that changes all the time is rebuilt at most every 20 times
     *  the time a build takes: watching a big job costs the loop at most
     *  ~5 %, and its page lags by that much. */
    if (!d->json || (strcmp(d->key, key) != 0 && now >= d->next_ms)) {
        int64_t t0 = sw_now_ms();
        free(d->json);
        d->json = s_status_json(self, j);
        d->hash = s_hash(d->json);
        snprintf(d->key, sizeof d->key, "%s", key);
        d->next_ms = now + (sw_now_ms() - t0) * 20;
    }
    return d;
}

static void
s_doc_destroy(s_doc_t **d_p)
{
    if (*d_p) {
        free((*d_p)->json);
        free(*d_p);
        *d_p = NULL;
    }
}

/*  --- our own Redis connection ------------------------------------------------------ */

/*  The store's connection batches its writes per loop turn; reads of our
 *  own never mix with them. After a failure we answer 503 at once for a
 *  while: a stopped Redis would cost the whole loop a timeout per request. */
static sw_redis_t *
s_redis(coord_web_t *self, sw_err_t *err)
{
    if (self->redis)
        return self->redis;
    if (sw_now_ms() < self->redis_retry_ms) {
        sw_err_set(err, SW_EUNREACH, "Redis at %s failed a moment ago",
                   self->server->conf.redis);
        return NULL;
    }
    self->redis = sw_redis_new(self->server->conf.redis, 2000, err);
    if (!self->redis)
        self->redis_retry_ms = sw_now_ms() + REDIS_BACKOFF_MS;
    return self->redis;
}

static void
s_redis_failed(coord_web_t *self, const sw_err_t *err)
{
    if (err->code == SW_EUNREACH) {
        sw_redis_destroy(&self->redis);
        self->redis_retry_ms = sw_now_ms() + REDIS_BACKOFF_MS;
    }
}

static int
s_http_status(const sw_err_t *err)
{
    return err->code == SW_ENOTFOUND ? 404 : err->code == SW_EINVAL ? 400
         : err->code == SW_EUNREACH ? 503 : 500;
}

/*  --- a task's output -------------------------------------------------------------- */

/*  The stored result's lines (stdout, then the stderr tail) from line
 *  number from on: a finished task whose live stream is gone (expired,
 *  or never written while Redis was away). Cursor "r:N". */
static int
s_output_result(coord_web_t *self, coord_job_t *j, coord_task_t *t, long long from,
                json_t *lines, long long *next, bool *done, sw_err_t *err)
{
    sw_result_row_t row = { 0 };
    sw_redis_t *r = s_redis(self, err);
    if (!r || sw_results_row(r, j->id, t->spec.id, &row, err) < 0) {
        if (r)
            s_redis_failed(self, err);
        sw_result_row_release(&row);
        return -1;
    }
    const char *texts[2] = {
        json_string_value(json_object_get(row.result, "output")),
        json_string_value(json_object_get(row.result, "stderr_tail")),
    };
    static const char *const streams[2] = { "stdout", "stderr" };
    long long n = 0;
    size_t bytes = 0;
    *next = from;
    for (int s = 0; s < 2; s++) {
        const char *p = texts[s];
        while (p && *p) {
            size_t len = strcspn(p, "\n");
            if (n++ >= from && json_array_size(lines) < OUTPUT_PAGE_LINES
                && bytes < OUTPUT_PAGE_BYTES) {
                json_array_append_new(lines, json_pack("{s:n, s:s, s:s%}", "t", "stream",
                                                       streams[s], "line", p, len));
                bytes += len;
                *next = n;
            }
            p += len + (p[len] == '\n');
        }
    }
    *done = *next >= n;
    sw_result_row_release(&row);
    return 0;
}

typedef struct {
    json_t     *lines;
    const char *runner;
    const char *stream;
    int64_t     t;
    sw_buf_t    r;
} s_outlines_t;

static void
s_out_line(s_outlines_t *o, const char *line, size_t n)
{
    sw_buf_t clean;
    sw_buf_init(&clean);
    sw_utf8_sanitize(line, n, &clean);
    json_array_append_new(o->lines, json_pack("{s:I, s:s, s:s%}", "t", (json_int_t) o->t,
                                              "stream", o->stream, "line",
                                              clean.data ? clean.data : "", clean.len));
    sw_buf_release(&clean);
}

/*  A line of the task: codex's and claude's events rendered as `swarm
 *  logs -f` shows them (common/sw_render). */
static void
s_out_task_line(void *arg, const char *line, size_t n)
{
    s_outlines_t *o = arg;
    if (strcmp(o->stream, "stdout") != 0 || !sw_render_events(o->runner)) {
        s_out_line(o, line, n);
        return;
    }
    sw_buf_reset(&o->r);
    sw_render_line(o->runner, line, n, &o->r);
    for (const char *p = o->r.data, *end = p + o->r.len; p && p < end; ) {
        const char *nl = memchr(p, '\n', (size_t) (end - p));
        size_t len = nl ? (size_t) (nl - p) : (size_t) (end - p);
        s_out_line(o, p, len);
        p += len + 1;
    }
}

/*  One page of a task's output, from cursor since on: {job, task, status,
 *  attempt, cursor, done, lines: [{t, stream, line}]}. The lines are the
 *  current attempt's live stream (agent/agent_live.h), the same `swarm
 *  logs -f` follows, rendered the same way; the cursor is the last entry
 *  id read, and done is true once the task is final and the stream read
 *  to its end. A finished task without a stream (expired, or Redis was
 *  away while it ran) shows its stored result instead ("r:N" cursors). */
static json_t *
s_output(coord_web_t *self, const char *job, const char *id, const char *since, sw_err_t *err)
{
    long long from = 0;
    bool result_mode = since && strncmp(since, "r:", 2) == 0;
    if (result_mode && sw_parse_int(since + 2, 0, 1LL << 40, &from) < 0) {
        sw_err_set(err, SW_EINVAL, "since: want a cursor from an earlier page, got '%s'", since);
        return NULL;
    }
    if (since && !result_mode && *since && strcmp(since, "0") != 0) {
        /*  an entry id: MS-SEQ */
        const char *p = since;
        while (*p >= '0' && *p <= '9')
            p++;
        bool ok = p > since && *p == '-' && p[1];
        for (p = p + 1; ok && *p; p++)
            ok = *p >= '0' && *p <= '9';
        if (!ok || strlen(since) > 40) {
            sw_err_set(err, SW_EINVAL, "since: want a cursor from an earlier page, got '%s'",
                       since);
            return NULL;
        }
    }
    coord_job_t *j = coord_server_job(self->server, job);
    coord_task_t *t = coord_job_task(j, id);
    if (!t) {
        sw_err_set(err, SW_ENOTFOUND, "no task '%s' in job '%s'", id, job);
        return NULL;
    }
    json_t *lines = json_array();
    json_t *doc = json_pack("{s:s, s:s, s:s, s:I}", "job", j->id, "task", t->spec.id,
                            "status", sw_tstate_name(t->state), "attempt",
                            (json_int_t) t->spec.attempt);
    bool final = SW_TS_FINAL(t->state), done = false;
    char cursor[64];
    snprintf(cursor, sizeof cursor, "%s", since && *since ? since : "0");
    if (!result_mode && t->spec.attempt > 0) {
        sw_redis_t *r = s_redis(self, err);
        char *key = sw_key_task_log(j->id, t->spec.id, t->spec.attempt);
        sw_live_batch_t b = { 0 };
        int rc = r ? sw_live_range(r, key, cursor, OUTPUT_PAGE_ENTRIES, &b, err) : -1;
        free(key);
        if (rc < 0) {
            if (r)
                s_redis_failed(self, err);
            json_decref(lines);
            json_decref(doc);
            return NULL;
        }
        s_outlines_t o = { .lines = lines, .runner = t->spec.runner };
        sw_buf_init(&o.r);
        for (size_t i = 0; i < b.n; i++) {
            const sw_live_entry_t *e = &b.v[i];
            snprintf(cursor, sizeof cursor, "%s", e->id);
            if (e->kind != SW_LIVE_OUT && e->kind != SW_LIVE_ERR)
                continue;
            o.t = e->t;
            o.stream = e->kind == SW_LIVE_ERR ? "stderr" : "stdout";
            if (e->dropped) {
                char note[80];
                int n = snprintf(note, sizeof note, "[... %llu line%s dropped ...]",
                                 (unsigned long long) e->dropped, e->dropped == 1 ? "" : "s");
                s_out_line(&o, note, (size_t) n);
            }
            sw_live_lines(e, s_out_task_line, &o);
        }
        sw_buf_release(&o.r);
        bool empty = b.n == 0 && strcmp(cursor, "0") == 0;
        done = final && b.n < OUTPUT_PAGE_ENTRIES;
        sw_live_batch_release(&b);
        if (final && empty)
            result_mode = true;     /*  no stream: the stored result */
    }
    else if (!result_mode)
        done = final;           /*  never ran: nothing to show */
    if (result_mode && final) {
        long long next = 0;
        if (s_output_result(self, j, t, from, lines, &next, &done, err) < 0) {
            json_decref(lines);
            json_decref(doc);
            return NULL;
        }
        snprintf(cursor, sizeof cursor, "r:%lld", next);
    }
    json_object_set_new(doc, "cursor", json_string(cursor));
    json_object_set_new(doc, "done", json_boolean(done));
    json_object_set_new(doc, "lines", lines);
    return doc;
}

/*  --- streamed results ---------------------------------------------------------------- */

typedef struct {
    coord_web_t *web;
    char        *job;
    sw_strv_t    ids;
    size_t       next;
} s_results_t;

static void
s_results_pull(void *arg, sw_http_stream_t *s)
{
    s_results_t *rs = arg;
    if (rs->next == rs->ids.n) {
        sw_http_stream_write(s, "]\n", 2);
        sw_http_stream_end(s);
        return;
    }
    size_t n = rs->ids.n - rs->next < RESULTS_BATCH ? rs->ids.n - rs->next : RESULTS_BATCH;
    sw_result_row_t *rows = xcalloc(n, sizeof *rows);
    sw_err_t err = { 0 };
    sw_redis_t *r = s_redis(rs->web, &err);
    if (!r || sw_results_rows(r, rs->job, rs->ids.v + rs->next, n, rows, &err) < 0) {
        log_warnx("dashboard: results of %s: %s", rs->job, err.msg);
        if (r)
            s_redis_failed(rs->web, &err);
        sw_http_stream_abort(s);
    }
    else {
        sw_buf_t part;
        sw_buf_init(&part);
        for (size_t i = 0; i < n; i++) {
            json_t *doc = sw_result_doc(&rows[i], rs->job);
            char *text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
            sw_buf_addstr(&part, rs->next + i == 0 ? "[" : ",");
            sw_buf_addstr(&part, text ? text : "null");
            free(text);
            json_decref(doc);
        }
        sw_http_stream_write(s, part.data, part.len);
        sw_buf_release(&part);
        rs->next += n;
    }
    for (size_t i = 0; i < n; i++)
        sw_result_row_release(&rows[i]);
    free(rows);
}

static void
s_results_closed(void *arg, sw_http_stream_t *s)
{
    s_results_t *rs = arg;
    sw_strv_release(&rs->ids);
    free(rs->job);
    free(rs);
    (void) s;
}

/*  --- event streams --------------------------------------------------------------------- */

static void
s_event(s_client_t *c, const char *name, const char *data)
{
    sw_buf_t ev;
    sw_buf_init(&ev);
    sw_buf_printf(&ev, "event: %s\ndata: %s\n\n", name, data);
    sw_http_stream_write(c->stream, ev.data, ev.len);
    sw_buf_release(&ev);
}

/*  Sends c what changed since its last push; always a tick (the page's
 *  clock, and a write that finds a client who left). */
static void
s_push(coord_web_t *self, s_client_t *c, const char *agents, uint64_t agents_hash,
       const char *jobs, uint64_t jobs_hash, int64_t now)
{
    if (agents_hash != c->sent_agents) {
        s_event(c, "agents", agents);
        c->sent_agents = agents_hash;
    }
    if (jobs_hash != c->sent_jobs) {
        s_event(c, "jobs", jobs);
        c->sent_jobs = jobs_hash;
    }
    /*  A finished job leaves memory after --keep-finished; a page still
     *  showing it loads it back (once a minute at most: it is Redis I/O). */
    if (c->job && !coord_sched_job(self->server->sched, c->job) && now >= c->load_ms) {
        c->load_ms = now + 60000;
        coord_server_job(self->server, c->job);
    }
    bool found;
    const s_doc_t *d = s_status_doc(self, c->job, &found, now);
    if (!found && c->sent_status != 1) {
        s_event(c, "missing", "{\"error\":\"no such job on this coordinator\"}");
        c->sent_status = 1;
    }
    else if (found && d->hash != c->sent_status) {
        s_event(c, "status", d->json);
        c->sent_status = d->hash;
    }
    char tick[64];
    snprintf(tick, sizeof tick, "{\"now\":%lld}", (long long) sw_wall_ms());
    s_event(c, "tick", tick);
}

static void
s_client_closed(void *arg, sw_http_stream_t *s)
{
    s_client_t *c = arg;
    void *h = zlistx_find(c->web->clients, c);
    if (h)
        zlistx_detach(c->web->clients, h);
    free(c->job);
    free(c);
    (void) s;
}

void
coord_web_tick(coord_web_t *self, int64_t now)
{
    if (now < self->push_ms)
        return;
    self->push_ms = now + PUSH_MS;
    for (s_doc_t *d = zhashx_first(self->docs); d; d = zhashx_next(self->docs))
        if (now - d->used_ms > DOC_IDLE_MS) {
            zhashx_delete(self->docs, zhashx_cursor(self->docs));
            break;                  /*  one per tick: the cursor is gone */
        }
    if (zlistx_size(self->clients) == 0)
        return;
    char *agents = s_agents_json(self), *jobs = s_jobs_json(self);
    uint64_t ah = s_hash(agents), jh = s_hash(jobs);
    /*  a write may end a client (closed runs later, from MHD): walk a copy */
    zlistx_t *clients = zlistx_dup(self->clients);
    for (s_client_t *c = zlistx_first(clients); c; c = zlistx_next(clients))
        s_push(self, c, agents, ah, jobs, jh, now);
    zlistx_destroy(&clients);
    free(agents);
    free(jobs);
}

/*  --- requests ------------------------------------------------------------------------------ */

static void
s_reply_json(sw_http_req_t *req, char *text)
{
    sw_buf_t body;
    sw_buf_init(&body);
    sw_buf_addstr(&body, text);
    sw_buf_addstr(&body, "\n");
    free(text);
    sw_http_reply(req, 200, "application/json", &body);
}

/*  The job a request names (?job=), loaded from Redis if need be. NULL
 *  after an error reply, or, when optional, for a request without one. */
static coord_job_t *
s_job_arg(coord_web_t *self, sw_http_req_t *req, bool optional, bool *answered)
{
    const char *id = sw_http_query(req, "job");
    *answered = false;
    if (!id && optional)
        return NULL;
    *answered = true;
    if (!id) {
        sw_http_error(req, 400, "give the job: ?job=JOB");
        return NULL;
    }
    if (!sw_id_valid(id)) {
        sw_http_error(req, 400, "invalid job id");
        return NULL;
    }
    coord_job_t *j = coord_server_job(self->server, id);
    if (!j)
        sw_http_error(req, 404, "no job '%s' on this coordinator", id);
    else
        *answered = false;
    return j;
}

static void
s_page(sw_http_req_t *req)
{
    /*  A fresh nonce per page: only our inline script and style run, so
     *  even an escaping mistake could not run a script someone injected. */
    unsigned char raw[16];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t) sizeof raw)
        for (size_t i = 0; i < sizeof raw; i++)
            raw[i] = (unsigned char) (zclock_usecs() >> (i % 8));
    sw_buf_t nonce, body;
    sw_buf_init(&nonce);
    sw_buf_init(&body);
    sw_base64_encode(raw, sizeof raw, &nonce);
    const char *p = coord_web_page, *end = coord_web_page + coord_web_page_len, *hit;
    while ((hit = memmem(p, (size_t) (end - p), "@NONCE@", 7))) {
        sw_buf_add(&body, p, (size_t) (hit - p));
        sw_buf_add(&body, nonce.data, nonce.len);
        p = hit + 7;
    }
    sw_buf_add(&body, p, (size_t) (end - p));
    char *csp = xasprintf("default-src 'none'; script-src 'nonce-%s'; style-src 'nonce-%s'; "
                          "connect-src 'self'; img-src 'self' data:; base-uri 'none'; "
                          "form-action 'none'; frame-ancestors 'none'", nonce.data, nonce.data);
    sw_http_header(req, "Content-Security-Policy", csp);
    free(csp);
    sw_buf_release(&nonce);
    sw_http_reply(req, 200, "text/html; charset=utf-8", &body);
}

static void
s_handler(void *arg, sw_http_req_t *req)
{
    coord_web_t *self = arg;
    const char *path = sw_http_path(req);
    bool answered;
    sw_err_t err = { 0 };
    if (strcmp(path, "/") == 0)
        s_page(req);
    else if (strcmp(path, "/api/agents") == 0)
        s_reply_json(req, s_agents_json(self));
    else if (strcmp(path, "/api/jobs") == 0)
        s_reply_json(req, s_jobs_json(self));
    else if (strcmp(path, "/api/status") == 0) {
        /*  as `swarm status --json`: the named job, else the current one */
        coord_job_t *j = s_job_arg(self, req, true, &answered);
        if (!answered) {
            if (!j && !sw_http_query(req, "job"))
                j = coord_server_job(self->server, coord_ctl_current(self->server->ctl));
            s_reply_json(req, s_status_json(self, j));
        }
    }
    else if (strcmp(path, "/api/output") == 0) {
        coord_job_t *j = s_job_arg(self, req, false, &answered);
        const char *task = sw_http_query(req, "task");
        if (answered)
            return;
        if (!task || !sw_id_valid(task)) {
            sw_http_error(req, 400, "give the task: &task=ID");
            return;
        }
        json_t *doc = s_output(self, j->id, task, sw_http_query(req, "since"), &err);
        if (!doc)
            sw_http_error(req, s_http_status(&err), "%s", err.msg);
        else {
            s_reply_json(req, json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER));
            json_decref(doc);
        }
    }
    else if (strcmp(path, "/api/results") == 0) {
        const char *job = sw_http_query(req, "job");
        if (!job || !sw_id_valid(job)) {
            sw_http_error(req, 400, "give the job: ?job=JOB");
            return;
        }
        s_results_t *rs = xcalloc(1, sizeof *rs);
        sw_redis_t *r = s_redis(self, &err);
        if (!r || sw_results_ids(r, job, &rs->ids, &err) < 0) {
            if (r)
                s_redis_failed(self, &err);
            sw_http_error(req, s_http_status(&err), "%s", err.msg);
            sw_strv_release(&rs->ids);
            free(rs);
            return;
        }
        rs->web = self;
        rs->job = xstrdup(job);
        static const sw_http_stream_ops_t ops = { s_results_pull, s_results_closed };
        if (rs->ids.n == 0) {
            sw_buf_t body;
            sw_buf_init(&body);
            sw_buf_addstr(&body, "[]\n");
            sw_http_reply(req, 200, "application/json", &body);
            s_results_closed(rs, NULL);
        }
        else
            sw_http_stream(req, "application/json", &ops, rs);
    }
    else if (strcmp(path, "/api/events") == 0) {
        const char *job = sw_http_query(req, "job");
        if (job && !sw_id_valid(job)) {
            sw_http_error(req, 400, "invalid job id");
            return;
        }
        if (job)
            coord_server_job(self->server, job);    /*  loaded if Redis has it */
        s_client_t *c = xcalloc(1, sizeof *c);
        c->web = self;
        c->job = job ? xstrdup(job) : NULL;
        sw_http_header(req, "X-Accel-Buffering", "no");
        static const sw_http_stream_ops_t ops = { NULL, s_client_closed };
        c->stream = sw_http_stream(req, "text/event-stream; charset=utf-8", &ops, c);
        zlistx_add_end(self->clients, c);
        /*  a reconnecting EventSource waits 2 s; the first push is now */
        sw_http_stream_write(c->stream, "retry: 2000\n\n", 13);
        char *agents = s_agents_json(self), *jobs = s_jobs_json(self);
        s_push(self, c, agents, s_hash(agents), jobs, s_hash(jobs), sw_now_ms());
        free(agents);
        free(jobs);
    }
}

/*  --- life cycle ------------------------------------------------------------------------------- */

coord_web_t *
coord_web_new(coord_server_t *server, const char *addr, const char *token_file, sw_err_t *err)
{
    coord_web_t *self = xcalloc(1, sizeof *self);
    self->server = server;
    self->clients = zlistx_new();
    self->docs = zhashx_new();
    zhashx_set_destructor(self->docs, (zhashx_destructor_fn *) s_doc_destroy);
    sw_http_conf_t conf = { .name = "dashboard", .addr = addr, .token_file = token_file,
                            .token_off_loopback = true };
    self->http = sw_http_new(server->loop, &conf, s_handler, self, err);
    if (!self->http) {
        coord_web_destroy(&self);
        return NULL;
    }
    return self;
}

void
coord_web_destroy(coord_web_t **self_p)
{
    coord_web_t *self = *self_p;
    if (!self)
        return;
    sw_http_destroy(&self->http);       /*  closes the streams: clients go */
    zlistx_destroy(&self->clients);
    zhashx_destroy(&self->docs);
    sw_redis_destroy(&self->redis);
    free(self);
    *self_p = NULL;
}

const char *
coord_web_url(const coord_web_t *self)
{
    return sw_http_url(self->http);
}
