/*  coord_server -- the coordinator daemon: sockets, loop, agent protocol.
 *
 *  One zloop: the agent ROUTER, the control ROUTER, a signalfd and one
 *  sweep timer (heartbeats out, leases, wait deadlines). After every
 *  handler the scheduler dispatches, the store flushes its pipeline (a
 *  write Redis refused ends its task or request), and only then do the
 *  TASK messages and the replies leave (see coord_store.h for why).
 *
 *  The server owns the scheduler (coord_sched), the store (coord_store)
 *  and the control handlers (coord_ctl). coord_ctl reaches back only
 *  through the operations the server gives it (coord_ctl_ops_t): it does
 *  not include this header. The dashboard and the metrics (coord_web,
 *  coord_metrics) read the server's state below.
 */
#ifndef COORD_SERVER_H
#define COORD_SERVER_H

#include "coord_ctl.h"
#include "coord_metrics.h"
#include "coord_events.h"
#include "coord_sched.h"
#include "coord_store.h"
#include "coord_web.h"
#include "sw_curve.h"
#include "sw_http.h"
#include "sw_redis.h"
#include "coord_lease.h"

/*  The listen backlog of the agent and control sockets (ZMQ_BACKLOG;
 *  ZeroMQ's default is 100). Linux caps it at net.core.somaxconn (4,096
 *  on Debian 12). Issue 20: 1,000 agents connecting at once lost about
 *  300 SYNs to a backlog of 100, each retried by TCP a second later. */
#define COORD_LISTEN_BACKLOG 4096

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
    long long  ownership_ms;    /*  the hold on the Redis database (coord_lease.h); 0 = default */
    char      *metrics;         /*  ADDR of /metrics; NULL = off */
    char      *http;            /*  ADDR of the dashboard; NULL = off */
    char      *http_token_file;
    sw_strv_t  limits;          /*  "NAME=N" of --limit, checked by coord_limit_parse
                                 *  (issue 18 §3); the last one of a name wins */
    sw_strv_t  price;           /*  "MODEL=IN,CACHED,OUT" (issue 18): USD per million tokens */
} coord_conf_t;

typedef struct coord_server_t coord_server_t;

/*  Binds, connects to Redis; NULL with err when it cannot start. */
coord_server_t *coord_server_new(const coord_conf_t *conf, sw_err_t *err);
void coord_server_destroy(coord_server_t **self_p);
/*  Runs until SIGINT or SIGTERM; returns the exit status. */
int  coord_server_run(coord_server_t *self);

/*  --- read by the dashboard and the metrics ------------------------------- */

struct coord_server_t {
    coord_conf_t   conf;
    zloop_t       *loop;
    zsock_t       *agents;
    zsock_t       *control;
    int            sigfd;
    sw_redis_t    *redis;
    coord_lease_t *lease;       /*  this coordinator holds the Redis database */
    coord_store_t *store;
    coord_sched_t *sched;
    coord_ctl_t   *ctl;         /*  the control requests; holds the current job */
    sw_curve_server_t *curve;   /*  NULL: plaintext (loopback or --insecure) */
    zhashx_t      *revoked;     /*  public keys revoked by `swarm agents revoke` */
    int64_t        curve_check_ms;  /*  next look at the allowed keys */
    zhashx_t      *peers;       /*  hex routing id -> coord_agent_t * */
    zlistx_t      *outbox;      /*  coord_task_t * dispatched, TASK not yet sent */
    uint64_t       dropped;     /*  malformed or unexpected messages */
    uint64_t       refused;     /*  HELLOs from keys not allowed */
    int64_t        started_ms;
    int64_t        forget_ms;   /*  next look for finished jobs to drop */
    int64_t        trim_ms;     /*  next malloc_trim under load */
    uint64_t       done_count, trimmed_at;  /*  DONEs received; at the last trim */
    int64_t        orphan_backoff_ms;   /*  results unreadable: ask again after */
    int64_t        last_sweep_ms;       /*  monotonic: a longer gap is a stall of ours */
    bool           orphan_unknown;      /*  the last batch had such a result */
    bool           working;     /*  a timer runs s_settle for coord_ctl_work */
    bool           deferred;    /*  a timer flushes writes nothing waited for */
    int            defer_timer; /*  its zloop timer id, while deferred */
    bool           finished;    /*  a task ended in this turn: it flushes */
    uint64_t       turns, flushes;  /*  loop turns settled; turns that flushed */
    coord_metrics_t *metrics;   /*  always counted; served with --metrics */
    sw_http_t     *metrics_http;
    coord_web_t   *web;         /*  --http */
    coord_events_t *events;     /*  the jobs' event logs */
    sw_prices_t    prices;      /*  --price / price.MODEL: what codex tokens cost */
    uint64_t       usage_stale; /*  USAGE reports refused: not the running attempt */
};

/*  Tasks loaded from Redis start their event log from the state they
 *  were loaded in (coord_events_restored). */
void coord_server_restored(coord_server_t *self);
/*  The job in memory, or loaded from Redis if the coordinator forgot it
 *  (finished jobs are dropped from memory after keep_finished_s). */
coord_job_t *coord_server_job(coord_server_t *self, const char *id);

#endif
