/*  The swarm CLI: shared state and helpers of the command modules. */
#ifndef CLI_H
#define CLI_H

#include <jansson.h>

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
    void       *sock;           /*  zsock_t DEALER to the control socket (module only) */
    void       *monitor;        /*  zsock_t PAIR: sock's failed handshakes */
    sw_redis_t *redis;          /*  lazily */
} cli_t;

/*  Prints "swarm: ..." on stderr and returns code. */
int cli_fail(int code, const char *fmt, ...) SW_PRINTF(2, 3);

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

int cli_results(cli_t *cli, int argc, char **argv);
int cli_logs(cli_t *cli, int argc, char **argv);
int cli_memory(cli_t *cli, int argc, char **argv);
int cli_mcp(cli_t *cli, int argc, char **argv);

#endif
