/*  sw_http -- see sw_http.h */
#include "sw_http.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "sw_mpack.h"

/*  libmicrohttpd is opened when the first server starts, not linked
 *  (issue 20): linked, it and GnuTLS behind it (nine libraries) added
 *  2.3 MiB to the resident size of every daemon, with or without --http
 *  or --metrics. Only these functions are called; the header gives their
 *  types and the constants. */
#define S_MHD_FUNCS(X) \
    X(MHD_add_response_header) X(MHD_create_response_from_buffer_with_free_callback) \
    X(MHD_create_response_from_callback) X(MHD_destroy_response) X(MHD_get_daemon_info) \
    X(MHD_get_timeout) X(MHD_lookup_connection_value) X(MHD_queue_response) \
    X(MHD_resume_connection) X(MHD_run) X(MHD_stop_daemon) X(MHD_suspend_connection) \
    X(MHD_start_daemon)
#define S_MHD_SONAME "libmicrohttpd.so.12"

static struct {
    void *lib;
#define S_MHD_FIELD(f) __typeof__(f) *f;
    S_MHD_FUNCS(S_MHD_FIELD)
} s_mhd;

/*  0 once libmicrohttpd is loaded (kept for the process's life); -1 with
 *  err naming the library and what the loader said. */
static int
s_mhd_load(sw_err_t *err)
{
    if (s_mhd.lib)
        return 0;
    void *lib = dlopen(S_MHD_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        sw_err_set(err, SW_EFAIL, "cannot load %s (Debian: apt install libmicrohttpd12): %s",
                   S_MHD_SONAME, dlerror());
        return -1;
    }
#define S_MHD_SYM(f) \
    if (!(*(void **) &s_mhd.f = dlsym(lib, #f))) { \
        sw_err_set(err, SW_EFAIL, "%s has no %s", S_MHD_SONAME, #f); \
        dlclose(lib); \
        return -1; \
    }
    S_MHD_FUNCS(S_MHD_SYM)
    s_mhd.lib = lib;
    return 0;
}

/*  Every call below goes through the table. */
#define MHD_add_response_header s_mhd.MHD_add_response_header
#define MHD_create_response_from_buffer_with_free_callback \
    s_mhd.MHD_create_response_from_buffer_with_free_callback
#define MHD_create_response_from_callback s_mhd.MHD_create_response_from_callback
#define MHD_destroy_response s_mhd.MHD_destroy_response
#define MHD_get_daemon_info s_mhd.MHD_get_daemon_info
#define MHD_get_timeout s_mhd.MHD_get_timeout
#define MHD_lookup_connection_value s_mhd.MHD_lookup_connection_value
#define MHD_queue_response s_mhd.MHD_queue_response
#define MHD_resume_connection s_mhd.MHD_resume_connection
#define MHD_run s_mhd.MHD_run
#define MHD_stop_daemon s_mhd.MHD_stop_daemon
#define MHD_suspend_connection s_mhd.MHD_suspend_connection
#define MHD_start_daemon s_mhd.MHD_start_daemon

#define MAX_CONNECTIONS     64
#define MAX_PER_IP          32
#define IDLE_TIMEOUT_S      60

struct sw_http_t {
    char               *name;
    zloop_t            *loop;
    struct MHD_Daemon  *mhd;
    int                 epoll_fd;
    int                 timer_id;       /*  one-shot MHD_run; 0 = none */
    int64_t             timer_due;      /*  monotonic */
    sw_http_handler_fn *fn;
    void               *arg;
    char               *token;          /*  NULL: none */
    bool                loopback;
    char                url[128];
    char                cookie[48];     /*  swarm_token_PORT: a cookie is per host, not port */
    zlistx_t           *streams;        /*  sw_http_stream_t * */
    sw_http_render_fn  *render;         /*  a metrics server */
    void               *render_arg;
};

struct sw_http_stream_t {
    sw_http_t              *http;
    struct MHD_Connection  *conn;
    sw_buf_t                buf;
    size_t                  off;        /*  sent up to here */
    bool                    ended, aborted, suspended;
    sw_http_stream_ops_t    ops;
    void                   *arg;
    void                   *handle;     /*  in http->streams */
};

struct sw_http_req_t {
    sw_http_t             *http;
    struct MHD_Connection *conn;
    const char            *path;
    sw_kv_t                headers;
    bool                   answered;
};

/*  --- loop integration ------------------------------------------------------------ */

static int s_on_timer(zloop_t *loop, int timer_id, void *arg);

/*  MHD says by when it must run again (a connection's timeout, or now
 *  when it has work it could not finish); an earlier timer is kept. */
static void
s_arm(sw_http_t *self)
{
    MHD_UNSIGNED_LONG_LONG to = 0;
    if (MHD_get_timeout(self->mhd, &to) != MHD_YES)
        return;
    if (to > 60000)
        to = 60000;
    int64_t due = sw_now_ms() + (int64_t) to;
    if (self->timer_id && self->timer_due <= due)
        return;
    if (self->timer_id)
        zloop_timer_end(self->loop, self->timer_id);
    self->timer_id = zloop_timer(self->loop, (size_t) to, 1, s_on_timer, self);
    self->timer_due = due;
}

/*  Runs MHD at the next turn of the loop (after a resume). */
static void
s_kick(sw_http_t *self)
{
    if (self->timer_id && self->timer_due <= sw_now_ms())
        return;
    if (self->timer_id)
        zloop_timer_end(self->loop, self->timer_id);
    self->timer_id = zloop_timer(self->loop, 0, 1, s_on_timer, self);
    self->timer_due = sw_now_ms();
}

static void
s_run(sw_http_t *self)
{
    MHD_run(self->mhd);
    s_arm(self);
}

static int
s_on_timer(zloop_t *loop, int timer_id, void *arg)
{
    sw_http_t *self = arg;
    if (timer_id == self->timer_id)
        self->timer_id = 0;
    s_run(self);
    (void) loop;
    return 0;
}

static int
s_on_epoll(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    s_run(arg);
    (void) loop;
    (void) item;
    return 0;
}

static void
s_logger(void *arg, const char *fmt, va_list ap)
{
    sw_http_t *self = arg;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    /*  A client that leaves a stream is normal life, not a warning. */
    if (strstr(msg, "no longer available") || strstr(msg, "application reported error")
        || strstr(msg, "Connection reset"))
        log_debug("http %s: %s", self->name, msg);
    else
        log_warnx("http %s: %s", self->name, msg);
}

/*  --- replies ----------------------------------------------------------------------- */

static void
s_free_data(void *data)
{
    free(data);
}

static void
s_queue(sw_http_req_t *req, int status, struct MHD_Response *resp)
{
    /*  Nothing here is worth caching, sniffing as another type, framing
     *  into another site or leaking in a Referer. */
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    for (size_t i = 0; i < req->headers.n; i++)
        MHD_add_response_header(resp, req->headers.k[i], req->headers.v[i]);
    MHD_queue_response(req->conn, (unsigned) status, resp);
    MHD_destroy_response(resp);
    req->answered = true;
    log_debug("http %s: %s %d", req->http->name, req->path, status);
}

void
sw_http_reply(sw_http_req_t *req, int status, const char *content_type, sw_buf_t *body)
{
    if (req->answered) {
        sw_buf_release(body);
        return;
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback(
        body->len, body->data ? body->data : xstrdup(""), s_free_data);
    sw_buf_init(body);
    MHD_add_response_header(resp, "Content-Type", content_type);
    s_queue(req, status, resp);
}

void
sw_http_error(sw_http_req_t *req, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sw_buf_t clean;
    sw_buf_init(&clean);
    sw_utf8_sanitize(msg, strlen(msg), &clean);
    json_t *doc = json_pack("{s:s, s:i}", "error", clean.data ? clean.data : "", "status", status);
    char *text = json_dumps(doc, JSON_COMPACT);
    sw_buf_t body;
    sw_buf_init(&body);
    sw_buf_addstr(&body, text);
    sw_buf_addstr(&body, "\n");
    free(text);
    json_decref(doc);
    sw_buf_release(&clean);
    sw_http_reply(req, status, "application/json", &body);
}

const char *
sw_http_path(const sw_http_req_t *req)
{
    return req->path;
}

const char *
sw_http_query(const sw_http_req_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

void
sw_http_header(sw_http_req_t *req, const char *name, const char *value)
{
    sw_kv_set(&req->headers, name, value);
}

/*  --- streams ------------------------------------------------------------------------ */

static ssize_t
s_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    sw_http_stream_t *s = cls;
    if (!s->aborted && s->off == s->buf.len && !s->ended && s->ops.pull)
        s->ops.pull(s->arg, s);
    if (s->aborted)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    size_t n = s->buf.len - s->off;
    if (n == 0) {
        if (s->ended)
            return MHD_CONTENT_READER_END_OF_STREAM;
        /*  Returning 0 makes MHD ask again at once: wait, suspended, for
         *  the next write instead of spinning. */
        MHD_suspend_connection(s->conn);
        s->suspended = true;
        return 0;
    }
    if (n > max)
        n = max;
    memcpy(buf, s->buf.data + s->off, n);
    s->off += n;
    if (s->off == s->buf.len) {
        s->buf.len = 0;
        s->off = 0;
    }
    (void) pos;
    return (ssize_t) n;
}

/*  MHD frees the response: the connection is gone. */
static void
s_stream_free(void *cls)
{
    sw_http_stream_t *s = cls;
    if (s->handle)
        zlistx_detach(s->http->streams, s->handle);
    if (s->ops.closed)
        s->ops.closed(s->arg, s);
    sw_buf_release(&s->buf);
    free(s);
}

static void
s_resume(sw_http_stream_t *s)
{
    if (!s->suspended)
        return;
    s->suspended = false;
    MHD_resume_connection(s->conn);
    s_kick(s->http);
}

sw_http_stream_t *
sw_http_stream(sw_http_req_t *req, const char *content_type, const sw_http_stream_ops_t *ops,
               void *arg)
{
    sw_http_stream_t *s = xcalloc(1, sizeof *s);
    s->http = req->http;
    s->conn = req->conn;
    s->ops = *ops;
    s->arg = arg;
    sw_buf_init(&s->buf);
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024,
                                                                  s_reader, s, s_stream_free);
    s->handle = zlistx_add_end(req->http->streams, s);
    MHD_add_response_header(resp, "Content-Type", content_type);
    s_queue(req, 200, resp);
    return s;
}

int
sw_http_stream_write(sw_http_stream_t *s, const void *data, size_t n)
{
    if (s->ended || s->aborted)
        return -1;
    if (s->buf.len - s->off + n > SW_HTTP_STREAM_MAX) {
        log_warnx("http %s: a client reads too slowly (%zu bytes waiting): cut off",
                  s->http->name, s->buf.len - s->off);
        sw_http_stream_abort(s);
        return -1;
    }
    sw_buf_add(&s->buf, data, n);
    s_resume(s);
    return 0;
}

void
sw_http_stream_end(sw_http_stream_t *s)
{
    s->ended = true;
    s_resume(s);
}

void
sw_http_stream_abort(sw_http_stream_t *s)
{
    s->aborted = true;
    s_resume(s);
}

size_t
sw_http_stream_pending(const sw_http_stream_t *s)
{
    return s->buf.len - s->off;
}

/*  --- requests ------------------------------------------------------------------------ */

static bool
s_authorized(sw_http_t *self, struct MHD_Connection *conn)
{
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    size_t tlen = strlen(self->token);
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
        const char *t = auth + 7;
        while (*t == ' ')
            t++;
        return sw_http_token_equal(t, strlen(t), self->token, tlen);
    }
    const char *cookie = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, self->cookie);
    return cookie && sw_http_token_equal(cookie, strlen(cookie), self->token, tlen);
}

static enum MHD_Result
s_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
         const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    static int waiting, done;
    sw_http_t *self = cls;
    bool read_only = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (*con_cls == &done) {
        *upload_size = 0;       /*  a body after the answer: read and ignored */
        return MHD_YES;
    }
    /*  A GET is answered once the request is complete, so the connection
     *  can be kept alive (an answer before that makes MHD close it);
     *  anything else is refused at once. */
    if (read_only && *con_cls == NULL) {
        *con_cls = &waiting;
        return MHD_YES;
    }
    if (read_only && *upload_size) {
        *upload_size = 0;       /*  a body on a GET: read and ignored */
        return MHD_YES;
    }
    *con_cls = &done;
    sw_http_req_t req = { .http = self, .conn = conn, .path = url };
    if (!read_only) {
        sw_http_header(&req, "Allow", "GET, HEAD");
        sw_http_error(&req, 405, "%s: this server is read-only (GET and HEAD)", method);
    }
    else if (!self->token && self->loopback) {
        /*  Loopback without a token: a page on another site could still
         *  reach us through DNS rebinding, but its requests carry its own
         *  host name. Browsers always send Host. */
        const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host");
        if (host && !sw_http_host_is_loopback(host))
            sw_http_error(&req, 403, "Host '%s' is not a loopback address: this server answers "
                          "only to 127.0.0.1, [::1] or localhost", host);
    }
    else if (self->token && !s_authorized(self, conn)) {
        const char *given = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "token");
        if (strcmp(url, "/") == 0 && given
            && sw_http_token_equal(given, strlen(given), self->token, strlen(self->token))) {
            /*  The browser's way in: the cookie carries the token from now
             *  on (fetch and EventSource send it), and the redirect takes
             *  it out of the address bar and the history. */
            char *cookie = xasprintf("%s=%s; Path=/; HttpOnly; SameSite=Strict", self->cookie,
                                     self->token);
            sw_http_header(&req, "Set-Cookie", cookie);
            sw_http_header(&req, "Location", "/");
            free(cookie);
            sw_buf_t body;
            sw_buf_init(&body);
            sw_http_reply(&req, 303, "text/plain; charset=utf-8", &body);
        }
        else {
            sw_http_header(&req, "WWW-Authenticate", "Bearer realm=\"swarm\"");
            sw_http_error(&req, 401, "this %s needs its token: send 'Authorization: Bearer "
                          "TOKEN', or open %s/?token=TOKEN once in a browser", self->name,
                          self->url);
        }
    }
    if (!req.answered) {
        self->fn(self->arg, &req);
        if (!req.answered)
            sw_http_error(&req, 404, "no such page: %s", url);
    }
    sw_kv_release(&req.headers);
    (void) version;
    (void) upload;
    return MHD_YES;
}

/*  --- life cycle ------------------------------------------------------------------------ */

static char *s_token_read(const char *path, bool warn, sw_err_t *err);

int
sw_http_conf_check(const sw_http_conf_t *conf, sw_err_t *err)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    if (sw_http_parse_addr(conf->addr, &ss, &sslen, err) < 0)
        return -1;
    if (!sw_http_is_loopback((struct sockaddr *) &ss) && conf->token_off_loopback
        && !conf->token_file)
        return sw_err_set(err, SW_EINVAL, "--http %s is not a loopback address: the %s needs "
                          "--http-token-file FILE there (or use 127.0.0.1)", conf->addr,
                          conf->name);
    if (conf->token_file) {
        char *token = s_token_read(conf->token_file, false, err);
        if (!token)
            return -1;
        free(token);
    }
    return 0;
}

sw_http_t *
sw_http_new(zloop_t *loop, const sw_http_conf_t *conf, sw_http_handler_fn *fn, void *arg,
            sw_err_t *err)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    if (sw_http_conf_check(conf, err) < 0 || sw_http_parse_addr(conf->addr, &ss, &sslen, err) < 0)
        return NULL;
    sw_err_t lerr = { 0 };
    if (s_mhd_load(&lerr) < 0) {
        sw_err_set(err, SW_EFAIL, "%s: %s", conf->name, lerr.msg);
        return NULL;
    }
    bool loopback = sw_http_is_loopback((struct sockaddr *) &ss);
    sw_http_t *self = xcalloc(1, sizeof *self);
    self->name = xstrdup(conf->name);
    self->loop = loop;
    self->fn = fn;
    self->arg = arg;
    self->loopback = loopback;
    self->streams = zlistx_new();
    if (conf->token_file && !(self->token = sw_http_token_load(conf->token_file, NULL))) {
        sw_err_set(err, SW_EINVAL, "--http-token-file %s changed while starting", conf->token_file);
        sw_http_destroy(&self);
        return NULL;
    }
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    self->mhd = MHD_start_daemon(flags, 0, NULL, NULL, s_access, self,
                                 MHD_OPTION_EXTERNAL_LOGGER, s_logger, self,
                                 MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &ss,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned) MAX_CONNECTIONS,
                                 MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned) MAX_PER_IP,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) IDLE_TIMEOUT_S,
                                 MHD_OPTION_END);
    if (!self->mhd) {
        sw_err_set(err, SW_EFAIL, "%s: cannot listen on %s: %s", conf->name, conf->addr,
                   errno ? strerror(errno) : "libmicrohttpd refused");
        sw_http_destroy(&self);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(self->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    self->epoll_fd = info ? info->epoll_fd : -1;
    info = MHD_get_daemon_info(self->mhd, MHD_DAEMON_INFO_BIND_PORT);
    unsigned port = info ? info->port : 0;
    char host[INET6_ADDRSTRLEN] = "";
    if (ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *) &ss)->sin6_addr, host, sizeof host);
    else
        inet_ntop(AF_INET, &((struct sockaddr_in *) &ss)->sin_addr, host, sizeof host);
    snprintf(self->url, sizeof self->url, ss.ss_family == AF_INET6 ? "http://[%s]:%u"
             : "http://%s:%u", host, port);
    snprintf(self->cookie, sizeof self->cookie, "swarm_token_%u", port);
    if (self->epoll_fd < 0) {
        sw_err_set(err, SW_EFAIL, "%s: libmicrohttpd gave no epoll fd", conf->name);
        sw_http_destroy(&self);
        return NULL;
    }
    zmq_pollitem_t item = { NULL, self->epoll_fd, ZMQ_POLLIN, 0 };
    zloop_poller(loop, &item, s_on_epoll, self);
    zloop_poller_set_tolerant(loop, &item);
    s_arm(self);
    return self;
}

void
sw_http_destroy(sw_http_t **self_p)
{
    sw_http_t *self = *self_p;
    if (!self)
        return;
    if (self->mhd) {
        zmq_pollitem_t item = { NULL, self->epoll_fd, 0, 0 };
        zloop_poller_end(self->loop, &item);
        if (self->timer_id)
            zloop_timer_end(self->loop, self->timer_id);
        /*  MHD must not be stopped with suspended connections: end them. */
        for (sw_http_stream_t *s = zlistx_first(self->streams); s;
             s = zlistx_next(self->streams)) {
            s->aborted = true;
            if (s->suspended) {
                s->suspended = false;
                MHD_resume_connection(s->conn);
            }
        }
        MHD_run(self->mhd);
        MHD_stop_daemon(self->mhd);     /*  closed callbacks run here */
    }
    zlistx_destroy(&self->streams);
    free(self->token);
    free(self->name);
    free(self);
    *self_p = NULL;
}

static void
s_metrics_handler(void *arg, sw_http_req_t *req)
{
    sw_http_t *self = arg;
    sw_buf_t body;
    sw_buf_init(&body);
    if (strcmp(req->path, "/metrics") == 0) {
        self->render(self->render_arg, &body);
        sw_http_reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", &body);
    }
    else if (strcmp(req->path, "/") == 0) {
        sw_buf_printf(&body, "swarm %s: Prometheus metrics at %s/metrics\n", self->name,
                      self->url);
        sw_http_reply(req, 200, "text/plain; charset=utf-8", &body);
    }
}

sw_http_t *
sw_http_metrics_new(zloop_t *loop, const char *addr, sw_http_render_fn *render, void *arg,
                    sw_err_t *err)
{
    sw_http_conf_t conf = { .name = "metrics", .addr = addr };
    sw_http_t *self = sw_http_new(loop, &conf, s_metrics_handler, NULL, err);
    if (self) {
        self->arg = self;
        self->render = render;
        self->render_arg = arg;
    }
    return self;
}

const char *
sw_http_url(const sw_http_t *self)
{
    return self->url;
}

/*  --- pure helpers ------------------------------------------------------------------------ */

int
sw_http_parse_addr(const char *s, struct sockaddr_storage *out, socklen_t *len, sw_err_t *err)
{
    memset(out, 0, sizeof *out);
    if (!s || !*s)
        return sw_err_set(err, SW_EINVAL, "empty address (want HOST:PORT, [V6]:PORT or PORT)");
    const char *colon = strrchr(s, ':');
    char host[64] = "";
    const char *portstr = s;
    if (colon) {
        size_t hl = (size_t) (colon - s);
        if (hl >= sizeof host)
            return sw_err_set(err, SW_EINVAL, "address '%s': host too long", s);
        memcpy(host, s, hl);
        host[hl] = '\0';
        portstr = colon + 1;
    }
    else
        snprintf(host, sizeof host, "127.0.0.1");
    long long port;
    if (sw_parse_int(portstr, 0, 65535, &port) < 0)
        return sw_err_set(err, SW_EINVAL, "address '%s': port must be 0..65535 (want HOST:PORT, "
                          "[V6]:PORT or PORT)", s);
    size_t hl = strlen(host);
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *) out;
        host[hl - 1] = '\0';
        if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) != 1)
            return sw_err_set(err, SW_EINVAL, "address '%s': not an IPv6 address", s);
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t) port);
        *len = sizeof *a6;
        return 0;
    }
    struct sockaddr_in *a4 = (struct sockaddr_in *) out;
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t) port);
    *len = sizeof *a4;
    if (!*host)
        a4->sin_addr.s_addr = htonl(INADDR_ANY);
    else if (strcasecmp(host, "localhost") == 0)
        a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
        return sw_err_set(err, SW_EINVAL, "address '%s': '%s' is not an IPv4 address (want an "
                          "address, not a name: 127.0.0.1:PORT, [::1]:PORT, :PORT)", s, host);
    return 0;
}

bool
sw_http_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *) sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family != AF_INET6)
        return false;
    const struct in6_addr *a = &((const struct sockaddr_in6 *) sa)->sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(a))
        return true;
    return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
}

bool
sw_http_host_is_loopback(const char *host)
{
    char h[128];
    size_t n = strlen(host);
    if (n == 0 || n >= sizeof h)
        return false;
    memcpy(h, host, n + 1);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (h[0] == '[') {
        char *end = strchr(h, ']');
        if (!end || (end[1] && end[1] != ':'))
            return false;
        *end = '\0';
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *) &ss;
        a6->sin6_family = AF_INET6;
        return inet_pton(AF_INET6, h + 1, &a6->sin6_addr) == 1
            && sw_http_is_loopback((struct sockaddr *) &ss);
    }
    char *colon = strchr(h, ':');
    if (colon)
        *colon = '\0';
    if (strcasecmp(h, "localhost") == 0)
        return true;
    struct sockaddr_in *a4 = (struct sockaddr_in *) &ss;
    a4->sin_family = AF_INET;
    return inet_pton(AF_INET, h, &a4->sin_addr) == 1
        && sw_http_is_loopback((struct sockaddr *) &ss);
}

bool
sw_http_token_equal(const char *given, size_t given_len, const char *token, size_t token_len)
{
    /*  Every byte of the token is looked at whatever the input: the time
     *  says nothing about how many leading bytes were right. */
    volatile unsigned char diff = given_len != token_len;
    for (size_t i = 0; i < token_len; i++) {
        unsigned char g = i < given_len ? (unsigned char) given[i] : 0;
        diff |= g ^ (unsigned char) token[i];
    }
    return diff == 0;
}

static char *
s_token_read(const char *path, bool warn, sw_err_t *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        sw_err_set(err, SW_EINVAL, "--http-token-file %s: %s", path, strerror(errno));
        return NULL;
    }
    char line[1024] = "";
    bool got = fgets(line, sizeof line, f) != NULL;
    struct stat st;
    bool shared = fstat(fileno(f), &st) == 0 && (st.st_mode & 077);
    fclose(f);
    size_t n = got ? strcspn(line, "\r\n") : 0;
    line[n] = '\0';
    while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t'))
        line[--n] = '\0';
    if (n < SW_HTTP_TOKEN_MIN) {
        sw_err_set(err, SW_EINVAL, "--http-token-file %s: the token must have at least %d "
                   "characters (e.g. head -c 32 /dev/urandom | base64)", path, SW_HTTP_TOKEN_MIN);
        return NULL;
    }
    /*  It goes into a cookie and a header: no spaces, quotes or ';'. */
    if (strspn(line, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~+/=-")
        != n) {
        sw_err_set(err, SW_EINVAL, "--http-token-file %s: the token may hold only letters, "
                   "digits and . _ ~ + / = -", path);
        return NULL;
    }
    if (shared && warn)
        log_warnx("--http-token-file %s can be read by other users (chmod 600 it)", path);
    return xstrdup(line);
}

char *
sw_http_token_load(const char *path, sw_err_t *err)
{
    return s_token_read(path, true, err);
}
