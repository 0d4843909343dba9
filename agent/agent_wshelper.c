/*  agent_wshelper -- see agent_wshelper.h */
#include "agent_wshelper.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fts.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sw_keys.h"
#include "sw_selftest.h"
#include "sw_ws.h"

#define MAX_OUTPUT_FILES 10000      /*  per task */
#define RESULT_OUTPUTS   1000       /*  listed in the result; all are in the manifest */

/*  --- small file-system helpers ------------------------------------------------------ */

int
agent_ws_rmrf(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) < 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(sb.st_mode))
        return unlink(path);
    char *const roots[] = { (char *) path, NULL };
    FTS *fts = fts_open(roots, FTS_PHYSICAL | FTS_NOCHDIR | FTS_XDEV, NULL);
    if (!fts)
        return -1;
    int rc = 0;
    FTSENT *e;
    while ((e = fts_read(fts))) {
        switch (e->fts_info) {
        case FTS_D:
            /*  a task may have made it unreadable: fts reads it next */
            chmod(e->fts_accpath, 0700);
            break;
        case FTS_DP:
            if (rmdir(e->fts_accpath) < 0 && errno != ENOENT)
                rc = -1;
            break;
        case FTS_DNR:
        case FTS_ERR:
            chmod(e->fts_accpath, 0700);
            if (rmdir(e->fts_accpath) < 0 && errno != ENOENT)
                rc = -1;
            break;
        default:
            if (unlink(e->fts_accpath) < 0 && errno != ENOENT)
                rc = -1;
        }
    }
    fts_close(fts);
    return rc;
}

/*  Bytes on disk below path. */
static uint64_t
s_du(const char *path)
{
    char *const roots[] = { (char *) path, NULL };
    FTS *fts = fts_open(roots, FTS_PHYSICAL | FTS_NOCHDIR, NULL);
    uint64_t n = 0;
    FTSENT *e;
    while (fts && (e = fts_read(fts)))
        if (e->fts_info == FTS_F && e->fts_statp)
            n += (uint64_t) e->fts_statp->st_blocks * 512;
    if (fts)
        fts_close(fts);
    return n;
}

int
agent_ws_lock(const char *mirrors, const char *repo, const char *suffix, int op)
{
    char *path = xasprintf("%s/%s.%s", mirrors, repo, suffix);
    int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    free(path);
    if (fd < 0)
        return -1;
    while (flock(fd, op) < 0) {
        if (errno != EINTR) {
            close(fd);
            return -1;
        }
    }
    return fd;
}

static int
s_write_file(const char *path, const char *data, size_t n, int flags)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | flags, 0600);
    if (fd < 0)
        return -1;
    bool ok = write(fd, data, n) == (ssize_t) n;
    if (close(fd) < 0)
        ok = false;
    return ok ? 0 : -1;
}

static void
s_touch(const char *mirrors, const char *repo, const char *suffix)
{
    char *path = xasprintf("%s/%s.%s", mirrors, repo, suffix);
    int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0) {
        futimens(fd, NULL);
        close(fd);
    }
    free(path);
}

/*  SWARM_GIT_TRACE=1: the helper's own stages too, beside sw_git's. */
static void
s_trace(const char *what, int64_t since)
{
    if (getenv("SWARM_GIT_TRACE"))
        fprintf(stderr, "swarm: helper %s: %lld ms\n", what, (long long) (sw_now_ms() - since));
}

/*  --- the request ------------------------------------------------------------------ */

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
    json_t     *answer;
} s_helper_t;

static const char *
s_str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static uint64_t
s_u64(json_t *o, const char *key)
{
    json_int_t v = json_integer_value(json_object_get(o, key));
    return v > 0 ? (uint64_t) v : 0;
}

/*  Redis, connected on first use (a prepare that finds everything here
 *  never connects). */
static int
s_redis(s_helper_t *h, sw_err_t *err)
{
    if (h->redis)
        return 0;
    const char *url = getenv("SWARM_REDIS");
    const char *pwfile = s_str(h->req, "password_file");
    if (pwfile && sw_redis_password_file(pwfile, err) < 0)
        return -1;
    h->redis = sw_keys_connect(url && *url ? url : SW_REDIS_DEFAULT, 2000, err);
    if (!h->redis)
        return -1;
    sw_cas_init(&h->cas, h->redis, h->job, (int64_t) s_u64(h->req, "ttl_s"));
    return 0;
}

/*  The mirror exists (a bare repository), made under the write lock. */
static int
s_mirror(s_helper_t *h, sw_err_t *err)
{
    struct stat sb;
    char *head = xasprintf("%s/HEAD", h->mirror);
    bool there = stat(head, &sb) == 0;
    free(head);
    if (there)
        return 0;
    int lock = agent_ws_lock(h->mirrors, h->repo, "lock", LOCK_EX);
    if (lock < 0)
        return sw_err_set(err, SW_EFAIL, "cannot lock the mirror %s: %s", h->mirror,
                          strerror(errno));
    int rc = 0;
    head = xasprintf("%s/HEAD", h->mirror);
    if (stat(head, &sb) < 0) {
        /*  Made whole under a temporary name, then renamed: a helper that
         *  finds the mirror (it checks without the lock) finds all of it. */
        char *tmp = xasprintf("%s/.%s.git.new", h->mirrors, h->repo);
        agent_ws_rmrf(tmp);
        agent_ws_rmrf(h->mirror);
        sw_git_opts_t o = sw_git_opts();
        o.cwd = h->mirrors;
        const char *init[] = { "init", "-q", "--bare", tmp, NULL };
        rc = sw_git_run(&o, init, NULL, err) == 0 ? 0 : -1;
        /*  git gc runs in the helper, never detached from it */
        const char *cfg[][3] = { { "gc.autoDetach", "false" }, { "core.logAllRefUpdates", "false" },
                                 { "gc.reflogExpire", "now" } };
        sw_ws_repo_t t = h->r;
        t.git_dir = tmp;
        o = sw_ws_opts(&t);
        for (size_t i = 0; rc == 0 && i < 3; i++) {
            const char *args[] = { "config", cfg[i][0], cfg[i][1], NULL };
            rc = sw_git_run(&o, args, NULL, err) == 0 ? 0 : -1;
        }
        if (rc == 0 && rename(tmp, h->mirror) < 0)
            rc = sw_err_set(err, SW_EFAIL, "cannot make the mirror %s: %s", h->mirror,
                            strerror(errno));
        if (rc < 0)
            agent_ws_rmrf(tmp);
        free(tmp);
    }
    free(head);
    close(lock);
    return rc;
}

/*  Pins commits (refs/swarm/pin/OID) so git gc keeps them; then gc if git
 *  thinks it is due, and the mirror's size for the cache cap. Under the
 *  write lock. */
/*  Whether git gc --auto would act on the mirror: its estimate of the
 *  loose objects (those in objects/17, times 256) over gc.auto (6700),
 *  or more than gc.autoPackLimit (50) packs. Asked here rather than
 *  starting a git for it after every capture. */
static bool
s_gc_due(const char *mirror)
{
    long loose = 0, packs = 0;
    char *dir = xasprintf("%s/objects/17", mirror);
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        loose += e->d_name[0] != '.';
    if (d)
        closedir(d);
    free(dir);
    dir = xasprintf("%s/objects/pack", mirror);
    d = opendir(dir);
    while (d && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        packs += n > 5 && strcmp(e->d_name + n - 5, ".pack") == 0;
    }
    if (d)
        closedir(d);
    free(dir);
    return loose * 256 > 6700 || packs > 50;
}

static int
s_pin(s_helper_t *h, const sw_strv_t *commits, bool measure, sw_err_t *err)
{
    /*  refs/swarm/pin/OID, written as git writes a loose ref (a temporary
     *  file renamed over it): no git process per capture. */
    int rc = 0;
    char *dir = xasprintf("%s/refs/swarm/pin", h->mirror);
    char *swarm = xasprintf("%s/refs/swarm", h->mirror);
    mkdir(swarm, 0755);
    mkdir(dir, 0755);
    for (size_t i = 0; rc == 0 && i < commits->n; i++) {
        char *ref = xasprintf("%s/%s", dir, commits->v[i]), *tmp = xasprintf("%s.lock", ref);
        char *text = xasprintf("%s\n", commits->v[i]);
        unlink(tmp);
        if (s_write_file(tmp, text, strlen(text), O_EXCL) < 0 || rename(tmp, ref) < 0) {
            rc = sw_err_set(err, SW_EFAIL, "cannot pin %.12s in %s: %s", commits->v[i],
                            h->mirror, strerror(errno));
            unlink(tmp);
        }
        free(ref);
        free(tmp);
        free(text);
    }
    free(dir);
    free(swarm);
    bool gc = rc == 0 && s_gc_due(h->mirror);
    if (gc) {
        sw_git_opts_t go = sw_ws_opts(&h->r);
        const char *args[] = { "gc", "--auto", "--quiet", NULL };
        sw_err_t ignored = { 0 };
        sw_git_run(&go, args, NULL, &ignored);
    }
    /*  The size for the cache cap: after a fetch or a gc (a capture's few
     *  loose objects wait for the next one). */
    if (rc == 0 && (measure || gc)) {
        char size[32];
        snprintf(size, sizeof size, "%llu\n", (unsigned long long) s_du(h->mirror));
        char *path = xasprintf("%s/%s.size", h->mirrors, h->repo);
        char *tmp = xasprintf("%s.tmp", path);
        if (s_write_file(tmp, size, strlen(size), O_TRUNC) == 0)
            rename(tmp, path);
        free(tmp);
        free(path);
    }
    return rc;
}

void
agent_ws_evict(const char *mirrors, const char *keep, uint64_t cap)
{
    DIR *d = opendir(mirrors);
    if (!d || cap == 0) {
        if (d)
            closedir(d);
        return;
    }
    typedef struct { char *repo; uint64_t size; int64_t used; } s_m_t;
    s_m_t *m = NULL;
    size_t n = 0;
    uint64_t total = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".size") != 0)
            continue;
        char *repo = xstrndup(e->d_name, len - 5), *path = xasprintf("%s/%s", mirrors, e->d_name);
        sw_buf_t b;
        sw_buf_init(&b);
        sw_read_file(path, 64, &b, NULL);
        free(path);
        struct stat sb;
        path = xasprintf("%s/%s.used", mirrors, repo);
        int64_t used = stat(path, &sb) == 0 ? (int64_t) sb.st_mtime : 0;
        free(path);
        m = xrealloc(m, (n + 1) * sizeof *m);
        m[n++] = (s_m_t) { repo, b.data ? strtoull(b.data, NULL, 10) : 0, used };
        total += m[n - 1].size;
        sw_buf_release(&b);
    }
    closedir(d);
    while (total > cap) {
        size_t pick = n;
        for (size_t i = 0; i < n; i++)
            if (m[i].repo && strcmp(m[i].repo, keep) != 0 && (pick == n || m[i].used < m[pick].used))
                pick = i;
        if (pick == n)
            break;
        int use = agent_ws_lock(mirrors, m[pick].repo, "use", LOCK_EX | LOCK_NB);
        int lock = use >= 0 ? agent_ws_lock(mirrors, m[pick].repo, "lock", LOCK_EX | LOCK_NB) : -1;
        if (use >= 0 && lock >= 0) {
            char *git = xasprintf("%s/%s.git", mirrors, m[pick].repo),
                 *size = xasprintf("%s/%s.size", mirrors, m[pick].repo);
            agent_ws_rmrf(git);
            unlink(size);
            total -= m[pick].size;
            fprintf(stderr, "swarm-agent: evicted mirror %s (%llu bytes, least recently used)\n",
                    m[pick].repo, (unsigned long long) m[pick].size);
            free(git);
            free(size);
        }
        if (lock >= 0)
            close(lock);
        if (use >= 0)
            close(use);
        free(m[pick].repo);
        m[pick].repo = NULL;
    }
    for (size_t i = 0; i < n; i++)
        free(m[i].repo);
    free(m);
}

/*  --- prepare ------------------------------------------------------------------------ */

/*  The dependencies' resulting commits in this repository, from their
 *  stored results (written, fenced, before their DONE was accepted). */
typedef struct {
    s_helper_t   *h;
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
    const char *repo = s_str(w, "repo"), *commit = s_str(w, "commit");
    if (repo && commit && strcmp(repo, d->h->repo) == 0 && sw_git_oid_valid(commit)) {
        bool dup = false;
        for (size_t k = 0; k < d->n && !dup; k++)
            dup = strcmp(d->out[k].commit, commit) == 0;
        if (!dup) {
            sw_buf_printf(&d->names, "%s%s", d->n ? ", " : "",
                          json_string_value(json_array_get(d->ids, (size_t) i)));
            sw_task_ws_t *t = &d->out[d->n++];
            t->commit = xstrdup(commit);
            if (sw_sha256_valid(s_str(w, "manifest")))
                t->manifest = xstrdup(s_str(w, "manifest"));
            if (s_str(w, "url"))
                t->url = xstrdup(s_str(w, "url"));
            if (!t->manifest && !t->url) {      /*  nothing says where it is */
                sw_task_ws_release(t);
                d->n--;
            }
        }
    }
    json_decref(res);
}

static int
s_deps(s_helper_t *h, json_t *deps, s_deps_t *d, sw_err_t *err)
{
    d->h = h;
    d->ids = deps;
    sw_buf_init(&d->names);
    d->out = xcalloc(json_array_size(deps) + 1, sizeof *d->out);
    d->n = 0;
    if (json_array_size(deps) == 0)
        return 0;
    if (s_redis(h, err) < 0)
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

/*  Whether the worktree's .git is as s_task_git made it, give or take its
 *  HEAD and index: nothing a task left there (objects, refs, logs) that
 *  the next task would see. */
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
        bool ok = s_write_file(head, text, strlen(text), O_TRUNC) == 0 && s_copy(index, idx) == 0;
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
        { "config", xstrdup("[core]\n\trepositoryformatversion = 0\n\tbare = false\n") },
    };
    for (size_t i = 0; i < 3; i++) {
        char *p = xasprintf("%s/%s", git, files[i].name);
        if (rc == 0 && s_write_file(p, files[i].text, strlen(files[i].text), O_EXCL) < 0)
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
static int
s_checkout(s_helper_t *h, const char *wt, const char *index, const char *start, bool recycle,
           bool *fresh, sw_err_t *err)
{
    sw_ws_repo_t t = { .git_dir = h->mirror, .work_tree = wt, .index_file = index,
                       .timeout_ms = h->git_timeout_ms };
    sw_git_opts_t o = sw_ws_opts(&t);
    struct stat sb;
    *fresh = true;
    /*  The capture left the index in step with the worktree (ignored
     *  files aside, which clean removes): a one-tree merge then writes
     *  only what differs and stats nothing else twice. Without that
     *  word, or when the merge refuses, a reset (which also repairs
     *  what differs from the index). */
    char *synced = xasprintf("%s.synced", index);
    bool in_step = unlink(synced) == 0;
    free(synced);
    if (recycle && stat(wt, &sb) == 0 && S_ISDIR(sb.st_mode) && stat(index, &sb) == 0) {
        const char *clean[] = { "clean", "-ffdxq", NULL };
        const char *merge[] = { "read-tree", "-m", "-u", start, NULL };
        const char *reset[] = { "read-tree", "-u", "--reset", start, NULL };
        sw_err_t e = { 0 }, me = { 0 };
        if (sw_git_run(&o, clean, NULL, &e) == 0
            && ((in_step && sw_git_run(&o, merge, NULL, &me) == 0)
                || sw_git_run(&o, reset, NULL, &e) == 0)) {
            *fresh = false;
            return 0;
        }
        fprintf(stderr, "swarm-agent: worktree %s cannot be reset (%s): making it afresh\n", wt,
                e.msg);
    }
    /*  the root below the workdir first (the agent could not make it at
     *  start, or someone removed it) */
    char *parent = xstrdup(wt);
    for (char *s = parent + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            mkdir(parent, 0755);
            *s = '/';
        }
    free(parent);
    if (agent_ws_rmrf(wt) < 0 || mkdir(wt, 0755) < 0)
        return sw_err_set(err, SW_EFAIL, "cannot make the worktree %s: %s", wt, strerror(errno));
    unlink(index);
    const char *checkout[] = { "read-tree", "-u", "--reset", start, NULL };
    return sw_git_run(&o, checkout, NULL, err) == 0 ? 0 : -1;
}

static json_t *
s_src_json(const sw_task_ws_t *w)
{
    json_t *o = json_pack("{s:s}", "commit", w->commit);
    if (w->manifest)
        json_object_set_new(o, "manifest", json_string(w->manifest));
    if (w->url)
        json_object_set_new(o, "url", json_string(w->url));
    return o;
}

static int
s_prepare(s_helper_t *h, sw_err_t *err)
{
    json_t *req = h->req;
    const char *wt = s_str(req, "worktree"), *index = s_str(req, "index");
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
        rc = s_mirror(h, err);
    sw_strv_t oids = { 0 }, missing = { 0 };
    for (size_t i = 0; rc == 0 && i < nsrc; i++)
        sw_strv_push(&oids, src[i].commit);
    char tree[65] = "";
    if (rc == 0)
        rc = sw_ws_probe(&h->r, &oids, &missing, tree, err);
    sw_ws_fetch_stats_t st = { .hit = true };
    if (rc == 0 && missing.n) {
        int lock = agent_ws_lock(h->mirrors, h->repo, "lock", LOCK_EX);
        if (lock < 0)
            rc = sw_err_set(err, SW_EFAIL, "cannot lock the mirror of %s: %s", h->repo,
                            strerror(errno));
        if (rc == 0)
            rc = s_redis(h, err);
        if (rc == 0)
            rc = sw_ws_fetch(&h->r, &h->cas, src, nsrc, s_u64(req, "max_snapshot"),
                             "--max-snapshot", &st, err);
        if (rc == 0)
            rc = s_pin(h, &oids, true, err);
        if (lock >= 0)
            close(lock);
        if (rc == 0)
            agent_ws_evict(h->mirrors, h->repo, s_u64(req, "mirror_cache"));
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
    if (rc == 0 && (nsrc > 1 || missing.n || !*tree))
        rc = sw_ws_tree(&h->r, start, tree, err);
    bool fresh = true;
    int64_t t2 = sw_now_ms();
    if (rc == 0)
        rc = s_checkout(h, wt, index, start, json_is_true(json_object_get(req, "recycle")),
                        &fresh, err);
    s_trace("checkout", t2);
    t2 = sw_now_ms();
    if (rc == 0)
        rc = s_task_git(wt, h->mirror, start, index, err);
    s_trace("task .git", t2);
    if (rc == 0)
        rc = s_task_dir(wt, s_str(req, "dir"), err);
    if (rc == 0) {
        s_touch(h->mirrors, h->repo, "used");
        json_t *pre = json_array();
        for (size_t i = 0; i < nsrc; i++)
            json_array_append_new(pre, s_src_json(&src[i]));
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

/*  --- capture ------------------------------------------------------------------------ */

/*  What the task changed, from one scan of the worktree (`ls-files -t -m
 *  -o`: modified or deleted, and untracked but not ignored, what `git add
 *  -A` would take): the paths to update in upd, the tracked files a
 *  directory replaced in gone, NUL-separated. A change over max is refused
 *  before git hashes a byte of it. *nested is set when a path is a git
 *  repository of its own (listed as "DIR/"), which only `git add -A`
 *  records (a gitlink, which the capture then refuses by name). */
typedef struct {
    sw_buf_t upd, gone;
    bool     nested;
} s_change_t;

static void
s_change_release(s_change_t *c)
{
    sw_buf_release(&c->upd);
    sw_buf_release(&c->gone);
}

static int
s_change_list(const sw_ws_repo_t *t, const char *wt, uint64_t max, s_change_t *c, sw_err_t *err)
{
    sw_buf_init(&c->upd);
    sw_buf_init(&c->gone);
    c->nested = false;
    sw_git_opts_t o = sw_ws_opts(t);
    o.out_max = 256 << 20;
    const char *args[] = { "ls-files", "-z", "-t", "-m", "-o", "--exclude-standard", NULL };
    sw_git_res_t res;
    sw_git_res_init(&res);
    int rc = sw_git_run(&o, args, &res, err) == 0 ? 0 : -1;
    uint64_t total = 0, biggest = 0;
    const char *big = NULL;
    for (const char *e = res.out.data, *end = e + res.out.len; rc == 0 && e && e < end;
         e += strlen(e) + 1) {
        size_t len = strlen(e);
        if (len < 3 || e[1] != ' ')
            continue;
        const char *p = e + 2;
        if (p[len - 3] == '/')
            c->nested = true;
        char *path = xasprintf("%s/%s", wt, p);
        struct stat sb;
        bool there = lstat(path, &sb) == 0;
        free(path);
        if (e[0] == 'C' && there && S_ISDIR(sb.st_mode)) {
            sw_buf_add(&c->gone, p, len - 1);   /*  with its NUL */
            continue;
        }
        sw_buf_add(&c->upd, p, len - 1);
        if (there && S_ISREG(sb.st_mode)) {
            total += (uint64_t) sb.st_size;
            if ((uint64_t) sb.st_size > biggest) {
                biggest = (uint64_t) sb.st_size;
                big = p;
            }
        }
    }
    if (rc == 0 && max && total > max) {
        char have[32], lim[32], b[32];
        sw_fmt_size(total, have);
        sw_fmt_size(max, lim);
        sw_fmt_size(biggest, b);
        rc = sw_err_set(err, SW_EINVAL, "the task's change is %s, over the agent's --max-change "
                        "%s (the biggest file: %s, %s)", have, lim, big ? big : "?", b);
    }
    sw_git_res_release(&res);
    return rc;
}

/*  The change into the index: only the paths the scan found (the index
 *  has the rest already, from the checkout), so the tree is not scanned a
 *  second time; no git at all when nothing changed. --replace: a file in
 *  a directory's place, or the reverse. */
static int
s_stage(const sw_ws_repo_t *t, const s_change_t *c, sw_err_t *err)
{
    sw_git_opts_t o = sw_ws_opts(t);
    if (c->nested) {
        const char *add[] = { "add", "-A", NULL };
        return sw_git_run(&o, add, NULL, err) == 0 ? 0 : -1;
    }
    if (c->gone.len) {
        o.in = c->gone.data;
        o.in_len = c->gone.len;
        const char *rm[] = { "update-index", "--force-remove", "-z", "--stdin", NULL };
        if (sw_git_run(&o, rm, NULL, err) != 0)
            return -1;
    }
    if (c->upd.len) {
        o.in = c->upd.data;
        o.in_len = c->upd.len;
        const char *upd[] = { "update-index", "--add", "--remove", "--replace", "-z", "--stdin",
                              NULL };
        if (sw_git_run(&o, upd, NULL, err) != 0)
            return -1;
    }
    return 0;
}

/*  Stores the files below wt matching globs; their manifest's digest in
 *  out, the list (the first RESULT_OUTPUTS) in list. */
static int
s_outputs(s_helper_t *h, const char *wt, json_t *globs, uint64_t max, json_t *list,
          char out[65], sw_err_t *err)
{
    sw_strv_t pats = { 0 };
    size_t i;
    json_t *g;
    json_array_foreach(globs, i, g)
        if (json_string_value(g))
            sw_strv_push(&pats, json_string_value(g));
    char *const roots[] = { (char *) wt, NULL };
    FTS *fts = fts_open(roots, FTS_PHYSICAL | FTS_NOCHDIR, NULL);
    if (!fts) {
        sw_strv_release(&pats);
        return sw_err_set(err, SW_EFAIL, "%s: %s", wt, strerror(errno));
    }
    json_t *files = json_array();
    uint64_t total = 0;
    size_t skip = strlen(wt) + 1;
    int rc = 0;
    FTSENT *e;
    while (rc == 0 && (e = fts_read(fts))) {
        if (e->fts_info == FTS_D && e->fts_level > 0 && strcmp(e->fts_name, ".git") == 0) {
            fts_set(fts, e, FTS_SKIP);
            continue;
        }
        if (e->fts_info != FTS_F || e->fts_pathlen <= skip)
            continue;
        const char *rel = e->fts_path + skip;
        if (!sw_globs_match(&pats, rel))
            continue;
        if (json_array_size(files) >= MAX_OUTPUT_FILES) {
            rc = sw_err_set(err, SW_EINVAL, "more than %d files match the task's output globs",
                            MAX_OUTPUT_FILES);
            break;
        }
        int fd = open(e->fts_accpath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            rc = sw_err_set(err, SW_EFAIL, "output %s: %s", rel, strerror(errno));
            break;
        }
        sw_cas_writer_t w;
        sw_cas_writer_init(&w, &h->cas, max ? max - (max > total ? total : max) + 1 : 0,
                           "--max-outputs");
        char *buf = xmalloc(1 << 16);
        ssize_t r;
        while (rc == 0 && (r = read(fd, buf, 1 << 16)) > 0)
            rc = sw_cas_writer_add(&w, buf, (size_t) r, err);
        free(buf);
        close(fd);
        json_t *blob = rc == 0 ? sw_cas_writer_finish(&w, err) : NULL;
        if (rc < 0)
            sw_cas_writer_release(&w);
        if (!blob) {
            if (strstr(err->msg, "--max-outputs"))
                sw_err_set(err, SW_EINVAL, "the task's outputs are over the agent's "
                           "--max-outputs %llu bytes (at %s)", (unsigned long long) max, rel);
            rc = -1;
            break;
        }
        total += (uint64_t) json_integer_value(json_object_get(blob, "size"));
        if (max && total > max) {
            json_decref(blob);
            rc = sw_err_set(err, SW_EINVAL, "the task's outputs are over the agent's "
                            "--max-outputs %llu bytes (at %s)", (unsigned long long) max, rel);
            break;
        }
        int mode = e->fts_statp->st_mode & 0111 ? 0755 : 0644;
        json_object_set_new(blob, "path", json_string(rel));
        json_object_set_new(blob, "mode", json_integer(mode));
        if (json_array_size(list) < RESULT_OUTPUTS)
            json_array_append_new(list, json_pack("{s:s, s:O, s:O, s:i}", "path", rel, "size",
                                                  json_object_get(blob, "size"), "sha256",
                                                  json_object_get(blob, "sha256"), "mode", mode));
        json_array_append_new(files, blob);
    }
    fts_close(fts);
    sw_strv_release(&pats);
    if (rc == 0) {
        json_t *doc = json_pack("{s:s, s:i, s:O}", "kind", "swarm-outputs", "v", 1, "files",
                                files);
        char *text = json_dumps(doc, JSON_COMPACT);
        rc = sw_cas_put(&h->cas, text, strlen(text), out, err);
        free(text);
        json_decref(doc);
    }
    json_decref(files);
    return rc;
}

static int
s_capture(s_helper_t *h, sw_err_t *err)
{
    json_t *req = h->req;
    const char *wt = s_str(req, "worktree"), *index = s_str(req, "index"),
               *base = s_str(req, "base");
    if (!wt || !index || !sw_git_oid_valid(base))
        return sw_err_set(err, SW_EINVAL, "capture: the request lacks a worktree or base");
    sw_ws_repo_t t = { .git_dir = h->mirror, .work_tree = wt, .index_file = index,
                       .timeout_ms = h->git_timeout_ms };
    /*  where the start came from: what a receiver needs first */
    size_t npre = json_array_size(json_object_get(req, "prereqs"));
    sw_task_ws_t *pre = xcalloc(npre + 1, sizeof *pre);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < npre; i++) {
        json_t *p = json_deep_copy(json_array_get(json_object_get(req, "prereqs"), i));
        json_object_set_new(p, "repo", json_string(h->repo));
        rc = sw_task_ws_from_json(p, &pre[i], err);
        json_decref(p);
    }
    uint64_t max = s_u64(req, "max_change");
    /*  Files written in the second the index was (a checkout just before
     *  a short task) are "racily clean": git compares their content on
     *  every read until the index is written in a later second. A refresh
     *  once that second is over compares them once and writes the index,
     *  so this scan, and the reset of the next task here, look at stat
     *  data alone. Before that second is over it would change nothing. */
    struct stat ist;
    if (rc == 0 && stat(index, &ist) == 0 && time(NULL) > ist.st_mtime) {
        sw_git_opts_t ro = sw_ws_opts(&t);
        const char *refresh[] = { "update-index", "-q", "--refresh", NULL };
        if (sw_git_run(&ro, refresh, NULL, err) != 0)
            rc = -1;
    }
    s_change_t change = { 0 };
    if (rc == 0)
        rc = s_change_list(&t, wt, max, &change, err);
    if (rc == 0)
        rc = s_stage(&t, &change, err);
    s_change_release(&change);
    sw_git_opts_t o = sw_ws_opts(&t);
    char tree[65], base_tree[65], commit[65], manifest[65] = "", patch[65] = "";
    if (rc == 0) {
        const char *wtree[] = { "write-tree", NULL };
        sw_git_res_t res;
        sw_git_res_init(&res);
        if (sw_git_run(&o, wtree, &res, err) != 0 || res.out.len < 40)
            rc = -1;
        else
            snprintf(tree, sizeof tree, "%.*s", (int) strcspn(res.out.data, "\n"), res.out.data);
        sw_git_res_release(&res);
    }
    if (rc == 0) {
        /*  the index is the worktree now: the next task here may merge
         *  into it (s_checkout) */
        char *synced = xasprintf("%s.synced", index);
        s_write_file(synced, "", 0, 0);
        free(synced);
    }
    const char *known = s_str(req, "base_tree");
    if (rc == 0 && sw_git_oid_valid(known))
        snprintf(base_tree, sizeof base_tree, "%s", known);
    else if (rc == 0)
        rc = sw_ws_tree(&h->r, base, base_tree, err);
    json_t *w = NULL;
    sw_ws_stat_t st = { 0 };
    bool same = rc == 0 && strcmp(tree, base_tree) == 0;
    if (rc == 0 && same && npre == 1 && strcmp(pre[0].commit, base) == 0) {
        /*  Nothing changed: the result is the start, found where it was. */
        w = s_src_json(&pre[0]);
    }
    else if (rc == 0) {
        char *msg = xasprintf("swarm: %s/%s attempt %lld", h->job, h->id,
                              (long long) json_integer_value(json_object_get(req, "attempt")));
        const char *agent = s_str(req, "agent") ? s_str(req, "agent") : "agent";
        char *email = xasprintf("%s@swarm", agent), *name = xasprintf("swarm agent %s", agent);
        const char *parents[] = { base };
        /*  No change on a merged start: the result is the merge itself,
         *  stored (it exists nowhere else). */
        if (same)
            snprintf(commit, sizeof commit, "%s", base);
        else
            rc = sw_ws_commit_tree(&h->r, tree, parents, 1, msg, name, email, commit, err);
        free(msg);
        free(email);
        free(name);
        /*  The pack and the patch at once; a submodule the task left shows
         *  in the patch (mode 160000) and fails the capture. */
        sw_strv_t links = { 0 };
        if (rc == 0)
            rc = s_redis(h, err);
        if (rc == 0)
            rc = sw_ws_put_change(&h->r, &h->cas, base, commit, same, pre, npre, max,
                                  "--max-change", manifest, patch, &st, &links, err);
        if (rc == 0 && links.n)
            rc = sw_err_set(err, SW_EINVAL, "the task left a git repository at %s: a "
                            "submodule cannot be captured (remove it or ignore it)", links.v[0]);
        sw_strv_release(&links);
        if (rc < 0 && strstr(err->msg, "--max-change"))
            err->code = SW_EINVAL;
        if (rc == 0) {
            int lock = agent_ws_lock(h->mirrors, h->repo, "lock", LOCK_EX);
            sw_strv_t pins = { 0 };
            sw_strv_push(&pins, commit);
            rc = s_pin(h, &pins, false, err);
            sw_strv_release(&pins);
            if (lock >= 0)
                close(lock);
        }
        if (rc == 0) {
            w = json_pack("{s:s, s:s}", "commit", commit, "manifest", manifest);
            if (*patch)
                json_object_set_new(w, "patch", json_string(patch));
        }
    }
    if (rc == 0) {
        json_object_set_new(w, "repo", json_string(h->repo));
        json_object_set_new(w, "base", json_string(base));
        json_object_set_new(w, "files", json_integer(st.files));
        json_object_set_new(w, "insertions", json_integer(st.insertions));
        json_object_set_new(w, "deletions", json_integer(st.deletions));
        json_object_set_new(h->answer, "workspace", w);
        w = NULL;
    }
    json_t *globs = json_object_get(req, "outputs");
    if (rc == 0 && json_array_size(globs)) {
        json_t *list = json_array();
        char digest[65];
        rc = s_redis(h, err);
        if (rc == 0)
            rc = s_outputs(h, wt, globs, s_u64(req, "max_outputs"), list, digest, err);
        if (rc == 0) {
            json_object_set(h->answer, "outputs", list);
            json_object_set_new(h->answer, "outputs_manifest", json_string(digest));
        }
        json_decref(list);
    }
    json_decref(w);
    if (rc == 0) {
        json_object_set_new(h->answer, "sent", json_integer((json_int_t) h->cas.sent));
        json_object_set_new(h->answer, "reused", json_integer((json_int_t) h->cas.reused));
    }
    if (rc == 0 && json_is_true(json_object_get(req, "remove"))) {
        agent_ws_rmrf(wt);
        unlink(index);
    }
    for (size_t i = 0; i < npre; i++)
        sw_task_ws_release(&pre[i]);
    free(pre);
    return rc;
}

/*  --- sweep -------------------------------------------------------------------------- */

static int
s_sweep(s_helper_t *h, sw_err_t *err)
{
    const char *root = s_str(h->req, "root");
    json_t *keep = json_object_get(h->req, "keep");
    long removed = 0;
    DIR *d = root ? opendir(root) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *path = xasprintf("%s/%s", root, e->d_name);
        bool kept = false;
        size_t i;
        json_t *k;
        json_array_foreach(keep, i, k)
            kept = kept || (json_string_value(k) && strcmp(json_string_value(k), path) == 0);
        if (!kept && agent_ws_rmrf(path) == 0)
            removed++;
        free(path);
    }
    if (d)
        closedir(d);
    if (h->mirrors)
        agent_ws_evict(h->mirrors, "", s_u64(h->req, "mirror_cache"));
    json_object_set_new(h->answer, "removed", json_integer(removed));
    (void) err;
    return 0;
}

/*  --- main --------------------------------------------------------------------------- */

int
agent_wshelper_main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: swarm-agent %s REQUEST.json (the agent starts it)\n",
                AGENT_WS_HELPER_ARG);
        return 1;
    }
    sw_buf_t text;
    sw_buf_init(&text);
    if (sw_read_file(argv[2], 16 << 20, &text, NULL) < 0) {
        fprintf(stderr, "swarm-agent: %s: %s\n", argv[2], strerror(errno));
        return 1;
    }
    s_helper_t h = { 0 };
    h.req = json_loadb(text.data ? text.data : "", text.len, 0, NULL);
    sw_buf_release(&text);
    const char *answer = s_str(h.req, "answer");
    if (!answer) {
        fprintf(stderr, "swarm-agent: %s is not a workspace request\n", argv[2]);
        json_decref(h.req);
        return 1;
    }
    h.op = s_str(h.req, "op");
    h.mirrors = s_str(h.req, "mirrors");
    h.repo = s_str(h.req, "repo");
    h.job = s_str(h.req, "job");
    h.id = s_str(h.req, "id");
    h.git_timeout_ms = (int64_t) s_u64(h.req, "git_timeout_ms");
    h.answer = json_pack("{s:b}", "ok", 0);
    sw_err_t err = { 0 };
    int rc = -1, use = -1;
    if (!h.op)
        sw_err_set(&err, SW_EINVAL, "the request has no op");
    else if (strcmp(h.op, "sweep") == 0)
        rc = s_sweep(&h, &err);
    else if (!h.mirrors || !sw_repo_id_valid(h.repo) || !h.job || !h.id)
        sw_err_set(&err, SW_EINVAL, "the request lacks mirrors, repo, job or id");
    else {
        h.mirror = xasprintf("%s/%s.git", h.mirrors, h.repo);
        h.r = (sw_ws_repo_t) { .git_dir = h.mirror, .timeout_ms = h.git_timeout_ms };
        /*  The mirror is in use while we work: nobody evicts it. */
        use = agent_ws_lock(h.mirrors, h.repo, "use", LOCK_SH);
        if (use < 0)
            sw_err_set(&err, SW_EFAIL, "cannot lock the mirror of %s in %s: %s", h.repo,
                       h.mirrors, strerror(errno));
        else if (strcmp(h.op, "prepare") == 0)
            rc = s_prepare(&h, &err);
        else if (strcmp(h.op, "capture") == 0)
            rc = s_capture(&h, &err);
        else
            sw_err_set(&err, SW_EINVAL, "unknown op '%s'", h.op);
    }
    if (rc == 0)
        json_object_set_new(h.answer, "ok", json_true());
    else {
        json_object_set_new(h.answer, "error", json_string(err.msg[0] ? err.msg : "failed"));
        /*  Redis out: worth another try; the rest fails the same way again. */
        json_object_set_new(h.answer, "retry", json_boolean(err.code == SW_EUNREACH));
    }
    char *out = json_dumps(h.answer, JSON_COMPACT);
    int wrc = s_write_file(answer, out, strlen(out), O_EXCL);
    if (wrc < 0)
        fprintf(stderr, "swarm-agent: cannot write the answer %s: %s\n", answer, strerror(errno));
    free(out);
    if (use >= 0)
        close(use);
    sw_redis_destroy(&h.redis);
    json_decref(h.answer);
    json_decref(h.req);
    free(h.mirror);
    return wrc < 0 ? 1 : 0;
}

int
agent_wshelper_test(bool verbose)
{
    char dir[] = "/tmp/swarm-wshelper.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    /*  rmrf: unreadable directories and symlinks out of the tree */
    char *a = xasprintf("%s/t/a/b", dir), *outside = xasprintf("%s/outside", dir);
    char *cmd = xasprintf("mkdir -p '%s' '%s' && touch '%s/keep' '%s/f' && ln -s '%s' '%s/t/link' "
                          "&& chmod 000 '%s'", a, outside, outside, a, outside, dir, a);
    CHECK(system(cmd) == 0);
    char *t = xasprintf("%s/t", dir), *keep = xasprintf("%s/keep", outside);
    CHECK(agent_ws_rmrf(t) == 0);
    struct stat sb;
    CHECK(lstat(t, &sb) < 0 && stat(keep, &sb) == 0);
    CHECK(agent_ws_rmrf(t) == 0);           /*  gone already: fine */
    /*  locks: shared ones together, the exclusive one refused meanwhile */
    int s1 = agent_ws_lock(dir, "r", "use", LOCK_SH), s2 = agent_ws_lock(dir, "r", "use", LOCK_SH);
    CHECK(s1 >= 0 && s2 >= 0);
    CHECK(agent_ws_lock(dir, "r", "use", LOCK_EX | LOCK_NB) < 0);
    close(s1);
    close(s2);
    int x = agent_ws_lock(dir, "r", "use", LOCK_EX | LOCK_NB);
    CHECK(x >= 0);
    close(x);
    /*  eviction: least recently used first, never one in use, never keep */
    const char *repos[] = { "old", "busy", "mid", "new" };
    for (int i = 0; i < 4; i++) {
        char *git = xasprintf("%s/%s.git", dir, repos[i]), *size = xasprintf("%s/%s.size", dir,
                                                                              repos[i]);
        char *used = xasprintf("%s/%s.used", dir, repos[i]);
        CHECK(mkdir(git, 0755) == 0);
        CHECK(s_write_file(size, "1000\n", 5, 0) == 0);
        CHECK(s_write_file(used, "", 0, 0) == 0);
        struct timespec ts[2] = { { 1000 + i * 100, 0 }, { 1000 + i * 100, 0 } };
        CHECK(utimensat(AT_FDCWD, used, ts, 0) == 0);
        free(git);
        free(size);
        free(used);
    }
    int busy = agent_ws_lock(dir, "busy", "use", LOCK_SH);
    agent_ws_evict(dir, "new", 2000);       /*  4000 bytes: two must go */
    const bool gone[] = { true, false, true, false };
    for (int i = 0; i < 4; i++) {
        char *git = xasprintf("%s/%s.git", dir, repos[i]);
        CHECK((stat(git, &sb) < 0) == gone[i]);
        free(git);
    }
    close(busy);
    agent_ws_evict(dir, "", 0);             /*  0: no cap */
    char *busy_git = xasprintf("%s/busy.git", dir);
    CHECK(stat(busy_git, &sb) == 0);
    free(busy_git);
    /*  the capture's staging from one scan takes what `git add -A` takes:
     *  a file made a directory and the reverse, a symlink made a file, an
     *  executable bit dropped, a tracked file that is ignored now, new
     *  files deep down, an empty directory and ignored files left out */
    free(cmd);
    cmd = xasprintf("cd '%s' && git init -q u && cd u && mkdir d && echo a >a && echo b >d/b && "
                    "echo c >c && ln -s a lnk && echo x >exe && chmod +x exe && "
                    "echo 'ign*' >.gitignore && echo t >ign_tracked && git add -A && "
                    "git add -f ign_tracked && cp .git/index ../i0 && rm a && mkdir a && "
                    "echo in >a/x && rm -r d && echo f >d && echo c2 >>c && rm lnk && "
                    "echo nl >lnk && chmod -x exe && echo n >new && echo i >ign_new && "
                    "echo t2 >>ign_tracked && mkdir -p deep/er empty && echo z >deep/er/z && "
                    "cp ../i0 ../iA && cp ../i0 ../iB && GIT_INDEX_FILE=../iA git add -A", dir);
    CHECK(system(cmd) == 0);
    char *u = xasprintf("%s/u", dir), *ugit = xasprintf("%s/u/.git", dir);
    char *ia = xasprintf("%s/iA", dir), *ib = xasprintf("%s/iB", dir);
    sw_ws_repo_t ra = { .git_dir = ugit, .work_tree = u, .index_file = ia },
                 rb = { .git_dir = ugit, .work_tree = u, .index_file = ib };
    s_change_t ch = { 0 };
    sw_err_t err = { 0 };
    CHECK(s_change_list(&rb, u, 1 << 20, &ch, &err) == 0);
    CHECK(!ch.nested && ch.gone.len == 2);          /*  "a\0" */
    CHECK(s_stage(&rb, &ch, &err) == 0);
    s_change_release(&ch);
    char trees[2][65];
    for (int i = 0; i < 2; i++) {
        sw_git_opts_t o = sw_ws_opts(i ? &rb : &ra);
        const char *wt[] = { "write-tree", NULL };
        sw_git_res_t res;
        sw_git_res_init(&res);
        CHECK(sw_git_run(&o, wt, &res, &err) == 0 && res.out.len >= 40);
        snprintf(trees[i], sizeof trees[i], "%.40s", res.out.data);
        sw_git_res_release(&res);
    }
    CHECK(strcmp(trees[0], trees[1]) == 0);
    /*  over the cap: refused naming the biggest file, before git hashes it */
    char *i0 = xasprintf("%s/i0", dir);
    sw_ws_repo_t r0 = { .git_dir = ugit, .work_tree = u, .index_file = i0 };
    CHECK(s_change_list(&r0, u, 3, &ch, &err) < 0 && strstr(err.msg, "--max-change"));
    free(i0);
    s_change_release(&ch);
    free(u);
    free(ugit);
    free(ia);
    free(ib);
    free(cmd);
    cmd = xasprintf("rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    free(cmd);
    free(a);
    free(outside);
    free(t);
    free(keep);
    (void) verbose;
    return 0;
}
