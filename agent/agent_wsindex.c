/*  agent_wsindex -- the one reader of git's index file in the helper
 *  (agent_wsh_index_read, see agent_wsh.h): its header and its entries,
 *  checked as git writes them. The prepare's clean check and racy test
 *  (agent_wsclean.c) and the capture's tree (agent_wstree.c) read the
 *  extensions after the entries themselves: each wants another of them,
 *  and refuses different things there.
 *
 *  Refused (false; the caller then asks git): a file that cannot be read
 *  or is over 256 MiB, no "DIRC" signature, a version other than 2 or 3,
 *  more entries than the file can hold, an entry past the end, a conflict
 *  stage, an extended flag (unless the caller takes them, and then only
 *  in version 3), an empty path, paths not sorted as git sorts them or
 *  one path twice.
 */
#include "agent_wsh.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

uint32_t
agent_wsh_be32(const unsigned char *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

void
agent_wsh_index_release(agent_wsh_index_t *ix)
{
    sw_buf_release(&ix->file);
    free(ix->e);
    ix->e = NULL;
    ix->n = 0;
}

bool
agent_wsh_index_read(const char *index, size_t hashsz, unsigned flags, agent_wsh_index_t *ix)
{
    memset(ix, 0, sizeof *ix);
    sw_buf_init(&ix->file);
    size_t sum = (flags & AGENT_WSH_INDEX_SUM) ? hashsz : 0;
    bool trunc = false;
    if (stat(index, &ix->st) < 0 || sw_read_file(index, 256u << 20, &ix->file, &trunc) < 0
        || trunc || ix->file.len < 12 + sum)
        return false;
    const unsigned char *d = (const unsigned char *) ix->file.data;
    size_t len = ix->file.len - sum;
    ix->end = len;
    uint32_t ver = agent_wsh_be32(d + 4), count = agent_wsh_be32(d + 8);
    if (memcmp(d, "DIRC", 4) != 0 || (ver != 2 && ver != 3) || count > len / 62)
        return false;
    ix->e = xcalloc((size_t) count + 1, sizeof *ix->e);
    size_t off = 12, fixed = 40 + hashsz + 2;
    for (uint32_t i = 0; i < count; i++) {
        if (off + fixed > len)
            return false;
        unsigned fl = (unsigned) d[off + 40 + hashsz] << 8 | d[off + 40 + hashsz + 1];
        size_t head = fixed + ((fl & 0x4000) ? 2 : 0);          /*  extended (version 3) */
        if ((fl & 0x3000) || off + head >= len)
            return false;                                       /*  a conflict stage */
        if ((fl & 0x4000) && (ver < 3 || !(flags & AGENT_WSH_INDEX_EXTENDED)))
            return false;
        const char *name = (const char *) d + off + head;
        const char *nul = memchr(name, '\0', len - off - head);
        if (!nul || nul == name)
            return false;
        if (ix->n && strcmp(ix->e[ix->n - 1].path, name) >= 0)
            return false;                                       /*  not sorted, or twice */
        agent_wsh_entry_t *e = &ix->e[ix->n++];
        e->path = name;
        e->len = (size_t) (nul - name);
        e->mode = agent_wsh_be32(d + off + 24);
        e->oid = d + off + 40;
        e->mtime_s = agent_wsh_be32(d + off + 8);
        off += (head + e->len + 8) & ~(size_t) 7;
    }
    ix->ext = off;
    return true;
}

/*  --- test ---------------------------------------------------------------------------- */

#include <stdio.h>

#include "sw_selftest.h"

/*  DIR/ix/NAME made by the shell commands cmd (in DIR/ix, a repository
 *  with a, b/c and d staged, GIT_INDEX_FILE=$I), then read with flags:
 *  whether it was taken, and its entries' count. */
static bool
s_index_case(const char *dir, const char *cmd, unsigned flags, size_t *n)
{
    char *sh = xasprintf("cd '%s/ix' && I=../ix.index && rm -f $I itna && GIT_INDEX_FILE=$I git "
                         "add a b/c d && %s", dir, cmd);
    CHECK(system(sh) == 0);
    free(sh);
    char *index = xasprintf("%s/ix.index", dir);
    agent_wsh_index_t ix;
    bool ok = agent_wsh_index_read(index, 20, flags, &ix);
    *n = ix.n;
    if (ok) {
        CHECK(ix.ext >= 12 && ix.ext <= ix.end);
        CHECK(ix.end == ix.file.len - ((flags & AGENT_WSH_INDEX_SUM) ? 20 : 0));
    }
    agent_wsh_index_release(&ix);
    free(index);
    return ok;
}

int
agent_wsh_index_test(const char *dir)
{
    char *cmd = xasprintf("mkdir -p '%s/ix/b' && cd '%s/ix' && git init -q && echo a >a && "
                          "echo c >b/c && printf 'd\\n' >d", dir, dir);
    CHECK(system(cmd) == 0);
    free(cmd);
    size_t n = 0;
    /*  taken: the entries in git's order, mode and object as git has them */
    CHECK(s_index_case(dir, "true", 0, &n) && n == 3);
    CHECK(s_index_case(dir, "true", AGENT_WSH_INDEX_SUM, &n) && n == 3);
    char *index = xasprintf("%s/ix.index", dir);
    agent_wsh_index_t ix;
    CHECK(agent_wsh_index_read(index, 20, AGENT_WSH_INDEX_SUM, &ix));
    const char *paths[] = { "a", "b/c", "d" };
    for (size_t i = 0; i < 3 && i < ix.n; i++) {
        char hex[41];
        for (size_t k = 0; k < 20; k++)
            snprintf(hex + 2 * k, 3, "%02x", ix.e[i].oid[k]);
        cmd = xasprintf("cd '%s/ix' && test \"$(git hash-object %s)\" = %s", dir, paths[i], hex);
        CHECK(strcmp(ix.e[i].path, paths[i]) == 0 && ix.e[i].len == strlen(paths[i])
              && ix.e[i].mode == 0100644 && system(cmd) == 0);
        free(cmd);
    }
    agent_wsh_index_release(&ix);
    /*  an intent-to-add entry (extended flags, version 3): taken only
     *  when asked for */
    const char *itna = "echo n >itna && GIT_INDEX_FILE=$I git add -N itna";
    CHECK(s_index_case(dir, itna, AGENT_WSH_INDEX_EXTENDED, &n) && n == 4);
    CHECK(!s_index_case(dir, itna, 0, &n));
    CHECK(!s_index_case(dir, itna, AGENT_WSH_INDEX_SUM, &n));
    /*  refused: version 4, a conflict stage, a file cut short, no DIRC */
    const char *bad[] = {
        "GIT_INDEX_FILE=$I git update-index --index-version 4",
        "GIT_INDEX_FILE=$I git rm -q --cached b/c && printf '100644 %s 1\\tb/c\\n' "
        "$(git hash-object a) | GIT_INDEX_FILE=$I git update-index --index-info && "
        "GIT_INDEX_FILE=$I git ls-files -s | grep -q ' 1\tb/c$'",
        "head -c 11 $I >$I.t && mv $I.t $I",
        "head -c 100 $I >$I.t && mv $I.t $I",
        "printf X | dd of=$I bs=1 seek=0 conv=notrunc 2>/dev/null",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK(!s_index_case(dir, bad[i], AGENT_WSH_INDEX_EXTENDED, &n));
        CHECK(!s_index_case(dir, bad[i], AGENT_WSH_INDEX_SUM, &n));
    }
    CHECK(!agent_wsh_index_read("/nonexistent/index", 20, 0, &ix));
    agent_wsh_index_release(&ix);
    free(index);
    cmd = xasprintf("rm -rf '%s/ix' '%s/ix.index'", dir, dir);
    CHECK(system(cmd) == 0);
    free(cmd);
    return 0;
}
