/*  sw_plan -- plan files and command lists, compiled to tasks.
 *
 *  `swarm run` accepts three ways of describing work; all compile to the
 *  same list of validated tasks in dependency order:
 *
 *  - a YAML plan with `workers:` (all at once, optional `aggregate:`) or
 *    `stages:` (a pipeline: a stage without depends_on follows the one
 *    before it), any DAG through depends_on;
 *  - a YAML plan with `steps:` (swarm_init, spawn_workers, spawn, wait_for,
 *    aggregate_results), the shape coding-agent users already write;
 *  - a command list for build farms: one command per line, split like a
 *    shell would (quotes, backslashes) but never run through one.
 *
 *  A YAML plan may also carry job hooks (`hooks: {pre: [...], post: [...],
 *  timeout: S}`), commands `swarm run` runs before it submits the job and
 *  after the job has finished (sw_hook).
 *
 *  Parsing and validation are pure (text in, tasks or errors out) and every
 *  error carries FILE:LINE:COLUMN. Nothing here talks to the network.
 */
#ifndef SW_PLAN_H
#define SW_PLAN_H

#include "sw_hook.h"
#include "sw_task.h"

typedef struct {
    sw_task_t task;             /*  prompt holds the raw task text until rendered */
    char     *name;             /*  worker name, for the template */
    char     *workspace;        /*  workspace: a directory (the CLI snapshots it), or NULL */
    int       line, column;     /*  where it is defined (1-based) */
} sw_plan_task_t;

typedef struct {
    char           *name;
    char           *ns;         /*  result namespace, NULL = default */
    bool            halt;       /*  on_failure: stop */
    char           *template;   /*  NULL = the default worker template */
    char           *topology;
    char           *strategy;
    int64_t         max_agents;
    char           *workspace;  /*  workspace: of every task without its own, or NULL */
    sw_hooks_t      hooks;      /*  hooks: {pre, post, timeout}, run by swarm run */
    /*  the job's budget (issue 18): 0 = no cap; budget_finish: on_budget finish */
    int64_t         max_micro_usd;
    int64_t         max_tokens;
    bool            budget_finish;
    sw_plan_task_t *tasks;      /*  in dependency order */
    size_t          n;
} sw_plan_t;

extern const char sw_plan_default_template[];

void sw_plan_init(sw_plan_t *p);
void sw_plan_release(sw_plan_t *p);
/*  0, or -1 with one "FILE:LINE:COL: message" per problem in errors. */
int  sw_plan_parse(const char *file, const char *text, size_t len, sw_plan_t *p,
                   sw_strv_t *errors);
int  sw_plan_commands(const char *file, const char *text, size_t len, sw_plan_t *p,
                      sw_strv_t *errors);
/*  Wraps every codex/claude task's text in the template ({{worker_name}},
 *  {{worker_id}}, {{worker_task}}, {{task_keywords}}, {{plan_name}}); the
 *  agent later expands {{memory:...}} and {{result:...}}. */
void sw_plan_render(sw_plan_t *p);
/*  Splits a command line like a POSIX shell's words: '...', "...", \x;
 *  no expansion of any kind. -1 with a reason on an open quote. */
int  sw_shlex(const char *line, sw_strv_t *argv, const char **why);
/*  Up to max distinct lower-case keywords of text, comma-separated. */
void sw_plan_keywords(const char *text, size_t max, sw_buf_t *out);

int sw_plan_test(bool verbose);

#endif
