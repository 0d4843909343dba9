/*  agent_child -- one supervised child process.
 *
 *  Spawned with posix_spawn (vfork semantics: cheap, and exec errors come
 *  back as an errno) in a process group of its own, stdin from /dev/null,
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
 *  The caller owns the event loop: it polls out_fd, err_fd and pidfd, calls
 *  agent_child_read when a pipe is readable, agent_child_reaped when
 *  waitpid returned this pid, and agent_child_tick periodically.
 */
#ifndef AGENT_CHILD_H
#define AGENT_CHILD_H

#include <sys/types.h>

#include "sw_util.h"

typedef enum {
    AGENT_STOP_NONE, AGENT_STOP_TIMEOUT, AGENT_STOP_IDLE, AGENT_STOP_CANCEL,
    AGENT_STOP_SHUTDOWN,
} agent_stop_t;

typedef struct {
    char *const *argv;          /*  argv[0] is a path, or a name looked up in PATH */
    char *const *envp;
    const char  *dir;           /*  working directory */
    int64_t      timeout_ms;    /*  0 = none */
    int64_t      idle_ms;       /*  0 = none */
    int64_t      grace_ms;      /*  between term_signal and SIGKILL */
    int          term_signal;
    size_t       out_head, out_tail, err_tail;
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
    bool         exited;
    int          status;        /*  from waitpid */
    int64_t      exited_ms;
    int64_t      duration_ms;
} agent_child_t;

/*  0 when running; -1 with err (errno in err->code is not kept: the
 *  message says what failed, e.g. "codex: No such file or directory"). */
int  agent_child_spawn(agent_child_t *c, const agent_child_opts_t *o, sw_err_t *err);
/*  Drains fd; returns 1 at EOF (the caller stops polling it and calls
 *  agent_child_close_fd), 0 otherwise. */
int  agent_child_read(agent_child_t *c, int fd, int64_t now_ms);
void agent_child_close_fd(agent_child_t *c, int fd);
void agent_child_reaped(agent_child_t *c, int status, int64_t now_ms);
void agent_child_stop(agent_child_t *c, agent_stop_t why, int64_t now_ms);
/*  Timeouts and escalation. Returns true when the caller must close the
 *  pipes that are still open (a grandchild outside the group holds them). */
bool agent_child_tick(agent_child_t *c, int64_t now_ms);
bool agent_child_finished(const agent_child_t *c);
/*  Exit code as a shell reports it (128 + signal for a signal), and the
 *  signal, or 0. */
int  agent_child_exit_code(const agent_child_t *c);
int  agent_child_signal(const agent_child_t *c);
void agent_child_release(agent_child_t *c);

int agent_child_test(bool verbose);

#endif
