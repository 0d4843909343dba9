/*  agent_wsstored -- the capture's packs of stored (undeflated) blobs,
 *  deflated anew off the task's path (agent_wsh.h).
 *
 *  The capture stages a change of STAGE_PACK_MIN paths or more into one
 *  pack at zlib level 0 (agent_wscapture.c, s_stage_env): 14-17 ms less
 *  CPU on its critical path than level 1. git gc reuses a packed object's
 *  bytes as they are, so such a pack left alone would keep its blobs
 *  undeflated in the mirror for good. The capture marks the pack it wrote
 *  (MIRROR/swarm-stored/pack-HEX, an empty file git never looks at) and
 *  asks for the remover's gc ("gc_due"); that gc, under the mirror's
 *  deflate lock (not its write lock: agent_wshelper.c, s_gc), packs the
 *  marked packs' objects anew at level 1 into one
 *  pack (`pack-objects --stdin-packs --no-reuse-object`), then removes
 *  them and their marks. Any git gc of the mirror runs this first.
 *  docs/design.md, "Decisions for issue 16 (i30-stage)".
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

#define STORED_DIR "swarm-stored"

/*  Whether name is "pack-" and 40 or 64 hex digits, with suffix after. */
static bool
s_pack_name(const char *name, const char *suffix)
{
    if (strncmp(name, "pack-", 5) != 0)
        return false;
    size_t hex = strspn(name + 5, "0123456789abcdef");
    return (hex == 40 || hex == 64) && strcmp(name + 5 + hex, suffix) == 0;
}

void
agent_wsh_packs(const char *git_dir, sw_strv_t *names)
{
    char *dir = xasprintf("%s/objects/pack", git_dir);
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (s_pack_name(e->d_name, ".pack"))
            sw_strv_push(names, e->d_name);
    if (d)
        closedir(d);
    free(dir);
}

int
agent_wsh_stored_mark(const char *git_dir, const sw_strv_t *before)
{
    sw_strv_t now = { 0 };
    agent_wsh_packs(git_dir, &now);
    int marked = 0;
    char *dir = xasprintf("%s/" STORED_DIR, git_dir);
    for (size_t i = 0; i < now.n; i++) {
        bool old = false;
        for (size_t k = 0; k < before->n && !old; k++)
            old = strcmp(before->v[k], now.v[i]) == 0;
        if (old)
            continue;
        if (!marked)
            mkdir(dir, 0755);
        char *mark = xasprintf("%s/%.*s", dir, (int) (strlen(now.v[i]) - 5), now.v[i]);
        if (agent_wsh_write_file(mark, "", 0, 0) == 0)
            marked++;
        free(mark);
    }
    free(dir);
    sw_strv_release(&now);
    return marked;
}

/*  Whether the pack at path starts with a blob whose zlib stream opens
 *  with a stored block (BTYPE 00): what update-index's bulk check-in
 *  writes at level 0. Any other pack (one a fetch wrote beside the
 *  capture, one deflated already) is left as it is. */
static bool
s_pack_stored(const char *path)
{
    unsigned char b[64];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, b, sizeof b) : -1;
    if (fd >= 0)
        close(fd);
    if (n < 20 || memcmp(b, "PACK", 4) != 0 || ((b[12] >> 4) & 7) != 3)
        return false;
    ssize_t i = 12;
    while (i < n && (b[i] & 0x80))
        i++;
    i++;                                        /*  past the header's last byte */
    return i + 3 <= n && (b[i] & 0x0f) == 8 && (b[i + 2] & 0x06) == 0;
}

int
agent_wsh_stored_deflate(const sw_ws_repo_t *r, sw_err_t *err)
{
    char *dir = xasprintf("%s/" STORED_DIR, r->git_dir);
    DIR *d = opendir(dir);
    if (!d) {
        free(dir);
        return 0;
    }
    sw_strv_t marks = { 0 }, packs = { 0 };
    struct dirent *e;
    while ((e = readdir(d)))
        if (s_pack_name(e->d_name, ""))
            sw_strv_push(&marks, e->d_name);
    closedir(d);
    sw_buf_t in;
    sw_buf_init(&in);
    for (size_t i = 0; i < marks.n; i++) {
        char *pack = xasprintf("%s/objects/pack/%s.pack", r->git_dir, marks.v[i]),
             *idx = xasprintf("%s/objects/pack/%s.idx", r->git_dir, marks.v[i]);
        /*  with its index only: a bulk check-in killed between its two
         *  renames left a pack git does not know, and --stdin-packs would
         *  fail on it every time (its mark goes with the others) */
        if (access(idx, F_OK) == 0 && s_pack_stored(pack)) {
            sw_strv_push(&packs, marks.v[i]);
            sw_buf_printf(&in, "%s.pack\n", marks.v[i]);
        }
        free(pack);
        free(idx);
    }
    int rc = 0;
    if (packs.n) {
        /*  Level 1, as the capture deflated them before (and git its loose
         *  objects); no delta search (--window=0): the bulk check-in made
         *  none either, and the mirror's gc searches them. */
        static const char *const env[] = { "GIT_CONFIG_COUNT=1",
                                           "GIT_CONFIG_KEY_0=pack.compression",
                                           "GIT_CONFIG_VALUE_0=1", SW_WS_MALLOC_TUNABLES, NULL };
        char *base = xasprintf("%s/objects/pack/pack", r->git_dir);
        const char *args[] = { "pack-objects", "--stdin-packs", "--no-reuse-object",
                               "--window=0", "-q", base, NULL };
        sw_git_opts_t o = sw_ws_opts(r);
        o.env = env;
        o.in = in.data;
        o.in_len = in.len;
        sw_git_res_t res;
        sw_git_res_init(&res);
        rc = sw_git_run(&o, args, &res, err) == 0 ? 0 : -1;
        char made[65] = "";
        if (rc == 0)
            snprintf(made, sizeof made, "%.*s", (int) strcspn(res.out.data ? res.out.data : "",
                                                              "\n"), res.out.data ? res.out.data : "");
        if (rc == 0 && strlen(made) != 40 && strlen(made) != 64)
            rc = sw_err_set(err, SW_EFAIL, "git pack-objects --stdin-packs named no pack");
        sw_git_res_release(&res);
        free(base);
        /*  The new pack is whole (pack-objects renames its .idx in last):
         *  the old ones go, their index first, so no reader finds a pack
         *  without one. One of the same name is the new pack itself. */
        for (size_t i = 0; rc == 0 && i < packs.n; i++) {
            if (strcmp(packs.v[i] + 5, made) == 0)
                continue;
            static const char *const ext[] = { ".idx", ".rev", ".pack" };
            for (size_t k = 0; k < 3; k++) {
                char *p = xasprintf("%s/objects/pack/%s%s", r->git_dir, packs.v[i], ext[k]);
                unlink(p);
                free(p);
            }
        }
    }
    /*  The marks go once handled; a pack not stored (or gone) needs none.
     *  When the pack failed they stay, for the next gc. */
    for (size_t i = 0; rc == 0 && i < marks.n; i++) {
        char *p = xasprintf("%s/%s", dir, marks.v[i]);
        unlink(p);
        free(p);
    }
    sw_buf_release(&in);
    sw_strv_release(&marks);
    sw_strv_release(&packs);
    free(dir);
    return rc;
}

/*  One object format's case of agent_wsh_stored_test (fmt: sha1, sha256). */
static void
s_stored_case(const char *dir, const char *fmt)
{
    /*  A mirror with a deflated pack (a repack: marked by mistake, it is
     *  left alone) and a pack staged at level 0 as the capture stages
     *  (marked as the capture marks it): after the deflate, one stored
     *  pack fewer, the blobs deflated, every object there, fsck clean,
     *  no mark left. */
    char *cmd = xasprintf("cd '%s' && rm -rf st && git init -q --object-format=%s st && cd st && "
                          "for i in $(seq 20); do "
                          "echo \"file $i\" >f$i; done && git add -A && git -c user.name=t "
                          "-c user.email=t@t commit -qm base && git repack -qad && "
                          "for i in $(seq 20); do head -c 65536 /dev/zero | tr '\\0' a >>f$i; "
                          "echo $i >>f$i; done", dir, fmt);
    CHECK(system(cmd) == 0);
    free(cmd);
    char *git = xasprintf("%s/st/.git", dir), *wt = xasprintf("%s/st", dir);
    sw_strv_t before = { 0 };
    agent_wsh_packs(git, &before);
    CHECK(before.n == 1);
    cmd = xasprintf("cd '%s/st' && git ls-files -z | git -c core.bigFileThreshold=1 -c "
                    "pack.compression=0 update-index -z --stdin && git ls-files -s | "
                    "awk '{print $2}' >../st.oids && git cat-file --batch-check="
                    "'%%(objectsize:disk)' <../st.oids | sort -n | tail -1 >../st.big && "
                    "test $(cat ../st.big) -gt 65536", dir);
    CHECK(system(cmd) == 0);
    free(cmd);
    CHECK(agent_wsh_stored_mark(git, &before) == 1);
    /*  the repack's pack, marked too: not stored, kept */
    char *mark = xasprintf("%s/" STORED_DIR "/%.*s", git, (int) (strlen(before.v[0]) - 5),
                           before.v[0]);
    CHECK(agent_wsh_write_file(mark, "", 0, 0) == 0);
    free(mark);
    /*  a stored pack without its index (a check-in killed between its
     *  renames), marked: left out, its mark gone, the others deflated */
    const char *orphan = strcmp(fmt, "sha1") == 0 ? "pack-" "ffffffffffffffffffffffffffffffffffffffff"
                         : "pack-" "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
    cmd = xasprintf("cd '%s/st/.git' && p=$(ls " STORED_DIR " | head -1) && "
                    "cp objects/pack/$p.pack objects/pack/%s.pack && : >" STORED_DIR "/%s",
                    dir, orphan, orphan);
    CHECK(system(cmd) == 0);
    free(cmd);
    sw_ws_repo_t r = { .git_dir = git, .work_tree = wt, .timeout_ms = 60000 };
    sw_err_t err = { 0 };
    CHECK(agent_wsh_stored_deflate(&r, &err) == 0);
    cmd = xasprintf("cd '%s/st/.git' && test ! -e " STORED_DIR "/%s && rm objects/pack/%s.pack",
                    dir, orphan, orphan);
    CHECK(system(cmd) == 0);
    free(cmd);
    cmd = xasprintf("cd '%s/st' && test $(ls .git/objects/pack | grep -c '[.]pack$') = 2 && "
                    "test -f .git/objects/pack/%s && test -z \"$(ls .git/" STORED_DIR ")\" && "
                    "git cat-file --batch-check='%%(objectsize:disk)' <../st.oids | sort -n | "
                    "tail -1 | { read n; test $n -lt 4096; } && git fsck --strict 2>&1 | "
                    "{ ! grep -v '^notice\\|^Checking\\|^dangling'; }", dir, before.v[0]);
    CHECK(system(cmd) == 0);
    free(cmd);
    /*  nothing marked: nothing to do */
    CHECK(agent_wsh_stored_deflate(&r, &err) == 0);
    sw_strv_release(&before);
    free(git);
    free(wt);
}

int
agent_wsh_stored_test(const char *dir)
{
    s_stored_case(dir, "sha1");
    s_stored_case(dir, "sha256");
    return 0;
}
