/*  coord_web -- the coordinator's read-only dashboard (--http ADDR).
 *
 *  One HTML page compiled into the binary (coordinator/web/dashboard.html:
 *  inline CSS and JS, no external assets, every id, label and output line
 *  set as text, never as HTML), its JSON endpoints, and a server-sent
 *  event stream that pushes what changed. The JSON documents are the CLI's
 *  own (`swarm status --json`, `swarm agents --json`, `swarm results
 *  --json`), built by the same code:
 *
 *    GET /                          the page
 *    GET /api/status[?job=J]        = swarm status --json [--job J]
 *    GET /api/agents                = swarm agents --json
 *    GET /api/results?job=J         = swarm results --json --job J (streamed)
 *    GET /api/jobs                  the jobs in memory with their progress
 *    GET /api/output?job=J&task=ID[&since=CURSOR]   a task's output, a page
 *                                   of lines from CURSOR on (coord_web_output)
 *    GET /api/events[?job=J]        server-sent events: agents, jobs, status
 *                                   (of J) when they change, tick every push
 *
 *  Everything runs on the coordinator's loop (sw_http); the pushes are made
 *  from its sweep timer, at most every PUSH_MS.
 */
#ifndef COORD_WEB_H
#define COORD_WEB_H

#include "sw_util.h"

typedef struct coord_web_t coord_web_t;
typedef struct coord_server_t coord_server_t;

/*  Binds the dashboard. NULL with err: SW_EINVAL for a bad address, a bad
 *  token file, or a non-loopback address without --http-token-file. */
coord_web_t *coord_web_new(coord_server_t *server, const char *addr, const char *token_file,
                           sw_err_t *err);
void coord_web_destroy(coord_web_t **self_p);
const char *coord_web_url(const coord_web_t *self);
/*  From the sweep timer: pushes what changed to the event streams. */
void coord_web_tick(coord_web_t *self, int64_t now_ms);

#endif
