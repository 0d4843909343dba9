/*  agent_run_int -- what agent_run.c (the stages of a run: hooks, spawn,
 *  supervision, workspace) and agent_run_out.c (what a run leaves: its
 *  usage as it comes, its result document, its store) share. Not a public
 *  interface: the runs' table and a run's state. */
#ifndef AGENT_RUN_INT_H
#define AGENT_RUN_INT_H

#include "agent_run.h"

#include <jansson.h>

#include "agent_child.h"
#include "agent_prepare.h"

typedef enum { RUN_ACTIVE, RUN_STORING, RUN_DONE } run_state_t;

/*  What the run's child is. A run has one child at a time, in this order:
 *  the workspace's preparation, the pre-task hook, the runner, the
 *  post-task hook, the workspace's capture. */
typedef enum {
    CHILD_WS_PREPARE, CHILD_PRE_TASK, CHILD_TASK, CHILD_POST_TASK, CHILD_WS_CAPTURE
} child_role_t;

typedef struct {
    agent_runs_t *runs;
    sw_task_t     task;
    run_state_t   state;
    char         *token;        /*  SWARM_RUN: AGENTPID:JOB ID#ATTEMPT (whole: never cut) */
    char         *live;         /*  the SWARM_RUN of the child now running: the runner's
                                    token, or the hook's ("TOKEN pre-task"); NULL */
    /*  prepare and spawn */
    agent_launch_t launch;      /*  what prepare made (agent_prepare.h) */
    char         *dir;          /*  the working directory, once prepare passed: hooks
                                    run there */
    char         *error;        /*  why it could not run */
    bool          deterministic;    /*  ... for a reason no retry changes */
    bool          start_failed; /*  prepare or the runner's spawn failed (metrics) */
    /*  the child in flight */
    agent_child_t child;
    child_role_t  role;
    bool          spawned;      /*  child holds a process (until released) */
    bool          cancelled;    /*  a CANCEL came: the runner no longer starts */
    /*  result and store */
    const char   *status;
    bool          retryable;    /*  worth another attempt, maybe elsewhere */
    bool          throttled;    /*  the provider rate-limited it (agent_ratelimit.h) */
    int           exit_code;    /*  the runner's; -1 when it never ran */
    sw_buf_t      errtail;      /*  the stderr tail of a run whose runner never started */
    json_t       *doc;          /*  the result document, until it is text */
    json_t       *hooks;        /*  its hooks field; NULL while no hook ran */
    char         *json;         /*  result waiting to be stored */
    bool          spooled;      /*  its result is in the spool */
    /*  workspace (task.ws.commit set) */
    agent_wsrun_t ws;
    bool          ran;          /*  the runner ran: its worktree is captured */
    int64_t       capture_at;   /*  monotonic: the capture's next try; 0 = none waiting */
    int64_t       capture_backoff_ms;
    /*  usage (issue 18): read from the runner's stdout as it comes */
    sw_usage_reader_t usage;
    bool          usage_dirty;  /*  grew since the last USAGE */
    int64_t       usage_sent_ms;    /*  monotonic: the last USAGE sent */
} run_t;

struct agent_runs_t {
    zloop_t                *loop;
    const agent_run_conf_t *conf;
    agent_store_t          *store;
    agent_run_report_fn    *report;
    agent_run_usage_fn     *usage;  /*  or NULL */
    void                   *ctx;
    zlistx_t               *runs;   /*  run_t * */
    bool                    sweep;  /*  look for strays at the next tick */
    unsigned                ticks;
};

/*  --- agent_run_out.c ----------------------------------------------------------- */

/*  Sends run's usage so far (USAGE, issue 18) and marks it sent; final: the
 *  runner is done spending. Nothing when no usage callback is set. */
void run_usage_send(agent_runs_t *self, run_t *run, bool final);
/*  The model codex's config.toml names into run's usage (codex names none
 *  in its events). */
void run_codex_model(run_t *run);
/*  The runner's stdout as it comes (agent_child_t out_sink; arg is the
 *  run): its usage so far. */
void run_on_out(void *arg, const char *p, size_t n);
/*  Stores run's result, then says DONE (after the final USAGE). A failed
 *  write leaves the run RUN_STORING, retried from the tick; until then the
 *  result is in the spool. */
void run_store(agent_runs_t *self, run_t *run);
/*  The end of the result stage: run->doc, with its hooks field, becomes
 *  the text that is stored; then run_store. */
void run_store_result(agent_runs_t *self, run_t *run);
/*  The result document of the task into run->doc (owned by run): from
 *  the finished runner's child when ran (status, answer, usage, a
 *  provider's rate-limit), else from why it never ran. Sets run->status and
 *  run->retryable; the child stays for the caller to release. */
void run_result_doc(agent_runs_t *self, run_t *run, bool ran);

#endif
