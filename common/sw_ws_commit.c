/*  sw_ws_commit -- a commit object written without git (sw_ws_commit_write,
 *  see sw_ws.h); its self-test is in sw_ws.c, beside git's own commits. */
#include "sw_ws.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

int
sw_ws_commit_write(const sw_ws_repo_t *r, const char *tree, const char *parent, const char *name,
                   const char *email, const char *message, char out[65], sw_err_t *err)
{
    if (!tree || strlen(tree) != 40 || !parent || strlen(parent) != 40)
        return sw_err_set(err, SW_EINVAL, "a commit is written here for SHA-1 names only");
    for (const char *s = name; *s; s++)
        if (*s == '<' || *s == '>' || *s == '\n')
            return sw_err_set(err, SW_EINVAL, "a committer name with '<', '>' or a newline");
    for (const char *s = email; *s; s++)
        if (*s == '<' || *s == '>' || *s == '\n')
            return sw_err_set(err, SW_EINVAL, "a committer email with '<', '>' or a newline");
    /*  what `git commit-tree TREE -p PARENT -m MESSAGE` writes: the time
     *  in UTC, the message with its newline */
    long long now = (long long) time(NULL);
    char *body = xasprintf("tree %s\nparent %s\nauthor %s <%s> %lld +0000\ncommitter %s <%s> "
                           "%lld +0000\n\n%s\n", tree, parent, name, email, now, name, email,
                           now, message);
    size_t blen = strlen(body);
    sw_buf_t obj;
    sw_buf_init(&obj);
    sw_buf_printf(&obj, "commit %zu", blen);
    sw_buf_add(&obj, "", 1);
    sw_buf_add(&obj, body, blen);
    free(body);
    char oid[41];
    sw_sha1_hex(obj.data, obj.len, oid);
    /*  zlib at level 1, as git writes loose objects (core.looseCompression) */
    uLongf zlen = compressBound((uLong) obj.len);
    unsigned char *z = xmalloc(zlen);
    if (compress2(z, &zlen, (const Bytef *) obj.data, (uLong) obj.len, 1) != Z_OK) {
        free(z);
        sw_buf_release(&obj);
        return sw_err_set(err, SW_EFAIL, "cannot deflate the commit %s", oid);
    }
    char *dir = xasprintf("%s/objects/%.2s", r->git_dir, oid);
    char *path = xasprintf("%s/%s", dir, oid + 2);
    char *tmp = xasprintf("%s/tmp_obj_XXXXXX", dir);
    int rc = 0;
    struct stat sb;
    if (stat(path, &sb) == 0)
        goto done;                  /*  there already: the same bytes */
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        rc = sw_err_set(err, SW_EFAIL, "%s: %s", dir, strerror(errno));
        goto done;
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        rc = sw_err_set(err, SW_EFAIL, "%s: %s", tmp, strerror(errno));
        goto done;
    }
    bool ok = write(fd, z, zlen) == (ssize_t) zlen && fchmod(fd, 0444) == 0;
    if (close(fd) < 0)
        ok = false;
    /*  as git: a link, so an object never changes once named */
    if (!ok || (link(tmp, path) < 0 && errno != EEXIST))
        rc = sw_err_set(err, SW_EFAIL, "cannot write the commit %s: %s", path, strerror(errno));
    unlink(tmp);
done:
    if (rc == 0)
        memcpy(out, oid, sizeof oid);
    sw_buf_release(&obj);
    free(z);
    free(dir);
    free(path);
    free(tmp);
    return rc;
}
