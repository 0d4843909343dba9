/*  bench_ctl -- what the bench programs share: requests to the
 *  coordinator's control socket, as the swarm CLI makes them. */
#ifndef BENCH_CTL_H
#define BENCH_CTL_H

#include "sw_proto.h"

/*  A DEALER connected to the control endpoint. */
zsock_t *bench_ctl_connect(const char *endpoint);
/*  Sends the request and waits up to timeout_ms for an ok reply: 0 with
 *  reply filled (release it), or -1 after printing why on stderr. Replies
 *  are decoded with the CLI's limits (whole jobs fit). */
int bench_ctl_request(zsock_t *ctl, int cmd, const msgpack_sbuffer *sb, int timeout_ms,
                      sw_msg_t *reply);
/*  Appends to sb (initialised by the caller, who owns it) the body of a
 *  SUBMIT of exec tasks PREFIX<from>..PREFIX<from+n-1> running argv
 *  (NULL-terminated) to job; with txn not NULL, staged in that
 *  transaction, `more` false on its last batch. Each task takes the
 *  resource $SWARM_BENCH_RESOURCE when set. */
void bench_ctl_submit_pack(msgpack_sbuffer *sb, const char *job, const char *txn, bool more,
                           const char *prefix, int from, int n, char **argv);
/*  Submits exec tasks PREFIX<from>..PREFIX<from+n-1> running argv to job
 *  in one SUBMIT; 0 or -1. */
int bench_ctl_submit(zsock_t *ctl, const char *job, const char *prefix, int from, int n,
                     char **argv, int timeout_ms);
/*  One WAIT for the task id of job (NULL: the whole job), held up to
 *  max_ms by the coordinator; since >= 0 lists only tasks final after that
 *  cursor. 1 when done, 0 when not yet, -1 on error. */
int bench_ctl_wait(zsock_t *ctl, const char *job, const char *id, int64_t max_ms,
                   int64_t since, int timeout_ms);

/*  Submits the exec task PREFIX<from> running argv to job and, without
 *  waiting for the SUBMIT's reply, a WAIT for it held up to max_ms (one
 *  trip to the coordinator and one loop turn there, where a SUBMIT then a
 *  WAIT take two): 1 when the task is final, 0 when not yet (WAIT
 *  again), -1 on error or a refused SUBMIT. */
int bench_ctl_submit_wait(zsock_t *ctl, const char *job, const char *prefix, int from,
                          char **argv, int64_t max_ms, int timeout_ms);

/*  CPU time pid used so far (all its threads), in microseconds; -1
 *  unknown. On a shared machine the CPU per task compares runs where
 *  wall-clock rates do not. Read from each thread's schedstat (ns), not
 *  /proc/PID/stat's 10 ms ticks: a small timed part is ~50 ms. */
long long bench_cpu_us(int pid);
/*  CPU time of pid's children that it has reaped (cutime + cstime of
 *  /proc/PID/stat), in microseconds, at the clock tick's resolution
 *  (10 ms); -1 unknown. */
long long bench_children_cpu_us(int pid);

#endif
