/*  swarm_selftest -- runs the module self-tests: swarm_selftest [--list] [NAME]
 *
 *  swarm_selftest key KIND ARG...: prints a Redis key as common/sw_keys.c
 *  builds it (KIND: job JOB, tasks JOB, task JOB ID..., log JOB ID ATTEMPT,
 *  events JOB, index NS, ttl NS, mem NS KEY, cas DIGEST, casjobs DIGEST,
 *  jobcas JOB, commit OID, or layout, jobs, current, revoked, namespaces),
 *  so shell tests never spell a key by hand.
 *
 *  swarm_selftest redis-live URL: sw_redis against a real server (the
 *  end-to-end tests run it on the fixture).
 *
 *  swarm_selftest sched_model SEED [STEPS]: replays one seed of the
 *  scheduler's model-based test (coordinator/coord_model.c), verbosely. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_child.h"
#include "agent_env.h"
#include "agent_hook.h"
#include "agent_orphans.h"
#include "agent_ratelimit.h"
#include "agent_live.h"
#include "agent_output.h"
#include "agent_spool.h"
#include "agent_store.h"
#include "agent_state.h"
#include "agent_result.h"
#include "agent_runner.h"
#include "coord_events.h"
#include "agent_ws.h"
#include "agent_wshelper.h"
#include "coord_record.h"
#include "coord_sched.h"
#include "sw_args.h"
#include "sw_hook.h"
#include "sw_keys.h"
#include "sw_memory.h"
#include "sw_cas.h"
#include "sw_curve.h"
#include "sw_git.h"
#include "sw_http.h"
#include "sw_metrics.h"
#include "sw_ws.h"
#include "sw_mpack.h"
#include "sw_opts.h"
#include "sw_plan.h"
#include "sw_proto.h"
#include "sw_redis.h"
#include "sw_render.h"
#include "sw_live.h"
#include "sw_events.h"
#include "sw_capture.h"
#include "sw_selftest.h"
#include "sw_usage.h"

static const sw_selftest_t s_tests[] = {
    { "util", sw_util_test },
    { "capture", sw_capture_test },
    { "mpack", sw_mpack_test },
    { "task", sw_task_test },
    { "proto", sw_proto_test },
    { "curve", sw_curve_test },
    { "opts", sw_opts_test },
    { "args", sw_args_test },
    { "plan", sw_plan_test },
    { "hook", sw_hook_test },
    { "redis", sw_redis_test },
    { "keys", sw_keys_test },
    { "memory", sw_memory_test },
    { "metrics", sw_metrics_test },
    { "http", sw_http_test },
    { "sched", coord_sched_test },
    { "sched_model", coord_model_test },
    { "sched_mem", coord_sched_mem_test },
    { "record", coord_record_test },
    { "child", agent_child_test },
    { "orphans", agent_orphans_test },
    { "spool", agent_spool_test },
    { "store", agent_store_test },
    { "runner", agent_runner_test },
    { "git", sw_git_test },
    { "cas", sw_cas_test },
    { "ws", sw_ws_test },
    { "wsparse", sw_ws_parse_test },
    { "wshelper", agent_wshelper_test },
    { "agentws", agent_ws_test },
    { "env", agent_env_test },
    { "result", agent_result_test },
    { "state", agent_state_test },
    { "output", agent_output_test },
    { "live_frame", agent_live_test },
    { "render", sw_render_test },
    { "live", sw_live_test },
    { "events", sw_events_test },
    { "coord_events", coord_events_test },
    { "agent_hook", agent_hook_test },
    { "ratelimit", agent_ratelimit_test },
    { "usage", sw_usage_test },
    { NULL, NULL },
};

static int
s_key(int argc, char **argv)
{
    char *key = NULL;
    const char *kind = argc > 2 ? argv[2] : "";
    static const struct { const char *kind, *key; } fixed[] = {
        { "layout", SW_KEY_LAYOUT }, { "jobs", SW_KEY_JOBS }, { "current", SW_KEY_CURRENT_JOB },
        { "revoked", SW_KEY_REVOKED }, { "namespaces", SW_KEY_NAMESPACES },
    };
    for (size_t i = 0; argc == 3 && i < sizeof fixed / sizeof fixed[0]; i++)
        if (strcmp(kind, fixed[i].kind) == 0)
            key = xstrdup(fixed[i].key);
    if (argc == 4 && strcmp(kind, "job") == 0)
        key = sw_key_job(argv[3]);
    else if (argc == 4 && strcmp(kind, "tasks") == 0)
        key = sw_key_job_tasks(argv[3]);
    else if (argc >= 5 && strcmp(kind, "task") == 0) {
        /*  many ids at once: one key a line (the fault audit has 10,000) */
        for (int i = 4; i < argc - 1; i++) {
            key = sw_key_task(argv[3], argv[i]);
            puts(key);
            free(key);
        }
        key = sw_key_task(argv[3], argv[argc - 1]);
    }
    else if (argc == 4 && strcmp(kind, "index") == 0)
        key = sw_key_ns_index(argv[3]);
    else if (argc == 4 && strcmp(kind, "ttl") == 0)
        key = sw_key_ns_ttl(argv[3]);
    else if (argc == 5 && strcmp(kind, "mem") == 0)
        key = sw_key_mem(argv[3], argv[4]);
    else if (argc == 6 && strcmp(kind, "log") == 0)
        key = sw_key_task_log(argv[3], argv[4], atoll(argv[5]));
    else if (argc == 4 && strcmp(kind, "events") == 0)
        key = sw_key_job_events(argv[3]);
    else if (argc == 4 && strcmp(kind, "cas") == 0)
        key = sw_key_cas(argv[3]);
    else if (argc == 4 && strcmp(kind, "casjobs") == 0)
        key = sw_key_cas_jobs(argv[3]);
    else if (argc == 4 && strcmp(kind, "jobcas") == 0)
        key = sw_key_job_cas(argv[3]);
    else if (argc == 4 && strcmp(kind, "commit") == 0)
        key = sw_key_commit(argv[3]);
    if (!key) {
        fprintf(stderr, "usage: swarm_selftest key (job JOB | tasks JOB | task JOB ID | "
                        "log JOB ID ATTEMPT | events JOB | index NS | ttl NS | mem NS KEY | "
                        "cas DIGEST | casjobs DIGEST | jobcas JOB | commit OID | layout | jobs | "
                        "current | revoked | namespaces)\n");
        return 2;
    }
    puts(key);
    free(key);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "key") == 0)
        return s_key(argc, argv);
    if (argc == 3 && strcmp(argv[1], "redis-live") == 0) {
        log_init("selftest", true, 0);
        sw_redis_live_test(argv[2]);
        printf("redis-live: %s\n", sw_selftest_failures ? "FAILED" : "OK");
        return sw_selftest_failures ? 1 : 0;
    }
    if (argc > 2 && strcmp(argv[1], "sched_model") == 0) {
        log_init("selftest", true, 0);
        unsigned long seed = strtoul(argv[2], NULL, 10);
        int steps = argc > 3 ? atoi(argv[3]) : 400;
        int failed = coord_model_run(&seed, 1, steps > 0 ? steps : 400, true);
        zsys_shutdown();
        return failed ? 1 : 0;
    }
    if (argc > 1 && strcmp(argv[1], "--list") == 0) {
        for (const sw_selftest_t *t = s_tests; t->name; t++)
            printf("%s\n", t->name);
        return 0;
    }
    log_init("selftest", true, 0);
    zsys_handler_set(NULL);
    int failures = sw_selftest_run(s_tests, argc > 1 ? argv[1] : NULL, false);
    zsys_shutdown();
    return failures ? 1 : 0;
}
