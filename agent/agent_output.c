/*  agent_output -- see agent_output.h */
#include "agent_output.h"

#include <jansson.h>
#include <string.h>

#include "sw_selftest.h"

#define DROP_REPORT_MS  1000    /*  while all is dropped, a count this often */
#define CUT_NOTE_MAX    48      /*  room for " [... N bytes cut ...]" */

agent_output_conf_t
agent_output_defaults(bool json_events)
{
    agent_output_conf_t c = {
        .line_max = 8192, .json_max = 1u << 20, .batch_max = 32768, .flush_ms = 50,
        .partial_ms = 1000, .rate_bytes = 128 * 1024, .burst_bytes = 1 << 20,
        .rate_entries = 5, .burst_entries = 50, .json_events = json_events,
    };
    return c;
}

void
agent_entry_release(agent_entry_t *e)
{
    free(e->mem);
    memset(e, 0, sizeof *e);
}

/*  A stream's buffer: [room][the batch's lines, joined by '\n']['\n'][the
 *  line being read]. A line is read into it once and joins the batch
 *  where it is; a batch shipped as a view leaves the next line where it
 *  is too (the batch's room is then the bytes before it). */
typedef struct {
    sw_buf_t buf;               /*  allocated on the stream's first byte */
    size_t   bstart, bend;      /*  the batch's lines: buf.data[bstart..bend) */
    size_t   pstart;            /*  the open line: buf.data[pstart..buf.len) */
    bool     open;              /*  a line has begun (its separator is written) */
    int64_t  partial_since;     /*  monotonic ms of its first byte */
    bool     cutting;           /*  over its cap: the rest of it is skipped */
    uint64_t cut_bytes;
    uint64_t batch_lines;
    int64_t  batch_since;       /*  monotonic ms of its first line; 0: empty */
    int64_t  batch_wall;
    uint64_t pre_lines, pre_bytes;      /*  dropped before the batch's first line */
    uint64_t post_lines, post_bytes;    /*  dropped after it got lines */
    int64_t  drop_since;        /*  monotonic ms of the oldest drop not reported; 0: none */
    int64_t  drop_wall;
    int64_t  last_entry_ms;     /*  monotonic ms of its last entry */
} s_stream_t;

struct agent_output_t {
    agent_output_conf_t conf;
    size_t         cap;         /*  a stream buffer's size: a batch and a line
                                   behind up to a batch of drift, and room */
    uint64_t       moved;       /*  bytes of lines copied a second time */
    s_stream_t     s[2];
    double         bytes_tokens, entry_tokens;
    int64_t        refill_ms;
    agent_entry_t *ready;       /*  closed batches, already paid for */
    size_t         nready, ready_cap;
    uint64_t       lines, dropped;
};

agent_output_t *
agent_output_new(const agent_output_conf_t *conf, int64_t now_ms)
{
    agent_output_t *self = xcalloc(1, sizeof *self);
    self->conf = *conf;
    if (self->conf.line_max < 2 * CUT_NOTE_MAX)
        self->conf.line_max = 2 * CUT_NOTE_MAX;
    if (self->conf.batch_max < self->conf.line_max + 1)
        self->conf.batch_max = self->conf.line_max + 1;
    if (self->conf.json_max < self->conf.line_max)
        self->conf.json_max = self->conf.line_max;
    self->bytes_tokens = conf->burst_bytes;
    self->entry_tokens = conf->burst_entries;
    self->refill_ms = now_ms;
    self->cap = self->conf.room + 2 * self->conf.batch_max + self->conf.line_max + 4;
    for (int i = 0; i < 2; i++) {
        sw_buf_init(&self->s[i].buf);
        self->s[i].bstart = self->s[i].bend = self->s[i].pstart = self->conf.room;
    }
    return self;
}

void
agent_output_destroy(agent_output_t **self_p)
{
    agent_output_t *self = *self_p;
    if (!self)
        return;
    for (int i = 0; i < 2; i++)
        sw_buf_release(&self->s[i].buf);
    for (size_t i = 0; i < self->nready; i++)
        agent_entry_release(&self->ready[i]);
    free(self->ready);
    free(self);
    *self_p = NULL;
}

static void
s_refill(agent_output_t *self, int64_t now)
{
    if (now <= self->refill_ms)
        return;
    double secs = (double) (now - self->refill_ms) / 1000;
    self->refill_ms = now;
    self->bytes_tokens += secs * self->conf.rate_bytes;
    if (self->bytes_tokens > self->conf.burst_bytes)
        self->bytes_tokens = self->conf.burst_bytes;
    self->entry_tokens += secs * self->conf.rate_entries;
    if (self->entry_tokens > self->conf.burst_entries)
        self->entry_tokens = self->conf.burst_entries;
}

/*  --- shortening long lines -------------------------------------------------------- */

/*  Where a cut at n leaves s[0..n) whole UTF-8 characters. */
static size_t
s_head_cut(const char *s, size_t len, size_t n)
{
    if (n >= len)
        return len;
    while (n > 0 && ((unsigned char) s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

/*  Where a tail of about n bytes starts on a character. */
static size_t
s_tail_cut(const char *s, size_t len, size_t n)
{
    size_t p = n >= len ? 0 : len - n;
    while (p < len && ((unsigned char) s[p] & 0xC0) == 0x80)
        p++;
    return p;
}

/*  One member of an object or array: a long string is cut in place (b is
 *  scratch); an object or array goes on the stack while it has room.
 *  Returns the stack's new depth. */
static size_t
s_cut_item(json_t *item, size_t head, size_t tail, sw_buf_t *b, json_t **stack, size_t n)
{
    if (json_is_string(item)) {
        const char *s = json_string_value(item);
        size_t len = json_string_length(item);
        if (len > head + tail + CUT_NOTE_MAX) {
            size_t h = s_head_cut(s, len, head), t = s_tail_cut(s, len, tail);
            sw_buf_reset(b);
            sw_buf_add(b, s, h);
            sw_buf_printf(b, "[... %zu bytes cut ...]", t - h);
            sw_buf_add(b, s + t, len - t);
            json_string_setn(item, b->data, b->len);
        }
    }
    else if ((json_is_object(item) || json_is_array(item)) && n < 64)
        stack[n++] = item;
    return n;
}

/*  Cuts every string of doc over head + tail + the note to its start and
 *  end. A stack, not recursion: jansson bounds the depth (2048) and so do
 *  we, but a document's shape is the child's choice. */
static void
s_cut_strings(json_t *doc, size_t head, size_t tail)
{
    json_t *stack[64];
    size_t n = 0;
    stack[n++] = doc;
    sw_buf_t b;
    sw_buf_init(&b);
    while (n > 0) {
        json_t *v = stack[--n];
        size_t idx = 0;
        const char *key;
        json_t *item;
        if (json_is_object(v)) {
            json_object_foreach(v, key, item)
                n = s_cut_item(item, head, tail, &b, stack, n);
        }
        else if (json_is_array(v)) {
            json_array_foreach(v, idx, item)
                n = s_cut_item(item, head, tail, &b, stack, n);
        }
    }
    sw_buf_release(&b);
}

int
agent_output_shorten_json(const char *line, size_t n, size_t max, sw_buf_t *out)
{
    if (n == 0 || line[0] != '{')
        return -1;
    json_t *doc = json_loadb(line, n, JSON_ALLOW_NUL, NULL);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return -1;
    }
    /*  Long strings first keep 400 + 120 bytes, then 80 + 40. */
    static const size_t keep[2][2] = { { 400, 120 }, { 80, 40 } };
    int rc = -1;
    for (int pass = 0; pass < 2 && rc < 0; pass++) {
        s_cut_strings(doc, keep[pass][0], keep[pass][1]);
        char *s = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
        size_t len = s ? strlen(s) : 0;
        if (s && len <= max) {
            sw_buf_add(out, s, len);
            rc = 0;
        }
        free(s);
    }
    json_decref(doc);
    return rc;
}

/*  --- the stream buffers ----------------------------------------------------------- */

/*  The stream's buffer, allocated at the size that holds its batch and
 *  the next line without a realloc moving them. */
static void
s_buf_ready(agent_output_t *self, s_stream_t *st)
{
    if (st->buf.data)
        return;
    st->buf.data = xmalloc(self->cap);
    st->buf.cap = self->cap;
    st->buf.len = st->bstart = st->bend = st->pstart = self->conf.room;
}

/*  Room for n more bytes and the two an entry's frame ends with: only a
 *  JSON event kept whole (up to json_max) grows the buffer, which may
 *  move what it holds. */
static void
s_fit(agent_output_t *self, s_stream_t *st, size_t n)
{
    s_buf_ready(self, st);
    if (st->buf.len + n + 3 > st->buf.cap) {
        self->moved += st->buf.len - st->bstart;
        sw_buf_reserve(&st->buf, n + 2);
    }
}

static size_t
s_open_len(const s_stream_t *st)
{
    return st->open ? st->buf.len - st->pstart : 0;
}

/*  A line begins: after its separator when the batch has lines. */
static void
s_open(agent_output_t *self, s_stream_t *st)
{
    if (st->open)
        return;
    s_fit(self, st, 1);
    st->buf.len = st->bend;
    if (st->batch_lines)
        st->buf.data[st->buf.len++] = '\n';
    st->pstart = st->buf.len;
    st->open = true;
}

static void
s_open_add(agent_output_t *self, s_stream_t *st, const char *data, size_t n)
{
    s_open(self, st);
    s_fit(self, st, n);
    memcpy(st->buf.data + st->buf.len, data, n);
    st->buf.len += n;
}

/*  The open line is dropped (with its separator). */
static void
s_unopen(s_stream_t *st)
{
    if (st->buf.data)
        st->buf.len = st->bend;
    st->open = false;
}

/*  A batch shipped as a view leaves the open line where it was; once that
 *  is more than a batch into the buffer, the line moves to its front (so
 *  a batch and a line always fit behind it). Only at the start of a call,
 *  when no view can be alive; only a line's bytes, once per batch_max
 *  bytes of lines at most. */
static void
s_settle(agent_output_t *self)
{
    size_t room = self->conf.room;
    for (int i = 0; i < 2; i++) {
        s_stream_t *st = &self->s[i];
        if (st->batch_lines || st->bstart <= room + self->conf.batch_max)
            continue;
        size_t delta = st->bstart - room, n = st->buf.len - st->bstart;
        memmove(st->buf.data + room, st->buf.data + st->bstart, n);
        self->moved += n;
        st->bstart -= delta;
        st->bend -= delta;
        st->pstart -= delta;
        st->buf.len -= delta;
    }
}

/*  --- lines into batches -------------------------------------------------------- */

static void
s_push_ready(agent_output_t *self, agent_entry_t *e)
{
    if (self->nready == self->ready_cap) {
        self->ready_cap = self->ready_cap ? self->ready_cap * 2 : 4;
        self->ready = xrealloc(self->ready, self->ready_cap * sizeof *self->ready);
    }
    self->ready[self->nready++] = *e;
}

/*  The batch of stream i (with the drops before it) as an entry; what was
 *  dropped after its lines is then before the next batch. A view leaves
 *  the buffer to the stream (the entry is shipped before the next call);
 *  otherwise the entry takes the buffer, and an open line moves to a new
 *  one (a batch full before its next line: that line's bytes only). */
static void
s_close(agent_output_t *self, int i, agent_entry_t *e, bool view)
{
    s_stream_t *st = &self->s[i];
    size_t room = self->conf.room;
    memset(e, 0, sizeof *e);
    e->stream = i;
    e->wall_ms = st->batch_lines ? st->batch_wall : st->drop_wall;
    e->lines = st->batch_lines;
    e->dropped_lines = st->pre_lines;
    e->dropped_bytes = st->pre_bytes;
    self->lines += st->batch_lines;
    st->last_entry_ms = self->refill_ms;
    if (st->batch_lines && view) {
        e->data = st->buf.data + st->bstart;
        e->len = st->bend - st->bstart;
        if (st->open)
            st->bstart = st->bend = st->pstart;
        else
            st->bstart = st->bend = st->pstart = st->buf.len = room;
    }
    else if (st->batch_lines) {
        sw_buf_t old = st->buf;
        e->mem = old.data;
        e->data = old.data + st->bstart;
        e->len = st->bend - st->bstart;
        size_t n = s_open_len(st);
        sw_buf_init(&st->buf);
        st->bstart = st->bend = st->pstart = room;
        if (st->open) {
            s_fit(self, st, n);
            memcpy(st->buf.data + room, old.data + (old.len - n), n);
            st->buf.len = room + n;
            self->moved += n;
        }
    }
    st->batch_lines = 0;
    st->batch_since = 0;
    st->pre_lines = st->post_lines;
    st->pre_bytes = st->post_bytes;
    st->post_lines = st->post_bytes = 0;
    if (!st->pre_lines)
        st->drop_since = 0;
}

static void
s_drop(agent_output_t *self, s_stream_t *st, size_t len, int64_t now, int64_t wall)
{
    if (st->batch_lines) {
        st->post_lines++;
        st->post_bytes += len;
    }
    else {
        st->pre_lines++;
        st->pre_bytes += len;
    }
    if (!st->drop_since) {
        st->drop_since = now;
        st->drop_wall = wall;
    }
    self->dropped++;
}

/*  The open line (complete) joins the batch where it is, or is dropped. */
static void
s_accept(agent_output_t *self, int i, int64_t now, int64_t wall)
{
    s_stream_t *st = &self->s[i];
    size_t len = s_open_len(st);
    s_refill(self, now);
    if (self->bytes_tokens < (double) len + 1) {
        s_drop(self, st, len, now, wall);
        s_unopen(st);
        return;
    }
    /*  A full batch, or one that lines were dropped after, goes first, if
     *  an entry can carry it: a drop is reported where it happened. */
    if (st->batch_lines && (st->post_lines || st->bend - st->bstart + 1 + len > self->conf.batch_max)) {
        if (self->entry_tokens < 1) {
            s_drop(self, st, len, now, wall);
            s_unopen(st);
            return;
        }
        self->entry_tokens -= 1;
        agent_entry_t e;
        s_close(self, i, &e, false);
        s_push_ready(self, &e);
    }
    self->bytes_tokens -= (double) len + 1;
    if (!st->batch_lines) {
        st->batch_since = now;
        st->batch_wall = wall;
        st->bstart = st->pstart;
    }
    st->bend = st->buf.len;
    st->open = false;
    st->batch_lines++;
}

/*  The line in partial is complete: shortened if it must be, then into
 *  the batch. */
static void
s_line_done(agent_output_t *self, int i, int64_t now, int64_t wall)
{
    s_stream_t *st = &self->s[i];
    s_open(self, st);                   /*  (an empty line opens here) */
    const char *line = st->buf.data + st->pstart;
    size_t len = s_open_len(st), max = self->conf.line_max;
    if (len > max || st->cutting) {
        sw_buf_t b;
        sw_buf_init(&b);
        bool json = i == AGENT_OUT && self->conf.json_events && !st->cutting;
        if (!json || agent_output_shorten_json(line, len, max, &b) < 0) {
            size_t keep = s_head_cut(line, len, max - CUT_NOTE_MAX);
            sw_buf_reset(&b);
            sw_buf_add(&b, line, keep);
            sw_buf_printf(&b, " [... %llu bytes cut ...]",
                          (unsigned long long) (len - keep + st->cut_bytes));
        }
        st->buf.len = st->pstart;       /*  the shortened line replaces it */
        s_open_add(self, st, b.data, b.len);
        self->moved += b.len;
        sw_buf_release(&b);
    }
    s_accept(self, i, now, wall);
    st->cutting = false;
    st->cut_bytes = 0;
}

void
agent_output_feed(agent_output_t *self, int stream, const char *data, size_t n, int64_t now_ms,
                  int64_t wall_ms)
{
    int i = stream == AGENT_ERR ? AGENT_ERR : AGENT_OUT;
    s_stream_t *st = &self->s[i];
    size_t cap = i == AGENT_OUT && self->conf.json_events ? self->conf.json_max
                                                         : self->conf.line_max;
    s_settle(self);
    while (n > 0) {
        const char *nl = memchr(data, '\n', n);
        size_t seg = nl ? (size_t) (nl - data) : n;
        size_t open = s_open_len(st);
        if (seg && !open && !st->cutting)
            st->partial_since = now_ms;
        if (st->cutting)
            st->cut_bytes += seg;
        else {
            size_t room = cap - open;
            size_t take = seg < room ? seg : room;
            if (take)
                s_open_add(self, st, data, take);
            if (take < seg) {
                st->cutting = true;
                st->cut_bytes = seg - take;
            }
        }
        if (!nl)
            break;
        s_line_done(self, i, now_ms, wall_ms);
        data = nl + 1;
        n -= seg + 1;
    }
}

/*  Whether stream i has an entry due now. */
static bool
s_due(const agent_output_t *self, const s_stream_t *st, int64_t now, bool end)
{
    if (end)
        return st->batch_lines || st->pre_lines || st->post_lines;
    /*  A line after a quiet spell goes at once; lines that follow it
     *  closely wait for company, flush_ms at most. */
    if (st->batch_lines)
        return now - st->batch_since >= self->conf.flush_ms
            || now - st->last_entry_ms >= self->conf.flush_ms;
    return st->pre_lines && now - st->drop_since >= DROP_REPORT_MS;
}

bool
agent_output_next(agent_output_t *self, int64_t now_ms, int64_t wall_ms, bool end,
                  agent_entry_t *e)
{
    s_settle(self);
    if (self->nready) {
        *e = self->ready[0];
        memmove(self->ready, self->ready + 1, --self->nready * sizeof *self->ready);
        return true;
    }
    /*  A line that waited partial_ms for its newline goes as it is, dated
     *  from its first byte (it waited long enough). */
    for (int i = 0; i < 2; i++) {
        s_stream_t *st = &self->s[i];
        if ((s_open_len(st) || st->cutting)
            && (end || now_ms - st->partial_since >= self->conf.partial_ms))
            s_line_done(self, i, end ? now_ms : st->partial_since, wall_ms);
    }
    if (self->nready) {
        *e = self->ready[0];
        memmove(self->ready, self->ready + 1, --self->nready * sizeof *self->ready);
        return true;
    }
    s_refill(self, now_ms);
    /*  The stream whose entry has waited longer goes first. */
    int order[2] = { AGENT_OUT, AGENT_ERR };
    int64_t a = self->s[0].batch_lines ? self->s[0].batch_since : self->s[0].drop_since;
    int64_t b = self->s[1].batch_lines ? self->s[1].batch_since : self->s[1].drop_since;
    if (b && (!a || b < a)) {
        order[0] = AGENT_ERR;
        order[1] = AGENT_OUT;
    }
    for (int k = 0; k < 2; k++) {
        int i = order[k];
        if (!s_due(self, &self->s[i], now_ms, end))
            continue;
        if (!end) {
            if (self->entry_tokens < 1)
                return false;
            self->entry_tokens -= 1;
        }
        s_close(self, i, e, true);
        return true;
    }
    return false;
}

void
agent_output_lost(agent_output_t *self, const agent_entry_t *e, int64_t now_ms)
{
    s_stream_t *st = &self->s[e->stream == AGENT_ERR ? AGENT_ERR : AGENT_OUT];
    /*  They came before whatever the batch holds now. */
    st->pre_lines += e->lines + e->dropped_lines;
    st->pre_bytes += e->len + e->dropped_bytes;
    if (!st->drop_since) {
        st->drop_since = now_ms;
        st->drop_wall = e->wall_ms;
    }
    self->lines -= e->lines;
    self->dropped += e->lines;
}

void
agent_output_counts(const agent_output_t *self, uint64_t *lines, uint64_t *dropped)
{
    *lines = self->lines;
    *dropped = self->dropped;
}

uint64_t
agent_output_moved(const agent_output_t *self)
{
    return self->moved;
}

/*  --- self-test ----------------------------------------------------------------------- */

/*  Takes every entry due at now into a text "S:lines|drop" per entry. */
static void
s_drain(agent_output_t *o, int64_t now, bool end, sw_buf_t *log)
{
    agent_entry_t e;
    while (agent_output_next(o, now, now + 1000000, end, &e)) {
        sw_buf_printf(log, "%s:%.*s", e.stream == AGENT_ERR ? "E" : "O", (int) e.len,
                      e.data ? e.data : "");
        if (e.dropped_lines)
            sw_buf_printf(log, "|-%llu", (unsigned long long) e.dropped_lines);
        sw_buf_addstr(log, ";");
        agent_entry_release(&e);
    }
}

int
agent_output_test(bool verbose)
{
    sw_buf_t log;
    sw_buf_init(&log);
    agent_output_conf_t c = agent_output_defaults(false);

    /*  lines wait flush_ms, a partial line partial_ms; each stream its own */
    agent_output_t *o = agent_output_new(&c, 1000);
    agent_output_feed(o, AGENT_OUT, "a\nb\nc", 5, 1000, 0);    /*  after quiet: at once */
    s_drain(o, 1000, false, &log);
    CHECK(strcmp(log.data, "O:a\nb;") == 0);
    sw_buf_reset(&log);
    agent_output_feed(o, AGENT_ERR, "oops\n", 5, 1010, 0);
    agent_output_feed(o, AGENT_ERR, "oops\n", 5, 1010, 0);
    s_drain(o, 1010, false, &log);
    CHECK(strcmp(log.data, "E:oops\noops;") == 0);
    sw_buf_reset(&log);
    agent_output_feed(o, AGENT_ERR, "more\n", 5, 1020, 0);    /*  10 ms later: waits */
    s_drain(o, 1059, false, &log);
    CHECK(log.len == 0);
    s_drain(o, 1060, false, &log);
    CHECK(strcmp(log.data, "E:more;") == 0);
    sw_buf_reset(&log);
    agent_output_feed(o, AGENT_OUT, "d", 1, 1500, 0);  /*  "cd" still has no newline */
    s_drain(o, 1999, false, &log);
    CHECK(log.len == 0);
    s_drain(o, 2000, false, &log);      /*  partial since 1000: due at 2000 */
    CHECK(strcmp(log.data, "O:cd;") == 0);
    sw_buf_reset(&log);
    /*  empty lines stay lines; the end takes everything */
    agent_output_feed(o, AGENT_OUT, "\n\nx\ny", 5, 3000, 0);
    s_drain(o, 3001, true, &log);
    CHECK(strcmp(log.data, "O:\n\nx\ny;") == 0);
    uint64_t lines, dropped;
    agent_output_counts(o, &lines, &dropped);
    CHECK(lines == 10 && dropped == 0);
    agent_output_destroy(&o);

    /*  a flood: the byte budget lets the burst through, then drops; the
     *  count is reported while it goes on (every second), and where the
     *  lines resumed */
    c = agent_output_defaults(false);
    c.burst_bytes = 1000;
    c.rate_bytes = 1000;
    o = agent_output_new(&c, 10000);
    char line[100];
    memset(line, 'x', 99);
    line[99] = '\n';
    for (int i = 0; i < 20; i++)            /*  2000 bytes at once: 10 lines pass */
        agent_output_feed(o, AGENT_OUT, line, 100, 10000, 0);
    sw_buf_reset(&log);
    agent_entry_t e;
    CHECK(agent_output_next(o, 10050, 50, false, &e));
    CHECK(e.lines == 10 && e.dropped_lines == 0);
    agent_entry_release(&e);
    CHECK(!agent_output_next(o, 10060, 60, false, &e));     /*  10 dropped: said at 1 s */
    CHECK(agent_output_next(o, 11000, 1000, false, &e));
    CHECK(e.lines == 0 && e.dropped_lines == 10 && e.dropped_bytes == 990);
    agent_entry_release(&e);
    for (int i = 0; i < 5; i++)             /*  1 s later: the budget has 1000 bytes again */
        agent_output_feed(o, AGENT_OUT, line, 100, 12000, 0);
    CHECK(agent_output_next(o, 12050, 2050, false, &e));
    CHECK(e.lines == 5 && e.dropped_lines == 0);
    agent_entry_release(&e);
    agent_output_counts(o, &lines, &dropped);
    CHECK(lines == 15 && dropped == 10);
    agent_output_destroy(&o);

    /*  drops after a batch's lines are reported with the next batch */
    c = agent_output_defaults(false);
    c.burst_bytes = 250;
    c.rate_bytes = 100;
    o = agent_output_new(&c, 10000);
    agent_output_feed(o, AGENT_OUT, line, 100, 10000, 0);
    agent_output_feed(o, AGENT_OUT, line, 100, 10000, 0);
    agent_output_feed(o, AGENT_OUT, line, 100, 10000, 0);    /*  dropped */
    agent_output_feed(o, AGENT_OUT, "end\n", 4, 11000, 0); /*  100 bytes came back */
    CHECK(agent_output_next(o, 11000, 0, false, &e));
    CHECK(e.lines == 2 && e.dropped_lines == 0);
    agent_entry_release(&e);
    CHECK(agent_output_next(o, 11050, 0, false, &e));
    CHECK(e.lines == 1 && e.dropped_lines == 1 && e.len == 3 && memcmp(e.data, "end", 3) == 0);
    agent_entry_release(&e);
    agent_output_destroy(&o);

    /*  the entry budget: a full batch waits for a token, then lines drop;
     *  at the end everything left goes */
    c = agent_output_defaults(false);
    c.burst_entries = 1;
    c.rate_entries = 1;
    c.batch_max = 300;
    c.line_max = 200;
    o = agent_output_new(&c, 10000);
    for (int i = 0; i < 8; i++)
        agent_output_feed(o, AGENT_OUT, line, 100, 10000, 0);
    /*  batch 1 (3 lines) closed with the one token; batch 2 full; 2 dropped */
    CHECK(agent_output_next(o, 10000, 0, false, &e) && e.lines == 3);
    agent_entry_release(&e);
    CHECK(!agent_output_next(o, 10100, 0, false, &e));
    CHECK(agent_output_next(o, 11000, 0, false, &e) && e.lines == 3 && e.dropped_lines == 0);
    agent_entry_release(&e);
    CHECK(agent_output_next(o, 11000, 0, true, &e) && e.lines == 0 && e.dropped_lines == 2);
    agent_entry_release(&e);
    CHECK(!agent_output_next(o, 11000, 0, true, &e));
    agent_output_destroy(&o);

    /*  a lost entry counts as dropped, reported with the next one */
    c = agent_output_defaults(false);
    o = agent_output_new(&c, 10000);
    agent_output_feed(o, AGENT_ERR, "a\nb\n", 4, 10000, 0);
    CHECK(agent_output_next(o, 10100, 0, false, &e) && e.stream == AGENT_ERR);
    agent_output_lost(o, &e, 10100);
    agent_entry_release(&e);
    agent_output_feed(o, AGENT_ERR, "c\n", 2, 10200, 0);
    CHECK(agent_output_next(o, 10300, 0, false, &e));
    CHECK(e.lines == 1 && e.dropped_lines == 2 && e.dropped_bytes == 3);
    agent_entry_release(&e);
    agent_output_counts(o, &lines, &dropped);
    CHECK(lines == 1 && dropped == 2);
    agent_output_destroy(&o);

    /*  long lines: text keeps its head and says what it lost; a JSON event
     *  keeps being one JSON document, its long strings cut */
    c = agent_output_defaults(true);
    c.line_max = 400;
    c.json_max = 100000;
    o = agent_output_new(&c, 0);
    sw_buf_t big;
    sw_buf_init(&big);
    for (int i = 0; i < 500; i++)
        sw_buf_addstr(&big, "é");                   /*  1000 bytes, 2 per character */
    sw_buf_addstr(&big, "\n");
    agent_output_feed(o, AGENT_ERR, big.data, big.len, 0, 0);
    CHECK(agent_output_next(o, 100, 0, false, &e));
    CHECK(e.len <= 400 && memmem(e.data, e.len, " [... 648 bytes cut ...]", 24));
    CHECK(sw_utf8_clean(e.data, e.len));            /*  cut between characters */
    agent_entry_release(&e);
    sw_buf_reset(&big);
    sw_buf_addstr(&big, "{\"type\":\"item.completed\",\"item\":{\"type\":\"command_execution\","
                  "\"command\":\"make\",\"aggregated_output\":\"");
    for (int i = 0; i < 3000; i++)
        sw_buf_addstr(&big, "ab");
    sw_buf_addstr(&big, "\",\"exit_code\":2,\"status\":\"failed\"}}\n");
    agent_output_feed(o, AGENT_OUT, big.data, big.len - 40, 0, 0);  /*  in two reads */
    agent_output_feed(o, AGENT_OUT, big.data + big.len - 40, 40, 0, 0);
    CHECK(agent_output_next(o, 100, 0, false, &e));
    CHECK(e.len <= 400);
    json_t *doc = json_loadb(e.data, e.len, 0, NULL);
    CHECK(doc && json_integer_value(json_object_get(json_object_get(doc, "item"), "exit_code")) == 2);
    CHECK(strstr(json_string_value(json_object_get(json_object_get(doc, "item"),
                                                    "aggregated_output")), "bytes cut ...]"));
    json_decref(doc);
    agent_entry_release(&e);
    /*  a JSON event over json_max is cut as text; a line with no end is
     *  kept to its cap and the rest counted */
    agent_output_destroy(&o);
    c.json_max = 1000;
    o = agent_output_new(&c, 0);
    agent_output_feed(o, AGENT_OUT, big.data, big.len, 0, 0);
    CHECK(agent_output_next(o, 100, 0, false, &e));
    char note[64];
    snprintf(note, sizeof note, " [... %zu bytes cut ...]", big.len - 1 - 352);
    CHECK(e.len <= 400 && memmem(e.data, e.len, note, strlen(note)) && e.data[0] == '{');
    agent_entry_release(&e);
    agent_output_destroy(&o);
    sw_buf_release(&big);
    /*  not JSON, or too deep to shorten enough: -1 */
    sw_buf_t out;
    sw_buf_init(&out);
    CHECK(agent_output_shorten_json("nope", 4, 100, &out) < 0);
    CHECK(agent_output_shorten_json("[1,2]", 5, 100, &out) < 0);
    CHECK(agent_output_shorten_json("{\"a\":1}", 7, 100, &out) == 0
          && strcmp(out.data, "{\"a\":1}") == 0);
    /*  strings inside arrays are cut as those inside objects */
    sw_buf_t arr;
    sw_buf_init(&arr);
    sw_buf_addstr(&arr, "{\"lines\":[\"short\",\"");
    for (int i = 0; i < 2000; i++)
        sw_buf_addstr(&arr, "xy");
    sw_buf_addstr(&arr, "\"]}");
    sw_buf_reset(&out);
    CHECK(agent_output_shorten_json(arr.data, arr.len, 400, &out) == 0 && out.len <= 400);
    json_t *ad = json_loadb(out.data, out.len, 0, NULL);
    CHECK(ad && strcmp(json_string_value(json_array_get(json_object_get(ad, "lines"), 0)),
                       "short") == 0
          && strstr(json_string_value(json_array_get(json_object_get(ad, "lines"), 1)),
                    "bytes cut ...]"));
    json_decref(ad);
    sw_buf_release(&arr);
    sw_buf_release(&out);
    sw_buf_release(&log);
    (void) verbose;
    return 0;
}
