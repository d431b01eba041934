/* test_asciicast.c - the asciicast v2 recorder, the file sink and the tee sink.
 *
 * Every transcript produced here is checked line by line: the header is a JSON object that
 * ssm_json_parse_object accepts; every event is one JSON array [time, type, data] that cJSON
 * parses, is valid UTF-8 (ssm_json_parse is not used for events: it refuses the escaped
 * control characters that terminal output needs), has no raw control characters, and has
 * times that never go backwards. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include "asciicast.h"
#include "check.h"
#include "json.h"
#include "log.h"
#include "sink.h"
#include "util.h"

#define NS 1000000000ULL
#define T0 (5000 * NS) /* mono_start_ns of every recording */

/* ------------------------------------------------------------------ a memory sink */
struct mem_sink {
	struct ssm_sink base;
	char *buf;
	size_t len, cap;
	size_t fail_after; /* a write that would pass this many bytes fails (0: never) */
	int fail_errno;
	int writes, flushes, closes, partial_lines;
	/* a disk, for reserve: can_reserve 0 answers -EOPNOTSUPP.  The file may grow to
	 * room bytes (0: no limit) and holds blocks for alloc bytes (>= len): a reservation
	 * takes blocks up to upto if they fit; others may shrink room down to alloc (a user
	 * filling the disk), never below it */
	int can_reserve;
	uint64_t room, alloc;
	int reserves, over_alloc, failed_in_alloc;
};

static int mem_write(struct ssm_sink *s, const char *buf, size_t len)
{
	struct mem_sink *m = (struct mem_sink *)s;

	if (m->fail_after && m->len + len > m->fail_after)
		return -m->fail_errno;
	if (m->can_reserve && m->len + len > m->alloc)
		m->over_alloc++; /* written past what was reserved */
	if (m->room && m->len + len > m->room && m->len + len > m->alloc)
		return -ENOSPC; /* nothing of it written, as the file sink */
	if (m->len + len > m->alloc)
		m->alloc = m->len + len;
	if (len == 0 || buf[len - 1] != '\n')
		m->partial_lines++; /* the contract: whole lines only */
	if (m->len + len + 1 > m->cap) {
		size_t ncap = (m->len + len + 1) * 2;
		char *n = realloc(m->buf, ncap);

		if (n == NULL)
			return -ENOMEM;
		m->buf = n;
		m->cap = ncap;
	}
	memcpy(m->buf + m->len, buf, len);
	m->len += len;
	m->buf[m->len] = '\0';
	m->writes++;
	return 0;
}

static int mem_flush(struct ssm_sink *s)
{
	((struct mem_sink *)s)->flushes++;
	return 0;
}

static int mem_close(struct ssm_sink *s)
{
	((struct mem_sink *)s)->closes++;
	return 0;
}

/* the test keeps the sink's bytes after the recorder is freed: destroy does nothing */
static void mem_destroy(struct ssm_sink *s)
{
	(void)s;
}

static int mem_reserve(struct ssm_sink *s, uint64_t upto)
{
	struct mem_sink *m = (struct mem_sink *)s;

	if (!m->can_reserve)
		return -EOPNOTSUPP;
	m->reserves++;
	if (upto <= m->alloc)
		return 0;
	if (m->room && upto > m->room)
		return -ENOSPC;
	m->alloc = upto;
	return 0;
}

static const struct ssm_sink_ops mem_ops = {"mem",     mem_write,   mem_flush,
                                            mem_close, mem_destroy, mem_reserve};

static void mem_init(struct mem_sink *m)
{
	memset(m, 0, sizeof(*m));
	m->base.ops = &mem_ops;
}

static void mem_fini(struct mem_sink *m)
{
	free(m->buf);
	m->buf = NULL;
}

static const struct ssm_rec_header test_hdr = {
    80, 24, 1763726400, "xterm-256color", "/bin/bash", "sid-1 on host-1"};

/* ------------------------------------------------------------------ transcript checks */
struct parsed {
	int ok; /* every line valid */
	int events;
	char *data; /* concatenated raw JSON text of the 'o' data fields */
	size_t datalen;
	char *decoded; /* concatenated decoded 'o' strings (cut at a NUL, cJSON strings) */
	size_t decodedlen;
	char *input; /* decoded 'i' strings */
	size_t inputlen;
	size_t maxline;
};

static void append(char **p, size_t *plen, const char *s, size_t n)
{
	char *q = realloc(*p, *plen + n + 1);

	if (q == NULL)
		abort();
	memcpy(q + *plen, s, n);
	*plen += n;
	q[*plen] = '\0';
	*p = q;
}

static void parsed_free(struct parsed *pr)
{
	free(pr->data);
	free(pr->decoded);
	free(pr->input);
	memset(pr, 0, sizeof(*pr));
}

/* Check a whole transcript; fills *pr.  Failures are reported with the caller's line. */
static void check_cast(int line, const char *buf, size_t len, struct parsed *pr)
{
	const char *p = buf, *end = buf + len;
	double last_t = -1;
	int n = 0;

	memset(pr, 0, sizeof(*pr));
	pr->ok = 1;
	CHECK_ROW(line, len > 0 && buf[len - 1] == '\n', "transcript does not end in a newline");
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char err[256] = "";
		cJSON *j = NULL;
		size_t i;
		int bad_ctl = 0;

		if (ll + 1 > pr->maxline)
			pr->maxline = ll + 1;
		for (i = 0; i < ll; i++)
			if ((unsigned char)p[i] < 0x20)
				bad_ctl = 1;
		if (bad_ctl || !ssm_json_utf8_valid(p, ll)) {
			CHECK_ROW(line, 0, "line %d: raw control character or invalid UTF-8", n);
			pr->ok = 0;
		}
		if (n == 0) {
			int64_t v;

			if (ssm_json_parse_object(p, ll, &j, err, sizeof(err)) != 0 ||
			    ssm_json_get_int64(j, "version", &v) != 0 || v != 2) {
				CHECK_ROW(line, 0, "header: %s: %.*s", err, (int)ll, p);
				pr->ok = 0;
			}
		} else {
			const char *pe = NULL;
			cJSON *t, *ty, *d;

			j = cJSON_ParseWithLengthOpts(p, ll, &pe, 0);
			if (pe != p + ll) {
				cJSON_Delete(j);
				j = NULL;
			}
			t = cJSON_GetArrayItem(j, 0);
			ty = cJSON_GetArrayItem(j, 1);
			d = cJSON_GetArrayItem(j, 2);
			if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) != 3 || !cJSON_IsNumber(t) ||
			    !cJSON_IsString(ty) || !cJSON_IsString(d) || t->valuedouble < last_t ||
			    strlen(ty->valuestring) != 1 || !strchr("oir", ty->valuestring[0])) {
				CHECK_ROW(line, 0, "event line %d bad: %.*s", n,
				          ll > 200 ? 200 : (int)ll, p);
				pr->ok = 0;
			} else {
				const char *q = memchr(p, ',', ll);
				/* raw data text: after `, "o", "` up to the closing `"]` */
				const char *ds = q ? q + 8 : p;

				last_t = t->valuedouble;
				if (ty->valuestring[0] == 'o') {
					if (q && q[3] == 'o' && ll >= 2 && p[ll - 1] == ']' &&
					    (size_t)(ds - p) <= ll - 2)
						append(&pr->data, &pr->datalen, ds,
						       (size_t)(p + ll - 2 - ds));
					append(&pr->decoded, &pr->decodedlen, d->valuestring,
					       strlen(d->valuestring));
				} else if (ty->valuestring[0] == 'i') {
					append(&pr->input, &pr->inputlen, d->valuestring,
					       strlen(d->valuestring));
				}
				pr->events++;
			}
		}
		cJSON_Delete(j);
		n++;
		p += ll + 1;
	}
	if (pr->data == NULL)
		append(&pr->data, &pr->datalen, "", 0);
	if (pr->decoded == NULL)
		append(&pr->decoded, &pr->decodedlen, "", 0);
	if (pr->input == NULL)
		append(&pr->input, &pr->inputlen, "", 0);
}

/* Record chunks as output events one second apart, close, check. */
static int record_chunks(int line, const char *const *chunks, const size_t *lens, size_t n,
                         struct mem_sink *m, struct parsed *pr)
{
	struct ssm_rec *rec;
	uint64_t bytes;
	char sha[65];
	size_t i;
	int r;

	mem_init(m);
	r = ssm_rec_new(&m->base, &test_hdr, 0, T0, &rec);
	CHECK_ROW(line, r == 0, "ssm_rec_new: %d", r);
	if (r != 0)
		return r;
	for (i = 0; i < n; i++) {
		r = ssm_rec_output(rec, T0 + (i + 1) * NS, chunks[i], lens[i]);
		CHECK_ROW(line, r == 0, "ssm_rec_output: %d", r);
	}
	r = ssm_rec_close(rec, &bytes, sha);
	CHECK_ROW(line, r == 0 && bytes == m->len, "close: %d, %llu bytes, sink has %zu", r,
	          (unsigned long long)bytes, m->len);
	ssm_rec_free(rec);
	CHECK_ROW(line, m->partial_lines == 0, "sink got %d writes not ending in a line",
	          m->partial_lines);
	check_cast(line, m->buf, m->len, pr);
	return 0;
}

/* ------------------------------------------------------------------ encoding rows */
#define FFFD "\xef\xbf\xbd"
static const struct enc_row {
	int line;
	const char *in;
	size_t inlen;    /* 0: strlen */
	const char *out; /* raw JSON text of the data field */
} enc_rows[] = {
    {__LINE__, "hello, world", 0, "hello, world"},
    /* terminal escapes and line ends: ESC as \u001b, CR LF short */
    {__LINE__, "\x1b[1;31mred\x1b[0m\r\n", 0, "\\u001b[1;31mred\\u001b[0m\\r\\n"},
    /* a quote or backslash from the session must not end the JSON string */
    {__LINE__, "say \"hi\" \\ \"]\n[", 0, "say \\\"hi\\\" \\\\ \\\"]\\n["},
    {__LINE__, "\t\b\f\x01\x1f\x7f", 0, "\\t\\b\\f\\u0001\\u001f\\u007f"},
    /* a NUL byte must be kept and escaped, not end the string */
    {__LINE__, "a\0b", 3, "a\\u0000b"},
    {__LINE__, "\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xe4\xb8\x96", 0,
     "\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xe4\xb8\x96"},
    {__LINE__, "emoji \xf0\x9f\x98\x80!", 0, "emoji \xf0\x9f\x98\x80!"},
    {__LINE__, "\xf4\x8f\xbf\xbf max", 0, "\xf4\x8f\xbf\xbf max"}, /* U+10FFFF */
    /* invalid bytes that no decoder may pass through */
    {__LINE__, "\xff\xfe", 0, FFFD FFFD},
    /* lone continuation bytes */
    {__LINE__,
     "a\x80\xbf"
     "b",
     0, "a" FFFD FFFD "b"},
    /* overlong encodings of '/' and NUL (path and string-end smuggling) */
    {__LINE__, "\xc0\xaf", 0, FFFD FFFD},
    {__LINE__, "\xc1\xbf", 0, FFFD FFFD},
    {__LINE__, "\xe0\x80\xaf", 0, FFFD FFFD FFFD},
    {__LINE__, "\xf0\x80\x80\xaf", 0, FFFD FFFD FFFD FFFD},
    {__LINE__, "\xc0\x80", 0, FFFD FFFD},
    /* UTF-16 surrogates encoded in UTF-8 */
    {__LINE__, "\xed\xa0\x80\xed\xbf\xbf", 0, FFFD FFFD FFFD FFFD FFFD FFFD},
    /* beyond U+10FFFF, and old 5/6-byte forms */
    {__LINE__, "\xf4\x90\x80\x80", 0, FFFD FFFD FFFD FFFD},
    {__LINE__, "\xf8\x88\x80\x80\x80", 0, FFFD FFFD FFFD FFFD FFFD},
    /* a sequence cut by an ASCII byte: one U+FFFD for the maximal subpart */
    {__LINE__, "\xf0\x9f\x98(", 0, FFFD "("},
    {__LINE__, "\xe2\x82\"", 0, FFFD "\\\""},
    {__LINE__, "\xc3\x1b", 0, FFFD "\\u001b"},
    /* a sequence cut by another lead byte */
    {__LINE__, "\xe2\xe2\x82\xac", 0, FFFD "\xe2\x82\xac"},
    /* a stream that ends in the middle of a sequence: U+FFFD at close */
    {__LINE__, "ok\xe2\x82", 0, "ok" FFFD},
    {__LINE__, "\xf0", 0, FFFD},
    {__LINE__, "", 0, ""},
};

static void test_encoding(void)
{
	size_t k;

	for (k = 0; k < sizeof(enc_rows) / sizeof(enc_rows[0]); k++) {
		const struct enc_row *row = &enc_rows[k];
		size_t len = row->inlen ? row->inlen : strlen(row->in), i, j;
		struct mem_sink m;
		struct parsed pr;
		const char *chunks[3];
		size_t lens[3];

		/* whole */
		chunks[0] = row->in;
		lens[0] = len;
		record_chunks(row->line, chunks, lens, 1, &m, &pr);
		CHECK_ROW(row->line,
		          pr.ok && pr.datalen == strlen(row->out) &&
		              memcmp(pr.data, row->out, pr.datalen) == 0,
		          "whole: got \"%s\" want \"%s\"", pr.data, row->out);
		parsed_free(&pr);
		mem_fini(&m);

		/* split in two and in three events at every split point: same text */
		for (i = 0; i <= len; i++) {
			for (j = i; j <= len; j++) {
				chunks[0] = row->in;
				lens[0] = i;
				chunks[1] = row->in + i;
				lens[1] = j - i;
				chunks[2] = row->in + j;
				lens[2] = len - j;
				record_chunks(row->line, chunks, lens, 3, &m, &pr);
				CHECK_ROW(row->line,
				          pr.ok && pr.datalen == strlen(row->out) &&
				              memcmp(pr.data, row->out, pr.datalen) == 0,
				          "split at %zu,%zu: got \"%s\" want \"%s\"", i, j, pr.data,
				          row->out);
				parsed_free(&pr);
				mem_fini(&m);
			}
		}
	}
}

/* Every byte value, alone and at every position of a plain run (the 8-byte fast path),
 * against an independent expectation. */
static size_t expect_byte(unsigned char c, char *out)
{
	switch (c) {
	case '\b':
		return (size_t)sprintf(out, "\\b");
	case '\t':
		return (size_t)sprintf(out, "\\t");
	case '\n':
		return (size_t)sprintf(out, "\\n");
	case '\f':
		return (size_t)sprintf(out, "\\f");
	case '\r':
		return (size_t)sprintf(out, "\\r");
	case '"':
		return (size_t)sprintf(out, "\\\"");
	case '\\':
		return (size_t)sprintf(out, "\\\\");
	}
	if (c < 0x20 || c == 0x7f)
		return (size_t)sprintf(out, "\\u%04x", c);
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	memcpy(out, FFFD, 3); /* alone, no byte >= 0x80 is valid UTF-8 */
	return 3;
}

static void test_every_byte(void)
{
	int c;
	size_t pos;

	for (c = 0; c < 256; c++) {
		for (pos = 0; pos < 20; pos++) {
			char in[24], want[64];
			size_t wl = 0, i;
			struct mem_sink m;
			struct parsed pr;
			const char *chunks[1] = {in};
			size_t lens[1] = {sizeof(in)};

			memset(in, 'a', sizeof(in));
			in[pos] = (char)c;
			for (i = 0; i < sizeof(in); i++)
				wl += expect_byte((unsigned char)in[i], want + wl);
			record_chunks(__LINE__, chunks, lens, 1, &m, &pr);
			CHECK(pr.ok && pr.datalen == wl && memcmp(pr.data, want, wl) == 0,
			      "byte 0x%02x at %zu: got \"%s\"", c, pos, pr.data);
			parsed_free(&pr);
			mem_fini(&m);
		}
	}
}

/* ------------------------------------------------------------------ header */
static void test_header(void)
{
	static const struct {
		int line;
		struct ssm_rec_header hdr;
		const char *term, *title; /* expected decoded values */
	} rows[] = {
	    {__LINE__, {80, 24, 1763726400, "xterm", "/bin/sh", "t"}, "xterm", "t"},
	    {__LINE__, {0, 0, 0, NULL, NULL, NULL}, NULL, NULL},
	    /* a client-chosen TERM with quotes, control characters and invalid UTF-8 */
	    {__LINE__,
	     {200, 50, 1, "x\"}\n\x1b\xff\\", "/bin/bash", "caf\xc3\xa9 \xe2\x82"},
	     "x\"}" FFFD FFFD FFFD "\\",
	     "caf\xc3\xa9 " FFFD},
	};
	size_t k;

	for (k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
		struct mem_sink m;
		struct ssm_rec *rec;
		const char *nl, *s;
		cJSON *j = NULL;
		const cJSON *env;
		int64_t v;
		char err[200];
		int r;

		mem_init(&m);
		r = ssm_rec_new(&m.base, &rows[k].hdr, 0, T0, &rec);
		CHECK_ROW(rows[k].line, r == 0, "ssm_rec_new %d", r);
		if (r != 0)
			continue;
		/* the header reaches the sink at once */
		CHECK_ROW(rows[k].line, m.writes == 1 && m.len > 0, "header not written at once");
		ssm_rec_free(rec);
		nl = memchr(m.buf, '\n', m.len);
		CHECK_ROW(rows[k].line, nl && (size_t)(nl - m.buf) + 1 == m.len, "one header line");
		if (nl == NULL) {
			mem_fini(&m);
			continue;
		}
		r = ssm_json_parse_object(m.buf, (size_t)(nl - m.buf), &j, err, sizeof(err));
		CHECK_ROW(rows[k].line, r == 0, "header does not parse: %s: %s", err, m.buf);
		CHECK_ROW(rows[k].line, ssm_json_utf8_valid(m.buf, m.len), "header not UTF-8");
		CHECK_ROW(rows[k].line, ssm_json_get_int64(j, "version", &v) == 0 && v == 2,
		          "version");
		CHECK_ROW(rows[k].line,
		          ssm_json_get_int64(j, "width", &v) == 0 && v == rows[k].hdr.width,
		          "width");
		CHECK_ROW(rows[k].line,
		          ssm_json_get_int64(j, "height", &v) == 0 && v == rows[k].hdr.height,
		          "height");
		CHECK_ROW(rows[k].line,
		          ssm_json_get_int64(j, "timestamp", &v) == 0 && v == rows[k].hdr.timestamp,
		          "timestamp");
		env = ssm_json_member(j, "env");
		CHECK_ROW(rows[k].line, cJSON_IsObject(env), "env object");
		r = ssm_json_get_string(env, "TERM", &s);
		CHECK_ROW(rows[k].line,
		          rows[k].term ? r == 0 && strcmp(s, rows[k].term) == 0 : r == -ENOENT,
		          "TERM %d", r);
		r = ssm_json_get_string(j, "title", &s);
		CHECK_ROW(rows[k].line,
		          rows[k].title ? r == 0 && strcmp(s, rows[k].title) == 0 : r == -ENOENT,
		          "title %d", r);
		cJSON_Delete(j);
		mem_fini(&m);
	}
}

/* ------------------------------------------------------------------ events and times */
static void test_events(void)
{
	struct mem_sink m;
	struct ssm_rec *rec;
	struct parsed pr;
	uint64_t bytes;
	char sha[65];
	int r;

	mem_init(&m);
	r = ssm_rec_new(&m.base, &test_hdr, 0, T0, &rec);
	CHECK(r == 0, "ssm_rec_new %d", r);
	if (r != 0)
		return;
	/* before the start: time 0 */
	CHECK(ssm_rec_output(rec, T0 - 5 * NS, "a", 1) == 0, "output");
	CHECK(ssm_rec_output(rec, T0 + 1500000000ULL, "b", 1) == 0, "output");
	/* a clock that goes back: the time stays where it was */
	CHECK(ssm_rec_output(rec, T0 + NS, "c", 1) == 0, "output");
	CHECK(ssm_rec_resize(rec, T0 + 2 * NS + 123456789, 132, 43) == 0, "resize");
	/* output and input hold their own cut sequences */
	CHECK(ssm_rec_output(rec, T0 + 3 * NS, "\xe2\x82", 2) == 0, "output");
	CHECK(ssm_rec_input(rec, T0 + 3 * NS + 1000, "ls\r\xe2", 4) == 0, "input");
	CHECK(ssm_rec_output(rec, T0 + 3 * NS + 2000, "\xac", 1) == 0, "output");
	CHECK(ssm_rec_input(rec, T0 + 3 * NS + 3000, "\x82\xac", 2) == 0, "input");
	CHECK(ssm_rec_output(rec, T0 + 3 * NS + 4000, "", 0) == 0, "empty output");
	CHECK(ssm_rec_output(rec, T0 + 12345 * NS + 999999999, "z", 1) == 0, "output");
	r = ssm_rec_close(rec, &bytes, sha);
	CHECK(r == 0 && bytes == m.len, "close %d", r);
	ssm_rec_free(rec);
	CHECK(m.closes == 1, "sink closed once (%d)", m.closes);
	{
		const char *ev = strchr(m.buf, '\n') + 1;
		static const char want[] = "[0.000000, \"o\", \"a\"]\n"
		                           "[1.500000, \"o\", \"b\"]\n"
		                           "[1.500000, \"o\", \"c\"]\n"
		                           "[2.123456, \"r\", \"132x43\"]\n"
		                           "[3.000001, \"i\", \"ls\\r\"]\n"
		                           "[3.000002, \"o\", \"\xe2\x82\xac\"]\n"
		                           "[3.000003, \"i\", \"\xe2\x82\xac\"]\n"
		                           "[12345.999999, \"o\", \"z\"]\n";

		CHECK(strcmp(ev, want) == 0, "events:\n%s\nwant:\n%s", ev, want);
	}
	check_cast(__LINE__, m.buf, m.len, &pr);
	CHECK(pr.ok && pr.events == 8 && strcmp(pr.input, "ls\r\xe2\x82\xac") == 0, "parsed");
	parsed_free(&pr);
	mem_fini(&m);
}

/* ------------------------------------------------------------------ big writes */
static void test_large(void)
{
	size_t len = 1 << 20, i;
	char *big = malloc(len);
	struct mem_sink m;
	struct parsed pr;
	const char *chunks[1];
	size_t lens[1];
	unsigned x = 1;

	if (big == NULL)
		abort();
	/* printable ASCII, 2- and 3-byte sequences and escapes; no NUL (compared decoded) */
	for (i = 0; i < len;) {
		x = x * 1103515245 + 12345;
		switch ((x >> 16) % 5) {
		case 0:
			if (i + 3 <= len) {
				memcpy(big + i, "\xe2\x82\xac", 3);
				i += 3;
				continue;
			}
			break;
		case 1:
			if (i + 2 <= len) {
				memcpy(big + i, "\xc3\xa9", 2);
				i += 2;
				continue;
			}
			break;
		case 2:
			big[i++] = "\x1b\r\n\"\\\x7f"[(x >> 20) % 6];
			continue;
		}
		big[i++] = (char)(' ' + (x >> 20) % 95);
	}
	chunks[0] = big;
	lens[0] = len;
	record_chunks(__LINE__, chunks, lens, 1, &m, &pr);
	CHECK(pr.ok && pr.decodedlen == len && memcmp(pr.decoded, big, len) == 0,
	      "1 MiB write: decoded %zu bytes", pr.decodedlen);
	CHECK(pr.events > 16 && pr.maxline <= 64 * 1024, "split into %d events, longest line %zu",
	      pr.events, pr.maxline);
	parsed_free(&pr);
	mem_fini(&m);

	/* only escapes: six times larger, still whole lines */
	memset(big, 0x1b, len);
	record_chunks(__LINE__, chunks, lens, 1, &m, &pr);
	CHECK(pr.ok && pr.datalen == 6 * len, "1 MiB of ESC: %zu bytes of text", pr.datalen);
	parsed_free(&pr);
	mem_fini(&m);

	/* 4-byte sequences across many reads of odd sizes */
	for (i = 0; i + 4 <= len; i += 4)
		memcpy(big + i, "\xf0\x9f\x98\x80", 4);
	{
		struct ssm_rec *rec;
		size_t off = 0, step = 1;
		int r = 0;

		mem_init(&m);
		if (ssm_rec_new(&m.base, &test_hdr, 0, T0, &rec) != 0)
			abort();
		while (off < len && r == 0) {
			size_t n = step < len - off ? step : len - off;

			r = ssm_rec_output(rec, T0 + off, big + off, n);
			off += n;
			step = step * 7 % 4099 + 1;
		}
		CHECK(r == 0 && ssm_rec_close(rec, NULL, NULL) == 0, "odd reads %d", r);
		ssm_rec_free(rec);
		check_cast(__LINE__, m.buf, m.len, &pr);
		CHECK(pr.ok && pr.decodedlen == len && memcmp(pr.decoded, big, len) == 0,
		      "emoji in odd reads");
		parsed_free(&pr);
		mem_fini(&m);
	}
	free(big);
}


/* The encoder's 8-byte stores near the end of the batch buffer: after an 8-at-a-time step
 * stops within a word, the next byte's store must still fit (a heap overflow of up to 7
 * bytes past the batch, found by ASan when a full disk made lines end there).  Plain runs
 * of every length up to 8 between escapes, at every alignment, long enough to fill and
 * split many batches; the sanitizer build reports any store past the buffer. */
static void test_buffer_end(void)
{
	size_t len = 300 * 1024, i, shift, run;
	char *big = malloc(len);
	struct mem_sink m;
	struct parsed pr;
	const char *chunks[1];
	size_t lens[1];

	if (big == NULL)
		abort();
	for (run = 1; run <= 9; run++) {
		for (shift = 0; shift < 8; shift++) {
			for (i = 0; i < len; i++)
				big[i] = (i + shift) % (run + 1) == run ? '\x01' : 'x';
			chunks[0] = big;
			lens[0] = len;
			record_chunks(__LINE__, chunks, lens, 1, &m, &pr);
			CHECK(pr.ok && pr.decodedlen == len && memcmp(pr.decoded, big, len) == 0,
			      "run %zu shift %zu: decoded %zu bytes", run, shift, pr.decodedlen);
			parsed_free(&pr);
			mem_fini(&m);
		}
	}
	free(big);
}

/* ------------------------------------------------------------------ the size cap */
static void test_cap(void)
{
	struct mem_sink m;
	struct ssm_rec *rec;
	struct parsed pr;
	uint64_t bytes, cap = 4096;
	char sha[65], chunk[100];
	int r = 0, i, limit_at = -1;

	memset(chunk, 'x', sizeof(chunk));
	mem_init(&m);
	if (ssm_rec_new(&m.base, &test_hdr, cap, T0, &rec) != 0)
		abort();
	for (i = 0; i < 100; i++) {
		r = ssm_rec_output(rec, T0 + (uint64_t)i * 1000, chunk, sizeof(chunk));
		if (r != 0)
			break;
	}
	limit_at = i;
	CHECK(r == SSM_REC_LIMIT_REACHED, "cap: got %d", r);
	CHECK(limit_at > 20 && limit_at < 40, "cap reached after %d events", limit_at);
	/* and it stays reached, for every kind of event; a huge event changes nothing */
	CHECK(ssm_rec_output(rec, T0 + NS, "y", 1) == SSM_REC_LIMIT_REACHED, "still capped");
	CHECK(ssm_rec_input(rec, T0 + NS, "y", 1) == SSM_REC_LIMIT_REACHED, "input capped");
	CHECK(ssm_rec_resize(rec, T0 + NS, 1, 1) == SSM_REC_LIMIT_REACHED, "resize capped");
	CHECK(ssm_rec_tick(rec, T0 + 10 * NS, NULL) == 0, "tick still flushes");
	r = ssm_rec_close(rec, &bytes, sha);
	CHECK(r == 0 && bytes <= cap && bytes == m.len && bytes > cap - 200,
	      "close %d, %llu bytes for a cap of %llu", r, (unsigned long long)bytes,
	      (unsigned long long)cap);
	ssm_rec_free(rec);
	check_cast(__LINE__, m.buf, m.len, &pr);
	CHECK(pr.ok && pr.events == limit_at && strchr(pr.data, 'y') == NULL, "capped cast");
	parsed_free(&pr);
	mem_fini(&m);

	/* one event larger than the cap and the batch buffer: nothing more of it past the cap */
	{
		size_t len = 300000;
		char *big = malloc(len);

		if (big == NULL)
			abort();
		memset(big, 'q', len);
		mem_init(&m);
		if (ssm_rec_new(&m.base, &test_hdr, 100000, T0, &rec) != 0)
			abort();
		r = ssm_rec_output(rec, T0, big, len);
		CHECK(r == SSM_REC_LIMIT_REACHED, "big event over the cap: %d", r);
		r = ssm_rec_close(rec, &bytes, NULL);
		CHECK(r == 0 && bytes <= 100000 && bytes == m.len, "big: %llu bytes",
		      (unsigned long long)bytes);
		ssm_rec_free(rec);
		check_cast(__LINE__, m.buf, m.len, &pr);
		CHECK(pr.ok, "big capped cast valid");
		parsed_free(&pr);
		mem_fini(&m);
		free(big);
	}
}

/* ssm_rec_reserve: a relay forwards output before recording it only when this returns 0; a
 * wrong 0 would show the client bytes past the cap that the transcript never holds, or bytes
 * the sink then has no room for.  Every kind of data (all escaped: the 6x worst case; cut
 * UTF-8; plain), every size up to several batches: after a 0 the event never meets the cap
 * and never makes the sink write past what it reserved, against caps that the recording
 * approaches. */
static void test_reserve(void)
{
	static const size_t sizes[] = {1, 7, 100, 4095, 8192, 65536, 65537, 200000, 400000};
	size_t len = 400000, si, k, yes = 0, no = 0;
	unsigned char *data = malloc(len);
	unsigned kind;
	int bad = 0, capped;

	if (data == NULL)
		abort();
	for (capped = 0; capped < 2; capped++) {
		for (kind = 0; kind < 3; kind++) {
			for (k = 0; k < len; k++)
				data[k] = kind == 0   ? 0x01
				          : kind == 1 ? (k % 3 == 2 ? 0xe2 : 'a' + k % 26)
				                      : (unsigned char)('a' + k % 26);
			for (si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
				struct mem_sink m;
				struct ssm_rec *rec;
				uint64_t t = T0;
				int r = 0, i, n = capped ? 100000 : 20;

				mem_init(&m);
				m.can_reserve = 1;
				if (ssm_rec_new(&m.base, &test_hdr,
				                capped ? 50 * sizes[si] + 5000 : 0, T0, &rec) != 0)
					abort();
				m.over_alloc = 0; /* the header: written before any reservation */
				for (i = 0; i < n; i++) {
					int res = ssm_rec_reserve(rec, sizes[si]);

					r = ssm_rec_output(rec, t += 1000, data, sizes[si]);
					if (res == 0) {
						yes++;
						if (r != 0 || m.over_alloc) {
							bad++;
							fprintf(
							    stderr,
							    "kind %u size %zu event %d: reserved, "
							    "got "
							    "%d, %d writes past the reservation\n",
							    kind, sizes[si], i, r, m.over_alloc);
						}
					} else {
						no++;
						CHECK_ROW(__LINE__, res == SSM_REC_LIMIT_REACHED,
						          "not reserved: the cap (%d)", res);
					}
					if (r != 0)
						break;
				}
				if (capped) {
					CHECK_ROW(__LINE__, r == SSM_REC_LIMIT_REACHED,
					          "kind %u size %zu: cap reached", kind, sizes[si]);
					CHECK_ROW(__LINE__, ssm_rec_reserve(rec, 1) != 0,
					          "none after the cap");
				} else {
					/* every event was reserved: close writes within it too */
					CHECK_ROW(__LINE__,
					          ssm_rec_close(rec, NULL, NULL) == 0 &&
					              m.over_alloc == 0 && m.len <= m.alloc,
					          "kind %u size %zu: %zu bytes, %llu reserved",
					          kind, sizes[si], m.len,
					          (unsigned long long)m.alloc);
					/* amortised: not one reservation per event in the sink */
					CHECK_ROW(__LINE__, m.reserves <= n, "%d reservations",
					          m.reserves);
				}
				ssm_rec_free(rec);
				mem_fini(&m);
			}
		}
	}
	CHECK(bad == 0 && yes > 1000 && no > 0, "reserve: %zu yes, %zu no, %d wrong", yes, no, bad);
	free(data);

	/* a sink without reserve, or with an error: not 0 (record first) */
	{
		struct mem_sink m;
		struct ssm_rec *rec;
		char x[70000];

		memset(x, 'x', sizeof(x));
		mem_init(&m);
		m.fail_after = 100000;
		m.fail_errno = ENOSPC;
		if (ssm_rec_new(&m.base, &test_hdr, 0, T0, &rec) != 0)
			abort();
		CHECK(ssm_rec_reserve(rec, sizeof(x)) == -EOPNOTSUPP, "no reserve: EOPNOTSUPP");
		CHECK(ssm_rec_output(rec, T0 + 1, x, 10) == 0 && ssm_rec_secure(rec) == 0 &&
		          m.len > 10 && m.len < 1000,
		      "no reserve: secure writes the batch (%zu bytes)", m.len);
		CHECK(ssm_rec_secure(rec) == 0 && m.writes == 2, "nothing more to write");
		for (k = 0; k < 10; k++)
			if (ssm_rec_output(rec, T0 + k, x, sizeof(x)) != 0)
				break;
		CHECK(k < 10 && ssm_rec_output(rec, T0 + 20, "y", 1) == -ENOSPC, "sink full");
		CHECK(ssm_rec_reserve(rec, 1) == -ENOSPC, "the sink error after it");
		CHECK(ssm_rec_secure(rec) == -ENOSPC, "secure: the sink error");
		ssm_rec_free(rec);
		mem_fini(&m);
	}
}

/* The relay's protocol (relay.c chan_fill) against a disk that a user fills at any moment:
 * reserve, then pass on and record; else record, secure, and pass on only after 0.  Input
 * events and resizes come in between (they take room too, after the output).  Whatever
 * happens, what the client got is a prefix of the transcript's output, and the transcript
 * stays whole lines. */
struct client {
	char *buf;
	size_t len;
};

static int relay_output(struct ssm_rec *rec, uint64_t t, const char *chunk, size_t n,
                        struct client *cl)
{
	int r;

	if (ssm_rec_reserve(rec, n) == 0) {
		append(&cl->buf, &cl->len, chunk, n);
		return ssm_rec_output(rec, t, chunk, n);
	}
	r = ssm_rec_output(rec, t, chunk, n);
	if (r == 0)
		r = ssm_rec_secure(rec);
	if (r == 0)
		append(&cl->buf, &cl->len, chunk, n);
	return r;
}

static void test_disk_fills(void)
{
	static const size_t sizes[] = {5, 300, 4096, 65536};
	static const uint64_t free_after[] = {0, 1, 100, 5000, 70000, 500000, 3000000};
	char *chunk = malloc(65536);
	unsigned seed = 12345;
	int runs = 0, bad = 0, ended = 0, forwarded_after_full = 0;
	size_t si, fi, k;
	int reserving, escaped;

	if (chunk == NULL)
		abort();
	for (reserving = 0; reserving < 2; reserving++)
		for (escaped = 0; escaped < 2; escaped++)
			for (si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++)
				for (fi = 0; fi < sizeof(free_after) / sizeof(free_after[0]);
				     fi++) {
					struct mem_sink m;
					struct ssm_rec *rec;
					struct client cl = {NULL, 0};
					struct parsed pr;
					uint64_t t = T0;
					size_t at_full = 0;
					int i, r = 0, fill_at = 3 + (int)(fi * 7 % 11);

					mem_init(&m);
					m.can_reserve = reserving;
					if (ssm_rec_new(&m.base, &test_hdr, 0, T0, &rec) != 0)
						abort();
					append(&cl.buf, &cl.len, "", 0);
					for (i = 0; i < 400 && r == 0; i++) {
						size_t n =
						    sizes[si] - (seed = seed * 1103515245 + 12345) %
						                    4 * (sizes[si] / 8);

						for (k = 0; k < n; k++)
							chunk[k] =
							    escaped && k % 5 == 0
							        ? '\x1b'
							        : (char)('a' +
							                 (k + (size_t)i) % 26);
						if (i == fill_at) {
							/* the user fills the disk: free_after[fi]
							 * bytes left */
							m.room =
							    (m.alloc > m.len ? m.alloc : m.len) +
							    free_after[fi];
							at_full = cl.len;
						}
						if (i % 7 == 3)
							r = ssm_rec_input(rec, t += 1000, "ls -l\r",
							                  6);
						else if (i % 11 == 5)
							r = ssm_rec_resize(rec, t += 1000,
							                   80 + (unsigned)i, 24);
						if (r == 0 && i % 7 == 3)
							r = ssm_rec_secure(rec);
						if (r == 0)
							r = relay_output(rec, t += 1000, chunk, n,
							                 &cl);
						if (i % 13 == 0)
							(void)ssm_rec_tick(rec, t += NS, NULL);
					}
					ended += r != 0;
					if (cl.len > at_full && at_full)
						forwarded_after_full++;
					(void)ssm_rec_close(rec, NULL, NULL);
					ssm_rec_free(rec);
					check_cast(__LINE__, m.buf, m.len, &pr);
					if (!pr.ok || m.partial_lines || pr.decodedlen < cl.len ||
					    memcmp(pr.decoded, cl.buf, cl.len) != 0) {
						bad++;
						fprintf(stderr,
						        "reserving %d escaped %d size %zu free "
						        "%llu: client "
						        "%zu bytes, transcript %zu, ok %d\n",
						        reserving, escaped, sizes[si],
						        (unsigned long long)free_after[fi], cl.len,
						        pr.decodedlen, pr.ok);
					}
					parsed_free(&pr);
					free(cl.buf);
					mem_fini(&m);
					runs++;
				}
	CHECK(bad == 0, "disk fills: %d of %d runs gave the client output the transcript lacks",
	      bad, runs);
	CHECK(ended > runs / 2 && forwarded_after_full > runs / 4,
	      "the disk ran full in %d of %d runs, output went on after it in %d", ended, runs,
	      forwarded_after_full);
	free(chunk);
}

/* ------------------------------------------------------------------ flush timing */
static void test_tick(void)
{
	struct mem_sink m;
	struct ssm_rec *rec;
	uint64_t next;
	int r;

	mem_init(&m);
	if (ssm_rec_new(&m.base, &test_hdr, 0, T0, &rec) != 0)
		abort();
	CHECK(m.writes == 1, "header written");
	r = ssm_rec_tick(rec, T0 + 2 * NS, &next);
	CHECK(r == 0 && m.flushes == 1, "header synced on the first tick (%d)", m.flushes);
	CHECK(next == UINT64_MAX, "nothing pending: no deadline");
	CHECK(ssm_rec_output(rec, T0 + 2 * NS + 100, "abc", 3) == 0, "output");
	CHECK(m.writes == 1, "small event batched, not written");
	r = ssm_rec_tick(rec, T0 + 2 * NS + 500000000ULL, &next);
	CHECK(r == 0 && m.writes == 1 && next == T0 + 3 * NS, "not yet due: next %llu",
	      (unsigned long long)(next - T0));
	r = ssm_rec_tick(rec, T0 + 3 * NS, &next);
	CHECK(r == 0 && m.writes == 2 && m.flushes == 2 && next == UINT64_MAX,
	      "due: written and flushed (%d writes, %d flushes)", m.writes, m.flushes);
	r = ssm_rec_tick(rec, T0 + 9 * NS, &next);
	CHECK(r == 0 && m.writes == 2 && m.flushes == 2, "nothing to do");
	/* the batch buffer fills: written at once without waiting for a tick */
	{
		char chunk[4096];
		int i;

		memset(chunk, 'f', sizeof(chunk));
		for (i = 0; i < 40; i++)
			CHECK(ssm_rec_output(rec, T0 + 9 * NS + 1, chunk, sizeof(chunk)) == 0,
			      "out");
		CHECK(m.writes > 2 && m.flushes == 2, "full buffer written, not synced (%d writes)",
		      m.writes);
		/* the last sync was long ago: this tick syncs at once */
		r = ssm_rec_tick(rec, T0 + 9 * NS + 2, &next);
		CHECK(r == 0 && m.flushes == 3 && next == UINT64_MAX, "synced after a pause");
		for (i = 0; i < 40; i++)
			CHECK(ssm_rec_output(rec, T0 + 9 * NS + 3, chunk, sizeof(chunk)) == 0,
			      "out");
		r = ssm_rec_tick(rec, T0 + 9 * NS + 4, &next);
		CHECK(r == 0 && m.flushes == 3 && next == T0 + 10 * NS + 2,
		      "written but not synced: due a second after the last sync");
	}
	CHECK(ssm_rec_close(rec, NULL, NULL) == 0 && m.closes == 1, "close");
	CHECK(ssm_rec_output(rec, T0 + 20 * NS, "x", 1) < 0, "output after close refused");
	ssm_rec_free(rec);
	mem_fini(&m);
}

/* ------------------------------------------------------------------ totals */
/* With a size cap, the file sink never reserves past it (a reservation is held for the whole
 * session: 1 MiB a session beyond a 20 KB cap would let many small sessions pin the disk). */
static void test_reserve_ceiling(void)
{
	char path[] = "/tmp/test_asciicast_ceil.XXXXXX";
	struct ssm_sink *sink;
	struct ssm_rec *rec;
	struct stat st;
	int fd, dup_fd, r;

	fd = mkstemp(path);
	if (fd < 0)
		abort();
	dup_fd = dup(fd);
	CHECK(ssm_sink_file_new(fd, &sink) == 0, "file sink");
	CHECK(ssm_rec_new(sink, &test_hdr, 20000, T0, &rec) == 0, "rec");
	r = ssm_rec_reserve(rec, 100);
	if (r == -EOPNOTSUPP) {
		printf("SKIP reserve ceiling: no fallocate on /tmp\n");
	} else {
		CHECK(r == 0, "reserve: %d", r);
		CHECK(fstat(dup_fd, &st) == 0 && (uint64_t)st.st_blocks * 512 <= 20000 + 8192,
		      "reserved %lld bytes of blocks with a 20000-byte cap",
		      (long long)st.st_blocks * 512);
	}
	CHECK(ssm_rec_close(rec, NULL, NULL) == 0, "close");
	ssm_rec_free(rec);
	close(dup_fd);
	unlink(path);
}

static void test_file_sha(void)
{
	char path[] = "/tmp/test_asciicast.XXXXXX";
	struct ssm_sink *sink;
	struct ssm_rec *rec;
	uint64_t bytes = 0;
	char sha[65] = "", want[65], *buf = NULL;
	size_t len = 0;
	int fd, r, i;

	fd = mkstemp(path);
	if (fd < 0)
		abort();
	CHECK(ssm_sink_file_new(fd, &sink) == 0, "file sink");
	CHECK(ssm_rec_new(sink, &test_hdr, 0, T0, &rec) == 0, "rec");
	for (i = 0; i < 3000; i++) {
		char line[64];
		int n = snprintf(line, sizeof(line), "line %d \xe2\x94\x80\x1b[K\r\n", i);

		CHECK(ssm_rec_output(rec, T0 + (uint64_t)i * 1000000, line, (size_t)n) == 0, "out");
		if (i % 500 == 0)
			CHECK(ssm_rec_tick(rec, T0 + (uint64_t)i * 1000000, NULL) == 0, "tick");
	}
	r = ssm_rec_close(rec, &bytes, sha);
	CHECK(r == 0, "close %d", r);
	ssm_rec_free(rec);
	r = ssm_read_file(path, 64 << 20, 0, &buf, &len, NULL, 0);
	CHECK(r == 0, "read back");
	ssm_sha256_hex(buf, len, want);
	CHECK(bytes == len && strcmp(sha, want) == 0, "sha256 %s (%llu bytes) want %s (%zu bytes)",
	      sha, (unsigned long long)bytes, want, len);
	free(buf);
	unlink(path);
}

/* ------------------------------------------------------------------ failing sinks */
static void test_errors(void)
{
	struct mem_sink m;
	struct ssm_rec *rec;
	struct ssm_sink *sink;
	char chunk[8192];
	uint64_t next;
	int r, i, fd;

	memset(chunk, 'e', sizeof(chunk));
	/* disk full after the header: the output that fills the batch fails, and stays failed */
	mem_init(&m);
	m.fail_after = 1000;
	m.fail_errno = ENOSPC;
	CHECK(ssm_rec_new(&m.base, &test_hdr, 0, T0, &rec) == 0, "header fits");
	for (i = 0, r = 0; i < 20 && r == 0; i++)
		r = ssm_rec_output(rec, T0 + 1, chunk, sizeof(chunk));
	CHECK(r == -ENOSPC, "ENOSPC from the output that filled the buffer: %d", r);
	CHECK(ssm_rec_output(rec, T0 + 2, "x", 1) == -ENOSPC, "sticky for output");
	CHECK(ssm_rec_input(rec, T0 + 2, "x", 1) == -ENOSPC, "sticky for input");
	CHECK(ssm_rec_resize(rec, T0 + 2, 1, 1) == -ENOSPC, "sticky for resize");
	CHECK(ssm_rec_tick(rec, T0 + 5 * NS, &next) == -ENOSPC, "sticky for tick");
	CHECK(ssm_rec_close(rec, NULL, NULL) == -ENOSPC, "sticky for close");
	ssm_rec_free(rec);
	mem_fini(&m);

	/* failure found by the tick (small events, the flush due) */
	mem_init(&m);
	m.fail_after = 1000;
	m.fail_errno = EIO;
	CHECK(ssm_rec_new(&m.base, &test_hdr, 0, T0, &rec) == 0, "rec");
	CHECK(ssm_rec_output(rec, T0 + 1, chunk, 900) == 0, "batched");
	CHECK(ssm_rec_tick(rec, T0 + 2 * NS, NULL) == -EIO, "tick reports EIO");
	CHECK(ssm_rec_output(rec, T0 + 3 * NS, "x", 1) == -EIO, "then output does too");
	CHECK(ssm_rec_close(rec, NULL, NULL) == -EIO, "and close");
	ssm_rec_free(rec);
	mem_fini(&m);

	/* a sink that cannot take even the header: the session never starts */
	mem_init(&m);
	m.fail_after = 10;
	m.fail_errno = EDQUOT;
	rec = (struct ssm_rec *)&m;
	CHECK(ssm_rec_new(&m.base, &test_hdr, 0, T0, &rec) == -EDQUOT && rec == NULL,
	      "header refused");
	mem_fini(&m);

	/* the file sink on /dev/full: ENOSPC, remembered */
	fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		CHECK(ssm_sink_file_new(fd, &sink) == 0, "file sink on /dev/full");
		CHECK(ssm_sink_write(sink, "x\n", 2) == -ENOSPC, "write ENOSPC");
		CHECK(ssm_sink_flush(sink) == -ENOSPC, "flush remembers ENOSPC");
		CHECK(ssm_sink_close(sink) == -ENOSPC, "close remembers ENOSPC");
		ssm_sink_destroy(sink);

		fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
		CHECK(ssm_sink_file_new(fd, &sink) == 0, "file sink on /dev/full");
		rec = NULL;
		r = ssm_rec_new(sink, &test_hdr, 0, T0, &rec);
		CHECK(r == -ENOSPC && rec == NULL, "recorder on /dev/full: %d", r);
	}

	/* the file sink on /dev/null (not a regular file: flush does not fdatasync) */
	fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		CHECK(ssm_sink_file_new(fd, &sink) == 0, "file sink on /dev/null");
		CHECK(ssm_rec_new(sink, &test_hdr, 0, T0, &rec) == 0, "rec on /dev/null");
		CHECK(ssm_rec_output(rec, T0 + 1, "x", 1) == 0, "out");
		CHECK(ssm_rec_tick(rec, T0 + 2 * NS, NULL) == 0, "tick");
		CHECK(ssm_rec_close(rec, NULL, NULL) == 0, "close");
		ssm_rec_free(rec);
	}
	CHECK(ssm_sink_file_new(-1, &sink) == -EBADF, "bad fd refused");
}

/* ------------------------------------------------------------------ tee */
static int log_count;
static void count_log(void *ctx, int prio, const char *fmt, va_list ap)
{
	(void)ctx;
	(void)prio;
	(void)fmt;
	(void)ap;
	log_count++;
}

static void test_tee(void)
{
	struct mem_sink a, b;
	struct ssm_sink *sinks[2], *tee;
	int required[2] = {1, 0};
	struct ssm_rec *rec;
	int r;

	ssm_log_set_handler(count_log, NULL);
	/* optional sink fails: logged once, dropped, the recording goes on */
	mem_init(&a);
	mem_init(&b);
	b.fail_after = 1;
	b.fail_errno = ECONNRESET;
	sinks[0] = &a.base;
	sinks[1] = &b.base;
	CHECK(ssm_sink_tee_new(sinks, required, 2, &tee) == 0, "tee");
	CHECK(ssm_rec_new(tee, &test_hdr, 0, T0, &rec) == 0, "rec on tee");
	CHECK(ssm_rec_output(rec, T0 + 1, "hi", 2) == 0, "out");
	r = ssm_rec_close(rec, NULL, NULL);
	CHECK(r == 0 && a.len > 0 && b.len == 0 && log_count == 1 && a.closes == 1,
	      "optional failure: %d, logged %d", r, log_count);
	ssm_rec_free(rec);
	mem_fini(&a);
	mem_fini(&b);

	/* required sink fails: the error comes back */
	mem_init(&a);
	mem_init(&b);
	a.fail_after = 1;
	a.fail_errno = ENOSPC;
	sinks[0] = &a.base;
	sinks[1] = &b.base;
	CHECK(ssm_sink_tee_new(sinks, required, 2, &tee) == 0, "tee");
	r = ssm_rec_new(tee, &test_hdr, 0, T0, &rec);
	CHECK(r == -ENOSPC, "required failure returned: %d", r);
	mem_fini(&a);
	mem_fini(&b);

	CHECK(ssm_sink_tee_new(sinks, required, 0, &tee) == -EINVAL, "empty tee refused");

	/* no required member: no reservation (output must then be written before it is
	 * passed on), never a promise nothing keeps */
	{
		int none[2] = {0, 0};

		mem_init(&a);
		mem_init(&b);
		sinks[0] = &a.base;
		sinks[1] = &b.base;
		CHECK(ssm_sink_tee_new(sinks, none, 2, &tee) == 0, "tee of optional sinks");
		CHECK(ssm_sink_reserve(tee, 100) == -EOPNOTSUPP,
		      "a tee without a required member reserves nothing");
		ssm_sink_destroy(tee);
		mem_fini(&a);
		mem_fini(&b);
	}
	ssm_log_set_handler(NULL, NULL);
}

int main(void)
{
	test_encoding();
	test_every_byte();
	test_header();
	test_events();
	test_large();
	test_buffer_end();
	test_cap();
	test_reserve();
	test_disk_fills();
	test_tick();
	test_file_sha();
	test_reserve_ceiling();
	test_errors();
	test_tee();
	return check_done("test_asciicast");
}
