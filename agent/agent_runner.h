/*  agent_runner -- what runs for a task, and what is stored after.
 *
 *  codex:  codex exec --sandbox MODE --skip-git-repo-check -C DIR -o LASTMSG --json
 *            [-c mcp_servers.swarm.KEY=VALUE ...] [--output-schema FILE] PROMPT
 *          --json makes stdout an event stream; its turn.completed events
 *          give the token usage.
 *          The -c options make `swarm mcp` the worker's MCP server (command,
 *          args, env with the task's ids, tools approved: codex exec has no
 *          one to ask); codex starts it outside its sandbox.
 *          MODE is read-only for reviewer and architect, workspace-write
 *          otherwise; LASTMSG (codex's last message) becomes the output.
 *  claude: claude -p PROMPT --output-format json --session-id UUID
 *            --mcp-config JSON --allowedTools mcp__swarm
 *            (--disallowedTools Bash Edit Write NotebookEdit |
 *             --permission-mode acceptEdits) [--max-turns N] [--max-budget-usd X]
 *          N and X are the task's, lowered to the agent's when it has its
 *          own (--claude-max-turns, --claude-max-budget-usd: the node
 *          owner's ceiling), or the agent's when the task gives none.
 *          Read-only types get no tools that write or run commands. The
 *          JSON's result becomes the output; is_error fails the task even
 *          when claude exits 0; cost and token usage go in the result.
 *  exec:   the task's argv, only when the agent runs with --allow-exec,
 *          and with --allow-cmd only a program that matches a pattern.
 *
 *  The result is one JSON document (DESIGN.md section 4) written by a Lua
 *  script that first checks the task's current attempt in Redis: a result
 *  from an attempt the coordinator has moved past is refused atomically.
 *  In memory (namespace of the task, key result-<id>) a value the worker
 *  stored itself during the attempt is kept; the JSON goes beside it.
 */
#ifndef AGENT_RUNNER_H
#define AGENT_RUNNER_H

#include <jansson.h>

#include "agent_child.h"
#include "sw_proto.h"
#include "sw_redis.h"

typedef struct {
    const char *codex;          /*  path or name of the codex binary */
    const char *claude;
    bool        allow_exec;
    const sw_strv_t *allow_cmd; /*  patterns; NULL or empty: any program */
    const char *mcp;            /*  the swarm CLI for `swarm mcp`; NULL: no MCP */
    const char *redis_url;      /*  for it */
    const char *redis_password_file;
    const char *agent_id;
    long long   claude_max_turns;       /*  0: none (claude's default) */
    long long   claude_max_budget_cents;    /*  0: none */
} agent_runner_conf_t;

/*  Fills argv for the task; -1 with a user-facing reason. schema is the
 *  file holding the task's output schema (codex --output-schema), or NULL. */
int agent_runner_argv(const agent_runner_conf_t *conf, const sw_task_t *t, const char *dir,
                      const char *lastmsg, const char *schema, sw_strv_t *argv, sw_err_t *err);
const char *agent_runner_sandbox(const char *type);

/*  A TOML basic string: "..." with ", \ and control characters escaped. */
void agent_toml_string(sw_buf_t *out, const char *s);

/*  --allow-cmd: whether a task's program may run. given is the task's
 *  argv[0], program where the agent found it (an absolute path). A pattern
 *  with a '/' is matched against program; one without only against a bare
 *  name the task gave (so "cc" allows cc from the agent's PATH, not
 *  /tmp/x/cc). '*' never crosses a '/' nor matches a leading dot. */
bool agent_cmd_allowed(const char *given, const char *program, const sw_strv_t *patterns);
/*  The absolute path exec would run for name: name itself if it holds a
 *  '/', else the first executable NAME in path (a PATH value). NULL if
 *  none. Caller frees. */
char *agent_cmd_resolve(const char *name, const char *path);

typedef struct {
    const sw_task_t *task;
    const char      *agent;
    const char      *host;
    const char      *status;        /*  sw_tstate_t name */
    int              exit_code;     /*  -1 when it never ran */
    int              signal;
    int64_t          started_wall_ms;
    int64_t          duration_ms;
    const char      *output;
    size_t           output_len;
    bool             output_truncated;
    const char      *stderr_tail;
    size_t           stderr_len;
    const char      *error;         /*  why it failed without running, or NULL */
    json_t          *usage;         /*  tokens and cost, or NULL (borrowed) */
} agent_result_t;

/*  claude --output-format json on stdout: its result text goes to text,
 *  its cost and token usage to *usage (new reference), *is_error from the
 *  document. -1 when out is not such a document. */
int agent_claude_parse(const char *out, size_t n, sw_buf_t *text, json_t **usage,
                       bool *is_error);
/*  codex exec --json on stdout: the token usage of its turn.completed
 *  events, summed (new reference), with the number of turns. -1 when
 *  there is none. Lines that are not JSON are skipped. */
int agent_codex_usage(const char *out, size_t n, json_t **usage);

/*  The result JSON; caller frees. Bytes that are not UTF-8 become U+FFFD. */
char *agent_result_json(const agent_result_t *r);

/*  1 stored, 0 refused (a newer attempt owns the task), -1 Redis error. */
int agent_result_store(sw_redis_t *redis, const sw_task_t *t, const char *json, sw_err_t *err);

/*  Prompt templates. {{memory:NS/KEY}} becomes that memory entry's value,
 *  {{result:ID}} the output of task ID's result in the same job; any other
 *  {{...}} is left as it is. lookup fills out and returns 0, or -1 with a
 *  reason; expansion stops at the first missing reference, so a task never
 *  runs with a hole in its prompt. */
typedef int (*agent_lookup_fn)(void *ctx, const char *kind, const char *ref, sw_buf_t *out,
                               sw_err_t *err);
int agent_template_expand(const char *in, agent_lookup_fn lookup, void *ctx, sw_buf_t *out,
                          sw_err_t *err);

/*  Whether the agent's environment variable VAR ("NAME=value") reaches
 *  tasks. By default only what runners need: PATH, HOME, USER, LOGNAME,
 *  SHELL, LANG, LANGUAGE, TERM, TZ, TMPDIR, the proxies, NODE_EXTRA_CA_CERTS
 *  (CLIs on Node behind a corporate CA), and the prefixes
 *  LC_, XDG_, OPENAI_, CODEX_, ANTHROPIC_, CLAUDE_, SSL_CERT_. extra holds
 *  more: NAME, or PREFIX* (and * for everything). SWARM_* never passes
 *  (the agent sets its own). */
bool agent_env_passes(const char *var, const sw_strv_t *extra);

int agent_runner_test(bool verbose);

#endif
