/*  agent_prepare -- the prepare stage of a run (agent_run.h): everything
 *  the runner's spawn needs, checked in the order that costs least first.
 *
 *    the task's variables against the agent's policy (agent_env)
 *    the working directory: it exists, and holds nothing of the agent's
 *    codex's last-message and output-schema files, in the state dir
 *    the prompt expanded ({{result:ID}}, {{memory:NS/KEY}}) into a
 *      private file of the state dir, the runner's stdin
 *    the runner's argv (through the limits trampoline when limits are
 *      set) and environment, checked against the kernel's limits
 *
 *  What it makes belongs to the run (agent_launch_t) until the run ends;
 *  the prompt file goes as soon as the runner has it.
 */
#ifndef AGENT_PREPARE_H
#define AGENT_PREPARE_H

#include "agent_run.h"

typedef struct {
    char     *dir;              /*  the working directory (as the task gave it, made
                                    absolute); set once it is known to exist */
    sw_strv_t argv;
    char    **envp;
    int       prompt_fd;        /*  the runner's stdin, or -1 (exec: /dev/null) */
    char     *prompt_path;
    char     *lastmsg;          /*  codex's -o file, read after the run */
    char     *schema;           /*  codex's --output-schema file */
    char     *error;            /*  why the task cannot run */
    bool      deterministic;    /*  ... for a reason no other attempt changes */
} agent_launch_t;

void agent_launch_init(agent_launch_t *l);
/*  Prepares task T (its prompt is replaced by its expansion) whose runner
 *  carries the SWARM_RUN token TOKEN, in WSDIR when it has a workspace (its
 *  directory in the worktree), else in its dir below the workdir. 0, or -1
 *  with l->error and l->deterministic (l->dir is set only when the
 *  directory passed). */
int agent_prepare(const agent_run_conf_t *conf, agent_store_t *store, sw_task_t *t,
                  const char *token, const char *wsdir, agent_launch_t *l);
/*  The runner started, or never will: the prompt file is closed and
 *  removed (no prompt stays on disk), argv and environment freed. */
void agent_launch_spawned(agent_launch_t *l);
/*  The run is over: codex's files are removed, everything is freed. */
void agent_launch_release(agent_launch_t *l);

#endif
