/*  cli_mcp -- `swarm mcp`: the shared memory as MCP tools, for workers.
 *
 *  A Model Context Protocol server on stdin/stdout: JSON-RPC 2.0, one
 *  message per line. A codex or claude worker runs it as its MCP server and
 *  gets memory_store, memory_retrieve, memory_search, memory_list,
 *  memory_delete and task_context, backed by the same Redis as `swarm
 *  memory`. The worker's job and task come from SWARM_JOB and
 *  SWARM_TASK_ID, which the agent sets for every task.
 *
 *  Every call's arguments are checked against the tool's published input
 *  schema first; a bad call, or Redis being away, is a tool error
 *  (isError), never a crash or an exit. Protocol errors use the JSON-RPC
 *  codes (-32700 parse, -32600 request, -32601 method, -32602 params).
 *  Logs go to stderr; stdout carries only protocol messages.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MCP_MAX_LINE    (20u << 20)     /*  a 16 MiB value, JSON-escaped, fits */
#define MCP_LATEST      "2025-06-18"
#define MCP_STR_(x)     #x
#define MCP_STR(x)      MCP_STR_(x)     /*  a limit's digits, for the schemas */

static const char *const s_versions[] = { "2024-11-05", "2025-03-26", MCP_LATEST, NULL };

/*  --- tools: published schemas ------------------------------------------------ */

static const char s_tools_json[] =
    "["
    "{\"name\":\"memory_store\",\"description\":\"Store a value in swarm's shared memory, "
    "where other workers and the coordinator can read it. Store your result under key "
    "result-<your task id> in namespace results.\",\"inputSchema\":{\"type\":\"object\","
    "\"properties\":{\"key\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":512},"
    "\"value\":{\"type\":\"string\"},\"namespace\":{\"type\":\"string\",\"minLength\":1,"
    "\"maxLength\":128},\"ttl\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":"
    MCP_STR(SW_MEM_MAX_TTL_S) ","
    "\"description\":\"seconds\"},\"upsert\":{\"type\":\"boolean\",\"description\":"
    "\"replace an existing entry (default true)\"},\"tags\":{\"type\":\"array\",\"items\":"
    "{\"type\":\"string\"}}},\"required\":[\"key\",\"value\"],\"additionalProperties\":false}},"
    "{\"name\":\"memory_retrieve\",\"description\":\"Read one entry of the shared memory.\","
    "\"inputSchema\":{\"type\":\"object\",\"properties\":{\"key\":{\"type\":\"string\","
    "\"minLength\":1,\"maxLength\":512},\"namespace\":{\"type\":\"string\",\"minLength\":1,"
    "\"maxLength\":128}},\"required\":[\"key\"],\"additionalProperties\":false}},"
    "{\"name\":\"memory_search\",\"description\":\"Search the shared memory by keywords "
    "(keys, tags and values), best matches first: what have other workers found?\","
    "\"inputSchema\":{\"type\":\"object\",\"properties\":{\"query\":{\"type\":\"string\","
    "\"minLength\":1},\"namespace\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":128},"
    "\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1000}},\"required\":"
    "[\"query\"],\"additionalProperties\":false}},"
    "{\"name\":\"memory_list\",\"description\":\"List the newest entries of a namespace "
    "of the shared memory (values shortened).\",\"inputSchema\":{\"type\":\"object\","
    "\"properties\":{\"namespace\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":128},"
    "\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1000}},"
    "\"additionalProperties\":false}},"
    "{\"name\":\"memory_delete\",\"description\":\"Delete one entry of the shared memory.\","
    "\"inputSchema\":{\"type\":\"object\",\"properties\":{\"key\":{\"type\":\"string\","
    "\"minLength\":1,\"maxLength\":512},\"namespace\":{\"type\":\"string\",\"minLength\":1,"
    "\"maxLength\":128}},\"required\":[\"key\"],\"additionalProperties\":false}},"
    "{\"name\":\"task_context\",\"description\":\"Your own task: its id, job and type, and "
    "the results of the tasks it depends on.\",\"inputSchema\":{\"type\":\"object\","
    "\"properties\":{},\"additionalProperties\":false}}"
    "]";

/*  The subset of JSON Schema the published schemas use: object
 *  (properties, required, additionalProperties false or a schema), array
 *  (items, minItems, maxItems), string (minLength, maxLength, enum),
 *  integer (minimum, maximum), boolean. NULL when v fits, else a message
 *  naming the field by its path ("tasks[1].id"; static storage). */
static const char *
s_check(const json_t *schema, const json_t *v, const char *name)
{
    static char why[512];
    const char *type = json_string_value(json_object_get(schema, "type"));
    if (!type)
        return NULL;
    bool ok = strcmp(type, "object") == 0 ? json_is_object(v)
            : strcmp(type, "string") == 0 ? json_is_string(v)
            : strcmp(type, "integer") == 0 ? json_is_integer(v)
            : strcmp(type, "boolean") == 0 ? json_is_boolean(v)
            : strcmp(type, "array") == 0 ? json_is_array(v) : false;
    if (!ok) {
        if (strcmp(name, "arguments") == 0)
            snprintf(why, sizeof why, "arguments must be an object");
        else
            snprintf(why, sizeof why, "'%s' must be %s %s", name,
                     strchr("aeiou", type[0]) ? "an" : "a", type);
        return why;
    }
    json_t *lim;
    if (json_is_object(v)) {
        const json_t *props = json_object_get(schema, "properties");
        const json_t *extra = json_object_get(schema, "additionalProperties");
        const char *k;
        json_t *item;
        json_object_foreach((json_t *) v, k, item) {
            const json_t *sub = json_object_get(props, k);
            char path[300];
            if (strcmp(name, "arguments") == 0)
                snprintf(path, sizeof path, "%.250s", k);
            else
                snprintf(path, sizeof path, "%.150s.%.140s", name, k);
            if (!sub && json_is_object(extra))
                sub = extra;
            if (!sub) {
                snprintf(why, sizeof why, "unknown argument '%s'", path);
                return why;
            }
            const char *bad = s_check(sub, item, path);
            if (bad)
                return bad;
        }
        size_t i;
        json_t *req;
        json_array_foreach(json_object_get(schema, "required"), i, req)
            if (!json_object_get(v, json_string_value(req))) {
                if (strcmp(name, "arguments") == 0)
                    snprintf(why, sizeof why, "missing argument '%s'", json_string_value(req));
                else
                    snprintf(why, sizeof why, "missing argument '%.200s.%.100s'", name,
                             json_string_value(req));
                return why;
            }
        return NULL;
    }
    if (json_is_string(v)) {
        size_t n = json_string_length(v);
        const json_t *choices = json_object_get(schema, "enum");
        if ((lim = json_object_get(schema, "minLength")) && n < (size_t) json_integer_value(lim))
            snprintf(why, sizeof why, "'%s' must not be empty", name);
        else if ((lim = json_object_get(schema, "maxLength"))
                 && n > (size_t) json_integer_value(lim))
            snprintf(why, sizeof why, "'%s' is longer than %lld characters", name,
                     (long long) json_integer_value(lim));
        else if (choices) {
            size_t i;
            json_t *c;
            sw_buf_t list;
            sw_buf_init(&list);
            json_array_foreach(choices, i, c) {
                if (json_equal(c, v)) {
                    sw_buf_release(&list);
                    return NULL;
                }
                sw_buf_printf(&list, "%s%s", i ? ", " : "", json_string_value(c));
            }
            snprintf(why, sizeof why, "'%s' must be one of %s", name, list.data);
            sw_buf_release(&list);
        }
        else
            return NULL;
        return why;
    }
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        json_t *lo = json_object_get(schema, "minimum"), *hi = json_object_get(schema, "maximum");
        if ((lo && x < json_integer_value(lo)) || (hi && x > json_integer_value(hi))) {
            snprintf(why, sizeof why, "'%s' must be between %lld and %lld", name,
                     (long long) json_integer_value(lo), (long long) json_integer_value(hi));
            return why;
        }
        return NULL;
    }
    if (json_is_array(v)) {
        const json_t *items = json_object_get(schema, "items");
        size_t n = json_array_size(v);
        if ((lim = json_object_get(schema, "minItems")) && n < (size_t) json_integer_value(lim)) {
            snprintf(why, sizeof why, "'%s' needs at least %lld item%s", name,
                     (long long) json_integer_value(lim), json_integer_value(lim) == 1 ? "" : "s");
            return why;
        }
        if ((lim = json_object_get(schema, "maxItems")) && n > (size_t) json_integer_value(lim)) {
            snprintf(why, sizeof why, "'%s' has more than %lld items", name,
                     (long long) json_integer_value(lim));
            return why;
        }
        const char *item_type = json_string_value(json_object_get(items, "type"));
        size_t i;
        json_t *e;
        json_array_foreach((json_t *) v, i, e) {
            char path[300];
            snprintf(path, sizeof path, "%.250s[%zu]", name, i);
            const char *bad = items ? s_check(items, e, path) : NULL;
            if (bad && item_type && strcmp(item_type, "string") == 0 && !json_is_string(e)) {
                snprintf(why, sizeof why, "'%s' must hold only strings", name);
                return why;
            }
            if (bad)
                return bad;
        }
    }
    return NULL;
}

/*  Checks that must say what the CLI says for the same mistake, made
 *  before the generic schema check: memory_store's ttl has one limit and
 *  one message in both (sw_memory_ttl_parse). NULL when fine. */
static const char *
s_precheck(const char *tool, const json_t *args)
{
    static char why[sizeof ((sw_err_t *) 0)->msg];
    const json_t *ttl = json_object_get(args, "ttl");
    if (strcmp(tool, "memory_store") != 0 || !json_is_integer(ttl))
        return NULL;
    char text[32];
    snprintf(text, sizeof text, "%lld", (long long) json_integer_value(ttl));
    sw_err_t err = { 0 };
    int64_t ttl_s;
    if (sw_memory_ttl_parse(text, &ttl_s, &err) == 0)
        return NULL;
    snprintf(why, sizeof why, "%s", err.msg);
    return why;
}

/*  --- tools: what they do ----------------------------------------------------- */

typedef struct {
    cli_t               *cli;
    json_t              *tools;     /*  the published list */
    const cli_mcp_ctl_t *ctl;       /*  the control tools (--control), or NULL */
} s_mcp_t;

/*  A tool result: text for the model, and the same as structured content
 *  when it is JSON. Steals data. */
static json_t *
s_result(json_t *data, bool error, const char *text)
{
    char *dumped = data ? json_dumps(data, JSON_COMPACT) : NULL;
    json_t *r = json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text", "text",
                          dumped ? dumped : text, "isError", error);
    if (data && json_is_object(data))
        json_object_set(r, "structuredContent", data);
    free(dumped);
    json_decref(data);
    return r;
}

static json_t *
s_error(const char *fmt, ...) SW_PRINTF(1, 2);

static json_t *
s_error(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return s_result(NULL, true, buf);
}

/*  Redis, connected on first use; NULL with err set. Reconnects after an
 *  error, so a Redis restart costs one failed call. */
static sw_redis_t *
s_redis(s_mcp_t *m, sw_err_t *err)
{
    if (!m->cli->redis)
        m->cli->redis = sw_keys_connect(m->cli->redis_url, 2000, err);
    return m->cli->redis;
}

static void
s_redis_failed(s_mcp_t *m, const sw_err_t *err)
{
    if (err->code == SW_EUNREACH || err->code == SW_EFAIL)
        sw_redis_destroy(&m->cli->redis);
}

static const char *
s_ns(json_t *args, const char *fallback)
{
    const char *ns = json_string_value(json_object_get(args, "namespace"));
    return ns ? ns : fallback;
}

static json_t *
s_entries(sw_mem_entry_t *v, size_t n, bool with_value)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, sw_memory_entry_json(&v[i], with_value));
    return a;
}

static json_t *
s_call(s_mcp_t *m, const char *tool, json_t *args)
{
    sw_err_t err = { 0 };
    sw_redis_t *r = s_redis(m, &err);
    if (!r)
        return s_error("shared memory unavailable: %s", err.msg);
    const char *key = json_string_value(json_object_get(args, "key"));
    if (key && !sw_memory_key_valid(key))
        return s_error("invalid key '%s'", key);
    json_t *out = NULL;
    if (strcmp(tool, "memory_store") == 0) {
        sw_buf_t tags;
        sw_buf_init(&tags);
        size_t i;
        json_t *t;
        json_array_foreach(json_object_get(args, "tags"), i, t)
            sw_buf_printf(&tags, "%s%s", i ? "," : "", json_string_value(t));
        json_t *up = json_object_get(args, "upsert");
        /*  A worker's store names its task attempt: the agent keeps the
         *  worker's own result of that attempt (sw_mem_store_opts_t). */
        const char *job = getenv("SWARM_JOB"), *id = getenv("SWARM_TASK_ID"),
                   *attempt = getenv("SWARM_ATTEMPT");
        char *writer = job && id && attempt ? xasprintf("%s\n%s\n%s", job, id, attempt) : NULL;
        sw_mem_store_opts_t o = { .tags = tags.data,
                                  .ttl_ms = json_integer_value(json_object_get(args, "ttl")) * 1000,
                                  .no_upsert = up && json_is_false(up), .writer = writer };
        json_t *value = json_object_get(args, "value");
        const char *ns = s_ns(args, "default");
        if (sw_memory_store(r, ns, key, json_string_value(value), json_string_length(value), &o,
                            &err) == 0)
            out = s_result(json_pack("{s:b, s:s, s:s, s:I}", "stored", 1, "namespace", ns, "key",
                                     key, "bytes", (json_int_t) json_string_length(value)),
                           false, NULL);
        sw_buf_release(&tags);
        free(writer);
    }
    else if (strcmp(tool, "memory_retrieve") == 0) {
        sw_mem_entry_t e = { 0 };
        if (sw_memory_get(r, s_ns(args, "default"), key, &e, &err) == 0) {
            out = s_result(sw_memory_entry_json(&e, true), false, NULL);
            sw_mem_entry_release(&e);
        }
        else if (err.code == SW_ENOTFOUND)
            return s_error("no entry '%s' in namespace %s", key, s_ns(args, "default"));
    }
    else if (strcmp(tool, "memory_delete") == 0) {
        if (sw_memory_delete(r, s_ns(args, "default"), key, &err) == 0)
            out = s_result(json_pack("{s:b, s:s}", "deleted", 1, "key", key), false, NULL);
        else if (err.code == SW_ENOTFOUND)
            return s_error("no entry '%s' in namespace %s", key, s_ns(args, "default"));
    }
    else if (strcmp(tool, "memory_search") == 0 || strcmp(tool, "memory_list") == 0) {
        bool search = tool[7] == 's';
        json_t *lim = json_object_get(args, "limit");
        size_t limit = lim ? (size_t) json_integer_value(lim) : 20, n = 0, total = 0;
        sw_mem_entry_t *v = NULL;
        int rc = search ? sw_memory_search(r, s_ns(args, NULL),
                                           json_string_value(json_object_get(args, "query")),
                                           limit, &v, &n, &err)
                        : sw_memory_list(r, s_ns(args, "default"), 0, limit, false, &v, &n,
                                         &total, &err);
        if (rc == 0) {
            json_t *res = json_pack("{s:o}", "entries", s_entries(v, n, search));
            if (!search)
                json_object_set_new(res, "total", json_integer((json_int_t) total));
            out = s_result(res, false, NULL);
        }
        sw_mem_entries_free(v, n);
    }
    else if (strcmp(tool, "task_context") == 0) {
        const char *job = getenv("SWARM_JOB"), *id = getenv("SWARM_TASK_ID");
        if (!job || !id)
            return s_error("not running as a swarm task (SWARM_JOB and SWARM_TASK_ID unset)");
        char *hkey = sw_key_task(job, id);
        redisReply *spec = sw_redis_cmdv(r, &err, "HGET", hkey, "spec", NULL);
        free(hkey);
        json_t *doc = spec && spec->type == REDIS_REPLY_STRING ? json_loads(spec->str, 0, NULL)
                                                                : NULL;
        if (spec)
            freeReplyObject(spec);
        if (!doc && !err.code)
            return s_error("task %s of job %s is not in Redis", id, job);
        if (doc) {
            json_t *deps = json_object();
            size_t i;
            json_t *d;
            json_array_foreach(json_object_get(doc, "after"), i, d) {
                if (!json_is_string(d))
                    continue;
                hkey = sw_key_task(job, json_string_value(d));
                redisReply *res = sw_redis_cmdv(r, &err, "HGET", hkey, "result", NULL);
                free(hkey);
                json_t *rj = res && res->type == REDIS_REPLY_STRING
                           ? json_loads(res->str, 0, NULL) : NULL;
                json_object_set_new(deps, json_string_value(d), rj ? rj : json_null());
                if (res)
                    freeReplyObject(res);
            }
            json_t *type = json_object_get(doc, "type");
            out = s_result(json_pack("{s:s, s:s, s:O, s:s?, s:o}", "task_id", id, "job", job,
                                     "type", type ? type : json_null(), "agent",
                                     getenv("SWARM_AGENT"), "dependencies", deps),
                           false, NULL);
            json_decref(doc);
        }
    }
    if (!out) {
        s_redis_failed(m, &err);
        return s_error("%s failed: %s", tool, err.msg[0] ? err.msg : "unknown error");
    }
    return out;
}

/*  --- JSON-RPC ------------------------------------------------------------------ */

static json_t *
s_rpc_error(json_t *id, int code, const char *msg)
{
    return json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", id ? id : json_null(),
                     "error", "code", code, "message", msg);
}

/*  The answer to one message, or NULL for a notification. */
static json_t *
s_handle(s_mcp_t *m, json_t *msg)
{
    json_t *id = json_object_get(msg, "id");
    const char *method = json_string_value(json_object_get(msg, "method"));
    const char *version = json_string_value(json_object_get(msg, "jsonrpc"));
    if (!json_is_object(msg) || !method || !version || strcmp(version, "2.0") != 0
        || (id && !json_is_string(id) && !json_is_integer(id)))
        return s_rpc_error(id, -32600, "invalid request: want a JSON-RPC 2.0 object with a "
                           "method");
    if (!id)
        return NULL;            /*  notifications/initialized, cancelled, ... */
    json_t *params = json_object_get(msg, "params");
    json_t *result = NULL;
    if (strcmp(method, "initialize") == 0) {
        const char *want = json_string_value(json_object_get(params, "protocolVersion"));
        const char *agreed = MCP_LATEST;
        for (size_t i = 0; want && s_versions[i]; i++)
            if (strcmp(want, s_versions[i]) == 0)
                agreed = s_versions[i];
        result = json_pack("{s:s, s:{s:{s:b}}, s:{s:s, s:s}, s:s}", "protocolVersion", agreed,
                           "capabilities", "tools", "listChanged", 0, "serverInfo", "name",
                           "swarm", "version", SWARM_VERSION, "instructions", m->ctl
                           ? "swarm runs coding-agent workers on a farm of machines. "
                             "swarm_init creates a job; swarm_spawn queues workers (after: "
                             "to run one after another); swarm_wait waits (bounded: call it "
                             "again until done); swarm_results reads what they did. Workers "
                             "store their results in the shared memory (namespace results), "
                             "which the memory tools read."
                           : "swarm's shared memory: search it for what other workers found, "
                             "store your findings and your result (key result-<task id>, "
                             "namespace results).");
    }
    else if (strcmp(method, "ping") == 0)
        result = json_object();
    else if (strcmp(method, "tools/list") == 0)
        result = json_pack("{s:O}", "tools", m->tools);
    else if (strcmp(method, "tools/call") == 0) {
        const char *name = json_string_value(json_object_get(params, "name"));
        json_t *args = json_object_get(params, "arguments");
        const json_t *tool = NULL;
        size_t i;
        json_t *t;
        json_array_foreach(m->tools, i, t)
            if (name && strcmp(json_string_value(json_object_get(t, "name")), name) == 0)
                tool = t;
        if (!tool) {
            char why[256];
            snprintf(why, sizeof why, "unknown tool '%s'", name ? name : "(none)");
            return s_rpc_error(id, -32602, why);
        }
        json_t *empty = json_object();
        const char *bad = s_precheck(name, args);
        if (!bad)
            bad = s_check(json_object_get(tool, "inputSchema"), args ? args : empty,
                          "arguments");
        if (bad)
            result = s_error("invalid arguments for %s: %s", name, bad);
        else if (m->ctl && strncmp(name, "swarm_", 6) == 0) {
            char why[1024];
            json_t *data = m->ctl->call(m->cli, name, args ? args : empty, why, sizeof why);
            result = data ? s_result(data, false, NULL) : s_error("%s", why);
        }
        else
            result = s_call(m, name, args ? args : empty);
        json_decref(empty);
    }
    else
        return s_rpc_error(id, -32601, "method not found");
    return json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "result", result);
}

static void
s_send(json_t *reply)
{
    char *s = json_dumps(reply, JSON_COMPACT);
    fputs(s, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    free(s);
    json_decref(reply);
}

/*  Reads one line (with its newline) into line, bytes as they are. A line
 *  over MCP_MAX_LINE is read to its end but not kept (too_long): getline
 *  would hold a client's endless line in memory. False at EOF with nothing
 *  read. */
static bool
s_read_line(FILE *in, sw_buf_t *line, bool *too_long)
{
    sw_buf_reset(line);
    *too_long = false;
    int c;
    bool any = false;
    char buf[4096];
    size_t k = 0;
    while ((c = getc_unlocked(in)) != EOF) {
        any = true;
        if (!*too_long) {
            buf[k++] = (char) c;
            if (k == sizeof buf) {
                sw_buf_add(line, buf, k);
                k = 0;
            }
            if (line->len + k > MCP_MAX_LINE + 2) {     /*  with its CR LF */
                *too_long = true;
                sw_buf_release(line);
                k = 0;
            }
        }
        if (c == '\n')
            break;
    }
    if (k)
        sw_buf_add(line, buf, k);
    return any;
}

/*  Legal JSON that jansson refuses by default: a string holding \u0000,
 *  which no name, key or text here takes, or an integer beyond 64 bits.
 *  The request gets its answer (a notification none), not a parse error
 *  without an id that leaves the client waiting. True when answered so;
 *  false when the text is not JSON at all. */
static bool
s_answer_odd(const char *text, size_t n)
{
    json_t *msg = json_loadb(text, n, JSON_ALLOW_NUL, NULL);
    const char *why = "invalid params: a string holds \\u0000 (NUL), which swarm does not "
                      "take";
    if (!msg) {
        msg = json_loadb(text, n, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, NULL);
        why = "invalid params: a number is too large (integers here fit in 64 bits)";
    }
    if (!msg)
        return false;
    json_t *id = json_object_get(msg, "id");
    if (json_is_real(id)) {
        /*  an integer id read as a real: only a huge one stays a real */
        double d = json_real_value(id);
        id = d >= -9e15 && d <= 9e15 && d == (double) (json_int_t) d
             ? json_integer((json_int_t) d) : json_null();
    }
    else
        json_incref(id);
    if (id)
        s_send(s_rpc_error(id, -32602, why));
    json_decref(id);
    json_decref(msg);
    return true;
}

int
cli_mcp(cli_t *cli, int argc, char **argv)
{
    static const sw_arg_t lo[] = { { "control", 0, false, 'C' }, { NULL, 0, false, 0 } };
    cli_args_t a;
    int c, rc = 0;
    bool control = false;
    cli_args_init(&a, cli, "mcp", lo, argc, argv, 0);
    while (rc == 0 && (c = cli_args_next(&a)) != -1) {
        if (c == 'C')
            control = true;
        else if (c == 'h') {
            fputs("usage: swarm mcp [--control]\n\n"
                  "An MCP server (JSON-RPC 2.0 over stdin/stdout, one message per line) with\n"
                  "the tools memory_store, memory_retrieve, memory_search, memory_list,\n"
                  "memory_delete and task_context, backed by swarm's shared memory in Redis\n"
                  "($SWARM_REDIS or --redis). Workers' CLIs start it; see README, MCP.\n"
                  "--control adds the tools a coordinating agent drives the farm with:\n"
                  "swarm_init, swarm_spawn, swarm_spawn_batch, swarm_wait (bounded),\n"
                  "swarm_status, swarm_results, swarm_cancel and swarm_logs, against the\n"
                  "coordinator the CLI uses (--coordinator, $SWARM_COORDINATOR, CURVE keys).\n"
                  "Agents start their workers' server without it.\n", stdout);
            rc = -1;
        }
        else
            rc = EXIT_USAGE;
    }
    if (rc == 0 && a.g.npos)
        rc = cli_fail(EXIT_USAGE, "mcp: unexpected argument '%s'", a.g.pos[0]);
    cli_args_release(&a);
    if (rc)
        return rc < 0 ? 0 : rc;
    json_error_t jerr;
    s_mcp_t m = { .cli = cli, .tools = json_loads(s_tools_json, 0, &jerr) };
    if (!m.tools)
        return cli_fail(EXIT_TASKS_FAILED, "bad tool schemas: %s", jerr.text);
    if (control) {
        /*  Only now is ZeroMQ loaded: a worker's server never has it. */
        m.ctl = cli_ctl_symbol(CLI_MCP_CTL_SYMBOL);
        json_t *more = m.ctl ? m.ctl->open(cli) : NULL;
        if (!more) {
            json_decref(m.tools);
            return EXIT_TASKS_FAILED;
        }
        json_array_extend(m.tools, more);
        json_decref(more);
    }
    sw_buf_t line;
    sw_buf_init(&line);
    bool too_long;
    while (s_read_line(stdin, &line, &too_long)) {
        size_t n = line.len;
        while (n > 0 && (line.data[n - 1] == '\n' || line.data[n - 1] == '\r'))
            n--;
        if (too_long) {
            s_send(s_rpc_error(NULL, -32700, "message too large"));
            continue;
        }
        if (n == 0)
            continue;
        json_t *msg = json_loadb(line.data, n, 0, &jerr);
        if (!msg) {
            if (s_answer_odd(line.data, n))
                continue;
            char why[300];
            snprintf(why, sizeof why, "parse error: %s", jerr.text);
            s_send(s_rpc_error(NULL, -32700, why));
            continue;
        }
        if (json_is_array(msg))         /*  batches went away in 2025-06-18 */
            s_send(s_rpc_error(NULL, -32600, "batches are not supported"));
        else {
            json_t *reply = s_handle(&m, msg);
            if (reply)
                s_send(reply);
        }
        json_decref(msg);
    }
    sw_buf_release(&line);
    json_decref(m.tools);
    if (m.ctl)
        m.ctl->close(cli);
    return EXIT_OK;
}
