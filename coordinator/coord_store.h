/*  coord_store -- the coordinator's writes to Redis, and its reads of them
 *  after a restart (docs/redis.md).
 *
 *  Write-through: every task state change is appended to a pipeline and
 *  the pipeline is flushed once per loop turn (and every few thousand
 *  commands within one), before any TASK message of that turn leaves.
 *  That order matters: the agent's fenced result write checks the attempt
 *  number the coordinator stored.
 *
 *  Two kinds of failure, never mixed up (an error reply is not an outage):
 *  - an outage (no connection, no answer within the command timeout, or
 *    Redis saying "not now": LOADING, BUSY ...): writes are dropped, the
 *    caller holds its TASK messages, and after a backoff of 1 -> 4 s the
 *    next flush writes every job and task again;
 *  - a refusal (an error reply about that command: WRONGTYPE, OOM,
 *    READONLY ...): that write is reported once, with its key and what it
 *    was for (a task, a job, a control request), for the caller to end
 *    that task or request; nothing else stops, and the write is never
 *    replayed. A NOSCRIPT is neither: sw_redis loads the script again.
 *
 *  Owners: a refusal points at the job and task the write was for. The
 *  caller must not free a job while writes for it are pending
 *  (coord_store_pending() == 0 after a flush).
 */
#ifndef COORD_STORE_H
#define COORD_STORE_H

#include "coord_sched.h"
#include "sw_redis.h"

typedef struct coord_store_t coord_store_t;

coord_store_t *coord_store_new(sw_redis_t *redis, coord_sched_t *sched);
void coord_store_destroy(coord_store_t **self_p);
/*  The TTL (s) a job's coordination record gets once the job has ended
 *  (coord_record.h; default COORD_RECORD_TTL_S). The record is written on
 *  the flush after its job changed, at most every
 *  COORD_RECORD_INTERVAL_MS, at once when the job ends. */
void coord_store_set_record_ttl(coord_store_t *self, int64_t ttl_s);
/*  The price table a stored result's usage is priced with (borrowed). */
void coord_store_set_prices(coord_store_t *self, const sw_prices_t *prices);

void coord_store_job(coord_store_t *self, const coord_job_t *j);
void coord_store_task(coord_store_t *self, coord_task_t *t);
void coord_store_current(coord_store_t *self, const char *job);
/*  Appends one event to job's event log (coord_events.h: nf field/value
 *  pairs in fv, at most 16), on the same pipeline: XADD MAXLEN ~
 *  SW_EVENTS_MAXLEN. False when it was dropped (Redis is out). A refusal
 *  of it is logged and reported in coord_store_refusals with no task, job
 *  nor request: nothing is ended for it (issue 17). */
bool coord_store_event(coord_store_t *self, const char *job, int nf, const char *const *fv);
/*  Marks a job complete in Redis (or not, once tasks are added again);
 *  a restart loads only jobs not marked complete. */
void coord_store_job_complete(coord_store_t *self, const coord_job_t *j, bool complete);
void coord_store_revoke(coord_store_t *self, const char *key);
/*  A submit in batches goes into job j from its task from on (the tasks
 *  before it were there already); from -1: it is all in. A restart that
 *  finds the mark drops the tasks from `from` on, so a submit cut short
 *  by a crash leaves nothing of itself to run (coord_store_load). */
void coord_store_job_txn(coord_store_t *self, const coord_job_t *j, long from);

/*  The writes appended between begin and end are control request req's
 *  (req > 0): a refusal of one of them names it. end returns how many
 *  writes the request queued (0 while Redis is out: they are dropped). */
void coord_store_begin(coord_store_t *self, uint64_t req);
int  coord_store_end(coord_store_t *self);

/*  Sends what was queued; 0 when Redis has it all (or refused some: see
 *  coord_store_refusals), -1 (logged once per outage) while Redis is out.
 *  Nothing that depends on the state being stored (TASK messages, replies)
 *  may go out before a flush returned 0. */
int  coord_store_flush(coord_store_t *self);
/*  The coordinator's last flush, as it leaves: coord_store_flush, with
 *  every coordination record that has a change written too, also one
 *  still inside its coalescing interval (else it would show an older
 *  state, a job that got new tasks as ended, until a next coordinator
 *  loaded the job). */
int  coord_store_flush_last(coord_store_t *self);
/*  False while Redis is out. */
bool coord_store_ok(const coord_store_t *self);
/*  Marks Redis out (after a failed read too, or the lease's renewal that
 *  got no answer: why is logged once): writes are dropped until the
 *  backoff ends (1, 2, 4 s) and the next flush writes everything again. */
void coord_store_outage(coord_store_t *self, const char *why);
int  coord_store_pending(const coord_store_t *self);

/*  A write Redis refused. */
typedef struct {
    coord_job_t  *job;          /*  the job it was about, or NULL */
    coord_task_t *task;         /*  the task it was about, or NULL */
    uint64_t      req;          /*  the control request that made it, or 0 */
    char         *key;
    char         *error;        /*  Redis's reply */
} coord_refusal_t;

/*  The refusals since the last call, in order (logged already); NULL when
 *  there were none. The caller destroys the list. */
zlistx_t *coord_store_refusals(coord_store_t *self);

/*  --- reads (coord_load.c) ---------------------------------------------------- */

/*  Loads the current job name (NULL when none); caller frees. */
char *coord_store_load_current(coord_store_t *self);
/*  Public keys revoked with `swarm agents revoke` (they stay revoked
 *  across restarts); caller destroys the set. */
zhashx_t *coord_store_load_revoked(coord_store_t *self);
/*  Rebuilds the scheduler's unfinished jobs and tasks from Redis after a
 *  restart. A task recorded as running whose result for that attempt is
 *  stored is finished from it; the others wait until adopt_by_ms to be
 *  claimed by their agent. Tasks finished from their result are added to
 *  done (their completion has not fired yet). A job or task Redis refuses
 *  to read is logged and passed over (a task as failed, with why), so one
 *  bad key never strands the jobs after it. Returns the number of tasks
 *  loaded, or -1 when Redis went out. */
int  coord_store_load(coord_store_t *self, coord_sched_t *sched, int64_t adopt_by_ms,
                      zlistx_t *done);
/*  Loads a job that is not in memory (a finished job the coordinator
 *  forgot); NULL when Redis does not have it or is out. */
coord_job_t *coord_store_load_job(coord_store_t *self, coord_sched_t *sched, const char *job);

/*  The stored result of a task's current attempt, for running tasks no
 *  agent claimed after a restart. */
typedef enum {
    COORD_RESULT_NONE,          /*  no result of that attempt: it may run again */
    COORD_RESULT_FINAL,         /*  its final status and exit code are known */
    COORD_RESULT_UNKNOWN,       /*  Redis could not say: ask again later */
} coord_result_t;

typedef void (coord_result_fn)(void *arg, coord_task_t *t, coord_result_t what,
                               const char *status, int exit_code);

/*  Reads the results of tasks (coord_task_t *) in one round trip, and
 *  calls fn for each. Never blocks longer than one command timeout, however
 *  many tasks: when Redis is out, every one is COORD_RESULT_UNKNOWN. */
void coord_store_results(coord_store_t *self, zlistx_t *tasks, coord_result_fn *fn, void *arg);

#endif
