/*  agent_hook -- the node owner's hooks around every task (issue 19,
 *  section 2): what they are, what they get, what they report. No
 *  process is started here; agent_run runs a hook as a stage of the run,
 *  a child supervised by agent_child like the runner.
 *
 *    pre-task   after the working directory exists, before the runner, in
 *               that directory, with the task's environment plus SWARM_*;
 *               a non-zero exit fails the task ("pre-task hook exited N",
 *               its stderr tail) and the runner never starts
 *    post-task  after the task's result is captured (also when it failed,
 *               timed out, was cancelled, or pre-task failed: like
 *               `finally`), with SWARM_STATUS; its failure is logged and
 *               recorded in the result's hooks field, never changes the
 *               task's status
 *
 *  Hooks are the node owner's programs (swarm-agent --hook NAME=PATH, or
 *  `hook = NAME=PATH` in the config file), like Buildkite's agent hooks;
 *  a task can neither name nor change one: a hook must not lie under the
 *  workdir (tasks write there), and neither the file nor a directory
 *  above it may be writable by others.
 */
#ifndef AGENT_HOOK_H
#define AGENT_HOOK_H

#include <jansson.h>

#include "agent_child.h"
#include "agent_env.h"
#include "sw_task.h"

typedef enum { AGENT_HOOK_PRE_TASK, AGENT_HOOK_POST_TASK, AGENT_HOOK_COUNT } agent_hook_t;

#define AGENT_HOOK_TIMEOUT_S    300     /*  default --hook-timeout: as a job hook's */
#define AGENT_HOOK_TAIL         4096    /*  bytes kept of a hook's stdout, and of its stderr */

/*  "pre-task", "post-task". */
const char *agent_hook_name(agent_hook_t h);

/*  Reads the --hook values SPECS ("NAME=PATH") into paths[] (absolute and
 *  resolved; caller frees; NULL where no hook is given) and checks each
 *  with agent_hook_check. -1 with err naming the offending value: an
 *  unknown NAME, a NAME given twice, an empty PATH, or the check's
 *  reason. */
int agent_hooks_parse(const sw_strv_t *specs, const char *workdir,
                      char *paths[AGENT_HOOK_COUNT], sw_err_t *err);

/*  Whether PATH (absolute, resolved) may be a hook of an agent whose tasks
 *  run in WORKDIR: a regular file we may execute, owned by root or us,
 *  not writable by others (nor by a group not ours), not in or above
 *  WORKDIR, and under no directory others could change
 *  (agent_path_check_above). 0, or -1 with err. */
int agent_hook_check(const char *path, const char *workdir, sw_err_t *err);

/*  The environment of hook H of task T: what the task's process gets
 *  (agent_env_build from BASE and PASS_ENV, SWARM_RUN = TOKEN: the hook's
 *  own), except the task variables agent_env_hook_admits refuses, plus
 *  SWARM_HOOK (its name), SWARM_RUNNER and SWARM_NAMESPACE, and for
 *  post-task SWARM_STATUS (the task's status) and SWARM_EXIT_CODE (the
 *  runner's exit code; unset when the runner never started). A
 *  NULL-terminated array to free with agent_env_free. */
typedef struct {
    char *const              *base;         /*  the agent's environ */
    const sw_strv_t          *pass_env;
    const agent_env_policy_t *policy;
    const char               *agent_id;
    const char               *token;
    const char               *status;       /*  post-task: the task's status */
    int                       exit_code;    /*  post-task: -1 when the runner never ran */
} agent_hook_env_t;

char **agent_hook_env(agent_hook_t h, const sw_task_t *t, const agent_hook_env_t *e);

/*  How a finished hook ended, for the result and the logs. */
typedef struct {
    agent_hook_t h;
    agent_stop_t stop;          /*  why the agent stopped it, if it did */
    bool         spawned;       /*  false: it could not be started (spawn_error says why) */
    const char  *spawn_error;
    int          exit_code;     /*  as a shell reports it (128 + signal) */
    int          signal;        /*  0, or the signal that ended it */
    int64_t      timeout_ms;
    int64_t      duration_ms;
    const char  *out;           /*  its stdout's tail */
    size_t       out_len;
    const char  *err;           /*  its stderr's tail */
    size_t       err_len;
} agent_hook_end_t;

/*  The status of a finished hook: succeeded, failed, timed_out or
 *  cancelled (also when the agent stopped it as it left). */
const char *agent_hook_status(const agent_hook_end_t *e);
/*  Why it did not succeed, or NULL: "pre-task hook exited 3", "... killed
 *  by SIGSEGV", "... timed out after 300 s", "... cancelled", "... could
 *  not start: PATH: No such file or directory". Caller frees. */
char *agent_hook_error(const agent_hook_end_t *e);
/*  Whether another attempt, maybe on another agent, could pass where this
 *  pre-task hook failed: a crash, a timeout or a hook that could not
 *  start, as for a task (a clean non-zero exit is the hook's answer). */
bool agent_hook_retryable(const agent_hook_end_t *e);
/*  Its entry in the result's hooks field: {status, exit_code, signal,
 *  duration_ms, error, output_tail, stderr_tail} (new reference; bytes
 *  that are not UTF-8 become U+FFFD). */
json_t *agent_hook_doc(const agent_hook_end_t *e);

int agent_hook_test(bool verbose);

#endif
