/*  sw_aredis -- a Redis connection that never blocks its zloop.
 *
 *  hiredis' asynchronous context on our own loop, as its adapters do for
 *  libevent or ae (adapters/libevent.h): one zloop poller on the socket,
 *  read interest always, write interest while hiredis has bytes to send
 *  (a call's are written as it is queued, so it needs none unless the
 *  socket did not take them).
 *  Made for writes whose loss is acceptable and whose delay is not (the
 *  agent's live output): a command is queued only while the connection is
 *  up and less than max_pending bytes wait for their replies; otherwise
 *  send refuses it at once and the caller counts it as lost. Nothing is
 *  kept for later, so an outage costs no memory.
 *
 *  Connecting is non-blocking too (the name lookup aside), with a 2 s
 *  limit; then AUTH, SELECT and a check that the data is in this key
 *  layout (sw_keys) go first, and the connection is ready when they
 *  answered. A server that stops answering (SIGSTOP, a full disk) for
 *  5 s while replies are due is dropped. Whatever went wrong, the next
 *  try comes after 0.25, 0.5, 1, 2, 4, 8 s (a try costs the loop nothing:
 *  what is lost meanwhile is live output), and the outage is logged once,
 *  with its end.
 */
#ifndef SW_AREDIS_H
#define SW_AREDIS_H

#include <czmq.h>

#include <hiredis/hiredis.h>

#include "sw_util.h"

typedef struct sw_aredis_t sw_aredis_t;

/*  name is for messages ("live output"); url as sw_redis. NULL with err
 *  for a URL that does not parse. The first connection is tried at once. */
sw_aredis_t *sw_aredis_new(zloop_t *loop, const char *name, const char *url,
                           size_t max_pending, sw_err_t *err);
/*  Drops the connection at once (replies still due are not waited for). */
void sw_aredis_destroy(sw_aredis_t **self_p);

/*  Whether commands are taken now; false for NULL (an agent with its live
 *  output off has no connection). */
bool sw_aredis_ready(const sw_aredis_t *self);

/*  Whether commands of about bytes in all would be taken now (so that
 *  commands that belong together go all or none). */
bool sw_aredis_room(const sw_aredis_t *self, size_t bytes);

/*  Queues one command (binary-safe argv); its reply is counted, an error
 *  reply logged (once a minute). -1 when not ready or too much is pending:
 *  nothing was queued. */
int sw_aredis_send(sw_aredis_t *self, int argc, const char **argv, const size_t *lens);

/*  As send, with fn(arg, reply) called when the reply comes (reply NULL
 *  when the connection was dropped first: Redis away, stalled); not
 *  called when the connection is destroyed. fn may not call into this
 *  connection. -1 when not taken: fn will not be called. Someone waits
 *  for a call's reply (the agent's DONE waits for its result's), so it is
 *  written at once, with every command queued before it; a send's
 *  command leaves at the loop's next pass, with what follows it in this
 *  one (issue 20). */
typedef void (sw_aredis_reply_fn)(void *arg, redisReply *reply);
int sw_aredis_call(sw_aredis_t *self, int argc, const char **argv, const size_t *lens,
                   sw_aredis_reply_fn *fn, void *arg);

/*  As call, with the command already in RESP (cmd, len bytes: what
 *  redisFormatCommandArgv makes): hiredis appends it to its output buffer,
 *  its only copy (issue 20: a large command formatted once, by the
 *  caller). cmd is the caller's and may be freed on return. */
int sw_aredis_call_formatted(sw_aredis_t *self, const char *cmd, size_t len,
                             sw_aredis_reply_fn *fn, void *arg);

/*  As send, with the command already in RESP (cmd, len bytes: what
 *  redisFormatCommandArgv makes): hiredis appends it to its output
 *  buffer, its only copy (issue 20: the live output's XADD is written
 *  around its lines, agent_live_frame). cmd is the caller's. */
int sw_aredis_send_formatted(sw_aredis_t *self, const char *cmd, size_t len);

/*  The periodic work (connect limits, stalls, retries); call it every
 *  100 ms or so. */
void sw_aredis_tick(sw_aredis_t *self, int64_t now_ms);

/*  Commands sent, answered with an error, and refused by send. */
void sw_aredis_counts(const sw_aredis_t *self, uint64_t *sent, uint64_t *errors,
                      uint64_t *refused);

#endif
