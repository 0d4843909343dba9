/*  sw_hook -- see sw_hook.h */
#include "sw_hook.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sw_selftest.h"

extern char **environ;

#define LINE_MAX_BYTES  (64u << 10)     /*  a longer line is cut into pieces */
#define EOF_GRACE_MS    2000            /*  after the exit, for pipes a straggler holds */

/*  --- the hooks of a job --------------------------------------------------------- */

void
sw_hooks_add(sw_hooks_t *h, bool post, const sw_strv_t *argv)
{
    sw_strv_t **v = post ? &h->post : &h->pre;
    size_t *n = post ? &h->npost : &h->npre;
    *v = xrealloc(*v, (*n + 1) * sizeof **v);
    (*v)[*n] = (sw_strv_t) { 0 };
    sw_strv_copy(&(*v)[*n], argv);
    (*n)++;
}

void
sw_hooks_release(sw_hooks_t *h)
{
    for (size_t i = 0; i < h->npre; i++)
        sw_strv_release(&h->pre[i]);
    for (size_t i = 0; i < h->npost; i++)
        sw_strv_release(&h->post[i]);
    free(h->pre);
    free(h->post);
    memset(h, 0, sizeof *h);
}

void
sw_hook_format(const sw_strv_t *argv, sw_buf_t *out)
{
    for (size_t i = 0; i < argv->n; i++) {
        const char *w = argv->v[i];
        bool plain = *w != '\0';
        for (const char *p = w; *p && plain; p++)
            plain = strchr(" \t\n'\"\\$`*?[]{}()<>|&;#~!", *p) == NULL;
        if (i)
            sw_buf_addstr(out, " ");
        if (plain) {
            sw_buf_addstr(out, w);
            continue;
        }
        sw_buf_addstr(out, "'");
        for (const char *p = w; *p; p++)
            sw_buf_addstr(out, *p == '\'' ? "'\\''" : (char[]) { *p, '\0' });
        sw_buf_addstr(out, "'");
    }
    if (!out->data)
        sw_buf_add(out, "", 0);
}

void
sw_hook_describe(const sw_hook_result_t *res, int64_t timeout_ms, char *out, size_t n)
{
    if (res->interrupted)
        snprintf(out, n, "was stopped: swarm got %s", strsignal(res->interrupted));
    else if (res->timed_out)
        snprintf(out, n, "timed out after %lld s (its process group was killed)",
                 (long long) (timeout_ms / 1000));
    else if (res->spawn_errno == ENOENT)
        snprintf(out, n, "could not start: command not found");
    else if (res->spawn_errno)
        snprintf(out, n, "could not start: %s", strerror(res->spawn_errno));
    else if (res->signal)
        snprintf(out, n, "was killed by SIG%s", sigabbrev_np(res->signal)
                 ? sigabbrev_np(res->signal) : "?");
    else
        snprintf(out, n, "exited %d", res->status);
}

/*  --- running one ---------------------------------------------------------------- */

/*  The write end of the self-pipe the signal handler reports to. */
static volatile int s_sig_fd = -1;

static void
s_on_signal(int sig)
{
    int saved = errno;
    unsigned char c = (unsigned char) sig;
    if (s_sig_fd >= 0 && write(s_sig_fd, &c, 1) < 0) {
        /*  the pipe is full: one report is enough */
    }
    errno = saved;
}

/*  One output stream: bytes in, prefixed lines out. */
typedef struct {
    int      fd;
    FILE    *to;
    sw_buf_t line;
} s_stream_t;

static void
s_emit(s_stream_t *s, const char *prefix)
{
    /*  fwrite: the line is bytes (a NUL would end a %s) */
    fputs(prefix, s->to);
    if (s->line.len)
        fwrite(s->line.data, 1, s->line.len, s->to);
    fputc('\n', s->to);
    fflush(s->to);
    sw_buf_reset(&s->line);
}

/*  Reads what is there; false at EOF. */
static bool
s_drain(s_stream_t *s, const char *prefix)
{
    char buf[8192];
    ssize_t got = read(s->fd, buf, sizeof buf);
    if (got < 0 && (errno == EAGAIN || errno == EINTR))
        return true;
    if (got <= 0) {
        if (s->line.len)
            s_emit(s, prefix);
        return false;
    }
    for (ssize_t i = 0; i < got; i++) {
        if (buf[i] == '\n')
            s_emit(s, prefix);
        else {
            sw_buf_add(&s->line, &buf[i], 1);
            if (s->line.len >= LINE_MAX_BYTES)
                s_emit(s, prefix);
        }
    }
    return true;
}

/*  The caller's environment with spec's variables and the token set. */
static char **
s_envp(const sw_kv_t *env, const char *token, sw_strv_t *store)
{
    for (char **e = environ; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        size_t klen = eq ? (size_t) (eq - *e) : strlen(*e);
        bool replaced = klen == strlen("SWARM_HOOK_RUN")
                        && strncmp(*e, "SWARM_HOOK_RUN", klen) == 0;
        for (size_t i = 0; env && i < env->n && !replaced; i++)
            replaced = strlen(env->k[i]) == klen && strncmp(env->k[i], *e, klen) == 0;
        if (!replaced)
            sw_strv_push(store, *e);
    }
    for (size_t i = 0; env && i < env->n; i++) {
        char *kv = xasprintf("%s=%s", env->k[i], env->v[i]);
        sw_strv_push(store, kv);
        free(kv);
    }
    char *kv = xasprintf("SWARM_HOOK_RUN=%s", token);
    sw_strv_push(store, kv);
    free(kv);
    char **envp = xcalloc(store->n + 1, sizeof *envp);
    memcpy(envp, store->v, store->n * sizeof *envp);
    return envp;
}

/*  True when PID's environment holds SWARM_HOOK_RUN=token. */
static bool
s_has_token(pid_t pid, const char *token)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/environ", (int) pid);
    sw_buf_t env;
    sw_buf_init(&env);
    bool found = false;
    if (sw_read_file(path, 1u << 20, &env, NULL) == 0) {
        char *want = xasprintf("SWARM_HOOK_RUN=%s", token);
        size_t wlen = strlen(want) + 1;             /*  with its NUL */
        for (size_t i = 0; i < env.len && !found;) {
            size_t len = strnlen(env.data + i, env.len - i);
            found = len + 1 == wlen && memcmp(env.data + i, want, len) == 0;
            i += len + 1;
        }
        free(want);
    }
    sw_buf_release(&env);
    return found;
}

/*  Our children that carry the token: what a hook left behind outside its
 *  group, re-parented to us (a child subreaper). */
static size_t
s_strays(const char *token, pid_t *pids, size_t max)
{
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    pid_t me = getpid();
    size_t n = 0;
    char path[300];
    sw_buf_t stat;
    sw_buf_init(&stat);
    struct dirent *e;
    while (n < max && (e = readdir(d))) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        sw_buf_reset(&stat);
        if (sw_read_file(path, 4096, &stat, NULL) < 0)
            continue;
        /*  "pid (comm) state ppid ...": comm may hold spaces and parens */
        const char *p = strrchr(stat.data, ')');
        int ppid;
        pid_t pid = (pid_t) atoi(e->d_name);
        if (p && sscanf(p + 1, " %*c %d", &ppid) == 1 && ppid == me && s_has_token(pid, token))
            pids[n++] = pid;
    }
    sw_buf_release(&stat);
    closedir(d);
    return n;
}

/*  Kills and reaps what the hook left outside its group; each one's own
 *  group too, and what their death re-parents to us, until nothing is
 *  left (bounded: 5 s). Returns how many. */
static int
s_kill_strays(const char *token)
{
    int killed = 0;
    int64_t deadline = sw_now_ms() + 5000;
    for (;;) {
        pid_t pids[256];
        size_t n = s_strays(token, pids, 256);
        if (n == 0 || sw_now_ms() > deadline)
            break;
        for (size_t i = 0; i < n; i++) {
            /*  Our child, not reaped yet: its pid, and a group it leads,
             *  cannot belong to anyone else. */
            if (getpgid(pids[i]) == pids[i])
                kill(-pids[i], SIGKILL);
            kill(pids[i], SIGKILL);
        }
        for (size_t i = 0; i < n; i++)
            if (waitpid(pids[i], NULL, 0) == pids[i])
                killed++;
    }
    return killed;
}

static int
s_pidfd_open(pid_t pid)
{
#ifdef SYS_pidfd_open
    return (int) syscall(SYS_pidfd_open, pid, 0);
#else
    (void) pid;
    errno = ENOSYS;
    return -1;
#endif
}

int
sw_hook_run(const sw_hook_spec_t *spec, sw_hook_result_t *res, sw_err_t *err)
{
    static unsigned counter;
    memset(res, 0, sizeof *res);
    int64_t t0 = sw_now_ms();
    int out[2] = { -1, -1 }, errp[2] = { -1, -1 }, sig[2] = { -1, -1 };
    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0
        || pipe2(sig, O_CLOEXEC | O_NONBLOCK) < 0) {
        int e = errno;
        for (int i = 0; i < 2; i++) {
            if (out[i] >= 0)
                close(out[i]);
            if (errp[i] >= 0)
                close(errp[i]);
        }
        return sw_err_set(err, SW_EFAIL, "cannot run a hook: pipe: %s", strerror(e));
    }
    /*  Escaped processes come back to us, to be found by the token. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    char token[64];
    snprintf(token, sizeof token, "%d:%u:%lld", (int) getpid(), ++counter, (long long) t0);
    sw_strv_t envstore = { 0 };
    char **envp = s_envp(spec->env, token, &envstore);

    /*  SIGINT, SIGTERM, SIGHUP stop the hook before we go: a handler (in
     *  whichever thread gets it) writes to the self-pipe. So does SIGPIPE:
     *  our output's reader went away (`swarm run | head`), and dying of it
     *  would leave the hook running, orphaned. */
    static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE };
    enum { NSIGS = sizeof sigs / sizeof *sigs };
    struct sigaction old[NSIGS], sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    s_sig_fd = sig[1];
    for (int i = 0; i < NSIGS; i++) {
        sigaction(sigs[i], NULL, &old[i]);
        /*  One we were started ignoring (nohup, a shell's background job)
         *  stays ignored. */
        if (old[i].sa_handler != SIG_IGN)
            sigaction(sigs[i], &sa, NULL);
    }

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK
                                  | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&at, 0);
    sigset_t none, deflt;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&at, &none);
    sigemptyset(&deflt);
    for (int s = 1; s < 32; s++)
        if (s != SIGKILL && s != SIGSTOP)
            sigaddset(&deflt, s);
    posix_spawnattr_setsigdefault(&at, &deflt);
    pid_t pid = -1;
    int rc = posix_spawnp(&pid, spec->argv->v[0], &fa, &at, spec->argv->v, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(out[1]);
    close(errp[1]);
    free(envp);
    sw_strv_release(&envstore);

    s_stream_t streams[2] = { { out[0], spec->out, { 0 } }, { errp[0], spec->err, { 0 } } };
    if (rc != 0) {
        res->spawn_errno = rc;
        res->status = rc == ENOENT ? 127 : 126;
        goto done;
    }
    sw_fd_nonblock(out[0]);
    sw_fd_nonblock(errp[0]);
    int pidfd = s_pidfd_open(pid);
    int64_t deadline = t0 + spec->timeout_ms, kill_at = -1, exited_at = -1;
    int64_t grace = spec->grace_ms > 0 ? spec->grace_ms : 2000;
    bool open_out = true, open_err = true, exited = false;
    int wstatus = 0;
    while (!exited || open_out || open_err) {
        int64_t now = sw_now_ms();
        if (!exited && !res->timed_out && !res->interrupted && now >= deadline) {
            res->timed_out = true;
            kill(-pid, SIGTERM);
            kill_at = now + grace;
        }
        if (kill_at >= 0 && now >= kill_at) {
            kill(-pid, SIGKILL);
            kill_at = -1;
        }
        /*  A straggler that holds our pipes after the exit: it dies
         *  below with the group; stop waiting for its EOF. */
        if (exited && now - exited_at >= EOF_GRACE_MS)
            break;
        struct pollfd p[4] = {
            { open_out ? out[0] : -1, POLLIN, 0 }, { open_err ? errp[0] : -1, POLLIN, 0 },
            { exited ? -1 : pidfd, POLLIN, 0 }, { sig[0], POLLIN, 0 },
        };
        int64_t wake = exited ? exited_at + EOF_GRACE_MS : deadline;
        if (kill_at >= 0 && kill_at < wake)
            wake = kill_at;
        if (res->timed_out && kill_at < 0 && !exited)
            wake = now + 200;
        if (pidfd < 0 && !exited)
            wake = now + 50 < wake ? now + 50 : wake;       /*  no pidfd: poll waitpid */
        int ms = wake > now ? (int) (wake - now) : 0;
        if (poll(p, 4, ms) < 0 && errno != EINTR)
            break;
        if (p[0].revents)
            open_out = s_drain(&streams[0], spec->prefix);
        if (p[1].revents)
            open_err = s_drain(&streams[1], spec->prefix);
        if (p[3].revents) {
            unsigned char c;
            while (read(sig[0], &c, 1) == 1)
                if (!res->interrupted) {
                    res->interrupted = c;
                    kill(-pid, SIGTERM);
                    kill_at = sw_now_ms() + grace;
                }
        }
        if (!exited) {
            /*  See the exit without reaping: while the zombie holds its
             *  pid, the group id cannot be reused, so the group kill
             *  below hits only what the hook left in it. */
            siginfo_t si;
            memset(&si, 0, sizeof si);
            if (waitid(P_PID, (id_t) pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid) {
                exited = true;
                exited_at = sw_now_ms();
            }
        }
    }
    if (open_out)
        s_drain(&streams[0], spec->prefix);
    if (open_err)
        s_drain(&streams[1], spec->prefix);
    kill(-pid, SIGKILL);
    while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
        ;
    if (pidfd >= 0)
        close(pidfd);
    if (WIFSIGNALED(wstatus)) {
        res->signal = WTERMSIG(wstatus);
        res->status = 128 + res->signal;
    }
    else
        res->status = WEXITSTATUS(wstatus);
    if (res->timed_out)
        res->status = 124;
    else if (res->interrupted)
        res->status = 128 + res->interrupted;
done:
    res->leftovers = s_kill_strays(token);
    for (int i = 0; i < 2; i++) {
        if (streams[i].line.len)
            s_emit(&streams[i], spec->prefix);
        sw_buf_release(&streams[i].line);
    }
    close(out[0]);
    close(errp[0]);
    for (int i = 0; i < NSIGS; i++)
        sigaction(sigs[i], &old[i], NULL);
    s_sig_fd = -1;
    close(sig[0]);
    close(sig[1]);
    res->duration_ms = sw_now_ms() - t0;
    return 0;
}

/*  --- self-test: real processes --------------------------------------------------- */

static int
s_run(const char *prefix, int64_t timeout_ms, sw_hook_result_t *res, FILE *out, const char *cmd,
      ...)
{
    sw_strv_t argv = { 0 };
    va_list ap;
    va_start(ap, cmd);
    for (const char *a = cmd; a; a = va_arg(ap, const char *))
        sw_strv_push(&argv, a);
    va_end(ap);
    sw_kv_t env = { 0 };
    sw_kv_set(&env, "SWARM_JOB", "job-1");
    sw_hook_spec_t spec = { &argv, &env, timeout_ms, 300, prefix, out, out };
    sw_err_t err = { 0 };
    int rc = sw_hook_run(&spec, res, &err);
    sw_strv_release(&argv);
    sw_kv_release(&env);
    return rc;
}

static bool
s_alive(const char *word)
{
    /*  "[s]warm..." matches the hook's processes, not this sh -c itself */
    char cmd[160];
    snprintf(cmd, sizeof cmd, "pgrep -f -- '[%c]%s' >/dev/null", word[0], word + 1);
    return system(cmd) == 0;
}

int
sw_hook_test(bool verbose)
{
    FILE *out = tmpfile();
    CHECK(out);
    sw_hook_result_t res;

    /*  exit codes, prefixed lines from both streams, the environment */
    CHECK(s_run("[pre 1] ", 5000, &res, out, "sh", "-c",
                "echo one; echo \"job=$SWARM_JOB\" >&2; printf 'no newline'; exit 3", NULL) == 0);
    CHECK(res.status == 3 && !res.timed_out && !res.signal && res.leftovers == 0);
    rewind(out);
    char text[512] = "";
    size_t n = fread(text, 1, sizeof text - 1, out);
    text[n] = '\0';
    CHECK(strstr(text, "[pre 1] one\n") && strstr(text, "[pre 1] job=job-1\n"));
    CHECK(strstr(text, "[pre 1] no newline\n"));
    char desc[128];
    sw_hook_describe(&res, 5000, desc, sizeof desc);
    CHECK(strcmp(desc, "exited 3") == 0);
    /*  bytes, not C strings: a NUL and a byte that is not UTF-8 get through */
    rewind(out);
    CHECK(ftruncate(fileno(out), 0) == 0);
    CHECK(s_run("[p] ", 5000, &res, out, "printf", "a\\000b\\377c\\n", NULL) == 0
          && res.status == 0);
    rewind(out);
    n = fread(text, 1, sizeof text - 1, out);
    CHECK(n == 10 && memcmp(text, "[p] a\0b\377c\n", 10) == 0);

    /*  not found, no shell involved */
    CHECK(s_run("", 5000, &res, out, "no-such-command-swarm-test", "a b", NULL) == 0);
    CHECK(res.status == 127 && res.spawn_errno == ENOENT);
    CHECK(s_run("", 5000, &res, out, "echo", "$HOME", ";", "rm", NULL) == 0 && res.status == 0);

    /*  a hanging hook: timed out, its whole group killed, a child that
     *  ignores SIGTERM too, and one that left the group (setsid) */
    char tok[64], script[512];
    snprintf(tok, sizeof tok, "swarm-hook-test-%d", (int) getpid());
    snprintf(script, sizeof script,
             "trap '' TERM; sh -c 'trap \"\" TERM; sleep 100; : %s-a' & "
             "setsid sh -c 'sleep 100; : %s-b' </dev/null >/dev/null 2>&1 & "
             "sleep 100; : %s-c", tok, tok, tok);
    int64_t t0 = sw_now_ms();
    CHECK(s_run("", 500, &res, out, "sh", "-c", script, NULL) == 0);
    int64_t took = sw_now_ms() - t0;
    CHECK(res.timed_out && res.status == 124);
    CHECK(took >= 500 && took < 5000);
    CHECK(res.leftovers >= 1);          /*  the setsid one, found by its token */
    CHECK(!s_alive(tok));
    sw_hook_describe(&res, 500, desc, sizeof desc);
    CHECK(strstr(desc, "timed out") != NULL);

    /*  a hook that exits at once but leaves a daemon behind holding its
     *  pipe: it ends (EOF grace), the daemon is killed */
    snprintf(script, sizeof script, "sleep 100 & echo started; : %s-d", tok);
    CHECK(s_run("", 5000, &res, out, "sh", "-c", script, NULL) == 0);
    CHECK(res.status == 0 && !res.timed_out);
    CHECK(!s_alive(tok));

    /*  Our output's reader went away (`swarm run | head -1`): the write
     *  raises SIGPIPE, which used to kill the caller and leave the hook
     *  running, orphaned. It stops the hook like a SIGTERM, and we live. */
    int gone[2];
    CHECK(pipe(gone) == 0);
    close(gone[0]);
    FILE *closed = fdopen(gone[1], "w");
    CHECK(closed);
    snprintf(script, sizeof script, "echo one; sleep 100; : %s-e", tok);
    t0 = sw_now_ms();
    CHECK(s_run("[pre 1] ", 5000, &res, closed, "sh", "-c", script, NULL) == 0);
    CHECK(res.interrupted == SIGPIPE && res.status == 128 + SIGPIPE && !res.timed_out);
    CHECK(sw_now_ms() - t0 < 4000);
    CHECK(!s_alive(tok));
    fclose(closed);
    struct sigaction now;
    CHECK(sigaction(SIGPIPE, NULL, &now) == 0 && now.sa_handler == SIG_DFL);

    /*  killed by a signal */
    CHECK(s_run("", 5000, &res, out, "sh", "-c", "kill -9 $$", NULL) == 0);
    CHECK(res.signal == SIGKILL && res.status == 137);

    /*  the formatted command for messages and --dry-run */
    sw_strv_t argv = { 0 };
    static const char *const words[] = { "swarm", "memory", "list", "--namespace", "results",
                                         "a b", "it's", "" };
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        sw_strv_push(&argv, words[i]);
    sw_buf_t b;
    sw_buf_init(&b);
    sw_hook_format(&argv, &b);
    CHECK(strcmp(b.data, "swarm memory list --namespace results 'a b' 'it'\\''s' ''") == 0);
    sw_buf_release(&b);
    sw_strv_release(&argv);
    fclose(out);
    (void) verbose;
    return 0;
}
