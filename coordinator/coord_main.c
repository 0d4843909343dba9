/*  swarm-coordinator -- takes jobs, hands their tasks to agents with free
 *  slots, and keeps job state in Redis. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <czmq.h>

#include "coord_record.h"
#include "coord_server.h"
#include "sw_log.h"
#include "sw_memory.h"
#include "sw_opts.h"
#include "sw_redis.h"

static const char s_usage[] =
    "usage: swarm-coordinator [-c FILE] [--listen EP] [--control EP] [--redis URL]\n"
    "                         [--redis-password-file FILE] [--heartbeat-ms MS] [--liveness N]\n"
    "                         [--keep-finished S] [--coordination-ttl S] [--ownership-ms MS]\n"
    "                         [--curve-secret FILE --allowed-agents DIR\n"
    "                         [--admin-keys DIR]] [--insecure] [--metrics ADDR]\n"
    "                         [--http ADDR [--http-token-file FILE]]\n"
    "                         [--limit NAME=N]... [--price MODEL=IN,CACHED,OUT]...\n"
    "                         [-f] [-v]\n"
    "\n"
    "Takes jobs from the swarm CLI on the control socket and dispatches their\n"
    "tasks over ZeroMQ to swarm-agents with free slots; job state lives in Redis.\n"
    "--limit codex=8 runs at most 8 codex tasks at once across all agents (every\n"
    "codex task takes resource codex, every claude task claude, and a task takes\n"
    "what spawn --resource names); a provider's rate-limit halves the effective\n"
    "limit, successes raise it again (swarm status shows both).\n";

static const sw_opt_t s_opts[] = {
    { "listen", 'l', SW_OPT_STR, offsetof(coord_conf_t, listen), 0, 0, "EP",
      "where agents connect (default tcp://127.0.0.1:7700)" },
    { "control", 0, SW_OPT_STR, offsetof(coord_conf_t, control), 0, 0, "EP",
      "where the CLI connects (default tcp://127.0.0.1:7701)" },
    { "redis-password-file", 0, SW_OPT_STR, offsetof(coord_conf_t, redis_password_file), 0, 0,
      "FILE", "Redis password from this file (not the command line)" },
    { "redis", 'r', SW_OPT_STR, offsetof(coord_conf_t, redis), 0, 0, "URL",
      "Redis URL (default $SWARM_REDIS or " SW_REDIS_DEFAULT ")" },
    { "heartbeat-ms", 0, SW_OPT_INT, offsetof(coord_conf_t, heartbeat_ms), 50, 60000, "MS",
      "heartbeat interval both ways (default 1000)" },
    { "liveness", 0, SW_OPT_INT, offsetof(coord_conf_t, liveness), 2, 100, "N",
      "missed heartbeats before an agent is dead (default 5)" },
    { "keep-finished", 0, SW_OPT_INT, offsetof(coord_conf_t, keep_finished_s), 0, 30 * 86400,
      "S", "a finished job stays in memory S s, then lives on in Redis only (default 300)" },
    { "coordination-ttl", 0, SW_OPT_INT, offsetof(coord_conf_t, record_ttl_s), 1,
      SW_MEM_MAX_TTL_S, "S", "a job's coordination record (memory namespace coordination) "
      "expires S s after the job ended (default 2592000: 30 days)" },
    { "ownership-ms", 0, SW_OPT_INT, offsetof(coord_conf_t, ownership_ms), 500, 600000, "MS",
      "this coordinator holds its Redis database (swarm:coordinator) while it renews the "
      "hold; a second coordinator on the database refuses to start, and one whose hold "
      "lapsed (stopped this long) and was taken over stops (default 10000)" },
    { "curve-secret", 0, SW_OPT_STR, offsetof(coord_conf_t, curve_secret), 0, 0, "FILE",
      "CURVE secret certificate of this coordinator (swarm keygen); with --allowed-agents" },
    { "allowed-agents", 0, SW_OPT_STR, offsetof(coord_conf_t, allowed_agents), 0, 0, "DIR",
      "directory of the public certificates of the agents allowed in (re-read when it changes)" },
    { "admin-keys", 0, SW_OPT_STR, offsetof(coord_conf_t, admin_keys), 0, 0, "DIR",
      "CURVE on the control socket too: only these public certificates may use it "
      "(then it may listen beyond loopback)" },
    { "metrics", 0, SW_OPT_STR, offsetof(coord_conf_t, metrics), 0, 0, "ADDR",
      "serve Prometheus /metrics on ADDR (PORT = 127.0.0.1:PORT, HOST:PORT, [V6]:PORT)" },
    { "http", 0, SW_OPT_STR, offsetof(coord_conf_t, http), 0, 0, "ADDR",
      "serve the read-only web dashboard on ADDR (loopback unless --http-token-file)" },
    { "http-token-file", 0, SW_OPT_STR, offsetof(coord_conf_t, http_token_file), 0, 0, "FILE",
      "the dashboard asks for this token (first line of FILE, 16+ characters)" },
    { "price", 0, SW_OPT_LIST, offsetof(coord_conf_t, price), 0, 0, "MODEL=IN,CACHED,OUT",
      "what MODEL's tokens cost, USD per million: input, cached input, output (repeatable; "
      "in the config file: price.MODEL = IN, CACHED, OUT); codex tasks of a model without "
      "a price report tokens only" },
    { "insecure", 0, SW_OPT_FLAG, offsetof(coord_conf_t, insecure), 0, 0, NULL,
      "allow plaintext on non-loopback addresses" },
    { "limit", 0, SW_OPT_LIST, offsetof(coord_conf_t, limits), 0, 0, "NAME=N",
      "at most N tasks taking resource NAME run at once, farm-wide (repeatable; N 1..1000000)" },
    { "foreground", 'f', SW_OPT_FLAG, offsetof(coord_conf_t, foreground), 0, 0, NULL,
      "stay in the foreground and log to stderr" },
    { "verbose", 'v', SW_OPT_FLAG, offsetof(coord_conf_t, verbose), 0, 0, NULL,
      "log debug messages" },
    { NULL, 0, 0, 0, 0, 0, NULL, NULL },
};

/*  A price entry, checked as it is read (the error names its line). */
static int
s_price_check(const char *value, sw_err_t *err)
{
    sw_prices_t p = { 0 };
    int rc = sw_prices_add(&p, value, err);
    sw_prices_release(&p);
    return rc;
}

/*  Static so LeakSanitizer sees the option strings as reachable. */
static coord_conf_t s_conf;

int
main(int argc, char **argv)
{
    if (sw_stdio_open() < 0)
        return 1;                       /*  no /dev/null: nowhere to say so */
    const char *env_redis = getenv("SWARM_REDIS");
    s_conf.heartbeat_ms = 1000;
    s_conf.liveness = 5;
    s_conf.keep_finished_s = 300;
    s_conf.record_ttl_s = COORD_RECORD_TTL_S;
    sw_err_t err = { 0 };
    sw_opts_set_check("price", s_price_check);
    int rc = sw_opts_parse(s_opts, &s_conf, argc, argv, s_usage, &err);
    if (rc != 0) {
        if (rc < 0)
            fprintf(stderr, "swarm-coordinator: %s\n", err.msg);
        return rc < 0 ? 2 : 0;
    }
    for (size_t i = 0; i < s_conf.limits.n; i++) {
        char *name;
        long long n;
        if (coord_limit_parse(s_conf.limits.v[i], &name, &n, &err) < 0) {
            fprintf(stderr, "swarm-coordinator: %s\n", err.msg);
            return 2;
        }
        free(name);
    }
    if (!s_conf.listen)
        s_conf.listen = xstrdup("tcp://127.0.0.1:7700");
    if (!s_conf.control)
        s_conf.control = xstrdup("tcp://127.0.0.1:7701");
    if (!s_conf.redis)
        s_conf.redis = xstrdup(env_redis && *env_redis ? env_redis : SW_REDIS_DEFAULT);

    if (s_conf.redis_password_file && sw_redis_password_file(s_conf.redis_password_file, &err) < 0) {
        fprintf(stderr, "swarm-coordinator: %s\n", err.msg);
        return 2;
    }
    log_init("swarm-coordinator", s_conf.foreground, s_conf.verbose);
    if (!s_conf.foreground && daemon(0, 0) < 0)
        fatal("daemon");

    /*  Block the signals before ZeroMQ starts its threads, so only the
     *  signalfd in the loop ever sees them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    zsys_handler_set(NULL);
    zsys_init();

    coord_server_t *server = coord_server_new(&s_conf, &err);
    if (!server) {
        log_warnx("%s", err.msg);
        fprintf(stderr, "swarm-coordinator: %s\n", err.msg);
        return err.code == SW_EUNREACH ? 3 : err.code == SW_EINVAL ? 2 : 1;
    }
    rc = coord_server_run(server);
    coord_server_destroy(&server);
    zsys_shutdown();
    return rc;
}
