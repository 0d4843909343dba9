/*  agent_prepare -- see agent_prepare.h */
#include "agent_prepare.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent_child.h"
#include "agent_spawn.h"

extern char **environ;

void
agent_launch_init(agent_launch_t *l)
{
    memset(l, 0, sizeof *l);
    l->prompt_fd = -1;
}

void
agent_launch_spawned(agent_launch_t *l)
{
    if (l->prompt_fd >= 0)
        close(l->prompt_fd);
    l->prompt_fd = -1;
    if (l->prompt_path)
        unlink(l->prompt_path);
    free(l->prompt_path);
    l->prompt_path = NULL;
    sw_strv_release(&l->argv);
    agent_env_free(l->envp);
    l->envp = NULL;
}

void
agent_launch_release(agent_launch_t *l)
{
    agent_launch_spawned(l);
    if (l->lastmsg)
        unlink(l->lastmsg);
    if (l->schema)
        unlink(l->schema);
    free(l->dir);
    free(l->lastmsg);
    free(l->schema);
    free(l->error);
    agent_launch_init(l);
}

/*  The expanded prompt, in a private file that becomes the runner's stdin:
 *  never in argv, where an option parser would read it and the kernel
 *  caps it at 128 KiB. */
static int
s_prompt_file(const agent_run_conf_t *conf, const sw_task_t *t, agent_launch_t *l)
{
    sw_err_t err = { 0 };
    l->prompt_fd = agent_state_create(conf->state, t->job, t->id, t->attempt, "prompt",
                                      &l->prompt_path, &err);
    if (l->prompt_fd < 0) {
        l->error = xstrdup(err.msg);
        return -1;
    }
    const char *p = t->prompt;
    size_t len = strlen(p), off = 0;
    while (off < len) {
        ssize_t w = write(l->prompt_fd, p + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            break;
        off += (size_t) w;
    }
    if (off < len || lseek(l->prompt_fd, 0, SEEK_SET) != 0) {
        l->error = xasprintf("cannot write the prompt to %s: %s", l->prompt_path,
                             strerror(errno));
        return -1;
    }
    return 0;
}

/*  codex's last-message file (-o; created empty here, so nothing else can
 *  take its name) and its output schema, in the state directory. */
static int
s_codex_files(const agent_run_conf_t *conf, const sw_task_t *t, agent_launch_t *l)
{
    sw_err_t err = { 0 };
    int fd = agent_state_create(conf->state, t->job, t->id, t->attempt, "last",
                                &l->lastmsg, &err);
    if (fd < 0) {
        l->error = xstrdup(err.msg);
        return -1;
    }
    close(fd);
    if (!t->output_schema)
        return 0;
    fd = agent_state_create(conf->state, t->job, t->id, t->attempt, "schema.json",
                            &l->schema, &err);
    if (fd < 0) {
        l->error = xstrdup(err.msg);
        return -1;
    }
    size_t len = strlen(t->output_schema);
    bool ok = write(fd, t->output_schema, len) == (ssize_t) len;
    if (close(fd) < 0)
        ok = false;
    if (!ok) {
        l->error = xasprintf("cannot write the output schema to %s: %s", l->schema,
                             strerror(errno));
        return -1;
    }
    return 0;
}

int
agent_prepare(const agent_run_conf_t *conf, agent_store_t *store, sw_task_t *t,
              const char *token, const char *wsdir, agent_launch_t *l)
{
    sw_err_t err = { 0 };
    /*  A variable that could make the runner run foreign code: refused
     *  before anything else happens (agent_env.h). */
    if (agent_env_check(&conf->env_policy, t, &err) < 0) {
        l->error = xstrdup(err.msg);
        l->deterministic = true;
        return -1;
    }
    char *dir = wsdir ? xstrdup(wsdir)
              : !t->dir ? xstrdup(conf->workdir)
              : t->dir[0] == '/' ? xstrdup(t->dir)
              : xasprintf("%s/%s", conf->workdir, t->dir);
    struct stat sb;
    char *real = NULL;
    /*  (one the agent cannot enter would fail the spawn's chdir, which
     *  reads as the runner's own error) */
    int e = stat(dir, &sb) < 0 ? errno : !S_ISDIR(sb.st_mode) ? ENOTDIR
          : access(dir, X_OK) < 0 ? errno
          : !(real = realpath(dir, NULL)) ? errno : 0;
    if (e) {
        /*  it may exist on another agent: retryable */
        l->error = xasprintf("working directory %s: %s", dir, strerror(e));
        free(dir);
        return -1;
    }
    /*  The agent's own files are out of every task's reach: no task runs
     *  where they are, whatever its --dir says. */
    const char *state_dir = agent_state_dir(conf->state);
    bool in_state = agent_path_inside(real, state_dir) || agent_path_inside(state_dir, real)
                 || (conf->spool_dir && (agent_path_inside(real, conf->spool_dir)
                                         || agent_path_inside(conf->spool_dir, real)));
    free(real);
    if (in_state) {
        l->error = xasprintf("working directory %s holds the agent's state: no task may "
                             "run there", dir);
        l->deterministic = true;
        free(dir);
        return -1;
    }
    l->dir = dir;
    if (strcmp(t->runner, "codex") == 0 && s_codex_files(conf, t, l) < 0)
        return -1;
    if (t->prompt && strstr(t->prompt, "{{")) {
        sw_buf_t expanded;
        sw_buf_init(&expanded);
        if (agent_store_expand(store, t, &expanded, &err) < 0) {
            sw_buf_release(&expanded);
            l->error = xstrdup(err.msg);
            /*  a reference that is missing or invalid, or a prompt over the
             *  limits, is for good; Redis not answering is not */
            l->deterministic = err.code == SW_ENOTFOUND || err.code == SW_EINVAL;
            return -1;
        }
        free(t->prompt);
        t->prompt = expanded.data;
    }
    if (t->prompt && s_prompt_file(conf, t, l) < 0)
        return -1;
    if (agent_runner_argv(conf->runner, t, l->dir, l->lastmsg, l->schema, &l->argv,
                          &err) < 0) {
        l->error = xstrdup(err.msg);
        l->deterministic = true;
        return -1;
    }
    l->envp = agent_env_build(environ, conf->pass_env, t, conf->agent_id, token);
    if (conf->rlimit_as || conf->rlimit_nofile) {
        /*  posix_spawn cannot set limits: the child execs this agent once
         *  more, which sets them and execs the runner (no window without
         *  them, unlike prlimit after the spawn). */
        sw_strv_t wrapped = { 0 };
        char lim[2][32];
        snprintf(lim[0], sizeof lim[0], "%lld", conf->rlimit_as);
        snprintf(lim[1], sizeof lim[1], "%lld", conf->rlimit_nofile);
        sw_strv_push(&wrapped, conf->self_exe);
        sw_strv_push(&wrapped, conf->exec_limits_arg);
        sw_strv_push(&wrapped, lim[0]);
        sw_strv_push(&wrapped, lim[1]);
        /*  the agent's PATH: the task's own (its --env PATH) must not
         *  find another program than it would without limits */
        sw_strv_push(&wrapped, agent_spawn_path());
        for (size_t i = 0; i < l->argv.n; i++)
            sw_strv_push(&wrapped, l->argv.v[i]);
        sw_strv_release(&l->argv);
        l->argv = wrapped;
    }
    /*  An exec task's argv is the task's own: one that the kernel would
     *  refuse fails now, once, with the numbers (no retry changes them). */
    if (agent_child_check_args(l->argv.v[0], l->argv.v, l->envp, agent_child_arg_limit(),
                               &err) < 0) {
        l->error = xstrdup(err.msg);
        l->deterministic = true;
        return -1;
    }
    return 0;
}
