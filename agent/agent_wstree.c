/*  agent_wstree -- the capture's tree, written by the helper from the
 *  index as `git write-tree` writes it (agent_wsh_write_tree, see
 *  agent_wsh.h): one git process fewer on the capture's path.
 *
 *  The index names every entry (mode, object, path, in git's order) and,
 *  in its cache tree (the TREE extension), the tree of every directory
 *  nothing touched since the checkout; the staging invalidated the
 *  directories it changed, up to the root. So only those trees are new:
 *  hashed here from the entries and the valid subtrees, written as loose
 *  objects (as write-tree does), and the index's cache tree is written
 *  back whole (as write-tree does), so that the next prepare and the
 *  capture of a task that changes nothing can read the root there.
 *
 *  Anything this does not know for certain is refused (false) and the
 *  caller runs git: an index of another version or with another
 *  extension, an extended flag (intent to add, skip-worktree), a conflict
 *  stage, a gitlink or another mode, a checksum that does not match, an
 *  empty or unsorted path, a file and a directory of one name. */
#include "agent_wsh.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sw_cas.h"

#define TREE_DEPTH_MAX 256      /*  directory levels this recurses through; a deeper tree
                                    goes to git write-tree (nothing recurses on a
                                    user-sized graph) */

/*  One cache-tree node as read from the TREE extension: start..end are
 *  its bytes there, its subtrees' with them (the extension is in
 *  preorder), so a valid node is copied into the new extension whole. */
typedef struct s_node {
    const char           *name;
    size_t                namelen;
    long                  count;    /*  entries below it; -1: invalid */
    const unsigned char  *oid;      /*  when count >= 0 */
    const unsigned char  *start, *end;
    struct s_node       **down;
    size_t                ndown;
} s_node_t;

typedef struct {
    sw_ws_repo_t r;
    size_t       hashsz;
    const agent_wsh_entry_t *e;     /*  the index's (agent_wsh_index_read) */
    size_t       n;
    int          written;           /*  trees hashed here */
    sw_err_t     err;
} s_ctx_t;

static void
s_unhex(const char *hex, size_t n, unsigned char *out)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (unsigned char) v;
    }
}

static void
s_hex(const unsigned char *raw, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

/*  The file's checksum (SHA-1 or SHA-256 of what precedes it), raw. */
static void
s_checksum(const void *data, size_t len, size_t hashsz, unsigned char *out)
{
    char hex[65];
    if (hashsz == 32)
        sw_sha256_hex(data, len, hex);
    else
        sw_sha1_hex(data, len, hex);
    s_unhex(hex, hashsz, out);
}

static void
s_node_free(s_node_t *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->ndown; i++)
        s_node_free(t->down[i]);
    free(t->down);
    free(t);
}

/*  One node and its subtrees from *pp (git's cache-tree.c read_one:
 *  "NAME\0COUNT SUBTREES\n" and the name when COUNT >= 0). NULL when the
 *  bytes are not that. */
static s_node_t *
s_node_parse(const unsigned char **pp, const unsigned char *end, size_t hashsz, int depth)
{
    const unsigned char *p = *pp;
    if (depth > TREE_DEPTH_MAX || p >= end)
        return NULL;
    const unsigned char *nul = memchr(p, '\0', (size_t) (end - p));
    const unsigned char *nl = nul ? memchr(nul, '\n', (size_t) (end - nul)) : NULL;
    if (!nl || nl - nul - 1 >= 32)
        return NULL;
    char num[32], *q, *q2;
    memcpy(num, nul + 1, (size_t) (nl - nul - 1));
    num[nl - nul - 1] = '\0';
    long count = strtol(num, &q, 10);
    if (q == num || *q != ' ')
        return NULL;
    long subs = strtol(q + 1, &q2, 10);
    if (q2 == q + 1 || *q2 || count < -1 || subs < 0 || subs > 1 << 20)
        return NULL;
    s_node_t *t = xcalloc(1, sizeof *t);
    t->name = (const char *) p;
    t->namelen = (size_t) (nul - p);
    t->count = count;
    t->start = p;
    p = nl + 1;
    if (count >= 0) {
        if ((size_t) (end - p) < hashsz) {
            free(t);
            return NULL;
        }
        t->oid = p;
        p += hashsz;
    }
    t->down = xcalloc((size_t) subs + 1, sizeof *t->down);
    for (long i = 0; i < subs; i++) {
        s_node_t *d = s_node_parse(&p, end, hashsz, depth + 1);
        if (!d) {
            s_node_free(t);
            return NULL;
        }
        t->down[t->ndown++] = d;
    }
    t->end = p;
    *pp = p;
    return t;
}

static s_node_t *
s_node_find(const s_node_t *t, const char *name, size_t len)
{
    for (size_t i = 0; t && i < t->ndown; i++)
        if (t->down[i]->namelen == len && memcmp(t->down[i]->name, name, len) == 0)
            return t->down[i];
    return NULL;
}

/*  A subtree's node, written by s_build, for its parent to sort. */
typedef struct {
    const char *name;
    size_t      namelen;
    sw_buf_t    bytes;
} s_sub_t;

/*  git's subtree_name_cmp: shorter names first, then the bytes. */
static int
s_sub_cmp(const void *a, const void *b)
{
    const s_sub_t *x = a, *y = b;
    if (x->namelen != y->namelen)
        return x->namelen < y->namelen ? -1 : 1;
    return memcmp(x->name, y->name, x->namelen);
}

/*  The tree of the entries from *i on whose path starts with base
 *  (baselen bytes: "" or "DIR/.../"), named name (the last part of base,
 *  "" for the root), ct its node in the old cache tree (NULL: none):
 *  reused when valid, else hashed from its entries and subtrees and
 *  written. Its raw name in oid, *i past its entries, its node (and its
 *  subtrees') appended to out in git's form. 0, or -1 when this cannot
 *  say what git would write (c->err set when an object write failed). */
static int
s_build(s_ctx_t *c, const char *base, size_t baselen, const char *name, size_t namelen,
        const s_node_t *ct, size_t *i, unsigned char *oid, sw_buf_t *out, int depth)
{
    size_t start = *i, j = start;
    while (j < c->n && c->e[j].len > baselen && memcmp(c->e[j].path, base, baselen) == 0)
        j++;
    if (depth > TREE_DEPTH_MAX || (j == start && baselen))
        return -1;
    if (ct && ct->count >= 0 && (size_t) ct->count == j - start) {
        /*  as write-tree: a valid node is believed (the staging
         *  invalidates every directory it touches) */
        memcpy(oid, ct->oid, c->hashsz);
        sw_buf_add(out, ct->start, (size_t) (ct->end - ct->start));
        *i = j;
        return 0;
    }
    sw_buf_t body;
    sw_buf_init(&body);
    s_sub_t *subs = NULL;
    size_t nsubs = 0, cap = 0;
    const char *prev = NULL;
    size_t prevlen = 0;
    int rc = 0;
    for (size_t k = start; rc == 0 && k < j;) {
        const agent_wsh_entry_t *e = &c->e[k];
        const char *rest = e->path + baselen;
        size_t restlen = e->len - baselen;
        const char *slash = memchr(rest, '/', restlen);
        size_t partlen = slash ? (size_t) (slash - rest) : restlen;
        /*  an empty part ("a//b", "a/"), or a name twice (a file and a
         *  directory "a"): not what git's index holds */
        if (partlen == 0 || (prev && prevlen == partlen && memcmp(prev, rest, partlen) == 0)) {
            rc = -1;
            break;
        }
        prev = rest;
        prevlen = partlen;
        if (slash) {
            if (nsubs == cap) {
                cap = cap ? 2 * cap : 8;
                subs = xrealloc(subs, cap * sizeof *subs);
            }
            s_sub_t *s = &subs[nsubs++];
            s->name = rest;
            s->namelen = partlen;
            sw_buf_init(&s->bytes);
            unsigned char soid[32];
            rc = s_build(c, e->path, baselen + partlen + 1, rest, partlen,
                         s_node_find(ct, rest, partlen), &k, soid, &s->bytes, depth + 1);
            if (rc == 0) {
                sw_buf_printf(&body, "40000 %.*s", (int) partlen, rest);
                sw_buf_add(&body, "", 1);
                sw_buf_add(&body, soid, c->hashsz);
            }
            continue;
        }
        /*  a file (100644 or 100755) or a symlink; a gitlink (160000) or
         *  anything else goes to git */
        if (e->mode != 0100644 && e->mode != 0100755 && e->mode != 0120000) {
            rc = -1;
            break;
        }
        sw_buf_printf(&body, "%o %s", (unsigned) e->mode, rest);
        sw_buf_add(&body, "", 1);
        sw_buf_add(&body, e->oid, c->hashsz);
        k++;
    }
    char hex[65];
    if (rc == 0 && sw_ws_object_write(&c->r, "tree", body.data ? body.data : "", body.len,
                                      c->hashsz, hex, &c->err) < 0)
        rc = -1;
    if (rc == 0) {
        c->written++;
        s_unhex(hex, c->hashsz, oid);
        /*  the node as git's write_one writes it, subtrees in its order */
        sw_buf_add(out, name, namelen);
        sw_buf_add(out, "", 1);
        sw_buf_printf(out, "%zu %zu\n", j - start, nsubs);
        sw_buf_add(out, oid, c->hashsz);
        if (nsubs)
            qsort(subs, nsubs, sizeof *subs, s_sub_cmp);
        for (size_t k = 0; k < nsubs; k++)
            sw_buf_add(out, subs[k].bytes.data, subs[k].bytes.len);
        *i = j;
    }
    for (size_t k = 0; k < nsubs; k++)
        sw_buf_release(&subs[k].bytes);
    free(subs);
    sw_buf_release(&body);
    return rc;
}

/*  The index file with its TREE extension replaced by ext (the bytes
 *  before the extensions kept as they are, a new checksum), written under
 *  index.lock and renamed into place with the old file's times: git
 *  judges an entry racily clean by comparing its mtime with the index
 *  file's, and keeping the time keeps that judgement exactly as the
 *  staging left it. Best effort: when it cannot be written, the index
 *  keeps an invalid root and the next prepare asks git (read-tree). */
static void
s_index_rewrite(const char *index, int lock, const char *lockpath, const sw_buf_t *file,
                size_t extoff, const struct stat *old, const sw_buf_t *ext, size_t hashsz)
{
    sw_buf_t nf;
    sw_buf_init(&nf);
    sw_buf_add(&nf, file->data, extoff);
    unsigned char head[8] = { 'T', 'R', 'E', 'E', (unsigned char) (ext->len >> 24),
                              (unsigned char) (ext->len >> 16), (unsigned char) (ext->len >> 8),
                              (unsigned char) ext->len };
    sw_buf_add(&nf, head, sizeof head);
    sw_buf_add(&nf, ext->data, ext->len);
    unsigned char sum[32];
    s_checksum(nf.data, nf.len, hashsz, sum);
    sw_buf_add(&nf, sum, hashsz);
    struct timespec times[2] = { old->st_atim, old->st_mtim };
    bool ok = write(lock, nf.data, nf.len) == (ssize_t) nf.len && fchmod(lock, old->st_mode & 0777) == 0
              && futimens(lock, times) == 0;
    if (close(lock) < 0)
        ok = false;
    if (!ok || rename(lockpath, index) < 0)
        unlink(lockpath);
    sw_buf_release(&nf);
}

int
agent_wsh_write_tree(const sw_ws_repo_t *r, const char *index, size_t hashsz, char tree[65],
                     int *written)
{
    tree[0] = '\0';
    *written = 0;
    if (hashsz != 20 && hashsz != 32)
        return 0;
    /*  the index's lock first, as a git writing it would: nothing changes
     *  it between the read and the rename (taken: the tree is still
     *  computed, the index left as it is) */
    char *lockpath = xasprintf("%s.lock", index);
    int lock = open(lockpath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    agent_wsh_index_t ix;
    sw_buf_t ext;
    sw_buf_init(&ext);
    s_ctx_t c = { .r = *r, .hashsz = hashsz };
    s_node_t *root = NULL;
    int rc = 0;
    if (!agent_wsh_index_read(index, hashsz, AGENT_WSH_INDEX_SUM, &ix))
        goto done;
    const unsigned char *d = (const unsigned char *) ix.file.data;
    size_t len = ix.end;                        /*  the checksum after */
    unsigned char sum[32];
    s_checksum(d, len, hashsz, sum);
    if (memcmp(sum, d + len, hashsz) != 0)
        goto done;
    c.e = ix.e;
    c.n = ix.n;
    size_t off = ix.ext;
    size_t extoff = off;
    while (off < len) {
        if (off + 8 > len || agent_wsh_be32(d + off + 4) > len - off - 8)
            goto done;
        size_t elen = agent_wsh_be32(d + off + 4);
        if (memcmp(d + off, "TREE", 4) != 0 || root)
            goto done;          /*  another extension: git's to write */
        const unsigned char *p = d + off + 8;
        root = s_node_parse(&p, p + elen, hashsz, 0);
        if (!root || p != d + off + 8 + elen || root->namelen)
            goto done;
        off += 8 + elen;
    }
    unsigned char oid[32];
    size_t at = 0;
    if (s_build(&c, "", 0, "", 0, root, &at, oid, &ext, 0) < 0 || at != c.n)
        goto done;
    s_hex(oid, hashsz, tree);
    *written = c.written;
    rc = 1;
    if (lock >= 0 && c.written) {
        s_index_rewrite(index, lock, lockpath, &ix.file, extoff, &ix.st, &ext, hashsz);
        lock = -1;
    }
done:
    if (lock >= 0) {
        close(lock);
        unlink(lockpath);
    }
    if (!rc)
        tree[0] = '\0';
    s_node_free(root);
    agent_wsh_index_release(&ix);
    free(lockpath);
    sw_buf_release(&ext);
    return rc;
}

/*  --- test ---------------------------------------------------------------------------- */

#include "sw_selftest.h"

/*  The tree and the index agent_wsh_write_tree writes from DIR/NAME.iA,
 *  against `git write-tree` from a copy (DIR/NAME.iB): the same tree
 *  name, the same index bytes (so the same cache tree), the index's
 *  mtime kept, the objects sound (fsck --strict), and once written the
 *  root is reused (nothing new). */
static void
s_tree_same(const char *dir, const char *name, size_t hashsz)
{
    char *git = xasprintf("%s/%s/.git", dir, name), *ia = xasprintf("%s/%s.iA", dir, name);
    char *cmd = xasprintf("cd '%s/%s' && cp ../%s.iA ../%s.iB && GIT_INDEX_FILE=../%s.iB "
                          "git write-tree >../%s.tree", dir, name, name, name, name, name);
    CHECK(system(cmd) == 0);
    free(cmd);
    sw_ws_repo_t r = { .git_dir = git };
    struct stat before, after;
    CHECK(stat(ia, &before) == 0);
    char tree[65], again[65];
    int written = 0;
    CHECK(agent_wsh_write_tree(&r, ia, hashsz, tree, &written) == 1 && written > 0);
    CHECK(stat(ia, &after) == 0 && after.st_mtim.tv_sec == before.st_mtim.tv_sec
          && after.st_mtim.tv_nsec == before.st_mtim.tv_nsec);
    cmd = xasprintf("cd '%s/%s' && test \"$(cat ../%s.tree)\" = %s && cmp ../%s.iA ../%s.iB || "
                    "exit 1; git fsck --strict --no-dangling 2>&1 | grep -Eq "
                    "'^(error|warning|broken|missing|bad)' && exit 1; "
                    "test \"$(git cat-file -t %s)\" = tree", dir, name, name, tree, name, name,
                    tree);
    CHECK(system(cmd) == 0);
    free(cmd);
    CHECK(agent_wsh_write_tree(&r, ia, hashsz, again, &written) == 1 && written == 0
          && strcmp(again, tree) == 0);
    free(git);
    free(ia);
}

/*  The index as a staging leaves it (git add -A from the checkout's
 *  index) for a change of every kind the brief names, in a repository
 *  of format fmt ("sha1" or "sha256"), and the same checks as the
 *  capture's; then indexes it must refuse (git writes those). */
static void
s_tree_case(const char *dir, const char *fmt, size_t hashsz)
{
    char *cmd = xasprintf(
        "cd '%s' && git init -q --object-format=%s %s && cd %s && "
        "mkdir -p 'a b/c' d/e/f/g x y z a \"$(printf 'n\\303\\251')\" && "
        "echo 1 >'a b/c/file one' && echo 2 >a-b && echo 3 >a.c && echo 4 >a/x && "
        "echo 5 >a0 && echo 6 >d/e/f/g/deep && "
        "printf 'x\\377' >\"$(printf 'n\\303\\251/caf\\303\\251 \\377')\" && : >empty && "
        "echo exe >exe && chmod +x exe && ln -s a.c lnk && echo y >x/1 && echo y >y/1 && "
        "echo z >z/1 && echo z2 >z/2 && git add -A && "
        "git -c user.name=t -c user.email=t@t commit -qm base && cp .git/index ../%s.i0 && "
        /*  the change: an edit deep down, a directory gone whole, one
         *  left empty by its last file's delete, a delete beside a file
         *  kept, a directory made a file and a file made a directory,
         *  chmod -x, a symlink moved, new names with spaces and bytes
         *  that are not ASCII, an empty directory (not in a tree) */
        "echo more >>'a b/c/file one' && rm -r y && rm d/e/f/g/deep && rm z/1 && "
        "rm -r x && echo f >x && rm a0 && mkdir a0 && echo in >a0/in && chmod -x exe && "
        "rm lnk && ln -s a-b lnk && mkdir -p \"new dir/$(printf '\\303\\274 \\377')\" emptydir && "
        "echo n >\"new dir/$(printf '\\303\\274 \\377')/f i\" && echo bc >'b c' && "
        "cp ../%s.i0 ../%s.iA && GIT_INDEX_FILE=../%s.iA git add -A",
        dir, fmt, fmt, fmt, fmt, fmt, fmt, fmt);
    CHECK(system(cmd) == 0);
    free(cmd);
    s_tree_same(dir, fmt, hashsz);
    /*  a few files changed: most of the cache tree reused */
    cmd = xasprintf("cd '%s/%s' && cp ../%s.iA ../%s.i1 && echo again >>'b c' && "
                    "echo deep >>\"new dir/$(printf '\\303\\274 \\377')/f i\" && cp ../%s.i1 "
                    "../%s.iA && GIT_INDEX_FILE=../%s.iA git add -A", dir, fmt, fmt, fmt, fmt,
                    fmt, fmt);
    CHECK(system(cmd) == 0);
    free(cmd);
    s_tree_same(dir, fmt, hashsz);
    /*  an index with no cache tree: every tree hashed here */
    cmd = xasprintf("cd '%s/%s' && rm -f ../%s.iA && GIT_INDEX_FILE=../%s.iA git add -A",
                    dir, fmt, fmt, fmt);
    CHECK(system(cmd) == 0);
    free(cmd);
    s_tree_same(dir, fmt, hashsz);
    /*  and the commit written without git on it, in this format too:
     *  git reads it, its name is git's for its bytes, fsck is content */
    cmd = xasprintf("cd '%s/%s' && git rev-parse HEAD >../%s.head", dir, fmt, fmt);
    CHECK(system(cmd) == 0);
    free(cmd);
    {
        char *hf = xasprintf("%s/%s.head", dir, fmt), *gd = xasprintf("%s/%s/.git", dir, fmt);
        char head[65] = "", tr[65] = "", commit[65] = "";
        FILE *fp = fopen(hf, "r");
        CHECK(fp && fscanf(fp, "%64s", head) == 1);
        if (fp)
            fclose(fp);
        char *tf = xasprintf("%s/%s.tree", dir, fmt);
        fp = fopen(tf, "r");
        free(tf);
        sw_ws_repo_t cr = { .git_dir = gd };
        sw_err_t err = { 0 };
        CHECK(fp && fscanf(fp, "%64s", tr) == 1);
        if (fp)
            fclose(fp);
        CHECK(strlen(head) == 2 * hashsz && strlen(tr) == 2 * hashsz);
        CHECK(sw_ws_commit_write(&cr, tr, head, "swarm agent a", "a@swarm", "swarm: j/t attempt 1",
                                 commit, &err) == 0 && strlen(commit) == 2 * hashsz);
        cmd = xasprintf("cd '%s/%s' && test \"$(git cat-file commit %s | git hash-object -t "
                        "commit --stdin)\" = %s && git rev-parse %s^{tree} | grep -qx %s || "
                        "exit 1; git fsck --strict --no-dangling 2>&1 | grep -Eq "
                        "'^(error|warning|broken|missing|bad)' && exit 1; true", dir, fmt,
                        commit, commit, commit, tr);
        CHECK(system(cmd) == 0);
        free(cmd);
        free(hf);
        free(gd);
    }
    /*  refused (0, the index untouched): an intent-to-add entry, a
     *  gitlink, a damaged byte, an index of version 4 */
    char *git = xasprintf("%s/%s/.git", dir, fmt), *ia = xasprintf("%s/%s.iA", dir, fmt);
    sw_ws_repo_t r = { .git_dir = git };
    char tree[65];
    int written = 0;
    const char *bad[] = {
        "echo n >itna && GIT_INDEX_FILE=$I git add -N itna",
        "GIT_INDEX_FILE=$I git update-index --add --cacheinfo 160000,$(git rev-parse HEAD),sub",
        "printf X | dd of=$I bs=1 seek=100 conv=notrunc 2>/dev/null",
        "GIT_INDEX_FILE=$I git update-index --index-version 4",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cmd = xasprintf("cd '%s/%s' && I=../%s.iA && rm -f $I itna && GIT_INDEX_FILE=$I git "
                        "add -A && %s && cp $I ../%s.iC", dir, fmt, fmt, bad[i], fmt);
        CHECK(system(cmd) == 0);
        free(cmd);
        CHECK(agent_wsh_write_tree(&r, ia, hashsz, tree, &written) == 0 && !tree[0]);
        cmd = xasprintf("cmp '%s/%s.iA' '%s/%s.iC' && ! test -e '%s/%s.iA.lock'", dir, fmt, dir,
                        fmt, dir, fmt);
        CHECK(system(cmd) == 0);
        free(cmd);
    }
    free(git);
    free(ia);
}

int
agent_wsh_tree_test(const char *dir)
{
    s_tree_case(dir, "sha1", 20);
    s_tree_case(dir, "sha256", 32);
    return 0;
}
