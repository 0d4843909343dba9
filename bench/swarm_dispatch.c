/*  swarm_dispatch -- the coordinator's dispatch at scale, without children.
 *
 *  usage: swarm_dispatch CONTROL_EP AGENTS_EP AGENTS SLOTS TASKS [COORD_PID]
 *
 *  One process holds AGENTS DEALER sockets, each a simulated agent with
 *  SLOTS slots (1..4,096, as HELLO) on its own TCP connection, that
 *  answers every TASK with an immediate DONE (no child, no Redis write)
 *  and sends its heartbeats once welcomed. Phase 1: every agent says
 *  HELLO and the fleet is welcomed (no task exists yet). Phase 2: TASKS
 *  tasks are staged as one transaction (SUBMITs of 2,000, `more: true`).
 *  Phase 3, timed: the empty last batch puts them all in and releases
 *  the job; the clock runs until WAIT reports the job complete. Dispatch
 *  latency is, per agent, the time from sending a DONE to receiving the
 *  TASK that refills the freed slot (DONEs and TASKs paired in order): how
 *  fast freed credit is used. Prints one JSON line, with the CPU per task
 *  of the timed part in the coordinator (COORD_PID), redis-server
 *  (SWARM_BENCH_REDIS_PID) and this process. SWARM_BENCH_MARK=FILE: the
 *  file is created when the clock starts (for a profiler).
 *  SWARM_BENCH_COLD=1: the order before issue 20's fix: the queue first
 *  (plain batches), then the HELLOs inside the timed part.
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
#include <dirent.h>
#include <errno.h>
#include <sys/epoll.h>
#include <sys/resource.h>

#include "bench_ctl.h"

#define BATCH 2000

typedef struct {
    zsock_t *sock;
    int64_t *freed;             /*  ring of DONE times whose slot is not refilled */
    int      head, count;
    int      received;          /*  TASKs; the first SLOTS fill empty slots */
    int64_t  next_hb_ms;
    bool     welcomed;          /*  its WELCOME arrived */
} s_agent_t;

static zsock_t *s_ctl;

#define REQUEST_MS 300000
#define REGISTER_MS 60000       /*  the whole fleet welcomed, or the run fails */


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

typedef struct {
    s_agent_t      *agents;
    int             nagents, slots, ep;
    msgpack_sbuffer sb;
    msgpack_packer  pk;
    int64_t        *lat;        /*  per refilled slot, µs */
    size_t          nlat;
    int             dispatched, heartbeats, welcomed, hb_next;
    int             byes;       /*  BYEs received: the run fails */
} s_sim_t;

#define HB_MS 1000
#define CTL_EV UINT32_MAX       /*  the control socket's epoll tag */

/*  Reads everything agent a's socket holds, answering each TASK with DONE
 *  at once, until ZMQ_EVENTS says nothing is left (sending can take the
 *  socket's wake-up, so the check runs after the sends too). */
static void
s_serve(s_sim_t *s, s_agent_t *a)
{
    while (zsock_events(a->sock) & ZMQ_POLLIN) {
        zmsg_t *msg = zmsg_recv(a->sock);
        if (!msg)
            break;
        sw_msg_t m;
        sw_err_t err = { 0 };
        if (sw_msg_decode(&msg, false, &m, &err) < 0)
            continue;
        if (m.cmd == SW_WELCOME && !a->welcomed) {
            a->welcomed = true;
            s->welcomed++;
        }
        else if (m.cmd == SW_BYE) {
            /*  a refused HELLO (slots over 4,096, ...) or a coordinator
             *  that forgot us: the run cannot be measured, say why */
            char *why = NULL;
            sw_mp_str(m.body, "refused", false, &why, &err);
            fprintf(stderr, "swarm_dispatch: the coordinator said BYE%s%s\n", why ? ": " : "",
                    why ? why : "");
            free(why);
            s->byes++;
        }
        else if (m.cmd == SW_TASK) {
            if (a->received++ >= s->slots && a->count > 0) {
                s->lat[s->nlat++] = zclock_usecs() - a->freed[a->head];
                a->head = (a->head + 1) % s->slots;
                a->count--;
            }
            sw_ref_t r = { 0 };
            sw_mp_str(m.body, "job", true, &r.job, &err);
            sw_mp_str(m.body, "id", true, &r.id, &err);
            sw_mp_int(m.body, "attempt", true, 1, INT64_MAX, &r.attempt, &err);
            r.status = xstrdup("succeeded");
            msgpack_sbuffer_clear(&s->sb);
            sw_ref_pack(&s->pk, &r, true);
            sw_msg_send(a->sock, NULL, SW_DONE, s->sb.data, s->sb.size);
            sw_ref_release(&r);
            if (a->count < s->slots)
                a->freed[(a->head + a->count++) % s->slots] = zclock_usecs();
            s->dispatched++;
        }
        sw_msg_release(&m);
    }
}

/*  One turn: wait up to timeout_ms for a socket to be ready, send the
 *  heartbeats that are due (every agent's period is the same, so the ring
 *  stays in due order; an agent not yet welcomed waits, as the agent
 *  does), and serve the agents that are ready. 0, or -1 on error. */
static int
s_turn(s_sim_t *s, int timeout_ms)
{
    struct epoll_event evs[256];
    int n = epoll_wait(s->ep, evs, 256, timeout_ms);
    if (n < 0 && errno != EINTR) {
        perror("swarm_dispatch: epoll_wait");
        return -1;
    }
    int64_t now_ms = zclock_mono();
    for (int k = 0; k < s->nagents && now_ms >= s->agents[s->hb_next].next_hb_ms; k++) {
        s_agent_t *a = &s->agents[s->hb_next];
        if (a->welcomed) {
            sw_msg_send_empty(a->sock, NULL, SW_HEARTBEAT);
            s->heartbeats++;
            s_serve(s, a);
        }
        a->next_hb_ms = now_ms + HB_MS;
        s->hb_next = (s->hb_next + 1) % s->nagents;
    }
    for (int e = 0; e < n; e++)
        if (evs[e].data.u32 != CTL_EV)
            s_serve(s, &s->agents[evs[e].data.u32]);
    return 0;
}

/*  Every agent says HELLO (in index order, so the heartbeat ring is in
 *  due order). */
static void
s_hello_all(s_sim_t *s)
{
    for (int i = 0; i < s->nagents; i++) {
        s_hello(&s->agents[i], i, s->slots);
        s->agents[i].next_hb_ms = zclock_mono() + HB_MS;
    }
}

/*  Sends one SUBMIT of tasks t<from> .. t<from+n-1> (argv `true`, runner
 *  exec), in transaction txn when not NULL; the reply is read by s_reply. */
static int
s_submit_send(const char *job, int from, int n, const char *txn, bool more)
{
    static char *true_argv[] = { "true", NULL };
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    bench_ctl_submit_pack(&sb, job, txn, more, "t", from, n, true_argv);
    int rc = sw_msg_send(s_ctl, NULL, SW_C_SUBMIT, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/*  The control socket's reply, if one came: 1 ok, 0 none yet, -1 an error
 *  (printed). */
static int
s_reply(void)
{
    if (!(zsock_events(s_ctl) & ZMQ_POLLIN))
        return 0;
    zmsg_t *msg = zmsg_recv(s_ctl);
    if (!msg)
        return 0;
    sw_msg_t m;
    sw_err_t err = { 0 };
    if (sw_msg_decode(&msg, false, &m, &err) < 0) {
        fprintf(stderr, "swarm_dispatch: bad reply: %s\n", err.msg);
        return -1;
    }
    bool ok = false;
    char *e = NULL;
    sw_mp_bool(m.body, "ok", true, &ok, &err);
    if (!ok) {
        sw_mp_str(m.body, "error", false, &e, &err);
        fprintf(stderr, "swarm_dispatch: SUBMIT refused: %s\n", e ? e : "request failed");
        free(e);
    }
    sw_msg_release(&m);
    return ok ? 1 : -1;
}

/*  Turns until the pending request's reply comes (agents served and
 *  heartbeats sent meanwhile): 0, or -1 on an error or after REQUEST_MS. */
static int
s_await_reply(s_sim_t *s)
{
    int64_t deadline = zclock_mono() + REQUEST_MS;
    for (;;) {
        int rc = s_reply();
        if (rc != 0)
            return rc > 0 ? 0 : -1;
        if (zclock_mono() > deadline) {
            fprintf(stderr, "swarm_dispatch: no reply to SUBMIT\n");
            return -1;
        }
        if (s_turn(s, 50) < 0)
            return -1;
    }
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
    /*  bench/dispatch passes its redis-server's pid: the CPU split of the
     *  timed part (coordinator, Redis, this simulator) says whether the
     *  bench measures the coordinator or itself. */
    const char *rp = getenv("SWARM_BENCH_REDIS_PID");
    int redis_pid = rp ? atoi(rp) : 0;
    if (nagents < 1 || slots < 1 || slots > 4096 || tasks < 1) {
        /*  slots is HELLO's 1..4096 (docs/protocol.md): the coordinator
         *  drops any other HELLO without an answer */
        fprintf(stderr, "swarm_dispatch: AGENTS and TASKS must be at least 1, SLOTS 1 to 4096\n");
        return 2;
    }
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

    const char *qo = getenv("SWARM_BENCH_QUEUE_ONLY");
    if (qo && strcmp(qo, "1") == 0) {
        /*  The queue, with nobody to run it. */
        long rss0 = s_rss_kib(coord_pid);
        int64_t t0 = zclock_usecs();
        for (int from = 0; from < tasks; from += BATCH)
            if (bench_ctl_submit(s_ctl, job, "t", from,
                                 tasks - from < BATCH ? tasks - from : BATCH, true_argv,
                                 REQUEST_MS) < 0)
                return 1;
        int64_t submit_us = zclock_usecs() - t0;
        long rss_queued = s_rss_kib(coord_pid);
        long long cpu0 = bench_cpu_us(coord_pid);
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
    /*  SWARM_BENCH_COLD=1: the order before issue 20's measurement fix:
     *  the queue first, then every agent connects and says HELLO inside
     *  the timed part (registration counted as dispatch). */
    const char *cold_env = getenv("SWARM_BENCH_COLD");
    bool cold = cold_env && strcmp(cold_env, "1") == 0;

    /*  Each agent is its own DEALER connection. The loop visits only the
     *  agents whose socket has something to read (epoll on each socket's
     *  ZMQ_FD, then ZMQ_EVENTS), and heartbeats go out from a ring ordered
     *  by when each is due: a turn costs what arrived, not the fleet size.
     *  (The first version polled all 1,000 sockets every turn and used
     *  about as much CPU per task as the coordinator: the bench measured
     *  itself, issue 20.) */
    s_sim_t sim = { .nagents = nagents, .slots = slots };
    s_sim_t *s = &sim;
    s->agents = xcalloc((size_t) nagents, sizeof *s->agents);
    s->lat = xcalloc((size_t) tasks, sizeof *s->lat);
    msgpack_sbuffer_init(&s->sb);
    sw_mp_packer_init(&s->pk, &s->sb);
    s->ep = epoll_create1(EPOLL_CLOEXEC);
    if (s->ep < 0) {
        perror("swarm_dispatch: epoll_create1");
        return 1;
    }
    for (int i = 0; i <= nagents; i++) {
        zsock_t *sock = s_ctl;
        if (i < nagents) {
            sock = s->agents[i].sock = zsock_new(ZMQ_DEALER);
            sw_sock_defaults(sock);
            zsock_set_rcvtimeo(sock, 0);
            zsock_connect(sock, "%s", argv[2]);
            s->agents[i].freed = xcalloc((size_t) slots, sizeof *s->agents[i].freed);
        }
        struct epoll_event ev = { .events = EPOLLIN,
                                  .data.u32 = i < nagents ? (uint32_t) i : CTL_EV };
        if (epoll_ctl(s->ep, EPOLL_CTL_ADD, zsock_fd(sock), &ev) < 0) {
            perror("swarm_dispatch: epoll_ctl");
            return 1;
        }
    }
    zsock_set_rcvtimeo(s_ctl, 0);

    /*  Phase 1: the fleet registers (no task exists yet), so the timed
     *  part is dispatch and not 1,000 HELLOs: with 1,000 tasks on 4,000
     *  slots, registration was most of what the 1k step measured. */
    long rss0 = s_rss_kib(coord_pid);
    int64_t register_us = 0;
    if (!cold) {
        int64_t r0 = zclock_usecs(), deadline = zclock_mono() + REGISTER_MS;
        s_hello_all(s);
        while (s->welcomed < nagents) {
            if (zclock_mono() > deadline) {
                fprintf(stderr, "swarm_dispatch: %d of %d agents welcomed\n", s->welcomed,
                        nagents);
                return 1;
            }
            if (s_turn(s, 50) < 0 || s->byes)
                return 1;
        }
        register_us = zclock_usecs() - r0;
    }

    /*  Phase 2: the queue. With the fleet registered it is one
     *  transaction (as `swarm run` sends a big job), every batch staged
     *  (`more: true`); the clock starts when the empty last batch is sent,
     *  which puts all of them in at once (a slice per coordinator turn,
     *  the job held until all are in) and releases the job. So the timed
     *  part holds the scheduler's insertion and every dispatch, the first
     *  slots' too (they leave in the turn that answers the last batch).
     *  Cold, the agents are not there yet: plain batches, all queued. */
    int64_t s0 = zclock_usecs();
    for (int from = 0; from < tasks; from += BATCH) {
        int n = tasks - from < BATCH ? tasks - from : BATCH;
        if (s_submit_send(job, from, n, cold ? NULL : "bench", true) < 0
            || s_await_reply(s) < 0)
            return 1;
    }
    int64_t submit_us = zclock_usecs() - s0;
    long rss_queued = cold ? s_rss_kib(coord_pid) : -1;

    /*  Phase 3, timed: every TASK is answered with DONE until WAIT says
     *  the job is complete. */
    int64_t t0 = zclock_usecs();
    long long cpu0 = bench_cpu_us(coord_pid), rcpu0 = bench_cpu_us(redis_pid),
              scpu0 = bench_cpu_us(getpid());
    /*  A profiler started on this file's creation sees the timed part only. */
    const char *mark = getenv("SWARM_BENCH_MARK");
    if (mark && *mark) {
        FILE *f = fopen(mark, "w");
        if (f)
            fclose(f);
    }
    bool committed = cold;
    if (!cold && s_submit_send(job, tasks, 0, "bench", false) < 0)
        return 1;
    if (cold)
        s_hello_all(s);
    int64_t next_check_ms = 0;
    for (;;) {
        if (s_turn(s, 50) < 0 || s->byes)
            return 1;
        int64_t now_ms = zclock_mono();
        if (!committed) {
            int rc = s_reply();
            if (rc < 0)
                return 1;
            if (rc > 0) {
                committed = true;
                rss_queued = s_rss_kib(coord_pid);    /*  all in, some dispatched */
            }
        }
        if (committed && s->dispatched >= tasks && now_ms >= next_check_ms) {
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
    long long cpu1 = bench_cpu_us(coord_pid);
    long long rcpu1 = bench_cpu_us(redis_pid), scpu1 = bench_cpu_us(getpid());
    double redis_per_task = rcpu0 >= 0 && rcpu1 >= 0 ? (double) (rcpu1 - rcpu0) / tasks : -1;
    double sim_per_task = (double) (scpu1 - scpu0) / tasks;
    double cpu_per_task = cpu0 >= 0 && cpu1 >= 0 ? (double) (cpu1 - cpu0) / tasks : -1;
    qsort(s->lat, s->nlat, sizeof *s->lat, s_cmp);
    double p50 = s->nlat ? (double) s->lat[s->nlat / 2] / 1000 : -1;
    double p99 = s->nlat ? (double) s->lat[(size_t) ((double) s->nlat * 0.99)] / 1000 : -1;
    printf("{\"agents\": %d, \"slots\": %d, \"tasks\": %d, \"cold\": %s, "
           "\"register_s\": %.3f, \"submit_s\": %.3f, "
           "\"submit_per_s\": %.0f, \"dispatch_s\": %.3f, \"tasks_per_s\": %.0f, "
           "\"us_per_task\": %.1f, \"coord_cpu_us_per_task\": %.1f, "
           "\"redis_cpu_us_per_task\": %.1f, \"sim_cpu_us_per_task\": %.1f, "
           "\"p50_ms\": %.3f, \"p99_ms\": %.3f, \"heartbeats\": %d, "
           "\"coord_rss_kib\": {\"idle\": %ld, \"queued\": %ld, \"end\": %ld}}\n",
           nagents, slots, tasks, cold ? "true" : "false", (double) register_us / 1e6,
           (double) submit_us / 1e6, tasks / ((double) submit_us / 1e6),
           (double) run_us / 1e6, tasks / ((double) run_us / 1e6), (double) run_us / tasks,
           cpu_per_task, redis_per_task, sim_per_task, p50, p99, s->heartbeats, rss0,
           rss_queued, rss_end);
    msgpack_sbuffer_destroy(&s->sb);
    for (int i = 0; i < nagents; i++) {
        sw_msg_send_empty(s->agents[i].sock, NULL, SW_BYE);
        zsock_set_linger(s->agents[i].sock, 100);
        zsock_destroy(&s->agents[i].sock);
        free(s->agents[i].freed);
    }
    free(s->agents);
    free(s->lat);
    close(s->ep);
    zsock_destroy(&s_ctl);
    return 0;
}
