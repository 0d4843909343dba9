/*  swarm_selftest -- runs the module self-tests: swarm_selftest [--list] [NAME] */
#include <stdio.h>
#include <string.h>

#include "agent_child.h"
#include "agent_env.h"
#include "agent_orphans.h"
#include "agent_spool.h"
#include "agent_state.h"
#include "agent_result.h"
#include "agent_runner.h"
#include "coord_sched.h"
#include "sw_memory.h"
#include "sw_curve.h"
#include "sw_mpack.h"
#include "sw_opts.h"
#include "sw_plan.h"
#include "sw_proto.h"
#include "sw_redis.h"
#include "sw_selftest.h"

static const sw_selftest_t s_tests[] = {
    { "util", sw_util_test },
    { "mpack", sw_mpack_test },
    { "task", sw_task_test },
    { "proto", sw_proto_test },
    { "curve", sw_curve_test },
    { "opts", sw_opts_test },
    { "plan", sw_plan_test },
    { "redis", sw_redis_test },
    { "memory", sw_memory_test },
    { "sched", coord_sched_test },
    { "child", agent_child_test },
    { "orphans", agent_orphans_test },
    { "spool", agent_spool_test },
    { "runner", agent_runner_test },
    { "env", agent_env_test },
    { "result", agent_result_test },
    { "state", agent_state_test },
    { NULL, NULL },
};

int
main(int argc, char **argv)
{
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
