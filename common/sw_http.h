/*  sw_http -- a small read-only HTTP server (libmicrohttpd) inside a
 *  daemon's zloop.
 *
 *  libmicrohttpd (MHD) runs in its "external epoll" mode: it has no thread
 *  of its own. Its epoll fd is a zloop poller, a one-shot zloop timer
 *  follows MHD_get_timeout, and MHD_run does the work on the daemon's
 *  thread. So a handler may read the daemon's state directly (nothing else
 *  runs meanwhile), and like every other handler it must not block.
 *
 *  Rules every server gets, in one place (docs/security.md):
 *  - GET and HEAD only (405 otherwise); the servers are read-only.
 *  - Without a token the server must be on a loopback address, and the
 *    Host header must name a loopback address too: a web page elsewhere
 *    cannot read it through DNS rebinding.
 *  - With a token (--http-token-file) every request must present it, as
 *    "Authorization: Bearer TOKEN" (scripts) or as the cookie the server
 *    sets when a browser opens "/?token=TOKEN" once (it then redirects to
 *    "/", so the token leaves the address bar). Tokens are compared in
 *    constant time.
 *  - Responses are not cached and not sniffed; frames are refused.
 *
 *  Streams (server-sent events, long results) hold a connection open: the
 *  owner writes to it whenever it likes (a suspended connection is resumed
 *  and served at the next turn of the loop) or supplies the next part when
 *  MHD asks (pull). A stream whose client does not read is cut off once
 *  SW_HTTP_STREAM_MAX bytes wait, so a slow client costs bounded memory.
 */
#ifndef SW_HTTP_H
#define SW_HTTP_H

#include <czmq.h>
#include <sys/socket.h>

#include "sw_util.h"

#define SW_HTTP_STREAM_MAX  (8u << 20)  /*  bytes a stream may hold unsent */
#define SW_HTTP_TOKEN_MIN   16          /*  bytes of a token, at least */

typedef struct sw_http_t sw_http_t;
typedef struct sw_http_req_t sw_http_req_t;
typedef struct sw_http_stream_t sw_http_stream_t;

/*  Called once per request whose method, host and token passed. It must
 *  answer with sw_http_reply (or sw_http_error) or sw_http_stream before it
 *  returns; a request left unanswered gets 404. */
typedef void (sw_http_handler_fn)(void *arg, sw_http_req_t *req);

typedef struct {
    const char *name;           /*  "metrics", "dashboard": in messages */
    const char *addr;           /*  see sw_http_parse_addr */
    const char *token_file;     /*  NULL: no token */
    /*  Refuse to start on a non-loopback address without token_file (the
     *  dashboard). Without it (metrics) any address may be served. */
    bool        token_off_loopback;
} sw_http_conf_t;

/*  What sw_http_new checks before it binds (address, token file, a token
 *  off loopback), without binding: a daemon checks its whole
 *  configuration before it touches anything. 0, or -1 with err. */
int sw_http_conf_check(const sw_http_conf_t *conf, sw_err_t *err);

/*  Binds and registers with loop. NULL with err (SW_EINVAL: bad address or
 *  token file, or a non-loopback address that needs a token; SW_EFAIL:
 *  cannot bind). */
sw_http_t *sw_http_new(zloop_t *loop, const sw_http_conf_t *conf, sw_http_handler_fn *fn,
                       void *arg, sw_err_t *err);
/*  A server for Prometheus: GET /metrics answers with what render appends
 *  (the text exposition format), "/" says where to look. No token; on a
 *  loopback address the Host check applies. */
typedef void (sw_http_render_fn)(void *arg, sw_buf_t *out);
sw_http_t *sw_http_metrics_new(zloop_t *loop, const char *addr, sw_http_render_fn *render,
                               void *arg, sw_err_t *err);

/*  Ends every stream (their closed callbacks run) and stops. */
void sw_http_destroy(sw_http_t **self_p);
/*  "http://127.0.0.1:PORT", with the port actually bound (addr may say 0). */
const char *sw_http_url(const sw_http_t *self);

/*  --- the request, valid during the handler only ----------------------------- */

const char *sw_http_path(const sw_http_req_t *req);
/*  A query argument, %-decoded; NULL when absent. */
const char *sw_http_query(const sw_http_req_t *req, const char *name);
/*  An extra header for the reply (copied). */
void sw_http_header(sw_http_req_t *req, const char *name, const char *value);
/*  Replies with body (consumed; its data is freed by the server). */
void sw_http_reply(sw_http_req_t *req, int status, const char *content_type, sw_buf_t *body);
/*  Replies {"error": MESSAGE, "status": STATUS} as JSON. */
void sw_http_error(sw_http_req_t *req, int status, const char *fmt, ...) SW_PRINTF(3, 4);

/*  --- streams ------------------------------------------------------------------ */

typedef struct {
    /*  Nothing is waiting to be sent: write the next part, or end. NULL
     *  for a stream that is written to from outside (server-sent events):
     *  the connection then waits, suspended, until the next write. */
    void (*pull)(void *arg, sw_http_stream_t *s);
    /*  The connection is gone (client left, error, server destroyed):
     *  forget s, release arg. Called exactly once. */
    void (*closed)(void *arg, sw_http_stream_t *s);
} sw_http_stream_ops_t;

/*  Answers req with a response of unknown length (chunked), status 200. */
sw_http_stream_t *sw_http_stream(sw_http_req_t *req, const char *content_type,
                                 const sw_http_stream_ops_t *ops, void *arg);
/*  Queues data. -1 when the client let SW_HTTP_STREAM_MAX bytes pile up:
 *  the stream is aborted (closed follows) and the data dropped. */
int  sw_http_stream_write(sw_http_stream_t *s, const void *data, size_t n);
/*  No more data: the response ends after what is queued. */
void sw_http_stream_end(sw_http_stream_t *s);
/*  Something went wrong midway: the connection is closed at once, so the
 *  client sees a truncated response, not a complete wrong one. */
void sw_http_stream_abort(sw_http_stream_t *s);
size_t sw_http_stream_pending(const sw_http_stream_t *s);

/*  --- pure helpers (unit.http) -------------------------------------------------- */

/*  "PORT" (loopback, 127.0.0.1), "HOST:PORT" with an IPv4 address or
 *  "localhost", "[IPV6]:PORT", ":PORT" (every IPv4 address). PORT 0 picks
 *  a free one. 0, or -1 with err naming the address. */
int  sw_http_parse_addr(const char *s, struct sockaddr_storage *out, socklen_t *len,
                        sw_err_t *err);
bool sw_http_is_loopback(const struct sockaddr *sa);
/*  Whether a Host header names a loopback address (127.x, [::1],
 *  localhost), with or without a port. */
bool sw_http_host_is_loopback(const char *host);
/*  Equal in time that depends on the lengths only, not on where the
 *  first difference is. */
bool sw_http_token_equal(const char *given, size_t given_len, const char *token,
                         size_t token_len);
/*  Reads a token from the first line of path: at least SW_HTTP_TOKEN_MIN
 *  bytes of [A-Za-z0-9._~+/=-]. Caller frees. NULL with err. */
char *sw_http_token_load(const char *path, sw_err_t *err);

int sw_http_test(bool verbose);

#endif
