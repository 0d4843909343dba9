/*  sw_usage -- see sw_usage.h */
#include "sw_usage.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sw_selftest.h"

int64_t
sw_usage_tokens(const sw_usage_t *u)
{
    return u->input + u->output;
}

bool
sw_usage_sane(const sw_usage_t *u)
{
    return u->input >= 0 && u->input <= SW_USAGE_MAX_TOKENS && u->cached >= 0
        && u->cached <= u->input && u->output >= 0 && u->output <= SW_USAGE_MAX_TOKENS
        && isfinite(u->cost_usd) && u->cost_usd <= SW_USAGE_MAX_USD;
}

/*  A token count: a JSON integer 0..SW_USAGE_MAX_TOKENS, or absent (0).
 *  false for anything else. */
static bool
s_count(const json_t *o, const char *name, int64_t *out)
{
    const json_t *v = json_object_get(o, name);
    if (!v || json_is_null(v)) {
        *out = 0;
        return true;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0
        || json_integer_value(v) > SW_USAGE_MAX_TOKENS)
        return false;
    *out = json_integer_value(v);
    return true;
}

/*  The bytes of a model name: what usage may carry, and so what a price
 *  may name (a price for any other name would never apply). */
static const char s_model_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                    "abcdefghijklmnopqrstuvwxyz0123456789._-:/@+[]";

bool
sw_usage_set_model(sw_usage_t *u, const char *m)
{
    if (m && *m && strlen(m) < sizeof u->model && strspn(m, s_model_chars) == strlen(m))
    {
        snprintf(u->model, sizeof u->model, "%s", m);
        return true;
    }
    return false;
}

static void
s_model(sw_usage_t *u, const json_t *v)
{
    sw_usage_set_model(u, json_string_value(v));
}

/*  claude's usage object: input_tokens excludes the cache, so what it read
 *  is input + cache reads + cache writes. */
static bool
s_claude_usage(const json_t *u, sw_usage_t *out)
{
    int64_t in, rd, wr, o;
    if (!json_is_object(u) || !s_count(u, "input_tokens", &in)
        || !s_count(u, "cache_read_input_tokens", &rd)
        || !s_count(u, "cache_creation_input_tokens", &wr) || !s_count(u, "output_tokens", &o))
        return false;
    out->input = in + rd + wr;
    out->cached = rd;
    out->output = o;
    return out->input <= SW_USAGE_MAX_TOKENS;
}

static bool
s_add(sw_usage_t *to, const sw_usage_t *d)
{
    sw_usage_t t = *to;
    t.input += d->input;
    t.cached += d->cached;
    t.output += d->output;
    if (!sw_usage_sane(&t))
        return false;
    *to = t;
    return true;
}

static bool
s_codex_event(sw_usage_reader_t *r, const json_t *ev)
{
    bool changed = false;
    const char *type = json_string_value(json_object_get(ev, "type"));
    char before[SW_USAGE_MODEL_MAX];
    snprintf(before, sizeof before, "%s", r->total.model);
    s_model(&r->total, json_object_get(ev, "model"));
    changed = strcmp(before, r->total.model) != 0;
    const json_t *u = json_object_get(ev, "usage");
    if (!type || strcmp(type, "turn.completed") != 0 || !json_is_object(u))
        return changed;
    sw_usage_t d = { .cost_usd = -1 };
    if (!s_count(u, "input_tokens", &d.input) || !s_count(u, "cached_input_tokens", &d.cached)
        || !s_count(u, "output_tokens", &d.output) || d.cached > d.input
        || !s_add(&r->total, &d)) {
        r->rejected++;
        return changed;
    }
    r->seen = true;
    return true;
}

static bool
s_claude_event(sw_usage_reader_t *r, const json_t *ev)
{
    const char *type = json_string_value(json_object_get(ev, "type"));
    if (!type)
        return false;
    char before[SW_USAGE_MODEL_MAX];
    snprintf(before, sizeof before, "%s", r->total.model);
    bool changed = false;
    if (strcmp(type, "system") == 0)
        s_model(&r->total, json_object_get(ev, "model"));
    else if (strcmp(type, "assistant") == 0 && !r->have_result) {
        const json_t *msg = json_object_get(ev, "message");
        s_model(&r->total, json_object_get(msg, "model"));
        sw_usage_t u = { .cost_usd = -1 };
        const char *id = json_string_value(json_object_get(msg, "id"));
        if (json_is_object(json_object_get(msg, "usage"))) {
            if (!s_claude_usage(json_object_get(msg, "usage"), &u)) {
                r->rejected++;
                return false;
            }
            /*  The same message again (one event per content block,
             *  maybe after another's: sub-agents run at once): its
             *  latest usage replaces the earlier one. */
            sw_usage_t msgs = r->msgs;
            size_t slot = SW_USAGE_RECENT;
            for (size_t i = 0; id && i < SW_USAGE_RECENT; i++)
                if (r->recent[i].id && strcmp(id, r->recent[i].id) == 0)
                    slot = i;
            if (slot < SW_USAGE_RECENT) {
                msgs.input -= r->recent[slot].u.input;
                msgs.cached -= r->recent[slot].u.cached;
                msgs.output -= r->recent[slot].u.output;
            }
            if (!s_add(&msgs, &u)) {
                r->rejected++;
                return false;
            }
            r->msgs = msgs;
            if (slot == SW_USAGE_RECENT && id) {
                slot = r->recent_next;
                r->recent_next = (r->recent_next + 1) % SW_USAGE_RECENT;
                free(r->recent[slot].id);
                r->recent[slot].id = xstrdup(id);
            }
            if (slot < SW_USAGE_RECENT)
                r->recent[slot].u = u;
            r->total.input = msgs.input;
            r->total.cached = msgs.cached;
            r->total.output = msgs.output;
            r->seen = changed = true;
        }
    }
    else if (strcmp(type, "result") == 0) {
        sw_usage_t u = { .cost_usd = -1 };
        const json_t *c = json_object_get(ev, "total_cost_usd");
        if (json_is_object(json_object_get(ev, "usage"))
            && !s_claude_usage(json_object_get(ev, "usage"), &u)) {
            r->rejected++;
            return false;
        }
        if (c && !json_is_null(c)) {
            if (!json_is_number(c) || json_number_value(c) < 0
                || !isfinite(json_number_value(c))
                || json_number_value(c) > SW_USAGE_MAX_USD) {
                r->rejected++;
                return false;
            }
            u.cost_usd = json_number_value(c);
        }
        if (!json_is_object(json_object_get(ev, "usage")) && u.cost_usd < 0)
            return false;
        /*  modelUsage names the models; the first one, when none was named */
        const json_t *mu = json_object_get(ev, "modelUsage");
        if (!r->total.model[0] && json_is_object(mu) && json_object_size(mu) > 0) {
            void *it = json_object_iter((json_t *) mu);
            json_t *k = json_string(json_object_iter_key(it));
            s_model(&r->total, k);
            json_decref(k);
        }
        if (!json_is_object(json_object_get(ev, "usage"))) {
            u.input = r->total.input;
            u.cached = r->total.cached;
            u.output = r->total.output;
        }
        snprintf(u.model, sizeof u.model, "%s", r->total.model);
        r->total = u;
        r->have_result = r->seen = changed = true;
    }
    return changed || strcmp(before, r->total.model) != 0;
}

static bool
s_line(sw_usage_reader_t *r, const char *p, size_t n)
{
    while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == ' '))
        n--;
    if (n == 0 || p[0] != '{')
        return false;
    json_t *ev = json_loadb(p, n, 0, NULL);
    bool changed = false;
    if (json_is_object(ev))
        changed = r->claude ? s_claude_event(r, ev) : s_codex_event(r, ev);
    json_decref(ev);
    return changed;
}

void
sw_usage_reader_init(sw_usage_reader_t *r, const char *runner)
{
    memset(r, 0, sizeof *r);
    sw_buf_init(&r->line);
    r->claude = runner && strcmp(runner, "claude") == 0;
    r->off = !runner || (strcmp(runner, "claude") != 0 && strcmp(runner, "codex") != 0);
    r->total.cost_usd = -1;
    r->msgs.cost_usd = -1;
}

void
sw_usage_reader_release(sw_usage_reader_t *r)
{
    sw_buf_release(&r->line);
    for (size_t i = 0; i < SW_USAGE_RECENT; i++) {
        free(r->recent[i].id);
        r->recent[i].id = NULL;
    }
}

bool
sw_usage_reader_feed(sw_usage_reader_t *r, const char *p, size_t n)
{
    bool changed = false;
    if (r->off)
        return false;
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t take = nl ? (size_t) (nl - p) : n;
        if (!r->skipping) {
            if (r->line.len + take > SW_USAGE_LINE_MAX) {
                r->skipping = true;
                sw_buf_reset(&r->line);
            }
            else if (nl && r->line.len == 0)
                changed |= s_line(r, p, take);     /*  whole line: no copy */
            else
                sw_buf_add(&r->line, p, take);
        }
        if (!nl)
            break;
        if (!r->skipping && r->line.len > 0)
            changed |= s_line(r, r->line.data, r->line.len);
        sw_buf_reset(&r->line);
        r->skipping = false;        /*  a line over the cap ends here */
        p = nl + 1;
        n -= take + 1;
    }
    return changed;
}

bool
sw_usage_reader_end(sw_usage_reader_t *r)
{
    bool changed = false;
    if (!r->off && !r->skipping && r->line.len > 0)
        changed = s_line(r, r->line.data, r->line.len);
    sw_buf_reset(&r->line);
    return changed;
}

/*  A line `KEY = "V"` or `KEY = 'V'` (p..e, spaces trimmed on the left):
 *  V (< SW_USAGE_MODEL_MAX bytes) into out. */
static bool
s_toml_str(const char *p, const char *e, const char *key, char *out)
{
    size_t k = strlen(key);
    if ((size_t) (e - p) <= k || strncmp(p, key, k) != 0 || (p[k] != ' ' && p[k] != '\t'
                                                              && p[k] != '='))
        return false;
    p += k;
    while (p < e && (*p == ' ' || *p == '\t'))
        p++;
    if (p >= e || *p != '=')
        return false;
    p++;
    while (p < e && (*p == ' ' || *p == '\t'))
        p++;
    char q = p < e ? *p : 0;
    const char *close = q == '"' || q == '\'' ? memchr(p + 1, q, (size_t) (e - p - 1)) : NULL;
    if (!close || (size_t) (close - p - 1) >= SW_USAGE_MODEL_MAX)
        return false;
    memcpy(out, p + 1, (size_t) (close - p - 1));
    out[close - p - 1] = '\0';
    return true;
}

bool
sw_usage_codex_config_model(const char *text, size_t n, sw_usage_t *u)
{
    /*  codex runs the model of its default profile (top-level `profile =
     *  "P"`, table [profiles.P]) when that names one, else the top-level
     *  `model`: the one to price. */
    char model[SW_USAGE_MODEL_MAX] = "", profile[SW_USAGE_MODEL_MAX] = "",
         pmodel[SW_USAGE_MODEL_MAX] = "";
    bool top = true, in_profile = false;
    for (size_t start = 0; start < n; ) {
        const char *nl = memchr(text + start, '\n', n - start);
        size_t end = nl ? (size_t) (nl - text) : n;
        const char *p = text + start, *e = text + end;
        while (p < e && (*p == ' ' || *p == '\t'))
            p++;
        while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
            e--;
        if (p < e && *p == '[') {
            top = false;
            in_profile = false;
            if (profile[0]) {
                char h1[SW_USAGE_MODEL_MAX + 16], h2[SW_USAGE_MODEL_MAX + 16];
                snprintf(h1, sizeof h1, "[profiles.%s]", profile);
                snprintf(h2, sizeof h2, "[profiles.\"%s\"]", profile);
                size_t len = (size_t) (e - p);
                in_profile = (len == strlen(h1) && memcmp(p, h1, len) == 0)
                          || (len == strlen(h2) && memcmp(p, h2, len) == 0);
            }
        }
        else if (top) {
            if (!s_toml_str(p, e, "model", model))
                s_toml_str(p, e, "profile", profile);
        }
        else if (in_profile)
            s_toml_str(p, e, "model", pmodel);
        start = end + 1;
    }
    const char *m = pmodel[0] ? pmodel : model;
    if (!m[0])
        return false;
    if (u->model[0])
        return true;
    return sw_usage_set_model(u, m);
}

int
sw_usage_from_result(const json_t *doc, sw_usage_t *u)
{
    memset(u, 0, sizeof *u);
    u->cost_usd = -1;
    const json_t *us = json_object_get(doc, "usage");
    const char *runner = json_string_value(json_object_get(doc, "runner"));
    if (!json_is_object(us) || !runner)
        return -1;
    if (strcmp(runner, "claude") == 0) {
        if (!s_claude_usage(us, u))
            return -1;
        const json_t *c = json_object_get(us, "cost_usd");
        if (json_is_number(c) && isfinite(json_number_value(c)) && json_number_value(c) >= 0
            && json_number_value(c) <= SW_USAGE_MAX_USD)
            u->cost_usd = json_number_value(c);
    }
    else if (strcmp(runner, "codex") == 0) {
        if (!s_count(us, "input_tokens", &u->input)
            || !s_count(us, "cached_input_tokens", &u->cached)
            || !s_count(us, "output_tokens", &u->output))
            return -1;
    }
    else
        return -1;
    s_model(u, json_object_get(us, "model"));
    return sw_usage_sane(u) ? 0 : -1;
}

/*  --- prices --------------------------------------------------------------- */

static bool
s_price(const char *s, double *out)
{
    while (*s == ' ' || *s == '\t')
        s++;
    /*  decimal only: strtod would take "0x10" as 16 */
    if (!*s || !(*s >= '0' && *s <= '9') || strspn(s, "0123456789.eE+- \t") != strlen(s))
        return false;
    char *end;
    double v = strtod(s, &end);
    while (*end == ' ' || *end == '\t')
        end++;
    if (*end || !isfinite(v) || v < 0 || v > 1000000)
        return false;
    *out = v;
    return true;
}

int
sw_prices_add(sw_prices_t *p, const char *entry, sw_err_t *err)
{
    const char *eq = strchr(entry, '=');
    if (!eq)
        return sw_err_set(err, SW_EINVAL, "price '%s': expected MODEL=INPUT,CACHED_INPUT,OUTPUT "
                          "(USD per million tokens)", entry);
    size_t ml = (size_t) (eq - entry);
    while (ml > 0 && (entry[ml - 1] == ' ' || entry[ml - 1] == '\t'))
        ml--;
    if (ml == 0 || ml >= SW_USAGE_MODEL_MAX)
        return sw_err_set(err, SW_EINVAL, "price '%s': the model name must be 1 to %d bytes",
                          entry, SW_USAGE_MODEL_MAX - 1);
    for (size_t i = 0; i < ml; i++)
        if (!memchr(s_model_chars, entry[i], sizeof s_model_chars - 1))
            return sw_err_set(err, SW_EINVAL, "price '%s': the model name may hold only "
                              "A-Z a-z 0-9 . _ - : / @ + [ ] (no quotes: "
                              "price.gpt-5-codex = 1.25, 0.125, 10)", entry);
    char *parts = xstrdup(eq + 1);
    double v[3];
    int k = 0;
    char *save = NULL;
    bool ok = true;
    for (char *tok = strtok_r(parts, ",", &save); tok && ok; tok = strtok_r(NULL, ",", &save))
        ok = k < 3 && s_price(tok, &v[k++]);
    /*  strtok_r skips empty fields: count the commas too */
    size_t commas = 0;
    for (const char *c = eq + 1; *c; c++)
        commas += *c == ',';
    free(parts);
    if (!ok || k != 3 || commas != 2)
        return sw_err_set(err, SW_EINVAL, "price '%s': expected three prices "
                          "INPUT, CACHED_INPUT, OUTPUT in USD per million tokens, "
                          "each a number from 0 to 1000000", entry);
    char model[SW_USAGE_MODEL_MAX];
    memcpy(model, entry, ml);
    model[ml] = '\0';
    sw_price_t *slot = (sw_price_t *) sw_prices_find(p, model);
    if (!slot) {
        p->v = xrealloc(p->v, (p->n + 1) * sizeof *p->v);
        slot = &p->v[p->n++];
        slot->model = xstrdup(model);
    }
    slot->input = v[0];
    slot->cached = v[1];
    slot->output = v[2];
    return 0;
}

void
sw_prices_release(sw_prices_t *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->v[i].model);
    free(p->v);
    p->v = NULL;
    p->n = 0;
}

const sw_price_t *
sw_prices_find(const sw_prices_t *p, const char *model)
{
    for (size_t i = 0; model && i < p->n; i++)
        if (strcmp(p->v[i].model, model) == 0)
            return &p->v[i];
    return NULL;
}

double
sw_price_cost(const sw_price_t *price, const sw_usage_t *u)
{
    return ((double) (u->input - u->cached) * price->input + (double) u->cached * price->cached
            + (double) u->output * price->output) / 1e6;
}

/*  --- JSON ----------------------------------------------------------------- */

json_t *
sw_usage_to_json(const sw_usage_t *u)
{
    json_t *o = json_pack("{s:I, s:I, s:I}", "input_tokens", (json_int_t) u->input,
                          "cached_input_tokens", (json_int_t) u->cached,
                          "output_tokens", (json_int_t) u->output);
    if (u->cost_usd >= 0)
        json_object_set_new(o, "cost_usd", json_real(u->cost_usd));
    if (u->model[0])
        json_object_set_new(o, "model", json_string(u->model));
    return o;
}

int
sw_usage_from_json(const json_t *o, sw_usage_t *u, sw_err_t *err)
{
    memset(u, 0, sizeof *u);
    u->cost_usd = -1;
    if (!json_is_object(o))
        return sw_err_set(err, SW_EINVAL, "usage: not an object");
    if (!s_count(o, "input_tokens", &u->input) || !s_count(o, "cached_input_tokens", &u->cached)
        || !s_count(o, "output_tokens", &u->output) || u->cached > u->input)
        return sw_err_set(err, SW_EINVAL, "usage: token counts must be integers 0..%lld "
                          "(cached at most input)", (long long) SW_USAGE_MAX_TOKENS);
    const json_t *c = json_object_get(o, "cost_usd");
    if (c && !json_is_null(c)) {
        if (!json_is_number(c) || !isfinite(json_number_value(c)) || json_number_value(c) < 0
            || json_number_value(c) > SW_USAGE_MAX_USD)
            return sw_err_set(err, SW_EINVAL, "usage: cost_usd must be 0..%g", SW_USAGE_MAX_USD);
        u->cost_usd = json_number_value(c);
    }
    const json_t *m = json_object_get(o, "model");
    if (m && !json_is_null(m)) {
        s_model(u, m);
        if (!u->model[0])
            return sw_err_set(err, SW_EINVAL, "usage: model must be 1..%d bytes of "
                              "A-Z a-z 0-9 . _ - : / @ + [ ]", SW_USAGE_MODEL_MAX - 1);
    }
    return 0;
}

int
sw_usage_parse_usd(const char *s, int64_t *micro)
{
    if (!s)
        return -1;
    if (*s == '$')
        s++;
    int64_t whole = 0, frac = 0;
    int digits = 0, decimals = 0;
    for (; *s >= '0' && *s <= '9'; s++, digits++) {
        whole = whole * 10 + (*s - '0');
        if (whole > (int64_t) SW_USAGE_MAX_USD)
            return -1;
    }
    if (*s == '.') {
        for (s++; *s >= '0' && *s <= '9'; s++, decimals++) {
            if (decimals == 6)
                return -1;
            frac = frac * 10 + (*s - '0');
        }
    }
    if (*s || digits + decimals == 0)
        return -1;
    for (int i = decimals; i < 6; i++)
        frac *= 10;
    int64_t v = whole * 1000000 + frac;
    if (v <= 0 || v > (int64_t) (SW_USAGE_MAX_USD * 1e6))
        return -1;
    *micro = v;
    return 0;
}

void
sw_usage_fmt_usd(char *out, size_t n, double usd)
{
    if (usd > 0 && usd < 1 && fabs(usd * 100 - round(usd * 100)) > 1e-6)
        snprintf(out, n, "$%.4f", usd);
    else
        snprintf(out, n, "$%.2f", usd);
}

/*  --- tests ---------------------------------------------------------------- */

static void
s_feed_str(sw_usage_reader_t *r, const char *s, size_t cut)
{
    /*  in two pieces, cut anywhere */
    size_t n = strlen(s);
    if (cut > n)
        cut = n;
    sw_usage_reader_feed(r, s, cut);
    sw_usage_reader_feed(r, s + cut, n - cut);
}

int
sw_usage_test(bool verbose)
{
    (void) verbose;
    /*  codex --json as codex 0.5x prints it */
    const char *codex =
        "{\"type\":\"thread.started\",\"thread_id\":\"0199a213-81c0-7800-8aa1-bbab2a035a53\"}\n"
        "{\"type\":\"turn.started\"}\n"
        "{\"type\":\"item.completed\",\"item\":{\"id\":\"item_0\",\"type\":\"reasoning\","
        "\"text\":\"**Scanning**\"}}\n"
        "{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":24763,"
        "\"cached_input_tokens\":24448,\"output_tokens\":122}}\n"
        "not json at all\n"
        "{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":1000,"
        "\"cached_input_tokens\":0,\"output_tokens\":10}}\n";
    for (size_t cut = 0; cut < strlen(codex); cut += 37) {
        sw_usage_reader_t r;
        sw_usage_reader_init(&r, "codex");
        s_feed_str(&r, codex, cut);
        CHECK(r.total.input == 25763 && r.total.cached == 24448 && r.total.output == 132);
        CHECK(r.total.cost_usd < 0 && r.seen && r.rejected == 0);
        sw_usage_reader_release(&r);
    }
    /*  absurd numbers: the event is ignored */
    sw_usage_reader_t r;
    sw_usage_reader_init(&r, "codex");
    const char *bad =
        "{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":-5,\"output_tokens\":1}}\n"
        "{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":99999999999999999,"
        "\"output_tokens\":1}}\n"
        "{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":1.5,\"output_tokens\":1}}\n"
        "{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":\"7\",\"output_tokens\":1}}\n"
        "{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":3,\"cached_input_tokens\":9}}\n"
        "{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":3,\"output_tokens\":1},"
        "\"model\":\"gpt-5-codex\"}\n"
        "{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":900000000000,\"output_tokens\":0}}\n"
        "{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":900000000000,\"output_tokens\":0}}";
    sw_usage_reader_feed(&r, bad, strlen(bad));
    CHECK(!sw_usage_reader_end(&r));      /*  the second 9e11 would pass 10^12 */
    CHECK(r.total.input == 900000000003LL && r.total.output == 1 && r.rejected == 6);
    CHECK(strcmp(r.total.model, "gpt-5-codex") == 0);
    sw_usage_reader_release(&r);

    /*  claude --output-format json: one document, cost from claude */
    const char *cj =
        "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"duration_ms\":2531,"
        "\"num_turns\":1,\"result\":\"Hello\\nworld\",\"session_id\":\"9f1c\","
        "\"total_cost_usd\":0.0213,\"usage\":{\"input_tokens\":4,\"cache_creation_input_tokens\":"
        "5491,\"cache_read_input_tokens\":11226,\"output_tokens\":27,\"server_tool_use\":"
        "{\"web_search_requests\":0},\"service_tier\":\"standard\"},\"modelUsage\":"
        "{\"claude-sonnet-4-5-20250929\":{\"inputTokens\":4,\"outputTokens\":27}}}\n";
    sw_usage_reader_init(&r, "claude");
    CHECK(sw_usage_reader_feed(&r, cj, strlen(cj)));
    CHECK(r.total.input == 4 + 5491 + 11226 && r.total.cached == 11226 && r.total.output == 27);
    CHECK(fabs(r.total.cost_usd - 0.0213) < 1e-12);
    CHECK(strcmp(r.total.model, "claude-sonnet-4-5-20250929") == 0);
    sw_usage_reader_release(&r);

    /*  claude stream-json: live per message (repeated ids once), then the result */
    const char *cs =
        "{\"type\":\"system\",\"subtype\":\"init\",\"model\":\"claude-opus-4-1\",\"tools\":[]}\n"
        "{\"type\":\"assistant\",\"message\":{\"id\":\"msg_1\",\"model\":\"claude-opus-4-1\","
        "\"usage\":{\"input_tokens\":10,\"cache_read_input_tokens\":100,\"output_tokens\":5}}}\n"
        "{\"type\":\"assistant\",\"message\":{\"id\":\"msg_1\",\"usage\":{\"input_tokens\":10,"
        "\"cache_read_input_tokens\":100,\"output_tokens\":7}}}\n"
        "{\"type\":\"assistant\",\"message\":{\"id\":\"msg_2\",\"usage\":{\"input_tokens\":1,"
        "\"output_tokens\":1}}}\n";
    sw_usage_reader_init(&r, "claude");
    s_feed_str(&r, cs, 50);
    CHECK(r.total.input == 111 && r.total.cached == 100 && r.total.output == 8);
    CHECK(r.total.cost_usd < 0 && strcmp(r.total.model, "claude-opus-4-1") == 0);
    const char *res = "{\"type\":\"result\",\"total_cost_usd\":0.5,\"usage\":{\"input_tokens\":11,"
                      "\"cache_read_input_tokens\":100,\"output_tokens\":8}}";
    sw_usage_reader_feed(&r, res, strlen(res));
    CHECK(sw_usage_reader_end(&r));
    CHECK(r.total.cost_usd == 0.5 && r.total.input == 111);
    sw_usage_reader_release(&r);
    /*  a model's answer (or a command's output) that looks like usage is
     *  inside an event, escaped: only the CLI's own events count */
    const char *fake =
        "{\"type\":\"item.completed\",\"item\":{\"type\":\"agent_message\",\"text\":"
        "\"done\\n{\\\"type\\\":\\\"turn.completed\\\",\\\"usage\\\":{\\\"input_tokens\\\":999}}\\n\"}}\n"
        "{\"type\":\"item.completed\",\"item\":{\"type\":\"command_execution\","
        "\"aggregated_output\":\"{\\\"type\\\":\\\"turn.completed\\\",\\\"usage\\\":"
        "{\\\"input_tokens\\\":999}}\"}}\n";
    sw_usage_reader_init(&r, "codex");
    sw_usage_reader_feed(&r, fake, strlen(fake));
    CHECK(!r.seen && r.total.input == 0);
    sw_usage_reader_release(&r);
    sw_usage_reader_init(&r, "claude");
    const char *cfake = "{\"type\":\"user\",\"message\":{\"content\":[{\"type\":\"tool_result\","
                        "\"content\":\"{\\\"type\\\":\\\"result\\\",\\\"total_cost_usd\\\":0}\"}]}}\n";
    sw_usage_reader_feed(&r, cfake, strlen(cfake));
    CHECK(!r.seen && !r.have_result);
    sw_usage_reader_release(&r);
    /*  sub-agents (claude's Task tool) stream at once: a message's events
     *  interleave with another's, and each counts once */
    const char *ci =
        "{\"type\":\"assistant\",\"message\":{\"id\":\"msg_a\",\"usage\":{\"input_tokens\":10,"
        "\"output_tokens\":1}},\"parent_tool_use_id\":\"toolu_1\"}\n"
        "{\"type\":\"assistant\",\"message\":{\"id\":\"msg_b\",\"usage\":{\"input_tokens\":20,"
        "\"output_tokens\":2}},\"parent_tool_use_id\":\"toolu_2\"}\n"
        "{\"type\":\"assistant\",\"message\":{\"id\":\"msg_a\",\"usage\":{\"input_tokens\":10,"
        "\"output_tokens\":3}},\"parent_tool_use_id\":\"toolu_1\"}\n"
        "{\"type\":\"assistant\",\"message\":{\"id\":\"msg_b\",\"usage\":{\"input_tokens\":20,"
        "\"output_tokens\":2}},\"parent_tool_use_id\":\"toolu_2\"}\n";
    sw_usage_reader_init(&r, "claude");
    sw_usage_reader_feed(&r, ci, strlen(ci));
    CHECK(r.total.input == 30 && r.total.output == 5);
    sw_usage_reader_release(&r);
    /*  absurd cost, NaN-like: ignored */
    sw_usage_reader_init(&r, "claude");
    const char *nan = "{\"type\":\"result\",\"total_cost_usd\":1e300}\n"
                      "{\"type\":\"result\",\"total_cost_usd\":-1}\n";
    sw_usage_reader_feed(&r, nan, strlen(nan));
    CHECK(!r.seen && r.rejected == 2);
    sw_usage_reader_release(&r);
    /*  an exec task reads nothing */
    sw_usage_reader_init(&r, "exec");
    CHECK(!sw_usage_reader_feed(&r, cj, strlen(cj)));
    sw_usage_reader_release(&r);

    /*  codex's config.toml names the model */
    sw_usage_t cm = { .cost_usd = -1 };
    const char *toml = "# comment\nmodel_provider = \"mock\"\nmodel = \"gpt-5-codex\"  # x\n"
                       "[model_providers.mock]\nmodel = \"other\"\n";
    CHECK(sw_usage_codex_config_model(toml, strlen(toml), &cm) && strcmp(cm.model, "gpt-5-codex") == 0);
    sw_usage_t cm2 = { .cost_usd = -1 };
    const char *toml2 = "[profiles.x]\nmodel = \"o3\"\n";
    CHECK(!sw_usage_codex_config_model(toml2, strlen(toml2), &cm2) && !cm2.model[0]);
    const char *toml3 = "model = 'bad name'\n";
    CHECK(!sw_usage_codex_config_model(toml3, strlen(toml3), &cm2) && !cm2.model[0]);
    /*  codex runs the default profile's model: pricing the top-level one
     *  would bill o3 runs at gpt-5's rates */
    const char *toml4 = "model = \"gpt-5\"\nprofile = \"deep\"\n[profiles.fast]\nmodel = \"mini\"\n"
                        "[profiles.deep]\napproval_policy = \"never\"\nmodel = \"o3\"\n[x]\nmodel = \"z\"\n";
    sw_usage_t cm4 = { .cost_usd = -1 };
    CHECK(sw_usage_codex_config_model(toml4, strlen(toml4), &cm4) && strcmp(cm4.model, "o3") == 0);
    /*  a profile without a model of its own: the top-level one */
    const char *toml5 = "profile = 'fast'\nmodel = 'gpt-5'\n[profiles.fast]\nsandbox_mode = 'x'\n";
    sw_usage_t cm5 = { .cost_usd = -1 };
    CHECK(sw_usage_codex_config_model(toml5, strlen(toml5), &cm5) && strcmp(cm5.model, "gpt-5") == 0);
    /*  a profile that names a model when there is no top-level one */
    const char *toml6 = "profile = \"p\"\n[profiles.\"p\"]\nmodel = \"o4-mini\"\n";
    sw_usage_t cm6 = { .cost_usd = -1 };
    CHECK(sw_usage_codex_config_model(toml6, strlen(toml6), &cm6) && strcmp(cm6.model, "o4-mini") == 0);

    /*  a stored result's usage */
    json_t *rd = json_pack("{s:s, s:{s:i, s:i, s:i, s:f}}", "runner", "claude", "usage",
                           "input_tokens", 110, "output_tokens", 22, "cache_read_input_tokens", 5,
                           "cost_usd", 0.02);
    sw_usage_t ru;
    CHECK(sw_usage_from_result(rd, &ru) == 0 && ru.input == 115 && ru.cached == 5
          && ru.output == 22 && ru.cost_usd == 0.02);
    json_object_set_new(rd, "runner", json_string("codex"));
    json_object_set_new(json_object_get(rd, "usage"), "model", json_string("o3"));
    CHECK(sw_usage_from_result(rd, &ru) == 0 && ru.input == 110 && ru.cost_usd < 0
          && strcmp(ru.model, "o3") == 0);
    json_object_set_new(json_object_get(rd, "usage"), "output_tokens", json_integer(-3));
    CHECK(sw_usage_from_result(rd, &ru) < 0);
    json_decref(rd);

    /*  prices */
    sw_prices_t p = { 0 };
    sw_err_t err = { 0 };
    CHECK(sw_prices_add(&p, "gpt-5-codex=1.25, 0.125, 10", &err) == 0);
    CHECK(sw_prices_add(&p, "o3 = 2,0.5,8", &err) == 0);
    CHECK(sw_prices_add(&p, "gpt-5-codex=1,1,1", &err) == 0 && p.n == 2);
    CHECK(sw_prices_add(&p, "gpt-5-codex=1.25,0.125,10", &err) == 0);
    const char *bads[] = { "x", "=1,2,3", "m=1,2", "m=1,2,3,4", "m=1,,3", "m=a,b,c", "m=-1,0,0",
                           "m=nan,0,0", "m=1e7,0,0", "m=inf,1,1", "m x=1,2,3", "m=1,2,3x",
                           /*  names no usage can carry: the price would never apply */
                           "\"gpt-5\"=1,2,3", "'o3'=1,2,3", "gpt-5*=1,2,3", "o3#x=1,2,3",
                           "m=0x10,0,0" };
    for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
        CHECK(sw_prices_add(&p, bads[i], &err) < 0);
        CHECK(strstr(err.msg, "price '") != NULL);
    }
    CHECK(p.n == 2);
    const sw_price_t *pr = sw_prices_find(&p, "gpt-5-codex");
    sw_usage_t u = { .input = 1000000, .cached = 200000, .output = 100000, .cost_usd = -1 };
    CHECK(pr && fabs(sw_price_cost(pr, &u) - (0.8 * 1.25 + 0.2 * 0.125 + 0.1 * 10)) < 1e-9);
    CHECK(!sw_prices_find(&p, "gpt-4") && !sw_prices_find(&p, NULL));
    sw_prices_release(&p);

    /*  JSON round trip and refusal */
    snprintf(u.model, sizeof u.model, "o3");
    u.cost_usd = 0.25;
    json_t *j = sw_usage_to_json(&u);
    sw_usage_t back;
    CHECK(sw_usage_from_json(j, &back, &err) == 0);
    CHECK(back.input == u.input && back.cached == u.cached && back.output == u.output
          && back.cost_usd == 0.25 && strcmp(back.model, "o3") == 0);
    json_object_set_new(j, "output_tokens", json_integer(-1));
    CHECK(sw_usage_from_json(j, &back, &err) < 0);
    json_object_set_new(j, "output_tokens", json_integer(1));
    json_object_set_new(j, "cost_usd", json_real(2e6));
    CHECK(sw_usage_from_json(j, &back, &err) < 0);
    json_object_set_new(j, "cost_usd", json_real(1));
    json_object_set_new(j, "model", json_string("bad model\n"));
    CHECK(sw_usage_from_json(j, &back, &err) < 0);
    json_decref(j);
    int64_t micro;
    CHECK(sw_usage_parse_usd("0.07", &micro) == 0 && micro == 70000);
    CHECK(sw_usage_parse_usd("$12", &micro) == 0 && micro == 12000000);
    CHECK(sw_usage_parse_usd("0.000001", &micro) == 0 && micro == 1);
    CHECK(sw_usage_parse_usd("1000000", &micro) == 0 && micro == 1000000000000LL);
    const char *badusd[] = { "", "$", ".", "0", "0.0", "-1", "nan", "inf", "1e3", "1000000.01",
                             "99999999999999999999", "0.0000001", "1,5", "1 ", " 1", "0x10" };
    for (size_t i = 0; i < sizeof badusd / sizeof badusd[0]; i++)
        CHECK(sw_usage_parse_usd(badusd[i], &micro) < 0);
    char buf[32];
    sw_usage_fmt_usd(buf, sizeof buf, 0.07);
    CHECK(strcmp(buf, "$0.07") == 0);
    sw_usage_fmt_usd(buf, sizeof buf, 0.0123);
    CHECK(strcmp(buf, "$0.0123") == 0);
    return 0;
}
