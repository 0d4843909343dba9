/*  sw_ws_user -- the user's side of workspaces: their repository opened
 *  (sw_ws_user_int.h, shared with sw_ws_apply.c, which brings tasks'
 *  changes home) and the snapshot of their work tree (sw_ws_snapshot in
 *  sw_ws.h). It works in the user's repository with their git
 *  configuration, and touches neither their index nor their refs.
 */
#include "sw_ws.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sw_keys.h"
#include "sw_ws_user_int.h"

void
sw_ws_snap_stats_release(sw_ws_snap_stats_t *st)
{
    free(st->toplevel);
    free(st->prefix);
    memset(st, 0, sizeof *st);
}

/*  git rev-parse OPTION in dir: its one line of output. */
static char *
s_rev_parse(const char *dir, const char *option, sw_err_t *err)
{
    sw_git_opts_t o = sw_git_opts();
    o.cwd = dir;
    o.user_config = true;
    const char *args[] = { "rev-parse", option, NULL };
    sw_git_res_t res;
    sw_git_res_init(&res);
    char *line = NULL;
    if (sw_git_run(&o, args, &res, err) == 0) {
        size_t n = strcspn(res.out.data ? res.out.data : "", "\n");
        line = xstrndup(res.out.data ? res.out.data : "", n);
    }
    sw_git_res_release(&res);
    return line;
}

/*  The temporary index while it exists, removed by a signal that ends
 *  the process (^C, a closed terminal, kill) as by sw_ws_user_release:
 *  a copy of the user's index left behind names their files. One at a
 *  time (the CLI opens one repository at once). */
static char s_live[4096];
static struct sigaction s_old[4];
static const int s_sigs[4] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

static void
s_unlink_index(const char *path)
{
    char lock[sizeof s_live + 8];
    size_t n = strlen(path);
    unlink(path);
    if (n + 6 <= sizeof lock) {
        memcpy(lock, path, n);
        memcpy(lock + n, ".lock", 6);
        unlink(lock);
    }
}

static void
s_on_signal(int sig)
{
    if (s_live[0])
        s_unlink_index(s_live);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void
s_watch(const char *path)
{
    if (strlen(path) >= sizeof s_live)
        return;
    struct sigaction sa = { .sa_handler = s_on_signal };
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < 4; i++)
        sigaddset(&sa.sa_mask, s_sigs[i]);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    memcpy(s_live, path, strlen(path) + 1);
    for (size_t i = 0; i < 4; i++)
        sigaction(s_sigs[i], &sa, &s_old[i]);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void
s_unwatch(void)
{
    if (!s_live[0])
        return;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (size_t i = 0; i < 4; i++)
        sigaction(s_sigs[i], &s_old[i], NULL);
    s_live[0] = '\0';
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void
sw_ws_user_release(sw_ws_user_t *u)
{
    if (u->tmp_index) {
        s_unlink_index(u->tmp_index);
        s_unwatch();
    }
    free(u->top);
    free(u->git_dir);
    free(u->index);
    free(u->prefix);
    free(u->tmp_index);
    memset(u, 0, sizeof *u);
}

int
sw_ws_user_open(const char *dir, sw_ws_user_t *u, sw_err_t *err)
{
    memset(u, 0, sizeof *u);
    struct stat sb;
    if (stat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode))
        return sw_err_set(err, SW_EINVAL, "workspace %s: not a directory", dir);
    sw_err_t e = { 0 };
    u->top = s_rev_parse(dir, "--show-toplevel", &e);
    if (!u->top || !*u->top) {
        sw_ws_user_release(u);
        return sw_err_set(err, SW_EINVAL, "workspace %s is not inside a git work tree "
                          "(workspaces are git trees: git init, then try again)", dir);
    }
    u->git_dir = s_rev_parse(dir, "--absolute-git-dir", err);
    sw_git_opts_t o = sw_git_opts();
    o.cwd = u->top;
    o.user_config = true;
    const char *args[] = { "rev-parse", "--git-path", "index", NULL };
    sw_git_res_t res;
    sw_git_res_init(&res);
    if (!u->git_dir || sw_git_run(&o, args, &res, err) != 0) {
        sw_git_res_release(&res);
        sw_ws_user_release(u);
        return -1;
    }
    char *out = res.out.data ? res.out.data : "";
    char *nl = strchr(out, '\n');
    if (nl)
        *nl = '\0';
    u->index = out[0] == '/' ? xstrdup(out) : xasprintf("%s/%s", u->top, out);
    sw_git_res_release(&res);
    /*  the prefix of dir itself */
    u->prefix = s_rev_parse(dir, "--show-prefix", err);
    if (!u->prefix) {
        sw_ws_user_release(u);
        return -1;
    }
    size_t n = strlen(u->prefix);
    if (n && u->prefix[n - 1] == '/')
        u->prefix[n - 1] = '\0';
    return 0;
}

/*  A copy of the user's index (its stat data makes add -A cheap) in
 *  their git dir, where only who may read the repository may read it
 *  (TMPDIR when the git dir takes no file), or no file when they have
 *  none. Removed by sw_ws_user_release, or by a signal that ends us. */
static int
s_tmp_index(sw_ws_user_t *u, sw_err_t *err)
{
    const char *tmpdir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    u->tmp_index = xasprintf("%s/swarm-index.XXXXXX", u->git_dir);
    int out = mkstemp(u->tmp_index);
    if (out < 0) {
        free(u->tmp_index);
        u->tmp_index = xasprintf("%s/swarm-index.XXXXXX", tmpdir);
        out = mkstemp(u->tmp_index);
    }
    if (out < 0)
        return sw_err_set(err, SW_EFAIL, "cannot create a temporary index in %s: %s", tmpdir,
                          strerror(errno));
    s_watch(u->tmp_index);
    int in = open(u->index, O_RDONLY | O_CLOEXEC);
    int rc = 0;
    if (in < 0)
        unlink(u->tmp_index);   /*  no index yet: git starts from an empty one */
    else {
        char buf[65536];
        ssize_t r;
        while ((r = read(in, buf, sizeof buf)) > 0)
            if (write(out, buf, (size_t) r) != r) {
                rc = sw_err_set(err, SW_EFAIL, "cannot copy the index to %s: %s",
                                u->tmp_index, strerror(errno));
                break;
            }
        close(in);
    }
    close(out);
    return rc;
}

/*  The error naming the files over max_file (their "PATH (N bytes)" in
 *  big). */
static int
s_too_big(const char *top, const sw_strv_t *big, uint64_t max_file, sw_err_t *err)
{
    sw_buf_t b;
    sw_buf_init(&b);
    for (size_t i = 0; i < big->n && i < 5; i++)
        sw_buf_printf(&b, "%s%s", i ? ", " : "", big->v[i]);
    char lim[32];
    sw_fmt_size(max_file, lim);
    sw_err_set(err, SW_EINVAL, "workspace %s: files over --max-file %s: %s%s (add them to "
               ".gitignore, or raise --max-file)", top, lim, b.data, big->n > 5 ? ", ..." : "");
    sw_buf_release(&b);
    return -1;
}

/*  The uncommitted files (modified tracked ones, untracked ones not
 *  ignored) over max_file, refused before `add -A` would hash them: it
 *  writes every one into the user's object store, a file of gigabytes
 *  included, before the tree could be checked. 0; -2 with err naming
 *  them; -1 with err when git failed. */
static int
s_check_dirty(const sw_git_opts_t *o, const char *top, uint64_t max_file, sw_err_t *err)
{
    sw_git_opts_t lo = *o;
    lo.out_max = 256 << 20;
    const char *args[] = { "ls-files", "-z", "-m", "-o", "--exclude-standard", NULL };
    sw_git_res_t res;
    sw_git_res_init(&res);
    if (sw_git_run(&lo, args, &res, err) != 0) {
        sw_git_res_release(&res);
        return -1;
    }
    sw_strv_t big = { 0 };
    for (const char *p = res.out.data, *end = p + res.out.len; p && p < end; p += strlen(p) + 1) {
        char *path = xasprintf("%s/%s", top, p);
        struct stat sb;
        if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode) && (uint64_t) sb.st_size > max_file) {
            char *what = xasprintf("%s (%llu bytes)", p, (unsigned long long) sb.st_size);
            sw_strv_push(&big, what);
            free(what);
        }
        free(path);
    }
    sw_git_res_release(&res);
    int rc = big.n ? s_too_big(top, &big, max_file, err) - 1 : 0;
    sw_strv_release(&big);
    return rc;
}

/*  The work tree as a tree: HEAD plus tracked and untracked (not
 *  ignored) changes, through the temporary index. max_file: uncommitted
 *  files over it are refused before anything is hashed (0: no check). */
int
sw_ws_user_tree(sw_ws_user_t *u, uint64_t max_file, char tree[65], sw_err_t *err)
{
    if (s_tmp_index(u, err) < 0)
        return -1;
    sw_ws_repo_t r = { .git_dir = u->git_dir, .work_tree = u->top, .index_file = u->tmp_index,
                       .user_config = true };
    sw_git_opts_t o = sw_ws_opts(&r);
    if (max_file) {
        sw_err_t first = { 0 };
        int c = s_check_dirty(&o, u->top, max_file, &first);
        if (c == -2) {
            *err = first;
            return -1;
        }
        /*  An index git cannot reuse elsewhere (a split index): as below. */
        if (c < 0) {
            unlink(u->tmp_index);
            if (s_check_dirty(&o, u->top, max_file, err) < 0)
                return -1;
        }
    }
    const char *add[] = { "add", "-A", NULL };
    sw_err_t first = { 0 };
    if (sw_git_run(&o, add, NULL, &first) != 0) {
        /*  An index git cannot reuse elsewhere (a split index): start empty. */
        unlink(u->tmp_index);
        if (sw_git_run(&o, add, NULL, err) != 0)
            return -1;
    }
    const char *wt[] = { "write-tree", NULL };
    sw_git_res_t res;
    sw_git_res_init(&res);
    int rc = sw_git_run(&o, wt, &res, err);
    if (rc == 0 && (res.out.len < 40 || !memchr(res.out.data, '\n', res.out.len)))
        rc = sw_err_set(err, SW_EFAIL, "git write-tree printed no tree");
    if (rc == 0) {
        size_t n = strcspn(res.out.data, "\n");
        snprintf(tree, 65, "%.*s", (int) n, res.out.data);
    }
    sw_git_res_release(&res);
    return rc == 0 ? 0 : -1;
}

/*  The repository id: the name of the project and a hash of where it
 *  comes from (the URL, or this host and path), so one agent mirror per
 *  project. */
static char *
s_repo_id(const char *top, const char *url)
{
    const char *from = url ? url : top;
    size_t n = strlen(from);
    while (n > 1 && from[n - 1] == '/')
        n--;
    const char *base = from + n;
    while (base > from && base[-1] != '/' && base[-1] != ':')
        base--;
    size_t blen = (size_t) (from + n - base);
    if (blen > 4 && strncmp(base + blen - 4, ".git", 4) == 0)
        blen -= 4;
    char name[41];
    size_t k = 0;
    for (size_t i = 0; i < blen && k < sizeof name - 1; i++) {
        char c = base[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
               || c == '.' || c == '_' || c == '-';
        if (k == 0 && (c == '.' || c == '-'))
            continue;
        name[k++] = ok ? c : '_';
    }
    name[k] = '\0';
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    char *where = url ? xstrdup(url) : xasprintf("%s:%s", host, top);
    char digest[65];
    sw_sha256_hex(where, strlen(where), digest);
    free(where);
    return xasprintf("%s-%.8s", k ? name : "repo", digest);
}

/*  Checks the snapshot's tree: no submodule, no file over max_file, the
 *  whole at most max (when max is not 0), no Git LFS file. */
static int
s_check_tree(const sw_ws_repo_t *r, const char *top, const char *tree, uint64_t max_file,
             uint64_t max, sw_ws_snap_stats_t *st, sw_err_t *err)
{
    sw_git_opts_t o = sw_ws_opts(r);
    o.out_max = 1u << 30;
    const char *args[] = { "ls-tree", "-r", "-l", "-z", "--full-tree", tree, NULL };
    sw_git_res_t res;
    sw_git_res_init(&res);
    if (sw_git_run(&o, args, &res, err) != 0) {
        sw_git_res_release(&res);
        return -1;
    }
    sw_strv_t big = { 0 }, subs = { 0 }, attrs = { 0 }, paths = { 0 };
    /*  MODE SP TYPE SP OID SP SIZE TAB PATH NUL */
    for (const char *p = res.out.data, *end = p + res.out.len; p && p < end; ) {
        const char *rec = p;
        p += strlen(p) + 1;
        const char *tab = strchr(rec, '\t');
        if (!tab)
            continue;
        const char *path = tab + 1;
        if (strncmp(rec, "160000", 6) == 0) {
            sw_strv_push(&subs, path);
            continue;
        }
        char mode[8], type[8], oid[65], size[32];
        if (sscanf(rec, "%7s %7s %64s %31s", mode, type, oid, size) != 4)
            continue;
        uint64_t n = strtoull(size, NULL, 10);
        st->files++;
        st->bytes += n;
        sw_strv_push(&paths, path);
        if (n > max_file) {
            char *what = xasprintf("%s (%llu bytes)", path, (unsigned long long) n);
            sw_strv_push(&big, what);
            free(what);
        }
        const char *slash = strrchr(path, '/');
        if (strcmp(slash ? slash + 1 : path, ".gitattributes") == 0)
            sw_strv_push(&attrs, oid);
    }
    sw_git_res_release(&res);
    int rc = 0;
    if (subs.n)
        rc = sw_err_set(err, SW_EINVAL, "workspace %s has a submodule at %s%s: workspaces do not "
                        "carry submodules or nested git repositories (vendor it, or "
                        "leave it out of the tree: .gitignore)", top,
                        subs.v[0], subs.n > 1 ? " (and more)" : "");
    else if (big.n)
        rc = s_too_big(top, &big, max_file, err);
    else if (max && st->bytes > max) {
        char have[32], lim[32];
        sw_fmt_size(st->bytes, have);
        sw_fmt_size(max, lim);
        rc = sw_err_set(err, SW_EINVAL, "workspace %s is %s, over --max-snapshot %s (ignore "
                        "what tasks do not need, or give --repo-url)", top, have, lim);
    }
    /*  Git LFS: pointers would reach the agents instead of the files. */
    for (size_t i = 0; rc == 0 && i < attrs.n; i++) {
        const char *cat[] = { "cat-file", "blob", attrs.v[i], NULL };
        sw_git_res_t a;
        sw_git_res_init(&a);
        bool lfs = sw_git_run(&o, cat, &a, err) == 0 && a.out.data
                && strstr(a.out.data, "filter=lfs");
        sw_git_res_release(&a);
        if (!lfs)
            continue;
        sw_buf_t in;
        sw_buf_init(&in);
        for (size_t k = 0; k < paths.n; k++)
            sw_buf_add(&in, paths.v[k], strlen(paths.v[k]) + 1);
        sw_git_opts_t co = o;
        co.in = in.data;
        co.in_len = in.len;
        const char *check[] = { "check-attr", "-z", "--stdin", "filter", NULL };
        sw_git_res_t cr;
        sw_git_res_init(&cr);
        if (sw_git_run(&co, check, &cr, err) == 0) {
            /*  PATH NUL filter NUL VALUE NUL */
            for (const char *p = cr.out.data, *end = p + cr.out.len; p && p < end; ) {
                const char *path = p, *attr = path + strlen(path) + 1;
                const char *value = attr < end ? attr + strlen(attr) + 1 : end;
                p = value < end ? value + strlen(value) + 1 : end;
                if (value < end && strcmp(value, "lfs") == 0) {
                    rc = sw_err_set(err, SW_EINVAL, "workspace %s has Git LFS files (%s ...): "
                                    "agents would get their pointers, not their content; "
                                    "workspaces do not carry Git LFS files", top, path);
                    break;
                }
            }
        }
        sw_git_res_release(&cr);
        sw_buf_release(&in);
        break;
    }
    sw_strv_release(&big);
    sw_strv_release(&subs);
    sw_strv_release(&attrs);
    sw_strv_release(&paths);
    return rc;
}

/*  The snapshot commit was stored before: reference it again for this
 *  job. 1 reused, 0 not (store it), -1 error. */
static int
s_reuse(sw_cas_t *cas, const char *commit, char manifest[65], sw_err_t *err)
{
    char *key = sw_key_commit(commit);
    redisReply *r = sw_redis_cmdv(cas->redis, err, "GET", key, NULL);
    free(key);
    if (!r)
        return -1;
    bool have = r->type == REDIS_REPLY_STRING && sw_sha256_valid(r->str);
    if (have)
        snprintf(manifest, 65, "%s", r->str);
    freeReplyObject(r);
    if (!have)
        return 0;
    sw_buf_t text;
    sw_buf_init(&text);
    sw_ws_manifest_t m;
    sw_err_t e = { 0 };
    int rc = sw_cas_get(cas, manifest, SW_CAS_DOC_MAX, &text, &e);
    if (rc < 0) {
        sw_buf_release(&text);
        return e.code == SW_EUNREACH ? sw_err_set(err, e.code, "%s", e.msg) : 0;
    }
    rc = sw_ws_manifest_parse(text.data, text.len, &m, &e) == 0
      && strcmp(m.commit, commit) == 0 ? 1 : 0;
    sw_buf_release(&text);
    if (rc == 1 && m.pack)
        rc = sw_cas_ref_blob(cas, m.pack, err);
    if (rc == 1)
        rc = sw_cas_ref(cas, manifest, err);
    if (m.commit)
        sw_ws_manifest_release(&m);
    return rc;
}

int
sw_ws_snapshot(const sw_ws_snap_opts_t *o, sw_cas_t *cas, sw_task_ws_t *out,
               sw_ws_snap_stats_t *st, sw_err_t *err)
{
    memset(out, 0, sizeof *out);
    memset(st, 0, sizeof *st);
    sw_ws_user_t u;
    if (sw_ws_user_open(o->dir, &u, err) < 0)
        return -1;
    st->toplevel = xstrdup(u.top);
    st->prefix = xstrdup(u.prefix);
    sw_ws_repo_t r = { .git_dir = u.git_dir, .work_tree = u.top, .user_config = true };
    char tree[65], head[65] = "", commit[65], manifest[65];
    sw_err_t e = { 0 };
    bool has_head = sw_ws_rev(&r, "HEAD", head, &e) == 0;
    uint64_t max = o->max_snapshot ? o->max_snapshot : SW_WS_MAX_SNAPSHOT;
    uint64_t max_file = o->max_file ? o->max_file : SW_WS_MAX_FILE;
    int rc = sw_ws_user_tree(&u, max_file, tree, err);
    if (rc == 0)
        rc = s_check_tree(&r, u.top, tree, max_file,
                          o->repo_url ? 0 : max, st, err);
    bool via_url = o->repo_url && has_head;
    char head_tree[65] = "";
    if (rc == 0 && via_url && sw_ws_tree(&r, head, head_tree, err) < 0)
        rc = -1;
    if (rc == 0) {
        out->repo = s_repo_id(u.top, o->repo_url);
        if (via_url && strcmp(tree, head_tree) == 0) {
            /*  A clean tree: the agents fetch HEAD itself. */
            out->commit = xstrdup(head);
            out->url = xstrdup(o->repo_url);
            goto done;
        }
    }
    const char *parents[] = { head };
    if (rc == 0)
        rc = sw_ws_commit_tree(&r, tree, parents, via_url ? 1 : 0, "swarm workspace snapshot",
                               NULL, NULL, commit, err);
    if (rc == 0) {
        rc = s_reuse(cas, commit, manifest, err);
        st->reused = rc == 1;
        if (rc == 0) {
            sw_task_ws_t pre = { .commit = head, .url = (char *) o->repo_url };
            rc = sw_ws_put(&r, cas, commit, &pre, via_url ? 1 : 0, max, "--max-snapshot",
                           manifest, &st->pack, err);
            if (rc == 0) {
                char *key = sw_key_commit(commit), ttl[32];
                snprintf(ttl, sizeof ttl, "%lld", (long long) cas->ttl_s);
                redisReply *set = sw_redis_cmdv(cas->redis, err, "SET", key, manifest, "EX",
                                                ttl, NULL);
                free(key);
                rc = set ? 0 : -1;
                if (set)
                    freeReplyObject(set);
            }
        }
        else if (rc == 1)
            rc = 0;
    }
    if (rc == 0) {
        out->commit = xstrdup(commit);
        out->manifest = xstrdup(manifest);
    }
done:
    sw_ws_user_release(&u);
    if (rc < 0)
        sw_task_ws_release(out);
    return rc < 0 ? -1 : 0;
}
