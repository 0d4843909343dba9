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
#define M_BUDGET    120         /*  job j1's token cap */

/*  What the world knows of a task: how it was submitted, what "Redis"
 *  holds of it, the result an agent stored, and its completions. */
typedef struct {
    char        key[64];        /*  job \x1f id */
    int         job;
    char        id[16];
    sw_strv_t   after;
    int         max_attempts;
    bool        gpu;
    /*  "Redis" */
    int         state;          /*  -1: never written */
    long long   attempt;
    char       *reason, *cancel;
    int         res_status;     /*  -1: no result */
    long long   res_attempt;
    int         fired;          /*  completions, over every coordinator lifetime */
    int64_t     used[8];        /*  "Redis": tokens each attempt reported (usage:N) */
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

#endif
