/*  sw_ws_commit -- objects written without git: a loose object of any
 *  type (sw_ws_object_write) and a commit (sw_ws_commit_write), see
 *  sw_ws.h; their self-test is in sw_ws_repo.c, beside git's own commits. */
#include "sw_ws.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "sw_cas.h"

void
sw_ws_object_name(const char *type, const void *body, size_t len, size_t hashsz, char out[65])
{
    char head[48];
    int hl = snprintf(head, sizeof head, "%s %zu", type, len) + 1;     /*  with its NUL */
    if (hashsz == 32) {
        sw_sha256_t h;
        sw_sha256_init(&h);
        sw_sha256_add(&h, head, (size_t) hl);
        sw_sha256_add(&h, body, len);
        sw_sha256_final(&h, out);
        return;
    }
    sw_buf_t obj;
    sw_buf_init(&obj);
    sw_buf_add(&obj, head, (size_t) hl);
    sw_buf_add(&obj, body, len);
    sw_sha1_hex(obj.data, obj.len, out);
    sw_buf_release(&obj);
}

int
sw_ws_object_write(const sw_ws_repo_t *r, const char *type, const void *body, size_t len,
                   size_t hashsz, char out[65], sw_err_t *err)
{
    if (hashsz != 20 && hashsz != 32)
        return sw_err_set(err, SW_EINVAL, "an object name of %zu bytes", hashsz);
    char oid[65];
    sw_ws_object_name(type, body, len, hashsz, oid);
    char *dir = xasprintf("%s/objects/%.2s", r->git_dir, oid);
    char *path = xasprintf("%s/%s", dir, oid + 2);
    char *tmp = xasprintf("%s/tmp_obj_XXXXXX", dir);
    unsigned char *z = NULL;
    int rc = 0;
    struct stat sb;
    if (stat(path, &sb) == 0)
        goto done;                  /*  there already: the same bytes */
    /*  zlib at level 1, as git writes loose objects (core.looseCompression) */
    sw_buf_t obj;
    sw_buf_init(&obj);
    sw_buf_printf(&obj, "%s %zu", type, len);
    sw_buf_add(&obj, "", 1);
    sw_buf_add(&obj, body, len);
    uLongf zlen = compressBound((uLong) obj.len);
    z = xmalloc(zlen);
    int zrc = compress2(z, &zlen, (const Bytef *) obj.data, (uLong) obj.len, 1);
    sw_buf_release(&obj);
    if (zrc != Z_OK) {
        rc = sw_err_set(err, SW_EFAIL, "cannot deflate the %s %s", type, oid);
        goto done;
    }
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
        rc = sw_err_set(err, SW_EFAIL, "cannot write the %s %s: %s", type, path,
                        strerror(errno));
    unlink(tmp);
done:
    if (rc == 0)
        memcpy(out, oid, 2 * hashsz + 1);
    free(z);
    free(dir);
    free(path);
    free(tmp);
    return rc;
}

int
sw_ws_commit_write(const sw_ws_repo_t *r, const char *tree, const char *parent, const char *name,
                   const char *email, const char *message, char out[65], sw_err_t *err)
{
    size_t hexsz = tree ? strlen(tree) : 0;
    if ((hexsz != 40 && hexsz != 64) || !sw_git_oid_valid(tree) || !parent
        || strlen(parent) != hexsz || !sw_git_oid_valid(parent))
        return sw_err_set(err, SW_EINVAL, "a commit's tree and parent must be names of one kind");
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
    int rc = sw_ws_object_write(r, "commit", body, strlen(body), hexsz / 2, out, err);
    free(body);
    return rc;
}
