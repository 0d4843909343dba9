/*  sw_ws_parse -- the parts of sw_ws.h without I/O: diffstats read from
 *  git's output and from a patch as it streams, manifests, globs, sizes. */
#include "sw_ws.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "sw_selftest.h"

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

int
sw_ws_parse_test(bool verbose)
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
    (void) verbose;
    return 0;
}
