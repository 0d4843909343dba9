/*  sw_results -- a job's tasks and their results as Redis holds them
 *  (docs/redis.md), and the result document of `swarm results --json`.
 *
 *  The CLI (`swarm results`, `swarm logs`) and the coordinator's dashboard
 *  (/api/results, a task's output) read through these functions, so both
 *  show the same documents from the same keys.
 */
#ifndef SW_RESULTS_H
#define SW_RESULTS_H

#include <jansson.h>

#include "sw_mpack.h"
#include "sw_redis.h"
#include "sw_usage.h"

/*  One task's hash. Owned strings (NULL when the field is absent). */
typedef struct {
    char   *id;
    char   *status;
    long    attempt;
    long    throttled;          /*  rate-limited runs, which used no attempt (issue 18 §4) */
    char   *agent;
    char   *host;
    char   *reason;
    char   *runner;
    int64_t started, finished;  /*  wall clock ms, 0 when not yet */
    json_t *result;             /*  the agent's result document, or NULL */
    /*  what its attempts used (the usage:N fields, issue 18), summed */
    sw_usage_t spend;           /*  cost_usd: of the priced attempts; model: the last named */
    int64_t spend_micro;        /*  cost in micro-dollars of the priced attempts */
    int     spend_attempts;     /*  attempts that reported usage */
    bool    spend_unpriced;     /*  an attempt had tokens and no cost */
} sw_result_row_t;

/*  The `spend` object of a row (NULL when no attempt reported usage):
 *  {tokens, input_tokens, cached_input_tokens, output_tokens, cost_usd (null
 *  when no attempt was priced), model, attempts, unpriced (true: some
 *  tokens have no price: the cost leaves them out)}. New reference. */
json_t *sw_result_spend_json(const sw_result_row_t *row);

/*  Fills row from the reply of HGETALL on a task's hash (id untouched). */
void sw_result_row_fill(sw_result_row_t *row, const redisReply *hgetall);
void sw_result_row_release(sw_result_row_t *row);

/*  The ids of job's tasks in submit order. SW_ENOTFOUND when Redis has no
 *  such job, SW_EUNREACH when Redis fails; the message says which. */
int sw_results_ids(sw_redis_t *r, const char *job, sw_strv_t *ids, sw_err_t *err);
/*  rows[i] for ids[i], i < n, in one pipeline; rows zeroed by the caller,
 *  their ids are set here. */
int sw_results_rows(sw_redis_t *r, const char *job, char *const *ids, size_t n,
                    sw_result_row_t *rows, sw_err_t *err);
/*  One task (SW_ENOTFOUND when the job has no such task). */
int sw_results_row(sw_redis_t *r, const char *job, const char *id, sw_result_row_t *row,
                   sw_err_t *err);

/*  An element of `swarm results --json`: the agent's result document, with
 *  the coordinator's word on id, job, status, attempt and reason (a task
 *  without a result gets agent and output null). New reference. */
json_t *sw_result_doc(const sw_result_row_t *row, const char *job);

#endif
