/*  agent_metrics -- see agent_metrics.h */
#include "agent_metrics.h"

#include <stdlib.h>
#include <string.h>

#include "sw_metrics.h"
#include "sw_redis.h"

struct agent_metrics_t {
    sw_metrics_t *reg;
    sw_metric_t  *build, *start, *slots, *children, *connected;
    sw_metric_t  *finished, *spawn_failed, *output, *spooled, *spooled_total, *redis;
    sw_metric_t  *live;
    uint64_t      out_done, err_done;   /*  bytes of the children that ended */
};

static const char *const s_runners[] = { "codex", "claude", "exec" };
#define N(a) (sizeof(a) / sizeof((a)[0]))

agent_metrics_t *
agent_metrics_new(void)
{
    agent_metrics_t *self = xcalloc(1, sizeof *self);
    sw_metrics_t *r = self->reg = sw_metrics_new();
    self->build = sw_metrics_gauge(r, "swarm_build_info",
                                   "Always 1: the version and role of this process",
                                   "version,role");
    self->start = sw_metrics_gauge(r, "process_start_time_seconds",
                                   "When this process started, in seconds since the epoch",
                                   NULL);
    self->slots = sw_metrics_gauge(r, "swarm_agent_slots", "Tasks this agent runs at once",
                                   NULL);
    self->children = sw_metrics_gauge(r, "swarm_agent_children_running",
                                      "Task processes this agent supervises now", NULL);
    self->connected = sw_metrics_gauge(r, "swarm_agent_connected",
                                       "1 while the coordinator has welcomed this agent", NULL);
    self->finished = sw_metrics_counter(r, "swarm_agent_tasks_finished_total",
                                        "Tasks this agent ran to a result, by status and runner",
                                        "status,runner");
    self->spawn_failed = sw_metrics_counter(r, "swarm_agent_spawn_failures_total",
                                            "Tasks that could not be started (program or "
                                            "directory missing, refused, spawn failed)",
                                            "runner");
    self->output = sw_metrics_counter(r, "swarm_agent_output_bytes_total",
                                      "Bytes the task processes wrote, by stream", "stream");
    self->spooled = sw_metrics_gauge(r, "swarm_agent_results_spooled",
                                     "Results in the spool on disk, waiting for Redis", NULL);
    self->spooled_total = sw_metrics_counter(r, "swarm_agent_results_spooled_total",
                                             "Results written to the spool because Redis did "
                                             "not take them", NULL);
    self->redis = sw_metrics_counter(r, "swarm_agent_redis_errors_total",
                                     "Redis operations that failed: unreachable (connection, "
                                     "timeout) or an error reply", "kind");
    self->live = sw_metrics_counter(r, "swarm_agent_live_output_lines_total",
                                    "Lines of the tasks' live output: shipped to their streams, "
                                    "or dropped (flood budget, Redis away)", "outcome");
    sw_metric_set(self->build, (const char *[]) { SWARM_VERSION, "agent" }, 1);
    sw_metric_set(self->start, NULL, (double) sw_wall_ms() / 1000);
    for (size_t i = 0; i < N(s_runners); i++) {
        sw_metric_add(self->finished, (const char *[]) { "succeeded", s_runners[i] }, 0);
        sw_metric_add(self->finished, (const char *[]) { "failed", s_runners[i] }, 0);
        sw_metric_add(self->spawn_failed, (const char *[]) { s_runners[i] }, 0);
    }
    sw_metric_add(self->spooled_total, NULL, 0);
    return self;
}

void
agent_metrics_destroy(agent_metrics_t **self_p)
{
    agent_metrics_t *self = *self_p;
    if (!self)
        return;
    sw_metrics_destroy(&self->reg);
    free(self);
    *self_p = NULL;
}

static const char *
s_runner(const char *runner)
{
    for (size_t i = 0; i < N(s_runners); i++)
        if (runner && strcmp(runner, s_runners[i]) == 0)
            return s_runners[i];
    return "other";
}

/*  Statuses come from our own code; anything else would be a bug, kept
 *  out of the label set all the same. */
static const char *
s_status(const char *status)
{
    static const char *const known[] = { "succeeded", "failed", "timed_out", "cancelled" };
    for (size_t i = 0; i < N(known); i++)
        if (status && strcmp(status, known[i]) == 0)
            return known[i];
    return "other";
}

void
agent_metrics_spawn_failed(agent_metrics_t *self, const char *runner)
{
    sw_metric_add(self->spawn_failed, (const char *[]) { s_runner(runner) }, 1);
}

void
agent_metrics_finished(agent_metrics_t *self, const char *status, const char *runner,
                       uint64_t out_bytes, uint64_t err_bytes)
{
    sw_metric_add(self->finished, (const char *[]) { s_status(status), s_runner(runner) }, 1);
    self->out_done += out_bytes;
    self->err_done += err_bytes;
}

void
agent_metrics_spooled(agent_metrics_t *self)
{
    sw_metric_add(self->spooled_total, NULL, 1);
}

void
agent_metrics_render(agent_metrics_t *self, const agent_metrics_now_t *now, sw_buf_t *out)
{
    sw_metric_set(self->slots, NULL, now->slots);
    sw_metric_set(self->children, NULL, now->children);
    sw_metric_set(self->connected, NULL, now->connected);
    sw_metric_set(self->spooled, NULL, now->spooled);
    sw_metric_set(self->output, (const char *[]) { "stdout" },
                  (double) (self->out_done + now->out_bytes));
    sw_metric_set(self->output, (const char *[]) { "stderr" },
                  (double) (self->err_done + now->err_bytes));
    sw_metric_set(self->live, (const char *[]) { "shipped" }, (double) now->live_lines);
    sw_metric_set(self->live, (const char *[]) { "dropped" }, (double) now->live_dropped);
    uint64_t io, replies;
    sw_redis_errors(&io, &replies);
    sw_metric_set(self->redis, (const char *[]) { "unreachable" }, (double) io);
    sw_metric_set(self->redis, (const char *[]) { "reply" }, (double) replies);
    sw_metrics_render(self->reg, out);
}
