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

/*  The environment of task T's process, built from BASE (the agent's
 *  environ) as the header says. agent_id and run_token are the values of
 *  SWARM_AGENT and SWARM_RUN. A NULL-terminated array the caller frees with
 *  agent_env_free. */
char **agent_env_build(char *const *base, const sw_strv_t *pass_env, const sw_task_t *t,
                       const char *agent_id, const char *run_token);
void agent_env_free(char **envp);

int agent_env_test(bool verbose);

#endif
