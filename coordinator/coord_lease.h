/*  coord_lease -- one coordinator per Redis database.
 *
 *  Two coordinators on one database write over each other: the second
 *  loads the first one's jobs, finds their running tasks unclaimed (their
 *  agents talk to the first) and queues them again, so a task runs twice
 *  and each one's writes undo the other's. So a coordinator holds the
 *  database: the string swarm:coordinator (SW_KEY_COORDINATOR) holds
 *  "HOST PID STARTED_MS CONTROL" and expires ttl_ms after its last
 *  renewal (PX); it is renewed every second (a third of a shorter ttl),
 *  through a connection of its
 *  own (the store's pipeline is never interleaved with it).
 *
 *  - acquire: SET NX. Held by a process of this host that is gone (a
 *    coordinator SIGKILLed and restarted): taken over at once. Held by
 *    anyone else: waits one ttl for it to expire (a holder that crashed
 *    on another host), then refuses, naming the holder.
 *  - keep: renews (a compare-and-set script: renewed only if the value is
 *    ours; set again if the key is gone, as after a Redis restart or a
 *    FLUSHDB). Another holder's value means this coordinator did not
 *    renew for ttl_ms (stopped, cut off) and another took over: the
 *    caller must stop before it writes anything more. Renewed before the
 *    flush of a turn when the last renewal is older than a second, so a
 *    coordinator resumed from a stop checks before its first write.
 *  - release: deletes the key if it is still ours (a clean stop lets the
 *    next coordinator start at once).
 *  Redis unreachable or answering an error: keep reports "held" (nobody
 *  else can take over through a Redis we cannot reach; an error reply is
 *  about that command) and tries again at the next renewal. */
#ifndef COORD_LEASE_H
#define COORD_LEASE_H

#include "sw_redis.h"

#define COORD_LEASE_TTL_MS 10000

typedef struct coord_lease_t coord_lease_t;

/*  Holds the database at url for this coordinator (control: its control
 *  endpoint, said to whoever finds it held). NULL with err when another
 *  holds it (SW_EFAIL, message naming the holder and what to do) or Redis
 *  cannot be reached (SW_EUNREACH). Blocks up to ttl_ms + 1 s. */
coord_lease_t *coord_lease_acquire(const char *url, const char *control, int64_t ttl_ms,
                                   sw_err_t *err);
/*  Renews when the last renewal is older than a second (or a third of
 *  a shorter hold; now_ms
 *  monotonic). 0 while held (or when Redis erred), 1 with err
 *  (SW_EUNREACH) when Redis did not answer (the renewal cost this call a
 *  command timeout, up to 2 s: the caller should not pay another one in
 *  the same loop turn), -1 with err when another coordinator holds the
 *  database now. */
int coord_lease_keep(coord_lease_t *self, int64_t now_ms, sw_err_t *err);
/*  Gives the database up (if still ours) and frees. */
void coord_lease_release(coord_lease_t **self_p);

#endif
