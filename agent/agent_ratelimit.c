/*  agent_ratelimit -- see agent_ratelimit.h */
#include "agent_ratelimit.h"

#include <ctype.h>
#include <string.h>

#include <jansson.h>

#include "sw_selftest.h"
#include "sw_util.h"

/*  What the CLIs and the providers' SDKs say about a 429, lower case:
 *  codex "exceeded retry limit, last status: 429 Too Many Requests",
 *  OpenAI "Rate limit reached for gpt-5 in organization ...", Anthropic
 *  {"type":"rate_limit_error"}, claude "API Error: 429 ...". */
static const char *const s_signs[] = {
    "429 too many requests", "status: 429", "status 429", "api error: 429", "http 429",
    "rate_limit_error", "rate_limit_exceeded", "rate limit reached", "rate limited",
    "rate-limited", "too many requests", NULL
};

/*  Whether text (n bytes) contains one of s_signs, ignoring case. */
static bool
s_says(const char *text, size_t n)
{
    if (!text)
        return false;
    for (const char *const *s = s_signs; *s; s++) {
        size_t k = strlen(*s);
        for (size_t i = 0; i + k <= n; i++) {
            size_t j = 0;
            while (j < k && tolower((unsigned char) text[i + j]) == (*s)[j])
                j++;
            if (j == k)
                return true;
        }
    }
    return false;
}

static bool
s_json_says(const json_t *v)
{
    if (json_is_string(v))
        return s_says(json_string_value(v), json_string_length(v));
    char *dump = v ? json_dumps(v, JSON_COMPACT) : NULL;
    bool yes = dump && s_says(dump, strlen(dump));
    free(dump);
    return yes;
}

/*  One JSON document of the runner's stdout: an error report of the CLI
 *  that says rate-limit. */
static bool
s_event(const char *runner, const json_t *o)
{
    if (!json_is_object(o))
        return false;
    const char *type = json_string_value(json_object_get(o, "type"));
    if (strcmp(runner, "codex") == 0) {
        /*  {"type":"error","message":...}, {"type":"turn.failed","error":{"message":...}} */
        if (!type || (strcmp(type, "error") != 0 && strcmp(type, "turn.failed") != 0))
            return false;
        return s_json_says(json_object_get(o, "message"))
            || s_json_says(json_object_get(o, "error"));
    }
    /*  claude: {"type":"result","is_error":true,"api_error_status":429,"result":"API Error: 429 ..."} */
    if (!type || strcmp(type, "result") != 0 || !json_is_true(json_object_get(o, "is_error")))
        return false;
    json_t *status = json_object_get(o, "api_error_status");
    if (json_is_integer(status))
        return json_integer_value(status) == 429;
    return s_json_says(json_object_get(o, "result"))
        || s_json_says(json_object_get(o, "error"));
}

bool
agent_rate_limited(const char *runner, const char *out, size_t out_len, const char *err,
                   size_t err_len)
{
    if (!runner || (strcmp(runner, "codex") != 0 && strcmp(runner, "claude") != 0))
        return false;
    /*  stdout: one JSON document per line (codex's events; claude's result
     *  is one line too) */
    for (size_t at = 0; out && at < out_len; ) {
        const char *nl = memchr(out + at, '\n', out_len - at);
        size_t len = nl ? (size_t) (nl - (out + at)) : out_len - at;
        if (len > 0 && out[at] == '{') {
            json_t *o = json_loadb(out + at, len, 0, NULL);
            bool yes = s_event(runner, o);
            json_decref(o);
            if (yes)
                return true;
        }
        at += len + 1;
    }
    return s_says(err, err_len);
}

/*  --- tests ------------------------------------------------------------------------- */

static bool
s_rl(const char *runner, const char *out, const char *err)
{
    return agent_rate_limited(runner, out, out ? strlen(out) : 0, err, err ? strlen(err) : 0);
}

int
agent_ratelimit_test(bool verbose)
{
    (void) verbose;
    /*  codex 0.171 exec --json after its own retries gave up on a 429 */
    const char *codex429 =
        "{\"type\":\"thread.started\",\"thread_id\":\"0199a213-81c0-7800-8aa1-bbab2a035a53\"}\n"
        "{\"type\":\"turn.started\"}\n"
        "{\"type\":\"error\",\"message\":\"exceeded retry limit, last status: 429 Too Many "
        "Requests, request id: 9b1c7a2e-5f0d\"}\n"
        "{\"type\":\"turn.failed\",\"error\":{\"message\":\"exceeded retry limit, last status: "
        "429 Too Many Requests, request id: 9b1c7a2e-5f0d\"}}\n";
    CHECK(s_rl("codex", codex429, ""));
    /*  OpenAI's TPM message inside a stream error */
    CHECK(s_rl("codex", "{\"type\":\"error\",\"message\":\"stream disconnected before "
               "completion: Rate limit reached for gpt-5 in organization org-x on tokens per "
               "min (TPM): Limit 30000, Used 29000. Please try again in 2.1s.\"}\n", NULL));
    /*  other failures are not rate-limits */
    CHECK(!s_rl("codex", "{\"type\":\"error\",\"message\":\"unexpected status 401 "
                "Unauthorized: Incorrect API key provided\"}\n", "Error: 401"));
    CHECK(!s_rl("codex", "{\"type\":\"turn.failed\",\"error\":{\"message\":\"unexpected "
                "status 400 Bad Request\"}}\n", ""));
    /*  the model writing about 429 in its answer is not one */
    CHECK(!s_rl("codex", "{\"type\":\"item.completed\",\"item\":{\"type\":\"agent_message\","
                "\"text\":\"Added handling for HTTP 429 Too Many Requests\"}}\n"
                "{\"type\":\"turn.completed\",\"usage\":{}}\n", ""));
    /*  nor what a command the model ran printed (curl against a busy API) */
    CHECK(!s_rl("codex", "{\"type\":\"item.completed\",\"item\":{\"type\":"
                "\"command_execution\",\"command\":\"curl -i api\",\"aggregated_output\":"
                "\"HTTP/1.1 429 Too Many Requests\",\"exit_code\":0}}\n", ""));
    /*  codex's stderr (without --json events) */
    CHECK(s_rl("codex", "", "ERROR: exceeded retry limit, last status: 429 Too Many Requests\n"));
    /*  claude -p --output-format json: api_error_status, or the text */
    CHECK(s_rl("claude", "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":true,"
               "\"api_error_status\":429,\"duration_ms\":2210,\"num_turns\":1,\"result\":"
               "\"API Error: 429 {\\\"type\\\":\\\"error\\\",\\\"error\\\":{\\\"type\\\":"
               "\\\"rate_limit_error\\\",\\\"message\\\":\\\"Number of request tokens has "
               "exceeded your per-minute rate limit\\\"}}\",\"session_id\":\"5f1e\","
               "\"total_cost_usd\":0}\n", ""));
    CHECK(s_rl("claude", "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":true,"
               "\"result\":\"API Error: 429 {\\\"type\\\":\\\"error\\\",\\\"error\\\":"
               "{\\\"type\\\":\\\"rate_limit_error\\\"}}\",\"total_cost_usd\":0}\n", ""));
    CHECK(!s_rl("claude", "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":true,"
                "\"api_error_status\":529,\"result\":\"API Error: 529 Overloaded\"}\n", ""));
    CHECK(!s_rl("claude", "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,"
                "\"result\":\"I added a retry for 429 Too Many Requests\"}\n", ""));
    CHECK(s_rl("claude", "", "API Error: 429 {\"type\":\"error\",\"error\":{\"type\":"
               "\"rate_limit_error\"}}"));
    /*  exec tasks are never throttled; strange input is no rate-limit */
    CHECK(!s_rl("exec", codex429, "429 Too Many Requests"));
    CHECK(!s_rl(NULL, codex429, NULL));
    CHECK(!agent_rate_limited("codex", NULL, 0, NULL, 0));
    CHECK(!s_rl("codex", "{\"type\":\"error\"\n{{{\n\n", "\x01\xff"));
    CHECK(agent_rate_limited("codex", "x", 1, "Too Many Requests", 3) == false);
    return 0;
}
