/*  agent_env -- see agent_env.h */
#include "agent_env.h"

#include <string.h>

#include "agent_orphans.h"
#include "sw_selftest.h"

size_t
agent_env_namelen(const char *var)
{
    return strcspn(var, "=");
}

bool
agent_env_match(const char *name, size_t namelen, const char *pattern)
{
    size_t n = strlen(pattern);
    if (n > 0 && pattern[n - 1] == '*')
        return namelen >= n - 1 && strncmp(name, pattern, n - 1) == 0;
    return namelen == n && strncmp(name, pattern, n) == 0;
}

bool
agent_env_match_any(const char *name, size_t namelen, const sw_strv_t *patterns)
{
    for (size_t i = 0; patterns && i < patterns->n; i++)
        if (agent_env_match(name, namelen, patterns->v[i]))
            return true;
    return false;
}

bool
agent_env_passes(const char *var, const sw_strv_t *extra)
{
    static const char *const allowed[] = {
        "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TERM", "TZ", "TMPDIR",
        "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
        "no_proxy", "all_proxy", "NODE_EXTRA_CA_CERTS", "LC_*", "XDG_*", "OPENAI_*", "CODEX_*",
        "ANTHROPIC_*", "CLAUDE_*", "SSL_CERT_*", NULL,
    };
    size_t namelen = agent_env_namelen(var);
    if (agent_env_match(var, namelen, "SWARM_*"))
        return false;
    for (const char *const *a = allowed; *a; a++)
        if (agent_env_match(var, namelen, *a))
            return true;
    return agent_env_match_any(var, namelen, extra);
}

/*  Whether the task's own env sets the variable of entry NAME=VALUE. */
static bool
s_task_sets(const sw_task_t *t, const char *entry)
{
    size_t len = agent_env_namelen(entry);
    for (size_t i = 0; i < t->env.n; i++)
        if (strlen(t->env.k[i]) == len && strncmp(t->env.k[i], entry, len) == 0)
            return true;
    return false;
}

char **
agent_env_build(char *const *base, const sw_strv_t *pass_env, const sw_task_t *t,
                const char *agent_id, const char *run_token)
{
    size_t n = 0;
    while (base && base[n])
        n++;
    char **envp = xcalloc(n + t->env.n + 6, sizeof *envp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (agent_env_passes(base[i], pass_env) && !s_task_sets(t, base[i]))
            envp[k++] = xstrdup(base[i]);
    envp[k++] = xasprintf("SWARM_JOB=%s", t->job);
    envp[k++] = xasprintf("SWARM_TASK_ID=%s", t->id);
    envp[k++] = xasprintf("SWARM_ATTEMPT=%lld", (long long) t->attempt);
    envp[k++] = xasprintf("SWARM_AGENT=%s", agent_id);
    envp[k++] = xasprintf(AGENT_RUN_ENV "=%s", run_token);
    for (size_t i = 0; i < t->env.n; i++)
        envp[k++] = xasprintf("%s=%s", t->env.k[i], t->env.v[i]);
    envp[k] = NULL;
    return envp;
}

void
agent_env_free(char **envp)
{
    for (char **e = envp; e && *e; e++)
        free(*e);
    free(envp);
}

/*  --- self-test ----------------------------------------------------------------- */

static size_t
s_count(char **envp, const char *prefix)
{
    size_t n = 0;
    for (char **e = envp; *e; e++)
        n += strncmp(*e, prefix, strlen(prefix)) == 0;
    return n;
}

int
agent_env_test(bool verbose)
{
    /*  one matcher for every pattern */
    CHECK(agent_env_match("PATH", 4, "PATH") && !agent_env_match("PATHX", 5, "PATH"));
    CHECK(agent_env_match("LC_ALL", 6, "LC_*") && agent_env_match("LC_", 3, "LC_*"));
    CHECK(!agent_env_match("LC", 2, "LC_*") && agent_env_match("ANY", 3, "*"));
    CHECK(agent_env_match("PATH=/x", 4, "PATH") && agent_env_namelen("PATH=/x") == 4);
    CHECK(agent_env_namelen("BARE") == 4);

    /*  the agent's own variables: an allowlist */
    sw_strv_t extra = { 0 };
    CHECK(agent_env_passes("PATH=/bin", NULL) && agent_env_passes("LC_ALL=C", NULL));
    CHECK(agent_env_passes("OPENAI_API_KEY=k", NULL) && agent_env_passes("CODEX_HOME=/x", NULL));
    CHECK(!agent_env_passes("AWS_SECRET_ACCESS_KEY=s", NULL) && !agent_env_passes("PATHX=1", NULL));
    CHECK(!agent_env_passes("SWARM_REDIS_PASSWORD=p", NULL));
    sw_strv_push(&extra, "AWS_*");
    sw_strv_push(&extra, "CC");
    CHECK(agent_env_passes("AWS_REGION=x", &extra) && agent_env_passes("CC=gcc", &extra));
    CHECK(!agent_env_passes("CCACHE_DIR=x", &extra));
    sw_strv_push(&extra, "*");
    CHECK(agent_env_passes("ANYTHING=1", &extra) && !agent_env_passes("SWARM_X=1", &extra));
    sw_strv_release(&extra);

    /*  the environment of a task: each name once, the task's value wins */
    char *base[] = { "PATH=/usr/bin", "SECRET=s", "LANG=C", "SWARM_RUN=forged", NULL };
    sw_task_t t;
    sw_task_init(&t);
    t.id = xstrdup("t1");
    t.job = xstrdup("j");
    t.attempt = 2;
    sw_kv_set(&t.env, "LANG", "fr_FR.UTF-8");
    sw_kv_set(&t.env, "MINE", "1");
    char **envp = agent_env_build(base, NULL, &t, "a1", "42:j/t1#2");
    CHECK(s_count(envp, "PATH=/usr/bin") == 1 && s_count(envp, "SECRET=") == 0);
    CHECK(s_count(envp, "LANG=") == 1 && s_count(envp, "LANG=fr_FR.UTF-8") == 1);
    CHECK(s_count(envp, "SWARM_RUN=") == 1 && s_count(envp, "SWARM_RUN=42:j/t1#2") == 1);
    CHECK(s_count(envp, "SWARM_ATTEMPT=2") == 1 && s_count(envp, "SWARM_AGENT=a1") == 1);
    CHECK(s_count(envp, "MINE=1") == 1);
    agent_env_free(envp);
    sw_task_release(&t);
    (void) verbose;
    return 0;
}
