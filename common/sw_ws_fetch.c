/*  sw_ws_fetch -- commits brought into a repository from the store or a
 *  URL (sw_ws_fetch in sw_ws.h). */
#include "sw_ws.h"

#include <stdlib.h>
#include <string.h>

/*  --- fetch ---------------------------------------------------------------------- */

static int
s_sink_feed(void *arg, const void *data, size_t n, sw_err_t *err)
{
    return sw_git_feed_put(arg, data, n, err);
}

/*  Feeds one pack from the store to git index-pack: written by a thread
 *  (sw_git_feed), so the next chunk comes from Redis while index-pack
 *  reads this one. */
static int
s_index_pack(const sw_ws_repo_t *r, sw_cas_t *cas, const json_t *pack, sw_err_t *err)
{
    sw_git_opts_t o = sw_ws_opts(r);
    const char *args[] = { "index-pack", "--stdin", "--fix-thin", NULL };
    sw_git_proc_t p;
    if (sw_git_start(&o, args, true, false, &p, err) < 0)
        return -1;
    sw_git_feed_t *feed = sw_git_feed_start(&p, err);
    int rc = feed ? sw_cas_read(cas, pack, s_sink_feed, feed, err) : -1;
    /*  A chunk refused: index-pack is killed before it writes a pack. */
    sw_err_t werr = { 0 }, ferr = { 0 };
    if (sw_git_feed_end(&feed, rc < 0, &werr) < 0 && rc == 0) {
        *err = werr;
        rc = -1;
    }
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
    /*  --no-auto-maintenance: a gc of the mirror is the agent's, after
     *  the capture's stored packs are deflated (agent_wsstored.c); git's
     *  own would keep their bytes as they are. */
    const char *args[] = { "fetch", "-q", "--no-tags", "--no-write-fetch-head",
                           "--no-recurse-submodules", "--no-auto-maintenance", url, commit, NULL };
    sw_err_t e1 = { 0 };
    if (sw_git_run(&o, args, NULL, &e1) == 0)
        return 0;
    /*  A server that refuses a want by object name: its branches and tags. */
    const char *all[] = { "fetch", "-q", "--no-tags", "--no-write-fetch-head",
                          "--no-recurse-submodules", "--no-auto-maintenance", url,
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
        rc = sw_ws_probe(r, &oids, &missing, st.tree, err);
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
