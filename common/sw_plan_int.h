/*  sw_plan_int -- what the plan parser's files share (sw_plan.c reads YAML,
 *  sw_plan_check.c validates and orders, sw_plan_text.c reads command lists).
 *  Private to those files: nothing else includes it.
 */
#ifndef SW_PLAN_INT_H
#define SW_PLAN_INT_H

#include "sw_plan.h"

#include <stdbool.h>
#include <sys/types.h>
#include <yaml.h>

#define SW_PLAN_MAX_ERRORS 25

/*  A task while the plan is parsed: where its dependencies were written. */
typedef struct {
    sw_plan_task_t t;
    int           *dep_line, *dep_col;  /*  per entry of t.task.after; 0 = implied */
    bool           deps_given;
} sw_plan_entry_t;

/*  The tasks by id, sorted, for lookups in O(log n): a plan of 100,000
 *  stages is checked and ordered in well under a second (a scan per
 *  lookup and a quadratic sort took hours). */
typedef struct {
    const char *id;
    size_t      i;
} sw_plan_idx_t;

typedef struct {
    const char      *file;
    yaml_document_t *doc;
    sw_strv_t       *errors;
    sw_plan_t       *plan;
    sw_plan_entry_t *v;
    size_t           n, cap;
    sw_plan_idx_t   *idx;       /*  while sw_plan_check runs */
    size_t           nidx;
} sw_plan_ctx_t;

/*  Appends "FILE:LINE:COL: message" to c->errors; after SW_PLAN_MAX_ERRORS
 *  errors one "(more errors not shown)" line and nothing more. */
void sw_plan_err_at(sw_plan_ctx_t *c, int line, int col, const char *fmt, ...) SW_PRINTF(4, 5);

/*  Validates every task (ids, runners, dependencies: unknown, self, cycles
 *  found without recursion) and orders c->v so each task comes after what it
 *  depends on, file order otherwise. commands: entries are from a command
 *  list (no YAML positions for dependencies). Errors go to c->errors. */
void sw_plan_check(sw_plan_ctx_t *c, bool commands);

/*  Moves c's entries into c->plan (ownership passes) / frees them. */
void sw_plan_ctx_to_plan(sw_plan_ctx_t *c);
void sw_plan_ctx_drop(sw_plan_ctx_t *c);

#endif
