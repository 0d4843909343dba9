/*  cli_logs -- `swarm logs`: a task's output, live while it runs.
 *
 *  Everything comes from Redis (docs/redis.md), so it works from any host
 *  and while the coordinator is down: the task hash says the attempt and
 *  the status, the attempt's stream (agent/agent_live.h) holds the output
 *  as the agent shipped it, the stored result the final answer.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "sw_live.h"
#include "sw_render.h"
#include "sw_results.h"

#define READ_COUNT   200        /*  entries per read */
#define BLOCK_MS     1000       /*  one blocking read waits at most this long */
#define ENDED_MS     100        /*  after an attempt's end entry, the status is asked this often */
#define QUIET_MS     100        /*  ... and while its stream has no entry: a run that succeeds
                                    without output writes none, not even an end (issue 20) */

/*  A line --tail holds back, as it came (NUL and bytes that are not
 *  UTF-8 included). */
typedef struct {
    int      stream;
    int64_t  t;
    char    *line;
    size_t   n;
    uint64_t dropped;
} s_kept_t;

/*  How lines are printed: text or JSON lines, rendered or raw; on a
 *  terminal (tty_out, tty_err, never with --raw) shown, not obeyed
 *  (sw_term_sanitize). */
typedef struct {
    bool        json, raw;
    bool        tty_out, tty_err;
    const char *runner;
    int64_t     t;              /*  of the entry being printed */
    int         stream;         /*  SW_LIVE_OUT or SW_LIVE_ERR */
    sw_buf_t    rendered;
    /*  --tail: lines are kept here, and the last ones printed */
    bool        keep;
    s_kept_t   *kept;
    size_t      nkept, kept_cap;
    json_t     *live;           /*  non-follow --json: the "live" array */
} s_out_t;

static void
s_emit_now(s_out_t *o, int stream, int64_t t, const char *line, size_t n, uint64_t dropped)
{
    if (o->live || o->json) {
        sw_buf_t clean;
        sw_buf_init(&clean);
        sw_utf8_sanitize(line, n, &clean);
        json_t *j = json_pack("{s:I, s:s, s:s%}", "t", (json_int_t) t, "stream",
                              stream == SW_LIVE_ERR ? "stderr" : "stdout", "line",
                              clean.data ? clean.data : "", clean.len);
        sw_buf_release(&clean);
        if (dropped)
            json_object_set_new(j, "dropped", json_integer((json_int_t) dropped));
        if (o->live) {
            json_array_append_new(o->live, j);
            return;
        }
        char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(j);
        puts(s ? s : "null");
        free(s);
        return;
    }
    FILE *f = stream == SW_LIVE_ERR ? stderr : stdout;
    cli_term_write(f, stream == SW_LIVE_ERR ? o->tty_err : o->tty_out, line, n);
    fputc('\n', f);
}

static void
s_emit(s_out_t *o, int stream, int64_t t, const char *line, size_t n, uint64_t dropped)
{
    if (!o->keep) {
        s_emit_now(o, stream, t, line, n, dropped);
        return;
    }
    if (o->nkept == o->kept_cap) {
        o->kept_cap = o->kept_cap ? o->kept_cap * 2 : 64;
        o->kept = xrealloc(o->kept, o->kept_cap * sizeof *o->kept);
    }
    char *copy = xmalloc(n + 1);
    memcpy(copy, line, n);
    copy[n] = '\0';
    o->kept[o->nkept++] = (s_kept_t) { stream, t, copy, n, dropped };
}

static void
s_kept_release(s_out_t *o)
{
    for (size_t i = 0; i < o->nkept; i++)
        free(o->kept[i].line);
    free(o->kept);
    o->kept = NULL;
    o->nkept = o->kept_cap = 0;
}

/*  One line of the task: rendered (codex, claude events on stdout) or as
 *  it came. */
static void
s_task_line(void *arg, const char *line, size_t n)
{
    s_out_t *o = arg;
    if (o->raw || o->stream == SW_LIVE_ERR || !sw_render_events(o->runner)) {
        s_emit(o, o->stream, o->t, line, n, 0);
        return;
    }
    sw_buf_reset(&o->rendered);
    sw_render_line(o->runner, line, n, &o->rendered);
    const char *p = o->rendered.data, *end = p + o->rendered.len;
    while (p && p < end) {
        const char *nl = memchr(p, '\n', (size_t) (end - p));
        size_t len = nl ? (size_t) (nl - p) : (size_t) (end - p);
        s_emit(o, o->stream, o->t, p, len, 0);
        p += len + 1;
    }
}

static void
s_entry(s_out_t *o, const sw_live_entry_t *e)
{
    if (e->kind != SW_LIVE_OUT && e->kind != SW_LIVE_ERR)
        return;
    o->t = e->t;
    o->stream = e->kind;
    if (e->dropped) {
        char note[80];
        int n = snprintf(note, sizeof note, "[... %llu line%s dropped ...]",
                         (unsigned long long) e->dropped, e->dropped == 1 ? "" : "s");
        s_emit(o, e->kind, e->t, note, (size_t) n, e->dropped);
    }
    sw_live_lines(e, s_task_line, o);
}

/*  The last n lines kept by --tail, printed; keeping stops. */
static void
s_flush_kept(s_out_t *o, long long n)
{
    size_t total = o->nkept;
    size_t from = n >= 0 && (size_t) n < total ? total - (size_t) n : 0;
    o->keep = false;
    for (size_t i = from; i < total; i++) {
        const s_kept_t *k = &o->kept[i];
        s_emit_now(o, k->stream, k->t, k->line, k->n, k->dropped);
    }
    s_kept_release(o);
}

/*  swarm's own lines (an attempt starts, why one could not run): stderr,
 *  or a JSON line of stream "swarm". */
static void
s_note(s_out_t *o, long long attempt, const char *agent, const char *text)
{
    if (o->json) {
        json_t *j = json_pack("{s:I, s:s, s:s, s:I}", "t", (json_int_t) sw_wall_ms(), "stream",
                              "swarm", "line", text, "attempt", (json_int_t) attempt);
        if (agent && *agent)
            json_object_set_new(j, "agent", json_string(agent));
        char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(j);
        puts(s ? s : "null");
        free(s);
    }
    else {
        fputs("swarm: ", stderr);
        cli_term_write(stderr, o->tty_err, text, strlen(text));
        fputc('\n', stderr);
    }
}

/*  --- the task hash ---------------------------------------------------------------- */

typedef struct {
    char      status[32];
    long long attempt;
    char      agent[160];
    bool      found;
} s_state_t;

/*  status, attempt and agent of the task (one small round trip). */
static int
s_state(cli_t *cli, const char *job, const char *id, s_state_t *st, sw_err_t *err)
{
    char *key = sw_key_task(job, id);
    redisReply *r = sw_redis_cmdv(cli->redis, err, "HMGET", key, "status", "attempt", "agent",
                                  NULL);
    free(key);
    if (!r)
        return -1;
    memset(st, 0, sizeof *st);
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 3) {
        if (r->element[0]->type == REDIS_REPLY_STRING) {
            st->found = true;
            snprintf(st->status, sizeof st->status, "%s", r->element[0]->str);
        }
        if (r->element[1]->type == REDIS_REPLY_STRING)
            st->attempt = atoll(r->element[1]->str);
        if (r->element[2]->type == REDIS_REPLY_STRING)
            snprintf(st->agent, sizeof st->agent, "%s", r->element[2]->str);
    }
    freeReplyObject(r);
    return 0;
}

static bool
s_final(const char *status)
{
    int st = sw_tstate_parse(status);
    return st >= 0 && SW_TS_FINAL(st);
}

/*  --- the document of `logs --json` (and of the MCP tool swarm_logs) --------------- */

json_t *
cli_logs_doc(cli_t *cli, const char *job, const char *id, long long live_tail, bool raw,
             int *code)
{
    if (!sw_id_valid(id)) {
        *code = cli_fail(EXIT_USAGE, "logs: invalid task id '%s'", id);
        return NULL;
    }
    if (!cli_redis(cli)) {
        *code = EXIT_UNREACHABLE;
        return NULL;
    }
    sw_err_t err = { 0 };
    sw_result_row_t row = { 0 };
    if (sw_results_row(cli->redis, job, id, &row, &err) < 0) {
        sw_result_row_release(&row);
        *code = cli_fail(cli_redis_exit(&err), "%s", err.msg);
        return NULL;
    }
    json_t *doc = sw_result_doc(&row, job);
    if (!json_object_get(doc, "stderr_tail"))
        json_object_set_new(doc, "stderr_tail", json_null());
    /*  No result yet: what the attempt printed so far. */
    if (!row.result && live_tail != 0 && row.attempt > 0) {
        s_out_t o = { .raw = raw, .runner = row.runner, .keep = true, .live = json_array() };
        sw_buf_init(&o.rendered);
        char *key = sw_key_task_log(job, id, row.attempt);
        sw_live_batch_t b = { 0 };
        uint64_t want = live_tail < 0 ? UINT64_MAX / 4 : (uint64_t) live_tail * 2;
        if (sw_live_tail(cli->redis, key, want, &b, &err) == 0) {
            for (size_t i = 0; i < b.n; i++)
                s_entry(&o, &b.v[i]);
            s_flush_kept(&o, live_tail);
            json_object_set(doc, "live", o.live);
        }
        sw_live_batch_release(&b);
        free(key);
        json_decref(o.live);
        s_kept_release(&o);
        sw_buf_release(&o.rendered);
    }
    sw_result_row_release(&row);
    *code = 0;
    return doc;
}

/*  --- follow ------------------------------------------------------------------------ */

/*  Reads the rest of key after cursor (no waiting) and prints it. */
static int
s_drain(cli_t *cli, s_out_t *o, const char *key, char *cursor, size_t cursor_n, sw_err_t *err)
{
    for (;;) {
        sw_live_batch_t b = { 0 };
        if (sw_live_range(cli->redis, key, cursor, READ_COUNT, &b, err) < 0)
            return -1;
        for (size_t i = 0; i < b.n; i++) {
            s_entry(o, &b.v[i]);
            snprintf(cursor, cursor_n, "%s", b.v[i].id);
        }
        size_t n = b.n;
        sw_live_batch_release(&b);
        fflush(stdout);
        if (n < READ_COUNT)
            return 0;
    }
}

/*  The last line: the task's final status, from its hash and result. */
static int
s_final_line(cli_t *cli, s_out_t *o, const char *job, const char *id)
{
    sw_err_t err = { 0 };
    sw_result_row_t row = { 0 };
    if (sw_results_row(cli->redis, job, id, &row, &err) < 0) {
        sw_result_row_release(&row);
        return cli_fail(cli_redis_exit(&err), "%s", err.msg);
    }
    json_t *ec = row.result ? json_object_get(row.result, "exit_code") : NULL;
    json_t *dur = row.result ? json_object_get(row.result, "duration_ms") : NULL;
    int rc = row.status && strcmp(row.status, "succeeded") == 0 ? 0 : EXIT_TASKS_FAILED;
    if (o->json) {
        json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:o, s:o, s:o, s:o}", "status",
                              row.status ? row.status : "unknown", "job", job, "id", id,
                              "attempt", (json_int_t) row.attempt,
                              "agent", row.agent && *row.agent ? json_string(row.agent)
                                                               : json_null(),
                              "exit_code", json_is_integer(ec) ? json_copy(ec) : json_null(),
                              "duration_ms", json_is_integer(dur) ? json_copy(dur) : json_null(),
                              "reason", row.reason && *row.reason ? json_string(row.reason)
                                                                  : json_null());
        char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(j);
        puts(s ? s : "null");
        free(s);
    }
    else {
        char d[32] = "", c[32] = "";
        if (json_is_integer(dur))
            cli_duration(json_integer_value(dur), d, sizeof d);
        if (json_is_integer(ec))
            snprintf(c, sizeof c, "exit %lld, ", (long long) json_integer_value(ec));
        char *line = xasprintf("swarm: task %s %s (%sattempt %ld%s%s%s%s)%s%s\n", id,
                               row.status ? row.status : "unknown", c, row.attempt,
                               row.agent && *row.agent ? " on " : "", row.agent ? row.agent : "",
                               *d ? ", " : "", d, row.reason && *row.reason ? ": " : "",
                               row.reason ? row.reason : "");
        cli_term_write(stderr, o->tty_err, line, strlen(line));
        free(line);
    }
    fflush(stdout);
    sw_result_row_release(&row);
    return rc;
}

/*  Follows the task from attempt st->attempt until it is final. cursor:
 *  where to go on in that attempt's stream. */
static int
s_follow(cli_t *cli, s_out_t *o, const char *job, const char *id, s_state_t *st,
         char *cursor)
{
    long long attempt = st->attempt;
    bool ended = false, trouble = false;
    int64_t asked_ms = sw_now_ms(), backoff_ms = 0;
    for (;;) {
        sw_err_t err = { 0 };
        char *keys[2] = { sw_key_task_log(job, id, attempt), sw_key_task_log(job, id, attempt + 1) };
        const char *after[2] = { cursor, "0" };
        sw_live_batch_t b[2] = { { 0 }, { 0 } };
        int rc = sw_live_read(cli->redis, 2, (const char *const *) keys, after, READ_COUNT,
                              ended ? ENDED_MS : strcmp(cursor, "0") == 0 ? QUIET_MS
                                                                           : BLOCK_MS, b, &err);
        bool next_started = false;
        if (rc == 0) {
            for (size_t i = 0; i < b[0].n; i++) {
                s_entry(o, &b[0].v[i]);
                snprintf(cursor, 48, "%s", b[0].v[i].id);
                if (b[0].v[i].kind == SW_LIVE_END) {
                    ended = true;
                    if (b[0].v[i].len) {
                        char *text = xasprintf("attempt %lld ended: %s", attempt,
                                               b[0].v[i].data);
                        s_note(o, attempt, NULL, text);
                        free(text);
                    }
                }
            }
            fflush(stdout);
            next_started = b[1].n > 0 && b[0].n < READ_COUNT;
        }
        size_t got = b[0].n;
        sw_live_batch_release(&b[0]);
        sw_live_batch_release(&b[1]);
        /*  The task hash after an end entry, when nothing came, once a
         *  second, and when the next attempt's stream has begun. */
        int64_t now = sw_now_ms();
        s_state_t now_st;
        if (rc == 0 && (ended || got == 0 || next_started || now - asked_ms >= BLOCK_MS)) {
            asked_ms = now;
            rc = s_state(cli, job, id, &now_st, &err);
        }
        else
            now_st = *st;
        if (rc < 0 && err.code != SW_EUNREACH) {
            /*  Redis refused (a key that is not a stream): no retry helps */
            free(keys[0]);
            free(keys[1]);
            return cli_fail(cli_redis_exit(&err), "%s", err.msg);
        }
        if (rc < 0) {
            /*  Redis is away: say so once, wait, and go on where we were
             *  (sw_redis connects again on the next command). */
            if (!trouble)
                fprintf(stderr, "swarm: %s; trying again\n", err.msg);
            trouble = true;
            backoff_ms = backoff_ms ? (backoff_ms * 2 > 5000 ? 5000 : backoff_ms * 2) : 250;
            usleep((useconds_t) backoff_ms * 1000);
            free(keys[0]);
            free(keys[1]);
            continue;
        }
        if (trouble)
            fprintf(stderr, "swarm: Redis answers again; going on\n");
        trouble = false;
        backoff_ms = 0;
        *st = now_st;
        if (!st->found) {
            free(keys[0]);
            free(keys[1]);
            return cli_fail(EXIT_NOT_FOUND, "task %s of job %s is gone from Redis", id, job);
        }
        long long to = st->attempt > attempt ? st->attempt : next_started ? attempt + 1 : 0;
        if (to || (s_final(st->status) && st->attempt <= attempt)) {
            /*  This attempt is over: what is left of it first. */
            if (attempt > 0 && s_drain(cli, o, keys[0], cursor, 48, &err) < 0) {
                free(keys[0]);
                free(keys[1]);
                continue;       /*  the next round reports the trouble */
            }
        }
        free(keys[0]);
        free(keys[1]);
        if (to) {
            attempt = to;
            snprintf(cursor, 48, "0");
            ended = false;
            char line[256];
            snprintf(line, sizeof line, "attempt %lld%s%s", attempt, *st->agent ? " on " : "",
                     st->agent);
            s_note(o, attempt, st->agent, line);
            continue;
        }
        if (s_final(st->status))
            return s_final_line(cli, o, job, id);
    }
}

/*  --- swarm logs ------------------------------------------------------------------------- */

static const char s_usage[] =
    "usage: swarm logs [-f] [--tail N] [--raw] [--job JOB] [--json] [--] ID\n"
    "A task's output. Without -f: a finished task's result (its output on stdout,\n"
    "its stderr tail on stderr), or what a running task printed so far.\n"
    "-f, --follow  print the output as it comes, from any agent, from the start\n"
    "              (or the last N lines), through retries (a line names each new\n"
    "              attempt) and Redis outages, until the task is final; then a\n"
    "              status line. Exit 0 when it succeeded, 1 otherwise.\n"
    "--tail N      only the last N lines\n"
    "--raw         codex's and claude's events as they came, not rendered as\n"
    "              progress lines\n"
    "--json        without -f: one document, the task's result with its status\n"
    "              (output null while there is none; a running task's lines so far\n"
    "              in \"live\"). With -f: JSON lines {\"t\",\"stream\",\"line\"} (stream\n"
    "              stdout, stderr, or swarm for swarm's own lines), then one\n"
    "              {\"status\",...} line.\n";

int
cli_logs(cli_t *cli, int argc, char **argv)
{
    static const sw_arg_t lo[] = {
        { "job", 'j', true, 'j' }, { "follow", 'f', false, 'f' }, { "tail", 'n', true, 'n' },
        { "raw", 0, false, 'R' }, { NULL, 0, false, 0 },
    };
    const char *jobflag = NULL;
    bool follow = false, raw = false;
    long long tail = -1;
    int c;
    cli_args_t a;
    cli_args_init(&a, cli, "logs", lo, argc, argv, 0);
    while ((c = cli_args_next(&a)) != -1) {
        switch (c) {
        case 'j': jobflag = a.g.arg; break;
        case 'f': follow = true; break;
        case 'R': raw = true; break;
        case 'n':
            if (sw_parse_int(a.g.arg, 0, 100000000, &tail) < 0) {
                cli_args_release(&a);
                return cli_fail(EXIT_USAGE, "logs: --tail wants a number of lines (0 to "
                                "100000000), got '%s'", a.g.arg);
            }
            break;
        case 'h': cli_args_release(&a); fputs(s_usage, stdout); return 0;
        default: cli_args_release(&a); return EXIT_USAGE;
        }
    }
    char *id = a.g.npos == 1 ? xstrdup(a.g.pos[0]) : NULL;
    int npos = a.g.npos;
    cli_args_release(&a);
    if (!id)
        return cli_fail(EXIT_USAGE, "logs: name one task id%s (see swarm logs --help)",
                        npos > 1 ? ", not several" : "");
    if (!sw_id_valid(id) || (jobflag && !sw_id_valid(jobflag))) {
        int rc = !sw_id_valid(id) ? cli_fail(EXIT_USAGE, "logs: invalid task id '%s'", id)
                                  : cli_fail(EXIT_USAGE, "logs: invalid job name '%s'", jobflag);
        free(id);
        return rc;
    }
    if (!cli_redis(cli)) {
        free(id);
        return EXIT_UNREACHABLE;
    }
    char *job = cli_current_job(cli, jobflag);
    if (!job) {
        free(id);
        return cli_fail(EXIT_NOT_FOUND, "no job given and no current job (swarm init)");
    }
    int rc = 0;
    sw_err_t err = { 0 };
    sw_result_row_t row = { 0 };
    if (sw_results_row(cli->redis, job, id, &row, &err) < 0) {
        rc = cli_fail(cli_redis_exit(&err), "%s", err.msg);
        goto out;
    }
    s_out_t o = { .json = cli->json, .raw = raw, .runner = row.runner,
                  .tty_out = !raw && isatty(STDOUT_FILENO), .tty_err = !raw && isatty(STDERR_FILENO) };
    sw_buf_init(&o.rendered);
    if (!follow) {
        if (cli->json) {
            json_t *doc = cli_logs_doc(cli, job, id, tail, raw, &rc);
            if (doc)
                cli_print_json(doc);
        }
        else if (row.result) {
            /*  final: the stored result (the runner's answer) */
            const char *output = json_string_value(json_object_get(row.result, "output"));
            const char *etail = json_string_value(json_object_get(row.result, "stderr_tail"));
            if (output && tail >= 0) {
                size_t len = strlen(output), end = len && output[len - 1] == '\n' ? len - 1 : len;
                size_t from = end;
                long long lines = 0;
                while (from > 0 && !(output[from - 1] == '\n' && ++lines == tail))
                    from--;
                output += tail == 0 ? len : from;
            }
            cli_term_write(stdout, o.tty_out, output ? output : "", output ? strlen(output) : 0);
            if (etail && *etail)
                cli_term_write(stderr, o.tty_err, etail, strlen(etail));
        }
        else if (row.attempt > 0) {
            char *key = sw_key_task_log(job, id, row.attempt);
            sw_live_batch_t b = { 0 };
            o.keep = true;
            uint64_t want = tail < 0 ? UINT64_MAX / 4 : (uint64_t) tail * 2;
            if (sw_live_tail(cli->redis, key, want, &b, &err) < 0)
                rc = cli_fail(cli_redis_exit(&err), "%s", err.msg);
            for (size_t i = 0; i < b.n; i++)
                s_entry(&o, &b.v[i]);
            s_flush_kept(&o, tail);
            sw_live_batch_release(&b);
            free(key);
            fflush(stdout);
            fprintf(stderr, "swarm: task %s is %s (attempt %ld%s%s)%s%s; swarm logs -f %s "
                    "follows it\n", id, row.status, row.attempt, row.agent ? " on " : "",
                    row.agent ? row.agent : "", row.reason && *row.reason ? ": " : "",
                    row.reason ? row.reason : "", id);
        }
        else
            fprintf(stderr, "swarm: task %s is %s%s%s; no output yet\n", id, row.status,
                    row.reason && *row.reason ? ": " : "", row.reason ? row.reason : "");
        sw_buf_release(&o.rendered);
        goto out;
    }
    /*  follow */
    s_state_t st = { .attempt = row.attempt, .found = true };
    snprintf(st.status, sizeof st.status, "%s", row.status);
    snprintf(st.agent, sizeof st.agent, "%s", row.agent ? row.agent : "");
    char cursor[48] = "0";
    if (tail >= 0 && row.attempt > 0) {
        char *key = sw_key_task_log(job, id, row.attempt);
        sw_live_batch_t b = { 0 };
        o.keep = true;
        bool rendering = !raw && sw_render_events(row.runner);
        if (sw_live_tail(cli->redis, key, (uint64_t) tail * (rendering ? 2 : 1), &b, &err) < 0)
            rc = cli_fail(cli_redis_exit(&err), "%s", err.msg);
        for (size_t i = 0; i < b.n; i++) {
            s_entry(&o, &b.v[i]);
            snprintf(cursor, sizeof cursor, "%s", b.v[i].id);
        }
        s_flush_kept(&o, tail);
        sw_live_batch_release(&b);
        free(key);
    }
    if (rc == 0)
        rc = s_follow(cli, &o, job, id, &st, cursor);
    sw_buf_release(&o.rendered);
out:
    sw_result_row_release(&row);
    free(job);
    free(id);
    return rc;
}

/*  --- the activity line of `swarm wait` ----------------------------------------------- */

typedef struct {
    char             **lines;
    const char *const *runners;
} s_act_t;

/*  The last line of one entry's lines that shows something. */
typedef struct {
    const char *runner;
    sw_buf_t    last;
} s_last_t;

static void
s_act_line(void *arg, const char *line, size_t n)
{
    s_last_t *l = arg;
    sw_buf_t r;
    sw_buf_init(&r);
    sw_render_line(l->runner, line, n, &r);
    /*  the last non-empty rendered line */
    size_t end = r.len;
    while (end > 0) {
        while (end > 0 && (r.data[end - 1] == '\n' || r.data[end - 1] == ' '))
            end--;
        size_t start = end;
        while (start > 0 && r.data[start - 1] != '\n')
            start--;
        if (end > start) {
            /*  one line of a terminal display: no control characters */
            sw_buf_reset(&l->last);
            for (size_t i = start; i < end; i++) {
                unsigned char c = (unsigned char) r.data[i];
                char ch = c == '\t' ? ' ' : c < 0x20 || c == 0x7f ? '?' : (char) c;
                sw_buf_add(&l->last, &ch, 1);
            }
            sw_buf_add(&l->last, "", 0);
            break;
        }
        end = start;
    }
    sw_buf_release(&r);
}

static void
s_act_reply(void *arg, int i, redisReply *reply)
{
    s_act_t *a = arg;
    sw_live_batch_t b = { 0 };
    sw_live_parse(reply, &b);
    s_last_t l = { a->runners[i], { 0 } };
    for (size_t k = 0; k < b.n && !l.last.len; k++)      /*  newest first */
        sw_live_lines(&b.v[k], s_act_line, &l);
    a->lines[i] = l.last.len ? l.last.data : NULL;
    if (!a->lines[i])
        sw_buf_release(&l.last);
    sw_live_batch_release(&b);
}

int
cli_live_activity(cli_t *cli, const char *job, char *const *ids, const long long *attempts,
                  const char *const *runners, size_t n, char **lines)
{
    for (size_t i = 0; i < n; i++)
        lines[i] = NULL;
    if (!n)
        return 0;
    if (!cli_redis(cli))
        return -1;
    for (size_t i = 0; i < n; i++) {
        char *key = sw_key_task_log(job, ids[i], attempts[i]);
        const char *argv[] = { "XREVRANGE", key, "+", "-", "COUNT", "8" };
        sw_redis_append(cli->redis, 6, argv, NULL);
        free(key);
    }
    sw_err_t err = { 0 };
    s_act_t a = { lines, runners };
    return sw_redis_flush_each(cli->redis, s_act_reply, &a, &err);
}
