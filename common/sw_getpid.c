/*  sw_getpid -- see sw_getpid.h */
#include "sw_getpid.h"

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

static pid_t s_pid;             /*  0: not known (at start, after a fork) */

static void
s_forget(void)
{
    __atomic_store_n(&s_pid, 0, __ATOMIC_RELAXED);
}

__attribute__((constructor)) static void
s_init(void)
{
    pthread_atfork(NULL, NULL, s_forget);
}

pid_t
getpid(void)
{
    pid_t pid = __atomic_load_n(&s_pid, __ATOMIC_RELAXED);
    if (pid == 0) {
        pid = (pid_t) syscall(SYS_getpid);
        __atomic_store_n(&s_pid, pid, __ATOMIC_RELAXED);
    }
    return pid;
}

/* ---------------------------------------------------------------- tests */

#include <dlfcn.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "sw_selftest.h"

int
sw_getpid_test(bool verbose)
{
    (void) verbose;
    CHECK(getpid() == (pid_t) syscall(SYS_getpid));
    CHECK(getpid() == getpid());
    /*  a forked child knows its own pid, not the parent's */
    pid_t parent = getpid();
    pid_t child = fork();
    if (child == 0)
        _exit(getpid() == (pid_t) syscall(SYS_getpid) && getpid() != parent ? 0 : 1);
    CHECK(child > 0);
    int status = -1;
    CHECK(waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(getpid() == parent);
    /*  what libzmq's calls bind to: this definition (the executable
     *  exports it), not libc's */
    void *bound = dlsym(RTLD_DEFAULT, "getpid");
    CHECK(bound == (void *) getpid);
    return 0;
}
