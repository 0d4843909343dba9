/*  cli_admin -- status, agents, drain, keygen, cancel: the coordinator
 *  commands about the cluster and a job's state. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_ctl.h"
#include "sw_curve.h"

/*  --- status / agents -------------------------------------------------------------- */

static const char s_status_usage[] =
    "usage: swarm status [--job JOB] [ID]\n"
    "The cluster (agents, slots, queue) and the job's tasks (default: current job).\n"
    "With a task ID: that task as Redis has it (status, attempt, agent, exit code,\n"
    "reason) and its last 10 events (swarm events --task ID shows them all).\n";

int
cli_status(cli_t *cli, int argc, char **argv)
{
    static const sw_arg_t lo[] = { { "job", 'j', true, 'j' }, { NULL, 0, false, 0 } };
    const char *job = NULL;
    int c, rc = 0;
    cli_args_t a;
    cli_args_init(&a, cli, "status", lo, argc, argv, 0);
    while (rc == 0 && (c = cli_args_next(&a)) != -1) {
        switch (c) {
        case 'j': job = a.g.arg; break;
        case 'h': fputs(s_status_usage, stdout); rc = -1; break;
        default: rc = EXIT_USAGE;
        }
    }
    if (rc == 0 && a.g.npos > 1)
        rc = cli_fail(EXIT_USAGE, "status: one task id at most, got '%s' too (see swarm status "
                      "--help)", a.g.pos[1]);
    char *id = rc == 0 && a.g.npos == 1 ? xstrdup(a.g.pos[0]) : NULL;
    cli_args_release(&a);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (id) {
        /*  one task: from Redis, with its last events */
        rc = cli_task_status(cli, job, id);
        free(id);
        return rc;
    }
    cli_req_t r;
    cli_req_init(&r);
    msgpack_pack_map(&r.pk, job ? 1 : 0);
    if (job)
        sw_mp_kv_str(&r.pk, "job", job);
    sw_msg_t reply;
    rc = cli_call(cli, SW_C_STATUS, &r, cli->timeout_ms, &reply);
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
           cli->coordinator, (long long) cli_mp_int(b, "agents"),
           (long long) cli_mp_int(b, "slots"), (long long) cli_mp_int(b, "busy"),
           (long long) cli_mp_int(b, "queued"),
           insecure ? "  [WARNING: --insecure, agents are not authenticated]" : "");
    if (cli_mp_int(b, "dropped"))
        printf("  %lld malformed messages dropped\n", (long long) cli_mp_int(b, "dropped"));
    const msgpack_object *tasks = sw_mp_find(b, "tasks");
    if (!tasks) {
        printf("no current job (swarm init)\n");
        sw_msg_release(&reply);
        return 0;
    }
    char counts[512];
    cli_counts_text(b, counts, sizeof counts);
    printf("job %s: %u tasks%s%s\n", cli_mp_str(b, "job", buf, sizeof buf),
           tasks->via.array.size, counts[0] ? ": " : "", counts);
    int64_t now = sw_wall_ms();
    for (uint32_t i = 0; tasks->type == MSGPACK_OBJECT_ARRAY && i < tasks->via.array.size; i++)
        cli_task_line(&tasks->via.array.ptr[i], now);
    sw_msg_release(&reply);
    return 0;
}

/*  A request about one agent ({agent: NAME}): DRAIN, REVOKE. */
static int
s_agent_call(cli_t *cli, int cmd, const char *agent, sw_msg_t *reply)
{
    cli_req_t r;
    cli_req_init(&r);
    msgpack_pack_map(&r.pk, 1);
    sw_mp_kv_str(&r.pk, "agent", agent);
    return cli_call(cli, cmd, &r, cli->timeout_ms, reply);
}

int
cli_agents(cli_t *cli, int argc, char **argv)
{
    cli_args_t args;
    int c, rc = 0;
    cli_args_init(&args, cli, "agents", NULL, argc, argv, 0);
    while (rc == 0 && (c = cli_args_next(&args)) != -1) {
        if (c == 'h') {
            puts("usage: swarm agents [revoke [--] NAME]\nThe registered agents: host, the "
                 "address they connect from, slots, running\ntasks, labels, runners. revoke "
                 "cuts agent NAME off for good (CURVE): its\ntasks run elsewhere and its key "
                 "cannot register again, even after a restart.");
            rc = -1;
        }
        else
            rc = EXIT_USAGE;
    }
    char *agent = NULL;
    if (rc == 0 && args.g.npos == 2 && strcmp(args.g.pos[0], "revoke") == 0)
        agent = xstrdup(args.g.pos[1]);
    else if (rc == 0 && args.g.npos == 1 && strcmp(args.g.pos[0], "revoke") == 0)
        rc = cli_fail(EXIT_USAGE, "agents: revoke needs NAME (swarm agents [revoke NAME])");
    else if (rc == 0 && args.g.npos > 0)
        rc = cli_fail(EXIT_USAGE, "agents: unexpected argument '%s' (swarm agents [revoke NAME])",
                      args.g.pos[strcmp(args.g.pos[0], "revoke") == 0 ? 2 : 0]);
    cli_args_release(&args);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (agent) {
        sw_msg_t reply;
        rc = s_agent_call(cli, SW_C_REVOKE, agent, &reply);
        if (rc == 0) {
            if (cli->json)
                cli_print_json(cli_mp_to_json(reply.body));
            else {
                char key[64];
                printf("revoked %s (key %s): cut off, %lld task(s) requeued; it cannot register "
                       "again.\nDelete its certificate from --allowed-agents too, so that its "
                       "handshakes are refused.\n", agent,
                       cli_mp_str(reply.body, "key", key, sizeof key),
                       (long long) cli_mp_int(reply.body, "requeued"));
            }
            sw_msg_release(&reply);
        }
        free(agent);
        return rc;
    }
    cli_req_t r;
    cli_req_init(&r);
    msgpack_pack_map(&r.pk, 0);
    sw_msg_t reply;
    rc = cli_call(cli, SW_C_AGENTS, &r, cli->timeout_ms, &reply);
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
        cli_mp_str(a, "id", id, sizeof id - 12);
        if (draining)
            strcat(id, " (draining)");
        printf("%-20s %-20s %-15s %5lld %7lld %9lld  %-24s %s\n", id,
               cli_mp_str(a, "host", host, sizeof host), cli_mp_str(a, "address", addr, sizeof addr),
               (long long) cli_mp_int(a, "slots"),
               (long long) cli_mp_int(a, "running"), (long long) cli_mp_int(a, "completed"),
               runners, labels[0] ? labels : "-");
    }
    if (!agents || agents->via.array.size == 0)
        printf("(no agents registered)\n");
    sw_msg_release(&reply);
    return 0;
}

/*  --- drain ----------------------------------------------------------------------- */

int
cli_drain(cli_t *cli, int argc, char **argv)
{
    static const char usage[] =
        "usage: swarm drain [--] AGENT\n"
        "The agent takes no new tasks, finishes those it runs, then leaves (its\n"
        "process exits 0). Its other queued work goes to the other agents.\n";
    cli_args_t a;
    int c, rc = 0;
    cli_args_init(&a, cli, "drain", NULL, argc, argv, 0);
    while (rc == 0 && (c = cli_args_next(&a)) != -1)
        rc = c == 'h' ? (fputs(usage, stdout), -1) : EXIT_USAGE;
    char *agent = rc == 0 && a.g.npos == 1 ? xstrdup(a.g.pos[0]) : NULL;
    cli_args_release(&a);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (!agent)
        return cli_fail(EXIT_USAGE, "drain: name one agent (swarm agents lists them)");
    sw_msg_t reply;
    rc = s_agent_call(cli, SW_C_DRAIN, agent, &reply);
    if (rc) {
        free(agent);
        return rc;
    }    if (cli->json)
        cli_print_json(cli_mp_to_json(reply.body));
    else
        printf("draining %s: %lld task(s) still running; it leaves when they are done\n",
               agent, (long long) cli_mp_int(reply.body, "running"));
    sw_msg_release(&reply);
    free(agent);
    return 0;
}

/*  --- keygen ---------------------------------------------------------------------- */

int
cli_keygen(cli_t *cli, int argc, char **argv)
{
    static const char usage[] =
        "usage: swarm keygen [--dir DIR] [--force] [--] NAME\n"
        "Writes a CurveZMQ certificate pair: DIR/NAME.cert (the public key: copy it\n"
        "to the coordinator's --allowed-agents directory, or to the agents as\n"
        "--coordinator-key) and DIR/NAME.cert_secret (mode 0600: it stays on its\n"
        "machine). DIR defaults to the current directory; an existing pair is kept\n"
        "unless --force.\n";
    static const sw_arg_t lo[] = {
        { "dir", 'd', true, 'd' }, { "force", 'f', false, 'f' }, { NULL, 0, false, 0 },
    };
    const char *dir = ".";
    bool force = false;
    int c, rc = 0;
    cli_args_t a;
    cli_args_init(&a, cli, "keygen", lo, argc, argv, 0);
    while (rc == 0 && (c = cli_args_next(&a)) != -1) {
        switch (c) {
        case 'd': dir = a.g.arg; break;
        case 'f': force = true; break;
        case 'h': fputs(usage, stdout); rc = -1; break;
        default: rc = EXIT_USAGE;
        }
    }
    char *name = rc == 0 && a.g.npos == 1 ? xstrdup(a.g.pos[0]) : NULL;
    cli_args_release(&a);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (!name)
        return cli_fail(EXIT_USAGE, "keygen: give one NAME (swarm keygen --help)");
    char pub[41];
    sw_err_t err = { 0 };
    if (sw_curve_keygen(dir, name, force, pub, &err) < 0) {
        free(name);
        return cli_fail(err.code == SW_EINVAL ? EXIT_USAGE : 1, "keygen: %s", err.msg);
    }
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
    free(name);
    return 0;
}

/*  --- cancel ---------------------------------------------------------------------- */

int
cli_cancel_call(cli_t *cli, const char *job, char **ids, int nids, sw_msg_t *reply)
{
    for (int i = 0; i < nids; i++)
        if (!sw_id_valid(ids[i]))
            return cli_fail(EXIT_USAGE, "cancel: invalid task id '%s'", ids[i]);
    cli_req_t r;
    cli_req_init(&r);
    msgpack_pack_map(&r.pk, 2);
    sw_mp_kv_str(&r.pk, "job", job);
    sw_mp_pack_str(&r.pk, "ids");
    msgpack_pack_array(&r.pk, (size_t) nids);
    for (int i = 0; i < nids; i++)
        sw_mp_pack_str(&r.pk, ids[i]);
    return cli_call(cli, SW_C_CANCEL, &r, cli->timeout_ms, reply);
}

int
cli_cancel(cli_t *cli, int argc, char **argv)
{
    static const char usage[] =
        "usage: swarm cancel (--job JOB | [--job JOB] [--] ID...)\n"
        "Cancels every unfinished task of JOB, or the named tasks (of the current job\n"
        "unless --job). Queued tasks never start; running ones get their stop signal.\n";
    static const sw_arg_t lo[] = { { "job", 'j', true, 'j' }, { NULL, 0, false, 0 } };
    const char *job = NULL;
    int c, rc = 0;
    cli_args_t a;
    cli_args_init(&a, cli, "cancel", lo, argc, argv, 0);
    while (rc == 0 && (c = cli_args_next(&a)) != -1) {
        switch (c) {
        case 'j': job = a.g.arg; break;
        case 'h': fputs(usage, stdout); rc = -1; break;
        default: rc = EXIT_USAGE;
        }
    }
    if (rc == 0 && !job && a.g.npos == 0)
        rc = cli_fail(EXIT_USAGE, "cancel: name a job (--job JOB) or task ids");
    sw_msg_t reply;
    if (rc == 0)
        rc = cli_cancel_call(cli, job, a.g.pos, a.g.npos, &reply);
    cli_args_release(&a);
    if (rc)
        return rc < 0 ? 0 : rc;
    char buf[256];
    if (cli->json)
        cli_print_json(cli_mp_to_json(reply.body));
    else
        printf("cancelled %lld task(s) in job %s\n", (long long) cli_mp_int(reply.body, "cancelled"),
               cli_mp_str(reply.body, "job", buf, sizeof buf));
    sw_msg_release(&reply);
    return 0;
}

