/*  agent_child -- one supervised child process.
 *
 *  Spawned by agent_spawn (posix_spawn's contract and vfork semantics:
 *  cheap, and exec errors come back as an errno) in a process group of
 *  its own, stdin from a file the
 *  caller opened (a regular file: EOF right after its content) or
 *  /dev/null (agent CLIs wait for EOF on an open stdin),
 *  stdout and stderr on non-blocking pipes that are always drained into
 *  bounded head+tail captures, so the child never blocks on a full pipe.
 *
 *  Stopping (timeout, output-idle watchdog, cancel, shutdown) signals the
 *  whole group: term_signal first, SIGKILL after the grace period. The
 *  child is finished only when it has exited AND both pipes reached EOF
 *  (tmux's rule); if a grandchild still holds a pipe 2 s after the exit,
 *  the group is killed, and 2 s later still the pipes are closed by force.
 *  When it is finished the group is killed once more, so nothing that
 *  stayed in it survives the task.
 *
 *  A group is signalled only while its leader is not reaped. The leader's
 *  exit is seen with waitid(WNOWAIT), which leaves it a zombie: its pid,
 *  and with it the group id, cannot be given to another process, so
 *  kill(-pgid) reaches this task's group and no other. The zombie is reaped
 *  (agent_child_finish) only after the last group kill; nothing signals the
 *  group after that, however long the run waits to store its result. The
 *  leader alone is signalled through its pidfd.
 *
 *  The caller owns the event loop: it polls out_fd, err_fd and pidfd
 *  (readable once the child exited: stop polling it then), calls
 *  agent_child_read when a pipe is readable, agent_child_poll when the
 *  pidfd is readable (and periodically), agent_child_tick periodically, and
 *  agent_child_finish once agent_child_finished.
 */
#ifndef AGENT_CHILD_H
#define AGENT_CHILD_H

#include <sys/types.h>

#include "sw_capture.h"
#include "sw_util.h"

typedef enum {
    AGENT_STOP_NONE, AGENT_STOP_TIMEOUT, AGENT_STOP_IDLE, AGENT_STOP_CANCEL,
    AGENT_STOP_SHUTDOWN,
} agent_stop_t;

typedef struct {
    char *const *argv;          /*  argv[0] is a path, or a name looked up in PATH */
    char *const *envp;
    const char  *dir;           /*  working directory */
    int          stdin_fd;      /*  the child's stdin (dup'd; the caller closes its fd),
                                    or -1 for /dev/null */
    int64_t      timeout_ms;    /*  0 = none */
    int64_t      idle_ms;       /*  0 = none */
    int64_t      grace_ms;      /*  between term_signal and SIGKILL */
    int          term_signal;
    size_t       out_head, out_tail, err_tail;
    /*  Sees every byte read from the pipes too (stream 0 stdout, 1
     *  stderr), after the capture: the live output. May be NULL. */
    void       (*tee)(void *ctx, int stream, const char *data, size_t n);
    void        *tee_ctx;
} agent_child_opts_t;

typedef struct {
    pid_t        pid;
    int          pidfd;         /*  -1 once the caller closed it */
    int          out_fd, err_fd;    /*  -1 once closed */
    sw_capture_t out, err;
    int64_t      start_ms;      /*  monotonic */
    int64_t      start_wall_ms;
    int64_t      last_output_ms;
    int64_t      timeout_ms, idle_ms, grace_ms;
    int          term_signal;
    agent_stop_t stop;
    int64_t      kill_at_ms;    /*  0 = no SIGKILL scheduled */
    bool         killed;
    bool         exited;        /*  it exited (seen with WNOWAIT: still a zombie) */
    bool         reaped;        /*  waited for: its pid and group are gone */
    int          status;        /*  from waitpid, once reaped */
    int64_t      exited_ms;
    int64_t      duration_ms;
    int          spawn_errno;   /*  why agent_child_spawn failed (agent_spawn's errno) */
    /*  From the options, or NULL: every byte read from stdout (stream 0)
     *  and stderr (1), as it comes (the run's live output, agent_live). */
    void       (*tee)(void *ctx, int stream, const char *data, size_t n);
    void        *tee_ctx;
    /*  Set by the caller after the spawn, or NULL: every byte read from
     *  stdout, as it comes (the run reads the runner's usage from it). */
    void       (*out_sink)(void *arg, const char *p, size_t n);
    void        *out_sink_arg;
} agent_child_t;

/*  0 when running; -1 with err (the message says what failed, e.g.
 *  "codex: No such file or directory"; c->spawn_errno the errno). */
int  agent_child_spawn(agent_child_t *c, const agent_child_opts_t *o, sw_err_t *err);

/*  MAX_ARG_STRLEN of Linux (include/uapi/linux/binfmts.h): the most bytes,
 *  with its NUL, of one argument or one environment string. */
#define AGENT_ARG_STRLEN_MAX 131072
/*  The most bytes argv and environment may take together here, as execve
 *  counts them (fs/exec.c): a quarter of the stack limit
 *  (sysconf(_SC_ARG_MAX)), at most 6 MiB, at least 128 KiB. */
size_t agent_child_arg_limit(void);
/*  Whether execve(PATH, ARGV, ENVP) fits: every string within
 *  AGENT_ARG_STRLEN_MAX, and the strings, PATH and the pointer arrays
 *  within LIMIT. -1 with err: "argument list too long: N bytes, the limit
 *  here is M" (or the argument or variable that alone is too long). A
 *  failure no other attempt changes: the caller fails the task at once. */
int agent_child_check_args(const char *path, char *const *argv, char *const *envp,
                           size_t limit, sw_err_t *err);
/*  Reads what fd has, up to a few pipe-fulls (a flooding child must not
 *  hold the caller's loop: poll it again, level-triggered); returns 1 at
 *  EOF (the caller stops polling it and calls agent_child_close_fd), 0
 *  otherwise. */
int  agent_child_read(agent_child_t *c, int fd, int64_t now_ms);
void agent_child_close_fd(agent_child_t *c, int fd);
/*  Whether the child exited (without reaping it); true from then on. */
bool agent_child_poll(agent_child_t *c, int64_t now_ms);
/*  The end of a finished child: the last SIGKILL to its group (still
 *  pinned by the zombie), then the zombie reaped; its exit status is then
 *  known. */
void agent_child_finish(agent_child_t *c);
void agent_child_stop(agent_child_t *c, agent_stop_t why, int64_t now_ms);
/*  Timeouts and escalation. Returns true when the caller must close the
 *  pipes that are still open (a grandchild outside the group holds them). */
bool agent_child_tick(agent_child_t *c, int64_t now_ms);
bool agent_child_finished(const agent_child_t *c);
/*  Exit code as a shell reports it (128 + signal for a signal), and the
 *  signal, or 0 (once reaped). */
int  agent_child_exit_code(const agent_child_t *c);
int  agent_child_signal(const agent_child_t *c);
/*  Frees what the child holds. One not reaped yet (the agent is leaving)
 *  is SIGKILLed with its group and waited for. */
void agent_child_release(agent_child_t *c);

int agent_child_test(bool verbose);

#endif
