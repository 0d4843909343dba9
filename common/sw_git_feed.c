/*  sw_git_feed -- a git's standard input written by a thread of its own
 *  (sw_git_feed_* in sw_git.h).
 *
 *  A workspace's first fetch streams its pack from Redis into `git
 *  index-pack --stdin`: a chunk is fetched and verified, then written,
 *  and the write returns only once index-pack has taken all but a pipe's
 *  worth of it. Fetching the next chunk then left index-pack idle, and
 *  index-pack waiting on the fetch left us idle: 450 ms for a 12 MB pack
 *  that index-pack takes in 280 ms from a file. Here the writes happen
 *  on a thread, so the next chunk is fetched and verified while
 *  index-pack reads the last: at most SW_GIT_FEED_QUEUE chunks wait,
 *  copied, in between (bounded memory: the pack is never held whole). */
#include "sw_git.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "sw_selftest.h"

#define SW_GIT_FEED_QUEUE 2     /*  chunks queued for the writer at most */

struct sw_git_feed {
    sw_git_proc_t  *p;
    pthread_t       thread;
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    sw_buf_t        q[SW_GIT_FEED_QUEUE];
    size_t          head, n;    /*  the ring's first chunk and how many */
    bool            closing;    /*  no more chunks come */
    bool            aborting;   /*  the queued chunks are not written */
    bool            failed;     /*  the writer stopped: err says why */
    sw_err_t        err;
};

static void *
s_writer(void *arg)
{
    sw_git_feed_t *f = arg;
    /*  a git gone makes write() fail with EPIPE here, not kill us */
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, NULL);
    pthread_mutex_lock(&f->mu);
    for (;;) {
        while (f->n == 0 && !f->closing)
            pthread_cond_wait(&f->cv, &f->mu);
        if (f->n == 0 || f->aborting)
            break;
        sw_buf_t *b = &f->q[f->head];
        pthread_mutex_unlock(&f->mu);
        sw_err_t e = { 0 };
        int rc = sw_git_write(f->p, b->data, b->len, &e);
        pthread_mutex_lock(&f->mu);
        b->len = 0;
        f->head = (f->head + 1) % SW_GIT_FEED_QUEUE;
        f->n--;
        pthread_cond_broadcast(&f->cv);
        if (rc < 0) {
            f->failed = true;
            f->err = e;
            break;
        }
    }
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

sw_git_feed_t *
sw_git_feed_start(sw_git_proc_t *p, sw_err_t *err)
{
    sw_git_feed_t *f = xcalloc(1, sizeof *f);
    f->p = p;
    /*  non-blocking, so a git that stops reading ends the write at its
     *  deadline (sw_git_write polls between writes), not never */
    int fl = fcntl(p->in_fd, F_GETFL);
    if (fl >= 0)
        fcntl(p->in_fd, F_SETFL, fl | O_NONBLOCK);
    for (size_t i = 0; i < SW_GIT_FEED_QUEUE; i++)
        sw_buf_init(&f->q[i]);
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    int rc = pthread_create(&f->thread, NULL, s_writer, f);
    if (rc != 0) {
        sw_err_set(err, SW_EFAIL, "cannot start a thread to feed %s: %s", p->what, strerror(rc));
        pthread_cond_destroy(&f->cv);
        pthread_mutex_destroy(&f->mu);
        free(f);
        return NULL;
    }
    return f;
}

int
sw_git_feed_put(sw_git_feed_t *f, const void *data, size_t n, sw_err_t *err)
{
    pthread_mutex_lock(&f->mu);
    while (f->n == SW_GIT_FEED_QUEUE && !f->failed)
        pthread_cond_wait(&f->cv, &f->mu);
    int rc = 0;
    if (f->failed) {
        *err = f->err;
        rc = -1;
    }
    else {
        sw_buf_t *b = &f->q[(f->head + f->n) % SW_GIT_FEED_QUEUE];
        b->len = 0;
        sw_buf_add(b, data, n);
        f->n++;
        pthread_cond_broadcast(&f->cv);
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

int
sw_git_feed_end(sw_git_feed_t **fp, bool abort, sw_err_t *err)
{
    sw_git_feed_t *f = *fp;
    if (!f)
        return 0;
    *fp = NULL;
    /*  A write blocked on a git that reads no more ends when git does. */
    if (abort && f->p->pid > 0)
        kill(f->p->pid, SIGKILL);
    pthread_mutex_lock(&f->mu);
    f->closing = true;
    f->aborting = abort;        /*  the writer ends the write it is in, no more */
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->thread, NULL);
    /*  everything is written: git sees the end of its input */
    if (f->p->in_fd >= 0)
        close(f->p->in_fd);
    f->p->in_fd = -1;
    int rc = 0;
    if (f->failed && !abort) {
        *err = f->err;
        rc = -1;
    }
    for (size_t i = 0; i < SW_GIT_FEED_QUEUE; i++)
        sw_buf_release(&f->q[i]);
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    free(f);
    return rc;
}

void
sw_git_feed_test(const sw_git_opts_t *o)
{
    /*  3 MiB in chunks of 1 MiB, hashed by git as they arrive: the same
     *  object name as the bytes written in one piece */
    size_t chunk = 1 << 20;
    char *data = xmalloc(3 * chunk);
    for (size_t i = 0; i < 3 * chunk; i++)
        data[i] = (char) ('a' + i % 23);
    sw_err_t err = { 0 };
    sw_git_res_t one;
    sw_git_res_init(&one);
    sw_git_opts_t w = *o;
    w.in = data;
    w.in_len = 3 * chunk;
    const char *hash[] = { "hash-object", "--stdin", NULL };
    CHECK(sw_git_run(&w, hash, &one, &err) == 0 && one.out.len >= 40);
    sw_git_proc_t p;
    CHECK(sw_git_start(o, hash, true, true, &p, &err) == 0);
    sw_git_feed_t *f = sw_git_feed_start(&p, &err);
    CHECK(f != NULL);
    for (int i = 0; i < 3; i++)
        CHECK(sw_git_feed_put(f, data + i * chunk, chunk, &err) == 0);
    CHECK(sw_git_feed_end(&f, false, &err) == 0 && f == NULL);
    char out[64] = "";
    ssize_t n = sw_git_read(&p, out, sizeof out - 1, &err);
    CHECK(n >= 40 && memcmp(out, one.out.data, 40) == 0);
    CHECK(sw_git_finish(&p, false, NULL, &err) == 0);
    /*  a git that reads nothing and exits: a put fails once the writer
     *  met the closed pipe (not SIGPIPE), and end says so too */
    const char *deaf[] = { "rev-parse", "--git-dir", NULL };
    CHECK(sw_git_start(o, deaf, true, false, &p, &err) == 0);
    f = sw_git_feed_start(&p, &err);
    int rc = 0;
    for (int i = 0; i < 64 && rc == 0; i++)
        rc = sw_git_feed_put(f, data, chunk, &err);
    CHECK(rc < 0 && strstr(err.msg, "stopped reading"));
    CHECK(sw_git_feed_end(&f, false, &err) < 0 && f == NULL);
    sw_git_finish(&p, true, NULL, &err);
    /*  abort while the writer is blocked: cat-file stops reading once
     *  its answers fill the stdout pipe nobody reads; end kills it and
     *  returns */
    const char *cat[] = { "cat-file", "--batch", NULL };
    CHECK(sw_git_start(o, cat, true, true, &p, &err) == 0);
    f = sw_git_feed_start(&p, &err);
    for (int i = 0; i < 2; i++)
        CHECK(sw_git_feed_put(f, data, chunk, &err) == 0);
    int64_t t0 = sw_now_ms();
    CHECK(sw_git_feed_end(&f, true, &err) == 0 && f == NULL);
    CHECK(sw_now_ms() - t0 < 5000);
    sw_git_finish(&p, true, NULL, &err);
    sw_git_res_release(&one);
    free(data);
}
