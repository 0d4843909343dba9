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
agent_env_pattern_valid(const char *pattern)
{
    size_t n = strlen(pattern), star = strcspn(pattern, "*");
    return n > 0 && !strchr(pattern, '=') && (star == n || star == n - 1);
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

/*  What a task may not set unless the agent says so (--task-env). Each
 *  entry makes a runner, or a program it starts outside the task's
 *  sandbox, run code the task chose, or sends the runner's credentials
 *  where the task chose. */
static const struct {
    const char *pattern;
    const char *why;
} s_denied[] = {
    { "LD_*", "the dynamic loader loads code from it" },
    { "DYLD_*", "the dynamic loader loads code from it" },
    { "GCONV_PATH", "glibc loads character-set modules from it" },
    { "GLIBC_TUNABLES", "it changes how glibc runs every program" },
    { "NODE_*", "Node reads options and modules from it (NODE_OPTIONS=--require runs code); "
                "claude and codex's launcher are Node programs" },
    { "PYTHON*", "Python runs and imports code from it" },
    { "PERL5*", "Perl runs and loads code from it" },
    { "PERLLIB", "Perl loads code from it" },
    { "RUBY*", "Ruby runs and loads code from it" },
    { "JAVA_TOOL_OPTIONS", "the JVM loads agents from it" },
    { "_JAVA_OPTIONS", "the JVM loads agents from it" },
    { "JDK_JAVA_OPTIONS", "the JVM loads agents from it" },
    { "DOTNET_STARTUP_HOOKS", ".NET runs code from it" },
    { "BASH_ENV", "bash runs the file it names" },
    { "ENV", "sh runs the file it names" },
    { "BASH_FUNC_*", "bash imports functions from it" },
    { "SHELLOPTS", "it changes how every bash script runs" },
    { "BASHOPTS", "it changes how every bash script runs" },
    { "PS4", "bash expands it, commands included, when tracing" },
    { "PROMPT_COMMAND", "bash runs it" },
    { "ZDOTDIR", "zsh runs the files in it" },
    { "SHELL", "tools run commands through it" },
    { "EDITOR", "tools start the program it names" },
    { "VISUAL", "tools start the program it names" },
    { "PAGER", "tools start the program it names" },
    { "LESSOPEN", "less runs it" },
    { "LESSCLOSE", "less runs it" },
    { "GIT_*", "git runs programs named by several (GIT_SSH_COMMAND, GIT_EXTERNAL_DIFF, "
               "GIT_CONFIG_* with core.fsmonitor), and claude runs git outside any sandbox" },
    { "OPENSSL_CONF", "OpenSSL loads engines from the configuration it names" },
    { "OPENSSL_ENGINES", "OpenSSL loads code from it" },
    { "OPENSSL_MODULES", "OpenSSL loads code from it" },
    { "CODEX_*", "codex's configuration (CODEX_HOME's config.toml starts programs outside "
                 "the sandbox)" },
    { "CLAUDE_*", "claude's configuration (CLAUDE_CONFIG_DIR's settings run hooks)" },
    { "OPENAI_*", "the runners' model endpoint and key: it could send the agent's key elsewhere" },
    { "ANTHROPIC_*", "the runners' model endpoint and key: it could send the agent's key "
                     "elsewhere" },
    { "HTTP_PROXY", "the runners' traffic, and their keys, would go through it" },
    { "HTTPS_PROXY", "the runners' traffic, and their keys, would go through it" },
    { "ALL_PROXY", "the runners' traffic, and their keys, would go through it" },
    { "NO_PROXY", "it changes where the runners' traffic goes" },
    { "http_proxy", "the runners' traffic, and their keys, would go through it" },
    { "https_proxy", "the runners' traffic, and their keys, would go through it" },
    { "all_proxy", "the runners' traffic, and their keys, would go through it" },
    { "no_proxy", "it changes where the runners' traffic goes" },
    { "SSL_CERT_*", "it changes which servers the runners trust" },
    { "PATH", "it chooses the programs that run" },
    { "HOME", "runners and git read their configuration there (~/.codex, ~/.claude, "
              "~/.gitconfig)" },
    { "XDG_*", "programs read their configuration there (git: XDG_CONFIG_HOME/git/config)" },
    { "TMPDIR", "codex's workspace-write sandbox lets the model write where it points (the "
                "agent's state dir, ~/.ssh)" },
    { "SWARM_CTL_MODULE", "the swarm CLI loads code from it, and the runners start swarm mcp "
                          "outside their sandbox" },
};

/*  git's identity and dates run nothing: they pass. */
static const char *const s_git_ok[] = {
    "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_AUTHOR_DATE", "GIT_COMMITTER_NAME",
    "GIT_COMMITTER_EMAIL", "GIT_COMMITTER_DATE", NULL,
};

const char *
agent_env_denylist(size_t i, const char **why)
{
    if (i >= sizeof s_denied / sizeof *s_denied)
        return NULL;
    *why = s_denied[i].why;
    return s_denied[i].pattern;
}

const char *
agent_env_denied(const char *name, size_t namelen, const char **why)
{
    for (const char *const *g = s_git_ok; *g; g++)
        if (agent_env_match(name, namelen, *g))
            return NULL;
    for (size_t i = 0; i < sizeof s_denied / sizeof *s_denied; i++)
        if (agent_env_match(name, namelen, s_denied[i].pattern)) {
            *why = s_denied[i].why;
            return s_denied[i].pattern;
        }
    return NULL;
}

/*  The literal part of a pattern: all of NAME, PREFIX of PREFIX*. */
static size_t
s_literal(const char *pattern)
{
    size_t n = strlen(pattern);
    return n > 0 && pattern[n - 1] == '*' ? n - 1 : n;
}

/*  Whether PATTERN names what DENIED covers at least as narrowly: its
 *  literal part starts with DENIED's (NODE_OPTIONS, NODE_* for NODE_*;
 *  not N*, not *). */
static bool
s_narrow(const char *pattern, const char *denied)
{
    size_t d = s_literal(denied);
    return s_literal(pattern) >= d && strncmp(pattern, denied, d) == 0;
}

bool
agent_env_pattern_admits_denied(const char *pattern, const char **which)
{
    for (size_t i = 0; i < sizeof s_denied / sizeof *s_denied; i++)
        if (s_narrow(pattern, s_denied[i].pattern)
            && agent_env_match(pattern, s_literal(pattern), s_denied[i].pattern)) {
            *which = s_denied[i].pattern;
            return true;
        }
    return false;
}

int
agent_env_check(const agent_env_policy_t *p, const sw_task_t *t, sw_err_t *err)
{
    static const char *const reserved[] = { "SWARM_JOB", "SWARM_TASK_ID", "SWARM_ATTEMPT",
                                            "SWARM_AGENT", AGENT_RUN_ENV, NULL };
    bool exec = strcmp(t->runner, "exec") == 0;
    bool patterns = p->task_env && p->task_env->n > 0;
    for (size_t i = 0; i < t->env.n; i++) {
        const char *name = t->env.k[i];
        size_t len = strlen(name);
        for (const char *const *r = reserved; *r; r++)
            if (strcmp(name, *r) == 0)
                return sw_err_set(err, SW_EINVAL, "task variable %s is set by the agent, not "
                                  "the task", name);
        /*  The agent finds an --allow-cmd program itself, in its own PATH:
         *  the task's PATH or LD_* could swap it. */
        if (exec && p->allow_cmd && (agent_env_match(name, len, "LD_*")
                                     || agent_env_match(name, len, "PATH")))
            return sw_err_set(err, SW_EINVAL, "task variable %s is not allowed on an agent "
                              "with --allow-cmd", name);
        if (patterns && !agent_env_match_any(name, len, p->task_env))
            return sw_err_set(err, SW_EINVAL, "task variable %s is not allowed by this "
                              "agent's --task-env patterns (start the agent with --task-env "
                              "%s to allow it)", name, name);
        const char *why = NULL, *denied = agent_env_denied(name, len, &why);
        if (!denied || (exec && p->allow_exec && !p->allow_cmd))
            continue;
        bool named = false;
        for (size_t k = 0; patterns && k < p->task_env->n && !named; k++)
            named = agent_env_match(name, len, p->task_env->v[k])
                 && s_narrow(p->task_env->v[k], denied);
        if (!named)
            return sw_err_set(err, SW_EINVAL, "task variable %s is refused: %s (start the "
                              "agent with --task-env %s to allow it)", name, why, name);
    }
    return 0;
}

/*  Names that never reach a hook (unless --task-env names them narrowly)
 *  though a task's own program may get them: they steer tools a node
 *  owner's hook commonly runs, outside every sandbox, into running a
 *  program or reading options or configuration the task chose
 *  (TAR_OPTIONS=--checkpoint-action=exec=CMD, MAKEFLAGS, cargo's
 *  RUSTC_WRAPPER or a CARGO_HOME config's, npm's script-shell, a cd that
 *  CDPATH sends elsewhere). Best effort: no list covers every tool, which
 *  is why docs/security.md tells owners to list what a task may set
 *  (--task-env). */
static const char *const s_hook_denied[] = {
    "TAR_OPTIONS", "MAKEFLAGS", "MFLAGS", "GNUMAKEFLAGS", "MAKEFILES", "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER", "CARGO_*", "RUSTUP_*", "npm_config_*", "NPM_CONFIG_*", "PIP_*",
    "CDPATH", "SSH_ASKPASS", "SSH_ASKPASS_REQUIRE", "SUDO_ASKPASS", "RSYNC_RSH",
    "RSYNC_CONNECT_PROG", "CVS_RSH", "CURL_HOME", "WGETRC", "DOCKER_*", "KUBECONFIG",
    "BROWSER", "MANPAGER", NULL,
};

bool
agent_env_hook_admits(const agent_env_policy_t *p, const char *name)
{
    size_t len = strlen(name);
    const char *why = NULL, *denied = agent_env_denied(name, len, &why);
    for (const char *const *h = s_hook_denied; *h && !denied; h++)
        if (agent_env_match(name, len, *h))
            denied = *h;
    if (!denied)
        return true;
    for (size_t k = 0; p->task_env && k < p->task_env->n; k++)
        if (agent_env_match(name, len, p->task_env->v[k]) && s_narrow(p->task_env->v[k], denied))
            return true;
    return false;
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

/*  Which entries of the agent's environment pass, from the last build:
 *  each entry is matched against some 30 patterns, ~50,000 instructions a
 *  task with a shell's environment (callgrind, issue 20), and the answer
 *  changes only with the environment. It is reused while BASE holds the
 *  very same entry pointers (setenv or putenv replaces one) and PASS_ENV
 *  is the same list. One thread builds environments (the loop's). */
static struct {
    char *const     *base;
    const sw_strv_t *pass_env;
    char           **pass_v;
    size_t           pass_n;
    size_t           n, cap;
    const char     **entry;     /*  [n] base's pointers */
    bool            *passes;    /*  [n] */
} s_seen;

static const bool *
s_passes(char *const *base, size_t n, const sw_strv_t *pass_env)
{
    bool same = s_seen.base == base && s_seen.n == n && s_seen.pass_env == pass_env
             && (!pass_env || (s_seen.pass_v == pass_env->v && s_seen.pass_n == pass_env->n));
    for (size_t i = 0; same && i < n; i++)
        same = s_seen.entry[i] == base[i];
    if (same)
        return s_seen.passes;
    if (n > s_seen.cap) {
        s_seen.cap = n;
        s_seen.entry = xrealloc(s_seen.entry, n * sizeof *s_seen.entry);
        s_seen.passes = xrealloc(s_seen.passes, n * sizeof *s_seen.passes);
    }
    for (size_t i = 0; i < n; i++) {
        s_seen.entry[i] = base[i];
        s_seen.passes[i] = agent_env_passes(base[i], pass_env);
    }
    s_seen.base = base;
    s_seen.n = n;
    s_seen.pass_env = pass_env;
    s_seen.pass_v = pass_env ? pass_env->v : NULL;
    s_seen.pass_n = pass_env ? pass_env->n : 0;
    return s_seen.passes;
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
    const bool *passes = s_passes(base, n, pass_env);
    for (size_t i = 0; i < n; i++)
        if (passes[i] && !s_task_sets(t, base[i]))
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
    CHECK(agent_env_pattern_valid("CC") && agent_env_pattern_valid("LC_*"));
    CHECK(agent_env_pattern_valid("*") && agent_env_pattern_valid("\xc3\xa9T\xc3\xa9"));
    CHECK(!agent_env_pattern_valid("") && !agent_env_pattern_valid("A=B"));
    CHECK(!agent_env_pattern_valid("*X") && !agent_env_pattern_valid("A*B*"));

    /*  the pass decisions are reused only for the very same entries */
    {
        char a[] = "HOME=/h", b[] = "FOO=1", c[] = "FOO=2", d[] = "LANG=C";
        char *base[] = { a, b, NULL };
        sw_strv_t foo = { (char *[]) { (char *) "FOO", NULL }, 1 };
        sw_task_t t;
        sw_task_init(&t);
        t.job = (char *) "j";
        t.id = (char *) "t";
        char **e1 = agent_env_build(base, NULL, &t, "a", "r");
        CHECK(s_count(e1, "HOME=/h") == 1 && s_count(e1, "FOO=") == 0);
        char **e2 = agent_env_build(base, &foo, &t, "a", "r");     /*  another pass list */
        CHECK(s_count(e2, "FOO=1") == 1);
        base[1] = c;                                            /*  a setenv */
        char **e3 = agent_env_build(base, &foo, &t, "a", "r");
        CHECK(s_count(e3, "FOO=2") == 1 && s_count(e3, "FOO=1") == 0);
        base[0] = d;
        char **e4 = agent_env_build(base, NULL, &t, "a", "r");
        CHECK(s_count(e4, "LANG=C") == 1 && s_count(e4, "HOME=") == 0 && s_count(e4, "FOO=") == 0);
        agent_env_free(e1);
        agent_env_free(e2);
        agent_env_free(e3);
        agent_env_free(e4);
    }

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

    /*  the task's own variables: the policy */
    sw_err_t err = { 0 };
    agent_env_policy_t pol = { NULL, false, false };
    free(t.runner);
    t.runner = xstrdup("codex");
    CHECK(agent_env_check(&pol, &t, &err) == 0);       /*  LANG, MINE */
    const char *bad[] = { "LD_PRELOAD", "NODE_OPTIONS", "CODEX_HOME", "PYTHONSTARTUP",
                          "GIT_SSH_COMMAND", "GIT_CONFIG_COUNT", "BASH_ENV", "HOME", "PATH",
                          "CLAUDE_CONFIG_DIR", "HTTPS_PROXY", "OPENAI_BASE_URL",
                          "BASH_FUNC_ls%%", "XDG_CONFIG_HOME", "SWARM_CTL_MODULE", "TMPDIR",
                          NULL };
    for (const char **b = bad; *b; b++) {
        sw_task_t u;
        sw_task_copy(&u, &t);
        sw_kv_set(&u.env, *b, "x");
        CHECK(agent_env_check(&pol, &u, &err) < 0);
        CHECK(strstr(err.msg, *b) && strstr(err.msg, "--task-env"));
        sw_task_release(&u);
    }
    CHECK(strstr(err.msg, "task variable TMPDIR is refused: codex's workspace-write sandbox ")
          && strstr(err.msg, "(start the agent with --task-env TMPDIR to allow it)"));
    sw_kv_set(&t.env, "GIT_AUTHOR_NAME", "me");
    sw_kv_set(&t.env, "NODE_ENVX", "1");       /*  NODE_*: refused */
    CHECK(agent_env_check(&pol, &t, &err) < 0 && strstr(err.msg, "NODE_ENVX"));
    /*  named narrowly enough: admitted; '*' or a short prefix: not */
    sw_strv_t pats = { 0 };
    sw_strv_push(&pats, "*");
    pol.task_env = &pats;
    CHECK(agent_env_check(&pol, &t, &err) < 0);
    sw_strv_push(&pats, "N*");
    CHECK(agent_env_check(&pol, &t, &err) < 0);
    sw_strv_push(&pats, "NODE_*");
    CHECK(agent_env_check(&pol, &t, &err) == 0);
    /*  the patterns are an allowlist */
    sw_strv_release(&pats);
    sw_strv_push(&pats, "NODE_ENVX");
    CHECK(agent_env_check(&pol, &t, &err) < 0);
    CHECK(strstr(err.msg, "task variable LANG is not allowed by this agent's --task-env"));
    sw_strv_push(&pats, "LANG");
    sw_strv_push(&pats, "MINE");
    sw_strv_push(&pats, "GIT_AUTHOR_*");
    CHECK(agent_env_check(&pol, &t, &err) == 0);
    const char *which = NULL;
    CHECK(agent_env_pattern_admits_denied("NODE_ENVX", &which) && strcmp(which, "NODE_*") == 0);
    CHECK(agent_env_pattern_admits_denied("LD_*", &which));
    CHECK(!agent_env_pattern_admits_denied("*", &which) && !agent_env_pattern_admits_denied("CC", &which));
    /*  exec tasks on an --allow-exec agent skip the denylist; with
     *  --allow-cmd they do not, and PATH and LD_* are refused anyway */
    pol.task_env = NULL;
    free(t.runner);
    t.runner = xstrdup("exec");
    CHECK(agent_env_check(&pol, &t, &err) < 0);
    pol.allow_exec = true;
    CHECK(agent_env_check(&pol, &t, &err) == 0);
    sw_kv_set(&t.env, "LD_PRELOAD", "/x.so");
    CHECK(agent_env_check(&pol, &t, &err) == 0);
    /*  ... but not for the node owner's hooks, unless --task-env names it */
    CHECK(!agent_env_hook_admits(&pol, "LD_PRELOAD") && !agent_env_hook_admits(&pol, "NODE_ENVX"));
    CHECK(agent_env_hook_admits(&pol, "MINE") && agent_env_hook_admits(&pol, "GIT_AUTHOR_NAME"));
    /*  nor what steers the tools an owner's hook runs: a codex task's
     *  TAR_OPTIONS=--checkpoint-action=exec=CMD ran CMD in a hook's tar,
     *  outside every sandbox; CC still passes (a toolchain hook reads it) */
    static const char *const steer[] = { "TAR_OPTIONS", "MAKEFLAGS", "MFLAGS", "GNUMAKEFLAGS",
                                         "MAKEFILES", "RUSTC_WRAPPER", "CARGO_HOME",
                                         "npm_config_script_shell", "NPM_CONFIG_USERCONFIG",
                                         "PIP_INDEX_URL", "CDPATH", "SSH_ASKPASS",
                                         "SUDO_ASKPASS", "RSYNC_RSH", "CURL_HOME", "WGETRC",
                                         NULL };
    for (const char *const *v = steer; *v; v++)
        CHECK(!agent_env_hook_admits(&pol, *v));
    CHECK(agent_env_hook_admits(&pol, "CC") && agent_env_hook_admits(&pol, "TAR"));
    sw_strv_push(&pats, "TAR_OPTIONS");
    pol.task_env = &pats;
    CHECK(agent_env_hook_admits(&pol, "TAR_OPTIONS"));
    pol.task_env = NULL;
    sw_strv_release(&pats);
    sw_strv_push(&pats, "LD_PRELOAD");
    pol.task_env = &pats;
    CHECK(agent_env_hook_admits(&pol, "LD_PRELOAD") && !agent_env_hook_admits(&pol, "LD_AUDIT"));
    pol.task_env = NULL;
    pol.allow_cmd = true;
    CHECK(agent_env_check(&pol, &t, &err) < 0 && strstr(err.msg, "NODE_ENVX is refused"));
    sw_task_release(&t);
    sw_task_init(&t);
    t.id = xstrdup("t1");
    t.job = xstrdup("j");
    t.runner = xstrdup("exec");
    sw_kv_set(&t.env, "LD_PRELOAD", "/x.so");
    CHECK(agent_env_check(&pol, &t, &err) < 0);
    CHECK(strstr(err.msg, "task variable LD_PRELOAD is not allowed on an agent with --allow-cmd"));
    sw_task_release(&t);
    sw_task_init(&t);
    t.id = xstrdup("t1");
    t.job = xstrdup("j");
    t.runner = xstrdup("codex");
    sw_kv_set(&t.env, "SWARM_RUN", "forged");
    CHECK(agent_env_check(&pol, &t, &err) < 0 && strstr(err.msg, "set by the agent"));
    sw_strv_release(&pats);
    sw_task_release(&t);
    (void) verbose;
    return 0;
}
