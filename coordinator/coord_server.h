/*  coord_server -- the coordinator daemon: sockets, loop, agent protocol.
 *
 *  One zloop: the agent ROUTER, the control ROUTER, a signalfd and one
 *  sweep timer (heartbeats out, leases, wait deadlines). After every
 *  handler the scheduler dispatches, the store flushes its pipeline (a
 *  write Redis refused ends its task or request), and only then do the
 *  TASK messages and the replies leave (see coord_store.h for why).
 *
 *  The server owns the scheduler (coord_sched), the store (coord_store)
 *  and the control handlers (coord_ctl), which reach back only through
 *  the operations it gives them.
 */
#ifndef COORD_SERVER_H
#define COORD_SERVER_H

#include "sw_util.h"

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
} coord_conf_t;

typedef struct coord_server_t coord_server_t;

/*  Binds, connects to Redis; NULL with err when it cannot start. */
coord_server_t *coord_server_new(const coord_conf_t *conf, sw_err_t *err);
void coord_server_destroy(coord_server_t **self_p);
/*  Runs until SIGINT or SIGTERM; returns the exit status. */
int  coord_server_run(coord_server_t *self);

#endif
