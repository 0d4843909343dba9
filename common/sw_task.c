/*  sw_task -- see sw_task.h */
#include "sw_task.h"

#include <string.h>

#include "sw_selftest.h"

static const char *s_tstate_names[SW_TS_COUNT] = {
    "waiting", "queued", "running", "succeeded", "failed", "timed_out",
    "cancelled", "lost", "skipped",
};

const char *
sw_tstate_name(sw_tstate_t s)
{
    return s < SW_TS_COUNT ? s_tstate_names[s] : "unknown";
}

int
sw_tstate_parse(const char *name)
{
    for (int i = 0; i < SW_TS_COUNT; i++)
        if (name && strcmp(name, s_tstate_names[i]) == 0)
            return i;
    return -1;
}

/*  --- task spec ------------------------------------------------------------ */

void
sw_task_init(sw_task_t *t)
{
    memset(t, 0, sizeof *t);
}

void
sw_task_release(sw_task_t *t)
{
    free(t->id);
    free(t->job);
    free(t->type);
    free(t->runner);
    free(t->prompt);
    free(t->dir);
    free(t->ns);
    free(t->output_schema);
    sw_strv_release(&t->argv);
    sw_strv_release(&t->after);
    sw_kv_release(&t->labels);
    sw_kv_release(&t->env);
    sw_task_init(t);
}

static char *
s_dup_opt(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

void
sw_task_copy(sw_task_t *dst, const sw_task_t *src)
{
    sw_task_init(dst);
    dst->id = s_dup_opt(src->id);
    dst->job = s_dup_opt(src->job);
    dst->type = s_dup_opt(src->type);
    dst->runner = s_dup_opt(src->runner);
    dst->prompt = s_dup_opt(src->prompt);
    dst->dir = s_dup_opt(src->dir);
    dst->ns = s_dup_opt(src->ns);
    dst->output_schema = s_dup_opt(src->output_schema);
    sw_strv_copy(&dst->argv, &src->argv);
    sw_strv_copy(&dst->after, &src->after);
    sw_kv_copy(&dst->labels, &src->labels);
    sw_kv_copy(&dst->env, &src->env);
    dst->timeout_s = src->timeout_s;
    dst->idle_timeout_s = src->idle_timeout_s;
    dst->max_attempts = src->max_attempts;
    dst->attempt = src->attempt;
    dst->max_turns = src->max_turns;
    dst->max_budget_cents = src->max_budget_cents;
}

bool
sw_id_valid(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > SW_MAX_ID || id[0] == '-' || id[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || strchr("._-/:@+", c)))
            return false;
    }
    return true;
}

static bool
s_in(const char *s, const char *const *set)
{
    for (; *set; set++)
        if (strcmp(s, *set) == 0)
            return true;
    return false;
}

static void
s_default(char **field, const char *value)
{
    if (!*field)
        *field = xstrdup(value);
}

int
sw_task_validate(sw_task_t *t, sw_err_t *err)
{
    static const char *const types[] = { "coder", "tester", "reviewer", "docs",
                                         "architect", "cmd", NULL };
    static const char *const runners[] = { "codex", "claude", "exec", NULL };

    if (!sw_id_valid(t->id))
        return sw_err_set(err, SW_EINVAL, "invalid task id '%s' (1-%d characters of "
                          "A-Z a-z 0-9 . _ - / : @ +, not starting with - or .)",
                          t->id ? t->id : "", SW_MAX_ID);
    if (!sw_id_valid(t->job))
        return sw_err_set(err, SW_EINVAL, "invalid job id '%s'", t->job ? t->job : "");
    s_default(&t->runner, t->argv.n ? "exec" : "codex");
    s_default(&t->type, strcmp(t->runner, "exec") == 0 ? "cmd" : "coder");
    s_default(&t->ns, "results");
    if (!s_in(t->runner, runners))
        return sw_err_set(err, SW_EINVAL, "task %s: unknown runner '%s' (codex, claude, exec)",
                          t->id, t->runner);
    if (!s_in(t->type, types))
        return sw_err_set(err, SW_EINVAL, "task %s: unknown type '%s' (coder, tester, "
                          "reviewer, docs, architect, cmd)", t->id, t->type);
    /*  What the protocol carries (sw_task_unpack): more would be dropped on
     *  the way, not refused with a reason. */
    const struct { const char *name; size_t n; } lists[] = {
        { "argv", t->argv.n }, { "after", t->after.n }, { "labels", t->labels.n },
        { "env", t->env.n },
    };
    for (size_t i = 0; i < sizeof lists / sizeof *lists; i++)
        if (lists[i].n > SW_MAX_LIST)
            return sw_err_set(err, SW_EINVAL, "task %s: %s has %zu items, at most %d", t->id,
                              lists[i].name, lists[i].n, SW_MAX_LIST);
    if (strcmp(t->runner, "exec") == 0) {
        if (t->argv.n == 0)
            return sw_err_set(err, SW_EINVAL, "task %s: the exec runner needs an argv", t->id);
        if (t->prompt)
            return sw_err_set(err, SW_EINVAL, "task %s: the exec runner takes an argv, "
                              "not a prompt", t->id);
    }
    else {
        if (!t->prompt || !*t->prompt)
            return sw_err_set(err, SW_EINVAL, "task %s: the %s runner needs a prompt",
                              t->id, t->runner);
        if (t->argv.n)
            return sw_err_set(err, SW_EINVAL, "task %s: the %s runner takes a prompt, "
                              "not an argv", t->id, t->runner);
    }
    if (t->timeout_s == 0)
        t->timeout_s = 300;
    if (t->max_attempts == 0)
        t->max_attempts = 3;
    if (t->timeout_s < 1 || t->timeout_s > 7 * 86400)
        return sw_err_set(err, SW_EINVAL, "task %s: timeout must be 1..604800 s", t->id);
    if (t->idle_timeout_s < 0 || t->idle_timeout_s > 7 * 86400)
        return sw_err_set(err, SW_EINVAL, "task %s: idle timeout must be 0..604800 s", t->id);
    if (t->max_attempts < 1 || t->max_attempts > 100)
        return sw_err_set(err, SW_EINVAL, "task %s: max_attempts must be 1..100", t->id);
    if (!sw_id_valid(t->ns))
        return sw_err_set(err, SW_EINVAL, "task %s: invalid namespace '%s'", t->id, t->ns);
    for (size_t i = 0; i < t->after.n; i++) {
        if (!sw_id_valid(t->after.v[i]))
            return sw_err_set(err, SW_EINVAL, "task %s: invalid dependency id '%s'",
                              t->id, t->after.v[i]);
        if (strcmp(t->after.v[i], t->id) == 0)
            return sw_err_set(err, SW_EINVAL, "task %s depends on itself", t->id);
    }
    if (t->output_schema && strcmp(t->runner, "codex") != 0)
        return sw_err_set(err, SW_EINVAL, "task %s: an output schema needs the codex runner",
                          t->id);
    if (t->max_turns < 0 || t->max_turns > SW_MAX_TURNS)
        return sw_err_set(err, SW_EINVAL, "task %s: max_turns must be 1..%d", t->id,
                          SW_MAX_TURNS);
    if (t->max_budget_cents < 0 || t->max_budget_cents > SW_MAX_BUDGET_CENTS)
        return sw_err_set(err, SW_EINVAL, "task %s: max_budget_usd must be 0.01..%d", t->id,
                          SW_MAX_BUDGET_CENTS / 100);
    if ((t->max_turns || t->max_budget_cents) && strcmp(t->runner, "claude") != 0)
        return sw_err_set(err, SW_EINVAL, "task %s: max_turns and max_budget_usd are limits "
                          "of the claude runner (codex exec has neither: bound it with a "
                          "timeout)", t->id);
    static const char *const reserved[] = { "SWARM_JOB", "SWARM_TASK_ID", "SWARM_ATTEMPT",
                                            "SWARM_AGENT", "SWARM_RUN", NULL };
    for (size_t i = 0; i < t->env.n; i++) {
        if (!*t->env.k[i] || strchr(t->env.k[i], '='))
            return sw_err_set(err, SW_EINVAL, "task %s: invalid environment name '%s'",
                              t->id, t->env.k[i]);
        if (s_in(t->env.k[i], reserved))
            return sw_err_set(err, SW_EINVAL, "task %s: %s is set by the agent, not the task",
                              t->id, t->env.k[i]);
    }
    return 0;
}

void
sw_task_pack(msgpack_packer *pk, const sw_task_t *t)
{
    msgpack_pack_map(pk, 15 + (t->output_schema != NULL) + (t->max_turns != 0)
                         + (t->max_budget_cents != 0));
    sw_mp_kv_str(pk, "id", t->id);
    sw_mp_kv_str(pk, "job", t->job);
    sw_mp_kv_str(pk, "type", t->type);
    sw_mp_kv_str(pk, "runner", t->runner);
    sw_mp_kv_str(pk, "prompt", t->prompt);
    sw_mp_kv_strv(pk, "argv", &t->argv);
    sw_mp_kv_str(pk, "dir", t->dir);
    sw_mp_kv_strv(pk, "after", &t->after);
    sw_mp_kv_kv(pk, "labels", &t->labels);
    sw_mp_kv_kv(pk, "env", &t->env);
    sw_mp_kv_int(pk, "timeout_s", t->timeout_s);
    sw_mp_kv_int(pk, "idle_timeout_s", t->idle_timeout_s);
    sw_mp_kv_int(pk, "max_attempts", t->max_attempts);
    sw_mp_kv_int(pk, "attempt", t->attempt);
    sw_mp_kv_str(pk, "ns", t->ns);
    if (t->output_schema)
        sw_mp_kv_str(pk, "output_schema", t->output_schema);
    if (t->max_turns)
        sw_mp_kv_int(pk, "max_turns", t->max_turns);
    if (t->max_budget_cents)
        sw_mp_kv_int(pk, "max_budget_cents", t->max_budget_cents);
}

int
sw_task_unpack(const msgpack_object *m, sw_task_t *t, sw_err_t *err)
{
    sw_task_init(t);
    if (sw_mp_str(m, "id", true, &t->id, err) < 0
        || sw_mp_str(m, "job", false, &t->job, err) < 0
        || sw_mp_str(m, "type", false, &t->type, err) < 0
        || sw_mp_str(m, "runner", false, &t->runner, err) < 0
        || sw_mp_str(m, "prompt", false, &t->prompt, err) < 0
        || sw_mp_strv(m, "argv", false, SW_MAX_LIST, &t->argv, err) < 0
        || sw_mp_str(m, "dir", false, &t->dir, err) < 0
        || sw_mp_strv(m, "after", false, SW_MAX_LIST, &t->after, err) < 0
        || sw_mp_kv(m, "labels", false, SW_MAX_LIST, &t->labels, err) < 0
        || sw_mp_kv(m, "env", false, SW_MAX_LIST, &t->env, err) < 0
        || sw_mp_int(m, "timeout_s", false, 0, INT32_MAX, &t->timeout_s, err) < 0
        || sw_mp_int(m, "idle_timeout_s", false, 0, INT32_MAX, &t->idle_timeout_s, err) < 0
        || sw_mp_int(m, "max_attempts", false, 0, 1000, &t->max_attempts, err) < 0
        || sw_mp_int(m, "attempt", false, 0, INT32_MAX, &t->attempt, err) < 0
        || sw_mp_str(m, "ns", false, &t->ns, err) < 0
        || sw_mp_str(m, "output_schema", false, &t->output_schema, err) < 0
        || sw_mp_int(m, "max_turns", false, 0, SW_MAX_TURNS, &t->max_turns, err) < 0
        || sw_mp_int(m, "max_budget_cents", false, 0, SW_MAX_BUDGET_CENTS,
                     &t->max_budget_cents, err) < 0) {
        sw_task_release(t);
        return -1;
    }
    return 0;
}


int
sw_task_test(bool verbose)
{
    sw_err_t err = { 0 };
    CHECK(sw_id_valid("cc/src/foo.o") && sw_id_valid("coder-1") && !sw_id_valid("a b"));
    CHECK(!sw_id_valid("") && !sw_id_valid(".hidden") && !sw_id_valid(NULL));
    CHECK(sw_tstate_parse("timed_out") == SW_TS_TIMED_OUT && sw_tstate_parse("x") < 0);
    CHECK(SW_TS_FINAL(SW_TS_SKIPPED) && !SW_TS_FINAL(SW_TS_RUNNING));
    /*  validation errors a user sees */
    sw_task_t bad;
    sw_task_init(&bad);
    bad.id = xstrdup("-x");
    bad.job = xstrdup("j");
    CHECK(sw_task_validate(&bad, &err) < 0 && strstr(err.msg, "invalid task id"));
    free(bad.id);
    bad.id = xstrdup("x");
    CHECK(sw_task_validate(&bad, &err) < 0 && strstr(err.msg, "needs a prompt"));
    sw_strv_push(&bad.argv, "true");
    free(bad.runner);
    bad.runner = NULL;
    free(bad.type);
    bad.type = NULL;
    CHECK(sw_task_validate(&bad, &err) == 0 && strcmp(bad.runner, "exec") == 0);
    sw_strv_push(&bad.after, "x");
    CHECK(sw_task_validate(&bad, &err) < 0 && strstr(err.msg, "depends on itself"));
    sw_strv_release(&bad.after);
    sw_kv_set(&bad.env, "SWARM_RUN", "forged");
    CHECK(sw_task_validate(&bad, &err) < 0 && strstr(err.msg, "SWARM_RUN is set by the agent"));
    sw_kv_release(&bad.env);
    /*  lists within what the protocol carries */
    while (bad.argv.n < SW_MAX_LIST)
        sw_strv_push(&bad.argv, "a");
    CHECK(sw_task_validate(&bad, &err) == 0);
    sw_strv_push(&bad.argv, "a");
    CHECK(sw_task_validate(&bad, &err) < 0
          && strcmp(err.msg, "task x: argv has 4097 items, at most 4096") == 0);
    sw_task_release(&bad);

    /*  claude's limits: claude tasks only, and they survive the wire */
    sw_task_t t, back;
    sw_task_init(&t);
    t.id = xstrdup("rev");
    t.job = xstrdup("j");
    t.prompt = xstrdup("review");
    t.max_turns = 5;
    CHECK(sw_task_validate(&t, &err) < 0 && strstr(err.msg, "limits of the claude runner"));
    free(t.runner);             /*  validate filled in the default, codex */
    t.runner = xstrdup("claude");
    t.max_budget_cents = SW_MAX_BUDGET_CENTS + 1;
    CHECK(sw_task_validate(&t, &err) < 0 && strstr(err.msg, "max_budget_usd must be"));
    t.max_budget_cents = 250;
    CHECK(sw_task_validate(&t, &err) == 0);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    sw_task_pack(&pk, &t);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    CHECK(msgpack_unpack_next(&u, sb.data, sb.size, NULL) == MSGPACK_UNPACK_SUCCESS);
    CHECK(sw_task_unpack(&u.data, &back, &err) == 0);
    CHECK(back.max_turns == 5 && back.max_budget_cents == 250
          && strcmp(back.runner, "claude") == 0);
    sw_task_release(&back);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
    sw_task_release(&t);

    (void) verbose;
    return 0;
}
