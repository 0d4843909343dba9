/*  sw_git -- real git, run as a child process with a controlled
 *  environment, its output captured with caps and a timeout.
 *
 *  Workspaces (docs/workspaces.md) use git's plumbing, never its
 *  porcelain: read-tree, write-tree, commit-tree, pack-objects,
 *  index-pack, merge-tree. Whatever runs here blocks until git exits, so
 *  it is for the CLI and the agent's helper processes (swarm-agent
 *  --workspace-*), never for a daemon's event loop: a handler must not
 *  block.
 *
 *  The environment is built from scratch, so no GIT_* variable of the
 *  caller (GIT_DIR, GIT_INDEX_FILE, GIT_WORK_TREE, GIT_OBJECT_DIRECTORY
 *  ...) leaks in: PATH, HOME, USER, LOGNAME, TMPDIR, LANG and LC_* pass,
 *  LC_ALL=C is set (plumbing output is parsed), GIT_TERMINAL_PROMPT=0 (a
 *  fetch never waits for a password) and GIT_OPTIONAL_LOCKS=0. Hooks are
 *  off for every call (-c core.hooksPath=/dev/null). Without user_config
 *  git reads neither the system nor the user's configuration, nor their
 *  excludes and attributes files (core.excludesFile and
 *  core.attributesFile are /dev/null, GIT_ATTR_NOSYSTEM=1): the agent's
 *  mirrors and worktrees behave the same on every host. With it (the
 *  user's own repository, a fetch that needs the node owner's credentials)
 *  their configuration applies, SSH_AUTH_SOCK passes, and so does
 *  GIT_SSH_COMMAND.
 *
 *  SWARM_GIT_TRACE=1 in the environment prints each git command's time
 *  on stderr (for finding where a workspace's milliseconds go).
 *
 *  git's children stay in the caller's process group: the agent stops a
 *  helper by its group, and git with it.
 */
#ifndef SW_GIT_H
#define SW_GIT_H

#include <sys/types.h>

#include "sw_util.h"

#define SW_GIT_TIMEOUT_MS  (600 * 1000)
#define SW_GIT_OUT_MAX     (1 << 20)

typedef struct {
    const char *git_dir;        /*  GIT_DIR, or NULL: found from cwd */
    const char *work_tree;      /*  GIT_WORK_TREE, or NULL */
    const char *index_file;     /*  GIT_INDEX_FILE, or NULL */
    const char *cwd;            /*  where git runs; NULL: here */
    bool        user_config;    /*  read the system and the user's config */
    const char *in;             /*  stdin bytes, or NULL for /dev/null */
    size_t      in_len;
    int         in_fd;          /*  stdin from this fd instead (when in is NULL); -1 none */
    int         out_fd;         /*  stdout to this fd instead of captured; -1 capture */
    size_t      out_max;        /*  captured stdout over this is an error; 0: SW_GIT_OUT_MAX */
    int64_t     timeout_ms;     /*  0: SW_GIT_TIMEOUT_MS; then git is killed */
    bool        own_group;      /*  git in a process group of its own: a terminal's ^C,
                                 *  ^\ or hangup (sent to our group) does not reach it */
    const char *const *env;     /*  more NAME=VALUE entries, NULL-terminated, or NULL */
} sw_git_opts_t;

/*  Opts with the fds set to "none" (-1); everything else zero. */
sw_git_opts_t sw_git_opts(void);

typedef struct {
    sw_buf_t out;               /*  stdout, unless opts.out_fd */
    sw_buf_t err;               /*  stderr: the first 64 KiB */
    int      code;              /*  exit code, 128 + signal for a signal */
} sw_git_res_t;

void sw_git_res_init(sw_git_res_t *r);
void sw_git_res_release(sw_git_res_t *r);

/*  Runs `git ARGS...` (args NULL-terminated, without "git"). Returns 0
 *  when git exited 0; git's exit code (> 0) when it failed, with res
 *  filled and err naming the command and git's first line of stderr;
 *  -1 with err when it could not run, timed out (killed), or its stdout
 *  outgrew out_max. res may be NULL when the output does not matter. */
int sw_git_run(const sw_git_opts_t *o, const char *const *args, sw_git_res_t *res,
               sw_err_t *err);

/*  A git process with pipes, for streams (pack-objects into chunks,
 *  chunks into index-pack): nothing of a stream is held whole in memory.
 *  stderr goes to an unlinked temporary file, so git never blocks on it. */
typedef struct {
    pid_t   pid;
    int     in_fd;              /*  our end of its stdin, or -1 */
    int     out_fd;             /*  our end of its stdout, or -1 */
    int     err_file;           /*  its stderr */
    int64_t start_ms;           /*  monotonic */
    int64_t deadline_ms;
    char   *what;               /*  "git index-pack", for messages */
    bool    group;              /*  in a process group of its own (own_group): a kill
                                 *  takes the group, a filter's children too */
} sw_git_proc_t;

/*  Starts git with a pipe for stdin (want_in; else /dev/null or o->in_fd)
 *  and for stdout (want_out; else o->out_fd or /dev/null). 0 or -1 with
 *  err. */
int sw_git_start(const sw_git_opts_t *o, const char *const *args, bool want_in, bool want_out,
                 sw_git_proc_t *p, sw_err_t *err);
/*  Writes all of data to its stdin, within its deadline; 0 or -1 with err
 *  (git gone, or the deadline passed). */
int sw_git_write(sw_git_proc_t *p, const void *data, size_t n, sw_err_t *err);
/*  Reads up to n bytes of its stdout within its deadline: the count, 0 at
 *  EOF, -1 with err. */
ssize_t sw_git_read(sw_git_proc_t *p, void *buf, size_t n, sw_err_t *err);
/*  Closes our pipe ends, waits for it (killing it at the deadline, or at
 *  once when kill is true) and reports as sw_git_run; res may be NULL
 *  (its stdout, if captured, is not collected here). */
int sw_git_finish(sw_git_proc_t *p, bool kill, sw_git_res_t *res, sw_err_t *err);

/*  A thread that writes git's stdin for the caller (sw_git_feed.c): the
 *  caller fetches the next chunk while git reads the last. Between start
 *  and end only the feed writes to p (no sw_git_write). start: NULL with
 *  err when no thread could start. put: copies n bytes into the feed's
 *  queue (at most 2 chunks; blocks while it is full); -1 with the
 *  writer's err once a write failed (git gone, its deadline passed).
 *  end: waits until every queued chunk is written and closes git's
 *  stdin (abort: kills git first, drops what is queued), frees *f and
 *  sets it NULL; -1 with err
 *  when a write failed (not reported when aborting). Then sw_git_finish
 *  as usual. */
typedef struct sw_git_feed sw_git_feed_t;
sw_git_feed_t *sw_git_feed_start(sw_git_proc_t *p, sw_err_t *err);
int sw_git_feed_put(sw_git_feed_t *f, const void *data, size_t n, sw_err_t *err);
int sw_git_feed_end(sw_git_feed_t **f, bool abort, sw_err_t *err);
/*  unit.git's cases of the feed, in the repository o names (CHECK). */
void sw_git_feed_test(const sw_git_opts_t *o);

/*  Whether s is a full object name: 40 (SHA-1) or 64 (SHA-256) lower-case
 *  hex digits. */
bool sw_git_oid_valid(const char *s);

int sw_git_test(bool verbose);

#endif
