/*  sw_events -- a job's history: the events the coordinator writes to the
 *  job's event log (sw_key_job_events, a capped Redis stream), read and
 *  shown by `swarm events` and `swarm status JOB ID`.
 *
 *  An entry's fields (all strings; only those that apply):
 *    t        wall-clock ms (the coordinator's clock)
 *    e        the event: submitted, queued, dispatched, started, finished,
 *             retried, skipped, cancelling, cancelled, lost, agent_lost,
 *             agent_left, agent_revoked, agent_drained, complete,
 *             resumed (a restarted coordinator took the job up), events_lost
 *    task     the task id
 *    attempt  the attempt it is about
 *    agent    the agent
 *    status   a final status (finished)
 *    code     exit code (finished)
 *    reason   why (retried, skipped, cancelled, lost, agent_*)
 *    n        how many (submitted: tasks; agent_*: the job's tasks on
 *             that agent; complete, resumed: tasks; events_lost: events)
 *    ids      submitted: the first ids, comma-separated
 *    retry_ms retried: the backoff before the next attempt
 *    counts   complete: "3 succeeded, 1 failed"; resumed: "2 running, 1 final"
 */
#ifndef SW_EVENTS_H
#define SW_EVENTS_H

#include <jansson.h>

#include "sw_redis.h"

#define SW_EVENTS_MAXLEN 100000     /*  entries a job's event log keeps (~) */

typedef struct {
    char     id[48];            /*  stream entry id */
    int64_t  t;
    char    *e, *task, *agent, *status, *reason, *ids, *counts;   /*  owned, or NULL */
    long     attempt;           /*  0: none */
    int      code;
    bool     has_code;
    long     n;                 /*  -1: none */
    long     retry_ms;          /*  -1: none */
} sw_event_t;

typedef struct {
    sw_event_t *v;
    size_t      n;
} sw_events_t;

void sw_events_release(sw_events_t *b);

/*  Appends the entries of an XRANGE/XREVRANGE reply, in its order. */
void sw_events_parse(const redisReply *entries, sw_events_t *b);

/*  The event as a line for a person (no time, no newline): "dispatched
 *  coder-api to build-2 (attempt 1)". */
void sw_event_text(const sw_event_t *e, sw_buf_t *out);
/*  The event as a JSON object: {t, event, task?, attempt?, agent?, status?,
 *  exit_code?, reason?, count?, ids?, retry_ms?, counts?}. New reference. */
json_t *sw_event_json(const sw_event_t *e);
/*  "HH:MM:SS.mmm" of wall ms t, local time. */
void sw_event_clock(int64_t t, char out[20]);

/*  Entries of job's event log after the entry id `after` (NULL, "" or "0":
 *  from the start), at most count. */
int sw_events_range(sw_redis_t *r, const char *job, const char *after, size_t count,
                    sw_events_t *b, sw_err_t *err);
/*  The newest n events (of task, when not NULL: looking back at most
 *  `scan` entries), oldest first. */
int sw_events_tail(sw_redis_t *r, const char *job, const char *task, size_t n, size_t scan,
                   sw_events_t *b, sw_err_t *err);
/*  XREAD BLOCK block_ms after `after`, at most count. 0 also when nothing
 *  came. */
int sw_events_read(sw_redis_t *r, const char *job, const char *after, size_t count,
                   int block_ms, sw_events_t *b, sw_err_t *err);

int sw_events_test(bool verbose);

#endif
