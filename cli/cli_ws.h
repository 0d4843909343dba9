/*  cli_ws.h -- what the workspace commands of the CLI share (cli_ws.c,
 *  cli_ws_apply.c, cli_ws_outputs.c); private to them.
 */
#ifndef CLI_WS_H
#define CLI_WS_H

#include <stdbool.h>
#include <stddef.h>

#include "cli.h"

/*  One task of a job as Redis has it: status and result NULL when absent
 *  (result parsed from its JSON). */
typedef struct {
    char   *id;
    char   *status;
    json_t *result;
} cli_ws_task_t;

/*  The job (jobflag, else the current one) and every task of it in submit
 *  order, which is a dependency order: *job and *tasks (n of them) the
 *  caller's, freed with free() and cli_ws_tasks_free(). 0, or an exit code
 *  after printing why (nothing to free then). */
int  cli_ws_open(cli_t *cli, const char *jobflag, char **job, cli_ws_task_t **tasks, size_t *n);
void cli_ws_tasks_free(cli_ws_task_t *t, size_t n);
/*  The task named id, or NULL. */
cli_ws_task_t *cli_ws_find(cli_ws_task_t *t, size_t n, const char *id);
/*  The task's result's workspace object (borrowed), or NULL. */
json_t *cli_ws_of(const cli_ws_task_t *t);
/*  Whether the task changed its tree (and the change was stored). */
bool cli_ws_changed(const cli_ws_task_t *t);

#endif
