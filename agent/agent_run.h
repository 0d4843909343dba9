/*  agent_run -- the whole life of every task attempt this agent runs.
 *
 *  A run is created when a TASK arrives and owns everything of its attempt
 *  until its DONE is sent; nothing outside this module touches a run's
 *  fields (tmux's job.c: one struct job from job_run to job_free). Its
 *  life is a line of stages:
 *
 *    workspace a task with a workspace first gets its worktree, from a
 *              helper child (agent_ws; the task's working directory is
 *              in it); a conflict or a corrupt chunk ends the run here
 *    prepare   the working directory, the expanded prompt, the environment
 *              and the runner's argv; a task that cannot run ends here
 *              with the reason (and whether another attempt could pass)
 *    pre-task  the node owner's hook (agent_hook), when there is one, in
 *              the working directory; if it fails, the task fails and
 *              the runner never starts
 *    spawn     the runner in its own process group (agent_child), its
 *              pipes and pidfd on the loop
 *    supervise output (captured, and shipped live: agent_live), timeouts,
 *              cancel (the loop calls in)
 *    collect   once the child exited AND both pipes reached EOF: exit
 *              status, output (the runner's answer), usage
 *    result    the result document; then the post-task hook, when there
 *              is one and the run reached its working directory, whose
 *              outcome goes into the document's hooks field
 *    capture   with a workspace and a runner that ran: once nothing of the
 *              task runs (its strays killed), a helper child stores the
 *              change and the outputs; their fields go into the document
 *              (tried again while Redis is out; any other failure fails a
 *              task that had succeeded: its work cannot come home)
 *    store     into Redis, or the spool until Redis answers; then DONE
 *
 *  A run has one child at a time, a hook, a workspace helper or the
 *  runner, supervised the same way: its own process group, a timeout,
 *  stopped on cancel, its output capped, and its own SWARM_RUN token, so
 *  that what it leaves behind is killed when it ends. The capture comes
 *  after the post-task hook so that what the node owner's hooks set up
 *  and removed in the worktree is not part of the task's change.
 *
 *  The run set (agent_runs_t) also owns what concerns all runs: reaping
 *  (the agent is a child subreaper) and the sweep of processes that
 *  finished tasks left behind (agent_orphans).
 */
#ifndef AGENT_RUN_H
#define AGENT_RUN_H

#include <czmq.h>

#include "agent_env.h"
#include "agent_hook.h"
#include "agent_metrics.h"
#include "agent_runner.h"
#include "agent_state.h"
#include "agent_store.h"
#include "agent_ws.h"
#include "sw_proto.h"
#include "sw_task.h"

typedef struct {
    const char                *agent_id;
    const char                *host;
    const char                *workdir;     /*  absolute; where a task's dir is relative to */
    const char                *self_exe;    /*  this binary, for the limits trampoline */
    const char                *exec_limits_arg;    /*  its option that sets them */
    agent_state_t             *state;       /*  where a run's own files go */
    const char                *spool_dir;   /*  no task may run in it, nor in the state */
    agent_metrics_t           *metrics;     /*  events go there (agent_metrics.h) */
    const agent_runner_conf_t *runner;
    const sw_strv_t           *pass_env;
    agent_env_policy_t         env_policy;  /*  what a task's own variables may be */
    long long                  slots;
    long long                  grace_ms;
    long long                  max_output;  /*  bytes kept per task, head + tail */
    long long                  rlimit_as;   /*  0 = inherit */
    long long                  rlimit_nofile;
    const char                *hooks[AGENT_HOOK_COUNT];  /*  the node owner's, or NULL */
    long long                  hook_timeout_ms;
    const char                *redis_url;   /*  for the live output (agent_live) */
    long long                  log_ttl_s;   /*  its streams expire after; 0: no live output */
    agent_ws_t                *ws;          /*  workspaces: worktrees and their helpers */
} agent_run_conf_t;

/*  What the runs tell the coordinator: SW_ACCEPT when a run takes its task,
 *  SW_DONE once its result is stored (status, exit code capped at 255,
 *  whether another attempt could end differently, and whether the
 *  provider rate-limited the run: issue 18 §4). */
typedef void (agent_run_report_fn)(void *ctx, int cmd, const sw_task_t *t, const char *status,
                                   int exit_code, bool retryable, bool throttled);

/*  USAGE (issue 18): what a run's runner (codex, claude) used so far,
 *  read from its stdout as it comes; sent when it grew, at most once a
 *  second per run, and once more (final) right before its DONE. */
typedef void (agent_run_usage_fn)(void *ctx, const sw_usage_msg_t *m);

typedef struct agent_runs_t agent_runs_t;

/*  conf and store are borrowed and must outlive the runs. */
agent_runs_t *agent_runs_new(zloop_t *loop, const agent_run_conf_t *conf, agent_store_t *store,
                             agent_run_report_fn *report, void *ctx);
/*  Where USAGE reports go (the ctx of agent_runs_new); NULL: nowhere. */
void agent_runs_set_usage(agent_runs_t *self, agent_run_usage_fn *fn);
/*  Kills what still runs (its process group), waits for it, then kills
 *  whatever escaped the groups: nothing started by a task outlives the
 *  agent. */
void agent_runs_destroy(agent_runs_t **self_p);

/*  Starts a run for the validated task T (attempt >= 1), taking its
 *  contents (T is left empty). A TASK for an attempt already here is
 *  ignored. */
void agent_runs_start(agent_runs_t *self, sw_task_t *t);
/*  Stops the run of that attempt: the child now running (its group: the
 *  stop signal, then SIGKILL after the grace period). A runner stopped so,
 *  or never started because its pre-task hook was, ends as cancelled; the
 *  post-task hook still runs after it. */
void agent_runs_cancel(agent_runs_t *self, const char *job, const char *id, int64_t attempt);
/*  The periodic work (every 100 ms): reaping, timeouts and escalation, the
 *  sweep of strays, retrying results Redis did not take, freeing runs
 *  whose DONE went out. */
void agent_runs_tick(agent_runs_t *self, int64_t now_ms);
/*  The agent is stopping (a drain timeout, SIGINT, a second SIGTERM): a
 *  run whose runner has ended holds a final result, which must not be
 *  thrown away for the task to run again. Stops those runs' post-task
 *  hooks (recorded as cancelled; once) and returns how many runs still
 *  hold such a result (post-task, capture, store): the caller goes on
 *  looping, bounded, until it is 0. Runners still running are left to
 *  agent_runs_destroy (killed, run again by the coordinator). */
size_t agent_runs_finish_results(agent_runs_t *self, int64_t now_ms);
/*  Runs not yet done (running, or their result not yet stored). */
size_t agent_runs_count(const agent_runs_t *self);
/*  Appends "JOB\x1fID\x1fATTEMPT" of every run not yet done (HELLO's
 *  running list: the coordinator keeps those attempts). */
void agent_runs_list(const agent_runs_t *self, sw_strv_t *out);
/*  Adds what is true now to NOW: children supervised, bytes read from the
 *  running ones, results in the spool, live output lines shipped and
 *  dropped (for /metrics). */
void agent_runs_gauges(const agent_runs_t *self, agent_metrics_now_t *now);
/*  Takes in the results an earlier run of this agent left in the spool,
 *  to be stored like the others; returns how many. */
int agent_runs_unspool(agent_runs_t *self);

#endif
