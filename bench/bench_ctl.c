/*  bench_ctl -- see bench_ctl.h */
#include "bench_ctl.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

zsock_t *
bench_ctl_connect(const char *endpoint)
{
    zsock_t *ctl = zsock_new(ZMQ_DEALER);
    sw_sock_defaults(ctl);
    zsock_connect(ctl, "%s", endpoint);
    return ctl;
}

/*  Waits up to timeout_ms for the next reply and decodes it: 0 when it
 *  says ok (reply filled), -1 after printing why (name: the request's). */
static int
s_reply(zsock_t *ctl, const char *name, int timeout_ms, sw_msg_t *reply)
{
    const char *prog = program_invocation_short_name;
    zmq_pollitem_t it = { zsock_resolve(ctl), 0, ZMQ_POLLIN, 0 };
    if (zmq_poll(&it, 1, timeout_ms) <= 0) {
        fprintf(stderr, "%s: no reply to %s\n", prog, name);
        return -1;
    }
    zmsg_t *m = zmsg_recv(ctl);
    sw_err_t err = { 0 };
    static const sw_mp_limits_t lim = { .max_depth = 8, .max_items = 4u << 20,
                                        .max_str = 16u << 20 };
    if (sw_msg_decode_lim(&m, false, &lim, reply, &err) < 0) {
        fprintf(stderr, "%s: bad reply to %s: %s\n", prog, name, err.msg);
        return -1;
    }
    bool ok = false;
    sw_mp_bool(reply->body, "ok", true, &ok, &err);
    if (ok)
        return 0;
    char *e = NULL;
    sw_mp_str(reply->body, "error", false, &e, &err);
    fprintf(stderr, "%s: %s refused: %s\n", prog, name, e ? e : "request failed");
    free(e);
    sw_msg_release(reply);
    return -1;
}

static int
s_send(zsock_t *ctl, int cmd, const msgpack_sbuffer *sb)
{
    if (sw_msg_send(ctl, NULL, cmd, sb->data, sb->size) < 0) {
        fprintf(stderr, "%s: cannot send %s\n", program_invocation_short_name, sw_cmd_name(cmd));
        return -1;
    }
    return 0;
}

int
bench_ctl_request(zsock_t *ctl, int cmd, const msgpack_sbuffer *sb, int timeout_ms,
                  sw_msg_t *reply)
{
    if (s_send(ctl, cmd, sb) < 0)
        return -1;
    return s_reply(ctl, sw_cmd_name(cmd), timeout_ms, reply);
}

void
bench_ctl_submit_pack(msgpack_sbuffer *sb, const char *job, const char *txn, bool more,
                      const char *prefix, int from, int n, char **argv)
{
    msgpack_packer pk;
    sw_mp_packer_init(&pk, sb);
    msgpack_pack_map(&pk, txn ? 4 : 2);
    sw_mp_kv_str(&pk, "job", job);
    if (txn) {
        sw_mp_kv_str(&pk, "txn", txn);
        sw_mp_kv_bool(&pk, "more", more);
    }
    sw_mp_pack_str(&pk, "tasks");
    msgpack_pack_array(&pk, (size_t) n);
    sw_task_t t;
    sw_task_init(&t);
    t.runner = "exec";
    t.type = "cmd";
    for (char **a = argv; *a; a++)
        sw_strv_push(&t.argv, *a);
    /*  issue 18 §3: every task takes this resource (a --limit in COORD_ARGS
     *  of bench/dispatch caps it) */
    const char *res = getenv("SWARM_BENCH_RESOURCE");
    if (res && *res)
        sw_strv_push(&t.resources, res);
    char id[64];
    for (int i = 0; i < n; i++) {
        snprintf(id, sizeof id, "%s%d", prefix, from + i);
        t.id = id;
        sw_task_pack(&pk, &t);
    }
    sw_strv_release(&t.argv);
    sw_strv_release(&t.resources);
}

int
bench_ctl_submit(zsock_t *ctl, const char *job, const char *prefix, int from, int n,
                 char **argv, int timeout_ms)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    bench_ctl_submit_pack(&sb, job, NULL, false, prefix, from, n, argv);
    sw_msg_t reply;
    int rc = bench_ctl_request(ctl, SW_C_SUBMIT, &sb, timeout_ms, &reply);
    msgpack_sbuffer_destroy(&sb);
    if (rc == 0)
        sw_msg_release(&reply);
    return rc;
}

static void
s_wait_pack(msgpack_sbuffer *sb, const char *job, const char *id, int64_t max_ms, int64_t since)
{
    msgpack_packer pk;
    sw_mp_packer_init(&pk, sb);
    msgpack_pack_map(&pk, since >= 0 ? 4 : 3);
    sw_mp_kv_str(&pk, "job", job);
    sw_mp_pack_str(&pk, "ids");
    msgpack_pack_array(&pk, id ? 1 : 0);
    if (id)
        sw_mp_pack_str(&pk, id);
    sw_mp_kv_int(&pk, "max_ms", max_ms);
    if (since >= 0)
        sw_mp_kv_int(&pk, "since", since);
}

/*  The WAIT reply's "done": 1 or 0. */
static int
s_done(sw_msg_t *reply)
{
    bool done = false;
    sw_err_t err = { 0 };
    sw_mp_bool(reply->body, "done", false, &done, &err);
    sw_msg_release(reply);
    return done ? 1 : 0;
}

int
bench_ctl_wait(zsock_t *ctl, const char *job, const char *id, int64_t max_ms, int64_t since,
               int timeout_ms)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    s_wait_pack(&sb, job, id, max_ms, since);
    sw_msg_t reply;
    int rc = bench_ctl_request(ctl, SW_C_WAIT, &sb, timeout_ms, &reply);
    msgpack_sbuffer_destroy(&sb);
    return rc < 0 ? -1 : s_done(&reply);
}

int
bench_ctl_submit_wait(zsock_t *ctl, const char *job, const char *prefix, int from, char **argv,
                      int64_t max_ms, int timeout_ms)
{
    msgpack_sbuffer sub, wait;
    msgpack_sbuffer_init(&sub);
    msgpack_sbuffer_init(&wait);
    bench_ctl_submit_pack(&sub, job, NULL, false, prefix, from, 1, argv);
    char id[64];
    snprintf(id, sizeof id, "%s%d", prefix, from);
    s_wait_pack(&wait, job, id, max_ms, -1);
    /*  The coordinator handles a socket's messages in order and answers
     *  the SUBMIT when its writes are durable, before the task can be
     *  final: the first reply is the SUBMIT's, the second the WAIT's. */
    int rc = s_send(ctl, SW_C_SUBMIT, &sub) < 0 || s_send(ctl, SW_C_WAIT, &wait) < 0 ? -1 : 0;
    msgpack_sbuffer_destroy(&sub);
    msgpack_sbuffer_destroy(&wait);
    sw_msg_t reply;
    if (rc < 0 || s_reply(ctl, sw_cmd_name(SW_C_SUBMIT), timeout_ms, &reply) < 0)
        return -1;
    sw_msg_release(&reply);
    if (s_reply(ctl, sw_cmd_name(SW_C_WAIT), timeout_ms, &reply) < 0)
        return -1;
    return s_done(&reply);
}

long long
bench_cpu_us(int pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR *d = pid > 0 ? opendir(path) : NULL;
    if (!d)
        return -1;
    long long ns = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char f[300];
        snprintf(f, sizeof f, "/proc/%d/task/%s/schedstat", pid, e->d_name);
        FILE *fp = fopen(f, "r");
        long long t = 0;
        if (fp && fscanf(fp, "%lld", &t) == 1)
            ns += t;
        if (fp)
            fclose(fp);
    }
    closedir(d);
    return ns / 1000;
}

long long
bench_children_cpu_us(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *fp = pid > 0 ? fopen(path, "r") : NULL;
    size_t n = fp ? fread(buf, 1, sizeof buf - 1, fp) : 0;
    if (fp)
        fclose(fp);
    buf[n] = 0;
    /*  Fields after the command (which may hold spaces): the 3rd is the
     *  state; cutime and cstime are fields 16 and 17, so the 14th and
     *  15th after the closing parenthesis. */
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    long long v[15] = { 0 };
    int i = 0;
    for (char *tok = strtok(p + 1, " "); tok && i < 15; tok = strtok(NULL, " "))
        v[i++] = atoll(tok);
    if (i < 15)
        return -1;
    return (v[13] + v[14]) * 1000000LL / sysconf(_SC_CLK_TCK);
}
