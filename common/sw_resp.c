/*  sw_resp -- RESP writers (sw_resp.h); the writers are inline, this file
 *  holds their self-test. */
#include "sw_resp.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <hiredis/hiredis.h>

#include "sw_selftest.h"
#include "sw_util.h"

/*  The bytes a writer wrote at buf are want (and no more): the byte
 *  after them is still the canary. */
static bool
s_wrote(const char *buf, const char *end, const char *want, size_t want_len)
{
    return (size_t) (end - buf) == want_len && memcmp(buf, want, want_len) == 0
           && end[0] == '#';
}

/*  A command of argc arguments with lens, written with the writers, is
 *  redisFormatCommandArgv's, byte for byte. */
static bool
s_same_as_hiredis(int argc, const char **argv, const size_t *lens)
{
    size_t max = SW_RESP_HEAD_MAX;
    for (int i = 0; i < argc; i++)
        max += SW_RESP_BULK_MAX(lens[i]);
    char *ours = xmalloc(max), *p = sw_resp_array(ours, (uint64_t) argc);
    for (int i = 0; i < argc; i++)
        p = sw_resp_bulk(p, argv[i], lens[i]);
    char *theirs = NULL;
    int n = redisFormatCommandArgv(&theirs, argc, argv, lens);
    bool same = n > 0 && (size_t) n == (size_t) (p - ours) && (size_t) n <= max
                && memcmp(ours, theirs, (size_t) n) == 0;
    free(theirs);
    free(ours);
    return same;
}

int
sw_resp_test(bool verbose)
{
    /*  numbers: 0, every power of ten and the number before it, UINT64_MAX
     *  (20 digits) and the numbers around 10^19 (the last power that fits) */
    uint64_t nums[64];
    size_t nn = 0;
    nums[nn++] = 0;
    for (uint64_t t = 1;; t *= 10) {
        nums[nn++] = t;
        if (t > 1)
            nums[nn++] = t - 1;
        nums[nn++] = t + 1;
        if (t == UINT64_C(10000000000000000000))
            break;
    }
    nums[nn++] = UINT64_MAX;
    nums[nn++] = UINT64_MAX - 1;
    int checked = 0;
    for (size_t i = 0; i < nn; i++) {
        char want[64], buf[64];
        int wl = snprintf(want, sizeof want, "%" PRIu64, nums[i]);
        memset(buf, '#', sizeof buf);
        CHECK(s_wrote(buf, sw_resp_u64(buf, nums[i]), want, (size_t) wl));
        CHECK((size_t) wl <= SW_RESP_DIGITS_MAX);
        wl = snprintf(want, sizeof want, "*%" PRIu64 "\r\n", nums[i]);
        memset(buf, '#', sizeof buf);
        CHECK(s_wrote(buf, sw_resp_array(buf, nums[i]), want, (size_t) wl));
        wl = snprintf(want, sizeof want, "$%" PRIu64 "\r\n", nums[i]);
        memset(buf, '#', sizeof buf);
        CHECK(s_wrote(buf, sw_resp_bulk_head(buf, nums[i]), want, (size_t) wl));
        CHECK((size_t) wl <= SW_RESP_HEAD_MAX);
        checked++;
    }
    CHECK(SW_RESP_HEAD_MAX == strlen("$18446744073709551615\r\n"));

    /*  the empty bulk, with and without a pointer */
    char buf[64];
    memset(buf, '#', sizeof buf);
    CHECK(s_wrote(buf, sw_resp_bulk(buf, NULL, 0), "$0\r\n\r\n", 6));
    memset(buf, '#', sizeof buf);
    CHECK(s_wrote(buf, sw_resp_bulk(buf, "", 0), "$0\r\n\r\n", 6));
    /*  binary: NUL, CR, LF and a RESP look-alike are data */
    memset(buf, '#', sizeof buf);
    CHECK(s_wrote(buf, sw_resp_bulk(buf, "a\0\r\n$1\r\n", 8), "$8\r\na\0\r\n$1\r\n\r\n", 14));

    /*  whole commands against hiredis: one argument of every length
     *  boundary up to 10^6 (9/10, 99/100, ...), empty and binary ones */
    size_t big_len = 1000001;
    char *big = xmalloc(big_len);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (char) (i % 7 == 0 ? '\0' : i % 5 == 0 ? '\n' : 'a' + i % 26);
    for (size_t t = 1; t <= 1000000; t *= 10) {
        size_t lens[] = { t - 1, t, t + 1 };
        for (size_t k = 0; k < 3; k++) {
            const char *argv[] = { "SET", big };
            size_t l2[] = { 3, lens[k] };
            CHECK(s_same_as_hiredis(2, argv, l2));
            checked++;
        }
    }
    /*  argument counts across digit counts: 0..11, 99/100/101, 999..1001,
     *  with lengths cycling over the boundaries */
    static const size_t cycle[] = { 0, 1, 9, 10, 99, 100, 101, 999, 1000 };
    const char **argv = xcalloc(1001, sizeof *argv);
    size_t *lens = xcalloc(1001, sizeof *lens);
    static const int counts[] = { 1, 2, 9, 10, 11, 99, 100, 101, 999, 1000, 1001 };
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        for (int i = 0; i < counts[c]; i++) {
            argv[i] = big + i;
            lens[i] = cycle[(size_t) i % (sizeof cycle / sizeof cycle[0])];
        }
        CHECK(s_same_as_hiredis(counts[c], argv, lens));
        checked++;
    }
    /*  a command as the coordinator writes them, with an empty value */
    const char *words[] = { "HSET", "swarm:{j}:t", "status", "", "attempt", "12" };
    size_t wl[6];
    for (int i = 0; i < 6; i++)
        wl[i] = strlen(words[i]);
    CHECK(s_same_as_hiredis(6, words, wl));
    free(lens);
    free(argv);
    free(big);
    if (verbose)
        printf("resp: %d numbers and commands checked\n", checked);
    return 0;
}
