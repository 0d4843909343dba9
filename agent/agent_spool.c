/*  agent_spool -- see agent_spool.h */
#include "agent_spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sw_log.h"
#include "sw_mpack.h"
#include "sw_selftest.h"

#define SPOOL_MAX_RECORD (64u << 20)    /*  bytes; a result is far smaller */

struct agent_spool_t {
    char                *dir;
    const agent_state_t *state;
};

agent_spool_t *
agent_spool_new(const char *dir, const agent_state_t *state, sw_err_t *err)
{
    if (dir[0] != '/') {
        sw_err_set(err, SW_EINVAL, "the spool %s must be an absolute path", dir);
        return NULL;
    }
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        sw_err_set(err, SW_EFAIL, "cannot create the spool %s: %s", dir, strerror(errno));
        return NULL;
    }
    if (agent_state_check_dir(dir, err) < 0)
        return NULL;
    agent_spool_t *self = xcalloc(1, sizeof *self);
    self->dir = xstrdup(dir);
    self->state = state;
    return self;
}

void
agent_spool_destroy(agent_spool_t **self_p)
{
    agent_spool_t *self = *self_p;
    if (!self)
        return;
    free(self->dir);
    free(self);
    *self_p = NULL;
}

const char *
agent_spool_dir(const agent_spool_t *self)
{
    return self->dir;
}

static char *
s_path(const agent_spool_t *self, const char *job, const char *id, int64_t attempt)
{
    char name[65];
    agent_state_name(job, id, attempt, name);
    return xasprintf("%s/%s.json", self->dir, name);
}

/*  The MAC of a record: every field, NUL-separated (no field but the
 *  result, which comes last, can hold a NUL), behind a version tag. */
static void
s_mac(const agent_spool_t *self, const agent_spooled_t *s, char hex[2 * AGENT_STATE_MAC_BYTES + 1])
{
    sw_buf_t b;
    sw_buf_init(&b);
    sw_buf_add(&b, "swarm-spool-1", 14);
    const char *fields[] = { s->job, s->id, s->ns ? s->ns : "", s->status };
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        sw_buf_add(&b, fields[i], strlen(fields[i]) + 1);
    sw_buf_printf(&b, "%lld", (long long) s->attempt);
    sw_buf_add(&b, "", 1);
    sw_buf_printf(&b, "%d", s->exit_code);
    sw_buf_add(&b, "", 1);
    sw_buf_add(&b, s->retryable ? "1" : "0", 2);
    sw_buf_addstr(&b, s->result);
    unsigned char mac[AGENT_STATE_MAC_BYTES];
    agent_state_mac(self->state, b.data, b.len, mac);
    sw_buf_release(&b);
    sodium_bin2hex(hex, 2 * AGENT_STATE_MAC_BYTES + 1, mac, sizeof mac);
}

static int
s_write_all(int fd, const char *data, size_t len)
{
    for (size_t off = 0; off < len; ) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        off += (size_t) w;
    }
    return 0;
}

int
agent_spool_put(agent_spool_t *self, const agent_spooled_t *s, sw_err_t *err)
{
    char mac[2 * AGENT_STATE_MAC_BYTES + 1];
    s_mac(self, s, mac);
    json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:s, s:i, s:b, s:s, s:s}", "job", s->job,
                          "id", s->id, "ns", s->ns ? s->ns : "", "attempt",
                          (json_int_t) s->attempt, "status", s->status, "exit_code",
                          s->exit_code, "retryable", s->retryable, "result", s->result,
                          "mac", mac);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text)
        return sw_err_set(err, SW_EFAIL, "cannot encode the result of %s for the spool", s->id);
    char *path = s_path(self, s->job, s->id, s->attempt);
    char *tmp = xasprintf("%s.tmp", path);
    int fd = -1;
    for (int i = 0; i < 2 && fd < 0; i++) {
        /*  a temp file a crash left behind is ours: the directory is private */
        unlink(tmp);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno == ENOENT && i == 0) {
            log_warnx("the spool %s is gone: making it again", self->dir);
            if (mkdir(self->dir, 0700) < 0 && errno != EEXIST)
                break;
        }
        else if (fd < 0)
            break;
    }
    /*  Each step closes the fd at most once: a second close could hit an
     *  fd that ZeroMQ's threads opened meanwhile. */
    int rc = 0;
    if (fd < 0)
        rc = sw_err_set(err, SW_EFAIL, "cannot spool the result of %s to %s: %s", s->id, tmp,
                        strerror(errno));
    else {
        bool ok = s_write_all(fd, text, strlen(text)) == 0 && fsync(fd) == 0;
        int saved = errno;
        if (close(fd) < 0 && ok) {
            ok = false;
            saved = errno;
        }
        fd = -1;
        if (ok && rename(tmp, path) < 0) {
            ok = false;
            saved = errno;
        }
        if (!ok) {
            rc = sw_err_set(err, SW_EFAIL, "cannot spool the result of %s to %s: %s", s->id,
                            path, strerror(saved));
            unlink(tmp);
            errno = saved;
        }
    }
    free(tmp);
    free(path);
    free(text);
    return rc;
}

void
agent_spool_remove(agent_spool_t *self, const char *job, const char *id, int64_t attempt)
{
    char *path = s_path(self, job, id, attempt);
    if (unlink(path) < 0 && errno != ENOENT)
        log_warn("cannot remove %s", path);
    free(path);
}

void
agent_spooled_release(agent_spooled_t *s)
{
    free(s->job);
    free(s->id);
    free(s->ns);
    free(s->status);
    free(s->result);
    memset(s, 0, sizeof *s);
}

/*  Reads and checks the record in NAME; 0, or -1 with the reason in why. */
static int
s_parse(agent_spool_t *self, const char *name, agent_spooled_t *s, const char **why)
{
    char *path = xasprintf("%s/%s", self->dir, name);
    sw_buf_t text;
    sw_buf_init(&text);
    bool cut = false;
    int rc = agent_state_read(path, SPOOL_MAX_RECORD, &text, &cut);
    free(path);
    if (rc < 0 || cut) {
        *why = rc < 0 ? "not a regular file" : "too large";
        sw_buf_release(&text);
        return -1;
    }
    json_error_t jerr;
    json_t *o = json_loadb(text.data, text.len, 0, &jerr);
    sw_buf_release(&text);
    const char *job, *id, *ns, *status, *result, *mac;
    json_int_t attempt;
    int exit_code, retryable;
    if (!o || json_unpack(o, "{s:s, s:s, s:s, s:I, s:s, s:i, s:b, s:s, s:s}", "job", &job,
                          "id", &id, "ns", &ns, "attempt", &attempt, "status", &status,
                          "exit_code", &exit_code, "retryable", &retryable, "result", &result,
                          "mac", &mac) != 0) {
        *why = "not a spooled result";
        json_decref(o);
        return -1;
    }
    *s = (agent_spooled_t) { xstrdup(job), xstrdup(id), xstrdup(ns), attempt,
                             xstrdup(status), exit_code, retryable, xstrdup(result) };
    char want[2 * AGENT_STATE_MAC_BYTES + 1], expect_name[65 + 5];
    s_mac(self, s, want);
    bool mac_ok = strlen(mac) == strlen(want) && sodium_memcmp(mac, want, strlen(want)) == 0;
    json_decref(o);
    agent_state_name(s->job, s->id, s->attempt, expect_name);
    strcat(expect_name, ".json");
    if (!mac_ok)
        *why = "its MAC is wrong (not written by this agent, or altered)";
    else if (strcmp(name, expect_name) != 0)
        *why = "its name does not match its job, task and attempt";
    else
        return 0;
    agent_spooled_release(s);
    return -1;
}

int
agent_spool_load(agent_spool_t *self, void (*fn)(void *arg, agent_spooled_t *s), void *arg)
{
    /*  Names first: renaming while readdir runs may hide other entries. */
    DIR *d = opendir(self->dir);
    if (!d)
        return 0;
    sw_strv_t names = { 0 };
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len >= 6 && strcmp(e->d_name + len - 5, ".json") == 0)
            sw_strv_push(&names, e->d_name);
    }
    closedir(d);
    int n = 0;
    for (size_t i = 0; i < names.n; i++) {
        agent_spooled_t s;
        const char *why = NULL;
        if (s_parse(self, names.v[i], &s, &why) < 0) {
            char *path = xasprintf("%s/%s", self->dir, names.v[i]);
            char *bad = xasprintf("%s.bad", path);
            log_warnx("spool file %s refused: %s; kept as %s, not delivered", path, why, bad);
            if (rename(path, bad) < 0)
                log_warn("rename %s", path);
            free(bad);
            free(path);
            continue;
        }
        fn(arg, &s);
        agent_spooled_release(&s);
        n++;
    }
    sw_strv_release(&names);
    return n;
}

/*  --- self-test --------------------------------------------------------------- */

static void
s_collect(void *arg, agent_spooled_t *s)
{
    agent_spooled_t *out = arg;
    int i = 0;
    while (out[i].job)
        i++;
    out[i] = *s;
    memset(s, 0, sizeof *s);        /*  taken */
}

static void
s_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

int
agent_spool_test(bool verbose)
{
    sw_err_t err = { 0 };
    char dir[] = "/tmp/swarm-spool-test.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char *work = xasprintf("%s/work", dir), *state_dir = xasprintf("%s/state", dir);
    CHECK(mkdir(work, 0700) == 0);
    agent_state_t *state = agent_state_open(state_dir, work, &err);
    CHECK(state != NULL);
    char *sub = xasprintf("%s/spool", state_dir);
    agent_spool_t *sp = agent_spool_new(sub, state, &err);
    CHECK(sp != NULL);
    agent_spooled_t a = { "job/1", "task:a", "ns", 2, "succeeded", 0, false,
                          "{\"output\":\"line\\nquote\\\" \\u00e9\"}" };
    agent_spooled_t b = { "job/1", "task:b", "", 1, "failed", 139, true, "{}" };
    CHECK(agent_spool_put(sp, &a, &err) == 0);
    CHECK(agent_spool_put(sp, &b, &err) == 0);
    CHECK(agent_spool_put(sp, &b, &err) == 0);     /*  again: replaces */
    /*  set aside, never delivered: a file that is not a record, a record
     *  without the key's MAC, a true record copied under another name, one
     *  altered, and a symlink */
    char *junk = xasprintf("%s/junk.json", sub);
    s_write(junk, "{\"job\":");
    char *forged = xasprintf("%s/forged.json", sub);
    s_write(forged, "{\"job\":\"j\",\"id\":\"x\",\"ns\":\"results\",\"attempt\":1,"
                    "\"status\":\"succeeded\",\"exit_code\":0,\"retryable\":false,"
                    "\"result\":\"{}\",\"mac\":\"00\"}");
    agent_spooled_t c = { "job/1", "task:c", "ns", 1, "succeeded", 0, false, "{\"output\":1}" };
    CHECK(agent_spool_put(sp, &c, &err) == 0);
    char *cpath = s_path(sp, "job/1", "task:c", 1), *copied = s_path(sp, "job/1", "task:c", 7);
    CHECK(rename(cpath, copied) == 0);
    agent_spooled_t d2 = { "job/1", "task:d", "ns", 1, "failed", 1, false, "{\"output\":2}" };
    CHECK(agent_spool_put(sp, &d2, &err) == 0);
    char *dpath = s_path(sp, "job/1", "task:d", 1);
    sw_buf_t text;
    sw_buf_init(&text);
    CHECK(sw_read_file(dpath, 1 << 20, &text, NULL) == 0);
    char *p = strstr(text.data, "\"failed\"");
    CHECK(p != NULL);
    memcpy(p, "\"passed\"", 8);
    s_write(dpath, text.data);
    sw_buf_release(&text);
    char *link = xasprintf("%s/link.json", sub);
    CHECK(symlink(junk, link) == 0);
    agent_spooled_t got[8] = { { 0 } };
    CHECK(agent_spool_load(sp, s_collect, got) == 2);
    const char *set_aside[] = { junk, forged, copied, dpath, link };
    for (size_t i = 0; i < 5; i++) {
        char *kept = xasprintf("%s.bad", set_aside[i]);
        struct stat st;
        CHECK(lstat(kept, &st) == 0 && lstat(set_aside[i], &st) < 0);
        free(kept);
    }
    agent_spooled_t *ga = strcmp(got[0].id, "task:a") == 0 ? &got[0] : &got[1];
    agent_spooled_t *gb = ga == &got[0] ? &got[1] : &got[0];
    CHECK(strcmp(ga->job, "job/1") == 0 && ga->attempt == 2 && !ga->retryable);
    CHECK(strcmp(ga->result, a.result) == 0 && strcmp(ga->ns, "ns") == 0);
    CHECK(strcmp(gb->status, "failed") == 0 && gb->exit_code == 139 && gb->retryable);
    agent_spool_remove(sp, "job/1", "task:a", 2);
    agent_spool_remove(sp, "job/1", "task:a", 2);  /*  gone already: fine */
    agent_spooled_release(&got[0]);
    agent_spooled_release(&got[1]);
    memset(got, 0, sizeof got);
    CHECK(agent_spool_load(sp, s_collect, got) == 1 && strcmp(got[0].id, "task:b") == 0);
    agent_spooled_release(&got[0]);
    agent_spool_remove(sp, "job/1", "task:b", 1);

    /*  a failed rename reports the error, leaves no temp file and closes
     *  the file once: a second close would leave errno EBADF */
    char *apath = s_path(sp, "job/1", "task:a", 2), *atmp = xasprintf("%s.tmp", apath);
    CHECK(mkdir(apath, 0700) == 0);
    errno = 0;
    CHECK(agent_spool_put(sp, &a, &err) < 0 && strstr(err.msg, "cannot spool"));
    CHECK(errno != EBADF && access(atmp, F_OK) < 0);
    CHECK(rmdir(apath) == 0);
    /*  the spool removed under us comes back */
    char *cmd = xasprintf("rm -rf '%s'", sub);
    CHECK(system(cmd) == 0);
    CHECK(agent_spool_put(sp, &a, &err) == 0 && access(apath, F_OK) == 0);
    free(cmd);

    agent_spool_destroy(&sp);
    agent_state_destroy(&state);
    cmd = xasprintf("rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    free(cmd);
    free(apath);
    free(atmp);
    free(cpath);
    free(copied);
    free(dpath);
    free(link);
    free(forged);
    free(junk);
    free(sub);
    free(work);
    free(state_dir);
    (void) verbose;
    return 0;
}
