/*  agent_wsh -- what the stages of swarm-agent-workspace share (internal
 *  to the helper: agent_wshelper.c has the request, the mirrors and main,
 *  agent_wsprepare.c the prepare stage, agent_wscapture.c the capture).
 *  See agent_wshelper.h for what the helper does.
 */
#ifndef AGENT_WSH_H
#define AGENT_WSH_H

#include <jansson.h>
#include <sys/stat.h>

#include "sw_cas.h"
#include "sw_redis.h"
#include "sw_task.h"
#include "sw_util.h"
#include "sw_ws.h"

/*  One helper run: its request and what it holds. Strings point into req. */
typedef struct {
    json_t     *req;
    const char *op;
    const char *mirrors;
    const char *repo;
    const char *job, *id;
    char       *mirror;         /*  MIRRORS/REPO.git */
    sw_ws_repo_t r;             /*  the mirror, bare */
    sw_redis_t *redis;          /*  on first use */
    sw_cas_t    cas;
    int64_t     git_timeout_ms;
    json_t     *answer;         /*  stages add their fields */
    /*  A capture handed over to a standby (agent_wsstandby.c), else all
     *  zero: the gits it started while the task ran, waiting on stdin,
     *  their timeouts counted from the hand-over. The capture takes them
     *  (on false once taken) and stops what it does not use. */
    struct {
        sw_git_proc_t   upd;        /*  update-index (s_upd_args, s_stage_env) */
        bool            upd_on;
        sw_ws_streams_t early;      /*  pack-objects and diff-tree (early.on) */
    } sb;
} agent_wsh_t;

/*  The standby stage (op "standby", agent_wsstandby.c): started when the
 *  task starts, it refreshes the slot's index once its second is over and
 *  starts the capture's gits, then reads one line from stdin: the path of
 *  the capture request (then it becomes that capture: h's request and
 *  answer are the capture's, *capture set), or EOF with nothing (the
 *  agent gave up: its gits end without touching the index, *capture
 *  false). A refresh or a git that fails to start on standby is left to
 *  the capture (it does as without a standby). Once handed over, h->req
 *  is the capture's request and *standby_req the standby's (the caller
 *  frees it after h: h's strings point into it). 0, or -1 with err (a
 *  request not the capture of this run, or a standby request without a
 *  worktree or base; nothing running then). */
int agent_wsh_standby(agent_wsh_t *h, bool *capture, json_t **standby_req, sw_err_t *err);
/*  Starts the staging's update-index of the capture (agent_wscapture.c:
 *  s_upd_args with s_stage_env) on the slot t: it takes the index's lock,
 *  reads the index and waits for its paths on p->in_fd. 0 or -1. */
int agent_wsh_upd_start(const sw_ws_repo_t *t, sw_git_proc_t *p, sw_err_t *err);
/*  The gits h->sb holds, ended without a change (stdin closed, waited
 *  for; pack-objects and diff-tree killed: they hold no lock). */
void agent_wsh_standby_release(agent_wsh_t *h);

/*  The request's string at key (NULL when absent or not a string), and
 *  its positive integer (0 otherwise). */
const char *agent_wsh_str(json_t *o, const char *key);
uint64_t agent_wsh_u64(json_t *o, const char *key);

/*  Writes n bytes to path, created 0600 and never through a symlink, with
 *  open flags (O_EXCL, O_TRUNC) added. 0 or -1 with errno. */
int agent_wsh_write_file(const char *path, const char *data, size_t n, int flags);

/*  Whether the worktree path wt (ROOT/N, ROOT = WORKDIR/swarm-worktrees/ID)
 *  is a directory reached through no symlink the task could have made:
 *  wt, ROOT and swarm-worktrees are each a directory (lstat), not a link.
 *  A task can reach all three from its cwd (`..`) and replace one by a
 *  symlink to a directory elsewhere: a git run with wt as its work tree
 *  would clean, check out or capture that directory. */
bool agent_wsh_worktree_real(const char *wt);
/*  Removes INDEX's git lock (INDEX.lock) that a killed git left behind.
 *  Only for a slot's own index, when no git of the run can hold it any
 *  more (the standby's update-index ended, or the standby's group was
 *  killed): the index belongs to the run alone, so the lock can only be
 *  a dead holder's. A missing lock is no error. */
void agent_wsh_index_unlock(const char *index);

/*  Sets the mtime of MIRRORS/REPO.SUFFIX to now (created when missing). */
void agent_wsh_touch(const char *mirrors, const char *repo, const char *suffix);

/*  With SWARM_GIT_TRACE in the environment, prints the time since `since`
 *  (monotonic ms) of a helper stage to stderr, beside sw_git's lines. */
void agent_wsh_trace(const char *what, int64_t since);

/*  Redis, connected on first use (a prepare that finds everything in the
 *  mirror never connects), and h->cas on it. SW_EUNREACH when it fails. */
int agent_wsh_redis(agent_wsh_t *h, sw_err_t *err);

/*  The mirror exists (a bare repository), made under the write lock, in
 *  the object format of oid (a commit it is for: 64 digits, sha256; else
 *  sha1). A mirror already there in the other format: -1 with err naming
 *  it (its objects cannot hold the commit). */
int agent_wsh_mirror(agent_wsh_t *h, const char *oid, sw_err_t *err);

/*  Pins commits (refs/swarm/pin/OID) so git gc keeps them; then gc when
 *  git would think it due (with gc_now; else "gc_due" in h->answer, for
 *  the agent's remover to run after the answer), and the mirror's size for the cache cap (after
 *  a fetch: measure). Call under the write lock. */
int agent_wsh_pin(agent_wsh_t *h, const sw_strv_t *commits, bool measure, bool gc_now,
                  sw_err_t *err);

/*  {"commit", "manifest"?, "url"?} of a workspace source. New reference. */
json_t *agent_wsh_src_json(const sw_task_ws_t *w);

/*  The tree an index file names as its own (the root of its cache tree,
 *  what `git write-tree` prints without writing anything) when that root
 *  is valid: true with tree set (hex); false (tree "") when it is not, or
 *  the index is not one this reads (version 2 or 3, no conflicts; hashsz
 *  20 or 32). *racy: an entry is not older than the index file (git
 *  compares such a file's content on every read, until a refresh in a
 *  later second writes the index), or the index could not be read. */
/*  --- git's index file, read without git (agent_wsindex.c) --- */

/*  One entry of an index file; path and oid point into the file's bytes
 *  (agent_wsh_index_t's file), valid until it is released. */
typedef struct {
    const char          *path;      /*  NUL-terminated */
    size_t               len;       /*  strlen(path) */
    uint32_t             mode;      /*  as git writes it: 0100644, 0120000, ... */
    const unsigned char *oid;       /*  raw, hashsz bytes */
    uint32_t             mtime_s;   /*  the file's mtime when staged, seconds */
} agent_wsh_entry_t;

/*  An index file read whole: its stage-0 entries in the file's order (as
 *  git sorts them), and where its extensions are. Owns file and e. */
typedef struct {
    sw_buf_t           file;
    struct stat        st;          /*  the file's, when read */
    agent_wsh_entry_t *e;
    size_t             n;
    size_t             ext;         /*  offset of the first extension (after the entries) */
    size_t             end;         /*  offset where the extensions end: the file's length,
                                        less the checksum with AGENT_WSH_INDEX_SUM */
} agent_wsh_index_t;

#define AGENT_WSH_INDEX_SUM      1u /*  the last hashsz bytes are the checksum: left out of
                                        the parse (the caller checks it), and a file shorter
                                        than the header and it is refused */
#define AGENT_WSH_INDEX_EXTENDED 2u /*  entries with extended flags (version 3: intent to
                                        add, skip-worktree) are taken, not refused */

/*  Reads the index file at index (hashsz 20 for SHA-1, 32 for SHA-256
 *  names). true with ix filled; false when it cannot be read or is not
 *  one this knows (not a version 2 or 3 index, a conflict stage, an
 *  extended flag without AGENT_WSH_INDEX_EXTENDED, an empty or unsorted
 *  path, an entry past the end: the caller then asks git). Either way ix
 *  is the caller's to release. */
bool agent_wsh_index_read(const char *index, size_t hashsz, unsigned flags,
                          agent_wsh_index_t *ix);
void agent_wsh_index_release(agent_wsh_index_t *ix);
/*  The big-endian 32-bit number at p (the index's integers). */
uint32_t agent_wsh_be32(const unsigned char *p);

/*  The paths an index tracks (stage 0, sorted as git sorts them), read
 *  from the file (agent_wsh_index_read, extended flags taken): only a
 *  version 2 or 3 index of SHA-1 or SHA-256 names (hashsz 20 or 32) with
 *  no conflict entry; anything else, false (the caller then cleans as
 *  before). */
typedef struct {
    agent_wsh_index_t ix;
    char         tree[65];      /*  the root of its cache tree when valid, else "" */
    bool         racy;          /*  an entry not older than the file (git compares its
                                    content on every read) */
} agent_wsh_tracked_t;
bool agent_wsh_tracked_read(const char *index, size_t hashsz, agent_wsh_tracked_t *t);
void agent_wsh_tracked_release(agent_wsh_tracked_t *t);

/*  Whether `git clean -ffdx` would find nothing to remove in wt: every
 *  entry in it is a path t tracks or a directory on the way to one (when
 *  in doubt, false). What git clean would leave in a tracked directory (a
 *  .git, a fifo, a socket, a device) is removed; so are tracked files
 *  with more than one link (*unlinked: the reset writes them anew). */
bool agent_wsh_nothing_to_clean(const char *wt, const agent_wsh_tracked_t *t, bool *unlinked);

/*  unit.wshelper: agent_wsh_index_tree's racy against git's rule, with
 *  dated files and index (CHECK aborts on a failure). */
void agent_wsh_racy_test(void);

bool agent_wsh_index_tree(const char *index, size_t hashsz, char tree[65], bool *racy);

/*  The tree of the index file, written as `git write-tree` writes it
 *  (agent_wstree.c): the index's valid cache-tree nodes reused, every
 *  other directory's tree hashed from its entries and written into r's
 *  objects (loose, when not there loose already), and the index's cache
 *  tree updated (under index.lock, the file's times kept; left as it was
 *  when the lock is taken). 1 with tree (hex) and *written (trees hashed
 *  here); 0 when this index is not one it knows for certain (another
 *  version or extension, extended flags, a conflict, a gitlink or another
 *  mode, a bad checksum, a write that failed): the caller runs git
 *  write-tree. hashsz: 20 (SHA-1) or 32 (SHA-256). */
int agent_wsh_write_tree(const sw_ws_repo_t *r, const char *index, size_t hashsz, char tree[65],
                         int *written);

/*  The capture's packs of stored blobs (agent_wsstored.c). packs: the
 *  names (pack-HEX.pack) in GIT_DIR/objects/pack, added to names.
 *  stored_mark: marks every pack there that is not in before (the
 *  staging's, written at level 0) for the deflate; how many. stored_deflate:
 *  packs the objects of the marked packs that are stored anew, deflated,
 *  into one pack, removes them and every mark; call under the mirror's
 *  write lock (no gc beside it), and before any git gc (which would keep
 *  their bytes undeflated). 0, or -1 with err (the marks stay). */
void agent_wsh_packs(const char *git_dir, sw_strv_t *names);
int agent_wsh_stored_mark(const char *git_dir, const sw_strv_t *before);
int agent_wsh_stored_deflate(const sw_ws_repo_t *r, sw_err_t *err);
/*  Unit test of the three (CHECK). */
int agent_wsh_stored_test(const char *dir);

/*  The stages: 0 with their fields in h->answer, or -1 with err
 *  (SW_EUNREACH: Redis, worth another try). */
int agent_wsh_prepare(agent_wsh_t *h, sw_err_t *err);
int agent_wsh_capture(agent_wsh_t *h, sw_err_t *err);

/*  Unit test of the capture's staging (agent_wshelper_test runs it). */
int agent_wsh_capture_test(const char *dir);
/*  unit.wshelper: a standby given up (EOF, a part of a line) or handed a
 *  request not its run's leaves the index and its lock as they were. */
int agent_wsh_standby_test(const char *dir);
/*  Unit test of agent_wsh_write_tree against git write-tree. */
int agent_wsh_tree_test(const char *dir);
/*  Unit test of agent_wsh_index_read against git's own index files. */
int agent_wsh_index_test(const char *dir);

#endif
