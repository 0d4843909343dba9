/*  sw_ws -- see sw_ws.h */
#include "sw_ws.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sw_selftest.h"

sw_git_opts_t
sw_ws_opts(const sw_ws_repo_t *r)
{
    sw_git_opts_t o = sw_git_opts();
    o.git_dir = r->git_dir;
    o.work_tree = r->work_tree;
    o.index_file = r->index_file;
    o.cwd = r->cwd ? r->cwd : r->work_tree ? r->work_tree : r->git_dir;
    o.user_config = r->user_config;
    o.timeout_ms = r->timeout_ms;
    return o;
}

/*  The first object name in out, into oid; -1 when there is none. */
static int
s_oid(const sw_buf_t *out, char oid[65])
{
    size_t n = 0;
    while (out->data && n < out->len && n < 64 && isxdigit((unsigned char) out->data[n]))
        n++;
    if (n != 40 && n != 64)
        return -1;
    memcpy(oid, out->data, n);
    oid[n] = '\0';
    return 0;
}

/*  Runs git and takes the object name it prints. */
static int
s_git_oid(const sw_git_opts_t *o, const char *const *args, char out[65], sw_err_t *err)
{
    sw_git_res_t res;
    sw_git_res_init(&res);
    int rc = sw_git_run(o, args, &res, err);
    if (rc == 0 && s_oid(&res.out, out) < 0)
        rc = sw_err_set(err, SW_EFAIL, "git %s printed no object name", args[0]);
    sw_git_res_release(&res);
    return rc == 0 ? 0 : -1;
}

int
sw_ws_rev(const sw_ws_repo_t *r, const char *rev, char out[65], sw_err_t *err)
{
    sw_git_opts_t o = sw_ws_opts(r);
    char *spec = xasprintf("%s^{commit}", rev);
    const char *args[] = { "rev-parse", "--verify", "-q", spec, NULL };
    sw_git_res_t res;
    sw_git_res_init(&res);
    int rc = sw_git_run(&o, args, &res, err);
    if (rc == 0 && s_oid(&res.out, out) < 0)
        rc = -1;
    if (rc > 0)
        sw_err_set(err, SW_ENOTFOUND, "no commit %s", rev);
    free(spec);
    sw_git_res_release(&res);
    return rc == 0 ? 0 : -1;
}

int
sw_ws_tree(const sw_ws_repo_t *r, const char *commit, char out[65], sw_err_t *err)
{
    sw_git_opts_t o = sw_ws_opts(r);
    char *spec = xasprintf("%s^{tree}", commit);
    const char *args[] = { "rev-parse", "--verify", "-q", spec, NULL };
    int rc = s_git_oid(&o, args, out, err);
    free(spec);
    return rc;
}

int
sw_ws_trees(const sw_ws_repo_t *r, const char *const *commits, size_t n, char (*out)[65],
            sw_err_t *err)
{
    if (n == 0)
        return 0;
    sw_buf_t in;
    sw_buf_init(&in);
    for (size_t i = 0; i < n; i++)
        sw_buf_printf(&in, "%s^{tree}\n", commits[i]);
    sw_git_opts_t o = sw_ws_opts(r);
    o.in = in.data;
    o.in_len = in.len;
    o.out_max = 128 * n + 4096;
    const char *args[] = { "cat-file", "--batch-check=%(objectname) %(objecttype)", NULL };
    sw_git_res_t res;
    sw_git_res_init(&res);
    int rc = sw_git_run(&o, args, &res, err) == 0 ? 0 : -1;
    const char *p = res.out.data ? res.out.data : "";
    for (size_t i = 0; rc == 0 && i < n; i++) {
        size_t len = strcspn(p, " \n");
        if ((len != 40 && len != 64) || strncmp(p + len, " tree", 5) != 0)
            rc = sw_err_set(err, SW_EFAIL, "commit %.12s has no tree here", commits[i]);
        else
            snprintf(out[i], 65, "%.*s", (int) len, p);
        const char *nl = strchr(p, '\n');
        p = nl ? nl + 1 : p + strlen(p);
    }
    sw_git_res_release(&res);
    sw_buf_release(&in);
    return rc;
}

int
sw_ws_missing(const sw_ws_repo_t *r, const sw_strv_t *oids, sw_strv_t *missing, sw_err_t *err)
{
    return sw_ws_probe(r, oids, missing, NULL, err);
}

/*  Whether git_dir holds no object at all: objects/ has nothing but an
 *  empty pack/ and info/ without alternates (what `git init` leaves). */
static bool
s_no_objects(const char *git_dir)
{
    if (!git_dir)
        return false;
    char *objects = xasprintf("%s/objects", git_dir);
    char *alt = xasprintf("%s/info/alternates", objects);
    struct stat sb;
    bool none = lstat(alt, &sb) < 0 && errno == ENOENT;
    for (int pass = 0; none && pass < 2; pass++) {
        char *dir = pass ? xasprintf("%s/pack", objects) : xstrdup(objects);
        DIR *d = opendir(dir);
        struct dirent *e;
        none = d != NULL;
        while (none && (e = readdir(d)))
            none = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0
                || (!pass && (strcmp(e->d_name, "info") == 0 || strcmp(e->d_name, "pack") == 0));
        if (d)
            closedir(d);
        free(dir);
    }
    free(alt);
    free(objects);
    return none;
}

int
sw_ws_probe(const sw_ws_repo_t *r, const sw_strv_t *oids, sw_strv_t *missing, char tree0[65],
            sw_err_t *err)
{
    if (tree0)
        tree0[0] = '\0';
    if (oids->n == 0)
        return 0;
    if (s_no_objects(r->git_dir)) {
        for (size_t i = 0; i < oids->n; i++)
            sw_strv_push(missing, oids->v[i]);
        return 0;
    }
    sw_buf_t in;
    sw_buf_init(&in);
    for (size_t i = 0; i < oids->n; i++)
        sw_buf_printf(&in, "%s\n", oids->v[i]);
    if (tree0)
        sw_buf_printf(&in, "%s^{tree}\n", oids->v[0]);
    sw_git_opts_t o = sw_ws_opts(r);
    o.in = in.data;
    o.in_len = in.len;
    o.out_max = 256 * oids->n + 4096;
    const char *args[] = { "cat-file", "--batch-check=%(objectname) %(objecttype)", NULL };
    sw_git_res_t res;
    sw_git_res_init(&res);
    int rc = sw_git_run(&o, args, &res, err);
    /*  One line per input, in order: "OID commit", "OID missing", ... */
    const char *p = res.out.data ? res.out.data : "";
    for (size_t i = 0; rc == 0 && i < oids->n; i++) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t) (nl - p) : strlen(p);
        const char *sp = memchr(p, ' ', len);
        if (!sp || len - (size_t) (sp + 1 - p) != 6 || strncmp(sp + 1, "commit", 6) != 0)
            sw_strv_push(missing, oids->v[i]);
        p = nl ? nl + 1 : p + len;
    }
    /*  then "TREE tree", or "NAME^{tree} missing" */
    size_t tlen = strcspn(p, " \n");
    if (rc == 0 && tree0 && (tlen == 40 || tlen == 64) && strncmp(p + tlen, " tree", 5) == 0)
        snprintf(tree0, 65, "%.*s", (int) tlen, p);
    sw_git_res_release(&res);
    sw_buf_release(&in);
    return rc == 0 ? 0 : -1;
}

int
sw_ws_commit_tree(const sw_ws_repo_t *r, const char *tree, const char *const *parents, size_t np,
                  const char *message, const char *name, const char *email, char out[65],
                  sw_err_t *err)
{
    sw_git_opts_t o = sw_ws_opts(r);
    char *env[8] = { NULL };
    if (!name) {
        /*  Deterministic: the same tree and parents, the same commit. */
        env[0] = xstrdup("GIT_AUTHOR_NAME=swarm");
        env[1] = xstrdup("GIT_AUTHOR_EMAIL=swarm@localhost");
        env[2] = xstrdup("GIT_AUTHOR_DATE=@1700000000 +0000");
        env[3] = xstrdup("GIT_COMMITTER_NAME=swarm");
        env[4] = xstrdup("GIT_COMMITTER_EMAIL=swarm@localhost");
        env[5] = xstrdup("GIT_COMMITTER_DATE=@1700000000 +0000");
    }
    else if (*name) {
        env[0] = xasprintf("GIT_AUTHOR_NAME=%s", name);
        env[1] = xasprintf("GIT_AUTHOR_EMAIL=%s", email);
        env[2] = xasprintf("GIT_COMMITTER_NAME=%s", name);
        env[3] = xasprintf("GIT_COMMITTER_EMAIL=%s", email);
    }
    o.env = (const char *const *) env;
    sw_strv_t args = { 0 };
    sw_strv_push(&args, "commit-tree");
    sw_strv_push(&args, tree);
    for (size_t i = 0; i < np; i++) {
        sw_strv_push(&args, "-p");
        sw_strv_push(&args, parents[i]);
    }
    sw_strv_push(&args, "-m");
    sw_strv_push(&args, message);
    int rc = s_git_oid(&o, (const char *const *) args.v, out, err);
    sw_strv_release(&args);
    for (size_t i = 0; env[i]; i++)
        free(env[i]);
    return rc;
}

int
sw_ws_merge(const sw_ws_repo_t *r, const char *const *commits, size_t n, char out[65],
            sw_strv_t *conflicts, sw_err_t *err)
{
    char cur[65];
    snprintf(cur, sizeof cur, "%s", commits[0]);
    sw_git_opts_t o = sw_ws_opts(r);
    for (size_t i = 1; i < n; i++) {
        const char *args[] = { "merge-tree", "--write-tree", "--name-only", "-z",
                               "--no-messages", cur, commits[i], NULL };
        sw_git_res_t res;
        sw_git_res_init(&res);
        int rc = sw_git_run(&o, args, &res, err);
        char tree[65];
        if ((rc != 0 && rc != 1) || s_oid(&res.out, tree) < 0) {
            sw_git_res_release(&res);
            return rc > 1 || rc < 0 ? -1 : sw_err_set(err, SW_EFAIL, "git merge-tree printed "
                                                       "no tree");
        }
        if (rc == 1) {
            /*  TREE NUL path NUL path NUL ... */
            const char *p = res.out.data, *end = res.out.data + res.out.len;
            p += strlen(p) + 1;
            for (; p < end && *p; p += strlen(p) + 1) {
                bool seen = false;
                for (size_t k = 0; k < conflicts->n && !seen; k++)
                    seen = strcmp(conflicts->v[k], p) == 0;
                if (!seen)
                    sw_strv_push(conflicts, p);
            }
            sw_git_res_release(&res);
            return 1;
        }
        sw_git_res_release(&res);
        const char *parents[] = { cur, commits[i] };
        char merged[65];
        if (sw_ws_commit_tree(r, tree, parents, 2, "swarm: merge of the dependencies", NULL,
                              NULL, merged, err) < 0)
            return -1;
        memcpy(cur, merged, sizeof cur);
    }
    memcpy(out, cur, 65);
    return 0;
}

int
sw_ws_gitlinks(const sw_ws_repo_t *r, const char *a, const char *b, sw_strv_t *gitlinks,
               sw_err_t *err)
{
    sw_git_opts_t o = sw_ws_opts(r);
    o.out_max = 64 << 20;
    const char *raw[] = { "diff-tree", "-r", "-z", "--raw", "--no-renames", a, b, NULL };
    sw_git_res_t res;
    sw_git_res_init(&res);
    int rc = sw_git_run(&o, raw, &res, err);
    /*  ":OLDMODE NEWMODE OLD NEW STATUS" NUL PATH NUL */
    const char *p = res.out.data, *end = p + res.out.len;
    while (rc == 0 && p && p < end) {
        const char *meta = p;
        p += strnlen(p, (size_t) (end - p)) + 1;
        const char *path = p;
        if (p < end)
            p += strnlen(p, (size_t) (end - p)) + 1;
        if (meta[0] == ':' && strlen(meta) > 14 && strncmp(meta + 8, "160000", 6) == 0
            && path < end)
            sw_strv_push(gitlinks, path);
    }
    sw_git_res_release(&res);
    return rc == 0 ? 0 : -1;
}

int
sw_ws_diffstat(const sw_ws_repo_t *r, const char *a, const char *b, sw_ws_stat_t *st,
               sw_strv_t *gitlinks, sw_err_t *err)
{
    sw_git_opts_t o = sw_ws_opts(r);
    o.out_max = 64 << 20;
    const char *args[] = { "diff-tree", "-r", "-z", "--numstat", "-M", a, b, NULL };
    sw_git_res_t res;
    sw_git_res_init(&res);
    int rc = sw_git_run(&o, args, &res, err);
    if (rc == 0)
        sw_ws_numstat_parse(res.out.data ? res.out.data : "", res.out.len, st);
    sw_git_res_release(&res);
    if (rc == 0 && gitlinks)
        return sw_ws_gitlinks(r, a, b, gitlinks, err);
    return rc == 0 ? 0 : -1;
}

/*  Streams a git command's stdout into a CAS writer; the blob in *blob.
 *  ps (may be NULL) sees the stream too. */
static int
s_stream_put(const sw_git_opts_t *o, const char *const *args, const char *in, sw_cas_t *cas,
             uint64_t max, const char *cap_name, sw_ws_patch_stat_t *ps, json_t **blob,
             sw_err_t *err)
{
    sw_git_proc_t p;
    if (sw_git_start(o, args, in != NULL, true, &p, err) < 0)
        return -1;
    if (in) {
        int rc = sw_git_write(&p, in, strlen(in), err);
        close(p.in_fd);
        p.in_fd = -1;
        if (rc < 0) {
            sw_git_finish(&p, true, NULL, err);
            return -1;
        }
    }
    sw_cas_writer_t w;
    sw_cas_writer_init(&w, cas, max, cap_name);
    char *buf = xmalloc(1 << 16);
    ssize_t got;
    int rc = 0;
    while ((got = sw_git_read(&p, buf, 1 << 16, err)) > 0) {
        if (ps)
            sw_ws_patch_stat_feed(ps, buf, (size_t) got);
        if (sw_cas_writer_add(&w, buf, (size_t) got, err) < 0) {
            rc = -1;
            break;
        }
    }
    free(buf);
    if (got < 0)
        rc = -1;
    sw_err_t ferr = { 0 };
    int frc = sw_git_finish(&p, rc < 0, NULL, &ferr);
    if (rc == 0 && frc != 0) {
        *err = ferr;
        rc = -1;
    }
    if (rc < 0) {
        sw_cas_writer_release(&w);
        return -1;
    }
    *blob = sw_cas_writer_finish(&w, err);
    return *blob ? 0 : -1;
}

/*  Stores a JSON document by digest. */
static int
s_put_doc(sw_cas_t *cas, json_t *doc, char out[65], sw_err_t *err)
{
    char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    int rc = sw_cas_put(cas, text, strlen(text), out, err);
    free(text);
    return rc;
}

int
sw_ws_patch_put(const sw_ws_repo_t *r, sw_cas_t *cas, const char *a, const char *b,
                uint64_t max, const char *cap_name, sw_ws_stat_t *st, char out[65],
                sw_err_t *err)
{
    sw_git_opts_t o = sw_ws_opts(r);
    const char *args[] = { "diff-tree", "-p", "--binary", "--full-index", "-M", a, b, NULL };
    json_t *blob = NULL;
    sw_ws_patch_stat_t ps;
    sw_ws_patch_stat_init(&ps);
    if (s_stream_put(&o, args, NULL, cas, max, cap_name, &ps, &blob, err) < 0) {
        sw_ws_patch_stat_release(&ps);
        return -1;
    }
    if (st)
        *st = ps.st;
    sw_ws_patch_stat_release(&ps);
    json_object_set_new(blob, "kind", json_string("swarm-patch"));
    int rc = s_put_doc(cas, blob, out, err);
    json_decref(blob);
    return rc;
}

/*  The pack of what a receiver lacks: thin (its deltas may use objects
 *  the prereqs have). Without the repository's bitmap when there are
 *  prereqs: git 2.39's bitmap walk finds no thin bases, so every changed
 *  blob went whole (a 100-file change: 600 KB and 250 ms instead of 14
 *  KB and 35 ms), and git gc --auto writes one in every bare repository,
 *  the agent's mirrors included (docs/design.md, issue 16, capture speed
 *  3). A whole history (no prereqs) keeps it: nothing is thin there. */
static const char *const s_put_args[] = { "pack-objects", "--stdout", "--thin",
                                          "--delta-base-offset", "--revs", "-q", NULL };
static const char *const s_put_env[] = { "GIT_CONFIG_COUNT=1",
                                         "GIT_CONFIG_KEY_0=pack.useBitmaps",
                                         "GIT_CONFIG_VALUE_0=false", NULL };

/*  A change's pack. --no-reuse-object: the capture stores a change's new
 *  blobs in the mirror at level 1 (agent_wscapture.c, s_stage); the
 *  upload deflates them anew, as it did loose objects. It sends only what
 *  the prereqs lack: a task's own few objects. One delta thread:
 *  diff-tree has the other core, and for a change's few objects the
 *  threads' start and hand-over cost more than they win (36-45 against
 *  23-35 ms for 100 files, docs/benchmarks.md). No bitmap: s_put_env. */
static const char *const s_change_args[] = { "pack-objects", "--stdout", "--thin",
                                             "--delta-base-offset", "--revs",
                                             "--no-reuse-object", "-q", NULL };
static const char *const s_change_env[] = { "GIT_CONFIG_COUNT=2",
                                            "GIT_CONFIG_KEY_0=pack.threads",
                                            "GIT_CONFIG_VALUE_0=1",
                                            "GIT_CONFIG_KEY_1=pack.useBitmaps",
                                            "GIT_CONFIG_VALUE_1=false", SW_WS_MALLOC_TUNABLES,
                                            NULL };

int
sw_ws_put(const sw_ws_repo_t *r, sw_cas_t *cas, const char *commit, const sw_task_ws_t *prereqs,
          size_t n, uint64_t max, const char *cap_name, char manifest[65], uint64_t *pack_bytes,
          sw_err_t *err)
{
    sw_buf_t revs;
    sw_buf_init(&revs);
    sw_buf_printf(&revs, "%s\n", commit);
    json_t *pre = json_array();
    for (size_t i = 0; i < n; i++) {
        sw_buf_printf(&revs, "^%s\n", prereqs[i].commit);
        json_t *p = json_pack("{s:s}", "commit", prereqs[i].commit);
        if (prereqs[i].manifest)
            json_object_set_new(p, "manifest", json_string(prereqs[i].manifest));
        if (prereqs[i].url)
            json_object_set_new(p, "url", json_string(prereqs[i].url));
        json_array_append_new(pre, p);
    }
    sw_git_opts_t o = sw_ws_opts(r);
    if (n)
        o.env = s_put_env;
    json_t *blob = NULL;
    int rc = s_stream_put(&o, s_put_args, revs.data, cas, max, cap_name, NULL, &blob, err);
    sw_buf_release(&revs);
    if (rc < 0) {
        json_decref(pre);
        return -1;
    }
    if (pack_bytes)
        *pack_bytes = (uint64_t) json_integer_value(json_object_get(blob, "size"));
    json_t *doc = json_pack("{s:s, s:i, s:s, s:o, s:o}", "kind", "swarm-pack", "v", 1,
                            "commit", commit, "prereqs", pre, "pack", blob);
    rc = s_put_doc(cas, doc, manifest, err);
    json_decref(doc);
    return rc;
}

/*  One of the two streams of sw_ws_put_change. */
typedef struct {
    sw_git_proc_t       p;
    bool                open;
    bool                skip_line;  /*  diff-tree --stdin's "TREE TREE" line comes first */
    sw_cas_writer_t     w;
    sw_ws_patch_stat_t *ps;
} s_pump_t;

static const char *const s_diff_args[] = { "diff-tree", "--stdin", "-p", "--binary",
                                           "--full-index", "-M", NULL };

int
sw_ws_streams_start(const sw_ws_repo_t *r, sw_ws_streams_t *c, sw_err_t *err)
{
    memset(c, 0, sizeof *c);
    sw_git_opts_t o = sw_ws_opts(r), po = o;
    po.env = s_change_env;
    if (sw_git_start(&po, s_change_args, true, true, &c->pack, err) < 0)
        return -1;
    if (sw_git_start(&o, s_diff_args, true, true, &c->diff, err) < 0) {
        sw_err_t ignored = { 0 };
        sw_git_finish(&c->pack, true, NULL, &ignored);
        return -1;
    }
    c->on = c->diff_on = true;
    return 0;
}

void
sw_ws_streams_stop(sw_ws_streams_t *c)
{
    if (!c || !c->on)
        return;
    sw_err_t ignored = { 0 };
    sw_git_finish(&c->pack, true, NULL, &ignored);
    if (c->diff_on)
        sw_git_finish(&c->diff, true, NULL, &ignored);
    c->on = c->diff_on = false;
}

/*  The pack's input: the commit, not its prereqs. */
static void
s_revs(sw_buf_t *revs, const char *commit, const sw_task_ws_t *prereqs, size_t n)
{
    sw_buf_printf(revs, "%s\n", commit);
    for (size_t i = 0; i < n; i++)
        sw_buf_printf(revs, "^%s\n", prereqs[i].commit);
}

int
sw_ws_streams_feed(sw_ws_streams_t *c, const char *commit, bool same_tree,
                   const sw_task_ws_t *prereqs, size_t n, sw_err_t *err)
{
    if (!c->on || c->fed)
        return sw_err_set(err, SW_EFAIL, "git pack-objects and diff-tree are not waiting");
    c->fed = true;
    int rc = 0;
    if (same_tree) {
        sw_err_t ignored = { 0 };
        sw_git_finish(&c->diff, true, NULL, &ignored);
        c->diff_on = false;
    }
    else {
        char *line = xasprintf("%s %s\n", c->base_tree, c->tree);
        rc = sw_git_write(&c->diff, line, strlen(line), err);
        free(line);
        close(c->diff.in_fd);
        c->diff.in_fd = -1;
    }
    sw_buf_t revs;
    sw_buf_init(&revs);
    s_revs(&revs, commit, prereqs, n);
    if (rc == 0)
        rc = sw_git_write(&c->pack, revs.data, revs.len, err);
    close(c->pack.in_fd);
    c->pack.in_fd = -1;
    sw_buf_release(&revs);
    return rc;
}

/*  sw_ws_put_change and sw_ws_put_change_started: with c, its gits (the
 *  patch of c's trees), else two started here (the patch of base to
 *  commit). */
static int
s_put_change(const sw_ws_repo_t *r, sw_cas_t *cas, sw_ws_streams_t *c, const char *base,
             const char *commit, bool same_tree, const sw_task_ws_t *prereqs, size_t n,
             uint64_t max, const char *cap_name, char manifest[65], char patch[65],
             sw_ws_stat_t *st, sw_strv_t *gitlinks, sw_err_t *err)
{
    patch[0] = '\0';
    memset(st, 0, sizeof *st);
    sw_git_opts_t o = sw_ws_opts(r);
    const char *patch_args[] = { "diff-tree", "-p", "--binary", "--full-index", "-M", base,
                                 commit, NULL };
    sw_ws_patch_stat_t ps;
    sw_ws_patch_stat_init(&ps);
    s_pump_t pump[2];
    memset(pump, 0, sizeof pump);
    /*  A stream that never starts (the patch, when the tree is the base's)
     *  must not look open: fd 0 is a real descriptor. */
    pump[0].p.out_fd = pump[1].p.out_fd = -1;
    int rc = 0;
    /*  The chunks and descriptions of a change (a few KB each, usually)
     *  leave in one round trip at the end, not two each. */
    sw_cas_defer(cas, true, NULL);
    if (c && !c->on)
        rc = sw_err_set(err, SW_EFAIL, "git pack-objects and diff-tree are not running");
    else if (c && !c->fed && sw_ws_streams_feed(c, commit, same_tree, prereqs, n, err) < 0)
        rc = -1;
    else if (c) {
        /*  ours now: the pump finishes them */
        pump[0].p = c->pack;
        pump[0].open = true;
        sw_cas_writer_init(&pump[0].w, cas, max, cap_name);
        if (c->diff_on) {
            pump[1].p = c->diff;
            pump[1].open = true;
            pump[1].skip_line = true;
            pump[1].ps = &ps;
            sw_cas_writer_init(&pump[1].w, cas, max, cap_name);
        }
        c->on = c->diff_on = false;
    }
    else {
        /*  Both at once: on two cores the pack's delta search and the
         *  diffs overlap. */
        sw_git_opts_t po = o;
        po.env = s_change_env;
        if (sw_git_start(&po, s_change_args, true, true, &pump[0].p, err) < 0)
            rc = -1;
        else {
            pump[0].open = true;
            sw_cas_writer_init(&pump[0].w, cas, max, cap_name);
            sw_buf_t revs;      /*  the streams' pack was fed its own (sw_ws_streams_feed) */
            sw_buf_init(&revs);
            s_revs(&revs, commit, prereqs, n);
            rc = sw_git_write(&pump[0].p, revs.data, revs.len, err);
            sw_buf_release(&revs);
            close(pump[0].p.in_fd);
            pump[0].p.in_fd = -1;
        }
        if (rc == 0 && !same_tree) {
            if (sw_git_start(&o, patch_args, false, true, &pump[1].p, err) < 0)
                rc = -1;
            else {
                pump[1].open = true;
                pump[1].ps = &ps;
                sw_cas_writer_init(&pump[1].w, cas, max, cap_name);
            }
        }
    }
    char *buf = xmalloc(1 << 16);
    while (rc == 0 && (pump[0].p.out_fd >= 0 || pump[1].p.out_fd >= 0)) {
        struct pollfd pf[2];
        int idx[2], k = 0;
        for (int i = 0; i < 2; i++)
            if (pump[i].open && pump[i].p.out_fd >= 0) {
                pf[k] = (struct pollfd) { pump[i].p.out_fd, POLLIN, 0 };
                idx[k++] = i;
            }
        int64_t left = pump[0].p.deadline_ms - sw_now_ms();
        if (left <= 0) {
            rc = sw_err_set(err, SW_EFAIL, "git pack-objects and diff-tree timed out");
            break;
        }
        int pr = poll(pf, (nfds_t) k, left > 1000 ? 1000 : (int) left);
        if (pr < 0 && errno != EINTR)
            rc = sw_err_set(err, SW_EFAIL, "poll: %s", strerror(errno));
        for (int j = 0; rc == 0 && pr > 0 && j < k; j++) {
            if (!pf[j].revents)
                continue;
            s_pump_t *pm = &pump[idx[j]];
            ssize_t got = read(pm->p.out_fd, buf, 1 << 16);
            const char *data = buf;
            if (got > 0 && pm->skip_line) {
                const char *nl = memchr(buf, '\n', (size_t) got);
                size_t skip = nl ? (size_t) (nl - buf) + 1 : (size_t) got;
                pm->skip_line = nl == NULL;
                data += skip;
                got -= (ssize_t) skip;
                if (got == 0)
                    continue;
            }
            if (got > 0) {
                if (pm->ps)
                    sw_ws_patch_stat_feed(pm->ps, data, (size_t) got);
                rc = sw_cas_writer_add(&pm->w, data, (size_t) got, err);
            }
            else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
                close(pm->p.out_fd);
                pm->p.out_fd = -1;
            }
        }
    }
    free(buf);
    json_t *blobs[2] = { NULL, NULL };
    for (int i = 0; i < 2; i++) {
        if (!pump[i].open)
            continue;
        sw_err_t ferr = { 0 };
        int frc = sw_git_finish(&pump[i].p, rc < 0, NULL, &ferr);
        if (rc == 0 && frc != 0) {
            *err = ferr;
            rc = -1;
        }
        if (rc == 0)
            blobs[i] = sw_cas_writer_finish(&pump[i].w, err);
        else
            sw_cas_writer_release(&pump[i].w);
        if (rc == 0 && !blobs[i])
            rc = -1;
    }
    if (rc == 0) {
        json_t *pre = json_array();
        for (size_t i = 0; i < n; i++) {
            json_t *p = json_pack("{s:s}", "commit", prereqs[i].commit);
            if (prereqs[i].manifest)
                json_object_set_new(p, "manifest", json_string(prereqs[i].manifest));
            if (prereqs[i].url)
                json_object_set_new(p, "url", json_string(prereqs[i].url));
            json_array_append_new(pre, p);
        }
        json_t *doc = json_pack("{s:s, s:i, s:s, s:o, s:O}", "kind", "swarm-pack", "v", 1,
                                "commit", commit, "prereqs", pre, "pack", blobs[0]);
        rc = s_put_doc(cas, doc, manifest, err);
        json_decref(doc);
    }
    if (rc == 0 && blobs[1]) {
        json_object_set_new(blobs[1], "kind", json_string("swarm-patch"));
        rc = s_put_doc(cas, blobs[1], patch, err);
        *st = ps.st;
        for (size_t i = 0; gitlinks && i < ps.gitlinks.n; i++)
            sw_strv_push(gitlinks, ps.gitlinks.v[i]);
    }
    json_decref(blobs[0]);
    json_decref(blobs[1]);
    sw_ws_patch_stat_release(&ps);
    sw_err_t serr = { 0 };
    if (sw_cas_defer(cas, false, &serr) < 0 && rc == 0) {
        *err = serr;
        rc = -1;
    }
    return rc;
}

int
sw_ws_put_change(const sw_ws_repo_t *r, sw_cas_t *cas, const char *base, const char *commit,
                 bool same_tree, const sw_task_ws_t *prereqs, size_t n, uint64_t max,
                 const char *cap_name, char manifest[65], char patch[65], sw_ws_stat_t *st,
                 sw_strv_t *gitlinks, sw_err_t *err)
{
    return s_put_change(r, cas, NULL, base, commit, same_tree, prereqs, n, max, cap_name,
                        manifest, patch, st, gitlinks, err);
}

int
sw_ws_put_change_started(const sw_ws_repo_t *r, sw_cas_t *cas, sw_ws_streams_t *c,
                         const char *commit, bool same_tree, const sw_task_ws_t *prereqs,
                         size_t n, uint64_t max, const char *cap_name, char manifest[65],
                         char patch[65], sw_ws_stat_t *st, sw_strv_t *gitlinks, sw_err_t *err)
{
    int rc = s_put_change(r, cas, c, NULL, commit, same_tree, prereqs, n, max, cap_name,
                          manifest, patch, st, gitlinks, err);
    sw_ws_streams_stop(c);
    return rc;
}

/*  --- self-test: pure parts here; the git parts with a real git --------------------- */

/*  Writes files (NAME=CONTENT, ...) into dir, then a tree of dir through
 *  a temporary index, and a commit of it on the parents. */
static void
s_test_commit(const char *dir, const char *const *files, const char *const *parents, size_t np,
              char out[65])
{
    for (const char *const *f = files; *f; f++) {
        const char *eq = strchr(*f, '=');
        char *path = xasprintf("%s/%.*s", dir, (int) (eq - *f), *f);
        FILE *fp = fopen(path, "w");
        if (fp) {
            fputs(eq + 1, fp);
            fclose(fp);
        }
        free(path);
    }
    char *git = xasprintf("%s/.git", dir), *index = xasprintf("%s/.git/t.index", dir);
    sw_ws_repo_t r = { .git_dir = git, .work_tree = dir, .index_file = index };
    sw_git_opts_t o = sw_ws_opts(&r);
    sw_err_t err = { 0 };
    const char *add[] = { "add", "-A", NULL }, *wt[] = { "write-tree", NULL };
    char tree[65] = "";
    CHECK(sw_git_run(&o, add, NULL, &err) == 0);
    CHECK(s_git_oid(&o, wt, tree, &err) == 0);
    CHECK(sw_ws_commit_tree(&r, tree, parents, np, "t", NULL, NULL, out, &err) == 0);
    free(git);
    free(index);
}

static void
s_test_git(void)
{
    char dir[] = "/tmp/swarm-wstest.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    sw_git_opts_t o = sw_git_opts();
    o.cwd = dir;
    sw_err_t err = { 0 };
    const char *init[] = { "init", "-q", NULL };
    CHECK(sw_git_run(&o, init, NULL, &err) == 0);
    char *git = xasprintf("%s/.git", dir);
    sw_ws_repo_t r = { .git_dir = git };
    char base[65], again[65], left[65], right[65], clash[65], merged[65];
    const char *f0[] = { "a.txt=one\ntwo\nthree\n", "b.txt=b\n", NULL };
    s_test_commit(dir, f0, NULL, 0, base);
    s_test_commit(dir, f0, NULL, 0, again);
    CHECK(strcmp(base, again) == 0);            /*  deterministic */
    const char *fl[] = { "a.txt=ONE\ntwo\nthree\n", NULL };
    const char *pb[] = { base };
    s_test_commit(dir, fl, pb, 1, left);
    const char *fr[] = { "a.txt=one\ntwo\nTHREE\n", "c.txt=new\n", NULL };
    s_test_commit(dir, f0, NULL, 0, again);     /*  back to the base's files */
    s_test_commit(dir, fr, pb, 1, right);
    const char *fc[] = { "a.txt=uno\ntwo\nthree\n", NULL };
    char *c_txt = xasprintf("%s/c.txt", dir);
    unlink(c_txt);
    free(c_txt);
    s_test_commit(dir, fc, pb, 1, clash);
    /*  a commit written without git: git reads it, fsck finds nothing
     *  wrong, and its name is git's for its bytes */
    char ctree[65], wrote[65];
    CHECK(sw_ws_tree(&r, right, ctree, &err) == 0);
    CHECK(sw_ws_commit_write(&r, ctree, base, "swarm agent a:1", "a:1@swarm",
                             "swarm: j/t attempt 1", wrote, &err) == 0);
    CHECK(sw_ws_commit_write(&r, ctree, base, "x<y", "e", "m", again, &err) < 0);
    char *cmd = xasprintf("cd '%s' && test \"$(git cat-file -t %s)\" = commit && "
                          "test \"$(git cat-file commit %s | "
                          "git hash-object -t commit --stdin)\" = "
                          "%s && git fsck --strict --no-dangling 2>&1 | "
                          "grep -Eq '^(error|warning|broken|missing|bad)' && exit 1; "
                          "git rev-parse %s^{tree} | grep -qx %s && git log -1 --format=%%B %s | "
                          "grep -qx 'swarm: j/t attempt 1'", dir, wrote, wrote, wrote, wrote, ctree,
                          wrote);
    CHECK(system(cmd) == 0);
    free(cmd);
    sw_ws_stat_t st;
    sw_strv_t links = { 0 };
    CHECK(sw_ws_diffstat(&r, base, right, &st, &links, &err) == 0);
    CHECK(st.files == 2 && st.insertions == 2 && st.deletions == 1 && links.n == 0);
    const char *two[] = { left, right };
    sw_strv_t conflicts = { 0 };
    CHECK(sw_ws_merge(&r, two, 2, merged, &conflicts, &err) == 0 && conflicts.n == 0);
    char tree[65];
    CHECK(sw_ws_tree(&r, merged, tree, &err) == 0);
    const char *three[] = { left, right, clash };
    CHECK(sw_ws_merge(&r, three, 3, merged, &conflicts, &err) == 1);
    CHECK(conflicts.n == 1 && strcmp(conflicts.v[0], "a.txt") == 0);
    sw_strv_release(&conflicts);
    sw_strv_t oids = { 0 }, missing = { 0 };
    sw_strv_push(&oids, base);
    sw_strv_push(&oids, "0123456789abcdef0123456789abcdef01234567");
    sw_strv_push(&oids, tree);                  /*  a tree is not a commit */
    CHECK(sw_ws_missing(&r, &oids, &missing, &err) == 0 && missing.n == 2);
    CHECK(sw_ws_rev(&r, "0123456789abcdef0123456789abcdef01234567", again, &err) < 0
          && err.code == SW_ENOTFOUND);
    sw_strv_release(&missing);
    /*  A repository without objects (a mirror just made) answers without
     *  git; one that reaches the commit through an alternate, or holds
     *  a pack of it, is not taken for empty. */
    char *empty = xasprintf("%s/e.git", dir);
    char *mk = xasprintf("git init -q --bare '%s'", empty);
    CHECK(system(mk) == 0);
    free(mk);
    sw_ws_repo_t er = { .git_dir = empty };
    char t0[65] = "x";
    CHECK(sw_ws_probe(&er, &oids, &missing, t0, &err) == 0 && missing.n == 3 && !*t0);
    sw_strv_release(&missing);
    char *alt = xasprintf("%s/objects/info/alternates", empty);
    char *objs = xasprintf("%s/objects\n", git);
    FILE *af = fopen(alt, "w");
    CHECK(af && fputs(objs, af) >= 0 && fclose(af) == 0);
    CHECK(sw_ws_probe(&er, &oids, &missing, t0, &err) == 0 && missing.n == 2
          && strcmp(missing.v[0], oids.v[1]) == 0 && sw_git_oid_valid(t0));
    sw_strv_release(&missing);
    unlink(alt);
    mk = xasprintf("cd '%s' && git fetch -q '%s' %s", empty, git, base);
    CHECK(system(mk) == 0);
    free(mk);
    CHECK(sw_ws_missing(&er, &oids, &missing, &err) == 0 && missing.n == 2);
    sw_strv_release(&missing);
    free(alt);
    free(objs);
    free(empty);
    sw_strv_release(&oids);
    sw_strv_release(&links);
    char *rm = xasprintf("rm -rf '%s'", dir);
    CHECK(system(rm) == 0);
    free(rm);
    free(git);
}

/*  A change's pack keeps its deltas against the start in a mirror whose
 *  git gc wrote a bitmap (gc --auto in a bare repository does, git 2.39):
 *  a bitmap walk finds no thin bases, so every blob went whole (a
 *  100-file change: 600 KB and 250 ms instead of 14 KB and 35 ms). Run
 *  with the arguments and environment sw_ws_put_change and sw_ws_put use. */
static void
s_test_thin_bitmap(void)
{
    char dir[] = "/tmp/swarm-wstest.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    /*  64 KiB of lines that deflate poorly; one line more, then a bitmap */
    char *cmd = xasprintf("cd '%s' && git init -q --bare m.git && git init -q w && cd w && "
                          "awk 'BEGIN { x = 7; for (i = 0; i < 4000; i++) { x = (x * 1103 + 12345) "
                          "%% 65521; print i, x, x * 31 %% 9973 } }' >f && git add f && "
                          "git -c user.name=t -c user.email=t@t commit -qm a && echo more >>f && "
                          "git -c user.name=t -c user.email=t@t commit -qam b && "
                          "git push -q ../m.git HEAD:refs/heads/main && cd ../m.git && "
                          "git repack -qadb && ls objects/pack/*.bitmap >/dev/null", dir);
    CHECK(system(cmd) == 0);
    free(cmd);
    char *git = xasprintf("%s/m.git", dir);
    sw_ws_repo_t r = { .git_dir = git };
    sw_git_opts_t o = sw_ws_opts(&r);
    sw_err_t err = { 0 };
    char head[65], start[65];
    CHECK(sw_ws_rev(&r, "main", head, &err) == 0);
    CHECK(sw_ws_rev(&r, "main~1", start, &err) == 0);
    char *revs = xasprintf("%s\n^%s\n", head, start);
    for (int i = 0; i < 2; i++) {
        o.env = i ? s_put_env : s_change_env;
        o.in = revs;
        o.in_len = strlen(revs);
        sw_git_res_t res;
        sw_git_res_init(&res);
        CHECK(sw_git_run(&o, i ? s_put_args : s_change_args, &res, &err) == 0);
        CHECK(res.out.len > 0 && res.out.len < 4096);  /*  whole: 40 KB */
        sw_git_res_release(&res);
    }
    free(revs);
    cmd = xasprintf("rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    free(cmd);
    free(git);
}

int
sw_ws_test(bool verbose)
{
    s_test_git();
    s_test_thin_bitmap();
    (void) verbose;
    return 0;
}
