/*  agent_wsprepare -- the prepare stage of swarm-agent-workspace: the
 *  commits a task starts from made present in the mirror, its start
 *  computed (a dependency's result, or the merge of several), its worktree
 *  checked out or a finished one moved to it. See agent_wshelper.h. */
#include "agent_wsh.h"
#include "agent_ws.h"
#include "agent_wshelper.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sw_keys.h"
#include "sw_selftest.h"

/*  --- prepare ------------------------------------------------------------------------ */

/*  The dependencies' resulting commits in this repository, from their
 *  stored results (written, fenced, before their DONE was accepted). */
typedef struct {
    agent_wsh_t   *h;
    json_t       *ids;          /*  the dependencies asked about */
    sw_task_ws_t *out;
    size_t        n;
    sw_buf_t      names;        /*  "left, right": the ones with a change here */
} s_deps_t;

static void
s_dep_reply(void *arg, int i, redisReply *r)
{
    s_deps_t *d = arg;
    json_t *res = r->type == REDIS_REPLY_STRING ? json_loadb(r->str, r->len, 0, NULL) : NULL;
    json_t *w = json_object_get(res, "workspace");
    const char *repo = agent_wsh_str(w, "repo"), *commit = agent_wsh_str(w, "commit");
    if (repo && commit && strcmp(repo, d->h->repo) == 0 && sw_git_oid_valid(commit)) {
        bool dup = false;
        for (size_t k = 0; k < d->n && !dup; k++)
            dup = strcmp(d->out[k].commit, commit) == 0;
        if (!dup) {
            sw_buf_printf(&d->names, "%s%s", d->n ? ", " : "",
                          json_string_value(json_array_get(d->ids, (size_t) i)));
            sw_task_ws_t *t = &d->out[d->n++];
            t->commit = xstrdup(commit);
            if (sw_sha256_valid(agent_wsh_str(w, "manifest")))
                t->manifest = xstrdup(agent_wsh_str(w, "manifest"));
            if (agent_wsh_str(w, "url"))
                t->url = xstrdup(agent_wsh_str(w, "url"));
            if (!t->manifest && !t->url) {      /*  nothing says where it is */
                sw_task_ws_release(t);
                d->n--;
            }
        }
    }
    json_decref(res);
}

static int
s_deps(agent_wsh_t *h, json_t *deps, s_deps_t *d, sw_err_t *err)
{
    d->h = h;
    d->ids = deps;
    sw_buf_init(&d->names);
    d->out = xcalloc(json_array_size(deps) + 1, sizeof *d->out);
    d->n = 0;
    if (json_array_size(deps) == 0)
        return 0;
    if (agent_wsh_redis(h, err) < 0)
        return -1;
    size_t i;
    json_t *dep;
    json_array_foreach(deps, i, dep) {
        char *key = sw_key_task(h->job, json_string_value(dep) ? json_string_value(dep) : "");
        const char *argv[] = { "HGET", key, "result" };
        sw_redis_append(h->redis, 3, argv, NULL);
        free(key);
    }
    return sw_redis_flush_each(h->redis, s_dep_reply, d, err);
}

/*  Whether the directory holds exactly the names given (NULL-terminated;
 *  a name ending in '?' may be missing). */
static bool
s_only(const char *dir, const char *const *names)
{
    DIR *d = opendir(dir);
    if (!d)
        return false;
    size_t seen = 0, need = 0;
    for (const char *const *n = names; *n; n++)
        need += (*n)[strlen(*n) - 1] != '?';
    bool ok = true;
    struct dirent *e;
    while (ok && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        bool known = false;
        for (const char *const *n = names; *n && !known; n++) {
            size_t len = strlen(*n) - ((*n)[strlen(*n) - 1] == '?');
            known = strlen(e->d_name) == len && strncmp(e->d_name, *n, len) == 0;
            if (known && (*n)[strlen(*n) - 1] != '?')
                seen++;
        }
        ok = known;
    }
    closedir(d);
    return ok && seen == need;
}

/*  The worktree's .git/config, as s_task_git writes it. */
static const char s_git_config[] = "[core]\n\trepositoryformatversion = 0\n\tbare = false\n";

/*  Whether the worktree's .git is as s_task_git made it, give or take its
 *  HEAD and index: nothing a task left there (objects, refs, logs, a
 *  setting in its config) that the next task would see. */
static bool
s_git_pristine(const char *git, const char *mirror)
{
    struct stat sb;
    if (lstat(git, &sb) < 0 || !S_ISDIR(sb.st_mode))
        return false;
    static const char *const top[] = { "HEAD", "config", "index?", "objects", "refs", NULL };
    static const char *const objects[] = { "info", "pack", NULL };
    static const char *const info[] = { "alternates", NULL };
    static const char *const none[] = { NULL };
    static const char *const refs[] = { "heads", "tags", NULL };
    const struct { const char *sub; const char *const *names; } want[] = {
        { "", top }, { "/objects", objects }, { "/objects/info", info },
        { "/objects/pack", none }, { "/refs", refs }, { "/refs/heads", none },
        { "/refs/tags", none },
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char *p = xasprintf("%s%s", git, want[i].sub);
        bool ok = lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode) && s_only(p, want[i].names);
        free(p);
        if (!ok)
            return false;
    }
    char *alt = xasprintf("%s/objects/info/alternates", git), *expect = xasprintf("%s/objects\n",
                                                                                  mirror);
    sw_buf_t b;
    sw_buf_init(&b);
    bool ok = lstat(alt, &sb) == 0 && S_ISREG(sb.st_mode) && sw_read_file(alt, 8192, &b, NULL) == 0
           && b.data && strcmp(b.data, expect) == 0;
    sw_buf_release(&b);
    free(alt);
    free(expect);
    /*  the config as written: one the task edited (an alias, a hook path,
     *  core.fsmonitor: a command the next task's git would run) is not */
    char *cfg = xasprintf("%s/config", git);
    sw_buf_init(&b);
    ok = ok && lstat(cfg, &sb) == 0 && S_ISREG(sb.st_mode)
      && sw_read_file(cfg, 8192, &b, NULL) == 0 && b.len == sizeof s_git_config - 1
      && memcmp(b.data, s_git_config, b.len) == 0;
    sw_buf_release(&b);
    free(cfg);
    return ok;
}

/*  Copies file from to to (a temporary name renamed over it). */
static int
s_copy(const char *from, const char *to)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -1;
    char *tmp = xasprintf("%s.swarm-tmp", to);
    unlink(tmp);
    int out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    int rc = out < 0 ? -1 : 0;
    char buf[65536];
    ssize_t r;
    while (rc == 0 && (r = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t) r) != r)
            rc = -1;
    close(in);
    if (out >= 0 && close(out) < 0)
        rc = -1;
    if (rc == 0 && rename(tmp, to) < 0)
        rc = -1;
    if (rc < 0)
        unlink(tmp);
    free(tmp);
    return rc;
}

/*  The worktree's own .git: HEAD at the start, the agent's index, and the
 *  mirror's objects through alternates. A task may do anything with it
 *  (commit, gc, prune): nothing reaches the mirror, and swarm's capture
 *  never reads it. One a task left as it was made gets a new HEAD and
 *  index; any other is made afresh. */
static int
s_task_git(const char *wt, const char *mirror, const char *start, const char *index,
           sw_err_t *err)
{
    char *git = xasprintf("%s/.git", wt);
    if (s_git_pristine(git, mirror)) {
        char *head = xasprintf("%s/HEAD", git), *text = xasprintf("%s\n", start),
             *idx = xasprintf("%s/index", git);
        /*  a new file, never one written through: the task may have made
         *  HEAD a hard link to a file of the agent's (O_NOFOLLOW only
         *  stops a symlink) */
        bool ok = (unlink(head) == 0 || errno == ENOENT)
               && agent_wsh_write_file(head, text, strlen(text), O_EXCL) == 0
               && s_copy(index, idx) == 0;
        free(head);
        free(text);
        free(idx);
        if (ok) {
            free(git);
            return 0;
        }
    }
    agent_ws_rmrf(git);
    const char *dirs[] = { "", "/objects", "/objects/info", "/objects/pack", "/refs",
                           "/refs/heads", "/refs/tags", NULL };
    int rc = 0;
    for (const char *const *d = dirs; rc == 0 && *d; d++) {
        char *p = xasprintf("%s%s", git, *d);
        if (mkdir(p, 0755) < 0)
            rc = sw_err_set(err, SW_EFAIL, "mkdir %s: %s", p, strerror(errno));
        free(p);
    }
    struct { const char *name; char *text; } files[] = {
        { "HEAD", xasprintf("%s\n", start) },
        { "objects/info/alternates", xasprintf("%s/objects\n", mirror) },
        { "config", xstrdup(s_git_config) },
    };
    for (size_t i = 0; i < 3; i++) {
        char *p = xasprintf("%s/%s", git, files[i].name);
        if (rc == 0 && agent_wsh_write_file(p, files[i].text, strlen(files[i].text), O_EXCL) < 0)
            rc = sw_err_set(err, SW_EFAIL, "%s: %s", p, strerror(errno));
        free(p);
        free(files[i].text);
    }
    /*  A copy of our index: git status in the worktree starts clean. */
    char *idx = xasprintf("%s/index", git);
    if (rc == 0)
        s_copy(index, idx);
    free(idx);
    free(git);
    return rc;
}

/*  dir (relative, checked) below wt, made, never through a symlink. */
static int
s_task_dir(const char *wt, const char *dir, sw_err_t *err)
{
    if (!dir || !*dir || strcmp(dir, ".") == 0)
        return 0;
    if (!sw_ws_path_valid(dir))
        return sw_err_set(err, SW_EINVAL, "dir '%s' is not a path inside the workspace", dir);
    int fd = open(wt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    for (const char *p = dir; fd >= 0 && *p; ) {
        size_t n = strcspn(p, "/");
        char *comp = xstrndup(p, n);
        int next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0 && errno == ENOENT && mkdirat(fd, comp, 0755) == 0)
            next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0)
            sw_err_set(err, SW_EINVAL, "dir '%s': %s is %s", dir, comp, errno == ELOOP
                       || errno == ENOTDIR ? "a symlink or a file in the workspace"
                       : strerror(errno));
        free(comp);
        close(fd);
        fd = next;
        p += n;
        if (*p == '/')
            p++;
    }
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

/*  Checks out start into the worktree: a finished worktree is cleaned
 *  (everything git does not track goes, ignored files too) and reset, so
 *  only what differs is written; anything odd, and it is made afresh. */

/*  How many worktrees moved aside are on disk beside WT (ROOT/N): the
 *  captures' ROOT/.trash-* and the prepares' ROOT/N.stale-*. */
static int
s_aside_count(const char *wt)
{
    char *root = xstrdup(wt);
    char *slash = strrchr(root, '/');
    if (slash)
        *slash = '\0';
    int n = 0;
    DIR *d = opendir(slash ? root : ".");
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strncmp(de->d_name, ".trash-", 7) == 0 || strstr(de->d_name, ".stale-"))
            n++;
    if (d)
        closedir(d);
    free(root);
    return n;
}

static int
s_checkout(agent_wsh_t *h, const char *wt, const char *index, const char *start,
           const char *tree, bool recycle, bool *fresh, sw_err_t *err)
{
    sw_ws_repo_t t = { .git_dir = h->mirror, .work_tree = wt, .index_file = index,
                       .timeout_ms = h->git_timeout_ms };
    sw_git_opts_t o = sw_ws_opts(&t);
    struct stat sb;
    *fresh = true;
    /*  The slot's index is this helper's alone (one helper per slot at a
     *  time): a lock left there is a helper's that was killed (a capture
     *  past its timeout, cancelled or stopped inside agent_wsh_write_tree
     *  or a git), and would fail every read-tree of the slot. */
    char *lock = xasprintf("%s.lock", index);
    unlink(lock);
    free(lock);
    /*  The capture left the index in step with the worktree (ignored
     *  files aside, which clean removes): a one-tree merge then writes
     *  only what differs and stats nothing else twice. Without that
     *  word, or when the merge refuses, a reset (which also repairs
     *  what differs from the index). */
    char *synced = xasprintf("%s.synced", index);
    bool in_step = unlink(synced) == 0;
    free(synced);
    /*  never through a symlink the task made of its worktree: the clean
     *  and the merge would work on the directory it points to */
    if (recycle && agent_wsh_worktree_real(wt) && stat(index, &sb) == 0) {
        int64_t t_clean = sw_now_ms();
        const char *clean[] = { "clean", "-ffdxq", NULL };
        const char *merge[] = { "read-tree", "-m", "-u", start, NULL };
        const char *reset[] = { "read-tree", "-u", "--reset", start, NULL };
        sw_err_t e = { 0 }, me = { 0 };
        /*  Nothing the index does not track is in the worktree: no clean
         *  (what it would remove is nothing). And when the index is at
         *  the start's tree too, in step with the worktree (the last
         *  task changed nothing, or was of this start's commit), the
         *  worktree is the start already: the merge would change
         *  nothing, so no git at all. */
        agent_wsh_tracked_t tr;
        bool unlinked = false;
        bool skip_clean = agent_wsh_tracked_read(index, strlen(start) / 2, &tr)
                       && agent_wsh_nothing_to_clean(wt, &tr, &unlinked);
        in_step = in_step && !unlinked;     /*  only the reset writes them again */
        bool at_start = skip_clean && in_step && sw_git_oid_valid(tree)
                     && strcmp(tr.tree, tree) == 0;
        agent_wsh_tracked_release(&tr);
        agent_wsh_trace(at_start ? "worktree at the start" : skip_clean ? "clean skipped"
                        : "clean needed", t_clean);
        if (at_start) {
            *fresh = false;
            return 0;
        }
        if ((skip_clean || sw_git_run(&o, clean, NULL, &e) == 0)
            && ((in_step && sw_git_run(&o, merge, NULL, &me) == 0)
                || sw_git_run(&o, reset, NULL, &e) == 0)) {
            *fresh = false;
            return 0;
        }
        fprintf(stderr, "swarm-agent: worktree %s cannot be reset (%s): making it afresh\n", wt,
                e.msg);
    }
    /*  Never through a symlink a task made of swarm-worktrees or ROOT
     *  (agent_wsh_worktree_real): the link goes first, so nothing is
     *  made in its target (a link made of wt goes with agent_ws_rmrf
     *  below) ... */
    char *parent = xstrdup(wt);
    for (int up = 2; up >= 1; up--) {
        int n = up;
        for (char *s = parent + strlen(parent); s > parent && n; s--)
            if (*s == '/' && n-- == 1)
                *s = '\0';
        if (lstat(parent, &sb) == 0 && !S_ISDIR(sb.st_mode))
            unlink(parent);
        snprintf(parent, strlen(wt) + 1, "%s", wt);
    }
    /*  ... then the directories below the workdir are made (the agent
     *  could not make them at start, someone removed them, or a link
     *  was there) */
    for (char *s = parent + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            mkdir(parent, 0755);
            *s = '/';
        }
    free(parent);
    if (agent_ws_rmrf(wt) < 0) {
        /*  Its task made something in it impossible to remove (chattr +i
         *  as root, a mount): moved aside, so the slot still works; the
         *  agent's sweep at start takes the root, this with it. Bounded
         *  with the captures' trash (AGENT_WS_TRASH_MAX on disk): beyond,
         *  the task fails naming the tree, which stays where it is, and
         *  no unremovable tree per further task fills the disk. */
        int e = errno;
        int aside_n = s_aside_count(wt);
        if (aside_n >= AGENT_WS_TRASH_MAX)
            return sw_err_set(err, SW_EFAIL, "cannot remove the worktree %s (%s), and %d "
                              "worktrees already moved aside could not be removed either (at "
                              "most %d): not moving another aside; make it removable or "
                              "remove it by hand", wt, strerror(e), aside_n,
                              AGENT_WS_TRASH_MAX);
        char *aside = xasprintf("%s.stale-%lld", wt, (long long) sw_now_ms());
        if (rename(wt, aside) < 0) {
            free(aside);
            return sw_err_set(err, SW_EFAIL, "cannot remove the worktree %s (%s) nor move it "
                              "aside (%s)", wt, strerror(e), strerror(errno));
        }
        fprintf(stderr, "swarm-agent: worktree %s cannot be removed (%s): moved aside to %s\n",
                wt, strerror(e), aside);
        free(aside);
    }
    if (mkdir(wt, 0755) < 0)
        return sw_err_set(err, SW_EFAIL, "cannot make the worktree %s: %s", wt, strerror(errno));
    unlink(index);
    const char *checkout[] = { "read-tree", "-u", "--reset", start, NULL };
    return sw_git_run(&o, checkout, NULL, err) == 0 ? 0 : -1;
}

/*  --- the start's tree, known without git --------------------------------------------- */

/*  MIRROR/swarm-trees/COMMIT holds COMMIT's tree, written by a prepare
 *  that learnt it (from git). Believed only while COMMIT's pin is a
 *  loose ref (refs/swarm/pin/COMMIT: the commit is in the mirror, and git
 *  gc keeps it); once gc packed the refs, the next prepare asks git again.
 *  All of it is in the agent's state dir, where no task writes; an
 *  evicted mirror takes its trees with it. Saves the cat-file probe, a
 *  process, on every task whose start this host has seen. */
static bool
s_tree_cached(const char *mirror, const char *commit, char tree[65])
{
    if (!sw_git_oid_valid(commit))
        return false;
    char *pin = xasprintf("%s/refs/swarm/pin/%s", mirror, commit);
    char *path = xasprintf("%s/swarm-trees/%s", mirror, commit);
    struct stat sb;
    sw_buf_t b;
    sw_buf_init(&b);
    bool ok = lstat(pin, &sb) == 0 && S_ISREG(sb.st_mode)
           && sw_read_file(path, 128, &b, NULL) == 0 && b.len == strlen(commit) + 1
           && b.data[b.len - 1] == '\n';
    if (ok) {
        b.data[b.len - 1] = '\0';
        ok = sw_git_oid_valid(b.data);
    }
    if (ok)
        snprintf(tree, 65, "%s", b.data);
    sw_buf_release(&b);
    free(pin);
    free(path);
    return ok;
}

static void
s_tree_cache_put(const char *mirror, const char *commit, const char *tree)
{
    char *dir = xasprintf("%s/swarm-trees", mirror);
    char *path = xasprintf("%s/%s", dir, commit);
    char *tmp = xasprintf("%s.%ld.tmp", path, (long) getpid());
    char *text = xasprintf("%s\n", tree);
    mkdir(dir, 0755);
    unlink(tmp);
    if (agent_wsh_write_file(tmp, text, strlen(text), O_EXCL) == 0 && rename(tmp, path) < 0)
        unlink(tmp);
    free(dir);
    free(path);
    free(tmp);
    free(text);
}

int
agent_wsh_prepare(agent_wsh_t *h, sw_err_t *err)
{
    json_t *req = h->req;
    const char *wt = agent_wsh_str(req, "worktree"), *index = agent_wsh_str(req, "index");
    sw_task_ws_t base = { 0 };
    json_t *bj = json_deep_copy(json_object_get(req, "base"));
    json_object_set_new(bj, "repo", json_string(h->repo));
    int rc = sw_task_ws_from_json(bj, &base, err);
    json_decref(bj);
    if (rc < 0 || !wt || !index)
        return rc < 0 ? -1 : sw_err_set(err, SW_EINVAL, "prepare: the request lacks a worktree");
    int64_t t0 = sw_now_ms();
    s_deps_t deps = { 0 };
    rc = s_deps(h, json_object_get(req, "deps"), &deps, err);
    /*  Where the task starts: its dependencies' results when it has any
     *  (in this repository), else its own workspace. */
    sw_task_ws_t *src = deps.n ? deps.out : &base;
    size_t nsrc = deps.n ? deps.n : 1;
    if (rc == 0)
        rc = agent_wsh_mirror(h, src[0].commit, err);
    sw_strv_t oids = { 0 }, missing = { 0 };
    for (size_t i = 0; rc == 0 && i < nsrc; i++)
        sw_strv_push(&oids, src[i].commit);
    char tree[65] = "";
    bool cached = rc == 0 && nsrc == 1 && s_tree_cached(h->mirror, src[0].commit, tree);
    if (rc == 0 && !cached)
        rc = sw_ws_probe(&h->r, &oids, &missing, tree, err);
    sw_ws_fetch_stats_t st = { .hit = true };
    if (rc == 0 && missing.n) {
        int lock = agent_ws_lock(h->mirrors, h->repo, "lock", LOCK_EX);
        if (lock < 0)
            rc = sw_err_set(err, SW_EFAIL, "cannot lock the mirror of %s: %s", h->repo,
                            strerror(errno));
        if (rc == 0)
            rc = agent_wsh_redis(h, err);
        if (rc == 0)
            rc = sw_ws_fetch(&h->r, &h->cas, src, nsrc, agent_wsh_u64(req, "max_snapshot"),
                             "--max-snapshot", &st, err);
        if (rc == 0)
            rc = agent_wsh_pin(h, &oids, true, true, err);
        if (lock >= 0)
            close(lock);
        if (rc == 0)
            agent_ws_evict(h->mirrors, h->repo, agent_wsh_u64(req, "mirror_cache"));
    }
    int64_t t1 = sw_now_ms();
    char start[65] = "";
    json_t *conflicts = json_array();
    if (rc == 0 && nsrc == 1)
        snprintf(start, sizeof start, "%s", src[0].commit);
    else if (rc == 0) {
        sw_strv_t cf = { 0 };
        rc = sw_ws_merge(&h->r, (const char *const *) oids.v, oids.n, start, &cf, err);
        if (rc == 1) {
            sw_buf_t files;
            sw_buf_init(&files);
            for (size_t i = 0; i < cf.n; i++) {
                json_array_append_new(conflicts, json_string(cf.v[i]));
                sw_buf_printf(&files, "%s%s", i ? ", " : "", cf.v[i]);
            }
            sw_err_set(err, SW_EINVAL, "the changes of its dependencies %s conflict in %s: "
                       "the task cannot start from their merge", deps.names.data ? deps.names.data
                       : "", files.data ? files.data : "?");
            sw_buf_release(&files);
            rc = -1;
        }
        sw_strv_release(&cf);
    }
    /*  The start's tree, for the capture's "did anything change": known
     *  from the probe unless the start was fetched or merged. */
    if (rc == 0 && nsrc == 1 && missing.n && sw_git_oid_valid(st.tree))
        memcpy(tree, st.tree, sizeof tree);     /*  the fetch's last check learnt it */
    else if (rc == 0 && (nsrc > 1 || missing.n || !*tree))
        rc = sw_ws_tree(&h->r, start, tree, err);
    if (rc == 0 && nsrc == 1 && !cached)
        s_tree_cache_put(h->mirror, start, tree);
    bool fresh = true;
    int64_t t2 = sw_now_ms();
    if (rc == 0)
        rc = s_checkout(h, wt, index, start, tree, json_is_true(json_object_get(req, "recycle")),
                        &fresh, err);
    agent_wsh_trace("checkout", t2);
    t2 = sw_now_ms();
    if (rc == 0)
        rc = s_task_git(wt, h->mirror, start, index, err);
    agent_wsh_trace("task .git", t2);
    if (rc == 0)
        rc = s_task_dir(wt, agent_wsh_str(req, "dir"), err);
    if (rc == 0) {
        agent_wsh_touch(h->mirrors, h->repo, "used");
        json_t *pre = json_array();
        for (size_t i = 0; i < nsrc; i++)
            json_array_append_new(pre, agent_wsh_src_json(&src[i]));
        json_object_set_new(h->answer, "base", json_string(start));
        json_object_set_new(h->answer, "tree", json_string(tree));
        json_object_set_new(h->answer, "prereqs", pre);
        json_object_set_new(h->answer, "hit", json_boolean(st.hit));
        json_object_set_new(h->answer, "fresh", json_boolean(fresh));
        json_object_set_new(h->answer, "bytes", json_integer((json_int_t) st.bytes));
        json_object_set_new(h->answer, "fetch_ms", json_integer(t1 - t0));
        json_object_set_new(h->answer, "checkout_ms", json_integer(sw_now_ms() - t1));
    }
    if (json_array_size(conflicts))
        json_object_set(h->answer, "conflicts", conflicts);
    json_decref(conflicts);
    sw_strv_release(&oids);
    sw_strv_release(&missing);
    for (size_t i = 0; i < deps.n; i++)
        sw_task_ws_release(&deps.out[i]);
    free(deps.out);
    sw_buf_release(&deps.names);
    sw_task_ws_release(&base);
    return rc;
}
