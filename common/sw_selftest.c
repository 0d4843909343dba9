/*  sw_selftest -- see sw_selftest.h */
#include "sw_selftest.h"

#include <stdio.h>
#include <string.h>

int sw_selftest_failures = 0;

void
sw_selftest_fail(const char *file, int line, const char *expr)
{
    fprintf(stderr, "CHECK FAILED %s:%d: %s\n", file, line, expr);
    sw_selftest_failures++;
}

int
sw_selftest_run(const sw_selftest_t *tests, const char *name, bool verbose)
{
    int ran = 0;
    for (const sw_selftest_t *t = tests; t->name; t++) {
        if (name && strcmp(name, t->name) != 0)
            continue;
        int before = sw_selftest_failures;
        printf(" * %s: ", t->name);
        fflush(stdout);
        t->fn(verbose);
        printf("%s\n", sw_selftest_failures == before ? "OK" : "FAILED");
        ran++;
    }
    if (ran == 0) {
        fprintf(stderr, "no such test: %s\n", name ? name : "(none)");
        return 1;
    }
    return sw_selftest_failures;
}
