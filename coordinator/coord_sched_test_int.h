/*  coord_sched_test_int -- what the scheduler's unit tests share
 *  (coord_sched_test.c, and coord_sched_test_caps.c for limits and
 *  budgets): a recorder of the scheduler's callbacks and small builders. */
#ifndef COORD_SCHED_TEST_INT_H
#define COORD_SCHED_TEST_INT_H

#include "coord_sched_int.h"

typedef struct {
    int            persisted, dispatched, cancels, finished, gone;
    int            null_cancels;    /*  a CANCEL without an agent: a crash in the server */
    int            stale;           /*  runs an agent listed that were not its */
    coord_task_t  *last_dispatch;
    coord_agent_t *last_agent;
} st_rec_t;

/*  The callbacks, recording into the st_rec_t given as ctx; in the order
 *  of coord_sched_ops_t: persist, dispatch, cancel, finished, gone, stale. */
void st_rec_persist(void *c, coord_task_t *t);
void st_rec_dispatch(void *c, coord_task_t *t, coord_agent_t *a);
void st_rec_cancel(void *c, coord_task_t *t, coord_agent_t *a);
void st_rec_finished(void *c, coord_task_t *t);
void st_rec_gone(void *c, coord_agent_t *a);
void st_rec_stale(void *c, coord_agent_t *a, const sw_ref_t *r);
/*  An agent with slots (runners exec and codex), label os=label or none. */
coord_agent_t *st_agent(coord_sched_t *s, const char *id, int slots, const char *label);
/*  An exec task of job "j" (after: one dependency or NULL); NULL if refused. */
coord_task_t *st_submit(coord_sched_t *s, const char *id, const char *after, const char *label);
/*  The same in job `job`. */
coord_task_t *st_submit_to(coord_sched_t *s, const char *job, const char *id, const char *label);
/*  DONE of job "j"'s task t, attempt, status from agent a. */
int st_done(coord_sched_t *s, coord_agent_t *a, coord_task_t *t, long long attempt,
            const char *status);

/*  coord_sched_test_caps.c: limits (issue 18 §3, §4), budgets (§2), and
 *  the two together. 0 when they pass. */
int coord_sched_test_caps(void);

#endif
