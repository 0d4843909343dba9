/*  agent_output -- a run's live output cut into the entries of its stream.
 *
 *  The child's stdout and stderr come in as bytes; what leaves are entries
 *  of the attempt's Redis stream (agent_live ships them): each entry holds
 *  a small batch of whole lines of one stream, joined by '\n', and how
 *  many lines were dropped before them. Nothing here does I/O or reads a
 *  clock: the caller passes the time, so the rules below are unit-tested.
 *
 *  Rules (docs/design.md, decisions for issue 17):
 *  - a batch goes out flush_ms after its first line, or when it is full
 *    (batch_max bytes), or at the end;
 *  - a line longer than line_max is shortened: a JSON event (json_events,
 *    stdout of codex and claude) has its long strings cut so that it stays
 *    one valid JSON document; anything else keeps its first line_max bytes
 *    and says how many it lost. A line waits at most partial_ms for its
 *    newline, then goes as it is;
 *  - a run has two budgets, bytes (rate_bytes per second, up to
 *    burst_bytes) and entries (rate_entries per second, up to
 *    burst_entries). A line the byte budget cannot pay for, or that does
 *    not fit a full batch no entry can carry yet, is dropped and counted;
 *    the next entry of that stream says how many lines (and bytes) were
 *    dropped before its own, and while everything is dropped an entry
 *    with only that count goes out every second, so a reader sees
 *    "[... N lines dropped ...]" during a flood, not after it.
 *  Memory per run is bounded: a buffer per stream (its batch and the line
 *  being read: two batches and a line; more only for a JSON event kept
 *  whole), and the entries ready to ship, which the entry budget bounds.
 *
 *  Copies (issue 20, docs/design.md "Decisions for issue 20 (live output
 *  copies)"): a line is read into its stream's buffer once, where it
 *  becomes part of the batch without moving, and the buffer keeps `room`
 *  bytes before each batch and two after it, so that the caller writes
 *  the entry's command around its lines in place (agent_live_frame).
 */
#ifndef AGENT_OUTPUT_H
#define AGENT_OUTPUT_H

#include "sw_util.h"

enum { AGENT_OUT = 0, AGENT_ERR = 1 };

typedef struct {
    size_t  line_max;           /*  bytes of one stored line */
    size_t  json_max;           /*  bytes of a JSON event kept whole to be shortened */
    size_t  batch_max;          /*  bytes of one entry's lines */
    int64_t flush_ms;           /*  a batch waits at most this long */
    int64_t partial_ms;         /*  a line without its newline waits at most this long */
    double  rate_bytes;         /*  per second */
    double  burst_bytes;
    double  rate_entries;       /*  per second */
    double  burst_entries;
    bool    json_events;        /*  stdout is a JSON event stream (codex, claude) */
    size_t  room;               /*  bytes kept free before each entry's lines */
} agent_output_conf_t;

/*  The defaults of the agent (agent_live.h documents them). */
agent_output_conf_t agent_output_defaults(bool json_events);

/*  One entry to ship. data[0..len) holds the lines joined by '\n' (no
 *  newline at the end, not NUL-terminated). data is NULL (len 0) for an
 *  entry that only reports a drop; otherwise the conf's room bytes
 *  before data and the two bytes after data+len are the caller's to
 *  write (the two after may hold the start of the next line: the caller
 *  puts them back before its next call on the output). An entry is
 *  either owned (mem, freed by release) or a view of the stream's buffer
 *  (mem NULL), valid until the next call on the output. */
typedef struct {
    int      stream;            /*  AGENT_OUT or AGENT_ERR */
    int64_t  wall_ms;           /*  when its first line (or drop) came */
    char    *data;
    size_t   len;
    char    *mem;               /*  what release frees; NULL: a view */
    uint64_t lines;
    uint64_t dropped_lines;     /*  lost before these lines */
    uint64_t dropped_bytes;
} agent_entry_t;

void agent_entry_release(agent_entry_t *e);

typedef struct agent_output_t agent_output_t;

agent_output_t *agent_output_new(const agent_output_conf_t *conf, int64_t now_ms);
void agent_output_destroy(agent_output_t **self_p);

/*  Bytes the child wrote on stream (AGENT_OUT, AGENT_ERR); now_ms is the
 *  monotonic clock, wall_ms the wall clock (entries carry it). */
void agent_output_feed(agent_output_t *self, int stream, const char *data, size_t n,
                       int64_t now_ms, int64_t wall_ms);

/*  The next entry due now (a batch older than flush_ms, a full one, a
 *  drop report), moved into *e (caller releases); false when none is due
 *  or the entry budget has none left. With end, every pending partial
 *  line and batch is due and the entry budget no longer applies (the run
 *  is over: what is left is bounded by two batches). */
bool agent_output_next(agent_output_t *self, int64_t now_ms, int64_t wall_ms, bool end,
                       agent_entry_t *e);

/*  An entry taken from next could not be shipped (Redis away, too much
 *  pending): its lines count as dropped, and the next entry of its
 *  stream reports them. */
void agent_output_lost(agent_output_t *self, const agent_entry_t *e, int64_t now_ms);

/*  Totals so far: lines shipped in entries, lines dropped (reported or
 *  not yet). */
void agent_output_counts(const agent_output_t *self, uint64_t *lines, uint64_t *dropped);
/*  Bytes of lines moved within or between the streams' buffers so far
 *  (a line still open when its batch was full or its buffer recycled,
 *  a shortened line): the copies beyond the one into the buffer. */
uint64_t agent_output_moved(const agent_output_t *self);

/*  Shortens the JSON document line[0..n) to at most max bytes by cutting
 *  its long strings (each keeps its start and end and says how many bytes
 *  it lost), into out. -1 when it is not a JSON object or still too long
 *  (the caller cuts it as text). */
int agent_output_shorten_json(const char *line, size_t n, size_t max, sw_buf_t *out);

int agent_output_test(bool verbose);

#endif
