/*  agent_wsclean -- what the prepare learns from the agent's own index
 *  file without git (agent_wsh.h): the paths it tracks, its cache tree's
 *  root, whether an entry is racily clean as git judges it, and whether
 *  `git clean -ffdx` would find anything to remove in a worktree.
 */
#include "agent_wsh.h"
#include "agent_wshelper.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sw_selftest.h"



void
agent_wsh_tracked_release(agent_wsh_tracked_t *t)
{
    agent_wsh_index_release(&t->ix);
}

bool
agent_wsh_tracked_read(const char *index, size_t hashsz, agent_wsh_tracked_t *t)
{
    t->tree[0] = '\0';
    t->racy = false;
    if (!agent_wsh_index_read(index, hashsz, AGENT_WSH_INDEX_EXTENDED, &t->ix))
        return false;
    unsigned char *d = (unsigned char *) t->ix.file.data;
    size_t len = t->ix.file.len;
    /*  git's racy test (is_racy_stat) in whole seconds: Debian's git
     *  records nanoseconds in the index but is built without
     *  USE_NSEC, so it compares only seconds (unit.wshelper asks the
     *  installed git) */
    for (size_t i = 0; i < t->ix.n; i++)
        if ((int64_t) t->ix.e[i].mtime_s >= (int64_t) t->ix.st.st_mtime)
            t->racy = true;
    size_t off = t->ix.ext;
    /*  the extensions, before the checksum: TREE's first entry is the
     *  root ("" NUL, "COUNT SUBTREES\n", the name when COUNT >= 0) */
    while (off + 8 + hashsz <= len) {
        size_t ext = agent_wsh_be32(d + off + 4);
        if (ext > len - off - 8)
            break;
        if (memcmp(d + off, "TREE", 4) == 0) {
            const unsigned char *p = d + off + 8, *end = p + ext;
            const unsigned char *nl = memchr(p, '\n', ext);
            if (ext > 2 && p[0] == '\0' && p[1] != '-' && nl && (size_t) (end - nl - 1) >= hashsz)
                for (size_t i = 0; i < hashsz; i++)
                    snprintf(t->tree + 2 * i, 3, "%02x", nl[1 + i]);
            break;
        }
        off += 8 + ext;
    }
    return true;
}

bool
agent_wsh_index_tree(const char *index, size_t hashsz, char tree[65], bool *racy)
{
    agent_wsh_tracked_t t;
    bool ok = agent_wsh_tracked_read(index, hashsz, &t);
    memcpy(tree, t.tree, sizeof t.tree);
    *racy = !ok || t.racy;
    agent_wsh_tracked_release(&t);
    return ok && tree[0];
}

/*  One entry, its file dated fsec.fnsec and its index file isec.insec:
 *  whether agent_wsh_index_tree calls it racy, and (*git) whether the
 *  installed git does: the file's content changed, its size and mtime
 *  kept (ctime ignored), git's ls-files -m reports it only when it
 *  compares the content, that is, when it judged the entry racy. */
static bool
s_racy_case(const char *dir, time_t fsec, long fnsec, time_t isec, long insec, bool *git)
{
    char *f = xasprintf("%s/f", dir), *index = xasprintf("%s/index", dir);
    char *cmd = xasprintf("cd '%s' && rm -f index && echo x >f", dir);
    CHECK(system(cmd) == 0);
    free(cmd);
    struct timespec ft[2] = { { fsec, fnsec }, { fsec, fnsec } };
    CHECK(utimensat(AT_FDCWD, f, ft, 0) == 0);
    cmd = xasprintf("cd '%s' && GIT_DIR=g GIT_WORK_TREE=. GIT_INDEX_FILE=index git update-index "
                    "--add f", dir);
    CHECK(system(cmd) == 0);
    free(cmd);
    struct timespec it[2] = { { isec, insec }, { isec, insec } };
    CHECK(utimensat(AT_FDCWD, index, it, 0) == 0);
    char tree[65];
    bool racy = false;
    agent_wsh_index_tree(index, 20, tree, &racy);
    cmd = xasprintf("cd '%s' && echo y >f", dir);
    CHECK(system(cmd) == 0);
    free(cmd);
    CHECK(utimensat(AT_FDCWD, f, ft, 0) == 0);
    cmd = xasprintf("cd '%s' && GIT_DIR=g GIT_WORK_TREE=. GIT_INDEX_FILE=index git -c "
                    "core.trustctime=false ls-files -m | grep -qx f", dir);
    *git = system(cmd) == 0;
    free(cmd);
    free(f);
    free(index);
    return racy;
}

void
agent_wsh_racy_test(void)
{
    char dir[] = "/tmp/swarm-wsracy.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char *cmd = xasprintf("git init -q --bare '%s/g'", dir);
    CHECK(system(cmd) == 0);
    free(cmd);
    /*  the helper says racy exactly when git does: a file earlier in the
     *  index's second, at its nanosecond, later in it, a second before,
     *  a second after */
    static const long cases[][4] = {
        { 1700000000, 100000000, 1700000000, 500000000 },
        { 1700000000, 500000000, 1700000000, 500000000 },
        { 1700000000, 600000000, 1700000000, 500000000 },
        { 1699999999, 900000000, 1700000000, 500000000 },
        { 1700000001, 0, 1700000000, 500000000 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool git = false;
        bool racy = s_racy_case(dir, cases[i][0], cases[i][1], cases[i][2], cases[i][3], &git);
        CHECK(racy == git);
    }
    bool git = false;
    CHECK(!s_racy_case(dir, 1699999999, 900000000, 1700000000, 500000000, &git) && !git);
    CHECK(s_racy_case(dir, 1700000001, 0, 1700000000, 500000000, &git) && git);
    cmd = xasprintf("rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    free(cmd);
}
/*  Whether rel is a tracked path (dir false), or a directory holding
 *  one (dir true, rel ending in '/'). */
static bool
s_tracked_has(const agent_wsh_tracked_t *t, const char *rel, bool dir)
{
    size_t lo = 0, hi = t->ix.n, n = strlen(rel);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(t->ix.e[mid].path, rel) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == t->ix.n)
        return false;
    return dir ? strncmp(t->ix.e[lo].path, rel, n) == 0 : strcmp(t->ix.e[lo].path, rel) == 0;
}

/*  Whether everything below the directory fd (rel: its path in the
 *  worktree, "" or ending in '/') is tracked: each file, symlink or other
 *  entry a path of the index, each directory one holding such a path.
 *  A top-level .git is the task's (s_task_git); a .git anywhere else
 *  and a fifo, socket or device (which git's clean and checkout never
 *  look at, so they would outlive both into the next task) are added to
 *  gits, to be removed, and make it false too; an entry that cannot be read: false. The walk goes on past
 *  the first untracked entry, so that every such .git is found. A
 *  tracked regular file with more than one link is added to links (a
 *  stat each: d_type does not say). Closes fd. */
static bool
s_walk_tracked(int fd, sw_buf_t *rel, const agent_wsh_tracked_t *t, sw_strv_t *gits, sw_strv_t *links)
{
    /*  Depth first, with a stack of the open directories (one per level,
     *  as git's own walk holds): nothing recurses on a user-sized tree. */
    typedef struct {
        DIR   *dir;
        size_t keep;            /*  rel's length in that directory */
    } frame_t;
    DIR *top = fdopendir(fd);
    if (!top) {
        close(fd);
        return false;
    }
    size_t depth = 1, cap = 16, start = rel->len;
    frame_t *stack = xmalloc(cap * sizeof *stack);
    stack[0] = (frame_t) { top, start };
    bool ok = true;
    while (depth) {
        frame_t *f = &stack[depth - 1];
        struct dirent *e = readdir(f->dir);
        if (!e) {
            closedir(f->dir);
            depth--;
            continue;
        }
        const char *n = e->d_name;
        if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0
            || (f->keep == 0 && strcmp(n, ".git") == 0))
            continue;
        rel->len = f->keep;
        sw_buf_addstr(rel, n);
        if (strcmp(n, ".git") == 0) {
            sw_strv_push(gits, rel->data);
            ok = false;
            continue;
        }
        unsigned char type = e->d_type;
        struct stat sb;
        if (type == DT_UNKNOWN) {
            if (fstatat(dirfd(f->dir), n, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
                ok = false;
                continue;
            }
            type = S_ISDIR(sb.st_mode) ? DT_DIR : S_ISREG(sb.st_mode) ? DT_REG
                 : S_ISLNK(sb.st_mode) ? DT_LNK : DT_FIFO;
        }
        if (type != DT_DIR && type != DT_REG && type != DT_LNK) {
            sw_strv_push(gits, rel->data);  /*  a fifo, socket or device: git sees none */
            ok = false;
            continue;
        }
        if (type != DT_DIR) {
            if (!s_tracked_has(t, rel->data, false))
                ok = false;
            /*  a tracked file with another name (a task's `ln -f a b`,
             *  or a link to a file outside): same content, so no change
             *  and no git notices; kept, the next task's write to one
             *  would change the other too */
            else if (type == DT_REG && fstatat(dirfd(f->dir), n, &sb, AT_SYMLINK_NOFOLLOW) == 0
                     && S_ISREG(sb.st_mode) && sb.st_nlink > 1)
                sw_strv_push(links, rel->data);
            continue;
        }
        sw_buf_addstr(rel, "/");
        if (!s_tracked_has(t, rel->data, true)) {
            ok = false;         /*  an untracked directory: clean removes all of it */
            continue;
        }
        int sub = openat(dirfd(f->dir), n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *sd = sub >= 0 ? fdopendir(sub) : NULL;
        if (!sd) {
            if (sub >= 0)
                close(sub);
            ok = false;
            continue;
        }
        if (depth == cap) {
            cap *= 2;
            stack = xrealloc(stack, cap * sizeof *stack);
        }
        stack[depth++] = (frame_t) { sd, rel->len };
    }
    free(stack);
    rel->len = start;
    if (rel->data)
        rel->data[start] = '\0';
    return ok;
}

/*  Whether `git clean -ffdx` would find nothing to remove in wt: every
 *  entry in it is a path the index t tracks or a directory on the way to
 *  one. Then the reuse of a worktree skips that git (a process and a
 *  second walk of the tree on every task); when in doubt, false. What
 *  git clean would leave in a tracked directory (a .git, a fifo, a
 *  socket, a device) is removed here. */
bool
agent_wsh_nothing_to_clean(const char *wt, const agent_wsh_tracked_t *t, bool *unlinked)
{
    int fd = open(wt, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    sw_buf_t rel;
    sw_buf_init(&rel);
    sw_strv_t gits = { 0 };
    sw_strv_t links = { 0 };
    bool ok = fd >= 0 && s_walk_tracked(fd, &rel, t, &gits, &links);
    /*  hard-linked tracked files go: the reset writes them anew */
    for (size_t i = 0; i < links.n; i++) {
        char *p = xasprintf("%s/%s", wt, links.v[i]);
        unlink(p);
        free(p);
    }
    *unlinked = links.n > 0;
    sw_strv_release(&links);
    for (size_t i = 0; i < gits.n; i++) {
        char *p = xasprintf("%s/%s", wt, gits.v[i]);
        if (agent_ws_rmrf(p) < 0)
            fprintf(stderr, "swarm-agent: cannot remove %s, which a task left: %s\n", p,
                    strerror(errno));
        free(p);
    }
    sw_strv_release(&gits);
    sw_buf_release(&rel);
    return ok;
}

