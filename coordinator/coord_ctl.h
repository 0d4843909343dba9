/*  coord_ctl -- requests on the control socket (the swarm CLI).
 *
 *  Every request gets exactly one REPLY {ok, ...} or {ok: false, error,
 *  code}, where code is the exit code the CLI should use. No reply is ever
 *  bigger than the frame cap: lists of tasks come in pages (STATUS and
 *  WAIT take offset and limit, and say where the next page starts), and a
 *  reply that still would not fit is answered with an error saying so,
 *  never dropped.
 *
 *  A request that writes to Redis (INIT, SUBMIT, CANCEL, REVOKE) is
 *  answered once the turn's writes are flushed: an error when Redis
 *  refused one of them, its reply otherwise (during an outage too: the
 *  state is written again when Redis is back). WAIT is a long poll: the
 *  reply comes when the tasks waited for are all final, or at the
 *  request's max_ms with progress, whichever is first.
 *
 *  SUBMIT of a job in several batches (swarm run of a big plan) is atomic:
 *  batches with the same `txn` are validated and held until the last one
 *  (more: false) lands; only then do the tasks go in, the job held from
 *  dispatch until all of them are in (a slice per loop turn), and the
 *  reply to the last batch comes then. A batch that fails discards the
 *  whole transaction, and so does silence of more than COORD_TXN_IDLE_MS;
 *  a coordinator stopped in the middle drops what went in when it starts
 *  again (coord_store_job_txn).
 *
 *  The dependency runs one way: the server owns this module and gives it
 *  the scheduler, the store, its socket and a few operations (ops); this
 *  module knows nothing else of the server.
 */
#ifndef COORD_CTL_H
#define COORD_CTL_H

#include "coord_sched.h"
#include "coord_store.h"

#define COORD_TXN_IDLE_MS (5 * 60 * 1000)

typedef struct coord_ctl_t coord_ctl_t;

/*  What the control handlers need of the rest of the coordinator. */
typedef struct {
    /*  The job in memory, or loaded back from Redis; NULL when unknown. */
    coord_job_t *(*job)(void *ctx, const char *id);
    /*  Tells agent a to drain (it takes no new tasks; DRAIN message). */
    void (*drain)(void *ctx, coord_agent_t *a);
    /*  Revokes a's key for good and cuts it off (a is freed); -1 with err
     *  when the agents are not authenticated (no CURVE). *key gets the
     *  revoked public key (caller frees). */
    int (*revoke)(void *ctx, coord_agent_t *a, char **key, sw_err_t *err);
    /*  Malformed messages the daemon dropped. */
    uint64_t (*dropped)(void *ctx);
    /*  n tasks were submitted (the metrics count them). */
    void (*submitted)(void *ctx, size_t n);
    bool insecure;              /*  --insecure */
    bool curve;                 /*  agents are authenticated (CURVE) */
    int64_t lease_ms;           /*  heartbeat x liveness: an agent's last message
                                 *  is when its lease was renewed */
} coord_ctl_ops_t;

/*  control is the ROUTER socket replies go out on (borrowed). */
coord_ctl_t *coord_ctl_new(zsock_t *control, coord_sched_t *sched, coord_store_t *store,
                           const coord_ctl_ops_t *ops, void *ctx);
void coord_ctl_destroy(coord_ctl_t **self_p);

/*  The current job (swarm init), loaded from Redis at start. */
const char *coord_ctl_current(const coord_ctl_t *self);
void coord_ctl_set_current(coord_ctl_t *self, const char *job);

/*  The documents of `swarm status --json` (j NULL: the cluster only), with
 *  every task, and of `swarm agents --json`, as the control replies carry
 *  them: a map with "ok" first. The dashboard serves the same. A status
 *  reply on the control socket is a page of the first (coord_ctl_list.c). */
void coord_ctl_pack_status(coord_ctl_t *self, coord_job_t *j, msgpack_packer *pk);
void coord_ctl_pack_agents(coord_ctl_t *self, msgpack_packer *pk);

/*  One request (m is borrowed). */
void coord_ctl_handle(coord_ctl_t *self, sw_msg_t *m);
/*  t became final (WAITs count what they wait for). */
void coord_ctl_task_finished(coord_ctl_t *self, coord_task_t *t);
/*  A write of control request req was refused by Redis: its reply says
 *  why instead. */
void coord_ctl_refused(coord_ctl_t *self, uint64_t req, const char *why);
/*  Sends the replies held for this turn's writes and answers the WAITs
 *  that are done or due. Called once the turn's state is written
 *  (durable) or could not be (Redis out): a WAIT says "done" only when
 *  what it reports is in Redis, so `swarm results` right after `swarm
 *  wait` reads the same final states. Also drops abandoned transactions. */
void coord_ctl_settle(coord_ctl_t *self, bool durable, int64_t now_ms);
/*  Whether a reply waits on this turn's writes: a held reply, or a WAIT
 *  that coord_ctl_settle would answer at now_ms. When none does (and no
 *  TASK is to leave) the coordinator may defer its flush a little
 *  (coord_server.c, COORD_FLUSH_DEFER_MS). */
bool coord_ctl_wants_flush(const coord_ctl_t *self, int64_t now_ms);
/*  Whether a WAIT, a held reply or a submit in progress refers to job j
 *  (then it stays in memory). */
bool coord_ctl_holds(const coord_ctl_t *self, const coord_job_t *j);
/*  Goes on with the submits in batches whose last batch came, and the
 *  cancels of whole jobs, a slice at a time until deadline_ms (monotonic):
 *  a 1,000,000-task run never holds the loop for long. Called before each
 *  dispatch; true while work is left (call again soon). */
bool coord_ctl_work(coord_ctl_t *self, int64_t deadline_ms);

#endif
