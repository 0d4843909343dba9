/*  cli_ws_apply -- swarm diff and swarm apply: a task's patch, and the
 *  job's changes merged into the user's repository (docs/workspaces.md,
 *  "Bringing it home").
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_ws.h"
#include "sw_ws.h"

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
s_patch_blob(cli_t *cli, sw_cas_t *cas, const cli_ws_task_t *t, int *rc)
{
    const char *digest = json_string_value(json_object_get(cli_ws_of(t), "patch"));
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

/*  The task id of the job's tasks[n] whose change the command (verb:
 *  "diff", "apply") is asked for, in *out; 0, or cli_fail's exit code
 *  naming why there is none: no such task, no result yet (its status),
 *  or no workspace (its capture failed, or it never had one). */
static int
s_task_with_change(const char *verb, cli_ws_task_t *tasks, size_t n, const char *id,
                   const char *job, cli_ws_task_t **out)
{
    cli_ws_task_t *t = *out = cli_ws_find(tasks, n, id);
    if (!t)
        return cli_fail(EXIT_NOT_FOUND, "%s: no task '%s' in job %s", verb, id, job);
    if (!t->result)
        return cli_fail(EXIT_NOT_FOUND, "%s: task %s has no result yet (%s)", verb, t->id,
                        t->status ? t->status : "unknown");
    if (!cli_ws_of(t))
        return cli_fail(EXIT_NOT_FOUND, "%s: task %s ran without a workspace%s", verb, t->id,
                        json_string_value(json_object_get(t->result, "workspace_error"))
                        ? " (its capture failed: see swarm results)" : "");
    return 0;
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
    cli_ws_task_t *tasks = NULL;
    size_t n = 0;
    if (rc == 0)
        rc = cli_ws_open(cli, jobflag, &job, &tasks, &n);
    if (rc) {
        cli_args_release(&a);
        return rc < 0 ? 0 : rc;
    }
    cli_ws_task_t *t = NULL;
    json_t *blob = NULL;
    rc = s_task_with_change("diff", tasks, n, id, job, &t);
    if (rc || !cli_ws_changed(t)) {
        if (rc == 0 && cli->json)
            cli_print_json(json_pack("{s:s, s:s, s:O, s:s}", "job", job, "id", t->id,
                                     "workspace", cli_ws_of(t), stat ? "stat" : "patch", ""));
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
                rc = cli_fail(r1 < 0 ? cli_redis_exit(&err) : EXIT_TASKS_FAILED, "diff: %s",
                              r1 < 0 ? err.msg : ferr.msg);
        }
        if (tmp && rc == 0) {
            rewind(tmp);
            char buf[8192];
            size_t k;
            while ((k = fread(buf, 1, sizeof buf, tmp)) > 0)
                sw_buf_add(&statbuf, buf, k);
            cli_print_json(json_pack("{s:s, s:s, s:O, s:s}", "job", job, "id", t->id,
                                     "workspace", cli_ws_of(t), "stat",
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
            rc = cli_fail(cli_redis_exit(&err), "diff: task %s: %s", t->id, err.msg);
        else {
            sw_buf_t clean;
            sw_buf_init(&clean);
            sw_utf8_sanitize(patch.data ? patch.data : "", patch.len, &clean);
            cli_print_json(json_pack("{s:s, s:s, s:O, s:s%}", "job", job, "id", t->id,
                                     "workspace", cli_ws_of(t), "patch",
                                     clean.data ? clean.data : "", clean.len));
            sw_buf_release(&clean);
        }
        sw_buf_release(&patch);
    }
    else if (sw_cas_read(&cas, blob, s_sink_file, stdout, &err) < 0)
        rc = cli_fail(cli_redis_exit(&err), "diff: task %s: %s", t->id, err.msg);
out:
    cli_args_release(&a);
    json_decref(blob);
    cli_ws_tasks_free(tasks, n);
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
        "top of HEAD, and the work tree is not touched.\n"
        "Into the work tree it refuses (exit 1, naming the paths, nothing changed):\n"
        "a sparse checkout; a change that deletes or replaces files whose content\n"
        "git does not have there (untracked, added with git add -N, or edits not\n"
        "staged: remove or git add them first, or use --branch); ignored\n"
        "files in the way; a second apply while one runs. When git fails halfway\n"
        "(a smudge filter, the disk full) every file it touched is put back.\n";
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
    cli_ws_task_t *tasks = NULL;
    size_t n = 0;
    if (rc == 0)
        rc = cli_ws_open(cli, jobflag, &job, &tasks, &n);
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
        if (!cli_ws_changed(&tasks[i]))
            continue;
        json_t *w = cli_ws_of(&tasks[i]);
        changes[nc++] = (sw_ws_change_t) {
            .id = tasks[i].id, .base = json_string_value(json_object_get(w, "base")),
            .commit = json_string_value(json_object_get(w, "commit")),
            .manifest = json_string_value(json_object_get(w, "manifest")) };
    }
    /*  A named task whose change cannot be had is an error, not "nothing
     *  to apply": it has no result yet, or ran without a workspace. */
    for (int k = 0; rc == 0 && k < nids; k++) {
        cli_ws_task_t *t;
        rc = s_task_with_change("apply", tasks, n, ids[k], job, &t);
    }
    /*  The job's change without a task's: said, not left out silently
     *  (a tester that failed, a coder still running). */
    json_t *skipped = json_array();
    for (size_t i = 0; rc == 0 && nids == 0 && i < n; i++)
        if (!tasks[i].status || strcmp(tasks[i].status, "succeeded") != 0)
            json_array_append_new(skipped, json_pack("{s:s, s:s}", "id", tasks[i].id, "status",
                                                     tasks[i].status ? tasks[i].status
                                                     : "unknown"));
    if (json_array_size(skipped) && !cli->json) {
        sw_buf_t b;
        sw_buf_init(&b);
        size_t k;
        json_t *e;
        json_array_foreach(skipped, k, e) {
            if (k == 8) {
                sw_buf_printf(&b, ", ... (%zu in all)", json_array_size(skipped));
                break;
            }
            sw_buf_printf(&b, "%s%s (%s)", k ? ", " : "",
                          json_string_value(json_object_get(e, "id")),
                          json_string_value(json_object_get(e, "status")));
        }
        fprintf(stderr, "swarm: apply: only succeeded tasks' changes; not applied: %s\n", b.data);
        sw_buf_release(&b);
    }
    sw_ws_apply_report_t rep = { 0 };
    if (rc == 0 && nc == 0) {
        if (cli->json)
            cli_print_json(json_pack("{s:s, s:[], s:[], s:O}", "job", job, "applied", "files",
                                     "skipped", skipped));
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
        json_t *doc = json_pack("{s:s, s:o, s:o, s:O}", "job", job, "applied", applied, "files",
                                files, "skipped", skipped);
        if (branch)
            json_object_set_new(doc, "branch", json_pack("{s:s, s:s?}", "name", branch,
                                                         "commit", rep.commit));
        cli_print_json(doc);
    }
    else if (branch && rep.commit)
        printf("branch %s: %zu commit%s (%s) on top of HEAD, %zu file%s; work tree untouched\n",
               branch, rep.applied.n, rep.applied.n == 1 ? "" : "s", rep.commit,
               rep.files.n, rep.files.n == 1 ? "" : "s");
    else if (branch)
        printf("branch %s not made: HEAD has every change of job %s already\n", branch, job);
    else if (rep.applied.n == 0)
        printf("job %s: the work tree has every change already; nothing changed\n", job);
    else {
        printf("applied %zu change%s of job %s:", rep.applied.n, rep.applied.n == 1 ? "" : "s",
               job);
        for (size_t i = 0; i < rep.applied.n; i++)
            printf(" %s", rep.applied.v[i]);
        printf("\n%zu file%s changed in the work tree (not staged)\n", rep.files.n,
               rep.files.n == 1 ? "" : "s");
    }
    /*  ^C (or a kill) while git wrote the work tree waited for the end:
     *  the write is whole (a failed one says "nothing was changed") */
    if (rep.signal && arc == 0)
        fprintf(stderr, "swarm: apply: %s came while the work tree was written: the change "
                "is applied whole (exit 0)\n", strsignal(rep.signal));
out:
    json_decref(skipped);
    cli_args_release(&a);
    sw_ws_apply_report_release(&rep);
    free(changes);
    cli_ws_tasks_free(tasks, n);
    free(job);
    return rc;
}
