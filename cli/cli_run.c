/*  cli_run -- swarm run: plans, command lists, decomposition, job hooks. */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_ctl.h"
#include "sw_hook.h"
#include "sw_plan.h"
#include "sw_proto.h"

/*  --- run ------------------------------------------------------------------------ */

static const char s_run_usage[] =
    "usage: swarm run PLAN.yaml [--wait] [--dry-run] [--job JOB] [--timeout S] [--markdown]\n"
    "                 [--pre CMD]... [--post CMD]... [--hook-timeout S]\n"
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
    "Job hooks (the plan's hooks: {pre, post, timeout}, then --pre and --post,\n"
    "each CMD split like a shell splits words, never run by one): pre commands\n"
    "run in order before anything is submitted, and one that fails stops the\n"
    "run with its exit status; post commands run after the job has finished\n"
    "(--wait), whether it succeeded or not, with SWARM_STATUS (succeeded or\n"
    "failed) and the counts (SWARM_TOTAL, SWARM_SUCCEEDED, SWARM_FAILED, ...)\n"
    "in their environment; a failing one makes the exit non-zero. Every hook\n"
    "gets SWARM_JOB, SWARM_NAMESPACE, SWARM_HOOK, SWARM_COORDINATOR and\n"
    "SWARM_REDIS, runs in a process group of its own and is killed with all it\n"
    "started after --hook-timeout S (default: hooks.timeout, else 300 s). Its\n"
    "output is shown line by line as [pre 1] ..., on stderr with --json.\n"
    "Workspaces: [--workspace DIR [--repo-url URL] [--max-snapshot SIZE]\n"
    "[--max-file SIZE]] [--outputs GLOB]... --workspace (or the plan's\n"
    "workspace: key, a directory relative to the plan file; tasks may have their\n"
    "own) is the job's workspace: tasks start where it points; --outputs adds\n"
    "output globs to every task (swarm outputs fetches the files).\n" CLI_WS_USAGE;

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
    cli_req_t r;
    cli_req_init(&r);
    msgpack_pack_map(&r.pk, 2);
    sw_mp_kv_str(&r.pk, "job", job);
    sw_mp_pack_str(&r.pk, "tasks");
    msgpack_pack_array(&r.pk, 1);
    sw_task_pack(&r.pk, &t);
    sw_task_release(&t);
    sw_msg_t reply;
    int rc = cli_call(cli, SW_C_SUBMIT, &r, cli->timeout_ms, &reply);
    if (rc)
        return rc;
    sw_msg_release(&reply);
    if (!cli->json)
        fprintf(stderr, "swarm: asking codex to decompose the goal (job %s) ...\n", job);
    char *wargv[] = { "wait", "--job", (char *) job, "decompose", NULL };
    bool quiet = cli->quiet;
    cli->quiet = true;
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

/*  NAME-YYYYmmdd-HHMMSS-XXXX from a plan name or file name, as a valid
 *  job id. The random XXXX keeps two runs of one plan in the same second
 *  apart: the second would otherwise change the first's settings and then
 *  fail on its task ids, after its pre hooks ran. */
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
    uint16_t rnd = 0;
    if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
        rnd = (uint16_t) (sw_now_ms() ^ getpid());
    return xasprintf("%s-%s-%04x", n && base[0] != '.' ? base : "run", stamp, (unsigned) rnd);
}

static json_t *
s_hooks_json(const sw_strv_t *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *argv = json_array();
        for (size_t k = 0; k < v[i].n; k++)
            json_array_append_new(argv, json_string(v[i].v[k]));
        json_array_append_new(a, argv);
    }
    return a;
}

static void
s_print_hooks(const sw_strv_t *v, size_t n, const char *phase)
{
    for (size_t i = 0; i < n; i++) {
        sw_buf_t b;
        sw_buf_init(&b);
        sw_hook_format(&v[i], &b);
        char what[32];
        snprintf(what, sizeof what, "hook %s %zu", phase, i + 1);
        printf("  %-24s %-18s  $ %s\n", what, phase[1] == 'r' ? "before the job" : "after it",
               b.data);
        sw_buf_release(&b);
    }
}

static int64_t
s_hook_timeout_s(const sw_hooks_t *h)
{
    return h->timeout_s > 0 ? h->timeout_s : SW_HOOK_TIMEOUT_S;
}

static void
s_print_dag(const sw_plan_t *p, const char *job, bool json, bool dry)
{
    const sw_hooks_t *h = &p->hooks;
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
        json_t *doc = json_pack("{s:s, s:I, s:s, s:I, s:o}", "job", job,
                                "max_agents", (json_int_t) p->max_agents,
                                "on_failure", p->halt ? "stop" : "continue",
                                "count", (json_int_t) p->n, "tasks", arr);
        json_object_set_new(doc, "hooks", json_pack("{s:o, s:o, s:I}",
                            "pre", s_hooks_json(h->pre, h->npre),
                            "post", s_hooks_json(h->post, h->npost),
                            "timeout_s", (json_int_t) s_hook_timeout_s(h)));
        cli_print_json(doc);
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
    s_print_hooks(h->pre, h->npre, "pre");
    s_print_hooks(h->post, h->npost, "post");
    if (h->npre + h->npost)
        printf("  (each hook is stopped after %lld s)\n", (long long) s_hook_timeout_s(h));
}

/*  --- job hooks -------------------------------------------------------------------- */

/*  What every hook of the job finds in its environment. */
static void
s_hook_env(cli_t *cli, const char *job, const char *ns, const char *plan, sw_kv_t *env)
{
    sw_kv_set(env, "SWARM_JOB", job);
    sw_kv_set(env, "SWARM_NAMESPACE", ns ? ns : "results");
    sw_kv_set(env, "SWARM_COORDINATOR", cli->coordinator);
    sw_kv_set(env, "SWARM_REDIS", cli->redis_url);
    if (plan)
        sw_kv_set(env, "SWARM_PLAN", plan);
    if (cli->curve_secret) {
        sw_kv_set(env, "SWARM_CURVE_SECRET", cli->curve_secret);
        sw_kv_set(env, "SWARM_COORDINATOR_KEY", cli->coordinator_key);
    }
}

/*  Runs a phase's commands in order. pre stops at the first failure;
 *  post runs them all (each is a `finally`). Returns 0, or the first
 *  failure's status after saying which hook failed and how. */
static int
s_run_hooks(cli_t *cli, const sw_hooks_t *h, bool post, sw_kv_t *env)
{
    const sw_strv_t *v = post ? h->post : h->pre;
    size_t n = post ? h->npost : h->npre;
    const char *phase = post ? "post" : "pre";
    FILE *out = cli->json ? stderr : stdout;
    int64_t timeout_ms = s_hook_timeout_s(h) * 1000;
    int first = 0;
    sw_kv_set(env, "SWARM_HOOK", phase);
    for (size_t i = 0; i < n; i++) {
        sw_buf_t cmd;
        sw_buf_init(&cmd);
        sw_hook_format(&v[i], &cmd);
        char prefix[48];
        snprintf(prefix, sizeof prefix, "[%s %zu] ", phase, i + 1);
        fprintf(out, "%s$ %s\n", prefix, cmd.data);
        fflush(out);
        sw_hook_spec_t spec = { &v[i], env, timeout_ms, 0, prefix, out, stderr };
        sw_hook_result_t res;
        sw_err_t err = { 0 };
        int status;
        if (sw_hook_run(&spec, &res, &err) < 0)
            status = cli_fail(EXIT_TASKS_FAILED, "run: %s hook %zu (%s): %s", phase, i + 1,
                              cmd.data, err.msg);
        else if (res.status == 0 && !res.interrupted) {
            status = 0;
            if (res.leftovers)
                fprintf(stderr, "swarm: run: %s hook %zu left %d process%s running; killed\n",
                        phase, i + 1, res.leftovers, res.leftovers == 1 ? "" : "es");
        }
        else {
            char why[160];
            sw_hook_describe(&res, timeout_ms, why, sizeof why);
            status = cli_fail(res.status ? res.status : EXIT_TASKS_FAILED, "run: %s hook %zu "
                              "(%s) %s%s", phase, i + 1, cmd.data, why,
                              post ? "" : "; nothing was submitted");
        }
        sw_buf_release(&cmd);
        if (status && !first)
            first = status;
        if (status && (!post || res.interrupted))
            break;
    }
    return first;
}

/*  The post hooks' view of the job: SWARM_STATUS and the counts, read
 *  from Redis (as swarm results does, so they work without the
 *  coordinator). */
static void
s_post_env(cli_t *cli, const char *job, bool succeeded, sw_kv_t *env)
{
    static const char *const names[] = { "SUCCEEDED", "FAILED", "TIMED_OUT", "CANCELLED",
                                         "LOST", "SKIPPED" };
    long counts[SW_TS_COUNT] = { 0 }, total = 0, unfinished = 0;
    int code;
    json_t *docs = cli_results_docs(cli, job, &code);
    size_t i;
    json_t *d;
    json_array_foreach(docs, i, d) {
        int st = sw_tstate_parse(json_string_value(json_object_get(d, "status")));
        total++;
        if (st >= 0)
            counts[st]++;
        if (st < 0 || !SW_TS_FINAL(st))
            unfinished++;
    }
    json_decref(docs);
    char num[32];
    sw_kv_set(env, "SWARM_STATUS", succeeded && docs && !unfinished ? "succeeded" : "failed");
    snprintf(num, sizeof num, "%ld", total);
    sw_kv_set(env, "SWARM_TOTAL", num);
    for (int s = SW_TS_SUCCEEDED; s < SW_TS_COUNT; s++) {
        char name[32];
        snprintf(name, sizeof name, "SWARM_%s", names[s - SW_TS_SUCCEEDED]);
        snprintf(num, sizeof num, "%ld", counts[s]);
        sw_kv_set(env, name, num);
    }
    snprintf(num, sizeof num, "%ld", unfinished);
    sw_kv_set(env, "SWARM_UNFINISHED", num);
}

int
cli_run(cli_t *cli, int argc, char **argv)
{
    static const sw_arg_t lo[] = {
        { "wait", 0, false, 'w' }, { "dry-run", 0, false, 'n' }, { "job", 0, true, 'j' },
        { "timeout", 0, true, 'T' }, { "markdown", 0, false, 'm' },
        { "commands", 0, true, 'c' }, { "label", 0, true, 'l' },
        { "halt-on-failure", 0, false, 'H' }, { "max-agents", 0, true, 'M' },
        { "task-timeout", 0, true, 't' }, { "decompose", 0, true, 'D' },
        { "workers", 0, true, 'W' }, { "pre", 0, true, 'p' }, { "post", 0, true, 'P' },
        { "hook-timeout", 0, true, 'O' }, { "outputs", 0, true, 'U' }, CLI_WS_ARGS,
        { NULL, 0, false, 0 },
    };
    cli_ws_opts_t wso = { 0 };
    sw_strv_t outputs = { 0 };     /*  --outputs, for every task */
    sw_task_ws_t job_ws = { 0 };
    sw_hooks_t cli_hooks = { 0 };
    sw_kv_t hook_env = { 0 };
    bool pre_done = false;
    bool wait = false, dry = false, markdown = false, halt = false;
    const char *jobflag = NULL, *commands = NULL, *timeout = NULL, *goal = NULL;
    const char *planfile = NULL;     /*  an element of argv */
    long long max_agents = -1, task_timeout = 0, workers = 4, v;
    sw_kv_t labels = { 0 };
    int c, rc = 0;
    cli_args_t a;
    cli_args_init(&a, cli, "run", lo, argc, argv, 0);
    while (rc == 0 && (c = cli_args_next(&a)) != -1) {
        const char *arg = a.g.arg;
        switch (c) {
        case 'w': wait = true; break;
        case 'n': dry = true; break;
        case 'j': jobflag = arg; break;
        case 'T':
            if (sw_parse_int(arg, 1, 30 * 86400, &v) < 0)
                rc = cli_fail(EXIT_USAGE, "run: --timeout wants seconds from 1 to 2592000, "
                              "got '%s'", arg);
            timeout = arg;
            break;
        case 'm': markdown = true; break;
        case 'c': commands = arg; break;
        case 'l': rc = cli_kv_arg("run", "--label", arg, &labels); break;
        case 'H': halt = true; break;
        case 'M':
            if (sw_parse_int(arg, 0, 100000, &max_agents) < 0)
                rc = cli_fail(EXIT_USAGE, "run: --max-agents wants a number from 0 to 100000, "
                              "got '%s'", arg);
            break;
        case 't':
            if (sw_parse_int(arg, 1, 7 * 86400, &task_timeout) < 0)
                rc = cli_fail(EXIT_USAGE, "run: --task-timeout wants seconds from 1 to 604800, "
                              "got '%s'", arg);
            break;
        case 'D': goal = arg; break;
        case 'W':
            if (sw_parse_int(arg, 1, 100, &workers) < 0)
                rc = cli_fail(EXIT_USAGE, "run: --workers wants 1 to 100, got '%s'", arg);
            break;
        case 'p': case 'P': {
            sw_strv_t hv = { 0 };
            const char *why = NULL;
            if (sw_shlex(arg, &hv, &why) < 0)
                rc = cli_fail(EXIT_USAGE, "run: --%s '%s': %s", c == 'p' ? "pre" : "post", arg,
                              why);
            else if (hv.n == 0 || !*hv.v[0])
                rc = cli_fail(EXIT_USAGE, "run: --%s wants a command, got '%s'",
                              c == 'p' ? "pre" : "post", arg);
            else
                sw_hooks_add(&cli_hooks, c == 'P', &hv);
            sw_strv_release(&hv);
            break;
        }
        case 'O':
            if (sw_parse_int(arg, 1, SW_HOOK_MAX_TIMEOUT_S, &v) < 0)
                rc = cli_fail(EXIT_USAGE, "run: --hook-timeout wants seconds from 1 to %d, got "
                              "'%s'", SW_HOOK_MAX_TIMEOUT_S, arg);
            cli_hooks.timeout_s = v;
            break;
        case 'U': sw_strv_push(&outputs, arg); break;
        CLI_WS_CASES: rc = cli_ws_option("run", c, arg, &wso); break;
        case 'h': fputs(s_run_usage, stdout); rc = -1; break;
        default: rc = EXIT_USAGE;
        }
    }
    int npos = a.g.npos;
    if (rc == 0 && npos > (commands || goal ? 0 : 1))
        rc = cli_fail(EXIT_USAGE, "run: unexpected argument '%s' (give a PLAN, --commands or "
                      "--decompose, not several)", a.g.pos[commands || goal ? 0 : 1]);
    if (rc == 0 && npos == 1)
        planfile = a.g.pos[0];
    cli_args_release(&a);
    if (rc == 0 && cli_hooks.npost && !wait && !dry)
        rc = cli_fail(EXIT_USAGE, "run: post hooks run once the job has finished: add --wait");
    if (rc == 0 && (wso.repo_url || wso.max_snapshot || wso.max_file) && !wso.dir)
        rc = cli_fail(EXIT_USAGE, "run: --repo-url and --max-* go with --workspace DIR");
    if (rc) {
        sw_kv_release(&labels);
        sw_strv_release(&outputs);
        sw_hooks_release(&cli_hooks);
        return rc < 0 ? 0 : rc;
    }
    sw_plan_t plan;
    char *job = NULL;
    size_t *sizes = NULL;       /*  each task's bytes in a SUBMIT */
    if (goal) {
        if (!*goal) {
            sw_kv_release(&labels);
            sw_strv_release(&outputs);
            return cli_fail(EXIT_USAGE, "run: --decompose wants a goal");
        }
        job = jobflag ? xstrdup(jobflag) : s_run_job_name(goal);
        if (!sw_id_valid(job))
            rc = cli_fail(EXIT_USAGE, "run: invalid job name '%s'", job);
        /*  The decomposition is a task of the job: pre runs before it. */
        if (rc == 0 && !dry && cli_hooks.npre) {
            s_hook_env(cli, job, NULL, NULL, &hook_env);
            rc = s_run_hooks(cli, &cli_hooks, false, &hook_env);
            pre_done = true;
        }
        cli_req_t r;
        cli_req_init(&r);
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
            sw_kv_release(&hook_env);
            sw_hooks_release(&cli_hooks);
            free(job);
            return rc;
        }
        goto compiled;
    }
    const char *file = commands ? commands : planfile;
    if (!file) {
        sw_kv_release(&labels);
        sw_strv_release(&outputs);
        sw_hooks_release(&cli_hooks);
        fputs(s_run_usage, stderr);
        return EXIT_USAGE;
    }
    size_t len;
    char *text = s_slurp(file, &len);
    if (!text) {
        sw_kv_release(&labels);
        sw_strv_release(&outputs);
        sw_hooks_release(&cli_hooks);
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
        sw_hooks_release(&cli_hooks);
        return EXIT_USAGE;
    }
    sw_strv_release(&errors);
    {
        const char *base = plan.name ? plan.name
                         : strrchr(shown, '/') ? strrchr(shown, '/') + 1 : shown;
        job = jobflag ? xstrdup(jobflag) : s_run_job_name(base);
    }
compiled:
    /*  The plan's hooks, then the command line's. */
    for (size_t i = 0; i < cli_hooks.npre; i++)
        sw_hooks_add(&plan.hooks, false, &cli_hooks.pre[i]);
    for (size_t i = 0; i < cli_hooks.npost; i++)
        sw_hooks_add(&plan.hooks, true, &cli_hooks.post[i]);
    if (cli_hooks.timeout_s)
        plan.hooks.timeout_s = cli_hooks.timeout_s;
    sw_hooks_release(&cli_hooks);
    if (halt)
        plan.halt = true;
    if (max_agents >= 0)
        plan.max_agents = max_agents;
    for (size_t i = 0; i < plan.n; i++) {
        sw_kv_copy(&plan.tasks[i].task.labels, &labels);
        if (task_timeout)
            plan.tasks[i].task.timeout_s = task_timeout;
        for (size_t k = 0; k < outputs.n; k++)
            sw_strv_push(&plan.tasks[i].task.outputs, outputs.v[k]);
    }
    sw_kv_release(&labels);
    sw_strv_release(&outputs);
    sw_plan_render(&plan);
    if (!sw_id_valid(job)) {
        rc = cli_fail(EXIT_USAGE, "run: invalid job name '%s'", job);
        goto out;
    }
    /*  The coordinator's rule (INIT), checked before any hook runs */
    if (plan.strategy && (strlen(plan.strategy) > SW_MAX_ID
                          || !sw_utf8_clean(plan.strategy, strlen(plan.strategy)))) {
        rc = cli_fail(EXIT_USAGE, "run: strategy must be UTF-8 text of at most %d bytes; "
                      "nothing was submitted", SW_MAX_ID);
        goto out;
    }
    /*  Each task must fit one request; batches are cut to fit below. */
    sizes = xcalloc(plan.n ? plan.n : 1, sizeof *sizes);
    for (size_t i = 0; i < plan.n; i++) {
        sizes[i] = cli_task_packed_size(&plan.tasks[i].task);
        if (sizes[i] > CLI_MAX_REQUEST - 1024) {
            rc = cli_fail(EXIT_USAGE, "run: task %s is %zu bytes with its prompt, more than one "
                          "request to the coordinator carries (%zu); nothing was submitted",
                          plan.tasks[i].task.id, sizes[i], CLI_MAX_REQUEST - 1024);
            goto out;
        }
    }
    if (plan.hooks.npost && !wait && !dry) {
        rc = cli_fail(EXIT_USAGE, "run: the plan has post hooks, which run once the job has "
                      "finished: add --wait");
        goto out;
    }
    if (dry || (goal && !cli->json)) {
        s_print_dag(&plan, job, cli->json, dry);
        if (dry)
            goto out;
    }
    if (!pre_done) {
        s_hook_env(cli, job, plan.ns, goal ? NULL : commands ? commands : planfile, &hook_env);
        if (plan.hooks.npre && (rc = s_run_hooks(cli, &plan.hooks, false, &hook_env)) != 0)
            goto out;
    }
    /*  The workspaces, after the pre hooks (which may prepare the tree). */
    if ((rc = cli_ws_plan(cli, &plan, job, commands || goal ? NULL : planfile, &wso,
                          &job_ws)) != 0)
        goto out;
    cli_req_t r;
    cli_req_init(&r);
    msgpack_pack_map(&r.pk, job_ws.commit ? 10 : 9);
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
    cli_budget_t budget = { plan.max_micro_usd ? plan.max_micro_usd : -1,
                            plan.max_tokens ? plan.max_tokens : -1,
                            plan.budget_finish ? "finish" : NULL };
    cli_budget_pack(&r.pk, &budget);    /*  three fields: max_cost_usd, max_tokens, on_budget */
    sw_msg_t reply;
    rc = cli_call(cli, SW_C_INIT, &r, cli->timeout_ms, &reply);
    if (rc)
        goto out;
    sw_msg_release(&reply);
    /*  In batches under the frame cap (2,000 tasks at most); each batch
     *  only depends on earlier ones, since the plan is in dependency
     *  order. More than one batch is one transaction: the coordinator
     *  holds the batches and makes the tasks runnable only when the last
     *  has landed; a batch it refuses discards the lot, so a failed run
     *  leaves nothing running. */
    size_t nbatches = 0;
    for (size_t from = 0, n; from < plan.n; from += n, nbatches++) {
        size_t bytes = 1024;
        for (n = 0; from + n < plan.n && n < 2000 && bytes + sizes[from + n] <= CLI_MAX_REQUEST;
             n++)
            bytes += sizes[from + n];
    }
    char txn[40] = "";
    if (nbatches > 1)
        snprintf(txn, sizeof txn, "run-%llx-%x", (unsigned long long) zclock_usecs(),
                 (unsigned) getpid());
    for (size_t from = 0, n, b = 0; rc == 0 && from < plan.n; from += n, b++) {
        size_t bytes = 1024;
        for (n = 0; from + n < plan.n && n < 2000 && bytes + sizes[from + n] <= CLI_MAX_REQUEST;
             n++)
            bytes += sizes[from + n];
        bool last = from + n == plan.n;
        cli_req_init(&r);
        msgpack_pack_map(&r.pk, *txn ? 4 : 2);
        sw_mp_kv_str(&r.pk, "job", job);
        if (*txn) {
            sw_mp_kv_str(&r.pk, "txn", txn);
            sw_mp_kv_bool(&r.pk, "more", !last);
        }
        sw_mp_pack_str(&r.pk, "tasks");
        msgpack_pack_array(&r.pk, n);
        for (size_t i = from; i < from + n; i++)
            sw_task_pack(&r.pk, &plan.tasks[i].task);
        /*  The last batch puts them all in: give a big plan its time. */
        int tmo = cli->timeout_ms + 5000 + (last && *txn ? (int) (plan.n / 20) : 0);
        rc = cli_call(cli, SW_C_SUBMIT, &r, tmo, &reply);
        if (rc == 0)
            sw_msg_release(&reply);
    }
    if (rc == EXIT_UNREACHABLE && *txn)
        fprintf(stderr, "swarm: run: the coordinator did not confirm the submit of job %s: "
                "either all %zu tasks landed or none (swarm status --job %s says which)\n",
                job, plan.n, job);
    else if (rc && *txn)
        fprintf(stderr, "swarm: run: none of job %s's %zu tasks was submitted\n", job, plan.n);
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
    /*  Submitted: post hooks are the job's `finally` now. A reader of our
     *  output that quits early (`| head`) must not kill us in the wait or
     *  the report, before they run; what we print is then lost. */
    struct sigaction pipe_old, pipe_ign = { .sa_handler = SIG_IGN };
    sigemptyset(&pipe_ign.sa_mask);
    if (plan.hooks.npost)
        sigaction(SIGPIPE, &pipe_ign, &pipe_old);
    if (!cli->json)
        printf("job %s: %zu task%s submitted\n", job, plan.n, plan.n == 1 ? "" : "s");
    char *wargv[] = { "wait", "--job", job, timeout ? "--timeout" : NULL, (char *) timeout, NULL };
    cli->quiet = cli->json;
    rc = cli_wait(cli, timeout ? 5 : 3, wargv);
    cli->quiet = false;
    if (!cli->json && !markdown)
        putchar('\n');
    char *rargv[] = { "results", "--job", job, markdown ? "--markdown" : NULL, NULL };
    int rrc = cli_results(cli, markdown ? 4 : 3, rargv);
    /*  A wait that timed out or lost the coordinator says more than a
     *  report of unfinished tasks. */
    if (rc != EXIT_TIMEOUT && rc != EXIT_UNREACHABLE)
        rc = rrc;
    /*  post: once every task has finished, whatever became of them */
    if (plan.hooks.npost) {
        s_post_env(cli, job, rc == 0, &hook_env);
        int hrc = s_run_hooks(cli, &plan.hooks, true, &hook_env);
        if (hrc && rc == 0)
            rc = hrc;
        fflush(stdout);
        sigaction(SIGPIPE, &pipe_old, NULL);
    }
out:
    free(sizes);
    free(job);
    sw_kv_release(&hook_env);
    sw_plan_release(&plan);
    sw_task_ws_release(&job_ws);
    return rc;
}

