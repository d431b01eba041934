/* util.h - small shared helpers: files, hashing, name checks, time */
#ifndef SSM_UTIL_H
#define SSM_UTIL_H
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

/* ssm_read_file flags */
#define SSM_FILE_TRUSTED 0x1 /* owned by root (or the caller's euid), not group/other writable */
#define SSM_FILE_NOFOLLOW 0x2
#define SSM_FILE_PRIVATE 0x4 /* a secret: not group/other readable, writable or executable */

/* Read a whole regular file of at most maxlen bytes into a NUL-terminated buffer.
 * 0, -ENOENT, -EACCES (unreadable or, with SSM_FILE_TRUSTED, unsafe owner/mode, or with
 * SSM_FILE_PRIVATE any permission for group or others),
 * -EFBIG (too large), -EINVAL (not a regular file), -EIO, -ENOMEM.
 * err (may be NULL) receives one line for the administrator. */
int ssm_read_file(const char *path, size_t maxlen, int flags, char **pbuf, size_t *plen,
                  char *err, size_t errlen);
/* The same for a file already open as fd (flags other than SSM_FILE_NOFOLLOW apply; path
 * names it in err).  fd stays open. */
int ssm_read_fd(int fd, const char *path, size_t maxlen, int flags, char **pbuf, size_t *plen,
                char *err, size_t errlen);

/* Check an open file against the SSM_FILE_TRUSTED rule. */
/* The SSM_FILE_TRUSTED owner besides root: the effective uid unless set here (ssm-verifyd
 * sets the uid it was started as before it drops privileges, so that it trusts exactly
 * what the PAM module trusts). */
void ssm_set_trusted_owner(uid_t uid);
int ssm_check_trusted_fd(int fd, const char *path, char *err, size_t errlen);

/* Lower-case hex sha256 of a buffer; out must hold 65 bytes. */
void ssm_sha256_hex(const void *buf, size_t len, char out[65]);

/* 1 if s is minlen..maxlen characters, each in the set accepted by ok(c). */
int ssm_str_charset(const char *s, size_t minlen, size_t maxlen, int (*ok)(int c));
int ssm_is_b64url_char(int c); /* [A-Za-z0-9_-] */

/* Wall clock in seconds, overridable for tests by SSM_TEST_NOW only in tools built for tests:
 * the library itself takes `now` as a parameter everywhere. */
int64_t ssm_now(void);
/* Milliseconds of CLOCK_MONOTONIC (timers, keepalive: never the wall clock). */
int64_t ssm_mono_ms(void);
/* RFC 3339 UTC, e.g. 2026-11-21T12:00:00Z; out must hold 32 bytes. */
void ssm_rfc3339(int64_t t, char out[32]);

/* Write all bytes, retrying on EINTR and short writes. 0 or -errno. */
int ssm_write_all(int fd, const void *buf, size_t len);

/* Write one error line into err (if err != NULL and errlen > 0): the "char *err, size_t
 * errlen" convention of every parser in lib/. */
void ssm_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Safe string duplication that reports -ENOMEM. */
char *ssm_strdup(const char *s);

/* Raise the soft RLIMIT_NOFILE towards the hard limit, to at most max (a daemon's
 * descriptors; libwebsockets sizes its table from the limit when its context is created,
 * so call it before).  Returns the soft limit now in force; *orig (may be NULL) gets the
 * limit before, for children that must not inherit the raised one. */
unsigned long long ssm_raise_nofile(unsigned long long max, struct rlimit *orig);

#endif
