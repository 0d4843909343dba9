/*  agent_ws -- see agent_ws.h */
#include "agent_ws.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent_orphans.h"
#include "agent_wshelper.h"
#include "sw_cas.h"
#include "sw_selftest.h"
#include "sw_ws.h"

extern char **environ;

typedef enum { SLOT_FREE, SLOT_IDLE, SLOT_BUSY, SLOT_KEPT } slot_state_t;

typedef struct {
    slot_state_t state;
    char        *repo;          /*  of its last task */
    bool         tree;          /*  a worktree is on disk */
    int          held;          /*  standbys of it still running (agent_ws_slot_hold) */
} slot_t;

struct agent_ws_t {
    const agent_ws_conf_t *conf;
    char   *helper;             /*  the helper program */
    char   *dir;                /*  STATE/ws */
    char   *mirrors;
    slot_t *slots;
    size_t  nslots;
    /*  worktrees captures moved aside: waiting for the remover, and the
     *  ones it is removing (its request and answer) */
    sw_strv_t trash, removing;
    sw_strv_t gc;                 /*  mirrors a capture found due for git gc: the remover's */
    bool      remover;            /*  a remover runs */
    /*  ... and the ones the remover could not remove (a file made
     *  immutable): they still count against AGENT_WS_TRASH_MAX, so an
     *  unremovable tree per task cannot fill the disk; the next start's
     *  removal of ROOT tries them again */
    sw_strv_t stuck;
    char     *trash_req, *trash_ans;
    unsigned  trash_seq;
};

static int
s_mkdir(const char *path, mode_t mode, sw_err_t *err)
{
    if (mkdir(path, mode) < 0 && errno != EEXIST)
        return sw_err_set(err, SW_EFAIL, "cannot create %s: %s", path, strerror(errno));
    struct stat sb;
    if (lstat(path, &sb) < 0 || !S_ISDIR(sb.st_mode))
        return sw_err_set(err, SW_EFAIL, "%s is not a directory", path);
    return 0;
}

/*  mkdir -p, for the worktree root below the workdir. */
static int
s_mkdirs(const char *path, sw_err_t *err)
{
    char *p = xstrdup(path);
    int rc = 0;
    for (char *s = p + 1; rc == 0 && *s; s++)
        if (*s == '/') {
            *s = '\0';
            if (mkdir(p, 0755) < 0 && errno != EEXIST)
                rc = sw_err_set(err, SW_EFAIL, "cannot create %s: %s", p, strerror(errno));
            *s = '/';
        }
    if (rc == 0)
        rc = s_mkdir(p, 0755, err);
    free(p);
    return rc;
}

agent_ws_t *
agent_ws_new(const agent_ws_conf_t *conf, sw_err_t *err)
{
    agent_ws_t *self = xcalloc(1, sizeof *self);
    self->conf = conf;
    /*  swarm-agent-workspace beside us links no ZeroMQ and starts in a few
     *  ms; else our own binary in its helper mode (tens of ms). */
    char *dir = xstrdup(conf->self_exe);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    self->helper = xasprintf("%s/swarm-agent-workspace", slash ? dir : ".");
    free(dir);
    if (access(self->helper, X_OK) < 0) {
        free(self->helper);
        self->helper = xstrdup(conf->self_exe);
    }
    self->dir = xasprintf("%s/ws", conf->state_dir);
    self->mirrors = conf->mirrors ? xstrdup(conf->mirrors) : xasprintf("%s/mirrors", self->dir);
    char *index = xasprintf("%s/index", self->dir), *run = xasprintf("%s/run", self->dir);
    int rc = s_mkdir(self->dir, 0700, err);
    if (rc == 0)
        rc = conf->mirrors ? s_mkdirs(self->mirrors, err) : s_mkdir(self->mirrors, 0700, err);
    /*  No task is live yet: whatever an earlier agent left goes. */
    if (rc == 0 && !conf->keep) {
        agent_ws_rmrf(index);
        agent_ws_rmrf(conf->root);
    }
    if (rc == 0)
        agent_ws_evict(self->mirrors, "", conf->mirror_cache ? conf->mirror_cache
                                                             : AGENT_WS_MIRROR_CACHE);
    agent_ws_rmrf(run);
    if (rc == 0)
        rc = s_mkdir(index, 0700, err);
    if (rc == 0)
        rc = s_mkdir(run, 0700, err);
    /*  The worktree root (below the workdir, which may not be ours to
     *  write) is made by the helper when a task first needs it: an agent
     *  that runs no workspace leaves the workdir as it found it. */
    free(index);
    free(run);
    if (rc < 0) {
        agent_ws_destroy(&self);
        return NULL;
    }
    return self;
}

void
agent_ws_destroy(agent_ws_t **self_p)
{
    agent_ws_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->nslots; i++)
        free(self->slots[i].repo);
    free(self->slots);
    sw_strv_release(&self->trash);
    sw_strv_release(&self->removing);
    sw_strv_release(&self->gc);
    sw_strv_release(&self->stuck);
    free(self->trash_req);
    free(self->trash_ans);
    free(self->helper);
    free(self->dir);
    free(self->mirrors);
    free(self);
    *self_p = NULL;
}

const char *
agent_ws_mirrors(const agent_ws_t *self)
{
    return self->mirrors;
}

void
agent_wsrun_init(agent_wsrun_t *r)
{
    memset(r, 0, sizeof *r);
    r->slot = -1;
    r->use_fd = -1;
}

void
agent_ws_spawn_release(agent_ws_spawn_t *s)
{
    sw_strv_release(&s->argv);
    sw_strv_release(&s->envp);
    memset(s, 0, sizeof *s);
}

/*  A worktree for a task of repo: an idle one of the same repository (its
 *  files are mostly right already), else any idle one, else a new one. */
static int
s_slot(agent_ws_t *self, const char *repo, bool *recycle)
{
    size_t pick = self->nslots;
    for (size_t i = 0; i < self->nslots; i++) {
        if (self->slots[i].state != SLOT_IDLE || self->slots[i].held)
            continue;
        if (pick == self->nslots || (self->slots[i].repo && strcmp(self->slots[i].repo, repo) == 0
                                     && !(self->slots[pick].repo
                                          && strcmp(self->slots[pick].repo, repo) == 0)))
            pick = i;
    }
    for (size_t i = 0; pick == self->nslots && i < self->nslots; i++)
        if (self->slots[i].state == SLOT_FREE && !self->slots[i].held)
            pick = i;
    if (pick == self->nslots) {
        self->slots = xrealloc(self->slots, (self->nslots + 1) * sizeof *self->slots);
        self->slots[self->nslots++] = (slot_t) { SLOT_FREE, NULL, false, 0 };
    }
    slot_t *s = &self->slots[pick];
    *recycle = s->tree;
    s->state = SLOT_BUSY;
    s->tree = true;
    free(s->repo);
    s->repo = xstrdup(repo);
    return (int) pick;
}

static long
s_idle(const agent_ws_t *self)
{
    long n = 0;
    for (size_t i = 0; i < self->nslots; i++)
        n += self->slots[i].state == SLOT_IDLE;
    return n;
}

static void s_spawn(agent_ws_t *self, const char *reqfile, const char *token,
                    agent_ws_spawn_t *s);

/*  Writes a helper's request to path, a file that must not exist yet
 *  (O_EXCL, no link followed): its only reader is the helper we start. */
static int
s_write_request(const char *path, const json_t *req, sw_err_t *err)
{
    char *text = json_dumps(req, JSON_COMPACT);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && write(fd, text, strlen(text)) == (ssize_t) strlen(text);
    if (fd >= 0 && close(fd) < 0)
        ok = false;
    free(text);
    if (!ok)
        return sw_err_set(err, SW_EFAIL, "cannot write the workspace request %s: %s", path,
                          strerror(errno));
    return 0;
}

static void s_fields(agent_ws_t *self, const sw_task_t *t, agent_wsrun_t *r, const char *stage,
                     const char *answer, json_t *req);

/*  Writes the request of a stage and fills the helper's start. */
static int
s_request(agent_ws_t *self, const sw_task_t *t, agent_wsrun_t *r, const char *stage,
          json_t *req, agent_ws_spawn_t *s, sw_err_t *err)
{
    char name[65];
    sw_buf_t key;
    sw_buf_init(&key);
    sw_buf_printf(&key, "%s%c%s%c%lld%c%s%c%d", t->job, 0, t->id, 0, (long long) t->attempt, 0,
                  stage, 0, r->captures);
    sw_sha256_hex(key.data, key.len, name);
    sw_buf_release(&key);
    free(r->req);
    free(r->answer);
    r->req = xasprintf("%s/run/%s.req", self->dir, name);
    r->answer = xasprintf("%s/run/%s.ans", self->dir, name);
    unlink(r->req);
    unlink(r->answer);
    s_fields(self, t, r, stage, r->answer, req);
    if (s_write_request(r->req, req, err) < 0)
        return -1;
    /*  The helper: our own binary, an environment of its own (the Redis
     *  URL there, never in argv), in the state directory. */
    s_spawn(self, r->req, r->token, s);
    return 0;
}

/*  The fields every request of a run's stage has. */
static void
s_fields(agent_ws_t *self, const sw_task_t *t, agent_wsrun_t *r, const char *stage,
         const char *answer, json_t *req)
{
    const agent_ws_conf_t *c = self->conf;
    json_object_set_new(req, "op", json_string(stage));
    json_object_set_new(req, "answer", json_string(answer));
    json_object_set_new(req, "mirrors", json_string(self->mirrors));
    json_object_set_new(req, "repo", json_string(t->ws.repo));
    json_object_set_new(req, "job", json_string(t->job));
    json_object_set_new(req, "id", json_string(t->id));
    json_object_set_new(req, "attempt", json_integer((json_int_t) t->attempt));
    json_object_set_new(req, "agent", json_string(c->agent_id));
    json_object_set_new(req, "worktree", json_string(r->worktree));
    json_object_set_new(req, "index", json_string(r->index));
    json_object_set_new(req, "ttl_s", json_integer(c->ttl_s));
    if (c->password_file)
        json_object_set_new(req, "password_file", json_string(c->password_file));
}

static void
s_spawn(agent_ws_t *self, const char *reqfile, const char *token, agent_ws_spawn_t *s)
{
    const agent_ws_conf_t *c = self->conf;
    memset(s, 0, sizeof *s);
    sw_strv_push(&s->argv, self->helper);
    sw_strv_push(&s->argv, AGENT_WS_HELPER_ARG);
    sw_strv_push(&s->argv, reqfile);
    static const char *const pass[] = { "PATH=", "HOME=", "USER=", "LOGNAME=", "LANG=", "LC_",
                                        "TMPDIR=", "SWARM_REDIS_PASSWORD=", "SWARM_GIT_TRACE=",
                                        NULL };
    for (char **e = environ; *e; e++)
        for (const char *const *p = pass; *p; p++)
            if (strncmp(*e, *p, strlen(*p)) == 0) {
                sw_strv_push(&s->envp, *e);
                break;
            }
    char *url = xasprintf("SWARM_REDIS=%s", c->redis_url);
    sw_strv_push(&s->envp, url);
    free(url);
    if (token) {
        /*  what a killed helper leaves behind is swept like a task's: by
         *  this agent (SWARM_RUN), and by the next agent of this id when
         *  this one was killed too (agent_orphans_leftovers wants both;
         *  the helper's gits carry them on, sw_git.c) */
        char *tok = xasprintf(AGENT_RUN_ENV "=%s", token);
        sw_strv_push(&s->envp, tok);
        free(tok);
        if (c->agent_id) {
            char *id = xasprintf("SWARM_AGENT=%s", c->agent_id);
            sw_strv_push(&s->envp, id);
            free(id);
        }
    }
    s->opts = (agent_child_opts_t) {
        .argv = s->argv.v, .envp = s->envp.v, .dir = self->dir, .stdin_fd = -1,
        .timeout_ms = c->timeout_ms > 0 ? c->timeout_ms : AGENT_WS_TIMEOUT_MS,
        .grace_ms = 2000, .term_signal = SIGTERM,
        .out_head = 4096, .out_tail = 4096, .err_tail = 8192,
    };
}

int
agent_ws_prepare(agent_ws_t *self, const sw_task_t *t, agent_wsrun_t *r, agent_ws_spawn_t *s,
                 sw_err_t *err)
{
    bool recycle = false;
    if (r->slot < 0) {
        r->slot = s_slot(self, t->ws.repo, &recycle);
        r->worktree = xasprintf("%s/%d", self->conf->root, r->slot);
        r->index = xasprintf("%s/index/%d", self->dir, r->slot);
    }
    json_t *base = sw_task_ws_json(&t->ws), *deps = json_array();
    json_object_del(base, "repo");
    for (size_t i = 0; i < t->after.n; i++)
        json_array_append_new(deps, json_string(t->after.v[i]));
    const agent_ws_conf_t *c = self->conf;
    json_t *req = json_pack("{s:o, s:o, s:b, s:s?, s:I, s:I}", "base", base, "deps", deps,
                            "recycle", recycle, "dir", t->dir,
                            "max_snapshot", (json_int_t) (c->max_snapshot ? c->max_snapshot
                                                          : SW_WS_MAX_SNAPSHOT),
                            "mirror_cache", (json_int_t) (c->mirror_cache ? c->mirror_cache
                                                          : AGENT_WS_MIRROR_CACHE));
    int rc = s_request(self, t, r, "prepare", req, s, err);
    json_decref(req);
    return rc;
}

/*  The helper's answer, or NULL with r->error (what the child said). */
static json_t *
s_answer(agent_wsrun_t *r, const agent_child_t *c, const char *stage)
{
    sw_buf_t text;
    sw_buf_init(&text);
    json_t *a = NULL;
    struct stat sb;
    /*  only a regular file of ours: never a symlink */
    int fd = open(r->answer, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
        char buf[65536];
        ssize_t n;
        while (text.len < (16u << 20) && (n = read(fd, buf, sizeof buf)) > 0)
            sw_buf_add(&text, buf, (size_t) n);
        a = json_loadb(text.data ? text.data : "", text.len, 0, NULL);
    }
    if (fd >= 0)
        close(fd);
    sw_buf_release(&text);
    unlink(r->answer);
    unlink(r->req);
    free(r->error);
    r->error = NULL;
    if (getenv("SWARM_GIT_TRACE")) {
        /*  the helper's timings (sw_git.h), for profiling */
        sw_buf_t tail;
        sw_buf_init(&tail);
        sw_capture_render(&c->err, &tail);
        log_info("the workspace %s helper's trace:\n%s", stage, tail.data ? tail.data : "");
        sw_buf_release(&tail);
    }
    /*  The helper's notes on success (a mirror evicted, a worktree reset
     *  afresh or moved aside: its lines that start "swarm-agent: ") go to
     *  the log; nothing else of its stderr is meant for it. */
    else if (json_is_object(a) && c->exited && agent_child_exit_code(c) == 0) {
        sw_buf_t notes;
        sw_buf_init(&notes);
        sw_capture_render(&c->err, &notes);
        for (char *line = notes.data, *nl; line && *line; line = nl ? nl + 1 : NULL) {
            nl = strchr(line, '\n');
            if (nl)
                *nl = '\0';
            if (strncmp(line, "swarm-agent: ", 13) == 0)
                log_warnx("the workspace %s: %s", stage, line + 13);
        }
        sw_buf_release(&notes);
    }
    /*  An answer and yet a failure (a sanitizer's report at exit, say):
     *  its stderr goes to the log. */
    if (json_is_object(a) && c->exited && agent_child_exit_code(c) != 0) {
        sw_buf_t tail;
        sw_buf_init(&tail);
        sw_capture_render(&c->err, &tail);
        log_warnx("the workspace %s helper answered but exited %d: %s", stage,
                  agent_child_exit_code(c), tail.data ? tail.data : "");
        sw_buf_release(&tail);
    }
    if (!json_is_object(a)) {
        json_decref(a);
        sw_buf_t err;
        sw_buf_init(&err);
        sw_capture_render(&c->err, &err);
        while (err.len && (err.data[err.len - 1] == '\n'))
            err.data[--err.len] = '\0';
        const char *last = err.data ? strrchr(err.data, '\n') : NULL;
        int code = c->exited ? agent_child_exit_code(c) : -1;
        r->error = xasprintf("the workspace %s %s%s%s", stage,
                             c->stop == AGENT_STOP_TIMEOUT ? "timed out" : "helper failed",
                             err.len ? ": " : code >= 0 ? "" : "",
                             err.len ? (last ? last + 1 : err.data) : "");
        if (!err.len && code >= 0) {
            free(r->error);
            r->error = xasprintf("the workspace %s helper failed (exit %d)", stage, code);
        }
        sw_buf_release(&err);
        r->retry = true;        /*  a crash or a timeout may pass on another try */
        return NULL;
    }
    if (!json_is_true(json_object_get(a, "ok"))) {
        const char *e = json_string_value(json_object_get(a, "error"));
        r->error = xstrdup(e ? e : "the workspace helper failed");
        r->retry = json_is_true(json_object_get(a, "retry"));
        json_decref(a);
        return NULL;
    }
    r->retry = false;
    return a;
}

int
agent_ws_prepared(agent_ws_t *self, const sw_task_t *t, agent_wsrun_t *r, const agent_child_t *c)
{
    json_t *a = s_answer(r, c, "preparation");
    if (!a)
        return -1;
    const char *base = json_string_value(json_object_get(a, "base"));
    free(r->base);
    r->base = base ? xstrdup(base) : NULL;
    const char *tree = json_string_value(json_object_get(a, "tree"));
    free(r->base_tree);
    r->base_tree = tree && *tree ? xstrdup(tree) : NULL;
    json_decref(r->prereqs);
    r->prereqs = json_incref(json_object_get(a, "prereqs"));
    r->hit = json_is_true(json_object_get(a, "hit"));
    r->fresh = json_is_true(json_object_get(a, "fresh"));
    r->bytes = (long long) json_integer_value(json_object_get(a, "bytes"));
    r->fetch_ms = (long long) json_integer_value(json_object_get(a, "fetch_ms"));
    r->checkout_ms = (long long) json_integer_value(json_object_get(a, "checkout_ms"));
    json_decref(a);
    if (!r->base || !json_is_array(r->prereqs)) {
        r->error = xstrdup("the workspace helper answered without a start commit");
        r->retry = true;
        return -1;
    }
    free(r->cwd);
    r->cwd = t->dir && *t->dir && strcmp(t->dir, ".") != 0
           ? xasprintf("%s/%s", r->worktree, t->dir) : xstrdup(r->worktree);
    /*  The mirror is in use while the task runs (its .git borrows the
     *  objects): nobody evicts it meanwhile. */
    if (r->use_fd < 0)
        r->use_fd = agent_ws_lock(self->mirrors, t->ws.repo, "use", LOCK_SH | LOCK_NB);
    long long ms = (long long) (sw_now_ms() - c->start_ms);
    if (r->hit)
        log_info("task %s/%s: worktree at %.12s in %lld ms (mirror hit, checkout %s %lld ms)",
                 t->job, t->id, r->base, ms, r->fresh ? "fresh" : "reset", r->checkout_ms);
    else
        log_info("task %s/%s: worktree at %.12s in %lld ms (fetched %lld bytes in %lld ms, "
                 "checkout %s %lld ms)", t->job, t->id, r->base, ms, r->bytes, r->fetch_ms,
                 r->fresh ? "fresh" : "reset", r->checkout_ms);
    return 0;
}

int
agent_ws_capture(agent_ws_t *self, const sw_task_t *t, agent_wsrun_t *r, bool succeeded,
                 agent_ws_spawn_t *s, sw_err_t *err)
{
    const agent_ws_conf_t *c = self->conf;
    /*  The pool keeps this worktree for the next task, unless it is full:
     *  then the capture removes it once everything is stored. */
    r->remove = !c->keep && s_idle(self) >= c->idle;
    /*  ... moved aside, answered, and removed by the remover afterwards:
     *  2,000 files take 100-650 ms to remove, which the result need not
     *  wait for (issue 16, capture speed 2) */
    free(r->trash);
    r->trash = NULL;
    if (r->remove && agent_ws_trash_count(self) < AGENT_WS_TRASH_MAX)
        r->trash = xasprintf("%s/.trash-%d-%u", c->root, r->slot, ++self->trash_seq);
    json_t *outputs = json_array();
    for (size_t i = 0; succeeded && i < t->outputs.n; i++)
        json_array_append_new(outputs, json_string(t->outputs.v[i]));
    json_t *req = json_pack("{s:s, s:s?, s:O, s:o, s:I, s:I, s:b}", "base", r->base,
                            "base_tree", r->base_tree, "prereqs",
                            r->prereqs, "outputs", outputs,
                            "max_change", (json_int_t) (c->max_change ? c->max_change
                                                        : AGENT_WS_MAX_CHANGE),
                            "max_outputs", (json_int_t) (c->max_outputs ? c->max_outputs
                                                         : AGENT_WS_MAX_OUTPUTS),
                            "remove", r->remove);
    if (r->trash)
        json_object_set_new(req, "trash", json_string(r->trash));
    if (r->unlock)
        json_object_set_new(req, "unlock", json_true());
    r->unlock = false;
    r->captures++;
    r->capturing = true;
    int rc = s_request(self, t, r, "capture", req, s, err);
    json_decref(req);
    return rc;
}

int
agent_ws_standby(agent_ws_t *self, const sw_task_t *t, agent_wsrun_t *r, agent_ws_spawn_t *s,
                 int64_t *timeout_ms, sw_err_t *err)
{
    char name[65];
    sw_buf_t key;
    sw_buf_init(&key);
    sw_buf_printf(&key, "%s%c%s%c%lld%cstandby", t->job, 0, t->id, 0, (long long) t->attempt, 0);
    sw_sha256_hex(key.data, key.len, name);
    sw_buf_release(&key);
    free(r->sb_req);
    r->sb_req = xasprintf("%s/run/%s.sb.req", self->dir, name);
    /*  written only when the standby refuses its start (an error
     *  answer): removed with the request (agent_ws_done) */
    char *answer = xasprintf("%s/run/%s.sb.ans", self->dir, name);
    unlink(r->sb_req);
    json_t *req = json_pack("{s:s}", "base", r->base);
    s_fields(self, t, r, "standby", answer, req);
    free(answer);
    int rc = s_write_request(r->sb_req, req, err);
    json_decref(req);
    if (rc < 0)
        return -1;
    s_spawn(self, r->sb_req, r->token, s);
    *timeout_ms = s->opts.timeout_ms;
    s->opts.timeout_ms = 0;
    return 0;
}

void
agent_ws_slot_hold(agent_ws_t *self, int slot, bool hold)
{
    if (slot >= 0 && (size_t) slot < self->nslots)
        self->slots[slot].held += hold ? 1 : self->slots[slot].held > 0 ? -1 : 0;
}

int
agent_ws_captured(agent_ws_t *self, const sw_task_t *t, agent_wsrun_t *r,
                  const agent_child_t *c)
{
    struct stat sb;
    if (r->from_standby && c->stop == AGENT_STOP_NONE && lstat(r->answer, &sb) < 0) {
        /*  A standby that died on its own after the hand-over (before its
         *  answer): the capture again, by a helper of its own, at once
         *  (the standby's gits died with it: the index may be locked). A
         *  capture the agent stopped (its timeout, a cancel, shutdown)
         *  fails as any capture helper's would: not run again with a
         *  whole new timeout (the read-only review of stop 31). */
        r->from_standby = false;
        r->unlock = true;
        free(r->error);
        r->error = xstrdup("the standby capture helper ended without an answer");
        r->retry = true;
        r->retry_ms = 0;        /*  capture_at: now */
        unlink(r->req);
        log_warnx("task %s/%s: %s (exit %d): capturing again without it", t->job, t->id,
                  r->error, c->exited ? agent_child_exit_code(c) : -1);
        return -1;
    }
    r->from_standby = false;
    json_t *a = s_answer(r, c, "capture");
    if (!a) {
        if (r->retry) {
            /*  Redis is out: the worktree stays, the capture is tried
             *  again after 1, 2, 4, 8, 8 ... s (the result would wait
             *  anyway). */
            r->retry_ms = r->retry_ms ? r->retry_ms * 2 : 1000;
            if (r->retry_ms > 8000)
                r->retry_ms = 8000;
            log_warnx("task %s/%s: the capture of its workspace failed (%s): trying again in "
                      "%lld s", t->job, t->id, r->error, (long long) r->retry_ms / 1000);
        }
        return -1;
    }
    json_decref(r->captured);
    r->captured = a;
    r->capturing = false;
    if (r->trash && json_is_true(json_object_get(a, "trashed")))
        sw_strv_push(&self->trash, r->trash);
    bool listed = false;
    for (size_t i = 0; i < self->gc.n && !listed; i++)
        listed = strcmp(self->gc.v[i], t->ws.repo) == 0;
    if (json_is_true(json_object_get(a, "gc_due")) && !listed)
        sw_strv_push(&self->gc, t->ws.repo);
    json_t *w = json_object_get(a, "workspace");
    log_info("task %s/%s: change captured in %lld ms (%lld files, %lld bytes sent, %lld already "
             "stored)", t->job, t->id, (long long) (sw_now_ms() - c->start_ms),
             (long long) json_integer_value(json_object_get(w, "files")),
             (long long) json_integer_value(json_object_get(a, "sent")),
             (long long) json_integer_value(json_object_get(a, "reused")));
    return 0;
}

size_t
agent_ws_trash_count(const agent_ws_t *self)
{
    return self->trash.n + self->removing.n + self->stuck.n;
}

int
agent_ws_trash_spawn(agent_ws_t *self, agent_ws_spawn_t *s, sw_err_t *err)
{
    if ((!self->trash.n && !self->gc.n) || self->remover)
        return 0;
    json_t *paths = json_array();
    for (size_t i = 0; i < self->trash.n; i++)
        json_array_append_new(paths, json_string(self->trash.v[i]));
    free(self->trash_req);
    free(self->trash_ans);
    self->trash_req = xasprintf("%s/run/trash.req", self->dir);
    self->trash_ans = xasprintf("%s/run/trash.ans", self->dir);
    unlink(self->trash_req);
    unlink(self->trash_ans);
    json_t *gc = json_array();
    for (size_t i = 0; i < self->gc.n; i++)
        json_array_append_new(gc, json_string(self->gc.v[i]));
    json_t *req = json_pack("{s:s, s:s, s:o, s:o, s:s}", "op", "remove", "answer",
                            self->trash_ans, "paths", paths, "gc", gc, "mirrors",
                            self->mirrors);
    int rc = s_write_request(self->trash_req, req, err);
    json_decref(req);
    if (rc < 0)
        return -1;
    char *token = xasprintf("%d:workspace-trash", (int) getpid());
    s_spawn(self, self->trash_req, token, s);
    free(token);
    /*  removed or not, they leave the list: what stays is the next
     *  start's (the whole ROOT goes then) */
    for (size_t i = 0; i < self->trash.n; i++)
        sw_strv_push(&self->removing, self->trash.v[i]);
    sw_strv_release(&self->trash);
    sw_strv_release(&self->gc);
    self->remover = true;
    return 1;
}

void
agent_ws_trash_done(agent_ws_t *self, const agent_child_t *c)
{
    sw_buf_t text;
    sw_buf_init(&text);
    json_t *a = NULL;
    if (self->trash_ans && sw_read_file(self->trash_ans, 1 << 20, &text, NULL) == 0)
        a = json_loadb(text.data ? text.data : "", text.len, 0, NULL);
    sw_buf_release(&text);
    long long removed = (long long) json_integer_value(json_object_get(a, "removed"));
    if (!json_is_true(json_object_get(a, "ok")) || removed < (long long) self->removing.n) {
        sw_buf_t tail;
        sw_buf_init(&tail);
        if (c)
            sw_capture_render(&c->err, &tail);
        log_warnx("%lld of %zu worktrees moved aside were not removed (the next start "
                  "removes them): %s", (long long) self->removing.n - removed,
                  self->removing.n, tail.data ? tail.data : "the remover failed");
        sw_buf_release(&tail);
    }
    else
        log_debug("removed %lld worktrees moved aside", removed);
    json_decref(a);
    if (self->trash_ans)
        unlink(self->trash_ans);
    if (self->trash_req)
        unlink(self->trash_req);
    struct stat sb;
    for (size_t i = 0; i < self->removing.n; i++)
        if (lstat(self->removing.v[i], &sb) == 0 || errno != ENOENT)
            sw_strv_push(&self->stuck, self->removing.v[i]);
    sw_strv_release(&self->removing);
    self->remover = false;
}

void
agent_ws_done(agent_ws_t *self, agent_wsrun_t *r)
{
    if (r->slot >= 0 && (size_t) r->slot < self->nslots) {
        slot_t *s = &self->slots[r->slot];
        if (self->conf->keep)
            s->state = SLOT_KEPT;           /*  as its task left it, for debugging */
        else if (r->remove && r->captured) {
            s->state = SLOT_FREE;           /*  the capture removed it */
            s->tree = false;
        }
        else
            s->state = SLOT_IDLE;
    }
    if (r->use_fd >= 0)
        close(r->use_fd);
    if (r->req)
        unlink(r->req);
    if (r->answer)
        unlink(r->answer);
    if (r->sb_req) {
        unlink(r->sb_req);
        size_t n = strlen(r->sb_req);     /*  "X.sb.req" -> its answer "X.sb.ans" */
        if (n > 3) {
            memcpy(r->sb_req + n - 3, "ans", 3);
            unlink(r->sb_req);
        }
    }
    free(r->sb_req);
    free(r->worktree);
    free(r->index);
    free(r->trash);
    free(r->req);
    free(r->answer);
    free(r->base);
    free(r->base_tree);
    free(r->cwd);
    free(r->error);
    free(r->token);
    json_decref(r->prereqs);
    json_decref(r->captured);
    agent_wsrun_init(r);
}

void
agent_ws_result(const agent_wsrun_t *r, json_t *result)
{
    if (r->captured) {
        const char *keys[] = { "workspace", "outputs", "outputs_manifest" };
        for (size_t i = 0; i < 3; i++) {
            json_t *v = json_object_get(r->captured, keys[i]);
            if (v)
                json_object_set(result, keys[i], v);
        }
    }
    else if (r->error && r->base)
        json_object_set_new(result, "workspace_error", json_string(r->error));
}

/*  --- self-test --------------------------------------------------------------------- */

int
agent_ws_test(bool verbose)
{
    char dir[] = "/tmp/swarm-agentws.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char *root = xasprintf("%s/work/swarm-worktrees/a1", dir), *stale = xasprintf("%s/7", root);
    CHECK(s_mkdirs(stale, NULL) == 0);
    agent_ws_conf_t conf = { .agent_id = "a1", .self_exe = "/usr/bin/swarm-agent",
                             .state_dir = dir, .root = root, .redis_url = "redis://r:1/2",
                             .idle = 1 };
    sw_err_t err = { 0 };
    agent_ws_t *ws = agent_ws_new(&conf, &err);
    CHECK(ws != NULL);
    struct stat sb;
    CHECK(stat(stale, &sb) < 0 && stat(root, &sb) < 0);    /*  swept at start */
    sw_task_t t;
    sw_task_init(&t);
    t.id = xstrdup("coder");
    t.job = xstrdup("j");
    t.attempt = 2;
    t.dir = xstrdup("src");
    t.ws.repo = xstrdup("shop-1");
    t.ws.commit = xstrdup("0123456789abcdef0123456789abcdef01234567");
    t.ws.manifest = xstrdup("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    sw_strv_push(&t.after, "architect");
    agent_wsrun_t r1, r2;
    agent_wsrun_init(&r1);
    agent_wsrun_init(&r2);
    agent_ws_spawn_t s;
    CHECK(ws && agent_ws_prepare(ws, &t, &r1, &s, &err) == 0);
    CHECK(s.argv.n == 3 && strcmp(s.argv.v[1], AGENT_WS_HELPER_ARG) == 0);
    bool url = false;
    for (size_t i = 0; i < s.envp.n; i++)
        url = url || strcmp(s.envp.v[i], "SWARM_REDIS=redis://r:1/2") == 0;
    CHECK(url);
    sw_buf_t text;
    sw_buf_init(&text);
    CHECK(sw_read_file(r1.req, 1 << 20, &text, NULL) == 0);
    json_t *req = json_loadb(text.data, text.len, 0, NULL);
    CHECK(strcmp(json_string_value(json_object_get(req, "op")), "prepare") == 0);
    CHECK(strcmp(json_string_value(json_array_get(json_object_get(req, "deps"), 0)),
                 "architect") == 0);
    CHECK(!json_is_true(json_object_get(req, "recycle")));
    CHECK(strcmp(json_string_value(json_object_get(req, "dir")), "src") == 0);
    json_decref(req);
    sw_buf_release(&text);
    agent_ws_spawn_release(&s);
    /*  a second run meanwhile gets another worktree */
    CHECK(agent_ws_prepare(ws, &t, &r2, &s, &err) == 0 && r2.slot != r1.slot);
    agent_ws_spawn_release(&s);
    agent_ws_done(ws, &r1);
    /*  the next run of the same repository reuses the idle one */
    agent_wsrun_t r3;
    agent_wsrun_init(&r3);
    CHECK(agent_ws_prepare(ws, &t, &r3, &s, &err) == 0 && r3.slot == 0);
    sw_buf_init(&text);
    CHECK(sw_read_file(r3.req, 1 << 20, &text, NULL) == 0);
    req = json_loadb(text.data, text.len, 0, NULL);
    CHECK(json_is_true(json_object_get(req, "recycle")));
    json_decref(req);
    sw_buf_release(&text);
    agent_ws_spawn_release(&s);
    /*  capture: the pool (idle 1) is empty, so the worktree stays */
    r3.base = xstrdup(t.ws.commit);
    r3.prereqs = json_array();
    CHECK(agent_ws_capture(ws, &t, &r3, true, &s, &err) == 0 && !r3.remove);
    agent_ws_spawn_release(&s);
    agent_ws_done(ws, &r3);
    r2.base = xstrdup(t.ws.commit);
    r2.prereqs = json_array();
    CHECK(agent_ws_capture(ws, &t, &r2, false, &s, &err) == 0 && r2.remove);
    agent_ws_spawn_release(&s);
    /*  ... moved aside to a .trash- name in ROOT, named in the request */
    char *prefix = xasprintf("%s/.trash-", root);
    CHECK(r2.trash && strncmp(r2.trash, prefix, strlen(prefix)) == 0);
    sw_buf_init(&text);
    CHECK(sw_read_file(r2.req, 1 << 20, &text, NULL) == 0);
    req = json_loadb(text.data, text.len, 0, NULL);
    CHECK(strcmp(json_string_value(json_object_get(req, "trash")), r2.trash) == 0);
    json_decref(req);
    sw_buf_release(&text);
    free(prefix);
    /*  bounded: with AGENT_WS_TRASH_MAX waiting, a capture removes in line */
    for (int i = 0; i < AGENT_WS_TRASH_MAX; i++)
        sw_strv_push(&ws->trash, "x");
    CHECK(agent_ws_capture(ws, &t, &r2, false, &s, &err) == 0 && r2.remove && !r2.trash);
    agent_ws_spawn_release(&s);
    agent_ws_done(ws, &r2);
    /*  the remover: one at a time, every waiting path in its request */
    CHECK(agent_ws_trash_spawn(ws, &s, &err) == 1 && agent_ws_trash_count(ws) == 4);
    agent_ws_spawn_release(&s);
    CHECK(agent_ws_trash_spawn(ws, &s, &err) == 0);
    sw_buf_init(&text);
    CHECK(sw_read_file(ws->trash_req, 1 << 20, &text, NULL) == 0);
    req = json_loadb(text.data, text.len, 0, NULL);
    CHECK(strcmp(json_string_value(json_object_get(req, "op")), "remove") == 0
          && json_array_size(json_object_get(req, "paths")) == 4);
    json_decref(req);
    sw_buf_release(&text);
    agent_ws_trash_done(ws, NULL);
    CHECK(agent_ws_trash_count(ws) == 0 && agent_ws_trash_spawn(ws, &s, &err) == 0);
    sw_task_release(&t);
    agent_ws_destroy(&ws);
    char *rm = xasprintf("rm -rf '%s'", dir);
    CHECK(system(rm) == 0);
    free(rm);
    free(root);
    free(stale);
    (void) verbose;
    return 0;
}
