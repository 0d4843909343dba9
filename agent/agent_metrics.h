/*  agent_metrics -- the agent's Prometheus metrics (docs/metrics.md).
 *
 *  The run code reports events (a task that could not start, a task
 *  finished with its output sizes, a result spooled); what is true now
 *  (children running, results in the spool, the link) is handed in at
 *  scrape time. Labels are bounded: runner, status, stream; never ids.
 */
#ifndef AGENT_METRICS_H
#define AGENT_METRICS_H

#include <stdint.h>

#include "sw_util.h"

typedef struct agent_metrics_t agent_metrics_t;

/*  What the agent sees at scrape time. */
typedef struct {
    int      slots;
    int      children;          /*  child processes it supervises */
    int      spooled;           /*  results in the spool, waiting for Redis */
    uint64_t out_bytes, err_bytes;  /*  read so far from the running children */
    uint64_t live_lines, live_dropped;  /*  live output lines shipped, dropped */
    bool     connected;         /*  welcomed by the coordinator */
} agent_metrics_now_t;

agent_metrics_t *agent_metrics_new(void);
void agent_metrics_destroy(agent_metrics_t **self_p);

/*  A task that could not be started (no runner, no directory, spawn). */
void agent_metrics_spawn_failed(agent_metrics_t *self, const char *runner);
/*  A task's result is built: its status, and the bytes its child wrote. */
void agent_metrics_finished(agent_metrics_t *self, const char *status, const char *runner,
                            uint64_t out_bytes, uint64_t err_bytes);
/*  A result went to the spool (Redis did not take it). */
void agent_metrics_spooled(agent_metrics_t *self);

void agent_metrics_render(agent_metrics_t *self, const agent_metrics_now_t *now, sw_buf_t *out);

#endif
