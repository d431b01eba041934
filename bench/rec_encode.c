/* rec_encode.c - micro benchmark of the asciicast recorder (encoder + batching + sha256),
 * with a sink that only counts.  Not a test: `make bench/rec_encode && bench/rec_encode`.
 * Reports MB/s of terminal bytes recorded, for several kinds of output, fed in reads of
 * 4095 bytes as a pty delivers them. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "asciicast.h"

struct null_sink {
	struct ssm_sink base;
	size_t bytes;
};

static int null_write(struct ssm_sink *s, const char *buf, size_t len)
{
	((struct null_sink *)s)->bytes += len;
	(void)buf;
	return 0;
}

static int null_flush(struct ssm_sink *s)
{
	(void)s;
	return 0;
}

static void null_destroy(struct ssm_sink *s)
{
	free(s);
}

static const struct ssm_sink_ops null_ops = {"null",     null_write,   null_flush,
                                             null_flush, null_destroy, NULL};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void fill(char *buf, size_t len, int kind)
{
	static const char *text = "The quick brown fox jumps over the lazy dog 0123456789 ";
	static const char *ansi = "\033[1;32mdrwxr-xr-x\033[0m  2 root root 4096 Nov 21 12:00 "
	                          "\033[01;34mdir\033[0m\r\n";
	static const char *utf8 = "Grüße, 世界! Привет мир – ça va? 😀 ";
	const char *pat = kind == 0 ? text : kind == 1 ? ansi : utf8;
	size_t plen = strlen(pat), i;
	unsigned x = 12345;

	for (i = 0; i < len; i++) {
		if (kind == 3) {
			x = x * 1103515245 + 12345;
			buf[i] = (char)(x >> 16);
		} else if (kind == 0 && i % 80 == 79) {
			buf[i] = '\n';
		} else {
			buf[i] = pat[i % plen];
		}
	}
}

int main(int argc, char **argv)
{
	static const char *names[] = {"ascii text", "ls --color (ANSI, CRLF)", "UTF-8 text",
	                              "random bytes"};
	size_t total = (argc > 1 ? (size_t)atol(argv[1]) : 200) << 20;
	size_t bufsz = 1 << 20, chunk = 4095;
	char *buf = malloc(bufsz);
	int kind;

	if (buf == NULL)
		return 1;
	for (kind = 0; kind < 4; kind++) {
		struct null_sink *ns = calloc(1, sizeof(*ns));
		struct ssm_rec_header hdr = {80, 24, 1763726400, "xterm", "/bin/bash", "bench"};
		struct ssm_rec *rec;
		uint64_t t0, c0, t1, c1, bytes;
		char sha[65];
		size_t done = 0, off = 0;

		if (ns == NULL)
			return 1;
		ns->base.ops = &null_ops;
		fill(buf, bufsz, kind);
		t0 = now_ns();
		c0 = cpu_ns();
		if (ssm_rec_new(&ns->base, &hdr, 0, t0, &rec) != 0)
			return 1;
		while (done < total) {
			if (off + chunk > bufsz)
				off = 0;
			if (ssm_rec_output(rec, t0 + done, buf + off, chunk) != 0)
				return 1;
			off += chunk;
			done += chunk;
		}
		if (ssm_rec_close(rec, &bytes, sha) != 0)
			return 1;
		c1 = cpu_ns();
		t1 = now_ns();
		printf("%-26s %6.0f MB/s  %.2f ms CPU per MiB  (out/in %.2f)\n", names[kind],
		       (double)done / 1e6 / ((double)(t1 - t0) / 1e9),
		       (double)(c1 - c0) / 1e6 / ((double)done / (1 << 20)),
		       (double)bytes / (double)done);
		ssm_rec_free(rec);
	}
	free(buf);
	return 0;
}
