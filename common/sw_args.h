/*  sw_args -- the command-line scanner of every swarm program.
 *
 *  getopt_long cannot say which argument was wrong: in a cluster such as
 *  "-1 + 2 = ?" it reports the previous element (issue 14: `swarm spawn
 *  --id x1 "-1 + 2 = ?"` said "unknown option or missing value 'x1'").
 *  This scanner follows the same conventions and names the offending
 *  token in every error:
 *
 *    --name VALUE, --name=VALUE    an option with a value; the value is the
 *                                  next element whatever it looks like, so
 *                                  `--prompt "-1 + 2"` works
 *    --na                          an unambiguous prefix of a long name
 *    -f, -fv, -n NS, -nNS, -fnNS   short options and clusters of them
 *    -                             a positional (stdin, by convention)
 *    --                            the end of options: what follows is
 *                                  positional, or left to the caller
 *                                  (SW_ARGS_REST: a task's argv)
 *
 *  Options and positionals may be mixed (GNU permutation) unless
 *  SW_ARGS_IN_ORDER stops at the first positional (the dispatcher, whose
 *  first positional is the command). Pure: no I/O, no global state.
 */
#ifndef SW_ARGS_H
#define SW_ARGS_H

#include <stdbool.h>

typedef struct {
    const char *name;           /*  long name, without "--"; NULL ends the table */
    int         short_opt;      /*  0 when it has none */
    bool        has_arg;
    int         id;             /*  what sw_args_next returns for it (> 0, not '?') */
} sw_arg_t;

enum {
    SW_ARGS_IN_ORDER = 1 << 0,  /*  stop at the first positional */
    SW_ARGS_REST = 1 << 1,      /*  stop at "--"; rest is what follows it */
};

typedef struct {
    const sw_arg_t *table;
    int             argc;
    char          **argv;       /*  argv[0] is the program or verb: skipped */
    int             flags;
    const char     *hint;       /*  appended to "unknown option" errors, or NULL */
    /*  scanner state */
    int             i;          /*  next element */
    const char     *cluster;    /*  rest of a short-option cluster */
    /*  results */
    const char     *arg;        /*  value of the option just returned, or NULL */
    const char     *token;      /*  the element that held it ("-fn" for -n) */
    char          **pos;        /*  positionals, in order (pointers into argv) */
    int             npos;
    int             rest;       /*  SW_ARGS_REST: the index after "--";
                                    SW_ARGS_IN_ORDER: the first positional's
                                    (not consumed); argc when none */
    bool            dashdash;   /*  "--" was given */
    char            err[512];   /*  why sw_args_next returned '?' */
} sw_args_t;

/*  Starts a scan of argv[1..argc-1]. Release with sw_args_release. */
void sw_args_init(sw_args_t *g, const sw_arg_t *table, int argc, char **argv, int flags);
void sw_args_release(sw_args_t *g);
/*  The next option's id (g->arg holds its value), -1 at the end (g->pos
 *  and g->rest are then complete), or '?' with g->err naming the token:
 *  unknown option, ambiguous prefix, missing value, value given to a flag. */
int  sw_args_next(sw_args_t *g);

int sw_args_test(bool verbose);

#endif
