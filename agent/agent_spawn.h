/*  agent_spawn -- start one task's process: posix_spawn's contract, minus
 *  its per-spawn costs.
 *
 *  What the child gets is what agent_child asked of posix_spawn before
 *  (issue 20): a process group of its own, every signal at its default
 *  and none blocked, stdin from STDIN_FD or /dev/null, stdout and stderr
 *  on the two descriptors given, the working directory DIR, every other
 *  descriptor closed, then execve of ARGV[0] (searched in the agent's
 *  PATH when it has no '/', as posix_spawnp and execvp do). An error
 *  before or in the exec comes back as an errno, with no child left.
 *
 *  How: glibc's posix_spawn (sysdeps/unix/sysv/linux/spawni.c) runs the
 *  child with clone(CLONE_VM | CLONE_VFORK) on a stack it maps for that
 *  one spawn and unmaps after it, and checks each file action against the
 *  descriptor limit (a getrlimit each). The unmap of a region the other
 *  core's threads may have cached is a TLB shootdown: an interrupt to the
 *  other core on every spawn (perf: 12 % of the agent's main thread in a
 *  fanout, docs/benchmarks.md). This does the same clone on a stack each
 *  spawning thread maps once and keeps, with the same child steps in the
 *  same order, and no limit checks (the descriptors are the agent's own).
 *
 *  Safety of a child sharing the agent's memory until it execs (the rules
 *  glibc follows): every signal is blocked in the calling thread across
 *  the clone, so no handler of the agent can run in the child; the child
 *  sets every disposition to SIG_DFL before it unblocks; it writes only
 *  its own stack and the errno slot the parent reads after the clone
 *  returns (CLONE_VFORK: the parent sleeps until the exec or _exit).
 *
 *  SWARM_SPAWN_GLIBC=1 in the agent's environment uses posix_spawn
 *  instead (read once; for A/B measurements and as a way out).
 */
#ifndef AGENT_SPAWN_H
#define AGENT_SPAWN_H

#include <sys/types.h>

typedef struct {
    char *const *argv;          /*  argv[0]: a path, or a name looked up in PATH */
    char *const *envp;
    const char  *dir;           /*  chdir there first; NULL = the agent's */
    int          stdin_fd;      /*  dup'd onto 0; -1 = /dev/null */
    int          stdout_fd;     /*  dup'd onto 1 */
    int          stderr_fd;     /*  dup'd onto 2 */
} agent_spawn_t;

/*  Starts the child: 0 with *pid set, or an errno (nothing left running:
 *  a child that failed before its exec is reaped here). The descriptors
 *  stay the caller's. Not async-signal-safe; callable from any thread. */
int agent_spawn(const agent_spawn_t *s, pid_t *pid);

/*  The child's exec, in this process: execve of ARGV[0], or its search in
 *  PATH (a list as agent_spawn searches: the agent's, not ENVP's; no
 *  /bin/sh for a file without "#!": ENOEXEC, as posix_spawnp). Returns
 *  only on failure, errno set. agent_spawn's child execs through it, and
 *  so does swarm-agent --exec-with-limits-path: a task run under
 *  --rlimit-* is found and refused the way one without is. */
void agent_spawn_exec(const char *path, char *const *argv, char *const *envp);

/*  The PATH agent_spawn searches: the agent's, or glibc's default. */
const char *agent_spawn_path(void);

#include <stdbool.h>
/*  Self-test (unit.spawn): the same cases through both ways. */
int agent_spawn_test(bool verbose);

#endif
