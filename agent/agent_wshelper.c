/*  agent_wshelper -- see agent_wshelper.h */
#include "agent_wshelper.h"
#include "agent_wsh.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fts.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sw_keys.h"
#include "sw_selftest.h"

/*  --- small file-system helpers ------------------------------------------------------ */

bool
agent_wsh_worktree_real(const char *wt)
{
    char *p = xstrdup(wt);
    bool ok = true;
    for (int up = 0; ok && up < 3; up++) {
        struct stat sb;
        ok = lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
        char *slash = strrchr(p, '/');
        if (!slash || slash == p)
            break;
        *slash = '\0';
    }
    free(p);
    return ok;
}

void
agent_wsh_index_unlock(const char *index)
{
    char *lock = xasprintf("%s.lock", index);
    unlink(lock);
    free(lock);
}

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
    int rc = 0, first = 0;      /*  the first failure's errno, for the caller's message */
    FTSENT *e;
    while ((e = fts_read(fts))) {
        int r = 0;
        switch (e->fts_info) {
        case FTS_D:
            /*  a task may have made it unreadable: fts reads it next */
            chmod(e->fts_accpath, 0700);
            break;
        case FTS_DP:
            r = rmdir(e->fts_accpath);
            break;
        case FTS_DNR:
        case FTS_ERR:
            chmod(e->fts_accpath, 0700);
            r = rmdir(e->fts_accpath);
            break;
        default:
            r = unlink(e->fts_accpath);
        }
        if (r < 0 && errno != ENOENT && rc == 0) {
            rc = -1;
            first = errno;
        }
    }
    fts_close(fts);
    if (rc < 0)
        errno = first;
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

int
agent_wsh_write_file(const char *path, const char *data, size_t n, int flags)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | flags, 0600);
    if (fd < 0)
        return -1;
    bool ok = write(fd, data, n) == (ssize_t) n;
    if (close(fd) < 0)
        ok = false;
    return ok ? 0 : -1;
}

void
agent_wsh_touch(const char *mirrors, const char *repo, const char *suffix)
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
void
agent_wsh_trace(const char *what, int64_t since)
{
    if (getenv("SWARM_GIT_TRACE"))
        fprintf(stderr, "swarm: helper %s: %lld ms\n", what, (long long) (sw_now_ms() - since));
}

/*  --- the request ------------------------------------------------------------------ */

const char *
agent_wsh_str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

uint64_t
agent_wsh_u64(json_t *o, const char *key)
{
    json_int_t v = json_integer_value(json_object_get(o, key));
    return v > 0 ? (uint64_t) v : 0;
}

/*  Redis, connected on first use (a prepare that finds everything here
 *  never connects). */
int
agent_wsh_redis(agent_wsh_t *h, sw_err_t *err)
{
    if (h->redis)
        return 0;
    const char *url = getenv("SWARM_REDIS");
    const char *pwfile = agent_wsh_str(h->req, "password_file");
    if (pwfile && sw_redis_password_file(pwfile, err) < 0)
        return -1;
    h->redis = sw_keys_connect(url && *url ? url : SW_REDIS_DEFAULT, 2000, err);
    if (!h->redis)
        return -1;
    sw_cas_init(&h->cas, h->redis, h->job, (int64_t) agent_wsh_u64(h->req, "ttl_s"));
    return 0;
}

/*  The mirror exists (a bare repository), made under the write lock. */
/*  Whether the bare repository at dir has git's SHA-256 object format
 *  (extensions.objectFormat in its config, as git init writes it). */
static bool
s_sha256(const char *dir)
{
    char *cfg = xasprintf("%s/config", dir);
    FILE *f = fopen(cfg, "r");
    free(cfg);
    bool yes = false;
    char line[256];
    while (f && !yes && fgets(line, sizeof line, f)) {
        char *p = line + strspn(line, " \t");
        yes = strncasecmp(p, "objectformat", 12) == 0 && strstr(p, "sha256");
    }
    if (f)
        fclose(f);
    return yes;
}

int
agent_wsh_mirror(agent_wsh_t *h, const char *oid, sw_err_t *err)
{
    struct stat sb;
    bool want256 = oid && strlen(oid) == 64;
    char *head = xasprintf("%s/HEAD", h->mirror);
    bool there = stat(head, &sb) == 0;
    free(head);
    if (there && s_sha256(h->mirror) != want256)
        return sw_err_set(err, SW_EINVAL, "the mirror %s is in git's %s object format, the "
                          "commit %s in %s: remove the mirror", h->mirror,
                          want256 ? "SHA-1" : "SHA-256", oid, want256 ? "SHA-256" : "SHA-1");
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
        const char *init[] = { "init", "-q", "--bare",
                               want256 ? "--object-format=sha256" : "--object-format=sha1", tmp,
                               NULL };
        rc = sw_git_run(&o, init, NULL, err) == 0 ? 0 : -1;
        /*  git gc runs in the helper, never detached from it; no reflogs.
         *  Appended to the config init wrote (a section may come twice):
         *  three `git config` runs less on a host's first task. */
        static const char cfg[] = "[gc]\n\tautoDetach = false\n\treflogExpire = now\n"
                                  "[core]\n\tlogAllRefUpdates = false\n";
        char *config = xasprintf("%s/config", tmp);
        if (rc == 0 && agent_wsh_write_file(config, cfg, sizeof cfg - 1, O_APPEND) < 0)
            rc = sw_err_set(err, SW_EFAIL, "cannot write %s: %s", config, strerror(errno));
        free(config);
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

int
agent_wsh_pin(agent_wsh_t *h, const sw_strv_t *commits, bool measure, bool gc_now,
              sw_err_t *err)
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
        if (agent_wsh_write_file(tmp, text, strlen(text), O_EXCL) < 0 || rename(tmp, ref) < 0) {
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
    int dl = -1;
    if (gc && !gc_now) {
        /*  Due, but not on this answer's path: the agent's remover runs
         *  it after the answer (agent_ws_trash_spawn, op "remove" with
         *  "gc"), under this same lock. */
        json_object_set_new(h->answer, "gc_due", json_true());
        gc = false;
    }
    if (gc) {
        /*  The capture's stored packs deflated first: gc would keep
         *  their bytes as they are (agent_wsstored.c). When that fails
         *  the gc runs all the same: a deflate failing for good must not
         *  stop the mirror's gc for good; stored bytes cost disk only.
         *  Both under the deflate lock (s_gc), taken after this one: no
         *  deflate removes packs while gc repacks them. */
        sw_err_t derr = { 0 };
        dl = agent_ws_lock(h->mirrors, h->repo, "deflate", LOCK_EX);
        if (dl >= 0 && agent_wsh_stored_deflate(&h->r, &derr) < 0)
            fprintf(stderr, "swarm-agent: the mirror of %s keeps undeflated packs: %s\n",
                    h->repo, derr.msg);
    }
    if (gc) {
        sw_err_t ignored = { 0 };
        /*  No bitmap: nothing fetches or clones from a mirror, and with
         *  one git 2.39's pack-objects finds no thin bases (sw_ws.c,
         *  s_put_env); git gc --auto writes one in a bare repository. */
        static const char *const env[] = { "GIT_CONFIG_COUNT=1",
                                           "GIT_CONFIG_KEY_0=repack.writeBitmaps",
                                           "GIT_CONFIG_VALUE_0=false", NULL };
        sw_git_opts_t go = sw_ws_opts(&h->r);
        go.env = env;
        const char *args[] = { "gc", "--auto", "--quiet", NULL };
        sw_git_run(&go, args, NULL, &ignored);
    }
    if (dl >= 0)
        close(dl);
    /*  The size for the cache cap: after a fetch or a gc (a capture's few
     *  loose objects wait for the next one). */
    if (rc == 0 && (measure || gc)) {
        char size[32];
        snprintf(size, sizeof size, "%llu\n", (unsigned long long) s_du(h->mirror));
        char *path = xasprintf("%s/%s.size", h->mirrors, h->repo);
        char *tmp = xasprintf("%s.tmp", path);
        if (agent_wsh_write_file(tmp, size, strlen(size), O_TRUNC) == 0)
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

json_t *
agent_wsh_src_json(const sw_task_ws_t *w)
{
    json_t *o = json_pack("{s:s}", "commit", w->commit);
    if (w->manifest)
        json_object_set_new(o, "manifest", json_string(w->manifest));
    if (w->url)
        json_object_set_new(o, "url", json_string(w->url));
    return o;
}

/*  --- sweep -------------------------------------------------------------------------- */

static int
s_sweep(agent_wsh_t *h, sw_err_t *err)
{
    const char *root = agent_wsh_str(h->req, "root");
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
        agent_ws_evict(h->mirrors, "", agent_wsh_u64(h->req, "mirror_cache"));
    json_object_set_new(h->answer, "removed", json_integer(removed));
    (void) err;
    return 0;
}

/*  --- remove ------------------------------------------------------------------------- */

/*  The worktrees captures moved aside (agent_ws_trash_spawn): only names
 *  the agent gives them (".trash-..."), whatever the request says. */
/*  The remover's gc of one mirror (h->repo), which a capture found due
 *  or left a pack of stored blobs in: under the mirror's use lock
 *  (nobody evicts it), the stored packs deflated anew (agent_wsstored.c)
 *  under the deflate lock alone: not the write lock, so another slot's
 *  capture pinning its commit or a prepare fetching does not wait the
 *  100-500 ms of a deflate (git's repack model: the new pack is whole
 *  before the old ones go, a reader of them finds the objects anew).
 *  Then, under the write lock (nobody fetches, pins or gcs meanwhile),
 *  git gc only when still due; it takes the deflate lock after the
 *  write lock, one order everywhere. */
static int
s_gc(agent_wsh_t *h)
{
    int use = agent_ws_lock(h->mirrors, h->repo, "use", LOCK_SH);
    int dl = use >= 0 ? agent_ws_lock(h->mirrors, h->repo, "deflate", LOCK_EX) : -1;
    sw_strv_t none = { 0 };
    sw_err_t err = { 0 };
    int rc = dl >= 0 ? agent_wsh_stored_deflate(&h->r, &err) : -1;
    if (rc < 0 && dl >= 0)
        fprintf(stderr, "swarm-agent: the mirror of %s keeps undeflated packs: %s\n", h->repo,
                err.msg);
    if (dl >= 0)
        close(dl);
    int lock = use >= 0 ? agent_ws_lock(h->mirrors, h->repo, "lock", LOCK_EX) : -1;
    rc = lock >= 0 ? agent_wsh_pin(h, &none, false, true, &err) : -1;
    if (lock >= 0)
        close(lock);
    if (use >= 0)
        close(use);
    return rc;
}

static int
s_remove(agent_wsh_t *h, sw_err_t *err)
{
    json_t *g;
    size_t k;
    json_array_foreach(json_object_get(h->req, "gc"), k, g) {
        const char *repo = json_string_value(g);
        if (!h->mirrors || !repo || !sw_repo_id_valid(repo))
            continue;
        h->repo = repo;
        h->mirror = xasprintf("%s/%s.git", h->mirrors, repo);
        h->r = (sw_ws_repo_t) { .git_dir = h->mirror, .timeout_ms = h->git_timeout_ms };
        struct stat sb;
        if (stat(h->mirror, &sb) == 0 && s_gc(h) < 0)
            fprintf(stderr, "swarm-agent: the gc of the mirror of %s failed\n", repo);
        free(h->mirror);
        h->mirror = NULL;
    }
    long removed = 0;
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(h->req, "paths"), i, p) {
        const char *path = json_string_value(p), *base = path ? strrchr(path, '/') : NULL;
        if (!base || strncmp(base + 1, ".trash-", 7) != 0)
            continue;
        if (agent_ws_rmrf(path) == 0)
            removed++;
        else
            fprintf(stderr, "swarm-agent: cannot remove %s: %s\n", path, strerror(errno));
    }
    json_object_set_new(h->answer, "removed", json_integer(removed));
    (void) err;
    return 0;
}

/*  --- main --------------------------------------------------------------------------- */

int
agent_wshelper_main(int argc, char **argv)
{
    int64_t started = sw_now_ms();
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
    agent_wsh_t h = { 0 };
    h.req = json_loadb(text.data ? text.data : "", text.len, 0, NULL);
    sw_buf_release(&text);
    const char *answer = agent_wsh_str(h.req, "answer");
    if (!answer) {
        fprintf(stderr, "swarm-agent: %s is not a workspace request\n", argv[2]);
        json_decref(h.req);
        return 1;
    }
    h.op = agent_wsh_str(h.req, "op");
    h.mirrors = agent_wsh_str(h.req, "mirrors");
    h.repo = agent_wsh_str(h.req, "repo");
    h.job = agent_wsh_str(h.req, "job");
    h.id = agent_wsh_str(h.req, "id");
    h.git_timeout_ms = (int64_t) agent_wsh_u64(h.req, "git_timeout_ms");
    h.answer = json_pack("{s:b}", "ok", 0);
    sw_err_t err = { 0 };
    int rc = -1, use = -1;
    bool quiet = false;             /*  a standby the agent gave up: no answer */
    json_t *standby_req = NULL;
    if (!h.op)
        sw_err_set(&err, SW_EINVAL, "the request has no op");
    else if (strcmp(h.op, "sweep") == 0)
        rc = s_sweep(&h, &err);
    else if (strcmp(h.op, "remove") == 0)
        rc = s_remove(&h, &err);
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
            rc = agent_wsh_prepare(&h, &err);
        else if (strcmp(h.op, "capture") == 0)
            rc = agent_wsh_capture(&h, &err);
        else if (strcmp(h.op, "standby") == 0) {
            /*  the task's capture, once the agent hands it over; nothing
             *  (no answer) when it gives up */
            bool capture = false;
            rc = agent_wsh_standby(&h, &capture, &standby_req, &err);
            if (rc == 0 && !capture)
                quiet = true;
            else if (rc == 0) {
                answer = agent_wsh_str(h.req, "answer");
                h.op = agent_wsh_str(h.req, "op");
                h.git_timeout_ms = (int64_t) agent_wsh_u64(h.req, "git_timeout_ms");
                rc = answer ? agent_wsh_capture(&h, &err)
                            : sw_err_set(&err, SW_EINVAL, "the capture request has no answer");
            }
            agent_wsh_standby_release(&h);
        }
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
    int wrc = quiet || !answer ? 0 : agent_wsh_write_file(answer, out, strlen(out), O_EXCL);
    /*  from main to the answer: what the agent counts beyond it is the
     *  helper's exec and the agent's own loop */
    agent_wsh_trace("run", started);
    if (wrc < 0)
        fprintf(stderr, "swarm-agent: cannot write the answer %s: %s\n", answer, strerror(errno));
    free(out);
    if (use >= 0)
        close(use);
    sw_redis_destroy(&h.redis);
    json_decref(h.answer);
    json_decref(h.req);
    json_decref(standby_req);
    free(h.mirror);
    return wrc < 0 || (!quiet && !answer) ? 1 : 0;
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
    agent_wsh_racy_test();
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
        CHECK(agent_wsh_write_file(size, "1000\n", 5, 0) == 0);
        CHECK(agent_wsh_write_file(used, "", 0, 0) == 0);
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
    CHECK(agent_wsh_capture_test(dir) == 0);
    CHECK(agent_wsh_standby_test(dir) == 0);
    CHECK(agent_wsh_tree_test(dir) == 0);
    CHECK(agent_wsh_index_test(dir) == 0);
    CHECK(agent_wsh_stored_test(dir) == 0);
    /*  the mirror's gc (51 packs: due) repacks them into one, with no
     *  bitmap: nothing here serves a clone, and a bitmap cost every thin
     *  pack its deltas (sw_ws.c, s_put_env) */
    free(cmd);
    cmd = xasprintf("cd '%s' && git init -q --bare gc.git && cd gc.git && "
                    "git config gc.autoDetach false && for i in $(seq 51); do echo $i | "
                    "git hash-object -w --stdin | git pack-objects -q objects/pack/pack >/dev/null; "
                    "done && git -c user.name=t -c user.email=t@t commit-tree -m c "
                    "$(git mktree </dev/null) >../gc.oid && test $(ls objects/pack/*.pack | "
                    "wc -l) = 51", dir);
    CHECK(system(cmd) == 0);
    char oid[41] = "", *oid_file = xasprintf("%s/gc.oid", dir);
    FILE *fp = fopen(oid_file, "r");
    CHECK(fp && fread(oid, 1, 40, fp) == 40);
    fclose(fp);
    free(oid_file);
    agent_wsh_t h = { .mirrors = dir, .repo = "gc", .git_timeout_ms = 60000 };
    h.mirror = xasprintf("%s/gc.git", dir);
    h.r = (sw_ws_repo_t) { .git_dir = h.mirror, .timeout_ms = 60000 };
    sw_strv_t pins = { 0 };
    sw_strv_push(&pins, oid);
    sw_err_t err = { 0 };
    h.answer = json_object();
    /*  a capture's pin only says a gc is due; the remover's gc runs it */
    CHECK(agent_wsh_pin(&h, &pins, false, false, &err) == 0);
    CHECK(json_is_true(json_object_get(h.answer, "gc_due")));
    char *still = xasprintf("test $(ls '%s/gc.git/objects/pack/' | grep -c '[.]pack$') = 51", dir);
    CHECK(system(still) == 0);
    free(still);
    CHECK(s_gc(&h) == 0);
    json_decref(h.answer);
    sw_strv_release(&pins);
    free(cmd);
    cmd = xasprintf("cd '%s/gc.git/objects/pack' && test $(ls *.pack | wc -l) -lt 51 && "
                    "! ls *.bitmap 2>/dev/null", dir);
    CHECK(system(cmd) == 0);
    free(h.mirror);
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
