/*  agent_runner -- see agent_runner.h */
#include "agent_runner.h"

#include <fnmatch.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/random.h>
#include <unistd.h>
#include <string.h>
#include <time.h>

#include "sw_selftest.h"

const char *
agent_runner_sandbox(const char *type)
{
    return strcmp(type, "reviewer") == 0 || strcmp(type, "architect") == 0
         ? "read-only" : "workspace-write";
}

void
agent_toml_string(sw_buf_t *out, const char *s)
{
    sw_buf_addstr(out, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char) *s;
        if (c == '"' || c == '\\')
            sw_buf_printf(out, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            sw_buf_printf(out, "\\u%04x", c);
        else
            sw_buf_add(out, s, 1);
    }
    sw_buf_addstr(out, "\"");
}

/*  The worker's MCP server, `swarm mcp`, as both CLIs describe one:
 *  command, args (where Redis is; a password by file, never in argv) and
 *  env (the task's ids: the CLI starts it with no other environment). */
static json_t *
s_mcp_server(const agent_runner_conf_t *conf, const sw_task_t *t)
{
    char attempt[32];
    snprintf(attempt, sizeof attempt, "%lld", (long long) t->attempt);
    json_t *args = json_pack("[s, s]", "--redis", conf->redis_url);
    if (conf->redis_password_file) {
        json_array_append_new(args, json_string("--redis-password-file"));
        json_array_append_new(args, json_string(conf->redis_password_file));
    }
    json_array_append_new(args, json_string("mcp"));
    return json_pack("{s:s, s:o, s:{s:s, s:s, s:s, s:s}}", "command", conf->mcp, "args", args,
                     "env", "SWARM_JOB", t->job, "SWARM_TASK_ID", t->id, "SWARM_ATTEMPT", attempt,
                     "SWARM_AGENT", conf->agent_id ? conf->agent_id : "");
}

/*  A JSON string, array of strings or object of strings as a TOML inline
 *  value. */
static void
s_toml(sw_buf_t *out, const json_t *v)
{
    const char *k;
    json_t *item;
    size_t i;
    if (json_is_array(v)) {
        sw_buf_addstr(out, "[");
        json_array_foreach(v, i, item) {
            sw_buf_addstr(out, i ? "," : "");
            s_toml(out, item);
        }
        sw_buf_addstr(out, "]");
    }
    else if (json_is_object(v)) {
        sw_buf_addstr(out, "{");
        i = 0;
        json_object_foreach((json_t *) v, k, item) {
            sw_buf_printf(out, "%s%s=", i++ ? "," : "", k);
            s_toml(out, item);
        }
        sw_buf_addstr(out, "}");
    }
    else
        agent_toml_string(out, json_string_value(v));
}

/*  codex: -c mcp_servers.swarm.KEY=VALUE for each key of the server, and
 *  its tools approved (codex exec has no one to ask). */
static void
s_codex_mcp(const agent_runner_conf_t *conf, const sw_task_t *t, sw_strv_t *argv)
{
    json_t *server = s_mcp_server(conf, t);
    json_object_set_new(server, "default_tools_approval_mode", json_string("approve"));
    sw_buf_t kv;
    sw_buf_init(&kv);
    const char *key;
    json_t *value;
    json_object_foreach(server, key, value) {
        sw_buf_reset(&kv);
        sw_buf_printf(&kv, "mcp_servers.swarm.%s=", key);
        s_toml(&kv, value);
        sw_strv_push(argv, "-c");
        sw_strv_push(argv, kv.data);
    }
    sw_buf_release(&kv);
    json_decref(server);
}

/*  A random (version 4) UUID for claude's --session-id. */
static void
s_uuid(char out[37])
{
    unsigned char b[16];
    if (getrandom(b, sizeof b, 0) != (ssize_t) sizeof b)
        for (size_t i = 0; i < sizeof b; i++)
            b[i] = (unsigned char) rand();
    b[6] = (unsigned char) ((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char) ((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
             b[13], b[14], b[15]);
}

/*  claude's --mcp-config: the same server as codex gets, as JSON. */
static char *
s_claude_mcp(const agent_runner_conf_t *conf, const sw_task_t *t)
{
    json_t *doc = json_pack("{s:{s:o}}", "mcpServers", "swarm", s_mcp_server(conf, t));
    char *s = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return s;
}

/*  A task's limit under the agent's ceiling; 0 is "none" on either side. */
static long long
s_ceiling(long long task, long long agent)
{
    return task && agent ? (task < agent ? task : agent) : task ? task : agent;
}

int
agent_runner_argv(const agent_runner_conf_t *conf, const sw_task_t *t, const char *dir,
                  const char *lastmsg, const char *schema, sw_strv_t *argv, sw_err_t *err)
{
    if (strcmp(t->runner, "codex") == 0) {
        const char *v[] = { conf->codex, "exec", "--sandbox", agent_runner_sandbox(t->type),
                            "--skip-git-repo-check", "-C", dir, "-o", lastmsg, "--json" };
        for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
            sw_strv_push(argv, v[i]);
        if (conf->mcp)
            s_codex_mcp(conf, t, argv);
        if (schema) {
            sw_strv_push(argv, "--output-schema");
            sw_strv_push(argv, schema);
        }
        /*  "-": the prompt is on stdin (a regular file: EOF right after it) */
        sw_strv_push(argv, "-");
        return 0;
    }
    if (strcmp(t->runner, "claude") == 0) {
        sw_strv_push(argv, conf->claude);
        /*  -p without a prompt argument: claude reads it from stdin. Its
         *  events as they happen (stream-json, which needs --verbose) for
         *  the live output; the last line is the result document that
         *  --output-format json would have printed alone. */
        sw_strv_push(argv, "-p");
        sw_strv_push(argv, "--output-format");
        sw_strv_push(argv, "stream-json");
        sw_strv_push(argv, "--verbose");
        char uuid[37];
        s_uuid(uuid);
        sw_strv_push(argv, "--session-id");
        sw_strv_push(argv, uuid);
        if (conf->mcp) {
            char *config = s_claude_mcp(conf, t);
            sw_strv_push(argv, "--mcp-config");
            sw_strv_push(argv, config);
            sw_strv_push(argv, "--allowedTools");
            sw_strv_push(argv, "mcp__swarm");
            free(config);
        }
        if (strcmp(agent_runner_sandbox(t->type), "read-only") == 0) {
            const char *no[] = { "--disallowedTools", "Bash", "Edit", "Write", "NotebookEdit" };
            for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
                sw_strv_push(argv, no[i]);
        }
        else {
            sw_strv_push(argv, "--permission-mode");
            sw_strv_push(argv, "acceptEdits");
        }
        long long turns = s_ceiling(t->max_turns, conf->claude_max_turns),
                  cents = s_ceiling(t->max_budget_cents, conf->claude_max_budget_cents);
        if (turns) {
            char n[32];
            snprintf(n, sizeof n, "%lld", turns);
            sw_strv_push(argv, "--max-turns");
            sw_strv_push(argv, n);
        }
        if (cents) {
            char usd[32];
            sw_fmt_usd(cents, usd);
            sw_strv_push(argv, "--max-budget-usd");
            sw_strv_push(argv, usd);
        }
        return 0;
    }
    if (strcmp(t->runner, "exec") == 0) {
        if (!conf->allow_exec)
            return sw_err_set(err, SW_EINVAL, "this agent does not run exec tasks "
                              "(start it with --allow-exec)");
        sw_strv_copy(argv, &t->argv);
        if (!conf->allow_cmd || conf->allow_cmd->n == 0)
            return 0;
        /*  The agent finds the program itself, in its own PATH, and runs
         *  that path (a task's PATH or LD_* are refused by agent_env_check
         *  on such an agent, so they cannot swap the program). */
        const char *path = getenv("PATH");
        char *program = argv->n ? agent_cmd_resolve(argv->v[0], path ? path : "/usr/bin:/bin")
                                : NULL;
        if (!program || !agent_cmd_allowed(argv->v[0], program, conf->allow_cmd)) {
            sw_err_set(err, SW_EINVAL, "program %s is not allowed on this agent (--allow-cmd)",
                       program ? program : argv->n ? argv->v[0] : "(none)");
            free(program);
            return -1;
        }
        free(argv->v[0]);
        argv->v[0] = program;
        return 0;
    }
    return sw_err_set(err, SW_EINVAL, "unknown runner '%s'", t->runner);
}

bool
agent_cmd_allowed(const char *given, const char *program, const sw_strv_t *patterns)
{
    bool bare = strchr(given, '/') == NULL;
    for (size_t i = 0; patterns && i < patterns->n; i++) {
        const char *p = patterns->v[i];
        bool path = strchr(p, '/') != NULL;
        if ((path || bare) && fnmatch(p, path ? program : given, FNM_PATHNAME | FNM_PERIOD) == 0)
            return true;
    }
    return false;
}

char *
agent_cmd_resolve(const char *name, const char *path)
{
    if (!*name)
        return NULL;
    if (strchr(name, '/'))
        return name[0] == '/' ? xstrdup(name) : NULL;
    for (const char *p = path; ; ) {
        const char *end = strchr(p, ':');
        size_t n = end ? (size_t) (end - p) : strlen(p);
        /*  An empty or relative entry means a directory we do not control. */
        if (n > 0 && p[0] == '/') {
            char *full = xasprintf("%.*s/%s", (int) n, p, name);
            if (access(full, X_OK) == 0)
                return full;
            free(full);
        }
        if (!end)
            return NULL;
        p = end + 1;
    }
}

int
agent_template_expand(const char *in, agent_lookup_fn lookup, void *ctx, sw_buf_t *out,
                      sw_err_t *err)
{
    const char *p = in;
    int refs = 0;
    for (;;) {
        const char *open = strstr(p, "{{");
        const char *close = open ? strstr(open + 2, "}}") : NULL;
        if (!close) {
            sw_buf_addstr(out, p);
            break;
        }
        sw_buf_add(out, p, (size_t) (open - p));
        char *inner = xstrndup(open + 2, (size_t) (close - open - 2));
        char *colon = strchr(inner, ':');
        const char *kind = inner;
        bool known = colon && (strncmp(inner, "memory:", 7) == 0
                               || strncmp(inner, "result:", 7) == 0);
        if (!known)
            sw_buf_add(out, open, (size_t) (close + 2 - open));
        else {
            *colon = '\0';
            const char *ref = colon + 1;
            bool ok = *ref && (strcmp(kind, "result") == 0 || strchr(ref, '/'));
            sw_err_t e2 = { 0 };
            size_t before = out->len;
            if (ok && ++refs > AGENT_PROMPT_REFS_MAX)
                sw_err_set(&e2, SW_EINVAL, "more than %d references (the most a prompt may "
                           "hold)", AGENT_PROMPT_REFS_MAX);
            else if (ok && lookup(ctx, kind, ref, out, &e2) == 0) {
                /*  The value is the prompt's text: a NUL would end it there, and
                 *  the whole stays within what the agent builds for one run. */
                if (out->len > before && memchr(out->data + before, '\0', out->len - before))
                    sw_err_set(&e2, SW_EINVAL, "its value holds a NUL byte, and a prompt is "
                               "text");
                else if (out->len > AGENT_PROMPT_MAX)
                    sw_err_set(&e2, SW_EINVAL, "the expanded prompt would be over %u bytes",
                               AGENT_PROMPT_MAX);
            }
            if (!ok || e2.code) {
                *colon = ':';
                /*  not found is for good; Redis unreachable is not */
                sw_err_set(err, ok && e2.code ? e2.code : SW_ENOTFOUND,
                           "the prompt references {{%s}}: %s", inner,
                           !ok ? "want {{memory:NS/KEY}} or {{result:ID}}" : e2.msg);
                free(inner);
                return -1;
            }
        }
        free(inner);
        p = close + 2;
    }
    if (out->len > AGENT_PROMPT_MAX)
        return sw_err_set(err, SW_EINVAL, "the expanded prompt would be over %u bytes",
                          AGENT_PROMPT_MAX);
    return 0;
}

static int
s_test_lookup(void *ctx, const char *kind, const char *ref, sw_buf_t *out, sw_err_t *err)
{
    (void) ctx;
    if (strcmp(kind, "memory") == 0 && strcmp(ref, "ctx/design") == 0) {
        sw_buf_addstr(out, "use JWT");
        return 0;
    }
    if (strcmp(kind, "result") == 0 && strcmp(ref, "architect") == 0) {
        sw_buf_addstr(out, "the plan");
        return 0;
    }
    if (strcmp(kind, "memory") == 0 && strcmp(ref, "ctx/mib") == 0) {
        size_t at = out->len;
        for (size_t i = 0; i < (1u << 20) / 64; i++)
            sw_buf_addstr(out, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n");
        return out->len - at == (1u << 20) ? 0 : -1;
    }
    if (strcmp(kind, "memory") == 0 && strcmp(ref, "ctx/empty") == 0)
        return 0;
    if (strcmp(kind, "memory") == 0 && strcmp(ref, "ctx/nul") == 0) {
        sw_buf_add(out, "x\0y", 3);
        return 0;
    }
    return sw_err_set(err, SW_ENOTFOUND, "not found");
}

/*  NAME or PREFIX* against the name part of VAR. */
/*  The values of --max-turns and --max-budget-usd in claude's argv. */
static const char *
s_test_claude_limits(const agent_runner_conf_t *conf, sw_task_t *t, long long turns,
                     long long cents)
{
    static char out[64];
    sw_err_t err = { 0 };
    sw_strv_t argv = { 0 };
    t->max_turns = turns;
    t->max_budget_cents = cents;
    *out = '\0';
    if (agent_runner_argv(conf, t, "/w", "/w/last", NULL, &argv, &err) < 0)
        return "error";
    for (size_t i = 0; i + 1 < argv.n; i++)
        if (strcmp(argv.v[i], "--max-turns") == 0 || strcmp(argv.v[i], "--max-budget-usd") == 0)
            snprintf(out + strlen(out), sizeof out - strlen(out), " %s", argv.v[i + 1]);
    sw_strv_release(&argv);
    return out;
}

int
agent_runner_test(bool verbose)
{

    sw_err_t err = { 0 };
    agent_runner_conf_t conf = { .codex = "/opt/codex", .claude = "claude", .allow_exec = false };
    sw_task_t t;
    sw_task_init(&t);
    t.id = xstrdup("review");
    t.job = xstrdup("j");
    t.type = xstrdup("reviewer");
    t.runner = xstrdup("codex");
    t.prompt = xstrdup("--version review - [ ] look at it");
    sw_strv_t argv = { 0 };
    CHECK(agent_runner_argv(&conf, &t, "/w", "/w/last", NULL, &argv, &err) == 0);
    const char *want[] = { "/opt/codex", "exec", "--sandbox", "read-only",
                           "--skip-git-repo-check", "-C", "/w", "-o", "/w/last", "--json",
                           "-" };
    CHECK(argv.n == 11);
    for (size_t i = 0; i < argv.n && i < 11; i++)
        CHECK(strcmp(argv.v[i], want[i]) == 0);
    sw_strv_release(&argv);
    CHECK(agent_runner_argv(&conf, &t, "/w", "/w/last", "/w/s.json", &argv, &err) == 0);
    CHECK(argv.n == 13 && strcmp(argv.v[10], "--output-schema") == 0);
    CHECK(strcmp(argv.v[11], "/w/s.json") == 0 && strcmp(argv.v[12], "-") == 0);
    sw_strv_release(&argv);
    /*  with swarm mcp: -c overrides in TOML, the password by file only */
    agent_runner_conf_t mconf = conf;
    mconf.mcp = "/usr/bin/swarm";
    mconf.redis_url = "redis://10.0.0.1:6379/0";
    mconf.redis_password_file = "/etc/swarm/redis.password";
    mconf.agent_id = "a\"1";
    CHECK(agent_runner_argv(&mconf, &t, "/w", "/w/last", NULL, &argv, &err) == 0);
    CHECK(argv.n == 19 && strcmp(argv.v[10], "-c") == 0 && strcmp(argv.v[18], "-") == 0);
    CHECK(strcmp(argv.v[11], "mcp_servers.swarm.command=\"/usr/bin/swarm\"") == 0);
    CHECK(strcmp(argv.v[13], "mcp_servers.swarm.args=[\"--redis\",\"redis://10.0.0.1:6379/0\","
                 "\"--redis-password-file\",\"/etc/swarm/redis.password\",\"mcp\"]") == 0);
    CHECK(strcmp(argv.v[15], "mcp_servers.swarm.env={SWARM_JOB=\"j\",SWARM_TASK_ID=\"review\","
                 "SWARM_ATTEMPT=\"0\",SWARM_AGENT=\"a\\\"1\"}") == 0);
    CHECK(strcmp(argv.v[17], "mcp_servers.swarm.default_tools_approval_mode=\"approve\"") == 0);
    sw_strv_release(&argv);
    sw_buf_t toml;
    sw_buf_init(&toml);
    agent_toml_string(&toml, "tab\there \\ \x01");
    CHECK(strcmp(toml.data, "\"tab\\u0009here \\\\ \\u0001\"") == 0);
    sw_buf_release(&toml);
    CHECK(strcmp(agent_runner_sandbox("coder"), "workspace-write") == 0);
    CHECK(strcmp(agent_runner_sandbox("architect"), "read-only") == 0);

    /*  claude's limits: the task's, under the agent's ceiling */
    free(t.runner);
    t.runner = xstrdup("claude");
    agent_runner_conf_t cconf = conf;
    /*  its events as they come (stream-json needs --verbose), the prompt on stdin */
    CHECK(agent_runner_argv(&cconf, &t, "/w", NULL, NULL, &argv, &err) == 0);
    CHECK(argv.n >= 6 && strcmp(argv.v[1], "-p") == 0 && strcmp(argv.v[2], "--output-format") == 0
          && strcmp(argv.v[3], "stream-json") == 0 && strcmp(argv.v[4], "--verbose") == 0
          && strcmp(argv.v[5], "--session-id") == 0);
    sw_strv_release(&argv);
    CHECK(strcmp(s_test_claude_limits(&cconf, &t, 0, 0), "") == 0);
    cconf.claude_max_turns = 10;
    cconf.claude_max_budget_cents = 300;
    CHECK(strcmp(s_test_claude_limits(&cconf, &t, 0, 0), " 10 3.00") == 0);
    CHECK(strcmp(s_test_claude_limits(&cconf, &t, 4, 125), " 4 1.25") == 0);
    CHECK(strcmp(s_test_claude_limits(&cconf, &t, 40, 1000), " 10 3.00") == 0);
    cconf.claude_max_turns = 0;
    cconf.claude_max_budget_cents = 0;
    CHECK(strcmp(s_test_claude_limits(&cconf, &t, 40, 5), " 40 0.05") == 0);
    t.max_turns = t.max_budget_cents = 0;

    free(t.runner);
    t.runner = xstrdup("exec");
    CHECK(agent_runner_argv(&conf, &t, "/w", "/w/last", NULL, &argv, &err) < 0);
    CHECK(strstr(err.msg, "--allow-exec") != NULL);

    /*  --allow-cmd */
    sw_strv_t pats = { 0 };
    sw_strv_push(&pats, "cc");
    sw_strv_push(&pats, "/usr/bin/make*");
    sw_strv_push(&pats, "/opt/tools/*");
    CHECK(agent_cmd_allowed("cc", "/usr/bin/cc", &pats));
    CHECK(!agent_cmd_allowed("/usr/bin/cc", "/usr/bin/cc", &pats));
    CHECK(!agent_cmd_allowed("/tmp/x/cc", "/tmp/x/cc", &pats));
    CHECK(!agent_cmd_allowed("cc1", "/usr/bin/cc1", &pats));
    CHECK(agent_cmd_allowed("make", "/usr/bin/make", &pats));
    CHECK(agent_cmd_allowed("/usr/bin/make-4", "/usr/bin/make-4", &pats));
    CHECK(agent_cmd_allowed("/opt/tools/lint", "/opt/tools/lint", &pats));
    CHECK(!agent_cmd_allowed("/opt/tools/../../bin/sh", "/opt/tools/../../bin/sh", &pats));
    CHECK(!agent_cmd_allowed("/opt/tools/sub/x", "/opt/tools/sub/x", &pats));
    CHECK(!agent_cmd_allowed("/opt/tools/.hidden", "/opt/tools/.hidden", &pats));
    CHECK(!agent_cmd_allowed("sh", "/bin/sh", &pats));
    char *sh = agent_cmd_resolve("sh", "relative:/nonexistent::/bin");
    CHECK(sh && strcmp(sh, "/bin/sh") == 0);
    free(sh);
    CHECK(agent_cmd_resolve("sh", "relative:/nonexistent") == NULL);
    CHECK(agent_cmd_resolve("./sh", "/bin") == NULL);
    conf.allow_exec = true;
    conf.allow_cmd = &pats;
    sw_strv_push(&t.argv, "sh");
    sw_strv_push(&t.argv, "-c");
    CHECK(agent_runner_argv(&conf, &t, "/w", "/w/last", NULL, &argv, &err) < 0);
    CHECK(strstr(err.msg, "program /") && strstr(err.msg, "sh is not allowed"));
    sw_strv_release(&argv);
    sw_strv_push(&pats, "sh");
    CHECK(agent_runner_argv(&conf, &t, "/w", "/w/last", NULL, &argv, &err) == 0);
    CHECK(argv.n == 2 && argv.v[0][0] == '/' && strcmp(argv.v[1], "-c") == 0);
    sw_strv_release(&argv);
    sw_strv_release(&pats);

    /*  templates */
    sw_buf_t b;
    sw_buf_init(&b);
    CHECK(agent_template_expand("Design: {{memory:ctx/design}}. Plan: {{result:architect}}!",
                                s_test_lookup, NULL, &b, &err) == 0);
    CHECK(strcmp(b.data, "Design: use JWT. Plan: the plan!") == 0);
    sw_buf_reset(&b);
    CHECK(agent_template_expand("keep {{worker_name}} and {{ and }} and {{x", s_test_lookup,
                                NULL, &b, &err) == 0);
    CHECK(strcmp(b.data, "keep {{worker_name}} and {{ and }} and {{x") == 0);
    sw_buf_reset(&b);
    CHECK(agent_template_expand("see {{memory:ctx/nope}}", s_test_lookup, NULL, &b, &err) < 0);
    CHECK(strstr(err.msg, "{{memory:ctx/nope}}: not found") != NULL);
    CHECK(agent_template_expand("{{memory:nonamespace}}", s_test_lookup, NULL, &b, &err) < 0);
    CHECK(agent_template_expand("{{result:}}", s_test_lookup, NULL, &b, &err) < 0);
    /*  bounded: 16 MiB and 4096 references; no NUL in a value */
    sw_buf_t in;
    sw_buf_init(&in);
    for (int i = 0; i < 16; i++)
        sw_buf_addstr(&in, "{{memory:ctx/mib}}");
    sw_buf_reset(&b);
    CHECK(agent_template_expand(in.data, s_test_lookup, NULL, &b, &err) == 0);
    CHECK(b.len == AGENT_PROMPT_MAX);
    sw_buf_addstr(&in, "!");
    sw_buf_reset(&b);
    CHECK(agent_template_expand(in.data, s_test_lookup, NULL, &b, &err) < 0);
    CHECK(err.code == SW_EINVAL
          && strcmp(err.msg, "the expanded prompt would be over 16777216 bytes") == 0);
    sw_buf_reset(&in);
    for (int i = 0; i < 17; i++)
        sw_buf_addstr(&in, "{{memory:ctx/mib}}");
    sw_buf_reset(&b);
    CHECK(agent_template_expand(in.data, s_test_lookup, NULL, &b, &err) < 0);
    CHECK(err.code == SW_EINVAL && strcmp(err.msg, "the prompt references {{memory:ctx/mib}}: "
                                          "the expanded prompt would be over 16777216 bytes") == 0);
    sw_buf_reset(&in);
    for (int i = 0; i < AGENT_PROMPT_REFS_MAX; i++)
        sw_buf_addstr(&in, "{{result:architect}}");
    sw_buf_reset(&b);
    CHECK(agent_template_expand(in.data, s_test_lookup, NULL, &b, &err) == 0);
    sw_buf_addstr(&in, "{{memory:ctx/design}}");
    sw_buf_reset(&b);
    CHECK(agent_template_expand(in.data, s_test_lookup, NULL, &b, &err) < 0);
    CHECK(err.code == SW_EINVAL && strcmp(err.msg, "the prompt references {{memory:ctx/design}}: "
                                          "more than 4096 references (the most a prompt may "
                                          "hold)") == 0);
    sw_buf_reset(&b);
    CHECK(agent_template_expand("{{memory:ctx/empty}}", s_test_lookup, NULL, &b, &err) == 0);
    CHECK(b.len == 0);
    CHECK(agent_template_expand("a {{memory:ctx/nul}} b", s_test_lookup, NULL, &b, &err) < 0);
    CHECK(err.code == SW_EINVAL && strcmp(err.msg, "the prompt references {{memory:ctx/nul}}: "
                                          "its value holds a NUL byte, and a prompt is text") == 0);
    sw_buf_release(&in);
    sw_buf_release(&b);

    sw_task_release(&t);
    (void) verbose;
    return 0;
}
