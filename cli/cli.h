/*  The swarm CLI: shared state and helpers of the command modules. */
#ifndef CLI_H
#define CLI_H

#include <jansson.h>

#include "sw_args.h"
#include "sw_keys.h"
#include "sw_memory.h"
#include "sw_task.h"

/*  Exit codes: DESIGN.md section 6. */
enum {
    EXIT_OK = 0, EXIT_TASKS_FAILED = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3,
    EXIT_NOT_FOUND = 4, EXIT_TIMEOUT = 124,
};

typedef struct {
    const char *coordinator;
    const char *redis_url;
    const char *curve_secret;   /*  our certificate, for a CURVE control socket */
    const char *coordinator_key;    /*  the coordinator's public certificate */
    bool        json;
    bool        quiet;          /*  wait prints nothing on stdout (run --json --wait) */
    int         timeout_ms;     /*  for one request to the coordinator */
    int         wait_running;   /*  WAIT lists up to this many running tasks too */
    void       *sock;           /*  zsock_t DEALER to the control socket (module only) */
    void       *monitor;        /*  zsock_t PAIR: sock's failed handshakes */
    sw_redis_t *redis;          /*  lazily */
} cli_t;

/*  Prints "swarm: ..." on stderr and returns code. */
int cli_fail(int code, const char *fmt, ...) SW_PRINTF(2, 3);

/*  The last message cli_fail printed (without "swarm: "), for callers that
 *  hand it on: the MCP control tools return it as their tool error. */
const char *cli_last_error(void);
void        cli_clear_error(void);

/*  A verb's options (common/sw_args: every error names the offending
 *  element). Every verb also takes --json (sets cli->json, also after the
 *  verb) and -h/--help, which cli_args_next returns as 'h'. On a bad
 *  option it prints "swarm: VERB: why (see swarm VERB --help)" and
 *  returns '?'; the caller exits EXIT_USAGE. */
typedef struct {
    sw_args_t   g;
    cli_t      *cli;
    const char *verb;
    sw_arg_t   *table;          /*  the verb's, plus json and help */
} cli_args_t;

void cli_args_init(cli_args_t *a, cli_t *cli, const char *verb, const sw_arg_t *table,
                   int argc, char **argv, int flags);
int  cli_args_next(cli_args_t *a);
void cli_args_release(cli_args_t *a);

/*  Redis, connected on first use; NULL after printing why (exit 3). */
sw_redis_t *cli_redis(cli_t *cli);
/*  The job to act on: the flag, else Redis's current job. Caller frees. */
char *cli_current_job(cli_t *cli, const char *flag);

json_t *cli_mp_to_json(const msgpack_object *o);
void    cli_print_json(json_t *j);        /*  one document on stdout; decrefs */
/*  "1.2s", "3m04s", ... */
void    cli_duration(int64_t ms, char *out, size_t n);

/*  The coordinator commands (init spawn wait status agents cancel) live in
 *  the module swarm-ctl.so, which links ZeroMQ; the binary loads it only
 *  for them. Returns -1 when cmd is not one of them. */
typedef int (*cli_ctl_run_fn)(cli_t *cli, const char *cmd, int argc, char **argv);
#define CLI_CTL_SYMBOL "swarm_ctl_run"
int swarm_ctl_run(cli_t *cli, const char *cmd, int argc, char **argv);
/*  A symbol of swarm-ctl.so, loaded on first use (the binary only); NULL
 *  after printing why. */
void *cli_ctl_symbol(const char *name);

/*  The control tools of `swarm mcp --control` (swarm_init, swarm_spawn,
 *  ...), in swarm-ctl.so because they talk to the coordinator; the memory
 *  tools stay in the binary. open returns the tools' definitions (a JSON
 *  array: name, description, inputSchema), which the server publishes and
 *  checks arguments against before call. call returns the result (a JSON
 *  object), or NULL with why in err: the message the CLI prints for the
 *  same failure. close drops the connection. */
typedef struct {
    json_t *(*open)(cli_t *cli);
    json_t *(*call)(cli_t *cli, const char *tool, json_t *args, char *err, size_t errlen);
    void    (*close)(cli_t *cli);
} cli_mcp_ctl_t;
#define CLI_MCP_CTL_SYMBOL "swarm_mcp_ctl"

int cli_results(cli_t *cli, int argc, char **argv);
/*  Every task of job as `results --json` prints them (an array), or NULL
 *  with *code an exit code after printing why. */
json_t *cli_results_docs(cli_t *cli, const char *job, int *code);
/*  One task's document as `logs --json` prints it: its result with the
 *  coordinator's status, attempt and reason, output null when there is
 *  none yet; then "live", the last live_tail lines the running attempt
 *  printed (all with -1, none with 0), rendered unless raw. NULL with
 *  *code after printing why. */
json_t *cli_logs_doc(cli_t *cli, const char *job, const char *id, long long live_tail,
                     bool raw, int *code);
int cli_logs(cli_t *cli, int argc, char **argv);
/*  The latest activity of running tasks: for ids[i] (attempt attempts[i],
 *  runner runners[i]) of job, lines[i] gets the newest line its live
 *  output shows (rendered; caller frees) or NULL. One round trip. -1 when
 *  Redis is away (lines all NULL). */
int cli_live_activity(cli_t *cli, const char *job, char *const *ids, const long long *attempts,
                      const char *const *runners, size_t n, char **lines);
int cli_events(cli_t *cli, int argc, char **argv);
/*  `swarm status [--job JOB] ID`: the task as Redis has it and its last
 *  events (jobflag NULL: the current job). An exit code. */
int cli_task_status(cli_t *cli, const char *jobflag, const char *id);
int cli_memory(cli_t *cli, int argc, char **argv);
int cli_mcp(cli_t *cli, int argc, char **argv);

#endif
