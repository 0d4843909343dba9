/*  sw_render -- see sw_render.h */
#include "sw_render.h"

#include <jansson.h>
#include <string.h>

#include "sw_selftest.h"

#define MESSAGE_LINES 10        /*  a message shows at most this many lines */

bool
sw_render_events(const char *runner)
{
    return runner && (strcmp(runner, "codex") == 0 || strcmp(runner, "claude") == 0);
}

static const char *
s_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/*  One rendered line: prefix and text, cut at the width on a character,
 *  control characters (a tab aside) as '?'. */
static void
s_emit(sw_buf_t *out, size_t *n, const char *prefix, const char *text, size_t len)
{
    size_t start = out->len;
    sw_buf_addstr(out, prefix);
    size_t room = SW_RENDER_WIDTH > out->len - start ? SW_RENDER_WIDTH - (out->len - start) : 0;
    bool cut = len > room;
    if (cut) {
        len = room > 3 ? room - 3 : 0;
        while (len > 0 && ((unsigned char) text[len] & 0xC0) == 0x80)
            len--;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) text[i];
        char ch = (c < 0x20 && c != '\t') || c == 0x7f ? '?' : (char) c;
        sw_buf_add(out, &ch, 1);
    }
    if (cut)
        sw_buf_addstr(out, "...");
    sw_buf_addstr(out, "\n");
    (*n)++;
}

static void
s_emitf(sw_buf_t *out, size_t *n, const char *prefix, const char *text)
{
    s_emit(out, n, prefix, text ? text : "", text ? strlen(text) : 0);
}

/*  A message: its first line after prefix, the next ones indented, at most
 *  MESSAGE_LINES, then how many more there were. */
static void
s_message(sw_buf_t *out, size_t *n, const char *prefix, const char *text)
{
    if (!text)
        return;
    while (*text == '\n')
        text++;
    int shown = 0;
    size_t more = 0;
    for (const char *p = text; *p; ) {
        size_t len = strcspn(p, "\n");
        size_t end = len;
        while (end > 0 && (p[end - 1] == ' ' || p[end - 1] == '\r'))
            end--;
        if (shown < MESSAGE_LINES)
            s_emit(out, n, shown ? "  " : prefix, p, end);
        else
            more++;
        shown++;
        p += len + (p[len] == '\n');
    }
    if (!shown)
        s_emitf(out, n, prefix, "");
    if (more) {
        char note[64];
        snprintf(note, sizeof note, "(%zu more line%s)", more, more == 1 ? "" : "s");
        s_emitf(out, n, "  ", note);
    }
}

/*  The first line of text that is not blank, or "". */
static void
s_first_line(const char *text, const char **p, size_t *len)
{
    *p = "";
    *len = 0;
    for (const char *s = text ? text : ""; *s; ) {
        size_t l = strcspn(s, "\n");
        size_t e = l;
        while (e > 0 && (s[e - 1] == ' ' || s[e - 1] == '\r' || s[e - 1] == '\t'))
            e--;
        size_t b = 0;
        while (b < e && (s[b] == ' ' || s[b] == '\t'))
            b++;
        if (e > b) {
            *p = s + b;
            *len = e - b;
            return;
        }
        s += l + (s[l] == '\n');
    }
}

/*  The last line of text that is not blank. */
static void
s_last_line(const char *text, const char **p, size_t *len)
{
    *p = "";
    *len = 0;
    for (const char *s = text ? text : ""; *s; ) {
        size_t l = strcspn(s, "\n");
        size_t e = l;
        while (e > 0 && (s[e - 1] == ' ' || s[e - 1] == '\r' || s[e - 1] == '\t'))
            e--;
        if (e > 0) {
            *p = s;
            *len = e;
        }
        s += l + (s[l] == '\n');
    }
}

/*  `bash -lc 'CMD'` (codex wraps every command so) as CMD; anything else
 *  as it is. Only a whole single-quoted word is unwrapped ('\'' inside). */
static char *
s_command(const char *cmd)
{
    static const char *const shells[] = { "/bin/bash -lc ", "bash -lc ", "/usr/bin/bash -lc ",
                                          "/bin/sh -c ", "sh -c ", "/bin/zsh -lc ", "zsh -lc " };
    const char *rest = NULL;
    for (size_t i = 0; !rest && i < sizeof shells / sizeof *shells; i++)
        if (strncmp(cmd, shells[i], strlen(shells[i])) == 0)
            rest = cmd + strlen(shells[i]);
    if (!rest || *rest != '\'')
        return xstrdup(cmd);
    sw_buf_t b;
    sw_buf_init(&b);
    const char *p = rest;
    while (*p == '\'') {
        const char *q = strchr(p + 1, '\'');
        if (!q)
            break;
        sw_buf_add(&b, p + 1, (size_t) (q - p - 1));
        p = q + 1;
        if (strncmp(p, "\\''", 3) == 0) {       /*  '\'' : a quote inside */
            sw_buf_add(&b, "'", 1);
            p += 2;
        }
        else
            break;
    }
    if (*p != '\0' || !b.data) {
        sw_buf_release(&b);
        return xstrdup(cmd);
    }
    return b.data;
}

/*  --- codex exec --json ------------------------------------------------------------ */

static void
s_codex_item(const char *type, const json_t *item, sw_buf_t *out, size_t *n)
{
    const char *itype = s_str(item, "type");
    bool started = strcmp(type, "item.started") == 0;
    bool completed = strcmp(type, "item.completed") == 0;
    if (!itype)
        return;
    if (strcmp(itype, "command_execution") == 0) {
        if (started) {
            char *cmd = s_command(s_str(item, "command") ? s_str(item, "command") : "");
            s_emitf(out, n, "$ ", cmd);
            free(cmd);
        }
        else if (completed) {
            json_t *code = json_object_get(item, "exit_code");
            const char *status = s_str(item, "status");
            char what[64];
            if (json_is_integer(code))
                snprintf(what, sizeof what, "exit %lld", (long long) json_integer_value(code));
            else
                snprintf(what, sizeof what, "%s", status ? status : "ended");
            const char *p;
            size_t len;
            s_last_line(s_str(item, "aggregated_output"), &p, &len);
            if (json_is_integer(code) && json_integer_value(code) != 0 && len) {
                sw_buf_t b;
                sw_buf_init(&b);
                sw_buf_printf(&b, "  %s: ", what);
                s_emit(out, n, b.data, p, len);
                sw_buf_release(&b);
            }
            else
                s_emitf(out, n, "  ", what);
        }
    }
    else if (strcmp(itype, "file_change") == 0 && completed) {
        sw_buf_t b;
        sw_buf_init(&b);
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(item, "changes"), i, c) {
            const char *kind = s_str(c, "kind");
            sw_buf_printf(&b, "%s%s (%s)", i ? ", " : "", s_str(c, "path") ? s_str(c, "path")
                          : "?", kind ? kind : "change");
        }
        const char *status = s_str(item, "status");
        if (status && strcmp(status, "completed") != 0)
            sw_buf_printf(&b, ": %s", status);
        s_emitf(out, n, "edit ", b.data ? b.data : "");
        sw_buf_release(&b);
    }
    else if (strcmp(itype, "agent_message") == 0 && completed)
        s_message(out, n, "said: ", s_str(item, "text"));
    else if (strcmp(itype, "reasoning") == 0 && completed) {
        const char *p;
        size_t len;
        s_first_line(s_str(item, "text"), &p, &len);
        s_emit(out, n, "thinking: ", p, len);
    }
    else if (strcmp(itype, "mcp_tool_call") == 0 && (started || completed)) {
        sw_buf_t b;
        sw_buf_init(&b);
        sw_buf_printf(&b, "%s.%s", s_str(item, "server") ? s_str(item, "server") : "?",
                      s_str(item, "tool") ? s_str(item, "tool") : "?");
        const char *status = s_str(item, "status");
        if (completed) {
            json_t *error = json_object_get(item, "error");
            const char *msg = json_is_string(error) ? json_string_value(error)
                            : s_str(error, "message");
            sw_buf_printf(&b, ": %s%s%s", status ? status : "done", msg ? ": " : "",
                          msg ? msg : "");
        }
        s_emitf(out, n, completed ? "  tool " : "tool ", b.data);
        sw_buf_release(&b);
    }
    else if (strcmp(itype, "web_search") == 0 && completed)
        s_emitf(out, n, "search: ", s_str(item, "query"));
    else if (strcmp(itype, "todo_list") == 0 && (completed || strcmp(type, "item.updated") == 0
                                                 || started)) {
        size_t i, done = 0, total = 0;
        json_t *t;
        const char *next = NULL;
        json_array_foreach(json_object_get(item, "items"), i, t) {
            total++;
            if (json_is_true(json_object_get(t, "completed")))
                done++;
            else if (!next)
                next = s_str(t, "text");
        }
        char head[64];
        snprintf(head, sizeof head, "plan: %zu/%zu done%s", done, total, next ? ", next: " : "");
        s_emitf(out, n, head, next ? next : "");
    }
    else if (strcmp(itype, "error") == 0)
        s_emitf(out, n, "error: ", s_str(item, "message"));
    else if (completed && strcmp(itype, "agent_message") != 0 && strcmp(itype, "reasoning") != 0
             && strcmp(itype, "command_execution") != 0 && strcmp(itype, "file_change") != 0
             && strcmp(itype, "mcp_tool_call") != 0 && strcmp(itype, "web_search") != 0
             && strcmp(itype, "todo_list") != 0)
        s_emitf(out, n, "item: ", itype);
}

static bool
s_codex(const json_t *ev, const char *type, sw_buf_t *out, size_t *n)
{
    if (strcmp(type, "thread.started") == 0)
        s_emitf(out, n, "codex session started", "");
    else if (strcmp(type, "turn.started") == 0)
        ;
    else if (strcmp(type, "turn.completed") == 0) {
        json_t *u = json_object_get(ev, "usage");
        char text[160];
        long long in = json_integer_value(json_object_get(u, "input_tokens"));
        long long cached = json_integer_value(json_object_get(u, "cached_input_tokens"));
        long long outt = json_integer_value(json_object_get(u, "output_tokens"));
        long long reas = json_integer_value(json_object_get(u, "reasoning_output_tokens"));
        int len = snprintf(text, sizeof text, "%lld in (%lld cached), %lld out", in, cached, outt);
        if (reas)
            snprintf(text + len, sizeof text - (size_t) len, " (%lld reasoning)", reas);
        s_emitf(out, n, "tokens: ", text);
    }
    else if (strcmp(type, "turn.failed") == 0)
        s_emitf(out, n, "turn failed: ", s_str(json_object_get(ev, "error"), "message"));
    else if (strcmp(type, "error") == 0)
        s_emitf(out, n, "error: ", s_str(ev, "message"));
    else if (strncmp(type, "item.", 5) == 0)
        s_codex_item(type, json_object_get(ev, "item"), out, n);
    else
        return false;
    return true;
}

/*  --- claude -p --output-format stream-json ----------------------------------------- */

static void
s_claude_tool(const json_t *block, sw_buf_t *out, size_t *n)
{
    const char *name = s_str(block, "name");
    const json_t *in = json_object_get(block, "input");
    if (!name)
        name = "?";
    if (strcmp(name, "Bash") == 0)
        s_emitf(out, n, "$ ", s_str(in, "command"));
    else if (strcmp(name, "Edit") == 0 || strcmp(name, "MultiEdit") == 0)
        s_emitf(out, n, "edit ", s_str(in, "file_path"));
    else if (strcmp(name, "Write") == 0)
        s_emitf(out, n, "write ", s_str(in, "file_path"));
    else if (strcmp(name, "NotebookEdit") == 0)
        s_emitf(out, n, "edit ", s_str(in, "notebook_path"));
    else if (strcmp(name, "Read") == 0)
        s_emitf(out, n, "read ", s_str(in, "file_path"));
    else if (strcmp(name, "Glob") == 0 || strcmp(name, "Grep") == 0) {
        sw_buf_t b;
        sw_buf_init(&b);
        sw_buf_printf(&b, "%s %s", name, s_str(in, "pattern") ? s_str(in, "pattern") : "");
        s_emitf(out, n, "search: ", b.data);
        sw_buf_release(&b);
    }
    else if (strcmp(name, "WebSearch") == 0)
        s_emitf(out, n, "search: ", s_str(in, "query"));
    else if (strcmp(name, "WebFetch") == 0)
        s_emitf(out, n, "fetch ", s_str(in, "url"));
    else if (strcmp(name, "Task") == 0 || strcmp(name, "Agent") == 0)
        s_emitf(out, n, "task: ", s_str(in, "description"));
    else if (strcmp(name, "TodoWrite") == 0) {
        size_t i, done = 0, total = 0;
        json_t *t;
        json_array_foreach(json_object_get(in, "todos"), i, t) {
            total++;
            done += s_str(t, "status") && strcmp(s_str(t, "status"), "completed") == 0;
        }
        char text[64];
        snprintf(text, sizeof text, "%zu/%zu done", done, total);
        s_emitf(out, n, "plan: ", text);
    }
    else if (strncmp(name, "mcp__", 5) == 0) {
        /*  mcp__SERVER__TOOL as SERVER.TOOL */
        const char *server = name + 5, *sep = strstr(server, "__");
        sw_buf_t b;
        sw_buf_init(&b);
        if (sep) {
            sw_buf_add(&b, server, (size_t) (sep - server));
            sw_buf_printf(&b, ".%s", sep + 2);
        }
        else
            sw_buf_addstr(&b, server);
        s_emitf(out, n, "tool ", b.data);
        sw_buf_release(&b);
    }
    else
        s_emitf(out, n, "tool ", name);
}

/*  A tool's result: its first line, or that it failed. */
static void
s_claude_result(const json_t *block, sw_buf_t *out, size_t *n)
{
    const json_t *content = json_object_get(block, "content");
    const char *text = json_string_value(content);
    size_t i;
    json_t *c;
    json_array_foreach(content, i, c) {
        if (!text && s_str(c, "text"))
            text = s_str(c, "text");
    }
    const char *p;
    size_t len;
    s_first_line(text, &p, &len);
    bool error = json_is_true(json_object_get(block, "is_error"));
    if (!len)
        s_emitf(out, n, error ? "  error" : "  -> done", "");
    else
        s_emit(out, n, error ? "  error: " : "  -> ", p, len);
}

static bool
s_claude(const json_t *ev, const char *type, sw_buf_t *out, size_t *n)
{
    const json_t *msg = json_object_get(ev, "message");
    size_t i;
    json_t *block;
    if (strcmp(type, "system") == 0) {
        const char *sub = s_str(ev, "subtype");
        if (sub && strcmp(sub, "init") == 0) {
            const char *model = s_str(ev, "model");
            sw_buf_t b;
            sw_buf_init(&b);
            sw_buf_printf(&b, "claude session started%s%s%s", model ? " (" : "",
                          model ? model : "", model ? ")" : "");
            s_emitf(out, n, b.data, "");
            sw_buf_release(&b);
        }
    }
    else if (strcmp(type, "assistant") == 0) {
        json_array_foreach(json_object_get(msg, "content"), i, block) {
            const char *bt = s_str(block, "type");
            if (!bt)
                continue;
            if (strcmp(bt, "text") == 0)
                s_message(out, n, "said: ", s_str(block, "text"));
            else if (strcmp(bt, "thinking") == 0) {
                const char *p;
                size_t len;
                s_first_line(s_str(block, "thinking"), &p, &len);
                s_emit(out, n, "thinking: ", p, len);
            }
            else if (strcmp(bt, "tool_use") == 0 || strcmp(bt, "server_tool_use") == 0)
                s_claude_tool(block, out, n);
        }
    }
    else if (strcmp(type, "user") == 0) {
        json_array_foreach(json_object_get(msg, "content"), i, block) {
            const char *bt = s_str(block, "type");
            if (bt && strcmp(bt, "tool_result") == 0)
                s_claude_result(block, out, n);
        }
    }
    else if (strcmp(type, "result") == 0) {
        const json_t *u = json_object_get(ev, "usage");
        const char *sub = s_str(ev, "subtype");
        bool error = json_is_true(json_object_get(ev, "is_error"));
        sw_buf_t b;
        sw_buf_init(&b);
        sw_buf_printf(&b, "%s, %lld turn%s, %lld in / %lld out tokens", sub ? sub : "done",
                      (long long) json_integer_value(json_object_get(ev, "num_turns")),
                      json_integer_value(json_object_get(ev, "num_turns")) == 1 ? "" : "s",
                      (long long) json_integer_value(json_object_get(u, "input_tokens")),
                      (long long) json_integer_value(json_object_get(u, "output_tokens")));
        json_t *cost = json_object_get(ev, "total_cost_usd");
        if (json_is_number(cost))
            sw_buf_printf(&b, ", $%.4f", json_number_value(cost));
        s_emitf(out, n, error ? "failed: " : "done: ", b.data);
        sw_buf_release(&b);
    }
    else if (strcmp(type, "stream_event") == 0)
        ;
    else
        return false;
    return true;
}

size_t
sw_render_line(const char *runner, const char *line, size_t len, sw_buf_t *out)
{
    size_t n = 0;
    size_t b = 0;
    while (b < len && (line[b] == ' ' || line[b] == '\t'))
        b++;
    json_t *ev = sw_render_events(runner) && b < len && line[b] == '{'
               ? json_loadb(line + b, len - b, JSON_ALLOW_NUL, NULL) : NULL;
    const char *type = s_str(ev, "type");
    bool known = false;
    if (type && strcmp(runner, "codex") == 0)
        known = s_codex(ev, type, out, &n);
    else if (type)
        known = s_claude(ev, type, out, &n);
    if (type && !known) {
        char tag[80];
        snprintf(tag, sizeof tag, "[%.60s]", type);
        s_emitf(out, &n, tag, "");
    }
    if (!type) {
        /*  Not an event: the line as it is (an exec task's output, the
         *  CLI's own messages). */
        sw_buf_add(out, line, len);
        sw_buf_addstr(out, "\n");
        n = 1;
    }
    json_decref(ev);
    return n;
}

/*  --- self-test: real events, as codex 0.171 and claude 2.1 printed them ---------- */

static const char *
s_render(const char *runner, const char *line, sw_buf_t *b)
{
    sw_buf_reset(b);
    sw_render_line(runner, line, strlen(line), b);
    sw_buf_add(b, "", 0);
    return b->data;
}

int
sw_render_test(bool verbose)
{
    sw_buf_t b;
    sw_buf_init(&b);
    /*  codex exec --json, against tests/mock-model.py (MOCK:shell=hello_world) */
    CHECK(strcmp(s_render("codex", "{\"type\":\"thread.started\",\"thread_id\":\"01a22c49-1992-"
                          "7532-afc6-ba8bb6502a01\"}", &b), "codex session started\n") == 0);
    CHECK(strcmp(s_render("codex", "{\"type\":\"item.completed\",\"item\":{\"id\":\"item_0\","
                          "\"type\":\"error\",\"message\":\"Model metadata for `mock-model` not "
                          "found.\"}}", &b), "error: Model metadata for `mock-model` not found.\n")
          == 0);
    CHECK(strcmp(s_render("codex", "{\"type\":\"turn.started\"}", &b), "") == 0);
    CHECK(strcmp(s_render("codex", "{\"type\":\"item.started\",\"item\":{\"id\":\"item_1\","
                          "\"type\":\"command_execution\",\"command\":\"/bin/bash -lc 'echo "
                          "hello world'\",\"aggregated_output\":\"\",\"exit_code\":null,"
                          "\"status\":\"in_progress\"}}", &b), "$ echo hello world\n") == 0);
    CHECK(strcmp(s_render("codex", "{\"type\":\"item.completed\",\"item\":{\"id\":\"item_1\","
                          "\"type\":\"command_execution\",\"command\":\"/bin/bash -lc 'echo "
                          "hello world'\",\"aggregated_output\":\"pyenv: cannot rehash\\nhello "
                          "world\\n\",\"exit_code\":0,\"status\":\"completed\"}}", &b),
                 "  exit 0\n") == 0);
    CHECK(strcmp(s_render("codex", "{\"type\":\"item.completed\",\"item\":{\"id\":\"item_2\","
                          "\"type\":\"command_execution\",\"command\":\"bash -lc 'make'\","
                          "\"aggregated_output\":\"cc -c a.c\\nmake: *** [all] Error 2\\n\\n\","
                          "\"exit_code\":2,\"status\":\"failed\"}}", &b),
                 "  exit 2: make: *** [all] Error 2\n") == 0);
    CHECK(strcmp(s_render("codex", "{\"type\":\"item.completed\",\"item\":{\"id\":\"item_2\","
                          "\"type\":\"agent_message\",\"text\":\"tool said: Chunk ID: 428628\\n"
                          "Wall time: 0.3062 seconds\\nProcess exited with code 0\\n\"}}", &b),
                 "said: tool said: Chunk ID: 428628\n  Wall time: 0.3062 seconds\n"
                 "  Process exited with code 0\n") == 0);
    CHECK(strcmp(s_render("codex", "{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":84,"
                          "\"cached_input_tokens\":0,\"cache_write_input_tokens\":0,"
                          "\"output_tokens\":14,\"reasoning_output_tokens\":0}}", &b),
                 "tokens: 84 in (0 cached), 14 out\n") == 0);
    CHECK(strcmp(s_render("codex", "{\"type\":\"item.completed\",\"item\":{\"id\":\"i\",\"type\":"
                          "\"file_change\",\"changes\":[{\"path\":\"src/a.c\",\"kind\":\"update\"},"
                          "{\"path\":\"b.h\",\"kind\":\"add\"}],\"status\":\"completed\"}}", &b),
                 "edit src/a.c (update), b.h (add)\n") == 0);
    CHECK(strcmp(s_render("codex", "{\"type\":\"item.completed\",\"item\":{\"type\":\"reasoning\","
                          "\"text\":\"\\n**Checking tests**\\n\\nmore\"}}", &b),
                 "thinking: **Checking tests**\n") == 0);
    CHECK(strcmp(s_render("codex", "{\"type\":\"item.started\",\"item\":{\"type\":"
                          "\"mcp_tool_call\",\"server\":\"swarm\",\"tool\":\"memory_store\","
                          "\"status\":\"in_progress\"}}", &b), "tool swarm.memory_store\n") == 0);
    CHECK(strcmp(s_render("codex", "{\"type\":\"item.completed\",\"item\":{\"type\":"
                          "\"mcp_tool_call\",\"server\":\"swarm\",\"tool\":\"memory_store\","
                          "\"status\":\"failed\",\"error\":{\"message\":\"no such key\"}}}", &b),
                 "  tool swarm.memory_store: failed: no such key\n") == 0);
    CHECK(strcmp(s_render("codex", "{\"type\":\"item.updated\",\"item\":{\"type\":\"todo_list\","
                          "\"items\":[{\"text\":\"read\",\"completed\":true},{\"text\":\"fix\","
                          "\"completed\":false}]}}", &b), "plan: 1/2 done, next: fix\n") == 0);
    CHECK(strcmp(s_render("codex", "{\"type\":\"turn.failed\",\"error\":{\"message\":\"stream "
                          "disconnected\"}}", &b), "turn failed: stream disconnected\n") == 0);
    CHECK(strcmp(s_render("codex", "{\"type\":\"thread.resumed\"}", &b),
                 "[thread.resumed]\n") == 0);
    CHECK(strcmp(s_render("codex", "fake-codex: working in workspace-write sandbox", &b),
                 "fake-codex: working in workspace-write sandbox\n") == 0);
    CHECK(strcmp(s_render("codex", "{not json", &b), "{not json\n") == 0);
    /*  a quote inside the command, and a command that is not one word */
    CHECK(strcmp(s_render("codex", "{\"type\":\"item.started\",\"item\":{\"type\":"
                          "\"command_execution\",\"command\":\"/bin/bash -lc 'echo '\\\\''hi'\\\\'''"
                          "\"}}", &b), "$ echo 'hi'\n") == 0);
    CHECK(strcmp(s_render("codex", "{\"type\":\"item.started\",\"item\":{\"type\":"
                          "\"command_execution\",\"command\":\"/bin/bash -lc 'a' b\"}}", &b),
                 "$ /bin/bash -lc 'a' b\n") == 0);

    /*  claude -p --output-format stream-json --verbose (MOCK:shell=hello_claude) */
    CHECK(strcmp(s_render("claude", "{\"type\":\"system\",\"subtype\":\"init\",\"cwd\":\"/w\","
                          "\"session_id\":\"d3981b43\",\"tools\":[\"Task\",\"Bash\"],"
                          "\"mcp_servers\":[],\"model\":\"claude-opus-4-8[1m]\","
                          "\"permissionMode\":\"acceptEdits\"}", &b),
                 "claude session started (claude-opus-4-8[1m])\n") == 0);
    CHECK(strcmp(s_render("claude", "{\"type\":\"assistant\",\"message\":{\"id\":\"msg_1\","
                          "\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-opus-4-8\","
                          "\"content\":[{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"Bash\","
                          "\"input\":{\"command\":\"echo hello claude\"}}],\"stop_reason\":null,"
                          "\"usage\":{\"input_tokens\":42,\"output_tokens\":1}},"
                          "\"parent_tool_use_id\":null,\"session_id\":\"d3981b43\"}", &b),
                 "$ echo hello claude\n") == 0);
    CHECK(strcmp(s_render("claude", "{\"type\":\"user\",\"message\":{\"role\":\"user\",\"content\":"
                          "[{\"tool_use_id\":\"toolu_1\",\"type\":\"tool_result\",\"content\":"
                          "\"hello claude\",\"is_error\":false}]},\"parent_tool_use_id\":null,"
                          "\"tool_use_result\":{\"stdout\":\"hello claude\",\"stderr\":\"\"}}", &b),
                 "  -> hello claude\n") == 0);
    CHECK(strcmp(s_render("claude", "{\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":"
                          "\"text\",\"text\":\"tool said: hello claude\"}]}}", &b),
                 "said: tool said: hello claude\n") == 0);
    CHECK(strcmp(s_render("claude", "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":"
                          "false,\"duration_ms\":1052,\"num_turns\":2,\"result\":\"tool said: "
                          "hello claude\",\"session_id\":\"d3981b43\",\"total_cost_usd\":0.00077,"
                          "\"usage\":{\"input_tokens\":84,\"cache_creation_input_tokens\":0,"
                          "\"output_tokens\":14}}", &b),
                 "done: success, 2 turns, 84 in / 14 out tokens, $0.0008\n") == 0);
    CHECK(strcmp(s_render("claude", "{\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":"
                          "\"tool_use\",\"name\":\"mcp__swarm__memory_store\",\"input\":{}},"
                          "{\"type\":\"tool_use\",\"name\":\"Edit\",\"input\":{\"file_path\":"
                          "\"/w/a.c\"}}]}}", &b), "tool swarm.memory_store\nedit /w/a.c\n") == 0);
    CHECK(strcmp(s_render("claude", "{\"type\":\"user\",\"message\":{\"content\":[{\"type\":"
                          "\"tool_result\",\"content\":[{\"type\":\"text\",\"text\":\"\\nno such "
                          "file\\nmore\"}],\"is_error\":true}]}}", &b),
                 "  error: no such file\n") == 0);
    CHECK(strcmp(s_render("claude", "{\"type\":\"result\",\"subtype\":\"error_max_turns\","
                          "\"is_error\":true,\"num_turns\":1,\"usage\":{}}", &b),
                 "failed: error_max_turns, 1 turn, 0 in / 0 out tokens\n") == 0);
    CHECK(strcmp(s_render("claude", "{\"type\":\"system\",\"subtype\":\"compact_boundary\"}", &b),
                 "") == 0);
    /*  exec output is never parsed, JSON or not */
    CHECK(strcmp(s_render("exec", "{\"type\":\"result\"}", &b), "{\"type\":\"result\"}\n") == 0);

    /*  width, control characters, long messages */
    sw_buf_t big;
    sw_buf_init(&big);
    sw_buf_addstr(&big, "{\"type\":\"item.completed\",\"item\":{\"type\":\"agent_message\","
                  "\"text\":\"");
    for (int i = 0; i < 300; i++)
        sw_buf_addstr(&big, "é");
    for (int i = 0; i < 12; i++)
        sw_buf_addstr(&big, "\\nline\\u001b[31m");
    sw_buf_addstr(&big, "\"}}");
    s_render("codex", big.data, &b);
    const char *first_nl = strchr(b.data, '\n');
    CHECK(first_nl && (size_t) (first_nl - b.data) <= SW_RENDER_WIDTH);
    CHECK(sw_utf8_clean(b.data, b.len));
    CHECK(strstr(b.data, "...\n  line?[31m\n") && strstr(b.data, "  (3 more lines)\n"));
    CHECK(!strchr(b.data, '\x1b'));
    sw_buf_release(&big);
    sw_buf_release(&b);
    (void) verbose;
    return 0;
}
