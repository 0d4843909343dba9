/*  sw_ws -- see sw_ws.h: the options of git in a repository (sw_ws_opts),
 *  and what is stored from it: packs of commits and patches (sw_ws_put,
 *  sw_ws_put_change, sw_ws_patch_put). The repository's commits, trees,
 *  merges and diffstats are in sw_ws_repo.c. */
#include "sw_ws.h"

#include <errno.h>
#include <poll.h>
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

/*  --- self-test: with a real git (the repository's commits: sw_ws_repo.c) ------------ */

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
    s_test_thin_bitmap();
    (void) verbose;
    return 0;
}
