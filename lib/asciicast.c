/* asciicast.c - the recorder: terminal bytes to asciicast v2 lines, see asciicast.h.
 *
 * The data encoder is the hot path (every byte the session prints goes through it), so it
 * is hand-written and table-driven: runs of plain ASCII are copied, JSON specials are
 * escaped from a table, UTF-8 is validated on the way (Unicode 15, table 3-7) and every
 * ill-formed subsequence becomes one U+FFFD ("maximal subpart" practice, as Python and
 * browsers decode), so every line is valid JSON and valid UTF-8 whatever the session
 * prints.  An incomplete sequence at the end of a read is held for the next event of the
 * same stream.  Lines are built in one batch buffer allocated once; an event larger than
 * the buffer is split into several events with the same time, at sequence boundaries, so
 * a sink only ever receives whole lines. */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "asciicast.h"
#include "sha256.h"

#define REC_BUFSZ (64 * 1024)
#define REC_SYNC_NS 1000000000ULL
#define REC_HDR_STRMAX 1024 /* header strings (TERM, SHELL, title) are cut to this */
#define REC_PREFIX_MAX 40   /* "[" + 20 digits "." 6 digits + ", \"o\", \"" */
#define REC_TRAILER "\"]\n"
#define REC_TRAILER_LEN 3
#define REC_UNIT_MAX 6 /* most output bytes one input byte/sequence needs: \u00XX */

enum { STREAM_OUT = 0, STREAM_IN = 1 };

/* byte classes */
enum {
	C_PLAIN = 0, /* printable ASCII, copied */
	C_ESC,       /* control, '"', '\\', DEL: escaped */
	C_LEAD2,     /* C2..DF */
	C_LEAD3,     /* E0..EF */
	C_LEAD4,     /* F0..F4 */
	C_BAD,       /* 80..BF as a lead, C0, C1, F5..FF: never valid here */
};

/* clang-format off */
#define R4(x) x, x, x, x
#define R16(x) R4(x), R4(x), R4(x), R4(x)
static const unsigned char byte_class[256] = {
	/* 0x00 */ R16(C_ESC), R16(C_ESC),
	/* 0x20 */ C_PLAIN, C_PLAIN, C_ESC, C_PLAIN, R4(C_PLAIN), R4(C_PLAIN), R4(C_PLAIN),
	/* 0x30 */ R16(C_PLAIN),
	/* 0x40 */ R16(C_PLAIN),
	/* 0x50 */ R4(C_PLAIN), R4(C_PLAIN), R4(C_PLAIN), C_ESC /* '\\' */, C_PLAIN, C_PLAIN, C_PLAIN,
	/* 0x60 */ R16(C_PLAIN),
	/* 0x70 */ R4(C_PLAIN), R4(C_PLAIN), R4(C_PLAIN), C_PLAIN, C_PLAIN, C_PLAIN, C_ESC,
	/* 0x80 */ R16(C_BAD), R16(C_BAD), R16(C_BAD), R16(C_BAD),
	/* 0xc0 */ C_BAD, C_BAD, C_LEAD2, C_LEAD2, R4(C_LEAD2), R4(C_LEAD2), R4(C_LEAD2),
	/* 0xd0 */ R16(C_LEAD2),
	/* 0xe0 */ R16(C_LEAD3),
	/* 0xf0 */ R4(C_LEAD4), C_LEAD4, C_BAD, C_BAD, C_BAD, R4(C_BAD), R4(C_BAD),
};

/* The output of every byte that is one unit on its own (all but the UTF-8 lead bytes
 * C2..F4): itself, its JSON escape, or U+FFFD.  Generated; unit_len[] is its length. */
static const char unit_out[256][8] = {
	"\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005", "\\u0006", "\\u0007",
	"\\b", "\\t", "\\n", "\\u000b", "\\f", "\\r", "\\u000e", "\\u000f",
	"\\u0010", "\\u0011", "\\u0012", "\\u0013", "\\u0014", "\\u0015", "\\u0016", "\\u0017",
	"\\u0018", "\\u0019", "\\u001a", "\\u001b", "\\u001c", "\\u001d", "\\u001e", "\\u001f",
	" ", "!", "\\\"", "#", "$", "%", "&", "'",
	"(", ")", "*", "+", ",", "-", ".", "/",
	"0", "1", "2", "3", "4", "5", "6", "7",
	"8", "9", ":", ";", "<", "=", ">", "\?",
	"@", "A", "B", "C", "D", "E", "F", "G",
	"H", "I", "J", "K", "L", "M", "N", "O",
	"P", "Q", "R", "S", "T", "U", "V", "W",
	"X", "Y", "Z", "[", "\\\\", "]", "^", "_",
	"`", "a", "b", "c", "d", "e", "f", "g",
	"h", "i", "j", "k", "l", "m", "n", "o",
	"p", "q", "r", "s", "t", "u", "v", "w",
	"x", "y", "z", "{", "|", "}", "~", "\\u007f",
	"\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd",
	"\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd",
	"\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd",
	"\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd",
	"\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd",
	"\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd",
	"\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd",
	"\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd",
	"\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd",
	"\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd",
	"\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd",
	"\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd",
	"\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd",
	"\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd",
	"\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd",
	"\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd",
};
static const unsigned char unit_len[256] = {
	6, 6, 6, 6, 6, 6, 6, 6, 2, 2, 2, 6, 2, 2, 6, 6,
	6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
	1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 6,
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
};
/* clang-format on */

static const unsigned char replacement[3] = {0xef, 0xbf, 0xbd}; /* U+FFFD */

struct rec_held {
	unsigned char b[4];
	unsigned n; /* 0..3 bytes of a valid, incomplete sequence */
};

struct ssm_rec {
	struct ssm_sink *sink;
	struct ssm_sha256 *md;
	char *buf; /* batched whole lines not yet handed to the sink */
	size_t len;
	uint64_t max_bytes; /* 0: no cap */
	uint64_t sunk;      /* bytes handed to the sink (header included) */
	uint64_t reserved;  /* the sink guaranteed room for this many bytes in all */
	uint64_t start_ns;
	uint64_t last_t;       /* time of the last event, relative to start_ns */
	uint64_t last_sync_ns; /* when the sink was last flushed */
	int dirty;             /* bytes handed to the sink since its last flush */
	int err;               /* sticky -errno of the sink */
	int limit;             /* max_bytes reached: nothing more is recorded */
	int closed;
	char sha256[65];
	struct rec_held held[2];
};

/* Length of a sequence led by c (class C_LEAD*), and the range its second byte must be in. */
static unsigned seq_len(unsigned char c)
{
	return c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
}

static void second_range(unsigned char lead, unsigned char *lo, unsigned char *hi)
{
	*lo = 0x80;
	*hi = 0xbf;
	if (lead == 0xe0)
		*lo = 0xa0; /* overlong 3-byte */
	else if (lead == 0xed)
		*hi = 0x9f; /* surrogates */
	else if (lead == 0xf0)
		*lo = 0x90; /* overlong 4-byte */
	else if (lead == 0xf4)
		*hi = 0x8f; /* > U+10FFFF */
}

/* Number of bytes at p[0..avail) that continue the sequence led by p[0] validly (1 = only
 * the lead). */
static unsigned seq_valid_prefix(const unsigned char *p, size_t avail, unsigned need)
{
	unsigned char lo, hi;
	unsigned i;

	second_range(p[0], &lo, &hi);
	for (i = 1; i < need && i < avail; i++) {
		if (p[i] < lo || p[i] > hi)
			break;
		lo = 0x80;
		hi = 0xbf;
	}
	return i;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && defined(__GNUC__)
#define REC_SWAR 1
#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL
/* Bit 7 of each byte that is not C_PLAIN: < 0x20, '"', '\\', >= 0x7f.  Bits above the lowest
 * one may be false positives (borrows run upwards): only the lowest set bit is used. */
static inline uint64_t special_mask(uint64_t x)
{
	uint64_t q = x ^ (ONES * '"'), b = x ^ (ONES * '\\');
	uint64_t ctl = (x - ONES * 0x20) & ~x; /* < 0x20 */
	uint64_t quo = (q - ONES) & ~q;        /* == '"' */
	uint64_t bsl = (b - ONES) & ~b;        /* == '\\' */
	uint64_t high = x | (x + ONES);        /* >= 0x7f */

	return (ctl | quo | bsl | high) & HIGHS;
}
#endif

/* Encode input into out[0..room) as JSON string content.  Stops when the input is used up
 * or fewer than 8 bytes of room are left.  An incomplete but so far valid sequence at the
 * very end of the input goes to *held.  Returns the input bytes consumed; *pout receives
 * the output bytes written. */
static size_t encode(const unsigned char *in, size_t len, char *out, size_t room,
                     struct rec_held *held, size_t *pout)
{
	const unsigned char *p = in, *end = in + len;
	char *o = out, *oend = out + room;
	int swar = 1, plain = 0;

	while (p < end && oend - o >= 8) {
		unsigned char c;

#ifdef REC_SWAR
		/* eight plain bytes at a time, but not within non-ASCII text (or binary), where
		 * the next byte is rarely plain and the attempt costs more than it saves */
		if (swar && end - p >= 8) {
			uint64_t x, m;

			memcpy(&x, p, 8);
			m = special_mask(x);
			memcpy(o, &x, 8); /* speculative: only the plain prefix is kept */
			if (m == 0) {
				p += 8;
				o += 8;
				continue;
			}
			m = (uint64_t)__builtin_ctzll(m) >> 3;
			p += m;
			o += m;
			if (oend - o < 8)
				continue; /* the 8-byte stores below need 8 bytes of room */
		}
#endif
		c = *p;
		swar = plain & (byte_class[c] == C_PLAIN); /* two plain in a row */
		plain = byte_class[c] == C_PLAIN;
		if (c < 0xc2 || c > 0xf4) {
			/* plain, escaped or a byte that can never start a sequence */
			memcpy(o, unit_out[c], 8);
			o += unit_len[c];
			p++;
		} else if (c < 0xe0 && end - p >= 2 && (p[1] & 0xc0) == 0x80) {
			o[0] = (char)c; /* the common 2-byte sequence */
			o[1] = (char)p[1];
			o += 2;
			p += 2;
		} else {
			unsigned need = seq_len(c);
			size_t avail = (size_t)(end - p);
			unsigned ok = seq_valid_prefix(p, avail, need);

			if (ok == need) {
				memcpy(o, p, need);
				o += need;
				p += need;
			} else if (ok == avail) {
				/* valid so far, cut by the end of this read: hold it */
				memcpy(held->b, p, ok);
				held->n = ok;
				p = end;
			} else {
				/* ill-formed: one U+FFFD for the maximal subpart */
				memcpy(o, replacement, 3);
				o += 3;
				p += ok;
			}
		}
	}
	*pout = (size_t)(o - out);
	return (size_t)(p - in);
}

/* Continue a held sequence with the next input.  Writes at most 4 bytes to out.  Returns the
 * input bytes consumed; *pout the output bytes. */
static size_t complete_held(struct rec_held *held, const unsigned char *in, size_t len, char *out,
                            size_t *pout)
{
	unsigned need = seq_len(held->b[0]);
	unsigned char lo, hi;
	size_t used = 0;

	*pout = 0;
	while (held->n < need) {
		if (used == len)
			return used; /* still incomplete: keep holding */
		if (held->n == 1)
			second_range(held->b[0], &lo, &hi);
		else
			lo = 0x80, hi = 0xbf;
		if (in[used] < lo || in[used] > hi) {
			/* broken: U+FFFD for the held part, the byte is read again as a lead */
			memcpy(out, replacement, 3);
			*pout = 3;
			held->n = 0;
			return used;
		}
		held->b[held->n++] = in[used++];
	}
	memcpy(out, held->b, need);
	*pout = need;
	held->n = 0;
	return used;
}

/* Seconds with 6 decimals, from integers (no locale, no floating point). */
static size_t format_time(uint64_t t_ns, char *out)
{
	uint64_t sec = t_ns / 1000000000ULL;
	unsigned usec = (unsigned)((t_ns % 1000000000ULL) / 1000);
	char tmp[24];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + sec % 10);
		sec /= 10;
	} while (sec);
	for (i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	out[n++] = '.';
	for (i = 6; i-- > 0;) {
		out[n + i] = (char)('0' + usec % 10);
		usec /= 10;
	}
	return n + 6;
}

/* Hand buf[0..n) to the sink, hashing exactly what it accepted. */
static int rec_write(struct ssm_rec *rec, size_t n)
{
	int r = ssm_sink_write(rec->sink, rec->buf, n);

	if (r < 0) {
		rec->err = r;
		return r;
	}
	ssm_sha256_update(rec->md, rec->buf, n);
	rec->sunk += n;
	rec->dirty = 1;
	if (n < rec->len)
		memmove(rec->buf, rec->buf + n, rec->len - n);
	rec->len -= n;
	return 0;
}

/* Hand the batch to the sink.  When it runs past what the sink reserved, the whole lines
 * within the reservation go first, on their own: a write that fails takes nothing of itself
 * into the transcript, and the output the relay already passed on lies in those lines. */
static int rec_push(struct ssm_rec *rec)
{
	int r;

	if (rec->err)
		return rec->err;
	if (rec->len == 0)
		return 0;
	if (rec->sunk < rec->reserved && rec->sunk + rec->len > rec->reserved) {
		const char *nl = memrchr(rec->buf, '\n', (size_t)(rec->reserved - rec->sunk));

		if (nl != NULL && (r = rec_write(rec, (size_t)(nl - rec->buf) + 1)) < 0)
			return r;
	}
	return rec->len ? rec_write(rec, rec->len) : 0;
}

static uint64_t rec_time(struct ssm_rec *rec, uint64_t mono_ns)
{
	uint64_t t = mono_ns > rec->start_ns ? mono_ns - rec->start_ns : 0;

	if (t < rec->last_t)
		t = rec->last_t; /* keep event times monotonic */
	rec->last_t = t;
	return t;
}

/* The line at buf[line..len) is complete: apply the cap. */
static int rec_commit_line(struct ssm_rec *rec, size_t line)
{
	if (rec->max_bytes && rec->sunk + rec->len > rec->max_bytes) {
		rec->len = line;
		rec->limit = 1;
		return SSM_REC_LIMIT_REACHED;
	}
	return 0;
}

static size_t put_prefix(char *o, const char *ts, size_t tslen, char type)
{
	size_t n = 0;

	o[n++] = '[';
	memcpy(o + n, ts, tslen);
	n += tslen;
	memcpy(o + n, ", \"", 3);
	n += 3;
	o[n++] = type;
	memcpy(o + n, "\", \"", 4);
	n += 4;
	return n;
}

/* One 'o' or 'i' event (several lines if it does not fit the batch buffer). */
/* Whether an event may still be recorded: 0, the sink's sticky -errno, -EINVAL after close,
 * or SSM_REC_LIMIT_REACHED once the cap was reached. */
static int rec_state(const struct ssm_rec *rec)
{
	if (rec->err)
		return rec->err;
	if (rec->closed)
		return -EINVAL;
	if (rec->limit)
		return SSM_REC_LIMIT_REACHED;
	return 0;
}

static int rec_data(struct ssm_rec *rec, int stream, uint64_t mono_ns, const void *data, size_t len,
                    int flush_held)
{
	const unsigned char *p = data;
	struct rec_held *held = &rec->held[stream];
	char ts[32];
	size_t tslen;
	int r;

	if ((r = rec_state(rec)) != 0)
		return r;
	if (len == 0 && !flush_held)
		return 0;
	tslen = format_time(rec_time(rec, mono_ns), ts);

	for (;;) {
		size_t line, room, out, used, payload = 0;

		size_t left = REC_BUFSZ - rec->len, worst = 0;

		/* a small event is never split: start it in a fresh buffer if it may not fit */
		if (len <= REC_BUFSZ / 8)
			worst = REC_PREFIX_MAX + REC_TRAILER_LEN + 8 + len * REC_UNIT_MAX;
		if (left < REC_PREFIX_MAX + REC_TRAILER_LEN + 32 || left < worst) {
			r = rec_push(rec);
			if (r < 0)
				return r;
		}
		line = rec->len;
		rec->len +=
		    put_prefix(rec->buf + rec->len, ts, tslen, stream == STREAM_OUT ? 'o' : 'i');

		if (held->n) {
			used = complete_held(held, p, len, rec->buf + rec->len, &out);
			p += used;
			len -= used;
			rec->len += out;
			payload += out;
			if (held->n && flush_held) {
				memcpy(rec->buf + rec->len, replacement, 3);
				rec->len += 3;
				payload += 3;
				held->n = 0;
			}
		}
		room = REC_BUFSZ - rec->len - REC_TRAILER_LEN;
		used = encode(p, len, rec->buf + rec->len, room, held, &out);
		p += used;
		len -= used;
		rec->len += out;
		payload += out;
		if (payload == 0) {
			rec->len = line; /* nothing to show yet (a held tail only) */
			if (len == 0)
				return 0;
			r = rec_push(rec); /* not reached: the room is always enough for one unit */
			if (r < 0)
				return r;
			continue;
		}
		memcpy(rec->buf + rec->len, REC_TRAILER, REC_TRAILER_LEN);
		rec->len += REC_TRAILER_LEN;
		r = rec_commit_line(rec, line);
		if (r != 0 || len == 0)
			return r;
		r = rec_push(rec);
		if (r < 0)
			return r;
	}
}

int ssm_rec_output(struct ssm_rec *rec, uint64_t mono_ns, const void *buf, size_t len)
{
	return rec_data(rec, STREAM_OUT, mono_ns, buf, len, 0);
}

int ssm_rec_input(struct ssm_rec *rec, uint64_t mono_ns, const void *buf, size_t len)
{
	return rec_data(rec, STREAM_IN, mono_ns, buf, len, 0);
}

/* The most bytes an event of len input bytes can add to the transcript: every input byte
 * becomes at most REC_UNIT_MAX output bytes, a held sequence at most 4 (or U+FFFD), and an
 * event is split into lines of at least half a batch of payload, plus a short first one. */
static uint64_t rec_worst(size_t len)
{
	uint64_t lines = (uint64_t)len * REC_UNIT_MAX / (REC_BUFSZ / 2) + 2;

	return (uint64_t)len * REC_UNIT_MAX + 8 + lines * (REC_PREFIX_MAX + REC_TRAILER_LEN);
}

int ssm_rec_reserve(struct ssm_rec *rec, size_t len)
{
	uint64_t upto;
	int r;

	if ((r = rec_state(rec)) != 0)
		return r;
	upto = rec->sunk + rec->len + rec_worst(len);
	if (rec->max_bytes && upto > rec->max_bytes)
		return SSM_REC_LIMIT_REACHED; /* within reach: record first */
	if (upto <= rec->reserved)
		return 0;
	r = ssm_sink_reserve(rec->sink, upto);
	if (r == 0)
		rec->reserved = upto;
	return r;
}

int ssm_rec_secure(struct ssm_rec *rec)
{
	uint64_t end;

	if (rec->err)
		return rec->err;
	if (rec->closed)
		return -EINVAL;
	end = rec->sunk + rec->len;
	if (end <= rec->reserved)
		return 0;
	if (ssm_sink_reserve(rec->sink, end) == 0) {
		rec->reserved = end;
		return 0;
	}
	return rec_push(rec);
}

int ssm_rec_resize(struct ssm_rec *rec, uint64_t mono_ns, unsigned width, unsigned height)
{
	char ts[32], dim[32];
	size_t tslen, line, n;
	int r;

	if ((r = rec_state(rec)) != 0)
		return r;
	tslen = format_time(rec_time(rec, mono_ns), ts);
	n = (size_t)snprintf(dim, sizeof(dim), "%ux%u", width, height);
	if (REC_BUFSZ - rec->len < REC_PREFIX_MAX + n + REC_TRAILER_LEN) {
		r = rec_push(rec);
		if (r < 0)
			return r;
	}
	line = rec->len;
	rec->len += put_prefix(rec->buf + rec->len, ts, tslen, 'r');
	memcpy(rec->buf + rec->len, dim, n);
	rec->len += n;
	memcpy(rec->buf + rec->len, REC_TRAILER, REC_TRAILER_LEN);
	rec->len += REC_TRAILER_LEN;
	return rec_commit_line(rec, line);
}

int ssm_rec_tick(struct ssm_rec *rec, uint64_t mono_ns, uint64_t *pnext_ns)
{
	int r = 0;

	if (pnext_ns)
		*pnext_ns = UINT64_MAX;
	if (rec->err)
		return rec->err;
	if (rec->closed)
		return -EINVAL;
	if ((rec->len || rec->dirty) && mono_ns >= rec->last_sync_ns &&
	    mono_ns - rec->last_sync_ns >= REC_SYNC_NS) {
		r = rec_push(rec);
		if (r == 0) {
			r = ssm_sink_flush(rec->sink);
			if (r < 0)
				rec->err = r;
		}
		if (r < 0)
			return r;
		rec->dirty = 0;
		rec->last_sync_ns = mono_ns;
	}
	if (pnext_ns && (rec->len || rec->dirty))
		*pnext_ns = rec->last_sync_ns + REC_SYNC_NS;
	return 0;
}

int ssm_rec_close(struct ssm_rec *rec, uint64_t *pbytes, char sha256[65])
{
	unsigned i;
	int r, cr;

	if (!rec->closed) {
		/* a sequence still cut at the end becomes U+FFFD (the cap may drop it) */
		for (i = STREAM_OUT; i <= STREAM_IN; i++)
			if (rec->held[i].n)
				(void)rec_data(rec, (int)i, rec->start_ns + rec->last_t, "", 0, 1);
		r = rec_push(rec);
		cr = ssm_sink_close(rec->sink);
		if (r == 0 && cr < 0)
			r = cr;
		if (r < 0)
			rec->err = r;
		rec->closed = 1;
		if (ssm_sha256_final_hex(rec->md, rec->sha256) < 0 && rec->err == 0)
			rec->err = -EIO;
	}
	if (pbytes)
		*pbytes = rec->sunk;
	if (sha256)
		memcpy(sha256, rec->sha256, 65);
	return rec->err;
}

void ssm_rec_free(struct ssm_rec *rec)
{
	if (rec == NULL)
		return;
	ssm_sink_destroy(rec->sink);
	ssm_sha256_free(rec->md);
	free(rec->buf);
	free(rec);
}

/* Header strings: valid UTF-8 for cJSON (which escapes but does not validate), control
 * characters replaced too, so that the header passes ssm_json_parse's strict rules. */
static char *header_string(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strnlen(s, REC_HDR_STRMAX), i = 0;
	char *o = malloc(len * 3 + 1), *w;

	if (o == NULL)
		return NULL;
	w = o;
	while (i < len) {
		unsigned char c = p[i];
		int cls = byte_class[c];

		if (cls == C_PLAIN || c == '"' || c == '\\') {
			*w++ = (char)c;
			i++;
		} else if (cls == C_ESC || cls == C_BAD) {
			memcpy(w, replacement, 3);
			w += 3;
			i++;
		} else {
			unsigned need = seq_len(c), ok = seq_valid_prefix(p + i, len - i, need);

			if (ok == need) {
				memcpy(w, p + i, need);
				w += need;
			} else {
				memcpy(w, replacement, 3);
				w += 3;
			}
			i += ok;
		}
	}
	*w = '\0';
	return o;
}

static int add_string(cJSON *obj, const char *name, const char *val)
{
	char *s;
	cJSON *item;

	if (val == NULL)
		return 0;
	s = header_string(val);
	if (s == NULL)
		return -ENOMEM;
	item = cJSON_AddStringToObject(obj, name, s);
	free(s);
	return item ? 0 : -ENOMEM;
}

int ssm_rec_new(struct ssm_sink *sink, const struct ssm_rec_header *hdr, uint64_t max_bytes,
                uint64_t mono_start_ns, struct ssm_rec **prec)
{
	struct ssm_rec *rec = NULL;
	cJSON *root = NULL, *env;
	char *text = NULL;
	size_t tlen;
	int r;

	*prec = NULL;
	if (sink == NULL || hdr == NULL)
		return -EINVAL;
	rec = calloc(1, sizeof(*rec));
	if (rec == NULL) {
		ssm_sink_destroy(sink);
		return -ENOMEM;
	}
	rec->sink = sink;
	rec->max_bytes = max_bytes;
	sink->ceiling = max_bytes; /* no reservation past the cap (1 MiB per session otherwise) */
	rec->start_ns = mono_start_ns;
	rec->last_sync_ns = mono_start_ns;
	rec->buf = malloc(REC_BUFSZ);
	if (rec->buf == NULL || ssm_sha256_new(&rec->md) < 0) {
		r = -ENOMEM;
		goto out;
	}

	r = -ENOMEM;
	root = cJSON_CreateObject();
	if (root == NULL || cJSON_AddNumberToObject(root, "version", 2) == NULL ||
	    cJSON_AddNumberToObject(root, "width", hdr->width) == NULL ||
	    cJSON_AddNumberToObject(root, "height", hdr->height) == NULL ||
	    cJSON_AddNumberToObject(root, "timestamp", (double)hdr->timestamp) == NULL)
		goto out;
	env = cJSON_AddObjectToObject(root, "env");
	if (env == NULL || add_string(env, "TERM", hdr->term) < 0 ||
	    add_string(env, "SHELL", hdr->shell) < 0 || add_string(root, "title", hdr->title) < 0)
		goto out;
	text = cJSON_PrintUnformatted(root);
	if (text == NULL)
		goto out;
	tlen = strlen(text);
	if (tlen + 1 > REC_BUFSZ) {
		r = -EOVERFLOW;
		goto out;
	}
	memcpy(rec->buf, text, tlen);
	rec->buf[tlen] = '\n';
	rec->len = tlen + 1;
	/* the header goes out now: a sink that cannot take it fails before the session runs */
	r = rec_push(rec);
	if (r < 0)
		goto out;
	if (max_bytes && rec->sunk > max_bytes)
		rec->limit = 1;
	*prec = rec;
	rec = NULL;
out:
	cJSON_free(text);
	cJSON_Delete(root);
	ssm_rec_free(rec);
	return r;
}

uint64_t ssm_rec_written(const struct ssm_rec *rec)
{
	return rec ? rec->sunk : 0;
}
