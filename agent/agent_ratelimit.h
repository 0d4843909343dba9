/*  agent_ratelimit -- did the provider rate-limit this run? (issue 18 §4)
 *
 *  A codex or claude run that ended because the model's provider answered
 *  HTTP 429 is not a failure of the task: the coordinator queues it again
 *  after a backoff without using one of its attempts, and lowers the
 *  runner's limit. The CLIs retry a 429 themselves a few times; what
 *  reaches us is the run they gave up on. Pure: no I/O. */
#ifndef AGENT_RATELIMIT_H
#define AGENT_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>

/*  Whether a finished run of runner ("codex", "claude"; anything else:
 *  false) that did not succeed ended on a rate-limit, from its stdout (out,
 *  out_len: codex's --json events, claude's JSON result document) and its
 *  stderr tail (err, err_len). Only the CLI's own error reports count: an
 *  error event or turn.failed of codex, claude's result with is_error (its
 *  api_error_status 429, or "API Error: 429" / rate_limit_error in it), and
 *  the stderr tail; the model's answer text never does, so a task that
 *  writes about HTTP 429 is not mistaken for one that got it. Neither
 *  buffer need be NUL-terminated; either may be NULL. */
bool agent_rate_limited(const char *runner, const char *out, size_t out_len, const char *err,
                        size_t err_len);

int agent_ratelimit_test(bool verbose);

#endif
