/*  sw_ws -- workspaces: git commits moved between hosts through the
 *  content-addressed store, merged, compared, and the pure rules around
 *  them (output globs, sizes). docs/workspaces.md has the whole design.
 *
 *  A commit travels as a manifest stored by digest:
 *
 *    {"kind": "swarm-pack", "v": 1, "commit": OID,
 *     "prereqs": [{"commit": OID, "manifest": DIGEST | "url": URL}, ...],
 *     "pack": BLOB | null}
 *
 *  BLOB (sw_cas) is a git pack of the objects reachable from commit but
 *  not from the prerequisites, thin against them: a git bundle split in
 *  two, its header in the manifest. A receiver fetches the prerequisites
 *  first (their own manifests, or git fetch from their URL), then feeds
 *  the pack to `git index-pack --stdin --fix-thin`, a chunk at a time,
 *  each chunk checked against its digest before git sees a byte of it.
 *  The walk over prerequisites is iterative with a visited set.
 *
 *  Everything here that runs git (sw_git) blocks: the CLI and the agent's
 *  helper processes only. sw_ws.c has the store of packs and patches,
 *  sw_ws_repo.c the repository's commits, trees, merges and diffstats,
 *  sw_ws_commit.c the objects written without git, sw_ws_fetch.c the
 *  fetch, sw_ws_parse.c what needs no I/O (diffstats, manifests, globs,
 *  sizes), sw_ws_user.c the user's side (the snapshot) and sw_ws_apply.c
 *  the changes brought home.
 */
#ifndef SW_WS_H
#define SW_WS_H

#include "sw_cas.h"
#include "sw_git.h"
#include "sw_task.h"

#define SW_WS_MAX_MANIFESTS 100000      /*  per fetch: a chain this long is abuse */

/*  A repository to run git in: a bare mirror (work_tree NULL), or a work
 *  tree with its git dir and index. */
typedef struct {
    const char *git_dir;
    const char *work_tree;
    const char *index_file;
    const char *cwd;            /*  NULL: work_tree, else git_dir */
    bool        user_config;    /*  the user's own repository */
    int64_t     timeout_ms;     /*  per git command; 0: sw_git's default */
} sw_ws_repo_t;

/*  sw_git_opts for r. */
sw_git_opts_t sw_ws_opts(const sw_ws_repo_t *r);

/*  `git rev-parse --verify -q REV^{commit}` into out; 0, or -1 with err
 *  (code SW_ENOTFOUND when there is no such commit). */
int sw_ws_rev(const sw_ws_repo_t *r, const char *rev, char out[65], sw_err_t *err);
/*  The tree of commit into out; 0 or -1. */
int sw_ws_tree(const sw_ws_repo_t *r, const char *commit, char out[65], sw_err_t *err);
/*  The trees of n commits in one git process; 0, or -1 with err naming a
 *  commit that has none. */
int sw_ws_trees(const sw_ws_repo_t *r, const char *const *commits, size_t n, char (*out)[65],
                sw_err_t *err);
/*  Which of oids are not commits here: appended to missing. 0 or -1.
 *  A repository with no object at all (a mirror just made: no pack, no
 *  loose object, no alternate) answers "all missing" without git. */
int sw_ws_missing(const sw_ws_repo_t *r, const sw_strv_t *oids, sw_strv_t *missing,
                  sw_err_t *err);
/*  The same, and in the same git process the tree of oids->v[0] into tree0
 *  ("" when it is missing): one process less on a task's hot path. */
int sw_ws_probe(const sw_ws_repo_t *r, const sw_strv_t *oids, sw_strv_t *missing,
                char tree0[65], sw_err_t *err);

/*  git commit-tree TREE [-p P]... -m MESSAGE. With name NULL the commit is
 *  made deterministic (swarm <swarm@localhost>, at the epoch): the same
 *  tree and parents give the same commit on every host. */
int sw_ws_commit_tree(const sw_ws_repo_t *r, const char *tree, const char *const *parents,
                      size_t np, const char *message, const char *name, const char *email,
                      char out[65], sw_err_t *err);

/*  The commit of tree on parent, written into r's objects as a loose
 *  object by us, not by `git commit-tree`: the same object (author and
 *  committer name <email>, the time in UTC, message and a newline), one
 *  git process less on the capture's path (5-15 ms of CPU on the 2-core
 *  VMs, more than the object's bytes are worth). SHA-1 or SHA-256 (tree
 *  and parent both of 40 or both of 64 digits, the repository's kind);
 *  name and email without '<', '>' or a newline. Its name in out; 0 or -1. */
int sw_ws_commit_write(const sw_ws_repo_t *r, const char *tree, const char *parent,
                       const char *name, const char *email, const char *message, char out[65],
                       sw_err_t *err);

/*  The name git gives an object of type ("blob", "tree", "commit") with
 *  these len bytes: SHA-1 (hashsz 20) or SHA-256 (32) of "TYPE LEN\0"
 *  and the bytes, in hex (40 or 64 digits) in out. */
void sw_ws_object_name(const char *type, const void *body, size_t len, size_t hashsz,
                       char out[65]);

/*  Stores that object in r's objects as git stores a loose one (zlib
 *  level 1, a temporary file linked to its name, 0444) unless a loose
 *  object of that name is there already (the same bytes; one in a pack is
 *  not looked for: a loose copy beside it is harmless, git gc drops it).
 *  Its name in out; 0 or -1 with err. */
int sw_ws_object_write(const sw_ws_repo_t *r, const char *type, const void *body, size_t len,
                       size_t hashsz, char out[65], sw_err_t *err);

/*  Merges commits (n >= 2) without a work tree, folding them two at a time
 *  with `git merge-tree --write-tree` and a deterministic merge commit per
 *  step. 0 with the merge commit in out; 1 on a conflict, with the
 *  conflicting paths in conflicts; -1 with err. */
int sw_ws_merge(const sw_ws_repo_t *r, const char *const *commits, size_t n, char out[65],
                sw_strv_t *conflicts, sw_err_t *err);

/*  The change from a to b: files changed (renames detected), lines added
 *  and removed (binary files count as files only). gitlinks (may be NULL)
 *  gets every path that b has as a submodule entry. 0 or -1. */
typedef struct {
    long files, insertions, deletions;
} sw_ws_stat_t;
int sw_ws_diffstat(const sw_ws_repo_t *r, const char *a, const char *b, sw_ws_stat_t *st,
                   sw_strv_t *gitlinks, sw_err_t *err);
/*  Only the submodule entries b has where it differs from a (a raw
 *  diff-tree: no content is compared). 0 or -1. */
int sw_ws_gitlinks(const sw_ws_repo_t *r, const char *a, const char *b, sw_strv_t *gitlinks,
                   sw_err_t *err);
/*  Parses `git diff-tree -r -z --numstat -M` output; pure. */
void sw_ws_numstat_parse(const char *out, size_t n, sw_ws_stat_t *st);

/*  Stores the binary-safe patch from a to b (`git diff-tree -p --binary
 *  --full-index -M`) in the store; the digest of its blob description in
 *  out. max (named cap_name) caps it. st (may be NULL) gets its diffstat,
 *  read from the patch as it streams (no second diff). 0 or -1. */
int sw_ws_patch_put(const sw_ws_repo_t *r, sw_cas_t *cas, const char *a, const char *b,
                    uint64_t max, const char *cap_name, sw_ws_stat_t *st, char out[65],
                    sw_err_t *err);

/*  The diffstat of a patch fed in pieces: files ("diff --git" headers),
 *  lines added and removed in hunks (binary patches count as files). */
typedef struct {
    sw_ws_stat_t st;
    char         head[4096];    /*  the first bytes of the current line */
    size_t       hlen;
    bool         bol, done, in_header;
    char        *path;          /*  the file of the current header (its b/ side) */
    sw_strv_t    gitlinks;      /*  paths the patch makes submodules (mode 160000) */
} sw_ws_patch_stat_t;
void sw_ws_patch_stat_init(sw_ws_patch_stat_t *ps);
void sw_ws_patch_stat_feed(sw_ws_patch_stat_t *ps, const char *data, size_t n);
void sw_ws_patch_stat_release(sw_ws_patch_stat_t *ps);

/*  For a git that deflates or deltifies many objects one after the
 *  other (the capture's update-index and pack-objects): glibc keeps up
 *  to 4 MiB of freed heap and serves blocks under 1 MiB from it, instead
 *  of mapping and unmapping each object's zlib state (256 KiB) anew:
 *  page faults 1,990 -> 310, 20-25% of those gits' CPU for a 100-file
 *  change (docs/design.md, issue 16 capture speed). A bigger block is
 *  still mapped and given back at once. An entry for sw_git_opts_t.env. */
#define SW_WS_MALLOC_TUNABLES \
    "GLIBC_TUNABLES=glibc.malloc.mmap_threshold=1048576:glibc.malloc.trim_threshold=4194304"

/*  The change base -> commit stored both ways at once, git making the
 *  pack and the patch in parallel: commit's manifest (the pack of what
 *  prereqs lack, as sw_ws_put) in manifest, the patch (as
 *  sw_ws_patch_put; nothing when the trees are equal: patch "") in
 *  patch, its diffstat in st, and in gitlinks (may be NULL) the paths it
 *  makes submodules. max (named cap_name) caps each. The pack's objects
 *  are deflated anew (the capture packs new blobs at level 1), with one
 *  delta thread (the patch has the other core), without the repository's
 *  bitmap (with one, git 2.39 finds no thin bases: every blob would go
 *  whole). 0 or -1. */
int sw_ws_put_change(const sw_ws_repo_t *r, sw_cas_t *cas, const char *base, const char *commit,
                     bool same_tree, const sw_task_ws_t *prereqs, size_t n, uint64_t max,
                     const char *cap_name, char manifest[65], char patch[65], sw_ws_stat_t *st,
                     sw_strv_t *gitlinks, sw_err_t *err);

/*  The two gits of sw_ws_put_change, started before the commit they
 *  pack and diff exists: both read what to do from stdin (pack-objects
 *  --revs, diff-tree --stdin), so their exec and start (5-7 ms each on
 *  the 2-core VMs, mostly page faults) overlap the capture's staging
 *  instead of following its commit (docs/design.md, "Decisions for issue
 *  16 (i16-cap)"). The same arguments and environment as sw_ws_put_change's
 *  own, but the patch is of the two trees (tree and base_tree below, set
 *  by the caller before sw_ws_put_change_started): the same bytes. */
typedef struct {
    sw_git_proc_t pack, diff;
    bool          on;           /*  running, owned here */
    bool          diff_on;      /*  the patch's git too (not once a same tree stopped it) */
    bool          fed;          /*  sw_ws_streams_feed gave them their input */
    char          base_tree[65], tree[65];
} sw_ws_streams_t;

/*  Starts both; 0 or -1 with err (nothing left running). */
int sw_ws_streams_start(const sw_ws_repo_t *r, sw_ws_streams_t *c, sw_err_t *err);
/*  Kills and reaps what c still runs (NULL-safe, idempotent). */
void sw_ws_streams_stop(sw_ws_streams_t *c);
/*  Gives c's gits their input as soon as the commit exists: the pack's
 *  revisions (commit, not prereqs) and the patch's two trees (c->base_tree,
 *  c->tree, set by the caller; same_tree: no patch, its git is stopped),
 *  so they work while the caller does something else (connects to Redis).
 *  Then sw_ws_put_change_started, with the same commit, same_tree and
 *  prereqs, only reads them. 0 or -1 with err (sw_ws_streams_stop, or
 *  sw_ws_put_change_started, which then fails, cleans up). */
int sw_ws_streams_feed(sw_ws_streams_t *c, const char *commit, bool same_tree,
                       const sw_task_ws_t *prereqs, size_t n, sw_err_t *err);
/*  sw_ws_put_change with c's gits (c->on; c is stopped on return, either
 *  way), diffing c->base_tree to c->tree; fed first when the caller has not
 *  (sw_ws_streams_feed). */
int sw_ws_put_change_started(const sw_ws_repo_t *r, sw_cas_t *cas, sw_ws_streams_t *c,
                             const char *commit, bool same_tree, const sw_task_ws_t *prereqs,
                             size_t n, uint64_t max, const char *cap_name, char manifest[65],
                             char patch[65], sw_ws_stat_t *st, sw_strv_t *gitlinks,
                             sw_err_t *err);

/*  Stores commit as a manifest with the pack of what prereqs lack (prereqs
 *  sources: each a commit with its manifest or URL; n may be 0: the whole
 *  history of commit; with prereqs the repository's bitmap is not used,
 *  as in sw_ws_put_change). max caps the pack (named cap_name in the error).
 *  *pack_bytes (may be NULL) gets the pack's size. 0 or -1. */
int sw_ws_put(const sw_ws_repo_t *r, sw_cas_t *cas, const char *commit,
              const sw_task_ws_t *prereqs, size_t n, uint64_t max, const char *cap_name,
              char manifest[65], uint64_t *pack_bytes, sw_err_t *err);

/*  A parsed manifest. */
typedef struct {
    char         *commit;
    json_t       *pack;         /*  blob description, or NULL */
    sw_task_ws_t *prereqs;      /*  commit with manifest or url (repo unused) */
    size_t        n;
} sw_ws_manifest_t;

int  sw_ws_manifest_parse(const char *text, size_t len, sw_ws_manifest_t *m, sw_err_t *err);
void sw_ws_manifest_release(sw_ws_manifest_t *m);

/*  Makes every commit of want (n sources) present in r: from the store by
 *  manifest (prerequisites first), or by git fetch from the URL (with the
 *  node's own git configuration: credentials; only the file, git, http,
 *  https and ssh protocols). At most max_bytes (named cap_name) are read
 *  from the store. stats (may be NULL) counts what came. 0 or -1 with err;
 *  SW_EUNREACH when Redis failed (worth another try). */
typedef struct {
    long     manifests;         /*  packs indexed */
    long     fetched;           /*  commits fetched from URLs */
    uint64_t bytes;             /*  read from the store */
    bool     hit;               /*  everything was here already */
    char     tree[65];          /*  the tree of want[0], learnt by the last check */
} sw_ws_fetch_stats_t;
int sw_ws_fetch(const sw_ws_repo_t *r, sw_cas_t *cas, const sw_task_ws_t *want, size_t n,
                uint64_t max_bytes, const char *cap_name, sw_ws_fetch_stats_t *stats,
                sw_err_t *err);

/*  --- the user's side (sw_ws_user.c, sw_ws_apply.c) ------------------------------------- */

#define SW_WS_MAX_SNAPSHOT  (1ull << 30)    /*  default --max-snapshot */
#define SW_WS_MAX_FILE      (100ull << 20)  /*  default --max-file */

typedef struct {
    const char *dir;            /*  a directory of the user's git work tree */
    const char *repo_url;       /*  agents fetch HEAD from there; NULL: all through Redis */
    uint64_t    max_snapshot;   /*  0: SW_WS_MAX_SNAPSHOT (the whole tree, or the pack) */
    uint64_t    max_file;       /*  0: SW_WS_MAX_FILE */
} sw_ws_snap_opts_t;

typedef struct {
    char    *toplevel;          /*  the work tree's top */
    char    *prefix;            /*  dir relative to it ("" at the top) */
    long     files;
    uint64_t bytes;             /*  of the tree's blobs */
    uint64_t pack;              /*  bytes of the pack stored (0 when reused or none) */
    bool     reused;            /*  the same snapshot was stored already */
} sw_ws_snap_stats_t;

void sw_ws_snap_stats_release(sw_ws_snap_stats_t *st);

/*  Snapshots the work tree of o->dir: HEAD plus every uncommitted change,
 *  tracked or untracked but not ignored, as one commit, without touching
 *  the user's index, refs or files (a temporary index: add -A,
 *  write-tree, commit-tree; objects go to their object store, nothing
 *  points at them). Refuses submodules, Git LFS files and files over
 *  max_file, naming them. The commit is deterministic (same tree, same
 *  commit), so a snapshot stored before is reused. Without repo_url the
 *  commit has no parent and travels whole through cas; with it, its
 *  parent is HEAD, which agents fetch from the URL, and only the
 *  difference travels (nothing at all when the tree is clean). 0 with
 *  out filled (caller releases), or -1 with err (SW_EINVAL for what the
 *  user must change, SW_EUNREACH for Redis). */
int sw_ws_snapshot(const sw_ws_snap_opts_t *o, sw_cas_t *cas, sw_task_ws_t *out,
                   sw_ws_snap_stats_t *st, sw_err_t *err);

/*  One task's change for apply: the commit it made on its base, and its
 *  manifest (which brings both). */
typedef struct {
    const char *id;
    const char *base;
    const char *commit;
    const char *manifest;
} sw_ws_change_t;

typedef struct {
    const char *dir;            /*  the user's work tree */
    const char *branch;         /*  NULL: apply to the work tree; else create this branch */
    const char *job;            /*  named in the branch commits' messages */
} sw_ws_apply_opts_t;

typedef struct {
    sw_strv_t applied;          /*  ids whose change went in */
    sw_strv_t files;            /*  paths changed */
    sw_strv_t conflicts;        /*  paths in conflict */
    char     *conflict_id;      /*  the task whose change conflicted */
    char     *commit;           /*  branch mode: the branch's commit */
    int       signal;           /*  work tree: SIGINT, SIGTERM, SIGHUP or SIGQUIT came while
                                 *  it was written (held until done, then taken); 0: none */
} sw_ws_apply_report_t;

void sw_ws_apply_report_release(sw_ws_apply_report_t *r);

/*  Applies changes (in dependency order) to the user's repository with a
 *  3-way merge per change (merge-tree, the change's base as merge base),
 *  computed entirely before anything is written: all or nothing. With a
 *  branch, one commit per change on top of HEAD, the work tree and index
 *  untouched; otherwise the work tree gets the result (through a
 *  temporary index: the user's index and HEAD stay). 0 applied; 1 on a
 *  conflict (report names the task and the paths; nothing changed); -1
 *  with err. */
int sw_ws_apply(const sw_ws_apply_opts_t *o, sw_cas_t *cas, const sw_ws_change_t *changes,
                size_t n, sw_ws_apply_report_t *rep, sw_err_t *err);

/*  Output globs, gitignore-like: a pattern without a slash matches the
 *  last component of the path at any depth (STAR.o); one with a slash
 *  matches the path from the top (build/STAR.o); a component STARSTAR
 *  matches any number of components; within a component, fnmatch's
 *  STAR ? [...]; a trailing slash means everything below. (STAR is '*':
 *  it cannot be spelt next to a slash in a C comment.) No recursion: a
 *  table over (pattern, path) components. */
bool sw_glob_match(const char *pattern, const char *path);
bool sw_globs_match(const sw_strv_t *patterns, const char *path);

/*  "100M", "2G", "512K", "1048576" (B, K, M, G, T, powers of 1024) into
 *  bytes; 0 or -1. */
int sw_parse_size(const char *s, uint64_t *out);
/*  Bytes for people: "1.5 MiB". */
void sw_fmt_size(uint64_t n, char out[32]);

int sw_ws_test(bool verbose);
int sw_ws_repo_test(bool verbose);    /*  commits, merges, diffstats (sw_ws_repo.c) */
int sw_ws_parse_test(bool verbose);   /*  the parts without I/O (sw_ws_parse.c) */

#endif
