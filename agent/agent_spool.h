/*  agent_spool -- finished results kept on local disk until Redis has them.
 *
 *  When a result cannot be written to Redis (it is down, restarting, or
 *  stopped past the command timeout), the agent writes it here before it
 *  does anything else, and removes the file once Redis took it (or refused
 *  it as stale). A restarted agent loads the spool and goes on delivering:
 *  no finished work is lost with the agent's memory. One file per attempt,
 *  named by the SHA-1 of job, task and attempt, written to a temp file,
 *  fsync'd and renamed, so a crash leaves the old file or the new, never
 *  half of one.
 */
#ifndef AGENT_SPOOL_H
#define AGENT_SPOOL_H

#include <stdbool.h>
#include <stdint.h>

#include "sw_util.h"

typedef struct {
    char    *job, *id, *ns;
    int64_t  attempt;
    char    *status;            /*  succeeded, failed, ... */
    int      exit_code;
    bool     retryable;
    char    *result;            /*  the result document (JSON) */
} agent_spooled_t;

/*  Creates DIR (mode 0700) if need be. */
int agent_spool_open(const char *dir, sw_err_t *err);
int agent_spool_put(const char *dir, const agent_spooled_t *s, sw_err_t *err);
void agent_spool_remove(const char *dir, const char *job, const char *id, int64_t attempt);
/*  Calls fn for every spooled result (fn takes ownership of s's strings
 *  by zeroing them; what it leaves is freed). Unreadable files are renamed
 *  to *.bad and reported, not deleted. Returns how many were loaded. */
int agent_spool_load(const char *dir, void (*fn)(void *arg, agent_spooled_t *s), void *arg);
void agent_spooled_release(agent_spooled_t *s);

int agent_spool_test(bool verbose);

#endif
