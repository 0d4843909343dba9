/*  sw_ws_apply -- bringing tasks' changes home (sw_ws_apply in sw_ws.h):
 *  a 3-way merge per change computed before anything is written, then a
 *  branch, or the work tree through a temporary index, after the check
 *  that no ignored file of the user's is in the way. The user's
 *  repository is opened as for the snapshot (sw_ws_user_int.h).
 */
#include "sw_ws.h"

#include <errno.h>
#include <fcntl.h>
#include <fts.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sw_ws_user_int.h"

#define EMPTY_TREE "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

void
sw_ws_apply_report_release(sw_ws_apply_report_t *r)
{
    sw_strv_release(&r->applied);
    sw_strv_release(&r->files);
    sw_strv_release(&r->conflicts);
    free(r->conflict_id);
    free(r->commit);
    memset(r, 0, sizeof *r);
}

/*  --- apply ------------------------------------------------------------------------------ */

/*  R with change (base -> commit) applied: a 3-way merge whose merge base
 *  is the change's base (a commit with R's tree whose parent is base,
 *  merged with commit). 0 with the new tree in out, 1 on a conflict. */
static int
s_apply_one(const sw_ws_repo_t *r, const char *tree, const sw_ws_change_t *c,
            const char *base_tree, const char *commit_tree, char out[65], sw_strv_t *conflicts,
            sw_err_t *err)
{
    char ours[65], merged[65];
    if (strcmp(base_tree, tree) == 0) {     /*  nothing moved: the change as it is */
        snprintf(out, 65, "%s", commit_tree);
        return 0;
    }
    const char *parents[] = { c->base };
    if (sw_ws_commit_tree(r, tree, parents, 1, "swarm apply", NULL, NULL, ours, err) < 0)
        return -1;
    const char *two[] = { ours, c->commit };
    int rc = sw_ws_merge(r, two, 2, merged, conflicts, err);
    if (rc != 0)
        return rc;
    return sw_ws_tree(r, merged, out, err);
}

/*  Paths that differ between trees a and b. */
static int
s_changed(const sw_ws_repo_t *r, const char *a, const char *b, sw_strv_t *files, sw_err_t *err)
{
    sw_git_opts_t o = sw_ws_opts(r);
    o.out_max = 256 << 20;
    const char *args[] = { "diff-tree", "-r", "-z", "--name-only", "--no-renames", a, b, NULL };
    sw_git_res_t res;
    sw_git_res_init(&res);
    int rc = sw_git_run(&o, args, &res, err);
    for (const char *p = res.out.data, *end = p + res.out.len; rc == 0 && p && p < end;
         p += strlen(p) + 1)
        sw_strv_push(files, p);
    sw_git_res_release(&res);
    return rc == 0 ? 0 : -1;
}

/*  Whether any of deleted is path or below it (dir: path/...). */
static bool
s_in(const sw_strv_t *deleted, const char *path, bool dir)
{
    size_t n = strlen(path);
    for (size_t i = 0; i < deleted->n; i++)
        if (strncmp(deleted->v[i], path, n) == 0
            && (dir ? deleted->v[i][n] == '/' : deleted->v[i][n] == '\0'))
            return true;
    return false;
}

static int
s_strcmp_p(const void *a, const void *b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/*  Into way (up to 5): the files below the work tree's directory full
 *  (the path rel) that the start does not have (sorted, n: the paths the
 *  change deletes, sorted for a lookup per file: a vendor/ of 80,000
 *  files made a file stays linear): a directory the change makes a file
 *  or a symlink (its tracked files deleted) holding files of the user's
 *  beside them. git removes the whole directory (ignored files
 *  included, across mounts) to put the file there. Iterative walk
 *  (fts, no symlink followed); a mount below it is named, not entered;
 *  a walk that cannot be made or ends in an error names rel itself;
 *  empty directories are no loss and not named. */
static void
s_files_below(const char *full, const char *rel, const char *const *sorted, size_t n,
              sw_strv_t *way)
{
    struct stat root;
    char *roots[] = { (char *) full, NULL };
    FTS *fts = lstat(full, &root) == 0
               ? fts_open(roots, FTS_PHYSICAL | FTS_NOCHDIR | FTS_XDEV, NULL) : NULL;
    if (!fts) {
        sw_strv_push(way, rel);
        return;
    }
    size_t flen = strlen(full);
    FTSENT *e = NULL;
    errno = 0;
    while (way->n < 5 && (e = fts_read(fts))) {
        bool mount = e->fts_info == FTS_D && e->fts_level > 0
                     && e->fts_statp->st_dev != root.st_dev;
        if (!mount && (e->fts_info == FTS_D || e->fts_info == FTS_DP
                       || e->fts_info == FTS_DOT)) {
            errno = 0;
            continue;
        }
        char *q = xasprintf("%s%s", rel, e->fts_path + flen);
        const char *key = q;
        if (mount || e->fts_info == FTS_DNR || e->fts_info == FTS_ERR
            || !bsearch(&key, sorted, n, sizeof *sorted, s_strcmp_p))
            sw_strv_push(way, q);
        if (mount)
            fts_set(fts, e, FTS_SKIP);
        free(q);
        errno = 0;
    }
    if (!e && errno && way->n < 5)
        sw_strv_push(way, rel);
    fts_close(fts);
}

/*  The work tree's change (start -> the result): every path, and those
 *  added, deleted, or changing type (a file made a symlink or back). */
typedef struct {
    sw_strv_t all, added, deleted, typed;
} s_delta_t;

static void
s_delta_release(s_delta_t *d)
{
    sw_strv_release(&d->all);
    sw_strv_release(&d->added);
    sw_strv_release(&d->deleted);
    sw_strv_release(&d->typed);
}

static int
s_delta(const sw_ws_repo_t *r, const char *start, const char *tree, s_delta_t *d,
        sw_err_t *err)
{
    memset(d, 0, sizeof *d);
    sw_git_opts_t o = sw_ws_opts(r);
    o.out_max = 256 << 20;
    const char *args[] = { "diff-tree", "-r", "-z", "--name-status", "--no-renames", start,
                           tree, NULL };
    sw_git_res_t res;
    sw_git_res_init(&res);
    if (sw_git_run(&o, args, &res, err) != 0) {
        sw_git_res_release(&res);
        return -1;
    }
    /*  STATUS NUL PATH NUL */
    for (const char *p = res.out.data, *end = p + res.out.len; p && p < end; ) {
        const char *status = p, *path = p + strlen(p) + 1;
        if (path >= end)
            break;
        p = path + strlen(path) + 1;
        sw_strv_push(&d->all, path);
        if (status[0] == 'A')
            sw_strv_push(&d->added, path);
        else if (status[0] == 'D')
            sw_strv_push(&d->deleted, path);
        else if (status[0] == 'T')
            sw_strv_push(&d->typed, path);
    }
    sw_git_res_release(&res);
    return 0;
}

/*  names (up to max of them, quoted as git quotes paths) into b: "a, b, ...". */
static void
s_names(const sw_strv_t *names, size_t max, sw_buf_t *b)
{
    for (size_t i = 0; i < names->n && i < max; i++) {
        char *q = sw_ws_path_quote(names->v[i]);
        sw_buf_printf(b, "%s%s", i ? ", " : "", q);
        free(q);
    }
    if (names->n > max)
        sw_buf_addstr(b, ", ...");
}

/*  The paths the result adds where the work tree holds something start
 *  does not: an ignored file or directory of the user's (start has every
 *  untracked file that is not ignored). git read-tree -u overwrites
 *  ignored files (git 2.35 on): the user's would be lost, never in any
 *  object store. 0 when none, -1 with err naming them. */
static int
s_ignored_in_way(const char *top, const s_delta_t *d, sw_err_t *err)
{
    const sw_strv_t *added = &d->added, *deleted = &d->deleted;
    sw_strv_t way = { 0 };
    const char **sorted = xcalloc(deleted->n + 1, sizeof *sorted);
    for (size_t i = 0; i < deleted->n; i++)
        sorted[i] = deleted->v[i];
    qsort(sorted, deleted->n, sizeof *sorted, s_strcmp_p);
    for (size_t i = 0; i < added->n && way.n < 5; i++) {
        const char *a = added->v[i];
        struct stat sb;
        /*  a leading directory the user has as an ignored file */
        for (const char *slash = strchr(a, '/'); slash; slash = strchr(slash + 1, '/')) {
            char *q = xstrndup(a, (size_t) (slash - a)), *full = xasprintf("%s/%s", top, q);
            bool in_way = lstat(full, &sb) == 0 && !S_ISDIR(sb.st_mode) && !s_in(deleted, q, false);
            if (in_way)
                sw_strv_push(&way, q);
            free(q);
            free(full);
            if (in_way)
                break;
        }
        char *full = xasprintf("%s/%s", top, a);
        if (lstat(full, &sb) == 0 && S_ISDIR(sb.st_mode))
            s_files_below(full, a, sorted, deleted->n, &way);
        else if (lstat(full, &sb) == 0)
            sw_strv_push(&way, a);
        free(full);
    }
    int rc = 0;
    if (way.n) {
        sw_buf_t b;
        sw_buf_init(&b);
        s_names(&way, 4, &b);
        rc = sw_err_set(err, SW_EFAIL, "the change writes %s, which your work tree has but "
                        "ignores (git would overwrite it): move it away, or use --branch; "
                        "nothing was changed", b.data);
        sw_buf_release(&b);
    }
    free(sorted);
    sw_strv_release(&way);
    return rc;
}

static bool
s_has(const char *const *sorted, size_t n, const char *path)
{
    return n && bsearch(&path, sorted, n, sizeof *sorted, s_strcmp_p) != NULL;
}

/*  How many entries git's NUL-separated output OUT holds, plus one: the
 *  size of an array that can point at each of them. */
static size_t
s_nul_cap(const sw_buf_t *out)
{
    size_t cap = 1;
    for (const char *p = out->data, *end = p + out->len; p && p < end; p += strlen(p) + 1)
        cap++;
    return cap;
}

/*  The paths the change deletes or replaces that are (IN) or are not
 *  (!IN) in SORTED (N names, sorted with s_strcmp_p), appended to OUT. */
static void
s_gone_matching(const s_delta_t *d, const char **sorted, size_t n, bool in, sw_strv_t *out)
{
    const sw_strv_t *gone[] = { &d->deleted, &d->typed };
    for (size_t k = 0; k < 2; k++)
        for (size_t i = 0; i < gone[k]->n; i++)
            if (s_has(sorted, n, gone[k]->v[i]) == in)
                sw_strv_push(out, gone[k]->v[i]);
}

/*  What the user's index says against writing the change into the work
 *  tree: a sparse checkout (core.sparseCheckout, or an entry the change
 *  touches marked skip-worktree: git would leave those paths out and say
 *  nothing), and paths the change deletes or replaces that the index
 *  does not have (untracked files the snapshot took: once gone, git
 *  could not give them back). 0; -1 with err (SW_EFAIL) naming them. */
static int
s_index_refusals(const sw_ws_repo_t *r, const s_delta_t *d, sw_err_t *err)
{
    sw_git_opts_t o = sw_ws_opts(r);
    sw_git_res_t res;
    /*  TAG SP PATH NUL; tag S (s: also assume-unchanged) for skip-worktree */
    o.out_max = 1u << 30;
    const char *ls[] = { "ls-files", "-v", "-z", NULL };
    sw_git_res_init(&res);
    if (sw_git_run(&o, ls, &res, err) != 0) {
        sw_git_res_release(&res);
        return -1;
    }
    size_t cap = s_nul_cap(&res.out), nt = 0, ns = 0;
    const char **tracked = xcalloc(cap, sizeof *tracked), **skip = xcalloc(cap, sizeof *skip);
    for (const char *p = res.out.data, *end = p + res.out.len; p && p < end;
         p += strlen(p) + 1) {
        if (strlen(p) < 3)
            continue;
        tracked[nt++] = p + 2;
        if (p[0] == 'S' || p[0] == 's')
            skip[ns++] = p + 2;
    }
    qsort(tracked, nt, sizeof *tracked, s_strcmp_p);
    qsort(skip, ns, sizeof *skip, s_strcmp_p);
    /*  core.sparseCheckout without its patterns file is no sparse
     *  checkout to git (unpack-trees skips it): asked only when one is
     *  there, or an entry is skip-worktree */
    char *pat = xasprintf("%s/info/sparse-checkout", r->git_dir);
    bool sparse = false;
    if (ns || access(pat, F_OK) == 0) {
        sw_git_res_t cr;
        sw_git_res_init(&cr);
        sw_err_t e = { 0 };
        const char *cfg[] = { "config", "--bool", "core.sparseCheckout", NULL };
        sparse = sw_git_run(&o, cfg, &cr, &e) == 0 && cr.out.data
              && strncmp(cr.out.data, "true", 4) == 0;
        sw_git_res_release(&cr);
    }
    free(pat);
    sw_strv_t outside = { 0 }, lost = { 0 };
    for (size_t i = 0; i < d->all.n; i++)
        if (s_has(skip, ns, d->all.v[i]))
            sw_strv_push(&outside, d->all.v[i]);
    s_gone_matching(d, tracked, nt, false, &lost);
    int rc = 0;
    sw_buf_t b;
    sw_buf_init(&b);
    if (sparse || outside.n) {
        s_names(&outside, 3, &b);
        rc = sw_err_set(err, SW_EFAIL, "this work tree is a sparse checkout: git would leave "
                        "out what the change has outside it%s%s%s; use --branch NAME (or git "
                        "sparse-checkout disable first); nothing was changed",
                        outside.n ? " (" : "", outside.n ? b.data : "", outside.n ? ")" : "");
    }
    else if (lost.n) {
        s_names(&lost, 3, &b);
        rc = sw_err_set(err, SW_EFAIL, "the change deletes or replaces %s, and git does not "
                        "track them here: they could not be restored; remove them (or git "
                        "add them) first, or use --branch NAME; nothing was changed", b.data);
    }
    sw_buf_release(&b);
    sw_strv_release(&outside);
    sw_strv_release(&lost);
    free(tracked);
    free(skip);
    sw_git_res_release(&res);
    return rc;
}

/*  Paths the change deletes or replaces whose work-tree content is not
 *  what the index has: edits not staged, or a file added with `git add
 *  -N` (an intent-to-add entry holds no content). git's 3-way result
 *  removes them, and no git command gives that content back: refused like
 *  untracked files (the attack of stop 31). r: the user's repository and
 *  index, read by `git diff` (porcelain: stat-only changes are not
 *  changes, diff.autoRefreshIndex, and with GIT_OPTIONAL_LOCKS=0 it
 *  writes nothing). 0; -1 with err naming them. */
static int
s_unstaged_in_way(const sw_ws_repo_t *r, const s_delta_t *d, sw_err_t *err)
{
    if (!d->deleted.n && !d->typed.n)
        return 0;
    sw_git_opts_t o = sw_ws_opts(r);
    o.out_max = 1u << 30;
    const char *df[] = { "diff", "--name-only", "-z", "--no-renames", "--no-ext-diff", NULL };
    sw_git_res_t res;
    sw_git_res_init(&res);
    if (sw_git_run(&o, df, &res, err) != 0) {
        sw_git_res_release(&res);
        return -1;
    }
    size_t n = 0;
    const char **dirty = xcalloc(s_nul_cap(&res.out), sizeof *dirty);
    for (const char *p = res.out.data, *end = p + res.out.len; p && p < end; p += strlen(p) + 1)
        if (*p)
            dirty[n++] = p;
    qsort(dirty, n, sizeof *dirty, s_strcmp_p);
    sw_strv_t lost = { 0 };
    s_gone_matching(d, dirty, n, true, &lost);
    int rc = 0;
    if (lost.n) {
        sw_buf_t b;
        sw_buf_init(&b);
        s_names(&lost, 3, &b);
        rc = sw_err_set(err, SW_EFAIL, "the change deletes or replaces %s, which have changes "
                        "git has not stored here (edits not staged, or added with git add -N): "
                        "they could not be restored; git add (or commit, or stash) them first, "
                        "or use --branch NAME; nothing was changed", b.data);
        sw_buf_release(&b);
    }
    sw_strv_release(&lost);
    free(dirty);
    sw_git_res_release(&res);
    return rc;
}

/*  Only one apply writes a repository's work tree at a time: a lock
 *  (flock, gone with the process) on <git dir>/swarm-apply.lock. The
 *  lock's fd in *fd; -1 with err when another apply holds it. */
static int
s_lock(const char *git_dir, int *fd, sw_err_t *err)
{
    char *path = xasprintf("%s/swarm-apply.lock", git_dir);
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    free(path);
    if (*fd < 0)
        return 0;               /*  a git dir we cannot write: git says so later */
    if (flock(*fd, LOCK_EX | LOCK_NB) == 0)
        return 0;
    int e = errno;
    close(*fd);
    *fd = -1;
    if (e == EWOULDBLOCK)
        return sw_err_set(err, SW_EFAIL, "another swarm apply is running in this repository: "
                          "try again when it is done; nothing was changed");
    return 0;
}

/*  The work tree from start to the result: the checks, then the paths
 *  the write touches saved, then git read-tree -m -u through the
 *  temporary index (the user's index is never written). When git fails
 *  halfway (a smudge filter, the disk full) the saved paths go back:
 *  the work tree is as it was. Signals wait until it is done (*sig: the
 *  first that came meanwhile, taken, not acted on). */
static int
s_write(const sw_ws_repo_t *r, sw_ws_user_t *u, const char *start, const char *tree, int *sig,
        sw_err_t *err)
{
    s_delta_t d;
    if (s_delta(r, start, tree, &d, err) < 0)
        return -1;
    int rc = s_index_refusals(r, &d, err);
    if (rc == 0)
        rc = s_unstaged_in_way(r, &d, err);
    if (rc == 0)
        rc = s_ignored_in_way(u->top, &d, err);
    if (rc < 0) {
        s_delta_release(&d);
        return -1;
    }
    sw_ws_repo_t t = *r;
    t.index_file = u->tmp_index;
    sw_git_opts_t go = sw_ws_opts(&t);
    /*  git writes file after file: killed halfway (^C, a closed
     *  terminal, kill) it leaves a work tree half applied and a file it
     *  was writing truncated. So it runs where the terminal's signals do
     *  not reach it, and ours wait until it is done: the work tree is
     *  then as it was, or the whole result. */
    go.own_group = true;
    sigset_t stop, mask;
    sigemptyset(&stop);
    int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaddset(&stop, sigs[i]);
    bool blocked = pthread_sigmask(SIG_BLOCK, &stop, &mask) == 0;
    sw_ws_save_t *save = sw_ws_save(u->top, u->git_dir, &d.all, err);
    s_delta_release(&d);
    if (!save)
        rc = -1;
    if (rc == 0) {
        /*  a saving link changed its file's ctime: git would take it
         *  for modified ("not uptodate") */
        const char *refresh[] = { "update-index", "-q", "--refresh", NULL };
        sw_err_t e = { 0 };
        if (sw_ws_save_linked(save))
            sw_git_run(&go, refresh, NULL, &e);
        const char *rt[] = { "read-tree", "-m", "-u", start, tree, NULL };
        sw_err_t werr = { 0 };
        if (sw_git_run(&go, rt, NULL, &werr) == 0)
            sw_ws_save_drop(save);
        else {
            sw_err_t back = { 0 };
            if (sw_ws_save_restore(save, &back) == 0)
                sw_err_set(err, SW_EFAIL, "%.180s; nothing was changed", werr.msg);
            else
                sw_err_set(err, SW_EFAIL, "%.90s; %s", werr.msg, back.msg);
            rc = -1;
        }
    }
    if (blocked) {
        /*  a signal that came meanwhile is taken: the caller says what
         *  happened (the write is whole, or undone) */
        struct timespec zero = { 0, 0 };
        int s;
        while ((s = sigtimedwait(&stop, NULL, &zero)) > 0)
            if (!*sig)
                *sig = s;
        pthread_sigmask(SIG_SETMASK, &mask, NULL);
    }
    return rc;
}

int
sw_ws_apply(const sw_ws_apply_opts_t *o, sw_cas_t *cas, const sw_ws_change_t *changes, size_t n,
            sw_ws_apply_report_t *rep, sw_err_t *err)
{
    memset(rep, 0, sizeof *rep);
    sw_ws_user_t u;
    if (sw_ws_user_open(o->dir, &u, err) < 0) {
        /*  not "git init": the changes go into the repository (or a
         *  clone of it) the job's workspace came from */
        if (err->code == SW_EINVAL && strstr(err->msg, "not inside a git work tree"))
            sw_err_set(err, SW_EINVAL, "%s is not inside a git work tree: run it in the "
                       "repository the job's workspace came from, or a clone of it",
                       strcmp(o->dir, ".") == 0 ? "the current directory" : o->dir);
        return -1;
    }
    sw_ws_repo_t r = { .git_dir = u.git_dir, .work_tree = u.top, .user_config = true };
    int rc = 0, lock = -1;
    char head[65] = "", start[65], tree[65];
    sw_err_t e = { 0 };
    bool has_head = sw_ws_rev(&r, "HEAD", head, &e) == 0;
    if (o->branch) {
        char *ref = xasprintf("refs/heads/%s", o->branch), found[65];
        sw_git_opts_t go = sw_ws_opts(&r);
        const char *fmt[] = { "check-ref-format", ref, NULL };
        /*  check-ref-format takes what git branch refuses: HEAD (every
         *  rev-parse after would warn it is ambiguous), "@" (HEAD to
         *  git), a leading '-' (an option to every git command that
         *  names it); and refs/... would make refs/heads/refs/..., never
         *  what was meant. */
        if (strcmp(o->branch, "HEAD") == 0 || strcmp(o->branch, "@") == 0 || o->branch[0] == '-'
            || strncmp(o->branch, "refs/", 5) == 0 || sw_git_run(&go, fmt, NULL, &e) != 0)
            rc = sw_err_set(err, SW_EINVAL, "'%s' is not a valid branch name",
                            o->branch);
        else if (sw_ws_rev(&r, ref, found, &e) == 0)
            rc = sw_err_set(err, SW_EINVAL, "branch %s exists already (name a new one)",
                            o->branch);
        free(ref);
        if (rc == 0 && has_head)
            rc = sw_ws_tree(&r, head, start, err);
        else if (rc == 0)
            snprintf(start, sizeof start, "%s", EMPTY_TREE);
    }
    else {
        rc = s_lock(u.git_dir, &lock, err);
        if (rc == 0)
            rc = sw_ws_user_tree(&u, 0, start, err);
    }
    /*  The objects of every change (its base and commit come with it). */
    sw_task_ws_t *want = xcalloc(n + 1, sizeof *want);
    for (size_t i = 0; i < n; i++)
        want[i] = (sw_task_ws_t) { .commit = (char *) changes[i].commit,
                                   .manifest = (char *) changes[i].manifest };
    if (rc == 0 && n)
        rc = sw_ws_fetch(&r, cas, want, n, 0, NULL, NULL, err);
    free(want);
    snprintf(tree, sizeof tree, "%s", start);
    char parent[65];
    snprintf(parent, sizeof parent, "%s", head);
    bool have_parent = has_head;
    /*  Every base's and commit's tree at once: a chain of changes then
     *  applies with no git process per step (each base is the tree so far). */
    const char **revs = xcalloc(2 * n + 1, sizeof *revs);
    char (*trees)[65] = xcalloc(2 * n + 1, sizeof *trees);
    for (size_t i = 0; i < n; i++) {
        revs[2 * i] = changes[i].base;
        revs[2 * i + 1] = changes[i].commit;
    }
    if (rc == 0)
        rc = sw_ws_trees(&r, revs, 2 * n, trees, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char next[65];
        rc = s_apply_one(&r, tree, &changes[i], trees[2 * i], trees[2 * i + 1], next,
                         &rep->conflicts, err);
        if (rc == 1) {
            rep->conflict_id = xstrdup(changes[i].id);
            break;
        }
        if (rc < 0)
            break;
        if (strcmp(next, tree) == 0)
            continue;           /*  already there */
        sw_strv_push(&rep->applied, changes[i].id);
        snprintf(tree, sizeof tree, "%s", next);
        if (o->branch) {
            char *msg = o->job ? xasprintf("swarm: %s (job %s)", changes[i].id, o->job)
                               : xasprintf("swarm: %s", changes[i].id);
            const char *parents[] = { parent };
            char commit[65];
            rc = sw_ws_commit_tree(&r, tree, parents, have_parent ? 1 : 0, msg, "", NULL, commit,
                                   err);
            free(msg);
            if (rc == 0) {
                snprintf(parent, sizeof parent, "%s", commit);
                have_parent = true;
            }
        }
    }
    free(revs);
    free(trees);
    if (rc == 1 && o->branch && !has_head) {
        /*  not a conflict of the user's: the branch starts from nothing */
        sw_strv_release(&rep->conflicts);
        free(rep->conflict_id);
        rep->conflict_id = NULL;
        rc = sw_err_set(err, SW_EFAIL, "HEAD has no commit yet, and --branch puts the "
                        "changes on top of HEAD: commit first, or apply without --branch");
    }
    else if (rc < 0 && o->branch && (strstr(err->msg, "auto-detect")
                                     || strstr(err->msg, "tell me who you are")))
        sw_err_set(err, SW_EFAIL, "git needs your name and email for the branch's commits: "
                   "git config user.name NAME; git config user.email EMAIL; nothing was changed");
    if (rc == 0)
        rc = s_changed(&r, start, tree, &rep->files, err);
    if (rc == 0 && o->branch && rep->applied.n) {
        char *ref = xasprintf("refs/heads/%s", o->branch);
        sw_git_opts_t go = sw_ws_opts(&r);
        const char *upd[] = { "update-ref", "-m", "swarm apply", ref, parent, "", NULL };
        rc = sw_git_run(&go, upd, NULL, err) == 0 ? 0 : -1;
        char found[65];
        sw_err_t e2 = { 0 };
        if (rc < 0 && sw_ws_rev(&r, ref, found, &e2) == 0)     /*  made meanwhile */
            sw_err_set(err, SW_EINVAL, "branch %s exists already (name a new one)", o->branch);
        free(ref);
        if (rc == 0)
            rep->commit = xstrdup(parent);
    }
    else if (rc == 0 && !o->branch && strcmp(start, tree) != 0)
        rc = s_write(&r, &u, start, tree, &rep->signal, err);
    sw_ws_user_release(&u);
    if (lock >= 0)
        close(lock);
    return rc;
}
