/*  swarm_dispatch -- the coordinator's dispatch at scale, without children.
 *
 *  usage: swarm_dispatch CONTROL_EP AGENTS_EP AGENTS SLOTS TASKS [COORD_PID]
 *
 *  One process holds AGENTS DEALER sockets, each a simulated agent with
 *  SLOTS slots that answers every TASK with an immediate DONE (no child,
 *  no Redis write) and sends its heartbeats. Phase 1 queues TASKS tasks
 *  (SUBMITs of 2,000) while no agent is connected; phase 2 says HELLO from
 *  every agent and runs until WAIT reports the job complete. Dispatch
 *  latency is, per agent, the time from sending a DONE to receiving the
 *  TASK that refills the freed slot (DONEs and TASKs paired in order): how
 *  fast freed credit is used. Prints one JSON line.
 *
 *  The coordinator writes every state change to Redis as it would for
 *  real agents; only the agents' result writes are missing.
 *
 *  SWARM_BENCH_QUEUE_ONLY=1: phase 1 only: the coordinator's memory per
 *  queued task (RSS queued - idle, over TASKS), without the hour a million
 *  dispatches take on a loaded machine (issue 20).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>

#include "bench_ctl.h"

#define BATCH 2000

typedef struct {
    zsock_t *sock;
    int64_t *freed;             /*  ring of DONE times whose slot is not refilled */
    int      head, count;
    int      received;          /*  TASKs; the first SLOTS fill empty slots */
    int64_t  next_hb_ms;
} s_agent_t;

static zsock_t *s_ctl;

#define REQUEST_MS 300000


static void
s_hello(s_agent_t *a, int i, int slots)
{
    char name[32];
    snprintf(name, sizeof name, "sim-%d", i);
    sw_hello_t h = { .agent = name, .host = "sim", .version = SWARM_VERSION, .slots = slots };
    sw_strv_push(&h.runners, "exec");
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    sw_mp_packer_init(&pk, &sb);
    sw_hello_pack(&pk, &h);
    sw_msg_send(a->sock, NULL, SW_HELLO, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    sw_strv_release(&h.runners);
}

static int
s_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return x < y ? -1 : x > y;
}

static long
s_rss_kib(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = pid > 0 ? fopen(path, "r") : NULL;
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = atol(line + 6);
    if (f)
        fclose(f);
    return kib;
}

/*  CPU time (user + system) pid used so far, in microseconds; -1 unknown.
 *  On a shared machine the coordinator's CPU per task compares runs where
 *  wall-clock rates do not. */
static long long
s_cpu_us(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = pid > 0 ? fopen(path, "r") : NULL;
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');        /*  after the command name, which may hold spaces */
    unsigned long long ut, st;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
                     &st) != 2)
        return -1;
    return (long long) ((ut + st) * 1000000ULL / (unsigned long long) sysconf(_SC_CLK_TCK));
}

int
main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: swarm_dispatch CONTROL_EP AGENTS_EP AGENTS SLOTS TASKS "
                "[COORD_PID]\n");
        return 2;
    }
    int nagents = atoi(argv[3]), slots = atoi(argv[4]), tasks = atoi(argv[5]);
    int coord_pid = argc > 6 ? atoi(argv[6]) : 0;
    if (nagents < 1 || slots < 1 || tasks < 1)
        return 2;
    /*  Two descriptors per agent socket (its TCP connection, its mailbox). */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    zsys_handler_set(NULL);
    zsys_set_max_sockets(nagents + 64);
    zsys_set_io_threads(1);
    s_ctl = bench_ctl_connect(argv[1]);
    char job[64];
    snprintf(job, sizeof job, "dispatch-%d-%d", nagents, tasks);
    static char *true_argv[] = { "true", NULL };

    /*  Phase 1: the queue, with nobody to run it. */
    long rss0 = s_rss_kib(coord_pid);
    int64_t t0 = zclock_usecs();
    for (int from = 0; from < tasks; from += BATCH)
        if (bench_ctl_submit(s_ctl, job, "t", from, tasks - from < BATCH ? tasks - from : BATCH,
                             true_argv, REQUEST_MS) < 0)
            return 1;
    int64_t submit_us = zclock_usecs() - t0;
    long rss_queued = s_rss_kib(coord_pid);
    long long cpu0 = s_cpu_us(coord_pid);
    const char *qo = getenv("SWARM_BENCH_QUEUE_ONLY");
    if (qo && strcmp(qo, "1") == 0) {
        printf("{\"agents\": 0, \"slots\": 0, \"tasks\": %d, \"submit_s\": %.3f, "
               "\"submit_per_s\": %.0f, \"coord_cpu_us_per_submit\": %.1f, "
               "\"bytes_per_queued_task\": %.0f, "
               "\"coord_rss_kib\": {\"idle\": %ld, \"queued\": %ld}}\n",
               tasks, (double) submit_us / 1e6, tasks / ((double) submit_us / 1e6),
               cpu0 >= 0 ? (double) cpu0 / tasks : -1.0,
               rss0 >= 0 && rss_queued >= 0 ? (double) (rss_queued - rss0) * 1024 / tasks : -1.0,
               rss0, rss_queued);
        zsock_destroy(&s_ctl);
        return 0;
    }

    /*  Phase 2: every agent says HELLO; each TASK is answered with DONE. */
    s_agent_t *agents = xcalloc((size_t) nagents, sizeof *agents);
    zmq_pollitem_t *items = xcalloc((size_t) nagents, sizeof *items);
    for (int i = 0; i < nagents; i++) {
        agents[i].sock = zsock_new(ZMQ_DEALER);
        sw_sock_defaults(agents[i].sock);
        zsock_set_rcvtimeo(agents[i].sock, 0);
        zsock_connect(agents[i].sock, "%s", argv[2]);
        agents[i].freed = xcalloc((size_t) slots, sizeof *agents[i].freed);
        items[i] = (zmq_pollitem_t) { zsock_resolve(agents[i].sock), 0, ZMQ_POLLIN, 0 };
    }
    int64_t *lat = xcalloc((size_t) tasks, sizeof *lat);
    size_t nlat = 0;
    int dispatched = 0, heartbeats = 0, hb_ms = 1000;
    t0 = zclock_usecs();
    for (int i = 0; i < nagents; i++) {
        s_hello(&agents[i], i, slots);
        agents[i].next_hb_ms = zclock_mono() + hb_ms;
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    sw_mp_packer_init(&pk, &sb);
    int64_t next_check_ms = 0;
    for (;;) {
        if (zmq_poll(items, nagents, 50) < 0)
            return 1;
        int64_t now_ms = zclock_mono();
        for (int i = 0; i < nagents; i++) {
            s_agent_t *a = &agents[i];
            if (now_ms >= a->next_hb_ms) {
                sw_msg_send_empty(a->sock, NULL, SW_HEARTBEAT);
                a->next_hb_ms = now_ms + hb_ms;
                heartbeats++;
            }
            if (!(items[i].revents & ZMQ_POLLIN))
                continue;
            zmsg_t *msg;
            while ((msg = zmsg_recv(a->sock))) {
                sw_msg_t m;
                sw_err_t err = { 0 };
                if (sw_msg_decode(&msg, false, &m, &err) < 0)
                    continue;
                if (m.cmd == SW_TASK) {
                    if (a->received++ >= slots && a->count > 0) {
                        lat[nlat++] = zclock_usecs() - a->freed[a->head];
                        a->head = (a->head + 1) % slots;
                        a->count--;
                    }
                    sw_ref_t r = { 0 };
                    sw_mp_str(m.body, "job", true, &r.job, &err);
                    sw_mp_str(m.body, "id", true, &r.id, &err);
                    sw_mp_int(m.body, "attempt", true, 1, INT64_MAX, &r.attempt, &err);
                    r.status = xstrdup("succeeded");
                    msgpack_sbuffer_clear(&sb);
                    sw_ref_pack(&pk, &r, true);
                    sw_msg_send(a->sock, NULL, SW_DONE, sb.data, sb.size);
                    sw_ref_release(&r);
                    if (a->count < slots)
                        a->freed[(a->head + a->count++) % slots] = zclock_usecs();
                    dispatched++;
                }
                sw_msg_release(&m);
            }
        }
        if (dispatched >= tasks && now_ms >= next_check_ms) {
            /*  since = tasks: a cursor past every task, so the reply lists none */
            int rc = bench_ctl_wait(s_ctl, job, NULL, 0, tasks, REQUEST_MS);
            if (rc < 0)
                return 1;
            if (rc == 1)
                break;
            next_check_ms = now_ms + 5;
        }
    }
    int64_t run_us = zclock_usecs() - t0;
    long rss_end = s_rss_kib(coord_pid);
    long long cpu1 = s_cpu_us(coord_pid);
    double cpu_per_task = cpu0 >= 0 && cpu1 >= 0 ? (double) (cpu1 - cpu0) / tasks : -1;
    qsort(lat, nlat, sizeof *lat, s_cmp);
    double p50 = nlat ? (double) lat[nlat / 2] / 1000 : -1;
    double p99 = nlat ? (double) lat[(size_t) ((double) nlat * 0.99)] / 1000 : -1;
    printf("{\"agents\": %d, \"slots\": %d, \"tasks\": %d, \"submit_s\": %.3f, "
           "\"submit_per_s\": %.0f, \"dispatch_s\": %.3f, \"tasks_per_s\": %.0f, "
           "\"us_per_task\": %.1f, \"coord_cpu_us_per_task\": %.1f, \"p50_ms\": %.3f, \"p99_ms\": %.3f, \"heartbeats\": %d, "
           "\"coord_rss_kib\": {\"idle\": %ld, \"queued\": %ld, \"end\": %ld}}\n",
           nagents, slots, tasks, (double) submit_us / 1e6, tasks / ((double) submit_us / 1e6),
           (double) run_us / 1e6, tasks / ((double) run_us / 1e6), (double) run_us / tasks,
           cpu_per_task, p50, p99, heartbeats, rss0, rss_queued, rss_end);
    msgpack_sbuffer_destroy(&sb);
    for (int i = 0; i < nagents; i++) {
        sw_msg_send_empty(agents[i].sock, NULL, SW_BYE);
        zsock_set_linger(agents[i].sock, 100);
        zsock_destroy(&agents[i].sock);
        free(agents[i].freed);
    }
    free(agents);
    free(items);
    free(lat);
    zsock_destroy(&s_ctl);
    return 0;
}
