/*  cli_ctl -- the commands that talk to the coordinator. */
#include <ctype.h>
#include <errno.h>
#include <time.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_ctl.h"
#include "sw_plan.h"
#include "sw_proto.h"

/*  Splits "a,b,c" into sv. */
void
cli_split_commas(const char *s, sw_strv_t *sv)
{
    char *copy = xstrdup(s), *save = NULL;
    for (char *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save))
        if (*p)
            sw_strv_push(sv, p);
    free(copy);
}

int
cli_kv_arg(const char *cmd, const char *opt, const char *arg, sw_kv_t *kv)
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
    "                  [--repo-url URL] [--max-snapshot SIZE] [--max-file SIZE]]\n"
    "                  [--max-cost-usd X] [--max-tokens N] [--on-budget stop|finish]\n"
    "                  [--] [JOB]\n"
    "Creates JOB (or a generated name) and makes it the current job, which\n"
    "spawn, wait, status, results and cancel use when --job is not given.\n"
    "--max-agents caps how many of the job's tasks run at once.\n"
    "--max-cost-usd X and --max-tokens N cap what the job's codex and claude\n"
    "tasks spend together (tokens: input + output). A task is dispatched only\n"
    "while the spend so far (finished tasks plus what running ones reported) is\n"
    "below every cap; once it reaches one, the queued tasks end skipped with\n"
    "\"budget exhausted: $X of $Y\", and running ones are stopped (--on-budget\n"
    "stop, the default) or finish (--on-budget finish). Codex tokens are priced\n"
    "with the coordinator's price.MODEL table; without a price they count\n"
    "towards --max-tokens only.\n"
    "With --workspace, every task of the job without a workspace of its own runs\n"
    "on this snapshot, at the top of the work tree unless its --dir says where\n"
    "(swarm diff, apply and outputs bring the work back).\n"
    CLI_WS_USAGE;

int
cli_init_call(cli_t *cli, const char *job, const char *topology, const char *strategy,
              const char *ns, long long max_agents, sw_msg_t *reply)
{
    return cli_init_ws_call(cli, job, topology, strategy, ns, max_agents, NULL, reply);
}

int
cli_init_ws_call(cli_t *cli, const char *job, const char *topology, const char *strategy,
                 const char *ns, long long max_agents, const sw_task_ws_t *ws, sw_msg_t *reply)
{
    cli_req_t r;
    cli_req_init(&r);
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
    return cli_call(cli, SW_C_INIT, &r, cli->timeout_ms, reply);
}

static int
cli_init(cli_t *cli, int argc, char **argv)
{
    static const sw_arg_t lo[] = {
        { "topology", 0, true, 't' }, { "max-agents", 0, true, 'm' },
        { "strategy", 0, true, 's' }, { "namespace", 0, true, 'n' }, CLI_WS_ARGS,
        { "max-cost-usd", 0, true, 'C' }, { "max-tokens", 0, true, 'K' },
        { "on-budget", 0, true, 'B' },
        { NULL, 0, false, 0 },
    };
    const char *topology = NULL, *strategy = NULL, *ns = NULL, *job = NULL;
    cli_budget_t budget = { -1, -1, NULL };
    long long max_agents = -1;
    cli_ws_opts_t wso = { 0 };
    int c, rc = 0;
    cli_args_t a;
    cli_args_init(&a, cli, "init", lo, argc, argv, 0);
    while (rc == 0 && (c = cli_args_next(&a)) != -1) {
        switch (c) {
        case 't':
            if (strcmp(a.g.arg, "hierarchical") && strcmp(a.g.arg, "mesh")
                && strcmp(a.g.arg, "star"))
                rc = cli_fail(EXIT_USAGE, "init: --topology is hierarchical, mesh or star, "
                              "got '%s'", a.g.arg);
            topology = a.g.arg;
            break;
        case 'm':
            if (sw_parse_int(a.g.arg, 0, 100000, &max_agents) < 0)
                rc = cli_fail(EXIT_USAGE, "init: --max-agents wants a number from 0 to 100000, "
                              "got '%s'", a.g.arg);
            break;
        case 's': strategy = a.g.arg; break;
        case 'n': ns = a.g.arg; break;
        case 'C': case 'K': case 'B': rc = cli_budget_option("init", c, a.g.arg, &budget); break;
        CLI_WS_CASES: rc = cli_ws_option("init", c, a.g.arg, &wso); break;
        case 'h': fputs(s_init_usage, stdout); rc = -1; break;
        default: rc = EXIT_USAGE;
        }
    }
    if (rc == 0 && a.g.npos > 1)
        rc = cli_fail(EXIT_USAGE, "init: one JOB at most, got '%s' too (see swarm init --help)",
                      a.g.pos[1]);
    if (rc == 0 && a.g.npos == 1)
        job = a.g.pos[0];
    cli_args_release(&a);
    if (rc)
        return rc < 0 ? 0 : rc;
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
            if ((rc = cli_init_call(cli, NULL, topology, strategy, ns, max_agents, &reply)))
                return rc;
            name = xstrdup(cli_mp_str(reply.body, "job", buf, sizeof buf));
            sw_msg_release(&reply);
        }
        sw_task_ws_t ws = { 0 };
        rc = cli_ws_snapshot(cli, name, wso.dir, &wso, &ws, NULL);
        if (rc == 0)
            rc = cli_init_ws_call(cli, name, topology, strategy, ns, max_agents, &ws, &reply);
        sw_task_ws_release(&ws);
        free(name);
    }
    else
        rc = cli_init_call(cli, job, topology, strategy, ns, max_agents, &reply);
    if (rc)
        return rc;
    if (budget.micro >= 0 || budget.tokens >= 0 || budget.on_budget) {
        /*  the budget, to the job just made (INIT changes what it names) */
        char name[SW_MAX_ID + 1];
        cli_mp_str(reply.body, "job", name, sizeof name);
        sw_msg_t r2;
        if ((rc = cli_budget_call(cli, name, &budget, &r2))) {
            sw_msg_release(&reply);
            return rc;
        }
        sw_msg_release(&r2);
    }
    if (cli->json)
        cli_print_json(cli_mp_to_json(reply.body));
    else
        printf("%s\n", cli_mp_str(reply.body, "job", buf, sizeof buf));
    sw_msg_release(&reply);
    return 0;
}

/*  --- spawn ---------------------------------------------------------------------- */

static const char s_spawn_usage[] =
    "usage: swarm spawn [--job JOB] --id ID [--type TYPE] [--runner codex|claude|exec]\n"
    "                   [--timeout S] [--idle-timeout S] [--max-attempts N]\n"
    "                   [--max-turns N] [--max-budget-usd USD]\n"
    "                   [--after ID[,ID...]] [--label K=V]... [--env K=V]... [--dir DIR]\n"
    "                   [--namespace NS] [--context NS/KEY=VALUE]...\n"
    "                   [--resource NAME]...\n"
    "                   (PROMPT | - | --prompt TEXT | --prompt-file FILE | -- ARGV...)\n"
    "Queues one task. The prompt goes to codex (default) or claude: PROMPT, or\n"
    "'-' to read it from stdin, or --prompt TEXT, or --prompt-file FILE ('-' is\n"
    "stdin). A prompt that starts with '-' needs --prompt or --prompt-file, since\n"
    "a PROMPT argument that starts with '-' is read as an option. After '--'\n"
    "comes the argv of an exec task (agents need --allow-exec).\n"
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
    "--dir is then a path inside the workspace (default: where --workspace\n"
    "pointed). --output GLOB (repeatable, e.g. '*.o', 'build/**/lib*.a') stores\n"
    "the matching files after a success (swarm outputs).\n"
    "--resource NAME (repeatable) makes the task take one unit of a farm-wide\n"
    "resource while it runs; swarm-coordinator --limit NAME=N caps how many run at\n"
    "once. codex and claude tasks take 'codex' and 'claude' without asking.\n"
    CLI_WS_USAGE;

int
cli_read_prompt(const char *path, char **out, sw_err_t *err)
{
    bool is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "r");
    if (!f)
        return sw_err_set(err, SW_EINVAL, "cannot read the prompt file '%s': %s", path,
                          strerror(errno));
    sw_buf_t b;
    sw_buf_init(&b);
    char buf[65536];
    size_t n;
    bool too_big = false;
    while (!too_big && (n = fread(buf, 1, sizeof buf, f)) > 0) {
        if (b.len + n > CLI_MAX_PROMPT)
            too_big = true;
        else
            sw_buf_add(&b, buf, n);
    }
    bool failed = ferror(f);
    int saved = errno;
    if (!is_stdin)
        fclose(f);
    const char *name = is_stdin ? "stdin" : path;
    if (failed || too_big || memchr(b.data ? b.data : "", '\0', b.len)) {
        sw_buf_release(&b);
        if (too_big)
            return sw_err_set(err, SW_EINVAL, "the prompt in %s is over %u bytes, the most one "
                              "request to the coordinator carries", name, CLI_MAX_PROMPT);
        if (failed)
            return sw_err_set(err, SW_EINVAL, "cannot read the prompt from %s: %s", name,
                              strerror(saved));
        return sw_err_set(err, SW_EINVAL, "the prompt in %s holds a NUL byte; a prompt is "
                          "text", name);
    }
    if (!b.data)
        sw_buf_add(&b, "", 0);
    *out = b.data;
    return 0;
}

int
cli_store_context(cli_t *cli, const char *item, sw_err_t *err)
{
    const char *slash = strchr(item, '/'), *eq = strchr(item, '=');
    if (!slash || !eq || eq < slash || slash == item || eq == slash + 1)
        return sw_err_set(err, SW_EINVAL, "--context wants NS/KEY=VALUE, got '%s'", item);
    char *ns = xstrndup(item, (size_t) (slash - item));
    char *key = xstrndup(slash + 1, (size_t) (eq - slash - 1));
    int rc = -1;
    if (!cli_redis(cli))
        sw_err_set(err, SW_EUNREACH, "%s", cli_last_error());
    else if (sw_memory_store(cli->redis, ns, key, eq + 1, strlen(eq + 1), NULL, err) == 0)
        rc = 0;
    else if (err->code == SW_EINVAL) {
        char why[sizeof err->msg];
        snprintf(why, sizeof why, "%s", err->msg);
        sw_err_set(err, SW_EINVAL, "--context %s/%s: %s", ns, key, why);
    }
    free(ns);
    free(key);
    return rc;
}

size_t
cli_task_packed_size(const sw_task_t *t)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    sw_mp_packer_init(&pk, &sb);
    sw_task_pack(&pk, t);
    size_t n = sb.size;
    msgpack_sbuffer_destroy(&sb);
    return n;
}

int
cli_submit(cli_t *cli, const char *job, sw_task_t *tasks, size_t n, int timeout_ms,
           sw_msg_t *reply)
{
    cli_req_t r;
    cli_req_init(&r);
    msgpack_pack_map(&r.pk, 2);
    sw_mp_kv_str(&r.pk, "job", job);
    sw_mp_pack_str(&r.pk, "tasks");
    msgpack_pack_array(&r.pk, n);
    for (size_t i = 0; i < n; i++) {
        /*  a result namespace equal to the default means the job's */
        if (tasks[i].ns && strcmp(tasks[i].ns, "results") == 0) {
            free(tasks[i].ns);
            tasks[i].ns = NULL;
        }
        sw_task_pack(&r.pk, &tasks[i]);
    }
    if (r.sb.size > CLI_MAX_REQUEST) {
        size_t size = r.sb.size;
        msgpack_sbuffer_destroy(&r.sb);
        return cli_fail(EXIT_USAGE, "%zu task%s of %zu bytes: more than one request to the "
                        "coordinator carries (%zu bytes); nothing was submitted", n,
                        n == 1 ? "" : "s", size, CLI_MAX_REQUEST);
    }
    return cli_call(cli, SW_C_SUBMIT, &r, timeout_ms, reply);
}

static int
cli_spawn(cli_t *cli, int argc, char **argv)
{
    static const sw_arg_t lo[] = {
        { "job", 0, true, 'j' }, { "id", 0, true, 'i' }, { "type", 0, true, 't' },
        { "runner", 0, true, 'r' }, { "timeout", 0, true, 'T' },
        { "idle-timeout", 0, true, 'I' }, { "max-attempts", 0, true, 'M' },
        { "after", 0, true, 'a' }, { "label", 0, true, 'l' }, { "env", 0, true, 'e' },
        { "dir", 0, true, 'd' }, { "namespace", 0, true, 'n' }, { "context", 0, true, 'c' },
        { "max-turns", 0, true, 'X' }, { "max-budget-usd", 0, true, 'B' },
        { "prompt", 0, true, 'p' }, { "prompt-file", 0, true, 'P' },
        { "output", 0, true, 'O' }, { "resource", 0, true, 'R' }, CLI_WS_ARGS,
        { NULL, 0, false, 0 },
    };
    sw_strv_t context = { 0 };
    cli_ws_opts_t wso = { 0 };
    sw_task_t t;
    sw_task_init(&t);
    const char *job = NULL, *prompt = NULL, *prompt_file = NULL;
    const char *read_from = NULL;       /*  the file (or stdin) the prompt came from */
    int c, rc = 0;
    long long v;
    cli_args_t a;
    /*  After "--" comes the argv, untouched by option parsing. */
    cli_args_init(&a, cli, "spawn", lo, argc, argv, SW_ARGS_REST);
    a.g.hint = " (a prompt that starts with '-' goes in --prompt TEXT or --prompt-file FILE)";
    while (rc == 0 && (c = cli_args_next(&a)) != -1) {
        const char *arg = a.g.arg;
        switch (c) {
        case 'j': job = arg; break;
        case 'i': free(t.id); t.id = xstrdup(arg); break;
        case 't': free(t.type); t.type = xstrdup(arg); break;
        case 'r': free(t.runner); t.runner = xstrdup(arg); break;
        case 'd': free(t.dir); t.dir = xstrdup(arg); break;
        case 'n': free(t.ns); t.ns = xstrdup(arg); break;
        case 'p': prompt = arg; break;
        case 'P': prompt_file = arg; break;
        case 'a': cli_split_commas(arg, &t.after); break;
        case 'l': rc = cli_kv_arg("spawn", "--label", arg, &t.labels); break;
        case 'e': rc = cli_kv_arg("spawn", "--env", arg, &t.env); break;
        case 'c': {
            const char *slash = strchr(arg, '/'), *eq = strchr(arg, '=');
            if (!slash || !eq || eq < slash || slash == arg || eq == slash + 1)
                rc = cli_fail(EXIT_USAGE, "spawn: --context wants NS/KEY=VALUE, got '%s'", arg);
            else
                sw_strv_push(&context, arg);
            break;
        }
        case 'T': case 'I': case 'M':
            if (sw_parse_int(arg, c == 'M' ? 1 : c == 'I' ? 0 : 1, c == 'M' ? 100 : 7 * 86400,
                             &v) < 0)
                rc = cli_fail(EXIT_USAGE, "spawn: --%s wants %s, got '%s'",
                              c == 'T' ? "timeout" : c == 'I' ? "idle-timeout" : "max-attempts",
                              c == 'M' ? "a number of attempts from 1 to 100"
                                       : "seconds, at most 604800", arg);
            else if (c == 'T')
                t.timeout_s = v;
            else if (c == 'I')
                t.idle_timeout_s = v;
            else
                t.max_attempts = v;
            break;
        case 'X':
            if (sw_parse_int(arg, 1, SW_MAX_TURNS, &v) < 0)
                rc = cli_fail(EXIT_USAGE, "spawn: --max-turns wants 1..%d, got '%s'",
                              SW_MAX_TURNS, arg);
            else
                t.max_turns = v;
            break;
        case 'B':
            if (sw_parse_usd(arg, SW_MAX_BUDGET_CENTS, &v) < 0)
                rc = cli_fail(EXIT_USAGE, "spawn: --max-budget-usd wants dollars with at most "
                              "two decimals (e.g. 2.50), got '%s'", arg);
            else
                t.max_budget_cents = v;
            break;
        case 'O': sw_strv_push(&t.outputs, arg); break;
        case 'R':
            if (!sw_resource_valid(arg))
                rc = cli_fail(EXIT_USAGE, "spawn: --resource wants a name of 1..%d of A-Z a-z "
                              "0-9 . _ - (starting with a letter or digit), got '%.80s'",
                              SW_MAX_RESOURCE_NAME, arg);
            else
                sw_strv_push(&t.resources, arg);
            break;
        CLI_WS_CASES: rc = cli_ws_option("spawn", c, arg, &wso); break;
        case 'h': fputs(s_spawn_usage, stdout); rc = -1; break;
        default: rc = EXIT_USAGE;
        }
    }
    if (rc)
        goto out;
    int sources = a.g.npos + !!prompt + !!prompt_file + a.g.dashdash;
    if (!t.id)
        rc = cli_fail(EXIT_USAGE, "spawn: --id ID is required");
    else if (a.g.npos > 1)
        rc = cli_fail(EXIT_USAGE, "spawn: one PROMPT argument (quote it), or '-- ARGV...' for a "
                      "command; '%s' is one too many", a.g.pos[1]);
    else if (sources > 1)
        rc = cli_fail(EXIT_USAGE, "spawn: give one of PROMPT, '-', --prompt, --prompt-file and "
                      "'-- ARGV'");
    else if (sources == 0)
        rc = cli_fail(EXIT_USAGE, "spawn: give a PROMPT, '-' for stdin, --prompt TEXT, "
                      "--prompt-file FILE, or '-- ARGV...'");
    else if (a.g.dashdash) {
        for (int i = a.g.rest; i < argc; i++)
            sw_strv_push(&t.argv, argv[i]);
        if (t.argv.n == 0)
            rc = cli_fail(EXIT_USAGE, "spawn: nothing after '--'");
    }
    else if (prompt)
        t.prompt = xstrdup(prompt);     /*  an argument: under the kernel's 128 KiB */
    else if (!prompt_file && strcmp(a.g.pos[0], "-") != 0)
        t.prompt = xstrdup(a.g.pos[0]);
    else {
        sw_err_t err = { 0 };
        if (cli_read_prompt(prompt_file ? prompt_file : "-", &t.prompt, &err) < 0)
            rc = cli_fail(EXIT_USAGE, "spawn: %s", err.msg);
        read_from = prompt_file && strcmp(prompt_file, "-") != 0 ? prompt_file : "stdin";
    }
    if (rc)
        goto out;
    /*  Validate here too, for a message before any network traffic. */
    sw_err_t err = { 0 };
    t.job = xstrdup(job ? job : "default");
    if (sw_task_validate(&t, &err) < 0) {
        /*  an empty prompt read from a file: name the file */
        const char *file = t.prompt && !*t.prompt ? read_from : NULL;
        rc = cli_fail(EXIT_USAGE, "spawn: %s%s%s%s", err.msg, file ? " (" : "", file ? file : "",
                      file ? " is empty)" : "");
        goto out;
    }
    if ((wso.repo_url || wso.max_snapshot || wso.max_file) && !wso.dir) {
        rc = cli_fail(EXIT_USAGE, "spawn: --repo-url and --max-* go with --workspace DIR");
        goto out;
    }
    if (wso.dir && t.after.n) {
        /*  the coordinator starts it from its dependencies' results: the
         *  snapshot was taken, stored and then never used */
        rc = cli_fail(EXIT_USAGE, "spawn: --workspace with --after: a task after others starts "
                      "from their resulting trees, not from a snapshot; leave out one of them");
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
        if (sw_task_validate(&t, &err) < 0) {
            rc = cli_fail(EXIT_USAGE, "spawn: %s", err.msg);
            goto out;
        }
    }
    free(t.job);
    t.job = NULL;               /*  the coordinator fills in the current job */
    /*  Context first: the task may start as soon as it is queued. */
    for (size_t i = 0; i < context.n; i++) {
        sw_err_t cerr = { 0 };
        if (cli_store_context(cli, context.v[i], &cerr) < 0) {
            rc = cerr.code == SW_EUNREACH ? EXIT_UNREACHABLE
               : cli_fail(cerr.code == SW_EINVAL ? EXIT_USAGE : EXIT_UNREACHABLE, "spawn: %s",
                          cerr.msg);
            goto out;
        }
    }
    sw_msg_t reply;
    rc = cli_submit(cli, job, &t, 1, cli->timeout_ms, &reply);
    if (rc == 0) {
        char buf[256];
        if (cli->json) {
            json_t *j = cli_mp_to_json(reply.body);
            json_object_set_new(j, "id", json_string(t.id));
            cli_print_json(j);
        }
        else
            printf("spawned %s in job %s\n", t.id, cli_mp_str(reply.body, "job", buf, sizeof buf));
        sw_msg_release(&reply);
    }
out:
    cli_args_release(&a);
    sw_task_release(&t);
    sw_strv_release(&context);
    return rc < 0 ? 0 : rc;
}

/*  --- wait ------------------------------------------------------------------------ */

/*  One WAIT: the job (NULL: current), the ids (none: every task), how long
 *  the coordinator may hold it, and the cursor (-1: list every task). */
int
cli_wait_call(cli_t *cli, const char *job, char **ids, int nids, int64_t max_ms, int64_t since,
            sw_msg_t *reply)
{
    /*  A WAIT only reads, so when the connection it went out on closes (a
     *  coordinator restarted and took it along) it is asked again, on a
     *  fresh connection, a few times. The restarted coordinator numbers
     *  finished tasks afresh, so the cursor goes: the reply lists every
     *  task. One that does not answer in time is unreachable (exit 3). */
    for (int attempt = 1;; attempt++) {
        cli_req_t r;
        cli_req_init(&r);
        msgpack_pack_map(&r.pk, (since >= 0 ? 4 : 3) + (cli->wait_running > 0));
        sw_mp_kv_str(&r.pk, "job", job);
        if (cli->wait_running > 0)
            sw_mp_kv_int(&r.pk, "running", cli->wait_running);
        sw_mp_pack_str(&r.pk, "ids");
        msgpack_pack_array(&r.pk, (size_t) nids);
        for (int i = 0; i < nids; i++)
            sw_mp_pack_str(&r.pk, ids[i]);
        sw_mp_kv_int(&r.pk, "max_ms", max_ms);
        if (since >= 0)
            sw_mp_kv_int(&r.pk, "since", since);
        bool lost = false;
        int rc = cli_request_closing(cli, SW_C_WAIT, &r.sb, (int) max_ms + cli->timeout_ms,
                                     reply, attempt < 4, &lost);
        msgpack_sbuffer_destroy(&r.sb);
        if (rc != EXIT_UNREACHABLE || !lost)
            return rc;
        fprintf(stderr, "swarm: the coordinator at %s closed the connection (restarted?); "
                "asking again\n", cli->coordinator);
        cli_disconnect(cli);
        /*  Every task final so far, from the start (a page at a time:
         *  the reply says more), or every task for a full listing. */
        if (since > 0)
            since = 0;
    }
}

/*  A page of the whole list of tasks waited for (WAIT without a cursor). */
typedef struct {
    const char *job;
    char      **ids;
    int         nids;
} s_wait_list_t;

static void
s_wait_build(msgpack_packer *pk, void *arg, int64_t offset)
{
    const s_wait_list_t *q = arg;
    msgpack_pack_map(pk, 5);
    sw_mp_kv_str(pk, "job", q->job);
    sw_mp_pack_str(pk, "ids");
    msgpack_pack_array(pk, (size_t) q->nids);
    for (int i = 0; i < q->nids; i++)
        sw_mp_pack_str(pk, q->ids[i]);
    sw_mp_kv_int(pk, "max_ms", 0);
    sw_mp_kv_int(pk, "offset", offset);
    sw_mp_kv_int(pk, "limit", 10000);
}

static const char s_wait_usage[] =
    "usage: swarm wait [--job JOB] [--timeout S] [ID...]\n"
    "Waits until the named tasks (default: every task of the job) are finished.\n"
    "Shows a live progress line on a terminal, one line per finished task\n"
    "otherwise. Exit 0 when all succeeded, 1 when any failed, timed out, was\n"
    "cancelled, lost or skipped, 124 when --timeout expired first.\n";

void
cli_task_line(const msgpack_object *t, int64_t now_wall)
{
    char id[160], st[32], agent[160], rbuf[200];
    int64_t started = cli_mp_int(t, "started"), finished = cli_mp_int(t, "finished");
    char dur[32];
    cli_duration(started ? (finished ? finished : now_wall) - started : -1, dur, sizeof dur);
    const char *reason = cli_mp_str(t, "reason", rbuf, sizeof rbuf);
    char thr[48] = "";          /*  issue 18 §4: rate-limited runs used no attempt */
    if (cli_mp_int(t, "throttled") > 0)
        snprintf(thr, sizeof thr, " (+%lld rate-limited)", (long long) cli_mp_int(t, "throttled"));
    printf("%-10s %-28s %-16s %7s  attempt %lld%s%s%s\n", cli_mp_str(t, "status", st, sizeof st),
           cli_mp_str(t, "id", id, sizeof id), cli_mp_str(t, "agent", agent, sizeof agent), dur,
           (long long) (cli_mp_int(t, "attempt") - cli_mp_int(t, "throttled")), thr,
           reason[0] ? "  " : "", reason);
}

void
cli_counts_text(const msgpack_object *body, char *out, size_t n)
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

int
cli_wait(cli_t *cli, int argc, char **argv)
{
    static const sw_arg_t lo[] = {
        { "job", 'j', true, 'j' }, { "timeout", 0, true, 'T' }, { NULL, 0, false, 0 },
    };
    const char *job = NULL;
    long long timeout_s = 0;
    int c, rc = 0;
    cli_args_t a;
    cli_args_init(&a, cli, "wait", lo, argc, argv, 0);
    while (rc == 0 && (c = cli_args_next(&a)) != -1) {
        switch (c) {
        case 'j': job = a.g.arg; break;
        case 'T':
            if (sw_parse_int(a.g.arg, 1, 30 * 86400, &timeout_s) < 0)
                rc = cli_fail(EXIT_USAGE, "wait: --timeout wants seconds from 1 to 2592000, "
                              "got '%s'", a.g.arg);
            break;
        case 'h': fputs(s_wait_usage, stdout); rc = -1; break;
        default: rc = EXIT_USAGE;
        }
    }
    for (int i = 0; rc == 0 && i < a.g.npos; i++)
        if (!sw_id_valid(a.g.pos[i]))
            rc = cli_fail(EXIT_USAGE, "wait: invalid task id '%s'", a.g.pos[i]);
    if (rc) {
        cli_args_release(&a);
        return rc < 0 ? 0 : rc;
    }
    char **ids = a.g.pos;
    int nids = a.g.npos;
    bool tty = !cli->json && !cli->quiet && isatty(STDOUT_FILENO);
    int drawn = 0;
    if (tty)
        cli->wait_running = 20;
    int64_t t0 = sw_now_ms();
    int64_t deadline = timeout_s ? t0 + timeout_s * 1000 : INT64_MAX;
    int64_t since = 0;                  /*  the job's final_seq we have seen */
    int bad = 0;                        /*  final, not succeeded */
    char budget[256] = "";              /*  "budget exhausted: ..." of a task, if any */
    /*  The ids reported final: a WAIT asked again after a coordinator
     *  restart lists them again. */
    zhashx_t *seen = zhashx_new();
    sw_msg_t reply;
    bool have = false;
    for (;;) {
        int64_t left = deadline - sw_now_ms();
        int64_t max_ms = left < 1000 ? (left > 0 ? left : 0) : 1000;
        if (have)
            sw_msg_release(&reply);
        rc = cli_wait_call(cli, job, ids, nids, max_ms, since, &reply);
        have = rc == 0;
        if (rc)
            break;
        bool done = false;
        sw_err_t err = { 0 };
        sw_mp_bool(reply.body, "done", true, &done, &err);
        since = cli_mp_int(reply.body, "seq");
        /*  Only the tasks that became final since the last reply. */
        const msgpack_object *tasks = sw_mp_find(reply.body, "tasks");
        int64_t now_wall = sw_wall_ms();
        for (uint32_t i = 0; tasks && tasks->type == MSGPACK_OBJECT_ARRAY
                             && i < tasks->via.array.size; i++) {
            const msgpack_object *t = &tasks->via.array.ptr[i];
            char st[32];
            char id[SW_MAX_ID + 1];
            int s = sw_tstate_parse(cli_mp_str(t, "status", st, sizeof st));
            if (s < 0 || !SW_TS_FINAL(s) || zhashx_lookup(seen, cli_mp_str(t, "id", id, sizeof id)))
                continue;
            zhashx_insert(seen, id, (void *) 1);
            bad += s != SW_TS_SUCCEEDED;
            char why[256];
            if (!budget[0] && strncmp(cli_mp_str(t, "reason", why, sizeof why),
                                      "budget exhausted", 16) == 0)
                snprintf(budget, sizeof budget, "%s", why);   /*  the cause, named at the end */
            if (!tty && !cli->json && !cli->quiet) {
                cli_task_line(t, now_wall);
                fflush(stdout);         /*  a line as each one finishes, also into a pipe */
            }
        }
        if (tty)
            cli_wait_draw(cli, reply.body, sw_now_ms() - t0, &drawn);
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
            /*  The document lists every task: ask once more, for all,
             *  page by page (a job of 1,000,000 tasks too). */
            s_wait_list_t q = { job, ids, nids };
            int lrc = cli_print_listing(cli, SW_C_WAIT, s_wait_build, &q, 0,
                                        json_pack("{s:b}", "timed_out", timed_out));
            if (lrc)
                rc = lrc;
        }
        else {
            char text[512], jb[256];
            cli_counts_text(reply.body, text, sizeof text);
            printf("job %s: %lld/%lld finished%s%s\n", cli_mp_str(reply.body, "job", jb, sizeof jb),
                   (long long) cli_mp_int(reply.body, "final"),
                   (long long) cli_mp_int(reply.body, "total"), text[0] ? ": " : "", text);
        }
        if (timed_out)
            cli_fail(EXIT_TIMEOUT, "wait: --timeout %lld s expired before the tasks finished",
                     timeout_s);
        else if (bad && rc == 0) {
            cli_fail(EXIT_TASKS_FAILED, "%d task%s did not succeed%s%s (swarm results for details)",
                     bad, bad == 1 ? "" : "s", budget[0] ? ": " : "", budget);
            rc = EXIT_TASKS_FAILED;
        }
        sw_msg_release(&reply);
    }
    zhashx_destroy(&seen);
    cli_args_release(&a);
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
        cli_disconnect(cli);
        zsys_shutdown();
        return rc;
    }
    return -1;
}
