/*  cli_ctl -- the commands that talk to the coordinator. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <time.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "sw_plan.h"
#include "sw_curve.h"
#include "sw_proto.h"

/*  The connection, with a monitor that reports failed handshakes: a
 *  refused key then says so instead of looking like a dead coordinator. */
static int
s_connect(cli_t *cli)
{
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    cli->sock = sock;
    sw_sock_defaults(sock);
    zsock_set_rcvtimeo(sock, 0);
    sw_err_t err = { 0 };
    if (cli->curve_secret
        && sw_curve_client(sock, cli->curve_secret, cli->coordinator_key, &err) < 0)
        return cli_fail(EXIT_USAGE, "%s", err.msg);
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://swarm-cli-monitor-%p", (void *) sock);
    if (zmq_socket_monitor(zsock_resolve(sock), ep, ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
                           | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                           | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) == 0) {
        cli->monitor = zsock_new(ZMQ_PAIR);
        zsock_set_rcvtimeo(cli->monitor, 0);
        zsock_connect(cli->monitor, "%s", ep);
    }
    if (zsock_connect(sock, "%s", cli->coordinator) < 0)
        return cli_fail(EXIT_USAGE, "invalid coordinator endpoint '%s': %s",
                        cli->coordinator, zmq_strerror(zmq_errno()));
    return 0;
}

/*  A failed handshake as exit 3 with the likely cause; 0 if none. */
static int
s_handshake_failed(cli_t *cli)
{
    zmsg_t *ev = zmsg_recv(cli->monitor);
    if (!ev)
        return 0;
    zframe_t *f = zmsg_first(ev);
    uint16_t event = 0;
    if (f && zframe_size(f) >= 6)
        memcpy(&event, zframe_data(f), 2);
    zmsg_destroy(&ev);
    /*  A client may see the server hang up (no detail) before a mechanism
     *  mismatch is reported, so "no detail" names both likely causes. */
    const char *why =
        event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
            ? "refused our key (not in its --admin-keys)"
        : !cli->curve_secret
            ? "wants CURVE: give --curve-secret and --coordinator-key"
        : event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
            ? "does not speak CURVE on its control socket (no --admin-keys?)"
            : "failed the CURVE handshake: is --coordinator-key its certificate, and does it "
              "have --admin-keys?";
    return cli_fail(EXIT_UNREACHABLE, "the coordinator at %s %s", cli->coordinator, why);
}

/*  One request/reply with the coordinator. 0 with *reply filled (release
 *  it), or an exit code after printing why. */
static int
cli_request(cli_t *cli, int cmd, const msgpack_sbuffer *body, int timeout_ms, sw_msg_t *reply)
{
    int rc;
    if (!cli->sock && (rc = s_connect(cli)) != 0)
        return rc;
    if (sw_msg_send(cli->sock, NULL, cmd, body->data, body->size) < 0)
        return cli_fail(EXIT_UNREACHABLE, "cannot send to the coordinator at %s: %s",
                        cli->coordinator, zmq_strerror(zmq_errno()));
    zmq_pollitem_t items[2] = { { zsock_resolve(cli->sock), 0, ZMQ_POLLIN, 0 },
                                { cli->monitor ? zsock_resolve(cli->monitor) : NULL, 0,
                                  ZMQ_POLLIN, 0 } };
    int64_t deadline = sw_now_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - sw_now_ms();
        if (left <= 0)
            return cli_fail(EXIT_UNREACHABLE, "the coordinator at %s did not answer in %.1f s "
                            "(is swarm-coordinator running? --coordinator or "
                            "SWARM_COORDINATOR say where)", cli->coordinator,
                            (double) timeout_ms / 1000);
        rc = zmq_poll(items, cli->monitor ? 2 : 1, (long) left);
        if (rc < 0 && zmq_errno() == EINTR)
            return cli_fail(EXIT_UNREACHABLE, "interrupted");
        if (rc <= 0)
            continue;
        if ((items[1].revents & ZMQ_POLLIN) && (rc = s_handshake_failed(cli)) != 0)
            return rc;
        if (!(items[0].revents & ZMQ_POLLIN))
            continue;
        zmsg_t *msg = zmsg_recv(cli->sock);
        sw_err_t err = { 0 };
        /*  Our coordinator's replies list whole jobs: the frame cap (8 MiB)
         *  bounds them, not the item count a daemon uses against strangers. */
        static const sw_mp_limits_t lim = { .max_depth = 8, .max_items = 4u << 20,
                                            .max_str = 16u << 20 };
        if (sw_msg_decode_lim(&msg, false, &lim, reply, &err) < 0 || reply->cmd != SW_C_REPLY) {
            if (!err.code)
                sw_msg_release(reply);
            return cli_fail(EXIT_UNREACHABLE, "bad reply from %s: %s", cli->coordinator,
                            err.code ? err.msg : "not a REPLY");
        }
        bool ok = false;
        sw_mp_bool(reply->body, "ok", true, &ok, &err);
        if (ok)
            return 0;
        char *msgtext = NULL;
        int64_t code = 1;
        sw_mp_str(reply->body, "error", false, &msgtext, &err);
        sw_mp_int(reply->body, "code", false, 1, 255, &code, &err);
        cli_fail((int) code, "%s", msgtext ? msgtext : "request failed");
        free(msgtext);
        sw_msg_release(reply);
        return (int) code;
    }
}

/*  --- small helpers for building requests ------------------------------------ */

typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer  pk;
} s_req_t;

static void
s_req_init(s_req_t *r)
{
    msgpack_sbuffer_init(&r->sb);
    sw_mp_packer_init(&r->pk, &r->sb);
}

/*  Sends the request (consuming it) and waits for the reply. */
static int
s_call(cli_t *cli, int cmd, s_req_t *r, int timeout_ms, sw_msg_t *reply)
{
    int rc = cli_request(cli, cmd, &r->sb, timeout_ms, reply);
    msgpack_sbuffer_destroy(&r->sb);
    return rc;
}

static const char *
s_get_str(const msgpack_object *map, const char *key, char *buf, size_t n)
{
    const msgpack_object *o = sw_mp_find(map, key);
    if (!o || o->type != MSGPACK_OBJECT_STR)
        return "";
    size_t len = o->via.str.size < n - 1 ? o->via.str.size : n - 1;
    memcpy(buf, o->via.str.ptr, len);
    buf[len] = '\0';
    return buf;
}

static int64_t
s_get_int(const msgpack_object *map, const char *key)
{
    const msgpack_object *o = sw_mp_find(map, key);
    if (!o)
        return 0;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        return (int64_t) o->via.u64;
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return o->via.i64;
    return 0;
}

static int
s_usage(const char *text)
{
    fputs(text, stderr);
    return EXIT_USAGE;
}

static int
s_bad_option(const char *cmd, char **argv)
{
    return cli_fail(EXIT_USAGE, "%s: unknown option or missing value '%s' (see swarm %s --help)",
                    cmd, argv[optind - 1], cmd);
}

/*  Splits "a,b,c" into sv. */
static void
s_split_commas(const char *s, sw_strv_t *sv)
{
    char *copy = xstrdup(s), *save = NULL;
    for (char *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save))
        if (*p)
            sw_strv_push(sv, p);
    free(copy);
}

static int
s_kv_arg(const char *cmd, const char *opt, const char *arg, sw_kv_t *kv)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg)
        return cli_fail(EXIT_USAGE, "%s: %s wants K=V, got '%s'", cmd, opt, arg);
    char *k = xstrndup(arg, (size_t) (eq - arg));
    sw_kv_set(kv, k, eq + 1);
    free(k);
    return 0;
}

/*  --- init ------------------------------------------------------------------------ */

static const char s_init_usage[] =
    "usage: swarm init [--topology hierarchical|mesh|star] [--max-agents N]\n"
    "                  [--strategy NAME] [--namespace NS] [--workspace DIR\n"
    "                  [--repo-url URL] [--max-snapshot SIZE] [--max-file SIZE]] [JOB]\n"
    "Creates JOB (or a generated name) and makes it the current job, which\n"
    "spawn, wait, status, results and cancel use when --job is not given.\n"
    "--max-agents caps how many of the job's tasks run at once.\n"
    "With --workspace, every task of the job without a workspace of its own runs\n"
    "on this snapshot (swarm diff, apply and outputs bring the work back).\n"
    CLI_WS_USAGE;

/*  One INIT; the job's name in *name (caller frees) when it is not NULL. */
static int
s_init_call(cli_t *cli, const char *job, const char *topology, const char *strategy,
            const char *ns, long long max_agents, const sw_task_ws_t *ws, sw_msg_t *reply)
{
    s_req_t r;
    s_req_init(&r);
    msgpack_pack_map(&r.pk, ws ? 6 : 5);
    sw_mp_kv_str(&r.pk, "job", job);
    sw_mp_kv_str(&r.pk, "topology", topology);
    sw_mp_kv_str(&r.pk, "strategy", strategy);
    sw_mp_kv_str(&r.pk, "namespace", ns);
    sw_mp_pack_str(&r.pk, "max_agents");
    if (max_agents >= 0)
        msgpack_pack_int64(&r.pk, max_agents);
    else
        msgpack_pack_nil(&r.pk);
    if (ws) {
        sw_mp_pack_str(&r.pk, "workspace");
        sw_task_ws_pack(&r.pk, ws);
    }
    return s_call(cli, SW_C_INIT, &r, cli->timeout_ms, reply);
}

static int
cli_init(cli_t *cli, int argc, char **argv)
{
    static const struct option lo[] = {
        { "topology", required_argument, NULL, 't' }, { "max-agents", required_argument, NULL, 'm' },
        { "strategy", required_argument, NULL, 's' }, { "namespace", required_argument, NULL, 'n' },
        CLI_WS_LONGOPTS, { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
    };
    const char *topology = NULL, *strategy = NULL, *ns = NULL;
    long long max_agents = -1;
    cli_ws_opts_t wso = { 0 };
    int c, rc;
    /*  options may follow JOB too: swarm init user-auth --workspace . */
    while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
        switch (c) {
        case CLI_WS_WORKSPACE: case CLI_WS_REPO_URL: case CLI_WS_MAX_SNAPSHOT: case CLI_WS_MAX_FILE:
            if ((rc = cli_ws_option("init", c, optarg, &wso)) != 0)
                return rc;
            break;
        case 't':
            if (strcmp(optarg, "hierarchical") && strcmp(optarg, "mesh") && strcmp(optarg, "star"))
                return cli_fail(EXIT_USAGE, "init: --topology is hierarchical, mesh or star");
            topology = optarg;
            break;
        case 'm':
            if (sw_parse_int(optarg, 0, 100000, &max_agents) < 0)
                return cli_fail(EXIT_USAGE, "init: --max-agents wants a number, got '%s'", optarg);
            break;
        case 's': strategy = optarg; break;
        case 'n': ns = optarg; break;
        case 'h': fputs(s_init_usage, stdout); return 0;
        default: return s_bad_option("init", argv);
        }
    }
    if (argc - optind > 1)
        return s_usage(s_init_usage);
    const char *job = optind < argc ? argv[optind] : NULL;
    if (job && !sw_id_valid(job))
        return cli_fail(EXIT_USAGE, "init: invalid job name '%s'", job);
    if ((wso.repo_url || wso.max_snapshot || wso.max_file) && !wso.dir)
        return cli_fail(EXIT_USAGE, "init: --repo-url and --max-* go with --workspace DIR");
    sw_msg_t reply;
    char buf[256];
    if (wso.dir) {
        /*  The snapshot is stored for the job (swarm purge): name it first. */
        char *name = job ? xstrdup(job) : NULL;
        if (!name) {
            if ((rc = s_init_call(cli, NULL, topology, strategy, ns, max_agents, NULL, &reply)))
                return rc;
            name = xstrdup(s_get_str(reply.body, "job", buf, sizeof buf));
            sw_msg_release(&reply);
        }
        sw_task_ws_t ws = { 0 };
        rc = cli_ws_snapshot(cli, name, wso.dir, &wso, &ws, NULL);
        if (rc == 0)
            rc = s_init_call(cli, name, topology, strategy, ns, max_agents, &ws, &reply);
        sw_task_ws_release(&ws);
        free(name);
    }
    else
        rc = s_init_call(cli, job, topology, strategy, ns, max_agents, NULL, &reply);
    if (rc)
        return rc;
    if (cli->json)
        cli_print_json(cli_mp_to_json(reply.body));
    else
        printf("%s\n", s_get_str(reply.body, "job", buf, sizeof buf));
    sw_msg_release(&reply);
    return 0;
}

/*  --- spawn ---------------------------------------------------------------------- */

static const char s_spawn_usage[] =
    "usage: swarm spawn [--job JOB] --id ID [--type TYPE] [--runner codex|claude|exec]\n"
    "                   [--timeout S] [--idle-timeout S] [--max-attempts N]\n"
    "                   [--max-turns N] [--max-budget-usd USD]\n"
    "                   [--after ID[,ID...]] [--label K=V]... [--env K=V]... [--dir DIR]\n"
    "                   [--namespace NS] [--context NS/KEY=VALUE]... (PROMPT | - | -- ARGV...)\n"
    "Queues one task. PROMPT goes to codex (default) or claude; '-' reads it from\n"
    "stdin. After '--' comes the argv of an exec task (agents need --allow-exec).\n"
    "--context stores VALUE in memory before the task is queued. The agent expands\n"
    "{{memory:NS/KEY}} and {{result:ID}} (the output of task ID of the same job)\n"
    "in the prompt before it starts the task; a missing one fails the task.\n"
    "TYPE: coder (default), tester, reviewer, docs, architect (reviewer and\n"
    "architect run codex in a read-only sandbox), cmd (exec tasks).\n"
    "--max-turns and --max-budget-usd bound a claude task (claude's --max-turns,\n"
    "--max-budget-usd); an agent started with --claude-max-* lowers them to its own.\n"
    "Workspaces: [--workspace DIR [--repo-url URL] [--max-snapshot SIZE]\n"
    "[--max-file SIZE]] [--output GLOB]... Without --workspace the task runs on the\n"
    "job's workspace (swarm init --workspace), or its first dependency's; it then\n"
    "starts from its dependencies' resulting trees (their merge when several).\n"
    "--dir is then a path inside the workspace. --output GLOB (repeatable, e.g.\n"
    "'*.o', 'build/**/lib*.a') stores the matching files after a success (swarm\n"
    "outputs).\n" CLI_WS_USAGE;

static char *
s_read_stdin(void)
{
    sw_buf_t b;
    sw_buf_init(&b);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0)
        sw_buf_add(&b, buf, n);
    if (!b.data)
        sw_buf_add(&b, "", 0);
    return b.data;
}

static int
cli_spawn(cli_t *cli, int argc, char **argv)
{
    static const struct option lo[] = {
        { "job", required_argument, NULL, 'j' }, { "id", required_argument, NULL, 'i' },
        { "type", required_argument, NULL, 't' }, { "runner", required_argument, NULL, 'r' },
        { "timeout", required_argument, NULL, 'T' }, { "idle-timeout", required_argument, NULL, 'I' },
        { "max-attempts", required_argument, NULL, 'M' }, { "after", required_argument, NULL, 'a' },
        { "label", required_argument, NULL, 'l' }, { "env", required_argument, NULL, 'e' },
        { "dir", required_argument, NULL, 'd' }, { "namespace", required_argument, NULL, 'n' },
        { "context", required_argument, NULL, 'c' },
        { "max-turns", required_argument, NULL, 'X' },
        { "max-budget-usd", required_argument, NULL, 'B' },
        { "output", required_argument, NULL, 'O' }, CLI_WS_LONGOPTS,
        { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
    };
    sw_strv_t context = { 0 };
    cli_ws_opts_t wso = { 0 };
    /*  Everything after "--" is the argv, untouched by option parsing. */
    int dashdash = -1;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--") == 0) {
            dashdash = i;
            break;
        }
    int optc = dashdash >= 0 ? dashdash : argc;
    sw_task_t t;
    sw_task_init(&t);
    char *job = NULL;
    int c, rc = 0;
    long long v;
    while (rc == 0 && (c = getopt_long(optc, argv, ":h", lo, NULL)) != -1) {
        switch (c) {
        case 'j': free(job); job = xstrdup(optarg); break;
        case 'i': free(t.id); t.id = xstrdup(optarg); break;
        case 't': free(t.type); t.type = xstrdup(optarg); break;
        case 'r': free(t.runner); t.runner = xstrdup(optarg); break;
        case 'd': free(t.dir); t.dir = xstrdup(optarg); break;
        case 'n': free(t.ns); t.ns = xstrdup(optarg); break;
        case 'a': s_split_commas(optarg, &t.after); break;
        case 'l': rc = s_kv_arg("spawn", "--label", optarg, &t.labels); break;
        case 'e': rc = s_kv_arg("spawn", "--env", optarg, &t.env); break;
        case 'c': {
            const char *slash = strchr(optarg, '/'), *eq = strchr(optarg, '=');
            if (!slash || !eq || eq < slash || slash == optarg || eq == slash + 1)
                rc = cli_fail(EXIT_USAGE, "spawn: --context wants NS/KEY=VALUE, got '%s'", optarg);
            else
                sw_strv_push(&context, optarg);
            break;
        }
        case 'T': case 'I': case 'M':
            if (sw_parse_int(optarg, c == 'M' ? 1 : c == 'I' ? 0 : 1, 7 * 86400, &v) < 0)
                rc = cli_fail(EXIT_USAGE, "spawn: %s wants a number of %s, got '%s'",
                              argv[optind - 1], c == 'M' ? "attempts" : "seconds", optarg);
            else if (c == 'T')
                t.timeout_s = v;
            else if (c == 'I')
                t.idle_timeout_s = v;
            else
                t.max_attempts = v;
            break;
        case 'X':
            if (sw_parse_int(optarg, 1, SW_MAX_TURNS, &v) < 0)
                rc = cli_fail(EXIT_USAGE, "spawn: --max-turns wants 1..%d, got '%s'",
                              SW_MAX_TURNS, optarg);
            else
                t.max_turns = v;
            break;
        case 'B':
            if (sw_parse_usd(optarg, SW_MAX_BUDGET_CENTS, &v) < 0)
                rc = cli_fail(EXIT_USAGE, "spawn: --max-budget-usd wants dollars with at most "
                              "two decimals (e.g. 2.50), got '%s'", optarg);
            else
                t.max_budget_cents = v;
            break;
        case 'O': sw_strv_push(&t.outputs, optarg); break;
        case CLI_WS_WORKSPACE: case CLI_WS_REPO_URL: case CLI_WS_MAX_SNAPSHOT: case CLI_WS_MAX_FILE:
            rc = cli_ws_option("spawn", c, optarg, &wso);
            break;
        case 'h': fputs(s_spawn_usage, stdout); rc = -1; break;
        default: rc = s_bad_option("spawn", argv);
        }
    }
    if (rc) {
        sw_task_release(&t);
        sw_strv_release(&context);
        free(job);
        return rc < 0 ? 0 : rc;
    }
    if (!t.id) {
        rc = cli_fail(EXIT_USAGE, "spawn: --id ID is required");
        goto out;
    }
    if (dashdash >= 0) {
        if (optind < optc) {
            rc = cli_fail(EXIT_USAGE, "spawn: give either a PROMPT or '-- ARGV', not both");
            goto out;
        }
        for (int i = dashdash + 1; i < argc; i++)
            sw_strv_push(&t.argv, argv[i]);
        if (t.argv.n == 0) {
            rc = cli_fail(EXIT_USAGE, "spawn: nothing after '--'");
            goto out;
        }
    }
    else if (optc - optind == 1)
        t.prompt = strcmp(argv[optind], "-") == 0 ? s_read_stdin() : xstrdup(argv[optind]);
    else if (optc - optind > 1) {
        rc = cli_fail(EXIT_USAGE, "spawn: one PROMPT argument (quote it), or '-- ARGV...' "
                      "for a command");
        goto out;
    }
    else {
        rc = cli_fail(EXIT_USAGE, "spawn: give a PROMPT, '-' for stdin, or '-- ARGV...'");
        goto out;
    }
    /*  Validate here too, for a message before any network traffic. */
    sw_err_t err = { 0 };
    t.job = xstrdup(job ? job : "default");
    if (sw_task_validate(&t, &err) < 0) {
        rc = cli_fail(EXIT_USAGE, "spawn: %s", err.msg);
        goto out;
    }
    if ((wso.repo_url || wso.max_snapshot || wso.max_file) && !wso.dir) {
        rc = cli_fail(EXIT_USAGE, "spawn: --repo-url and --max-* go with --workspace DIR");
        goto out;
    }
    if (wso.dir) {
        /*  The snapshot is stored for the job the task goes to. */
        if (!cli_redis(cli)) {
            rc = EXIT_UNREACHABLE;
            goto out;
        }
        char *target = cli_current_job(cli, job), *prefix = NULL;
        rc = cli_ws_snapshot(cli, target ? target : "default", wso.dir, &wso, &t.ws, &prefix);
        if (rc == 0 && prefix && !t.dir)
            t.dir = xstrdup(prefix);    /*  where --workspace pointed, below the top */
        free(target);
        free(prefix);
        if (rc)
            goto out;
    }
    if (wso.dir && sw_task_validate(&t, &err) < 0) {
        rc = cli_fail(EXIT_USAGE, "spawn: %s", err.msg);
        goto out;
    }
    free(t.job);
    t.job = NULL;               /*  the coordinator fills in the current job */
    /*  Context first: the task may start as soon as it is queued. */
    for (size_t i = 0; i < context.n; i++) {
        char *item = context.v[i];
        char *slash = strchr(item, '/'), *eq = strchr(item, '=');
        *slash = '\0';
        *eq = '\0';
        sw_err_t cerr = { 0 };
        if (!cli_redis(cli)) {
            rc = EXIT_UNREACHABLE;
            goto out;
        }
        if (sw_memory_store(cli->redis, item, slash + 1, eq + 1, strlen(eq + 1), NULL, &cerr) < 0) {
            rc = cli_fail(cerr.code == SW_EINVAL ? EXIT_USAGE : EXIT_UNREACHABLE,
                          "spawn: --context %s/%s: %s", item, slash + 1, cerr.msg);
            goto out;
        }
    }
    bool ns_given = t.ns && strcmp(t.ns, "results") != 0;
    if (!ns_given) {
        free(t.ns);
        t.ns = NULL;            /*  the job's namespace applies */
    }
    s_req_t r;
    s_req_init(&r);
    msgpack_pack_map(&r.pk, 2);
    sw_mp_kv_str(&r.pk, "job", job);
    sw_mp_pack_str(&r.pk, "tasks");
    msgpack_pack_array(&r.pk, 1);
    sw_task_pack(&r.pk, &t);
    sw_msg_t reply;
    rc = s_call(cli, SW_C_SUBMIT, &r, cli->timeout_ms, &reply);
    if (rc == 0) {
        char buf[256];
        if (cli->json) {
            json_t *j = cli_mp_to_json(reply.body);
            json_object_set_new(j, "id", json_string(t.id));
            cli_print_json(j);
        }
        else
            printf("spawned %s in job %s\n", t.id, s_get_str(reply.body, "job", buf, sizeof buf));
        sw_msg_release(&reply);
    }
out:
    sw_task_release(&t);
    sw_strv_release(&context);
    free(job);
    return rc;
}

/*  --- wait ------------------------------------------------------------------------ */

/*  One WAIT: the job (NULL: current), the ids (none: every task), how long
 *  the coordinator may hold it, and the cursor (-1: list every task). */
static int
s_wait_call(cli_t *cli, const char *job, char **ids, int nids, int64_t max_ms, int64_t since,
            sw_msg_t *reply)
{
    s_req_t r;
    s_req_init(&r);
    msgpack_pack_map(&r.pk, since >= 0 ? 4 : 3);
    sw_mp_kv_str(&r.pk, "job", job);
    sw_mp_pack_str(&r.pk, "ids");
    msgpack_pack_array(&r.pk, (size_t) nids);
    for (int i = 0; i < nids; i++)
        sw_mp_pack_str(&r.pk, ids[i]);
    sw_mp_kv_int(&r.pk, "max_ms", max_ms);
    if (since >= 0)
        sw_mp_kv_int(&r.pk, "since", since);
    return s_call(cli, SW_C_WAIT, &r, (int) max_ms + cli->timeout_ms, reply);
}

static const char s_wait_usage[] =
    "usage: swarm wait [--job JOB] [--timeout S] [ID...]\n"
    "Waits until the named tasks (default: every task of the job) are finished.\n"
    "Shows a live progress line on a terminal, one line per finished task\n"
    "otherwise. Exit 0 when all succeeded, 1 when any failed, timed out, was\n"
    "cancelled, lost or skipped, 124 when --timeout expired first.\n";

static void
s_task_line(const msgpack_object *t, int64_t now_wall)
{
    char id[160], st[32], agent[160], rbuf[200];
    int64_t started = s_get_int(t, "started"), finished = s_get_int(t, "finished");
    char dur[32];
    cli_duration(started ? (finished ? finished : now_wall) - started : -1, dur, sizeof dur);
    const char *reason = s_get_str(t, "reason", rbuf, sizeof rbuf);
    printf("%-10s %-28s %-16s %7s  attempt %lld%s%s\n", s_get_str(t, "status", st, sizeof st),
           s_get_str(t, "id", id, sizeof id), s_get_str(t, "agent", agent, sizeof agent), dur,
           (long long) s_get_int(t, "attempt"), reason[0] ? "  " : "", reason);
}

static void
s_counts_text(const msgpack_object *body, char *out, size_t n)
{
    const msgpack_object *counts = sw_mp_find(body, "counts");
    size_t len = 0;
    out[0] = '\0';
    for (uint32_t i = 0; counts && counts->type == MSGPACK_OBJECT_MAP && i < counts->via.map.size; i++) {
        const msgpack_object *v = &counts->via.map.ptr[i].val;
        if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 == 0)
            continue;
        const msgpack_object *k = &counts->via.map.ptr[i].key;
        len += (size_t) snprintf(out + len, len < n ? n - len : 0, "%s%llu %.*s",
                                 len ? ", " : "", (unsigned long long) v->via.u64,
                                 (int) k->via.str.size, k->via.str.ptr);
    }
}

static int
cli_wait(cli_t *cli, int argc, char **argv)
{
    static const struct option lo[] = {
        { "job", required_argument, NULL, 'j' }, { "timeout", required_argument, NULL, 'T' },
        { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
    };
    const char *job = NULL;
    long long timeout_s = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
        switch (c) {
        case 'j': job = optarg; break;
        case 'T':
            if (sw_parse_int(optarg, 1, 30 * 86400, &timeout_s) < 0)
                return cli_fail(EXIT_USAGE, "wait: --timeout wants seconds, got '%s'", optarg);
            break;
        case 'h': fputs(s_wait_usage, stdout); return 0;
        default: return s_bad_option("wait", argv);
        }
    }
    bool tty = !cli->json && !cli->quiet && isatty(STDOUT_FILENO);
    int64_t t0 = sw_now_ms();
    int64_t deadline = timeout_s ? t0 + timeout_s * 1000 : INT64_MAX;
    int64_t since = 0;                  /*  the job's final_seq we have seen */
    int bad = 0;                        /*  final, not succeeded */
    int rc = 0;
    sw_msg_t reply;
    bool have = false;
    for (;;) {
        int64_t left = deadline - sw_now_ms();
        int64_t max_ms = left < 1000 ? (left > 0 ? left : 0) : 1000;
        if (have)
            sw_msg_release(&reply);
        rc = s_wait_call(cli, job, argv + optind, argc - optind, max_ms, since, &reply);
        have = rc == 0;
        if (rc)
            break;
        bool done = false;
        sw_err_t err = { 0 };
        sw_mp_bool(reply.body, "done", true, &done, &err);
        since = s_get_int(reply.body, "seq");
        /*  Only the tasks that became final since the last reply. */
        const msgpack_object *tasks = sw_mp_find(reply.body, "tasks");
        int64_t now_wall = sw_wall_ms();
        for (uint32_t i = 0; tasks && tasks->type == MSGPACK_OBJECT_ARRAY
                             && i < tasks->via.array.size; i++) {
            const msgpack_object *t = &tasks->via.array.ptr[i];
            char st[32];
            int s = sw_tstate_parse(s_get_str(t, "status", st, sizeof st));
            if (s < 0 || !SW_TS_FINAL(s))
                continue;
            bad += s != SW_TS_SUCCEEDED;
            if (!tty && !cli->json && !cli->quiet)
                s_task_line(t, now_wall);
        }
        if (tty) {
            char counts[512], el[32];
            s_counts_text(reply.body, counts, sizeof counts);
            cli_duration(sw_now_ms() - t0, el, sizeof el);
            printf("\r\033[K[%s] %lld/%lld finished  %s", el,
                   (long long) s_get_int(reply.body, "final"),
                   (long long) s_get_int(reply.body, "total"), counts);
            fflush(stdout);
        }
        if (done)
            break;
        if (sw_now_ms() >= deadline) {
            rc = EXIT_TIMEOUT;
            break;
        }
    }
    if (tty)
        putchar('\n');
    if (have) {
        bool timed_out = rc == EXIT_TIMEOUT;
        if (cli->quiet)
            ;
        else if (cli->json) {
            /*  The document lists every task: ask once more, for all. */
            sw_msg_t full;
            if (s_wait_call(cli, job, argv + optind, argc - optind, 0, -1, &full) == 0) {
                json_t *j = cli_mp_to_json(full.body);
                json_object_set_new(j, "timed_out", json_boolean(timed_out));
                cli_print_json(j);
                sw_msg_release(&full);
            }
            else
                rc = EXIT_UNREACHABLE;
        }
        else {
            char text[512], jb[256];
            s_counts_text(reply.body, text, sizeof text);
            printf("job %s: %lld/%lld finished%s%s\n", s_get_str(reply.body, "job", jb, sizeof jb),
                   (long long) s_get_int(reply.body, "final"),
                   (long long) s_get_int(reply.body, "total"), text[0] ? ": " : "", text);
        }
        if (timed_out)
            cli_fail(EXIT_TIMEOUT, "wait: --timeout %lld s expired before the tasks finished",
                     timeout_s);
        else if (bad && rc == 0) {
            cli_fail(EXIT_TASKS_FAILED, "%d task%s did not succeed (swarm results for details)",
                     bad, bad == 1 ? "" : "s");
            rc = EXIT_TASKS_FAILED;
        }
        sw_msg_release(&reply);
    }
    return rc;
}

/*  --- status / agents -------------------------------------------------------------- */

static const char s_status_usage[] =
    "usage: swarm status [--job JOB]\n"
    "The cluster (agents, slots, queue) and the job's tasks (default: current job).\n";

static int
cli_status(cli_t *cli, int argc, char **argv)
{
    static const struct option lo[] = {
        { "job", required_argument, NULL, 'j' }, { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *job = NULL;
    int c;
    while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
        switch (c) {
        case 'j': job = optarg; break;
        case 'h': fputs(s_status_usage, stdout); return 0;
        default: return s_bad_option("status", argv);
        }
    }
    if (optind < argc)
        return s_usage(s_status_usage);
    s_req_t r;
    s_req_init(&r);
    msgpack_pack_map(&r.pk, job ? 1 : 0);
    if (job)
        sw_mp_kv_str(&r.pk, "job", job);
    sw_msg_t reply;
    int rc = s_call(cli, SW_C_STATUS, &r, cli->timeout_ms, &reply);
    if (rc)
        return rc;
    if (cli->json) {
        cli_print_json(cli_mp_to_json(reply.body));
        sw_msg_release(&reply);
        return 0;
    }
    const msgpack_object *b = reply.body;
    char buf[256];
    bool insecure = false;
    sw_err_t err = { 0 };
    sw_mp_bool(b, "insecure", false, &insecure, &err);
    printf("coordinator %s: %lld agents, %lld slots (%lld busy), %lld queued%s\n",
           cli->coordinator, (long long) s_get_int(b, "agents"),
           (long long) s_get_int(b, "slots"), (long long) s_get_int(b, "busy"),
           (long long) s_get_int(b, "queued"),
           insecure ? "  [WARNING: --insecure, agents are not authenticated]" : "");
    if (s_get_int(b, "dropped"))
        printf("  %lld malformed messages dropped\n", (long long) s_get_int(b, "dropped"));
    const msgpack_object *tasks = sw_mp_find(b, "tasks");
    if (!tasks) {
        printf("no current job (swarm init)\n");
        sw_msg_release(&reply);
        return 0;
    }
    char counts[512];
    s_counts_text(b, counts, sizeof counts);
    printf("job %s: %u tasks%s%s\n", s_get_str(b, "job", buf, sizeof buf),
           tasks->via.array.size, counts[0] ? ": " : "", counts);
    int64_t now = sw_wall_ms();
    for (uint32_t i = 0; tasks->type == MSGPACK_OBJECT_ARRAY && i < tasks->via.array.size; i++)
        s_task_line(&tasks->via.array.ptr[i], now);
    sw_msg_release(&reply);
    return 0;
}

/*  A request about one agent ({agent: NAME}): DRAIN, REVOKE. */
static int
s_agent_call(cli_t *cli, int cmd, const char *agent, sw_msg_t *reply)
{
    s_req_t r;
    s_req_init(&r);
    msgpack_pack_map(&r.pk, 1);
    sw_mp_kv_str(&r.pk, "agent", agent);
    return s_call(cli, cmd, &r, cli->timeout_ms, reply);
}

static int
cli_agents(cli_t *cli, int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "revoke") == 0) {
        sw_msg_t reply;
        int rc = s_agent_call(cli, SW_C_REVOKE, argv[2], &reply);
        if (rc)
            return rc;
        if (cli->json)
            cli_print_json(cli_mp_to_json(reply.body));
        else {
            char key[64];
            printf("revoked %s (key %s): cut off, %lld task(s) requeued; it cannot register "
                   "again.\nDelete its certificate from --allowed-agents too, so that its "
                   "handshakes are refused.\n", argv[2], s_get_str(reply.body, "key", key, sizeof key),
                   (long long) s_get_int(reply.body, "requeued"));
        }
        sw_msg_release(&reply);
        return 0;
    }
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        puts("usage: swarm agents [revoke NAME]\nThe registered agents: host, the address they "
             "connect from, slots, running\ntasks, labels, runners. revoke cuts agent NAME off "
             "for good (CURVE): its\ntasks run elsewhere and its key cannot register again, "
             "even after a restart.");
        return 0;
    }
    if (argc > 1)
        return cli_fail(EXIT_USAGE, "agents: unexpected argument '%s'", argv[1]);
    s_req_t r;
    s_req_init(&r);
    msgpack_pack_map(&r.pk, 0);
    sw_msg_t reply;
    int rc = s_call(cli, SW_C_AGENTS, &r, cli->timeout_ms, &reply);
    if (rc)
        return rc;
    const msgpack_object *agents = sw_mp_find(reply.body, "agents");
    if (cli->json) {
        cli_print_json(agents ? cli_mp_to_json(agents) : json_array());
        sw_msg_release(&reply);
        return 0;
    }
    printf("%-20s %-20s %-15s %5s %7s %9s  %-24s %s\n", "AGENT", "HOST", "ADDRESS", "SLOTS",
           "RUNNING", "COMPLETED", "RUNNERS", "LABELS");
    for (uint32_t i = 0; agents && i < agents->via.array.size; i++) {
        const msgpack_object *a = &agents->via.array.ptr[i];
        char id[200] = "", host[160], addr[64], runners[128] = "", labels[256] = "";
        const msgpack_object *rv = sw_mp_find(a, "runners");
        for (uint32_t k = 0; rv && rv->type == MSGPACK_OBJECT_ARRAY && k < rv->via.array.size; k++)
            snprintf(runners + strlen(runners), sizeof runners - strlen(runners), "%s%.*s",
                     k ? "," : "", (int) rv->via.array.ptr[k].via.str.size,
                     rv->via.array.ptr[k].via.str.ptr);
        const msgpack_object *lv = sw_mp_find(a, "labels");
        for (uint32_t k = 0; lv && lv->type == MSGPACK_OBJECT_MAP && k < lv->via.map.size; k++)
            snprintf(labels + strlen(labels), sizeof labels - strlen(labels), "%s%.*s=%.*s",
                     k ? "," : "", (int) lv->via.map.ptr[k].key.via.str.size,
                     lv->via.map.ptr[k].key.via.str.ptr,
                     (int) lv->via.map.ptr[k].val.via.str.size, lv->via.map.ptr[k].val.via.str.ptr);
        bool draining = false;
        sw_err_t derr = { 0 };
        sw_mp_bool(a, "draining", false, &draining, &derr);
        s_get_str(a, "id", id, sizeof id - 12);
        if (draining)
            strcat(id, " (draining)");
        printf("%-20s %-20s %-15s %5lld %7lld %9lld  %-24s %s\n", id,
               s_get_str(a, "host", host, sizeof host), s_get_str(a, "address", addr, sizeof addr),
               (long long) s_get_int(a, "slots"),
               (long long) s_get_int(a, "running"), (long long) s_get_int(a, "completed"),
               runners, labels[0] ? labels : "-");
    }
    if (!agents || agents->via.array.size == 0)
        printf("(no agents registered)\n");
    sw_msg_release(&reply);
    return 0;
}

/*  --- drain ----------------------------------------------------------------------- */

static int
cli_drain(cli_t *cli, int argc, char **argv)
{
    static const char usage[] =
        "usage: swarm drain AGENT\n"
        "The agent takes no new tasks, finishes those it runs, then leaves (its\n"
        "process exits 0). Its other queued work goes to the other agents.\n";
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(usage, stdout);
        return 0;
    }
    if (argc != 2)
        return cli_fail(EXIT_USAGE, "drain: name one agent (swarm agents lists them)");
    sw_msg_t reply;
    int rc = s_agent_call(cli, SW_C_DRAIN, argv[1], &reply);
    if (rc)
        return rc;
    if (cli->json)
        cli_print_json(cli_mp_to_json(reply.body));
    else
        printf("draining %s: %lld task(s) still running; it leaves when they are done\n",
               argv[1], (long long) s_get_int(reply.body, "running"));
    sw_msg_release(&reply);
    return 0;
}

/*  --- keygen ---------------------------------------------------------------------- */

static int
cli_keygen(cli_t *cli, int argc, char **argv)
{
    static const char usage[] =
        "usage: swarm keygen [--dir DIR] [--force] NAME\n"
        "Writes a CurveZMQ certificate pair: DIR/NAME.cert (the public key: copy it\n"
        "to the coordinator's --allowed-agents directory, or to the agents as\n"
        "--coordinator-key) and DIR/NAME.cert_secret (mode 0600: it stays on its\n"
        "machine). DIR defaults to the current directory; an existing pair is kept\n"
        "unless --force.\n";
    static const struct option lo[] = {
        { "dir", required_argument, NULL, 'd' }, { "force", no_argument, NULL, 'f' },
        { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
    };
    const char *dir = ".";
    bool force = false;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "+d:fh", lo, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 'f': force = true; break;
        case 'h': fputs(usage, stdout); return 0;
        default: return s_bad_option("keygen", argv);
        }
    }
    if (argc - optind != 1)
        return cli_fail(EXIT_USAGE, "keygen: give one NAME (swarm keygen --help)");
    const char *name = argv[optind];
    char pub[41];
    sw_err_t err = { 0 };
    if (sw_curve_keygen(dir, name, force, pub, &err) < 0)
        return cli_fail(err.code == SW_EINVAL ? EXIT_USAGE : 1, "keygen: %s", err.msg);
    if (cli->json) {
        char *p = xasprintf("%s/%s.cert", dir, name), *q = xasprintf("%s/%s.cert_secret", dir, name);
        cli_print_json(json_pack("{s:s, s:s, s:s, s:s}", "name", name, "public_key", pub,
                                 "cert", p, "cert_secret", q));
        free(p);
        free(q);
    }
    else
        printf("wrote %s/%s.cert (public key %s)\n  and %s/%s.cert_secret (keep it secret)\n",
               dir, name, pub, dir, name);
    return 0;
}

/*  --- cancel ---------------------------------------------------------------------- */

static int
cli_cancel(cli_t *cli, int argc, char **argv)
{
    static const char usage[] =
        "usage: swarm cancel (--job JOB | [--job JOB] ID...)\n"
        "Cancels every unfinished task of JOB, or the named tasks (of the current job\n"
        "unless --job). Queued tasks never start; running ones get their stop signal.\n";
    static const struct option lo[] = {
        { "job", required_argument, NULL, 'j' }, { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *job = NULL;
    int c;
    while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
        switch (c) {
        case 'j': job = optarg; break;
        case 'h': fputs(usage, stdout); return 0;
        default: return s_bad_option("cancel", argv);
        }
    }
    if (!job && optind >= argc)
        return cli_fail(EXIT_USAGE, "cancel: name a job (--job JOB) or task ids");
    s_req_t r;
    s_req_init(&r);
    msgpack_pack_map(&r.pk, 2);
    sw_mp_kv_str(&r.pk, "job", job);
    sw_mp_pack_str(&r.pk, "ids");
    msgpack_pack_array(&r.pk, (size_t) (argc - optind));
    for (int i = optind; i < argc; i++)
        sw_mp_pack_str(&r.pk, argv[i]);
    sw_msg_t reply;
    int rc = s_call(cli, SW_C_CANCEL, &r, cli->timeout_ms, &reply);
    if (rc)
        return rc;
    char buf[256];
    if (cli->json)
        cli_print_json(cli_mp_to_json(reply.body));
    else
        printf("cancelled %lld task(s) in job %s\n", (long long) s_get_int(reply.body, "cancelled"),
               s_get_str(reply.body, "job", buf, sizeof buf));
    sw_msg_release(&reply);
    return 0;
}

/*  --- run ------------------------------------------------------------------------ */

static const char s_run_usage[] =
    "usage: swarm run PLAN.yaml [--wait] [--dry-run] [--job JOB] [--timeout S] [--markdown]\n"
    "       swarm run --decompose GOAL [--workers N] [--wait] [--dry-run] [--job JOB]\n"
    "       swarm run --commands FILE|- [--label K=V]... [--halt-on-failure]\n"
    "                 [--max-agents N] [--task-timeout S] [--wait] [--dry-run] [--job JOB]\n"
    "Compiles a plan (workers:, stages: or steps:; see README) or a command list\n"
    "(one command per line, split like a shell but never run by one) into tasks,\n"
    "checks all of it first (errors say FILE:LINE:COLUMN, exit 2), then submits\n"
    "it as a new job. --dry-run prints the tasks in dependency order instead.\n"
    "--decompose asks codex once (read-only, with a JSON schema for a plan) to\n"
    "split GOAL into at most N typed sub-tasks, checks its plan like a file's,\n"
    "shows it and runs it in the same job (--dry-run: shows it only).\n"
    "--wait waits (as swarm wait) and prints the report (as swarm results);\n"
    "the exit code is then 0 only when every task succeeded (124: --timeout).\n"
    "Workspaces: [--workspace DIR [--repo-url URL] [--max-snapshot SIZE]\n"
    "[--max-file SIZE]] [--outputs GLOB]... --workspace (or the plan's\n"
    "workspace: key, a directory relative to the plan file; tasks may have their\n"
    "own) is the job's workspace; --outputs adds output globs to every task.\n"
    CLI_WS_USAGE;

static char *
s_slurp(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f)
        return NULL;
    sw_buf_t b;
    sw_buf_init(&b);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        sw_buf_add(&b, buf, n);
    if (f != stdin)
        fclose(f);
    if (!b.data)
        sw_buf_add(&b, "", 0);
    *len = b.len;
    return b.data;
}

/*  The plan codex must answer with when it decomposes a goal. Strict, as
 *  structured outputs want it: every property required, no others. */
static const char s_plan_schema[] =
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"name\",\"workers\"],"
    "\"properties\":{\"name\":{\"type\":\"string\"},\"workers\":{\"type\":\"array\","
    "\"items\":{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"id\",\"type\",\"task\",\"depends_on\"],\"properties\":{"
    "\"id\":{\"type\":\"string\"},\"type\":{\"type\":\"string\",\"enum\":[\"architect\","
    "\"coder\",\"tester\",\"reviewer\",\"docs\"]},\"task\":{\"type\":\"string\"},"
    "\"depends_on\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}}}}}}";

static int cli_wait(cli_t *cli, int argc, char **argv);

/*  Runs the decomposition task in job and parses its answer into plan.
 *  0, or an exit code after printing why (the model's text is kept). */
static int
s_decompose(cli_t *cli, const char *job, const char *goal, long long workers, sw_plan_t *plan)
{
    sw_task_t t;
    sw_task_init(&t);
    t.id = xstrdup("decompose");
    t.type = xstrdup("architect");
    t.runner = xstrdup("codex");
    t.timeout_s = 600;
    t.max_attempts = 2;
    t.output_schema = xstrdup(s_plan_schema);
    t.prompt = xasprintf(
        "Split this goal into at most %lld sub-tasks for a team of coding agents that work in "
        "parallel where they can. Answer with JSON only, matching the schema: a short name, "
        "and workers, each with an id (lower-case letters, digits and dashes, unique), a type "
        "(architect, coder, tester, reviewer or docs), the task text that worker will be given, "
        "and depends_on (the ids that must succeed before it starts; [] when none). No cycles.\n"
        "\nGoal: %s\n", workers, goal);
    s_req_t r;
    s_req_init(&r);
    msgpack_pack_map(&r.pk, 2);
    sw_mp_kv_str(&r.pk, "job", job);
    sw_mp_pack_str(&r.pk, "tasks");
    msgpack_pack_array(&r.pk, 1);
    sw_task_pack(&r.pk, &t);
    sw_task_release(&t);
    sw_msg_t reply;
    int rc = s_call(cli, SW_C_SUBMIT, &r, cli->timeout_ms, &reply);
    if (rc)
        return rc;
    sw_msg_release(&reply);
    if (!cli->json)
        fprintf(stderr, "swarm: asking codex to decompose the goal (job %s) ...\n", job);
    char *wargv[] = { "wait", "--job", (char *) job, "decompose", NULL };
    bool quiet = cli->quiet;
    cli->quiet = true;
    optind = 0;
    rc = cli_wait(cli, 4, wargv);
    cli->quiet = quiet;
    if (rc == EXIT_TASKS_FAILED)
        return cli_fail(rc, "run: the decomposition failed (swarm logs --job %s decompose)", job);
    if (rc)
        return rc;
    if (!cli_redis(cli))
        return EXIT_UNREACHABLE;
    char *key = sw_key_task(job, "decompose");
    sw_err_t err = { 0 };
    redisReply *res = sw_redis_cmdv(cli->redis, &err, "HGET", key, "result", NULL);
    free(key);
    if (!res)
        return cli_fail(EXIT_UNREACHABLE, "%s", err.msg);
    json_t *doc = res->type == REDIS_REPLY_STRING ? json_loads(res->str, 0, NULL) : NULL;
    freeReplyObject(res);
    const char *text = json_string_value(json_object_get(doc, "output"));
    sw_strv_t errors = { 0 };
    if (!text || sw_plan_parse("codex-plan", text, strlen(text), plan, &errors) < 0) {
        /*  Keep what the model said, for whoever has to look into it. */
        if (text)
            sw_memory_store(cli->redis, "decompose", job, text, strlen(text), NULL, &err);
        for (size_t i = 0; i < errors.n; i++)
            fprintf(stderr, "%s\n", errors.v[i]);
        rc = cli_fail(EXIT_TASKS_FAILED, "run: codex answered with a plan that is not valid; "
                      "nothing was run. Its text: swarm memory get --namespace decompose %s", job);
    }
    sw_strv_release(&errors);
    json_decref(doc);
    return rc;
}

/*  NAME-YYYYmmdd-HHMMSS from a plan name or file name, as a valid job id. */
static char *
s_run_job_name(const char *name)
{
    char base[64];
    size_t n = 0;
    const char *dot = strrchr(name, '.');       /*  plan.yaml -> plan */
    for (const char *p = name; *p && p != dot && n < 40; p++) {
        char ch = (char) tolower((unsigned char) *p);
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_';
        if (ok)
            base[n++] = ch;
        else if (n && base[n - 1] != '-')
            base[n++] = '-';
    }
    while (n && (base[n - 1] == '-' || base[n - 1] == '.'))
        n--;
    base[n] = '\0';
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    return xasprintf("%s-%s", n && base[0] != '.' ? base : "run", stamp);
}

static void
s_print_dag(const sw_plan_t *p, const char *job, bool json, bool dry)
{
    if (json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < p->n; i++) {
            const sw_task_t *t = &p->tasks[i].task;
            json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I}", "id", t->id, "type", t->type,
                                  "runner", t->runner, "timeout_s", (json_int_t) t->timeout_s,
                                  "max_attempts", (json_int_t) t->max_attempts);
            json_t *after = json_array(), *argv = json_array();
            for (size_t k = 0; k < t->after.n; k++)
                json_array_append_new(after, json_string(t->after.v[k]));
            for (size_t k = 0; k < t->argv.n; k++)
                json_array_append_new(argv, json_string(t->argv.v[k]));
            json_object_set_new(o, "after", after);
            if (t->argv.n)
                json_object_set_new(o, "argv", argv);
            else
                json_decref(argv);
            if (t->prompt)
                json_object_set_new(o, "prompt", json_string(t->prompt));
            if (t->max_turns)
                json_object_set_new(o, "max_turns", json_integer((json_int_t) t->max_turns));
            if (t->max_budget_cents)
                json_object_set_new(o, "max_budget_usd",
                                    json_real((double) t->max_budget_cents / 100));
            json_array_append_new(arr, o);
        }
        cli_print_json(json_pack("{s:s, s:I, s:s, s:I, s:o}", "job", job,
                                 "max_agents", (json_int_t) p->max_agents,
                                 "on_failure", p->halt ? "stop" : "continue",
                                 "count", (json_int_t) p->n, "tasks", arr));
        return;
    }
    printf("job %s: %zu task%s, max_agents %lld, on_failure %s%s\n", job, p->n,
           p->n == 1 ? "" : "s", (long long) p->max_agents, p->halt ? "stop" : "continue",
           dry ? " (dry run: nothing submitted)" : "");
    for (size_t i = 0; i < p->n; i++) {
        const sw_task_t *t = &p->tasks[i].task;
        char what[40];
        snprintf(what, sizeof what, "%s/%s", t->type, t->runner);
        printf("  %-24s %-18s", t->id, what);
        if (t->after.n) {
            printf(" after ");
            for (size_t k = 0; k < t->after.n; k++)
                printf("%s%s", k ? "," : "", t->after.v[k]);
        }
        for (size_t k = 0; k < t->labels.n; k++)
            printf(" %s=%s", t->labels.k[k], t->labels.v[k]);
        if (t->argv.n) {
            printf("  $");
            for (size_t k = 0; k < t->argv.n; k++)
                printf(" %s", t->argv.v[k]);
        }
        else if (t->prompt) {
            /*  the task's own words, not the template around them */
            const char *task = strstr(t->prompt, "Your task: ");
            task = task ? task + 11 : t->prompt;
            int n = (int) strcspn(task, "\n");
            printf("  \"%.*s%s\"", n > 60 ? 60 : n, task, n > 60 ? "..." : "");
        }
        putchar('\n');
    }
}

static int
cli_run(cli_t *cli, int argc, char **argv)
{
    static const struct option lo[] = {
        { "wait", no_argument, NULL, 'w' }, { "dry-run", no_argument, NULL, 'n' },
        { "job", required_argument, NULL, 'j' }, { "timeout", required_argument, NULL, 'T' },
        { "markdown", no_argument, NULL, 'm' }, { "commands", required_argument, NULL, 'c' },
        { "label", required_argument, NULL, 'l' }, { "halt-on-failure", no_argument, NULL, 'H' },
        { "max-agents", required_argument, NULL, 'M' },
        { "task-timeout", required_argument, NULL, 't' }, { "help", no_argument, NULL, 'h' },
        { "decompose", required_argument, NULL, 'D' }, { "workers", required_argument, NULL, 'W' },
        { "outputs", required_argument, NULL, 'O' }, CLI_WS_LONGOPTS, { NULL, 0, NULL, 0 },
    };
    cli_ws_opts_t wso = { 0 };
    sw_strv_t outputs = { 0 };
    sw_task_ws_t job_ws = { 0 };
    bool wait = false, dry = false, markdown = false, halt = false;
    const char *jobflag = NULL, *commands = NULL, *timeout = NULL, *goal = NULL;
    long long max_agents = -1, task_timeout = 0, workers = 4, v;
    sw_kv_t labels = { 0 };
    int c, rc = 0;
    while (rc == 0 && (c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
        switch (c) {
        case 'w': wait = true; break;
        case 'n': dry = true; break;
        case 'j': jobflag = optarg; break;
        case 'T':
            if (sw_parse_int(optarg, 1, 30 * 86400, &v) < 0)
                rc = cli_fail(EXIT_USAGE, "run: --timeout wants seconds, got '%s'", optarg);
            timeout = optarg;
            break;
        case 'm': markdown = true; break;
        case 'c': commands = optarg; break;
        case 'l': rc = s_kv_arg("run", "--label", optarg, &labels); break;
        case 'H': halt = true; break;
        case 'M':
            if (sw_parse_int(optarg, 0, 100000, &max_agents) < 0)
                rc = cli_fail(EXIT_USAGE, "run: --max-agents wants a number, got '%s'", optarg);
            break;
        case 't':
            if (sw_parse_int(optarg, 1, 7 * 86400, &task_timeout) < 0)
                rc = cli_fail(EXIT_USAGE, "run: --task-timeout wants seconds, got '%s'", optarg);
            break;
        case 'D': goal = optarg; break;
        case 'O': sw_strv_push(&outputs, optarg); break;
        case CLI_WS_WORKSPACE: case CLI_WS_REPO_URL: case CLI_WS_MAX_SNAPSHOT: case CLI_WS_MAX_FILE:
            rc = cli_ws_option("run", c, optarg, &wso);
            break;
        case 'W':
            if (sw_parse_int(optarg, 1, 100, &workers) < 0)
                rc = cli_fail(EXIT_USAGE, "run: --workers wants 1 to 100, got '%s'", optarg);
            break;
        case 'h': fputs(s_run_usage, stdout); rc = -1; break;
        default: rc = s_bad_option("run", argv);
        }
    }
    if (rc == 0 && goal && (commands || optind < argc))
        rc = cli_fail(EXIT_USAGE, "run: give a PLAN, --commands or --decompose, not several");
    if (rc) {
        sw_kv_release(&labels);
        sw_strv_release(&outputs);
        return rc < 0 ? 0 : rc;
    }
    sw_plan_t plan;
    char *job = NULL;
    if (goal) {
        if (!*goal) {
            sw_kv_release(&labels);
            sw_strv_release(&outputs);
            return cli_fail(EXIT_USAGE, "run: --decompose wants a goal");
        }
        job = jobflag ? xstrdup(jobflag) : s_run_job_name(goal);
        if (!sw_id_valid(job))
            rc = cli_fail(EXIT_USAGE, "run: invalid job name '%s'", job);
        s_req_t r;
        s_req_init(&r);
        msgpack_pack_map(&r.pk, 1);
        sw_mp_kv_str(&r.pk, "job", job);
        sw_msg_t reply;
        if (rc == 0 && (rc = cli_request(cli, SW_C_INIT, &r.sb, cli->timeout_ms, &reply)) == 0)
            sw_msg_release(&reply);
        msgpack_sbuffer_destroy(&r.sb);
        if (rc == 0)
            rc = s_decompose(cli, job, goal, workers, &plan);
        if (rc) {
            sw_kv_release(&labels);
            sw_strv_release(&outputs);
            free(job);
            return rc;
        }
        goto compiled;
    }
    const char *file = commands ? commands : optind < argc ? argv[optind] : NULL;
    if (!file || argc - optind > (commands ? 0 : 1)) {
        sw_kv_release(&labels);
        sw_strv_release(&outputs);
        fputs(s_run_usage, stderr);
        return EXIT_USAGE;
    }
    size_t len;
    char *text = s_slurp(file, &len);
    if (!text) {
        sw_kv_release(&labels);
        sw_strv_release(&outputs);
        return cli_fail(EXIT_USAGE, "run: cannot read %s: %s", file, strerror(errno));
    }
    sw_strv_t errors = { 0 };
    const char *shown = strcmp(file, "-") == 0 ? "stdin" : file;
    int prc = commands ? sw_plan_commands(shown, text, len, &plan, &errors)
                       : sw_plan_parse(shown, text, len, &plan, &errors);
    free(text);
    if (prc < 0) {
        for (size_t i = 0; i < errors.n; i++)
            fprintf(stderr, "%s\n", errors.v[i]);
        fprintf(stderr, "swarm: run: %s is not valid; nothing was submitted\n", shown);
        sw_strv_release(&errors);
        sw_kv_release(&labels);
        sw_strv_release(&outputs);
        return EXIT_USAGE;
    }
    sw_strv_release(&errors);
    {
        const char *base = plan.name ? plan.name
                         : strrchr(shown, '/') ? strrchr(shown, '/') + 1 : shown;
        job = jobflag ? xstrdup(jobflag) : s_run_job_name(base);
    }
compiled:
    if (halt)
        plan.halt = true;
    if (max_agents >= 0)
        plan.max_agents = max_agents;
    for (size_t i = 0; i < plan.n; i++) {
        sw_kv_copy(&plan.tasks[i].task.labels, &labels);
        if (task_timeout)
            plan.tasks[i].task.timeout_s = task_timeout;
    }
    sw_kv_release(&labels);
    for (size_t i = 0; i < plan.n; i++)
        for (size_t k = 0; k < outputs.n; k++)
            sw_strv_push(&plan.tasks[i].task.outputs, outputs.v[k]);
    sw_strv_release(&outputs);
    sw_plan_render(&plan);
    if (!sw_id_valid(job)) {
        rc = cli_fail(EXIT_USAGE, "run: invalid job name '%s'", job);
        goto out;
    }
    if (!dry && (rc = cli_ws_plan(cli, &plan, job, commands || goal ? NULL
                                  : argv[optind], &wso, &job_ws)) != 0)
        goto out;
    if (dry || (goal && !cli->json)) {
        s_print_dag(&plan, job, cli->json, dry);
        if (dry)
            goto out;
    }
    s_req_t r;
    s_req_init(&r);
    msgpack_pack_map(&r.pk, job_ws.commit ? 7 : 6);
    sw_mp_kv_str(&r.pk, "job", job);
    if (job_ws.commit) {
        sw_mp_pack_str(&r.pk, "workspace");
        sw_task_ws_pack(&r.pk, &job_ws);
    }
    sw_mp_kv_int(&r.pk, "max_agents", plan.max_agents);
    sw_mp_kv_str(&r.pk, "namespace", plan.ns);
    sw_mp_kv_str(&r.pk, "on_failure", plan.halt ? "stop" : "continue");
    sw_mp_kv_str(&r.pk, "topology", plan.topology);
    sw_mp_kv_str(&r.pk, "strategy", plan.strategy);
    sw_msg_t reply;
    rc = s_call(cli, SW_C_INIT, &r, cli->timeout_ms, &reply);
    if (rc)
        goto out;
    sw_msg_release(&reply);
    /*  In batches well under the frame cap; each batch only depends on
     *  earlier ones, since the plan is in dependency order. */
    for (size_t from = 0; rc == 0 && from < plan.n; from += 2000) {
        size_t n = plan.n - from < 2000 ? plan.n - from : 2000;
        s_req_init(&r);
        msgpack_pack_map(&r.pk, 2);
        sw_mp_kv_str(&r.pk, "job", job);
        sw_mp_pack_str(&r.pk, "tasks");
        msgpack_pack_array(&r.pk, n);
        for (size_t i = from; i < from + n; i++)
            sw_task_pack(&r.pk, &plan.tasks[i].task);
        rc = s_call(cli, SW_C_SUBMIT, &r, cli->timeout_ms + 5000, &reply);
        if (rc == 0)
            sw_msg_release(&reply);
    }
    if (rc)
        goto out;
    if (!wait) {
        if (cli->json)
            cli_print_json(json_pack("{s:s, s:I}", "job", job, "count", (json_int_t) plan.n));
        else
            printf("job %s: %zu task%s submitted (swarm wait --job %s; swarm results --job %s)\n",
                   job, plan.n, plan.n == 1 ? "" : "s", job, job);
        goto out;
    }
    if (!cli->json)
        printf("job %s: %zu task%s submitted\n", job, plan.n, plan.n == 1 ? "" : "s");
    char *wargv[] = { "wait", "--job", job, timeout ? "--timeout" : NULL, (char *) timeout, NULL };
    optind = 0;
    cli->quiet = cli->json;
    rc = cli_wait(cli, timeout ? 5 : 3, wargv);
    cli->quiet = false;
    if (!cli->json && !markdown)
        putchar('\n');
    char *rargv[] = { "results", "--job", job, markdown ? "--markdown" : NULL, NULL };
    optind = 0;
    int rrc = cli_results(cli, markdown ? 4 : 3, rargv);
    if (rc != EXIT_TIMEOUT)
        rc = rrc;
out:
    free(job);
    sw_plan_release(&plan);
    sw_task_ws_release(&job_ws);
    return rc;
}

/*  --- the module's entry point ------------------------------------------------ */

__attribute__((visibility("default"))) int
swarm_ctl_run(cli_t *cli, const char *cmd, int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(cli_t *, int, char **);
    } commands[] = {
        { "init", cli_init }, { "spawn", cli_spawn }, { "wait", cli_wait },
        { "status", cli_status }, { "agents", cli_agents }, { "cancel", cli_cancel },
        { "run", cli_run }, { "drain", cli_drain }, { "keygen", cli_keygen },
    };
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(cmd, commands[i].name) != 0)
            continue;
        zsys_handler_set(NULL);
        int rc = commands[i].fn(cli, argc, argv);
        zsock_t *sock = cli->sock, *monitor = cli->monitor;
        if (sock)
            zmq_socket_monitor(zsock_resolve(sock), NULL, 0);
        zsock_destroy(&monitor);
        zsock_destroy(&sock);
        cli->sock = cli->monitor = NULL;
        zsys_shutdown();
        return rc;
    }
    return -1;
}
