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
    if (blen > 65000) {            /*  one stored block: 65,535 bytes with the header */
        free(body);
        return sw_err_set(err, SW_EINVAL, "a commit message of %zu bytes", blen);
    }
    sw_buf_t obj;
    sw_buf_init(&obj);
    sw_buf_printf(&obj, "commit %zu", blen);
    sw_buf_add(&obj, "", 1);
    sw_buf_add(&obj, body, blen);
    free(body);
    char oid[41];
    sw_sha1_hex(obj.data, obj.len, oid);
    /*  A zlib stream of one stored block (RFC 1950/1951): git inflates
     *  it as any loose object; a few hundred bytes need no deflating. */
    uint32_t a = 1, b = 0;
    for (size_t i = 0; i < obj.len; i++) {
        a = (a + (unsigned char) obj.data[i]) % 65521;
        b = (b + a) % 65521;
    }
    size_t n = obj.len;
    unsigned char head[7] = { 0x78, 0x01, 0x01, (unsigned char) (n & 0xff),
                              (unsigned char) (n >> 8), (unsigned char) (~n & 0xff),
                              (unsigned char) ((~n >> 8) & 0xff) };
    uint32_t adler = (b << 16) | a;
    unsigned char tail[4] = { (unsigned char) (adler >> 24), (unsigned char) (adler >> 16),
                              (unsigned char) (adler >> 8), (unsigned char) adler };
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
    bool ok = write(fd, head, sizeof head) == (ssize_t) sizeof head
           && write(fd, obj.data, n) == (ssize_t) n
           && write(fd, tail, sizeof tail) == (ssize_t) sizeof tail && fchmod(fd, 0444) == 0;
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
    free(dir);
    free(path);
    free(tmp);
    return rc;
}
