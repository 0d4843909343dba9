/*  sw_memory -- the shared key/value memory in Redis (docs/redis.md).
 *
 *  Namespaced entries with a value (binary-safe), tags, creation and
 *  update times and an optional TTL enforced by Redis. Each namespace has
 *  an index (a sorted set by update time), so list, search, stats and
 *  export never SCAN the keyspace. Entries with a TTL are also in their
 *  namespace's schedule so their index entries are removed once Redis
 *  has expired them: counts stay exact. Keys: common/sw_keys.h.
 *
 *  Writes are single Lua scripts, atomic in Redis: concurrent writers
 *  cannot lose an entry or leave the index out of step with the data.
 *  Used by the swarm CLI, the agent (prompt templates) and the MCP server.
 */
#ifndef SW_MEMORY_H
#define SW_MEMORY_H

#include <jansson.h>

#include "sw_proto.h"
#include "sw_redis.h"

#define SW_MEM_MAX_VALUE (16u << 20)
#define SW_MEM_MAX_KEY   512
#define SW_EEXISTS       5          /*  sw_err_t code: --no-upsert and the key exists */
#define SW_MEM_MAX_TTL_S 31536000   /*  365 days: `memory store --ttl`, MCP's ttl, import */

typedef struct {
    char    *ns;
    char    *key;
    char    *value;                 /*  NUL-terminated, may hold NULs: use len */
    size_t   len;
    char    *tags;                  /*  comma-separated, "" when none */
    int64_t  created, updated;      /*  ms since the epoch */
    int64_t  ttl_ms;                /*  remaining, -1 when none */
    double   score;                 /*  search only */
} sw_mem_entry_t;

void sw_mem_entry_release(sw_mem_entry_t *e);
void sw_mem_entries_free(sw_mem_entry_t *v, size_t n);

typedef struct {
    const char *tags;               /*  "a,b"; NULL = none */
    int64_t     ttl_ms;             /*  0 = keep forever */
    bool        no_upsert;          /*  fail with SW_EEXISTS when the key exists */
    int64_t     created_ms;         /*  0 = now, or kept from an existing entry */
    int64_t     updated_ms;         /*  0 = now */
    const char *writer;             /*  "JOB\nTASK\nATTEMPT" of the task attempt that
                                        stores it (swarm mcp in a worker), or NULL:
                                        the agent keeps a worker's own result of
                                        that attempt (fenced on the attempt the
                                        coordinator issued, not on clocks) */
} sw_mem_store_opts_t;

bool sw_memory_key_valid(const char *key);
/*  A TTL in seconds as the user gave it (text: "--ttl 60", or a JSON
 *  number's digits): 1..SW_MEM_MAX_TTL_S. -1 with SW_EINVAL and the one
 *  message the CLI and the MCP server both print. */
int sw_memory_ttl_parse(const char *text, int64_t *ttl_s, sw_err_t *err);

int sw_memory_store(sw_redis_t *r, const char *ns, const char *key, const void *value,
                    size_t len, const sw_mem_store_opts_t *o, sw_err_t *err);
/*  The same, queued on r's pipeline (flush with sw_redis_flush). */
int sw_memory_store_append(sw_redis_t *r, const char *ns, const char *key, const void *value,
                           size_t len, const sw_mem_store_opts_t *o, sw_err_t *err);
/*  Whether sw_memory_store_append on r queues without loading its script
 *  first (a command of its own, which flushes what r had queued). */
bool sw_memory_store_ready(const sw_redis_t *r);
/*  -1 with SW_ENOTFOUND when there is no such entry. */
int sw_memory_get(sw_redis_t *r, const char *ns, const char *key, sw_mem_entry_t *e,
                  sw_err_t *err);
int sw_memory_delete(sw_redis_t *r, const char *ns, const char *key, sw_err_t *err);
/*  Drops index entries of namespace ns whose keys Redis has expired. */
int sw_memory_purge(sw_redis_t *r, const char *ns, sw_err_t *err);
int sw_memory_namespaces(sw_redis_t *r, sw_strv_t *out, sw_err_t *err);
/*  Newest first, from offset; *total is the namespace's entry count. */
int sw_memory_list(sw_redis_t *r, const char *ns, size_t offset, size_t limit, bool oldest_first,
                   sw_mem_entry_t **out, size_t *n, size_t *total, sw_err_t *err);
/*  Keyword search over keys, tags and values of one namespace (or all
 *  when ns is NULL), best first: an entry matches when a term occurs in
 *  it, and more matched terms rank higher. Compared after full Unicode
 *  case folding (sw_memory_fold): `дизайн` finds
 *  `ДИЗАЙН`, `école` finds `ÉCOLE`, `straße` finds `STRASSE`. SW_EINVAL
 *  for a query without terms. */
int sw_memory_search(sw_redis_t *r, const char *ns, const char *query, size_t limit,
                     sw_mem_entry_t **out, size_t *n, sw_err_t *err);

typedef struct {
    char    *ns;
    size_t   entries;
    uint64_t bytes;                 /*  of values */
} sw_mem_stat_t;
int sw_memory_stats(sw_redis_t *r, sw_mem_stat_t **out, size_t *n, sw_err_t *err);
void sw_mem_stats_free(sw_mem_stat_t *v, size_t n);

/*  The rank of an entry for query terms (folded by sw_memory_terms); 0 =
 *  no match. Keys weigh most, then tags, then values; every matched term
 *  counts more than any weight. value may hold NULs and bytes that are not
 *  UTF-8. Pure: tested in the self-test. */
double sw_memory_score(const sw_strv_t *terms, const char *key, const char *tags,
                       const char *value, size_t len);
/*  The query's terms (split at ASCII white space), case-folded, appended
 *  to terms; -1 when there is none. */
int sw_memory_terms(const char *query, sw_strv_t *terms);
/*  Full Unicode case folding (Unicode CaseFolding.txt, C + F, no language
 *  tailoring; libunistring's u8_casefold) followed by NFC, of n bytes that
 *  may hold NULs; ill-formed UTF-8 becomes U+FFFD. Returns a new
 *  NUL-terminated string (caller frees) and its length in *out_len. */
char *sw_memory_fold(const char *s, size_t n, size_t *out_len);

/*  JSON of an entry: value as a string when it is clean UTF-8, else
 *  value_base64. with_value false gives a preview of at most 200 bytes. */
json_t *sw_memory_entry_json(const sw_mem_entry_t *e, bool with_value);
/*  Back from an export line (namespace, key, value or value_base64, tags,
 *  created, updated, ttl_ms). */
int sw_memory_entry_from_json(json_t *o, sw_mem_entry_t *e, sw_err_t *err);

int sw_memory_test(bool verbose);

#endif
