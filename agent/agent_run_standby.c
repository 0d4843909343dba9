/*  agent_run_standby -- the capture's standby helper of a run with a
 *  workspace (agent_ws_standby; docs/design.md, "Decisions for issue 16
 *  (i31-standby)"): started once the task has run RUN_STANDBY_AFTER_MS
 *  (agent_run_int.h) and still runs, handed the capture's
 *  request when it ends, given up (EOF on its stdin) otherwise. Polled
 *  from the tick, like the remover: it writes a few lines at most while it
 *  waits. A standby given up stays on the run set's list until it is gone
 *  (its slot held meanwhile), never on a run's path. */
#include "agent_run_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#define GIVEN_UP_MS 10000       /*  a standby given up that is still there: SIGTERM */

struct run_standby_t {
    agent_child_t c;
    int           fd;           /*  its stdin's write end, or -1 */
    run_t        *run;          /*  NULL once given up */
    int           slot;
    int64_t       timeout_ms;   /*  the capture's, from the hand-over */
    int64_t       given_up_ms;
};

static void
s_read(run_standby_t *sb, int64_t now)
{
    for (int i = 0; i < 2; i++) {
        int fd = i ? sb->c.err_fd : sb->c.out_fd;
        if (fd >= 0 && agent_child_read(&sb->c, fd, now))
            agent_child_close_fd(&sb->c, fd);
    }
}

/*  Off the list and freed, once its child is gone. */
static void
s_free(agent_runs_t *self, run_standby_t *sb)
{
    void *h = zlistx_find(self->standbys, sb);
    if (h)
        zlistx_delete(self->standbys, h);
    if (sb->fd >= 0)
        close(sb->fd);
    agent_child_release(&sb->c);
    agent_ws_slot_hold(self->conf->ws, sb->slot, false);
    free(sb);
}

void
run_standby_start(agent_runs_t *self, run_t *run)
{
    if (run->standby || !run->task.ws.commit || getenv("SWARM_NO_STANDBY"))
        return;
    agent_ws_spawn_t s = { 0 };
    sw_err_t err = { 0 };
    int pipefd[2] = { -1, -1 };
    int64_t timeout_ms = 0;
    run_standby_t *sb = xcalloc(1, sizeof *sb);
    sb->fd = -1;
    int rc = pipe2(pipefd, O_CLOEXEC);
    if (rc < 0)
        sw_err_set(&err, SW_EFAIL, "pipe: %s", strerror(errno));
    if (rc == 0)
        rc = agent_ws_standby(self->conf->ws, &run->task, &run->ws, &s, &timeout_ms, &err);
    if (rc == 0) {
        s.opts.stdin_fd = pipefd[0];
        rc = agent_child_spawn(&sb->c, &s.opts, &err);
    }
    agent_ws_spawn_release(&s);
    if (pipefd[0] >= 0)
        close(pipefd[0]);
    if (rc < 0) {
        if (pipefd[1] >= 0)
            close(pipefd[1]);
        free(sb);
        log_warnx("task %s/%s: no standby for its capture (%s): it starts its own helper",
                  run->task.job, run->task.id, err.msg);
        return;
    }
    /*  a line of a few hundred bytes into an empty pipe: never blocks */
    fcntl(pipefd[1], F_SETFL, O_NONBLOCK);
    sb->fd = pipefd[1];
    sb->run = run;
    sb->slot = run->ws.slot;
    sb->timeout_ms = timeout_ms;
    agent_ws_slot_hold(self->conf->ws, sb->slot, true);
    zlistx_add_end(self->standbys, sb);
    run->standby = sb;
    log_debug("task %s/%s: capture standby pid %d", run->task.job, run->task.id,
              (int) sb->c.pid);
}

/*  A standby that exited on its own, or must go now: its group killed
 *  (the gits in it: one may leave the index locked, which the run's next
 *  capture removes first), reaped, freed. */
static void
s_lost(agent_runs_t *self, run_standby_t *sb)
{
    run_t *run = sb->run;
    if (run) {
        run->standby = NULL;
        run->ws.unlock = true;
    }
    s_free(self, sb);
}

void
run_standby_give_up(agent_runs_t *self, run_t *run)
{
    run_standby_t *sb = run->standby;
    if (!sb)
        return;
    run->standby = NULL;
    sb->run = NULL;
    sb->given_up_ms = sw_now_ms();
    /*  EOF: it ends its gits (update-index's stdin closed empty: the
     *  index and its lock as they were) and exits 0; reaped by the tick */
    close(sb->fd);
    sb->fd = -1;
}

bool
run_standby_take(agent_runs_t *self, run_t *run, bool *lost)
{
    run_standby_t *sb = run->standby;
    *lost = false;
    if (!sb)
        return false;
    int64_t now = sw_now_ms();
    s_read(sb, now);
    bool ok = !agent_child_poll(&sb->c, now) && sb->c.stop == AGENT_STOP_NONE;
    if (ok) {
        char *line = xasprintf("%s\n", run->ws.req);
        ok = write(sb->fd, line, strlen(line)) == (ssize_t) strlen(line);
        free(line);
    }
    if (!ok) {
        log_warnx("task %s/%s: its capture standby is gone (%s): the capture starts its own "
                  "helper", run->task.job, run->task.id,
                  sb->c.exited ? "it exited" : strerror(errno));
        s_lost(self, sb);
        *lost = true;
        return false;
    }
    close(sb->fd);
    sb->fd = -1;
    /*  The run's child from here on, as a helper it spawned now: its
     *  timeout and the capture's time ("captured in N ms") count from the
     *  hand-over, not from the task's start. */
    run->child = sb->c;
    run->child.start_ms = run->child.last_output_ms = now;
    run->child.timeout_ms = sb->timeout_ms;
    memset(&sb->c, 0, sizeof sb->c);
    sb->c.pid = -1;
    sb->c.pidfd = sb->c.out_fd = sb->c.err_fd = -1;
    run->standby = NULL;
    run->ws.from_standby = true;
    s_free(self, sb);
    return true;
}

void
runs_standby_tick(agent_runs_t *self, int64_t now)
{
    /*  the standbys due: of tasks (or their hooks) still running */
    for (run_t *r = zlistx_first(self->runs); r; r = zlistx_next(self->runs))
        if (r->standby_at && now >= r->standby_at) {
            r->standby_at = 0;
            if (r->state == RUN_ACTIVE && r->spawned && !r->child.exited && !r->cancelled
                && (r->role == CHILD_PRE_TASK || r->role == CHILD_TASK
                    || r->role == CHILD_POST_TASK))
                run_standby_start(self, r);
        }
    /*  Two passes: s_free takes an item off the list by zlistx_find,
     *  which moves the list's cursor; freeing inside one pass of
     *  zlistx_next made two standbys ending in one tick a use after free
     *  and a double free (the read-only review of stop 31). */
    for (run_standby_t *sb = zlistx_first(self->standbys); sb;
         sb = zlistx_next(self->standbys)) {
        s_read(sb, now);
        agent_child_poll(&sb->c, now);
        if (!sb->run && !sb->c.exited && now - sb->given_up_ms >= GIVEN_UP_MS)
            agent_child_stop(&sb->c, AGENT_STOP_SHUTDOWN, now);   /*  SIGTERM: git lets go of its locks */
        if (agent_child_tick(&sb->c, now)) {
            agent_child_close_fd(&sb->c, sb->c.out_fd);
            agent_child_close_fd(&sb->c, sb->c.err_fd);
        }
    }
    for (;;) {
        run_standby_t *sb = zlistx_first(self->standbys);
        while (sb && !(sb->run && sb->c.exited) && !(!sb->run && agent_child_finished(&sb->c)))
            sb = zlistx_next(self->standbys);
        if (!sb)
            break;
        if (sb->run) {
            /*  died while its task ran: the capture goes without it */
            sw_buf_t tail;
            sw_buf_init(&tail);
            sw_capture_render(&sb->c.err, &tail);
            log_warnx("task %s/%s: its capture standby exited early: %s", sb->run->task.job,
                      sb->run->task.id, tail.len ? tail.data : "(nothing on stderr)");
            sw_buf_release(&tail);
            s_lost(self, sb);
        }
        else
            s_free(self, sb);
    }
}

bool
runs_standby_leads(agent_runs_t *self, pid_t pid)
{
    for (run_standby_t *sb = zlistx_first(self->standbys); sb; sb = zlistx_next(self->standbys))
        if (!sb->c.reaped && sb->c.pid == pid)
            return true;
    return false;
}

size_t
runs_standby_pids(agent_runs_t *self, pid_t *pids, size_t max)
{
    size_t n = 0;
    for (run_standby_t *sb = zlistx_first(self->standbys); sb && n < max;
         sb = zlistx_next(self->standbys))
        if (!sb->c.reaped && sb->c.pid > 0)
            pids[n++] = sb->c.pid;
    return n;
}

void
runs_standby_destroy(agent_runs_t *self)
{
    /*  The agent leaves: agent_child_release's SIGKILL of each standby's
     *  group, gits and all (an index.lock they leave is removed with the
     *  index directory at the next start, agent_ws_new). The list stays
     *  (empty) for the caller's last sweeps. */
    run_standby_t *sb;
    while ((sb = zlistx_first(self->standbys))) {
        if (sb->run)
            sb->run->standby = NULL;
        s_free(self, sb);
    }
}
