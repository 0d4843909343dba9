/*  agent_hook -- see agent_hook.h */
#include "agent_hook.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent_state.h"
#include "sw_selftest.h"

static const char *const s_names[AGENT_HOOK_COUNT] = { "pre-task", "post-task" };

const char *
agent_hook_name(agent_hook_t h)
{
    return h < AGENT_HOOK_COUNT ? s_names[h] : "?";
}

int
agent_hook_check(const char *path, const char *workdir, sw_err_t *err)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return sw_err_set(err, SW_EINVAL, "%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return sw_err_set(err, SW_EINVAL, "%s is not a regular file", path);
    if (access(path, X_OK) < 0)
        return sw_err_set(err, SW_EINVAL, "%s is not executable: %s", path, strerror(errno));
    if (st.st_uid != 0 && st.st_uid != geteuid())
        return sw_err_set(err, SW_EINVAL, "%s belongs to uid %d, neither root nor this agent "
                          "(uid %d): whoever owns a hook runs code with every task", path,
                          (int) st.st_uid, (int) geteuid());
    if ((st.st_mode & S_IWOTH) || ((st.st_mode & S_IWGRP) && st.st_gid != getegid()))
        return sw_err_set(err, SW_EINVAL, "%s is writable by others (mode %04o): whoever can "
                          "change a hook runs code with every task", path,
                          (unsigned) (st.st_mode & 07777));
    /*  Tasks write under the workdir (a codex in workspace-write, a
     *  command): a hook there would be the task's code, run outside its
     *  sandbox with the next task. */
    if (agent_path_inside(path, workdir))
        return sw_err_set(err, SW_EINVAL, "%s is under the workdir %s, where tasks write: a "
                          "task could change the hook", path, workdir);
    /*  So does codex's workspace-write sandbox under /tmp and the TMPDIR
     *  it inherits (ours). A state dir there is only warned about; a hook
     *  there is the task's code run outside its sandbox with the next. */
    const char *tmp_dirs[] = { "/tmp", getenv("TMPDIR") };
    for (size_t i = 0; i < 2; i++) {
        char *tmp = tmp_dirs[i] && tmp_dirs[i][0] == '/' ? realpath(tmp_dirs[i], NULL) : NULL;
        if (tmp && agent_path_inside(path, tmp)) {
            sw_err_set(err, SW_EINVAL, "%s is under %s, which codex's workspace-write sandbox "
                       "lets tasks write: a task could change the hook", path, tmp);
            free(tmp);
            return -1;
        }
        free(tmp);
    }
    return agent_path_check_above(path, "whoever can change a hook runs code with every task",
                                  err);
}

int
agent_hooks_parse(const sw_strv_t *specs, const char *workdir, char *paths[AGENT_HOOK_COUNT],
                  sw_err_t *err)
{
    for (int h = 0; h < AGENT_HOOK_COUNT; h++)
        paths[h] = NULL;
    for (size_t i = 0; i < specs->n; i++) {
        const char *spec = specs->v[i], *eq = strchr(spec, '=');
        int h = -1;
        for (int k = 0; eq && k < AGENT_HOOK_COUNT; k++)
            if ((size_t) (eq - spec) == strlen(s_names[k])
                && strncmp(spec, s_names[k], (size_t) (eq - spec)) == 0)
                h = k;
        if (h < 0) {
            sw_err_set(err, SW_EINVAL, "--hook %s: expected pre-task=PATH or post-task=PATH",
                       spec);
            goto fail;
        }
        if (paths[h]) {
            sw_err_set(err, SW_EINVAL, "--hook %s: a %s hook is given twice (one per agent; "
                       "a script can run several)", spec, s_names[h]);
            goto fail;
        }
        if (!eq[1]) {
            sw_err_set(err, SW_EINVAL, "--hook %s: the path is empty", spec);
            goto fail;
        }
        char resolved[PATH_MAX];
        if (!realpath(eq + 1, resolved)) {
            sw_err_set(err, SW_EINVAL, "--hook %s: %s", spec, strerror(errno));
            goto fail;
        }
        sw_err_t why = { 0 };
        if (agent_hook_check(resolved, workdir, &why) < 0) {
            sw_err_set(err, SW_EINVAL, "--hook %s: %s", spec, why.msg);
            goto fail;
        }
        paths[h] = xstrdup(resolved);
    }
    return 0;
fail:
    for (int h = 0; h < AGENT_HOOK_COUNT; h++) {
        free(paths[h]);
        paths[h] = NULL;
    }
    return -1;
}

/*  What the agent sets for a hook; the task's variables of these names
 *  give way. */
static const char *const s_hook_vars[] = {
    "SWARM_HOOK", "SWARM_RUNNER", "SWARM_NAMESPACE", "SWARM_STATUS", "SWARM_EXIT_CODE", NULL,
};

char **
agent_hook_env(agent_hook_t h, const sw_task_t *t, const agent_hook_env_t *e)
{
    /*  The task as the hook sees it: its variables without those only its
     *  own program may get, nor those the agent sets for the hook. */
    sw_task_t view = *t;
    sw_kv_t env = { 0 };
    for (size_t i = 0; i < t->env.n; i++) {
        bool ours = false;
        for (const char *const *v = s_hook_vars; *v && !ours; v++)
            ours = strcmp(t->env.k[i], *v) == 0;
        if (!ours && agent_env_hook_admits(e->policy, t->env.k[i]))
            sw_kv_set(&env, t->env.k[i], t->env.v[i]);
    }
    view.env = env;
    char **task = agent_env_build(e->base, e->pass_env, &view, e->agent_id, e->token);
    sw_kv_release(&env);
    size_t n = 0;
    while (task[n])
        n++;
    char **envp = xrealloc(task, (n + 6) * sizeof *envp);
    envp[n++] = xasprintf("SWARM_HOOK=%s", s_names[h]);
    envp[n++] = xasprintf("SWARM_RUNNER=%s", t->runner ? t->runner : "");
    envp[n++] = xasprintf("SWARM_NAMESPACE=%s", t->ns ? t->ns : "");
    if (h == AGENT_HOOK_POST_TASK) {
        envp[n++] = xasprintf("SWARM_STATUS=%s", e->status ? e->status : "");
        if (e->exit_code >= 0)
            envp[n++] = xasprintf("SWARM_EXIT_CODE=%d", e->exit_code);
    }
    envp[n] = NULL;
    return envp;
}

const char *
agent_hook_status(const agent_hook_end_t *e)
{
    if (e->stop == AGENT_STOP_CANCEL || e->stop == AGENT_STOP_SHUTDOWN)
        return "cancelled";
    if (e->stop == AGENT_STOP_TIMEOUT || e->stop == AGENT_STOP_IDLE)
        return "timed_out";
    return e->spawned && e->exit_code == 0 ? "succeeded" : "failed";
}

char *
agent_hook_error(const agent_hook_end_t *e)
{
    const char *name = s_names[e->h];
    if (!e->spawned)
        return xasprintf("%s hook could not start: %s", name,
                         e->spawn_error ? e->spawn_error : "?");
    if (e->stop == AGENT_STOP_SHUTDOWN)
        return xasprintf("%s hook stopped: the agent was stopping", name);
    if (e->stop == AGENT_STOP_CANCEL)
        return xasprintf("%s hook cancelled", name);
    if (e->stop == AGENT_STOP_TIMEOUT || e->stop == AGENT_STOP_IDLE)
        return xasprintf("%s hook timed out after %lld s", name,
                         (long long) (e->timeout_ms / 1000));
    if (e->signal) {
        const char *sig = sigabbrev_np(e->signal);
        return sig ? xasprintf("%s hook killed by SIG%s", name, sig)
                   : xasprintf("%s hook killed by signal %d", name, e->signal);
    }
    if (e->exit_code != 0)
        return xasprintf("%s hook exited %d", name, e->exit_code);
    return NULL;
}

bool
agent_hook_retryable(const agent_hook_end_t *e)
{
    return !e->spawned || e->stop == AGENT_STOP_TIMEOUT || e->stop == AGENT_STOP_IDLE
        || (e->signal && e->stop == AGENT_STOP_NONE);
}

static json_t *
s_text(const char *s, size_t n)
{
    sw_buf_t b;
    sw_buf_init(&b);
    sw_utf8_sanitize(s ? s : "", s ? n : 0, &b);
    json_t *j = json_stringn(b.data ? b.data : "", b.len);
    sw_buf_release(&b);
    return j;
}

json_t *
agent_hook_doc(const agent_hook_end_t *e)
{
    char *error = agent_hook_error(e);
    const char *sig = e->signal ? sigabbrev_np(e->signal) : NULL;
    json_t *o = json_object();
    json_object_set_new(o, "status", json_string(agent_hook_status(e)));
    json_object_set_new(o, "exit_code", e->spawned ? json_integer(e->exit_code) : json_null());
    json_object_set_new(o, "signal", e->signal ? json_string(sig ? sig : "?") : json_null());
    json_object_set_new(o, "duration_ms", json_integer(e->duration_ms));
    json_object_set_new(o, "error", error ? json_string(error) : json_null());
    json_object_set_new(o, "output_tail", s_text(e->out, e->out_len));
    json_object_set_new(o, "stderr_tail", s_text(e->err, e->err_len));
    free(error);
    return o;
}

/*  --- self-test --------------------------------------------------------------------- */

static bool
s_has(char **envp, const char *var)
{
    for (char **e = envp; *e; e++)
        if (strcmp(*e, var) == 0)
            return true;
    return false;
}

static size_t
s_named(char **envp, const char *name)
{
    size_t n = 0, len = strlen(name);
    for (char **e = envp; *e; e++)
        n += strncmp(*e, name, len) == 0 && (*e)[len] == '=';
    return n;
}

int
agent_hook_test(bool verbose)
{
    sw_err_t err = { 0 };
    /*  Not under /tmp: a hook there is refused (below). */
    char dir[] = "/var/tmp/swarm-hook-test.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char *work = xasprintf("%s/work", dir), *hook = xasprintf("%s/pre", dir),
         *inside = xasprintf("%s/work/pre", dir), *plain = xasprintf("%s/plain", dir);
    CHECK(mkdir(work, 0755) == 0);
    FILE *f;
    const char *files[] = { hook, inside, plain };
    for (int i = 0; i < 3; i++) {
        CHECK((f = fopen(files[i], "w")) != NULL);
        fputs("#!/bin/sh\nexit 0\n", f);
        fclose(f);
        CHECK(chmod(files[i], i == 2 ? 0644 : 0755) == 0);
    }

    /*  the names, each once, a path that is fit */
    sw_strv_t specs = { 0 };
    char *paths[AGENT_HOOK_COUNT];
    char *spec = xasprintf("post-task=%s", hook);
    sw_strv_push(&specs, spec);
    free(spec);
    CHECK(agent_hooks_parse(&specs, work, paths, &err) == 0);
    CHECK(!paths[AGENT_HOOK_PRE_TASK] && paths[AGENT_HOOK_POST_TASK]
          && strcmp(paths[AGENT_HOOK_POST_TASK], hook) == 0);
    free(paths[AGENT_HOOK_POST_TASK]);
    sw_strv_push(&specs, specs.v[0]);
    CHECK(agent_hooks_parse(&specs, work, paths, &err) < 0 && strstr(err.msg, "given twice"));
    CHECK(!paths[AGENT_HOOK_POST_TASK]);
    const char *bad[][2] = {
        { "pre=/bin/true", "expected pre-task=PATH or post-task=PATH" },
        { "/bin/true", "expected pre-task=PATH" },
        { "pre-task=", "the path is empty" },
        { "pre-task=/no/such/hook", "No such file or directory" },
        { "pre-task=/tmp", "not a regular file" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        sw_strv_t one = { 0 };
        sw_strv_push(&one, bad[i][0]);
        CHECK(agent_hooks_parse(&one, work, paths, &err) < 0);
        CHECK(strstr(err.msg, bad[i][0]) && strstr(err.msg, bad[i][1]));
        sw_strv_release(&one);
    }
    /*  where a task could change it, or another user */
    CHECK(agent_hook_check(inside, work, &err) < 0 && strstr(err.msg, "where tasks write"));
    CHECK(agent_hook_check(hook, dir, &err) < 0 && strstr(err.msg, "where tasks write"));
    CHECK(agent_hook_check(plain, work, &err) < 0 && strstr(err.msg, "not executable"));
    CHECK(chmod(hook, 0777) == 0);
    CHECK(agent_hook_check(hook, work, &err) < 0 && strstr(err.msg, "writable by others"));
    CHECK(chmod(hook, 0755) == 0 && chmod(dir, 0777) == 0);
    CHECK(agent_hook_check(hook, work, &err) < 0 && strstr(err.msg, "which others can change"));
    CHECK(chmod(dir, 0700) == 0);
    CHECK(agent_hook_check(hook, work, &err) == 0);
    /*  under /tmp or the agent's TMPDIR, which codex's workspace-write
     *  sandbox lets a task write: the next task would run its hook */
    char tdir[] = "/tmp/swarm-hook-test.XXXXXX";
    CHECK(mkdtemp(tdir) != NULL);
    char *thook = xasprintf("%s/pre", tdir);
    CHECK((f = fopen(thook, "w")) != NULL);
    fclose(f);
    CHECK(chmod(thook, 0755) == 0);
    CHECK(agent_hook_check(thook, work, &err) < 0
          && strstr(err.msg, "is under /tmp, which codex's workspace-write sandbox lets tasks "
                             "write: a task could change the hook"));
    const char *old_tmpdir = getenv("TMPDIR");
    char *saved_tmpdir = old_tmpdir ? xstrdup(old_tmpdir) : NULL;
    setenv("TMPDIR", dir, 1);
    CHECK(agent_hook_check(hook, work, &err) < 0 && strstr(err.msg, "is under")
          && strstr(err.msg, dir));
    if (saved_tmpdir)
        setenv("TMPDIR", saved_tmpdir, 1);
    else
        unsetenv("TMPDIR");
    free(saved_tmpdir);
    unlink(thook);
    rmdir(tdir);
    free(thook);

    /*  the environment: the task's, the hook's SWARM_*, the denylist for
     *  every runner, the agent's own value of a name the task gave up */
    char *base[] = { "PATH=/usr/bin:/bin", "SECRET=s", "HOME=/root", NULL };
    sw_task_t t;
    sw_task_init(&t);
    t.id = xstrdup("t1");
    t.job = xstrdup("j");
    t.runner = xstrdup("exec");
    t.ns = xstrdup("results");
    t.attempt = 2;
    sw_kv_set(&t.env, "CC", "clang");
    sw_kv_set(&t.env, "PATH", "/evil");
    sw_kv_set(&t.env, "LD_PRELOAD", "/evil.so");
    sw_kv_set(&t.env, "SWARM_STATUS", "forged");
    agent_env_policy_t pol = { NULL, true, false };     /*  --allow-exec: the task may */
    CHECK(agent_env_check(&pol, &t, &err) == 0);
    agent_hook_env_t e = { .base = base, .policy = &pol, .agent_id = "a1",
                           .token = "42:j/t1#2 pre-task", .exit_code = -1 };
    char **envp = agent_hook_env(AGENT_HOOK_PRE_TASK, &t, &e);
    CHECK(s_has(envp, "CC=clang") && s_has(envp, "PATH=/usr/bin:/bin"));
    CHECK(s_named(envp, "PATH") == 1 && s_named(envp, "LD_PRELOAD") == 0);
    CHECK(s_named(envp, "SECRET") == 0 && s_has(envp, "SWARM_RUN=42:j/t1#2 pre-task"));
    CHECK(s_has(envp, "SWARM_HOOK=pre-task") && s_has(envp, "SWARM_RUNNER=exec")
          && s_has(envp, "SWARM_NAMESPACE=results") && s_has(envp, "SWARM_TASK_ID=t1"));
    CHECK(s_named(envp, "SWARM_STATUS") == 0 && s_named(envp, "SWARM_EXIT_CODE") == 0);
    agent_env_free(envp);
    e.status = "failed";
    e.exit_code = 3;
    envp = agent_hook_env(AGENT_HOOK_POST_TASK, &t, &e);
    CHECK(s_has(envp, "SWARM_STATUS=failed") && s_named(envp, "SWARM_STATUS") == 1);
    CHECK(s_has(envp, "SWARM_EXIT_CODE=3") && s_has(envp, "SWARM_HOOK=post-task"));
    agent_env_free(envp);
    e.exit_code = -1;
    envp = agent_hook_env(AGENT_HOOK_POST_TASK, &t, &e);
    CHECK(s_named(envp, "SWARM_EXIT_CODE") == 0);
    agent_env_free(envp);
    sw_task_release(&t);

    /*  how it ended */
    agent_hook_end_t end = { .h = AGENT_HOOK_PRE_TASK, .spawned = true, .exit_code = 3,
                             .timeout_ms = 300000, .err = "no toolchain\n", .err_len = 13 };
    char *why = agent_hook_error(&end);
    CHECK(strcmp(why, "pre-task hook exited 3") == 0 && !agent_hook_retryable(&end));
    CHECK(strcmp(agent_hook_status(&end), "failed") == 0);
    free(why);
    json_t *doc = agent_hook_doc(&end);
    CHECK(json_integer_value(json_object_get(doc, "exit_code")) == 3);
    CHECK(strcmp(json_string_value(json_object_get(doc, "stderr_tail")), "no toolchain\n") == 0);
    CHECK(strcmp(json_string_value(json_object_get(doc, "error")), "pre-task hook exited 3") == 0);
    json_decref(doc);
    end.stop = AGENT_STOP_TIMEOUT;
    end.exit_code = 137;
    end.signal = 9;
    why = agent_hook_error(&end);
    CHECK(strcmp(why, "pre-task hook timed out after 300 s") == 0 && agent_hook_retryable(&end));
    CHECK(strcmp(agent_hook_status(&end), "timed_out") == 0);
    free(why);
    end.stop = AGENT_STOP_NONE;
    end.signal = 11;
    why = agent_hook_error(&end);
    CHECK(strcmp(why, "pre-task hook killed by SIGSEGV") == 0 && agent_hook_retryable(&end));
    free(why);
    end.stop = AGENT_STOP_CANCEL;
    end.h = AGENT_HOOK_POST_TASK;
    why = agent_hook_error(&end);
    CHECK(strcmp(why, "post-task hook cancelled") == 0);
    CHECK(strcmp(agent_hook_status(&end), "cancelled") == 0);
    free(why);
    agent_hook_end_t none = { .h = AGENT_HOOK_POST_TASK, .spawned = true, .out = "\xff ok",
                              .out_len = 4 };
    CHECK(agent_hook_error(&none) == NULL && strcmp(agent_hook_status(&none), "succeeded") == 0);
    doc = agent_hook_doc(&none);
    CHECK(json_is_null(json_object_get(doc, "error")) && json_is_null(json_object_get(doc, "signal")));
    CHECK(strcmp(json_string_value(json_object_get(doc, "output_tail")), "\xef\xbf\xbd ok") == 0);
    json_decref(doc);
    agent_hook_end_t nostart = { .h = AGENT_HOOK_PRE_TASK, .spawn_error = "/x: Permission denied" };
    why = agent_hook_error(&nostart);
    CHECK(strcmp(why, "pre-task hook could not start: /x: Permission denied") == 0);
    CHECK(agent_hook_retryable(&nostart) && strcmp(agent_hook_status(&nostart), "failed") == 0);
    free(why);
    doc = agent_hook_doc(&nostart);
    CHECK(json_is_null(json_object_get(doc, "exit_code")));
    json_decref(doc);

    sw_strv_release(&specs);
    for (int i = 0; i < 3; i++)
        unlink(files[i]);
    rmdir(work);
    rmdir(dir);
    free(work);
    free(hook);
    free(inside);
    free(plain);
    (void) verbose;
    return 0;
}
