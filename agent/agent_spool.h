/*  agent_spool -- finished results kept on local disk until Redis has them.
 *
 *  When a result cannot be written to Redis (it is down, restarting, or
 *  stopped past the command timeout), the agent writes it here before it
 *  does anything else, and removes the file once Redis took it (or refused
 *  it as stale). A restarted agent loads the spool and goes on delivering:
 *  no finished work is lost with the agent's memory.
 *
 *  One file per attempt, named by the SHA-256 of job, task and attempt,
 *  written to a temp file (O_EXCL|O_NOFOLLOW), fsync'd and renamed, so a
 *  crash leaves the old file or the new, never half of one. Each record
 *  carries an HMAC-SHA256 under the state directory's key over all its
 *  fields. At load, a record is delivered only if its MAC is right and
 *  its file name is the one its own job, task and attempt give; anything
 *  else (forged, altered, copied under another name, unreadable, not a
 *  regular file) is renamed to NAME.bad with a log line and never
 *  delivered.
 */
#ifndef AGENT_SPOOL_H
#define AGENT_SPOOL_H

#include <stdbool.h>
#include <stdint.h>

#include "agent_state.h"
#include "sw_util.h"

typedef struct {
    char    *job, *id, *ns;
    int64_t  attempt;
    char    *status;            /*  succeeded, failed, ... */
    int      exit_code;
    bool     retryable;
    char    *result;            /*  the result document (JSON) */
} agent_spooled_t;

typedef struct agent_spool_t agent_spool_t;

/*  The spool in DIR (absolute; created mode 0700 if need be, and checked
 *  like the state directory), its records authenticated with STATE's key.
 *  state is borrowed. NULL with err. */
agent_spool_t *agent_spool_new(const char *dir, const agent_state_t *state, sw_err_t *err);
void agent_spool_destroy(agent_spool_t **self_p);
const char *agent_spool_dir(const agent_spool_t *self);

/*  0, or -1 with err. A spool directory that disappeared is made again
 *  (with a log line). */
int agent_spool_put(agent_spool_t *self, const agent_spooled_t *s, sw_err_t *err);
void agent_spool_remove(agent_spool_t *self, const char *job, const char *id, int64_t attempt);
/*  Calls fn for every authentic spooled result (fn takes ownership of s's
 *  strings by zeroing them; what it leaves is freed); the rest is set
 *  aside as the header says. Returns how many were delivered to fn. */
int agent_spool_load(agent_spool_t *self, void (*fn)(void *arg, agent_spooled_t *s), void *arg);
void agent_spooled_release(agent_spooled_t *s);

int agent_spool_test(bool verbose);

#endif
