/*  agent_wscapture -- the capture stage of swarm-agent-workspace: after
 *  the task, its worktree becomes a commit on its start, stored as a
 *  manifest with its pack and a binary-safe patch, and the files matching
 *  its output globs are stored by digest. See agent_wshelper.h. */
#include "agent_wsh.h"
#include "agent_wshelper.h"

#include <errno.h>
#include <fcntl.h>
#include <fts.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sw_selftest.h"

#define MAX_OUTPUT_FILES 10000      /*  per task */
#define RESULT_OUTPUTS   1000       /*  listed in the result; all are in the manifest */
#define STAGE_PACK_MIN   16         /*  paths of a change staged into one pack (s_stage) */

/*  --- capture ------------------------------------------------------------------------ */

/*  What the task changed, from one scan of the worktree (`ls-files -t -m
 *  -o`: modified or deleted, and untracked but not ignored, what `git add
 *  -A` would take): the paths to update in upd, the tracked files a
 *  directory replaced (or that are under a directory a symlink or file
 *  replaced) in gone, NUL-separated. A change over max is refused
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

/*  Whether a leading directory of the worktree path p (in the buffer
 *  path, "WT/p") is no directory: a symlink or a file the task put where
 *  a tracked directory was. p is then gone, whatever lstat finds beyond. */
static bool
s_beyond_dir(char *path, size_t wtlen)
{
    for (char *s = strchr(path + wtlen + 1, '/'); s; s = strchr(s + 1, '/')) {
        struct stat sb;
        *s = '\0';
        bool dir = lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
        *s = '/';
        if (!dir)
            return true;
    }
    return false;
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
    /*  git's walk skips a directory it cannot open (unreadable, or past
     *  the fds it has: one open per level) with a warning and exit 0:
     *  the change would be stored without what is in it */
    const char *cant = rc == 0 && res.err.data ? strstr(res.err.data, "could not open directory")
                                               : NULL;
    if (cant)
        rc = sw_err_set(err, SW_EFAIL, "the task's change cannot be captured whole: git %.*s",
                        (int) strcspn(cant, "\n"), cant);
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
        /*  a tracked path under a directory the task made a symlink (or a
         *  file): gone, not a path to add (git refuses it, "beyond a
         *  symbolic link"), and not the size of what the link points at */
        bool beyond = e[0] != '?' && s_beyond_dir(path, strlen(wt));
        bool there = !beyond && lstat(path, &sb) == 0;
        free(path);
        if (beyond || (e[0] == 'C' && there && S_ISDIR(sb.st_mode))) {
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

/*  The new blobs go into ONE pack, not a loose object each: 100 loose
 *  objects cost 100 files, up to 100 directories and a rename each
 *  (150-350 ms of a 100-file capture, most of it in the kernel); a blob
 *  over core.bigFileThreshold is streamed into the pack update-index's
 *  bulk check-in opens for all of them (git 2.37+; a file with a filter or
 *  an eol conversion still goes the loose way, converted as before).
 *  Stored, not deflated (zlib level 0: 14-17 ms less CPU per 100 files
 *  of 15 KB than level 1, on the capture's critical path). git gc reuses
 *  a packed object's bytes as they are, so the pack is marked and the
 *  remover's gc, after the answer, deflates it anew at level 1
 *  (agent_wsstored.c; any gc of the mirror does that first): the mirror
 *  keeps no blob undeflated for good (issue 20 attack, unit.wshelper).
 *  The upload's pack-objects deflates what it sends anew
 *  (--no-reuse-object, sw_ws_put_change), as it did loose objects. No
 *  fsync: the mirror is a cache, and the store, written after, is the
 *  durable copy (loose objects were never fsynced either: core.fsync's
 *  default leaves them out). Only update-index's own git sees these: a
 *  bigFileThreshold in pack-objects would stop its delta search. Only
 *  for STAGE_PACK_MIN paths or more: every pack counts towards git gc
 *  --auto's 50 (a repack of the whole mirror), where a few loose objects
 *  of a small change count towards its 6,700. SW_WS_MALLOC_TUNABLES:
 *  sw_ws.h. docs/design.md, issue 16 (capture speed). */
static const char *const s_stage_env[] = {
    "GIT_CONFIG_COUNT=3",
    "GIT_CONFIG_KEY_0=core.bigFileThreshold", "GIT_CONFIG_VALUE_0=1",
    "GIT_CONFIG_KEY_1=pack.compression", "GIT_CONFIG_VALUE_1=0",
    "GIT_CONFIG_KEY_2=core.fsync", "GIT_CONFIG_VALUE_2=none",
    SW_WS_MALLOC_TUNABLES,
    NULL
};

static const char *const s_upd_args[] = { "update-index", "--add", "--remove", "--replace",
                                          "-z", "--stdin", NULL };

int
agent_wsh_upd_start(const sw_ws_repo_t *t, sw_git_proc_t *p, sw_err_t *err)
{
    sw_git_opts_t so = sw_ws_opts(t);
    so.env = s_stage_env;
    return sw_git_start(&so, s_upd_args, true, false, p, err);
}

/*  An update-index started before the scan, for a change staged into one
 *  pack (s_stage_env): it takes the index's lock and reads the index, then
 *  waits for its paths, so its exec and start run beside the scan. Not
 *  wanted (nothing changed, or too few paths for a pack, or a staging of
 *  another kind): its stdin closed empty, it leaves the index as it was
 *  and gives the lock back (not killed: a killed git may leave its
 *  index.lock behind). */
static void
s_upd_release(sw_git_proc_t *p, bool *on)
{
    if (!*on)
        return;
    close(p->in_fd);
    p->in_fd = -1;
    sw_err_t ignored = { 0 };
    sw_git_finish(p, false, NULL, &ignored);
    *on = false;
}

/*  The change into the index: only the paths the scan found (the index
 *  has the rest already, from the checkout), so the tree is not scanned a
 *  second time; no git at all when nothing changed. --replace: a file in
 *  a directory's place, or the reverse. With early (may be NULL), the
 *  pack's and the patch's gits are started in the mirror mr once the last
 *  staging git runs: they read their work from stdin, so their exec and
 *  start (5-7 ms of CPU a git on the 2-core VMs, most of it page faults)
 *  overlap the staging's hashing instead of following the commit. Only
 *  when the scan found a change: a task that changed nothing starts none.
 *  docs/design.md, issue 16 (i16-cap). 
 *  pre (*pre_on): the update-index started before the scan; used for a
 *  pack's worth of paths, released otherwise. *stored (may be NULL): the
 *  packs of stored blobs it wrote, marked for the deflate after the
 *  answer (agent_wsstored.c). */
/*  The pack's and the patch's gits, unless a standby started them. */
static int
s_early(const sw_ws_repo_t *mr, sw_ws_streams_t *early, sw_err_t *err)
{
    return early->on ? 0 : sw_ws_streams_start(mr, early, err);
}

static int
s_stage(const sw_ws_repo_t *t, const s_change_t *c, const sw_ws_repo_t *mr,
        sw_ws_streams_t *early, sw_git_proc_t *pre, bool *pre_on, int *stored, sw_err_t *err)
{
    sw_git_opts_t o = sw_ws_opts(t);
    size_t paths = 0;
    for (size_t i = 0; i < c->upd.len; i++)
        paths += c->upd.data[i] == '\0';
    bool use_pre = *pre_on && !c->nested && !c->gone.len && paths >= STAGE_PACK_MIN;
    if (!use_pre)
        s_upd_release(pre, pre_on);
    if (c->nested) {
        if (early && s_early(mr, early, err) < 0)
            return -1;
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
    if (!c->upd.len)
        return early && (c->gone.len) ? s_early(mr, early, err) : 0;
    sw_strv_t packs = { 0 };
    if (paths >= STAGE_PACK_MIN) {
        o.env = s_stage_env;
        agent_wsh_packs(t->git_dir, &packs);
    }
    sw_git_proc_t p;
    if (use_pre) {
        p = *pre;
        *pre_on = false;
    }
    else if (sw_git_start(&o, s_upd_args, true, false, &p, err) < 0) {
        sw_strv_release(&packs);
        return -1;
    }
    int rc = early ? s_early(mr, early, err) : 0;
    sw_err_t werr = { 0 }, ferr = { 0 };
    int wrc = rc == 0 ? sw_git_write(&p, c->upd.data, c->upd.len, &werr) : 0;
    close(p.in_fd);
    p.in_fd = -1;
    /*  git's own words first (a started one that found index.lock taken
     *  has exited before its paths were written) */
    sw_git_res_t fres;
    sw_git_res_init(&fres);
    int frc = sw_git_finish(&p, rc < 0, &fres, &ferr);
    /*  A path git refuses on every system (".GIT/config", "git~1/x":
     *  core.protectNTFS is on by default) is skipped with "Ignoring path"
     *  and exit 0: the task's file would be missing from its change
     *  without a word (issue 16 attack, e2e.ws_home). */
    const char *skipped = rc == 0 && frc == 0 && fres.err.data
                        ? strstr(fres.err.data, "Ignoring path ") : NULL;
    if (rc == 0 && frc != 0) {
        *err = ferr;
        rc = -1;
    }
    else if (rc == 0 && wrc < 0) {
        *err = werr;
        rc = -1;
    }
    else if (skipped) {
        skipped += strlen("Ignoring path ");
        rc = sw_err_set(err, SW_EINVAL, "the task wrote '%.*s', a path git refuses to record "
                        "(a .git of some file system): its change cannot be captured whole; "
                        "rename it or remove it in the task", (int) strcspn(skipped, "\n"),
                        skipped);
    }
    sw_git_res_release(&fres);
    /*  the pack it wrote, if any (also when it failed after writing it) */
    if (o.env == s_stage_env) {
        int n = agent_wsh_stored_mark(t->git_dir, &packs);
        if (stored)
            *stored = n;
    }
    sw_strv_release(&packs);
    return rc;
}

/*  The refusal of outputs over the cap max, at the output rel: -1. */
static int
s_over_outputs(uint64_t max, const char *rel, sw_err_t *err)
{
    return sw_err_set(err, SW_EINVAL, "the task's outputs are over the agent's --max-outputs "
                      "%llu bytes (at %s)", (unsigned long long) max, rel);
}

/*  Stores the files below wt matching globs; their manifest's digest in
 *  out, the list (the first RESULT_OUTPUTS) in list. */
static int
s_outputs(agent_wsh_t *h, const char *wt, json_t *globs, uint64_t max, json_t *list,
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
        /*  Refused here by the rule swarm outputs checks, not dropped
         *  (JSON cannot carry a name that is not UTF-8) nor stored to be
         *  refused at the user's end. */
        const char *why = sw_ws_output_problem(rel);
        if (why) {
            char *q = sw_ws_path_quote(rel);
            rc = sw_err_set(err, SW_EINVAL, "output '%s' %s: rename it or narrow the task's "
                            "output globs", q, why);
            free(q);
            break;
        }
        if (json_array_size(files) >= MAX_OUTPUT_FILES) {
            rc = sw_err_set(err, SW_EINVAL, "more than %d files match the task's output globs",
                            MAX_OUTPUT_FILES);
            break;
        }
        /*  Refused from its size before a byte of it is stored: a 5 GB
         *  output under a 1 GiB cap would otherwise leave 1 GiB of chunks
         *  nobody names until they expire. The writer's own cap stays, for
         *  a file that grows while it is read. */
        if (max && total + (uint64_t) e->fts_statp->st_size > max) {
            rc = s_over_outputs(max, rel, err);
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
                s_over_outputs(max, rel, err);
            rc = -1;
            break;
        }
        total += (uint64_t) json_integer_value(json_object_get(blob, "size"));
        if (max && total > max) {
            json_decref(blob);
            rc = s_over_outputs(max, rel, err);
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

int
agent_wsh_capture(agent_wsh_t *h, sw_err_t *err)
{
    json_t *req = h->req;
    const char *wt = agent_wsh_str(req, "worktree"), *index = agent_wsh_str(req, "index"),
               *base = agent_wsh_str(req, "base");
    if (!wt || !index || !sw_git_oid_valid(base))
        return sw_err_set(err, SW_EINVAL, "capture: the request lacks a worktree or base");
    /*  The task's processes are gone: what it made of the path stays. A
     *  worktree it replaced by a symlink (to anywhere: it can reach its
     *  parent) would have that directory captured as its change. */
    if (!agent_wsh_worktree_real(wt))
        return sw_err_set(err, SW_EFAIL, "the worktree %s is no directory any more (the task "
                          "removed it, or made it or a directory above it a symlink or a "
                          "file): nothing of it is captured", wt);
    sw_ws_repo_t t = { .git_dir = h->mirror, .work_tree = wt, .index_file = index,
                       .timeout_ms = h->git_timeout_ms };
    /*  The run's standby died (the agent killed its group): its
     *  update-index may have left the slot's index locked. The index is
     *  the slot's alone and nothing of the standby runs now. */
    if (json_is_true(json_object_get(req, "unlock")))
        agent_wsh_index_unlock(index);
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
    uint64_t max = agent_wsh_u64(req, "max_change");
    /*  Files written in the second the index was (a checkout just before
     *  a short task) are "racily clean": git compares their content on
     *  every read until the index is written in a later second. A refresh
     *  once that second is over compares them once and writes the index,
     *  so this scan, and the reset of the next task here, look at stat
     *  data alone. Before that second is over it would change nothing. */
    struct stat ist;
    char itree[65];
    bool racy = true;
    bool itree_ok = agent_wsh_index_tree(index, strlen(base) / 2, itree, &racy);
    /*  A standby's update-index holds the lock: the standby refreshed
     *  before it started it (agent_wsstandby.c). */
    if (rc == 0 && racy && !h->sb.upd_on && stat(index, &ist) == 0 && time(NULL) > ist.st_mtime) {
        sw_git_opts_t ro = sw_ws_opts(&t);
        const char *refresh[] = { "update-index", "-q", "--refresh", NULL };
        if (sw_git_run(&ro, refresh, NULL, err) != 0)
            rc = -1;
    }
    int64_t t0 = sw_now_ms(), t1 = t0;
    sw_git_proc_t upd;
    bool upd_on = false;
    if (h->sb.upd_on) {
        upd = h->sb.upd;            /*  the standby's, its timeout counted from the hand-over */
        upd_on = true;
        h->sb.upd_on = false;
    }
    if (rc == 0 && !upd_on) {
        sw_err_t ignored = { 0 };
        upd_on = agent_wsh_upd_start(&t, &upd, &ignored) == 0;
    }
    s_change_t change = { 0 };
    if (rc == 0)
        rc = s_change_list(&t, wt, max, &change, err);
    sw_ws_streams_t early = h->sb.early;    /*  the standby's, or none yet */
    memset(&h->sb.early, 0, sizeof h->sb.early);
    int stored = 0;
    bool changed = change.upd.len || change.gone.len || change.nested;
    /*  nothing changed: no pack nor patch of a change, as without a standby */
    if (!changed || rc < 0)
        sw_ws_streams_stop(&early);
    if (rc == 0)
        rc = s_stage(&t, &change, &h->r, changed ? &early : NULL, &upd, &upd_on, &stored, err);
    /*  a pack of stored blobs: the remover's gc deflates it (agent_ws.c
     *  queues the repo for it on this answer) */
    if (stored > 0)
        json_object_set_new(h->answer, "gc_due", json_true());
    s_upd_release(&upd, &upd_on);
    s_change_release(&change);
    sw_git_opts_t o = sw_ws_opts(&t);
    char tree[65], base_tree[65], commit[65], manifest[65] = "", patch[65] = "";
    int ntrees = 0;
    /*  Nothing staged: the index names its tree itself (its cache tree,
     *  valid since the checkout) and write-tree would only print it; one
     *  git fewer on every task that changed nothing. */
    if (rc == 0 && !changed && itree_ok) {
        memcpy(tree, itree, sizeof tree);
        agent_wsh_trace("tree from the index", t0);
    }
    /*  The trees written here from the index (its cache tree names every
     *  directory the change did not touch), not by `git write-tree`: one
     *  git fewer. git's when the index is not one this knows for certain
     *  (a gitlink, a conflict, another version: agent_wstree.c). */
    else if (rc == 0 && agent_wsh_write_tree(&t, index, strlen(base) / 2, tree, &ntrees)) {
        char what[64];
        snprintf(what, sizeof what, "tree by the helper (%d new)", ntrees);
        agent_wsh_trace(what, t0);
    }
    else if (rc == 0) {
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
        agent_wsh_write_file(synced, "", 0, 0);
        free(synced);
    }
    const char *known = agent_wsh_str(req, "base_tree");
    if (rc == 0 && sw_git_oid_valid(known))
        snprintf(base_tree, sizeof base_tree, "%s", known);
    else if (rc == 0)
        rc = sw_ws_tree(&h->r, base, base_tree, err);
    json_t *w = NULL;
    sw_ws_stat_t st = { 0 };
    bool same = rc == 0 && strcmp(tree, base_tree) == 0;
    if (rc == 0 && same && npre == 1 && strcmp(pre[0].commit, base) == 0) {
        /*  Nothing changed: the result is the start, found where it was. */
        w = agent_wsh_src_json(&pre[0]);
    }
    else if (rc == 0) {
        char *msg = xasprintf("swarm: %s/%s attempt %lld", h->job, h->id,
                              (long long) json_integer_value(json_object_get(req, "attempt")));
        const char *agent = agent_wsh_str(req, "agent") ? agent_wsh_str(req, "agent") : "agent";
        char *email = xasprintf("%s@swarm", agent), *name = xasprintf("swarm agent %s", agent);
        /*  No change on a merged start: the result is the merge itself,
         *  stored (it exists nowhere else). */
        if (same)
            snprintf(commit, sizeof commit, "%s", base);
        else
            rc = sw_ws_commit_write(&h->r, tree, base, name, email, msg, commit, err);
        free(msg);
        free(email);
        free(name);
        /*  The pack and the patch at once; a submodule the task left shows
         *  in the patch (mode 160000) and fails the capture. */
        sw_strv_t links = { 0 };
        agent_wsh_trace("commit", t0);
        t1 = sw_now_ms();
        /*  The pack's and the patch's gits work while Redis connects. */
        snprintf(early.base_tree, sizeof early.base_tree, "%s", base_tree);
        snprintf(early.tree, sizeof early.tree, "%s", tree);
        if (rc == 0 && early.on)
            rc = sw_ws_streams_feed(&early, commit, same, pre, npre, err);
        if (rc == 0)
            rc = agent_wsh_redis(h, err);
        if (rc == 0 && early.on) {
            rc = sw_ws_put_change_started(&h->r, &h->cas, &early, commit, same, pre,
                                          npre, max, "--max-change", manifest, patch, &st,
                                          &links, err);
        }
        else if (rc == 0)
            rc = sw_ws_put_change(&h->r, &h->cas, base, commit, same, pre, npre, max,
                                  "--max-change", manifest, patch, &st, &links, err);
        if (rc == 0 && links.n)
            rc = sw_err_set(err, SW_EINVAL, "the task left a git repository at %s: a "
                            "submodule cannot be captured (remove it or ignore it)", links.v[0]);
        sw_strv_release(&links);
        if (rc < 0 && strstr(err->msg, "--max-change"))
            err->code = SW_EINVAL;
        agent_wsh_trace("upload", t1);
        t1 = sw_now_ms();
        if (rc == 0) {
            int lock = agent_ws_lock(h->mirrors, h->repo, "lock", LOCK_EX);
            sw_strv_t pins = { 0 };
            sw_strv_push(&pins, commit);
            rc = agent_wsh_pin(h, &pins, false, false, err);
            sw_strv_release(&pins);
            if (lock >= 0)
                close(lock);
            agent_wsh_trace("pin", t1);
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
    sw_ws_streams_stop(&early);
    json_t *globs = json_object_get(req, "outputs");
    if (rc == 0 && json_array_size(globs)) {
        json_t *list = json_array();
        char digest[65];
        rc = agent_wsh_redis(h, err);
        if (rc == 0)
            rc = s_outputs(h, wt, globs, agent_wsh_u64(req, "max_outputs"), list, digest, err);
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
    agent_wsh_trace("capture", t0);
    if (rc == 0 && json_is_true(json_object_get(req, "remove"))) {
        /*  Moved aside (one rename) when the agent named a place: its
         *  remover takes it once the result is on its way; the slot's
         *  next task makes its worktree afresh, never in this one. */
        int64_t tr = sw_now_ms();
        const char *trash = agent_wsh_str(req, "trash");
        if (trash && rename(wt, trash) == 0)
            json_object_set_new(h->answer, "trashed", json_true());
        else
            agent_ws_rmrf(wt);
        unlink(index);
        agent_wsh_trace("remove", tr);
    }
    for (size_t i = 0; i < npre; i++)
        sw_task_ws_release(&pre[i]);
    free(pre);
    return rc;
}

/*  A change of STAGE_PACK_MIN paths or more, staged into one pack: the
 *  same tree as `git add -A` (an eol conversion .gitattributes asks for,
 *  a symlink, an executable, a deletion, a name that is not UTF-8, an
 *  empty file), and no loose object but the three git stores loose
 *  itself (the converted file, the symlink, the empty blob). */
static int
s_capture_pack_test(const char *dir)
{
    char *cmd = xasprintf("cd '%s' && git init -q p && cd p && for i in $(seq 30); do "
                          "echo \"file $i\" >f$i; done && echo '*.txt text' >.gitattributes && "
                          "git add -A && git -c user.name=t -c user.email=t@t commit -qm base && "
                          "git repack -qad && cp .git/index ../p0 && "
                          "for i in $(seq 20); do echo \"more $i\" >>f$i; done && "
                          "printf 'a\\r\\nb\\r\\n' >crlf.txt && ln -s f1 lnk && "
                          "echo x >exe && chmod +x exe && rm f30 && printf 'n\\377' >\"$(printf "
                          "'bad\\377')\" && : >empty && head -c 65536 /dev/zero | tr '\\0' a "
                          ">big && cp ../p0 ../pA && cp ../p0 ../pB && "
                          "GIT_INDEX_FILE=../pA git add -A", dir);
    CHECK(system(cmd) == 0);
    free(cmd);
    char *p = xasprintf("%s/p", dir), *pgit = xasprintf("%s/p/.git", dir);
    char *ia = xasprintf("%s/pA", dir), *ib = xasprintf("%s/pB", dir);
    sw_ws_repo_t ra = { .git_dir = pgit, .work_tree = p, .index_file = ia },
                 rb = { .git_dir = pgit, .work_tree = p, .index_file = ib };
    /*  the loose objects `git add -A` wrote: gone, so the count below is
     *  the staging's own (and it writes them again) */
    cmd = xasprintf("cd '%s/p/.git/objects' && rm -rf ??", dir);
    CHECK(system(cmd) == 0);
    free(cmd);
    s_change_t ch = { 0 };
    sw_err_t err = { 0 };
    sw_git_opts_t so = sw_ws_opts(&rb);
    so.env = s_stage_env;
    sw_git_proc_t pre;
    /*  i26-attack (held): one started before the scan that found the
     *  index locked has exited before its paths are written: git's words
     *  come back, and no SIGPIPE (the helper runs with it at its default,
     *  as here; the write sees the pipe's error in poll first) */
    {
        char *lock = xasprintf("%s.lock", ib);
        int lfd = open(lock, O_CREAT | O_EXCL | O_WRONLY, 0600);
        CHECK(lfd >= 0);
        close(lfd);
        struct sigaction dfl = { .sa_handler = SIG_DFL }, was;
        sigemptyset(&dfl.sa_mask);
        sigaction(SIGPIPE, &dfl, &was);
        bool on = sw_git_start(&so, s_upd_args, true, false, &pre, &err) == 0;
        CHECK(on);
        usleep(200000);                         /*  it has found the lock and gone */
        CHECK(s_change_list(&rb, p, 1 << 20, &ch, &err) == 0);
        CHECK(s_stage(&rb, &ch, NULL, NULL, &pre, &on, NULL, &err) < 0
              && strstr(err.msg, "Unable to create") && strstr(err.msg, ".lock"));
        CHECK(!on);
        sigaction(SIGPIPE, &was, NULL);
        s_change_release(&ch);
        unlink(lock);
        free(lock);
        memset(&err, 0, sizeof err);
    }
    /*  with the update-index started before the scan, as the capture does */
    bool pre_on = sw_git_start(&so, s_upd_args, true, false, &pre, &err) == 0;
    CHECK(pre_on);
    CHECK(s_change_list(&rb, p, 1 << 20, &ch, &err) == 0);
    CHECK(s_stage(&rb, &ch, NULL, NULL, &pre, &pre_on, NULL, &err) == 0);
    CHECK(!pre_on);
    s_change_release(&ch);
    cmd = xasprintf("cd '%s/p/.git/objects' && test $(ls pack | grep -c '[.]pack$') = 2 && "
                    "test $(find ?? -type f 2>/dev/null | wc -l) = 3", dir);
    CHECK(system(cmd) == 0);
    free(cmd);
    /*  issue 20 attack: git gc reuses a packed object's bytes as they are
     *  (no --no-reuse-object), so a blob the staging stored undeflated
     *  would stay so in the mirror for good. The staging's pack is
     *  marked, and the deflate (the remover's gc) packs it anew: 64 KiB
     *  of one letter, stored, then well under 4 KiB; still two packs */
    cmd = xasprintf("cd '%s/p' && test $(git hash-object big | git cat-file "
                    "--batch-check='%%(objectsize:disk)') -gt 65536 && "
                    "test $(ls .git/swarm-stored | wc -l) = 1", dir);
    CHECK(system(cmd) == 0);
    free(cmd);
    CHECK(agent_wsh_stored_deflate(&rb, &err) == 0);
    cmd = xasprintf("cd '%s/p' && test $(git hash-object big | git cat-file "
                    "--batch-check='%%(objectsize:disk)') -lt 4096 && "
                    "test $(ls .git/objects/pack | grep -c '[.]pack$') = 2 && "
                    "test -z \"$(ls .git/swarm-stored)\"", dir);
    CHECK(system(cmd) == 0);
    free(cmd);
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
    free(p);
    free(pgit);
    free(ia);
    free(ib);
    return 0;
}

int
agent_wsh_capture_test(const char *dir)
{
    /*  the capture's staging from one scan takes what `git add -A` takes:
     *  a file made a directory and the reverse, a symlink made a file, an
     *  executable bit dropped, a tracked file that is ignored now, new
     *  files deep down, an empty directory and ignored files left out */
    char *cmd = xasprintf("cd '%s' && git init -q u && cd u && mkdir d && echo a >a && echo b >d/b && "
                    "echo c >c && ln -s a lnk && echo x >exe && chmod +x exe && "
                    "echo 'ign*' >.gitignore && echo t >ign_tracked && git add -A && "
                    "git add -f ign_tracked && cp .git/index ../i0 && rm a && mkdir a && "
                    "echo in >a/x && rm -r d && echo f >d && echo c2 >>c && rm lnk && "
                    "echo nl >lnk && chmod -x exe && echo n >new && echo i >ign_new && "
                    "echo t2 >>ign_tracked && mkdir -p deep/er empty && echo z >deep/er/z && "
                    "cp ../i0 ../iA && cp ../i0 ../iB && GIT_INDEX_FILE=../iA git add -A", dir);
    CHECK(system(cmd) == 0);
    free(cmd);
    char *u = xasprintf("%s/u", dir), *ugit = xasprintf("%s/u/.git", dir);
    char *ia = xasprintf("%s/iA", dir), *ib = xasprintf("%s/iB", dir);
    sw_ws_repo_t ra = { .git_dir = ugit, .work_tree = u, .index_file = ia },
                 rb = { .git_dir = ugit, .work_tree = u, .index_file = ib };
    s_change_t ch = { 0 };
    sw_err_t err = { 0 };
    CHECK(s_change_list(&rb, u, 1 << 20, &ch, &err) == 0);
    /*  a (a directory now) and d/b (d is a file now: gone, not added) */
    CHECK(!ch.nested && ch.gone.len == 6 && memcmp(ch.gone.data, "a\0d/b\0", 6) == 0);
    /*  one started before the scan is given back unused (a file gone
     *  first), and its lock with it */
    sw_git_opts_t so = sw_ws_opts(&rb);
    so.env = s_stage_env;
    sw_git_proc_t pre;
    bool pre_on = sw_git_start(&so, s_upd_args, true, false, &pre, &err) == 0;
    CHECK(pre_on);
    CHECK(s_stage(&rb, &ch, NULL, NULL, &pre, &pre_on, NULL, &err) == 0);
    CHECK(!pre_on);
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
    /*  the tree the capture reads from the index instead of write-tree:
     *  none after a staging (the cache tree is invalid), the same as
     *  write-tree's once it wrote the index; and none from a file that is
     *  not an index */
    char itree[65];
    bool racy = false;
    CHECK(agent_wsh_index_tree(ib, 20, itree, &racy) && strcmp(itree, trees[1]) == 0);
    cmd = xasprintf("cd '%s/u' && echo more >>c && GIT_INDEX_FILE=../iB git add c", dir);
    CHECK(system(cmd) == 0);
    free(cmd);
    CHECK(!agent_wsh_index_tree(ib, 20, itree, &racy));
    CHECK(!agent_wsh_index_tree(ugit, 20, itree, &racy) && racy);
    cmd = xasprintf("cd '%s'", dir);
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
    CHECK(s_capture_pack_test(dir) == 0);
    return 0;
}
