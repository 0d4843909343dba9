/*  sw_proto -- see sw_proto.h */
#include "sw_proto.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "sw_selftest.h"

static const struct {
    int         cmd;
    const char *name;
} s_cmds[] = {
    { SW_HELLO, "HELLO" }, { SW_WELCOME, "WELCOME" }, { SW_HEARTBEAT, "HEARTBEAT" },
    { SW_TASK, "TASK" }, { SW_ACCEPT, "ACCEPT" }, { SW_DONE, "DONE" },
    { SW_CANCEL, "CANCEL" }, { SW_DRAIN, "DRAIN" }, { SW_BYE, "BYE" }, { SW_USAGE, "USAGE" },
    { SW_C_SUBMIT, "SUBMIT" }, { SW_C_STATUS, "STATUS" }, { SW_C_AGENTS, "AGENTS" },
    { SW_C_CANCEL, "CTL_CANCEL" }, { SW_C_WAIT, "WAIT" }, { SW_C_INIT, "INIT" },
    { SW_C_DRAIN, "CTL_DRAIN" },
    { SW_C_REVOKE, "CTL_REVOKE" },
    { SW_C_REPLY, "REPLY" },
};

const char *
sw_cmd_name(int cmd)
{
    for (size_t i = 0; i < sizeof s_cmds / sizeof s_cmds[0]; i++)
        if (s_cmds[i].cmd == cmd)
            return s_cmds[i].name;
    return NULL;
}

/*  --- HELLO ------------------------------------------------------------------ */

void
sw_hello_release(sw_hello_t *h)
{
    free(h->agent);
    free(h->host);
    free(h->version);
    sw_kv_release(&h->labels);
    sw_strv_release(&h->runners);
    sw_strv_release(&h->running);
    memset(h, 0, sizeof *h);
}

void
sw_hello_pack(msgpack_packer *pk, const sw_hello_t *h)
{
    msgpack_pack_map(pk, 7);
    sw_mp_kv_str(pk, "agent", h->agent);
    sw_mp_kv_str(pk, "host", h->host);
    sw_mp_kv_str(pk, "version", h->version);
    sw_mp_kv_int(pk, "slots", h->slots);
    sw_mp_kv_kv(pk, "labels", &h->labels);
    sw_mp_kv_strv(pk, "runners", &h->runners);
    sw_mp_kv_strv(pk, "running", &h->running);
}

int
sw_hello_unpack(const msgpack_object *m, sw_hello_t *h, sw_err_t *err)
{
    memset(h, 0, sizeof *h);
    if (sw_mp_str(m, "agent", true, &h->agent, err) < 0
        || sw_mp_str(m, "host", true, &h->host, err) < 0
        || sw_mp_str(m, "version", true, &h->version, err) < 0
        || sw_mp_int(m, "slots", true, 1, 4096, &h->slots, err) < 0
        || sw_mp_kv(m, "labels", false, SW_MAX_LIST, &h->labels, err) < 0
        || sw_mp_strv(m, "runners", true, 16, &h->runners, err) < 0
        || sw_mp_strv(m, "running", false, 4096, &h->running, err) < 0) {
        sw_hello_release(h);
        return -1;
    }
    if (!sw_id_valid(h->agent)) {
        sw_err_set(err, SW_EINVAL, "invalid agent id");
        sw_hello_release(h);
        return -1;
    }
    return 0;
}

/*  --- ACCEPT / DONE / CANCEL ----------------------------------------------------- */

void
sw_ref_release(sw_ref_t *r)
{
    free(r->job);
    free(r->id);
    free(r->status);
    memset(r, 0, sizeof *r);
}

void
sw_ref_pack(msgpack_packer *pk, const sw_ref_t *r, bool done)
{
    msgpack_pack_map(pk, done ? 6 : 3);
    sw_mp_kv_str(pk, "job", r->job);
    sw_mp_kv_str(pk, "id", r->id);
    sw_mp_kv_int(pk, "attempt", r->attempt);
    if (done) {
        sw_mp_kv_str(pk, "status", r->status);
        sw_mp_kv_int(pk, "exit_code", r->exit_code);
        sw_mp_kv_bool(pk, "retryable", r->retryable);
    }
}

int
sw_ref_unpack(const msgpack_object *m, sw_ref_t *r, bool done, sw_err_t *err)
{
    memset(r, 0, sizeof *r);
    if (sw_mp_str(m, "job", true, &r->job, err) < 0
        || sw_mp_str(m, "id", true, &r->id, err) < 0
        || sw_mp_int(m, "attempt", true, 1, INT32_MAX, &r->attempt, err) < 0
        || (done && sw_mp_str(m, "status", true, &r->status, err) < 0)
        || (done && sw_mp_int(m, "exit_code", true, -1, 255, &r->exit_code, err) < 0)
        || (done && sw_mp_bool(m, "retryable", false, &r->retryable, err) < 0)) {
        sw_ref_release(r);
        return -1;
    }
    if (done) {
        int st = sw_tstate_parse(r->status);
        if (st < 0 || !SW_TS_FINAL(st) || st == SW_TS_SKIPPED) {
            sw_err_set(err, SW_EINVAL, "invalid final status '%s'", r->status);
            sw_ref_release(r);
            return -1;
        }
    }
    return 0;
}

/*  --- USAGE ------------------------------------------------------------------ */

void
sw_usage_msg_release(sw_usage_msg_t *m)
{
    sw_ref_release(&m->ref);
    memset(m, 0, sizeof *m);
}

void
sw_usage_msg_pack(msgpack_packer *pk, const sw_usage_msg_t *m)
{
    msgpack_pack_map(pk, 9);
    sw_mp_kv_str(pk, "job", m->ref.job);
    sw_mp_kv_str(pk, "id", m->ref.id);
    sw_mp_kv_int(pk, "attempt", m->ref.attempt);
    sw_mp_kv_int(pk, "input_tokens", m->u.input);
    sw_mp_kv_int(pk, "cached_input_tokens", m->u.cached);
    sw_mp_kv_int(pk, "output_tokens", m->u.output);
    sw_mp_kv_int(pk, "cost_micro_usd", m->u.cost_usd < 0 ? -1
                 : (int64_t) llround(m->u.cost_usd * 1e6));
    sw_mp_kv_str(pk, "model", m->u.model[0] ? m->u.model : NULL);
    sw_mp_kv_bool(pk, "final", m->final);
}

int
sw_usage_msg_unpack(const msgpack_object *map, sw_usage_msg_t *m, sw_err_t *err)
{
    memset(m, 0, sizeof *m);
    int64_t micro = -1;
    char *model = NULL;
    if (sw_ref_unpack(map, &m->ref, false, err) < 0)
        return -1;
    if (sw_mp_int(map, "input_tokens", true, 0, SW_USAGE_MAX_TOKENS, &m->u.input, err) < 0
        || sw_mp_int(map, "cached_input_tokens", false, 0, SW_USAGE_MAX_TOKENS, &m->u.cached,
                     err) < 0
        || sw_mp_int(map, "output_tokens", true, 0, SW_USAGE_MAX_TOKENS, &m->u.output, err) < 0
        || sw_mp_int(map, "cost_micro_usd", false, -1, (int64_t) (SW_USAGE_MAX_USD * 1e6), &micro,
                     err) < 0
        || sw_mp_bool(map, "final", false, &m->final, err) < 0)
        goto fail;
    const msgpack_object *mo = sw_mp_find(map, "model");
    if (mo && mo->type != MSGPACK_OBJECT_NIL) {
        if (sw_mp_str(map, "model", false, &model, err) < 0)
            goto fail;
        if (!sw_usage_set_model(&m->u, model)) {
            sw_err_set(err, SW_EINVAL, "model must be 1..%d bytes of A-Z a-z 0-9 . _ - : / @ + [ ]",
                       SW_USAGE_MODEL_MAX - 1);
            goto fail;
        }
    }
    if (m->u.cached > m->u.input) {
        sw_err_set(err, SW_EINVAL, "cached_input_tokens over input_tokens");
        goto fail;
    }
    m->u.cost_usd = micro < 0 ? -1 : (double) micro / 1e6;
    free(model);
    return 0;
fail:
    free(model);
    sw_usage_msg_release(m);
    return -1;
}

/*  --- framing ---------------------------------------------------------------- */

int
sw_msg_decode(zmsg_t **msgp, bool router, sw_msg_t *m, sw_err_t *err)
{
    return sw_msg_decode_lim(msgp, router, NULL, m, err);
}

int
sw_msg_decode_lim(zmsg_t **msgp, bool router, const sw_mp_limits_t *lim, sw_msg_t *m,
                  sw_err_t *err)
{
    zmsg_t *msg = *msgp;
    *msgp = NULL;
    memset(m, 0, sizeof *m);
    msgpack_unpacked_init(&m->up);
    int rc = -1;
    size_t want = router ? 4 : 3;
    if (!msg || zmsg_size(msg) != want) {
        sw_err_set(err, SW_EINVAL, "expected %zu frames, got %zu", want,
                   msg ? zmsg_size(msg) : 0);
        goto out;
    }
    if (router)
        m->routing = zmsg_pop(msg);
    zframe_t *id = zmsg_pop(msg);
    zframe_t *cmd = zmsg_pop(msg);
    if (!zframe_streq(id, SW_PROTO_ID)) {
        zframe_destroy(&id);
        zframe_destroy(&cmd);
        sw_err_set(err, SW_EINVAL, "bad protocol id (want %s)", SW_PROTO_ID);
        goto out;
    }
    if (zframe_size(cmd) != 1 || !sw_cmd_name(zframe_data(cmd)[0])) {
        zframe_destroy(&id);
        zframe_destroy(&cmd);
        sw_err_set(err, SW_EINVAL, "unknown command");
        goto out;
    }
    m->cmd = zframe_data(cmd)[0];
    zframe_destroy(&id);
    zframe_destroy(&cmd);
    zframe_t *body = m->frame = zmsg_pop(msg);
    if (sw_mp_check(zframe_data(body), zframe_size(body), lim, err) < 0)
        goto out;
    size_t off = 0;
    if (msgpack_unpack_next(&m->up, (const char *) zframe_data(body), zframe_size(body), &off)
            != MSGPACK_UNPACK_SUCCESS || off != zframe_size(body)) {
        sw_err_set(err, SW_EINVAL, "undecodable body");
        goto out;
    }
    if (m->up.data.type != MSGPACK_OBJECT_MAP) {
        sw_err_set(err, SW_EINVAL, "body is not a map");
        goto out;
    }
    m->body = &m->up.data;
    rc = 0;
out:
    zmsg_destroy(&msg);
    if (rc < 0)
        sw_msg_release(m);
    return rc;
}

void
sw_msg_release(sw_msg_t *m)
{
    zframe_destroy(&m->routing);
    zframe_destroy(&m->frame);
    msgpack_unpacked_destroy(&m->up);
    msgpack_unpacked_init(&m->up);
    m->body = NULL;
}

int
sw_msg_send(zsock_t *sock, zframe_t *routing, int cmd, const void *body, size_t len)
{
    void *s = zsock_resolve(sock);
    unsigned char c = (unsigned char) cmd;
    if (routing && zmq_send(s, zframe_data(routing), zframe_size(routing),
                            ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return -1;
    /*  Once the first frame is queued the rest cannot fail for want of
     *  room: ZeroMQ queues a multipart message atomically. */
    if (zmq_send(s, SW_PROTO_ID, strlen(SW_PROTO_ID), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0
        || zmq_send(s, &c, 1, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0
        || zmq_send(s, body, len, ZMQ_DONTWAIT) < 0)
        return -1;
    return 0;
}

int
sw_msg_send_empty(zsock_t *sock, zframe_t *routing, int cmd)
{
    static const unsigned char empty_map = 0x80;
    return sw_msg_send(sock, routing, cmd, &empty_map, 1);
}

void
sw_sock_defaults(zsock_t *sock)
{
    zsock_set_maxmsgsize(sock, SW_MAX_FRAME);
    zsock_set_linger(sock, 0);
    zsock_set_sndhwm(sock, 100000);
    zsock_set_rcvhwm(sock, 100000);
}

/*  --- self-test --------------------------------------------------------------- */

static zmsg_t *
s_frames(bool router, const char *id, int cmd, const void *body, size_t len)
{
    zmsg_t *msg = zmsg_new();
    if (router)
        zmsg_addstr(msg, "peer");
    zmsg_addstr(msg, id);
    unsigned char c = (unsigned char) cmd;
    zmsg_addmem(msg, &c, 1);
    zmsg_addmem(msg, body, len);
    return msg;
}

static int
s_decode(zmsg_t *msg, bool router, sw_msg_t *m, sw_err_t *err)
{
    return sw_msg_decode(&msg, router, m, err);
}

int
sw_proto_test(bool verbose)
{
    sw_err_t err = { 0 };
    sw_task_t t;
    sw_task_init(&t);
    t.id = xstrdup("coder-api");
    t.job = xstrdup("auth");
    t.prompt = xstrdup("implement the API");
    sw_strv_push(&t.after, "architect");
    sw_kv_set(&t.labels, "os", "linux");
    CHECK(sw_task_validate(&t, &err) == 0);
    CHECK(strcmp(t.runner, "codex") == 0 && strcmp(t.type, "coder") == 0);
    CHECK(t.timeout_s == 300 && t.max_attempts == 3 && strcmp(t.ns, "results") == 0);
    t.attempt = 2;

    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    sw_mp_packer_init(&pk, &sb);
    sw_task_pack(&pk, &t);

    /*  round trip through frames */
    sw_msg_t m;
    CHECK(s_decode(s_frames(true, SW_PROTO_ID, SW_TASK, sb.data, sb.size), true, &m, &err) == 0);
    CHECK(m.cmd == SW_TASK && m.routing && zframe_streq(m.routing, "peer"));
    sw_task_t back;
    CHECK(sw_task_unpack(m.body, &back, &err) == 0);
    CHECK(strcmp(back.id, "coder-api") == 0 && back.attempt == 2);
    CHECK(back.after.n == 1 && strcmp(back.after.v[0], "architect") == 0);
    CHECK(strcmp(sw_kv_get(&back.labels, "os"), "linux") == 0);
    sw_task_release(&back);
    sw_msg_release(&m);

    /*  wrong protocol id or version, unknown command, wrong frame count */
    CHECK(s_decode(s_frames(false, "SWARM2", SW_TASK, sb.data, sb.size), false, &m, &err) < 0);
    CHECK(strstr(err.msg, "protocol id") != NULL);
    CHECK(s_decode(s_frames(false, SW_PROTO_ID, 0x7e, sb.data, sb.size), false, &m, &err) < 0);
    CHECK(s_decode(s_frames(true, SW_PROTO_ID, SW_TASK, sb.data, sb.size), false, &m, &err) < 0);
    zmsg_t *none = NULL;
    CHECK(sw_msg_decode(&none, false, &m, &err) < 0);

    /*  truncated and trailing garbage */
    for (size_t cut = 0; cut < sb.size; cut += 7)
        CHECK(s_decode(s_frames(false, SW_PROTO_ID, SW_TASK, sb.data, cut), false, &m, &err) < 0);
    char *garbage = xmalloc(sb.size + 3);
    memcpy(garbage, sb.data, sb.size);
    memcpy(garbage + sb.size, "\x01\x02\x03", 3);
    CHECK(s_decode(s_frames(false, SW_PROTO_ID, SW_TASK, garbage, sb.size + 3), false, &m, &err) < 0);
    free(garbage);

    /*  a body that is not a map, and a map with mistyped fields */
    CHECK(s_decode(s_frames(false, SW_PROTO_ID, SW_TASK, "\x93\x01\x02\x03", 4), false, &m, &err) < 0);
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_map(&pk, 3);
    sw_mp_kv_str(&pk, "job", "j");
    sw_mp_kv_int(&pk, "id", 7);                 /*  id must be a string */
    sw_mp_kv_int(&pk, "attempt", 1);
    CHECK(s_decode(s_frames(false, SW_PROTO_ID, SW_ACCEPT, sb.data, sb.size), false, &m, &err) == 0);
    sw_ref_t ref;
    CHECK(sw_ref_unpack(m.body, &ref, false, &err) < 0);
    CHECK(strstr(err.msg, "'id'") != NULL);
    sw_msg_release(&m);

    /*  USAGE: a round trip, and absurd numbers refused */
    msgpack_sbuffer_clear(&sb);
    sw_usage_msg_t um = { .ref = { .job = "j", .id = "t", .attempt = 2 },
                          .u = { .input = 1200, .cached = 200, .output = 34, .cost_usd = 0.02,
                                 .model = "gpt-5-codex" }, .final = true };
    sw_usage_msg_pack(&pk, &um);
    sw_usage_msg_t ub;
    CHECK(s_decode(s_frames(false, SW_PROTO_ID, SW_USAGE, sb.data, sb.size), false, &m, &err) == 0);
    CHECK(sw_usage_msg_unpack(m.body, &ub, &err) == 0);
    CHECK(ub.ref.attempt == 2 && ub.u.input == 1200 && ub.u.cached == 200 && ub.u.output == 34
          && ub.u.cost_usd == 0.02 && strcmp(ub.u.model, "gpt-5-codex") == 0 && ub.final);
    sw_usage_msg_release(&ub);
    sw_msg_release(&m);
    um.u.cached = 5000;         /*  more cached than read */
    um.u.cost_usd = -1;
    um.u.model[0] = '\0';
    msgpack_sbuffer_clear(&sb);
    sw_usage_msg_pack(&pk, &um);
    CHECK(s_decode(s_frames(false, SW_PROTO_ID, SW_USAGE, sb.data, sb.size), false, &m, &err) == 0);
    CHECK(sw_usage_msg_unpack(m.body, &ub, &err) < 0);
    sw_msg_release(&m);
    um.u.cached = 0;
    um.u.output = SW_USAGE_MAX_TOKENS + 1;
    msgpack_sbuffer_clear(&sb);
    sw_usage_msg_pack(&pk, &um);
    CHECK(s_decode(s_frames(false, SW_PROTO_ID, SW_USAGE, sb.data, sb.size), false, &m, &err) == 0);
    CHECK(sw_usage_msg_unpack(m.body, &ub, &err) < 0);
    sw_msg_release(&m);

    /*  DONE must carry a final status */
    msgpack_sbuffer_clear(&sb);
    sw_ref_t d = { .job = "j", .id = "t", .attempt = 1, .status = "running", .exit_code = 0 };
    sw_ref_pack(&pk, &d, true);
    CHECK(s_decode(s_frames(false, SW_PROTO_ID, SW_DONE, sb.data, sb.size), false, &m, &err) == 0);
    CHECK(sw_ref_unpack(m.body, &ref, true, &err) < 0);
    sw_msg_release(&m);

    /*  HELLO round trip and a bad agent id */
    msgpack_sbuffer_clear(&sb);
    sw_hello_t h = { .agent = "a1", .host = "h", .version = "0", .slots = 4 };
    sw_strv_push(&h.runners, "exec");
    sw_hello_pack(&pk, &h);
    sw_strv_release(&h.runners);
    CHECK(s_decode(s_frames(false, SW_PROTO_ID, SW_HELLO, sb.data, sb.size), false, &m, &err) == 0);
    sw_hello_t hb;
    CHECK(sw_hello_unpack(m.body, &hb, &err) == 0 && hb.slots == 4 && hb.runners.n == 1);
    sw_hello_release(&hb);
    sw_msg_release(&m);

    /*  random frames never crash the decoder */
    unsigned seed = 99;
    for (int i = 0; i < 5000; i++) {
        unsigned char buf[64];
        size_t n = (size_t) (rand_r(&seed) % sizeof buf);
        for (size_t k = 0; k < n; k++)
            buf[k] = (unsigned char) rand_r(&seed);
        int cmd = (int) (rand_r(&seed) % 0x30);
        if (s_decode(s_frames(false, SW_PROTO_ID, cmd, buf, n), false, &m, &err) == 0) {
            sw_task_t x;
            if (sw_task_unpack(m.body, &x, &err) == 0)
                sw_task_release(&x);
            sw_msg_release(&m);
        }
    }

    msgpack_sbuffer_destroy(&sb);
    sw_task_release(&t);
    (void) verbose;
    return 0;
}
