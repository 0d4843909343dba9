/*  agent_result -- see agent_result.h */
#include "agent_result.h"

#include <jansson.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "sw_keys.h"
#include "sw_resp.h"
#include "sw_selftest.h"

int
agent_claude_parse(const char *out, size_t n, sw_buf_t *text, json_t **usage, bool *is_error)
{
    /*  The document is the last line that parses as a result: the one line
     *  of --output-format json (claude may warn first), the last of
     *  stream-json (its events come first). */
    json_t *doc = NULL;
    for (size_t end = n; end > 0 && !doc; ) {
        size_t start = end - 1;
        while (start > 0 && out[start - 1] != '\n')
            start--;
        json_t *d = json_loadb(out + start, end - start, 0, NULL);
        const char *type = json_string_value(json_object_get(d, "type"));
        if (json_is_object(d) && json_object_get(d, "is_error") && type
            && strcmp(type, "result") == 0)
            doc = d;
        else
            json_decref(d);
        end = start > 0 ? start - 1 : 0;
    }
    if (!doc)
        return -1;
    const char *result = json_string_value(json_object_get(doc, "result"));
    if (result)
        sw_buf_addstr(text, result);
    else if (json_string_value(json_object_get(doc, "subtype")))
        sw_buf_printf(text, "(claude: %s)", json_string_value(json_object_get(doc, "subtype")));
    *is_error = json_is_true(json_object_get(doc, "is_error"));
    json_t *u = json_object_get(doc, "usage");
    *usage = json_pack("{s:O?, s:O?, s:O?, s:O?, s:O?, s:O?}",
                       "input_tokens", json_object_get(u, "input_tokens"),
                       "output_tokens", json_object_get(u, "output_tokens"),
                       "cache_read_input_tokens", json_object_get(u, "cache_read_input_tokens"),
                       "cost_usd", json_object_get(doc, "total_cost_usd"),
                       "num_turns", json_object_get(doc, "num_turns"),
                       "session_id", json_object_get(doc, "session_id"));
    json_decref(doc);
    return 0;
}

/*  codex --json's next event: the next line of out[0, n) from *pos that
 *  starts with '{' and parses as JSON (other lines, codex's warnings and
 *  cut ones, are skipped); its document, the caller's to decref, with
 *  *pos past its line; NULL when no line is left. */
static json_t *
s_next_event(const char *out, size_t n, size_t *pos)
{
    while (*pos < n) {
        size_t start = *pos;
        const char *nl = memchr(out + start, '\n', n - start);
        size_t end = nl ? (size_t) (nl - out) : n;
        *pos = end + 1;
        json_t *ev = end > start && out[start] == '{'
                     ? json_loadb(out + start, end - start, 0, NULL) : NULL;
        if (ev)
            return ev;
    }
    return NULL;
}

int
agent_codex_usage(const char *out, size_t n, json_t **usage)
{
    static const char *const fields[] = { "input_tokens", "cached_input_tokens",
                                          "output_tokens", "reasoning_output_tokens" };
    json_int_t sum[4] = { 0 }, turns = 0;
    json_t *ev;
    for (size_t pos = 0; (ev = s_next_event(out, n, &pos)) != NULL; ) {
        const char *type = json_string_value(json_object_get(ev, "type"));
        json_t *u = json_object_get(ev, "usage");
        if (type && strcmp(type, "turn.completed") == 0 && json_is_object(u)) {
            turns++;
            for (size_t i = 0; i < 4; i++)
                sum[i] += json_integer_value(json_object_get(u, fields[i]));
        }
        json_decref(ev);
    }
    if (turns == 0)
        return -1;
    *usage = json_pack("{s:I, s:I, s:I, s:I, s:I}", fields[0], sum[0], fields[1], sum[1],
                       fields[2], sum[2], fields[3], sum[3], "num_turns", turns);
    return 0;
}

int
agent_codex_message(const char *out, size_t n, sw_buf_t *text)
{
    const char *found = NULL;
    size_t found_len = 0;
    json_t *last = NULL, *ev;
    for (size_t pos = 0; (ev = s_next_event(out, n, &pos)) != NULL; ) {
        const char *type = json_string_value(json_object_get(ev, "type"));
        json_t *item = json_object_get(ev, "item");
        const char *itype = json_string_value(json_object_get(item, "type"));
        json_t *t = json_object_get(item, "text");
        if (type && strcmp(type, "item.completed") == 0 && itype
            && strcmp(itype, "agent_message") == 0 && json_is_string(t)) {
            json_decref(last);
            last = ev;
            found = json_string_value(t);
            found_len = json_string_length(t);
        }
        else
            json_decref(ev);
    }
    if (!found)
        return -1;
    sw_buf_add(text, found, found_len);
    json_decref(last);
    return 0;
}

void
agent_answer_collect(const char *runner, const char *out, size_t out_len, bool out_truncated,
                     const char *lastmsg, size_t lastmsg_len, bool lastmsg_truncated,
                     agent_answer_t *a)
{
    memset(a, 0, sizeof *a);
    sw_buf_init(&a->output);
    if (strcmp(runner, "codex") == 0) {
        agent_codex_usage(out, out_len, &a->usage);
        if (lastmsg && lastmsg_len > 0) {
            sw_buf_add(&a->output, lastmsg, lastmsg_len);
            a->truncated = lastmsg_truncated;
        }
        else if (agent_codex_message(out, out_len, &a->output) < 0)
            a->error = "codex exited 0 but gave no final message";
    }
    else if (strcmp(runner, "claude") == 0) {
        bool is_error = false;
        if (agent_claude_parse(out, out_len, &a->output, &a->usage, &is_error) < 0)
            a->error = out_truncated ? "claude's result document is larger than the agent "
                                       "keeps (--max-output)"
                                     : "claude exited 0 but gave no result document";
        else if (is_error)
            a->error = "claude reported an error (is_error)";
    }
    else {
        a->text = out ? out : "";
        a->text_len = out ? out_len : 0;
        a->truncated = out_truncated;
        return;
    }
    sw_buf_add(&a->output, "", 0);      /*  data is a string, even empty */
    a->text = a->output.data;
    a->text_len = a->output.len;
}

void
agent_answer_release(agent_answer_t *a)
{
    sw_buf_release(&a->output);
    json_decref(a->usage);
    a->usage = NULL;
}

/*  Text as a JSON string: bytes that are not UTF-8 (or NUL) become
 *  U+FFFD. Issue 20: output that is clean already (nearly all) is copied
 *  once, into the string, and checked once (here: jansson's own check
 *  is skipped, the text being checked or sanitized). */
static json_t *
s_text(const char *s, size_t n)
{
    if (!s || n == 0)
        return json_string("");
    if (sw_utf8_clean(s, n))
        return json_stringn_nocheck(s, n);
    sw_buf_t b;
    sw_buf_init(&b);
    sw_utf8_sanitize(s, n, &b);
    json_t *j = json_stringn_nocheck(b.data ? b.data : "", b.len);
    sw_buf_release(&b);
    return j;
}

json_t *
agent_result_doc(const agent_result_t *r)
{
    const sw_task_t *t = r->task;
    char started[40];
    time_t secs = (time_t) (r->started_wall_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(started + n, sizeof started - n, ".%03dZ", (int) (r->started_wall_ms % 1000));
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(t->id));
    json_object_set_new(o, "job", json_string(t->job));
    json_object_set_new(o, "type", json_string(t->type));
    json_object_set_new(o, "runner", json_string(t->runner));
    json_object_set_new(o, "status", json_string(r->status));
    json_object_set_new(o, "exit_code", r->exit_code >= 0 ? json_integer(r->exit_code) : json_null());
    json_object_set_new(o, "signal", r->signal ? json_string(sigabbrev_np(r->signal)
                                                             ? sigabbrev_np(r->signal) : "?")
                                               : json_null());
    json_object_set_new(o, "attempt", json_integer(t->attempt));
    json_object_set_new(o, "agent", json_string(r->agent));
    json_object_set_new(o, "host", json_string(r->host));
    json_object_set_new(o, "started_at", json_string(started));
    json_object_set_new(o, "duration_ms", json_integer(r->duration_ms));
    if (!r->output_apart)
        json_object_set_new(o, "output", s_text(r->output, r->output_len));
    json_object_set_new(o, "output_truncated", json_boolean(r->output_truncated));
    json_object_set_new(o, "stderr_tail", s_text(r->stderr_tail, r->stderr_len));
    /*  an error may quote what a task brought (its --dir, a reference): text */
    json_object_set_new(o, "error", r->error ? s_text(r->error, strlen(r->error)) : json_null());
    if (r->usage)
        json_object_set(o, "usage", r->usage);
    return o;
}

char *
agent_result_json(const agent_result_t *r)
{
    json_t *o = agent_result_doc(r);
    char *s = agent_result_dumps(o);
    json_decref(o);
    return s;
}

/*  How many bytes at s need no escape in a JSON string: eight at a time
 *  while a word has no control byte, quote or backslash (issue 20: the
 *  byte-wise loop was the agent's top cost with 88 KB outputs). */
static size_t
s_plain_run(const char *s, size_t n)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    size_t i = 0;
    while (n - i >= 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
        if ((((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b)) & highs)
            break;
        i += 8;
    }
    while (i < n) {
        unsigned char c = (unsigned char) s[i];
        if (c < 0x20 || c == '"' || c == '\\')
            break;
        i++;
    }
    return i;
}

/*  s (valid UTF-8: s_text made it so) as a JSON string's contents, the
 *  way jansson writes it without JSON_ENSURE_ASCII: runs that need no
 *  escape go in one copy. */
static void
s_escape(const char *s, size_t n, sw_buf_t *out)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i = 0;
    for (;;) {
        size_t run = s_plain_run(s + i, n - i);
        sw_buf_add(out, s + i, run);
        i += run;
        if (i >= n)
            break;
        unsigned char c = (unsigned char) s[i++];
        char e[7] = { '\\', 0 };
        size_t len = 2;
        switch (c) {
        case '"':  e[1] = '"'; break;
        case '\\': e[1] = '\\'; break;
        case '\b': e[1] = 'b'; break;
        case '\f': e[1] = 'f'; break;
        case '\n': e[1] = 'n'; break;
        case '\r': e[1] = 'r'; break;
        case '\t': e[1] = 't'; break;
        default:
            memcpy(e + 1, "u00", 3);
            e[4] = hex[c >> 4];
            e[5] = hex[c & 15];
            len = 6;
        }
        sw_buf_add(out, e, len);
    }
}

char *
agent_result_dumps(json_t *doc)
{
    json_t *output = json_incref(json_object_get(doc, "output"));
    if (!json_is_string(output)) {
        json_decref(output);
        return json_dumps(doc, JSON_COMPACT);
    }
    json_object_del(doc, "output");
    char *rest = json_dumps(doc, JSON_COMPACT);
    size_t rest_len = strlen(rest), n = json_string_length(output);
    sw_buf_t b;
    sw_buf_init(&b);
    sw_buf_add(&b, rest, rest_len - 1);            /*  without its '}' */
    sw_buf_addstr(&b, rest_len > 2 ? ",\"output\":\"" : "\"output\":\"");
    s_escape(json_string_value(output), n, &b);
    sw_buf_add(&b, "\"}", 3);                       /*  with the NUL */
    free(rest);
    json_object_set_new(doc, "output", output);     /*  the doc as it was (output last) */
    return b.data;
}

/*  KEYS: task hash, memory entry, namespace index, namespace set, the
 *  attempt's live output stream.
 *  ARGV: attempt, now (ms), memory key, namespace, writer, then the
 *  stream's end entry (agent_log_end_t): ttl ("" when there is none to
 *  write), t, status, code, error; then the result JSON, last (issue 20:
 *  it ends the command's frame, so the document in a built frame is a
 *  C string once its CR becomes a NUL).
 *  Fenced on the attempt the coordinator issued: a result of an attempt
 *  the task hash has moved past is refused. A memory entry that this very
 *  attempt's worker stored (swarm mcp's memory_store marks it with its
 *  job, task and attempt: writer) is the worker's own result: it stays,
 *  and the run's result goes beside it, in the entry's field run. No
 *  clock is compared: hosts' clocks may differ by hours.
 *  A call that finds this very result stored (a reply lost to a stalled
 *  connection, then the blocking store and its spool's retries; Redis
 *  runs a dropped connection's last command once it reads it) does
 *  nothing: before this, each repeat added an end entry to the stream
 *  (issue 20 attack, fault.async_result_stop).
 *  The end entry belongs to this attempt's own stream, refused result or
 *  not: it is written first, with pcall: a stream key that is not a
 *  stream (anyone may SET it) loses the end, never the result. Issue 20: this is the agent's only Redis
 *  call of a task without output, so it does as few calls as it can (one
 *  HMGET, one HSET per hash: each redis.call costs). */
#define S_STR(x) #x
#define S_XSTR(x) S_STR(x)
static const char s_store_lua[] =
    "local h = redis.call('HMGET', KEYS[1], 'attempt', 'result')\n"
    "if h[1] == ARGV[1] and h[2] == ARGV[11] then return 1 end\n"
    "if ARGV[6] ~= '' then\n"
    "  local x = redis.pcall('XADD', KEYS[5], 'MAXLEN', '~', '" S_XSTR(AGENT_LIVE_MAXLEN) "', '*',\n"
    "                        't', ARGV[7], 's', 'end',\n"
    "                        'n', '0', 'status', ARGV[8], 'code', ARGV[9], 'd', ARGV[10])\n"
    "  if type(x) ~= 'table' or not x.err then redis.call('EXPIRE', KEYS[5], ARGV[6]) end\n"
    "end\n"
    "if h[1] and h[1] ~= ARGV[1] then return 0 end\n"
    "redis.call('HSET', KEYS[1], 'result', ARGV[11], 'attempt', ARGV[1])\n"
    "local m = redis.call('HMGET', KEYS[2], 'writer', 'created', 'run')\n"
    "if m[1] == ARGV[5] then\n"
    "  redis.call('HSET', KEYS[2], 'run', ARGV[11])\n"
    "  return 1\n"
    "end\n"
    "if m[1] or m[3] then redis.call('HDEL', KEYS[2], 'writer', 'run') end\n"
    "if m[2] then\n"
    "  redis.call('HSET', KEYS[2], 'value', ARGV[11], 'updated', ARGV[2], 'tags', 'result')\n"
    "else\n"
    "  redis.call('HSET', KEYS[2], 'value', ARGV[11], 'updated', ARGV[2], 'tags', 'result',\n"
    "             'created', ARGV[2])\n"
    "end\n"
    "redis.call('ZADD', KEYS[3], ARGV[2], ARGV[3])\n"
    "redis.call('SADD', KEYS[4], ARGV[4])\n"
    "return 1\n";

/*  The script's KEYS and ARGV for T's result (16 strings; the 5 keys and
 *  writer in owned[], freed by s_args_release). */
typedef struct {
    const char *argv[16];
    char       *owned[5];
    char        attempt[32], now[32];
} s_args_t;

static void
s_args(s_args_t *a, const sw_task_t *t, const char *json, const agent_log_end_t *end,
       int64_t now_wall_ms)
{
    char *key = xasprintf("result-%s", t->id);
    char *task_key = sw_key_task(t->job, t->id), *mem_key = sw_key_mem(t->ns, key),
         *idx_key = sw_key_ns_index(t->ns);
    snprintf(a->attempt, sizeof a->attempt, "%lld", (long long) t->attempt);
    snprintf(a->now, sizeof a->now, "%lld", (long long) now_wall_ms);
    char *writer = xasprintf("%s\n%s\n%s", t->job, t->id, a->attempt);
    bool e = end && end->key;
    const char *argv[16] = { task_key, mem_key, idx_key, SW_KEY_NAMESPACES,
                             e ? end->key : task_key, a->attempt, a->now, key, t->ns,
                             writer, e ? end->ttl : "", e ? end->t : "", e ? end->status : "",
                             e ? end->code : "", e ? end->error : "", json };
    memcpy(a->argv, argv, sizeof argv);
    a->owned[0] = key;
    a->owned[1] = task_key;
    a->owned[2] = mem_key;
    a->owned[3] = idx_key;
    a->owned[4] = writer;
}

static void
s_args_release(s_args_t *a)
{
    for (size_t i = 0; i < 5; i++)
        free(a->owned[i]);
}

/*  Whether the asynchronous connection's server was sent the script
 *  (SCRIPT LOAD goes ahead of the first EVALSHA, on the same connection:
 *  in order). A NOSCRIPT reply (Redis restarted) sends it again. */
static bool s_async_loaded;

int
agent_result_reply(const redisReply *r)
{
    if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0)
        s_async_loaded = false;
    if (!r || r->type != REDIS_REPLY_INTEGER)
        return -1;
    return r->integer == 1 ? 1 : 0;
}

int
agent_result_store(sw_redis_t *redis, const sw_task_t *t, const char *json,
                   const agent_log_end_t *end, sw_err_t *err)
{
    s_args_t a;
    s_args(&a, t, json, end, sw_wall_ms());
    redisReply *r = sw_redis_eval(redis, s_store_lua, 5, 16, a.argv, NULL, err);
    s_args_release(&a);
    if (!r)
        return -1;
    int rc = r->type == REDIS_REPLY_INTEGER && r->integer == 1 ? 1 : 0;
    freeReplyObject(r);
    return rc;
}

static const char *
s_sha(void)
{
    static char sha[41];
    if (!sha[0])
        sw_sha1_hex(s_store_lua, strlen(s_store_lua), sha);
    return sha;
}

/*  The length s_escape writes for s. */
static size_t
s_escaped_len(const char *s, size_t n)
{
    size_t len = n;
    for (size_t i = 0;;) {
        i += s_plain_run(s + i, n - i);
        if (i >= n)
            break;
        unsigned char c = (unsigned char) s[i++];
        len += c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r'
               || c == '\t' ? 1 : 5;
    }
    return len;
}

void
agent_result_frame(json_t *doc, const char *out, size_t n, const sw_task_t *t,
                   const agent_log_end_t *end, int64_t now_wall_ms, sw_buf_t *frame,
                   size_t *json_off)
{
    /*  Output that is not clean UTF-8 is sanitized first (a copy, only
     *  for such output); clean output is escaped from where it is. */
    sw_buf_t clean;
    sw_buf_init(&clean);
    if (!out)
        n = 0;
    if (n && !sw_utf8_clean(out, n)) {
        sw_utf8_sanitize(out, n, &clean);
        out = clean.data;
        n = clean.len;
    }
    char *rest = json_dumps(doc, JSON_COMPACT);
    size_t rest_len = strlen(rest);
    const char *sep = rest_len > 2 ? ",\"output\":\"" : "\"output\":\"";
    size_t esc = s_escaped_len(out, n);
    size_t json_len = rest_len - 1 + strlen(sep) + esc + 2;
    s_args_t a;
    s_args(&a, t, "", end, now_wall_ms);
    const char *argv[18] = { "EVALSHA", s_sha(), "5" };
    memcpy(argv + 3, a.argv, 15 * sizeof *argv);
    /*  One reservation of the exact size: the escape writes without a
     *  realloc moving the frame. */
    size_t lens[18];
    size_t total = SW_RESP_HEAD_MAX + SW_RESP_BULK_MAX(json_len);
    for (size_t i = 0; i < 18; i++) {
        lens[i] = strlen(argv[i]);
        total += SW_RESP_BULK_MAX(lens[i]);
    }
    sw_buf_reset(frame);
    sw_buf_reserve(frame, total);
    char *p = sw_resp_array(frame->data, 19);
    for (size_t i = 0; i < 18; i++)
        p = sw_resp_bulk(p, argv[i], lens[i]);
    p = sw_resp_bulk_head(p, json_len);
    frame->len = (size_t) (p - frame->data);
    frame->data[frame->len] = '\0';
    *json_off = frame->len;
    sw_buf_add(frame, rest, rest_len - 1);         /*  without its '}' */
    sw_buf_addstr(frame, sep);
    s_escape(out, n, frame);
    sw_buf_add(frame, "\"}\r\n", 4);
    s_args_release(&a);
    free(rest);
    sw_buf_release(&clean);
}

int
agent_result_send(sw_aredis_t *aredis, const char *frame, size_t len, sw_aredis_reply_fn *fn,
                  void *arg)
{
    if (!s_async_loaded) {
        const char *load[] = { "SCRIPT", "LOAD", s_store_lua };
        if (sw_aredis_send(aredis, 3, load, NULL) < 0)
            return -1;
        s_async_loaded = true;
    }
    return sw_aredis_call_formatted(aredis, frame, len, fn, arg);
}

/*  --- self-test ------------------------------------------------------------------ */

int
agent_result_test(bool verbose)
{
    sw_task_t t;
    sw_task_init(&t);
    t.id = xstrdup("review");
    t.job = xstrdup("j");
    t.type = xstrdup("reviewer");
    t.runner = xstrdup("codex");
    /*  codex --json: usage summed over turn.completed events */
    const char *events = "{\"type\":\"thread.started\"}\nnot json\n"
        "{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":40,\"cached_input_tokens\":2,"
        "\"output_tokens\":7}}\n{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":2,"
        "\"output_tokens\":1,\"reasoning_output_tokens\":3}}";
    json_t *u = NULL;
    CHECK(agent_codex_usage(events, strlen(events), &u) == 0);
    CHECK(json_integer_value(json_object_get(u, "input_tokens")) == 42);
    CHECK(json_integer_value(json_object_get(u, "output_tokens")) == 8);
    CHECK(json_integer_value(json_object_get(u, "num_turns")) == 2);
    json_decref(u);
    CHECK(agent_codex_usage("no events\n", 10, &u) < 0);

    /*  the answer: codex's -o file, else its last agent_message, else an
     *  honest failure; never the event stream */
    const char *stream = "{\"type\":\"thread.started\"}\n"
        "{\"type\":\"item.completed\",\"item\":{\"type\":\"agent_message\",\"text\":\"first\"}}\n"
        "{\"type\":\"item.completed\",\"item\":{\"type\":\"reasoning\",\"text\":\"hmm\"}}\n"
        "{\"type\":\"item.completed\",\"item\":{\"type\":\"agent_message\",\"text\":\"final\\nanswer\"}}\n"
        "{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}\n";
    agent_answer_t a;
    agent_answer_collect("codex", stream, strlen(stream), false, "from -o", 7, true, &a);
    CHECK(strcmp(a.output.data, "from -o") == 0 && a.truncated && !a.error && a.usage);
    agent_answer_release(&a);
    agent_answer_collect("codex", stream, strlen(stream), true, "", 0, false, &a);
    CHECK(strcmp(a.output.data, "final\nanswer") == 0 && !a.truncated && !a.error);
    CHECK(json_integer_value(json_object_get(a.usage, "input_tokens")) == 3);
    agent_answer_release(&a);
    const char *mute = "{\"type\":\"thread.started\"}\n{\"type\":\"turn.completed\"}\n";
    agent_answer_collect("codex", mute, strlen(mute), false, NULL, 0, false, &a);
    CHECK(a.output.len == 0 && a.output.data && strstr(a.error, "no final message"));
    agent_answer_release(&a);
    agent_answer_collect("claude", mute, strlen(mute), false, NULL, 0, false, &a);
    CHECK(a.output.len == 0 && strstr(a.error, "no result document"));
    agent_answer_release(&a);
    const char *cl = "warming up\n{\"type\":\"result\",\"is_error\":true,\"result\":\"nope\"}\n";
    agent_answer_collect("claude", cl, strlen(cl), false, NULL, 0, false, &a);
    CHECK(strcmp(a.output.data, "nope") == 0 && strstr(a.error, "is_error"));
    agent_answer_release(&a);
    /*  stream-json: events, then the result (a tool_result's own is_error
     *  is not it) */
    const char *sj =
        "{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"s1\"}\n"
        "{\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":\"tool_use\","
        "\"name\":\"Bash\",\"input\":{\"command\":\"ls\"}}]}}\n"
        "{\"type\":\"user\",\"message\":{\"content\":[{\"type\":\"tool_result\","
        "\"content\":\"x\",\"is_error\":true}]},\"is_error\":true}\n"
        "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"num_turns\":2,"
        "\"result\":\"all good\",\"session_id\":\"s1\",\"total_cost_usd\":0.5,"
        "\"usage\":{\"input_tokens\":84,\"output_tokens\":14}}\n";
    agent_answer_collect("claude", sj, strlen(sj), false, NULL, 0, false, &a);
    CHECK(strcmp(a.output.data, "all good") == 0 && !a.error);
    CHECK(json_integer_value(json_object_get(a.usage, "num_turns")) == 2
          && json_real_value(json_object_get(a.usage, "cost_usd")) == 0.5);
    agent_answer_release(&a);
    agent_answer_collect("claude", sj, strlen(sj) - 200, true, NULL, 0, false, &a);
    CHECK(a.error && strstr(a.error, "larger than the agent keeps"));    /*  cut: no result */
    agent_answer_release(&a);
    agent_answer_collect("exec", mute, strlen(mute), true, NULL, 0, false, &a);
    /*  exec's answer is its stdout where it is: no copy (issue 20) */
    CHECK(a.text == mute && a.text_len == strlen(mute) && a.output.len == 0 && a.truncated
          && !a.error && !a.usage);
    agent_answer_release(&a);
    agent_result_t r = { .task = &t, .agent = "a1", .host = "h", .status = "failed",
                         .exit_code = -1, .signal = SIGKILL, .started_wall_ms = 1000,
                         .output = "bad \xff byte\n", .output_len = 11,
                         .stderr_tail = "", .error = "working directory d\xff: gone" };
    char *json = agent_result_json(&r);
    json_error_t jerr;
    json_t *o = json_loads(json, 0, &jerr);
    CHECK(o != NULL);
    CHECK(json_is_null(json_object_get(o, "exit_code")));
    CHECK(strcmp(json_string_value(json_object_get(o, "signal")), "KILL") == 0);
    CHECK(strcmp(json_string_value(json_object_get(o, "output")), "bad \xEF\xBF\xBD byte\n") == 0);
    /*  an error quoting user bytes (a --dir, a reference) is kept, as text */
    CHECK(strcmp(json_string_value(json_object_get(o, "error")),
                 "working directory d\xEF\xBF\xBD: gone") == 0);
    CHECK(strcmp(json_string_value(json_object_get(o, "started_at")),
                 "1970-01-01T00:00:01.000Z") == 0);
    json_decref(o);
    free(json);
    /*  agent_result_dumps: the output's escapes as jansson writes them */
    const char *odd[] = { "", "plain", "q\"uo\\te\n\t\r\b\f\x01\x1f\x7f end", "caf\xC3\xA9 \xE2\x80\xA8/",
                          "\"\"\"" };
    for (size_t i = 0; i < sizeof odd / sizeof *odd; i++) {
        json_t *d = json_pack("{s:s, s:i, s:s, s:n}", "id", "x", "n", 3, "output", odd[i],
                              "error");
        char *mine = agent_result_dumps(d);
        json_t *back = json_loads(mine, 0, NULL);
        CHECK(back && json_equal(back, d));
        json_object_del(d, "output");
        json_object_set_new(d, "output", json_string(odd[i]));
        char *theirs = json_dumps(d, JSON_COMPACT);
        CHECK(strcmp(mine, theirs) == 0);   /*  byte for byte, output last */
        free(theirs);
        free(mine);
        json_decref(back);
        json_decref(d);
    }
    /*  issue 20 attack: random outputs (NUL, lone 0x80-0xff, cut and
     *  overlong sequences, surrogates, controls, at every offset modulo
     *  8) give the output a byte-wise sanitizer gives, escaped byte for
     *  byte as json_dumps escapes it */
    static const unsigned char pool[] = { 'a', 'b', '"', '\\', '\n', 0, 1, 0x1f, 0x7f, 0x80,
                                          0xbf, 0xc0, 0xc3, 0xa9, 0xe2, 0x82, 0xed, 0xa0,
                                          0xf0, 0x9f, 0x98, 0x80, 0xf4, 0x90, 0xf8, 0xff };
    unsigned seed = 20;
    for (int round = 0; round < 3000; round++) {
        char in[80];
        size_t n = (size_t) (rand_r(&seed) % 80);
        for (size_t k = 0; k < n; k++)
            in[k] = (char) (rand_r(&seed) % 3 ? 'a' + k % 26 : pool[rand_r(&seed) % sizeof pool]);
        sw_buf_t ref;
        sw_buf_init(&ref);
        for (size_t k = 0; k < n;) {
            unsigned char c = (unsigned char) in[k];
            size_t len = c < 0x80 ? 1 : c >= 0xc0 && c < 0xe0 ? 2 : c >= 0xe0 && c < 0xf0 ? 3
                       : c >= 0xf0 && c < 0xf8 ? 4 : 0;
            if (len && k + len <= n && sw_utf8_clean(in + k, len)) {
                sw_buf_add(&ref, in + k, len);
                k += len;
            }
            else {
                sw_buf_add(&ref, "\xEF\xBF\xBD", 3);
                k++;
            }
        }
        r.output = in;
        r.output_len = n;
        char *mine = agent_result_json(&r);
        json_t *d = json_loads(mine, 0, NULL);
        CHECK(d != NULL);
        json_t *out = json_object_get(d, "output");
        CHECK(json_string_length(out) == ref.len
              && memcmp(json_string_value(out), ref.data ? ref.data : "", ref.len) == 0);
        json_t *keep = json_incref(out);
        json_object_del(d, "output");
        json_object_set_new(d, "output", keep);
        char *theirs = json_dumps(d, JSON_COMPACT);
        CHECK(strcmp(mine, theirs) == 0);
        free(theirs);
        free(mine);
        json_decref(d);
        sw_buf_release(&ref);
    }
    /*  issue 20: the script call's frame, escaped in place, is byte for
     *  byte what hiredis formats of the same call with the document
     *  agent_result_dumps writes: random outputs (invalid UTF-8, NUL,
     *  controls), empty, and the largest --max-output; with and without
     *  a live output end entry */
    char *end_key = sw_key_task_log("j", "review", 1);
    agent_log_end_t end = { .key = end_key, .ttl = "600", .t = "1700",
                            .status = "failed", .code = "1", .error = "it \"broke\"\n" };
    size_t big = 8u << 20;       /*  8 MiB: the default --max-output is 1 MiB (256 MiB is the cap: too much memory for a unit test) */
    char *huge = xmalloc(big);
    for (size_t k = 0; k < big; k++)
        huge[k] = k % 4099 == 7 ? '\n' : k % 65537 == 3 ? '\0' : (char) ('a' + k % 26);
    r.output_truncated = true;
    t.ns = xstrdup("team/a b");        /*  keys escape it */
    t.attempt = 3;
    for (int round = 0; round < 400; round++) {
        char in[200];
        const char *src = in;
        size_t n = round == 0 ? 0 : (size_t) (rand_r(&seed) % sizeof in);
        for (size_t k = 0; k < n; k++)
            in[k] = (char) (rand_r(&seed) % 2 ? 'a' + k % 26 : pool[rand_r(&seed) % sizeof pool]);
        if (round == 1) {
            src = huge;               /*  a large output */
            n = big;
        }
        r.output = src;
        r.output_len = n;
        r.output_apart = false;
        json_t *with = agent_result_doc(&r);
        char *doc_json = agent_result_dumps(with);
        const agent_log_end_t *e = round % 2 ? &end : NULL;
        s_args_t sa;
        s_args(&sa, &t, doc_json, e, 1234567);
        const char *argv[19] = { "EVALSHA", s_sha(), "5" };
        memcpy(argv + 3, sa.argv, sizeof sa.argv);
        size_t lens[19];
        for (size_t k = 0; k < 19; k++)
            lens[k] = strlen(argv[k]);
        char *theirs = NULL;
        int tlen = redisFormatCommandArgv(&theirs, 19, argv, lens);
        r.output_apart = true;
        json_t *without = agent_result_doc(&r);
        CHECK(json_object_get(without, "output") == NULL);
        sw_buf_t frame;
        sw_buf_init(&frame);
        size_t off = 0;
        agent_result_frame(without, src, n, &t, e, 1234567, &frame, &off);
        CHECK(tlen > 0 && frame.len == (size_t) tlen && memcmp(frame.data, theirs, frame.len) == 0);
        CHECK(frame.len - off - 2 == strlen(doc_json) && memcmp(frame.data + off, doc_json, strlen(doc_json)) == 0);
        CHECK(json_object_get(without, "output") == NULL);      /*  doc left as it was */
        free(theirs);
        sw_buf_release(&frame);
        s_args_release(&sa);
        free(doc_json);
        json_decref(with);
        json_decref(without);
    }
    free(end_key);
    free(huge);
    json_t *lone = json_pack("{s:s}", "output", "only");
    char *only = agent_result_dumps(lone);
    CHECK(strcmp(only, "{\"output\":\"only\"}") == 0);
    free(only);
    json_decref(lone);
    sw_task_release(&t);
    (void) verbose;
    return 0;
}
