/*  sw_proto -- the swarm wire protocol (docs/protocol.md).
 *
 *  Every message is three frames (after the ROUTER routing id, if any):
 *  "SWARM1", one command byte, one msgpack map with string keys. Decoding
 *  is strict: a wrong id, unknown command, bad document, missing or
 *  mistyped field is an error the caller logs, counts and drops. Nothing
 *  here asserts on wire data.
 */
#ifndef SW_PROTO_H
#define SW_PROTO_H

#include <czmq.h>

#include "sw_task.h"
#include "sw_usage.h"

#define SW_PROTO_ID       "SWARM1"
#define SW_MAX_FRAME      (8 << 20)     /*  ZMQ_MAXMSGSIZE on every socket */

typedef enum {
    /*  agent <-> coordinator */
    SW_HELLO = 0x01, SW_WELCOME = 0x02, SW_HEARTBEAT = 0x03, SW_TASK = 0x04,
    SW_ACCEPT = 0x05, SW_DONE = 0x06, SW_CANCEL = 0x07, SW_DRAIN = 0x08,
    SW_BYE = 0x09, SW_USAGE = 0x0A,
    /*  CLI <-> coordinator (control socket) */
    SW_C_SUBMIT = 0x20, SW_C_STATUS = 0x21, SW_C_AGENTS = 0x22,
    SW_C_CANCEL = 0x23, SW_C_WAIT = 0x24, SW_C_INIT = 0x25, SW_C_DRAIN = 0x26,
    SW_C_REVOKE = 0x27,
    SW_C_REPLY = 0x2F,
} sw_cmd_t;

const char *sw_cmd_name(int cmd);           /*  NULL for unknown commands */

typedef struct {
    char     *agent;
    char     *host;
    char     *version;
    int64_t   slots;
    sw_kv_t   labels;
    sw_strv_t runners;
    sw_strv_t running;          /*  "job\x1fid\x1fattempt" of tasks still running */
} sw_hello_t;

void sw_hello_release(sw_hello_t *h);
void sw_hello_pack(msgpack_packer *pk, const sw_hello_t *h);
int  sw_hello_unpack(const msgpack_object *map, sw_hello_t *h, sw_err_t *err);

/*  ACCEPT, DONE and CANCEL name one attempt of one task. */
typedef struct {
    char    *job;
    char    *id;
    int64_t  attempt;
    char    *status;            /*  DONE only: a final sw_tstate_t name */
    int64_t  exit_code;         /*  DONE only */
    bool     retryable;         /*  DONE only: worth another attempt (crash, timeout,
                                 *  spawn failure), not a clean non-zero exit */
} sw_ref_t;

void sw_ref_release(sw_ref_t *r);
void sw_ref_pack(msgpack_packer *pk, const sw_ref_t *r, bool done);
int  sw_ref_unpack(const msgpack_object *map, sw_ref_t *r, bool done, sw_err_t *err);

/*  USAGE (agent -> coordinator, protocol 1 since issue 18): what one
 *  attempt used so far, cumulative (a later report replaces an earlier
 *  one, so a report sent twice is counted once). Costs travel as integer
 *  micro-dollars (u.cost_usd < 0: the runner reported none). */
typedef struct {
    sw_ref_t   ref;             /*  job, id, attempt */
    sw_usage_t u;
    bool       final;           /*  the runner is done spending (its final report, or
                                 *  it exited): a budget stop leaves the run alone */
} sw_usage_msg_t;

void sw_usage_msg_release(sw_usage_msg_t *m);
void sw_usage_msg_pack(msgpack_packer *pk, const sw_usage_msg_t *m);
/*  -1 with err on a missing or mistyped field or absurd numbers (over
 *  SW_USAGE_MAX_TOKENS, cached over input, a cost over SW_USAGE_MAX_USD). */
int  sw_usage_msg_unpack(const msgpack_object *map, sw_usage_msg_t *m, sw_err_t *err);

/*  A received, validated message. body lives in up's zone, and its
 *  strings point into frame (msgpack-c does not copy them). */
typedef struct {
    zframe_t             *routing;  /*  ROUTER sockets only */
    zframe_t             *frame;    /*  the body: decoded strings point into it */
    int                   cmd;
    msgpack_unpacked      up;
    const msgpack_object *body;
} sw_msg_t;

/*  Takes ownership of *msgp. 0 and a filled m, or -1 with err (m is then
 *  released). */
int  sw_msg_decode(zmsg_t **msgp, bool router, sw_msg_t *m, sw_err_t *err);
/*  The same with other limits (NULL: sw_mp_default_limits); the CLI reads
 *  its coordinator's replies of big jobs with larger ones. */
int  sw_msg_decode_lim(zmsg_t **msgp, bool router, const sw_mp_limits_t *lim, sw_msg_t *m,
                       sw_err_t *err);
void sw_msg_release(sw_msg_t *m);
/*  Sends without blocking; routing may be NULL. 0 or -1 with errno. */
int  sw_msg_send(zsock_t *sock, zframe_t *routing, int cmd, const void *body, size_t len);
/*  Same, packing an empty map as the body. */
int  sw_msg_send_empty(zsock_t *sock, zframe_t *routing, int cmd);

/*  Socket options every swarm socket gets (frame cap, linger). */
void sw_sock_defaults(zsock_t *sock);

int sw_proto_test(bool verbose);

#endif
