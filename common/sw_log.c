/*  sw_log -- see sw_log.h */
#include "sw_log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static const char *s_ident = "swarm";
static bool s_foreground = true;
static int s_verbose = 0;

void
log_init(const char *ident, bool foreground, int verbosity)
{
    s_ident = ident;
    s_foreground = foreground;
    s_verbose = verbosity;
    if (!foreground)
        openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_set_verbose(int verbosity)
{
    s_verbose = verbosity;
}

int
log_verbose(void)
{
    return s_verbose;
}

static void SW_PRINTF(2, 0)
s_vlog(int pri, const char *fmt, va_list ap, int errnum)
{
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (errnum) {
        size_t n = strlen(msg);
        snprintf(msg + n, sizeof msg - n, ": %s", strerror(errnum));
    }
    if (!s_foreground) {
        syslog(pri, "%s", msg);
        return;
    }
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    const char *lvl = pri == LOG_ERR ? "E" : pri == LOG_WARNING ? "W"
                    : pri == LOG_DEBUG ? "D" : "I";
    fprintf(stderr, "%02d:%02d:%02d.%03ld %s %s[%d]: %s\n", tm.tm_hour, tm.tm_min,
            tm.tm_sec, ts.tv_nsec / 1000000, lvl, s_ident, (int) getpid(), msg);
}

#define S_LOG_BODY(pri, errnum) \
    do { va_list ap; va_start(ap, fmt); s_vlog(pri, fmt, ap, errnum); va_end(ap); } while (0)

void log_warn(const char *fmt, ...)  { int e = errno; S_LOG_BODY(LOG_WARNING, e); }
void log_warnx(const char *fmt, ...) { S_LOG_BODY(LOG_WARNING, 0); }
void log_info(const char *fmt, ...)  { S_LOG_BODY(LOG_INFO, 0); }

void
log_debug(const char *fmt, ...)
{
    if (s_verbose > 0)
        S_LOG_BODY(LOG_DEBUG, 0);
}

void
fatal(const char *fmt, ...)
{
    int e = errno;
    S_LOG_BODY(LOG_ERR, e);
    exit(1);
}

void
fatalx(const char *fmt, ...)
{
    S_LOG_BODY(LOG_ERR, 0);
    exit(1);
}
