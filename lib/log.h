/* log.h - one logging helper: pam_vsyslog inside the module, stderr in tools */
#ifndef SSM_LOG_H
#define SSM_LOG_H
#include <stdarg.h>
#include <stddef.h>
#include <syslog.h>

#define SSM_PRINTF(f, a) __attribute__((format(printf, f, a)))

typedef void (*ssm_log_fn)(void *ctx, int prio, const char *fmt, va_list ap);

/* Route messages; NULL restores the default (stderr, "ssmsession: " prefix). */
void ssm_log_set_handler(ssm_log_fn fn, void *ctx);
/* LOG_DEBUG messages are dropped unless debug is on. */
void ssm_log_set_debug(int on);
int ssm_log_debug_enabled(void);
void ssm_log(int prio, const char *fmt, ...) SSM_PRINTF(2, 3);

/* Escape an untrusted string for a log line: printable ASCII kept, everything else
 * as \xNN, cut to about 100 characters with "..." appended.  Returns buf. */
#define SSM_LOG_ESCAPE_BUFSZ 512
const char *ssm_log_escape(const char *s, char *buf, size_t bufsz);

#endif
