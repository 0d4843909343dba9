/*  coord_server -- the coordinator daemon: sockets, loop, agent protocol.
 *
 *  One zloop: the agent ROUTER, the control ROUTER, a signalfd and one
 *  sweep timer (heartbeats out, leases, wait deadlines). After every
 *  handler the scheduler dispatches, the store flushes its pipeline, and
 *  only then do the TASK messages leave (see coord_store.h for why).
 */
#ifndef COORD_SERVER_H
#define COORD_SERVER_H

#include "coord_metrics.h"
#include "coord_events.h"
#include "coord_sched.h"
#include "coord_store.h"
#include "coord_web.h"
#include "sw_curve.h"
#include "sw_http.h"
#include "sw_redis.h"

typedef struct {
    char      *listen;          /*  agents */
    char      *control;         /*  CLI */
    char      *redis;
    char      *redis_password_file;
    long long  heartbeat_ms;
    long long  liveness;        /*  missed heartbeats before an agent is dead */
    bool       insecure;
    bool       foreground;
    bool       verbose;
    char      *curve_secret;
    char      *allowed_agents;
    char      *admin_keys;      /*  CURVE on the control socket too */
    long long  keep_finished_s; /*  a complete job stays in memory this long */
    long long  record_ttl_s;    /*  a job's coordination record lives this long after it */
    char      *metrics;         /*  ADDR of /metrics; NULL = off */
    char      *http;            /*  ADDR of the dashboard; NULL = off */
    char      *http_token_file;
} coord_conf_t;

typedef struct coord_server_t coord_server_t;

/*  Binds, connects to Redis; NULL with err when it cannot start. */
coord_server_t *coord_server_new(const coord_conf_t *conf, sw_err_t *err);
void coord_server_destroy(coord_server_t **self_p);
/*  Runs until SIGINT or SIGTERM; returns the exit status. */
int  coord_server_run(coord_server_t *self);

/*  --- shared with coord_ctl.c -------------------------------------------- */

typedef struct {
    zframe_t    *routing;       /*  the CLI's connection */
    coord_job_t *job;
    zhashx_t    *ids;           /*  task ids waited for; NULL = whole job */
    int          remaining;     /*  of ids, not yet final */
    int64_t      deadline_ms;   /*  reply with progress by then */
    int64_t      since;         /*  list tasks final after this seq; -1 = all */
    int64_t      running;       /*  also list up to this many running tasks */
} coord_waiter_t;

struct coord_server_t {
    coord_conf_t   conf;
    zloop_t       *loop;
    zsock_t       *agents;
    zsock_t       *control;
    int            sigfd;
    sw_redis_t    *redis;
    coord_store_t *store;
    coord_sched_t *sched;
    sw_curve_server_t *curve;   /*  NULL: plaintext (loopback or --insecure) */
    zhashx_t      *revoked;     /*  public keys revoked by `swarm agents revoke` */
    int64_t        curve_check_ms;  /*  next look at the allowed keys */
    zhashx_t      *peers;       /*  hex routing id -> coord_agent_t * */
    zlistx_t      *outbox;      /*  coord_task_t * dispatched, TASK not yet sent */
    zlistx_t      *waiters;     /*  coord_waiter_t * */
    char          *current_job;
    uint64_t       dropped;     /*  malformed or unexpected messages */
    uint64_t       refused;     /*  HELLOs from keys not allowed */
    int64_t        started_ms;
    int64_t        forget_ms;   /*  next look for finished jobs to drop */
    int64_t        trim_ms;     /*  next malloc_trim under load */
    uint64_t       done_count, trimmed_at;  /*  DONEs received; at the last trim */
    coord_metrics_t *metrics;   /*  always counted; served with --metrics */
    sw_http_t     *metrics_http;
    coord_web_t   *web;         /*  --http */
    coord_events_t *events;     /*  the jobs' event logs */
};

/*  The job in memory, or loaded from Redis if the coordinator forgot it
 *  (finished jobs are dropped from memory after keep_finished_s). */
/*  Tasks loaded from Redis start their event log from the state they
 *  were loaded in (coord_events_restored). */
void coord_server_restored(coord_server_t *self);
coord_job_t *coord_server_job(coord_server_t *self, const char *id);

/*  Cuts an agent off: BYE, its tasks requeued, it is forgotten. */
void coord_server_cut_off(coord_server_t *self, coord_agent_t *a, const char *why);

int  coord_ctl_handle(coord_server_t *self, sw_msg_t *m);
/*  The documents of `swarm status --json` (j NULL: the cluster only) and
 *  of `swarm agents --json`, as the control replies carry them: a map
 *  with "ok" first. The dashboard serves the same (sw_mp_to_json). */
void coord_ctl_pack_status(coord_server_t *self, coord_job_t *j, msgpack_packer *pk);
void coord_ctl_pack_agents(coord_server_t *self, msgpack_packer *pk);
void coord_ctl_task_finished(coord_server_t *self, coord_task_t *t);
/*  Answers the WAITs that are done or due. Called once the turn's state is
 *  written (durable) or could not be (Redis down): a WAIT says "done" only
 *  when what it reports is in Redis, so `swarm results` right after a
 *  `swarm wait` reads the same final states. */
void coord_ctl_settle(coord_server_t *self, bool durable, int64_t now_ms);
void coord_ctl_waiter_destroy(coord_waiter_t **self_p);

#endif
