/*  sw_task -- see sw_task.h */
#include "sw_task.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "sw_git.h"
#include "sw_cas.h"
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

/*  --- workspace ------------------------------------------------------------ */

void
sw_task_ws_release(sw_task_ws_t *w)
{
    free(w->repo);
    free(w->commit);
    free(w->manifest);
    free(w->url);
    memset(w, 0, sizeof *w);
}

static char *s_dup_opt(const char *s);

void
sw_task_ws_copy(sw_task_ws_t *dst, const sw_task_ws_t *src)
{
    dst->repo = s_dup_opt(src->repo);
    dst->commit = s_dup_opt(src->commit);
    dst->manifest = s_dup_opt(src->manifest);
    dst->url = s_dup_opt(src->url);
}

bool
sw_repo_id_valid(const char *repo)
{
    size_t n = repo ? strlen(repo) : 0;
    if (n == 0 || n > 64 || repo[0] == '.' || repo[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = repo[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/*  The transports an agent's fetch allows are file, git, http(s) and ssh
 *  (GIT_ALLOW_PROTOCOL, sw_ws_fetch.c): a URL naming another (a remote
 *  helper "ext::sh -c ...", "fd::3", "x://") is refused when the task is
 *  made, not by every agent that meets it (each made a mirror for it).
 *  Why, or NULL. */
static const char *
s_url_transport_problem(const char *url)
{
    size_t scheme = strspn(url, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");
    if (scheme > 0 && strncmp(url + scheme, "::", 2) == 0)
        return "names a git remote helper (HELPER::ADDRESS)";
    if (scheme > 0 && strncmp(url + scheme, "://", 3) == 0) {
        static const char *const ok[] = { "file", "git", "http", "https", "ssh", "git+ssh",
                                          "ssh+git", NULL };
        for (const char *const *o = ok; *o; o++)
            if (strlen(*o) == scheme && strncasecmp(url, *o, scheme) == 0)
                return NULL;
        return "names a transport other than file, git, http(s) or ssh";
    }
    return NULL;
}

int
sw_task_ws_validate(const sw_task_ws_t *w, sw_err_t *err)
{
    if (!sw_repo_id_valid(w->repo))
        return sw_err_set(err, SW_EINVAL, "workspace: invalid repository id '%s' (1-64 of "
                          "A-Z a-z 0-9 . _ -)", w->repo ? w->repo : "");
    if (!sw_git_oid_valid(w->commit))
        return sw_err_set(err, SW_EINVAL, "workspace: '%s' is not a full commit name",
                          w->commit ? w->commit : "");
    if (w->manifest && !sw_sha256_valid(w->manifest))
        return sw_err_set(err, SW_EINVAL, "workspace: manifest '%s' is not a SHA-256 digest",
                          w->manifest);
    if (!w->manifest && !w->url)
        return sw_err_set(err, SW_EINVAL, "workspace: needs a manifest or a repository URL");
    if (w->url) {
        size_t n = strlen(w->url);
        bool ctl = false;
        for (const char *p = w->url; *p; p++)
            ctl = ctl || (unsigned char) *p < 0x20 || *p == 0x7f;
        /*  A URL is an argument of git fetch: never an option. */
        if (n == 0 || n > 4096 || ctl || w->url[0] == '-')
            return sw_err_set(err, SW_EINVAL, "workspace: invalid repository URL");
        const char *why = s_url_transport_problem(w->url);
        if (why)
            return sw_err_set(err, SW_EINVAL, "workspace: the repository URL %s, which agents "
                              "refuse: give a file, git, http(s) or ssh URL, or a path", why);
    }
    return 0;
}

bool
sw_ws_path_valid(const char *path)
{
    if (!path || !*path || path[0] == '/' || strlen(path) > 4096)
        return false;
    for (const char *p = path; *p; ) {
        size_t n = strcspn(p, "/");
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return false;
        for (size_t i = 0; i < n; i++)
            if ((unsigned char) p[i] < 0x20 || p[i] == 0x7f)
                return false;
        p += n;
        if (*p == '/')
            p++;
        if (*p == '\0' && p[-1] == '/')
            return false;
    }
    return true;
}

const char *
sw_ws_output_problem(const char *path)
{
    if (!path || !*path)
        return "is empty";
    if (strlen(path) > 4096)
        return "is longer than 4096 bytes";
    if (!sw_utf8_clean(path, strlen(path)))
        return "is not UTF-8 (a result cannot carry it)";
    for (const char *p = path; *p; p++)
        if ((unsigned char) *p < 0x20 || *p == 0x7f)
            return "has a control character (a newline, a tab...): a result cannot carry it";
    if (!sw_ws_path_valid(path))
        return "would escape the destination (absolute, or with an empty, '.' or '..' part)";
    /*  git's own rule: nothing is ever written into a repository's
     *  metadata (DEST may be a work tree: .git/hooks runs code). */
    for (const char *p = path; *p; ) {
        size_t n = strcspn(p, "/");
        if (n == 4 && strncasecmp(p, ".git", 4) == 0)
            return "goes into a .git directory";
        p += n + (p[n] == '/');
    }
    return NULL;
}

char *
sw_ws_path_quote(const char *path)
{
    sw_buf_t b;
    sw_buf_init(&b);
    for (const unsigned char *p = (const unsigned char *) path; *p; ) {
        size_t len = *p < 0x80 ? 1 : *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : *p >= 0xc0 ? 2 : 0;
        if (*p == '\\')
            sw_buf_add(&b, "\\\\", 2);
        else if (*p == '\n')
            sw_buf_add(&b, "\\n", 2);
        else if (*p == '\t')
            sw_buf_add(&b, "\\t", 2);
        else if (*p < 0x20 || *p == 0x7f || len == 0 || strnlen((const char *) p, len) < len
                 || (len > 1 && !sw_utf8_clean((const char *) p, len)))
            len = 0, sw_buf_printf(&b, "\\%03o", *p);
        else {
            sw_buf_add(&b, p, len);
            p += len;
            continue;
        }
        p++;
    }
    return b.data ? (char *) b.data : xstrdup("");
}

json_t *
sw_task_ws_json(const sw_task_ws_t *w)
{
    json_t *o = json_pack("{s:s, s:s}", "repo", w->repo, "commit", w->commit);
    if (w->manifest)
        json_object_set_new(o, "manifest", json_string(w->manifest));
    if (w->url)
        json_object_set_new(o, "url", json_string(w->url));
    return o;
}

int
sw_task_ws_from_json(const json_t *o, sw_task_ws_t *w, sw_err_t *err)
{
    memset(w, 0, sizeof *w);
    if (!json_is_object(o))
        return sw_err_set(err, SW_EINVAL, "workspace: not an object");
    const char *names[] = { "repo", "commit", "manifest", "url" };
    char **fields[] = { &w->repo, &w->commit, &w->manifest, &w->url };
    for (size_t i = 0; i < 4; i++) {
        json_t *v = json_object_get(o, names[i]);
        if (v && !json_is_null(v) && !json_is_string(v)) {
            sw_task_ws_release(w);
            return sw_err_set(err, SW_EINVAL, "workspace: %s is not a string", names[i]);
        }
        if (json_is_string(v))
            *fields[i] = xstrdup(json_string_value(v));
    }
    if (sw_task_ws_validate(w, err) < 0) {
        sw_task_ws_release(w);
        return -1;
    }
    return 0;
}

void
sw_task_ws_pack(msgpack_packer *pk, const sw_task_ws_t *w)
{
    msgpack_pack_map(pk, 2 + (w->manifest != NULL) + (w->url != NULL));
    sw_mp_kv_str(pk, "repo", w->repo);
    sw_mp_kv_str(pk, "commit", w->commit);
    if (w->manifest)
        sw_mp_kv_str(pk, "manifest", w->manifest);
    if (w->url)
        sw_mp_kv_str(pk, "url", w->url);
}

int
sw_task_ws_unpack(const msgpack_object *map, const char *key, sw_task_ws_t *w, sw_err_t *err)
{
    const msgpack_object *o = sw_mp_find(map, key);
    if (!o || o->type == MSGPACK_OBJECT_NIL)
        return 0;
    if (o->type != MSGPACK_OBJECT_MAP)
        return sw_err_set(err, SW_EINVAL, "field '%s' is not a map", key);
    sw_task_ws_t t = { 0 };
    if (sw_mp_str(o, "repo", true, &t.repo, err) < 0
        || sw_mp_str(o, "commit", true, &t.commit, err) < 0
        || sw_mp_str(o, "manifest", false, &t.manifest, err) < 0
        || sw_mp_str(o, "url", false, &t.url, err) < 0
        || sw_task_ws_validate(&t, err) < 0) {
        sw_task_ws_release(&t);
        return -1;
    }
    sw_task_ws_release(w);
    *w = t;
    return 0;
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
    sw_task_ws_release(&t->ws);
    sw_strv_release(&t->outputs);
    sw_strv_release(&t->resources);
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
    sw_task_ws_copy(&dst->ws, &src->ws);
    sw_strv_copy(&dst->outputs, &src->outputs);
    sw_strv_copy(&dst->resources, &src->resources);
}

bool
sw_resource_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > SW_MAX_RESOURCE_NAME || !isalnum((unsigned char) name[0]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char) name[i]) && !strchr("._-", name[i]))
            return false;
    return true;
}

/*  Resources: valid names, each once, at most SW_MAX_RESOURCES. */
static int
s_resources_validate(const sw_task_t *t, sw_err_t *err)
{
    if (t->resources.n > SW_MAX_RESOURCES)
        return sw_err_set(err, SW_EINVAL, "task %s: at most %d resources, got %zu", t->id,
                          SW_MAX_RESOURCES, t->resources.n);
    for (size_t i = 0; i < t->resources.n; i++) {
        if (!sw_resource_valid(t->resources.v[i]))
            return sw_err_set(err, SW_EINVAL, "task %s: invalid resource name '%.80s' (1..%d "
                              "of A-Z a-z 0-9 . _ -, starting with a letter or digit)", t->id,
                              t->resources.v[i], SW_MAX_RESOURCE_NAME);
        for (size_t k = 0; k < i; k++)
            if (strcmp(t->resources.v[k], t->resources.v[i]) == 0)
                return sw_err_set(err, SW_EINVAL, "task %s: resource '%s' given twice", t->id,
                                  t->resources.v[i]);
    }
    return 0;
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
        if (!*t->argv.v[0])
            return sw_err_set(err, SW_EINVAL, "task %s: the program name (argv[0]) is empty",
                              t->id);
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
    if ((t->ws.repo || t->ws.commit || t->ws.manifest || t->ws.url)
        && sw_task_ws_validate(&t->ws, err) < 0) {
        char why[sizeof err->msg];
        snprintf(why, sizeof why, "%s", err->msg);
        return sw_err_set(err, SW_EINVAL, "task %s: %s", t->id, why);
    }
    if (t->ws.commit && t->dir && strcmp(t->dir, ".") != 0 && !sw_ws_path_valid(t->dir))
        return sw_err_set(err, SW_EINVAL, "task %s: with a workspace, dir '%s' must be a path "
                          "inside it (relative, without '..')", t->id, t->dir);
    /*  the worktree's .git is the agent's, and what a task writes there is
     *  never part of its change: a task started there had "no change" */
    for (const char *p = t->ws.commit && t->dir ? t->dir : ""; *p; ) {
        size_t n = strcspn(p, "/");
        if (n == 4 && strncasecmp(p, ".git", 4) == 0)
            return sw_err_set(err, SW_EINVAL, "task %s: with a workspace, dir '%s' may not be "
                              "in .git (the agent's; nothing written there is captured)",
                              t->id, t->dir);
        p += n + (p[n] == '/');
    }
    if (t->outputs.n > SW_MAX_OUTPUTS)
        return sw_err_set(err, SW_EINVAL, "task %s: at most %d output globs", t->id,
                          SW_MAX_OUTPUTS);
    for (size_t i = 0; i < t->outputs.n; i++) {
        const char *g = t->outputs.v[i];
        bool ctl = false;
        for (const char *p = g; *p; p++)
            ctl = ctl || (unsigned char) *p < 0x20 || *p == 0x7f;
        if (!*g || strlen(g) > SW_MAX_GLOB || ctl || g[0] == '/' || strcmp(g, "..") == 0
            || strncmp(g, "../", 3) == 0 || strstr(g, "/../") || (strlen(g) >= 3
            && strcmp(g + strlen(g) - 3, "/..") == 0))
            return sw_err_set(err, SW_EINVAL, "task %s: invalid output glob '%s' (a pattern "
                              "relative to the workspace, without '..')", t->id, g);
    }
    if (s_resources_validate(t, err) < 0)
        return -1;
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
                         + (t->max_budget_cents != 0) + (t->ws.commit != NULL)
                         + (t->outputs.n != 0) + (t->resources.n != 0));
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
    if (t->ws.commit) {
        sw_mp_pack_str(pk, "workspace");
        sw_task_ws_pack(pk, &t->ws);
    }
    if (t->outputs.n)
        sw_mp_kv_strv(pk, "outputs", &t->outputs);
    if (t->resources.n)
        sw_mp_kv_strv(pk, "resources", &t->resources);
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
                     &t->max_budget_cents, err) < 0
        || sw_task_ws_unpack(m, "workspace", &t->ws, err) < 0
        || sw_mp_strv(m, "outputs", false, SW_MAX_OUTPUTS, &t->outputs, err) < 0
        || sw_mp_strv(m, "resources", false, SW_MAX_RESOURCES, &t->resources, err) < 0) {
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
    /*  an empty program name (`spawn -- ''`, MCP command [""]) used to be
     *  queued, fail with ": No such file or directory" and be retried */
    free(bad.argv.v[0]);
    bad.argv.v[0] = xstrdup("");
    CHECK(sw_task_validate(&bad, &err) < 0
          && strcmp(err.msg, "task x: the program name (argv[0]) is empty") == 0);
    free(bad.argv.v[0]);
    bad.argv.v[0] = xstrdup("true");
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
    /*  resources (issue 18 §3): names checked, each once, a bounded list */
    CHECK(sw_resource_valid("codex") && sw_resource_valid("gpu.a100_x-2")
          && !sw_resource_valid("") && !sw_resource_valid("-x") && !sw_resource_valid(".x")
          && !sw_resource_valid("a b") && !sw_resource_valid("a=b")
          && !sw_resource_valid("caf\xc3\xa9") && !sw_resource_valid("a\x1f" "b")
          && !sw_resource_valid(NULL));
    char longname[SW_MAX_RESOURCE_NAME + 2];
    memset(longname, 'r', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    CHECK(!sw_resource_valid(longname));
    longname[SW_MAX_RESOURCE_NAME] = '\0';
    CHECK(sw_resource_valid(longname));
    sw_strv_push(&t.resources, "a b");
    CHECK(sw_task_validate(&t, &err) < 0 && strstr(err.msg, "invalid resource name 'a b'"));
    sw_strv_release(&t.resources);
    sw_strv_push(&t.resources, "gpu");
    sw_strv_push(&t.resources, "gpu");
    CHECK(sw_task_validate(&t, &err) < 0 && strstr(err.msg, "resource 'gpu' given twice"));
    sw_strv_release(&t.resources);
    for (int i = 0; i <= SW_MAX_RESOURCES; i++) {
        char nm[16];
        snprintf(nm, sizeof nm, "r%d", i);
        sw_strv_push(&t.resources, nm);
    }
    CHECK(sw_task_validate(&t, &err) < 0 && strstr(err.msg, "at most 16 resources"));
    sw_strv_release(&t.resources);
    sw_strv_push(&t.resources, "gpu");
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
    CHECK(back.resources.n == 1 && strcmp(back.resources.v[0], "gpu") == 0);
    sw_task_release(&back);
    msgpack_unpacked_destroy(&u);

    /*  a workspace and output globs survive the wire; bad ones are refused */
    t.ws.repo = xstrdup("shop-1a2b");
    t.ws.commit = xstrdup("0123456789abcdef0123456789abcdef01234567");
    t.ws.manifest = xstrdup("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    sw_strv_push(&t.outputs, "*.o");
    sw_strv_push(&t.outputs, "build/**/lib*.a");
    CHECK(sw_task_validate(&t, &err) == 0);
    msgpack_sbuffer_clear(&sb);
    sw_task_pack(&pk, &t);
    msgpack_unpacked_init(&u);
    CHECK(msgpack_unpack_next(&u, sb.data, sb.size, NULL) == MSGPACK_UNPACK_SUCCESS);
    CHECK(sw_task_unpack(&u.data, &back, &err) == 0);
    CHECK(back.ws.manifest && strcmp(back.ws.manifest, t.ws.manifest) == 0 && !back.ws.url);
    CHECK(back.outputs.n == 2 && strcmp(back.outputs.v[1], "build/**/lib*.a") == 0);
    sw_task_release(&back);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
    json_t *wj = sw_task_ws_json(&t.ws);
    sw_task_ws_t w2;
    CHECK(sw_task_ws_from_json(wj, &w2, &err) == 0 && strcmp(w2.repo, "shop-1a2b") == 0);
    sw_task_ws_release(&w2);
    json_object_set_new(wj, "url", json_string("--upload-pack=touch /tmp/x"));
    CHECK(sw_task_ws_from_json(wj, &w2, &err) < 0 && strstr(err.msg, "URL"));
    const char *bad_urls[] = { "ext::sh -c id", "fd::3", "FOO::bar", "svn://x/y", "ftp://h/r", NULL };
    for (const char *const *b = bad_urls; *b; b++) {
        json_object_set_new(wj, "url", json_string(*b));
        CHECK(sw_task_ws_from_json(wj, &w2, &err) < 0 && strstr(err.msg, "agents refuse"));
    }
    const char *good_urls[] = { "https://h/r.git", "SSH://h/r", "git+ssh://h/r", "host:repo.git",
                           "/srv/git/r", "file:///srv/r", "[::1]:r.git", "./x::y", NULL };
    for (const char *const *g = good_urls; *g; g++) {
        json_object_set_new(wj, "url", json_string(*g));
        CHECK(sw_task_ws_from_json(wj, &w2, &err) == 0);
        sw_task_ws_release(&w2);
    }
    json_decref(wj);
    t.dir = xstrdup("../up");
    CHECK(sw_task_validate(&t, &err) < 0 && strstr(err.msg, "inside it"));
    free(t.dir);
    t.dir = xstrdup(".git");
    CHECK(sw_task_validate(&t, &err) < 0 && strstr(err.msg, "in .git"));
    free(t.dir);
    t.dir = xstrdup("src/.GIT/x");
    CHECK(sw_task_validate(&t, &err) < 0 && strstr(err.msg, "in .git"));
    free(t.dir);
    t.dir = xstrdup("src/.github");
    CHECK(sw_task_validate(&t, &err) == 0);
    free(t.dir);
    t.dir = xstrdup("src/lib");
    CHECK(sw_task_validate(&t, &err) == 0);
    sw_strv_push(&t.outputs, "a/../../b");
    CHECK(sw_task_validate(&t, &err) < 0 && strstr(err.msg, "invalid output glob"));
    free(t.ws.commit);
    t.ws.commit = xstrdup("HEAD");
    CHECK(sw_task_validate(&t, &err) < 0 && strstr(err.msg, "full commit name"));
    CHECK(sw_ws_path_valid("a/b.c") && sw_ws_path_valid("a"));
    CHECK(!sw_ws_path_valid("a//b") && !sw_ws_path_valid("a/") && !sw_ws_path_valid("./a"));
    CHECK(!sw_ws_path_valid("/a") && !sw_ws_path_valid("a/..") && !sw_ws_path_valid(""));
    CHECK(!sw_ws_path_valid("a\nb") && sw_ws_path_valid("дизайн/файл"));
    /*  an output's path: what swarm outputs may write below DEST */
    CHECK(sw_ws_output_problem("a/b.o") == NULL && sw_ws_output_problem("-rf") == NULL);
    CHECK(sw_ws_output_problem("dé jà/ü x.o") == NULL);
    CHECK(strstr(sw_ws_output_problem("tab\there"), "control"));
    CHECK(strstr(sw_ws_output_problem("../x"), "escape"));
    CHECK(strstr(sw_ws_output_problem("a/../../x"), "escape"));
    CHECK(strstr(sw_ws_output_problem("/etc/passwd"), "escape"));
    CHECK(strstr(sw_ws_output_problem("a/.git/hooks/x"), ".git"));
    CHECK(strstr(sw_ws_output_problem(".git"), ".git"));
    CHECK(sw_ws_output_problem(".gitignore") == NULL && sw_ws_output_problem("a.git/x") == NULL);
    CHECK(strstr(sw_ws_output_problem("two\nlines"), "control"));
    CHECK(strstr(sw_ws_output_problem("bad\377"), "UTF-8"));
    CHECK(strstr(sw_ws_output_problem(""), "empty") && sw_ws_output_problem(NULL));
    char *q = sw_ws_path_quote("a\n\t\\\377b\001дз");
    CHECK(strcmp(q, "a\\n\\t\\\\\\377b\\001дз") == 0);
    free(q);
    q = sw_ws_path_quote("plain/ü");
    CHECK(strcmp(q, "plain/ü") == 0);
    free(q);
    CHECK(sw_repo_id_valid("shop_2.x-1") && !sw_repo_id_valid("-x") && !sw_repo_id_valid("a/b"));
    sw_task_release(&t);

    (void) verbose;
    return 0;
}
