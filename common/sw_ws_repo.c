/*  sw_ws_repo -- a repository's commits through git: names of revisions
 *  and trees (rev-parse, cat-file), which commits it lacks (sw_ws_probe),
 *  commits of trees (commit-tree), merges without a work tree
 *  (merge-tree) and diffstats, see sw_ws.h. The packs and patches stored
 *  from a repository are in sw_ws.c; commits written without git in
 *  sw_ws_commit.c (tested here, beside git's own). */
#include "sw_ws.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sw_selftest.h"

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

/*  --- self-test: with a real git ----------------------------------------------------- */

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

int
sw_ws_repo_test(bool verbose)
{
    s_test_git();
    (void) verbose;
    return 0;
}
