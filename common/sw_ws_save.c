/*  sw_ws_save -- the work tree's entries a write is about to replace,
 *  kept until the write is done (apply's all or nothing, sw_ws_apply.c;
 *  declared in sw_ws_user_int.h).
 *
 *  git replaces a file by unlink + O_EXCL create and deletes one by
 *  unlink (entry.c, unpack-trees.c in git 2.39): a hard link to it in a
 *  private directory of the git dir keeps its old bytes and mode at no
 *  cost (it changes the file's ctime, which the index's stat data then
 *  disagrees with: the caller refreshes it). Where a link cannot be made
 *  (the git dir on another file system, one without hard links) the
 *  entry is copied; a copy that fails (the disk full) makes the save
 *  fail before anything is written.
 *  Putting back: what the write made where nothing was is removed (the
 *  directories it made too, never one that was there), then every saved
 *  entry goes back to its place by rename (or a copy).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sw_ws_user_int.h"

typedef struct {
    char  *path;                /*  relative to the top */
    bool   had;                 /*  a file or symlink was there: saved as dir/N */
    mode_t mode;                /*  its st_mode */
    size_t keep;                /*  !had: the length of path's longest prefix that was a
                                 *  directory (0: the top); the write's directories are
                                 *  the ones below it */
} s_entry_t;

struct sw_ws_save {
    bool       linked;          /*  some saved by a hard link */
    char      *top;
    char      *dir;             /*  the saved entries, named by their index in e */
    s_entry_t *e;
    size_t     n;
};

/*  src (a regular file or a symlink as st says) copied to dst, which does
 *  not exist. 0; -1 with errno. */
static int
s_copy(const char *src, const char *dst, const struct stat *st)
{
    if (S_ISLNK(st->st_mode)) {
        char *target = xcalloc((size_t) st->st_size + 2, 1);
        ssize_t k = readlink(src, target, (size_t) st->st_size + 1);
        int rc = k < 0 ? -1 : symlink(target, dst);
        free(target);
        return rc;
    }
    if (!S_ISREG(st->st_mode)) {
        errno = EINVAL;
        return -1;
    }
    int in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0)
        return -1;
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0) {
        int e = errno;
        close(in);
        errno = e;
        return -1;
    }
    char buf[65536];
    ssize_t r;
    int rc = 0;
    while (rc == 0 && (r = read(in, buf, sizeof buf)) != 0) {
        if (r < 0) {
            rc = errno == EINTR ? 0 : -1;
            continue;
        }
        for (ssize_t off = 0; rc == 0 && off < r; ) {
            ssize_t w = write(out, buf + off, (size_t) (r - off));
            if (w < 0 && errno != EINTR)
                rc = -1;
            else if (w > 0)
                off += w;
        }
    }
    int e = errno;
    if (rc == 0 && fchmod(out, st->st_mode & 07777) < 0)
        rc = -1, e = errno;
    if (close(out) < 0 && rc == 0)
        rc = -1, e = errno;
    close(in);
    if (rc < 0) {
        unlink(dst);
        errno = e;
    }
    return rc;
}

/*  Removes the save's directory and what is left in it. */
static void
s_remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)))
            if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                unlinkat(dirfd(d), de->d_name, 0);
        closedir(d);
    }
    rmdir(dir);
}

static void
s_free(sw_ws_save_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->e[i].path);
    free(s->e);
    free(s->top);
    free(s->dir);
    free(s);
}

sw_ws_save_t *
sw_ws_save(const char *top, const char *git_dir, const sw_strv_t *paths, sw_err_t *err)
{
    sw_ws_save_t *s = xcalloc(1, sizeof *s);
    s->top = xstrdup(top);
    s->dir = xasprintf("%s/swarm-apply-save.XXXXXX", git_dir);
    s->e = xcalloc(paths->n + 1, sizeof *s->e);
    if (!mkdtemp(s->dir)) {
        sw_err_set(err, SW_EFAIL, "cannot save the files the change replaces (%s: %s); "
                   "nothing was changed", s->dir, strerror(errno));
        free(s->dir);
        s->dir = NULL;
        s_free(s);
        return NULL;
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < paths->n; i++) {
        s_entry_t *e = &s->e[s->n++];
        e->path = xstrdup(paths->v[i]);
        char *full = xasprintf("%s/%s", top, e->path);
        struct stat st;
        int lr = lstat(full, &st);
        if (lr == 0 && !S_ISDIR(st.st_mode)) {
            char *saved = xasprintf("%s/%zu", s->dir, i);
            e->had = true;
            e->mode = st.st_mode;
            /*  a link, not a copy, even for a small file: making 200
             *  inodes cost the CLI 30-130 ms of kernel time on ext4
             *  (perf: ext4_create), the index refresh a link calls for
             *  ~34 ms for 2,000 entries */
            int how = link(full, saved) == 0 ? 1 : 0;              /*  1 linked, 2 copied */
            if (!how && s_copy(full, saved, &st) == 0)
                how = 2;
            if (how == 1)
                s->linked = true;
            if (!how)
                rc = sw_err_set(err, SW_EFAIL, "cannot save %s before writing the work tree "
                                "(%s); nothing was changed", e->path, strerror(errno));
            free(saved);
        }
        else if (lr < 0 && errno != ENOENT && errno != ENOTDIR)
            rc = sw_err_set(err, SW_EFAIL, "cannot save %s before writing the work tree "
                            "(%s); nothing was changed", e->path, strerror(errno));
        else {
            /*  the longest prefix of the path that is a directory */
            for (const char *sl = strchr(e->path, '/'); sl; sl = strchr(sl + 1, '/')) {
                char *q = xasprintf("%s/%.*s", top, (int) (sl - e->path), e->path);
                bool dir = lstat(q, &st) == 0 && S_ISDIR(st.st_mode);
                free(q);
                if (!dir)
                    break;
                e->keep = (size_t) (sl - e->path);
            }
        }
        free(full);
    }
    if (rc < 0) {
        s_remove_dir(s->dir);
        s_free(s);
        return NULL;
    }
    return s;
}

bool
sw_ws_save_linked(const sw_ws_save_t *s)
{
    return s->linked;
}

void
sw_ws_save_drop(sw_ws_save_t *s)
{
    if (!s)
        return;
    s_remove_dir(s->dir);
    s_free(s);
}

/*  The directories of path (relative to top) made where missing. */
static int
s_mkdirs(const char *top, const char *path)
{
    for (const char *sl = strchr(path, '/'); sl; sl = strchr(sl + 1, '/')) {
        char *q = xasprintf("%s/%.*s", top, (int) (sl - path), path);
        int rc = mkdir(q, 0777) < 0 && errno != EEXIST ? -1 : 0;
        free(q);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/*  One saved entry back in its place. 0; -1 with errno. */
static int
s_put_back(const sw_ws_save_t *s, size_t i)
{
    const s_entry_t *e = &s->e[i];
    char *full = xasprintf("%s/%s", s->top, e->path), *saved = xasprintf("%s/%zu", s->dir, i);
    struct stat st;
    int rc = s_mkdirs(s->top, e->path);
    /*  a directory the write made there (emptied above) */
    if (rc == 0 && lstat(full, &st) == 0 && S_ISDIR(st.st_mode))
        rc = rmdir(full);
    if (rc == 0 && rename(saved, full) < 0) {
        struct stat sst;
        rc = errno == EXDEV && lstat(saved, &sst) == 0
             && (unlink(full) == 0 || errno == ENOENT) ? s_copy(saved, full, &sst) : -1;
    }
    if (rc == 0 && S_ISREG(e->mode) && lstat(full, &st) == 0
        && (st.st_mode & 07777) != (e->mode & 07777))
        rc = chmod(full, e->mode & 07777);
    int keep = errno;
    free(full);
    free(saved);
    errno = keep;
    return rc;
}

int
sw_ws_save_restore(sw_ws_save_t *s, sw_err_t *err)
{
    sw_strv_t failed = { 0 };
    int first = 0;
    /*  What the write made where nothing was, deepest first (the paths
     *  are sorted: a directory's files come after it), then the
     *  directories it made for them. */
    for (size_t i = s->n; i-- > 0; ) {
        const s_entry_t *e = &s->e[i];
        if (e->had)
            continue;
        char *full = xasprintf("%s/%s", s->top, e->path);
        struct stat st;
        if (lstat(full, &st) == 0 && !S_ISDIR(st.st_mode) && unlink(full) < 0) {
            first = first ? first : errno;
            sw_strv_push(&failed, e->path);
        }
        size_t tlen = strlen(s->top) + 1;
        for (char *sl = strrchr(full, '/'); sl && (size_t) (sl - full) > tlen + e->keep;
             sl = strrchr(full, '/')) {
            *sl = '\0';
            if (rmdir(full) < 0)
                break;
        }
        free(full);
    }
    for (size_t i = 0; i < s->n; i++)
        if (s->e[i].had && s_put_back(s, i) < 0) {
            first = first ? first : errno;
            sw_strv_push(&failed, s->e[i].path);
        }
    int rc = 0;
    if (failed.n) {
        char *q = sw_ws_path_quote(failed.v[0]);
        rc = sw_err_set(err, SW_EFAIL, "could not put back %s%s (%s): the files the change "
                        "replaced are in %s", q, failed.n > 1 ? " and more" : "",
                        strerror(first), s->dir);
        free(q);
        free(s->dir);
        s->dir = NULL;          /*  kept for the user */
        s_free(s);
    }
    else
        sw_ws_save_drop(s);
    sw_strv_release(&failed);
    return rc;
}
