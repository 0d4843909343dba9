/*  cli_mcp_ctl -- the control tools of `swarm mcp --control`.
 *
 *  In the workflow swarm serves, the coordinator is itself an interactive
 *  coding agent (codex, claude) that decomposes the work and drives the
 *  farm. These tools give it what the CLI gives a person: swarm_init,
 *  swarm_spawn (and swarm_spawn_batch), swarm_wait (bounded: a summary at
 *  its timeout, never a call that blocks the agent for good),
 *  swarm_status, swarm_results, swarm_cancel and swarm_logs. Each does
 *  what the verb of the same name does, through the same functions, and a
 *  failure is a tool error carrying the CLI's message.
 *
 *  They live in swarm-ctl.so (ZeroMQ): the memory-only `swarm mcp` a
 *  worker's CLI starts never loads them (docs/design.md, decision 11), and
 *  only --control publishes them. Nothing here writes to stdout, which
 *  carries the protocol.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_ctl.h"

#define WAIT_DEFAULT_S   30         /*  under codex's 60 s tool-call timeout */
#define WAIT_MAX_S       600
#define OUTPUT_SHORT     2000       /*  bytes of output per task in swarm_results */
#define LOGS_MAX         65536      /*  bytes of output swarm_logs returns at most */

#define S_JOB \
    "\"job\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":128,\"description\":" \
    "\"the job (default: the one this session's swarm_init made, else the current job)\"}"
#define S_IDS \
    "\"ids\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"minLength\":1," \
    "\"maxLength\":128},\"description\":\"task ids (default: every task of the job)\"}"
#define S_MAP(what) \
    "{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"},\"description\":" \
    "\"" what "\"}"
#define S_TASK_PROPS \
    "\"id\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":128,\"description\":\"the " \
    "task id, unique in the job: letters, digits and . _ - / : @ +\"}," \
    "\"task\":{\"type\":\"string\",\"minLength\":1,\"description\":\"the prompt for a codex " \
    "or claude worker\"}," \
    "\"command\":{\"type\":\"array\",\"minItems\":1,\"items\":{\"type\":\"string\"}," \
    "\"description\":\"instead " \
    "of a task: the argv of a plain command, run without a shell (agents need --allow-exec)\"}," \
    "\"type\":{\"type\":\"string\",\"enum\":[\"coder\",\"tester\",\"reviewer\",\"docs\"," \
    "\"architect\",\"cmd\"],\"description\":\"reviewer and architect run codex read-only\"}," \
    "\"runner\":{\"type\":\"string\",\"enum\":[\"codex\",\"claude\",\"exec\"]}," \
    "\"after\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"description\":\"ids of " \
    "tasks that must succeed before this one starts\"}," \
    "\"labels\":" S_MAP("placement: run only on agents with these labels") "," \
    "\"env\":" S_MAP("environment variables for the task") "," \
    "\"timeout\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":604800,\"description\":" \
    "\"seconds (default 300)\"}," \
    "\"context\":" S_MAP("memory entries stored before the task is queued, as " \
                         "{\\\"NAMESPACE/KEY\\\": \\\"value\\\"}; the task's prompt reads " \
                         "them as {{memory:NAMESPACE/KEY}}")

static const char s_tools_json[] =
    "["
    "{\"name\":\"swarm_init\",\"description\":\"Create a swarm job (or update one) and make it "
    "the current job, which the other swarm tools use when no job is given.\","
    "\"inputSchema\":{\"type\":\"object\",\"properties\":{" S_JOB ","
    "\"topology\":{\"type\":\"string\",\"enum\":[\"hierarchical\",\"mesh\",\"star\"]},"
    "\"maxAgents\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":100000,\"description\":"
    "\"at most this many of the job's tasks run at once (0: no limit)\"},"
    "\"strategy\":{\"type\":\"string\",\"maxLength\":128},"
    "\"namespace\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":128,\"description\":"
    "\"where the job's results are stored (default results)\"},"
    "\"workspace\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":4096,\"description\":"
    "\"a directory in a git work tree: the job's tasks run on a snapshot of that tree (HEAD "
    "plus uncommitted changes) on any agent, and their changes come back (swarm diff, swarm "
    "apply)\"}},"
    "\"additionalProperties\":false}},"
    "{\"name\":\"swarm_spawn\",\"description\":\"Queue one task (a worker) of a swarm job and "
    "return at once. Give task (a prompt for a codex or claude worker) or command (an argv). "
    "after makes it wait for other tasks.\",\"inputSchema\":{\"type\":\"object\","
    "\"properties\":{" S_JOB "," S_TASK_PROPS "},\"required\":[\"id\"],"
    "\"additionalProperties\":false}},"
    "{\"name\":\"swarm_spawn_batch\",\"description\":\"Queue several tasks of a swarm job at "
    "once, all or none; a task may depend (after) on one earlier in the list.\","
    "\"inputSchema\":{\"type\":\"object\",\"properties\":{" S_JOB ","
    "\"tasks\":{\"type\":\"array\",\"minItems\":1,\"maxItems\":1000,\"items\":{\"type\":"
    "\"object\",\"properties\":{" S_TASK_PROPS "},\"required\":[\"id\"],"
    "\"additionalProperties\":false}}},\"required\":[\"tasks\"],"
    "\"additionalProperties\":false}},"
    "{\"name\":\"swarm_wait\",\"description\":\"Wait until the job's tasks (or the named ones) "
    "have finished, at most timeout seconds; returns their statuses either way (done false "
    "when the time ran out: call it again).\",\"inputSchema\":{\"type\":\"object\","
    "\"properties\":{" S_JOB "," S_IDS ",\"timeout\":{\"type\":\"integer\",\"minimum\":1,"
    "\"maximum\":600,\"description\":\"seconds (default 30)\"}},"
    "\"additionalProperties\":false}},"
    "{\"name\":\"swarm_status\",\"description\":\"The swarm cluster (agents, slots, queue) "
    "and the job's tasks with status, agent and attempt.\",\"inputSchema\":{\"type\":"
    "\"object\",\"properties\":{" S_JOB "},\"additionalProperties\":false}},"
    "{\"name\":\"swarm_results\",\"description\":\"The results of the job's tasks: status, "
    "exit code, duration, cost, and each output shortened (swarm_logs gives one whole).\","
    "\"inputSchema\":{\"type\":\"object\",\"properties\":{" S_JOB "," S_IDS "},"
    "\"additionalProperties\":false}},"
    "{\"name\":\"swarm_cancel\",\"description\":\"Cancel the named tasks, or every unfinished "
    "task of the job: queued ones never start, running ones are stopped.\","
    "\"inputSchema\":{\"type\":\"object\",\"properties\":{" S_JOB "," S_IDS "},"
    "\"additionalProperties\":false}},"
    "{\"name\":\"swarm_logs\",\"description\":\"One task's output and the tail of its stderr "
    "(the last 64 KiB of output, or its last tail lines).\",\"inputSchema\":{\"type\":"
    "\"object\",\"properties\":{" S_JOB ",\"id\":{\"type\":\"string\",\"minLength\":1,"
    "\"maxLength\":128},\"tail\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":100000,"
    "\"description\":\"only the last N lines of output\"}},\"required\":[\"id\"],"
    "\"additionalProperties\":false}}"
    "]";

/*  --- helpers ----------------------------------------------------------------------- */

static const char *
s_str(json_t *args, const char *key)
{
    return json_string_value(json_object_get(args, key));
}

/*  The ids of an array of strings, as pointers into it (valid while args
 *  lives). Caller frees the array. */
static char **
s_ids(json_t *args, const char *key, int *n)
{
    json_t *a = json_object_get(args, key);
    *n = (int) json_array_size(a);
    char **ids = xcalloc((size_t) *n + 1, sizeof *ids);
    for (int i = 0; i < *n; i++)
        ids[i] = (char *) json_string_value(json_array_get(a, (size_t) i));
    return ids;
}

/*  A failed request: its message, and a fresh connection next time (a
 *  reply that comes late must never answer the next request). */
static json_t *
s_failed(cli_t *cli, int code, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s", *cli_last_error() ? cli_last_error() : "request failed");
    if (code == EXIT_UNREACHABLE) {
        cli_disconnect(cli);
        sw_redis_destroy(&cli->redis);
    }
    return NULL;
}

static json_t *
s_err(char *err, size_t errlen, const char *msg)
{
    snprintf(err, errlen, "%s", msg);
    return NULL;
}

/*  The job to act on: the argument (the session's job when the call named
 *  none, s_call), else the current job in Redis. */
static char *
s_job(cli_t *cli, json_t *args, int *code)
{
    const char *job = s_str(args, "job");
    if (job) {
        if (!sw_id_valid(job)) {
            *code = cli_fail(EXIT_USAGE, "invalid job name '%s'", job);
            return NULL;
        }
        return xstrdup(job);
    }
    if (!cli_redis(cli)) {
        *code = EXIT_UNREACHABLE;
        return NULL;
    }
    char *cur = cli_current_job(cli, NULL);
    if (!cur)
        *code = cli_fail(EXIT_NOT_FOUND, "no job given and no current job (swarm_init)");
    return cur;
}

/*  A task from swarm_spawn's arguments; context entries go to ctx as
 *  NS/KEY=VALUE. 0, or -1 with err. */
static int
s_task(json_t *o, sw_task_t *t, sw_strv_t *ctx, char *err, size_t errlen)
{
    const char *id = s_str(o, "id");
    json_t *task = json_object_get(o, "task"), *cmd = json_object_get(o, "command");
    if (task && cmd) {
        snprintf(err, errlen, "task %s: give task (a prompt) or command (an argv), not both", id);
        return -1;
    }
    if (!task && !cmd) {
        snprintf(err, errlen, "task %s: give task (a prompt) or command (an argv)", id);
        return -1;
    }
    t->id = xstrdup(id);
    if (task)
        t->prompt = xstrdup(json_string_value(task));
    size_t i;
    json_t *v;
    json_array_foreach(cmd, i, v)
        sw_strv_push(&t->argv, json_string_value(v));
    if (s_str(o, "type"))
        t->type = xstrdup(s_str(o, "type"));
    if (s_str(o, "runner"))
        t->runner = xstrdup(s_str(o, "runner"));
    json_array_foreach(json_object_get(o, "after"), i, v)
        sw_strv_push(&t->after, json_string_value(v));
    const char *k;
    json_object_foreach(json_object_get(o, "labels"), k, v)
        sw_kv_set(&t->labels, k, json_string_value(v));
    json_object_foreach(json_object_get(o, "env"), k, v)
        sw_kv_set(&t->env, k, json_string_value(v));
    json_object_foreach(json_object_get(o, "context"), k, v) {
        char *item = xasprintf("%s=%s", k, json_string_value(v));
        sw_strv_push(ctx, item);
        free(item);
    }
    t->timeout_s = json_integer_value(json_object_get(o, "timeout"));
    /*  Checked as spawn checks it, before anything reaches the coordinator. */
    sw_err_t e = { 0 };
    t->job = xstrdup("default");
    if (sw_task_validate(t, &e) < 0) {
        snprintf(err, errlen, "%s", e.msg);
        return -1;
    }
    free(t->job);
    t->job = NULL;
    return 0;
}

/*  --- the tools ----------------------------------------------------------------------- */

static json_t *
s_spawn(cli_t *cli, json_t *args, bool batch, char *err, size_t errlen)
{
    json_t *items = batch ? json_object_get(args, "tasks") : NULL;
    size_t n = batch ? json_array_size(items) : 1;
    sw_task_t *tasks = xcalloc(n, sizeof *tasks);
    sw_strv_t ctx = { 0 };
    json_t *out = NULL;
    int rc = 0;
    for (size_t i = 0; i < n; i++)
        sw_task_init(&tasks[i]);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = s_task(batch ? json_array_get(items, i) : args, &tasks[i], &ctx, err, errlen);
    for (size_t i = 0; i < ctx.n && rc == 0; i++) {
        sw_err_t e = { 0 };
        if (cli_store_context(cli, ctx.v[i], &e) < 0) {
            snprintf(err, errlen, "%s", e.msg);
            if (e.code == SW_EUNREACH)
                sw_redis_destroy(&cli->redis);
            rc = -1;
        }
    }
    sw_msg_t reply;
    int code;
    if (rc == 0 && (code = cli_submit(cli, s_str(args, "job"), tasks, n, cli->timeout_ms + 5000,
                                      &reply)) != 0)
        s_failed(cli, code, err, errlen);
    else if (rc == 0) {
        out = cli_mp_to_json(reply.body);
        json_t *ids = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(ids, json_string(tasks[i].id));
        json_object_set_new(out, "ids", ids);
        sw_msg_release(&reply);
    }
    for (size_t i = 0; i < n; i++)
        sw_task_release(&tasks[i]);
    free(tasks);
    sw_strv_release(&ctx);
    return out;
}

/*  Long polls until the tasks are final or the timeout; then one more
 *  WAIT lists every task waited for. */
static json_t *
s_wait(cli_t *cli, json_t *args, char *err, size_t errlen)
{
    json_int_t timeout_s = json_integer_value(json_object_get(args, "timeout"));
    if (timeout_s <= 0)
        timeout_s = WAIT_DEFAULT_S;
    int nids;
    char **ids = s_ids(args, "ids", &nids);
    const char *job = s_str(args, "job");
    int64_t deadline = sw_now_ms() + (int64_t) timeout_s * 1000, since = 0;
    bool done = false;
    int code = 0;
    for (;;) {
        int64_t left = deadline - sw_now_ms();
        sw_msg_t reply;
        code = cli_wait_call(cli, job, ids, nids, left < 5000 ? (left > 0 ? left : 0) : 5000,
                             since, &reply);
        if (code)
            break;
        sw_err_t e = { 0 };
        sw_mp_bool(reply.body, "done", true, &done, &e);
        since = cli_mp_int(reply.body, "seq");
        sw_msg_release(&reply);
        if (done || sw_now_ms() >= deadline)
            break;
    }
    json_t *out = NULL;
    sw_msg_t full;
    if (code == 0 && (code = cli_wait_call(cli, job, ids, nids, 0, -1, &full)) == 0) {
        out = cli_mp_to_json(full.body);
        json_object_set_new(out, "timed_out", json_boolean(!done));
        sw_msg_release(&full);
    }
    free(ids);
    return code ? s_failed(cli, code, err, errlen) : out;
}

/*  At most max bytes of s from its start (or end), not cutting a UTF-8
 *  sequence. */
static json_t *
s_cut(const char *s, size_t len, size_t max, bool tail, bool *cut)
{
    *cut = len > max;
    if (!*cut)
        return json_stringn(s, len);
    size_t from = tail ? len - max : 0, to = tail ? len : max;
    while (tail && from < len && ((unsigned char) s[from] & 0xC0) == 0x80)
        from++;
    while (!tail && to > 0 && ((unsigned char) s[to] & 0xC0) == 0x80)
        to--;
    return json_stringn(s + from, to - from);
}

static json_t *
s_results(cli_t *cli, json_t *args, char *err, size_t errlen)
{
    int code = 0;
    char *job = s_job(cli, args, &code);
    json_t *docs = job ? cli_results_docs(cli, job, &code) : NULL;
    if (!docs) {
        free(job);
        return s_failed(cli, code, err, errlen);
    }
    json_t *want = json_object_get(args, "ids"), *results = json_array(), *counts = json_object();
    size_t i, k;
    json_t *d, *w;
    json_array_foreach(want, k, w) {
        bool found = false;
        json_array_foreach(docs, i, d)
            found = found || json_equal(json_object_get(d, "id"), w);
        if (!found) {
            snprintf(err, errlen, "no task '%s' in job '%s'", json_string_value(w), job);
            json_decref(docs);
            json_decref(results);
            json_decref(counts);
            free(job);
            return NULL;
        }
    }
    json_array_foreach(docs, i, d) {
        const char *st = json_string_value(json_object_get(d, "status"));
        json_object_set_new(counts, st ? st : "unknown",
                            json_integer(json_integer_value(json_object_get(counts, st ? st
                                                                          : "unknown")) + 1));
        bool listed = json_array_size(want) == 0;
        json_array_foreach(want, k, w)
            listed = listed || json_equal(json_object_get(d, "id"), w);
        if (!listed)
            continue;
        json_t *o = json_object_get(d, "output"), *e = json_object_get(d, "stderr_tail");
        bool cut;
        if (json_is_string(o)) {
            json_object_set_new(d, "output", s_cut(json_string_value(o), json_string_length(o),
                                                   OUTPUT_SHORT, false, &cut));
            if (cut)
                json_object_set_new(d, "output_shortened", json_true());
        }
        if (json_is_string(e))
            json_object_set_new(d, "stderr_tail", s_cut(json_string_value(e),
                                                        json_string_length(e), 500, true, &cut));
        json_array_append(results, d);
    }
    json_t *out = json_pack("{s:s, s:I, s:o, s:o}", "job", job,
                            "total", (json_int_t) json_array_size(docs), "counts", counts,
                            "results", results);
    json_decref(docs);
    free(job);
    return out;
}

static json_t *
s_logs(cli_t *cli, json_t *args, char *err, size_t errlen)
{
    int code = 0;
    char *job = s_job(cli, args, &code);
    json_t *doc = job ? cli_logs_doc(cli, job, s_str(args, "id"), 100, false, &code) : NULL;
    free(job);
    if (!doc)
        return s_failed(cli, code, err, errlen);
    json_t *o = json_object_get(doc, "output");
    json_int_t tail = json_integer_value(json_object_get(args, "tail"));
    if (json_is_string(o)) {
        const char *s = json_string_value(o);
        size_t len = json_string_length(o), from = 0;
        if (tail > 0) {
            /*  the last N lines (a final newline ends the last one) */
            size_t end = len && s[len - 1] == '\n' ? len - 1 : len;
            json_int_t lines = 0;
            for (from = end; from > 0; from--)
                if (s[from - 1] == '\n' && ++lines == tail)
                    break;
        }
        bool cut;
        json_object_set_new(doc, "output", s_cut(s + from, len - from, LOGS_MAX, true, &cut));
        json_object_set_new(doc, "output_shortened", json_boolean(cut || from > 0));
    }
    return doc;
}

static json_t *
s_call_job(cli_t *cli, const char *tool, json_t *args, char *err, size_t errlen)
{
    cli_clear_error();
    err[0] = '\0';
    sw_msg_t reply;
    int code;
    if (strcmp(tool, "swarm_init") == 0) {
        json_t *max = json_object_get(args, "maxAgents");
        const char *job = s_str(args, "job"), *ns = s_str(args, "namespace");
        if (job && !sw_id_valid(job))
            return s_err(err, errlen, "invalid job name (letters, digits and . _ - / : @ +)");
        if (ns && !sw_id_valid(ns))
            return s_err(err, errlen, "invalid namespace (letters, digits and . _ - / : @ +)");
        const char *dir = s_str(args, "workspace");
        long long maxv = max ? json_integer_value(max) : -1;
        if (!dir)
            code = cli_init_call(cli, job, s_str(args, "topology"), s_str(args, "strategy"), ns,
                                 maxv, &reply);
        else {
            /*  As swarm init --workspace: the job named first, then its snapshot. */
            char buf[256];
            char *name = job ? xstrdup(job) : NULL;
            code = 0;
            if (!name && (code = cli_init_call(cli, NULL, s_str(args, "topology"),
                                               s_str(args, "strategy"), ns, maxv, &reply)) == 0) {
                name = xstrdup(cli_mp_str(reply.body, "job", buf, sizeof buf));
                sw_msg_release(&reply);
            }
            sw_task_ws_t ws = { 0 };
            cli_ws_opts_t wso = { .dir = dir };
            if (code == 0)
                code = cli_ws_snapshot(cli, name, dir, &wso, &ws, NULL);
            if (code == 0)
                code = cli_init_ws_call(cli, name, s_str(args, "topology"),
                                        s_str(args, "strategy"), ns, maxv, &ws, &reply);
            sw_task_ws_release(&ws);
            free(name);
        }
    }
    else if (strcmp(tool, "swarm_spawn") == 0 || strcmp(tool, "swarm_spawn_batch") == 0)
        return s_spawn(cli, args, strcmp(tool, "swarm_spawn_batch") == 0, err, errlen);
    else if (strcmp(tool, "swarm_wait") == 0)
        return s_wait(cli, args, err, errlen);
    else if (strcmp(tool, "swarm_results") == 0)
        return s_results(cli, args, err, errlen);
    else if (strcmp(tool, "swarm_logs") == 0)
        return s_logs(cli, args, err, errlen);
    else if (strcmp(tool, "swarm_status") == 0) {
        cli_req_t r;
        cli_req_init(&r);
        const char *job = s_str(args, "job");
        msgpack_pack_map(&r.pk, job ? 1 : 0);
        if (job)
            sw_mp_kv_str(&r.pk, "job", job);
        code = cli_call(cli, SW_C_STATUS, &r, cli->timeout_ms, &reply);
    }
    else if (strcmp(tool, "swarm_cancel") == 0) {
        int nids;
        char **ids = s_ids(args, "ids", &nids);
        if (!s_str(args, "job") && nids == 0)
            code = cli_fail(EXIT_USAGE, "cancel: name a job or task ids");
        else
            code = cli_cancel_call(cli, s_str(args, "job"), ids, nids, &reply);
        free(ids);
    }
    else
        return s_err(err, errlen, "unknown control tool");
    if (code)
        return s_failed(cli, code, err, errlen);
    json_t *out = cli_mp_to_json(reply.body);
    sw_msg_release(&reply);
    return out;
}

/*  The job this session's last swarm_init made: its other tools' default.
 *  Redis's current job is shared by every client, so two coordinating
 *  sessions at once (or a person's `swarm init` meanwhile) sent one's
 *  spawns into the other's job, and its wait and cancel with them. */
static char *s_session_job;

static json_t *
s_call(cli_t *cli, const char *tool, json_t *args, char *err, size_t errlen)
{
    bool init = strcmp(tool, "swarm_init") == 0;
    /*  swarm_cancel {} stays an error: the whole job only when named */
    bool fill = !init && s_session_job && !json_object_get(args, "job")
                && (strcmp(tool, "swarm_cancel") != 0 || json_array_size(json_object_get(args,
                                                                                     "ids")));
    json_t *a = fill ? json_copy(args) : json_incref(args);
    if (fill)
        json_object_set_new(a, "job", json_string(s_session_job));
    json_t *out = s_call_job(cli, tool, a, err, errlen);
    json_decref(a);
    const char *job = init ? json_string_value(json_object_get(out, "job")) : NULL;
    if (job) {
        free(s_session_job);
        s_session_job = xstrdup(job);
    }
    return out;
}

static json_t *
s_open(cli_t *cli)
{
    /*  stdout carries the protocol: czmq's log lines go to stderr */
    zsys_handler_set(NULL);
    zsys_set_logstream(stderr);
    (void) cli;
    json_error_t jerr;
    json_t *tools = json_loads(s_tools_json, 0, &jerr);
    if (!tools)
        fprintf(stderr, "swarm: mcp: bad control tool schemas: %s\n", jerr.text);
    return tools;
}

static void
s_close(cli_t *cli)
{
    free(s_session_job);
    s_session_job = NULL;
    cli_disconnect(cli);
    zsys_shutdown();
}

__attribute__((visibility("default"))) const cli_mcp_ctl_t swarm_mcp_ctl = {
    s_open, s_call, s_close,
};
