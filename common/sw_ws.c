/*  sw_ws -- see sw_ws.h */
#include "sw_ws.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
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

int
sw_ws_probe(const sw_ws_repo_t *r, const sw_strv_t *oids, sw_strv_t *missing, char tree0[65],
            sw_err_t *err)
{
    if (tree0)
        tree0[0] = '\0';
    if (oids->n == 0)
        return 0;
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

void
sw_ws_numstat_parse(const char *out, size_t n, sw_ws_stat_t *st)
{
    memset(st, 0, sizeof *st);
    const char *p = out, *end = out + n;
    while (p < end) {
        const char *rec = p;
        p += strnlen(p, (size_t) (end - p)) + 1;
        const char *t1 = strchr(rec, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        if (!t2)
            continue;
        st->files++;
        if (rec[0] != '-') {
            st->insertions += atol(rec);
            st->deletions += atol(t1 + 1);
        }
        if (t2[1] == '\0') {    /*  a rename: the old and the new path follow */
            for (int k = 0; k < 2 && p < end; k++)
                p += strnlen(p, (size_t) (end - p)) + 1;
        }
    }
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

void
sw_ws_patch_stat_init(sw_ws_patch_stat_t *ps)
{
    memset(ps, 0, sizeof *ps);
    ps->bol = true;
}

void
sw_ws_patch_stat_release(sw_ws_patch_stat_t *ps)
{
    free(ps->path);
    sw_strv_release(&ps->gitlinks);
    memset(ps, 0, sizeof *ps);
}

/*  The b/ path of "diff --git a/P b/P" (a path that is not renamed: its
 *  two halves are equal, spaces and all), or NULL. */
static char *
s_header_path(const char *h, size_t n)
{
    const size_t pre = 13, mid = 3;     /*  "diff --git a/", " b/" */
    if (n < pre + mid + 2 || (n - pre - mid) % 2 != 0)
        return NULL;
    size_t len = (n - pre - mid) / 2;
    if (memcmp(h + pre + len, " b/", 3) != 0 || memcmp(h + pre, h + pre + len + mid, len) != 0)
        return NULL;
    return xstrndup(h + pre, len);
}

/*  Classifies the line whose first bytes are in ps->head. */
static void
s_patch_line(sw_ws_patch_stat_t *ps)
{
    const char *h = ps->head;
    if (ps->hlen >= 11 && memcmp(h, "diff --git ", 11) == 0) {
        ps->st.files++;
        ps->in_header = true;       /*  until its first hunk; binary patches have none */
        free(ps->path);
        ps->path = s_header_path(h, ps->hlen);
    }
    else if (ps->in_header && ((ps->hlen >= 20 && memcmp(h, "new file mode 160000", 20) == 0)
                               || (ps->hlen >= 15 && memcmp(h, "new mode 160000", 15) == 0)
                               || (ps->hlen > 6 && memcmp(h, "index ", 6) == 0
                                   && memmem(h, ps->hlen, " 160000", 7)))) {
        bool seen = false;
        const char *p = ps->path ? ps->path : "(a path of the change)";
        for (size_t i = 0; i < ps->gitlinks.n && !seen; i++)
            seen = strcmp(ps->gitlinks.v[i], p) == 0;
        if (!seen)
            sw_strv_push(&ps->gitlinks, p);
    }
    else if (ps->hlen >= 2 && memcmp(h, "@@", 2) == 0)
        ps->in_header = false;
    else if (!ps->in_header && ps->hlen >= 1 && h[0] == '+')
        ps->st.insertions++;
    else if (!ps->in_header && ps->hlen >= 1 && h[0] == '-')
        ps->st.deletions++;
}

void
sw_ws_patch_stat_feed(sw_ws_patch_stat_t *ps, const char *data, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (ps->bol) {
            ps->hlen = 0;
            ps->bol = false;
            ps->done = false;
        }
        if (data[i] == '\n') {
            if (!ps->done)
                s_patch_line(ps);
            ps->bol = true;
            continue;
        }
        if (!ps->done && ps->hlen < sizeof ps->head) {
            ps->head[ps->hlen++] = data[i];
            /*  A header line is kept whole (its path), any other only to
             *  its first bytes. */
            bool header = ps->hlen >= 11 && (memcmp(ps->head, "diff --git ", 11) == 0
                                             || (ps->in_header && ps->head[0] != '-'
                                                 && ps->head[0] != '+'));
            if (ps->hlen == sizeof ps->head || (ps->hlen == 32 && !header)) {
                s_patch_line(ps);
                ps->done = true;
            }
        }
    }
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
    const char *args[] = { "pack-objects", "--stdout", "--thin", "--delta-base-offset",
                           "--revs", "-q", NULL };
    json_t *blob = NULL;
    int rc = s_stream_put(&o, args, revs.data, cas, max, cap_name, NULL, &blob, err);
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
    sw_cas_writer_t     w;
    sw_ws_patch_stat_t *ps;
} s_pump_t;

int
sw_ws_put_change(const sw_ws_repo_t *r, sw_cas_t *cas, const char *base, const char *commit,
                 bool same_tree, const sw_task_ws_t *prereqs, size_t n, uint64_t max,
                 const char *cap_name, char manifest[65], char patch[65], sw_ws_stat_t *st,
                 sw_strv_t *gitlinks, sw_err_t *err)
{
    patch[0] = '\0';
    memset(st, 0, sizeof *st);
    sw_buf_t revs;
    sw_buf_init(&revs);
    sw_buf_printf(&revs, "%s\n", commit);
    for (size_t i = 0; i < n; i++)
        sw_buf_printf(&revs, "^%s\n", prereqs[i].commit);
    sw_git_opts_t o = sw_ws_opts(r);
    const char *pack_args[] = { "pack-objects", "--stdout", "--thin", "--delta-base-offset",
                                "--revs", "-q", NULL };
    const char *patch_args[] = { "diff-tree", "-p", "--binary", "--full-index", "-M", base,
                                 commit, NULL };
    sw_ws_patch_stat_t ps;
    sw_ws_patch_stat_init(&ps);
    s_pump_t pump[2];
    memset(pump, 0, sizeof pump);
    int rc = 0;
    /*  Both at once: on two cores the pack's delta search and the diffs
     *  overlap. */
    if (sw_git_start(&o, pack_args, true, true, &pump[0].p, err) < 0)
        rc = -1;
    else {
        pump[0].open = true;
        sw_cas_writer_init(&pump[0].w, cas, max, cap_name);
        rc = sw_git_write(&pump[0].p, revs.data, revs.len, err);
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
    sw_buf_release(&revs);
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
            if (got > 0) {
                if (pm->ps)
                    sw_ws_patch_stat_feed(pm->ps, buf, (size_t) got);
                rc = sw_cas_writer_add(&pm->w, buf, (size_t) got, err);
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
    return rc;
}

void
sw_ws_manifest_release(sw_ws_manifest_t *m)
{
    free(m->commit);
    json_decref(m->pack);
    for (size_t i = 0; i < m->n; i++)
        sw_task_ws_release(&m->prereqs[i]);
    free(m->prereqs);
    memset(m, 0, sizeof *m);
}

int
sw_ws_manifest_parse(const char *text, size_t len, sw_ws_manifest_t *m, sw_err_t *err)
{
    memset(m, 0, sizeof *m);
    json_t *doc = json_loadb(text, len, 0, NULL);
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    const char *commit = json_string_value(json_object_get(doc, "commit"));
    json_t *pre = json_object_get(doc, "prereqs"), *pack = json_object_get(doc, "pack");
    int rc = 0;
    if (!kind || strcmp(kind, "swarm-pack") != 0 || json_integer_value(json_object_get(doc, "v"))
        != 1 || !sw_git_oid_valid(commit) || !json_is_array(pre) || json_array_size(pre) > 4096)
        rc = sw_err_set(err, SW_EFAIL, "a stored workspace manifest is malformed");
    else if (pack && !json_is_null(pack) && sw_cas_blob_check(pack, err) < 0)
        rc = -1;
    if (rc == 0) {
        m->commit = xstrdup(commit);
        m->pack = pack && !json_is_null(pack) ? json_incref(pack) : NULL;
        m->prereqs = xcalloc(json_array_size(pre) + 1, sizeof *m->prereqs);
        size_t i;
        json_t *p;
        json_array_foreach(pre, i, p) {
            sw_task_ws_t *w = &m->prereqs[m->n];
            json_t *o = json_deep_copy(p);
            json_object_set_new(o, "repo", json_string("x"));
            rc = sw_task_ws_from_json(o, w, err);
            json_decref(o);
            if (rc < 0)
                break;
            m->n++;
        }
    }
    json_decref(doc);
    if (rc < 0)
        sw_ws_manifest_release(m);
    return rc;
}

/*  --- fetch ---------------------------------------------------------------------- */

static int
s_sink_git(void *arg, const void *data, size_t n, sw_err_t *err)
{
    return sw_git_write(arg, data, n, err);
}

/*  Feeds one pack from the store to git index-pack. */
static int
s_index_pack(const sw_ws_repo_t *r, sw_cas_t *cas, const json_t *pack, sw_err_t *err)
{
    sw_git_opts_t o = sw_ws_opts(r);
    const char *args[] = { "index-pack", "--stdin", "--fix-thin", NULL };
    sw_git_proc_t p;
    if (sw_git_start(&o, args, true, false, &p, err) < 0)
        return -1;
    int rc = sw_cas_read(cas, pack, s_sink_git, &p, err);
    sw_err_t ferr = { 0 };
    /*  A chunk refused: index-pack is killed before it writes a pack. */
    int frc = sw_git_finish(&p, rc < 0, NULL, &ferr);
    if (rc == 0 && frc != 0) {
        *err = ferr;
        rc = -1;
    }
    return rc;
}

static int
s_fetch_url(const sw_ws_repo_t *r, const char *url, const char *commit, sw_err_t *err)
{
    sw_git_opts_t o = sw_ws_opts(r);
    o.user_config = true;       /*  the node owner's credentials and URL rewrites */
    const char *env[] = { "GIT_ALLOW_PROTOCOL=file:git:http:https:ssh", NULL };
    o.env = env;
    const char *args[] = { "fetch", "-q", "--no-tags", "--no-write-fetch-head",
                           "--no-recurse-submodules", url, commit, NULL };
    sw_err_t e1 = { 0 };
    if (sw_git_run(&o, args, NULL, &e1) == 0)
        return 0;
    /*  A server that refuses a want by object name: its branches and tags. */
    const char *all[] = { "fetch", "-q", "--no-tags", "--no-write-fetch-head",
                          "--no-recurse-submodules", url,
                          "+refs/heads/*:refs/swarm/remote/heads/*",
                          "+refs/tags/*:refs/swarm/remote/tags/*", NULL };
    if (sw_git_run(&o, all, NULL, err) != 0)
        return sw_err_set(err, SW_EFAIL, "cannot fetch commit %.12s from %s: %s", commit, url,
                          e1.msg);
    sw_strv_t one = { 0 }, missing = { 0 };
    sw_strv_push(&one, commit);
    int rc = sw_ws_missing(r, &one, &missing, err);
    if (rc == 0 && missing.n)
        rc = sw_err_set(err, SW_EINVAL, "cannot fetch commit %.12s from %s: the remote does "
                        "not have it (push it first, or leave out --repo-url)", commit, url);
    sw_strv_release(&one);
    sw_strv_release(&missing);
    return rc;
}

int
sw_ws_fetch(const sw_ws_repo_t *r, sw_cas_t *cas, const sw_task_ws_t *want, size_t n,
            uint64_t max_bytes, const char *cap_name, sw_ws_fetch_stats_t *stats, sw_err_t *err)
{
    sw_ws_fetch_stats_t st = { 0 };
    json_t *seen = json_object();       /*  commit -> true: the visited set */
    json_t *here = json_object();       /*  commits present or brought */
    sw_ws_manifest_t *pending = NULL;   /*  manifests to index, in discovery order */
    size_t npending = 0;
    sw_task_ws_t *level = xcalloc(n + 1, sizeof *level), *next = NULL;
    size_t nlevel = 0, nnext = 0;
    int rc = 0;
    for (size_t i = 0; i < n; i++)
        sw_task_ws_copy(&level[nlevel++], &want[i]);
    /*  Breadth first over the prerequisites, one cat-file per level. */
    while (rc == 0 && nlevel > 0) {
        sw_strv_t oids = { 0 }, missing = { 0 };
        for (size_t i = 0; i < nlevel; i++)
            if (!json_object_get(seen, level[i].commit)) {
                json_object_set_new(seen, level[i].commit, json_true());
                sw_strv_push(&oids, level[i].commit);
            }
        rc = sw_ws_missing(r, &oids, &missing, err);
        for (size_t i = 0; rc == 0 && i < oids.n; i++) {
            bool miss = false;
            for (size_t k = 0; k < missing.n && !miss; k++)
                miss = strcmp(missing.v[k], oids.v[i]) == 0;
            if (!miss)
                json_object_set_new(here, oids.v[i], json_true());
        }
        nnext = 0;
        for (size_t k = 0; rc == 0 && k < missing.n; k++) {
            const sw_task_ws_t *w = NULL;
            for (size_t i = 0; i < nlevel && !w; i++)
                if (strcmp(level[i].commit, missing.v[k]) == 0)
                    w = &level[i];
            if (w->manifest) {
                if (npending >= SW_WS_MAX_MANIFESTS) {
                    rc = sw_err_set(err, SW_EFAIL, "more than %d manifests to fetch",
                                    SW_WS_MAX_MANIFESTS);
                    break;
                }
                sw_buf_t text;
                sw_buf_init(&text);
                sw_ws_manifest_t m;
                rc = sw_cas_get(cas, w->manifest, SW_CAS_DOC_MAX, &text, err);
                if (rc == 0)
                    rc = sw_ws_manifest_parse(text.data, text.len, &m, err);
                sw_buf_release(&text);
                if (rc == 0 && strcmp(m.commit, w->commit) != 0) {
                    rc = sw_err_set(err, SW_EFAIL, "manifest %.12s describes commit %.12s, not "
                                    "%.12s", w->manifest, m.commit, w->commit);
                    sw_ws_manifest_release(&m);
                }
                if (rc < 0)
                    break;
                st.bytes += m.pack ? (uint64_t) json_integer_value(json_object_get(m.pack, "size"))
                                   : 0;
                if (max_bytes && st.bytes > max_bytes) {
                    rc = sw_err_set(err, SW_EFAIL, "the workspace needs more than %s %llu bytes "
                                    "from the store", cap_name ? cap_name : "the cap",
                                    (unsigned long long) max_bytes);
                    sw_ws_manifest_release(&m);
                    break;
                }
                next = xrealloc(next, (nnext + m.n + 1) * sizeof *next);
                for (size_t i = 0; i < m.n; i++) {
                    memset(&next[nnext], 0, sizeof *next);
                    sw_task_ws_copy(&next[nnext++], &m.prereqs[i]);
                }
                pending = xrealloc(pending, (npending + 1) * sizeof *pending);
                pending[npending++] = m;
            }
            else if (w->url) {
                rc = s_fetch_url(r, w->url, w->commit, err);
                st.fetched++;
                if (rc == 0)
                    json_object_set_new(here, w->commit, json_true());
            }
            else
                rc = sw_err_set(err, SW_EFAIL, "commit %.12s is not here and nothing says "
                                "where to get it", w->commit);
        }
        for (size_t i = 0; i < nlevel; i++)
            sw_task_ws_release(&level[i]);
        free(level);
        level = next;
        nlevel = nnext;
        next = NULL;
        nnext = 0;
        sw_strv_release(&oids);
        sw_strv_release(&missing);
    }
    /*  Index what came, each pack after its prerequisites (Kahn: a pass
     *  indexes every manifest whose prerequisites are all here). */
    bool *done = xcalloc(npending + 1, sizeof *done);
    for (size_t left = npending; rc == 0 && left > 0; ) {
        size_t progress = 0;
        for (size_t i = npending; rc == 0 && i-- > 0; ) {
            if (done[i])
                continue;
            bool ready = true;
            for (size_t k = 0; k < pending[i].n && ready; k++)
                ready = json_object_get(here, pending[i].prereqs[k].commit) != NULL;
            if (!ready)
                continue;
            if (pending[i].pack)
                rc = s_index_pack(r, cas, pending[i].pack, err);
            if (rc == 0) {
                json_object_set_new(here, pending[i].commit, json_true());
                done[i] = true;
                st.manifests++;
                progress++;
                left--;
            }
        }
        if (rc == 0 && progress == 0)
            rc = sw_err_set(err, SW_EFAIL, "stored workspace manifests name prerequisites that "
                            "never arrive (a cycle)");
    }
    free(done);
    /*  What was asked for is here now, or it is an error. */
    if (rc == 0) {
        sw_strv_t oids = { 0 }, missing = { 0 };
        for (size_t i = 0; i < n; i++)
            sw_strv_push(&oids, want[i].commit);
        rc = sw_ws_missing(r, &oids, &missing, err);
        if (rc == 0 && missing.n)
            rc = sw_err_set(err, SW_EFAIL, "commit %.12s is still missing after the fetch",
                            missing.v[0]);
        sw_strv_release(&oids);
        sw_strv_release(&missing);
    }
    st.hit = rc == 0 && npending == 0 && st.fetched == 0;
    for (size_t i = 0; i < nlevel; i++)
        sw_task_ws_release(&level[i]);
    free(level);
    for (size_t i = 0; i < nnext; i++)
        sw_task_ws_release(&next[i]);
    free(next);
    for (size_t i = 0; i < npending; i++)
        sw_ws_manifest_release(&pending[i]);
    free(pending);
    json_decref(seen);
    json_decref(here);
    if (stats)
        *stats = st;
    return rc;
}

/*  --- globs and sizes ---------------------------------------------------------------- */

/*  Splits s at '/' into comps (pointers into a copy the caller frees). */
static char *
s_split(const char *s, char ***comps, size_t *n)
{
    char *copy = xstrdup(s);
    size_t cap = 8;
    *comps = xcalloc(cap, sizeof **comps);
    *n = 0;
    for (char *p = copy; p; ) {
        char *slash = strchr(p, '/');
        if (slash)
            *slash = '\0';
        if (*p) {
            if (*n == cap)
                *comps = xrealloc(*comps, (cap *= 2) * sizeof **comps);
            (*comps)[(*n)++] = p;
        }
        p = slash ? slash + 1 : NULL;
    }
    return copy;
}

bool
sw_glob_match(const char *pattern, const char *path)
{
    if (!strchr(pattern, '/')) {
        const char *base = strrchr(path, '/');
        return fnmatch(pattern, base ? base + 1 : path, 0) == 0;
    }
    size_t plen = strlen(pattern);
    char *pat = plen && pattern[plen - 1] == '/' ? xasprintf("%s**", pattern) : xstrdup(pattern);
    char **pc, **sc;
    size_t np, ns;
    char *pcopy = s_split(pat, &pc, &np), *scopy = s_split(path, &sc, &ns);
    /*  row[j]: pattern components i.. match path components j.. */
    bool *row = xcalloc(ns + 1, sizeof *row), *up = xcalloc(ns + 1, sizeof *up);
    up[ns] = true;                      /*  i == np: only the empty rest matches */
    for (size_t i = np; i-- > 0; ) {
        bool any = strcmp(pc[i], "**") == 0;
        for (size_t j = ns + 1; j-- > 0; ) {
            if (any && i == np - 1)     /*  a trailing STARSTAR: one or more */
                row[j] = j < ns && (up[j + 1] || row[j + 1]);
            else if (any)
                row[j] = up[j] || (j < ns && row[j + 1]);
            else
                row[j] = j < ns && up[j + 1] && fnmatch(pc[i], sc[j], 0) == 0;
        }
        bool *t = up;
        up = row;
        row = t;
    }
    bool match = up[0];
    free(row);
    free(up);
    free(pc);
    free(sc);
    free(pcopy);
    free(scopy);
    free(pat);
    return match;
}

bool
sw_globs_match(const sw_strv_t *patterns, const char *path)
{
    for (size_t i = 0; i < patterns->n; i++)
        if (sw_glob_match(patterns->v[i], path))
            return true;
    return false;
}

int
sw_parse_size(const char *s, uint64_t *out)
{
    if (!s || !isdigit((unsigned char) *s))
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return -1;
    int shift = 0;
    switch (toupper((unsigned char) *end)) {
    case '\0': break;
    case 'B': shift = 0; end++; break;
    case 'K': shift = 10; end++; break;
    case 'M': shift = 20; end++; break;
    case 'G': shift = 30; end++; break;
    case 'T': shift = 40; end++; break;
    default: return -1;
    }
    if (shift && (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0))
        end += strlen(end);
    if (*end || (shift && v > (UINT64_MAX >> shift)))
        return -1;
    *out = (uint64_t) v << shift;
    return 0;
}

void
sw_fmt_size(uint64_t n, char out[32])
{
    static const char *const units[] = { "bytes", "KiB", "MiB", "GiB", "TiB" };
    double v = (double) n;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(out, 32, "%llu bytes", (unsigned long long) n);
    else
        snprintf(out, 32, "%.1f %s", v, units[u]);
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
    sw_strv_release(&oids);
    sw_strv_release(&missing);
    sw_strv_release(&links);
    char *rm = xasprintf("rm -rf '%s'", dir);
    CHECK(system(rm) == 0);
    free(rm);
    free(git);
}

int
sw_ws_test(bool verbose)
{
    CHECK(sw_glob_match("*.o", "add.o") && sw_glob_match("*.o", "src/deep/x.o"));
    CHECK(!sw_glob_match("*.o", "add.c") && !sw_glob_match("*.o", "x.o/y"));
    CHECK(sw_glob_match("build/*.o", "build/a.o") && !sw_glob_match("build/*.o", "build/s/a.o"));
    CHECK(!sw_glob_match("build/*.o", "x/build/a.o"));
    CHECK(sw_glob_match("out/**/lib*.a", "out/lib1.a") && sw_glob_match("out/**/lib*.a", "out/x/y/libz.a"));
    CHECK(sw_glob_match("**/*.so", "a/b/c.so") && sw_glob_match("**/*.so", "c.so"));
    CHECK(sw_glob_match("dist/", "dist/a/b") && !sw_glob_match("dist/", "dist"));
    CHECK(sw_glob_match("a/**", "a/x") && !sw_glob_match("a/**", "b/x"));
    CHECK(sw_glob_match("[ab]?.txt", "dir/b1.txt") && !sw_glob_match("[ab]?.txt", "c1.txt"));
    /*  many ** against a deep path: a table, not a search that explodes */
    sw_buf_t deep, pat;
    sw_buf_init(&deep);
    sw_buf_init(&pat);
    for (int i = 0; i < 400; i++) {
        sw_buf_addstr(&deep, "d/");
        sw_buf_addstr(&pat, "**/");
    }
    sw_buf_addstr(&deep, "x.c");
    sw_buf_addstr(&pat, "y.c");
    int64_t t0 = sw_now_ms();
    CHECK(!sw_glob_match(pat.data, deep.data));
    CHECK(sw_now_ms() - t0 < 2000);
    sw_buf_release(&deep);
    sw_buf_release(&pat);

    uint64_t v;
    CHECK(sw_parse_size("100M", &v) == 0 && v == 100ull << 20);
    CHECK(sw_parse_size("2GiB", &v) == 0 && v == 2ull << 30);
    CHECK(sw_parse_size("512k", &v) == 0 && v == 512ull << 10);
    CHECK(sw_parse_size("1048576", &v) == 0 && v == 1048576);
    CHECK(sw_parse_size("1.5G", &v) < 0 && sw_parse_size("", &v) < 0 && sw_parse_size("-1", &v) < 0);
    CHECK(sw_parse_size("99999999999T", &v) < 0 && sw_parse_size("1X", &v) < 0);
    char sz[32];
    sw_fmt_size(1536, sz);
    CHECK(strcmp(sz, "1.5 KiB") == 0);

    /*  the diffstat of a patch, fed in pieces as it streams */
    const char patch[] =
        "diff --git a/a.txt b/a.txt\nindex 1..2 100644\n--- a/a.txt\n+++ b/a.txt\n"
        "@@ -1,2 +1,3 @@\n one\n-two\n+TWO\n+three\n\\ No newline at end of file\n"
        "diff --git a/bin b/bin\nindex 3..4 100644\nGIT binary patch\nliteral 5\n"
        "McmZ?wbaHb300\n\nliteral 0\nHcmV?d00001\n\n"
        "diff --git a/x.sh b/x.sh\nold mode 100644\nnew mode 100755\n"
        "diff --git a/old.c b/new.c\nsimilarity index 100%\nrename from old.c\nrename to new.c\n";
    for (size_t step = 1; step <= 7; step += 3) {
        sw_ws_patch_stat_t ps;
        sw_ws_patch_stat_init(&ps);
        for (size_t off = 0; off < sizeof patch - 1; off += step)
            sw_ws_patch_stat_feed(&ps, patch + off,
                                  off + step < sizeof patch - 1 ? step : sizeof patch - 1 - off);
        CHECK(ps.st.files == 4 && ps.st.insertions == 2 && ps.st.deletions == 1);
        CHECK(ps.gitlinks.n == 0);
        sw_ws_patch_stat_release(&ps);
    }
    /*  a submodule the change adds: named by the header's path */
    const char sub[] = "diff --git a/lib dir/x b/lib dir/x\nnew file mode 160000\n"
                       "index 0000000..1234567\n--- /dev/null\n+++ b/lib dir/x\n@@ -0,0 +1 @@\n"
                       "+Subproject commit 1234567\n";
    sw_ws_patch_stat_t sp;
    sw_ws_patch_stat_init(&sp);
    sw_ws_patch_stat_feed(&sp, sub, sizeof sub - 1);
    CHECK(sp.gitlinks.n == 1 && strcmp(sp.gitlinks.v[0], "lib dir/x") == 0);
    sw_ws_patch_stat_release(&sp);
    const char ns[] = "3\t1\ta.txt\0-\t-\tbin.dat\0" "0\t0\t\0old.c\0new.c\0";
    sw_ws_stat_t st;
    sw_ws_numstat_parse(ns, sizeof ns - 1, &st);
    CHECK(st.files == 3 && st.insertions == 3 && st.deletions == 1);

    sw_err_t err = { 0 };
    sw_ws_manifest_t m;
    const char *good = "{\"kind\":\"swarm-pack\",\"v\":1,\"commit\":\"0123456789abcdef0123456789"
                       "abcdef01234567\",\"prereqs\":[{\"commit\":\"1123456789abcdef0123456789abcd"
                       "ef01234567\",\"url\":\"file:///srv/r.git\"}],\"pack\":null}";
    CHECK(sw_ws_manifest_parse(good, strlen(good), &m, &err) == 0 && m.n == 1 && !m.pack);
    CHECK(m.prereqs[0].url && strcmp(m.prereqs[0].url, "file:///srv/r.git") == 0);
    sw_ws_manifest_release(&m);
    CHECK(sw_ws_manifest_parse("{\"kind\":\"x\"}", 12, &m, &err) < 0);
    CHECK(sw_ws_manifest_parse("not json", 8, &m, &err) < 0);
    s_test_git();
    (void) verbose;
    return 0;
}
