/*  agent_env -- the environment of a task's process: policy only, no I/O.
 *
 *  A task's process gets, in this order and each name once:
 *    1. the agent's own variables that pass agent_env_passes (what the
 *       runners need) or --pass-env, unless the task sets the same name;
 *    2. what the agent sets: SWARM_JOB, SWARM_TASK_ID, SWARM_ATTEMPT,
 *       SWARM_AGENT and SWARM_RUN (the token the orphan sweep looks for);
 *    3. the task's own --env.
 *  getenv takes the first of a name, so a name must not appear twice: the
 *  task's value replaces the agent's instead of hiding behind it.
 *
 *  Patterns, wherever the agent takes one (--pass-env), are one syntax,
 *  matched by agent_env_match alone: NAME (exactly), PREFIX* (NAME
 *  starting with PREFIX) or * (every name).
 */
#ifndef AGENT_ENV_H
#define AGENT_ENV_H

#include "sw_task.h"

/*  The length of the name part of VAR ("NAME=value" or a bare NAME). */
size_t agent_env_namelen(const char *var);
/*  Whether the name (NAMELEN bytes at NAME, not NUL-terminated) matches
 *  PATTERN: NAME, PREFIX* or *. */
bool agent_env_match(const char *name, size_t namelen, const char *pattern);
/*  Whether PATTERN can match a name: not empty, no '=', '*' only at its
 *  end. For the options that take patterns (--pass-env, --task-env): a
 *  pattern that matches nothing would refuse or drop every variable
 *  without a word. */
bool agent_env_pattern_valid(const char *pattern);
/*  Whether NAME matches any of PATTERNS (NULL: none). */
bool agent_env_match_any(const char *name, size_t namelen, const sw_strv_t *patterns);

/*  Whether the agent's environment variable VAR ("NAME=value") reaches
 *  tasks. By default only what runners need: PATH, HOME, USER, LOGNAME,
 *  SHELL, LANG, LANGUAGE, TERM, TZ, TMPDIR, the proxies, NODE_EXTRA_CA_CERTS
 *  (CLIs on Node behind a corporate CA), and the prefixes
 *  LC_, XDG_, OPENAI_, CODEX_, ANTHROPIC_, CLAUDE_, SSL_CERT_. extra holds
 *  more patterns (--pass-env). SWARM_* never passes (the agent sets its
 *  own). */
bool agent_env_passes(const char *var, const sw_strv_t *extra);

/*  The policy for a task's own variables (its --env). A task must not be
 *  able to make a runner, or the tools it starts, execute code the task
 *  brings: codex and claude run outside any sandbox themselves, start MCP
 *  servers, git and shells, and read hooks and configuration from their
 *  environment. So a task's variable is refused, and the task fails before
 *  anything starts, naming the variable and the option that would allow
 *  it, when:
 *    - its name is set by the agent (SWARM_JOB, SWARM_TASK_ID,
 *      SWARM_ATTEMPT, SWARM_AGENT, SWARM_RUN);
 *    - the agent has --allow-cmd, the task is an exec task, and the name
 *      is PATH or LD_* (they could swap the program the pattern allowed);
 *    - the agent has --task-env patterns and none matches the name (the
 *      patterns are then the allowlist);
 *    - the name is on the denylist (agent_env_denied) and no --task-env
 *      pattern names it at least as narrowly as the denylist does
 *      (--task-env NODE_OPTIONS or NODE_* admit NODE_OPTIONS; * does not).
 *  Exec tasks on an agent with --allow-exec and without --allow-cmd skip
 *  the denylist: they run any program they name, so a variable gives them
 *  nothing more. */
typedef struct {
    const sw_strv_t *task_env;  /*  --task-env patterns; NULL or empty: every name */
    bool             allow_exec;
    bool             allow_cmd; /*  --allow-cmd patterns given */
} agent_env_policy_t;

/*  0 when every variable of T passes P, else -1 with the reason. */
int agent_env_check(const agent_env_policy_t *p, const sw_task_t *t, sw_err_t *err);
/*  Whether the task variable NAME, which passed agent_env_check, also
 *  reaches the node owner's hooks (agent_hook): the denylist applies to
 *  them whatever the task's runner, since the hook is not the task's
 *  program. An exec task on an agent with --allow-exec and without
 *  --allow-cmd may set LD_PRELOAD for its own program, not for the
 *  owner's pre-task hook; a name --task-env names narrowly passes. Names
 *  that steer the tools a hook commonly runs (TAR_OPTIONS, MAKEFLAGS,
 *  CARGO_*, npm_config_*, CDPATH, ...) are kept from hooks the same way,
 *  though a task may set them for its own program (best effort: see
 *  agent_env.c). */
bool agent_env_hook_admits(const agent_env_policy_t *p, const char *name);
/*  The denylist entry NAME falls under (its pattern and why it is
 *  refused), or NULL. */
const char *agent_env_denied(const char *name, size_t namelen, const char **why);
/*  The denylist: pattern i and why (NULL after the last); for --help and
 *  the documentation. */
const char *agent_env_denylist(size_t i, const char **why);
/*  Whether PATTERN (of --task-env) admits names of the denylist; *which is
 *  then the entry. For a warning at start. */
bool agent_env_pattern_admits_denied(const char *pattern, const char **which);

/*  The environment of task T's process, built from BASE (the agent's
 *  environ) as the header says. agent_id and run_token are the values of
 *  SWARM_AGENT and SWARM_RUN. A NULL-terminated array the caller frees with
 *  agent_env_free. */
char **agent_env_build(char *const *base, const sw_strv_t *pass_env, const sw_task_t *t,
                       const char *agent_id, const char *run_token);
void agent_env_free(char **envp);

int agent_env_test(bool verbose);

#endif
