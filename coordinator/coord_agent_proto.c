/*  coord_agent_proto -- the coordinator's side of the agent protocol
 *  (docs/protocol.md): HELLO (and who may say it), heartbeats, ACCEPT,
 *  DONE, DRAIN and BYE, each handed to the scheduler. */
#include <string.h>

#include "coord_server_int.h"

void
coord_server_peer_key(const zframe_t *routing, char *out, size_t n)
{
    /*  zframe_strhex's text, without its allocation (a lookup per message) */
    static const char digits[] = "0123456789ABCDEF";
    const byte *data = zframe_data((zframe_t *) routing);
    size_t size = zframe_size((zframe_t *) routing), o = 0;
    for (size_t i = 0; i < size && o + 2 < n; i++) {
        out[o++] = digits[data[i] >> 4];
        out[o++] = digits[data[i] & 15];
    }
    if (n)
        out[o < n ? o : n - 1] = '\0';
}

/*  --- agent protocol -------------------------------------------------------- */

static int64_t
s_lease_ms(const coord_server_t *self)
{
    return self->conf.heartbeat_ms * self->conf.liveness;
}

static void
s_on_hello(coord_server_t *self, sw_msg_t *m)
{
    sw_err_t err = { 0 };
    sw_hello_t h;
    if (sw_hello_unpack(m->body, &h, &err) < 0) {
        self->dropped++;
        log_warnx("dropped a malformed HELLO: %s", err.msg);
        return;
    }
    char key[128];
    coord_server_peer_key(m->routing, key, sizeof key);
    coord_agent_t *old = coord_sched_agent(self->sched, h.agent);
    const char *user = self->curve ? zframe_meta(m->frame, "User-Id") : NULL;
    if (self->curve) {
        /*  ZAP let the connection in; the key must still be allowed, and
         *  an agent id belongs to the key that registered it first. */
        const char *name = zframe_meta(m->frame, "name");
        const char *why = !user || !sw_curve_server_allows(self->curve, SW_CURVE_AGENTS, user)
                        ? "its key is not (or no longer) allowed"
                        : zhashx_lookup(self->revoked, user)
                        ? "its key was revoked (swarm agents revoke)"
                        : name && strcmp(name, h.agent) != 0
                        ? "its key is for another agent id (the name in its certificate)"
                        : old && old->key && strcmp(old->key, user) != 0
                        ? "that agent id is registered with another key" : NULL;
        if (why) {
            self->refused++;
            if (self->refused < 10 || log_verbose())
                log_warnx("refused HELLO from agent %s: %s", h.agent, why);
            /*  The reason goes with the BYE: the agent tells this
             *  refusal from the BYE that asks an unknown connection to
             *  say HELLO (docs/protocol.md). */
            msgpack_sbuffer sb;
            msgpack_sbuffer_init(&sb);
            msgpack_packer pk;
            sw_mp_packer_init(&pk, &sb);
            msgpack_pack_map(&pk, 1);
            sw_mp_kv_str(&pk, "refused", why);
            sw_msg_send(self->agents, m->routing, SW_BYE, sb.data, sb.size);
            msgpack_sbuffer_destroy(&sb);
            sw_hello_release(&h);
            return;
        }
    }
    if (old) {
        char oldkey[128];
        coord_server_peer_key(old->routing, oldkey, sizeof oldkey);
        zhashx_delete(self->peers, oldkey);
    }
    zframe_t *routing = zframe_dup(m->routing);
    coord_agent_t *a = coord_sched_hello(self->sched, &h, &routing, sw_now_ms(),
                                         s_lease_ms(self));
    if (user && !a->key)
        a->key = xstrdup(user);
    const char *peer = zframe_meta(m->frame, "Peer-Address");
    free(a->address);
    a->address = xstrdup(peer ? peer : "");
    zhashx_update(self->peers, key, a);
    log_info("agent %s on %s (%s) %s: %d slots", a->id, a->host, a->address,
             old ? "reconnected" : "joined", a->slots);

    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    sw_mp_packer_init(&pk, &sb);
    msgpack_pack_map(&pk, 2);
    sw_mp_kv_int(&pk, "heartbeat_ms", self->conf.heartbeat_ms);
    sw_mp_kv_int(&pk, "liveness", self->conf.liveness);
    sw_msg_send(self->agents, a->routing, SW_WELCOME, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    sw_hello_release(&h);
}

/*  USAGE: what an attempt used so far, priced here when the runner gave
 *  no dollars (coord_budget.c counts it). A report of an attempt that is
 *  not the one running on this agent is refused. */
static void
s_on_usage(coord_server_t *self, coord_agent_t *a, sw_msg_t *m)
{
    sw_err_t err = { 0 };
    sw_usage_msg_t um;
    if (sw_usage_msg_unpack(m->body, &um, &err) < 0) {
        self->dropped++;
        log_warnx("dropped a malformed USAGE from %s: %s", a->id, err.msg);
        return;
    }
    const char *source;
    int64_t micro = coord_budget_price(&self->prices, &um.u, &source);
    if (coord_sched_usage(self->sched, a, um.ref.job, um.ref.id, um.ref.attempt, &um.u,
                          micro, um.final) < 0) {
        self->usage_stale++;
        log_info("ignored a stale USAGE for %s/%s attempt %lld from %s", um.ref.job, um.ref.id,
                 (long long) um.ref.attempt, a->id);
    }
    else
        log_debug("usage of %s/%s attempt %lld: %lld+%lld tokens, %s", um.ref.job, um.ref.id,
                  (long long) um.ref.attempt, (long long) um.u.input, (long long) um.u.output,
                  source ? source : "no price");
    sw_usage_msg_release(&um);
}

void
coord_server_agent_msg(coord_server_t *self, sw_msg_t *m)
{
    if (m->cmd == SW_HELLO) {
        s_on_hello(self, m);
        return;
    }
    char key[128];
    coord_server_peer_key(m->routing, key, sizeof key);
    coord_agent_t *a = zhashx_lookup(self->peers, key);
    if (!a) {
        /*  We do not know this connection (we restarted, or declared it
         *  dead): BYE tells the agent to say HELLO again. */
        log_debug("%s from an unknown connection: asking it to say HELLO",
                  sw_cmd_name(m->cmd));
        sw_msg_send_empty(self->agents, m->routing, SW_BYE);
        return;
    }
    if (a->key) {
        /*  Every message must come from the key the agent registered with. */
        const char *user = zframe_meta(m->frame, "User-Id");
        if (!user || strcmp(user, a->key) != 0) {
            self->dropped++;
            log_warnx("dropped %s for agent %s: not from its key", sw_cmd_name(m->cmd), a->id);
            return;
        }
    }
    coord_sched_seen(self->sched, a, sw_now_ms(), s_lease_ms(self));
    sw_err_t err = { 0 };
    sw_ref_t r;
    switch (m->cmd) {
    case SW_HEARTBEAT:
        break;
    case SW_ACCEPT:
        if (sw_ref_unpack(m->body, &r, false, &err) == 0) {
            log_debug("agent %s accepted %s/%s attempt %lld", a->id, r.job, r.id,
                      (long long) r.attempt);
            coord_task_t *t = coord_sched_task(self->sched, r.job, r.id);
            if (t && t->agent == a && t->spec.attempt == r.attempt)
                coord_events_started(self->events, t, sw_wall_ms());
            sw_ref_release(&r);
        }
        else {
            self->dropped++;
            log_warnx("dropped a malformed ACCEPT from %s: %s", a->id, err.msg);
        }
        break;
    case SW_DONE:
        if (sw_ref_unpack(m->body, &r, true, &err) < 0) {
            self->dropped++;
            log_warnx("dropped a malformed DONE from %s: %s", a->id, err.msg);
            break;
        }
        self->done_count++;
        /*  a rate-limited run is retried as such (issue 18 §4): its event says so */
        coord_events_done(self->events, r.job, r.id, r.attempt,
                          r.throttled ? "rate-limited by the provider" : r.status,
                          (int) r.exit_code);
        if (coord_sched_done(self->sched, a, &r, sw_now_ms(), sw_wall_ms()) < 0)
            log_info("ignored a stale DONE for %s/%s attempt %lld from %s", r.job, r.id,
                     (long long) r.attempt, a->id);
        sw_ref_release(&r);
        break;
    case SW_USAGE:
        s_on_usage(self, a, m);
        break;
    case SW_DRAIN:
        log_info("agent %s is draining: no new tasks for it", a->id);
        if (!a->draining)
            coord_events_agent(self->events, a, "agent_drained", NULL, sw_wall_ms());
        coord_sched_drain(self->sched, a);
        break;
    case SW_BYE: {
        /*  A draining agent that leaves with tasks stopped them: its
         *  --drain-timeout, or a second SIGTERM. Say so where they are. */
        char why[SW_MAX_ID + 96];
        if (a->draining && a->running)
            snprintf(why, sizeof why, "stopped by agent %s at the end of its drain "
                     "(--drain-timeout or a second SIGTERM)", a->id);
        else
            snprintf(why, sizeof why, "agent %s left", a->id);
        log_info("agent %s said BYE", a->id);
        coord_events_agent(self->events, a, "agent_left", why, sw_wall_ms());
        coord_sched_agent_lost(self->sched, a, why, sw_wall_ms());
        break;
    }
    default:
        self->dropped++;
        log_warnx("dropped %s from agent %s: not an agent command", sw_cmd_name(m->cmd), a->id);
    }
}

