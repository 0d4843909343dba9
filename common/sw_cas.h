/*  sw_cas -- content-addressed storage in Redis: workspaces and build
 *  outputs travel between hosts that share no file system.
 *
 *  Data is cut into chunks of at most SW_CAS_CHUNK bytes, each stored
 *  under the SHA-256 of its content (swarm:cas:{DIGEST}), and described
 *  by a blob: {"size": N, "sha256": whole, "chunks": [[DIGEST, N], ...]}.
 *  A chunk is uploaded only when Redis does not have it yet (for a big
 *  chunk the check comes first, as REv2's FindMissingBlobs), so the same
 *  content is stored once however many tasks and jobs use it. Every chunk
 *  read is hashed again and refused, naming its digest, when its content
 *  does not match its name; the whole blob is checked too. A stream is
 *  never held whole in memory: one chunk at a time. A corrupt chunk is
 *  deleted by the reader that finds it, so the next writer of the same
 *  content stores it afresh instead of finding it there.
 *
 *  Lifetime: every entry has a TTL (SW_CAS_TTL_S by default), refreshed
 *  whenever it is written or read again. Each entry also records which
 *  jobs reference it (swarm:cas:{DIGEST}:jobs, same slot, same TTL), and
 *  each job the digests it references (sw_key_job_cas), so
 *  `swarm purge --job J` deletes what only J referenced and keeps what
 *  other jobs still use.
 *
 *  Small documents (manifests) are stored the same way, whole, and named
 *  by their digest too.
 */
#ifndef SW_CAS_H
#define SW_CAS_H

#include <jansson.h>
#include <sodium.h>

#include "sw_redis.h"

#define SW_CAS_CHUNK     (4 << 20)      /*  bytes per chunk */
#define SW_CAS_TTL_S     (30 * 86400)   /*  default TTL: 30 days after the last use */
#define SW_CAS_DOC_MAX   (16 << 20)     /*  a manifest read whole */
#define SW_CAS_CHECK_MIN (64 << 10)     /*  chunks from this size are checked before upload */

struct sw_cas_queued {
    int    pos;                 /*  the put's reply in the pipeline */
    size_t n;                   /*  its size */
};

/*  SHA-256 as 64 lower-case hex digits (libsodium). */
void sw_sha256_hex(const void *data, size_t n, char out[65]);
bool sw_sha256_valid(const char *hex);

typedef struct {
    crypto_hash_sha256_state st;
} sw_sha256_t;

void sw_sha256_init(sw_sha256_t *h);
void sw_sha256_add(sw_sha256_t *h, const void *data, size_t n);
void sw_sha256_final(sw_sha256_t *h, char out[65]);

/*  A connection to the store for one job (the job whose references are
 *  recorded; NULL to read only). Borrowed redis. */
typedef struct {
    sw_redis_t *redis;
    const char *job;
    int64_t     ttl_s;          /*  0: SW_CAS_TTL_S */
    uint64_t    sent;           /*  bytes uploaded */
    uint64_t    reused;         /*  bytes Redis already had */
    uint64_t    fetched;        /*  bytes read */
    /*  Deferred writes (sw_cas_defer): the puts queued on the connection's
     *  pipeline, each its reply's position and its size. */
    bool        defer;
    bool        queued_any;     /*  something is on the pipeline */
    struct sw_cas_queued *queued;
    size_t      nqueued, qcap;
    size_t      qbytes;         /*  the bytes queued */
} sw_cas_t;

void sw_cas_init(sw_cas_t *c, sw_redis_t *redis, const char *job, int64_t ttl_s);

/*  Deferred writes: after sw_cas_defer(c, true), an entry's put is
 *  queued on the connection's pipeline instead of costing two round trips
 *  of its own (a big chunk still asks first whether Redis has it: one
 *  round trip), and sw_cas_send sends what is queued: one round trip for
 *  a change's pack and patch chunks, its manifest and patch description.
 *  Redis runs them in the order they were queued, so a description is
 *  stored after the chunks it names. At most about SW_CAS_CHUNK bytes wait
 *  (more is sent at once). Until sw_cas_send returns 0 nothing queued is
 *  known to be stored; any other operation on c sends the queue first, and
 *  c's connection must not be used by anything else meanwhile.
 *  sw_cas_defer(c, false) sends it too. 0 or -1 with err (the first
 *  failure of the queue). */
int sw_cas_defer(sw_cas_t *c, bool on, sw_err_t *err);
int sw_cas_send(sw_cas_t *c, sw_err_t *err);

/*  Stores data whole as one entry: its digest in out. 0 or -1 with err. */
int sw_cas_put(sw_cas_t *c, const void *data, size_t n, char digest[65], sw_err_t *err);
/*  Reads the entry digest whole (at most max bytes), checks its content
 *  against its name, refreshes its TTL. 0, or -1 with err: SW_ENOTFOUND
 *  when it is gone (expired or purged), SW_EFAIL when it is corrupt. */
int sw_cas_get(sw_cas_t *c, const char *digest, size_t max, sw_buf_t *out, sw_err_t *err);

/*  Writes a stream as chunks; finish gives its blob description. */
typedef struct {
    sw_cas_t   *cas;
    char       *buf;            /*  the chunk being filled (SW_CAS_CHUNK bytes) */
    size_t      len;
    sw_sha256_t whole;
    uint64_t    size;
    json_t     *chunks;         /*  [[DIGEST, N], ...] */
    uint64_t    max;            /*  0: no cap; else more is an error */
    const char *cap_name;       /*  named in that error ("--max-change") */
} sw_cas_writer_t;

void sw_cas_writer_init(sw_cas_writer_t *w, sw_cas_t *cas, uint64_t max, const char *cap_name);
int  sw_cas_writer_add(sw_cas_writer_t *w, const void *data, size_t n, sw_err_t *err);
/*  The blob {"size", "sha256", "chunks"} (new reference), or NULL with
 *  err. Releases the writer either way. */
json_t *sw_cas_writer_finish(sw_cas_writer_t *w, sw_err_t *err);
void sw_cas_writer_release(sw_cas_writer_t *w);

/*  Checks a blob description's shape (sizes, digests, chunk sizes add up
 *  to the size, each chunk at most SW_CAS_CHUNK). 0 or -1 with err. */
int sw_cas_blob_check(const json_t *blob, sw_err_t *err);

/*  Reads a blob chunk by chunk into sink (which returns 0, or -1 with
 *  err to stop), checking every chunk and the whole. 0 or -1 with err. */
typedef int (*sw_cas_sink_fn)(void *arg, const void *data, size_t n, sw_err_t *err);
int sw_cas_read(sw_cas_t *c, const json_t *blob, sw_cas_sink_fn sink, void *arg,
                sw_err_t *err);

/*  References an existing entry (and refreshes its TTL) for c's job:
 *  1 when it is there, 0 when it is gone, -1 with err. */
int sw_cas_ref(sw_cas_t *c, const char *digest, sw_err_t *err);
/*  The same for every chunk of a blob: 1 when all are there. */
int sw_cas_ref_blob(sw_cas_t *c, const json_t *blob, sw_err_t *err);

/*  Forgets job's references: each entry only this job referenced is
 *  deleted, the others keep their other jobs. *deleted (may be NULL)
 *  gets how many entries were deleted, *kept how many stay for other
 *  jobs. 0 or -1 with err. */
int sw_cas_purge_job(sw_redis_t *redis, const char *job, long *deleted, long *kept,
                     sw_err_t *err);

int sw_cas_test(bool verbose);

#endif
