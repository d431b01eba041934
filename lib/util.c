/* util.c - see util.h */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "util.h"

#define ERR(...) ssm_errf(err, errlen, __VA_ARGS__)

void ssm_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static uid_t trusted_owner = (uid_t)-1;

void ssm_set_trusted_owner(uid_t uid)
{
	trusted_owner = uid;
}

int ssm_check_trusted_fd(int fd, const char *path, char *err, size_t errlen)
{
	uid_t owner = trusted_owner != (uid_t)-1 ? trusted_owner : geteuid();
	struct stat st;

	if (fstat(fd, &st) != 0) {
		ERR("%s: cannot stat: %s", path, strerror(errno));
		return -EIO;
	}
	if (st.st_uid != 0 && st.st_uid != owner) {
		ERR("%s: owned by uid %u, not root: refusing it", path, (unsigned)st.st_uid);
		return -EACCES;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		ERR("%s: writable by group or others (mode %04o): refusing it", path,
		    (unsigned)(st.st_mode & 07777));
		return -EACCES;
	}
	return 0;
}

int ssm_read_fd(int fd, const char *path, size_t maxlen, int flags, char **pbuf, size_t *plen,
		char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int r;

	*pbuf = NULL;
	if (plen)
		*plen = 0;
	if (fstat(fd, &st) != 0) {
		ERR("%s: cannot stat: %s", path, strerror(errno));
		r = -EIO;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ERR("%s: not a regular file", path);
		r = -EINVAL;
		goto out;
	}
	if (flags & SSM_FILE_TRUSTED) {
		r = ssm_check_trusted_fd(fd, path, err, errlen);
		if (r < 0)
			goto out;
	}
	if ((flags & SSM_FILE_PRIVATE) && (st.st_mode & 077)) {
		ERR("%s: a secret, but open to group or others (mode %04o): refusing it", path,
		    (unsigned)(st.st_mode & 07777));
		r = -EACCES;
		goto out;
	}
	if ((uintmax_t)st.st_size > maxlen) {
		ERR("%s: larger than %zu bytes", path, maxlen);
		r = -EFBIG;
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		ERR("out of memory");
		r = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n;
		if (len == (size_t)st.st_size) {
			/* the file must not have grown past what we sized for */
			char extra;
			n = read(fd, &extra, 1);
			if (n == 0)
				break;
			if (n < 0 && errno == EINTR)
				continue;
			ERR("%s: changed while being read", path);
			r = -EIO;
			goto out;
		}
		n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ERR("%s: read error: %s", path, strerror(errno));
			r = -EIO;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*pbuf = buf;
	buf = NULL;
	if (plen)
		*plen = len;
	r = 0;
out:
	free(buf);
	return r;
}

int ssm_read_file(const char *path, size_t maxlen, int flags, char **pbuf, size_t *plen,
		  char *err, size_t errlen)
{
	int fd, r;

	*pbuf = NULL;
	if (plen)
		*plen = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK |
				((flags & SSM_FILE_NOFOLLOW) ? O_NOFOLLOW : 0));
	if (fd < 0) {
		r = errno;
		ERR("%s: cannot open: %s", path, strerror(r));
		return r == ENOENT ? -ENOENT : (r == EACCES || r == EPERM || r == ELOOP) ? -EACCES
										       : -EIO;
	}
	r = ssm_read_fd(fd, path, maxlen, flags, pbuf, plen, err, errlen);
	close(fd);
	return r;
}

int ssm_str_charset(const char *s, size_t minlen, size_t maxlen, int (*ok)(int c))
{
	size_t i;

	if (s == NULL)
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= maxlen || !ok((unsigned char)s[i]))
			return 0;
	}
	return i >= minlen;
}

int ssm_is_b64url_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

int64_t ssm_now(void)
{
	return (int64_t)time(NULL);
}

int64_t ssm_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Years 1970 to 9999 by arithmetic (the civil-from-days algorithm of H. Hinnant's "chrono-
 * compatible low-level date algorithms"): gmtime_r would load the time zone file on its
 * first call in a process, which a login process does not otherwise need. */
#define RFC3339_MAX INT64_C(253402300799) /* 9999-12-31T23:59:59Z */

void ssm_rfc3339(int64_t t, char out[32])
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t >= 0 && t <= RFC3339_MAX) {
		int64_t days = t / 86400, secs = t % 86400;
		int64_t z = days + 719468, era = z / 146097;
		int64_t doe = z - era * 146097;                                    /* [0, 146096] */
		int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
		int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);             /* [0, 365] */
		int64_t mp = (5 * doy + 2) / 153;                                  /* [0, 11] */
		int64_t d = doy - (153 * mp + 2) / 5 + 1;                          /* [1, 31] */
		int64_t m = mp < 10 ? mp + 3 : mp - 9;                             /* [1, 12] */
		int64_t y = yoe + era * 400 + (m <= 2);

		/* the moduli change nothing (the ranges are as commented); they let the
		 * compiler see that the text fits */
		snprintf(out, 32, "%04u-%02u-%02uT%02u:%02u:%02uZ", (unsigned)y % 10000u,
			 (unsigned)m % 100u, (unsigned)d % 100u, (unsigned)(secs / 3600) % 100u,
			 (unsigned)(secs / 60 % 60), (unsigned)(secs % 60));
		return;
	}
	if (gmtime_r(&tt, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 32, "1970-01-01T00:00:00Z");
}

int ssm_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

char *ssm_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

unsigned long long ssm_raise_nofile(unsigned long long max, struct rlimit *orig)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 0;
	if (orig != NULL)
		*orig = rl;
	if (rl.rlim_cur < max && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max < max ? rl.rlim_max : max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur;
}
