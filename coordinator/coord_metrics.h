/*  coord_metrics -- the coordinator's Prometheus metrics (docs/metrics.md).
 *
 *  Events that carry a measurement are recorded when they happen (a task
 *  finished: status, runner, duration; a task dispatched: how long it
 *  waited; a control request: its verb). Everything else is read from the
 *  scheduler and the server's counters at scrape time, so the code that
 *  counts needs no registry. Every label set is bounded: states, runners,
 *  verbs and statuses; never a job, task or agent id.
 */
#ifndef COORD_METRICS_H
#define COORD_METRICS_H

#include "coord_sched.h"
#include "sw_util.h"

typedef struct coord_metrics_t coord_metrics_t;
typedef struct coord_server_t coord_server_t;

coord_metrics_t *coord_metrics_new(void);
void coord_metrics_destroy(coord_metrics_t **self_p);

/*  A task reached its final state (t->finished_ms is set). */
void coord_metrics_finished(coord_metrics_t *self, const coord_task_t *t);
/*  A task was handed to an agent (t->started_ms is set). */
void coord_metrics_dispatched(coord_metrics_t *self, const coord_task_t *t);
/*  n tasks were submitted. */
void coord_metrics_submitted(coord_metrics_t *self, size_t n);
/*  A request arrived on the control socket (cmd: SW_C_*). */
void coord_metrics_request(coord_metrics_t *self, int cmd);

/*  Reads the gauges from server and appends the whole exposition to out. */
void coord_metrics_render(coord_metrics_t *self, coord_server_t *server, sw_buf_t *out);

#endif
