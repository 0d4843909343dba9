/*  coord_record -- the coordination record of every job (issue 19,
 *  section 4).
 *
 *  The coding-agent coordinators swarm replaces keep their state
 *  (workers, started, status) in shared memory under a `coordination/`
 *  key so that every process can read it. The coordinator keeps one
 *  memory entry per job, namespace "coordination", key = the job id:
 *
 *    {"job", "topology", "max_agents", "strategy", "namespace",
 *     "workers": [task ids, in submit order], "started", "status",
 *     "counts": {waiting, queued, running, succeeded, failed, timed_out,
 *                cancelled, lost, skipped, total}, "updated"}
 *
 *  status is "initialized" (no task yet), "running" (a task is not
 *  final), then "succeeded" (every task did) or "failed", as a post
 *  hook's SWARM_STATUS says. started and updated are UTC times
 *  (2026-11-30T10:48:19.123Z). workers lists the first
 *  COORD_RECORD_MAX_WORKERS ids ("workers_truncated": true when there are
 *  more; counts.total says how many).
 *
 *  Writes are coalesced: a job whose tasks changed is written at most once
 *  per COORD_RECORD_INTERVAL_MS, except the write that makes it final
 *  (every task final), which goes at once, so that a `swarm wait` that
 *  returned reads the final counts. The record lives as long as the job
 *  runs; its last write gives it a TTL (the coordinator's
 *  --coordination-ttl, COORD_RECORD_TTL_S by default). A job that gets new
 *  tasks later is running again, without a TTL: written at once when it
 *  ended more than COORD_RECORD_INTERVAL_MS ago, else when the interval
 *  is over or at its next end, whichever comes first (a roundtrip's
 *  SUBMIT right after the previous task's end writes no record).
 *
 *  This module has no I/O: it builds the record and decides which are
 *  due; coord_store writes them on its per-turn pipeline.
 */
#ifndef COORD_RECORD_H
#define COORD_RECORD_H

#include "coord_sched.h"

#define COORD_RECORD_NS             "coordination"
#define COORD_RECORD_INTERVAL_MS    250             /*  at most 4 writes a second per job */
#define COORD_RECORD_TTL_S          (30 * 86400)    /*  30 days after the job ended */
#define COORD_RECORD_MAX_WORKERS    1000

/*  Whether every task of j is final (and there is at least one). */
bool coord_record_final(const coord_job_t *j);
/*  initialized, running, succeeded or failed. */
const char *coord_record_status(const coord_job_t *j);
/*  The record of j at WALL_MS (ms since the epoch), as compact JSON;
 *  caller frees. */
char *coord_record_json(const coord_job_t *j, int64_t wall_ms);

/*  Which records are due. */
typedef struct coord_records_t coord_records_t;

coord_records_t *coord_records_new(void);
void coord_records_destroy(coord_records_t **self_p);
/*  Job JOB changed: its record is to be written. */
void coord_records_touch(coord_records_t *self, const char *job);
/*  Jobs touched and not yet written. */
size_t coord_records_pending(const coord_records_t *self);

/*  Writes j's record; final: j has ended (the record gets its TTL). */
typedef void (coord_record_write_fn)(void *arg, coord_job_t *j, bool final);
/*  Calls WRITE for every touched job whose record is due at NOW_MS
 *  (monotonic): not written for COORD_RECORD_INTERVAL_MS, or final. A
 *  touched job SCHED no longer has is forgotten. Returns how many were
 *  written. */
int coord_records_due(coord_records_t *self, coord_sched_t *sched, int64_t now_ms,
                      coord_record_write_fn *write, void *arg);

int coord_record_test(bool verbose);

#endif
