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
/*  The exit code of a failed Redis read (err from sw_redis): 3 when Redis
 *  is unreachable (an outage), 4 when what was asked for is not there, 1
 *  when Redis refused the command (WRONGTYPE, OOM ...: an error reply is
 *  not an outage). */
int cli_redis_exit(const sw_err_t *err);
/*  Writes s[0..n) to f: as it is, or with tty (f is a terminal and the
 *  user did not ask for the raw bytes) line by line through
 *  sw_term_sanitize, so what a task or a peer wrote is shown, never
 *  obeyed by the terminal (escapes, control bytes). Newlines pass. */
void cli_term_write(FILE *f, bool tty, const char *s, size_t n);

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

/*  Workspaces (cli_ws.c). --workspace's snapshot of dir for job: out
 *  filled (caller releases), *prefix (may be NULL) the directory's path
 *  below the work tree's top, or NULL at the top. 0, or an exit code after
 *  printing why. */
typedef struct {
    const char *dir;            /*  --workspace */
    const char *repo_url;       /*  --repo-url */
    uint64_t    max_snapshot;   /*  --max-snapshot; 0: the default */
    uint64_t    max_file;       /*  --max-file; 0: the default */
} cli_ws_opts_t;

/*  The options init, spawn and run share, for their sw_args tables. */
enum { CLI_WS_WORKSPACE = 1000, CLI_WS_REPO_URL, CLI_WS_MAX_SNAPSHOT, CLI_WS_MAX_FILE };
#define CLI_WS_ARGS \
    { "workspace", 0, true, CLI_WS_WORKSPACE }, { "repo-url", 0, true, CLI_WS_REPO_URL }, \
    { "max-snapshot", 0, true, CLI_WS_MAX_SNAPSHOT }, { "max-file", 0, true, CLI_WS_MAX_FILE }
#define CLI_WS_CASES \
    case CLI_WS_WORKSPACE: case CLI_WS_REPO_URL: case CLI_WS_MAX_SNAPSHOT: case CLI_WS_MAX_FILE
#define CLI_WS_USAGE \
    "--workspace DIR runs the tasks on a snapshot of the git work tree DIR (HEAD\n" \
    "plus uncommitted changes, untracked files too, ignored ones not), sent to the\n" \
    "agents through Redis; --repo-url URL makes the agents fetch HEAD from URL\n" \
    "instead and sends only the uncommitted part. --max-snapshot SIZE (default\n" \
    "1G) and --max-file SIZE (default 100M) bound what is sent.\n"
/*  Takes one of them: 0, or an exit code after printing why. */
int  cli_ws_option(const char *cmd, int c, const char *arg, cli_ws_opts_t *o);
int  cli_ws_snapshot(cli_t *cli, const char *job, const char *dir, const cli_ws_opts_t *o,
                     sw_task_ws_t *out, char **prefix);
/*  The workspaces of a compiled plan for job: the job's (o->dir, else the
 *  plan's workspace: key) into job_ws, each task's own into its spec.
 *  Directories in the plan are relative to plan_file's directory (NULL or
 *  "-": here); each distinct one is snapshot once. 0, or an exit code. */
int  cli_ws_plan(cli_t *cli, void *plan, const char *job, const char *plan_file,
                 const cli_ws_opts_t *o, sw_task_ws_t *job_ws);
/*  "+12 -3 (4 files)", "no change", or "" without a workspace. */
void cli_ws_stat_text(const json_t *result, char *out, size_t n);
int  cli_diff(cli_t *cli, int argc, char **argv);
int  cli_apply(cli_t *cli, int argc, char **argv);
int  cli_outputs(cli_t *cli, int argc, char **argv);
int  cli_purge(cli_t *cli, int argc, char **argv);

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
