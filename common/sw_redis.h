/*  sw_redis -- a small hiredis 0.14 wrapper.
 *
 *  Every command is sent with redisCommandArgv (binary-safe, no printf
 *  format), with a connect and a command timeout so nobody blocks forever
 *  on a dead server. Errors name the address ("redis at 127.0.0.1:6379:
 *  Connection refused") so the CLI can print them as they are. After an I/O
 *  error the context is dropped and the next command reconnects once.
 *
 *  URL: redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]  (default port 6379, db 0).
 *  The password never appears in messages; SWARM_REDIS_PASSWORD overrides
 *  the URL's so it need not sit in a command line.
 */
#ifndef SW_REDIS_H
#define SW_REDIS_H

#include <hiredis/hiredis.h>

#include "sw_util.h"

#define SW_REDIS_DEFAULT "redis://127.0.0.1:6379/0"

typedef struct sw_redis_t sw_redis_t;

typedef struct {
    char *host;
    int   port;
    int   db;
    char *user;
    char *password;
} sw_redis_url_t;

int  sw_redis_url_parse(const char *url, sw_redis_url_t *out, sw_err_t *err);
void sw_redis_url_release(sw_redis_url_t *u);

/*  Reads a password from a file (first line) for every later connection,
 *  so it never shows in `ps`; warns when others can read the file. */
int sw_redis_password_file(const char *path, sw_err_t *err);

/*  Connects now; NULL with err (code SW_EUNREACH, or SW_EFAIL for auth). */
sw_redis_t *sw_redis_new(const char *url, int timeout_ms, sw_err_t *err);
void sw_redis_destroy(sw_redis_t **self_p);
const char *sw_redis_addr(const sw_redis_t *self);     /*  "host:port/db" */

/*  What a reply means for the command that got it. An error reply is
 *  about that command, not an outage: only a few say "try again later"
 *  (the server is loading its data, busy with a script, has lost its
 *  primary, or its cluster is down); NOSCRIPT asks for the script text;
 *  everything else (WRONGTYPE, OOM, READONLY, NOPERM, a script's error)
 *  refuses that command, and trying it again would fail the same way. */
typedef enum {
    SW_REPLY_OK,
    SW_REPLY_TRANSIENT,         /*  LOADING BUSY MASTERDOWN TRYAGAIN CLUSTERDOWN */
    SW_REPLY_NOSCRIPT,
    SW_REPLY_REFUSED,
} sw_reply_class_t;

sw_reply_class_t sw_redis_reply_class(const redisReply *r);

/*  One command; returns the reply (caller frees with freeReplyObject) or
 *  NULL with err. A Redis error reply is returned as NULL too: err.code
 *  is SW_EUNREACH for an outage (no connection, no answer in time, or a
 *  transient error reply), SW_EFAIL for a refusal. */
redisReply *sw_redis_cmd(sw_redis_t *self, int argc, const char **argv,
                         const size_t *lens, sw_err_t *err);
/*  Convenience: NULL-terminated list of C strings. */
redisReply *sw_redis_cmdv(sw_redis_t *self, sw_err_t *err, ...);

/*  Pipelining: queue commands, then read every reply at once. flush
 *  returns 0 when all replies arrived and none was an error; else -1 with
 *  err.code SW_EUNREACH when the connection failed (the replies not read
 *  are lost), SW_EFAIL when only error replies came. After an append that
 *  cannot reach Redis, the batch's further appends are dropped until
 *  flush reports the failure. */
void sw_redis_append(sw_redis_t *self, int argc, const char **argv, const size_t *lens);
int  sw_redis_pending(const sw_redis_t *self);
int  sw_redis_flush(sw_redis_t *self, sw_err_t *err);
/*  Like flush, but hands every reply to fn (which must not free it). */
int  sw_redis_flush_each(sw_redis_t *self, void (*fn)(void *arg, int i, redisReply *r),
                         void *arg, sw_err_t *err);

/*  Runs a Lua script by its SHA1 (loading it on first use, after a
 *  reconnection, or when the server answers NOSCRIPT: a Redis restart or
 *  a SCRIPT FLUSH forgets scripts), so the script text crosses the network
 *  once. script must be a string with static storage: its address is the
 *  cache key. argv holds the keys, then the arguments. */
redisReply *sw_redis_eval(sw_redis_t *self, const char *script, int nkeys, int argc,
                          const char **argv, const size_t *lens, sw_err_t *err);
/*  The same, queued on the pipeline (the script is loaded first). A
 *  NOSCRIPT reply to it (the server forgot the script between the load and
 *  the flush) is not passed on: flush runs the command again with the
 *  script's text and hands that reply to its callback instead. */
int sw_redis_eval_append(sw_redis_t *self, const char *script, int nkeys, int argc,
                         const char **argv, const size_t *lens, sw_err_t *err);
/*  Whether script (the same pointer sw_redis_eval_append takes) was loaded
 *  on this connection: then sw_redis_eval_append queues without a command
 *  of its own, so it leaves a non-empty pipeline alone. False on a new
 *  connection until the next load. */
bool sw_redis_script_loaded(const sw_redis_t *self, const char *script);

/*  How many Redis operations (connect, command, pipeline flush) failed in
 *  this process so far: unreachable (I/O, timeout) and error replies. */
void sw_redis_errors(uint64_t *unreachable, uint64_t *replies);

int sw_redis_test(bool verbose);
/*  The same against a real server at url (the end-to-end tests give the
 *  fixture's): error replies classified, NOSCRIPT after SCRIPT FLUSH and
 *  after a lost connection, in plain and pipelined calls. */
int sw_redis_live_test(const char *url);

#endif
