/*  sw_log -- daemon logging in the OpenBSD log.h style.
 *
 *  log_warn() appends strerror(errno); log_warnx() does not. fatal() and
 *  fatalx() log and exit(1). Output goes to stderr (foreground) or syslog.
 */
#ifndef SW_LOG_H
#define SW_LOG_H

#include <stdbool.h>

#define SW_PRINTF(a, b) __attribute__((format(printf, a, b)))

/*  verbosity: 0 = warnings and info, 1 = + debug */
void log_init(const char *ident, bool foreground, int verbosity);
void log_set_verbose(int verbosity);
int  log_verbose(void);

void log_warn(const char *fmt, ...) SW_PRINTF(1, 2);
void log_warnx(const char *fmt, ...) SW_PRINTF(1, 2);
void log_info(const char *fmt, ...) SW_PRINTF(1, 2);
void log_debug(const char *fmt, ...) SW_PRINTF(1, 2);
_Noreturn void fatal(const char *fmt, ...) SW_PRINTF(1, 2);
_Noreturn void fatalx(const char *fmt, ...) SW_PRINTF(1, 2);

#endif
