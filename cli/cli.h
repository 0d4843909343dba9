/*  The swarm CLI: shared state and helpers of the command modules. */
#ifndef CLI_H
#define CLI_H

#include <jansson.h>

#include "sw_proto.h"
#include "sw_redis.h"

/*  Exit codes: DESIGN.md section 6. */
enum {
    EXIT_OK = 0, EXIT_TASKS_FAILED = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3,
    EXIT_NOT_FOUND = 4, EXIT_TIMEOUT = 124,
};

typedef struct {
    const char *coordinator;
    const char *redis_url;
    bool        json;
    int         timeout_ms;     /*  for one request to the coordinator */
    zsock_t    *sock;           /*  DEALER to the control socket, lazily */
    sw_redis_t *redis;          /*  lazily */
} cli_t;

/*  Prints "swarm: ..." on stderr and returns code. */
int cli_fail(int code, const char *fmt, ...) SW_PRINTF(2, 3);

/*  One request/reply with the coordinator. 0 with *reply filled (release
 *  it), or an exit code after printing why. */
int cli_request(cli_t *cli, int cmd, const msgpack_sbuffer *body, int timeout_ms,
                sw_msg_t *reply);
/*  Redis, connected on first use; NULL after printing why (exit 3). */
sw_redis_t *cli_redis(cli_t *cli);
/*  The job to act on: the flag, else Redis's current job. Caller frees. */
char *cli_current_job(cli_t *cli, const char *flag);

json_t *cli_mp_to_json(const msgpack_object *o);
void    cli_print_json(json_t *j);        /*  one document on stdout; decrefs */
/*  "1.2s", "3m04s", ... */
void    cli_duration(int64_t ms, char *out, size_t n);

int cli_init(cli_t *cli, int argc, char **argv);
int cli_spawn(cli_t *cli, int argc, char **argv);
int cli_wait(cli_t *cli, int argc, char **argv);
int cli_status(cli_t *cli, int argc, char **argv);
int cli_agents(cli_t *cli, int argc, char **argv);
int cli_cancel(cli_t *cli, int argc, char **argv);
int cli_results(cli_t *cli, int argc, char **argv);
int cli_logs(cli_t *cli, int argc, char **argv);
int cli_memory(cli_t *cli, int argc, char **argv);

#endif
