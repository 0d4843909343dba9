/*  sw_keys -- every Redis key swarm uses, built in one place.
 *
 *  Ids may contain ':' (and memory keys almost anything), so keys made by
 *  concatenation collide: in layout 1 job "x:tasks" and the task list of
 *  job "x" were the same key. Here every user-given part is escaped
 *  ('%', ':', '{', '}' and control bytes become %XX) and sits at a fixed
 *  place: the scope (a job or a namespace) between braces right after a
 *  fixed kind word, an item (task id, memory key) last, after a fixed
 *  sub-kind word. A key therefore parses back into exactly one
 *  (kind, scope, sub-kind, item) tuple, and distinct tuples never meet.
 *  The unit test checks this on the pairs that collided in layout 1.
 *
 *  The braces are Redis Cluster hash tags: every key of one job (its
 *  hash, task list, task hashes, and later its streams) hashes to one
 *  slot, and so does every key of one memory namespace, so the scripts
 *  that touch a job or a namespace are Cluster-safe. docs/redis.md has
 *  the whole layout, and names the one script that spans two slots.
 *
 *  Layout 2 (this one):
 *    swarm:layout                   string  "2"
 *    swarm:jobs                     zset    job id -> created (ms)
 *    swarm:current_job              string
 *    swarm:revoked_keys             set
 *    swarm:namespaces               set     namespace names
 *    swarm:coordinator              string  the coordinator holding the database (PX)
 *    swarm:job:{JOB}                hash    the job
 *    swarm:job:{JOB}:tasks          list    task ids in submit order
 *    swarm:job:{JOB}:task:ID        hash    a task and its result
 *    swarm:job:{JOB}:log:ID:N       stream  live output of attempt N of task ID
 *    swarm:job:{JOB}:events         stream  the job's history (events)
 *    swarm:ns:{NS}                  zset    memory index: key -> updated
 *    swarm:ns:{NS}:ttl              zset    key -> expiry (ms), entries with a TTL
 *    swarm:ns:{NS}:entry:KEY        hash    a memory entry
 *    swarm:cas:{DIGEST}             string  content-addressed chunk or manifest (TTL)
 *    swarm:cas:{DIGEST}:jobs        set     jobs referencing it (same TTL)
 *    swarm:job:{JOB}:cas            set     digests the job references (swarm purge)
 *    swarm:commit:{OID}             string  manifest digest of a snapshot commit (TTL)
 *  Members of sets and lists (ids, keys) are stored raw, not escaped.
 *
 *  Every builder returns a new string (caller frees) and never fails:
 *  inputs are C strings, which the callers have validated.
 */
#ifndef SW_KEYS_H
#define SW_KEYS_H

#include "sw_redis.h"

#define SW_KEYS_LAYOUT        2

#define SW_KEY_LAYOUT         "swarm:layout"
#define SW_KEY_JOBS           "swarm:jobs"
#define SW_KEY_CURRENT_JOB    "swarm:current_job"
#define SW_KEY_REVOKED        "swarm:revoked_keys"
#define SW_KEY_NAMESPACES     "swarm:namespaces"
#define SW_KEY_COORDINATOR    "swarm:coordinator"     /*  coordinator/coord_lease.h */

/*  Appends part escaped: '%', ':', '{', '}', bytes below 0x20 and 0x7f
 *  become %XX (upper-case hex); every other byte, UTF-8 included, stays. */
void sw_keys_escape(sw_buf_t *out, const char *part);

char *sw_key_job(const char *job);
char *sw_key_job_tasks(const char *job);
char *sw_key_task(const char *job, const char *id);
/*  The live output of attempt N of a task (a capped stream the agent
 *  writes): swarm:job:{JOB}:log:ID:N. The escaped id holds no ':', so the
 *  attempt after the last ':' is unambiguous. */
char *sw_key_task_log(const char *job, const char *id, long long attempt);
/*  The job's event log (a capped stream the coordinator writes). */
char *sw_key_job_events(const char *job);
/*  The field of swarm:job:{JOB}:task:ID that holds what attempt N used
 *  (issue 18): "usage:N", its value the usage JSON (sw_usage.h) with
 *  cost_source. Under the job's hash tag with the task, so a restart
 *  reads it with the task and counts each attempt once. */
#define SW_FIELD_USAGE_PREFIX "usage:"
char *sw_field_usage(int64_t attempt);
char *sw_key_ns_index(const char *ns);
char *sw_key_ns_ttl(const char *ns);
char *sw_key_mem(const char *ns, const char *key);
/*  Workspaces (sw_cas, sw_ws): each CAS entry in a slot of its own, its
 *  job references beside it; a job's digests in the job's slot. */
char *sw_key_cas(const char *digest);
char *sw_key_cas_jobs(const char *digest);
char *sw_key_job_cas(const char *job);
char *sw_key_commit(const char *oid);

/*  Checks the layout of the data in r: 0 when it is this layout (a
 *  database with no swarm data is marked so, atomically). -1 with err
 *  otherwise: data of layout 1 (SW_EFAIL, the message says how to
 *  migrate: start swarm-coordinator once), of a newer layout (SW_EFAIL),
 *  or Redis out (SW_EUNREACH). One round trip once the mark is there. */
int sw_keys_check(sw_redis_t *r, sw_err_t *err);

/*  sw_redis_new, then sw_keys_check: NULL with err when Redis is out or
 *  holds another layout. What the CLI, the MCP server and the agent use
 *  to connect. */
sw_redis_t *sw_keys_connect(const char *url, int timeout_ms, sw_err_t *err);

/*  Like sw_keys_check, but data of layout 1 is renamed to this layout
 *  first, under a lock (swarm:layout-lock, 10 min) so two coordinators
 *  never migrate at once. Keys of layout 1 that already collided are
 *  moved once (the first owner wins) and counted. *moved (may be NULL)
 *  gets the number of keys renamed. Only the coordinator calls it, at
 *  start; stop old agents and coordinators first (they would go on
 *  writing layout 1 keys). */
int sw_keys_migrate(sw_redis_t *r, long *moved, sw_err_t *err);

int sw_keys_test(bool verbose);

#endif
