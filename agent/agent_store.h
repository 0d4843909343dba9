/*  agent_store -- the agent's way to Redis: results, and the lookups a
 *  prompt template makes.
 *
 *  One connection, opened on demand. When Redis fails (down, restarting,
 *  stopped past the command timeout) the store backs off 1, 2, 4, 8, 8 ...
 *  s before it tries again: a stopped server costs the loop a command
 *  timeout per try, so tries are spaced out. A result Redis cannot take
 *  goes to the spool (agent_spool) first and is stored when Redis answers;
 *  DONE goes out only once the result is safe in Redis.
 */
#ifndef AGENT_STORE_H
#define AGENT_STORE_H

#include "agent_live.h"
#include "agent_spool.h"
#include "sw_redis.h"
#include "sw_task.h"

typedef struct agent_store_t agent_store_t;

/*  redis_url and spool are borrowed and must outlive the store. */
agent_store_t *agent_store_new(const char *redis_url, agent_spool_t *spool);
void agent_store_destroy(agent_store_t **self_p);

/*  The connection, or NULL while Redis is unreachable (the reason is
 *  logged once per outage). */
sw_redis_t *agent_store_redis(agent_store_t *self);

/*  Expands the prompt templates of T's prompt ({{memory:NS/KEY}},
 *  {{result:ID}} of T's job) into out; -1 with a reason: SW_ENOTFOUND when
 *  a reference names nothing, SW_EUNREACH when Redis cannot be asked. */
int agent_store_expand(agent_store_t *self, const sw_task_t *t, sw_buf_t *out, sw_err_t *err);

/*  Stores the finished run's result S (its task's job, id, namespace and
 *  attempt, status and JSON). 1 stored, 0 refused because a newer attempt
 *  owns the task (the caller says DONE either way), -1 Redis could not
 *  take it: the result is then in the spool (*spooled set, once) and the
 *  caller tries again later. end (may be NULL): the attempt's live output
 *  end entry, written with the result (agent_result_store). */
/*  Redis's default proto-max-bulk-len (512 MB): a document over it is
 *  not sent (Redis closes the connection while it arrives). */
#define AGENT_STORE_BULK_MAX  (512u << 20)
/*  JSON (len bytes: a result document, its output the last field) without
 *  its output: output "", output_truncated true, an error naming Redis's
 *  limit (after an error it had). What is stored when Redis refuses the
 *  whole as too long ("invalid bulk length"): final, unlike an outage.
 *  Heap text, or NULL when JSON is not such a document. */
char *agent_store_shrink(const char *json, size_t len);
int agent_store_result(agent_store_t *self, const agent_spooled_t *s,
                       const agent_log_end_t *end, bool *spooled);

/*  Calls fn for every result an earlier run of this agent left in the
 *  spool; returns how many. */
int agent_store_unspool(agent_store_t *self, void (*fn)(void *arg, agent_spooled_t *s),
                        void *arg);

int agent_store_test(bool verbose);

#endif
