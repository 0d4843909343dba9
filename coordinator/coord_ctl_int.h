/*  coord_ctl_int -- what the files of the control module share:
 *  coord_ctl.c (life cycle, held replies, INIT, AGENTS, DRAIN, REVOKE),
 *  coord_ctl_submit.c (SUBMIT and its transactions, CANCEL, the slices of
 *  both) and coord_ctl_list.c (STATUS and WAIT: listings in pages). */
#ifndef COORD_CTL_INT_H
#define COORD_CTL_INT_H

#include "coord_ctl.h"

/*  A page of task rows stays under this many bytes (the frame cap is 8
 *  MiB), and lists at most this many rows. */
#define CTL_PAGE_BYTES (4u << 20)
#define CTL_PAGE_ROWS  10000

typedef struct {
    zframe_t      *routing;     /*  the CLI's connection */
    coord_job_t   *job;
    zhashx_t      *ids;         /*  task ids waited for; NULL = whole job */
    coord_task_t **idv;         /*  the same tasks, in the order asked for */
    size_t         nid;
    int            remaining;   /*  of ids, not yet final */
    int64_t        deadline_ms; /*  reply with progress by then */
    int64_t        since;       /*  list tasks final after this seq; -1 = all */
    int64_t        offset, limit;   /*  a page of the whole list (since -1) */
    int64_t        running;     /*  also list up to this many running tasks */
} ctl_waiter_t;

/*  A reply held until the turn's writes are flushed. */
typedef struct {
    zframe_t       *routing;
    msgpack_sbuffer sb;
    uint64_t        req;
    char           *error;      /*  a write was refused: this goes instead */
    coord_job_t    *job;        /*  the job it is about, kept in memory till then */
} ctl_held_t;

/*  A SUBMIT in several batches, held until its last batch; then it goes
 *  into the scheduler a slice per loop turn (coord_ctl_work), its job held
 *  from dispatch until the whole of it is in. */
typedef struct {
    char        *key;           /*  job \x1f txn */
    char        *job;
    sw_task_t   *specs;
    size_t       n, cap;
    zhashx_t    *ids;           /*  id -> (void *) 1 */
    int64_t      touched_ms;    /*  monotonic: its last batch */
    bool         committing;    /*  its last batch came */
    size_t       done;          /*  specs submitted so far */
    coord_job_t *j;             /*  while committing: held */
    zframe_t    *routing;       /*  who gets the reply at the end */
    uint64_t     req;           /*  its writes are tagged with it */
    char        *refused;       /*  Redis refused one of them */
    bool         cancelled;     /*  swarm cancel --job came meanwhile */
} ctl_txn_t;

/*  swarm cancel --job of a big job, a slice per loop turn (coord_ctl_work),
 *  the job held from dispatch meanwhile. */
typedef struct {
    coord_job_t *j;
    int          next;          /*  index in j->order to go on from */
    int64_t      count;         /*  cancelled or asked to stop so far */
    zframe_t    *routing;
    uint64_t     req;
    char        *refused;
} ctl_cancel_t;

struct coord_ctl_t {
    zsock_t         *control;
    coord_sched_t   *sched;
    coord_store_t   *store;
    coord_ctl_ops_t  ops;
    void            *ctx;
    char            *current_job;
    uint64_t         dropped;       /*  requests that were not control requests */
    uint64_t         next_req;
    uint64_t         req;           /*  the request being handled, 0 between */
    ctl_held_t      *stash;         /*  its reply, until we know if it wrote */
    coord_job_t     *stash_job;
    zlistx_t        *held;          /*  ctl_held_t * */
    zlistx_t        *waiters;       /*  ctl_waiter_t * */
    zhashx_t        *txns;          /*  key -> ctl_txn_t * */
    zlistx_t        *cancels;       /*  ctl_cancel_t * in progress */
};

typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer  pk;
} ctl_reply_t;

/*  Starts a successful reply with nfields fields after "ok". */
void ctl_reply_begin(ctl_reply_t *r, size_t nfields);
/*  Sends it (consumed): at once, or held for the turn's flush when the
 *  request being handled wrote to Redis. A reply over the frame cap is
 *  replaced by an error that says so. */
void ctl_reply_send(coord_ctl_t *self, zframe_t *routing, ctl_reply_t *r);
/*  An error reply with the CLI's exit code; returns -1. */
int  ctl_reply_error(coord_ctl_t *self, zframe_t *routing, int code, const char *fmt, ...)
    SW_PRINTF(4, 5);
/*  The job a request names, else the current one. NULL when there is none
 *  (an error reply was sent unless allow_none). */
coord_job_t *ctl_job_of(coord_ctl_t *self, sw_msg_t *m, bool allow_none);
void ctl_pack_counts(msgpack_packer *pk, const coord_job_t *j);

void ctl_error_body(msgpack_sbuffer *sb, int code, const char *msg);
/*  swarm init JOB makes JOB current, here and in Redis. */
void ctl_set_current(coord_ctl_t *self, const char *job);
/*  A reply that waits for the turn's flush, outside of a request (the end
 *  of a transaction or of a job's cancel); sb is taken. */
void ctl_hold(coord_ctl_t *self, zframe_t *routing, msgpack_sbuffer *sb, uint64_t req,
              coord_job_t *j);

/*  coord_ctl_submit.c */
void ctl_on_submit(coord_ctl_t *self, sw_msg_t *m);
void ctl_on_cancel(coord_ctl_t *self, sw_msg_t *m);
void ctl_txn_destroy(ctl_txn_t **self_p);
void ctl_cancel_destroy(ctl_cancel_t **self_p);

/*  coord_ctl_list.c */
void ctl_on_status(coord_ctl_t *self, sw_msg_t *m);
void ctl_on_wait(coord_ctl_t *self, sw_msg_t *m);
void ctl_waiter_destroy(ctl_waiter_t **self_p);
void ctl_wait_finished(coord_ctl_t *self, coord_task_t *t);
void ctl_wait_settle(coord_ctl_t *self, bool durable, int64_t now_ms);
/*  Whether a WAIT would be answered at now_ms (done, due, or a page of
 *  results ready): then the turn's writes must be flushed first. */
bool ctl_wait_due(const coord_ctl_t *self, int64_t now_ms);

#endif
