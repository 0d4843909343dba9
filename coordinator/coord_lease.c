/*  coord_lease -- one coordinator per Redis database (coord_lease.h). */
#include "coord_lease.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sw_keys.h"
#include "sw_log.h"
#include "sw_util.h"

#define RENEW_MS 1000

struct coord_lease_t {
    sw_redis_t *redis;          /*  a connection of its own */
    char       *token;          /*  "HOST PID STARTED_MS CONTROL" */
    char        ttl[24];        /*  PX argument */
    int64_t     renewed_ms;     /*  monotonic: last renewal Redis confirmed */
    int64_t     tried_ms;       /*  monotonic: last try */
    int64_t     backoff_ms;     /*  Redis unreachable: 1, 2, 4, 8 s between tries */
    int64_t     renew_ms;       /*  every second, or a third of a shorter hold */
};

/*  1: renewed; 2: the key was gone and is ours again; 0: another's. */
static const char s_renew[] =
    "local v = redis.call('GET', KEYS[1])\n"
    "if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end\n"
    "if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 2 end\n"
    "return 0\n";

/*  Takes the key over from a holder whose value is still old. */
static const char s_take[] =
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end\n"
    "redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1\n";

static const char s_drop[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end\n"
    "return 0\n";

/*  The holder ran on this host and its process is gone. */
static bool
s_gone_here(const char *holder, const char *host)
{
    size_t n = strlen(host);
    if (strncmp(holder, host, n) != 0 || holder[n] != ' ')
        return false;
    char *end = NULL;
    long pid = strtol(holder + n + 1, &end, 10);
    if (pid <= 1 || !end || *end != ' ' || pid == (long) getpid())
        return false;
    if (kill((pid_t) pid, 0) < 0)
        return errno == ESRCH;
    /*  A zombie (killed, not reaped yet by its parent) is gone too. */
    char path[64], stat[256] = "";
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t got = fread(stat, 1, sizeof stat - 1, f);
    fclose(f);
    stat[got] = '\0';
    const char *paren = strrchr(stat, ')');
    return paren && paren[1] == ' ' && paren[2] == 'Z';
}

/*  SET NX; 1 taken, 0 held by another (*holder set, caller frees), -1 err. */
static int
s_try(coord_lease_t *self, char **holder, sw_err_t *err)
{
    redisReply *r = sw_redis_cmdv(self->redis, err, "SET", SW_KEY_COORDINATOR, self->token,
                                  "NX", "PX", self->ttl, NULL);
    if (!r)
        return -1;
    bool mine = r->type == REDIS_REPLY_STATUS;
    freeReplyObject(r);
    if (mine)
        return 1;
    r = sw_redis_cmdv(self->redis, err, "GET", SW_KEY_COORDINATOR, NULL);
    if (!r)
        return -1;
    *holder = r->type == REDIS_REPLY_STRING ? xstrdup(r->str) : NULL;
    freeReplyObject(r);
    return 0;
}

coord_lease_t *
coord_lease_acquire(const char *url, const char *control, int64_t ttl_ms, sw_err_t *err)
{
    coord_lease_t *self = xcalloc(1, sizeof *self);
    self->redis = sw_redis_new(url, 2000, err);
    if (!self->redis) {
        free(self);
        return NULL;
    }
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) < 0 || !*host)
        snprintf(host, sizeof host, "unknown");
    for (char *c = host; *c; c++)
        if (*c == ' ')
            *c = '_';
    self->token = xasprintf("%s %ld %lld %s", host, (long) getpid(), (long long) sw_wall_ms(),
                            control);
    snprintf(self->ttl, sizeof self->ttl, "%lld", (long long) ttl_ms);
    self->renew_ms = ttl_ms / 3 < RENEW_MS ? ttl_ms / 3 : RENEW_MS;
    int64_t give_up = sw_now_ms() + ttl_ms + 1000;
    bool said = false;
    for (;;) {
        char *holder = NULL;
        int rc = s_try(self, &holder, err);
        if (rc < 0)
            break;
        if (rc == 1) {
            self->renewed_ms = self->tried_ms = sw_now_ms();
            return self;
        }
        if (holder && s_gone_here(holder, host)) {
            const char *argv[] = { SW_KEY_COORDINATOR, holder, self->token, self->ttl };
            redisReply *r = sw_redis_eval(self->redis, s_take, 1, 4, argv, NULL, err);
            bool took = r && r->type == REDIS_REPLY_INTEGER && r->integer == 1;
            if (r)
                freeReplyObject(r);
            if (took) {
                log_info("took over Redis %s from a coordinator that is gone (%s)",
                         sw_redis_addr(self->redis), holder);
                free(holder);
                self->renewed_ms = self->tried_ms = sw_now_ms();
                return self;
            }
            if (!r) {
                free(holder);
                break;
            }
        }
        if (sw_now_ms() >= give_up) {
            sw_err_set(err, SW_EFAIL, "another coordinator holds Redis %s (%s: host pid "
                       "started control: %s); stop it, or give this one a database of its "
                       "own (--redis redis://HOST:PORT/N)", sw_redis_addr(self->redis),
                       SW_KEY_COORDINATOR, holder ? holder : "?");
            free(holder);
            break;
        }
        if (!said) {
            log_info("Redis %s is held by another coordinator (%s): waiting up to %lld s for "
                     "its hold to expire", sw_redis_addr(self->redis), holder ? holder : "?",
                     (long long) (ttl_ms + 999) / 1000);
            said = true;
        }
        free(holder);
        usleep(200 * 1000);
    }
    coord_lease_release(&self);
    return NULL;
}

int
coord_lease_keep(coord_lease_t *self, int64_t now_ms, sw_err_t *err)
{
    if (now_ms - self->tried_ms < (self->backoff_ms ? self->backoff_ms : self->renew_ms))
        return 0;
    self->tried_ms = now_ms;
    const char *argv[] = { SW_KEY_COORDINATOR, self->token, self->ttl };
    sw_err_t e = { 0 };
    redisReply *r = sw_redis_eval(self->redis, s_renew, 1, 3, argv, NULL, &e);
    if (!r) {
        /*  Out or erring: nobody can take over through it either. A
         *  stopped Redis costs a command timeout per try: back off. */
        if (e.code != SW_EUNREACH)
            return 0;
        self->backoff_ms = self->backoff_ms ? (self->backoff_ms * 2 > 8000
                                               ? 8000 : self->backoff_ms * 2) : 1000;
        if (err)
            *err = e;
        return 1;
    }
    self->backoff_ms = 0;
    long long v = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    if (v == 0) {
        redisReply *g = sw_redis_cmdv(self->redis, &e, "GET", SW_KEY_COORDINATOR, NULL);
        sw_err_set(err, SW_EFAIL, "another coordinator took this Redis database over (%s: %s) "
                   "while this one did not renew its hold for %s ms (stopped or cut off): "
                   "stopping, so the two do not write over each other",
                   SW_KEY_COORDINATOR, g && g->type == REDIS_REPLY_STRING ? g->str : "?",
                   self->ttl);
        if (g)
            freeReplyObject(g);
        return -1;
    }
    if (v == 2)
        log_info("Redis %s had lost this coordinator's hold (%s): held again",
                 sw_redis_addr(self->redis), SW_KEY_COORDINATOR);
    self->renewed_ms = now_ms;
    return 0;
}

void
coord_lease_release(coord_lease_t **self_p)
{
    coord_lease_t *self = *self_p;
    if (!self)
        return;
    if (self->redis && self->renewed_ms) {
        const char *argv[] = { SW_KEY_COORDINATOR, self->token };
        sw_err_t e = { 0 };
        redisReply *r = sw_redis_eval(self->redis, s_drop, 1, 2, argv, NULL, &e);
        if (r)
            freeReplyObject(r);
    }
    sw_redis_destroy(&self->redis);
    free(self->token);
    free(self);
    *self_p = NULL;
}
