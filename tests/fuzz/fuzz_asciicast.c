/* fuzz_asciicast.c - libFuzzer target for the asciicast recorder: arbitrary bytes, cut into
 * arbitrary events (output, input, resize) with an arbitrary size cap, must give a
 * transcript of whole lines, each valid UTF-8 without raw control characters and valid
 * JSON, and the recorder must account for exactly the bytes its sink received. */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "asciicast.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct mem_sink {
	struct ssm_sink base;
	char *buf;
	size_t len, cap;
};

static int mem_write(struct ssm_sink *s, const char *buf, size_t len)
{
	struct mem_sink *m = (struct mem_sink *)s;

	if (len == 0 || buf[len - 1] != '\n')
		abort(); /* whole lines only */
	if (m->len + len > m->cap) {
		size_t ncap = (m->len + len) * 2;
		char *n = realloc(m->buf, ncap);

		if (n == NULL)
			abort();
		m->buf = n;
		m->cap = ncap;
	}
	memcpy(m->buf + m->len, buf, len);
	m->len += len;
	return 0;
}

static int mem_flush(struct ssm_sink *s)
{
	(void)s;
	return 0;
}

static void mem_destroy(struct ssm_sink *s)
{
	(void)s;
}

static const struct ssm_sink_ops mem_ops = {"mem",     mem_write,   mem_flush,
                                            mem_flush, mem_destroy, NULL};

static void check_lines(const char *p, size_t len)
{
	const char *end = p + len;
	int first = 1;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t ll, i;
		const char *pe = NULL;
		cJSON *j;

		if (nl == NULL)
			abort();
		ll = (size_t)(nl - p);
		for (i = 0; i < ll; i++)
			if ((unsigned char)p[i] < 0x20)
				abort();
		if (!ssm_json_utf8_valid(p, ll))
			abort();
		j = cJSON_ParseWithLengthOpts(p, ll, &pe, 0);
		if (j == NULL || pe != p + ll ||
		    (first ? !cJSON_IsObject(j) : cJSON_GetArraySize(j) != 3))
			abort();
		cJSON_Delete(j);
		first = 0;
		p = nl + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ssm_rec_header hdr = {80, 24, 0, "xterm", "/bin/sh", NULL};
	struct mem_sink m = {.base.ops = &mem_ops};
	struct ssm_rec *rec;
	uint64_t t = 0, max = 0, bytes, hdrlen;
	char sha[65];
	size_t off = 0;

	if (size < 2)
		return 0;
	/* first byte: a cap (0: none), else cut into events by the following length bytes */
	if (data[0] & 0x80)
		max = 100 + (uint64_t)(data[0] & 0x7f) * 64;
	off = 1;
	if (ssm_rec_new(&m.base, &hdr, max, 1000, &rec) != 0)
		abort();
	hdrlen = m.len; /* the header is written whatever the cap */
	while (off < size) {
		unsigned ctl = data[off++];
		size_t n = ctl & 0x3f;
		int r;

		if (n > size - off)
			n = size - off;
		t += (uint64_t)ctl * 1000003;
		switch (ctl >> 6) {
		case 0:
		case 1:
			r = ssm_rec_output(rec, t, data + off, n);
			break;
		case 2:
			r = ssm_rec_input(rec, t, data + off, n);
			break;
		default:
			r = ssm_rec_resize(rec, t, n, ctl);
			n = 0;
			break;
		}
		if (r < 0 || (r != 0 && r != SSM_REC_LIMIT_REACHED))
			abort();
		if (ssm_rec_tick(rec, t, NULL) != 0)
			abort();
		off += n;
	}
	if (ssm_rec_close(rec, &bytes, sha) != 0 || bytes != m.len ||
	    (max && bytes > max && bytes != hdrlen))
		abort();
	ssm_rec_free(rec);
	check_lines(m.buf, m.len);
	free(m.buf);
	return 0;
}
