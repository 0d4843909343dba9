/*  sw_hook -- job hooks: commands `swarm run` runs before it submits a job
 *  (pre) and after every task has finished (post), supervised.
 *
 *  A hook is an argv (a plan's `hooks:` entry, a list or a string split
 *  like a shell splits words; `swarm run --pre CMD --post CMD`), never a
 *  shell command line. sw_hook_run runs one to its end: in a process
 *  group of its own, stdin from /dev/null, its output copied line by line
 *  with a prefix, within a timeout after which the whole group gets
 *  SIGTERM and, after a grace, SIGKILL. When it ends, whatever it left
 *  behind is killed: its process group, and processes that left the group
 *  (setsid, a daemon's double fork), which a child subreaper inherits and
 *  recognises by a token in their environment (SWARM_HOOK_RUN), as the
 *  agent does for tasks (docs/design.md, decision 14). A SIGINT, SIGTERM
 *  or SIGHUP to the caller stops the hook the same way first, and so does a
 *  SIGPIPE (the reader of its output went away: `swarm run | head`).
 *
 *  Blocking: for the swarm CLI, which does nothing else meanwhile. The
 *  caller must not have children of its own that carry the token.
 */
#ifndef SW_HOOK_H
#define SW_HOOK_H

#include <stdio.h>

#include "sw_mpack.h"

#define SW_HOOK_TIMEOUT_S     300       /*  hooks.timeout when the plan gives none */
#define SW_HOOK_MAX_TIMEOUT_S 86400
#define SW_HOOK_MAX           64        /*  commands per phase */

/*  A job's hooks: argv lists per phase, and one timeout for each command. */
typedef struct {
    sw_strv_t *pre;
    size_t     npre;
    sw_strv_t *post;
    size_t     npost;
    int64_t    timeout_s;               /*  0: SW_HOOK_TIMEOUT_S */
} sw_hooks_t;

/*  Appends a copy of argv to the phase. */
void sw_hooks_add(sw_hooks_t *h, bool post, const sw_strv_t *argv);
void sw_hooks_release(sw_hooks_t *h);
/*  "cmd 'an arg' x" for messages and --dry-run: words with anything a
 *  shell would split or expand in single quotes. */
void sw_hook_format(const sw_strv_t *argv, sw_buf_t *out);

typedef struct {
    const sw_strv_t *argv;              /*  argv[0] is looked up in PATH */
    const sw_kv_t   *env;               /*  set in the hook's environment (the caller's
                                            environment, these replacing theirs) */
    int64_t          timeout_ms;        /*  > 0 */
    int64_t          grace_ms;          /*  SIGTERM -> SIGKILL; 0: 2000 */
    const char      *prefix;            /*  put before every line of output, e.g. "[pre 1] " */
    FILE            *out;               /*  the hook's stdout lines go here */
    FILE            *err;               /*  its stderr lines here */
} sw_hook_spec_t;

typedef struct {
    int     status;                     /*  the exit code; 124 timed out, 128+N killed by
                                            signal N, 127 not found, 126 not executable */
    bool    timed_out;
    int     signal;                     /*  the signal that ended it, 0 if none */
    int     interrupted;                /*  the signal the caller got meanwhile, or 0 */
    int     spawn_errno;                /*  posix_spawn failed with it, or 0 */
    int     leftovers;                  /*  processes killed after it ended */
    int64_t duration_ms;
} sw_hook_result_t;

/*  Runs one hook to its end (see above). 0 with res filled, whatever the
 *  hook did; -1 with err only when it could not be set up (pipes). */
int sw_hook_run(const sw_hook_spec_t *spec, sw_hook_result_t *res, sw_err_t *err);
/*  "exited 3", "timed out after 5 s", "was killed by SIGKILL", "not found". */
void sw_hook_describe(const sw_hook_result_t *res, int64_t timeout_ms, char *out, size_t n);

int sw_hook_test(bool verbose);

#endif
