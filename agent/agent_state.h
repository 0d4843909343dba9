/*  agent_state -- the agent's private directory (--state-dir).
 *
 *  What the agent keeps on disk lives here and nowhere a task can write:
 *  the files of each run (the prompt codex and claude read on stdin,
 *  codex's last message and output schema), the result spool, and the key
 *  that authenticates spooled results. A task that cleans its working
 *  directory (git clean -xfd, rm -rf .swarm) cannot touch any of it.
 *
 *    STATE/lock        flock'd while an agent uses the directory: two
 *                      agents never share one
 *    STATE/hmac.key    32 random bytes, 0600: HMAC-SHA256 key of the spool
 *    STATE/run/        per-run files, emptied at start (no run outlives
 *                      its agent)
 *    STATE/spool/      results waiting for Redis (agent_spool), unless
 *                      --spool DIR says elsewhere
 *
 *  The directory is mode 0700. It is refused when it lies inside the
 *  workdir (or the workdir inside it), when it is not ours, when others
 *  can write it, or when a directory above it lets others replace it
 *  (writable by others without the sticky bit, or owned by someone who is
 *  neither root nor us: OpenSSH's StrictModes rule).
 *
 *  Every file is created with O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC, mode
 *  0600, and named from the SHA-256 of (job, task id, attempt): ids steer
 *  no path, and one attempt's names are its own. A state directory that
 *  disappears while the agent runs is made again (with a log line) when
 *  the next file is created.
 */
#ifndef AGENT_STATE_H
#define AGENT_STATE_H

#include <sys/types.h>

#include "sw_util.h"

#define AGENT_STATE_KEY_BYTES 32
#define AGENT_STATE_MAC_BYTES 32

typedef struct agent_state_t agent_state_t;

/*  Agent id as ONE directory name ('/' written "%2F", which no id holds,
 *  so two ids never share a name and no id nests inside another's): for
 *  the state dir and the worktrees' root. NULL with err when over
 *  NAME_MAX. Caller frees. */
char *agent_id_dirname(const char *id, sw_err_t *err);

/*  The default state directory of agent ID, DESIGN.md section 9:
 *  $STATE_DIRECTORY (systemd's StateDirectory=; the first of a list), else
 *  /var/lib/swarm-agent/ID for root, else
 *  ${XDG_STATE_HOME:-$HOME/.local/state}/swarm-agent/ID. The id is one
 *  path component ('/' written as "%2F"). The environment values are
 *  arguments (NULL or "" when unset) so the rule is testable; NULL with err
 *  when there is no way to place it (no HOME). Caller frees. */
char *agent_state_default(const char *id, uid_t euid, const char *state_directory,
                          const char *xdg_state_home, const char *home, sw_err_t *err);

/*  PATH made absolute (against the current directory) and resolved like
 *  realpath(3) as far as it exists, the rest normalised without following
 *  anything ("." dropped, ".." going up): what a directory will be once
 *  created, known before it is. Caller frees; NULL with errno when the
 *  existing part cannot be resolved. */
char *agent_path_resolve(const char *path);

/*  Whether absolute, normalised PATH is DIR or lies below it (component
 *  by component: /var/lib/swarm-agent is not inside /var/lib/swarm). */
bool agent_path_inside(const char *path, const char *dir);

/*  Checks that DIR (absolute) is fit to hold agent state: ours, not
 *  writable by others, no unsafe directory above it; 0 or -1 with err. */
int agent_state_check_dir(const char *dir, sw_err_t *err);
/*  Checks that no directory above absolute PATH lets others put something
 *  else in its place: each is owned by root or us, and not writable by
 *  others (nor by a group not ours) unless sticky (OpenSSH's StrictModes
 *  rule); those that do not exist yet are skipped (so a path can be
 *  checked before it is made). 0, or -1 with err: "PATH is under DIR, which
 *  others can change (owner uid U, mode M): WHY". */
int agent_path_check_above(const char *path, const char *why, sw_err_t *err);

/*  Opens DIR as the state directory (creating it and missing parents with
 *  mode 0700), refusing it as the header says when WORKDIR (absolute,
 *  resolved) and it overlap (checked before anything is created). Takes the lock, loads or creates the key and
 *  empties run/. NULL with err. */
agent_state_t *agent_state_open(const char *dir, const char *workdir, sw_err_t *err);
void agent_state_destroy(agent_state_t **self_p);

/*  The resolved absolute path of the directory. */
const char *agent_state_dir(const agent_state_t *self);

/*  The name of an attempt's files: 64 hex digits of the SHA-256 of
 *  (job, id, attempt), NUL-terminated. */
void agent_state_name(const char *job, const char *id, int64_t attempt, char hex[65]);
/*  The path of a run's file: STATE/run/HEX.SUFFIX, HEX the SHA-256 of
 *  (job, id, attempt). Caller frees. */
char *agent_state_path(const agent_state_t *self, const char *job, const char *id,
                       int64_t attempt, const char *suffix);
/*  Creates that file (empty, 0600, O_EXCL|O_NOFOLLOW) and returns an fd
 *  open for reading and writing (O_CLOEXEC), its path in *path (caller
 *  frees); -1 with err. A leftover file of the same name (an earlier
 *  attempt with the same number in this agent's life) is removed first. */
int agent_state_create(agent_state_t *self, const char *job, const char *id, int64_t attempt,
                       const char *suffix, char **path, sw_err_t *err);

/*  Like sw_read_file, but refuses anything that is not a regular file
 *  (O_NOFOLLOW: a symlink is not followed). 0, or -1 (missing, or not a
 *  regular file). */
int agent_state_read(const char *path, size_t max, sw_buf_t *out, bool *truncated);

/*  HMAC-SHA256 of data under the state's key. */
void agent_state_mac(const agent_state_t *self, const void *data, size_t n,
                     unsigned char out[AGENT_STATE_MAC_BYTES]);

int agent_state_test(bool verbose);

#endif
