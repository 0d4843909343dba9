/*  cli_admin -- status, agents, drain, keygen, cancel: the coordinator
 *  commands about the cluster and a job's state. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_ctl.h"
#include "sw_curve.h"

/*  --- status / agents -------------------------------------------------------------- */

static const char s_status_usage[] =
    "usage: swarm status [--job JOB] [--all | --limit N] [ID]\n"
    "The cluster (agents, slots, queue) and the job (default: current job): its\n"
    "counts, then its most relevant tasks: running, failed, cancelled or skipped,\n"
    "queued, then succeeded (20 of them; --limit N shows N). --all lists every\n"
    "task in submit order. --json lists every task (in submit order) unless\n"
    "--limit N is given. Each farm-wide limit (swarm-coordinator --limit) shows\n"
    "its use and effective value; a task's runs the provider rate-limited show\n"
    "as '(+N rate-limited)' after its attempt.\n"
    "With a task ID: that task as Redis has it (status, attempt, agent, exit code,\n"
    "reason) and its last 10 events (swarm events --task ID shows them all).\n";

typedef struct {
    const char *job;
    const char *order;          /*  submit, relevant */
    int64_t     limit;          /*  rows per page */
} s_status_req_t;

static void
s_status_build(msgpack_packer *pk, void *arg, int64_t offset)
{
    const s_status_req_t *q = arg;
    msgpack_pack_map(pk, q->job ? 4 : 3);
    if (q->job)
        sw_mp_kv_str(pk, "job", q->job);
    sw_mp_kv_int(pk, "offset", offset);
    sw_mp_kv_int(pk, "limit", q->limit);
    sw_mp_kv_str(pk, "order", q->order);
}

/*  issue 18 §3, §4: "limit codex: 2 of 4 in use (effective 4), 3 rate-limits". */
static void
s_print_limits(const msgpack_object *b)
{
    const msgpack_object *ls = sw_mp_find(b, "limits");
    if (!ls || ls->type != MSGPACK_OBJECT_ARRAY)
        return;
    for (uint32_t i = 0; i < ls->via.array.size; i++) {
        const msgpack_object *l = &ls->via.array.ptr[i];
        char name[80];
        long long lim = cli_mp_int(l, "limit"), eff = cli_mp_int(l, "effective"),
                  thr = cli_mp_int(l, "throttled");
        printf("  limit %s: %lld of %lld in use", cli_mp_str(l, "name", name, sizeof name),
               (long long) cli_mp_int(l, "used"), eff);
        if (eff != lim)
            printf(" (lowered from %lld after rate-limits)", lim);
        if (thr)
            printf(", %lld rate-limited run%s", thr, thr == 1 ? "" : "s");
        printf("\n");
    }
}

/*  "spend: $0.06 of $0.07, 1234 tokens (finished and running tasks)", with
 *  the budget's state (issue 18); nothing for a job that spent nothing
 *  and has no cap. */
static void
s_spend_line(const msgpack_object *sp)
{
    if (!sp || sp->type != MSGPACK_OBJECT_MAP)
        return;
    int64_t micro = cli_mp_int(sp, "cost_micro_usd"), tokens = cli_mp_int(sp, "tokens"),
            max_tokens = cli_mp_int(sp, "max_tokens");
    const msgpack_object *mc = sw_mp_find(sp, "max_cost_usd");
    double max_usd = mc && (mc->type == MSGPACK_OBJECT_FLOAT64 || mc->type == MSGPACK_OBJECT_FLOAT32)
                   ? mc->via.f64 : 0;
    if (!micro && !tokens && !max_tokens && max_usd <= 0)
        return;
    char cost[32], cap[32], buf[256];
    sw_usage_fmt_usd(cost, sizeof cost, (double) micro / 1e6);
    sw_usage_fmt_usd(cap, sizeof cap, max_usd);
    bool unpriced = false;
    sw_err_t err = { 0 };
    sw_mp_bool(sp, "unpriced", false, &unpriced, &err);
    printf("  spend: %s%s%s, %lld tokens", cost, max_usd > 0 ? " of " : "",
           max_usd > 0 ? cap : "", (long long) tokens);
    if (max_tokens)
        printf(" of %lld", (long long) max_tokens);
    printf(" (finished and running tasks%s%s)", unpriced ? "; some tokens have no price" : "",
           unpriced && max_usd > 0 ? ", so the $ cap does not count them" : "");
    const char *out = cli_mp_str(sp, "exhausted", buf, sizeof buf);
    if (*out)
        printf("  [%s: on_budget %s]", out, cli_mp_str(sp, "on_budget", cap, sizeof cap));
    putchar('\n');
}

int
cli_status(cli_t *cli, int argc, char **argv)
{
    static const sw_arg_t lo[] = {
        { "job", 'j', true, 'j' }, { "all", 0, false, 'a' }, { "limit", 0, true, 'l' },
        { NULL, 0, false, 0 },
    };
    const char *job = NULL;
    bool all = false;
    long long limit = 0;
    int c, rc = 0;
    cli_args_t a;
    cli_args_init(&a, cli, "status", lo, argc, argv, 0);
    while (rc == 0 && (c = cli_args_next(&a)) != -1) {
        switch (c) {
        case 'j': job = a.g.arg; break;
        case 'a': all = true; break;
        case 'l':
            if (sw_parse_int(a.g.arg, 1, 1000000000, &limit) < 0)
                rc = cli_fail(EXIT_USAGE, "status: --limit wants a number of tasks, got '%s'",
                              a.g.arg);
            break;
        case 'h': fputs(s_status_usage, stdout); rc = -1; break;
        default: rc = EXIT_USAGE;
        }
    }
    if (rc == 0 && a.g.npos > 1)
        rc = cli_fail(EXIT_USAGE, "status: one task id at most, got '%s' too (see swarm status "
                      "--help)", a.g.pos[1]);
    if (rc == 0 && all && limit)
        rc = cli_fail(EXIT_USAGE, "status: --all or --limit N, not both");
    if (rc == 0 && a.g.npos == 1 && (all || limit))
        rc = cli_fail(EXIT_USAGE, "status: --all and --limit list a job's tasks, not task '%s'",
                      a.g.pos[0]);
    if (rc == 0 && a.g.npos == 1) {
        /*  one task: from Redis, with its last events */
        rc = cli_task_status(cli, job, a.g.pos[0]);
        cli_args_release(&a);
        return rc;
    }
    if (rc) {
        cli_args_release(&a);
        return rc < 0 ? 0 : rc;
    }
    if (!all && !limit && !cli->json)
        limit = 20;
    /*  Pages of at most 10,000 rows (the coordinator's), however many. */
    s_status_req_t q = { job, limit ? "relevant" : "submit",
                         limit && limit < 10000 ? limit : 10000 };
    if (cli->json) {
        rc = cli_print_listing(cli, SW_C_STATUS, s_status_build, &q, limit, NULL);
        cli_args_release(&a);
        return rc;
    }
    int64_t offset = 0, shown = 0, total = 0;
    int64_t now = sw_wall_ms();
    for (;;) {
        cli_req_t r;
        cli_req_init(&r);
        s_status_build(&r.pk, &q, offset);
        sw_msg_t reply;
        rc = cli_call(cli, SW_C_STATUS, &r, cli->timeout_ms, &reply);
        if (rc)
            break;
        const msgpack_object *b = reply.body;
        const msgpack_object *tasks = sw_mp_find(b, "tasks");
        uint32_t n = tasks && tasks->type == MSGPACK_OBJECT_ARRAY ? tasks->via.array.size : 0;
        if (offset == 0) {
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
                printf("  %lld malformed messages dropped\n",
                       (long long) cli_mp_int(b, "dropped"));
            s_print_limits(b);
            if (!tasks) {
                printf("no current job (swarm init)\n");
                sw_msg_release(&reply);
                break;
            }
            char counts[512];
            cli_counts_text(b, counts, sizeof counts);
            total = sw_mp_find(b, "total") ? cli_mp_int(b, "total") : (int64_t) n;
            printf("job %s: %lld task%s%s%s\n", cli_mp_str(b, "job", buf, sizeof buf),
                   (long long) total, total == 1 ? "" : "s", counts[0] ? ": " : "", counts);
            s_spend_line(sw_mp_find(b, "spend"));
        }
        for (uint32_t i = 0; i < n && (!limit || shown < limit); i++, shown++)
            cli_task_line(&tasks->via.array.ptr[i], now);
        const msgpack_object *next = sw_mp_find(b, "next");
        int64_t at = next && next->type == MSGPACK_OBJECT_POSITIVE_INTEGER
                   ? (int64_t) next->via.u64 : -1;
        sw_msg_release(&reply);
        if (at <= offset || (limit && shown >= limit))
            break;
        offset = at;
    }
    if (rc == 0 && shown < total)
        printf("... and %lld more task%s (swarm status --all lists every one)\n",
               (long long) (total - shown), total - shown == 1 ? "" : "s");
    cli_args_release(&a);
    return rc;
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
    /*  A whole job is cancelled a slice per loop turn on the coordinator:
     *  a million tasks take seconds. */
    return cli_call(cli, SW_C_CANCEL, &r, nids ? cli->timeout_ms : cli->timeout_ms + 60000,
                    reply);
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
    /*  At most SW_MAX_LIST ids a request (the coordinator's cap), each
     *  request checked whole before it cancels anything. */
    long long cancelled = 0;
    char jobname[256] = "";
    int nids = a.g.npos;
    for (int from = 0; rc == 0 && (from < nids || (from == 0 && nids == 0));
         from += SW_MAX_LIST) {
        int n = nids - from < SW_MAX_LIST ? nids - from : SW_MAX_LIST;
        sw_msg_t reply;
        /*  A whole job goes in slices on the coordinator: give it time. */
        rc = cli_cancel_call(cli, job, a.g.pos + from, n, &reply);
        if (rc)
            break;
        cancelled += cli_mp_int(reply.body, "cancelled");
        cli_mp_str(reply.body, "job", jobname, sizeof jobname);
        sw_msg_release(&reply);
        if (nids == 0)
            break;
    }
    cli_args_release(&a);
    if (rc > 0 && cancelled)
        fprintf(stderr, "swarm: cancel: %lld task(s) of the ids before that were cancelled\n",
                cancelled);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (cli->json)
        cli_print_json(json_pack("{s:s, s:I}", "job", jobname, "cancelled",
                                 (json_int_t) cancelled));
    else
        printf("cancelled %lld task(s) in job %s\n", cancelled, jobname);
    return 0;
}

