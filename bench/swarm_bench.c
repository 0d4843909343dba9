/*  swarm_bench -- the long-lived submitter of swarm's benchmark row.
 *
 *  usage: swarm_bench CONTROL_EP REDIS_URL fanout|roundtrip|fanout-output N [LATENCY_FILE]
 *
 *  Like the Celery peer's client, it connects before the clock starts,
 *  runs 8 untimed warm-up tasks, then times the workload of
 *  ../shared/bench/README.md through the real coordinator and agents:
 *  fanout submits N tasks in one SUBMIT and long-polls WAIT until the
 *  coordinator knows all N results; roundtrip submits one task and waits
 *  for it, N times. After the clock stops it verifies in Redis that there
 *  are N results, every exit code is 0 and every output has the expected
 *  length. Prints "WALL_US BAD" on stdout.
 *
 *  With SWARM_BENCH_CPU="NAME:PID ..." (the daemons' pids) it also prints
 *  on stderr the CPU each spent during the timed part, in µs per task,
 *  and for the agent the CPU of the children it reaped ("NAME.children",
 *  at the clock tick's 10 ms resolution).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_ctl.h"
#include "sw_keys.h"
#include "sw_redis.h"

static zsock_t *s_sock;

#define CPU_MAX 8

typedef struct {
    char      name[32];
    int       pid;
    long long cpu, kids;
} s_cpu_t;

/*  Parses SWARM_BENCH_CPU into cpu; the count. */
static int
s_cpu_parse(s_cpu_t *cpu)
{
    const char *env = getenv("SWARM_BENCH_CPU");
    int n = 0, used = 0;
    char name[32];
    int pid;
    while (env && n < CPU_MAX && sscanf(env, " %31[^:]:%d%n", name, &pid, &used) == 2) {
        snprintf(cpu[n].name, sizeof cpu[n].name, "%s", name);
        cpu[n++].pid = pid;
        env += used;
    }
    return n;
}

static void
s_cpu_sample(s_cpu_t *cpu, int n, long long sign)
{
    for (int i = 0; i < n; i++) {
        cpu[i].cpu += sign * bench_cpu_us(cpu[i].pid);
        cpu[i].kids += sign * bench_children_cpu_us(cpu[i].pid);
    }
}

#define REQUEST_MS 120000

/*  Long-polls until the task (or the whole job when id is NULL) is final. */
static int
s_wait(const char *job, const char *id)
{
    int rc;
    while ((rc = bench_ctl_wait(s_sock, job, id, 60000, -1, REQUEST_MS)) == 0)
        ;
    return rc < 0 ? -1 : 0;
}

/*  One stored result checked: exit 0 and an output of the expected length. */
typedef struct {
    size_t bytes;
    int    bad, seen;
} s_check_t;

static void
s_check(void *arg, int i, redisReply *res)
{
    s_check_t *c = arg;
    c->seen++;
    json_t *doc = res && res->type == REDIS_REPLY_STRING ? json_loads(res->str, 0, NULL) : NULL;
    const char *out = doc ? json_string_value(json_object_get(doc, "output")) : NULL;
    if (!doc || json_integer_value(json_object_get(doc, "exit_code")) != 0
        || !json_is_integer(json_object_get(doc, "exit_code")) || !out || strlen(out) != c->bytes)
        c->bad++;
    json_decref(doc);
}

#define VERIFY_BATCH 256

/*  Counts tasks of job whose stored result is not exit 0 with the
 *  expected output length; -1 when the job has not n tasks. The results
 *  are read VERIFY_BATCH to a round trip (issue 20, redis CPU: one HGET
 *  round trip per task cost redis-server ~30 µs of CPU each on the 2-core
 *  VM, which /work/prof/cpu.sh counted in the fanout's redis CPU since it
 *  reads the server's CPU after this process ends). */
static int
s_verify(sw_redis_t *r, const char *job, int n, size_t bytes)
{
    sw_err_t err = { 0 };
    char *key = sw_key_job_tasks(job);
    redisReply *ids = sw_redis_cmdv(r, &err, "LRANGE", key, "0", "-1", NULL);
    free(key);
    if (!ids || (int) ids->elements != n) {
        fprintf(stderr, "swarm_bench: job %s has %zu tasks, want %d\n", job,
                ids ? ids->elements : 0, n);
        if (ids)
            freeReplyObject(ids);
        return -1;
    }
    s_check_t c = { bytes, 0, 0 };
    for (size_t i = 0; i < ids->elements; i += VERIFY_BATCH) {
        size_t k = ids->elements - i < VERIFY_BATCH ? ids->elements - i : VERIFY_BATCH;
        for (size_t j = i; j < i + k; j++) {
            char *tk = sw_key_task(job, ids->element[j]->str);
            const char *argv[] = { "HGET", tk, "result" };
            sw_redis_append(r, 3, argv, NULL);
            free(tk);
        }
        c.seen = 0;
        if (sw_redis_flush_each(r, s_check, &c, &err) < 0 && err.code == SW_EUNREACH) {
            fprintf(stderr, "swarm_bench: %s\n", err.msg);
            c.bad += (int) k - c.seen;      /*  the replies lost with the connection */
        }
    }
    freeReplyObject(ids);
    return c.bad;
}

int
main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: swarm_bench CONTROL_EP REDIS_URL WORKLOAD N [LATENCY_FILE]\n");
        return 2;
    }
    const char *wl = argv[3];
    int n = atoi(argv[4]);
    static char *true_argv[] = { "true", NULL };
    static char *out_argv[] = { "/bin/sh", "-c", "head -c 65536 /dev/urandom | base64", NULL };
    char **task_argv = strcmp(wl, "fanout-output") == 0 ? out_argv : true_argv;
    size_t bytes = task_argv == out_argv ? 88534 : 0;
    zsys_handler_set(NULL);
    s_sock = bench_ctl_connect(argv[1]);
    sw_err_t err = { 0 };
    sw_redis_t *redis = sw_redis_new(argv[2], 5000, &err);
    if (!redis) {
        fprintf(stderr, "swarm_bench: %s\n", err.msg);
        return 3;
    }
    if (bench_ctl_submit(s_sock, "warmup", "w", 0, 8, true_argv, REQUEST_MS) < 0 || s_wait("warmup", NULL) < 0)
        return 1;

    const char *job = "bench";
    s_cpu_t cpu[CPU_MAX] = { 0 };
    int ncpu = s_cpu_parse(cpu);
    s_cpu_sample(cpu, ncpu, -1);
    long long self0 = bench_cpu_us(getpid());
    int64_t t0 = zclock_usecs();
    if (strcmp(wl, "roundtrip") == 0) {
        FILE *lat = argc > 5 ? fopen(argv[5], "w") : NULL;
        /*  The WAIT goes with the SUBMIT, not after its reply (a client
         *  that waits for its own task needs no reply in between);
         *  SWARM_BENCH_SERIAL=1 waits for the SUBMIT's reply first. */
        const char *serial = getenv("SWARM_BENCH_SERIAL");
        bool pipelined = !serial || strcmp(serial, "1") != 0;
        for (int i = 0; i < n; i++) {
            char id[32];
            snprintf(id, sizeof id, "t%d", i);
            int64_t s = zclock_usecs();
            int rc = pipelined ? bench_ctl_submit_wait(s_sock, job, "t", i, task_argv, 60000, REQUEST_MS)
                               : bench_ctl_submit(s_sock, job, "t", i, 1, task_argv, REQUEST_MS);
            if (rc < 0 || (rc == 0 && s_wait(job, id) < 0))
                return 1;
            if (lat)
                fprintf(lat, "%.3f\n", (double) (zclock_usecs() - s) / 1000);
        }
        if (lat)
            fclose(lat);
    }
    else if (bench_ctl_submit(s_sock, job, "t", 0, n, task_argv, REQUEST_MS) < 0 || s_wait(job, NULL) < 0)
        return 1;
    int64_t wall = zclock_usecs() - t0;
    s_cpu_sample(cpu, ncpu, 1);
    if (ncpu) {
        fprintf(stderr, "cpu_us_per_task");
        for (int i = 0; i < ncpu; i++) {
            fprintf(stderr, " %s=%.1f", cpu[i].name, (double) cpu[i].cpu / n);
            if (cpu[i].kids)
                fprintf(stderr, " %s.children=%.1f", cpu[i].name, (double) cpu[i].kids / n);
        }
        fprintf(stderr, " submitter=%.1f wall_us_per_task=%.1f\n",
                (double) (bench_cpu_us(getpid()) - self0) / n, (double) wall / n);
    }

    int bad = s_verify(redis, job, n, bytes);
    char *index = sw_key_ns_index("results");
    redisReply *keys = sw_redis_cmdv(redis, &err, "ZCARD", index, NULL);
    free(index);
    if (!keys || keys->integer != n + 8) {
        fprintf(stderr, "swarm_bench: %lld result keys in memory, want %d\n",
                keys ? keys->integer : -1, n + 8);
        bad = bad < 0 ? bad : bad + 1;
    }
    if (keys)
        freeReplyObject(keys);
    printf("%lld %d\n", (long long) wall, bad < 0 ? n : bad);
    sw_redis_destroy(&redis);
    zsock_destroy(&s_sock);
    return 0;
}
