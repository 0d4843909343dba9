/*  sw_render -- codex's and claude's event streams as lines a person reads.
 *
 *  `codex exec --json` prints one JSON event per line (thread.started,
 *  turn.*, item.started/updated/completed of commands, file changes,
 *  messages, reasoning, tool calls, plans, errors); `claude -p
 *  --output-format stream-json --verbose` prints its messages (system
 *  init, assistant text and tool_use, user tool_result, the result).
 *  `swarm logs`, `swarm wait` and the dashboard show them as short
 *  progress lines:
 *
 *    $ make -j4                       a command starts (bash -lc unwrapped)
 *      exit 2: make: *** Error 2      it ended (the last line of its output
 *                                     when it failed)
 *    edit src/auth.c (update)         files changed
 *    said: I added the handler ...    a message (at most 10 lines)
 *    thinking: checking the tests     reasoning (its first line)
 *    tool swarm.memory_store          an MCP or other tool call
 *    tokens: 1200 in (200 cached), 34 out
 *    done: success, 3 turns, 110 in / 22 out tokens, $0.0123
 *
 *  Pure: no state between lines (a tool's result is shown on its own
 *  line), so any line of a stream renders the same wherever a reader
 *  starts. Lines that are not events (a CLI's own messages, an exec
 *  task's output) pass unchanged; an event of a type this code does not
 *  know shows as "[TYPE]"; events only a machine needs (turn.started, a
 *  message's partial updates) show nothing. Rendered lines are cut at
 *  SW_RENDER_WIDTH bytes on a character boundary.
 */
#ifndef SW_RENDER_H
#define SW_RENDER_H

#include "sw_util.h"

#define SW_RENDER_WIDTH 240

/*  Appends the lines (each ending in '\n') that stand for line[0..len) of
 *  a task of runner (codex, claude, exec) to out; returns how many (0: the
 *  event shows nothing). */
size_t sw_render_line(const char *runner, const char *line, size_t len, sw_buf_t *out);

/*  Whether runner's stdout is an event stream that sw_render_line renders
 *  (codex, claude). */
bool sw_render_events(const char *runner);

int sw_render_test(bool verbose);

#endif
