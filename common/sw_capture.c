/*  sw_capture -- see sw_capture.h */
#include "sw_capture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sw_selftest.h"

void
sw_capture_init(sw_capture_t *c, size_t head_max, size_t tail_max)
{
    memset(c, 0, sizeof *c);
    sw_buf_init(&c->head);
    c->head_max = head_max;
    c->tail_max = tail_max;
    c->tail = NULL;     /*  on first use: most runs fit in the head (issue 20: a
                           tail of max_output/2 per run was an mmap and munmap) */
}

void
sw_capture_release(sw_capture_t *c)
{
    sw_buf_release(&c->head);
    free(c->tail);
    c->tail = NULL;
}

void
sw_capture_feed(sw_capture_t *c, const void *data, size_t n)
{
    const char *p = data;
    c->total += n;
    if (c->head.len < c->head_max) {
        size_t take = c->head_max - c->head.len;
        if (take > n)
            take = n;
        sw_buf_add(&c->head, p, take);
        p += take;
        n -= take;
    }
    if (n == 0 || c->tail_max == 0)
        return;
    if (!c->tail)
        c->tail = xmalloc(c->tail_max);
    if (n >= c->tail_max) {     /*  only the last tail_max bytes matter */
        memcpy(c->tail, p + n - c->tail_max, c->tail_max);
        c->tail_pos = 0;
        c->tail_len = c->tail_max;
        return;
    }
    size_t first = c->tail_max - c->tail_pos;
    if (first > n)
        first = n;
    memcpy(c->tail + c->tail_pos, p, first);
    memcpy(c->tail, p + first, n - first);
    c->tail_pos = (c->tail_pos + n) % c->tail_max;
    c->tail_len = c->tail_len + n > c->tail_max ? c->tail_max : c->tail_len + n;
}

char *
sw_capture_space(sw_capture_t *c, size_t want, size_t *room)
{
    if (c->head.len >= c->head_max || want == 0)
        return NULL;
    size_t n = c->head_max - c->head.len;
    if (n > want)
        n = want;
    /*  Room left in the head is used before it grows (a growth may move
     *  what was read: a copy): 4 KiB or more of it, or all that is asked. */
    size_t spare = c->head.cap > c->head.len ? c->head.cap - c->head.len - 1 : 0;
    if (spare >= n || spare >= 4096)
        n = n < spare ? n : spare;
    else
        sw_buf_reserve(&c->head, n);
    *room = n;
    return c->head.data + c->head.len;
}

void
sw_capture_commit(sw_capture_t *c, size_t n)
{
    c->total += n;
    c->head.len += n;
    c->head.data[c->head.len] = '\0';
}

bool
sw_capture_truncated(const sw_capture_t *c)
{
    return c->total > c->head.len + c->tail_len;
}

void
sw_capture_render(const sw_capture_t *c, sw_buf_t *out)
{
    sw_buf_add(out, c->head.data ? c->head.data : "", c->head.len);
    if (sw_capture_truncated(c))
        sw_buf_printf(out, "\n[... swarm: %llu bytes omitted ...]\n",
                      (unsigned long long) (c->total - c->head.len - c->tail_len));
    if (c->tail_len < c->tail_max) {        /*  never wrapped: in order */
        if (c->tail_len)
            sw_buf_add(out, c->tail, c->tail_len);
        return;
    }
    /*  Full ring: the oldest byte is at tail_pos. */
    sw_buf_add(out, c->tail + c->tail_pos, c->tail_max - c->tail_pos);
    sw_buf_add(out, c->tail, c->tail_pos);
}

/*  --- self-test ----------------------------------------------------------------------- */

int
sw_capture_test(bool verbose)
{
    (void) verbose;
    sw_buf_t out;
    sw_buf_init(&out);

    /*  capture: small input passes through unchanged */
    sw_capture_t c;
    sw_capture_init(&c, 4, 4);
    sw_capture_feed(&c, "abcdef", 6);
    CHECK(!sw_capture_truncated(&c));
    sw_capture_render(&c, &out);
    CHECK(out.len == 6 && memcmp(out.data, "abcdef", 6) == 0);
    sw_capture_release(&c);

    /*  capture: head + tail with a marker, across many small feeds */
    sw_capture_init(&c, 3, 4);
    for (char ch = 'a'; ch <= 'z'; ch++)
        sw_capture_feed(&c, &ch, 1);
    CHECK(sw_capture_truncated(&c));
    CHECK(c.total == 26);
    sw_buf_reset(&out);
    sw_capture_render(&c, &out);
    CHECK(strncmp(out.data, "abc", 3) == 0);
    CHECK(strstr(out.data, "19 bytes omitted") != NULL);
    CHECK(out.len > 4 && memcmp(out.data + out.len - 4, "wxyz", 4) == 0);
    sw_capture_release(&c);

    /*  capture: one feed larger than the ring */
    sw_capture_init(&c, 2, 3);
    sw_capture_feed(&c, "0123456789", 10);
    sw_buf_reset(&out);
    sw_capture_render(&c, &out);
    CHECK(strncmp(out.data, "01", 2) == 0);
    CHECK(memcmp(out.data + out.len - 3, "789", 3) == 0);
    sw_capture_release(&c);

    /*  capture: exactly head + tail is not truncated */
    sw_capture_init(&c, 2, 3);
    sw_capture_feed(&c, "01234", 5);
    CHECK(!sw_capture_truncated(&c));
    sw_buf_reset(&out);
    sw_capture_render(&c, &out);
    CHECK(out.len == 5 && memcmp(out.data, "01234", 5) == 0);
    sw_capture_release(&c);

    /*  capture read in place: the head takes up to its room, then NULL
     *  (the rest is fed into the tail), same render as feeding */
    sw_capture_init(&c, 6, 3);
    size_t room = 0;
    char *dst = sw_capture_space(&c, 4, &room);
    CHECK(dst && room == 4);
    memcpy(dst, "abcd", 4);
    sw_capture_commit(&c, 4);
    dst = sw_capture_space(&c, 100, &room);
    CHECK(dst && room == 2);
    memcpy(dst, "e", 1);
    sw_capture_commit(&c, 1);
    dst = sw_capture_space(&c, 100, &room);
    CHECK(dst && room == 1);
    dst[0] = 'f';
    sw_capture_commit(&c, 1);
    CHECK(sw_capture_space(&c, 100, &room) == NULL);
    CHECK(c.head.cap == 64);            /*  grown once, for all of it */
    sw_capture_feed(&c, "ghijk", 5);
    CHECK(c.total == 11 && c.head.len == 6 && c.head.data[6] == '\0');
    sw_buf_reset(&out);
    sw_capture_render(&c, &out);
    CHECK(strncmp(out.data, "abcdef\n[... swarm: 2 bytes omitted", 34) == 0);
    CHECK(memcmp(out.data + out.len - 3, "ijk", 3) == 0);
    sw_capture_release(&c);

    /*  capture read in place: 4 KiB or more left in the head is used
     *  before the head grows (no realloc moving what was read) */
    sw_capture_init(&c, 1 << 20, 0);
    dst = NULL;
    CHECK((dst = sw_capture_space(&c, 65536, &room)) && room == 65536);
    memset(dst, 'x', room);
    sw_capture_commit(&c, room);
    CHECK(c.head.cap == 131072);
    CHECK((dst = sw_capture_space(&c, 65536, &room)) && room == 65535 && c.head.cap == 131072);
    memset(dst, 'y', 62000);
    sw_capture_commit(&c, 62000);     /*  3535 left: less than 4 KiB */
    CHECK((dst = sw_capture_space(&c, 65536, &room)) && room == 65536 && c.head.cap == 262144);
    sw_capture_release(&c);
    sw_buf_release(&out);
    return 0;
}
