/*  sw_util -- allocation, clocks, byte buffers (bounded output capture:
 *  sw_capture.h).
 *
 *  Allocation failure aborts (xmalloc and friends): swarm daemons cannot do
 *  anything useful without memory, and checking every small allocation
 *  hides the real error paths.
 */
#ifndef SW_UTIL_H
#define SW_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sw_log.h"

void  *xmalloc(size_t size);
void  *xcalloc(size_t n, size_t size);
void  *xrealloc(void *p, size_t size);
char  *xstrdup(const char *s);
char  *xstrndup(const char *s, size_t n);
char  *xasprintf(const char *fmt, ...) SW_PRINTF(1, 2);

/*  Opens /dev/null on each of fds 0, 1 and 2 that is closed, so that no
 *  socket, pipe or file opened later takes one of them: a program started
 *  with `>&-` (a cron line, a supervisor) would otherwise log to stderr
 *  into whatever got fd 2, e.g. a Redis connection, where the text is an
 *  inline command (e2e.stdio_closed). Call first in main, before any
 *  library opens a descriptor. 0, or -1 with errno when /dev/null cannot
 *  be opened (the caller exits: it has nowhere to say so but its status). */
int    sw_stdio_open(void);

/*  Milliseconds: monotonic for deadlines, wall clock for records. */
int64_t sw_now_ms(void);
int64_t sw_wall_ms(void);

/*  Error with a reason, filled by functions that can fail for the user. */
typedef struct {
    int  code;                  /*  SW_E* below, 0 when no error */
    char msg[256];
} sw_err_t;

enum {
    SW_EOK = 0,
    SW_EINVAL = 2,              /*  bad input (exit code 2 in the CLI) */
    SW_EUNREACH = 3,            /*  coordinator or Redis unreachable */
    SW_ENOTFOUND = 4,           /*  job, task or key not found */
    SW_EFAIL = 1,               /*  anything else */
};
int sw_err_set(sw_err_t *err, int code, const char *fmt, ...) SW_PRINTF(3, 4);

/*  Growable byte buffer; data is always NUL-terminated for convenience. */
typedef struct {
    char  *data;
    size_t len;
    size_t cap;
} sw_buf_t;

void sw_buf_init(sw_buf_t *b);
void sw_buf_release(sw_buf_t *b);
void sw_buf_reset(sw_buf_t *b);
/*  Room for extra more bytes (and the NUL): adds up to that many never
 *  move the data. */
void sw_buf_reserve(sw_buf_t *b, size_t extra);
void sw_buf_add(sw_buf_t *b, const void *data, size_t n);
void sw_buf_addstr(sw_buf_t *b, const char *s);
void sw_buf_printf(sw_buf_t *b, const char *fmt, ...) SW_PRINTF(2, 3);
/*  Appends the file at path to out, at most max bytes in out (truncated,
 *  if given, says when there was more); -1 when it cannot be opened. */
int sw_read_file(const char *path, size_t max, sw_buf_t *out, bool *truncated);

/*  Copies src to out, replacing every invalid UTF-8 sequence with U+FFFD
 *  and NUL bytes with U+FFFD, so the text can be stored as a JSON string. */
void sw_utf8_sanitize(const char *src, size_t n, sw_buf_t *out);
/*  Appends src to out as a terminal may show it without obeying it: C0
 *  controls but tab, and DEL, in caret notation (ESC is "^[", NUL "^@"),
 *  C1 controls (U+0080..U+009F) as "\u009b", bytes that are not UTF-8 as
 *  "\xff"; printable UTF-8 and tabs unchanged. What `swarm logs` and
 *  `swarm events` print on a terminal: a task's output can neither move
 *  the cursor, retitle the window nor write the clipboard (OSC 52) of
 *  whoever reads it (--raw prints the bytes). */
void sw_term_sanitize(const char *src, size_t n, sw_buf_t *out);

/*  SHA-1 of data as 40 lower-case hex digits and a NUL (Redis names Lua
 *  scripts by it; not used for security). */
void sw_sha1_hex(const void *data, size_t n, char out[41]);

/*  Base64 (RFC 4648, with padding). decode returns -1 on bad input. */
void sw_base64_encode(const void *data, size_t n, sw_buf_t *out);
int  sw_base64_decode(const char *s, size_t n, sw_buf_t *out);
/*  True when data is valid UTF-8 without NUL bytes (safe as a JSON string). */
bool sw_utf8_clean(const char *data, size_t n);

/*  Strict decimal parse of a whole string into [min, max]; 0 or -1. */
int sw_parse_int(const char *s, long long min, long long max, long long *out);
/*  Dollars with at most two decimals ("2", "0.5", "1.25") into cents,
 *  0 < cents <= max_cents; 0 or -1. sw_fmt_usd writes them back ("1.25"). */
int  sw_parse_usd(const char *s, long long max_cents, long long *cents);
void sw_fmt_usd(long long cents, char out[32]);

/*  fd helpers; 0 or -1 with errno. */
int sw_fd_nonblock(int fd);

/*  Endpoint helpers: true when a tcp:// or ipc:// endpoint only listens on
 *  the loopback interface (127.0.0.0/8, ::1, localhost) or a unix socket. */
bool sw_endpoint_is_local(const char *endpoint);

int sw_util_test(bool verbose);

#endif
