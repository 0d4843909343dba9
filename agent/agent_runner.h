/*  agent_runner -- what runs for a task.
 *
 *  No user text is ever in the argv of codex or claude: the (expanded)
 *  prompt is their stdin, a private regular file (agent_state), so EOF
 *  comes right after it and neither waits for more, and no option parser
 *  sees it. A prompt "--version", "- [ ] item", "review" or "update" is a
 *  prompt, not an option or a subcommand, and one of 1 MiB is not capped by
 *  the kernel's 128 KiB per argument (MAX_ARG_STRLEN).
 *
 *  codex:  codex exec --sandbox MODE --skip-git-repo-check -C DIR -o LASTMSG --json
 *            [-c mcp_servers.swarm.KEY=VALUE ...] [--output-schema FILE] -
 *          "-" reads the prompt from stdin.
 *          --json makes stdout an event stream; its turn.completed events
 *          give the token usage.
 *          The -c options make `swarm mcp` the worker's MCP server (command,
 *          args, env with the task's ids, tools approved: codex exec has no
 *          one to ask); codex starts it outside its sandbox.
 *          MODE is read-only for reviewer and architect, workspace-write
 *          otherwise; LASTMSG (codex's last message) becomes the output.
 *  claude: claude -p --output-format json --session-id UUID
 *            --mcp-config JSON --allowedTools mcp__swarm
 *            (--disallowedTools Bash Edit Write NotebookEdit |
 *             --permission-mode acceptEdits) [--max-turns N] [--max-budget-usd X]
 *          -p without a prompt argument reads it from stdin.
 *          N and X are the task's, lowered to the agent's when it has its
 *          own (--claude-max-turns, --claude-max-budget-usd: the node
 *          owner's ceiling), or the agent's when the task gives none.
 *          Read-only types get no tools that write or run commands. The
 *          JSON's result becomes the output; is_error fails the task even
 *          when claude exits 0; cost and token usage go in the result.
 *  exec:   the task's argv, only when the agent runs with --allow-exec,
 *          and with --allow-cmd only a program that matches a pattern.
 */
#ifndef AGENT_RUNNER_H
#define AGENT_RUNNER_H

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

/*  Prompt templates. {{memory:NS/KEY}} becomes that memory entry's value,
 *  {{result:ID}} the output of task ID's result in the same job; any other
 *  {{...}} is left as it is, and a value is never expanded again. lookup
 *  appends to out and returns 0, or -1 with a reason; expansion stops at
 *  the first missing reference, so a task never runs with a hole in its
 *  prompt. It also stops, with SW_EINVAL (no attempt changes it), at a
 *  value holding a NUL (the prompt would end there), past AGENT_PROMPT_MAX
 *  bytes or past AGENT_PROMPT_REFS_MAX references: the agent expands in its
 *  event loop, and ten references to a 16 MiB entry must not stall it past
 *  its lease nor take 160 MiB. */
#define AGENT_PROMPT_MAX      (16u << 20)   /*  bytes: the largest memory value */
#define AGENT_PROMPT_REFS_MAX 4096          /*  SW_MAX_LIST: as many as a task's dependencies */
typedef int (*agent_lookup_fn)(void *ctx, const char *kind, const char *ref, sw_buf_t *out,
                               sw_err_t *err);
int agent_template_expand(const char *in, agent_lookup_fn lookup, void *ctx, sw_buf_t *out,
                          sw_err_t *err);

int agent_runner_test(bool verbose);

#endif
