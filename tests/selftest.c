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
#include "agent_spawn.h"
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
#include "sw_aredis.h"
#include "sw_args.h"
#include "sw_hook.h"
#include "sw_keys.h"
#include "sw_memory.h"
#include "sw_cas.h"
#include "sw_curve.h"
#include "sw_getpid.h"
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
#include "sw_resp.h"
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
    { "resp", sw_resp_test },
    { "keys", sw_keys_test },
    { "memory", sw_memory_test },
    { "metrics", sw_metrics_test },
    { "http", sw_http_test },
    { "sched", coord_sched_test },
    { "sched_model", coord_model_test },
    { "sched_mem", coord_sched_mem_test },
    { "record", coord_record_test },
    { "child", agent_child_test },
    { "spawn", agent_spawn_test },
    { "getpid", sw_getpid_test },
    { "orphans", agent_orphans_test },
    { "spool", agent_spool_test },
    { "store", agent_store_test },
    { "runner", agent_runner_test },
    { "git", sw_git_test },
    { "cas", sw_cas_test },
    { "ws", sw_ws_test },
    { "wsrepo", sw_ws_repo_test },
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

/*  --- sw_aredis's accounting against a real redis-server (e2e.aredis) ------------------
 *
 *  sw_aredis keeps pending_bytes (what max_pending bounds), sent and
 *  refused for its four ways in (send, send_formatted, call,
 *  call_formatted: one s_queue since issue 20). Its room says what is
 *  pending: room(max - b) holds and room(max - b + 1) does not while b
 *  bytes wait for their replies. Every path: a reply, refused by room,
 *  the connection closed by the server and dropped by a stall with calls
 *  pending (their callbacks get NULL), destroy with calls pending (no
 *  callback, nothing leaked: ASan). */

typedef struct {
    int  calls, nulls;
    char last[64];
} s_ar_t;

static void
s_ar_reply(void *arg, redisReply *reply)
{
    s_ar_t *a = arg;
    a->calls++;
    if (!reply)
        a->nulls++;
    else
        snprintf(a->last, sizeof a->last, "%s", reply->type == REDIS_REPLY_STRING
                 || reply->type == REDIS_REPLY_STATUS || reply->type == REDIS_REPLY_ERROR
                 ? reply->str : "?");
}

static int
s_ar_stop(zloop_t *loop, int timer_id, void *arg)
{
    (void) loop, (void) timer_id, (void) arg;
    return -1;
}

/*  Runs the loop (and the connection's tick) until *flag or ms passed. */
static void
s_ar_spin(zloop_t *loop, sw_aredis_t *r, bool (*done)(void *), void *arg, int ms)
{
    int64_t until = sw_now_ms() + ms;
    while (sw_now_ms() < until && !(done && done(arg))) {
        zloop_timer(loop, 10, 1, s_ar_stop, NULL);
        zloop_start(loop);
        sw_aredis_tick(r, sw_now_ms());
    }
}

static bool s_ar_ready(void *r) { return sw_aredis_ready(r); }
static bool s_ar_called(void *a) { return ((s_ar_t *) a)->calls > 0; }

/*  pending_bytes is exactly b: room for max - b, not one byte more */
static bool
s_ar_pending(sw_aredis_t *r, size_t max, size_t b)
{
    return sw_aredis_room(r, max - b) && !sw_aredis_room(r, max - b + 1);
}

static int
s_aredis_live(const char *url)
{
    const size_t max = 4096;
    zloop_t *loop = zloop_new();
    sw_err_t err = { 0 };
    sw_aredis_t *r = sw_aredis_new(loop, "test", url, max, &err);
    CHECK(r != NULL);
    if (!r)
        return 1;
    s_ar_spin(loop, r, s_ar_ready, r, 5000);
    CHECK(sw_aredis_ready(r));
    CHECK(s_ar_pending(r, max, 0));
    uint64_t sent, errors, refused;

    /*  each way in: pending while due, nothing once answered */
    const char *get[] = { "GET", "aredis:none" };
    size_t gb = 16 + 3 + 16 + 11 + 16;
    CHECK(sw_aredis_send(r, 2, get, NULL) == 0);
    CHECK(s_ar_pending(r, max, gb));
    char *fmt = NULL;
    int flen = redisFormatCommand(&fmt, "SET aredis:k v");
    CHECK(flen > 0 && sw_aredis_send_formatted(r, fmt, (size_t) flen) == 0);
    CHECK(s_ar_pending(r, max, gb + (size_t) flen));
    s_ar_t a = { 0 }, b = { 0 };
    const char *echo[] = { "ECHO", "hi" };
    size_t eb = 16 + 4 + 16 + 2 + 16;
    CHECK(sw_aredis_call(r, 2, echo, NULL, s_ar_reply, &a) == 0);
    CHECK(sw_aredis_call_formatted(r, fmt, (size_t) flen, s_ar_reply, &b) == 0);
    CHECK(s_ar_pending(r, max, gb + 2 * (size_t) flen + eb));
    s_ar_spin(loop, r, s_ar_called, &b, 5000);
    CHECK(a.calls == 1 && strcmp(a.last, "hi") == 0 && b.calls == 1 && strcmp(b.last, "OK") == 0);
    CHECK(s_ar_pending(r, max, 0));
    sw_aredis_counts(r, &sent, &errors, &refused);
    CHECK(sent == 4 && errors == 0 && refused == 0);

    /*  refused by room, each way: counted, nothing pending, no callback */
    char *big = xmalloc(max);
    memset(big, 'x', max);
    const char *set[] = { "SET", "aredis:big", big };
    size_t lens[] = { 3, 10, max };
    s_ar_t c = { 0 };
    char *bigfmt = NULL;
    int biglen = redisFormatCommandArgv(&bigfmt, 3, set, lens);
    CHECK(sw_aredis_send(r, 3, set, lens) < 0);
    CHECK(sw_aredis_send_formatted(r, bigfmt, (size_t) biglen) < 0);
    CHECK(sw_aredis_call(r, 3, set, lens, s_ar_reply, &c) < 0);
    CHECK(sw_aredis_call_formatted(r, bigfmt, (size_t) biglen, s_ar_reply, &c) < 0);
    s_ar_spin(loop, r, NULL, NULL, 100);
    CHECK(c.calls == 0 && s_ar_pending(r, max, 0));
    sw_aredis_counts(r, &sent, &errors, &refused);
    CHECK(sent == 4 && refused == 4);
    /*  an error reply: counted as an error, the call gets it */
    const char *bad[] = { "HSET", "aredis:k", "f", "v" };
    s_ar_t e = { 0 };
    CHECK(sw_aredis_call(r, 4, bad, NULL, s_ar_reply, &e) == 0);
    s_ar_spin(loop, r, s_ar_called, &e, 5000);
    CHECK(e.calls == 1 && strncmp(e.last, "WRONGTYPE", 9) == 0);
    sw_aredis_counts(r, &sent, &errors, &refused);
    CHECK(sent == 5 && errors == 1 && s_ar_pending(r, max, 0));

    /*  the server closes the connection with calls pending: their
     *  callbacks get NULL, nothing stays pending, the next connection
     *  takes commands again */
    const char *blpop[] = { "BLPOP", "aredis:never", "0" };
    size_t bb = 16 + 5 + 16 + 12 + 16 + 1 + 16;
    s_ar_t d1 = { 0 }, d2 = { 0 };
    CHECK(sw_aredis_call(r, 3, blpop, NULL, s_ar_reply, &d1) == 0);
    CHECK(sw_aredis_call_formatted(r, fmt, (size_t) flen, s_ar_reply, &d2) == 0);
    CHECK(sw_aredis_send(r, 2, get, NULL) == 0);
    CHECK(s_ar_pending(r, max, bb + (size_t) flen + gb));
    s_ar_spin(loop, r, NULL, NULL, 200);        /*  on the wire, BLPOP blocking */
    sw_redis_t *k = sw_redis_new(url, 2000, &err);
    CHECK(k != NULL);
    redisReply *x = k ? sw_redis_cmdv(k, &err, "CLIENT", "KILL", "TYPE", "normal", "SKIPME",
                                      "yes", NULL) : NULL;
    CHECK(x && x->type == REDIS_REPLY_INTEGER && x->integer >= 1);
    if (x)
        freeReplyObject(x);
    s_ar_spin(loop, r, s_ar_called, &d2, 5000);
    CHECK(d1.calls == 1 && d1.nulls == 1 && d2.calls == 1 && d2.nulls == 1);
    s_ar_spin(loop, r, s_ar_ready, r, 5000);
    CHECK(sw_aredis_ready(r) && s_ar_pending(r, max, 0));
    sw_aredis_counts(r, &sent, &errors, &refused);
    CHECK(sent == 8 && refused == 4);

    /*  a stall: the tick drops the connection, the calls get NULL */
    s_ar_t s1 = { 0 };
    CHECK(sw_aredis_call(r, 3, blpop, NULL, s_ar_reply, &s1) == 0);
    CHECK(sw_aredis_send_formatted(r, fmt, (size_t) flen) == 0);
    CHECK(s_ar_pending(r, max, bb + (size_t) flen));
    s_ar_spin(loop, r, NULL, NULL, 100);
    sw_aredis_tick(r, sw_now_ms() + 6000);
    CHECK(s1.calls == 1 && s1.nulls == 1 && !sw_aredis_ready(r));
    CHECK(sw_aredis_send(r, 2, get, NULL) < 0);     /*  down: refused */
    s_ar_spin(loop, r, s_ar_ready, r, 5000);
    CHECK(sw_aredis_ready(r) && s_ar_pending(r, max, 0));
    sw_aredis_counts(r, &sent, &errors, &refused);
    CHECK(sent == 10 && refused == 5);

    /*  a call is on the wire when it returns (issue 20: the agent's result
     *  leaves in the loop pass that made it): with no loop pass, another
     *  connection reads what it wrote, after the send queued before it
     *  (one buffer, in order) */
    const char *first[] = { "SET", "aredis:order", "send" };
    const char *then[] = { "APPEND", "aredis:order", "+call" };
    s_ar_t w = { 0 };
    CHECK(sw_aredis_send(r, 3, first, NULL) == 0);
    CHECK(sw_aredis_call(r, 3, then, NULL, s_ar_reply, &w) == 0);
    bool seen = false;
    for (int i = 0; i < 200 && k && !seen; i++) {
        redisReply *y = sw_redis_cmdv(k, &err, "GET", "aredis:order", NULL);
        seen = y && y->type == REDIS_REPLY_STRING && strcmp(y->str, "send+call") == 0;
        if (y)
            freeReplyObject(y);
        if (!seen)
            zclock_sleep(10);
    }
    CHECK(seen);
    s_ar_spin(loop, r, s_ar_called, &w, 5000);
    CHECK(w.calls == 1 && w.nulls == 0 && s_ar_pending(r, max, 0));

    /*  destroy with calls pending: no callback, nothing leaked */
    s_ar_t z = { 0 };
    CHECK(sw_aredis_call(r, 3, blpop, NULL, s_ar_reply, &z) == 0);
    CHECK(sw_aredis_call_formatted(r, fmt, (size_t) flen, s_ar_reply, &z) == 0);
    s_ar_spin(loop, r, NULL, NULL, 100);
    sw_aredis_destroy(&r);
    CHECK(r == NULL && z.calls == 0);
    x = k ? sw_redis_cmdv(k, &err, "CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes", NULL)
          : NULL;     /*  the BLPOPs' connection, if it outlived its destroy */
    if (x)
        freeReplyObject(x);
    sw_redis_destroy(&k);
    free(big);
    redisFreeCommand(bigfmt);
    redisFreeCommand(fmt);
    zloop_destroy(&loop);
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
    if (argc == 3 && strcmp(argv[1], "aredis-live") == 0) {
        log_init("selftest", true, 0);
        s_aredis_live(argv[2]);
        printf("aredis-live: %s\n", sw_selftest_failures ? "FAILED" : "OK");
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
