/*  sw_selftest -- CHECK() that survives NDEBUG, and the self-test registry. */
#ifndef SW_SELFTEST_H
#define SW_SELFTEST_H

#include <stdbool.h>

extern int sw_selftest_failures;
void sw_selftest_fail(const char *file, int line, const char *expr);

#define CHECK(expr) \
    do { if (!(expr)) sw_selftest_fail(__FILE__, __LINE__, #expr); } while (0)

typedef struct {
    const char *name;
    int (*fn)(bool verbose);
} sw_selftest_t;

/*  Runs the named test (or all when name is NULL); returns failures. */
int sw_selftest_run(const sw_selftest_t *tests, const char *name, bool verbose);

#endif
