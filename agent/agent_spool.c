/*  agent_spool -- see agent_spool.h */
#include "agent_spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sw_log.h"
#include "sw_selftest.h"

static char *
s_path(const char *dir, const char *job, const char *id, int64_t attempt)
{
    char *key = xasprintf("%s\x1f%s\x1f%lld", job, id, (long long) attempt);
    char sha[41];
    sw_sha1_hex(key, strlen(key), sha);
    free(key);
    return xasprintf("%s/%s.json", dir, sha);
}

int
agent_spool_open(const char *dir, sw_err_t *err)
{
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return sw_err_set(err, SW_EFAIL, "cannot create the spool %s: %s", dir, strerror(errno));
    return 0;
}

int
agent_spool_put(const char *dir, const agent_spooled_t *s, sw_err_t *err)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:s, s:i, s:b, s:s}", "job", s->job, "id", s->id,
                          "ns", s->ns ? s->ns : "", "attempt", (json_int_t) s->attempt,
                          "status", s->status, "exit_code", s->exit_code,
                          "retryable", s->retryable, "result", s->result);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text)
        return sw_err_set(err, SW_EFAIL, "cannot encode the result of %s for the spool", s->id);
    char *path = s_path(dir, s->job, s->id, s->attempt);
    char *tmp = xasprintf("%s.tmp", path);
    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    size_t len = strlen(text), off = 0;
    while (fd >= 0 && off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            break;
        off += (size_t) w;
    }
    if (fd < 0 || off < len || fsync(fd) < 0 || close(fd) < 0 || rename(tmp, path) < 0) {
        rc = sw_err_set(err, SW_EFAIL, "cannot spool the result of %s to %s: %s", s->id, path,
                        strerror(errno));
        if (fd >= 0)
            close(fd);
        unlink(tmp);
    }
    free(tmp);
    free(path);
    free(text);
    return rc;
}

void
agent_spool_remove(const char *dir, const char *job, const char *id, int64_t attempt)
{
    char *path = s_path(dir, job, id, attempt);
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

static int
s_parse(const char *path, agent_spooled_t *s)
{
    json_error_t jerr;
    json_t *o = json_load_file(path, 0, &jerr);
    const char *job, *id, *ns, *status, *result;
    json_int_t attempt;
    int exit_code, retryable;
    int rc = o && json_unpack(o, "{s:s, s:s, s:s, s:I, s:s, s:i, s:b, s:s}", "job", &job,
                              "id", &id, "ns", &ns, "attempt", &attempt, "status", &status,
                              "exit_code", &exit_code, "retryable", &retryable,
                              "result", &result) == 0 ? 0 : -1;
    if (rc == 0) {
        *s = (agent_spooled_t) { xstrdup(job), xstrdup(id), xstrdup(ns), attempt,
                                 xstrdup(status), exit_code, retryable, xstrdup(result) };
    }
    json_decref(o);
    return rc;
}

int
agent_spool_load(const char *dir, void (*fn)(void *arg, agent_spooled_t *s), void *arg)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        char *path = xasprintf("%s/%s", dir, e->d_name);
        agent_spooled_t s;
        if (s_parse(path, &s) < 0) {
            char *bad = xasprintf("%s.bad", path);
            log_warnx("spool file %s is unreadable: kept as %s", path, bad);
            rename(path, bad);
            free(bad);
        }
        else {
            fn(arg, &s);
            agent_spooled_release(&s);
            n++;
        }
        free(path);
    }
    closedir(d);
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

int
agent_spool_test(bool verbose)
{
    sw_err_t err = { 0 };
    char dir[] = "/tmp/swarm-spool-test.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char *sub = xasprintf("%s/spool", dir);
    CHECK(agent_spool_open(sub, &err) == 0 && agent_spool_open(sub, &err) == 0);
    agent_spooled_t a = { "job/1", "task:a", "ns", 2, "succeeded", 0, false,
                          "{\"output\":\"line\\nquote\\\" \\u00e9\"}" };
    agent_spooled_t b = { "job/1", "task:b", "", 1, "failed", 139, true, "{}" };
    CHECK(agent_spool_put(sub, &a, &err) == 0);
    CHECK(agent_spool_put(sub, &b, &err) == 0);
    CHECK(agent_spool_put(sub, &b, &err) == 0);     /*  again: replaces */
    /*  a file that is not a spooled result is set aside, not lost */
    char *junk = xasprintf("%s/junk.json", sub);
    FILE *f = fopen(junk, "w");
    CHECK(f && fputs("{\"job\":", f) >= 0 && fclose(f) == 0);
    agent_spooled_t got[4] = { { 0 } };
    CHECK(agent_spool_load(sub, s_collect, got) == 2);
    char *kept = xasprintf("%s.bad", junk);
    CHECK(access(kept, F_OK) == 0 && access(junk, F_OK) < 0);
    agent_spooled_t *ga = strcmp(got[0].id, "task:a") == 0 ? &got[0] : &got[1];
    agent_spooled_t *gb = ga == &got[0] ? &got[1] : &got[0];
    CHECK(strcmp(ga->job, "job/1") == 0 && ga->attempt == 2 && !ga->retryable);
    CHECK(strcmp(ga->result, a.result) == 0 && strcmp(ga->ns, "ns") == 0);
    CHECK(strcmp(gb->status, "failed") == 0 && gb->exit_code == 139 && gb->retryable);
    agent_spool_remove(sub, "job/1", "task:a", 2);
    agent_spool_remove(sub, "job/1", "task:a", 2);  /*  gone already: fine */
    agent_spooled_release(&got[0]);
    agent_spooled_release(&got[1]);
    memset(got, 0, sizeof got);
    CHECK(agent_spool_load(sub, s_collect, got) == 1 && strcmp(got[0].id, "task:b") == 0);
    agent_spooled_release(&got[0]);
    agent_spool_remove(sub, "job/1", "task:b", 1);
    unlink(kept);
    CHECK(rmdir(sub) == 0 && rmdir(dir) == 0);
    free(kept);
    free(junk);
    free(sub);
    (void) verbose;
    return 0;
}
