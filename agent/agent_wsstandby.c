/*  agent_wsstandby -- the standby stage of swarm-agent-workspace (see
 *  agent_wsh.h): started by the agent once a task with a workspace has
 *  run a second (agent_run_standby.c), it does while the task runs what the capture
 *  would do first and what does not depend on the task's change, then
 *  waits on stdin for the capture request. docs/design.md, "Decisions for
 *  issue 16 (i31-standby)". */
#include "agent_wsh.h"
#include "agent_wshelper.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sw_selftest.h"

#define LINE_MAX_BYTES 8192

/*  Reads stdin into line until a newline, EOF, or until_ms (monotonic; 0:
 *  no limit): 1 a whole line, 0 EOF (with or without a part of a line:
 *  the agent writes its one line at once, so a part is an agent that
 *  died while writing), 2 until_ms came first. */
static int
s_read_line(sw_buf_t *line, int64_t until_ms)
{
    for (;;) {
        if (line->len && memchr(line->data, '\n', line->len))
            return 1;
        int wait = -1;
        if (until_ms) {
            int64_t left = until_ms - sw_now_ms();
            if (left <= 0)
                return 2;
            wait = left > 1000 ? 1000 : (int) left;
        }
        struct pollfd pf = { 0, POLLIN, 0 };
        int rc = poll(&pf, 1, wait);
        if (rc <= 0)
            continue;           /*  EINTR, or the wait is over: the loop says */
        char buf[4096];
        ssize_t n = read(0, buf, sizeof buf);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0 || line->len + (size_t) n > LINE_MAX_BYTES)
            return 0;
        sw_buf_add(line, buf, (size_t) n);
    }
}

/*  A git's timeout counted from now: the gits started on standby waited
 *  through the task, which their timeout must not count. */
static void
s_arm(sw_git_proc_t *p, int64_t timeout_ms)
{
    p->deadline_ms = sw_now_ms() + (timeout_ms > 0 ? timeout_ms : SW_GIT_TIMEOUT_MS);
}

static void s_upd_end(agent_wsh_t *h);

void
agent_wsh_standby_release(agent_wsh_t *h)
{
    /*  closed empty: it leaves the index as it was and gives its lock
     *  back (never killed: a killed git leaves index.lock behind) */
    s_upd_end(h);
    sw_ws_streams_stop(&h->sb.early);
}

/*  Whether the process pid works in the directory dir: git chdirs into
 *  its work tree when it starts, so a task that moved its worktree away
 *  and made another in its place would have a waiting update-index stage
 *  the old one's files. */
static bool
s_cwd_is(pid_t pid, const char *dir)
{
    char p[64];
    snprintf(p, sizeof p, "/proc/%d/cwd", (int) pid);
    struct stat a, b;
    return stat(p, &a) == 0 && stat(dir, &b) == 0 && a.st_dev == b.st_dev
           && a.st_ino == b.st_ino;
}

/*  The standby's update-index ended without a change (stdin closed empty,
 *  waited for: never killed holding the index's lock). */
static void
s_upd_end(agent_wsh_t *h)
{
    if (!h->sb.upd_on)
        return;
    close(h->sb.upd.in_fd);
    h->sb.upd.in_fd = -1;
    sw_err_t ignored = { 0 };
    s_arm(&h->sb.upd, 10000);
    sw_git_finish(&h->sb.upd, false, NULL, &ignored);
    h->sb.upd_on = false;
}

/*  Whether the capture request req is for the run this standby is for. */
static bool
s_same_run(json_t *req, json_t *sb)
{
    const char *keys[] = { "mirrors", "repo", "job", "id", "worktree", "index", "base" };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *a = agent_wsh_str(req, keys[i]), *b = agent_wsh_str(sb, keys[i]);
        if (!a || !b || strcmp(a, b) != 0)
            return false;
    }
    return json_integer_value(json_object_get(req, "attempt"))
           == json_integer_value(json_object_get(sb, "attempt"))
           && strcmp(agent_wsh_str(req, "op") ? agent_wsh_str(req, "op") : "", "capture") == 0;
}

int
agent_wsh_standby(agent_wsh_t *h, bool *capture, json_t **standby_req, sw_err_t *err)
{
    *capture = false;
    *standby_req = NULL;
    /*  The agent's: gone with it. Its death closes our stdin too (EOF:
     *  below), this also ends a refresh under way; a SIGTERM ends us and
     *  our gits then read EOF on their stdin (their pipes were ours):
     *  none of them is killed holding the index's lock. */
    pid_t parent = getppid();
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        return 0;
    json_t *req = h->req;
    const char *wt = agent_wsh_str(req, "worktree"), *index = agent_wsh_str(req, "index"),
               *base = agent_wsh_str(req, "base");
    if (!wt || !index || !sw_git_oid_valid(base))
        return sw_err_set(err, SW_EINVAL, "standby: the request lacks a worktree or base");
    sw_ws_repo_t t = { .git_dir = h->mirror, .work_tree = wt, .index_file = index,
                       .timeout_ms = h->git_timeout_ms };
    int64_t t0 = sw_now_ms();
    sw_err_t ignored = { 0 };
    /*  1. The pack's and the patch's gits: they read what to do from
     *  stdin and touch nothing before that (the mirror's lock is not
     *  theirs to hold; a gc of the mirror meanwhile only repacks what
     *  they have not looked up yet, and git looks a pack up again when
     *  one it listed is gone). */
    if (sw_ws_streams_start(&h->r, &h->sb.early, &ignored) < 0)
        memset(&h->sb.early, 0, sizeof h->sb.early);
    /*  2. The refresh the capture would run (agent_wsh_capture: files
     *  written in the second the checkout wrote the index are racily
     *  clean), once that second is over. The index is the slot's, the
     *  agent's alone, never the task's; refreshing it while the task
     *  writes files is safe by git's racy-git rule: an entry is taken as
     *  clean from its stat data only when the file's mtime is before the
     *  index's, and the refresh writes entries of files modified in its
     *  own second as racily clean (smudged: their content is compared at
     *  the next read), so a file the task writes after (or while) the
     *  refresh stat()s it is still found changed by the capture's scan.
     *  The refresh only spares that scan the comparisons of content. */
    sw_buf_t line;
    sw_buf_init(&line);
    int got = 2;
    char itree[65];
    bool racy = true;
    struct stat ist;
    agent_wsh_index_tree(index, strlen(base) / 2, itree, &racy);
    /*  3. The staging's update-index: it takes the index's lock and reads
     *  the index, then waits for its paths. Started at once (a task handed
     *  over before the index's second is over would not refresh in the
     *  capture either); when the refresh is due it is ended first
     *  (stdin closed empty: the index as it was) and started again after,
     *  on the refreshed index. A refresh that fails leaves none started:
     *  the capture then refreshes itself, as without a standby. */
    if (stat(index, &ist) == 0) {
        h->sb.upd_on = agent_wsh_upd_start(&t, &h->sb.upd, &ignored) == 0;
        if (racy) {
            struct timespec now;
            clock_gettime(CLOCK_REALTIME, &now);
            int64_t left = ((int64_t) ist.st_mtime + 1) * 1000
                         - ((int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000) + 5;
            if (left > 0)
                got = s_read_line(&line, sw_now_ms() + left);
            if (got == 2) {
                s_upd_end(h);
                /*  never through a symlink the task made of its worktree */
                bool ok = agent_wsh_worktree_real(wt);
                if (ok) {
                    sw_git_opts_t ro = sw_ws_opts(&t);
                    const char *refresh[] = { "update-index", "-q", "--refresh", NULL };
                    ok = sw_git_run(&ro, refresh, NULL, &ignored) == 0;
                    agent_wsh_trace("standby: refresh", t0);
                }
                if (ok)
                    h->sb.upd_on = agent_wsh_upd_start(&t, &h->sb.upd, &ignored) == 0;
            }
        }
    }
    /*  4. The agent's word: the capture request's path, or EOF. */
    if (got == 2)
        got = s_read_line(&line, 0);
    if (got != 1) {
        sw_buf_release(&line);
        agent_wsh_standby_release(h);
        agent_wsh_trace("standby: given up", t0);
        return 0;
    }
    line.data[strcspn(line.data, "\n")] = '\0';
    int rc = 0;
    /*  only a request in the agent's run directory, beside the standby's
     *  own (a process of the task's user could open our stdin through
     *  /proc and write a line; it cannot write there under a sandbox),
     *  checked before it is opened, and only a regular file (a FIFO
     *  named there would block the open) */
    const char *self_req = agent_wsh_str(req, "answer"), *slash = strrchr(line.data, '/');
    const char *sslash = self_req ? strrchr(self_req, '/') : NULL;
    bool beside = slash && sslash && slash - line.data == sslash - self_req
                  && strncmp(line.data, self_req, (size_t) (slash - line.data)) == 0;
    struct stat rst;
    beside = beside && lstat(line.data, &rst) == 0 && S_ISREG(rst.st_mode);
    sw_buf_t text;
    sw_buf_init(&text);
    json_t *next = NULL;
    if (beside && sw_read_file(line.data, 16 << 20, &text, NULL) == 0)
        next = json_loadb(text.data ? text.data : "", text.len, 0, NULL);
    sw_buf_release(&text);
    if (!beside || !next || !s_same_run(next, req)) {
        rc = sw_err_set(err, SW_EINVAL, "standby: %s is not the capture of its run", line.data);
        json_decref(next);
        agent_wsh_standby_release(h);
    }
    else {
        /*  the capture's request from here on; the standby's is the
         *  caller's to free (h's strings point into it) */
        *standby_req = h->req;
        h->req = next;
        *capture = true;
        /*  An update-index that died while it waited (the task killed
         *  it: `pkill -9 git`) left the index's lock: ended here, its lock
         *  removed (the slot's index is this run's alone, and that git was
         *  its only holder), and the capture starts its own. It failed
         *  the task's capture before (the attack of stop 31, e2e). */
        siginfo_t si = { 0 };
        if (h->sb.upd_on && waitid(P_PID, (id_t) h->sb.upd.pid, &si,
                                   WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == h->sb.upd.pid) {
            s_upd_end(h);
            agent_wsh_index_unlock(index);
            agent_wsh_trace("standby: its update-index died: ended, its lock removed", t0);
        }
        /*  the worktree it started in is no longer there: the capture
         *  starts its own (agent_wsh_capture checks the worktree itself) */
        if (h->sb.upd_on && !s_cwd_is(h->sb.upd.pid, wt)) {
            s_upd_end(h);
            agent_wsh_trace("standby: the worktree was replaced: update-index ended", t0);
        }
        s_arm(&h->sb.upd, h->git_timeout_ms);
        s_arm(&h->sb.early.pack, h->git_timeout_ms);
        s_arm(&h->sb.early.diff, h->git_timeout_ms);
        char what[96];
        snprintf(what, sizeof what, "standby: handed over (update-index %s, pack/diff %s) after",
                 h->sb.upd_on ? "waiting" : "not started",
                 h->sb.early.on ? "waiting" : "not started");
        agent_wsh_trace(what, t0);
    }
    sw_buf_release(&line);
    return rc;
}

/*  --- self-test (unit.wshelper) ------------------------------------------------------ */

/*  Runs a standby on the repository dir/sb in a child, its stdin a pipe;
 *  line (or NULL: EOF with nothing) written once its update-index holds
 *  the index's lock. The child's exit: 0 given up, 1 handed over, 2
 *  refused. */
static int
s_standby_child(const char *dir, const char *line)
{
    char *wt = xasprintf("%s/sb", dir), *git = xasprintf("%s/sb/.git", dir),
         *index = xasprintf("%s/sb/.git/index", dir), *lock = xasprintf("%s.lock", index);
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[0], 0);
        close(fds[0]);
        close(fds[1]);
        json_t *req = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i}", "op", "standby",
                                "mirrors", dir, "repo", "sb", "job", "j", "id", "t",
                                "worktree", wt, "index", index, "attempt", 1);
        FILE *f = popen("git -C sb rev-parse HEAD", "r");
        char oid[64] = "";
        if (f && fgets(oid, sizeof oid, f))
            oid[strcspn(oid, "\n")] = '\0';
        if (f)
            pclose(f);
        json_object_set_new(req, "base", json_string(oid));
        agent_wsh_t h = { .req = req, .mirror = git, .git_timeout_ms = 0 };
        h.r = (sw_ws_repo_t) { .git_dir = git };
        bool capture = false;
        json_t *old = NULL;
        sw_err_t err = { 0 };
        int rc = agent_wsh_standby(&h, &capture, &old, &err);
        agent_wsh_standby_release(&h);
        _exit(rc < 0 ? 2 : capture ? 1 : 0);
    }
    close(fds[0]);
    struct stat sb;
    for (int i = 0; i < 400 && stat(lock, &sb) < 0; i++)
        usleep(10000);
    CHECK(stat(lock, &sb) == 0);                /*  its update-index waits */
    if (line)
        CHECK(write(fds[1], line, strlen(line)) == (ssize_t) strlen(line));
    close(fds[1]);
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st));
    CHECK(stat(lock, &sb) < 0 && errno == ENOENT);  /*  given back */
    free(wt);
    free(git);
    free(index);
    free(lock);
    return WEXITSTATUS(st);
}

int
agent_wsh_standby_test(const char *dir)
{
    char *cmd = xasprintf("cd '%s' && git init -q sb && cd sb && echo a >a && git add a && "
                          "git -c user.name=t -c user.email=t@t commit -qm a && sleep 1.1 && "
                          "git update-index -q --refresh && cp .git/index ../index0", dir);
    CHECK(system(cmd) == 0);
    free(cmd);
    char *cwd = getcwd(NULL, 0);
    CHECK(chdir(dir) == 0);
    /*  EOF with nothing: it ends, its update-index let go of the lock
     *  with the index as it was */
    CHECK(s_standby_child(dir, NULL) == 0);
    CHECK(system("cmp -s sb/.git/index index0") == 0);
    /*  a part of a line, then EOF (the agent died writing): the same */
    CHECK(s_standby_child(dir, "/no/such") == 0);
    /*  a request that is not its run's capture: refused, nothing held */
    CHECK(system("echo '{\"op\":\"capture\",\"repo\":\"other\"}' >other.req") == 0);
    char *line = xasprintf("%s/other.req\n", dir);
    CHECK(s_standby_child(dir, line) == 2);
    free(line);
    CHECK(system("cmp -s sb/.git/index index0") == 0);
    CHECK(chdir(cwd) == 0);
    free(cwd);
    return 0;
}
