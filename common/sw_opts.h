/*  sw_opts -- table-driven options for the daemons.
 *
 *  One table drives the command line (getopt_long), the config file given
 *  with -c FILE ("name = value" lines, the same names as the long options,
 *  '#' comments) and --help. In a file, "LIST.NAME = VALUE" for a list
 *  option adds "NAME=VALUE" to it (`price.o3 = 2, 0.5, 8` is `--price
 *  o3=2, 0.5, 8`). Precedence: the defaults the caller put in
 *  the struct < the file < the command line.
 */
#ifndef SW_OPTS_H
#define SW_OPTS_H

#include <stddef.h>
#include <stdio.h>

#include "sw_mpack.h"

typedef enum {
    SW_OPT_FLAG,                /*  bool, no argument */
    SW_OPT_STR,                 /*  char *, the last one wins */
    SW_OPT_INT,                 /*  long long in [min, max] */
    SW_OPT_LIST,                /*  sw_strv_t, repeatable */
} sw_opt_kind_t;

typedef struct {
    const char   *name;
    int           short_opt;    /*  0 when it has none */
    sw_opt_kind_t kind;
    size_t        offset;       /*  of the field in the caller's struct */
    long long     min, max;
    const char   *arg;          /*  metavariable for --help */
    const char   *help;
} sw_opt_t;

/*  A check of each value of the list option NAME (0, or -1 with err), run
 *  as it is parsed, so a refusal names the option or the config file's
 *  line it came from. At most 8 such checks per process; set before
 *  sw_opts_parse. */
typedef int (sw_opt_check_fn)(const char *value, sw_err_t *err);
void sw_opts_set_check(const char *name, sw_opt_check_fn *fn);

/*  Returns 0; 1 after printing --help or --version; -1 with err on bad
 *  input (unknown option, bad value, unreadable file with line number). */
int  sw_opts_parse(const sw_opt_t *table, void *conf, int argc, char **argv,
                   const char *usage_head, sw_err_t *err);
void sw_opts_usage(FILE *f, const char *usage_head, const sw_opt_t *table);

int sw_opts_test(bool verbose);

#endif
