/*  agent_link -- see agent_link.h */
#include "agent_link.h"

#include <stdlib.h>

#include "sw_curve.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 32000
#define DEFAULT_HB_MS  1000
#define DEFAULT_LIVENESS 5

struct agent_link_t {
    zloop_t         *loop;
    char            *endpoint;
    char            *curve_secret;  /*  NULL: plaintext */
    char            *server_cert;
    agent_link_ops_t ops;
    void            *ctx;
    zsock_t         *sock;
    bool             welcomed;
    int64_t          hb_ms;
    int64_t          liveness;
    int64_t          last_recv_ms;
    int64_t          last_send_ms;
    int64_t          backoff_ms;
    int              timer;         /*  heartbeat timer id */
    int              reconnect;     /*  pending reconnect timer id, or -1 */
    unsigned         seed;
};

static int s_on_readable(zloop_t *loop, zsock_t *sock, void *arg);

static void
s_hello(agent_link_t *self)
{
    sw_hello_t h = { 0 };
    self->ops.hello(self->ctx, &h);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    sw_mp_packer_init(&pk, &sb);
    sw_hello_pack(&pk, &h);
    agent_link_send(self, SW_HELLO, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    sw_hello_release(&h);
}

static void
s_connect(agent_link_t *self)
{
    self->sock = zsock_new(ZMQ_DEALER);
    sw_sock_defaults(self->sock);
    zsock_set_rcvtimeo(self->sock, 0);
    zsock_set_reconnect_ivl(self->sock, 200);
    sw_err_t err = { 0 };
    if (self->curve_secret
        && sw_curve_client(self->sock, self->curve_secret, self->server_cert, &err) < 0) {
        /*  Never fall back to plaintext: stay unconnected and say why. */
        log_warnx("%s: not connecting", err.msg);
        zsock_set_curve_serverkey(self->sock, "0000000000000000000000000000000000000000");
    }
    if (zsock_connect(self->sock, "%s", self->endpoint) < 0)
        log_warnx("cannot connect to %s: %s", self->endpoint, zmq_strerror(zmq_errno()));
    zloop_reader(self->loop, self->sock, s_on_readable, self);
    self->welcomed = false;
    self->last_recv_ms = sw_now_ms();
    s_hello(self);
}

static void
s_disconnect(agent_link_t *self)
{
    if (self->sock) {
        zloop_reader_end(self->loop, self->sock);
        zsock_destroy(&self->sock);
    }
    self->welcomed = false;
}

static int
s_on_reconnect(zloop_t *loop, int timer_id, void *arg)
{
    agent_link_t *self = arg;
    self->reconnect = -1;
    s_connect(self);
    (void) loop;
    (void) timer_id;
    return 0;
}

/*  Drops the connection and schedules a new one after the backoff. */
static void
s_reconnect_later(agent_link_t *self, const char *why)
{
    if (self->reconnect >= 0)
        return;
    s_disconnect(self);
    int64_t jitter = self->backoff_ms / 4;
    int64_t delay = self->backoff_ms - jitter + (int64_t) (rand_r(&self->seed) % (2 * jitter + 1));
    log_warnx("coordinator at %s: %s; reconnecting in %.1f s", self->endpoint, why,
              (double) delay / 1000);
    self->reconnect = zloop_timer(self->loop, (size_t) delay, 1, s_on_reconnect, self);
    self->backoff_ms = self->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
                                                             : self->backoff_ms * 2;
}

static int s_on_readable(zloop_t *loop, zsock_t *sock, void *arg);

/*  The coordinator has said nothing for a whole lease. */
static bool
s_silent(const agent_link_t *self, int64_t now)
{
    return now - self->last_recv_ms > self->hb_ms * self->liveness;
}

static int
s_on_tick(zloop_t *loop, int timer_id, void *arg)
{
    agent_link_t *self = arg;
    if (!self->sock)
        return 0;
    int64_t now = sw_now_ms();
    /*  zloop runs due timers before it reads sockets: after the loop was
     *  held (a slow Redis write), read what came before judging silence. */
    if (s_silent(self, now)) {
        s_on_readable(loop, self->sock, self);
        if (!self->sock)
            return 0;
    }
    if (s_silent(self, now)) {
        s_reconnect_later(self, self->welcomed ? "no heartbeat"
                              : self->curve_secret ? "no answer to HELLO (is --coordinator-key "
                                                     "the coordinator's, and our key allowed?)"
                              : "no answer to HELLO");
        return 0;
    }
    if (self->welcomed && now - self->last_send_ms >= self->hb_ms)
        agent_link_send(self, SW_HEARTBEAT, "\x80", 1);
    (void) loop;
    (void) timer_id;
    return 0;
}

static void
s_on_welcome(agent_link_t *self, sw_msg_t *m)
{
    sw_err_t err = { 0 };
    int64_t hb = DEFAULT_HB_MS, liveness = DEFAULT_LIVENESS;
    if (sw_mp_int(m->body, "heartbeat_ms", true, 10, 600000, &hb, &err) < 0
        || sw_mp_int(m->body, "liveness", true, 2, 1000, &liveness, &err) < 0) {
        log_warnx("malformed WELCOME ignored: %s", err.msg);
        return;
    }
    self->hb_ms = hb;
    self->liveness = liveness;
    if (!self->welcomed)
        log_info("registered with the coordinator at %s", self->endpoint);
    self->welcomed = true;
    self->backoff_ms = BACKOFF_MIN_MS;
}

static int
s_on_readable(zloop_t *loop, zsock_t *sock, void *arg)
{
    agent_link_t *self = arg;
    for (int i = 0; i < 1000 && self->sock == sock; i++) {
        zmsg_t *msg = zmsg_recv(sock);
        if (!msg)
            break;
        sw_msg_t m;
        sw_err_t err = { 0 };
        if (sw_msg_decode(&msg, false, &m, &err) < 0) {
            log_warnx("dropped a malformed message from the coordinator: %s", err.msg);
            continue;
        }
        self->last_recv_ms = sw_now_ms();
        switch (m.cmd) {
        case SW_WELCOME:
            s_on_welcome(self, &m);
            break;
        case SW_HEARTBEAT:
            break;
        case SW_BYE: {
            /*  A BYE with "refused" answers our HELLO: asking again at
             *  once would only spin. Any other BYE says the coordinator
             *  does not know this connection (it restarted, or thought us
             *  dead): say HELLO again, once. Not welcomed, such a BYE
             *  answers a message sent before our HELLO (heartbeats queued
             *  while the coordinator was away, delivered in order before
             *  it), not the HELLO: taking it for a refusal dropped a
             *  healthy connection for a backoff longer than a lease. A
             *  coordinator older than this sends a bare BYE to refuse; the
             *  missing WELCOME then ends in "no answer to HELLO". */
            char *why = NULL;
            sw_err_t berr = { 0 };
            if (sw_mp_str(m.body, "refused", false, &why, &berr) < 0)
                why = xstrdup(berr.msg);
            if (why) {
                char reason[320];
                snprintf(reason, sizeof reason, "it refused our HELLO: %.256s", why);
                free(why);
                s_reconnect_later(self, reason);
                sw_msg_release(&m);
                return 0;
            }
            if (self->welcomed) {
                log_info("the coordinator asked us to register again");
                self->welcomed = false;
                s_hello(self);
            }
            else
                log_debug("a BYE for a message sent before our HELLO: ignored");
            break;
        }
        default:
            self->ops.message(self->ctx, &m);
        }
        sw_msg_release(&m);
    }
    (void) loop;
    return 0;
}

agent_link_t *
agent_link_new(zloop_t *loop, const char *endpoint, const char *curve_secret,
               const char *server_cert, const agent_link_ops_t *ops, void *ctx)
{
    agent_link_t *self = xcalloc(1, sizeof *self);
    self->loop = loop;
    self->endpoint = xstrdup(endpoint);
    self->curve_secret = curve_secret ? xstrdup(curve_secret) : NULL;
    self->server_cert = server_cert ? xstrdup(server_cert) : NULL;
    self->ops = *ops;
    self->ctx = ctx;
    self->hb_ms = DEFAULT_HB_MS;
    self->liveness = DEFAULT_LIVENESS;
    self->backoff_ms = BACKOFF_MIN_MS;
    self->reconnect = -1;
    self->seed = (unsigned) (zclock_usecs() ^ (uint64_t) getpid());
    s_connect(self);
    self->timer = zloop_timer(loop, 100, 0, s_on_tick, self);
    return self;
}

void
agent_link_destroy(agent_link_t **self_p)
{
    agent_link_t *self = *self_p;
    if (!self)
        return;
    zloop_timer_end(self->loop, self->timer);
    if (self->reconnect >= 0)
        zloop_timer_end(self->loop, self->reconnect);
    s_disconnect(self);
    free(self->endpoint);
    free(self->curve_secret);
    free(self->server_cert);
    free(self);
    *self_p = NULL;
}

int
agent_link_send(agent_link_t *self, int cmd, const void *body, size_t len)
{
    if (!self->sock)
        return -1;
    if (sw_msg_send(self->sock, NULL, cmd, body, len) < 0) {
        log_warn("cannot queue %s for the coordinator", sw_cmd_name(cmd));
        return -1;
    }
    self->last_send_ms = sw_now_ms();
    return 0;
}

bool
agent_link_welcomed(const agent_link_t *self)
{
    return self->welcomed;
}

void
agent_link_bye(agent_link_t *self)
{
    if (self->sock && self->welcomed) {
        zsock_set_linger(self->sock, 500);      /*  let the BYE leave */
        agent_link_send(self, SW_BYE, "\x80", 1);
    }
}
