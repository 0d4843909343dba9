/*  agent_ws -- the agent's side of workspaces: its worktrees, and the
 *  helper processes that prepare and capture them (agent_wshelper).
 *
 *  Nothing here runs git or blocks: each stage gives the run module the
 *  argv of a helper child (swarm-agent --workspace-helper REQUEST), which
 *  it spawns and supervises like a task (its own process group, a
 *  timeout, stopped on cancel), and then reads that child's answer.
 *
 *  A run's life with a workspace:
 *    prepare   helper: the worktree at the task's start commit
 *    run       the task, in the worktree (or its dir inside it)
 *    capture   helper: the change and the outputs into Redis; a capture
 *              Redis could not take is tried again (the worktree stays)
 *    done      the worktree goes back to the pool: kept for the next task
 *              (reset before it runs: only what differs is rewritten), or,
 *              when the pool is full, moved aside by the capture (one
 *              rename, ROOT/.trash-N-SEQ) and removed after the capture
 *              answered by a remover helper the run set starts
 *              (agent_ws_trash_spawn); with --keep-worktrees every
 *              worktree stays as its task left it.
 *
 *  Layout: worktrees in ROOT/N (ROOT below the agent's --workdir: where
 *  tasks may write); the agent's own index of each in STATE/ws/index/N,
 *  requests and answers in STATE/ws/run/, mirrors in MIRRORS (default
 *  STATE/ws/mirrors): none of it where a task writes. At start ROOT is
 *  removed (no task is live yet; the first task with a workspace makes it
 *  again), and with it any worktree a killed agent left moved aside.
 */
#ifndef AGENT_WS_H
#define AGENT_WS_H

#include <jansson.h>

#include "agent_child.h"
#include "sw_task.h"

#define AGENT_WS_MIRROR_CACHE   (10ull << 30)   /*  default --mirror-cache */
#define AGENT_WS_MAX_CHANGE     (256ull << 20)  /*  default --max-change */
#define AGENT_WS_MAX_OUTPUTS    (1ull << 30)    /*  default --max-outputs */
#define AGENT_WS_TIMEOUT_MS     (600 * 1000)    /*  default --workspace-timeout */
/*  Worktrees moved aside and not removed yet, at most: beyond it a
 *  capture removes its worktree before it answers, as it did before
 *  (captures already in flight may add one each). */
#define AGENT_WS_TRASH_MAX      4

typedef struct {
    const char *agent_id;
    const char *self_exe;       /*  this binary: the helper is swarm-agent-workspace beside
                                 *  it, else this binary in its helper mode */
    const char *state_dir;      /*  the agent's; its files go in STATE/ws */
    const char *mirrors;        /*  NULL: STATE/ws/mirrors */
    const char *root;           /*  where worktrees go (below the workdir) */
    const char *redis_url;      /*  passed in the helper's environment */
    const char *password_file;  /*  named in requests; NULL: none */
    uint64_t    max_snapshot;   /*  bytes a prepare may fetch; 0: SW_WS_MAX_SNAPSHOT */
    uint64_t    max_change;     /*  0: AGENT_WS_MAX_CHANGE */
    uint64_t    max_outputs;    /*  0: AGENT_WS_MAX_OUTPUTS */
    uint64_t    mirror_cache;   /*  0: AGENT_WS_MIRROR_CACHE */
    int64_t     ttl_s;          /*  of what the agent stores; 0: SW_CAS_TTL_S */
    int64_t     timeout_ms;     /*  per helper; 0: AGENT_WS_TIMEOUT_MS */
    long        idle;           /*  finished worktrees kept for reuse */
    bool        keep;           /*  --keep-worktrees */
} agent_ws_conf_t;

typedef struct agent_ws_t agent_ws_t;

/*  Makes the directories, empties ROOT and STATE/ws/run, caps the mirror
 *  cache. conf (and its strings) must outlive it. NULL with err. */
agent_ws_t *agent_ws_new(const agent_ws_conf_t *conf, sw_err_t *err);
void agent_ws_destroy(agent_ws_t **self_p);
const char *agent_ws_mirrors(const agent_ws_t *self);

/*  What one run holds of its workspace; zeroed by the run, released by
 *  agent_ws_done. */
typedef struct {
    int     slot;               /*  -1 until prepare */
    char   *worktree;
    char   *index;
    char   *req, *answer;       /*  the helper's files of the stage in flight */
    int     use_fd;             /*  the mirror's use lock while the run lives, or -1 */
    char   *base;               /*  the start commit */
    char   *base_tree;          /*  its tree */
    json_t *prereqs;            /*  where it came from */
    char   *cwd;                /*  the task's directory in the worktree */
    bool    hit;                /*  prepare: every commit was in the mirror already */
    bool    fresh;              /*  prepare: checked out afresh, not reset */
    long long bytes;            /*  prepare: fetched from the store */
    long long fetch_ms, checkout_ms;
    json_t *captured;           /*  the capture's answer: workspace, outputs ... */
    bool    remove;             /*  the capture removes the worktree */
    char   *trash;              /*  ... by moving it here (removed after it answered), or NULL:
                                    in line */
    bool    capturing;
    int     captures;           /*  capture attempts so far */
    char   *error;              /*  why the stage failed */
    bool    retry;              /*  ... and whether another try may pass */
    int64_t retry_ms;           /*  capture: try again after this long (1, 2, 4, 8, 8 ... s) */
    char   *token;              /*  the helpers' SWARM_RUN (set by the run; freed here) */
    /*  the standby (agent_ws_standby): its request; the capture in flight
     *  is the standby's (its answer may be missing: it died after the
     *  hand-over); a standby's git may have left the index locked (it was
     *  killed): the next capture removes index.lock first */
    char   *sb_req;
    bool    from_standby;
    bool    unlock;
} agent_wsrun_t;

void agent_wsrun_init(agent_wsrun_t *r);

/*  A helper child's start: argv (push onto an empty vector), envp
 *  (NULL-terminated, caller frees each and the array) and the child
 *  options (timeouts, caps); the strings stay valid while r lives. */
typedef struct {
    sw_strv_t          argv;
    sw_strv_t          envp;
    agent_child_opts_t opts;
} agent_ws_spawn_t;

void agent_ws_spawn_release(agent_ws_spawn_t *s);

/*  The prepare stage for task t (t->ws.commit set): takes a worktree and
 *  writes the request. 0, or -1 with err (the task fails). */
int agent_ws_prepare(agent_ws_t *self, const sw_task_t *t, agent_wsrun_t *r,
                     agent_ws_spawn_t *s, sw_err_t *err);
/*  After the prepare child c finished: 0 with r->cwd set (and a line in
 *  the log: where the start came from, how long it took); -1 with
 *  r->error (and r->retry when another attempt could pass). */
int agent_ws_prepared(agent_ws_t *self, const sw_task_t *t, agent_wsrun_t *r,
                      const agent_child_t *c);
/*  The capture stage, after the task; outputs are stored only when the
 *  task succeeded. */
int agent_ws_capture(agent_ws_t *self, const sw_task_t *t, agent_wsrun_t *r, bool succeeded,
                     agent_ws_spawn_t *s, sw_err_t *err);
/*  The standby of the capture (docs/design.md, issue 16 i31-standby):
 *  once the task runs, a helper (op "standby", SWARM_RUN r->token) that
 *  refreshes the slot's index and starts the capture's gits, then waits
 *  for one line on its stdin: the path of the capture's request
 *  (agent_ws_capture's r->req), or EOF (it ends, changing nothing). Fills
 *  s (the caller sets s->opts.stdin_fd: a pipe's read end); no timeout of
 *  its own there (the caller counts the capture's, s->opts.timeout_ms on
 *  return, from the hand-over). 0 or -1 with err (no standby: the capture
 *  goes as without one). */
int agent_ws_standby(agent_ws_t *self, const sw_task_t *t, agent_wsrun_t *r,
                     agent_ws_spawn_t *s, int64_t *timeout_ms, sw_err_t *err);
/*  A standby holds its slot (its gits hold the slot's index) until it is
 *  gone, also after its run: no other run takes the slot meanwhile. */
void agent_ws_slot_hold(agent_ws_t *self, int slot, bool hold);
/*  After the capture child: 0 with r->captured (logged); -1 with
 *  r->error and r->retry (Redis was out: capture again after
 *  r->retry_ms, logged). */
int agent_ws_captured(agent_ws_t *self, const sw_task_t *t, agent_wsrun_t *r,
                      const agent_child_t *c);
/*  The run is over (its result stored, or the agent leaves): the
 *  worktree goes back to the pool, the lock is let go. */
void agent_ws_done(agent_ws_t *self, agent_wsrun_t *r);

/*  Adds the run's workspace fields to its result document: workspace,
 *  outputs, outputs_manifest, or workspace_error. */
void agent_ws_result(const agent_wsrun_t *r, json_t *result);

/*  The remover of the worktrees captures moved aside (docs/design.md,
 *  issue 16 capture speed 2), which also runs the git gc of the mirrors
 *  captures found due ("gc_due" in their answer; i26-ws): when some wait
 *  and no remover runs, fills s with a helper child (op "remove",
 *  no Redis, SWARM_AGENT and SWARM_RUN "PID:workspace-trash" so a killed
 *  agent's is swept) and returns 1; 0 when nothing waits; -1 with err
 *  (the paths stay waiting). The caller supervises it like a run's child
 *  and calls agent_ws_trash_done once it finished (c NULL: it could not
 *  start). What it could not
 *  remove stays in ROOT, which the next agent's start removes. */
int agent_ws_trash_spawn(agent_ws_t *self, agent_ws_spawn_t *s, sw_err_t *err);
void agent_ws_trash_done(agent_ws_t *self, const agent_child_t *c);
/*  Worktrees moved aside and not removed yet (waiting, being removed, or
 *  the remover could not remove them: these count until the next start). */
size_t agent_ws_trash_count(const agent_ws_t *self);

int agent_ws_test(bool verbose);

#endif
