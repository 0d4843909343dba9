/*  coord_events -- the coordinator writes each job's history (issue 17).
 *
 *  The events are derived from what the coordinator already does, not
 *  added to the scheduler: each time a task's state is persisted, its
 *  change since the last event of that task says what happened (queued,
 *  dispatched, finished, retried, skipped, cancelled, lost); an ACCEPT is
 *  "started"; the server names agents that are lost, leave, are revoked
 *  or drain, and jobs that complete. Tasks submitted in one loop turn
 *  make one "submitted" event per job (a 100,000-task submit is one
 *  event, with its first ids). The fields are sw_events.h's; the caller's
 *  emit appends them to the job's stream on the store's per-turn pipeline
 *  and says whether it could (Redis out: the event is lost, counted, and
 *  the job's next event is preceded by an "events_lost" count).
 *
 *  Each task remembers the state its last event showed (ev_* fields of
 *  coord_task_t); a task restored after a restart starts from the state
 *  it was loaded in, so nothing that happened before is told again.
 */
#ifndef COORD_EVENTS_H
#define COORD_EVENTS_H

#include "coord_sched.h"

/*  Appends one event of job: nf (field, value) pairs, fv[2i] the field,
 *  fv[2i+1] the value. False when it was dropped (Redis out). */
typedef bool (coord_events_emit_fn)(void *ctx, const char *job, int nf,
                                    const char *const *fv);

typedef struct coord_events_t coord_events_t;

coord_events_t *coord_events_new(coord_events_emit_fn *emit, void *ctx);
void coord_events_destroy(coord_events_t **self_p);

/*  t was persisted: the event its change stands for, if any. now_ms is
 *  the monotonic clock (a retry's backoff), wall_ms the event's time. */
void coord_events_task(coord_events_t *self, coord_task_t *t, int64_t now_ms, int64_t wall_ms);
/*  t was restored from Redis: no event for how it got there. */
void coord_events_restored(coord_events_t *self, coord_task_t *t);
/*  A DONE is about to be handed to the scheduler: a retry it causes says
 *  how the attempt ended (status, exit code). */
void coord_events_done(coord_events_t *self, const char *job, const char *id,
                       int64_t attempt, const char *status, int exit_code);
/*  The coordinator asks t's agent to stop it (CANCEL). */
void coord_events_cancelling(coord_events_t *self, coord_task_t *t, int64_t wall_ms);
/*  Its agent accepted t (ACCEPT). */
void coord_events_started(coord_events_t *self, coord_task_t *t, int64_t wall_ms);
/*  Agent a is leaving or draining (event agent_lost, agent_left,
 *  agent_revoked, agent_drained, why may be NULL): one event in each job
 *  it runs tasks of, with how many. Call it before the scheduler takes
 *  the tasks off the agent: their retries (until the next flush) name
 *  the agent and why. */
void coord_events_agent(coord_events_t *self, const coord_agent_t *a, const char *event,
                        const char *why, int64_t wall_ms);
/*  A restarted coordinator took j up again (its tasks are restored). */
void coord_events_resumed(coord_events_t *self, const coord_job_t *j, int64_t wall_ms);
/*  Every task of j is final. */
void coord_events_complete(coord_events_t *self, const coord_job_t *j, int64_t wall_ms);
/*  The end of a loop turn: the "submitted" events gathered in it. */
void coord_events_flush(coord_events_t *self, int64_t wall_ms);

int coord_events_test(bool verbose);

#endif
