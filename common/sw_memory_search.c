/*  sw_memory_search -- the pure half of memory search: Unicode case folding
 *  (libunistring), query terms and scoring. No I/O; sw_memory_search in
 *  sw_memory.c pages through Redis and ranks with these. */
#include "sw_memory.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <unicase.h>
#include <uninorm.h>

/*  --- search ---------------------------------------------------------------- */

/*  Appends the full case folding, then NFC, of n bytes to b. */
static void
s_fold_unicode(const char *s, size_t n, sw_buf_t *b)
{
    /*  Full folding (ß -> ss), no language tailoring, then NFC, so that a
     *  precomposed and a decomposed é fold alike. libunistring replaces
     *  ill-formed bytes with U+FFFD instead of failing. */
    size_t len = 0;
    uint8_t *f = u8_casefold((const uint8_t *) s, n, NULL, UNINORM_NFC, NULL, &len);
    if (!f) {
        if (errno == ENOMEM)
            abort();
        /*  Not expected from libunistring 1.0; fold the ASCII letters
         *  rather than lose the entry from every search. */
        size_t at = b->len;
        sw_buf_add(b, s, n);
        for (size_t k = at; k < b->len; k++)
            b->data[k] = (char) tolower((unsigned char) b->data[k]);
        return;
    }
    sw_buf_add(b, f, len);
    free(f);
}

char *
sw_memory_fold(const char *s, size_t n, size_t *out_len)
{
    /*  libunistring folds some 10 MB/s, tolower hundreds: a value that is
     *  mostly ASCII (a codex answer with a few dashes and quotes) is
     *  folded piecewise, ASCII with tolower (which is its full folding)
     *  and each stretch of other characters with libunistring, together
     *  with the one character before it (a decomposed é is an ASCII e
     *  and a combining mark). That is the folding of the whole: no
     *  character composes with an ASCII character after it (no canonical
     *  decomposition has an ASCII character after its first), and folding
     *  is per character. Stretches closer than GAP bytes go as one. */
    enum { GAP = 32 };
    sw_buf_t b;
    sw_buf_init(&b);
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && (unsigned char) s[j] < 0x80)
            j++;
        size_t stretch = j < n && j > i ? j - 1 : j;      /*  the character before it */
        size_t at = b.len;
        sw_buf_add(&b, s + i, stretch - i);
        for (size_t k = at; k < b.len; k++)
            b.data[k] = (char) tolower((unsigned char) b.data[k]);
        if (j == n)
            break;
        /*  the stretch ends where GAP ASCII bytes in a row begin */
        size_t e = j, ascii = 0;
        while (e < n && ascii < GAP) {
            ascii = (unsigned char) s[e] < 0x80 ? ascii + 1 : 0;
            e++;
        }
        if (ascii >= GAP)
            e -= ascii;
        s_fold_unicode(s + stretch, e - stretch, &b);
        i = e;
    }
    if (!b.data)
        sw_buf_add(&b, "", 0);
    *out_len = b.len;
    return b.data;
}

/*  Occurrences of needle in hay (hay may hold NULs), at most cap. */
static int
s_count(const char *hay, size_t n, const char *needle, int cap)
{
    size_t m = strlen(needle);
    int c = 0;
    for (const char *p = hay; m && c < cap && (size_t) (p - hay) + m <= n;) {
        const char *q = memmem(p, n - (size_t) (p - hay), needle, m);
        if (!q)
            break;
        c++;
        p = q + m;
    }
    return c;
}

double
sw_memory_score(const sw_strv_t *terms, const char *key, const char *tags, const char *value,
                size_t len)
{
    size_t lk_n, lt_n, lv_n;
    char *lk = sw_memory_fold(key, strlen(key), &lk_n);
    char *lt = sw_memory_fold(tags, strlen(tags), &lt_n);
    char *lv = sw_memory_fold(value, len, &lv_n);
    double score = 0;
    int matched = 0;
    for (size_t i = 0; i < terms->n; i++) {
        const char *t = terms->v[i];
        double s = 0;
        if (s_count(lk, lk_n, t, 1))
            s += strcmp(lk, t) == 0 ? 5 : 3;
        if (s_count(lt, lt_n, t, 1))
            s += 2;
        int in_value = s_count(lv, lv_n, t, 10);
        if (in_value)
            s += 1 + 0.1 * in_value;
        if (s > 0) {
            matched++;
            score += s;
        }
    }
    free(lk);
    free(lt);
    free(lv);
    return matched ? matched * 100.0 + score : 0;
}

int
sw_memory_terms(const char *query, sw_strv_t *terms)
{
    size_t n;
    char *q = sw_memory_fold(query, strlen(query), &n), *save = NULL;
    for (char *t = strtok_r(q, " \t\n\r", &save); t; t = strtok_r(NULL, " \t\n\r", &save))
        sw_strv_push(terms, t);
    free(q);
    return terms->n ? 0 : -1;
}
