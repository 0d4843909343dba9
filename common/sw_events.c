/*  sw_events -- see sw_events.h */
#include "sw_events.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sw_keys.h"
#include "sw_selftest.h"

static void
s_event_release(sw_event_t *e)
{
    free(e->e);
    free(e->task);
    free(e->agent);
    free(e->status);
    free(e->reason);
    free(e->ids);
    free(e->counts);
}

void
sw_events_release(sw_events_t *b)
{
    for (size_t i = 0; i < b->n; i++)
        s_event_release(&b->v[i]);
    free(b->v);
    b->v = NULL;
    b->n = 0;
}

static bool
s_parse_one(const redisReply *r, sw_event_t *e)
{
    memset(e, 0, sizeof *e);
    e->n = e->retry_ms = -1;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2
        || r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_ARRAY
        || r->element[0]->len >= sizeof e->id)
        return false;
    memcpy(e->id, r->element[0]->str, r->element[0]->len);
    const redisReply *f = r->element[1];
    for (size_t k = 0; k + 1 < f->elements; k += 2) {
        const redisReply *name = f->element[k], *v = f->element[k + 1];
        if (name->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        const char *fn = name->str;
        char **s = strcmp(fn, "e") == 0 ? &e->e : strcmp(fn, "task") == 0 ? &e->task
                 : strcmp(fn, "agent") == 0 ? &e->agent : strcmp(fn, "status") == 0 ? &e->status
                 : strcmp(fn, "reason") == 0 ? &e->reason : strcmp(fn, "ids") == 0 ? &e->ids
                 : strcmp(fn, "counts") == 0 ? &e->counts : NULL;
        if (s && !*s)
            *s = xstrndup(v->str, v->len);
        else if (strcmp(fn, "t") == 0)
            e->t = atoll(v->str);
        else if (strcmp(fn, "attempt") == 0)
            e->attempt = atol(v->str);
        else if (strcmp(fn, "code") == 0) {
            e->code = atoi(v->str);
            e->has_code = true;
        }
        else if (strcmp(fn, "n") == 0)
            e->n = atol(v->str);
        else if (strcmp(fn, "retry_ms") == 0)
            e->retry_ms = atol(v->str);
    }
    if (!e->e)
        e->e = xstrdup("?");
    return true;
}

void
sw_events_parse(const redisReply *entries, sw_events_t *b)
{
    if (!entries || entries->type != REDIS_REPLY_ARRAY)
        return;
    b->v = xrealloc(b->v, (b->n + entries->elements + 1) * sizeof *b->v);
    for (size_t i = 0; i < entries->elements; i++)
        if (s_parse_one(entries->element[i], &b->v[b->n]))
            b->n++;
}

void
sw_event_clock(int64_t t, char out[20])
{
    time_t secs = (time_t) (t / 1000);
    struct tm tm;
    localtime_r(&secs, &tm);
    snprintf(out, 20, "%02d:%02d:%02d.%03d", tm.tm_hour % 100, tm.tm_min % 100, tm.tm_sec % 100,
             (int) ((t % 1000 + 1000) % 1000));
}

/*  " (attempt N on AGENT)" from what the event has. */
static void
s_where(sw_buf_t *out, const sw_event_t *e, const char *code_word)
{
    bool open = false;
    if (code_word && e->has_code) {
        sw_buf_printf(out, " (%s %d", code_word, e->code);
        open = true;
    }
    if (e->attempt) {
        sw_buf_printf(out, "%sattempt %ld", open ? ", " : " (", e->attempt);
        open = true;
    }
    if (e->agent) {
        sw_buf_printf(out, "%s%s", open ? " on " : " (on ", e->agent);
        open = true;
    }
    if (open)
        sw_buf_addstr(out, ")");
}

static const char *
s_or(const char *s, const char *dflt)
{
    return s && *s ? s : dflt;
}

void
sw_event_text(const sw_event_t *e, sw_buf_t *out)
{
    const char *ev = e->e, *task = s_or(e->task, "?");
    if (strcmp(ev, "submitted") == 0) {
        long n = e->n > 0 ? e->n : 1;
        sw_buf_printf(out, "submitted %ld task%s", n, n == 1 ? "" : "s");
        if (e->ids && *e->ids) {
            long listed = 1;
            for (const char *p = e->ids; *p; p++)
                listed += *p == ',';
            sw_buf_printf(out, ": %s", e->ids);
            for (char *p = out->data + out->len - strlen(e->ids); *p; p++)
                if (*p == ',')
                    *p = ' ';
            if (n > listed)
                sw_buf_printf(out, " and %ld more", n - listed);
        }
    }
    else if (strcmp(ev, "queued") == 0)
        sw_buf_printf(out, "queued %s%s%s", task, e->reason ? ": " : "", s_or(e->reason, ""));
    else if (strcmp(ev, "dispatched") == 0)
        sw_buf_printf(out, "dispatched %s to %s (attempt %ld)", task, s_or(e->agent, "?"),
                      e->attempt);
    else if (strcmp(ev, "started") == 0)
        sw_buf_printf(out, "started %s on %s (attempt %ld)", task, s_or(e->agent, "?"),
                      e->attempt);
    else if (strcmp(ev, "finished") == 0) {
        sw_buf_printf(out, "finished %s %s", task, s_or(e->status, "?"));
        s_where(out, e, "exit");
        if (e->reason && *e->reason)
            sw_buf_printf(out, ": %s", e->reason);
    }
    else if (strcmp(ev, "retried") == 0) {
        sw_buf_printf(out, "retried %s: %s", task, s_or(e->reason, "a retryable failure"));
        s_where(out, e, NULL);
        if (e->retry_ms >= 0)
            sw_buf_printf(out, "; next attempt in %.1f s", (double) e->retry_ms / 1000);
    }
    else if (strcmp(ev, "skipped") == 0 || strcmp(ev, "cancelled") == 0
             || strcmp(ev, "lost") == 0 || strcmp(ev, "cancelling") == 0) {
        sw_buf_printf(out, "%s %s", ev, task);
        if (strcmp(ev, "skipped") != 0)
            s_where(out, e, NULL);
        if (e->reason && *e->reason)
            sw_buf_printf(out, ": %s", e->reason);
    }
    else if (strncmp(ev, "agent_", 6) == 0) {
        const char *what = strcmp(ev, "agent_lost") == 0 ? "lost"
                         : strcmp(ev, "agent_left") == 0 ? "left"
                         : strcmp(ev, "agent_revoked") == 0 ? "revoked"
                         : strcmp(ev, "agent_drained") == 0 ? "draining" : ev + 6;
        sw_buf_printf(out, "agent %s %s", s_or(e->agent, "?"), what);
        if (e->reason && *e->reason)
            sw_buf_printf(out, ": %s", e->reason);
        if (e->n >= 0) {
            if (strcmp(ev, "agent_drained") == 0)
                sw_buf_printf(out, " (it finishes its %ld task%s of this job, takes no new ones)",
                              e->n, e->n == 1 ? "" : "s");
            else
                sw_buf_printf(out, " (%ld task%s of this job ran there)", e->n,
                              e->n == 1 ? "" : "s");
        }
    }
    else if (strcmp(ev, "complete") == 0)
        sw_buf_printf(out, "complete: %ld task%s%s%s", e->n, e->n == 1 ? "" : "s",
                      e->counts ? ", " : "", s_or(e->counts, ""));
    else if (strcmp(ev, "resumed") == 0)
        sw_buf_printf(out, "resumed by a restarted coordinator: %ld task%s%s%s", e->n,
                      e->n == 1 ? "" : "s", e->counts ? ", " : "", s_or(e->counts, ""));
    else if (strcmp(ev, "events_lost") == 0)
        sw_buf_printf(out, "%ld event%s lost while Redis was away", e->n, e->n == 1 ? "" : "s");
    else
        sw_buf_printf(out, "%s%s%s", ev, e->task ? " " : "", s_or(e->task, ""));
}

json_t *
sw_event_json(const sw_event_t *e)
{
    json_t *o = json_pack("{s:I, s:s}", "t", (json_int_t) e->t, "event", e->e);
    if (e->task)
        json_object_set_new(o, "task", json_string(e->task));
    if (e->attempt)
        json_object_set_new(o, "attempt", json_integer(e->attempt));
    if (e->agent)
        json_object_set_new(o, "agent", json_string(e->agent));
    if (e->status)
        json_object_set_new(o, "status", json_string(e->status));
    if (e->has_code)
        json_object_set_new(o, "exit_code", json_integer(e->code));
    if (e->reason)
        json_object_set_new(o, "reason", json_string(e->reason));
    if (e->n >= 0)
        json_object_set_new(o, "count", json_integer(e->n));
    if (e->ids) {
        json_t *ids = json_array();
        char *copy = xstrdup(e->ids), *save = NULL;
        for (char *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save))
            json_array_append_new(ids, json_string(p));
        free(copy);
        json_object_set_new(o, "ids", ids);
    }
    if (e->retry_ms >= 0)
        json_object_set_new(o, "retry_ms", json_integer(e->retry_ms));
    if (e->counts)
        json_object_set_new(o, "counts", json_string(e->counts));
    return o;
}

/*  --- reading ----------------------------------------------------------------------------- */

int
sw_events_range(sw_redis_t *r, const char *job, const char *after, size_t count,
                sw_events_t *b, sw_err_t *err)
{
    char start[64], n[24];
    if (!after || !*after || strcmp(after, "0") == 0)
        snprintf(start, sizeof start, "-");
    else
        snprintf(start, sizeof start, "(%s", after);
    snprintf(n, sizeof n, "%zu", count);
    char *key = sw_key_job_events(job);
    redisReply *rep = sw_redis_cmdv(r, err, "XRANGE", key, start, "+", "COUNT", n, NULL);
    free(key);
    if (!rep)
        return -1;
    sw_events_parse(rep, b);
    freeReplyObject(rep);
    return 0;
}

int
sw_events_tail(sw_redis_t *r, const char *job, const char *task, size_t n, size_t scan,
               sw_events_t *b, sw_err_t *err)
{
    sw_events_t rev = { 0 };
    char *key = sw_key_job_events(job);
    char end[64] = "+";
    size_t page = task ? 500 : (n ? n : 1), seen = 0, kept = 0;
    int rc = 0;
    while (kept < n) {
        char cnt[24];
        snprintf(cnt, sizeof cnt, "%zu", page);
        redisReply *rep = sw_redis_cmdv(r, err, "XREVRANGE", key, end, "-", "COUNT", cnt, NULL);
        if (!rep) {
            rc = -1;
            break;
        }
        sw_events_t got = { 0 };
        sw_events_parse(rep, &got);
        size_t elements = rep->type == REDIS_REPLY_ARRAY ? rep->elements : 0;
        freeReplyObject(rep);
        if (got.n)
            snprintf(end, sizeof end, "(%s", got.v[got.n - 1].id);
        rev.v = xrealloc(rev.v, (rev.n + got.n + 1) * sizeof *rev.v);
        for (size_t i = 0; i < got.n; i++) {
            if (kept < n && (!task || (got.v[i].task && strcmp(got.v[i].task, task) == 0))) {
                rev.v[rev.n++] = got.v[i];
                kept++;
            }
            else
                s_event_release(&got.v[i]);
        }
        free(got.v);
        seen += elements;
        if (elements < page || !task || seen >= scan)
            break;
    }
    free(key);
    b->v = xrealloc(b->v, (b->n + rev.n + 1) * sizeof *b->v);
    for (size_t i = rev.n; i-- > 0; )
        b->v[b->n++] = rev.v[i];
    free(rev.v);
    return rc;
}

int
sw_events_read(sw_redis_t *r, const char *job, const char *after, size_t count, int block_ms,
               sw_events_t *b, sw_err_t *err)
{
    char n[24], ms[24];
    snprintf(n, sizeof n, "%zu", count);
    snprintf(ms, sizeof ms, "%d", block_ms);
    char *key = sw_key_job_events(job);
    redisReply *rep = sw_redis_cmdv(r, err, "XREAD", "COUNT", n, "BLOCK", ms, "STREAMS", key,
                                    after && *after ? after : "0", NULL);
    free(key);
    if (!rep)
        return -1;
    for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++) {
        const redisReply *s = rep->element[i];
        if (s->type == REDIS_REPLY_ARRAY && s->elements == 2)
            sw_events_parse(s->element[1], b);
    }
    freeReplyObject(rep);
    return 0;
}

/*  --- self-test -------------------------------------------------------------------------- */

static const char *
s_text(sw_event_t *e, sw_buf_t *b)
{
    sw_buf_reset(b);
    sw_event_text(e, b);
    sw_buf_add(b, "", 0);
    return b->data;
}

int
sw_events_test(bool verbose)
{
    sw_buf_t b;
    sw_buf_init(&b);
    sw_event_t e = { .e = "submitted", .n = 5, .retry_ms = -1, .ids = "a,b,c" };
    CHECK(strcmp(s_text(&e, &b), "submitted 5 tasks: a b c and 2 more") == 0);
    e = (sw_event_t) { .e = "submitted", .n = 1, .retry_ms = -1, .ids = "lint/src:main.c@v1+o" };
    CHECK(strcmp(s_text(&e, &b), "submitted 1 task: lint/src:main.c@v1+o") == 0);
    e = (sw_event_t) { .e = "dispatched", .task = "coder", .agent = "a2", .attempt = 2, .n = -1,
                       .retry_ms = -1 };
    CHECK(strcmp(s_text(&e, &b), "dispatched coder to a2 (attempt 2)") == 0);
    e.e = "started";
    CHECK(strcmp(s_text(&e, &b), "started coder on a2 (attempt 2)") == 0);
    e = (sw_event_t) { .e = "finished", .task = "t", .agent = "a1", .attempt = 1, .status = "failed",
                       .code = 3, .has_code = true, .n = -1, .retry_ms = -1 };
    CHECK(strcmp(s_text(&e, &b), "finished t failed (exit 3, attempt 1 on a1)") == 0);
    e = (sw_event_t) { .e = "retried", .task = "t", .agent = "a1", .attempt = 1,
                       .reason = "crashed (SIGSEGV)", .n = -1, .retry_ms = 1500 };
    CHECK(strcmp(s_text(&e, &b), "retried t: crashed (SIGSEGV) (attempt 1 on a1); next attempt "
                 "in 1.5 s") == 0);
    e = (sw_event_t) { .e = "skipped", .task = "t", .reason = "dependency b failed", .n = -1,
                       .retry_ms = -1 };
    CHECK(strcmp(s_text(&e, &b), "skipped t: dependency b failed") == 0);
    e = (sw_event_t) { .e = "agent_lost", .agent = "a1", .reason = "agent stopped answering",
                       .n = 2, .retry_ms = -1 };
    CHECK(strcmp(s_text(&e, &b), "agent a1 lost: agent stopped answering (2 tasks of this job "
                 "ran there)") == 0);
    e = (sw_event_t) { .e = "agent_drained", .agent = "a1", .n = 1, .retry_ms = -1 };
    CHECK(strcmp(s_text(&e, &b), "agent a1 draining (it finishes its 1 task of this job, takes "
                 "no new ones)") == 0);
    e = (sw_event_t) { .e = "complete", .n = 4, .counts = "3 succeeded, 1 failed", .retry_ms = -1 };
    CHECK(strcmp(s_text(&e, &b), "complete: 4 tasks, 3 succeeded, 1 failed") == 0);
    e = (sw_event_t) { .e = "resumed", .n = 3, .counts = "1 running, 2 final", .retry_ms = -1 };
    CHECK(strcmp(s_text(&e, &b), "resumed by a restarted coordinator: 3 tasks, 1 running, 2 "
                 "final") == 0);
    e = (sw_event_t) { .e = "future", .task = "x", .n = -1, .retry_ms = -1 };
    CHECK(strcmp(s_text(&e, &b), "future x") == 0);
    e = (sw_event_t) { .t = 1700000000123, .e = "submitted", .n = 2, .ids = "a,b", .retry_ms = -1 };
    json_t *j = sw_event_json(&e);
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    CHECK(strcmp(s, "{\"t\":1700000000123,\"event\":\"submitted\",\"count\":2,"
                 "\"ids\":[\"a\",\"b\"]}") == 0);
    free(s);
    json_decref(j);
    char clock[20];
    sw_event_clock(1700000000123, clock);
    CHECK(strlen(clock) == 12 && clock[2] == ':' && strcmp(clock + 8, ".123") == 0);
    sw_buf_release(&b);
    (void) verbose;
    return 0;
}
