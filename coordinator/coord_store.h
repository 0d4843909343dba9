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

coord_store_t *coord_store_new(sw_redis_t *redis);
void coord_store_destroy(coord_store_t **self_p);

void coord_store_job(coord_store_t *self, const coord_job_t *j);
void coord_store_task(coord_store_t *self, coord_task_t *t);
void coord_store_current(coord_store_t *self, const char *job);
/*  Loads the current job name (NULL when none); caller frees. */
char *coord_store_load_current(coord_store_t *self);
/*  Sends what was queued; 0 or -1 (logged). */
int  coord_store_flush(coord_store_t *self);

#endif
