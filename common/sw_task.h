/*  sw_task -- the task model shared by every part of swarm: ids, the task
 *  spec with its validation and msgpack form, and task states. No ZeroMQ
 *  here, so the light tools (the swarm CLI's Redis commands) link without
 *  it.
 */
#ifndef SW_TASK_H
#define SW_TASK_H

#include "sw_mpack.h"

#define SW_MAX_ID         128           /*  bytes in a task, job or agent id */
#define SW_MAX_LIST       4096          /*  items in argv, after, labels, env */

/*  Task states; the order is the order of their life. */
typedef enum {
    SW_TS_WAITING, SW_TS_QUEUED, SW_TS_RUNNING,
    SW_TS_SUCCEEDED, SW_TS_FAILED, SW_TS_TIMED_OUT, SW_TS_CANCELLED,
    SW_TS_LOST, SW_TS_SKIPPED,
    SW_TS_COUNT
} sw_tstate_t;

const char *sw_tstate_name(sw_tstate_t s);
int sw_tstate_parse(const char *name);      /*  -1 when unknown */
#define SW_TS_FINAL(s) ((s) >= SW_TS_SUCCEEDED)

/*  A task as the user specified it, plus the attempt the coordinator gives
 *  it. Owned strings; sw_task_release frees them. */
typedef struct {
    char     *id;
    char     *job;
    char     *type;             /*  coder tester reviewer docs architect cmd */
    char     *runner;           /*  codex claude exec */
    char     *prompt;           /*  codex, claude */
    sw_strv_t argv;             /*  exec */
    char     *dir;
    sw_strv_t after;
    sw_kv_t   labels;           /*  placement constraints */
    sw_kv_t   env;
    int64_t   timeout_s;
    int64_t   idle_timeout_s;   /*  0 = none */
    int64_t   max_attempts;
    int64_t   attempt;          /*  set by the coordinator in TASK */
    char     *ns;               /*  result namespace */
    char     *output_schema;    /*  codex: JSON schema of the final message, or NULL */
    int64_t   max_turns;        /*  claude: --max-turns, 0 = the agent's */
    int64_t   max_budget_cents; /*  claude: --max-budget-usd in cents, 0 = the agent's */
} sw_task_t;

#define SW_MAX_TURNS        10000
#define SW_MAX_BUDGET_CENTS 10000000    /*  $100,000 */

void sw_task_init(sw_task_t *t);
void sw_task_release(sw_task_t *t);
void sw_task_copy(sw_task_t *dst, const sw_task_t *src);
/*  Fills defaults and checks every field; -1 with a user-facing reason. */
int  sw_task_validate(sw_task_t *t, sw_err_t *err);
bool sw_id_valid(const char *id);
void sw_task_pack(msgpack_packer *pk, const sw_task_t *t);
int  sw_task_unpack(const msgpack_object *map, sw_task_t *t, sw_err_t *err);

int sw_task_test(bool verbose);

#endif
