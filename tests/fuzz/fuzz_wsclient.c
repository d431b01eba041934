/* fuzz_wsclient.c - libFuzzer target for the dialers' own websocket client (lib/wsclient.c):
 * everything the server sends is untrusted.
 *
 * The first byte picks what the rest is:
 *   0  the server's answer to the upgrade (ssm_ws_answer with a fixed key and subprotocol):
 *      the result is -1 (with a one-line reason), 0 (only while no blank line ended the
 *      headers and fewer than SSM_WS_ANSWER_MAX bytes came) or the headers' length, which
 *      is where the first blank line ends; the headers alone give the same answer, one byte
 *      less is undecided, and a prefix never decides otherwise than the whole;
 *   1  the server's frames (ssm_ws_rx_feed): a second byte picks how the stream is cut into
 *      feeds, a third when a callback stops the parser and the message limit; each feed is
 *      a copy of its exact size.  The callbacks check the calls' sequence (first only at a
 *      message's start, final at its end, one kind per message, the message limit, control
 *      payloads of at most 125 bytes of a known opcode, data straight from the bytes fed),
 *      and what they saw, as a canonical log (data bytes merged, message ends, control
 *      frames), must equal what an independent reading of the whole stream at once finds,
 *      refusal for refusal; after a refusal a feed fails without a call;
 *   2  a close frame's payload (ssm_ws_close_reason) into a small exact-size buffer:
 *      NUL-terminated, the code as sent and one allowed on the wire, the reason printable;
 *   3  the upgrade request (ssm_ws_request) from fields cut from the input, into an
 *      exact-size buffer: either refused or one request line and its header lines, no
 *      control byte but their CRLFs (no header injected by a field). */
#include "config.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wsclient.h"

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
#define PROTO "ssmsession.1"
#define MSG_MAX 70000
#define INPUT_MAX 200000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *copy(const uint8_t *p, size_t n)
{
	uint8_t *q = malloc(n ? n : 1);

	if (q == NULL)
		abort();
	if (n)
		memcpy(q, p, n);
	return q;
}

static void err_check(const char *err, size_t errlen)
{
	size_t i, n = strnlen(err, errlen);

	if (n == 0 || n == errlen)
		abort();
	for (i = 0; i < n; i++)
		if ((unsigned char)err[i] < 0x20 || (unsigned char)err[i] > 0x7e)
			abort();
}

/* ---- 0: the answer ---- */

static int answer_of(const uint8_t *b, size_t len)
{
	uint8_t *c = copy(b, len);
	char err[128];
	int r;

	memset(err, 'x', sizeof(err));
	r = ssm_ws_answer(c, len, KEY, PROTO, err, sizeof(err));
	free(c);
	if (r == -1)
		err_check(err, sizeof(err));
	else if (r < -1 || (r > 0 && (size_t)r > len) || (r == 0 && len >= SSM_WS_ANSWER_MAX))
		abort();
	return r;
}

static void answer(const uint8_t *b, size_t len)
{
	size_t end = 0, i, k;
	int r, rk;

	if (len > 3 * SSM_WS_ANSWER_MAX)
		return;
	for (i = 0; i + 4 <= len; i++)
		if (memcmp(b + i, "\r\n\r\n", 4) == 0) {
			end = i + 4;
			break;
		}
	r = answer_of(b, len);
	if (r == 0 && end != 0)
		abort(); /* the headers are complete: something must be decided */
	if (r > 0) {
		if ((size_t)r != end || end > SSM_WS_ANSWER_MAX || memchr(b, 0, end) != NULL)
			abort();
		/* what it accepted holds the right accept */
		for (i = 0; i + sizeof(ACCEPT) - 1 <= end; i++)
			if (memcmp(b + i, ACCEPT, sizeof(ACCEPT) - 1) == 0)
				break;
		if (i + sizeof(ACCEPT) - 1 > end)
			abort();
		if (answer_of(b, end) != r || answer_of(b, end - 1) != 0)
			abort();
	}
	/* a prefix decides nothing the whole does not */
	for (k = len / 2; k < len; k += (len - k + 1) / 2) {
		rk = answer_of(b, k);
		if ((rk > 0 && rk != r) || (r == 0 && rk != 0) ||
		    (r > 0 && k >= (size_t)r && rk != r))
			abort();
	}
	if (end > 0 && end < len && r <= 0 && answer_of(b, end) > 0)
		abort();
}

/* ---- 1: the frames ---- */

/* the canonical log: 'D' and a 4-byte length, then that many data bytes (consecutive data
 * merged); 'E' and the message's kind (1 binary) at a message's end; 'C', the opcode, the
 * length and the payload of a control frame */
struct log {
	uint8_t b[2 * INPUT_MAX];
	size_t n, last_d; /* last_d: offset of the open 'D' record + 1, 0 if none */
};

static void log_put(struct log *l, const void *p, size_t n)
{
	if (l->n + n > sizeof(l->b))
		abort();
	memcpy(l->b + l->n, p, n);
	l->n += n;
}

static void log_data(struct log *l, const uint8_t *p, size_t n)
{
	uint32_t len;

	if (n == 0)
		return;
	if (l->last_d == 0) {
		log_put(l, "D\0\0\0\0", 5);
		l->last_d = l->n - 4;
	}
	memcpy(&len, l->b + l->last_d, 4);
	len += (uint32_t)n;
	memcpy(l->b + l->last_d, &len, 4);
	log_put(l, p, n);
}

static void log_end(struct log *l, int binary)
{
	uint8_t e[2] = {'E', (uint8_t)!!binary};

	l->last_d = 0;
	log_put(l, e, 2);
}

static void log_control(struct log *l, unsigned op, const uint8_t *p, size_t n)
{
	uint8_t c[3] = {'C', (uint8_t)op, (uint8_t)n};

	l->last_d = 0;
	log_put(l, c, 3);
	log_put(l, p, n);
}

static struct log got, want;

/* RFC 6455 section 5 read once over the whole stream: 1 if refused, 0 if all was read (the
 * last frame perhaps cut short: its data so far is logged, a control frame not) */
static int reference(const uint8_t *p, size_t n, uint64_t msg_max, struct log *l)
{
	size_t i = 0, h, avail;
	uint64_t len, mlen = 0;
	unsigned op, msg = 0, k;
	int fin;

	while (i < n) {
		if (n - i < 2)
			return 0;
		len = p[i + 1] & 0x7f;
		h = len == 126 ? 4 : len == 127 ? 10 : 2;
		if (n - i < h)
			return 0;
		op = p[i] & 0x0f;
		fin = p[i] >> 7;
		if ((p[i] & 0x70) || (p[i + 1] & 0x80))
			return 1;
		if (len == 126) {
			len = (uint64_t)p[i + 2] << 8 | p[i + 3];
			if (len < 126)
				return 1;
		} else if (len == 127) {
			len = 0;
			for (k = 0; k < 8; k++)
				len = len << 8 | p[i + 2 + k];
			if (len >> 63 || len < 65536)
				return 1;
		}
		avail = n - i - h;
		if (avail > len)
			avail = (size_t)len;
		if (op >= 8) {
			if (op > 10 || !fin || len > 125)
				return 1;
			if (avail < len)
				return 0;
			log_control(l, op, p + i + h, avail);
		} else {
			if (op > 2 || (op == 0 && msg == 0) || (op != 0 && msg != 0))
				return 1;
			if (op != 0) {
				msg = op;
				mlen = 0;
			}
			if (len > msg_max - mlen)
				return 1;
			mlen += len;
			log_data(l, p + i + h, avail);
			if (avail == len && fin) {
				log_end(l, msg == 2);
				msg = 0;
			}
		}
		i += h + avail;
	}
	return 0;
}

struct fz {
	const uint8_t *chunk;
	size_t chunk_len;
	uint64_t msg_max;
	int in_msg, msg_binary;
	uint64_t msg_sum;
	int calls, stop_at, failed;
};

static int on_data(void *ctx, const uint8_t *p, size_t len, int first, int final, int binary)
{
	struct fz *z = ctx;

	if (z->failed || z->chunk == NULL)
		abort(); /* no call after a refusal, none outside a feed */
	if (len > z->chunk_len ||
	    (len > 0 && (p < z->chunk || (size_t)(p - z->chunk) > z->chunk_len - len)))
		abort(); /* straight from the bytes fed */
	if (!!first == z->in_msg || (z->in_msg && !!binary != z->msg_binary))
		abort();
	if (first) {
		z->in_msg = 1;
		z->msg_binary = !!binary;
		z->msg_sum = 0;
	}
	z->msg_sum += len;
	if (z->msg_sum > z->msg_max)
		abort();
	log_data(&got, p, len);
	if (final) {
		z->in_msg = 0;
		log_end(&got, binary);
	}
	return ++z->calls == z->stop_at ? 1000 + z->calls : 0;
}

static int on_control(void *ctx, unsigned op, const uint8_t *p, size_t len)
{
	struct fz *z = ctx;

	if (z->failed || z->chunk == NULL || len > SSM_WS_CONTROL_MAX ||
	    (op != 8 && op != 9 && op != 10) || (len > 0 && p == NULL))
		abort();
	log_control(&got, op, p, len);
	return ++z->calls == z->stop_at ? 1000 + z->calls : 0;
}

static const struct ssm_ws_rx_ops ops = {on_data, on_control};

static void frames(const uint8_t *b, size_t len)
{
	static struct ssm_ws_rx r;
	struct fz z;
	uint8_t cut, knobs;
	uint32_t x;
	size_t pos = 0, n;
	char err[100];
	int res = 0, refused;

	if (len < 2)
		return;
	cut = b[0];
	knobs = b[1];
	b += 2;
	len -= 2;
	memset(&z, 0, sizeof(z));
	z.msg_max = knobs & 0x80 ? 100 : MSG_MAX;
	z.stop_at = (knobs & 0x7f) < 12 ? knobs & 0x7f : 0;
	memset(&r, 0, sizeof(r));
	r.msg_max = z.msg_max;
	got.n = got.last_d = want.n = want.last_d = 0;
	x = cut * 2654435761u + 1;
	do {
		uint8_t *c;

		/* 0: all at once; 1..127: pieces of that many bytes; else a mix of sizes */
		if (cut == 0)
			n = len;
		else if (cut < 128)
			n = cut;
		else {
			x = x * 1103515245u + 12345u;
			n = (x >> 16) % (cut & 1 ? 7 : 300) + 1;
		}
		if (n > len - pos)
			n = len - pos;
		c = copy(b + pos, n);
		z.chunk = c;
		z.chunk_len = n;
		memset(err, 'x', sizeof(err));
		res = ssm_ws_rx_feed(&r, c, n, &ops, &z, err, sizeof(err));
		z.chunk = NULL;
		free(c);
		pos += n;
		if (res == -1)
			err_check(err, sizeof(err));
		else if (res != 0 && res != 1000 + z.calls)
			abort(); /* nothing but a refusal or the callback's own result */
	} while (res == 0 && pos < len);
	if (res > 0) {
		if (z.stop_at == 0 || z.calls != z.stop_at)
			abort();
		return; /* stopped by the program: the rest unread */
	}
	if (z.stop_at && z.calls >= z.stop_at)
		abort(); /* a callback's stop was not honoured */
	refused = reference(b, len, z.msg_max, &want);
	if (refused != (res == -1) || got.n != want.n || memcmp(got.b, want.b, got.n) != 0) {
		fprintf(stderr, "fuzz_wsclient: feed %d, reference %d, logs of %zu and %zu bytes\n",
			res, refused, got.n, want.n);
		abort();
	}
	if (res == -1) {
		/* the latch: a good frame fails too, without a call */
		z.failed = 1;
		z.chunk = (const uint8_t *)"\x82\x01x\x89\x00";
		z.chunk_len = 5;
		memset(err, 'x', sizeof(err));
		if (ssm_ws_rx_feed(&r, z.chunk, 5, &ops, &z, err, sizeof(err)) != -1)
			abort();
		err_check(err, sizeof(err));
	}
}

/* ---- 2: the close frame ---- */

static void close_reason(const uint8_t *b, size_t len)
{
	size_t outlen, i, rl;
	uint8_t *p;
	char *out;
	unsigned code = 77777;
	int r;

	if (len < 1)
		return;
	outlen = 1 + b[0] % 16;
	b++;
	len--;
	p = copy(b, len);
	out = malloc(outlen);
	if (out == NULL)
		abort();
	memset(out, 'x', outlen);
	r = ssm_ws_close_reason(p, len, &code, out, outlen);
	free(p);
	if (r != 0 && r != -1)
		abort();
	if ((len == 1 && r != -1) || (len == 0 && r != 0))
		abort();
	if (r == 0) {
		if (memchr(out, 0, outlen) == NULL)
			abort();
		if (len == 0) {
			if (code != 1005 || out[0] != '\0')
				abort();
		} else {
			if (code != ((unsigned)b[0] << 8 | b[1]) || code < 1000 || code >= 5000 ||
			    code == 1004 || code == 1005 || code == 1006 || code == 1015 ||
			    (code > 1015 && code < 3000))
				abort();
			rl = len - 2 < outlen - 1 ? len - 2 : outlen - 1;
			if (strlen(out) != rl)
				abort();
			for (i = 0; i < rl; i++)
				if (out[i] != (b[2 + i] >= 0x20 && b[2 + i] <= 0x7e ? (char)b[2 + i]
										      : '?'))
					abort();
		}
	} else if (len >= 2) {
		code = (unsigned)b[0] << 8 | b[1];
		if ((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
		    (code >= 3000 && code <= 4999))
			abort(); /* a code the wire allows was refused */
	}
	free(out);
}

/* ---- 3: the request ---- */

static char *field(const uint8_t **b, size_t *len)
{
	const uint8_t *z = memchr(*b, 0, *len);
	size_t n = z ? (size_t)(z - *b) : *len;
	char *s = malloc(n + 1);

	if (s == NULL)
		abort();
	memcpy(s, *b, n);
	s[n] = '\0';
	*b += n < *len ? n + 1 : n;
	*len -= n < *len ? n + 1 : n;
	return s;
}

static void request(const uint8_t *b, size_t len)
{
	char *f[5], *buf;
	size_t cap, n, i, crlf = 0, sp = 0;
	int port, bearer;

	if (len < 4 || len > 4096)
		return;
	port = b[0] << 8 | b[1];
	if (b[2] & 0x80)
		port = 443;
	cap = (size_t)(b[2] & 0x7f) * 8 + b[3];
	bearer = b[3] & 1;
	b += 4;
	len -= 4;
	for (i = 0; i < 5; i++)
		f[i] = field(&b, &len);
	buf = malloc(cap ? cap : 1);
	if (buf == NULL)
		abort();
	n = ssm_ws_request(buf, cap, f[0], port, f[1], f[2], f[3], bearer ? f[4] : NULL);
	if (n > 0) {
		if (n >= cap + 1 || n < 4 || memcmp(buf + n - 4, "\r\n\r\n", 4) != 0 ||
		    memcmp(buf, "GET ", 4) != 0)
			abort();
		for (i = 0; i < n; i++) {
			unsigned char c = (unsigned char)buf[i];

			if (c == '\r') {
				if (i + 1 >= n || buf[i + 1] != '\n')
					abort();
				crlf++;
			} else if (c == '\n') {
				if (i == 0 || buf[i - 1] != '\r')
					abort();
			} else if (c < 0x20 || c > 0x7e) {
				abort();
			} else if (c == ' ' && crlf == 0) {
				sp++;
			}
		}
		/* one request line of three parts, six or seven headers, the blank line */
		if (sp != 2 || crlf != (bearer ? 9u : 8u))
			abort();
	}
	for (i = 0; i < 5; i++)
		free(f[i]);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > INPUT_MAX)
		return 0;
	switch (data[0] & 3) {
	case 0:
		answer(data + 1, size - 1);
		break;
	case 1:
		frames(data + 1, size - 1);
		break;
	case 2:
		close_reason(data + 1, size - 1);
		break;
	default:
		request(data + 1, size - 1);
		break;
	}
	return 0;
}
