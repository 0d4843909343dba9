/*  sw_resp -- writes the pieces of a Redis command in RESP framing.
 *
 *  A command is an array of bulk strings (the Redis protocol
 *  specification, "Sending commands to a Redis server"):
 *
 *      *<argc>\r\n   then, per argument,   $<len>\r\n<bytes>\r\n
 *
 *  with argc and len in decimal ASCII, no sign, no leading zeros: what
 *  hiredis's redisFormatCommandArgv writes, byte for byte (unit.resp
 *  checks it). The three writers of such frames (common/sw_redis.c,
 *  agent/agent_live.c, agent/agent_result.c) share these; they are on the
 *  hot path (issue 20), hence:
 *
 *  - no printf, no allocation, no bounds check: each writer writes at p,
 *    which the caller has sized (the _MAX bounds below), and returns the
 *    end of what it wrote (the next byte to write). Nothing is
 *    NUL-terminated. They cannot fail.
 *  - static inline: a call per number, not per byte, and the compiler may
 *    fold it into the caller's loop as the file-local copies were.
 *
 *  The buffer is always the caller's (borrowed); lengths are in bytes.
 */
#ifndef SW_RESP_H
#define SW_RESP_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/*  Digits of the largest number written (UINT64_MAX, 18446744073709551615). */
#define SW_RESP_DIGITS_MAX  20
/*  Bytes of the longest header ("*" or "$", the digits, CRLF). */
#define SW_RESP_HEAD_MAX    (1 + SW_RESP_DIGITS_MAX + 2)
/*  Bytes of the longest whole bulk of len bytes (header, bytes, CRLF). */
#define SW_RESP_BULK_MAX(len)  (SW_RESP_HEAD_MAX + (size_t) (len) + 2)

/*  v in decimal at p (1 to SW_RESP_DIGITS_MAX bytes, no sign, no NUL);
 *  returns the end. The digits are counted first, then written from the
 *  last one, in place: no scratch copy. */
static inline char *
sw_resp_u64(char *p, uint64_t v)
{
    size_t n = 1;
    for (uint64_t t = 10; n < SW_RESP_DIGITS_MAX && v >= t; t *= 10)
        n++;
    char *end = p + n;
    do {
        *--end = (char) ('0' + v % 10);
        v /= 10;
    } while (v);
    return p + n;
}

/*  "*<n>\r\n", an array header (n: the command's argument count); at most
 *  SW_RESP_HEAD_MAX bytes; returns the end. */
static inline char *
sw_resp_array(char *p, uint64_t n)
{
    *p++ = '*';
    p = sw_resp_u64(p, n);
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

/*  "$<len>\r\n", a bulk string's header (len: its bytes, which the caller
 *  writes next, followed by CRLF); at most SW_RESP_HEAD_MAX bytes;
 *  returns the end. */
static inline char *
sw_resp_bulk_head(char *p, uint64_t len)
{
    *p++ = '$';
    p = sw_resp_u64(p, len);
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

/*  A whole bulk string: its header, the len bytes at arg (binary: NUL and
 *  CRLF are data; arg may be NULL when len is 0), CRLF. At most
 *  SW_RESP_BULK_MAX(len) bytes; returns the end. arg must not overlap the
 *  bytes written. */
static inline char *
sw_resp_bulk(char *p, const void *arg, size_t len)
{
    p = sw_resp_bulk_head(p, len);
    if (len)
        memcpy(p, arg, len);
    p += len;
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

/*  Checks the writers against hiredis's redisFormatCommandArgv and
 *  snprintf: every digit-count boundary from 0 to UINT64_MAX, the empty
 *  bulk, binary bytes, argument counts across digit counts. */
int sw_resp_test(bool verbose);

#endif
