/*  coord_sched_int -- what the files of the scheduler share, and nothing
 *  else includes (but its tests).
 *
 *  The scheduler is one module (coord_sched.h) in four files, by concern:
 *    coord_sched.c    objects, jobs and the task state machine (submit,
 *                     finish and the skips it causes, done, cancel)
 *    coord_place.c    the ready queue by placement class, the ring of
 *                     agents with credit, and dispatch
 *    coord_agents.c   agents: HELLO, leases, loss, drain
 *    coord_restore.c  the state rebuilt from Redis after a restart, and
 *                     adoption of running tasks by their agents
 */
#ifndef COORD_SCHED_INT_H
#define COORD_SCHED_INT_H

#include "coord_sched.h"

/*  Ready tasks are queued by placement class: tasks of one job, for one
 *  runner, with one set of labels, first attempts or retries apart. All
 *  tasks of a class fit the same agents, so dispatch looks at the head of
 *  each class only (coord_place.c). */
typedef struct {
    char     *key;
    bool      retries;
    coord_task_t *head, *tail;  /*  FIFO, linked through qnext/qprev */
    size_t    n;
    void     *handle;           /*  in active */
} coord_class_t;

struct coord_sched_t {
    coord_sched_ops_t ops;
    void      *ctx;
    zhashx_t  *jobs;            /*  id -> coord_job_t * (owns) */
    zhashx_t  *agents;          /*  id -> coord_agent_t * */
    zlistx_t  *agent_order;     /*  coord_agent_t * in HELLO order (owns) */
    zlistx_t  *free;            /*  coord_agent_t * with credit, round robin */
    zhashx_t  *classes;         /*  key -> coord_class_t * with ready tasks (owns) */
    zlistx_t  *active;          /*  coord_class_t * in the order they appeared */
    size_t     nready;
    zhashx_t  *names;           /*  agent ids and hosts, interned (owns) */
    zlistx_t  *halting;         /*  coord_job_t * to stop at the next dispatch */
    zlistx_t  *budgets;         /*  coord_job_t * out of budget: their tasks end at the
                                 *  next dispatch (coord_budget.c) */
    zlistx_t  *unadopted;       /*  coord_task_t * restored as running, not yet claimed */
    zlistx_t  *cancels;         /*  coord_task_t * whose CANCEL goes out at the next
                                 *  dispatch (claimed by an agent inside its HELLO) */
    zlistx_t  *stale;           /*  char * "agent\x1fjob\x1fid\x1fattempt": runs an agent
                                 *  listed that are not its, stopped at the next dispatch */
    unsigned   seed;            /*  backoff jitter */
    int        free_slots;      /*  sum of credit over agents */
    coord_sched_stats_t stats;  /*  for the coordinator's /metrics */
    zhashx_t  *limits;          /*  name -> coord_limit_t * (coord_limits.c) */
    zlistx_t  *limit_order;     /*  coord_limit_t * as set (owns) */
    uint64_t   dispatch_seq;    /*  dispatches so far */
};

/*  coord_sched.c */
void sched_set_state(coord_task_t *t, sw_tstate_t st);
/*  Moves t to a final state and ends what can no longer run because of it
 *  (its dependants are skipped, theirs too), iteratively. */
void sched_finish(coord_sched_t *self, coord_task_t *t, sw_tstate_t st, const char *reason,
                  int64_t wall_ms);
/*  Links a new or restored task to its unfinished dependencies; unless it
 *  is running, skips it (a dependency ended badly) or queues it. */
void sched_link(coord_sched_t *self, coord_task_t *t, int64_t wall_ms);
coord_task_t *sched_task_add(coord_sched_t *self, coord_job_t *j, sw_task_t *spec,
                             sw_tstate_t st, int64_t submitted_ms);
/*  The reason t was asked to stop with; never NULL. */
const char *sched_cancel_reason(const coord_task_t *t);

/*  coord_place.c */
/*  ready_ms (wall clock): from when it may run; its dispatch latency is
 *  measured from then. */
void sched_enqueue(coord_sched_t *self, coord_task_t *t, bool front, int64_t ready_ms);
void sched_dequeue(coord_sched_t *self, coord_task_t *t);
int  sched_credit(const coord_agent_t *a);
void sched_credit_changed(coord_sched_t *self, coord_agent_t *a, int before, bool gone);
void sched_running_add(coord_sched_t *self, coord_agent_t *a, int delta);
void sched_class_destroy(coord_class_t **self_p);
/*  Whether t failed retryably on a before. */
bool sched_tried(const coord_task_t *t, const coord_agent_t *a);

/*  coord_agents.c */
const char *sched_intern(coord_sched_t *self, const char *name);
/*  Takes t off its agent and frees the slot. */
void sched_unassign(coord_sched_t *self, coord_task_t *t);
/*  A task whose agent went away: run it again if attempts remain. */
void sched_requeue_or_lose(coord_sched_t *self, coord_task_t *t, const char *why,
                           int64_t wall_ms);
void sched_agent_destroy(coord_agent_t **self_p);

/*  coord_limits.c */
void sched_limits_init(coord_sched_t *self);
void sched_limits_release(coord_sched_t *self);
/*  Points t at the limits it takes (its resources, its runner's). */
void sched_res_resolve(coord_sched_t *self, coord_task_t *t);
/*  t's use of its limits follows its state: taken when it starts running,
 *  given back when it stops (sched_set_state calls it). */
void sched_res_take(coord_task_t *t, int delta);
/*  Whether one of t's limits is at its effective value: t's whole class
 *  waits (its peers take the same ones). */
bool sched_res_blocked(const coord_task_t *t);
/*  A run of t ended: rate-limited (halve each of its limits, once per
 *  burst) or succeeded (count towards raising them). */
void sched_res_throttled(coord_sched_t *self, coord_task_t *t);
void sched_res_succeeded(coord_task_t *t);
/*  Attempts t used (rate-limited runs do not count). */
int64_t sched_attempts_used(const coord_task_t *t);
/*  coord_budget.c */
/*  Ends the tasks of the jobs that ran out of budget (at the start of a
 *  dispatch, not from inside a walk of their tasks). */
void sched_budget_run(coord_sched_t *self, int64_t wall_ms);

/*  coord_restore.c */
/*  t, restored as running, leaves the list of tasks waiting for their agent. */
void sched_unadopted_remove(coord_sched_t *self, coord_task_t *t);
/*  The agent a claims the restored running tasks its HELLO lists; those
 *  restored on a that it does not list are due at now_ms (orphans_due). */
void sched_adopt(coord_sched_t *self, coord_agent_t *a, const sw_strv_t *running, int64_t now_ms);
/*  t, which its agent's HELLO did not list (assigned to it before it
 *  reconnected, or restored as running on it after a restart), is due at
 *  now_ms: off its agent (the caller fixes the agent's credit), on the
 *  unadopted list once, marked came_back_without; orphans_due hands it
 *  over and resolve finishes it from its stored result or runs it again
 *  ("its agent came back without it"). The one way both paths take. */
void sched_due_now(coord_sched_t *self, coord_task_t *t, int64_t now_ms);

#endif
