/*  agent_run_int -- what the two files of agent_run share: agent_run.c
 *  (a run's stages: workspace, prepare, hooks, spawn, supervise, result,
 *  store, usage) and agent_runs.c (the run set: start, cancel, tick,
 *  strays, the spool). Nothing else includes it. */
#ifndef AGENT_RUN_INT_H
#define AGENT_RUN_INT_H

#include <jansson.h>

#include "agent_child.h"
#include "agent_live.h"
#include "agent_prepare.h"
#include "agent_run.h"

typedef enum { RUN_ACTIVE, RUN_STORING, RUN_DONE } run_state_t;

typedef struct run_standby_t run_standby_t;     /*  agent_run_standby.c */

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
    bool          accept_due;   /*  its ACCEPT has not gone: at the next tick, or
                                    just before its USAGE or DONE (run_accept) */
    agent_log_t  *log;          /*  the runner's live output stream */
    agent_log_end_t log_end;    /*  its end, stored with the result (key NULL: none) */
    /*  result and store */
    const char   *status;
    bool          retryable;    /*  worth another attempt, maybe elsewhere */
    bool          throttled;    /*  the provider rate-limited it (agent_ratelimit.h) */
    int           exit_code;    /*  the runner's; -1 when it never ran */
    sw_buf_t      errtail;      /*  the stderr tail of a run whose runner never started */
    json_t       *doc;          /*  the result document, until it is text */
    json_t       *hooks;        /*  its hooks field; NULL while no hook ran */
    sw_buf_t      output;       /*  the answer, until it is escaped into frame */
    sw_buf_t      frame;        /*  the result's script call (agent_result_frame) */
    size_t        json_off;     /*  where the document is in frame */
    char         *json;         /*  result waiting to be stored: in frame (after
                                    s_frame_sent), or owned (frame empty: spool) */
    bool          spooled;      /*  its result is in the spool */
    bool          storing;      /*  its result is on the way (asynchronous) */
    bool          store_sync;   /*  that failed: the store's blocking way */
    /*  workspace (task.ws.commit set) */
    agent_wsrun_t ws;
    bool          ran;          /*  the runner ran: its worktree is captured */
    int64_t       capture_at;   /*  monotonic: the capture's next try; 0 = none waiting */
    int64_t       capture_backoff_ms;
    run_standby_t *standby;     /*  the capture's standby helper while the task runs, or NULL */
    int64_t       standby_at;   /*  monotonic: when the standby starts; 0 = not waiting */
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
    agent_live_t           *live;   /*  the runs' live output; NULL: off */
    /*  with the live output off, the results' own asynchronous connection
     *  (NULL with it on: the results share the live output's, after the
     *  entries they end) */
    sw_aredis_t            *results;
    bool                    sweep;  /*  look for strays at the next tick */
    /*  the remover of worktrees moved aside (agent_ws_trash_spawn), off
     *  every run's path; polled from the tick */
    agent_child_t           trash;
    bool                    trashing;
    /*  the captures' standby helpers (run_standby_t *): of running tasks,
     *  and given up ones until they are gone; polled from the tick */
    zlistx_t               *standbys;
    unsigned                ticks;
};

/*  agent_runs.c */
void   run_destroy(run_t **run_p);
/*  The connection a result is sent on without blocking the loop: the live
 *  output's, else the results' own; NULL when there is none (no Redis). */
sw_aredis_t *runs_result_redis(agent_runs_t *self);
/*  Sends the run's ACCEPT if it has not gone yet (issue 20: a task that
 *  ends before the next tick has its ACCEPT leave with its DONE). */
void run_accept(agent_runs_t *self, run_t *run);
run_t *run_find(agent_runs_t *self, const char *job, const char *id, int64_t attempt);
/*  Kills what a finished run left outside its group (SWARM_RUN tokens). */
void   runs_sweep(agent_runs_t *self);

/*  agent_run_standby.c: the capture's standby (agent_ws_standby). Start
 *  once the task has run RUN_STANDBY_AFTER_MS (runs_standby_tick; none
 *  when it cannot start: the capture then goes as without one); take at the capture, after
 *  agent_ws_capture wrote the request: true with run->child the standby,
 *  handed the request (the caller watches it, CHILD_WS_CAPTURE); false
 *  without one, *lost when one was there but gone (its gits may have left
 *  the index locked: run->ws.unlock set, the caller writes the request
 *  anew). Give up whenever the run will not capture (cancelled, ended
 *  before its task ran, destroyed): EOF on its stdin; idempotent. */
/*  A task with a workspace gets its capture's standby once it has run
 *  this long. Shorter tasks gain little from one (the racy refresh it
 *  moves off the capture waits for the checkout's second to be over
 *  anyway) and pay its gits' starts beside their own: started with the
 *  task, it cost every further task of bench/workspace.sh 14 ms (+39 ->
 *  +53 ms p50, two quiet A/B runs) and the 100-file capture nothing
 *  (92-97 ms either way). docs/design.md, issue 16 (capture speed 9). */
#define RUN_STANDBY_AFTER_MS 1000
void   run_standby_start(agent_runs_t *self, run_t *run);
bool   run_standby_take(agent_runs_t *self, run_t *run, bool *lost);
void   run_standby_give_up(agent_runs_t *self, run_t *run);
void   runs_standby_tick(agent_runs_t *self, int64_t now);
/*  Whether pid is a standby's, not reaped yet (the orphans' reaper leaves
 *  it: its exit is the standby tick's to see, its group pinned until). */
bool   runs_standby_leads(agent_runs_t *self, pid_t pid);
/*  The standbys' pids (leaders for the sweep), at most max. */
size_t runs_standby_pids(agent_runs_t *self, pid_t *pids, size_t max);
void   runs_standby_destroy(agent_runs_t *self);

/*  agent_run.c: the stages the run set drives */
/*  The first stage of a task without a workspace: prepare, hooks, runner. */
void run_start(agent_runs_t *self, run_t *run);
/*  The first stage of a task with a workspace: its worktree. */
void run_ws_prepare(agent_runs_t *self, run_t *run);
/*  After the task: the change and the outputs into the store (and again
 *  at capture_at while Redis is out). */
void run_ws_capture(agent_runs_t *self, run_t *run);
/*  The stage after the run's child, once it exited and its pipes closed. */
void run_check(agent_runs_t *self, run_t *run);
/*  Stores the result, then DONE; retried from the tick until stored. */
void run_store(agent_runs_t *self, run_t *run);
void run_end_poller(agent_runs_t *self, int fd);
/*  Notes which task leaders exited, and reaps inherited orphans. */
void runs_reap(agent_runs_t *self);
/*  USAGE of the run so far (final: its last). */
void run_usage_send(agent_runs_t *self, run_t *run, bool final);

#endif
