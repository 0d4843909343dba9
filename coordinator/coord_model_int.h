/*  coord_model_int -- the world of the scheduler's model-based test
 *  (coord_model.c), shared with its invariants (coord_model_check.c). */
#ifndef COORD_MODEL_INT_H
#define COORD_MODEL_INT_H

#include "coord_sched_int.h"

#define M_JOBS      3
#define M_AGENTS    4
#define M_MAXTASKS  80
#define M_LEASE     5000
#define M_WINDOW    15000
#define M_LIC_LIMIT 2           /*  --limit lic=2 (issue 18 §3) */
#define M_BUDGET    120         /*  job j1's token cap */
/*  Attempt numbers the model's "Redis" keeps usage of: max_attempts (3)
 *  plus rate-limited runs (COORD_MAX_THROTTLES) plus lost agents' requeues
 *  stay far below it; one beyond fails the model rather than drop spend. */
#define M_ATTEMPTS  128

/*  What the world knows of a task: how it was submitted, what "Redis"
 *  holds of it, the result an agent stored, and its completions. */
typedef struct {
    char        key[64];        /*  job \x1f id */
    int         job;
    char        id[16];
    sw_strv_t   after;
    int         max_attempts;
    bool        gpu;
    bool        lic;            /*  takes resource lic (limited to M_LIC_LIMIT) */
    /*  "Redis" */
    int         state;          /*  -1: never written */
    long long   attempt;
    int         throttled;
    char       *reason, *cancel;
    int         res_status;     /*  -1: no result */
    long long   res_attempt;
    int         fired;          /*  completions, over every coordinator lifetime */
    int64_t     used[M_ATTEMPTS];   /*  "Redis": tokens each attempt reported (usage:N) */
} m_task_t;

typedef struct {
    char      job[64], id[64];
    long long attempt;
    bool      cancelled;        /*  a CANCEL reached it */
    bool      finished;         /*  result stored, DONE not yet sent */
    int       status;
    int       reports;          /*  USAGE sent: each says 10 more tokens */
} m_run_t;

typedef struct {
    char           id[16];
    int            slots;
    bool           gpu;
    bool           alive;       /*  its process runs */
    bool           silent;      /*  cut off: no heartbeats, no messages */
    bool           draining;
    coord_agent_t *a;           /*  while the scheduler knows it */
    zlistx_t      *runs;        /*  m_run_t * (owns) */
} m_agent_t;

typedef struct {
    char      key[160];
    char      agent[16];
    long long attempt;
} m_send_t;

typedef struct {
    unsigned long  seed;
    uint64_t       rng;
    int            step;
    const char    *op;
    bool           verbose;
    bool           failed;
    char           why[512];
    coord_sched_t *s;
    int64_t        now;
    bool           redis_up;
    zhashx_t      *tasks;       /*  key -> m_task_t * (owns) */
    m_task_t      *order[M_MAXTASKS];
    int            ntasks;
    m_agent_t      agents[M_AGENTS + 1];   /*  + the healer of the end */
    int            nagents;
    zlistx_t      *outbox;      /*  m_send_t * (owns): TASKs not yet sent */
    sw_ref_t       last_done;   /*  for duplicates */
    char           last_job[64], last_id[64];
} m_t;

/*  Records the first broken invariant (the run stops after the step). */
void m_fail(m_t *m, const char *fmt, ...) SW_PRINTF(2, 3);
/*  Checks every invariant on the scheduler's state after a step. */
void m_check(m_t *m);

/*  coord_model_server.c: the server's part. */
/*  The model's record of t (NULL: unknown), and agent id's. */
m_task_t  *m_task(m_t *m, const coord_task_t *t);
m_agent_t *m_agent(m_t *m, const char *id);
/*  "Redis": t's state written (its usage:N field too); m_resync writes
 *  every task again once Redis is back. */
void m_store(m_t *m, const coord_task_t *t);
void m_resync(m_t *m);
/*  The scheduler's callbacks (coord_sched_ops_t); ctx is the m_t. */
void m_on_persist(void *ctx, coord_task_t *t);
void m_on_dispatch(void *ctx, coord_task_t *t, coord_agent_t *a);
void m_on_cancel(void *ctx, coord_task_t *t, coord_agent_t *a);
void m_on_stale(void *ctx, coord_agent_t *a, const sw_ref_t *r);
void m_on_finished(void *ctx, coord_task_t *t);
void m_on_gone(void *ctx, coord_agent_t *a);

#endif
