/*  sw_aredis -- see sw_aredis.h */
#include "sw_aredis.h"

#include <hiredis/async.h>
#include <string.h>

#include "sw_keys.h"
#include "sw_log.h"
#include "sw_redis.h"

#define CONNECT_MS      2000    /*  a connection not up by then is dropped */
#define STALL_MS        5000    /*  replies due for this long: the server is stuck */
#define BACKOFF_MAX_MS  8000
#define ERROR_LOG_MS    60000   /*  error replies are logged at most this often */

typedef enum { S_DOWN, S_CONNECTING, S_HANDSHAKE, S_READY } s_state_t;

struct sw_aredis_t {
    zloop_t           *loop;
    char              *name;
    sw_redis_url_t     url;
    char              *addr;            /*  host:port/db, for messages */
    size_t             max_pending;
    redisAsyncContext *ac;              /*  NULL while down */
    int                fd;
    int                mask;            /*  ZMQ_POLLIN | ZMQ_POLLOUT on the loop now */
    s_state_t          state;
    int64_t            since_ms;        /*  of the state (connect limit) */
    int64_t            retry_ms;        /*  no try before */
    int64_t            backoff_ms;      /*  0 while all is well */
    bool               outage_logged;
    size_t             pending_bytes;   /*  sent, reply not yet in */
    size_t             pending;
    bool               destroying;      /*  sw_aredis_destroy: no callback now */
    bool               queuing;         /*  in s_queue: hiredis's addWrite only notes it */
    bool               want_write;      /*  what s_queue's command asked of the loop */
    int64_t            waiting_ms;      /*  since a reply was last due and none came */
    int64_t            error_log_ms;
    uint64_t           sent, errors, refused;
};

/*  --- the loop adapter (hiredis calls these) ---------------------------------------- */

static int s_on_io(zloop_t *loop, zmq_pollitem_t *item, void *arg);

static void
s_watch(sw_aredis_t *self, int mask)
{
    if (mask == self->mask)
        return;
    zmq_pollitem_t item = { NULL, self->fd, 0, 0 };
    if (self->mask)
        zloop_poller_end(self->loop, &item);
    self->mask = mask;
    if (mask) {
        item.events = (short) mask;
        zloop_poller(self->loop, &item, s_on_io, self);
        zloop_poller_set_tolerant(self->loop, &item);
    }
}

static void s_add_read(void *p)  { sw_aredis_t *s = p; s_watch(s, s->mask | ZMQ_POLLIN); }
static void s_del_read(void *p)  { sw_aredis_t *s = p; s_watch(s, s->mask & ~ZMQ_POLLIN); }
/*  hiredis asks for write interest after every command it queues; a
 *  command queued by s_queue decides itself (write at once, or at the
 *  loop's next pass), so the poller is not ended and added again twice
 *  per command. */
static void
s_add_write(void *p)
{
    sw_aredis_t *s = p;
    if (s->queuing)
        s->want_write = true;
    else
        s_watch(s, s->mask | ZMQ_POLLOUT);
}

static void s_del_write(void *p) { sw_aredis_t *s = p; s_watch(s, s->mask & ~ZMQ_POLLOUT); }

/*  hiredis frees the context right after this: forget it. */
static void
s_cleanup(void *p)
{
    sw_aredis_t *self = p;
    s_watch(self, 0);
    self->ac = NULL;
    self->fd = -1;
}

static int
s_on_io(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    sw_aredis_t *self = arg;
    /*  libzmq reports a hang-up as ZMQ_POLLERR: reading finds it. */
    if (self->ac && (item->revents & (ZMQ_POLLIN | ZMQ_POLLERR)))
        redisAsyncHandleRead(self->ac);
    if (self->ac && (item->revents & ZMQ_POLLOUT))
        redisAsyncHandleWrite(self->ac);
    (void) loop;
    return 0;
}

/*  Writes what hiredis holds for the server now (issue 20: a call's
 *  command leaves in the loop pass that made it, not one pass later).
 *  With redisBufferWrite, not redisAsyncHandleWrite: on a write error that
 *  frees the context, and this may run inside a hiredis reply callback.
 *  What the socket does not take now, or a write that failed, is left to
 *  the loop's write event: it writes the rest, or finds the error (the
 *  context keeps it) and drops the connection outside any callback. */
static void
s_flush(sw_aredis_t *self)
{
    redisContext *c = &self->ac->c;
    int done = 0;
    if (!(c->flags & REDIS_CONNECTED) || redisBufferWrite(c, &done) != REDIS_OK || !done)
        s_watch(self, self->mask | ZMQ_POLLOUT);
    else
        s_watch(self, (self->mask | ZMQ_POLLIN) & ~ZMQ_POLLOUT);   /*  as HandleWrite */
}

/*  --- connection ------------------------------------------------------------------- */

static void
s_failed(sw_aredis_t *self, const char *why)
{
    if (!self->outage_logged)
        log_warnx("%s: Redis at %s: %s; dropped until it answers", self->name, self->addr,
                  why);
    self->outage_logged = true;
    self->state = S_DOWN;
    self->pending = self->pending_bytes = 0;
    self->backoff_ms = self->backoff_ms ? self->backoff_ms * 2 : 250;
    if (self->backoff_ms > BACKOFF_MAX_MS)
        self->backoff_ms = BACKOFF_MAX_MS;
    self->retry_ms = sw_now_ms() + self->backoff_ms;
}

/*  Drops the context from our own code (never from a hiredis callback). */
static void
s_drop(sw_aredis_t *self, const char *why)
{
    redisAsyncContext *ac = self->ac;
    if (ac) {
        ac->data = NULL;            /*  its callbacks must not fail us twice */
        redisAsyncFree(ac);         /*  calls s_cleanup */
    }
    s_failed(self, why);
}

static void
s_on_connect(const redisAsyncContext *ac, int status)
{
    sw_aredis_t *self = ac->data;
    if (self && status != REDIS_OK)
        s_failed(self, ac->errstr[0] ? ac->errstr : "cannot connect");
    else if (self)
        self->state = S_HANDSHAKE;
}

static void
s_on_disconnect(const redisAsyncContext *ac, int status)
{
    sw_aredis_t *self = ac->data;
    if (self && self->state != S_DOWN)
        s_failed(self, status == REDIS_OK ? "connection closed" : ac->errstr);
}

/*  The handshake's last reply: the key layout. */
static void
s_on_layout(redisAsyncContext *ac, void *r, void *privdata)
{
    sw_aredis_t *self = ac->data;
    redisReply *reply = r;
    if (!self || self->state != S_HANDSHAKE)
        return;
    char want[16];
    snprintf(want, sizeof want, "%d", SW_KEYS_LAYOUT);
    /*  A database with no swarm data yet has no mark (whoever writes a
     *  result first sets it); any other layout is not ours to write. */
    bool ours = reply && (reply->type == REDIS_REPLY_NIL
                          || (reply->type == REDIS_REPLY_STRING && strcmp(reply->str, want) == 0));
    if (!ours) {
        char why[300];
        snprintf(why, sizeof why, "%s", !reply ? "no reply"
                 : reply->type == REDIS_REPLY_ERROR ? reply->str
                 : "its data is in another key layout");
        /*  Not here: hiredis is in a callback; the tick drops it. */
        self->state = S_DOWN;
        self->backoff_ms = BACKOFF_MAX_MS;
        self->retry_ms = sw_now_ms() + BACKOFF_MAX_MS;
        if (!self->outage_logged)
            log_warnx("%s: Redis at %s: %s; dropped until it answers", self->name, self->addr,
                      why);
        self->outage_logged = true;
        return;
    }
    self->state = S_READY;
    self->since_ms = sw_now_ms();
    self->backoff_ms = 0;
    if (self->outage_logged)
        log_info("%s: Redis at %s is back", self->name, self->addr);
    self->outage_logged = false;
    (void) privdata;
}

/*  AUTH and SELECT: an error reply ends the handshake (s_on_layout sees
 *  the state). */
static void
s_on_step(redisAsyncContext *ac, void *r, void *privdata)
{
    sw_aredis_t *self = ac->data;
    redisReply *reply = r;
    if (self && self->state == S_HANDSHAKE && reply && reply->type == REDIS_REPLY_ERROR) {
        log_warnx("%s: Redis at %s: %s", self->name, self->addr, reply->str);
        self->outage_logged = true;
        self->state = S_DOWN;       /*  the tick drops the context */
        self->backoff_ms = BACKOFF_MAX_MS;
        self->retry_ms = sw_now_ms() + BACKOFF_MAX_MS;
    }
    (void) privdata;
}

static void
s_connect(sw_aredis_t *self, int64_t now)
{
    redisAsyncContext *ac = redisAsyncConnect(self->url.host, self->url.port);
    if (!ac || ac->err) {
        s_failed(self, ac ? ac->errstr : "cannot allocate a context");
        if (ac)
            redisAsyncFree(ac);
        return;
    }
    self->ac = ac;
    self->fd = ac->c.fd;
    self->mask = 0;
    ac->data = self;
    ac->ev.data = self;
    ac->ev.addRead = s_add_read;
    ac->ev.delRead = s_del_read;
    ac->ev.addWrite = s_add_write;
    ac->ev.delWrite = s_del_write;
    ac->ev.cleanup = s_cleanup;
    redisAsyncSetConnectCallback(ac, s_on_connect);
    redisAsyncSetDisconnectCallback(ac, s_on_disconnect);
    self->state = S_CONNECTING;
    self->since_ms = now;
    self->pending = self->pending_bytes = 0;
    /*  Queued now, sent once connected, answered in order. */
    if (self->url.password) {
        if (self->url.user) {
            const char *argv[] = { "AUTH", self->url.user, self->url.password };
            redisAsyncCommandArgv(ac, s_on_step, NULL, 3, argv, NULL);
        }
        else {
            const char *argv[] = { "AUTH", self->url.password };
            redisAsyncCommandArgv(ac, s_on_step, NULL, 2, argv, NULL);
        }
    }
    char db[16];
    snprintf(db, sizeof db, "%d", self->url.db);
    const char *sel[] = { "SELECT", db };
    redisAsyncCommandArgv(ac, s_on_step, NULL, 2, sel, NULL);
    const char *get[] = { "GET", SW_KEY_LAYOUT };
    redisAsyncCommandArgv(ac, s_on_layout, NULL, 2, get, NULL);
    s_add_write(self);          /*  the connect completes on the first write event */
}

sw_aredis_t *
sw_aredis_new(zloop_t *loop, const char *name, const char *url, size_t max_pending,
              sw_err_t *err)
{
    sw_aredis_t *self = xcalloc(1, sizeof *self);
    if (sw_redis_url_parse(url, &self->url, err) < 0) {
        free(self);
        return NULL;
    }
    self->loop = loop;
    self->name = xstrdup(name);
    self->addr = xasprintf("%s:%d/%d", self->url.host, self->url.port, self->url.db);
    self->max_pending = max_pending;
    self->fd = -1;
    s_connect(self, sw_now_ms());
    return self;
}

void
sw_aredis_destroy(sw_aredis_t **self_p)
{
    sw_aredis_t *self = *self_p;
    if (!self)
        return;
    if (self->ac) {
        self->destroying = true;    /*  the calls waiting are freed, not called back */
        self->ac->data = NULL;
        redisAsyncFree(self->ac);
    }
    sw_redis_url_release(&self->url);
    free(self->name);
    free(self->addr);
    free(self);
    *self_p = NULL;
}

bool
sw_aredis_ready(const sw_aredis_t *self)
{
    return self && self->ac && self->state == S_READY;
}

static void
s_on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    sw_aredis_t *self = ac->data;
    redisReply *reply = r;
    size_t bytes = (size_t) (uintptr_t) privdata;
    if (!self || self->state != S_READY)
        return;
    self->pending--;
    self->pending_bytes -= bytes < self->pending_bytes ? bytes : self->pending_bytes;
    self->waiting_ms = sw_now_ms();
    if (reply && reply->type == REDIS_REPLY_ERROR) {
        self->errors++;
        int64_t now = sw_now_ms();
        if (now >= self->error_log_ms) {
            log_warnx("%s: Redis at %s: %s", self->name, self->addr, reply->str);
            self->error_log_ms = now + ERROR_LOG_MS;
        }
    }
}

bool
sw_aredis_room(const sw_aredis_t *self, size_t bytes)
{
    return sw_aredis_ready(self) && self->pending_bytes + bytes <= self->max_pending;
}

/*  The bytes a command holds in hiredis's output buffer, about: what
 *  max_pending counts. */
static size_t
s_bytes(int argc, const char **argv, const size_t *lens)
{
    size_t bytes = 16;
    for (int i = 0; i < argc; i++)
        bytes += (lens ? lens[i] : strlen(argv[i])) + 16;
    return bytes;
}

/*  Queues one command with its reply callback; the accounting s_on_reply
 *  undoes. The command is cmd (len bytes, formatted RESP) when cmd is
 *  set, else argv. With now, it is written at once (s_flush), with what
 *  was queued before it; else at the loop's next pass, with what follows
 *  it in this one (the live output's entries and their EXPIREs: one
 *  write). -1 (counted as refused) when not ready, over max_pending, or
 *  hiredis refuses it. */
static int
s_queue(sw_aredis_t *self, size_t bytes, redisCallbackFn *cb, void *privdata,
        const char *cmd, size_t len, int argc, const char **argv, const size_t *lens, bool now)
{
    if (!sw_aredis_room(self, bytes)) {
        self->refused++;
        return -1;
    }
    self->queuing = true;
    self->want_write = false;
    int rc = cmd ? redisAsyncFormattedCommand(self->ac, cb, privdata, cmd, len)
                 : redisAsyncCommandArgv(self->ac, cb, privdata, argc, argv, lens);
    self->queuing = false;
    if (rc != REDIS_OK) {
        self->refused++;
        return -1;
    }
    if (self->want_write && now)
        s_flush(self);
    else if (self->want_write)
        s_watch(self, self->mask | ZMQ_POLLOUT);
    if (self->pending == 0)
        self->waiting_ms = sw_now_ms();
    self->pending++;
    self->pending_bytes += bytes;
    self->sent++;
    return 0;
}

int
sw_aredis_send(sw_aredis_t *self, int argc, const char **argv, const size_t *lens)
{
    size_t bytes = s_bytes(argc, argv, lens);
    return s_queue(self, bytes, s_on_reply, (void *) (uintptr_t) bytes, NULL, 0, argc, argv,
                   lens, false);
}

int
sw_aredis_send_formatted(sw_aredis_t *self, const char *cmd, size_t len)
{
    return s_queue(self, len, s_on_reply, (void *) (uintptr_t) len, cmd, len, 0, NULL, NULL,
                   false);
}

/*  A call's reply: the accounting of s_on_reply, then the caller's
 *  callback, also when the connection is dropped (reply NULL); never
 *  while the connection is being destroyed. */
typedef struct {
    sw_aredis_t         *owner;
    size_t               bytes;
    sw_aredis_reply_fn  *fn;
    void                *arg;
} s_call_t;

static void
s_on_call_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    s_call_t c = *(s_call_t *) privdata;
    free(privdata);
    if (c.owner->destroying)
        return;
    s_on_reply(ac, r, (void *) (uintptr_t) c.bytes);   /*  (nothing when dropped) */
    c.fn(c.arg, r);
}

/*  sw_aredis_call and sw_aredis_call_formatted: the command as s_queue
 *  takes it, with the caller's callback. */
static int
s_call(sw_aredis_t *self, size_t bytes, const char *cmd, size_t len, int argc,
       const char **argv, const size_t *lens, sw_aredis_reply_fn *fn, void *arg)
{
    s_call_t *c = xmalloc(sizeof *c);
    *c = (s_call_t) { self, bytes, fn, arg };
    if (s_queue(self, bytes, s_on_call_reply, c, cmd, len, argc, argv, lens, true) < 0) {
        free(c);
        return -1;
    }
    return 0;
}

int
sw_aredis_call(sw_aredis_t *self, int argc, const char **argv, const size_t *lens,
               sw_aredis_reply_fn *fn, void *arg)
{
    return s_call(self, s_bytes(argc, argv, lens), NULL, 0, argc, argv, lens, fn, arg);
}

int
sw_aredis_call_formatted(sw_aredis_t *self, const char *cmd, size_t len,
                         sw_aredis_reply_fn *fn, void *arg)
{
    return s_call(self, len, cmd, len, 0, NULL, NULL, fn, arg);
}

void
sw_aredis_tick(sw_aredis_t *self, int64_t now)
{
    if (self->ac && self->state == S_DOWN)
        s_drop(self, "refused");            /*  a handshake that failed */
    else if (self->ac && self->state != S_READY && now - self->since_ms >= CONNECT_MS)
        s_drop(self, "no connection within 2 s");
    else if (self->ac && self->pending && now - self->waiting_ms >= STALL_MS)
        s_drop(self, "no reply for 5 s");
    if (!self->ac && self->state == S_DOWN && now >= self->retry_ms)
        s_connect(self, now);
}

void
sw_aredis_counts(const sw_aredis_t *self, uint64_t *sent, uint64_t *errors, uint64_t *refused)
{
    *sent = self->sent;
    *errors = self->errors;
    *refused = self->refused;
}
