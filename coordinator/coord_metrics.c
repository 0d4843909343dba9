/*  coord_metrics -- see coord_metrics.h */
#include "coord_metrics.h"

#include <string.h>

#include "coord_server.h"
#include "sw_metrics.h"
#include "sw_redis.h"

struct coord_metrics_t {
    sw_metrics_t *reg;
    sw_metric_t  *build, *start;
    sw_metric_t  *agents, *lost, *slots, *slots_busy, *slots_free;
    sw_metric_t  *jobs, *tasks, *queued;
    sw_metric_t  *submitted, *finished, *duration, *latency, *retries;
    sw_metric_t  *redis, *dropped, *refused, *requests;
    sw_metric_t  *limit, *limit_effective, *limit_used, *limit_throttled;  /*  issue 18 */
};

/*  Task durations run from a compile (well under a second) to a coding
 *  agent's turn (minutes, an hour at most by default timeouts). */
static const double s_duration_buckets[] = {
    0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200,
};
/*  Dispatch latency: a millisecond when a slot is free, minutes when the
 *  farm is full. */
static const double s_latency_buckets[] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900,
};
static const char *const s_runners[] = { "codex", "claude", "exec" };
static const char *const s_verbs[] = { "init", "submit", "status", "agents", "cancel", "wait",
                                       "drain", "revoke" };

#define N(a) (sizeof(a) / sizeof((a)[0]))

coord_metrics_t *
coord_metrics_new(void)
{
    coord_metrics_t *self = xcalloc(1, sizeof *self);
    sw_metrics_t *r = self->reg = sw_metrics_new();
    self->build = sw_metrics_gauge(r, "swarm_build_info",
                                   "Always 1: the version and role of this process",
                                   "version,role");
    self->start = sw_metrics_gauge(r, "process_start_time_seconds",
                                   "When this process started, in seconds since the epoch",
                                   NULL);
    self->agents = sw_metrics_gauge(r, "swarm_coordinator_agents",
                                    "Registered agents by state: idle (no task), busy (running "
                                    "tasks), draining (takes no new tasks)", "state");
    self->lost = sw_metrics_counter(r, "swarm_coordinator_agents_lost_total",
                                    "Agents declared dead because their heartbeats stopped "
                                    "(lease expired)", NULL);
    self->slots = sw_metrics_gauge(r, "swarm_coordinator_slots",
                                   "Slots of all registered agents", NULL);
    self->slots_busy = sw_metrics_gauge(r, "swarm_coordinator_slots_busy",
                                        "Slots running a task", NULL);
    self->slots_free = sw_metrics_gauge(r, "swarm_coordinator_slots_free",
                                        "Slots that could take a task now (agents not "
                                        "draining)", NULL);
    self->jobs = sw_metrics_gauge(r, "swarm_coordinator_jobs",
                                  "Jobs in the coordinator's memory: active (a task not final) "
                                  "or complete (kept --keep-finished seconds)", "state");
    self->tasks = sw_metrics_gauge(r, "swarm_coordinator_tasks",
                                   "Unfinished tasks by state: waiting (for dependencies), "
                                   "queued (ready, waiting for a slot), running", "state");
    self->queued = sw_metrics_gauge(r, "swarm_coordinator_tasks_queued",
                                    "Ready tasks waiting for a slot, by placement class: runner, "
                                    "and first attempt or retry", "runner,attempt");
    self->submitted = sw_metrics_counter(r, "swarm_coordinator_tasks_submitted_total",
                                         "Tasks submitted", NULL);
    self->finished = sw_metrics_counter(r, "swarm_coordinator_tasks_finished_total",
                                        "Tasks that reached a final state, by status and runner",
                                        "status,runner");
    self->duration = sw_metrics_histogram(r, "swarm_coordinator_task_duration_seconds",
                                          "Run time of the final attempt of tasks that ran, "
                                          "from dispatch to the final state", "runner",
                                          s_duration_buckets, N(s_duration_buckets));
    self->latency = sw_metrics_histogram(r, "swarm_coordinator_dispatch_latency_seconds",
                                         "From when a task could run (dependencies done, retry "
                                         "backoff over) to when it was given to an agent",
                                         "runner", s_latency_buckets, N(s_latency_buckets));
    self->retries = sw_metrics_counter(r, "swarm_coordinator_task_retries_total",
                                       "Tasks queued again: after a failure worth another try "
                                       "(crash, timeout), because their agent went away, or "
                                       "because the provider rate-limited them (no attempt used)",
                                       "reason");
    self->limit = sw_metrics_gauge(r, "swarm_coordinator_limit",
                                   "Farm-wide limit on a resource, as configured (--limit)",
                                   "resource");
    self->limit_effective = sw_metrics_gauge(r, "swarm_coordinator_limit_effective",
                                             "The limit in force now: halved on a rate-limit, "
                                             "raised by one after successes", "resource");
    self->limit_used = sw_metrics_gauge(r, "swarm_coordinator_limit_used",
                                        "Running tasks that take the resource", "resource");
    self->limit_throttled = sw_metrics_counter(r, "swarm_coordinator_limit_rate_limited_total",
                                               "Runs taking the resource that the provider "
                                               "rate-limited", "resource");
    self->redis = sw_metrics_counter(r, "swarm_coordinator_redis_errors_total",
                                     "Redis operations that failed: unreachable (connection, "
                                     "timeout) or an error reply", "kind");
    self->dropped = sw_metrics_counter(r, "swarm_coordinator_frames_dropped_total",
                                       "Malformed or unexpected messages dropped", NULL);
    self->refused = sw_metrics_counter(r, "swarm_coordinator_hellos_refused_total",
                                       "Agents refused at HELLO (key not allowed or revoked)",
                                       NULL);
    self->requests = sw_metrics_counter(r, "swarm_coordinator_control_requests_total",
                                        "Requests on the control socket, by verb", "verb");

    /*  Series that exist from the start read 0 instead of being absent,
     *  so rate() and alerts see the first increase. */
    sw_metric_set(self->build, (const char *[]) { SWARM_VERSION, "coordinator" }, 1);
    sw_metric_set(self->start, NULL, (double) sw_wall_ms() / 1000);
    for (size_t i = 0; i < N(s_runners); i++) {
        sw_metric_add(self->finished, (const char *[]) { "succeeded", s_runners[i] }, 0);
        sw_metric_add(self->finished, (const char *[]) { "failed", s_runners[i] }, 0);
    }
    for (size_t i = 0; i < N(s_verbs); i++)
        sw_metric_add(self->requests, (const char *[]) { s_verbs[i] }, 0);
    return self;
}

void
coord_metrics_destroy(coord_metrics_t **self_p)
{
    coord_metrics_t *self = *self_p;
    if (!self)
        return;
    sw_metrics_destroy(&self->reg);
    free(self);
    *self_p = NULL;
}

/*  A runner name we know, else "other": the wire validates runners, but a
 *  label value must never come from outside unchecked. */
static const char *
s_runner(const char *runner)
{
    for (size_t i = 0; i < N(s_runners); i++)
        if (runner && strcmp(runner, s_runners[i]) == 0)
            return s_runners[i];
    return "other";
}

void
coord_metrics_finished(coord_metrics_t *self, const coord_task_t *t)
{
    const char *runner = s_runner(t->spec.runner);
    sw_metric_add(self->finished, (const char *[]) { sw_tstate_name(t->state), runner }, 1);
    /*  Skipped tasks and tasks cancelled before they started never ran. */
    if (t->started_ms > 0 && t->finished_ms >= t->started_ms && t->state != SW_TS_SKIPPED)
        sw_metric_observe(self->duration, (const char *[]) { runner },
                          (double) (t->finished_ms - t->started_ms) / 1000);
}

void
coord_metrics_dispatched(coord_metrics_t *self, const coord_task_t *t)
{
    if (t->ready_ms <= 0)
        return;
    int64_t ms = t->started_ms - t->ready_ms;
    sw_metric_observe(self->latency, (const char *[]) { s_runner(t->spec.runner) },
                      ms > 0 ? (double) ms / 1000 : 0);
}

void
coord_metrics_submitted(coord_metrics_t *self, size_t n)
{
    sw_metric_add(self->submitted, NULL, (double) n);
}

void
coord_metrics_request(coord_metrics_t *self, int cmd)
{
    static const int cmds[] = { SW_C_INIT, SW_C_SUBMIT, SW_C_STATUS, SW_C_AGENTS, SW_C_CANCEL,
                                SW_C_WAIT, SW_C_DRAIN, SW_C_REVOKE };
    const char *verb = "other";
    for (size_t i = 0; i < N(cmds); i++)
        if (cmds[i] == cmd)
            verb = s_verbs[i];
    sw_metric_add(self->requests, (const char *[]) { verb }, 1);
}

static void
s_count_class(void *arg, const char *runner, bool retries, size_t n)
{
    coord_metrics_t *self = arg;
    sw_metric_add(self->queued, (const char *[]) { s_runner(runner), retries ? "retry" : "first" },
                  (double) n);
}

void
coord_metrics_render(coord_metrics_t *self, coord_server_t *server, sw_buf_t *out)
{
    coord_sched_t *sched = server->sched;
    sw_metric_zero(self->agents);
    sw_metric_add(self->agents, (const char *[]) { "idle" }, 0);
    sw_metric_add(self->agents, (const char *[]) { "busy" }, 0);
    sw_metric_add(self->agents, (const char *[]) { "draining" }, 0);
    int slots = 0, busy = 0;
    zlistx_t *agents = coord_sched_agents(sched);
    for (coord_agent_t *a = zlistx_first(agents); a; a = zlistx_next(agents)) {
        const char *state = a->draining ? "draining" : a->running ? "busy" : "idle";
        sw_metric_add(self->agents, (const char *[]) { state }, 1);
        slots += a->slots;
        busy += a->running;
    }
    sw_metric_set(self->slots, NULL, slots);
    sw_metric_set(self->slots_busy, NULL, busy);
    sw_metric_set(self->slots_free, NULL, coord_sched_free_slots(sched));

    int counts[SW_TS_COUNT] = { 0 };
    int active = 0, complete = 0;
    zlistx_t *jobs = coord_sched_job_list(sched);
    for (coord_job_t *j = zlistx_first(jobs); j; j = zlistx_next(jobs)) {
        if (j->nfinal == j->ntasks && j->ntasks > 0)
            complete++;
        else
            active++;
        for (int s = 0; s < SW_TS_COUNT; s++)
            counts[s] += j->counts[s];
    }
    zlistx_destroy(&jobs);
    sw_metric_set(self->jobs, (const char *[]) { "active" }, active);
    sw_metric_set(self->jobs, (const char *[]) { "complete" }, complete);
    static const sw_tstate_t live[] = { SW_TS_WAITING, SW_TS_QUEUED, SW_TS_RUNNING };
    for (size_t i = 0; i < N(live); i++)
        sw_metric_set(self->tasks, (const char *[]) { sw_tstate_name(live[i]) }, counts[live[i]]);

    sw_metric_zero(self->queued);
    for (size_t i = 0; i < N(s_runners); i++) {
        sw_metric_add(self->queued, (const char *[]) { s_runners[i], "first" }, 0);
        sw_metric_add(self->queued, (const char *[]) { s_runners[i], "retry" }, 0);
    }
    coord_sched_each_class(sched, s_count_class, self);

    const coord_sched_stats_t *st = coord_sched_stats(sched);
    sw_metric_set(self->lost, NULL, (double) st->agents_expired);
    sw_metric_set(self->retries, (const char *[]) { "failure" }, (double) st->retries_failed);
    sw_metric_set(self->retries, (const char *[]) { "agent_lost" }, (double) st->retries_lost);
    sw_metric_set(self->retries, (const char *[]) { "rate_limited" }, (double) st->throttled);
    zlistx_t *limits = coord_sched_limits(sched);
    for (coord_limit_t *l = zlistx_first(limits); l; l = zlistx_next(limits)) {
        const char *const lv[] = { l->name };
        sw_metric_set(self->limit, lv, l->limit);
        sw_metric_set(self->limit_effective, lv, l->effective);
        sw_metric_set(self->limit_used, lv, l->used);
        sw_metric_set(self->limit_throttled, lv, (double) l->throttled);
    }
    uint64_t io, replies;
    sw_redis_errors(&io, &replies);
    sw_metric_set(self->redis, (const char *[]) { "unreachable" }, (double) io);
    sw_metric_set(self->redis, (const char *[]) { "reply" }, (double) replies);
    sw_metric_set(self->dropped, NULL, (double) server->dropped);
    sw_metric_set(self->refused, NULL, (double) server->refused);
    sw_metrics_render(self->reg, out);
}
