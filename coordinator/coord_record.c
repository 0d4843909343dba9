/*  coord_record -- see coord_record.h */
#include "coord_record.h"

#include <jansson.h>
#include <string.h>
#include <time.h>

#include "sw_resp.h"
#include "sw_selftest.h"

bool
coord_record_final(const coord_job_t *j)
{
    return j->ntasks > 0 && j->nfinal == j->ntasks;
}

const char *
coord_record_status(const coord_job_t *j)
{
    if (j->ntasks == 0)
        return "initialized";
    if (!coord_record_final(j))
        return "running";
    return j->counts[SW_TS_SUCCEEDED] == j->ntasks ? "succeeded" : "failed";
}

/*  2026-11-30T10:48:19.123Z (24 characters and the NUL) */
static void
s_time_text(int64_t wall_ms, char buf[40])
{
    time_t secs = (time_t) (wall_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(buf, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, 40 - n, ".%03dZ", (int) (wall_ms % 1000));
}

/*  Appends n bytes to b: the caller reserved room (sw_buf_reserve). */
static inline void
s_put(sw_buf_t *b, const char *p, size_t n)
{
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

/*  S as a JSON string. Printable ASCII without '"' and '\\' (every id a
 *  task or job takes in practice) is copied as it is, which is what
 *  jansson writes for it; anything else goes through jansson, and text it
 *  refuses (not UTF-8) is left out as json_array_append_new(NULL) left it
 *  out (false: nothing written). */
static bool
s_str_after(sw_buf_t *b, bool comma, const char *s)
{
    const unsigned char *p = (const unsigned char *) s;
    while (*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\')
        p++;
    if (!*p) {
        size_t n = (size_t) (p - (const unsigned char *) s);
        sw_buf_reserve(b, n + 3);
        if (comma)
            s_put(b, ",", 1);
        s_put(b, "\"", 1);
        s_put(b, s, n);
        s_put(b, "\"", 1);
        b->data[b->len] = '\0';
        return true;
    }
    json_t *j = json_string(s);
    char *t = j ? json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    json_decref(j);
    if (t && comma)
        sw_buf_add(b, ",", 1);
    if (t)
        sw_buf_addstr(b, t);
    free(t);
    return t != NULL;
}

static bool
s_str(sw_buf_t *b, const char *s)
{
    return s_str_after(b, false, s);
}

/*  "name":N, (a count: not negative) */
static void
s_count(sw_buf_t *b, const char *name, int v, const char *after)
{
    size_t ln = strlen(name), la = strlen(after);
    sw_buf_reserve(b, ln + 3 + SW_RESP_DIGITS_MAX + la);
    s_put(b, "\"", 1);
    s_put(b, name, ln);
    s_put(b, "\":", 2);
    b->len = (size_t) (sw_resp_u64(b->data + b->len, v < 0 ? 0u : (uint64_t) v) - b->data);
    s_put(b, after, la);
    b->data[b->len] = '\0';
}

static void
s_str_or_null(sw_buf_t *b, const char *s)
{
    if (!s || !*s || !s_str(b, s))
        sw_buf_addstr(b, "null");
}

/*  Written straight into one buffer: it was a jansson tree of a string
 *  per worker (up to COORD_RECORD_MAX_WORKERS), dumped and freed, which
 *  perf put at 15 % of the coordinator's CPU in a roundtrip of 400 tasks
 *  (issue 20). The text is the tree's JSON_COMPACT dump, byte for byte
 *  (unit.record compares them). */
char *
coord_record_json(const coord_job_t *j, int64_t wall_ms)
{
    sw_buf_t b;
    sw_buf_init(&b);
    size_t n = (size_t) j->ntasks < COORD_RECORD_MAX_WORKERS ? (size_t) j->ntasks
                                                             : COORD_RECORD_MAX_WORKERS;
    sw_buf_reserve(&b, 400 + n * 16);
    sw_buf_addstr(&b, "{\"job\":");
    s_str_or_null(&b, j->id);
    sw_buf_addstr(&b, ",\"topology\":");
    s_str_or_null(&b, j->topology);
    sw_buf_printf(&b, ",\"max_agents\":%d,\"strategy\":", j->max_agents);
    s_str_or_null(&b, j->strategy);
    sw_buf_addstr(&b, ",\"namespace\":");
    s_str_or_null(&b, j->ns);
    sw_buf_addstr(&b, ",\"workers\":[");
    bool first = true;
    for (size_t i = 0; i < n; i++)
        if (s_str_after(&b, !first, j->order[i]->spec.id))
            first = false;
    sw_buf_add(&b, "]", 1);
    if ((size_t) j->ntasks > n)
        sw_buf_addstr(&b, ",\"workers_truncated\":true");
    char t[40];
    s_time_text(j->created_ms, t);
    sw_buf_printf(&b, ",\"started\":\"%s\",\"status\":\"%s\",\"counts\":{", t,
                  coord_record_status(j));
    for (int i = 0; i < SW_TS_COUNT; i++)
        s_count(&b, sw_tstate_name((sw_tstate_t) i), j->counts[i], ",");
    s_count(&b, "total", j->ntasks, "},\"updated\":\"");
    s_time_text(wall_ms, t);
    sw_buf_addstr(&b, t);
    sw_buf_addstr(&b, "\"}");
    return b.data;
}

/*  --- coalescing ------------------------------------------------------------------ */

typedef struct {
    int64_t written_ms;         /*  monotonic; 0 = never */
    bool    dirty;
} s_rec_t;

struct coord_records_t {
    zhashx_t *recs;             /*  job id -> s_rec_t * (owned) */
    size_t    dirty;
};

static void
s_rec_free(void **item)
{
    free(*item);
    *item = NULL;
}

coord_records_t *
coord_records_new(void)
{
    coord_records_t *self = xcalloc(1, sizeof *self);
    self->recs = zhashx_new();
    zhashx_set_destructor(self->recs, s_rec_free);
    return self;
}

void
coord_records_destroy(coord_records_t **self_p)
{
    coord_records_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy(&self->recs);
    free(self);
    *self_p = NULL;
}

void
coord_records_touch(coord_records_t *self, const char *job)
{
    s_rec_t *r = zhashx_lookup(self->recs, job);
    if (!r) {
        r = xcalloc(1, sizeof *r);
        zhashx_insert(self->recs, job, r);
    }
    if (!r->dirty)
        self->dirty++;
    r->dirty = true;
}

size_t
coord_records_pending(const coord_records_t *self)
{
    return self->dirty;
}

int
coord_records_due(coord_records_t *self, coord_sched_t *sched, int64_t now_ms,
                  coord_record_write_fn *write, void *arg)
{
    if (self->dirty == 0)
        return 0;
    /*  The keys first: entries go while we walk. */
    zlistx_t *keys = zhashx_keys(self->recs);
    int written = 0;
    for (const char *id = zlistx_first(keys); id; id = zlistx_next(keys)) {
        s_rec_t *r = zhashx_lookup(self->recs, id);
        bool recent = r->written_ms && now_ms - r->written_ms < COORD_RECORD_INTERVAL_MS;
        if (!r->dirty) {
            /*  Written and unchanged since: it coalesces nothing more. */
            if (!recent)
                zhashx_delete(self->recs, id);
            continue;
        }
        coord_job_t *j = coord_sched_job(sched, id);
        bool final = j && coord_record_final(j);
        if (j && !final && recent)
            continue;
        self->dirty--;
        r->dirty = false;
        r->written_ms = now_ms;
        if (j) {
            write(arg, j, final);
            written++;
        }
        /*  A job that left needs no coalescing state. One that ended keeps
         *  it for the interval: new tasks right after its end (a roundtrip
         *  submits the next task as soon as `swarm wait` returns) reopen
         *  it without a write of their own, and the record that ends it
         *  again goes at once; one that keeps running is written when
         *  the interval is over (issue 20: one record per roundtrip, not
         *  two). */
        if (!j)
            zhashx_delete(self->recs, id);
    }
    zlistx_destroy(&keys);
    return written;
}

/*  --- self-test --------------------------------------------------------------------- */

/*  The record as it was built before (a jansson tree, dumped compact):
 *  coord_record_json must write the same text. */
static json_t *
s_tree_str(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

static char *
s_tree_json(const coord_job_t *j, int64_t wall_ms)
{
    char t[40];
    json_t *o = json_object();
    json_object_set_new(o, "job", json_string(j->id));
    json_object_set_new(o, "topology", s_tree_str(j->topology));
    json_object_set_new(o, "max_agents", json_integer(j->max_agents));
    json_object_set_new(o, "strategy", s_tree_str(j->strategy));
    json_object_set_new(o, "namespace", s_tree_str(j->ns));
    json_t *workers = json_array();
    size_t n = 0;
    for (; n < (size_t) j->ntasks && n < COORD_RECORD_MAX_WORKERS; n++)
        json_array_append_new(workers, json_string(j->order[n]->spec.id));
    json_object_set_new(o, "workers", workers);
    if ((size_t) j->ntasks > n)
        json_object_set_new(o, "workers_truncated", json_true());
    s_time_text(j->created_ms, t);
    json_object_set_new(o, "started", json_string(t));
    json_object_set_new(o, "status", json_string(coord_record_status(j)));
    json_t *counts = json_object();
    for (int i = 0; i < SW_TS_COUNT; i++)
        json_object_set_new(counts, sw_tstate_name((sw_tstate_t) i), json_integer(j->counts[i]));
    json_object_set_new(counts, "total", json_integer(j->ntasks));
    json_object_set_new(o, "counts", counts);
    s_time_text(wall_ms, t);
    json_object_set_new(o, "updated", json_string(t));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static bool
s_same_as_tree(const coord_job_t *j, int64_t wall_ms)
{
    char *a = coord_record_json(j, wall_ms), *b = s_tree_json(j, wall_ms);
    bool same = a && b && strcmp(a, b) == 0;
    if (!same)
        fprintf(stderr, "record:\n  %s\ntree:\n  %s\n", a ? a : "(null)", b ? b : "(null)");
    free(a);
    free(b);
    return same;
}

static void s_nop_task(void *c, coord_task_t *t) { (void) c; (void) t; }
static void s_nop_agent(void *c, coord_agent_t *a) { (void) c; (void) a; }
static void s_nop_pair(void *c, coord_task_t *t, coord_agent_t *a)
{ (void) c; (void) t; (void) a; }

typedef struct {
    int  writes;
    int  finals;
    char last[4096];
} s_writes_t;

static void
s_write(void *arg, coord_job_t *j, bool final)
{
    s_writes_t *w = arg;
    w->writes++;
    w->finals += final;
    char *json = coord_record_json(j, 1764499699123LL);
    snprintf(w->last, sizeof w->last, "%s", json);
    free(json);
}

static coord_task_t *
s_submit(coord_sched_t *s, const char *job, const char *id)
{
    sw_task_t t;
    sw_task_init(&t);
    t.id = xstrdup(id);
    t.job = xstrdup(job);
    sw_strv_push(&t.argv, "true");
    sw_err_t err = { 0 };
    if (sw_task_validate(&t, &err) < 0) {
        sw_task_release(&t);
        return NULL;
    }
    return coord_sched_submit(s, &t, 0, &err);
}

static void
s_done(coord_sched_t *s, coord_agent_t *a, coord_task_t *t, const char *status)
{
    sw_ref_t r = { .job = t->job->id, .id = t->spec.id, .attempt = t->spec.attempt,
                   .status = (char *) status };
    coord_sched_done(s, a, &r, 0, 0);
}

int
coord_record_test(bool verbose)
{
    coord_sched_ops_t ops = { s_nop_task, s_nop_pair, s_nop_pair, s_nop_task, s_nop_agent,
                              NULL };
    coord_sched_t *s = coord_sched_new(&ops, NULL);
    coord_job_t *j = coord_sched_job_ensure(s, "auth/v1", 1764499690000LL);
    j->topology = xstrdup("hierarchical");
    j->max_agents = 3;
    CHECK(strcmp(coord_record_status(j), "initialized") == 0 && !coord_record_final(j));

    /*  the record: counts, workers in submit order, times */
    coord_task_t *a = s_submit(s, "auth/v1", "architect");
    coord_task_t *b = s_submit(s, "auth/v1", "coder-1");
    CHECK(a && b && strcmp(coord_record_status(j), "running") == 0);
    sw_hello_t h = { .agent = (char *) "a1", .host = (char *) "h", .version = (char *) "t",
                     .slots = 1 };
    sw_strv_push(&h.runners, "exec");
    zframe_t *routing = zframe_new("a1", 2);
    coord_agent_t *ag = coord_sched_hello(s, &h, &routing, 0, 5000);
    sw_strv_release(&h.runners);
    coord_sched_dispatch(s, 0, 0);
    CHECK(a->state == SW_TS_RUNNING);
    char *json = coord_record_json(j, 1764499699123LL);
    json_t *doc = json_loads(json, 0, NULL);
    CHECK(doc);
    CHECK(strcmp(json_string_value(json_object_get(doc, "job")), "auth/v1") == 0);
    CHECK(strcmp(json_string_value(json_object_get(doc, "topology")), "hierarchical") == 0);
    CHECK(json_is_null(json_object_get(doc, "strategy")));
    CHECK(json_integer_value(json_object_get(doc, "max_agents")) == 3);
    CHECK(strcmp(json_string_value(json_object_get(doc, "status")), "running") == 0);
    CHECK(strcmp(json_string_value(json_object_get(doc, "started")),
                 "2025-11-30T10:48:10.000Z") == 0);
    CHECK(strcmp(json_string_value(json_object_get(doc, "updated")),
                 "2025-11-30T10:48:19.123Z") == 0);
    json_t *w = json_object_get(doc, "workers");
    CHECK(json_array_size(w) == 2
          && strcmp(json_string_value(json_array_get(w, 0)), "architect") == 0
          && strcmp(json_string_value(json_array_get(w, 1)), "coder-1") == 0);
    CHECK(!json_object_get(doc, "workers_truncated"));
    json_t *c = json_object_get(doc, "counts");
    CHECK(json_integer_value(json_object_get(c, "running")) == 1
          && json_integer_value(json_object_get(c, "queued")) == 1
          && json_integer_value(json_object_get(c, "total")) == 2
          && json_integer_value(json_object_get(c, "succeeded")) == 0);
    json_decref(doc);
    free(json);
    CHECK(s_same_as_tree(j, 1764499699123LL));
    /*  text jansson escapes (a quote, a backslash, a control character,
     *  UTF-8) and text it refuses (not UTF-8): the same as the tree */
    free(j->topology);
    j->topology = xstrdup("a \"quoted\" \\ tab\t caf\xc3\xa9");
    CHECK(s_same_as_tree(j, 1764499699123LL));
    free(j->topology);
    j->topology = xstrdup("bad \xff");
    json = coord_record_json(j, 0);
    CHECK(strstr(json, "\"topology\":null,"));
    free(json);
    free(j->topology);
    j->topology = xstrdup("hierarchical");

    /*  coalesced: a burst of changes is one write per interval */
    coord_records_t *recs = coord_records_new();
    s_writes_t wr = { 0 };
    coord_records_touch(recs, "auth/v1");
    CHECK(coord_records_due(recs, s, 1000, s_write, &wr) == 1 && wr.writes == 1);
    for (int64_t t = 1000; t < 2000; t += 10) {
        coord_records_touch(recs, "auth/v1");
        coord_records_touch(recs, "auth/v1");
        coord_records_due(recs, s, t, s_write, &wr);
    }
    CHECK(wr.writes >= 4 && wr.writes <= 5 && wr.finals == 0);
    CHECK(coord_records_pending(recs) == 1);
    int before = wr.writes;
    CHECK(coord_records_due(recs, s, 2000 + COORD_RECORD_INTERVAL_MS, s_write, &wr) == 1);
    CHECK(wr.writes == before + 1 && coord_records_pending(recs) == 0);
    CHECK(coord_records_due(recs, s, 9000, s_write, &wr) == 0);     /*  nothing changed */

    /*  the final write goes at once, whatever the interval */
    s_done(s, ag, a, "succeeded");
    coord_sched_dispatch(s, 0, 0);
    CHECK(b->state == SW_TS_RUNNING);
    s_done(s, ag, b, "failed");
    CHECK(coord_record_final(j) && strcmp(coord_record_status(j), "failed") == 0);
    coord_records_touch(recs, "auth/v1");
    CHECK(coord_records_due(recs, s, 9001, s_write, &wr) == 1 && wr.finals == 1);
    coord_records_touch(recs, "auth/v1");       /*  right after: still final, at once */
    CHECK(coord_records_due(recs, s, 9002, s_write, &wr) == 1 && wr.finals == 2);
    doc = json_loads(wr.last, 0, NULL);
    c = json_object_get(doc, "counts");
    CHECK(strcmp(json_string_value(json_object_get(doc, "status")), "failed") == 0);
    CHECK(json_integer_value(json_object_get(c, "succeeded")) == 1
          && json_integer_value(json_object_get(c, "failed")) == 1
          && json_integer_value(json_object_get(c, "running")) == 0);
    json_decref(doc);

    /*  more tasks right after the end: the reopen waits for the interval
     *  (a roundtrip's next SUBMIT writes no record), the end goes at once */
    coord_task_t *c2 = s_submit(s, "auth/v1", "coder-2");
    CHECK(c2 && strcmp(coord_record_status(j), "running") == 0);
    coord_records_touch(recs, "auth/v1");
    CHECK(coord_records_due(recs, s, 9003, s_write, &wr) == 0 && coord_records_pending(recs) == 1);
    coord_sched_dispatch(s, 0, 0);
    s_done(s, ag, c2, "succeeded");
    coord_records_touch(recs, "auth/v1");
    CHECK(coord_records_due(recs, s, 9004, s_write, &wr) == 1 && wr.finals == 3);
    CHECK(coord_records_pending(recs) == 0);
    coord_task_t *c3 = s_submit(s, "auth/v1", "coder-3");
    coord_records_touch(recs, "auth/v1");
    CHECK(c3 && coord_records_due(recs, s, 9005, s_write, &wr) == 0);
    CHECK(coord_records_due(recs, s, 9004 + COORD_RECORD_INTERVAL_MS, s_write, &wr) == 1
          && wr.finals == 3 && strstr(wr.last, "\"status\":\"running\""));
    coord_sched_dispatch(s, 0, 0);
    s_done(s, ag, c3, "succeeded");
    coord_records_touch(recs, "auth/v1");
    CHECK(coord_records_due(recs, s, 9006 + COORD_RECORD_INTERVAL_MS, s_write, &wr) == 1
          && wr.finals == 4);

    /*  every task succeeded: succeeded */
    coord_job_t *k = coord_sched_job_ensure(s, "k", 0);
    coord_task_t *only = s_submit(s, "k", "only");
    coord_sched_dispatch(s, 0, 0);
    s_done(s, ag, only, "succeeded");
    CHECK(strcmp(coord_record_status(k), "succeeded") == 0);

    /*  a job the scheduler forgot is forgotten here too */
    coord_records_touch(recs, "gone");
    CHECK(coord_records_pending(recs) == 1);
    CHECK(coord_records_due(recs, s, 10000, s_write, &wr) == 0 && coord_records_pending(recs) == 0);

    /*  a big job: the first COORD_RECORD_MAX_WORKERS ids, and a mark */
    coord_job_t *big = coord_sched_job_ensure(s, "big", 0);
    for (int i = 0; i < COORD_RECORD_MAX_WORKERS + 5; i++) {
        char id[32];
        snprintf(id, sizeof id, "t%d", i);
        CHECK(s_submit(s, "big", id));
    }
    CHECK(s_same_as_tree(big, 0) && s_same_as_tree(k, 1764499699123LL));
    json = coord_record_json(big, 0);
    doc = json_loads(json, 0, NULL);
    CHECK(json_array_size(json_object_get(doc, "workers")) == COORD_RECORD_MAX_WORKERS);
    CHECK(json_is_true(json_object_get(doc, "workers_truncated")));
    CHECK(json_integer_value(json_object_get(json_object_get(doc, "counts"), "total"))
          == COORD_RECORD_MAX_WORKERS + 5);
    json_decref(doc);
    free(json);

    coord_records_destroy(&recs);
    coord_sched_destroy(&s);
    (void) verbose;
    return 0;
}
