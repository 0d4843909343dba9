/*  sw_capture -- a child's output kept bounded: its first bytes and its
 *  last, whatever it writes (split out of sw_util). */
#ifndef SW_CAPTURE_H
#define SW_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sw_util.h"

/*  Bounded capture of a stream: keeps the first head_max bytes and the
 *  last tail_max bytes, counts everything. A child writing gigabytes costs
 *  head_max + tail_max bytes of memory, and the reader keeps draining the
 *  pipe so the child never blocks on it. */
typedef struct {
    sw_buf_t head;
    size_t   head_max;
    char    *tail;              /*  ring buffer of tail_max bytes */
    size_t   tail_max;
    size_t   tail_len;          /*  bytes valid in the ring */
    size_t   tail_pos;          /*  next write position */
    uint64_t total;             /*  bytes fed in all */
} sw_capture_t;

void sw_capture_init(sw_capture_t *c, size_t head_max, size_t tail_max);
void sw_capture_release(sw_capture_t *c);
void sw_capture_feed(sw_capture_t *c, const void *data, size_t n);
/*  Reading straight into the head (issue 20: no copy from a read buffer):
 *  where up to *room (<= want) bytes may be written, NULL when the head is
 *  full (then sw_capture_feed). sw_capture_commit(c, n) keeps the n bytes
 *  written there (n <= *room); the pointer is valid until the next call
 *  on c. */
char *sw_capture_space(sw_capture_t *c, size_t want, size_t *room);
void sw_capture_commit(sw_capture_t *c, size_t n);
bool sw_capture_truncated(const sw_capture_t *c);
/*  Appends head, a marker line naming the omitted byte count when
 *  truncated, then tail. */
void sw_capture_render(const sw_capture_t *c, sw_buf_t *out);

/*  Self-test (tests/selftest.c, unit.capture): 0 when every check held. */
int sw_capture_test(bool verbose);

#endif
