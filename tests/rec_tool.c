/* rec_tool.c - test driver: record standard input as the output of a session into an
 * asciicast file through the file sink, as ssm-shell does.
 *
 *   rec_tool [-s SEED] [-m MAX_BYTES] [-i] [-r WxH] [-x] OUT.cast < bytes
 *
 * Reads are cut into pseudo-random sizes of 1..4096 bytes (SEED) so that UTF-8 sequences
 * and escapes fall across events; each read is one event 10 ms after the last.  -i records
 * the bytes as input events too, -r adds a resize event first, -x opens an existing file
 * (/dev/full) instead of creating a new one.  Prints "BYTES SHA256" of
 * the transcript.  Exit 0, 3 when the cap was reached, 1 on error. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "asciicast.h"
#include "sink.h"

int main(int argc, char **argv)
{
	struct ssm_rec_header hdr = {80, 24, 1763726400, "xterm-256color", "/bin/bash", "rec_tool"};
	unsigned long long max_bytes = 0;
	unsigned seed = 1, w = 0, h = 0;
	int opt, input = 0, fd, r, capped = 0, existing = 0;
	uint64_t t = 1000000000ULL, bytes;
	struct ssm_sink *sink;
	struct ssm_rec *rec;
	static char buf[4096];
	char sha[65];

	while ((opt = getopt(argc, argv, "s:m:ir:x")) != -1) {
		switch (opt) {
		case 's':
			seed = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'm':
			max_bytes = strtoull(optarg, NULL, 10);
			break;
		case 'i':
			input = 1;
			break;
		case 'x':
			existing = 1;
			break;
		case 'r':
			if (sscanf(optarg, "%ux%u", &w, &h) != 2)
				return 1;
			break;
		default:
			fprintf(stderr,
			        "usage: rec_tool [-s SEED] [-m MAX] [-i] [-r WxH] [-x] OUT.cast\n");
			return 1;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "usage: rec_tool [-s SEED] [-m MAX] [-i] [-r WxH] [-x] OUT.cast\n");
		return 1;
	}
	fd = open(argv[optind], O_WRONLY | O_APPEND | O_CLOEXEC | (existing ? 0 : O_CREAT | O_EXCL),
	          0640);
	if (fd < 0) {
		fprintf(stderr, "rec_tool: %s: %s\n", argv[optind], strerror(errno));
		return 1;
	}
	r = ssm_sink_file_new(fd, &sink);
	if (r == 0)
		r = ssm_rec_new(sink, &hdr, max_bytes, t, &rec);
	if (r < 0) {
		fprintf(stderr, "rec_tool: cannot start the recording: %s\n", strerror(-r));
		return 1;
	}
	if (w)
		r = ssm_rec_resize(rec, t, w, h);
	for (;;) {
		size_t want;
		ssize_t n;

		seed = seed * 1103515245 + 12345;
		want = (seed >> 16) % sizeof(buf) + 1;
		n = read(STDIN_FILENO, buf, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		t += 10000000ULL;
		r = ssm_rec_output(rec, t, buf, (size_t)n);
		if (r == 0 && input)
			r = ssm_rec_input(rec, t, buf, (size_t)n);
		if (r == SSM_REC_LIMIT_REACHED) {
			capped = 1;
			continue;
		}
		if (r == 0)
			r = ssm_rec_tick(rec, t, NULL);
		if (r < 0)
			break;
	}
	if (r >= 0)
		r = ssm_rec_close(rec, &bytes, sha);
	ssm_rec_free(rec);
	if (r < 0) {
		fprintf(stderr, "rec_tool: recording failed: %s\n", strerror(-r));
		return 1;
	}
	printf("%" PRIu64 " %s\n", bytes, sha);
	return capped ? 3 : 0;
}
