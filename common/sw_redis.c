/*  sw_redis -- see sw_redis.h */
#include "sw_redis.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sw_log.h"
#include "sw_resp.h"
#include "sw_selftest.h"

/*  A script call queued on the pipeline, kept until the flush so that a
 *  NOSCRIPT reply can be answered by running it again with its text. */
typedef struct {
    int          pos;           /*  its place in the pipeline */
    const char  *script;
    int          argc;          /*  EVAL, script, nkeys, keys and arguments */
    char       **argv;
    size_t      *lens;
} s_queued_eval_t;

struct sw_redis_t {
    sw_redis_url_t url;
    char          *addr;        /*  for messages, without the password */
    int            timeout_ms;
    redisContext  *ctx;
    int            pending;     /*  appended commands whose replies are unread */
    bool           broken;      /*  an append failed: flush reports it */
    struct {
        const char *script;
        char        sha[41];
        bool        loaded;     /*  known to the server (for pipelines) */
    }              scripts[16]; /*  SHA-1s of Lua scripts */
    s_queued_eval_t *evals;     /*  script calls in the pipeline */
    size_t         nevals, evals_cap;
};

static void
s_evals_clear(sw_redis_t *self)
{
    for (size_t i = 0; i < self->nevals; i++) {
        for (int k = 0; k < self->evals[i].argc; k++)
            free(self->evals[i].argv[k]);
        free(self->evals[i].argv);
        free(self->evals[i].lens);
    }
    self->nevals = 0;
}

sw_reply_class_t
sw_redis_reply_class(const redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_ERROR)
        return SW_REPLY_OK;
    static const char *const transient[] = { "LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN",
                                             "CLUSTERDOWN", NULL };
    const char *e = r->str ? r->str : "";
    for (const char *const *t = transient; *t; t++) {
        size_t n = strlen(*t);
        if (strncmp(e, *t, n) == 0 && (e[n] == ' ' || e[n] == '\0'))
            return SW_REPLY_TRANSIENT;
    }
    if (strncmp(e, "NOSCRIPT", 8) == 0)
        return SW_REPLY_NOSCRIPT;
    return SW_REPLY_REFUSED;
}

void
sw_redis_url_release(sw_redis_url_t *u)
{
    free(u->host);
    free(u->user);
    free(u->password);
    memset(u, 0, sizeof *u);
}

int
sw_redis_url_parse(const char *url, sw_redis_url_t *out, sw_err_t *err)
{
    memset(out, 0, sizeof *out);
    out->port = 6379;
    const char *p = url;
    if (strncmp(p, "redis://", 8) != 0)
        return sw_err_set(err, SW_EINVAL, "invalid Redis URL '%s' (want redis://HOST:PORT/DB)",
                          url);
    p += 8;
    const char *at = strrchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t) (at - p));
        if (colon) {
            if (colon > p)
                out->user = xstrndup(p, (size_t) (colon - p));
            out->password = xstrndup(colon + 1, (size_t) (at - colon - 1));
        }
        else
            out->password = xstrndup(p, (size_t) (at - p));
        p = at + 1;
    }
    const char *slash = strchr(p, '/');
    const char *end = slash ? slash : p + strlen(p);
    const char *colon = memchr(p, ':', (size_t) (end - p));
    const char *hend = colon ? colon : end;
    if (hend == p)
        goto bad;
    out->host = xstrndup(p, (size_t) (hend - p));
    long long v;
    if (colon) {
        char *port = xstrndup(colon + 1, (size_t) (end - colon - 1));
        int rc = sw_parse_int(port, 1, 65535, &v);
        free(port);
        if (rc < 0)
            goto bad;
        out->port = (int) v;
    }
    if (slash && slash[1]) {
        if (sw_parse_int(slash + 1, 0, 1000, &v) < 0)
            goto bad;
        out->db = (int) v;
    }
    const char *envpw = getenv("SWARM_REDIS_PASSWORD");
    if (envpw && *envpw) {
        free(out->password);
        out->password = xstrdup(envpw);
    }
    return 0;
bad:
    sw_redis_url_release(out);
    return sw_err_set(err, SW_EINVAL, "invalid Redis URL '%s' (want redis://HOST:PORT/DB)", url);
}

static struct timeval
s_tv(int ms)
{
    struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
    return tv;
}

/*  Failed operations of this process, for its /metrics: one per command,
 *  flush or connect that failed. One loop thread uses Redis per daemon. */
static uint64_t s_failed_io, s_failed_reply;

void
sw_redis_errors(uint64_t *unreachable, uint64_t *replies)
{
    *unreachable = s_failed_io;
    *replies = s_failed_reply;
}

static void
s_count(int code)
{
    if (code == SW_EUNREACH)
        s_failed_io++;
    else
        s_failed_reply++;
}

static void
s_drop(sw_redis_t *self)
{
    if (self->ctx)
        redisFree(self->ctx);
    self->ctx = NULL;
    self->pending = 0;
}

static int s_connect_once(sw_redis_t *self, sw_err_t *err);

static int
s_connect(sw_redis_t *self, sw_err_t *err)
{
    sw_err_t e = { 0 };
    if (s_connect_once(self, &e) == 0)
        return 0;
    s_count(e.code);
    if (err)
        *err = e;
    return -1;
}

static const char *s_why(const sw_redis_t *self, char *buf, size_t n);

static int
s_connect_once(sw_redis_t *self, sw_err_t *err)
{
    s_drop(self);
    /*  A new connection may be a new server (restarted, failed over)
     *  without our scripts: load them again before a pipeline uses one. */
    for (size_t i = 0; i < sizeof self->scripts / sizeof self->scripts[0]; i++)
        self->scripts[i].loaded = false;
    redisContext *c = redisConnectWithTimeout(self->url.host, self->url.port, s_tv(self->timeout_ms));
    if (!c || c->err) {
        sw_err_set(err, SW_EUNREACH, "redis at %s: %s", self->addr,
                   c ? c->errstr : "cannot allocate context");
        if (c)
            redisFree(c);
        return -1;
    }
    redisSetTimeout(c, s_tv(self->timeout_ms));
    self->ctx = c;
    redisReply *r;
    if (self->url.password) {
        if (self->url.user)
            r = redisCommand(c, "AUTH %s %s", self->url.user, self->url.password);
        else
            r = redisCommand(c, "AUTH %s", self->url.password);
        bool ok = r && r->type != REDIS_REPLY_ERROR;
        if (!ok) {
            /*  no reply is no answer (a stopped server), not a refusal */
            char why[64];
            if (r)
                sw_err_set(err, SW_EFAIL, "redis at %s: authentication failed: %s", self->addr,
                           r->str);
            else
                sw_err_set(err, SW_EUNREACH, "redis at %s: %s", self->addr,
                           s_why(self, why, sizeof why));
            if (r)
                freeReplyObject(r);
            s_drop(self);
            return -1;
        }
        freeReplyObject(r);
    }
    /*  Database 0 needs no SELECT; but a server with a password must still
     *  be asked something, so that NOAUTH is reported here, clearly. */
    r = self->url.db ? redisCommand(c, "SELECT %d", self->url.db) : redisCommand(c, "PING");
    if (!r || r->type == REDIS_REPLY_ERROR) {
        bool noauth = r && strncmp(r->str, "NOAUTH", 6) == 0;
        char why[64];
        sw_err_set(err, r ? SW_EFAIL : SW_EUNREACH, "redis at %s: %s", self->addr,
                   noauth ? "authentication required (put the password in the URL or "
                            "SWARM_REDIS_PASSWORD)"
                          : r ? r->str : s_why(self, why, sizeof why));
        if (r)
            freeReplyObject(r);
        s_drop(self);
        return -1;
    }
    freeReplyObject(r);
    return 0;
}

sw_redis_t *
sw_redis_new(const char *url, int timeout_ms, sw_err_t *err)
{
    sw_redis_t *self = xcalloc(1, sizeof *self);
    if (sw_redis_url_parse(url, &self->url, err) < 0) {
        free(self);
        return NULL;
    }
    self->timeout_ms = timeout_ms > 0 ? timeout_ms : 2000;
    self->addr = xasprintf("%s:%d/%d", self->url.host, self->url.port, self->url.db);
    if (s_connect(self, err) < 0) {
        sw_redis_destroy(&self);
        return NULL;
    }
    return self;
}

void
sw_redis_destroy(sw_redis_t **self_p)
{
    sw_redis_t *self = *self_p;
    if (!self)
        return;
    s_drop(self);
    s_evals_clear(self);
    free(self->evals);
    sw_redis_url_release(&self->url);
    free(self->addr);
    free(self);
    *self_p = NULL;
}

const char *
sw_redis_addr(const sw_redis_t *self)
{
    return self->addr;
}

int
sw_redis_password_file(const char *path, sw_err_t *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return sw_err_set(err, SW_EINVAL, "--redis-password-file %s: %s", path, strerror(errno));
    char pw[1024];
    size_t n = fread(pw, 1, sizeof pw - 1, f);
    fclose(f);
    pw[n] = '\0';
    while (n > 0 && (pw[n - 1] == '\n' || pw[n - 1] == '\r'))
        pw[--n] = '\0';
    if (n == 0)
        return sw_err_set(err, SW_EINVAL, "--redis-password-file %s is empty", path);
    struct stat sb;
    if (stat(path, &sb) == 0 && (sb.st_mode & 0077))
        log_warnx("%s is readable by others: chmod 600 it", path);
    /*  The URL parser takes it from there; children never see SWARM_*. */
    setenv("SWARM_REDIS_PASSWORD", pw, 1);
    memset(pw, 0, sizeof pw);
    return 0;
}

/*  Why the last command on ctx failed; hiredis reports a timeout as
 *  EAGAIN's text ("Resource temporarily unavailable", which said nothing
 *  of a server that was stopped: also in the connect's SELECT or AUTH). */
static const char *
s_why(const sw_redis_t *self, char *buf, size_t n)
{
    const redisContext *c = self->ctx;
    if (!c || !c->errstr[0])
        return "no reply";
    if (c->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        snprintf(buf, n, "no answer within %d ms", self->timeout_ms);
        return buf;
    }
    return c->errstr;
}

/*  Makes sure there is a live context; reconnects once. */
static int
s_ready(sw_redis_t *self, sw_err_t *err)
{
    if (self->ctx && !self->ctx->err)
        return 0;
    return s_connect(self, err);
}

/*  One command on a ready connection: its reply, an error reply too;
 *  NULL when the connection was lost (err says why; dropped). */
static redisReply *
s_command(sw_redis_t *self, int argc, const char **argv, const size_t *lens, sw_err_t *err)
{
    redisReply *r = redisCommandArgv(self->ctx, argc, argv, lens);
    if (!r) {
        char why[64];
        sw_err_set(err, SW_EUNREACH, "redis at %s: %s", self->addr, s_why(self, why, sizeof why));
        s_drop(self);
    }
    return r;
}

redisReply *
sw_redis_cmd(sw_redis_t *self, int argc, const char **argv, const size_t *lens, sw_err_t *err)
{
    if (self->pending && sw_redis_flush(self, err) < 0)
        return NULL;
    if (s_ready(self, err) < 0)
        return NULL;
    redisReply *r = s_command(self, argc, argv, lens, err);
    if (!r) {
        s_count(SW_EUNREACH);
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        /*  Loading its data after a restart, busy with a script: Redis is
         *  there but cannot serve yet, which callers treat as an outage.
         *  NOSCRIPT is how a server asks for a script it has not seen
         *  (sw_redis_eval sends it): no error of anybody's. */
        sw_reply_class_t cls = sw_redis_reply_class(r);
        bool transient = cls == SW_REPLY_TRANSIENT;
        if (cls != SW_REPLY_NOSCRIPT)
            s_count(transient ? SW_EUNREACH : SW_EFAIL);
        sw_err_set(err, transient ? SW_EUNREACH : SW_EFAIL, "redis at %s: %s: %s", self->addr,
                   argv[0], r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

redisReply *
sw_redis_cmdv(sw_redis_t *self, sw_err_t *err, ...)
{
    const char *argv[64];
    int argc = 0;
    va_list ap;
    va_start(ap, err);
    const char *a;
    while (argc < 64 && (a = va_arg(ap, const char *)) != NULL)
        argv[argc++] = a;
    va_end(ap);
    return sw_redis_cmd(self, argc, argv, NULL, err);
}

/*  The command in the protocol's framing (RESP: "*N\r\n" then "$LEN\r\n"
 *  ARG "\r\n" per argument, sw_resp.h; lens NULL: NUL-terminated), in
 *  one allocation and without printf: hiredis 0.14's
 *  redisAppendCommandArgv formats each header with sdscatfmt, a
 *  measurable share of the coordinator's CPU per task (issue 20). *out is
 *  the caller's to free; returns its length. */
static size_t
s_frame(int argc, const char **argv, const size_t *lens, char **out)
{
    size_t stack_lens[64];
    size_t *len = argc <= 64 ? stack_lens : xcalloc((size_t) argc, sizeof *len);
    size_t total = SW_RESP_HEAD_MAX;
    for (int i = 0; i < argc; i++) {
        len[i] = lens ? lens[i] : strlen(argv[i]);
        total += SW_RESP_BULK_MAX(len[i]);
    }
    char *buf = xmalloc(total), *p = sw_resp_array(buf, (uint64_t) argc);
    for (int i = 0; i < argc; i++)
        p = sw_resp_bulk(p, argv[i], len[i]);
    if (len != stack_lens)
        free(len);
    *out = buf;
    return (size_t) (p - buf);
}

static int
s_append_argv(redisContext *ctx, int argc, const char **argv, const size_t *lens)
{
    char *buf;
    size_t n = s_frame(argc, argv, lens, &buf);
    int rc = redisAppendFormattedCommand(ctx, buf, n);
    free(buf);
    return rc;
}

void
sw_redis_append(sw_redis_t *self, int argc, const char **argv, const size_t *lens)
{
    /*  One failed append fails the batch (flush says so): the rest is not
     *  tried, as each try would reconnect, and a Redis that accepts
     *  connections but does not answer (stopped, hung) costs a timeout
     *  per try: thousands of them when the coordinator rewrites its state. */
    if (self->broken)
        return;
    if (s_ready(self, NULL) < 0) {
        self->broken = true;
        return;
    }
    if (s_append_argv(self->ctx, argc, argv, lens) != REDIS_OK) {
        self->broken = true;
        return;
    }
    self->pending++;
}

int
sw_redis_pending(const sw_redis_t *self)
{
    return self->pending;
}

/*  The script call queued at pipeline position pos, if one was. */
static s_queued_eval_t *
s_queued_eval(sw_redis_t *self, int pos)
{
    for (size_t i = 0; i < self->nevals; i++)
        if (self->evals[i].pos == pos)
            return &self->evals[i];
    return NULL;
}

static void s_script_forget(sw_redis_t *self, const char *script);

/*  A pipeline's error reply r, into err: -1. "Not now" (LOADING ...) is
 *  an outage for the whole batch, and stays the verdict whatever else
 *  fails after it. */
static int
s_refused(sw_redis_t *self, const redisReply *r, sw_err_t *err)
{
    bool transient = sw_redis_reply_class(r) == SW_REPLY_TRANSIENT;
    if (transient || !err || err->code != SW_EUNREACH)
        sw_err_set(err, transient ? SW_EUNREACH : SW_EFAIL, "redis at %s: %s", self->addr,
                   r->str);
    return -1;
}

int
sw_redis_flush_each(sw_redis_t *self, void (*fn)(void *, int, redisReply *), void *arg,
                    sw_err_t *err)
{
    int rc = 0;
    bool lost = false;
    if (self->broken) {
        self->broken = false;
        lost = true;
        rc = sw_err_set(err, SW_EUNREACH, "redis at %s: not connected", self->addr);
    }
    int n = self->pending;
    self->pending = 0;
    redisReply **noscript = NULL;       /*  by position, kept for a second try */
    for (int i = 0; i < n; i++) {
        void *reply = NULL;
        if (!self->ctx || redisGetReply(self->ctx, &reply) != REDIS_OK) {
            char why[64];
            rc = sw_err_set(err, SW_EUNREACH, "redis at %s: %s", self->addr,
                            s_why(self, why, sizeof why));
            lost = true;
            s_drop(self);
            break;
        }
        redisReply *r = reply;
        if (sw_redis_reply_class(r) == SW_REPLY_NOSCRIPT && s_queued_eval(self, i)) {
            if (!noscript)
                noscript = xcalloc((size_t) n, sizeof *noscript);
            noscript[i] = r;
            continue;
        }
        if (r->type == REDIS_REPLY_ERROR && !lost)
            rc = s_refused(self, r, err);
        if (fn)
            fn(arg, i, r);
        freeReplyObject(r);
    }
    /*  The server forgot a script between its load and this flush (a
     *  restart, SCRIPT FLUSH): those calls run again with the text. */
    for (int i = 0; noscript && i < n; i++) {
        if (!noscript[i])
            continue;
        s_queued_eval_t *q = s_queued_eval(self, i);
        s_script_forget(self, q->script);
        sw_err_t e2 = { 0 };
        /*  The retry's own reply goes to fn, an error one too: a write
         *  refused on the retry is reported with its reason, not as the
         *  NOSCRIPT that asked for the retry (hostile review, issue 20). */
        redisReply *r2 = NULL;
        if (!lost && s_ready(self, &e2) == 0)
            r2 = s_command(self, q->argc, (const char **) q->argv, q->lens, &e2);
        if (!r2 && !lost && e2.code == SW_EUNREACH)
            lost = true;
        if (!r2 && rc == 0)
            rc = sw_err_set(err, e2.code ? e2.code : SW_EUNREACH, "%s",
                            e2.code ? e2.msg : "redis: not connected");
        if (r2 && r2->type == REDIS_REPLY_ERROR)
            rc = s_refused(self, r2, err);
        if (fn)
            fn(arg, i, r2 ? r2 : noscript[i]);
        if (r2)
            freeReplyObject(r2);
        freeReplyObject(noscript[i]);
    }
    free(noscript);
    s_evals_clear(self);
    if (rc < 0)
        s_count(err ? err->code : SW_EUNREACH);
    return rc;
}

int
sw_redis_flush(sw_redis_t *self, sw_err_t *err)
{
    return sw_redis_flush_each(self, NULL, NULL, err);
}

/*  The SHA-1 of script, computed once per script. */
static const char *
s_script_sha(sw_redis_t *self, const char *script)
{
    size_t i, n = sizeof self->scripts / sizeof self->scripts[0];
    for (i = 0; i < n && self->scripts[i].script; i++)
        if (self->scripts[i].script == script)
            return self->scripts[i].sha;
    if (i == n)
        i = n - 1;              /*  more scripts than slots: reuse the last */
    self->scripts[i].script = script;
    self->scripts[i].loaded = false;
    sw_sha1_hex(script, strlen(script), self->scripts[i].sha);
    return self->scripts[i].sha;
}

bool
sw_redis_script_loaded(const sw_redis_t *self, const char *script)
{
    for (size_t i = 0; i < sizeof self->scripts / sizeof self->scripts[0]; i++)
        if (self->scripts[i].script == script)
            return self->scripts[i].loaded;
    return false;
}

static void
s_script_forget(sw_redis_t *self, const char *script)
{
    for (size_t i = 0; i < sizeof self->scripts / sizeof self->scripts[0]; i++)
        if (self->scripts[i].script == script)
            self->scripts[i].loaded = false;
}

static int
s_evalsha_argv(const char *sha, int nkeys, int argc, const char **argv, const size_t *lens,
               const char **out, size_t *outlens, char *nk)
{
    snprintf(nk, 16, "%d", nkeys);
    out[0] = "EVALSHA";
    out[1] = sha;
    out[2] = nk;
    outlens[0] = 7;
    outlens[1] = 40;
    outlens[2] = strlen(nk);
    for (int i = 0; i < argc; i++) {
        out[3 + i] = argv[i];
        outlens[3 + i] = lens ? lens[i] : strlen(argv[i]);
    }
    return argc + 3;
}

/*  EVALSHA first: Redis keeps scripts by SHA-1, so the text crosses the
 *  network only when this server has not seen it (NOSCRIPT), once. */
redisReply *
sw_redis_eval(sw_redis_t *self, const char *script, int nkeys, int argc, const char **argv,
              const size_t *lens, sw_err_t *err)
{
    const char *av[64];
    size_t al[64];
    char nk[16];
    if (argc > 60)
        return sw_err_set(err, SW_EINVAL, "too many script arguments"), NULL;
    int n = s_evalsha_argv(s_script_sha(self, script), nkeys, argc, argv, lens, av, al, nk);
    sw_err_t e2 = { 0 };
    redisReply *r = sw_redis_cmd(self, n, av, al, &e2);
    if (!r && strstr(e2.msg, "NOSCRIPT")) {
        s_script_forget(self, script);      /*  for the pipelines: load it again */
        av[0] = "EVAL";
        al[0] = 4;
        av[1] = script;
        al[1] = strlen(script);
        r = sw_redis_cmd(self, n, av, al, &e2);
    }
    if (!r && err)
        *err = e2;
    return r;
}

int
sw_redis_eval_append(sw_redis_t *self, const char *script, int nkeys, int argc,
                     const char **argv, const size_t *lens, sw_err_t *err)
{
    const char *av[64];
    size_t al[64];
    char nk[16];
    if (argc > 60)
        return sw_err_set(err, SW_EINVAL, "too many script arguments");
    /*  A pipeline cannot retry one command: make sure the server knows
     *  the script before queueing EVALSHA. */
    const char *sha = s_script_sha(self, script);
    size_t slot = 0;
    while (self->scripts[slot].script != script)
        slot++;
    if (!self->scripts[slot].loaded) {
        redisReply *r = sw_redis_cmdv(self, err, "SCRIPT", "LOAD", script, NULL);
        if (!r)
            return -1;
        freeReplyObject(r);
        self->scripts[slot].loaded = true;
    }
    int n = s_evalsha_argv(sha, nkeys, argc, argv, lens, av, al, nk);
    int pos = self->pending;
    sw_redis_append(self, n, av, al);
    if (self->pending == pos)
        return 0;               /*  not queued: flush reports the failure */
    if (self->nevals == self->evals_cap) {
        self->evals_cap = self->evals_cap ? self->evals_cap * 2 : 8;
        self->evals = xrealloc(self->evals, self->evals_cap * sizeof *self->evals);
    }
    s_queued_eval_t *q = &self->evals[self->nevals++];
    q->pos = pos;
    q->script = script;
    q->argc = n;
    q->argv = xcalloc((size_t) n, sizeof *q->argv);
    q->lens = xcalloc((size_t) n, sizeof *q->lens);
    av[0] = "EVAL";
    al[0] = 4;
    av[1] = script;
    al[1] = strlen(script);
    for (int i = 0; i < n; i++) {
        q->argv[i] = xmalloc(al[i] + 1);
        memcpy(q->argv[i], av[i], al[i]);
        q->argv[i][al[i]] = '\0';
        q->lens[i] = al[i];
    }
    return 0;
}

int
sw_redis_test(bool verbose)
{
    /*  error replies: a few mean "later", NOSCRIPT wants the text, the
     *  rest refuse the command */
    static const struct { const char *text; sw_reply_class_t want; } cases[] = {
        { "LOADING Redis is loading the dataset in memory", SW_REPLY_TRANSIENT },
        { "BUSY Redis is busy running a script", SW_REPLY_TRANSIENT },
        { "MASTERDOWN Link with MASTER is down", SW_REPLY_TRANSIENT },
        { "TRYAGAIN Multiple keys request during rehashing", SW_REPLY_TRANSIENT },
        { "CLUSTERDOWN The cluster is down", SW_REPLY_TRANSIENT },
        { "NOSCRIPT No matching script. Please use EVAL.", SW_REPLY_NOSCRIPT },
        { "WRONGTYPE Operation against a key holding the wrong kind of value",
          SW_REPLY_REFUSED },
        { "OOM command not allowed when used memory > 'maxmemory'.", SW_REPLY_REFUSED },
        { "READONLY You can't write against a read only replica.", SW_REPLY_REFUSED },
        { "ERR Error running script (call to f_0): @user_script:1: oops", SW_REPLY_REFUSED },
        { "BUSYKEY Target key name already exists.", SW_REPLY_REFUSED },
        { "LOADINGX not a real one", SW_REPLY_REFUSED },
        { "", SW_REPLY_REFUSED },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        redisReply r = { .type = REDIS_REPLY_ERROR, .str = (char *) cases[i].text,
                         .len = strlen(cases[i].text) };
        CHECK(sw_redis_reply_class(&r) == cases[i].want);
    }
    /*  our framing is hiredis's, byte for byte: empty, binary (a NUL),
     *  lengths across digit counts, more arguments than the stack holds,
     *  one of 1 MiB */
    {
        static const size_t sizes[] = { 0, 1, 9, 10, 99, 100, 1 << 20 };
        char *big = xcalloc(1, 1 << 20);
        memset(big, 'x', 1 << 20);
        big[5] = '\0';
        const char *argv[100];
        size_t lens[100];
        for (int argc = 1; argc <= 100; argc += 33) {
            for (int i = 0; i < argc; i++) {
                argv[i] = big;
                lens[i] = sizes[i % (sizeof sizes / sizeof sizes[0])];
            }
            char *ours, *theirs;
            size_t n = s_frame(argc, argv, lens, &ours);
            int m = redisFormatCommandArgv(&theirs, argc, argv, lens);
            CHECK(m > 0 && (size_t) m == n && memcmp(ours, theirs, n) == 0);
            free(ours);
            free(theirs);
        }
        const char *words[] = { "HSET", "swarm:{j}:t", "status", "", "attempt", "12" };
        char *ours, *theirs;
        size_t n = s_frame(6, words, NULL, &ours);
        int m = redisFormatCommandArgv(&theirs, 6, words, NULL);
        CHECK((size_t) m == n && memcmp(ours, theirs, n) == 0);
        free(ours);
        free(theirs);
        free(big);
    }
    redisReply ok = { .type = REDIS_REPLY_STATUS, .str = "OK", .len = 2 };
    CHECK(sw_redis_reply_class(&ok) == SW_REPLY_OK && sw_redis_reply_class(NULL) == SW_REPLY_OK);

    sw_err_t err = { 0 };
    sw_redis_url_t u;
    CHECK(sw_redis_url_parse("redis://127.0.0.1:6390/3", &u, &err) == 0);
    CHECK(strcmp(u.host, "127.0.0.1") == 0 && u.port == 6390 && u.db == 3 && !u.password);
    sw_redis_url_release(&u);
    CHECK(sw_redis_url_parse("redis://:s3cret@h", &u, &err) == 0);
    CHECK(strcmp(u.host, "h") == 0 && u.port == 6379 && strcmp(u.password, "s3cret") == 0);
    CHECK(u.user == NULL);
    sw_redis_url_release(&u);
    CHECK(sw_redis_url_parse("redis://bob:pw@h:1/2", &u, &err) == 0);
    CHECK(strcmp(u.user, "bob") == 0 && strcmp(u.password, "pw") == 0 && u.db == 2);
    sw_redis_url_release(&u);
    CHECK(sw_redis_url_parse("http://h", &u, &err) < 0);
    CHECK(sw_redis_url_parse("redis://h:99999", &u, &err) < 0);
    CHECK(sw_redis_url_parse("redis://:1", &u, &err) < 0);
    CHECK(sw_redis_url_parse("redis://h/x", &u, &err) < 0);

    /*  nothing listens on port 1: a clear, fast error naming the address */
    int64_t t0 = sw_now_ms();
    uint64_t io0, rep0, io1, rep1;
    sw_redis_errors(&io0, &rep0);
    sw_redis_t *r = sw_redis_new("redis://127.0.0.1:1/0", 500, &err);
    CHECK(r == NULL && err.code == SW_EUNREACH);
    sw_redis_errors(&io1, &rep1);
    CHECK(io1 == io0 + 1 && rep1 == rep0);      /*  counted for /metrics */
    CHECK(strstr(err.msg, "127.0.0.1:1") != NULL);
    CHECK(sw_now_ms() - t0 < 3000);
    (void) verbose;
    return 0;
}

/*  --- against a real server -------------------------------------------------- */

static const char s_live_script[] = "return 'ran:' .. ARGV[1]";

static void
s_live_reply(void *arg, int i, redisReply *r)
{
    char (*out)[64] = arg;
    snprintf(out[i], 64, "%s", r->type == REDIS_REPLY_ERROR ? r->str
                               : r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS
                               ? r->str : "?");
}

int
sw_redis_live_test(const char *url)
{
    sw_err_t err = { 0 };
    sw_redis_t *r = sw_redis_new(url, 2000, &err);
    CHECK(r != NULL);
    if (!r)
        return 0;
    redisReply *x = sw_redis_cmdv(r, &err, "SET", "live-test:string", "v", NULL);
    CHECK(x != NULL);
    if (x)
        freeReplyObject(x);
    /*  a refused command is SW_EFAIL and names the refusal */
    x = sw_redis_cmdv(r, &err, "HSET", "live-test:string", "f", "v", NULL);
    CHECK(!x && err.code == SW_EFAIL && strstr(err.msg, "WRONGTYPE"));
    /*  in a pipeline: the other commands go through, flush says SW_EFAIL */
    const char *a1[] = { "HSET", "live-test:string", "f", "v" };
    const char *a2[] = { "SET", "live-test:other", "w" };
    sw_redis_append(r, 4, a1, NULL);
    sw_redis_append(r, 3, a2, NULL);
    char out[4][64];
    memset(out, 0, sizeof out);
    memset(&err, 0, sizeof err);
    CHECK(sw_redis_flush_each(r, s_live_reply, out, &err) < 0 && err.code == SW_EFAIL);
    CHECK(strncmp(out[0], "WRONGTYPE", 9) == 0 && strcmp(out[1], "OK") == 0);
    /*  a pipelined script after SCRIPT FLUSH (its loaded mark was stale):
     *  run again with its text, its own reply passed on */
    const char *arg[] = { "one" };
    CHECK(sw_redis_eval_append(r, s_live_script, 0, 1, arg, NULL, &err) == 0);
    memset(out, 0, sizeof out);
    CHECK(sw_redis_flush_each(r, s_live_reply, out, &err) == 0);
    CHECK(strcmp(out[0], "ran:one") == 0);
    x = sw_redis_cmdv(r, &err, "SCRIPT", "FLUSH", NULL);
    CHECK(x != NULL);
    if (x)
        freeReplyObject(x);
    const char *arg2[] = { "two" };
    sw_redis_append(r, 3, a2, NULL);
    CHECK(sw_redis_eval_append(r, s_live_script, 0, 1, arg2, NULL, &err) == 0);
    sw_redis_append(r, 3, a2, NULL);
    memset(out, 0, sizeof out);
    memset(&err, 0, sizeof err);
    CHECK(sw_redis_flush_each(r, s_live_reply, out, &err) == 0);
    CHECK(strcmp(out[0], "OK") == 0 && strcmp(out[1], "ran:two") == 0 && strcmp(out[2], "OK") == 0);
    /*  a lost connection to a server that forgot its scripts (as after a
     *  restart): the next pipelined call loads it again */
    sw_redis_t *killer = sw_redis_new(url, 2000, &err);
    x = sw_redis_cmdv(r, &err, "CLIENT", "ID", NULL);
    CHECK(x && x->type == REDIS_REPLY_INTEGER);
    char id[32];
    snprintf(id, sizeof id, "%lld", x ? x->integer : 0);
    if (x)
        freeReplyObject(x);
    x = killer ? sw_redis_cmdv(killer, &err, "SCRIPT", "FLUSH", NULL) : NULL;
    if (x)
        freeReplyObject(x);
    x = killer ? sw_redis_cmdv(killer, &err, "CLIENT", "KILL", "ID", id, NULL) : NULL;
    if (x)
        freeReplyObject(x);
    /*  the first command after the kill finds the connection gone: an
     *  outage, not a refusal; the one after reconnects */
    x = sw_redis_cmdv(r, &err, "PING", NULL);
    if (x)
        freeReplyObject(x);
    else
        CHECK(err.code == SW_EUNREACH);
    const char *arg3[] = { "three" };
    CHECK(sw_redis_eval_append(r, s_live_script, 0, 1, arg3, NULL, &err) == 0);
    memset(out, 0, sizeof out);
    CHECK(sw_redis_flush_each(r, s_live_reply, out, &err) == 0);
    CHECK(strcmp(out[0], "ran:three") == 0);
    /*  and the plain call after SCRIPT FLUSH */
    x = killer ? sw_redis_cmdv(killer, &err, "SCRIPT", "FLUSH", NULL) : NULL;
    if (x)
        freeReplyObject(x);
    x = sw_redis_eval(r, s_live_script, 0, 1, (const char *[]) { "four" }, NULL, &err);
    CHECK(x && x->type == REDIS_REPLY_STRING && strcmp(x->str, "ran:four") == 0);
    if (x)
        freeReplyObject(x);
    x = sw_redis_cmdv(r, &err, "DEL", "live-test:string", "live-test:other", NULL);
    if (x)
        freeReplyObject(x);
    sw_redis_destroy(&killer);
    sw_redis_destroy(&r);
    return 0;
}
