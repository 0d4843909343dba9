/*  agent_link -- the agent's connection to the coordinator.
 *
 *  A DEALER that says HELLO, waits for WELCOME, then heartbeats both ways.
 *  When the coordinator is silent for liveness heartbeats (or before the
 *  first WELCOME arrives), the socket is thrown away and a new one connects
 *  after a backoff of 1, 2, 4 ... 32 s with +-25% jitter (zguide's
 *  Paranoid Pirate, without its blocking sleep: the delay is a timer). A
 *  BYE from the coordinator means "say HELLO again".
 */
#ifndef AGENT_LINK_H
#define AGENT_LINK_H

#include <czmq.h>

#include "sw_proto.h"

typedef struct agent_link_t agent_link_t;

typedef struct {
    /*  fills the HELLO (the link releases it after sending) */
    void (*hello)(void *ctx, sw_hello_t *h);
    /*  TASK, CANCEL, DRAIN: anything but WELCOME, HEARTBEAT and BYE */
    void (*message)(void *ctx, sw_msg_t *m);
} agent_link_ops_t;

/*  With curve_secret (our .cert_secret) and server_cert (the coordinator's
 *  .cert) the link is CURVE-encrypted and authenticated; never plaintext
 *  then, even if the files go bad. */
agent_link_t *agent_link_new(zloop_t *loop, const char *endpoint, const char *curve_secret,
                             const char *server_cert, const agent_link_ops_t *ops, void *ctx);
void agent_link_destroy(agent_link_t **self_p);
/*  0, or -1 when the message could not be queued (it is then lost: the
 *  coordinator's lease covers it). */
int  agent_link_send(agent_link_t *self, int cmd, const void *body, size_t len);
bool agent_link_welcomed(const agent_link_t *self);
/*  Says BYE (best effort) before the agent exits. */
void agent_link_bye(agent_link_t *self);

#endif
