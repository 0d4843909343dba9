/*  cli_events -- `swarm events`: a job's history, from its event log in
 *  Redis (common/sw_events.h), so from any host and while the coordinator
 *  is down. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "sw_events.h"
#include "sw_results.h"

#define PAGE       1000         /*  events per read */
#define BLOCK_MS   1000

static void
s_print(cli_t *cli, const sw_event_t *e)
{
    if (cli->json) {
        json_t *j = sw_event_json(e);
        char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(j);
        puts(s ? s : "null");
        free(s);
        return;
    }
    sw_buf_t b;
    sw_buf_init(&b);
    char clock[20];
    sw_event_clock(e->t, clock);
    sw_buf_printf(&b, "%s  ", clock);
    sw_event_text(e, &b);
    sw_buf_add(&b, "\n", 1);
    /*  reasons carry what tasks, hooks and submitters wrote */
    cli_term_write(stdout, isatty(STDOUT_FILENO), b.data, b.len);
    sw_buf_release(&b);
}

static bool
s_wanted(const sw_event_t *e, const char *task)
{
    return !task || (e->task && strcmp(e->task, task) == 0);
}

/*  Whether the job is complete now (every task final). */
static int
s_complete(cli_t *cli, const char *job, bool *complete, sw_err_t *err)
{
    char *key = sw_key_job(job);
    redisReply *r = sw_redis_cmdv(cli->redis, err, "HEXISTS", key, "complete", NULL);
    free(key);
    if (!r)
        return -1;
    *complete = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    return 0;
}

static const char s_usage[] =
    "usage: swarm events [-f] [--job JOB] [--task ID] [--tail N] [--json]\n"
    "The job's history (default: the current job), from its event log in Redis:\n"
    "submitted, queued, dispatched to AGENT (attempt N), started, finished STATUS,\n"
    "retried, skipped, cancelled and lost with the reason, agents lost, left,\n"
    "revoked or draining, the job complete.\n"
    "-f, --follow  then the events as they happen, until the job is complete\n"
    "--task ID     only the events of task ID\n"
    "--tail N      only the last N events (of the task, looking back 100,000)\n"
    "--json        one JSON object per line: {t, event, task?, attempt?, agent?,\n"
    "              status?, exit_code?, reason?, count?, ids?, retry_ms?, counts?}\n";

int
cli_events(cli_t *cli, int argc, char **argv)
{
    static const sw_arg_t lo[] = {
        { "job", 'j', true, 'j' }, { "follow", 'f', false, 'f' }, { "tail", 'n', true, 'n' },
        { "task", 't', true, 't' }, { NULL, 0, false, 0 },
    };
    const char *jobflag = NULL, *task = NULL;
    bool follow = false;
    long long tail = -1;
    int c, rc = 0;
    cli_args_t a;
    cli_args_init(&a, cli, "events", lo, argc, argv, 0);
    while (rc == 0 && (c = cli_args_next(&a)) != -1) {
        switch (c) {
        case 'j': jobflag = a.g.arg; break;
        case 't': task = a.g.arg; break;
        case 'f': follow = true; break;
        case 'n':
            if (sw_parse_int(a.g.arg, 0, 100000000, &tail) < 0)
                rc = cli_fail(EXIT_USAGE, "events: --tail wants a number of events (0 to "
                              "100000000), got '%s'", a.g.arg);
            break;
        case 'h': fputs(s_usage, stdout); rc = -1; break;
        default: rc = EXIT_USAGE;
        }
    }
    if (rc == 0 && a.g.npos)
        rc = cli_fail(EXIT_USAGE, "events: unexpected argument '%s' (the job is --job JOB)",
                      a.g.pos[0]);
    char *taskid = task ? xstrdup(task) : NULL, *jobarg = jobflag ? xstrdup(jobflag) : NULL;
    cli_args_release(&a);
    if (rc == 0 && taskid && !sw_id_valid(taskid))
        rc = cli_fail(EXIT_USAGE, "events: invalid task id '%s'", taskid);
    if (rc == 0 && jobarg && !sw_id_valid(jobarg))
        rc = cli_fail(EXIT_USAGE, "events: invalid job name '%s'", jobarg);
    if (rc) {
        free(taskid);
        free(jobarg);
        return rc < 0 ? 0 : rc;
    }
    if (!cli_redis(cli)) {
        free(taskid);
        free(jobarg);
        return EXIT_UNREACHABLE;
    }
    char *job = cli_current_job(cli, jobarg);
    free(jobarg);
    if (!job) {
        free(taskid);
        return cli_fail(EXIT_NOT_FOUND, "no job given and no current job (swarm init)");
    }
    sw_err_t err = { 0 };
    char *jkey = sw_key_job(job);
    redisReply *ex = sw_redis_cmdv(cli->redis, &err, "EXISTS", jkey, NULL);
    free(jkey);
    if (!ex || ex->integer != 1) {
        rc = ex ? cli_fail(EXIT_NOT_FOUND, "no job '%s' in Redis at %s", job,
                           sw_redis_addr(cli->redis))
                : cli_fail(cli_redis_exit(&err), "%s", err.msg);
        if (ex)
            freeReplyObject(ex);
        free(job);
        free(taskid);
        return rc;
    }
    freeReplyObject(ex);
    char cursor[48] = "0";
    /*  what is there now */
    if (tail >= 0) {
        sw_events_t b = { 0 };
        if (sw_events_tail(cli->redis, job, taskid, (size_t) tail, 100000, &b, &err) < 0)
            rc = cli_fail(cli_redis_exit(&err), "%s", err.msg);
        for (size_t i = 0; i < b.n; i++)
            s_print(cli, &b.v[i]);
        /*  follow on from the newest entry, whoever it was about */
        sw_events_t last = { 0 };
        if (rc == 0 && sw_events_tail(cli->redis, job, NULL, 1, 1, &last, &err) == 0 && last.n)
            snprintf(cursor, sizeof cursor, "%s", last.v[0].id);
        sw_events_release(&last);
        sw_events_release(&b);
    }
    else {
        for (;;) {
            sw_events_t b = { 0 };
            if (sw_events_range(cli->redis, job, cursor, PAGE, &b, &err) < 0) {
                rc = cli_fail(cli_redis_exit(&err), "%s", err.msg);
                break;
            }
            for (size_t i = 0; i < b.n; i++) {
                if (s_wanted(&b.v[i], taskid))
                    s_print(cli, &b.v[i]);
                snprintf(cursor, sizeof cursor, "%s", b.v[i].id);
            }
            size_t n = b.n;
            sw_events_release(&b);
            if (n < PAGE)
                break;
        }
    }
    fflush(stdout);
    /*  then as they happen, until the job is complete */
    bool trouble = false, done = false;
    int64_t backoff = 0;
    if (rc == 0 && follow) {
        bool complete = false;
        if (s_complete(cli, job, &complete, &err) == 0 && complete)
            done = true;
    }
    while (rc == 0 && follow && !done) {
        sw_events_t b = { 0 };
        if (sw_events_read(cli->redis, job, cursor, PAGE, BLOCK_MS, &b, &err) < 0) {
            if (err.code != SW_EUNREACH) {
                /*  refused (not a stream): asking again would not help */
                rc = cli_fail(cli_redis_exit(&err), "%s", err.msg);
                break;
            }
            if (!trouble)
                fprintf(stderr, "swarm: %s; trying again\n", err.msg);
            trouble = true;
            backoff = backoff ? (backoff * 2 > 5000 ? 5000 : backoff * 2) : 250;
            usleep((useconds_t) backoff * 1000);
            continue;
        }
        if (trouble)
            fprintf(stderr, "swarm: Redis answers again; going on\n");
        trouble = false;
        backoff = 0;
        bool saw_complete = false;
        size_t n = b.n;
        for (size_t i = 0; i < b.n; i++) {
            if (s_wanted(&b.v[i], taskid))
                s_print(cli, &b.v[i]);
            snprintf(cursor, sizeof cursor, "%s", b.v[i].id);
            saw_complete = saw_complete || strcmp(b.v[i].e, "complete") == 0;
        }
        sw_events_release(&b);
        fflush(stdout);
        bool complete = false;
        /*  After the complete event (more tasks may have come since: is it
         *  still?), and whenever nothing came (the event may have been lost
         *  while Redis was away). */
        if ((saw_complete || n == 0) && s_complete(cli, job, &complete, &err) == 0 && complete)
            done = true;
    }
    free(job);
    free(taskid);
    return rc;
}

/*  --- swarm status [--job JOB] ID ---------------------------------------------------- */

#define STATUS_EVENTS 10

int
cli_task_status(cli_t *cli, const char *jobflag, const char *id)
{
    if (!sw_id_valid(id))
        return cli_fail(EXIT_USAGE, "status: invalid task id '%s'", id);
    if (jobflag && !sw_id_valid(jobflag))
        return cli_fail(EXIT_USAGE, "status: invalid job name '%s'", jobflag);
    if (!cli_redis(cli))
        return EXIT_UNREACHABLE;
    char *job = cli_current_job(cli, jobflag);
    if (!job)
        return cli_fail(EXIT_NOT_FOUND, "no job given and no current job (swarm init)");
    sw_err_t err = { 0 };
    sw_result_row_t row = { 0 };
    int rc = 0;
    if (sw_results_row(cli->redis, job, id, &row, &err) < 0) {
        rc = cli_fail(cli_redis_exit(&err), "%s", err.msg);
        goto out;
    }
    sw_events_t ev = { 0 };
    char *ev_error = NULL;
    if (sw_events_tail(cli->redis, job, id, STATUS_EVENTS, 100000, &ev, &err) < 0) {
        if (err.code == SW_EUNREACH) {
            rc = cli_fail(EXIT_UNREACHABLE, "%s", err.msg);
            goto out;
        }
        /*  Redis refused the read of the log (its key is not a stream):
         *  the task is still shown, with why its events are not. */
        ev_error = xstrdup(err.msg);
        sw_events_release(&ev);
    }
    json_t *ec = row.result ? json_object_get(row.result, "exit_code") : NULL;
    if (cli->json) {
        json_t *doc = json_pack("{s:s, s:s, s:s, s:I, s:o, s:o, s:o, s:o, s:I, s:I}", "id", id,
                                "job", job, "status", row.status ? row.status : "unknown",
                                "attempt", (json_int_t) row.attempt,
                                "runner", row.runner ? json_string(row.runner) : json_null(),
                                "agent", row.agent && *row.agent ? json_string(row.agent)
                                                                 : json_null(),
                                "exit_code", json_is_integer(ec) ? json_copy(ec) : json_null(),
                                "reason", row.reason && *row.reason ? json_string(row.reason)
                                                                    : json_null(),
                                "started", (json_int_t) row.started,
                                "finished", (json_int_t) row.finished);
        json_t *events = json_array();
        for (size_t i = 0; i < ev.n; i++)
            json_array_append_new(events, sw_event_json(&ev.v[i]));
        json_object_set_new(doc, "events", events);
        if (ev_error)
            json_object_set_new(doc, "events_error", json_string(ev_error));
        cli_print_json(doc);
    }
    else {
        char dur[32];
        cli_duration(row.started ? (row.finished ? row.finished : sw_wall_ms()) - row.started
                                 : -1, dur, sizeof dur);
        sw_buf_t b;
        sw_buf_init(&b);
        sw_buf_printf(&b, "task %s of job %s: %s, attempt %ld%s%s, %s", id, job, row.status,
                      row.attempt, row.agent && *row.agent ? " on " : "",
                      row.agent ? row.agent : "", dur);
        if (json_is_integer(ec))
            sw_buf_printf(&b, ", exit %lld", (long long) json_integer_value(ec));
        sw_buf_printf(&b, "%s%s\n", row.reason && *row.reason ? ": " : "",
                      row.reason ? row.reason : "");
        if (ev_error)
            sw_buf_printf(&b, "last events: cannot be read: %s\n", ev_error);
        else
            sw_buf_printf(&b, "last events:%s\n", ev.n ? "" : " none (swarm events shows the job's)");
        for (size_t i = 0; i < ev.n; i++) {
            char clock[20];
            sw_event_clock(ev.v[i].t, clock);
            sw_buf_printf(&b, "  %s  ", clock);
            sw_event_text(&ev.v[i], &b);
            sw_buf_add(&b, "\n", 1);
        }
        /*  reasons carry what tasks, hooks and submitters wrote */
        cli_term_write(stdout, isatty(STDOUT_FILENO), b.data, b.len);
        sw_buf_release(&b);
    }
    sw_events_release(&ev);
    free(ev_error);
out:
    sw_result_row_release(&row);
    free(job);
    return rc;
}
