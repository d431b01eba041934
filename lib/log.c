/* log.c - see log.h */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include "log.h"

static ssm_log_fn log_fn;
static void *log_ctx;
static int log_debug;

void ssm_log_set_handler(ssm_log_fn fn, void *ctx)
{
	log_fn = fn;
	log_ctx = ctx;
}

void ssm_log_set_debug(int on)
{
	log_debug = on;
}

int ssm_log_debug_enabled(void)
{
	return log_debug;
}

void ssm_log(int prio, const char *fmt, ...)
{
	va_list ap;

	if (prio == LOG_DEBUG && !log_debug)
		return;
	va_start(ap, fmt);
	if (log_fn) {
		log_fn(log_ctx, prio, fmt, ap);
	} else {
		fputs("ssmsession: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
}

const char *ssm_log_escape(const char *s, char *buf, size_t bufsz)
{
	static const char hex[] = "0123456789abcdef";
	const size_t limit = 100; /* characters of input shown, as OpenSSH's %.100s */
	size_t o = 0, i;

	if (bufsz == 0)
		return buf;
	if (s == NULL) {
		snprintf(buf, bufsz, "(null)");
		return buf;
	}
	for (i = 0; s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];
		if (i >= limit || o + 8 >= bufsz) {
			if (o + 4 <= bufsz) {
				memcpy(buf + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			buf[o++] = (char)c;
		} else {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		}
	}
	buf[o < bufsz ? o : bufsz - 1] = '\0';
	return buf;
}
