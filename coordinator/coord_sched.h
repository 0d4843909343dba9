/*  coord_sched -- the coordinator's scheduling state, without I/O.
 *
 *  Agents, jobs, tasks, the ready queue, dependencies, credit-based
 *  dispatch and leases. Time comes in as an argument; what the outside
 *  world must learn (persist a task, send TASK or CANCEL, a task reached
 *  its final state) goes out through the ops callbacks, which must not
 *  call back into the scheduler.
 *
 *  Credit: an agent announces its slots; it is given a task only while
 *  running < slots. Nothing is prefetched, so a stuck task holds one slot
 *  and nothing else.
 *
 *  Leases and fencing: an agent's lease is renewed by every message it
 *  sends. When it expires (or the agent says BYE) its running tasks go back
 *  to the front of the queue and get attempt + 1 when dispatched again.
 *  A DONE is accepted only from the agent holding the task at the attempt
 *  it was given; anything else is stale and ignored.
 */
#ifndef COORD_SCHED_H
#define COORD_SCHED_H

#include <czmq.h>

#include "sw_proto.h"

typedef struct coord_sched_t coord_sched_t;

/*  --- budgets (issue 18; coord_budget.c) -----------------------------------
 *
 *  A job may cap its spend in dollars, in tokens, or both. Spend is what
 *  the agents reported for every attempt of its tasks, finished or still
 *  running (USAGE is cumulative per attempt: a later report of an attempt
 *  replaces the earlier one, so nothing is counted twice), priced by the
 *  coordinator when the runner gave no dollars. Costs are kept in integer
 *  micro-dollars: $0.02 four times is $0.08 exactly.
 *
 *  The rule: a task is dispatched only while the job's spend is below
 *  every cap. Once spend >= a cap the job is out of budget: its queued and
 *  waiting tasks end skipped with the reason ("budget exhausted: $0.08 of
 *  $0.07", or "... tokens"), and its running tasks are stopped with it
 *  (on_budget stop, the default; but not one whose runner is done spending:
 *  its last report was final) or finish (on_budget finish). What a task
 *  will spend is unknown until it reports, so a job overshoots its cap by
 *  what the tasks running when it is reached spend (under stop: until they
 *  stop). */
typedef struct {
    int64_t  max_micro_usd;     /*  0 = no dollar cap */
    int64_t  max_tokens;        /*  0 = no token cap */
    bool     finish;            /*  on_budget: finish (else stop) */
    bool     out;               /*  a cap was reached */
    bool     pending;           /*  out, its tasks not yet ended (next dispatch) */
    char    *reason;            /*  "budget exhausted: ..." once out */
    int64_t  micro_usd;         /*  spent: every attempt of every task */
    int64_t  tokens;
    int64_t  unpriced;          /*  attempts whose latest report has tokens but no
                                 *  cost (a count, not a flag: a claude run's live
                                 *  reports carry no dollars until its result does) */
    bool     warned_unpriced;   /*  logged that its $ cap cannot see some tokens */
} coord_budget_t;

#define COORD_BUDGET_MAX_USD    1000000.0       /*  --max-cost-usd at most */
#define COORD_BUDGET_MAX_TOKENS 1000000000000000LL  /*  --max-tokens at most (10^15) */

/*  One task's spend. */
typedef struct {
    int64_t    micro_usd, tokens;   /*  over all its attempts */
    int64_t    attempt;         /*  the attempt cur is of; 0 = none reported */
    sw_usage_t cur;             /*  its latest report (cost_usd: priced or the runner's) */
    int64_t    cur_micro;       /*  cur's cost in micro-dollars; -1 = unknown */
    bool       runner_cost;     /*  cur's cost is the runner's own (else priced here) */
    bool       final;           /*  cur is the attempt's last word: its runner is done
                                 *  spending (a budget stop leaves it alone) */
    bool       unpriced;        /*  some attempt had tokens and no cost */
} coord_spend_t;
typedef struct coord_job_t coord_job_t;
typedef struct coord_task_t coord_task_t;
typedef struct coord_agent_t coord_agent_t;
typedef struct coord_limit_t coord_limit_t;

/*  A farm-wide limit on a shared resource (issue 18 §3, §4; coord_limits.c):
 *  at most `effective` tasks that take it run at once, across all agents.
 *  effective adapts to the provider (AIMD): halved on a rate-limit, never
 *  below 1; one up after COORD_LIMIT_RAISE_AFTER successes in a row; never
 *  above limit, the configured value. */
struct coord_limit_t {
    char     *name;
    int       limit;            /*  --limit NAME=N */
    int       effective;        /*  1..limit */
    int       used;             /*  tasks taking it now (running, restored ones too) */
    int       successes;        /*  in a row since the last change of effective */
    uint64_t  throttled;        /*  rate-limited runs seen */
    uint64_t  cut_seq;          /*  dispatch sequence at the last halving: a rate-limit
                                 *  of a run dispatched before it is the same burst */
};

#define COORD_LIMIT_MAX          1000000    /*  largest N of --limit NAME=N */
#define COORD_MAX_LIMITS         256        /*  limits a coordinator takes */
#define COORD_LIMIT_RAISE_AFTER  5          /*  successes in a row that raise effective by 1 */
#define COORD_MAX_THROTTLES      30         /*  rate-limits of one task before it fails */

struct coord_agent_t {
    char      *id;
    char      *host;
    char      *version;
    char      *key;             /*  CURVE public key it registered with; NULL = none */
    char      *address;         /*  peer IP of its connection, as ZeroMQ saw it */
    int        slots;
    int        running;         /*  tasks held; credit = slots - running */
    sw_kv_t    labels;
    sw_strv_t  runners;
    zframe_t  *routing;         /*  ROUTER routing id of its connection */
    int64_t    expires_ms;      /*  lease: renewed by every message */
    int64_t    hb_sent_ms;      /*  last heartbeat we sent */
    int64_t    since_ms;        /*  wall clock of its HELLO */
    uint64_t   completed;       /*  DONEs accepted */
    bool       draining;        /*  takes no new tasks */
    zlistx_t  *tasks;           /*  coord_task_t * it is running */
    void      *free_handle;     /*  in the scheduler's ring of agents with credit */
    const char *iid, *ihost;    /*  id and host interned: what its tasks keep (looked
                                 *  up once at HELLO, not at each dispatch) */
};

struct coord_job_t {
    char      *id;
    char      *ns;              /*  result namespace */
    char      *topology;
    char      *strategy;
    int        max_agents;      /*  0 = no cap on running tasks */
    bool       halt;            /*  on_failure: stop */
    int        held;            /*  > 0: its tasks are not dispatched (a submit in
                                 *  batches is still going in) */
    bool       halting;         /*  a task failed: cancel the rest */
    char      *halt_reason;
    sw_task_ws_t ws;            /*  the job's workspace: tasks without one get it */
    coord_budget_t budget;      /*  its caps and spend (coord_budget.c) */
    int        running;
    int        counts[SW_TS_COUNT];
    int        ntasks;
    int        nfinal;
    uint64_t   final_seq;       /*  bumped each time a task becomes final */
    uint64_t   rev;             /*  bumped by every change of a task's state */
    int64_t    created_ms;      /*  wall clock */
    int64_t    complete_ms;     /*  monotonic: its last task finished; 0 = not */
    /*  Arrays, not lists: a page of a 1,000,000-task job is found by its
     *  index, and WAIT lists what became final since a cursor without a
     *  walk over the job. Tasks never leave a job, nor a final state. */
    coord_task_t **order;       /*  [ntasks] in submit order (owns) */
    coord_task_t **finals;      /*  [nfinal] in the order they became final:
                                 *  finals[k]->final_seq == k + 1 */
    size_t     order_cap, finals_cap;
    /*  Its tasks by id (coord_job_task): open addressing, linear probing,
     *  at most 3/4 full, keyed by each task's own spec.id. 4 bytes a slot
     *  (its place in order, + 1), not a zhashx item of 48 and a key copy
     *  per task (issue 20); nothing is ever deleted, since tasks never
     *  leave a job. */
    uint32_t  *index;           /*  [index_cap] order index + 1, 0 = empty (owns) */
    size_t     index_cap;       /*  0 or a power of 2 */
};

/*  A task's spec as the scheduler holds it (issue 20): the fields every
 *  task has and the scheduler reads, in the task; the others (prompt, dir,
 *  after, labels, env, timeouts, output schema, claude's caps, workspace,
 *  outputs, resources) in `rest`, allocated only when one of them differs
 *  from an exec task's defaults (timeout_s 300, everything else empty or
 *  0), so a plain `exec` task carries 80 bytes of spec, not sw_task_t's
 *  256. rest's id, job, type, runner, ns and argv are unused (NULL, empty).
 *  The whole spec, for the wire or Redis: coord_task_spec(). */
typedef struct {
    char      *id, *job, *type, *runner, *ns;
    sw_strv_t  argv;
    int64_t    max_attempts;
    int64_t    attempt;         /*  the current attempt */
    sw_task_t *rest;            /*  NULL: the rest at the defaults (owns) */
} coord_spec_t;

#define COORD_SPEC_TIMEOUT_S 300    /*  sw_task_validate's default timeout */

/*  A task as the scheduler holds it (issue 20: its size is what a queued
 *  task costs; fields ordered so nothing pads, the cold ones allocated
 *  when first needed). spec.job points at job->id, spec.type and
 *  spec.runner at the scheduler's interned names, spec.ns at the previous
 *  task's of its job when equal, spec.id and spec.argv into the task's own
 *  allocation (the bits of interned): never free or replace those six. */
struct coord_task_t {
    coord_spec_t   spec;        /*  spec.attempt is the current attempt */
    coord_job_t   *job;
    coord_agent_t *agent;       /*  while running */
    const char    *agent_id;    /*  last agent it ran on (interned: not owned) */
    const char    *host;        /*  interned */
    zlistx_t      *dependents;  /*  coord_task_t * waiting on this one; NULL: none yet */
    void          *qclass;      /*  its placement class while ready (coord_place.c) */
    coord_task_t  *qnext, *qprev;   /*  its neighbours in that class's queue (intrusive:
                                     *  no node allocated per queued task) */
    int64_t        submitted_ms, started_ms, finished_ms;   /*  wall clock */
    int64_t        ready_ms;    /*  wall clock: queued and past its backoff from then */
    uint64_t       final_seq;   /*  its job's final_seq when it became final */
    char          *reason;      /*  why it failed, was skipped, cancelled or lost;
                                 *  while queued again: why it was requeued */
    char          *cancel_reason;   /*  set with cancel_requested: the reason it
                                     *  ends with (persisted: a restart keeps it) */
    coord_task_t  *skip_root;   /*  skipped: the task whose end started the chain */
    int64_t        ev_attempt;  /*  coord_events: the attempt its last event showed */
    int64_t        not_before_ms;   /*  retry backoff: not dispatched before (monotonic) */
    int64_t        adopt_by_ms;     /*  restored as running: its agent must claim it by then */
    sw_strv_t      tried;       /*  agents whose attempt failed retryably */
    /*  issue 18 §3, §4: the limits it takes (NULL when none: a task costs
     *  nothing more without limits), and its rate-limited runs, which did
     *  not use one of its attempts (attempts used = attempt - throttled). */
    coord_limit_t **res;
    uint64_t       dispatch_seq;    /*  when it was last dispatched (coord_limits.c) */
    coord_spend_t *spend;       /*  what its attempts used (coord_budget.c); NULL until
                                 *  its first usage report (owns) */
    sw_tstate_t    state;
    int            deps_left;
    int            exit_code;
    int            nres;
    int            throttled;
    bool           cancel_requested;
    bool           refused;     /*  Redis refused a write of its state */
    bool           is_new;      /*  not yet persisted */
    bool           came_back_without;   /*  unadopted: its agent's HELLO left it out */
    uint8_t        ev_state;    /*  coord_events: state + 1 its last event showed; 0: none */
    uint8_t        interned;    /*  COORD_TI_*: spec fields that are not its own */
    /*  followed, in the same allocation, by spec.argv's vector and strings
     *  and spec.id (COORD_TI_INLINE) */
};
#define COORD_TI_JOB    1       /*  spec.job is job->id */
#define COORD_TI_TYPE   2       /*  spec.type, spec.runner: interned names */
#define COORD_TI_RUNNER 4
#define COORD_TI_NS     8       /*  spec.ns: an earlier task's of its job */
#define COORD_TI_INLINE 16      /*  spec.id and spec.argv live after the struct */

typedef struct {
    void (*persist)(void *ctx, coord_task_t *t);
    void (*dispatch)(void *ctx, coord_task_t *t, coord_agent_t *a);
    void (*cancel)(void *ctx, coord_task_t *t, coord_agent_t *a);
    void (*finished)(void *ctx, coord_task_t *t);
    void (*agent_gone)(void *ctx, coord_agent_t *a);
    /*  a says in its HELLO it runs r (job, id, attempt), which is no longer
     *  its to run (the task ended, was cancelled, or runs elsewhere as a
     *  newer attempt): tell it to stop (a CANCEL of that attempt). May be
     *  NULL. Called from dispatch, once a has its WELCOME. */
    void (*stale)(void *ctx, coord_agent_t *a, const sw_ref_t *r);
} coord_sched_ops_t;

coord_sched_t *coord_sched_new(const coord_sched_ops_t *ops, void *ctx);
void coord_sched_destroy(coord_sched_t **self_p);

/*  Jobs. get returns NULL when unknown; ensure creates with defaults. */
coord_job_t *coord_sched_job(coord_sched_t *self, const char *id);
coord_job_t *coord_sched_job_ensure(coord_sched_t *self, const char *id, int64_t wall_ms);
coord_task_t *coord_sched_task(coord_sched_t *self, const char *job, const char *id);
/*  j's task id, or NULL; j may be NULL. O(1). */
coord_task_t *coord_job_task(const coord_job_t *j, const char *id);
size_t coord_sched_njobs(coord_sched_t *self);
/*  Forgets a finished job (every task final, none running) and frees it;
 *  false, and nothing changes, when it is not finished. */
bool coord_sched_job_drop(coord_sched_t *self, coord_job_t *j);
/*  Every job (coord_job_t *), in no order; caller destroys the list. */
zlistx_t *coord_sched_job_list(coord_sched_t *self);

/*  Adds a validated task (spec is consumed on success and on failure).
 *  Fails on a duplicate id or an unknown dependency. */
coord_task_t *coord_sched_submit(coord_sched_t *self, sw_task_t *spec, int64_t wall_ms,
                                 sw_err_t *err);

/*  Agents. hello registers, or replaces an agent of the same id: tasks
 *  the old connection held that the new HELLO lists as still running are
 *  kept, the others are requeued. */
coord_agent_t *coord_sched_hello(coord_sched_t *self, const sw_hello_t *h, zframe_t **routing,
                                 int64_t now_ms, int64_t lease_ms);
coord_agent_t *coord_sched_agent(coord_sched_t *self, const char *id);
zlistx_t *coord_sched_agents(coord_sched_t *self);  /*  coord_agent_t *, do not modify */
void coord_sched_seen(coord_sched_t *self, coord_agent_t *a, int64_t now_ms, int64_t lease_ms);
/*  Removes the agent; its tasks are requeued or lost. a is freed. */
void coord_sched_agent_lost(coord_sched_t *self, coord_agent_t *a, const char *why,
                            int64_t wall_ms);
/*  The agent takes no new tasks from now on; what it runs, it finishes. */
void coord_sched_drain(coord_sched_t *self, coord_agent_t *a);
/*  The coordinator itself did not run for stall_ms (SIGSTOP, a starved
 *  or suspended host): that time does not count against any agent's
 *  lease, since nobody was there to hear it. Each lease is moved on by
 *  stall_ms, and runs at least until until_ms (monotonic ms): agents that
 *  gave up on the silent coordinator come back with their reconnect
 *  backoff, which can be longer than a lease. (Leases are judged on what
 *  the coordinator heard, never on a silence it caused.) */
void coord_sched_stalled(coord_sched_t *self, int64_t stall_ms, int64_t until_ms);
/*  Declares every agent whose lease ran out lost; returns how many. */
int coord_sched_expire(coord_sched_t *self, int64_t now_ms, int64_t wall_ms);

/*  A DONE from agent a. 0 when accepted, -1 when stale (fenced off).
 *  A retryable failure (crash, timeout, spawn failure) with attempts left
 *  goes back to the queue after a backoff of 1, 2, 4 ... 60 s (+-25%
 *  jitter) and prefers an agent it has not failed on; a task that failed
 *  that way on every attempt, on more than one agent, is quarantined: it
 *  ends failed with a reason naming the agents. */
int coord_sched_done(coord_sched_t *self, coord_agent_t *a, const sw_ref_t *r, int64_t now_ms,
                     int64_t wall_ms);

/*  Hands ready tasks to agents with free slots; returns how many. now_ms
 *  (monotonic) holds back tasks still in their retry backoff. */
int coord_sched_dispatch(coord_sched_t *self, int64_t now_ms, int64_t wall_ms);

/*  The backoff before attempt n + 1 after n retryable failures, without
 *  jitter: 1 s, 2 s, 4 s ... at most 60 s. */
int64_t coord_sched_backoff_ms(int64_t attempt);

/*  The reason a task cancelled with `swarm cancel` ends with. */
#define COORD_CANCEL_REASON "cancelled by swarm cancel"

/*  Cancels one task, or every unfinished task of a job when id is NULL,
 *  in time proportional to what it cancels (one task: a hash lookup). A
 *  queued or waiting task ends cancelled at once with reason (default
 *  COORD_CANCEL_REASON); a running one is asked to stop (CANCEL to its
 *  agent) and ends cancelled with that reason when its DONE comes (a
 *  success that raced the cancel stays a success). A running task whose
 *  agent has not claimed it since a restart gets its CANCEL when its agent
 *  claims it, or ends cancelled when the adoption window closes. Returns
 *  how many were cancelled or asked to stop. */
int coord_sched_cancel(coord_sched_t *self, coord_job_t *job, const char *id, const char *reason,
                       int64_t wall_ms);

/*  A task whose state Redis refused to store (an error reply, not an
 *  outage): it ends failed with reason, unless it is final already; a
 *  running one is taken off its agent (CANCEL). Its later writes are not
 *  retried either (t->refused), so no refused write is replayed forever.
 *  Returns true when it ended here. */
bool coord_sched_fail(coord_sched_t *self, coord_task_t *t, const char *reason,
                      int64_t wall_ms);

/*  A dispatched task whose TASK message was never sent (held while Redis
 *  was out) and that was cancelled meanwhile: it ends cancelled without
 *  ever reaching its agent. */
void coord_sched_cancel_unsent(coord_sched_t *self, coord_task_t *t, int64_t wall_ms);

size_t coord_sched_queued(coord_sched_t *self);
/*  Slots that could take a task now (agents not draining), summed. */
int coord_sched_free_slots(const coord_sched_t *self);

/*  What the scheduler counted, for the coordinator's /metrics. */
typedef struct {
    uint64_t retries_failed;    /*  requeued after a retryable failure */
    uint64_t retries_lost;      /*  requeued because its agent went away */
    uint64_t agents_expired;    /*  agents declared dead: their lease ran out */
    uint64_t throttled;         /*  requeued after the provider rate-limited it */
} coord_sched_stats_t;
const coord_sched_stats_t *coord_sched_stats(const coord_sched_t *self);

/*  Calls fn for each placement class with ready tasks: its runner, whether
 *  it holds retries, how many tasks. O(classes), for /metrics. */
typedef void (coord_sched_class_fn)(void *arg, const char *runner, bool retries, size_t n);
void coord_sched_each_class(coord_sched_t *self, coord_sched_class_fn *fn, void *arg);

/*  --- restart: state rebuilt from Redis ----------------------------------------

 *  restore adds a task in the state Redis recorded (spec consumed); after
 *  the last one, restore_finish links dependencies and queues what is
 *  ready, in submit order. A task recorded as running has no agent yet: the
 *  agent claims it by listing it in its HELLO (coord_sched_hello) before
 *  adopt_by_ms; orphans_due hands over those nobody claimed in time, and
 *  resolve finishes one (from its stored result) or queues it again. */
typedef struct {
    sw_tstate_t state;
    const char *agent_id, *host;
    int64_t     submitted_ms, started_ms, finished_ms;
    int         exit_code;
    const char *reason;
    const char *cancel;         /*  the reason of a cancel requested while it ran */
    int64_t     adopt_by_ms;
    int         throttled;      /*  rate-limited runs so far */
} coord_restore_t;

coord_task_t *coord_sched_restore(coord_sched_t *self, sw_task_t *spec, const coord_restore_t *r);
/*  only: that job's tasks (loaded on demand), or NULL for every job. */
void coord_sched_restore_finish(coord_sched_t *self, coord_job_t *only, int64_t wall_ms);
/*  Running tasks whose adoption deadline passed; caller destroys the list. */
zlistx_t *coord_sched_orphans_due(coord_sched_t *self, int64_t now_ms);
/*  A task orphans_due handed over whose stored result could not be read
 *  (Redis out or erring): it waits for its agent again until retry_ms, and
 *  is handed over again then. Never queued as if it had no result. */
void coord_sched_orphan_later(coord_sched_t *self, coord_task_t *t, int64_t retry_ms);
/*  status NULL: run it again (attempt + 1, or lost when none are left);
 *  else finish it with that final status. A cancel requested meanwhile
 *  wins over anything but a success. */
void coord_sched_resolve(coord_sched_t *self, coord_task_t *t, const char *status, int exit_code,
                         int64_t wall_ms);

/*  --- limits on shared resources (issue 18 §3, §4; coord_limits.c) ------------

 *  Sets NAME's limit to n (1..COORD_LIMIT_MAX), before any task is added
 *  (the coordinator's startup); -1 with err naming the offence. A task
 *  takes every limited resource it lists, and codex or claude tasks the
 *  one named after their runner; a resource no limit names is unlimited. */
int coord_sched_limit_set(coord_sched_t *self, const char *name, long long n, sw_err_t *err);
/*  Parses "NAME=N" (--limit, the config file's limit = NAME=N) into name
 *  (caller frees) and n; -1 with err. */
int coord_limit_parse(const char *arg, char **name, long long *n, sw_err_t *err);
/*  The limits in the order they were set; do not modify. */
zlistx_t *coord_sched_limits(coord_sched_t *self);

/*  --- a task's spec (coord_sched.c) ------------------------------------------ */

/*  t's whole spec as a sw_task_t that borrows every string and vector
 *  from t (never release it; valid while t is and unchanged), for
 *  sw_task_pack and the stored JSON. */
void coord_task_spec(const coord_task_t *t, sw_task_t *out);
/*  Fields of rest, empty (never NULL) when t has none. */
const sw_strv_t *coord_task_after(const coord_task_t *t);
const sw_strv_t *coord_task_resources(const coord_task_t *t);
const sw_kv_t *coord_task_labels(const coord_task_t *t);
/*  NULL when it has none (exec) */
const char *coord_task_prompt(const coord_task_t *t);

/*  --- budgets (coord_budget.c) -------------------------------------------- */

/*  t's spend: t->spend, or all zeros when it reported nothing yet (never
 *  NULL; do not keep it past a usage report). */
const coord_spend_t *coord_task_spend(const coord_task_t *t);
/*  What u costs in micro-dollars: the runner's own figure (claude), else
 *  the price of u->model in prices (codex), else -1 (tokens only).
 *  *source: "runner", "price", or NULL when unknown. */
int64_t coord_budget_price(const sw_prices_t *prices, const sw_usage_t *u, const char **source);
/*  A USAGE from agent a: attempt `attempt` of job/id used u so far, costing
 *  micro (-1: unknown). 0 when counted; -1 when stale (the task is not
 *  running that attempt on a: a report of an old attempt is refused) and
 *  nothing changes. The job's spend grows by the difference with the
 *  attempt's previous report; the task is persisted (its usage field),
 *  and the budget checked. */
int coord_sched_usage(coord_sched_t *self, coord_agent_t *a, const char *job, const char *id,
                      int64_t attempt, const sw_usage_t *u, int64_t micro, bool final);
/*  The usage of attempt `attempt` as its stored result recorded it, for a
 *  task finished from that result (its DONE died with an old
 *  coordinator): counted like a final USAGE, replacing what that attempt
 *  reported live. Called before the task is resolved. */
void coord_sched_usage_result(coord_sched_t *self, coord_task_t *t, int64_t attempt,
                              const sw_usage_t *u, int64_t micro);
/*  Restart: attempt's stored usage added to t and its job (every attempt
 *  of a task once). coord_sched_budget_check after the job's last. */
void coord_sched_spend_restore(coord_task_t *t, int64_t attempt, const sw_usage_t *u,
                               int64_t micro, bool runner_cost);
/*  Whether j's spend reached a cap: then it is out of budget (once), and
 *  its tasks end at the next dispatch. Returns j->budget.out. */
bool coord_sched_budget_check(coord_sched_t *self, coord_job_t *j);
/*  "budget exhausted: $0.08 of $0.07" / "budget exhausted: 1200 of 1000
 *  tokens" for j as it stands. */
void coord_budget_reason(const coord_job_t *j, char *out, size_t n);

int coord_sched_test(bool verbose);
/*  The heap per queued task, against a bound (coord_sched_test_mem.c, issue 20). */
int coord_sched_mem_test(bool verbose);
/*  The seeded model-based test (coord_model.c): random sequences of
 *  requests, agent and Redis events against the invariants. seeds NULL:
 *  the fixed set CI runs. A failing seed prints itself. */
int coord_model_run(const unsigned long *seeds, size_t nseeds, int steps, bool verbose);
int coord_model_test(bool verbose);

#endif
