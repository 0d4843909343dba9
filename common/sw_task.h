/*  sw_task -- the task model shared by every part of swarm: ids, the task
 *  spec with its validation and msgpack form, and task states. No ZeroMQ
 *  here, so the light tools (the swarm CLI's Redis commands) link without
 *  it.
 */
#ifndef SW_TASK_H
#define SW_TASK_H

#include <jansson.h>

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

/*  A workspace (docs/workspaces.md): the commit a task starts from and
 *  where an agent gets it. repo names the agent's mirror; manifest is the
 *  digest of the content-addressed pack that brings the commit (and its
 *  prerequisites) through Redis; url a git remote the agent fetches it
 *  from instead (--repo-url). At least one of the two. */
typedef struct {
    char *repo;                 /*  1..64 of A-Z a-z 0-9 . _ -; NULL: no workspace */
    char *commit;               /*  full object name */
    char *manifest;             /*  SHA-256 hex, or NULL */
    char *url;                  /*  or NULL */
} sw_task_ws_t;

#define SW_MAX_OUTPUTS      256         /*  output globs per task */
#define SW_MAX_GLOB         1024        /*  bytes in one */

void sw_task_ws_release(sw_task_ws_t *w);
void sw_task_ws_copy(sw_task_ws_t *dst, const sw_task_ws_t *src);
/*  0, or -1 with a reason naming what is wrong. */
int  sw_task_ws_validate(const sw_task_ws_t *w, sw_err_t *err);
bool sw_repo_id_valid(const char *repo);
/*  {repo, commit, manifest?, url?} (new reference), and back (0 or -1:
 *  not such an object, or not valid). */
json_t *sw_task_ws_json(const sw_task_ws_t *w);
int  sw_task_ws_from_json(const json_t *o, sw_task_ws_t *w, sw_err_t *err);
/*  The same on the wire: a msgpack map; absent -> 0 and w untouched. */
void sw_task_ws_pack(msgpack_packer *pk, const sw_task_ws_t *w);
int  sw_task_ws_unpack(const msgpack_object *map, const char *key, sw_task_ws_t *w,
                       sw_err_t *err);
/*  A path inside a workspace: relative, no "." or ".." component, no
 *  empty one, no NUL or control byte. */
bool sw_ws_path_valid(const char *path);
/*  Why path cannot be a task's output (a static English phrase: "is not
 *  UTF-8 ...", "would escape the destination ...", "goes into a .git
 *  directory"), or NULL when it can. The one rule for the agent that
 *  stores outputs and swarm outputs that writes them below DEST: UTF-8
 *  (results are JSON), no control byte, sw_ws_path_valid, no component
 *  ".git" in any case (git refuses those in trees for the same reason). */
const char *sw_ws_output_problem(const char *path);
/*  path for a message, as git quotes names: \n, \t, \\, and \ooo for
 *  control bytes and bytes that are not UTF-8; valid UTF-8 stays. The
 *  caller frees. */
char *sw_ws_path_quote(const char *path);

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
    sw_task_ws_t ws;            /*  its workspace; ws.commit NULL: none (dir is then the
                                 *  agent's, else a path inside the workspace) */
    sw_strv_t outputs;          /*  globs of build outputs to store after success */
    sw_strv_t resources;        /*  named farm-wide resources it takes while it runs
                                 *  (issue 18 §3; the runner's own, codex or claude, is
                                 *  implied and not listed here) */
} sw_task_t;

/*  Resources (issue 18 §3): a name is 1..SW_MAX_RESOURCE_NAME bytes of
 *  A-Z a-z 0-9 . _ -, starting with a letter or digit; a task takes at most
 *  SW_MAX_RESOURCES. sw_resource_valid is the one check for all of them
 *  (spawn, plans, --limit). */
#define SW_MAX_RESOURCES        16
#define SW_MAX_RESOURCE_NAME    64
bool sw_resource_valid(const char *name);

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
