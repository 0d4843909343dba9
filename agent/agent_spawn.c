/*  agent_spawn -- see agent_spawn.h */
#include "agent_spawn.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/*  The child's stack: its frames are a few hundred bytes plus the PATH
 *  search's buffer (PATH_MAX), the rest for libc's calls. A
 *  guard page below it. */
#define STACK_BYTES (64 * 1024)

/*  The child runs on a stack the sanitizers do not know, in a process
 *  that shares the parent's memory (their shadow, their locks): no
 *  instrumentation in it, the way glibc's own child has none. */
#if defined(__GNUC__)
#define CHILD_CODE __attribute__((no_sanitize("address", "undefined"), noinline))
#else
#define CHILD_CODE
#endif

typedef struct {
    const agent_spawn_t *s;
    const char          *path;  /*  PATH to search argv[0] in, when it has no '/' */
    volatile int         err;   /*  the child's errno when it failed, else 0 */
} s_args_t;

/*  dup2, or, when the descriptor is already in place, its close-on-exec
 *  flag cleared (as glibc's adddup2 does since 2.29). */
CHILD_CODE static int
s_onto(int fd, int target)
{
    if (fd != target)
        return dup2(fd, target) < 0 ? -1 : 0;
    int flags = fcntl(fd, F_GETFD);
    return flags < 0 ? -1 : fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
}

/*  execvp's search without its shell fallback, as posix_spawnp
 *  (glibc posix/execvpe.c, __execvpex): an empty entry is the current
 *  directory; ENOENT-like errors go on to the next entry, EACCES is
 *  remembered, any other error ends the search. Returns only on failure,
 *  with errno set. */
CHILD_CODE static void
s_exec_path(const char *path, char *const *argv, char *const *envp)
{
    const char *file = argv[0];
    size_t file_len = strnlen(file, PATH_MAX);
    if (file_len == 0) {
        errno = ENOENT;
        return;
    }
    /*  A name over NAME_MAX is left to the kernel, like any other: under a
     *  directory that does not exist it is ENOENT and the search goes on
     *  (glibc's answer), under one that does it is ENAMETOOLONG. A path
     *  over PATH_MAX is what execve refuses first, whatever exists. */
    char buf[PATH_MAX];
    bool eacces = false;
    errno = ENOENT;         /*  what is said when no entry could be tried */
    for (const char *p = path;; ) {
        const char *end = strchrnul(p, ':');
        size_t n = (size_t) (end - p);
        if (n < PATH_MAX) {
            if (n + (n > 0) + file_len >= PATH_MAX) {
                errno = ENAMETOOLONG;
                return;
            }
            memcpy(buf, p, n);
            if (n)
                buf[n++] = '/';
            memcpy(buf + n, file, file_len);
            buf[n + file_len] = '\0';
            execve(buf, argv, envp);
            switch (errno) {
            case EACCES:
                eacces = true;
                break;
            case ENOENT: case ESTALE: case ENOTDIR: case ENODEV: case ETIMEDOUT:
                break;
            default:
                return;
            }
        }
        if (*end == '\0')
            break;
        p = end + 1;
    }
    if (eacces)
        errno = EACCES;
}

/*  Also the child's exec (uninstrumented, as the rest of it). */
CHILD_CODE void
agent_spawn_exec(const char *path, char *const *argv, char *const *envp)
{
    if (strchr(argv[0], '/')) {
        execve(argv[0], argv, envp);
        return;
    }
    s_exec_path(path, argv, envp);
}

/*  close_range's stand-in (Linux before 5.9, or a seccomp filter that
 *  refuses it), as glibc's closefrom: every descriptor from 3 up that
 *  /proc/self/fd lists is closed, with no allocation (the child shares
 *  the agent's heap); after a pass that closed some, the listing starts
 *  over so that none is skipped. 0; -1 with errno when /proc cannot be
 *  read (the spawn fails, as glibc's does). */
CHILD_CODE static int
s_close_from_3(void)
{
    int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0)
        return -1;
    char buf[2048] __attribute__((aligned(8)));
    for (;;) {
        long n = syscall(SYS_getdents64, dir, buf, sizeof buf);
        if (n <= 0) {
            int e = errno;
            close(dir);
            errno = e;
            return n == 0 ? 0 : -1;
        }
        bool closed = false;
        for (long off = 0; off < n; ) {
            struct dirent64 *d = (struct dirent64 *) (void *) (buf + off);
            off += d->d_reclen;
            int fd = 0;
            const char *c = d->d_name;
            if (*c < '0' || *c > '9')
                continue;
            for (; *c >= '0' && *c <= '9' && fd < (1 << 27); c++)
                fd = fd * 10 + (*c - '0');
            if (fd >= 3 && fd != dir) {
                close(fd);
                closed = true;
            }
        }
        if (closed && lseek(dir, 0, SEEK_SET) < 0) {
            int e = errno;
            close(dir);
            errno = e;
            return -1;
        }
    }
}

/*  glibc's child steps, in its order (spawni.c, __spawni_child): the
 *  signal dispositions, the process group, the file actions, the signal
 *  mask, the exec. */
CHILD_CODE static int
s_child(void *arg)
{
    s_args_t *a = arg;
    const agent_spawn_t *s = a->s;
    /*  Every disposition to SIG_DFL while every signal is still blocked:
     *  a handler of the agent must never run here, and exec keeps an
     *  ignored signal ignored (nohup, a service manager's SIGPIPE). By the
     *  system call, with the kernel's struct sigaction all zero (SIG_DFL,
     *  no flags, no restorer, an empty mask, whatever the architecture's
     *  field order): glibc's sigaction refuses its two internal signals,
     *  and an agent may have inherited them ignored (glibc's spawn resets
     *  them too). */
    unsigned long kdfl[4] = { 0, 0, 0, 0 };
    for (int sig = 1; sig < _NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            syscall(SYS_rt_sigaction, sig, kdfl, NULL, (size_t) (_NSIG / 8));
    if (setpgid(0, 0) < 0)
        goto fail;
    if (s->stdin_fd >= 0) {
        if (s_onto(s->stdin_fd, 0) < 0)
            goto fail;
    } else {
        close(0);
        int fd = open("/dev/null", O_RDONLY);
        if (fd < 0)
            goto fail;
        if (fd != 0 && (dup2(fd, 0) < 0 || close(fd) < 0))
            goto fail;
    }
    if (s_onto(s->stdout_fd, 1) < 0 || s_onto(s->stderr_fd, 2) < 0)
        goto fail;
    if (s->dir && chdir(s->dir) < 0)
        goto fail;
    if (syscall(SYS_close_range, 3u, ~0u, 0u) < 0 && s_close_from_3() < 0)
        goto fail;
    sigset_t none;
    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
        goto fail;
    agent_spawn_exec(a->path, s->argv, s->envp);
fail:
    a->err = errno ? errno : ENOEXEC;
    _exit(127);
}

const char *
agent_spawn_path(void)
{
    const char *path = getenv("PATH");
    return path ? path : "/bin:/usr/bin";   /*  glibc's CS_PATH */
}

/*  The same child through glibc (SWARM_SPAWN_GLIBC=1). */
static int
s_spawn_glibc(const agent_spawn_t *s, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    if (s->stdin_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, s->stdin_fd, 0);
    else
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, s->stdout_fd, 1);
    posix_spawn_file_actions_adddup2(&fa, s->stderr_fd, 2);
    if (s->dir)
        posix_spawn_file_actions_addchdir_np(&fa, s->dir);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    /*  All bits, not sigfillset: that leaves out glibc's two internal
     *  signals, which its child then sets to SIG_IGN, and exec keeps an
     *  ignored signal. */
    sigset_t none, dfl;
    sigemptyset(&none);
    memset(&dfl, 0xff, sizeof dfl);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &dfl);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK
                                    | POSIX_SPAWN_SETSIGDEF);
    int rc = strchr(s->argv[0], '/')
           ? posix_spawn(pid, s->argv[0], &fa, &attr, s->argv, s->envp)
           : posix_spawnp(pid, s->argv[0], &fa, &attr, s->argv, s->envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    return rc;
}

static int s_glibc = -1;       /*  -1: not read yet */

static bool
s_use_glibc(void)
{
    if (s_glibc < 0) {
        const char *v = getenv("SWARM_SPAWN_GLIBC");
        s_glibc = v && *v && strcmp(v, "0") != 0;
    }
    return s_glibc;
}

int
agent_spawn(const agent_spawn_t *s, pid_t *pid)
{
    if (s_use_glibc())
        return s_spawn_glibc(s, pid);
    /*  One stack per spawning thread, kept for the next spawn: the point
     *  of this module (no unmap, no TLB shootdown, per spawn). */
    static _Thread_local char *stack;
    if (!stack) {
        long page = sysconf(_SC_PAGESIZE);
        size_t guard = page > 0 ? (size_t) page : 4096;
        char *m = mmap(NULL, guard + STACK_BYTES, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (m == MAP_FAILED)
            return errno;
        if (mprotect(m, guard, PROT_NONE) < 0) {
            int e = errno;
            munmap(m, guard + STACK_BYTES);
            return e;
        }
        stack = m + guard;
    }
    s_args_t a = { .s = s, .path = agent_spawn_path(), .err = 0 };
    sigset_t all, old;
    sigemptyset(&old);
    /*  Every signal, glibc's two internal ones too (as its spawn blocks
     *  them: pthread_sigmask and sigfillset leave them out), through the
     *  system call; the kernel ignores the bits of KILL and STOP. */
    memset(&all, 0xff, sizeof all);
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, (size_t) (_NSIG / 8));
    pid_t p = clone(s_child, stack + STACK_BYTES, CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
    int ec = 0;
    if (p < 0)
        ec = errno;
    else if (a.err) {
        ec = a.err;
        while (waitpid(p, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, (size_t) (_NSIG / 8));
    if (ec == 0)
        *pid = p;
    return ec;
}

/* ---------------------------------------------------------------- tests */

#include <stdio.h>
#include <sys/stat.h>

#include "sw_selftest.h"
#include "sw_util.h"

/*  Runs ARGV with stdout into a pipe; returns its exit status (or -1000 -
 *  errno when the spawn failed), its stdout in out (at most outsz - 1). */
static int
s_run(char *const *argv, const char *dir, int stdin_fd, char *out, size_t outsz)
{
    static char *const envp[] = { "PATH=/usr/bin:/bin", "LC_ALL=C", NULL };
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -2000;
    agent_spawn_t s = { .argv = argv, .envp = envp, .dir = dir, .stdin_fd = stdin_fd,
                        .stdout_fd = p[1], .stderr_fd = p[1] };
    pid_t pid;
    int ec = agent_spawn(&s, &pid);
    close(p[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < outsz && (r = read(p[0], out + n, outsz - 1 - n)) > 0)
        n += (size_t) r;
    out[n] = '\0';
    close(p[0]);
    if (ec)
        return -1000 - ec;
    int status;
    if (waitpid(pid, &status, 0) != pid)
        return -3000;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/*  The field "Name:\t" of /proc/self/status as the child saw it. */
static const char *
s_field(const char *status, const char *name, char *val, size_t valsz)
{
    const char *p = strstr(status, name);
    if (!p)
        return "";
    p += strlen(name);
    while (*p == '\t' || *p == ' ')
        p++;
    size_t n = strcspn(p, "\n");
    if (n >= valsz)
        n = valsz - 1;
    memcpy(val, p, n);
    val[n] = '\0';
    return val;
}

static int
s_cases(bool verbose)
{
    char out[8192], v[64];
    char dir[] = "/tmp/swarm-spawn-test.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char *path;

    /*  A name is found in PATH; a non-executable file of that name in an
     *  earlier entry is passed over (EACCES remembered, not fatal). */
    char *noexec = xasprintf("%s/true", dir);
    FILE *f = fopen(noexec, "w");
    CHECK(f && fputs("not a program\n", f) >= 0 && fclose(f) == 0);
    const char *was = getenv("PATH");
    char *saved = was ? xstrdup(was) : NULL;
    path = xasprintf("%s:/usr/bin:/bin", dir);
    setenv("PATH", path, 1);
    char *const a1[] = { "true", NULL };
    CHECK(s_run(a1, "/", -1, out, sizeof out) == 0);
    /*  ... and only there: EACCES, and no child left behind */
    char *only = xasprintf("%s/only-here", dir);
    CHECK(rename(noexec, only) == 0);
    char *const a2[] = { "only-here", NULL };
    CHECK(s_run(a2, "/", -1, out, sizeof out) == -1000 - EACCES);
    /*  missing everywhere: ENOENT; the empty name too */
    char *const a3[] = { "no-such-program-xyz", NULL };
    CHECK(s_run(a3, "/", -1, out, sizeof out) == -1000 - ENOENT);
    char *const a3b[] = { "", NULL };
    CHECK(s_run(a3b, "/", -1, out, sizeof out) == -1000 - ENOENT);
    /*  no entry of PATH can be tried (each is PATH_MAX or longer):
     *  ENOENT, not whatever errno was before (glibc's own answer is such
     *  a leftover, so only this module's is checked) */
    if (!s_glibc) {
        char *huge = xmalloc(PATH_MAX + 10);
        memset(huge, 'd', PATH_MAX + 9);
        huge[0] = '/';
        huge[PATH_MAX + 9] = '\0';
        setenv("PATH", huge, 1);
        errno = EINVAL;
        CHECK(s_run(a3, "/", -1, out, sizeof out) == -1000 - ENOENT);
        setenv("PATH", path, 1);
        free(huge);
    }
    /*  a name over NAME_MAX: ENOENT when no directory of PATH exists, as
     *  posix_spawnp says, ENAMETOOLONG under one that does */
    char longname[NAME_MAX + 40];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    char *const a3c[] = { longname, NULL };
    setenv("PATH", "/no/such/dir-a:/no/such/dir-b", 1);
    CHECK(s_run(a3c, "/", -1, out, sizeof out) == -1000 - ENOENT);
    setenv("PATH", "/no/such/dir-a:/usr/bin", 1);
    CHECK(s_run(a3c, "/", -1, out, sizeof out) == -1000 - ENAMETOOLONG);
    setenv("PATH", path, 1);
    /*  an empty PATH entry is the child's working directory (after its
     *  chdir), as execvp has it */
    char *script = xasprintf("%s/here.sh", dir);
    f = fopen(script, "w");
    CHECK(f && fputs("#!/bin/sh\necho from-cwd\n", f) >= 0 && fclose(f) == 0);
    CHECK(chmod(script, 0755) == 0);
    setenv("PATH", ":/nonexistent", 1);
    char *const a4[] = { "here.sh", NULL };
    CHECK(s_run(a4, dir, -1, out, sizeof out) == 0 && strcmp(out, "from-cwd\n") == 0);
    if (saved)
        setenv("PATH", saved, 1);
    else
        unsetenv("PATH");
    /*  a path: run as is; a directory is EACCES, a missing one ENOENT */
    char *const a5[] = { "/bin/sh", "-c", "pwd", NULL };
    CHECK(s_run(a5, dir, -1, out, sizeof out) == 0);
    CHECK(strncmp(out, dir, strlen(dir)) == 0);
    char *const a6[] = { "/tmp", NULL };
    CHECK(s_run(a6, "/", -1, out, sizeof out) == -1000 - EACCES);
    char *const a7[] = { "/no/such/program", NULL };
    CHECK(s_run(a7, "/", -1, out, sizeof out) == -1000 - ENOENT);
    /*  a working directory that is gone fails the spawn */
    CHECK(s_run(a5, "/no/such/dir", -1, out, sizeof out) == -1000 - ENOENT);

    /*  The child's state: its own process group; no signal ignored or
     *  blocked whatever this thread has; only 0, 1 and 2 open; stdin
     *  /dev/null, or the file given. */
    struct sigaction ign = { .sa_handler = SIG_IGN }, old_usr1, old_pipe;
    sigaction(SIGUSR1, &ign, &old_usr1);
    sigaction(SIGPIPE, &ign, &old_pipe);
    sigset_t usr2, oldmask;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &usr2, &oldmask);
    int leak = open("/dev/null", O_RDONLY);         /*  no O_CLOEXEC */
    CHECK(leak > 2);
    /*  glibc's two internal signals too, which only the system call can
     *  set (an agent started by a program that ignored them) */
    unsigned long kign[4] = { (unsigned long) SIG_IGN, 0, 0, 0 }, kold[2][4];
    CHECK(syscall(SYS_rt_sigaction, 32, kign, kold[0], (size_t) (_NSIG / 8)) == 0);
    CHECK(syscall(SYS_rt_sigaction, 33, kign, kold[1], (size_t) (_NSIG / 8)) == 0);
    char *const a8[] = { "/bin/cat", "/proc/self/status", NULL };
    int rc8 = s_run(a8, "/", -1, out, sizeof out);
    CHECK(syscall(SYS_rt_sigaction, 32, kold[0], NULL, (size_t) (_NSIG / 8)) == 0);
    CHECK(syscall(SYS_rt_sigaction, 33, kold[1], NULL, (size_t) (_NSIG / 8)) == 0);
    CHECK(rc8 == 0);
    CHECK(strcmp(s_field(out, "SigIgn:", v, sizeof v), "0000000000000000") == 0);
    CHECK(strcmp(s_field(out, "SigBlk:", v, sizeof v), "0000000000000000") == 0);
    char *cmd = xasprintf("test -e /proc/self/fd/%d && echo open; "
                          "read x; echo \"stdin=[$x]\"; "
                          "set -- $(cat /proc/self/stat); echo \"$5=$$\"", leak);
    char *const a9[] = { "/bin/sh", "-c", cmd, NULL };
    CHECK(s_run(a9, "/", -1, out, sizeof out) == 0);
    if (verbose)
        fprintf(stderr, "spawn: child said: %s", out);
    CHECK(strstr(out, "open") == NULL);
    CHECK(strstr(out, "stdin=[]") != NULL);
    pid_t pg = 0, me = 0;
    const char *eq = strrchr(out, '=');
    CHECK(eq && sscanf(strrchr(out, ']') + 2, "%d", (int *) &pg) == 1
          && sscanf(eq + 1, "%d", (int *) &me) == 1 && pg == me && pg != getpgrp());
    char *in = xasprintf("%s/in", dir);
    f = fopen(in, "w");
    CHECK(f && fputs("from-file\n", f) >= 0 && fclose(f) == 0);
    int infd = open(in, O_RDONLY | O_CLOEXEC);
    CHECK(infd >= 0);
    CHECK(s_run(a9, "/", infd, out, sizeof out) == 0 && strstr(out, "stdin=[from-file]"));
    /*  the caller's mask is its own again after a spawn: USR2 still
     *  blocked, TERM as it was */
    sigset_t after;
    pthread_sigmask(SIG_SETMASK, NULL, &after);
    CHECK(sigismember(&after, SIGUSR2)
          && sigismember(&after, SIGTERM) == sigismember(&oldmask, SIGTERM));
    close(infd);
    close(leak);
    pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
    sigaction(SIGUSR1, &old_usr1, NULL);
    sigaction(SIGPIPE, &old_pipe, NULL);
    /*  and this thread's own mask and dispositions are as they were */
    sigset_t now;
    pthread_sigmask(SIG_SETMASK, NULL, &now);
    CHECK(sigismember(&now, SIGTERM) == sigismember(&oldmask, SIGTERM));

    unlink(in);
    unlink(script);
    unlink(only);
    rmdir(dir);
    free(in);
    free(cmd);
    free(script);
    free(only);
    free(noexec);
    free(path);
    free(saved);
    return 0;
}

/*  close_range's stand-in closes every descriptor from 3 up, a high one
 *  too, and leaves 0, 1 and 2: run in a forked child (it closes them). */
static int
s_close_fallback_case(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        int fds[40];
        for (int i = 0; i < 40; i++)
            fds[i] = open("/dev/null", O_RDONLY);
        int high = dup2(fds[0], 900);
        if (s_close_from_3() < 0)
            _exit(2);
        for (int i = 0; i < 40; i++)
            if (fds[i] >= 3 && fcntl(fds[i], F_GETFD) >= 0)
                _exit(3);
        if (high >= 0 && fcntl(high, F_GETFD) >= 0)
            _exit(4);
        for (int fd = 0; fd < 3; fd++)
            if (fcntl(fd, F_GETFD) < 0 && errno != EBADF)
                _exit(5);
        _exit(0);
    }
    int status = -1;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return 0;
}

int
agent_spawn_test(bool verbose)
{
    CHECK(s_close_fallback_case() == 0);
    /*  The same cases through this module's clone and through glibc's
     *  posix_spawn: both must give the child the same start. */
    int use_was = s_glibc;
    s_glibc = 0;
    CHECK(s_cases(verbose) == 0);
    s_glibc = 1;
    CHECK(s_cases(verbose) == 0);
    s_glibc = use_was;
    return 0;
}
