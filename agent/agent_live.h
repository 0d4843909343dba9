/*  agent_live -- the runs' live output, shipped to Redis as it comes.
 *
 *  Every task attempt has a stream (sw_key_task_log: under the job's hash
 *  tag, `log`, the task id and the attempt) that `swarm logs -f` and the
 *  dashboard read from any host. Its entries are small batches of lines
 *  (agent_output cuts them), their fields in this order (d last: the
 *  command is written around the lines, agent_live_frame below):
 *
 *    t     wall-clock ms of the batch's first line (this host's clock)
 *    s     out | err | end
 *    n     lines in d
 *    drop  lines lost before these (flood budget, Redis away); dropb bytes
 *    d     the lines, joined by '\n'
 *  and one last entry `s end` with `status` (as the agent saw it:
 *  succeeded, failed, timed_out, cancelled), `code` (exit code, -1 when
 *  it never ran) and `d` (why it could not run, or empty).
 *
 *  Each entry is one XADD with MAXLEN ~ AGENT_LIVE_MAXLEN and an EXPIRE of
 *  ttl_s, pipelined on a connection that never blocks the loop
 *  (sw_aredis): a batch is shipped when it is due, never waited for. When
 *  Redis is away or AGENT_LIVE_PENDING bytes already wait for replies,
 *  the batch is lost and counted, and the next entry says so. The child
 *  is never slowed and the agent's memory never grows with the output:
 *  the run's result (head + tail capture) does not depend on any of this.
 */
#ifndef AGENT_LIVE_H
#define AGENT_LIVE_H

#include <czmq.h>

#include "agent_output.h"
#include "sw_aredis.h"

#define AGENT_LIVE_MAXLEN   2048            /*  entries kept per attempt (~) */
#define AGENT_LIVE_PENDING  (8u << 20)      /*  bytes in flight to Redis, all runs */
#define AGENT_LIVE_TTL_S    (7 * 86400)     /*  default: a stream expires a week
                                               after its last entry */

typedef struct agent_live_t agent_live_t;

/*  The shipper of every run (one connection). NULL with err for a bad URL. */
agent_live_t *agent_live_new(zloop_t *loop, const char *redis_url, long long ttl_s,
                             sw_err_t *err);
void agent_live_destroy(agent_live_t **self_p);
/*  Every 100 ms: the connection's periodic work (self may be NULL). */
void agent_live_tick(agent_live_t *self, int64_t now_ms);
/*  The live output's connection (NULL when self is NULL): the store
 *  sends results on it too (agent_result_send). */
sw_aredis_t *agent_live_redis(agent_live_t *self);
/*  Lines shipped, lines lost (budget, outage) so far, by every run. */
void agent_live_counts(const agent_live_t *self, uint64_t *lines, uint64_t *dropped);

/*  One attempt's stream. json_events: its stdout is codex's or claude's
 *  event stream (long events are shortened, not cut). NULL when live is
 *  NULL (live output off); every function below takes a NULL log. */
typedef struct agent_log_t agent_log_t;

agent_log_t *agent_log_new(agent_live_t *live, const char *job, const char *id,
                           int64_t attempt, bool json_events);
/*  What the child wrote on stream (AGENT_OUT, AGENT_ERR). */
void agent_log_feed(agent_log_t *self, int stream, const char *data, size_t n);
/*  Ships what is due now. */
void agent_log_flush(agent_log_t *self);
/*  The run is over: ships everything left and the end entry, then frees
 *  the log. status, code and error as the agent saw them (error may be
 *  NULL). */
void agent_log_end(agent_log_t **self_p, const char *status, int code, const char *error);
/*  Frees the log without an end entry (the agent is leaving). */
void agent_log_destroy(agent_log_t **self_p);

/*  The end entry of a log that shipped no entry before it (a run with no
 *  output: most build steps), for the result's script to write with the
 *  result in the same round trip (agent_result_store; issue 20): one
 *  call per task instead of three. key NULL: no end to write (live
 *  output off, or the log's end went its own way). Strings owned. */
typedef struct {
    char *key;                  /*  the attempt's stream */
    char  ttl[24];              /*  seconds */
    char  t[24];                /*  wall ms */
    char  code[24];
    char *status;
    char *error;                /*  "" when none */
    bool  after_entries;        /*  entries of the stream went on the live
                                   connection: the end may only follow them
                                   there (or once they were answered) */
} agent_log_end_t;

/*  agent_log_end and agent_log_finish write no end at all for a run that
 *  succeeded without writing a byte and without an error (no entry, no
 *  drop): such an attempt has no stream (issue 20; docs/redis.md).
 *  As agent_log_end, except that the end is not shipped but described in
 *  *end (zeroed first) for the caller to write with the result: always
 *  when the log shipped no entry, and also when it did if in_order (the
 *  result goes on the live connection too: after_entries is then set,
 *  and a caller that stores by another way first ships the end with
 *  agent_log_end_ship). */
void agent_log_finish(agent_log_t **self_p, const char *status, int code, const char *error,
                      bool in_order, agent_log_end_t *end);
/*  Ships end on the live connection (as agent_log_end would have) and
 *  releases it. */
void agent_log_end_ship(agent_live_t *live, agent_log_end_t *end);
void agent_log_end_release(agent_log_end_t *end);

/*  --- the entry's command, formatted where its lines are (issue 20) ---------------

    An entry with lines (e->data not NULL) is shipped as one XADD written
    around its lines in their buffer: the command's head (XADD KEY MAXLEN
    ~ AGENT_LIVE_MAXLEN * t T s S n N [drop D dropb B] d $LEN) in the room
    before them, CRLF in the two bytes after; hiredis appends that frame
    to its output buffer. The lines are thus copied twice between the
    capture and Redis: into the stream's buffer (agent_output), and into
    hiredis's. `d` is the last field so that the frame ends with the lines.
    The room is AGENT_LIVE_ROOM of the key's length. */
#define AGENT_LIVE_ROOM(key_len)  (320 + (key_len))

/*  The XADD of e for key as argv (what sw_aredis_send would take): argv
 *  and lens hold 20, nums is scratch for the numbers. Returns argc. The
 *  last argument is e's lines. */
int agent_live_argv(const char *key, const agent_entry_t *e, const char **argv, size_t *lens,
                    char nums[5][24]);
/*  Writes the frame of that XADD around e->data (e has lines, room bytes
 *  before them): *frame its start, the length returned (0 when the head
 *  would not fit the room: nothing written). The two bytes after the
 *  lines are saved in saved; agent_live_unframe puts them back (before
 *  the next call on the entry's output). head is scratch. */
size_t agent_live_frame(const char *key, agent_entry_t *e, size_t room, sw_buf_t *head,
                        char **frame, char saved[2]);
void agent_live_unframe(agent_entry_t *e, const char saved[2]);

int agent_live_test(bool verbose);

#endif
