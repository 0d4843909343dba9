/*  sw_git -- see sw_git.h */
#include "sw_git.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sw_mpack.h"
#include "sw_selftest.h"

extern char **environ;

#define ERR_MAX (64 << 10)

sw_git_opts_t
sw_git_opts(void)
{
    sw_git_opts_t o = { 0 };
    o.in_fd = o.out_fd = -1;
    return o;
}

void
sw_git_res_init(sw_git_res_t *r)
{
    sw_buf_init(&r->out);
    sw_buf_init(&r->err);
    r->code = 0;
}

void
sw_git_res_release(sw_git_res_t *r)
{
    sw_buf_release(&r->out);
    sw_buf_release(&r->err);
    r->code = 0;
}

bool
sw_git_oid_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n != 40 && n != 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/*  Whether NAME=... of var is one that passes from our environment. */
static bool
s_passes(const char *var, bool user_config)
{
    /*  SWARM_RUN and SWARM_AGENT name the agent's processes, not git's
     *  configuration: with them a git a killed agent's helper left
     *  running is found and killed by the next agent (agent_orphans.h),
     *  instead of writing into the state dir beside it. */
    static const char *const always[] = { "PATH=", "HOME=", "USER=", "LOGNAME=", "TMPDIR=",
                                          "LANG=", "LC_", "SWARM_RUN=", "SWARM_AGENT=", NULL };
    static const char *const user[] = { "SSH_AUTH_SOCK=", "GIT_SSH_COMMAND=", "GIT_SSH=",
                                        "XDG_CONFIG_HOME=", NULL };
    if (strncmp(var, "LC_ALL=", 7) == 0)
        return false;
    for (const char *const *p = always; *p; p++)
        if (strncmp(var, *p, strlen(*p)) == 0)
            return true;
    for (const char *const *p = user; user_config && *p; p++)
        if (strncmp(var, *p, strlen(*p)) == 0)
            return true;
    return false;
}

static void
s_build(const sw_git_opts_t *o, const char *const *args, sw_strv_t *argv, sw_strv_t *envp)
{
    sw_strv_push(argv, "git");
    sw_strv_push(argv, "-c");
    sw_strv_push(argv, "core.hooksPath=/dev/null");
    /*  Without the user's configuration, also without the per-user
     *  excludes and attributes git reads by default from
     *  $XDG_CONFIG_HOME/git or $HOME/.config/git (GIT_CONFIG_GLOBAL
     *  does not cover them), nor /etc/gitattributes: an agent's host
     *  user with `*.env` in ~/.config/git/ignore would drop a task's
     *  app.env from its change, an `eol=crlf` there would give tasks
     *  on that host other bytes (issue 16 attack, e2e.ws_home). */
    if (!o->user_config) {
        sw_strv_push(argv, "-c");
        sw_strv_push(argv, "core.excludesFile=/dev/null");
        sw_strv_push(argv, "-c");
        sw_strv_push(argv, "core.attributesFile=/dev/null");
    }
    for (const char *const *a = args; *a; a++)
        sw_strv_push(argv, *a);
    for (char **e = environ; *e; e++)
        if (s_passes(*e, o->user_config))
            sw_strv_push(envp, *e);
    sw_strv_push(envp, "LC_ALL=C");
    sw_strv_push(envp, "GIT_TERMINAL_PROMPT=0");
    sw_strv_push(envp, "GIT_OPTIONAL_LOCKS=0");
    if (!o->user_config) {
        sw_strv_push(envp, "GIT_CONFIG_NOSYSTEM=1");
        sw_strv_push(envp, "GIT_CONFIG_GLOBAL=/dev/null");
        sw_strv_push(envp, "GIT_ATTR_NOSYSTEM=1");
    }
    const struct { const char *name, *value; } vars[] = {
        { "GIT_DIR", o->git_dir }, { "GIT_WORK_TREE", o->work_tree },
        { "GIT_INDEX_FILE", o->index_file },
    };
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (vars[i].value) {
            char *v = xasprintf("%s=%s", vars[i].name, vars[i].value);
            sw_strv_push(envp, v);
            free(v);
        }
    for (const char *const *e = o->env; e && *e; e++)
        sw_strv_push(envp, *e);
}

/*  "git read-tree -u ..." for messages: the first words, not the paths. */
static char *
s_what(const char *const *args)
{
    sw_buf_t b;
    sw_buf_init(&b);
    sw_buf_addstr(&b, "git");
    for (int i = 0; args[i] && i < 2; i++) {
        if (strlen(args[i]) > 40)
            break;
        sw_buf_printf(&b, " %s", args[i]);
    }
    return b.data;
}

int
sw_git_start(const sw_git_opts_t *o, const char *const *args, bool want_in, bool want_out,
             sw_git_proc_t *p, sw_err_t *err)
{
    memset(p, 0, sizeof *p);
    p->pid = -1;
    p->in_fd = p->out_fd = p->err_file = -1;
    p->what = s_what(args);
    int in[2] = { -1, -1 }, out[2] = { -1, -1 };
    p->err_file = open(getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
                       O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (p->err_file < 0)
        p->err_file = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (p->err_file < 0 || (want_in && pipe2(in, O_CLOEXEC) < 0)
        || (want_out && pipe2(out, O_CLOEXEC) < 0)) {
        sw_err_set(err, SW_EFAIL, "%s: %s", p->what, strerror(errno));
        goto fail;
    }
    sw_strv_t argv = { 0 }, envp = { 0 };
    s_build(o, args, &argv, &envp);
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    if (want_in)
        posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    else if (o->in_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, o->in_fd, 0);
    else
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (want_out)
        posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    else if (o->out_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, o->out_fd, 1);
    else
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, p->err_file, 2);
    if (o->cwd)
        posix_spawn_file_actions_addchdir_np(&fa, o->cwd);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    sigset_t none, dfl;
    sigemptyset(&none);
    sigemptyset(&dfl);
    int sigs[] = { SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD };
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaddset(&dfl, sigs[i]);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &dfl);
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    p->group = o->own_group;
    if (o->own_group) {
        posix_spawnattr_setpgroup(&attr, 0);
        flags |= POSIX_SPAWN_SETPGROUP;
    }
    posix_spawnattr_setflags(&attr, flags);
    int rc = posix_spawnp(&p->pid, "git", &fa, &attr, argv.v, envp.v);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    sw_strv_release(&argv);
    sw_strv_release(&envp);
    if (rc != 0) {
        p->pid = -1;
        sw_err_set(err, SW_EFAIL, "cannot run git: %s%s", strerror(rc),
                   rc == ENOENT ? " (workspaces need git: apt install git)" : "");
        goto fail;
    }
    if (want_in) {
        close(in[0]);
        p->in_fd = in[1];
    }
    if (want_out) {
        close(out[1]);
        p->out_fd = out[0];
    }
    p->start_ms = sw_now_ms();
    p->deadline_ms = p->start_ms + (o->timeout_ms > 0 ? o->timeout_ms : SW_GIT_TIMEOUT_MS);
    return 0;
fail:
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (out[i] >= 0)
            close(out[i]);
    }
    if (p->err_file >= 0)
        close(p->err_file);
    p->err_file = -1;
    free(p->what);
    p->what = NULL;
    return -1;
}

/*  Waits until fd is ready for events within p's deadline: 1, or 0 at
 *  the deadline. */
static int
s_wait_fd(const sw_git_proc_t *p, int fd, short events)
{
    for (;;) {
        int64_t left = p->deadline_ms - sw_now_ms();
        if (left <= 0)
            return 0;
        struct pollfd pf = { fd, events, 0 };
        int rc = poll(&pf, 1, left > 1000 ? 1000 : (int) left);
        if (rc > 0)
            return 1;
        if (rc < 0 && errno != EINTR)
            return 1;           /*  let the read or write report it */
    }
}

int
sw_git_write(sw_git_proc_t *p, const void *data, size_t n, sw_err_t *err)
{
    const char *d = data;
    while (n > 0) {
        if (!s_wait_fd(p, p->in_fd, POLLOUT))
            return sw_err_set(err, SW_EFAIL, "%s timed out", p->what);
        ssize_t w = write(p->in_fd, d, n);
        if (w < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (w < 0)
            return sw_err_set(err, SW_EFAIL, "%s stopped reading: %s", p->what,
                              strerror(errno));
        d += w;
        n -= (size_t) w;
    }
    return 0;
}

ssize_t
sw_git_read(sw_git_proc_t *p, void *buf, size_t n, sw_err_t *err)
{
    for (;;) {
        if (!s_wait_fd(p, p->out_fd, POLLIN)) {
            sw_err_set(err, SW_EFAIL, "%s timed out", p->what);
            return -1;
        }
        ssize_t r = read(p->out_fd, buf, n);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r < 0)
            sw_err_set(err, SW_EFAIL, "%s: read: %s", p->what, strerror(errno));
        return r;
    }
}

/*  git's stderr, the first ERR_MAX bytes. */
static void
s_read_err(sw_git_proc_t *p, sw_buf_t *out)
{
    if (p->err_file < 0 || lseek(p->err_file, 0, SEEK_SET) < 0)
        return;
    char buf[8192];
    ssize_t r;
    while (out->len < ERR_MAX && (r = read(p->err_file, buf, sizeof buf)) > 0)
        sw_buf_add(out, buf, (size_t) r);
}

/*  The first line of git's message that says something ("fatal: ...",
 *  "error: ..."), else its first line. */
static void
s_first_line(const sw_buf_t *e, char *out, size_t n)
{
    const char *text = e->data ? e->data : "";
    const char *pick = text;
    for (const char *l = text; *l; ) {
        if (strncmp(l, "fatal: ", 7) == 0 || strncmp(l, "error: ", 7) == 0) {
            pick = l;
            break;
        }
        const char *nl = strchr(l, '\n');
        if (!nl)
            break;
        l = nl + 1;
    }
    size_t len = strcspn(pick, "\n");
    snprintf(out, n, "%.*s", (int) (len < n ? len : n - 1), pick);
}

int
sw_git_finish(sw_git_proc_t *p, bool kill_now, sw_git_res_t *res, sw_err_t *err)
{
    if (p->in_fd >= 0)
        close(p->in_fd);
    if (p->out_fd >= 0)
        close(p->out_fd);
    p->in_fd = p->out_fd = -1;
    int st = 0;
    bool timed_out = false;
    if (p->pid > 0) {
        if (kill_now)
            kill(p->group ? -p->pid : p->pid, SIGKILL);
        /*  A pidfd wakes us the moment git exits (no polling interval). */
        int pidfd = (int) syscall(SYS_pidfd_open, p->pid, 0);
        for (;;) {
            pid_t r = waitpid(p->pid, &st, WNOHANG);
            if (r == p->pid || (r < 0 && errno != EINTR))
                break;
            int64_t left = p->deadline_ms - sw_now_ms();
            if (!kill_now && left <= 0) {
                timed_out = true;
                kill(p->group ? -p->pid : p->pid, SIGKILL);
                kill_now = true;
            }
            if (pidfd >= 0) {
                struct pollfd pf = { pidfd, POLLIN, 0 };
                poll(&pf, 1, kill_now ? 100 : left > 1000 ? 1000 : (int) left);
            }
            else
                usleep(1000);
        }
        if (pidfd >= 0)
            close(pidfd);
    }
    if (getenv("SWARM_GIT_TRACE"))
        fprintf(stderr, "swarm: %s: %lld ms\n", p->what, (long long) (sw_now_ms() - p->start_ms));
    sw_buf_t e;
    sw_buf_init(&e);
    s_read_err(p, &e);
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 255;
    int rc = 0;
    if (timed_out)
        rc = sw_err_set(err, SW_EFAIL, "%s timed out", p->what);
    else if (code != 0 && !kill_now) {
        char line[200];
        s_first_line(&e, line, sizeof line);
        sw_err_set(err, SW_EFAIL, "%s failed (exit %d)%s%s", p->what, code, *line ? ": " : "",
                   line);
        rc = code;
    }
    else if (kill_now)
        rc = -1;
    if (res) {
        res->code = code;
        sw_buf_add(&res->err, e.data ? e.data : "", e.len);
    }
    sw_buf_release(&e);
    if (p->err_file >= 0)
        close(p->err_file);
    p->err_file = -1;
    free(p->what);
    p->what = NULL;
    p->pid = -1;
    return rc;
}

int
sw_git_run(const sw_git_opts_t *o, const char *const *args, sw_git_res_t *res, sw_err_t *err)
{
    sw_git_proc_t p;
    bool capture = o->out_fd < 0;
    if (sw_git_start(o, args, o->in != NULL, capture, &p, err) < 0)
        return -1;
    size_t out_max = o->out_max ? o->out_max : SW_GIT_OUT_MAX;
    sw_buf_t out;
    sw_buf_init(&out);
    const char *in = o->in;
    size_t in_left = o->in ? o->in_len : 0;
    if (p.in_fd >= 0 && in_left == 0) {
        close(p.in_fd);
        p.in_fd = -1;
    }
    if (p.in_fd >= 0)
        sw_fd_nonblock(p.in_fd);
    bool over = false, timed_out = false;
    /*  Feed stdin and drain stdout together: either could fill its pipe. */
    while (p.in_fd >= 0 || p.out_fd >= 0) {
        struct pollfd pf[2];
        int n = 0, ii = -1, oi = -1;
        if (p.in_fd >= 0) {
            pf[n] = (struct pollfd) { p.in_fd, POLLOUT, 0 };
            ii = n++;
        }
        if (p.out_fd >= 0) {
            pf[n] = (struct pollfd) { p.out_fd, POLLIN, 0 };
            oi = n++;
        }
        int64_t left = p.deadline_ms - sw_now_ms();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        int rc = poll(pf, (nfds_t) n, left > 1000 ? 1000 : (int) left);
        if (rc < 0 && errno != EINTR)
            break;
        if (rc <= 0)
            continue;
        if (ii >= 0 && pf[ii].revents) {
            ssize_t w = write(p.in_fd, in, in_left);
            if (w > 0) {
                in += w;
                in_left -= (size_t) w;
            }
            if ((w < 0 && errno != EAGAIN && errno != EINTR) || in_left == 0) {
                close(p.in_fd);
                p.in_fd = -1;
            }
        }
        if (oi >= 0 && pf[oi].revents) {
            char buf[65536];
            ssize_t r = read(p.out_fd, buf, sizeof buf);
            if (r > 0 && !over) {
                if (out.len + (size_t) r > out_max)
                    over = true;
                else
                    sw_buf_add(&out, buf, (size_t) r);
            }
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                close(p.out_fd);
                p.out_fd = -1;
            }
        }
    }
    if (timed_out)
        p.deadline_ms = sw_now_ms();
    sw_git_res_t local;
    sw_git_res_init(&local);
    int rc = sw_git_finish(&p, over || timed_out, res ? res : &local, err);
    sw_git_res_release(&local);
    if (timed_out)
        rc = sw_err_set(err, SW_EFAIL, "git %s timed out after %lld s", args[0],
                        (long long) ((o->timeout_ms > 0 ? o->timeout_ms : SW_GIT_TIMEOUT_MS)
                                     / 1000));
    else if (over)
        rc = sw_err_set(err, SW_EFAIL, "git %s wrote more than %zu bytes", args[0], out_max);
    if (res && capture) {
        sw_buf_release(&res->out);
        res->out = out;
    }
    else
        sw_buf_release(&out);
    return rc;
}

/*  --- self-test ----------------------------------------------------------------- */

int
sw_git_test(bool verbose)
{
    CHECK(sw_git_oid_valid("0123456789abcdef0123456789abcdef01234567"));
    CHECK(!sw_git_oid_valid("0123456789ABCDEF0123456789abcdef01234567"));
    CHECK(!sw_git_oid_valid("012345") && !sw_git_oid_valid(NULL) && !sw_git_oid_valid(""));
    char dir[] = "/tmp/swarm-gittest.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    sw_err_t err = { 0 };
    sw_git_res_t res;
    sw_git_res_init(&res);
    /*  A GIT_DIR of ours must not leak into git. */
    setenv("GIT_DIR", "/nonexistent", 1);
    sw_git_opts_t o = sw_git_opts();
    o.cwd = dir;
    const char *init[] = { "init", "-q", "-b", "main", NULL };
    CHECK(sw_git_run(&o, init, &res, &err) == 0);
    unsetenv("GIT_DIR");
    /*  stdin in, stdout out: hash-object of a blob */
    o.in = "hello\n";
    o.in_len = 6;
    const char *hash[] = { "hash-object", "-w", "--stdin", NULL };
    CHECK(sw_git_run(&o, hash, &res, &err) == 0);
    CHECK(res.out.data && strncmp(res.out.data, "ce013625030ba8dba906f756967f9e9ca394464a", 40) == 0);
    /*  a failure: the exit code and git's message */
    o.in = NULL;
    const char *bad[] = { "cat-file", "-t", "0000000000000000000000000000000000000001", NULL };
    int rc = sw_git_run(&o, bad, &res, &err);
    CHECK(rc > 0 && strstr(err.msg, "git cat-file") && res.code == rc);
    /*  the output cap: the blob is 6 bytes, its name 41 */
    o.out_max = 10;
    const char *small[] = { "cat-file", "-p", "ce013625030ba8dba906f756967f9e9ca394464a", NULL };
    CHECK(sw_git_run(&o, small, &res, &err) == 0 && res.out.len == 6);
    o.in = "hello\n";
    CHECK(sw_git_run(&o, hash, &res, &err) < 0 && strstr(err.msg, "more than 10 bytes"));
    o.in = NULL;
    o.out_max = 0;
    /*  the timeout kills it */
    o.timeout_ms = 300;
    int fds[2];
    CHECK(pipe(fds) == 0);
    o.in_fd = fds[0];           /*  never written: git waits on stdin */
    const char *wait_in[] = { "hash-object", "--stdin", NULL };
    int64_t t0 = sw_now_ms();
    CHECK(sw_git_run(&o, wait_in, &res, &err) < 0 && strstr(err.msg, "timed out"));
    CHECK(sw_now_ms() - t0 < 3000);
    close(fds[0]);
    close(fds[1]);
    o.timeout_ms = 0;
    o.in_fd = -1;
    sw_git_feed_test(&o);
    sw_git_res_release(&res);
    char *rm = xasprintf("rm -rf '%s'", dir);
    CHECK(system(rm) == 0);
    free(rm);
    (void) verbose;
    return 0;
}
