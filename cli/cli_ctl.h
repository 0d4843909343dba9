/*  cli_ctl -- what the files of the swarm-ctl module (the commands that
 *  talk to the coordinator) share. */
#ifndef CLI_CTL_H
#define CLI_CTL_H

#include "cli.h"
#include "sw_proto.h"

/*  One request/reply with the coordinator. 0 with *reply filled (release
 *  it), or an exit code after printing why. A request too big for the
 *  coordinator's frame cap is refused here (exit 2), instead of being
 *  dropped by it and waited for in vain. */
int cli_request(cli_t *cli, int cmd, const msgpack_sbuffer *body, int timeout_ms,
                sw_msg_t *reply);

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

#endif
