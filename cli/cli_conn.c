/*  cli_conn -- the connection to the coordinator: connect (with a monitor
 *  of failed handshakes), one request/reply, and reading replies. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_ctl.h"
#include "sw_curve.h"
#include "sw_proto.h"

/*  The connection, with a monitor that reports failed handshakes: a
 *  refused key then says so instead of looking like a dead coordinator. */
static int
s_connect(cli_t *cli)
{
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    cli->sock = sock;
    sw_sock_defaults(sock);
    zsock_set_rcvtimeo(sock, 0);
    sw_err_t err = { 0 };
    if (cli->curve_secret
        && sw_curve_client(sock, cli->curve_secret, cli->coordinator_key, &err) < 0)
        return cli_fail(EXIT_USAGE, "%s", err.msg);
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://swarm-cli-monitor-%p", (void *) sock);
    if (zmq_socket_monitor(zsock_resolve(sock), ep, ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
                           | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                           | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_DISCONNECTED) == 0) {
        cli->monitor = zsock_new(ZMQ_PAIR);
        zsock_set_rcvtimeo(cli->monitor, 0);
        zsock_connect(cli->monitor, "%s", ep);
    }
    if (zsock_connect(sock, "%s", cli->coordinator) < 0)
        return cli_fail(EXIT_USAGE, "invalid coordinator endpoint '%s': %s",
                        cli->coordinator, zmq_strerror(zmq_errno()));
    return 0;
}

/*  Set when the connection a request went out on closed before its reply
 *  came (the coordinator was restarted): the request is gone with it. */
static bool s_lost;

/*  One event of the monitor: a failed handshake as exit 3 with the likely
 *  cause; a closed connection sets *closed; else 0. With lost_fails, a
 *  handshake the peer cut short without a word closes too: a dying
 *  coordinator's listening socket still takes connections for a moment,
 *  then drops them (a mechanism mismatch shows once the retries are over). */
static int
s_monitor_event(cli_t *cli, bool *closed, bool lost_fails)
{
    zmsg_t *ev = zmsg_recv(cli->monitor);
    if (!ev)
        return 0;
    zframe_t *f = zmsg_first(ev);
    uint16_t event = 0;
    if (f && zframe_size(f) >= 6)
        memcpy(&event, zframe_data(f), 2);
    zmsg_destroy(&ev);
    if (event == ZMQ_EVENT_DISCONNECTED
        || (lost_fails && event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)) {
        *closed = true;
        return 0;
    }
    /*  A client may see the server hang up (no detail) before a mechanism
     *  mismatch is reported, so "no detail" names both likely causes. */
    const char *why =
        event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
            ? "refused our key (not in its --admin-keys)"
        : !cli->curve_secret
            ? "wants CURVE: give --curve-secret and --coordinator-key"
        : event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
            ? "does not speak CURVE on its control socket (no --admin-keys?)"
            : "failed the CURVE handshake: is --coordinator-key its certificate, and does it "
              "have --admin-keys?";
    return cli_fail(EXIT_UNREACHABLE, "the coordinator at %s %s", cli->coordinator, why);
}

/*  One request/reply with the coordinator. 0 with *reply filled (release
 *  it), or an exit code after printing why. With lost_fails, a connection
 *  that closes before the reply came ends the request at once: exit 3
 *  with s_lost set and nothing printed (the caller asks again). */
static int
s_request(cli_t *cli, int cmd, const msgpack_sbuffer *body, int timeout_ms, sw_msg_t *reply,
          bool lost_fails)
{
    int rc;
    bool closed = false;
    /*  The coordinator's socket drops a bigger frame with the connection:
     *  we would only see silence. */
    if (body->size > CLI_MAX_REQUEST)
        return cli_fail(EXIT_USAGE, "the request (%zu bytes) is over the %zu bytes one request "
                        "to the coordinator carries (its frame cap): nothing was sent",
                        body->size, CLI_MAX_REQUEST);
    if (!cli->sock && (rc = s_connect(cli)) != 0)
        return rc;
    /*  Connections that closed before this request (ZeroMQ has connected
     *  again since) say nothing about it. */
    while (cli->monitor && (zsock_events(cli->monitor) & ZMQ_POLLIN))
        if ((rc = s_monitor_event(cli, &closed, lost_fails)) != 0)
            return rc;
    closed = false;
    if (sw_msg_send(cli->sock, NULL, cmd, body->data, body->size) < 0)
        return cli_fail(EXIT_UNREACHABLE, "cannot send to the coordinator at %s: %s",
                        cli->coordinator, zmq_strerror(zmq_errno()));
    zmq_pollitem_t items[2] = { { zsock_resolve(cli->sock), 0, ZMQ_POLLIN, 0 },
                                { cli->monitor ? zsock_resolve(cli->monitor) : NULL, 0,
                                  ZMQ_POLLIN, 0 } };
    int64_t deadline = sw_now_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - sw_now_ms();
        if (left <= 0)
            return cli_fail(EXIT_UNREACHABLE, "the coordinator at %s did not answer in %.1f s "
                            "(is swarm-coordinator running? --coordinator or "
                            "SWARM_COORDINATOR say where)", cli->coordinator,
                            (double) timeout_ms / 1000);
        rc = zmq_poll(items, cli->monitor ? 2 : 1, (long) left);
        if (rc < 0 && zmq_errno() == EINTR)
            return cli_fail(EXIT_UNREACHABLE, "interrupted");
        if (rc <= 0)
            continue;
        if ((items[1].revents & ZMQ_POLLIN)
            && (rc = s_monitor_event(cli, &closed, lost_fails)) != 0)
            return rc;
        if (!(items[0].revents & ZMQ_POLLIN)) {
            if (closed && lost_fails) {
                s_lost = true;
                return EXIT_UNREACHABLE;
            }
            continue;
        }
        zmsg_t *msg = zmsg_recv(cli->sock);
        sw_err_t err = { 0 };
        /*  Our coordinator's replies list whole jobs: the frame cap (8 MiB)
         *  bounds them, not the item count a daemon uses against strangers. */
        static const sw_mp_limits_t lim = { .max_depth = 8, .max_items = 4u << 20,
                                            .max_str = 16u << 20 };
        if (sw_msg_decode_lim(&msg, false, &lim, reply, &err) < 0 || reply->cmd != SW_C_REPLY) {
            if (!err.code)
                sw_msg_release(reply);
            return cli_fail(EXIT_UNREACHABLE, "bad reply from %s: %s", cli->coordinator,
                            err.code ? err.msg : "not a REPLY");
        }
        bool ok = false;
        sw_mp_bool(reply->body, "ok", true, &ok, &err);
        if (ok)
            return 0;
        char *msgtext = NULL;
        int64_t code = 1;
        sw_mp_str(reply->body, "error", false, &msgtext, &err);
        sw_mp_int(reply->body, "code", false, 1, 255, &code, &err);
        cli_fail((int) code, "%s", msgtext ? msgtext : "request failed");
        free(msgtext);
        sw_msg_release(reply);
        return (int) code;
    }
}

int
cli_request(cli_t *cli, int cmd, const msgpack_sbuffer *body, int timeout_ms, sw_msg_t *reply)
{
    return s_request(cli, cmd, body, timeout_ms, reply, false);
}

/*  --- small helpers for building requests ------------------------------------ */

void
cli_req_init(cli_req_t *r)
{
    msgpack_sbuffer_init(&r->sb);
    sw_mp_packer_init(&r->pk, &r->sb);
}

/*  Sends the request (consuming it) and waits for the reply. */
int
cli_call(cli_t *cli, int cmd, cli_req_t *r, int timeout_ms, sw_msg_t *reply)
{
    int rc = cli_request(cli, cmd, &r->sb, timeout_ms, reply);
    msgpack_sbuffer_destroy(&r->sb);
    return rc;
}

const char *
cli_mp_str(const msgpack_object *map, const char *key, char *buf, size_t n)
{
    const msgpack_object *o = sw_mp_find(map, key);
    if (!o || o->type != MSGPACK_OBJECT_STR)
        return "";
    size_t len = o->via.str.size < n - 1 ? o->via.str.size : n - 1;
    memcpy(buf, o->via.str.ptr, len);
    buf[len] = '\0';
    return buf;
}

int64_t
cli_mp_int(const msgpack_object *map, const char *key)
{
    const msgpack_object *o = sw_mp_find(map, key);
    if (!o)
        return 0;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        return (int64_t) o->via.u64;
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return o->via.i64;
    return 0;
}

void
cli_disconnect(cli_t *cli)
{
    zsock_t *sock = cli->sock, *monitor = cli->monitor;
    if (sock)
        zmq_socket_monitor(zsock_resolve(sock), NULL, 0);
    zsock_destroy(&monitor);
    zsock_destroy(&sock);
    cli->sock = cli->monitor = NULL;
}

int
cli_request_closing(cli_t *cli, int cmd, const msgpack_sbuffer *body, int timeout_ms,
                    sw_msg_t *reply, bool lost_fails, bool *lost)
{
    s_lost = false;
    int rc = s_request(cli, cmd, body, timeout_ms, reply, lost_fails);
    *lost = s_lost;
    return rc;
}
