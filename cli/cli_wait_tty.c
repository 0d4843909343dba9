/*  cli_wait_tty -- what `swarm wait` draws on a terminal: the progress
 *  line, then each running task with its elapsed time and the latest line
 *  of its live output (cli_live_activity), redrawn in place. */
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli.h"
#include "cli_ctl.h"

/*  The terminal's size, or 80 x 24. */
static void
s_term_size(int *cols, int *rows)
{
    struct winsize ws;
    *cols = 80;
    *rows = 24;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
        *cols = ws.ws_col;
        *rows = ws.ws_row > 0 ? ws.ws_row : 24;
    }
}

/*  Prints s cut to width bytes (on a character), clearing the rest of
 *  the line. */
static void
s_put_cut(const char *s, size_t width)
{
    size_t n = strlen(s);
    if (n > width) {
        n = width;
        while (n > 0 && ((unsigned char) s[n] & 0xC0) == 0x80)
            n--;
    }
    fwrite(s, 1, n, stdout);
    fputs("\033[K", stdout);
}

/*  swarm wait on a terminal: the progress line, then each running task
 *  with its elapsed time and the latest line of its live output, drawn
 *  over what was drawn before (*drawn lines; the cursor stays at the end
 *  of the last one). */
void
cli_wait_draw(cli_t *cli, const msgpack_object *body, int64_t elapsed_ms, int *drawn)
{
    int cols, rows;
    s_term_size(&cols, &rows);
    const msgpack_object *run = sw_mp_find(body, "running");
    size_t n = run && run->type == MSGPACK_OBJECT_ARRAY ? run->via.array.size : 0;
    size_t room = rows > 4 ? (size_t) rows - 3 : 1;
    if (n > room)
        n = room;
    char **ids = xcalloc(n + 1, sizeof *ids), **acts = xcalloc(n + 1, sizeof *acts);
    const char **runners = xcalloc(n + 1, sizeof *runners);
    long long *attempts = xcalloc(n + 1, sizeof *attempts);
    char (*rbuf)[16] = xcalloc(n + 1, sizeof *rbuf);
    char jb[256];
    for (size_t i = 0; i < n; i++) {
        const msgpack_object *t = &run->via.array.ptr[i];
        char id[SW_MAX_ID + 1];
        ids[i] = xstrdup(cli_mp_str(t, "id", id, sizeof id));
        attempts[i] = cli_mp_int(t, "attempt");
        runners[i] = cli_mp_str(t, "runner", rbuf[i], sizeof rbuf[i]);
    }
    /*  Redis first (a round trip), then the drawing at once */
    cli_live_activity(cli, cli_mp_str(body, "job", jb, sizeof jb), ids, attempts, runners, n,
                      acts);
    char counts[512], el[32], text[1024];
    cli_counts_text(body, counts, sizeof counts);
    cli_duration(elapsed_ms, el, sizeof el);
    if (*drawn > 1)
        printf("\033[%dA", *drawn - 1);
    printf("\r");
    snprintf(text, sizeof text, "[%s] %lld/%lld finished  %s", el,
             (long long) cli_mp_int(body, "final"), (long long) cli_mp_int(body, "total"), counts);
    s_put_cut(text, (size_t) cols - 1);
    int64_t now = sw_wall_ms();
    for (size_t i = 0; i < n; i++) {
        const msgpack_object *t = &run->via.array.ptr[i];
        int64_t started = cli_mp_int(t, "started");
        char dur[32];
        cli_duration(started && now > started ? now - started : 0, dur, sizeof dur);
        snprintf(text, sizeof text, "  %-24s %7s  %s", ids[i], dur, acts[i] ? acts[i] : "");
        fputc('\n', stdout);
        s_put_cut(text, (size_t) cols - 1);
        free(ids[i]);
        free(acts[i]);
    }
    /*  lines drawn before and not now: cleared */
    printf("\033[J");
    *drawn = (int) n + 1;
    free(ids);
    free(acts);
    free(runners);
    free(attempts);
    free(rbuf);
    fflush(stdout);
}

