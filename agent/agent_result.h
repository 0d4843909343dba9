/*  agent_result -- what a finished run reports, and where it is kept.
 *
 *  The runners' own reports are parsed here: claude's --output-format json
 *  document (result, is_error, cost, tokens) and codex's --json event
 *  stream (the token usage of its turn.completed events).
 *
 *  The result is one JSON document (DESIGN.md section 4) written by a Lua
 *  script that first checks the task's current attempt in Redis: a result
 *  from an attempt the coordinator has moved past is refused atomically.
 *  In memory (namespace of the task, key result-<id>) a value the worker
 *  stored itself during the attempt is kept; the JSON goes beside it.
 */
#ifndef AGENT_RESULT_H
#define AGENT_RESULT_H

#include <jansson.h>

#include "agent_live.h"
#include "sw_aredis.h"
#include "sw_redis.h"
#include "sw_task.h"

typedef struct {
    const sw_task_t *task;
    const char      *agent;
    const char      *host;
    const char      *status;        /*  sw_tstate_t name */
    int              exit_code;     /*  -1 when it never ran */
    int              signal;
    int64_t          started_wall_ms;
    int64_t          duration_ms;
    const char      *output;
    size_t           output_len;
    bool             output_truncated;
    bool             output_apart;  /*  no output field: agent_result_frame adds it */
    const char      *stderr_tail;
    size_t           stderr_len;
    const char      *error;         /*  why it failed without running, or NULL */
    json_t          *usage;         /*  tokens and cost, or NULL (borrowed) */
} agent_result_t;

/*  claude --output-format json on stdout: its result text goes to text,
 *  its cost and token usage to *usage (new reference), *is_error from the
 *  document. -1 when out is not such a document. */
int agent_claude_parse(const char *out, size_t n, sw_buf_t *text, json_t **usage,
                       bool *is_error);
/*  codex exec --json on stdout: the token usage of its turn.completed
 *  events, summed (new reference), with the number of turns. -1 when
 *  there is none. Lines that are not JSON are skipped. */
int agent_codex_usage(const char *out, size_t n, json_t **usage);

/*  codex exec --json on stdout: the text of the last agent_message item
 *  (codex's final answer) into text; -1 when there is none. */
int agent_codex_message(const char *out, size_t n, sw_buf_t *text);

/*  What a runner answered, from what the run left:
 *    codex   the -o file (LASTMSG, when not empty), else the last
 *            agent_message of its --json stream; the usage from the stream;
 *    claude  its result document's result, usage and is_error;
 *    exec    its stdout (OUT).
 *  Never codex's event stream or claude's raw stdout as the answer: when
 *  codex or claude gave none, error says so ("codex exited 0 but gave no
 *  final message"), and a run that exited 0 is failed for it. error is
 *  also set for claude's is_error. */
typedef struct {
    sw_buf_t    output;         /*  the answer, unless it is exec's OUT itself */
    const char *text;           /*  the answer: output's data, or exec's OUT (borrowed:
                                    issue 20, no copy of it here) */
    size_t      text_len;
    bool        truncated;
    json_t     *usage;          /*  owned, or NULL */
    const char *error;          /*  static text, or NULL */
} agent_answer_t;

void agent_answer_collect(const char *runner, const char *out, size_t out_len,
                          bool out_truncated, const char *lastmsg, size_t lastmsg_len,
                          bool lastmsg_truncated, agent_answer_t *a);
void agent_answer_release(agent_answer_t *a);

/*  The result document (new reference): id, job, type, runner, status,
 *  exit_code, signal, attempt, agent, host, started_at, duration_ms,
 *  output, output_truncated, stderr_tail, error, usage. The run adds
 *  hooks (agent_hook_doc per hook that ran) before it is stored. Bytes
 *  that are not UTF-8 become U+FFFD. */
json_t *agent_result_doc(const agent_result_t *r);
/*  The same, as compact JSON text; caller frees. */
char *agent_result_json(const agent_result_t *r);
/*  A result document as compact JSON text (caller frees), as json_dumps
 *  writes it except that output comes last: its string (the large one:
 *  up to --max-output) is escaped here in runs, not by jansson's dump,
 *  which walks it code point by code point (issue 20). doc is left as it
 *  was, with output moved last. */
char *agent_result_dumps(json_t *doc);

/*  1 stored, 0 refused (a newer attempt owns the task), -1 Redis error.
 *  end (may be NULL, or have no key): the attempt's live output end
 *  entry, written in the same script call (written even when the result
 *  is refused: the stream is this attempt's). */
int agent_result_store(sw_redis_t *redis, const sw_task_t *t, const char *json,
                       const agent_log_end_t *end, sw_err_t *err);
/*  The same call as one Redis command in RESP, byte for byte what
 *  redisFormatCommandArgv makes of EVALSHA, the script's SHA-1, 5, and
 *  agent_result_store's keys and arguments, the document last: doc
 *  (which has no output field; left as it is) dumped as
 *  agent_result_dumps would with an output field of OUT (n bytes, any
 *  bytes: not UTF-8 and NUL become U+FFFD) last. Issue 20: OUT is
 *  escaped straight into the frame, its one copy before hiredis's output
 *  buffer (a sanitizing copy first only when it is not clean UTF-8).
 *  now_wall_ms: the memory entry's time. frame is reset and filled; the
 *  document starts at *json_off and ends 2 bytes before the frame's end
 *  (its CRLF). */
void agent_result_frame(json_t *doc, const char *out, size_t n, const sw_task_t *t,
                        const agent_log_end_t *end, int64_t now_wall_ms, sw_buf_t *frame,
                        size_t *json_off);
/*  Sends a frame of agent_result_frame on the asynchronous connection
 *  (issue 20: the loop does not wait for Redis): EVALSHA only, so the
 *  script must be known to the server (SCRIPT LOAD goes first on this
 *  connection once; a NOSCRIPT error reply is a failure: the caller
 *  stores through agent_result_store, which loads it). 0 sent, fn(arg,
 *  reply) follows; -1 not taken (connection down or full), fn is not
 *  called. frame is the caller's (hiredis has its copy on return). */
int agent_result_send(sw_aredis_t *aredis, const char *frame, size_t len, sw_aredis_reply_fn *fn,
                      void *arg);
/*  A reply of the script: 1 stored, 0 refused, -1 none or an error. */
int agent_result_reply(const redisReply *r);

int agent_result_test(bool verbose);

#endif
