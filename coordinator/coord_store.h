/*  coord_store -- the coordinator's writes to Redis (docs/redis.md).
 *
 *  Write-through: every task state change is appended to a pipeline and
 *  the pipeline is flushed once per loop turn, before any TASK message of
 *  that turn leaves. That order matters: the agent's fenced result write
 *  checks the attempt number the coordinator stored.
 */
#ifndef COORD_STORE_H
#define COORD_STORE_H

#include "coord_sched.h"
#include "sw_redis.h"

typedef struct coord_store_t coord_store_t;

/*  Writes are dropped while Redis is out (a flush failed); the next flush
 *  after a backoff of 1 -> 4 s writes every job and task of sched again. */
coord_store_t *coord_store_new(sw_redis_t *redis, coord_sched_t *sched);
void coord_store_destroy(coord_store_t **self_p);
/*  The TTL (s) a job's coordination record gets once the job has ended
 *  (coord_record.h; default COORD_RECORD_TTL_S). The record is written on
 *  the flush after its job changed, at most every
 *  COORD_RECORD_INTERVAL_MS, at once when the job ends. */
void coord_store_set_record_ttl(coord_store_t *self, int64_t ttl_s);

void coord_store_job(coord_store_t *self, const coord_job_t *j);
void coord_store_task(coord_store_t *self, coord_task_t *t);
void coord_store_current(coord_store_t *self, const char *job);
/*  Appends one event to job's event log (coord_events.h: nf field/value
 *  pairs in fv), on the same pipeline: XADD MAXLEN ~ SW_EVENTS_MAXLEN.
 *  False when it was dropped (Redis is out). */
bool coord_store_event(coord_store_t *self, const char *job, int nf, const char *const *fv);
/*  Loads the current job name (NULL when none); caller frees. */
char *coord_store_load_current(coord_store_t *self);
/*  Rebuilds the scheduler's unfinished jobs and tasks from Redis after a
 *  restart.
 *  A task recorded as running whose result for that attempt is stored is
 *  finished from it; the others wait until adopt_by_ms to be claimed by
 *  their agent. Tasks finished from their result are added to done
 *  (their completion has not fired yet). Returns the number of tasks
 *  loaded, or -1. */
int  coord_store_load(coord_store_t *self, coord_sched_t *sched, int64_t adopt_by_ms,
                      zlistx_t *done);
/*  Loads a job that is not in memory (a finished job the coordinator
 *  forgot); NULL when Redis does not have it or is out. */
coord_job_t *coord_store_load_job(coord_store_t *self, coord_sched_t *sched, const char *job);
/*  Marks a job complete in Redis (or not, once tasks are added again);
 *  a restart loads only jobs not marked complete. */
void coord_store_job_complete(coord_store_t *self, const coord_job_t *j, bool complete);
/*  The stored result of t's current attempt: its status and exit code.
 *  0 when there is one, -1 otherwise. */
int  coord_store_result(coord_store_t *self, const coord_task_t *t, char *status, size_t n,
                        int *exit_code);
/*  Public keys revoked with `swarm agents revoke` (they stay revoked
 *  across restarts); caller destroys the set. */
zhashx_t *coord_store_load_revoked(coord_store_t *self);
void coord_store_revoke(coord_store_t *self, const char *key);
/*  Sends what was queued; 0, or -1 (logged once per outage) while Redis
 *  is out. Nothing that depends on the state being stored (TASK messages,
 *  replies) may go out before a flush returned 0. */
int  coord_store_flush(coord_store_t *self);
/*  False while Redis is out. */
bool coord_store_ok(const coord_store_t *self);

#endif
