/*  cli_ws -- workspaces on the user's side: the snapshot behind
 *  --workspace (init, spawn, run), the tasks of a job as the commands
 *  that bring their work home read them (cli_ws_apply.c: diff, apply;
 *  cli_ws_outputs.c: outputs), and purge (docs/workspaces.md). They read
 *  Redis and run git; none talks to the coordinator.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "sw_live.h"
#include "sw_plan.h"
#include "sw_ws.h"
#include "cli_ws.h"

int
cli_ws_option(const char *cmd, int c, const char *arg, cli_ws_opts_t *o)
{
    switch (c) {
    case CLI_WS_WORKSPACE:
        o->dir = arg;
        return 0;
    case CLI_WS_REPO_URL:
        if (!*arg || arg[0] == '-')
            return cli_fail(EXIT_USAGE, "%s: --repo-url wants a git URL, got '%s'", cmd, arg);
        o->repo_url = arg;
        return 0;
    case CLI_WS_MAX_SNAPSHOT:
    case CLI_WS_MAX_FILE:
        /*  0 is refused: it read as "no cap given", the default, silently */
        if (sw_parse_size(arg, c == CLI_WS_MAX_FILE ? &o->max_file : &o->max_snapshot) < 0
            || (c == CLI_WS_MAX_FILE ? o->max_file : o->max_snapshot) == 0)
            return cli_fail(EXIT_USAGE, "%s: %s wants a size above 0 (bytes, or 512K, 100M, "
                            "2G), got '%s'", cmd, c == CLI_WS_MAX_FILE ? "--max-file" : "--max-snapshot",
                            arg);
        return 0;
    }
    return cli_fail(EXIT_USAGE, "%s: unknown option", cmd);
}

int
cli_ws_snapshot(cli_t *cli, const char *job, const char *dir, const cli_ws_opts_t *o,
                sw_task_ws_t *out, char **prefix)
{
    if (!cli_redis(cli))
        return EXIT_UNREACHABLE;
    sw_cas_t cas;
    sw_cas_init(&cas, cli->redis, job, 0);
    sw_ws_snap_opts_t so = { .dir = dir, .repo_url = o->repo_url,
                             .max_snapshot = o->max_snapshot, .max_file = o->max_file };
    sw_ws_snap_stats_t st;
    sw_err_t err = { 0 };
    int64_t t0 = sw_now_ms();
    if (sw_ws_snapshot(&so, &cas, out, &st, &err) < 0) {
        sw_ws_snap_stats_release(&st);
        return cli_fail(err.code == SW_EINVAL ? EXIT_USAGE : err.code == SW_EUNREACH
                        ? EXIT_UNREACHABLE : EXIT_TASKS_FAILED, "%s", err.msg);
    }
    if (!cli->json) {
        char size[32], sent[32];
        sw_fmt_size(st.bytes, size);
        sw_fmt_size(cas.sent, sent);
        fprintf(stderr, "swarm: workspace %s: %ld files, %s, snapshot %.12s (%s%s, %lld ms)\n",
                st.toplevel, st.files, size, out->commit,
                out->url && !out->manifest ? "agents fetch it from " : st.reused
                ? "stored before" : "stored ", out->url && !out->manifest ? out->url
                : st.reused ? "" : sent, (long long) (sw_now_ms() - t0));
    }
    if (prefix)
        *prefix = st.prefix && *st.prefix ? xstrdup(st.prefix) : NULL;
    sw_ws_snap_stats_release(&st);
    return 0;
}

/*  A plan's directory relative to its file's. */
static char *
s_plan_dir(const char *plan_file, const char *dir)
{
    if (dir[0] == '/' || !plan_file || strcmp(plan_file, "-") == 0)
        return xstrdup(dir);
    const char *slash = strrchr(plan_file, '/');
    if (!slash)
        return xstrdup(dir);
    return xasprintf("%.*s/%s", (int) (slash - plan_file), plan_file, dir);
}

int
cli_ws_plan(cli_t *cli, void *planp, const char *job, const char *plan_file,
            const cli_ws_opts_t *o, sw_task_ws_t *job_ws)
{
    sw_plan_t *plan = planp;
    /*  realpath -> its snapshot (JSON), so one directory is sent once */
    json_t *done = json_object();
    char *job_prefix = NULL;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i <= plan->n; i++) {
        /*  i == plan->n: the job's own */
        char *dir = NULL;
        if (i < plan->n && plan->tasks[i].workspace)
            dir = s_plan_dir(plan_file, plan->tasks[i].workspace);
        else if (i == plan->n && o->dir)
            dir = xstrdup(o->dir);
        else if (i == plan->n && plan->workspace)
            dir = s_plan_dir(plan_file, plan->workspace);
        if (!dir)
            continue;
        char *real = realpath(dir, NULL);
        if (!real) {
            rc = cli_fail(EXIT_USAGE, "run: workspace %s: %s", dir, strerror(errno));
            free(dir);
            break;
        }
        sw_task_ws_t ws = { 0 };
        sw_err_t err = { 0 };
        char *prefix = NULL;
        json_t *have = json_object_get(done, real);
        if (have) {
            sw_task_ws_from_json(have, &ws, &err);
            const char *p = json_string_value(json_object_get(have, "prefix"));
            prefix = p ? xstrdup(p) : NULL;
        }
        else if ((rc = cli_ws_snapshot(cli, job, dir, o, &ws, &prefix)) == 0) {
            json_t *w = sw_task_ws_json(&ws);
            if (prefix)
                json_object_set_new(w, "prefix", json_string(prefix));
            json_object_set_new(done, real, w);
        }
        /*  A task starts where its workspace was given, unless its dir
         *  says otherwise (dir is relative to the work tree's top). */
        if (rc == 0 && i < plan->n) {
            sw_task_ws_release(&plan->tasks[i].task.ws);
            plan->tasks[i].task.ws = ws;
            if (prefix && !plan->tasks[i].task.dir)
                plan->tasks[i].task.dir = xstrdup(prefix);
        }
        else if (rc == 0) {
            sw_task_ws_release(job_ws);
            *job_ws = ws;
            job_prefix = prefix;
            prefix = NULL;
        }
        else
            sw_task_ws_release(&ws);
        free(prefix);
        free(real);
        free(dir);
    }
    for (size_t i = 0; rc == 0 && job_prefix && i < plan->n; i++)
        if (!plan->tasks[i].workspace && !plan->tasks[i].task.dir)
            plan->tasks[i].task.dir = xstrdup(job_prefix);
    free(job_prefix);
    json_decref(done);
    return rc;
}

/*  --- the tasks of a job, from Redis ---------------------------------------------- */

static void
s_task_fill(void *arg, int i, redisReply *r)
{
    cli_ws_task_t *t = &((cli_ws_task_t *) arg)[i];
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2)
        return;
    if (r->element[0]->type == REDIS_REPLY_STRING)
        t->status = xstrdup(r->element[0]->str);
    if (r->element[1]->type == REDIS_REPLY_STRING)
        t->result = json_loadb(r->element[1]->str, r->element[1]->len, 0, NULL);
}

void
cli_ws_tasks_free(cli_ws_task_t *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(t[i].id);
        free(t[i].status);
        json_decref(t[i].result);
    }
    free(t);
}

/*  Every task of job in submit order; an exit code after printing why. */
static int
s_load(cli_t *cli, const char *job, cli_ws_task_t **out, size_t *n)
{
    sw_err_t err = { 0 };
    char *key = sw_key_job_tasks(job);
    redisReply *ids = sw_redis_cmdv(cli->redis, &err, "LRANGE", key, "0", "-1", NULL);
    free(key);
    if (!ids)
        return cli_fail(EXIT_UNREACHABLE, "%s", err.msg);
    if (ids->elements == 0) {
        freeReplyObject(ids);
        return cli_fail(EXIT_NOT_FOUND, "no job '%s' with tasks in Redis at %s", job,
                        sw_redis_addr(cli->redis));
    }
    cli_ws_task_t *t = xcalloc(ids->elements + 1, sizeof *t);
    for (size_t i = 0; i < ids->elements; i++) {
        t[i].id = xstrdup(ids->element[i]->str);
        key = sw_key_task(job, t[i].id);
        const char *argv[] = { "HMGET", key, "status", "result" };
        sw_redis_append(cli->redis, 4, argv, NULL);
        free(key);
    }
    *n = ids->elements;
    freeReplyObject(ids);
    if (sw_redis_flush_each(cli->redis, s_task_fill, t, &err) < 0) {
        cli_ws_tasks_free(t, *n);
        return cli_fail(EXIT_UNREACHABLE, "%s", err.msg);
    }
    *out = t;
    return 0;
}

cli_ws_task_t *
cli_ws_find(cli_ws_task_t *t, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].id, id) == 0)
            return &t[i];
    return NULL;
}

json_t *
cli_ws_of(const cli_ws_task_t *t)
{
    json_t *w = json_object_get(t->result, "workspace");
    return json_is_object(w) ? w : NULL;
}

/*  Whether the task changed its tree. */
bool
cli_ws_changed(const cli_ws_task_t *t)
{
    json_t *w = cli_ws_of(t);
    const char *base = json_string_value(json_object_get(w, "base"));
    const char *commit = json_string_value(json_object_get(w, "commit"));
    return base && commit && strcmp(base, commit) != 0
        && json_string_value(json_object_get(w, "manifest"));
}

void
cli_ws_stat_text(const json_t *result, char *out, size_t n)
{
    json_t *w = json_object_get(result, "workspace");
    *out = '\0';
    if (!json_is_object(w))
        return;
    long files = (long) json_integer_value(json_object_get(w, "files"));
    if (files == 0)
        snprintf(out, n, "no change");
    else
        snprintf(out, n, "+%lld -%lld (%ld file%s)",
                 (long long) json_integer_value(json_object_get(w, "insertions")),
                 (long long) json_integer_value(json_object_get(w, "deletions")), files,
                 files == 1 ? "" : "s");
}

/*  The job and its tasks, for the commands below. */
int
cli_ws_open(cli_t *cli, const char *jobflag, char **job, cli_ws_task_t **tasks, size_t *n)
{
    if (!cli_redis(cli))
        return EXIT_UNREACHABLE;
    *job = cli_current_job(cli, jobflag);
    if (!*job)
        return cli_fail(EXIT_NOT_FOUND, "no job given and no current job (swarm init)");
    int rc = s_load(cli, *job, tasks, n);
    if (rc) {
        free(*job);
        *job = NULL;
    }
    return rc;
}

/*  --- purge --------------------------------------------------------------------------- */

int
cli_purge(cli_t *cli, int argc, char **argv)
{
    static const char usage[] =
        "usage: swarm purge --job JOB [--force]\n"
        "Removes what the job stored in Redis of its workspaces: snapshots, changes,\n"
        "patches and build outputs. Content another job still uses stays for it.\n"
        "Also its tasks' live output streams (swarm logs -f) and its event log\n"
        "(swarm events). The job's results and state stay; swarm diff, apply and\n"
        "outputs then say the content is gone. A job with unfinished tasks is\n"
        "refused (their snapshot would go from under them) unless --force.\n";
    static const sw_arg_t lo[] = { { "job", 0, true, 'j' }, { "force", 0, false, 'f' },
                                   { NULL, 0, false, 0 } };
    const char *job = NULL;
    bool force = false;
    int c, rc = 0;
    cli_args_t a;
    cli_args_init(&a, cli, "purge", lo, argc, argv, 0);
    while (rc == 0 && (c = cli_args_next(&a)) != -1) {
        switch (c) {
        case 'j': job = a.g.arg; break;
        case 'f': force = true; break;
        case 'h': fputs(usage, stdout); rc = -1; break;
        default: rc = EXIT_USAGE;
        }
    }
    int npos = a.g.npos;
    cli_args_release(&a);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (!job || npos)
        return cli_fail(EXIT_USAGE, "purge: name the job with --job JOB (it is never the "
                        "current job by default)");
    if (!cli_redis(cli))
        return EXIT_UNREACHABLE;
    sw_err_t err = { 0 };
    char *key = sw_key_job(job);
    redisReply *ex = sw_redis_cmdv(cli->redis, &err, "EXISTS", key, NULL);
    free(key);
    if (!ex)
        return cli_fail(EXIT_UNREACHABLE, "%s", err.msg);
    bool exists = ex->type == REDIS_REPLY_INTEGER && ex->integer == 1;
    freeReplyObject(ex);
    if (!exists)
        return cli_fail(EXIT_NOT_FOUND, "purge: no job '%s' in Redis at %s", job,
                        sw_redis_addr(cli->redis));
    /*  A job is complete while its every task is final (the coordinator's
     *  `complete` field); one with tasks still to run would lose the
     *  snapshot they start from on any agent that lacks it. */
    key = sw_key_job(job);
    char *tkey = sw_key_job_tasks(job);
    redisReply *done = force ? NULL : sw_redis_cmdv(cli->redis, &err, "HEXISTS", key,
                                                     "complete", NULL);
    redisReply *ntasks = done ? sw_redis_cmdv(cli->redis, &err, "LLEN", tkey, NULL) : NULL;
    free(key);
    free(tkey);
    if (!force && !ntasks) {
        freeReplyObject(done);
        return cli_fail(EXIT_UNREACHABLE, "%s", err.msg);
    }
    bool live = !force && done->type == REDIS_REPLY_INTEGER && done->integer == 0
        && ntasks->type == REDIS_REPLY_INTEGER && ntasks->integer > 0;
    if (!force) {
        freeReplyObject(done);
        freeReplyObject(ntasks);
    }
    if (live)
        return cli_fail(EXIT_USAGE, "purge: job %s has tasks that are not finished: their "
                        "snapshot would go from under them (swarm wait or swarm cancel first, "
                        "or purge --force)", job);
    long deleted = 0, kept = 0, logs = 0;
    if (sw_cas_purge_job(cli->redis, job, &deleted, &kept, &err) < 0
        || sw_live_purge_job(cli->redis, job, &logs, &err) < 0)
        return cli_fail(cli_redis_exit(&err), "purge: %s", err.msg);
    if (cli->json)
        cli_print_json(json_pack("{s:s, s:I, s:I, s:I}", "job", job, "deleted",
                                 (json_int_t) deleted, "kept", (json_int_t) kept,
                                 "logs", (json_int_t) logs));
    else
        printf("job %s: %ld stored entr%s removed, %ld kept for other jobs; %ld key%s of live "
               "output and events removed\n", job, deleted, deleted == 1 ? "y" : "ies", kept,
               logs, logs == 1 ? "" : "s");
    return 0;
}
