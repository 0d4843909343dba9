/*  agent_orphans -- see agent_orphans.h */
#include "agent_orphans.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sw_selftest.h"
#include "sw_util.h"

static bool
s_is_pid(const char *name)
{
    if (!*name)
        return false;
    for (; *name; name++)
        if (*name < '0' || *name > '9')
            return false;
    return true;
}

/*  Slow path: every /proc/PID/stat whose ppid is ours. */
static size_t
s_children_by_scan(pid_t *pids, size_t max)
{
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    pid_t me = getpid();
    size_t n = 0;
    char path[300];
    sw_buf_t stat;
    sw_buf_init(&stat);
    struct dirent *e;
    while (n < max && (e = readdir(d))) {
        if (!s_is_pid(e->d_name))
            continue;
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        sw_buf_reset(&stat);
        if (sw_read_file(path, 4096, &stat, NULL) < 0)
            continue;
        /*  "pid (comm) state ppid ...": comm may hold spaces and parens */
        const char *p = strrchr(stat.data, ')');
        int ppid;
        if (p && sscanf(p + 1, " %*c %d", &ppid) == 1 && ppid == me)
            pids[n++] = (pid_t) atoi(e->d_name);
    }
    sw_buf_release(&stat);
    closedir(d);
    return n;
}

size_t
agent_orphans_children(pid_t *pids, size_t max)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return s_children_by_scan(pids, max);
    size_t n = 0;
    bool have_file = false;
    char path[300];
    sw_buf_t list;
    sw_buf_init(&list);
    struct dirent *e;
    while (n < max && (e = readdir(d))) {
        if (!s_is_pid(e->d_name))
            continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/children", e->d_name);
        sw_buf_reset(&list);
        if (sw_read_file(path, 1u << 20, &list, NULL) < 0)
            continue;
        have_file = true;
        for (char *p = list.data, *end; n < max; p = end) {
            long pid = strtol(p, &end, 10);
            if (end == p)
                break;
            pids[n++] = (pid_t) pid;
        }
    }
    sw_buf_release(&list);
    closedir(d);
    return have_file ? n : s_children_by_scan(pids, max);
}

/*  The value of KEY in PID's environment, whole, into *out (caller
 *  frees): 1 found, 0 not, -1 the process is gone or unreadable. */
static int
s_env_get(pid_t pid, const char *key, char **out)
{
    *out = NULL;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/environ", (int) pid);
    /*  Environments are small; read it whole, up to 1 MiB. */
    sw_buf_t env;
    sw_buf_init(&env);
    if (sw_read_file(path, 1u << 20, &env, NULL) < 0) {
        sw_buf_release(&env);
        return -1;
    }
    int found = 0;
    size_t klen = strlen(key);
    for (size_t i = 0; i < env.len;) {
        const char *var = env.data + i;
        size_t len = strnlen(var, env.len - i);
        if (len > klen && memcmp(var, key, klen) == 0 && var[klen] == '=') {
            *out = xstrndup(var + klen + 1, len - klen - 1);
            found = 1;
            break;
        }
        i += len + 1;
    }
    sw_buf_release(&env);
    return found;
}

int
agent_orphans_token(pid_t pid, char **token)
{
    return s_env_get(pid, AGENT_RUN_ENV, token);
}

/*  Whether PID is a live process: a zombie is not (its parent has not
 *  reaped it yet, maybe never), though kill(pid, 0) says it exists. */
static bool
s_alive(pid_t pid)
{
    if (kill(pid, 0) < 0 && errno == ESRCH)
        return false;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
    sw_buf_t stat;
    sw_buf_init(&stat);
    char state = '?';
    if (sw_read_file(path, 4096, &stat, NULL) == 0) {
        const char *p = strrchr(stat.data, ')');
        if (p)
            sscanf(p + 1, " %c", &state);
    }
    sw_buf_release(&stat);
    return state != 'Z' && state != 'X';
}

static void
s_kill_tree(pid_t pid)
{
    if (getpgid(pid) == pid)
        kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
}

int
agent_orphans_leftovers(const char *agent_id)
{
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    pid_t me = getpid();
    int killed = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!s_is_pid(e->d_name))
            continue;
        pid_t pid = (pid_t) atoi(e->d_name);
        char *token = NULL, *id = NULL;
        bool ours = pid != me && s_env_get(pid, AGENT_RUN_ENV, &token) == 1
                 && s_env_get(pid, "SWARM_AGENT", &id) == 1 && strcmp(id, agent_id) == 0
                 && atoi(token) != (int) me;
        /*  Its agent must be gone: a live one (another agent of the same id
         *  on this host, in a test say) looks after its own. */
        if (ours && !s_alive((pid_t) atoi(token))) {
            s_kill_tree(pid);
            killed++;
        }
        free(token);
        free(id);
    }
    closedir(d);
    return killed;
}

int
agent_orphans_sweep(const pid_t *leaders, size_t nleaders, agent_orphans_keep_fn *keep,
                    void *arg)
{
    pid_t pids[1024];
    size_t n = agent_orphans_children(pids, sizeof pids / sizeof *pids);
    int killed = 0;
    for (size_t i = 0; i < n; i++) {
        bool leader = false;
        for (size_t k = 0; k < nleaders && !leader; k++)
            leader = pids[i] == leaders[k];
        if (leader)
            continue;               /*  no need to read its environment */
        char *token = NULL;
        int have = agent_orphans_token(pids[i], &token);
        if (have >= 0 && !keep(pids[i], token, arg)) {
            s_kill_tree(pids[i]);
            killed++;
        }
        free(token);
    }
    return killed;
}

/*  --- self-test ------------------------------------------------------------------- */

/*  arg: the token of the one running task, or NULL */
static bool
s_keep(pid_t pid, const char *token, void *arg)
{
    const char *live = arg;
    (void) pid;
    return token && live && strcmp(token, live) == 0;
}

/*  Starts sh -c SCRIPT with SWARM_RUN=TOKEN and waits for it. */
static void
s_sh(const char *token, const char *script)
{
    char *env = xasprintf(AGENT_RUN_ENV "=%s", token);
    pid_t pid = fork();
    if (pid == 0) {
        char *const argv[] = { "/bin/sh", "-c", (char *) script, NULL };
        char *const envp[] = { "PATH=/usr/bin:/bin", env, NULL };
        execve("/bin/sh", argv, envp);
        _exit(127);
    }
    free(env);
    waitpid(pid, NULL, 0);
}

static size_t
s_count(void)
{
    pid_t pids[64];
    return agent_orphans_children(pids, 64);
}

int
agent_orphans_test(bool verbose)
{
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
    CHECK(s_count() == 0);
    CHECK(s_children_by_scan((pid_t[4]) { 0 }, 4) == 0);

    /*  Two setsid'd grandchildren of a task that ended: one in a group of
     *  its own with a child, one that cleared its environment. Both are
     *  reparented to us. */
    s_sh("run-1", "setsid sh -c 'sleep 60 & sleep 60' </dev/null >/dev/null 2>&1 &"
                  "env -i setsid sleep 60 </dev/null >/dev/null 2>&1 &");
    for (int i = 0; i < 200 && s_count() < 2; i++)
        usleep(10000);
    pid_t pids[8];
    CHECK(agent_orphans_children(pids, 8) == 2);
    CHECK(s_children_by_scan(pids, 8) == 2);
    /*  Until env -i has exec'd both carry the token, and /proc/PID/environ
     *  reads empty while a process is inside exec: wait for the same
     *  answer (one with run-1, one without) five polls in a row. */
    pid_t tokpid = -1;
    for (int tries = 0, stable = 0; tries < 300 && stable < 5; tries++) {
        int found = 0;
        pid_t with = -1;
        for (int i = 0; i < 2; i++) {
            char *token = NULL;
            int r = agent_orphans_token(pids[i], &token);
            CHECK(r == 0 || (r == 1 && strcmp(token, "run-1") == 0));
            free(token);
            found += r;
            if (r == 1)
                with = pids[i];
        }
        stable = found == 1 && with == tokpid ? stable + 1 : 0;
        tokpid = found == 1 ? with : -1;
        usleep(20000);
    }
    CHECK(tokpid > 0);
    pid_t notokpid = pids[0] == tokpid ? pids[1] : pids[0];
    char *none = NULL;
    CHECK(agent_orphans_token(999999999, &none) == -1 && none == NULL);

    /*  While run-1 runs, its token is kept; the one without a token is not
     *  ours to judge here and goes. */
    CHECK(agent_orphans_sweep(NULL, 0, s_keep, "run-1") == 1);
    CHECK(waitpid(notokpid, NULL, 0) == notokpid);
    CHECK(kill(tokpid, 0) == 0);
    /*  a task leader stays whatever its token */
    CHECK(agent_orphans_sweep(&tokpid, 1, s_keep, NULL) == 0);
    CHECK(kill(tokpid, 0) == 0);
    /*  run-1 ended: everything goes, the sh's child with it (same group) */
    for (int i = 0; i < 200 && s_count() > 0; i++) {
        agent_orphans_sweep(NULL, 0, s_keep, NULL);
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
        usleep(10000);
    }
    CHECK(s_count() == 0);

    /*  The longest token (ids of SW_MAX_ID bytes, sw_id_valid's limit) is
     *  read whole: a running task's stray with it is kept, not taken for
     *  another's. */
    char id[129];
    memset(id, 'x', 128);
    id[128] = '\0';
    char *longest = xasprintf("4194304:%s/%s#100", id, id);
    s_sh(longest, "setsid sleep 60 </dev/null >/dev/null 2>&1 &");
    for (int i = 0; i < 200 && s_count() < 1; i++)
        usleep(10000);
    CHECK(agent_orphans_children(pids, 8) == 1);
    /*  /proc/PID/environ reads empty while setsid execs sleep: wait for
     *  sleep itself */
    char *got = NULL, comm[64] = "", path[64];
    snprintf(path, sizeof path, "/proc/%d/comm", (int) pids[0]);
    for (int i = 0; i < 300; i++) {
        FILE *f = fopen(path, "r");
        if (f && fgets(comm, sizeof comm, f) && strcmp(comm, "sleep\n") == 0
            && agent_orphans_token(pids[0], &got) == 1) {
            fclose(f);
            break;
        }
        if (f)
            fclose(f);
        free(got);
        got = NULL;
        usleep(10000);
    }
    CHECK(got && strcmp(got, longest) == 0 && strlen(got) > 256);
    free(got);
    CHECK(agent_orphans_sweep(NULL, 0, s_keep, longest) == 0 && kill(pids[0], 0) == 0);
    longest[strlen(longest) - 1] = '1';     /*  attempt 101: another run */
    CHECK(agent_orphans_sweep(NULL, 0, s_keep, longest) == 1);
    CHECK(waitpid(pids[0], NULL, 0) == pids[0]);
    free(longest);
    (void) verbose;
    return 0;
}
