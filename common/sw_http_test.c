/*  sw_http self-test: the pure helpers, then a live server in a zloop
 *  driven by a blocking client on a thread of its own (plain sockets:
 *  the test speaks HTTP/1.0, so it reads bodies to the end of the
 *  connection). Apart from sw_http.c to keep that file readable. */
#include "sw_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sw_selftest.h"

static int
s_pure_test(void)
{
    sw_err_t err = { 0 };
    struct sockaddr_storage ss;
    socklen_t len;
    char buf[INET6_ADDRSTRLEN];
    struct sockaddr_in *a4 = (struct sockaddr_in *) &ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *) &ss;

    CHECK(sw_http_parse_addr("9100", &ss, &len, &err) == 0);
    CHECK(ss.ss_family == AF_INET && ntohs(a4->sin_port) == 9100);
    CHECK(sw_http_is_loopback((struct sockaddr *) &ss));
    CHECK(sw_http_parse_addr("127.0.0.2:0", &ss, &len, &err) == 0);
    CHECK(sw_http_is_loopback((struct sockaddr *) &ss) && ntohs(a4->sin_port) == 0);
    CHECK(sw_http_parse_addr("localhost:80", &ss, &len, &err) == 0);
    CHECK(sw_http_is_loopback((struct sockaddr *) &ss));
    CHECK(sw_http_parse_addr(":9100", &ss, &len, &err) == 0);
    CHECK(!sw_http_is_loopback((struct sockaddr *) &ss) && a4->sin_addr.s_addr == 0);
    CHECK(sw_http_parse_addr("10.1.2.3:65535", &ss, &len, &err) == 0);
    CHECK(!sw_http_is_loopback((struct sockaddr *) &ss));
    inet_ntop(AF_INET, &a4->sin_addr, buf, sizeof buf);
    CHECK(strcmp(buf, "10.1.2.3") == 0 && len == sizeof(struct sockaddr_in));
    CHECK(sw_http_parse_addr("[::1]:8080", &ss, &len, &err) == 0);
    CHECK(ss.ss_family == AF_INET6 && ntohs(a6->sin6_port) == 8080);
    CHECK(sw_http_is_loopback((struct sockaddr *) &ss));
    CHECK(sw_http_parse_addr("[::]:8080", &ss, &len, &err) == 0);
    CHECK(!sw_http_is_loopback((struct sockaddr *) &ss));
    CHECK(sw_http_parse_addr("[::ffff:127.0.0.1]:1", &ss, &len, &err) == 0);
    CHECK(sw_http_is_loopback((struct sockaddr *) &ss));
    /*  the emptiest, the largest and the strangest */
    CHECK(sw_http_parse_addr("", &ss, &len, &err) < 0);
    CHECK(sw_http_parse_addr("127.0.0.1:65536", &ss, &len, &err) < 0);
    CHECK(strstr(err.msg, "0..65535") != NULL);
    CHECK(sw_http_parse_addr("127.0.0.1:", &ss, &len, &err) < 0);
    CHECK(sw_http_parse_addr("example.com:80", &ss, &len, &err) < 0);
    CHECK(strstr(err.msg, "'example.com' is not an IPv4 address") != NULL);
    CHECK(sw_http_parse_addr("[::1:80", &ss, &len, &err) < 0);
    CHECK(sw_http_parse_addr("[zz]:80", &ss, &len, &err) < 0);
    CHECK(sw_http_parse_addr("127.0.0.1:-1", &ss, &len, &err) < 0);
    char longhost[200];
    memset(longhost, 'a', sizeof longhost - 1);
    longhost[sizeof longhost - 1] = '\0';
    longhost[150] = ':';
    CHECK(sw_http_parse_addr(longhost, &ss, &len, &err) < 0);

    CHECK(sw_http_host_is_loopback("127.0.0.1:8080"));
    CHECK(sw_http_host_is_loopback("127.1.2.3"));
    CHECK(sw_http_host_is_loopback("localhost"));
    CHECK(sw_http_host_is_loopback("LOCALHOST:1"));
    CHECK(sw_http_host_is_loopback("[::1]:8080"));
    CHECK(sw_http_host_is_loopback("[::1]"));
    CHECK(!sw_http_host_is_loopback("evil.example:8080"));
    CHECK(!sw_http_host_is_loopback("localhost.evil.example"));
    CHECK(!sw_http_host_is_loopback("128.0.0.1"));
    CHECK(!sw_http_host_is_loopback("[::2]:80"));
    CHECK(!sw_http_host_is_loopback("[::1]x"));
    CHECK(!sw_http_host_is_loopback(""));

    CHECK(sw_http_token_equal("abcdefghijklmnop", 16, "abcdefghijklmnop", 16));
    CHECK(!sw_http_token_equal("abcdefghijklmnoq", 16, "abcdefghijklmnop", 16));
    CHECK(!sw_http_token_equal("abcdefghijklmno", 15, "abcdefghijklmnop", 16));
    CHECK(!sw_http_token_equal("abcdefghijklmnopq", 17, "abcdefghijklmnop", 16));
    CHECK(!sw_http_token_equal("", 0, "abcdefghijklmnop", 16));
    /*  a NUL inside the given bytes is a difference, not an end */
    CHECK(!sw_http_token_equal("abcdefgh\0jklmnop", 16, "abcdefghijklmnop", 16));

    char path[] = "/tmp/swarm-http-token-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("s3cret-token-0123456789\n# second line ignored\n", f);
    fclose(f);
    char *tok = sw_http_token_load(path, &err);
    CHECK(tok && strcmp(tok, "s3cret-token-0123456789") == 0);
    free(tok);
    f = fopen(path, "w");
    fputs("short\n", f);
    fclose(f);
    CHECK(sw_http_token_load(path, &err) == NULL && strstr(err.msg, "at least 16") != NULL);
    f = fopen(path, "w");
    fputs("has a space in it, long enough\n", f);
    fclose(f);
    CHECK(sw_http_token_load(path, &err) == NULL && strstr(err.msg, "only letters") != NULL);
    f = fopen(path, "w");
    fclose(f);
    CHECK(sw_http_token_load(path, &err) == NULL);
    unlink(path);
    CHECK(sw_http_token_load(path, &err) == NULL && strstr(err.msg, path) != NULL);
    return 0;
}

/*  --- a live server ----------------------------------------------------------------- */

typedef struct {
    sw_http_t        *http;
    zlistx_t         *push;         /*  s_pstream_t * open */
    int               closed;       /*  closed callbacks */
    int               pulled;       /*  parts handed out by pull */
    atomic_bool       done;         /*  the client thread finished */
    int               ticks;
    unsigned          port;
    sw_buf_t          got[10];      /*  what the client saw */
    int               forever_fd;   /*  left open for destroy */
} s_live_t;

typedef struct {
    s_live_t         *t;
    sw_http_stream_t *s;
    int               sent;
    bool              forever;      /*  else it ends after 5 events */
} s_pstream_t;

static void
s_live_closed(void *arg, sw_http_stream_t *s)
{
    s_pstream_t *p = arg;
    s_live_t *t = p->t;
    void *h = zlistx_find(t->push, p);
    if (h)
        zlistx_detach(t->push, h);
    t->closed++;
    free(p);
    (void) s;
}

static void
s_live_pull(void *arg, sw_http_stream_t *s)
{
    s_pstream_t *p = arg;
    if (p->sent == 1000) {
        sw_http_stream_end(s);
        return;
    }
    char part[1000];
    memset(part, 'a' + p->sent % 26, sizeof part);
    sw_http_stream_write(s, part, sizeof part);
    p->sent++;
    p->t->pulled++;
}

static void
s_live_handler(void *arg, sw_http_req_t *req)
{
    s_live_t *t = arg;
    const char *path = sw_http_path(req);
    sw_buf_t body;
    sw_buf_init(&body);
    if (strcmp(path, "/hello") == 0) {
        const char *who = sw_http_query(req, "who");
        sw_buf_printf(&body, "hello %s", who ? who : "world");
        sw_http_reply(req, 200, "text/plain", &body);
    }
    else if (strcmp(path, "/push") == 0 || strcmp(path, "/forever") == 0) {
        static const sw_http_stream_ops_t ops = { NULL, s_live_closed };
        s_pstream_t *p = xcalloc(1, sizeof *p);
        p->t = t;
        p->forever = strcmp(path, "/forever") == 0;
        p->s = sw_http_stream(req, "text/event-stream", &ops, p);
        zlistx_add_end(t->push, p);
    }
    else if (strcmp(path, "/pull") == 0) {
        static const sw_http_stream_ops_t ops = { s_live_pull, s_live_closed };
        s_pstream_t *p = xcalloc(1, sizeof *p);
        p->t = t;
        p->s = sw_http_stream(req, "application/octet-stream", &ops, p);
    }
    else
        sw_buf_release(&body);      /*  unanswered: 404 */
}

/*  Every 10 ms: an event to each push stream (/push ends after 5). Stops
 *  once the client is done and the server noticed the three streams that
 *  ended (push, pull, the client that left); 10 s at most. */
static int
s_live_tick(zloop_t *loop, int timer_id, void *arg)
{
    s_live_t *t = arg;
    zlistx_t *snapshot = zlistx_dup(t->push);   /*  a write may close one */
    for (s_pstream_t *p = zlistx_first(snapshot); p; p = zlistx_next(snapshot)) {
        if (!zlistx_find(t->push, p))
            continue;
        char ev[32];
        snprintf(ev, sizeof ev, "data: %d\n\n", ++p->sent);
        sw_http_stream_write(p->s, ev, strlen(ev));
        if (!p->forever && p->sent == 5)
            sw_http_stream_end(p->s);
    }
    zlistx_destroy(&snapshot);
    (void) loop;
    (void) timer_id;
    return (atomic_load(&t->done) && t->closed >= 3) || ++t->ticks > 1000 ? -1 : 0;
}

static int
s_connect(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = { 10, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *) &a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/*  Sends request, reads until the server closes (HTTP/1.0). */
static void
s_exchange(unsigned port, const char *request, sw_buf_t *out)
{
    int fd = s_connect(port);
    if (fd < 0)
        return;
    if (write(fd, request, strlen(request)) < 0)
        sw_buf_addstr(out, "write failed");
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        sw_buf_add(out, buf, (size_t) n);
    close(fd);
}

static void *
s_live_client(void *arg)
{
    s_live_t *t = arg;
    unsigned p = t->port;
    s_exchange(p, "GET /hello?who=a%20b HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", &t->got[0]);
    s_exchange(p, "POST /hello HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\nhi",
               &t->got[1]);
    s_exchange(p, "GET /hello HTTP/1.0\r\nHost: evil.example:80\r\n\r\n", &t->got[2]);
    s_exchange(p, "GET /push HTTP/1.0\r\nHost: localhost\r\n\r\n", &t->got[3]);
    s_exchange(p, "GET /pull HTTP/1.0\r\n\r\n", &t->got[4]);
    s_exchange(p, "GET /nothing HTTP/1.0\r\n\r\n", &t->got[5]);
    /*  a client that reads one event and leaves */
    int fd = s_connect(p);
    const char *req = "GET /forever HTTP/1.0\r\n\r\n";
    char buf[4096];
    if (fd >= 0 && write(fd, req, strlen(req)) > 0 && read(fd, buf, sizeof buf) > 0)
        sw_buf_addstr(&t->got[6], "read");
    if (fd >= 0)
        close(fd);
    /*  one that stays until the server is destroyed */
    t->forever_fd = s_connect(p);
    if (t->forever_fd >= 0 && write(t->forever_fd, req, strlen(req)) > 0
        && read(t->forever_fd, buf, sizeof buf) > 0)
        sw_buf_addstr(&t->got[7], "read");
    atomic_store(&t->done, true);
    return NULL;
}

static int
s_live_test(bool verbose)
{
    s_live_t t = { .forever_fd = -1 };
    for (size_t i = 0; i < sizeof t.got / sizeof t.got[0]; i++)
        sw_buf_init(&t.got[i]);
    t.push = zlistx_new();
    zloop_t *loop = zloop_new();
    sw_err_t err = { 0 };
    sw_http_conf_t conf = { .name = "test", .addr = "127.0.0.1:0" };
    t.http = sw_http_new(loop, &conf, s_live_handler, &t, &err);
    CHECK(t.http != NULL);
    if (!t.http)
        return 0;
    const char *url = sw_http_url(t.http);
    CHECK(strncmp(url, "http://127.0.0.1:", 17) == 0);
    t.port = (unsigned) atoi(url + 17);
    CHECK(t.port > 0);
    zloop_timer(loop, 10, 0, s_live_tick, &t);
    pthread_t th;
    pthread_create(&th, NULL, s_live_client, &t);
    /*  bounded: the tick stops the loop once the client is done; a hang
     *  ends with the test's own timeout */
    zloop_start(loop);
    pthread_join(th, NULL);
    if (verbose)
        for (int i = 0; i < 8; i++)
            printf("--- %d\n%s\n", i, t.got[i].data ? t.got[i].data : "");
    CHECK(t.got[0].data && strstr(t.got[0].data, " 200 "));
    CHECK(t.got[0].data && strstr(t.got[0].data, "\r\n\r\nhello a b"));
    CHECK(t.got[0].data && strstr(t.got[0].data, "Cache-Control: no-store"));
    CHECK(t.got[0].data && strstr(t.got[0].data, "X-Content-Type-Options: nosniff"));
    CHECK(t.got[1].data && strstr(t.got[1].data, " 405 ") && strstr(t.got[1].data, "read-only"));
    CHECK(t.got[2].data && strstr(t.got[2].data, " 403 ")
          && strstr(t.got[2].data, "evil.example:80"));
    CHECK(t.got[3].data && strstr(t.got[3].data, "text/event-stream"));
    CHECK(t.got[3].data && strstr(t.got[3].data, "data: 1\n\n")
          && strstr(t.got[3].data, "data: 5\n\n"));
    const char *body = t.got[4].data ? strstr(t.got[4].data, "\r\n\r\n") : NULL;
    CHECK(body && strlen(body + 4) == 1000 * 1000 && t.pulled == 1000);
    CHECK(t.got[5].data && strstr(t.got[5].data, " 404 "));
    CHECK(t.got[6].len > 0 && t.got[7].len > 0);

    /*  push, pull and the client that left are closed; the last one is
     *  suspended and open: destroy must end it (MHD panics otherwise). */
    CHECK(t.closed == 3 && zlistx_size(t.push) == 1);
    sw_http_destroy(&t.http);
    CHECK(t.http == NULL && zlistx_size(t.push) == 0);
    if (t.forever_fd >= 0)
        close(t.forever_fd);
    zloop_destroy(&loop);
    zlistx_destroy(&t.push);
    for (size_t i = 0; i < sizeof t.got / sizeof t.got[0]; i++)
        sw_buf_release(&t.got[i]);
    return 0;
}

int
sw_http_test(bool verbose)
{
    s_pure_test();
    s_live_test(verbose);
    return 0;
}
