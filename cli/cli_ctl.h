/*  cli_ctl -- what the files of the swarm-ctl module share: requests to
 *  the coordinator's control socket (docs/protocol.md) and the verbs that
 *  call one another (run waits and reports through wait and results).
 *  Only the module (linked with ZeroMQ) includes this.
 */
#ifndef CLI_CTL_H
#define CLI_CTL_H

#include "cli.h"
#include "sw_proto.h"

/*  A request body under construction (a msgpack map). */
typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer  pk;
} cli_req_t;

void cli_req_init(cli_req_t *r);
/*  One request/reply with the coordinator (connecting on first use).
 *  0 with *reply filled (sw_msg_release it), or an exit code after
 *  printing why (cli_last_error holds it): 3 unreachable, or the code the
 *  coordinator's error reply carries (2 usage, 4 not found). */
int  cli_request(cli_t *cli, int cmd, const msgpack_sbuffer *body, int timeout_ms,
                 sw_msg_t *reply);
/*  cli_request with lost_fails (swarm wait): a connection that closes
 *  before the reply came ends the request at once, exit 3 with *lost true
 *  and nothing printed, so the caller asks again; else as cli_request. */
int  cli_request_closing(cli_t *cli, int cmd, const msgpack_sbuffer *body, int timeout_ms,
                         sw_msg_t *reply, bool lost_fails, bool *lost);
/*  The same, consuming r. */
int  cli_call(cli_t *cli, int cmd, cli_req_t *r, int timeout_ms, sw_msg_t *reply);
/*  Closes the connection (and its handshake monitor). A long-lived caller
 *  (swarm mcp --control) calls it after a request failed, so that a reply
 *  that arrives late can never be taken for the next request's. */
void cli_disconnect(cli_t *cli);
/*  One WAIT: job (NULL: current), ids (none: every task), how long the
 *  coordinator may hold it (ms), the cursor (-1: list every task). */
int  cli_wait_call(cli_t *cli, const char *job, char **ids, int nids, int64_t max_ms,
                   int64_t since, sw_msg_t *reply);

/*  INIT: creates or updates job (NULL: a generated name) and makes it the
 *  current job; NULL fields and max_agents < 0 leave settings alone. */
int  cli_init_call(cli_t *cli, const char *job, const char *topology, const char *strategy,
                   const char *ns, long long max_agents, sw_msg_t *reply);
/*  The same with the job's workspace (NULL: left alone). */
int  cli_init_ws_call(cli_t *cli, const char *job, const char *topology, const char *strategy,
                      const char *ns, long long max_agents, const sw_task_ws_t *ws,
                      sw_msg_t *reply);
/*  The job's budget (issue 18): micro-dollars and tokens (-1: not given),
 *  on_budget stop|finish (NULL: not given). option takes swarm init's
 *  --max-cost-usd ('C'), --max-tokens ('K'), --on-budget ('B'); pack adds
 *  its three INIT fields; call sends an INIT of JOB with them alone. */
typedef struct {
    int64_t     micro, tokens;
    const char *on_budget;
} cli_budget_t;
int  cli_budget_option(const char *cmd, int c, const char *arg, cli_budget_t *b);
void cli_budget_pack(msgpack_packer *pk, const cli_budget_t *b);
int  cli_budget_call(cli_t *cli, const char *job, const cli_budget_t *b, sw_msg_t *reply);
/*  CANCEL of ids of job (none: the whole job; job NULL: the current one). */
int  cli_cancel_call(cli_t *cli, const char *job, char **ids, int nids, sw_msg_t *reply);

/*  Fields of a reply map: "" and 0 when absent or of another type. */
const char *cli_mp_str(const msgpack_object *map, const char *key, char *buf, size_t n);
int64_t     cli_mp_int(const msgpack_object *map, const char *key);

/*  Builds the request for the page of a listing that starts at offset
 *  (STATUS, or WAIT without a cursor). */
typedef void (cli_page_req_fn)(msgpack_packer *pk, void *arg, int64_t offset);

/*  Asks for every page of a listing and prints it as one JSON document on
 *  stdout, streamed: the first reply's fields (but offset and next), then
 *  "tasks" with the rows of every page, then the members of tail (may be
 *  NULL; consumed). A 1,000,000-task listing is never held whole. max_rows
 *  (> 0) stops after that many rows. 0, or an exit code after printing
 *  why (the document is then cut short). */
int cli_print_listing(cli_t *cli, int cmd, cli_page_req_fn *build, void *arg, int64_t max_rows,
                      json_t *tail);

/*  The most prompt bytes one SUBMIT carries: the coordinator's frame cap
 *  (SW_MAX_FRAME, 8 MiB) less room for the rest of the task. */
#define CLI_MAX_PROMPT ((unsigned) SW_MAX_FRAME - (1u << 20))
/*  The most bytes of a request body: a bigger message makes the
 *  coordinator's socket drop the connection (ZMQ_MAXMSGSIZE), which looks
 *  like a coordinator that does not answer. */
#define CLI_MAX_REQUEST ((size_t) SW_MAX_FRAME - (64u << 10))
/*  The bytes task takes in a SUBMIT (sw_task_pack). */
size_t cli_task_packed_size(const sw_task_t *t);

/*  Reads a prompt from path ("-": stdin) into *out (caller frees): text
 *  without NUL bytes, at most CLI_MAX_PROMPT bytes. -1 with err naming
 *  the file and why. */
int cli_read_prompt(const char *path, char **out, sw_err_t *err);
/*  Stores "NS/KEY=VALUE" in memory (spawn --context). -1 with err:
 *  SW_EINVAL for a bad item, SW_EUNREACH when Redis is away (printed). */
int cli_store_context(cli_t *cli, const char *item, sw_err_t *err);
/*  SUBMIT of n tasks to job (NULL: the current job); all or nothing. A
 *  task's ns "results" is dropped so the job's namespace applies. Tasks
 *  over CLI_MAX_REQUEST together are exit 2, sent nowhere. */
int cli_submit(cli_t *cli, const char *job, sw_task_t *tasks, size_t n, int timeout_ms,
               sw_msg_t *reply);

/*  "a,b,c" into sv (empty items skipped). */
void cli_split_commas(const char *s, sw_strv_t *sv);
/*  K=V into kv; exit 2 after printing why ("CMD: OPT wants K=V"). */
int  cli_kv_arg(const char *cmd, const char *opt, const char *arg, sw_kv_t *kv);

/*  One line of a task summary (status id agent time attempt reason), and
 *  a reply's counts as "2 succeeded, 1 failed". */
void cli_task_line(const msgpack_object *t, int64_t now_wall);
void cli_counts_text(const msgpack_object *body, char *out, size_t n);

/*  swarm wait on a terminal: draws the WAIT reply body (its counts and,
 *  under them, its running tasks with their latest live output line) over
 *  the *drawn lines drawn before; the cursor stays at the end of the last
 *  line (cli_wait_tty.c). */
void cli_wait_draw(cli_t *cli, const msgpack_object *body, int64_t elapsed_ms, int *drawn);

/*  The verbs (swarm VERB ...), each in the file of its kind. */
int cli_wait(cli_t *cli, int argc, char **argv);
int cli_run(cli_t *cli, int argc, char **argv);
int cli_status(cli_t *cli, int argc, char **argv);
int cli_agents(cli_t *cli, int argc, char **argv);
int cli_drain(cli_t *cli, int argc, char **argv);
int cli_keygen(cli_t *cli, int argc, char **argv);
int cli_cancel(cli_t *cli, int argc, char **argv);

#endif
