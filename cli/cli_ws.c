/*  cli_ws -- workspaces on the user's side: the snapshot behind
 *  --workspace (init, spawn, run), and the commands that bring tasks'
 *  work home: diff, apply, outputs, purge (docs/workspaces.md). They read
 *  Redis and run git; none talks to the coordinator.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "sw_live.h"
#include "sw_plan.h"
#include "sw_ws.h"

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
        if (sw_parse_size(arg, c == CLI_WS_MAX_FILE ? &o->max_file : &o->max_snapshot) < 0)
            return cli_fail(EXIT_USAGE, "%s: %s wants a size (bytes, or 512K, 100M, 2G), got "
                            "'%s'", cmd, c == CLI_WS_MAX_FILE ? "--max-file" : "--max-snapshot",
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

typedef struct {
    char   *id;
    char   *status;
    json_t *result;
} s_task_t;

static void
s_task_fill(void *arg, int i, redisReply *r)
{
    s_task_t *t = &((s_task_t *) arg)[i];
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2)
        return;
    if (r->element[0]->type == REDIS_REPLY_STRING)
        t->status = xstrdup(r->element[0]->str);
    if (r->element[1]->type == REDIS_REPLY_STRING)
        t->result = json_loadb(r->element[1]->str, r->element[1]->len, 0, NULL);
}

static void
s_tasks_free(s_task_t *t, size_t n)
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
s_load(cli_t *cli, const char *job, s_task_t **out, size_t *n)
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
    s_task_t *t = xcalloc(ids->elements + 1, sizeof *t);
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
        s_tasks_free(t, *n);
        return cli_fail(EXIT_UNREACHABLE, "%s", err.msg);
    }
    *out = t;
    return 0;
}

static s_task_t *
s_find(s_task_t *t, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].id, id) == 0)
            return &t[i];
    return NULL;
}

static json_t *
s_ws(const s_task_t *t)
{
    json_t *w = json_object_get(t->result, "workspace");
    return json_is_object(w) ? w : NULL;
}

/*  Whether the task changed its tree. */
static bool
s_changed(const s_task_t *t)
{
    json_t *w = s_ws(t);
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
static int
s_open(cli_t *cli, const char *jobflag, char **job, s_task_t **tasks, size_t *n)
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

/*  --- diff ------------------------------------------------------------------------ */

static int
s_sink_file(void *arg, const void *data, size_t n, sw_err_t *err)
{
    if (fwrite(data, 1, n, arg) != n)
        return sw_err_set(err, SW_EFAIL, "write: %s", strerror(errno));
    return 0;
}

static int
s_sink_git(void *arg, const void *data, size_t n, sw_err_t *err)
{
    return sw_git_write(arg, data, n, err);
}

static int
s_sink_buf(void *arg, const void *data, size_t n, sw_err_t *err)
{
    sw_buf_add(arg, data, n);
    (void) err;
    return 0;
}

/*  The patch's blob description, from the task's result. */
static json_t *
s_patch_blob(cli_t *cli, sw_cas_t *cas, const s_task_t *t, int *rc)
{
    const char *digest = json_string_value(json_object_get(s_ws(t), "patch"));
    sw_buf_t text;
    sw_buf_init(&text);
    sw_err_t err = { 0 };
    json_t *blob = NULL;
    if (sw_cas_get(cas, digest, SW_CAS_DOC_MAX, &text, &err) == 0)
        blob = json_loadb(text.data, text.len, 0, NULL);
    sw_buf_release(&text);
    if (!blob)
        *rc = cli_fail(err.code == SW_ENOTFOUND ? EXIT_NOT_FOUND : err.code == SW_EUNREACH
                       ? EXIT_UNREACHABLE : EXIT_TASKS_FAILED, "diff: task %s: %s", t->id,
                       err.code ? err.msg : "its patch is malformed");
    (void) cli;
    return blob;
}

int
cli_diff(cli_t *cli, int argc, char **argv)
{
    static const char usage[] =
        "usage: swarm diff [--job JOB] [--stat] ID\n"
        "Prints the change task ID made to its workspace as a git patch (binary-safe:\n"
        "git apply takes it), or with --stat its diffstat. Nothing when the task\n"
        "changed nothing.\n";
    static const sw_arg_t lo[] = {
        { "job", 0, true, 'j' }, { "stat", 0, false, 's' }, { NULL, 0, false, 0 },
    };
    const char *jobflag = NULL, *id = NULL;
    bool stat = false;
    int c, rc = 0;
    cli_args_t a;
    cli_args_init(&a, cli, "diff", lo, argc, argv, 0);
    while (rc == 0 && (c = cli_args_next(&a)) != -1) {
        switch (c) {
        case 'j': jobflag = a.g.arg; break;
        case 's': stat = true; break;
        case 'h': fputs(usage, stdout); rc = -1; break;
        default: rc = EXIT_USAGE;
        }
    }
    if (rc == 0 && a.g.npos != 1)
        rc = cli_fail(EXIT_USAGE, "diff: name one task (see swarm diff --help)");
    if (rc == 0)
        id = a.g.pos[0];
    char *job = NULL;
    s_task_t *tasks = NULL;
    size_t n = 0;
    if (rc == 0)
        rc = s_open(cli, jobflag, &job, &tasks, &n);
    if (rc) {
        cli_args_release(&a);
        return rc < 0 ? 0 : rc;
    }
    s_task_t *t = s_find(tasks, n, id);
    json_t *blob = NULL;
    if (!t)
        rc = cli_fail(EXIT_NOT_FOUND, "diff: no task '%s' in job %s", id, job);
    else if (!t->result)
        rc = cli_fail(EXIT_NOT_FOUND, "diff: task %s has no result yet (%s)", t->id,
                      t->status ? t->status : "unknown");
    else if (!s_ws(t))
        rc = cli_fail(EXIT_NOT_FOUND, "diff: task %s ran without a workspace%s", t->id,
                      json_string_value(json_object_get(t->result, "workspace_error"))
                      ? " (its capture failed: see swarm results)" : "");
    if (rc || !s_changed(t)) {
        if (rc == 0 && cli->json)
            cli_print_json(json_pack("{s:s, s:s, s:O, s:s}", "job", job, "id", t->id,
                                     "workspace", s_ws(t), stat ? "stat" : "patch", ""));
        else if (rc == 0 && stat)
            printf(" 0 files changed\n");
        goto out;
    }
    sw_cas_t cas;
    sw_cas_init(&cas, cli->redis, NULL, 0);
    blob = s_patch_blob(cli, &cas, t, &rc);
    if (!blob)
        goto out;
    sw_err_t err = { 0 };
    if (stat) {
        /*  git's own diffstat of the patch; no repository needed */
        sw_git_opts_t o = sw_git_opts();
        sw_buf_t statbuf;
        sw_buf_init(&statbuf);
        FILE *tmp = cli->json ? tmpfile() : NULL;
        o.out_fd = tmp ? fileno(tmp) : STDOUT_FILENO;
        fflush(stdout);
        const char *args[] = { "apply", "--stat", "-", NULL };
        sw_git_proc_t p;
        if (sw_git_start(&o, args, true, false, &p, &err) < 0)
            rc = cli_fail(EXIT_TASKS_FAILED, "diff: %s", err.msg);
        else {
            int r1 = sw_cas_read(&cas, blob, s_sink_git, &p, &err);
            sw_err_t ferr = { 0 };
            int r2 = sw_git_finish(&p, r1 < 0, NULL, &ferr);
            if (r1 < 0 || r2 != 0)
                rc = cli_fail(err.code == SW_EUNREACH ? EXIT_UNREACHABLE : EXIT_TASKS_FAILED,
                              "diff: %s", r1 < 0 ? err.msg : ferr.msg);
        }
        if (tmp && rc == 0) {
            rewind(tmp);
            char buf[8192];
            size_t k;
            while ((k = fread(buf, 1, sizeof buf, tmp)) > 0)
                sw_buf_add(&statbuf, buf, k);
            cli_print_json(json_pack("{s:s, s:s, s:O, s:s}", "job", job, "id", t->id,
                                     "workspace", s_ws(t), "stat",
                                     statbuf.data ? statbuf.data : ""));
        }
        if (tmp)
            fclose(tmp);
        sw_buf_release(&statbuf);
    }
    else if (cli->json) {
        sw_buf_t patch;
        sw_buf_init(&patch);
        if (sw_cas_read(&cas, blob, s_sink_buf, &patch, &err) < 0)
            rc = cli_fail(EXIT_TASKS_FAILED, "diff: task %s: %s", t->id, err.msg);
        else {
            sw_buf_t clean;
            sw_buf_init(&clean);
            sw_utf8_sanitize(patch.data ? patch.data : "", patch.len, &clean);
            cli_print_json(json_pack("{s:s, s:s, s:O, s:s%}", "job", job, "id", t->id,
                                     "workspace", s_ws(t), "patch",
                                     clean.data ? clean.data : "", clean.len));
            sw_buf_release(&clean);
        }
        sw_buf_release(&patch);
    }
    else if (sw_cas_read(&cas, blob, s_sink_file, stdout, &err) < 0)
        rc = cli_fail(err.code == SW_EUNREACH ? EXIT_UNREACHABLE : EXIT_TASKS_FAILED,
                      "diff: task %s: %s", t->id, err.msg);
out:
    cli_args_release(&a);
    json_decref(blob);
    s_tasks_free(tasks, n);
    free(job);
    return rc;
}

/*  --- apply ----------------------------------------------------------------------- */

int
cli_apply(cli_t *cli, int argc, char **argv)
{
    static const char usage[] =
        "usage: swarm apply [--job JOB] [--branch NAME] [ID...]\n"
        "Brings the job's changes into the git repository here: every succeeded\n"
        "task's change (or the named tasks'), in dependency order, each by a\n"
        "3-way merge on the tree it started from. All or nothing: on a conflict\n"
        "it names the task and the files, exits 1 and changes nothing. Without\n"
        "--branch the result goes to the work tree (your index and HEAD stay as\n"
        "they are); with --branch NAME a new branch gets one commit per task on\n"
        "top of HEAD, and the work tree is not touched.\n";
    static const sw_arg_t lo[] = {
        { "job", 0, true, 'j' }, { "branch", 0, true, 'b' }, { NULL, 0, false, 0 },
    };
    const char *jobflag = NULL, *branch = NULL;
    int c, rc = 0;
    cli_args_t a;
    cli_args_init(&a, cli, "apply", lo, argc, argv, 0);
    while (rc == 0 && (c = cli_args_next(&a)) != -1) {
        switch (c) {
        case 'j': jobflag = a.g.arg; break;
        case 'b': branch = a.g.arg; break;
        case 'h': fputs(usage, stdout); rc = -1; break;
        default: rc = EXIT_USAGE;
        }
    }
    char *job = NULL;
    s_task_t *tasks = NULL;
    size_t n = 0;
    if (rc == 0)
        rc = s_open(cli, jobflag, &job, &tasks, &n);
    if (rc) {
        cli_args_release(&a);
        return rc < 0 ? 0 : rc;
    }
    int nids = a.g.npos;
    char **ids = a.g.pos;
    sw_ws_change_t *changes = xcalloc(n + 1, sizeof *changes);
    size_t nc = 0;
    /*  In submit order, which is a dependency order (a task's
     *  dependencies are submitted before it). */
    for (size_t i = 0; rc == 0 && i < n; i++) {
        bool named = nids == 0;
        for (int k = 0; k < nids && !named; k++)
            named = strcmp(ids[k], tasks[i].id) == 0;
        if (!named)
            continue;
        if (nids == 0 && (!tasks[i].status || strcmp(tasks[i].status, "succeeded") != 0))
            continue;
        if (!s_changed(&tasks[i]))
            continue;
        json_t *w = s_ws(&tasks[i]);
        changes[nc++] = (sw_ws_change_t) {
            .id = tasks[i].id, .base = json_string_value(json_object_get(w, "base")),
            .commit = json_string_value(json_object_get(w, "commit")),
            .manifest = json_string_value(json_object_get(w, "manifest")) };
    }
    for (int k = 0; rc == 0 && k < nids; k++)
        if (!s_find(tasks, n, ids[k]))
            rc = cli_fail(EXIT_NOT_FOUND, "apply: no task '%s' in job %s", ids[k], job);
    sw_ws_apply_report_t rep = { 0 };
    if (rc == 0 && nc == 0) {
        if (cli->json)
            cli_print_json(json_pack("{s:s, s:[], s:[]}", "job", job, "applied", "files"));
        else
            printf("job %s: no task changed its workspace; nothing to apply\n", job);
        goto out;
    }
    if (rc)
        goto out;
    sw_cas_t cas;
    sw_cas_init(&cas, cli->redis, NULL, 0);
    sw_ws_apply_opts_t ao = { .dir = ".", .branch = branch, .job = job };
    sw_err_t err = { 0 };
    int arc = sw_ws_apply(&ao, &cas, changes, nc, &rep, &err);
    if (arc < 0)
        rc = cli_fail(err.code == SW_EINVAL ? EXIT_USAGE : err.code == SW_EUNREACH
                      ? EXIT_UNREACHABLE : err.code == SW_ENOTFOUND ? EXIT_NOT_FOUND
                      : EXIT_TASKS_FAILED, "apply: %s", err.msg);
    else if (arc == 1) {
        sw_buf_t files;
        sw_buf_init(&files);
        for (size_t i = 0; i < rep.conflicts.n; i++)
            sw_buf_printf(&files, "%s%s", i ? ", " : "", rep.conflicts.v[i]);
        if (cli->json) {
            json_t *cf = json_array();
            for (size_t i = 0; i < rep.conflicts.n; i++)
                json_array_append_new(cf, json_string(rep.conflicts.v[i]));
            cli_print_json(json_pack("{s:s, s:s, s:o, s:b}", "job", job, "conflict",
                                     rep.conflict_id, "files", cf, "applied", 0));
        }
        rc = cli_fail(EXIT_TASKS_FAILED, "apply: the change of task %s conflicts in %s; "
                      "nothing was changed", rep.conflict_id, files.data ? files.data : "?");
        sw_buf_release(&files);
    }
    else if (cli->json) {
        json_t *applied = json_array(), *files = json_array();
        for (size_t i = 0; i < rep.applied.n; i++)
            json_array_append_new(applied, json_string(rep.applied.v[i]));
        for (size_t i = 0; i < rep.files.n; i++)
            json_array_append_new(files, json_string(rep.files.v[i]));
        json_t *doc = json_pack("{s:s, s:o, s:o}", "job", job, "applied", applied, "files", files);
        if (branch)
            json_object_set_new(doc, "branch", json_pack("{s:s, s:s?}", "name", branch,
                                                         "commit", rep.commit));
        cli_print_json(doc);
    }
    else if (branch && rep.commit)
        printf("branch %s: %zu commit%s (%s) on top of HEAD, %zu file%s; work tree untouched\n",
               branch, rep.applied.n, rep.applied.n == 1 ? "" : "s", rep.commit,
               rep.files.n, rep.files.n == 1 ? "" : "s");
    else {
        printf("applied %zu change%s of job %s:", rep.applied.n, rep.applied.n == 1 ? "" : "s",
               job);
        for (size_t i = 0; i < rep.applied.n; i++)
            printf(" %s", rep.applied.v[i]);
        printf("\n%zu file%s changed in the work tree (not staged)\n", rep.files.n,
               rep.files.n == 1 ? "" : "s");
    }
out:
    cli_args_release(&a);
    sw_ws_apply_report_release(&rep);
    free(changes);
    s_tasks_free(tasks, n);
    free(job);
    return rc;
}

/*  --- outputs ---------------------------------------------------------------------- */

/*  Opens (creating) the directories of path below dest, never through a
 *  symlink: the fd of the last one, its name in *leaf. -1 after err. */
static int
s_open_parent(int dest, const char *shown, const char *path, const char **leaf, sw_err_t *err)
{
    int fd = dup(dest);
    const char *p = path;
    for (;;) {
        const char *slash = strchr(p, '/');
        if (!slash) {
            *leaf = p;
            return fd;
        }
        char *comp = xstrndup(p, (size_t) (slash - p));
        int next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0 && errno == ENOENT && mkdirat(fd, comp, 0755) == 0)
            next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0) {
            sw_err_set(err, SW_EFAIL, "refusing %s: %s/%.*s is %s", path, shown,
                       (int) (slash - path), path,
                       errno == ELOOP || errno == ENOTDIR ? "a symlink or not a directory "
                       "(an output never goes through one)" : strerror(errno));
            free(comp);
            close(fd);
            return -1;
        }
        free(comp);
        close(fd);
        fd = next;
        p = slash + 1;
    }
}

typedef struct {
    int fd;
} s_out_t;

static int
s_sink_fd(void *arg, const void *data, size_t n, sw_err_t *err)
{
    s_out_t *o = arg;
    const char *d = data;
    while (n > 0) {
        ssize_t w = write(o->fd, d, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return sw_err_set(err, SW_EFAIL, "write: %s", strerror(errno));
        d += w;
        n -= (size_t) w;
    }
    return 0;
}

/*  Writes one output below dest: through a temporary file renamed over
 *  the name (a symlink there is replaced, never followed). */
static int
s_write_output(sw_cas_t *cas, int dest, const char *shown, const json_t *f, sw_err_t *err)
{
    const char *path = json_string_value(json_object_get(f, "path"));
    if (!sw_ws_path_valid(path))
        return sw_err_set(err, SW_EFAIL, "refusing output path '%s': it would escape %s",
                          path ? path : "", shown);
    const char *leaf;
    int dir = s_open_parent(dest, shown, path, &leaf, err);
    if (dir < 0)
        return -1;
    unsigned char rnd[6];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t) sizeof rnd)
        memset(rnd, 0, sizeof rnd);
    char tmp[64];
    snprintf(tmp, sizeof tmp, ".swarm-out.%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
             rnd[3], rnd[4], rnd[5]);
    int mode = (int) json_integer_value(json_object_get(f, "mode")) == 0755 ? 0755 : 0644;
    s_out_t o = { openat(dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600) };
    int rc = 0;
    if (o.fd < 0)
        rc = sw_err_set(err, SW_EFAIL, "%s/%s: %s", shown, path, strerror(errno));
    else {
        rc = sw_cas_read(cas, f, s_sink_fd, &o, err);
        if (rc == 0 && fchmod(o.fd, (mode_t) mode) < 0)
            rc = sw_err_set(err, SW_EFAIL, "%s/%s: %s", shown, path, strerror(errno));
        if (close(o.fd) < 0 && rc == 0)
            rc = sw_err_set(err, SW_EFAIL, "%s/%s: %s", shown, path, strerror(errno));
        if (rc == 0 && renameat(dir, tmp, dir, leaf) < 0)
            rc = sw_err_set(err, SW_EFAIL, "%s/%s: %s", shown, path, strerror(errno));
        if (rc < 0)
            unlinkat(dir, tmp, 0);
    }
    close(dir);
    return rc;
}

int
cli_outputs(cli_t *cli, int argc, char **argv)
{
    static const char usage[] =
        "usage: swarm outputs [--job JOB] [--dest DIR] [ID...]\n"
        "Writes the declared build outputs (spawn --output, run --outputs) of every\n"
        "succeeded task of the job, or of the named ones, below DIR (default: here),\n"
        "with their paths and modes. Each file is checked against its SHA-256; a\n"
        "path that would leave DIR, also through a symlink in DIR, is refused.\n";
    static const sw_arg_t lo[] = {
        { "job", 0, true, 'j' }, { "dest", 0, true, 'd' }, { NULL, 0, false, 0 },
    };
    const char *jobflag = NULL, *destdir = ".";
    int c, rc = 0;
    cli_args_t a;
    cli_args_init(&a, cli, "outputs", lo, argc, argv, 0);
    while (rc == 0 && (c = cli_args_next(&a)) != -1) {
        switch (c) {
        case 'j': jobflag = a.g.arg; break;
        case 'd': destdir = a.g.arg; break;
        case 'h': fputs(usage, stdout); rc = -1; break;
        default: rc = EXIT_USAGE;
        }
    }
    int nids = a.g.npos;
    char **ids = a.g.pos;
    int dest = -1;
    if (rc == 0 && mkdir(destdir, 0755) < 0 && errno != EEXIST)
        rc = cli_fail(EXIT_USAGE, "outputs: --dest %s: %s", destdir, strerror(errno));
    if (rc == 0 && (dest = open(destdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        rc = cli_fail(EXIT_USAGE, "outputs: --dest %s: %s", destdir, strerror(errno));
    char *job = NULL;
    s_task_t *tasks = NULL;
    size_t n = 0;
    if (rc == 0)
        rc = s_open(cli, jobflag, &job, &tasks, &n);
    if (rc) {
        if (dest >= 0)
            close(dest);
        cli_args_release(&a);
        return rc < 0 ? 0 : rc;
    }
    for (int k = 0; rc == 0 && k < nids; k++)
        if (!s_find(tasks, n, ids[k]))
            rc = cli_fail(EXIT_NOT_FOUND, "outputs: no task '%s' in job %s", ids[k], job);
    sw_cas_t cas;
    sw_cas_init(&cas, cli->redis, NULL, 0);
    /*  Every manifest first: a path two tasks produced differently is an
     *  error before anything is written. */
    json_t *plan = json_object();       /*  path -> {task, file} */
    json_t *manifests = json_array();
    for (size_t i = 0; rc == 0 && i < n; i++) {
        bool named = nids == 0;
        for (int k = 0; k < nids && !named; k++)
            named = strcmp(ids[k], tasks[i].id) == 0;
        const char *digest = json_string_value(json_object_get(tasks[i].result,
                                                               "outputs_manifest"));
        if (!named || !digest)
            continue;
        if (nids == 0 && (!tasks[i].status || strcmp(tasks[i].status, "succeeded") != 0))
            continue;
        sw_buf_t text;
        sw_buf_init(&text);
        sw_err_t err = { 0 };
        json_t *doc = NULL;
        if (sw_cas_get(&cas, digest, SW_CAS_DOC_MAX, &text, &err) == 0)
            doc = json_loadb(text.data, text.len, 0, NULL);
        sw_buf_release(&text);
        json_t *files = json_object_get(doc, "files");
        if (!json_is_array(files)) {
            rc = cli_fail(err.code == SW_ENOTFOUND ? EXIT_NOT_FOUND : err.code == SW_EUNREACH
                          ? EXIT_UNREACHABLE : EXIT_TASKS_FAILED, "outputs: task %s: %s",
                          tasks[i].id, err.code ? err.msg : "its outputs manifest is malformed");
            json_decref(doc);
            break;
        }
        json_array_append_new(manifests, doc);
        size_t k;
        json_t *f;
        json_array_foreach(files, k, f) {
            const char *path = json_string_value(json_object_get(f, "path"));
            json_t *prev = path ? json_object_get(plan, path) : NULL;
            if (!path)
                continue;
            if (prev && strcmp(json_string_value(json_object_get(json_object_get(prev, "file"),
                                                                 "sha256")),
                               json_string_value(json_object_get(f, "sha256"))) != 0) {
                rc = cli_fail(EXIT_TASKS_FAILED, "outputs: %s is an output of both %s and %s, "
                              "with different content; nothing was written", path,
                              json_string_value(json_object_get(prev, "task")), tasks[i].id);
                break;
            }
            json_object_set_new(plan, path, json_pack("{s:s, s:O}", "task", tasks[i].id,
                                                      "file", f));
        }
    }
    json_t *written = json_array();
    const char *path;
    json_t *entry;
    json_object_foreach(plan, path, entry) {
        if (rc)
            break;
        json_t *f = json_object_get(entry, "file");
        sw_err_t err = { 0 };
        if (s_write_output(&cas, dest, destdir, f, &err) < 0) {
            rc = cli_fail(err.code == SW_EUNREACH ? EXIT_UNREACHABLE : EXIT_TASKS_FAILED,
                          "outputs: task %s: %s",
                          json_string_value(json_object_get(entry, "task")), err.msg);
            break;
        }
        json_array_append_new(written, json_pack("{s:s, s:s, s:O, s:O, s:O}", "task",
                                                 json_string_value(json_object_get(entry, "task")),
                                                 "path", path, "size", json_object_get(f, "size"),
                                                 "sha256", json_object_get(f, "sha256"),
                                                 "mode", json_object_get(f, "mode")));
    }
    if (rc == 0) {
        if (cli->json)
            cli_print_json(json_pack("{s:s, s:s, s:O}", "job", job, "dest", destdir, "files",
                                     written));
        else {
            size_t i;
            json_t *w;
            json_array_foreach(written, i, w)
                printf("%s\t%s\n", json_string_value(json_object_get(w, "task")),
                       json_string_value(json_object_get(w, "path")));
            fprintf(stderr, "swarm: %zu output%s written below %s\n", json_array_size(written),
                    json_array_size(written) == 1 ? "" : "s", destdir);
        }
    }
    json_decref(written);
    json_decref(plan);
    json_decref(manifests);
    close(dest);
    cli_args_release(&a);
    s_tasks_free(tasks, n);
    free(job);
    return rc;
}

/*  --- purge --------------------------------------------------------------------------- */

int
cli_purge(cli_t *cli, int argc, char **argv)
{
    static const char usage[] =
        "usage: swarm purge --job JOB\n"
        "Removes what the job stored in Redis of its workspaces: snapshots, changes,\n"
        "patches and build outputs. Content another job still uses stays for it.\n"
        "Also its tasks' live output streams (swarm logs -f) and its event log\n"
        "(swarm events). The job's results and state stay; swarm diff, apply and\n"
        "outputs then say the content is gone.\n";
    static const sw_arg_t lo[] = { { "job", 0, true, 'j' }, { NULL, 0, false, 0 } };
    const char *job = NULL;
    int c, rc = 0;
    cli_args_t a;
    cli_args_init(&a, cli, "purge", lo, argc, argv, 0);
    while (rc == 0 && (c = cli_args_next(&a)) != -1) {
        switch (c) {
        case 'j': job = a.g.arg; break;
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
