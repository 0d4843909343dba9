/*  coord_store_int -- what coord_store.c (writes) and coord_load.c (reads)
 *  share; nothing else includes it. */
#ifndef COORD_STORE_INT_H
#define COORD_STORE_INT_H

#include "coord_record.h"
#include "coord_store.h"

/*  What a queued write is for, so that a refusal names its key and the
 *  task, job or request to end. */
typedef enum {
    S_W_TASK, S_W_TASKS, S_W_JOB, S_W_JOBS, S_W_CURRENT, S_W_REVOKED, S_W_RECORD,
    S_W_EVENTS,
} s_what_t;

typedef struct {
    s_what_t      what;
    coord_job_t  *job;
    coord_task_t *task;
    uint64_t      req;
    char         *arg;          /*  S_W_CURRENT, S_W_EVENTS: the job, S_W_REVOKED: the key */
} s_owner_t;

struct coord_store_t {
    sw_redis_t    *redis;
    coord_sched_t *sched;       /*  rewritten whole after an outage */
    bool           failing;     /*  Redis is out: writes are dropped */
    int64_t        retry_ms;    /*  monotonic: when to try Redis again */
    int64_t        backoff_ms;  /*  1 -> 4 s */
    bool           logged;      /*  this outage was logged */
    s_owner_t     *owners;      /*  one per queued command */
    size_t         nowners, owners_cap;
    uint64_t       req;         /*  the control request writing now, or 0 */
    int            req_writes;
    zlistx_t      *refusals;    /*  coord_refusal_t *, not yet handed over */
    coord_records_t *records;   /*  jobs whose coordination record is due */
    int64_t        record_ttl_s;
    bool           record_warned;
    bool           closing;     /*  coord_store_flush_last: every record now */
    const sw_prices_t *prices;  /*  the server's: a result's codex usage is priced */
};

/*  Sends the queued commands and sorts their replies: refusals are kept,
 *  an outage marks the store failing. 0, or -1 on an outage. Called before
 *  any read, which must not take a queued write's reply for its own. */
int coord_store_sync(coord_store_t *self);

#endif
