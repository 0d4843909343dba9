/*  sw_live -- reading a task attempt's live output stream.
 *
 *  The agent writes each attempt's stream (sw_key_task_log; agent_live.h
 *  has the fields); `swarm logs`, `swarm wait` and the dashboard read it
 *  here, on an ordinary (blocking) connection: XRANGE from a cursor (an entry
 *  id, exclusive), XREVRANGE for the last lines, XREAD BLOCK to follow.
 */
#ifndef SW_LIVE_H
#define SW_LIVE_H

#include "sw_redis.h"

typedef enum { SW_LIVE_OUT, SW_LIVE_ERR, SW_LIVE_END, SW_LIVE_OTHER } sw_live_kind_t;

typedef struct {
    char     id[48];            /*  the stream entry's id, "MS-SEQ" */
    int64_t  t;                 /*  wall ms of its first line (the agent's clock) */
    int      kind;              /*  sw_live_kind_t */
    char    *data;              /*  lines joined by '\n' (owned, NUL-terminated) */
    size_t   len;
    uint64_t lines;             /*  in data */
    uint64_t dropped, dropped_bytes;    /*  lost before these lines */
    char     status[32];        /*  SW_LIVE_END: the agent's status */
    int      code;              /*  SW_LIVE_END: exit code, -1 when it never ran */
} sw_live_entry_t;

typedef struct {
    sw_live_entry_t *v;
    size_t           n;
} sw_live_batch_t;

void sw_live_batch_release(sw_live_batch_t *b);

/*  Appends the entries of an XRANGE / XREVRANGE reply (an array of [id,
 *  [field, value, ...]]) to b, in the reply's order; entries it cannot
 *  read are skipped. */
void sw_live_parse(const redisReply *entries, sw_live_batch_t *b);

/*  Calls fn for each line of e (none for a drop report or an end). */
void sw_live_lines(const sw_live_entry_t *e, void (*fn)(void *arg, const char *line, size_t n),
                   void *arg);

/*  Entries of key after the entry id `after` (NULL or "" or "0": from the
 *  start), at most count, oldest first. A missing key is no entry. */
int sw_live_range(sw_redis_t *r, const char *key, const char *after, size_t count,
                  sw_live_batch_t *b, sw_err_t *err);

/*  The newest entries that hold at least `lines` lines (or all there
 *  are), oldest first; with lines 0, only the newest entry (its id is
 *  where to follow from). */
int sw_live_tail(sw_redis_t *r, const char *key, uint64_t lines, sw_live_batch_t *b,
                 sw_err_t *err);

/*  XREAD COUNT count BLOCK block_ms over nkeys streams, each after its
 *  cursor: out[i] gets the entries of keys[i] (out zeroed by the caller).
 *  0 also when the block time passed with nothing. */
int sw_live_read(sw_redis_t *r, int nkeys, const char *const *keys, const char *const *after,
                 size_t count, int block_ms, sw_live_batch_t *out, sw_err_t *err);

/*  Deletes the live output streams of every attempt of every task of job,
 *  and the job's event log: what `swarm purge --job J` removes besides
 *  the job's stored changes (the streams also expire by themselves, the
 *  agent's --log-ttl; the event log stays as long as the job's hashes).
 *  Pages of 500 tasks, two round trips each; *deleted counts the keys
 *  removed. */
int sw_live_purge_job(sw_redis_t *r, const char *job, long *deleted, sw_err_t *err);

int sw_live_test(bool verbose);

#endif
