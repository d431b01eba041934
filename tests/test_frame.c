/* test_frame.c - the broker channel's frames and flow control (lib/frame.c, docs/PROTOCOL.md).
 *
 * Frames are written here by an independent serializer (raw(): the layout of PROTOCOL.md
 * section 4, no checks), so that the library's encoder and decoder are compared with a second
 * reading of the document: every good row decodes to its own fields and re-encodes to the very
 * same bytes; every bad row is refused by the decoder with its own error code, and, when the
 * fault is in a field rather than in the bytes, by the encoder too.  Two golden vectors pin the
 * byte layout itself. */
#include "config.h"
#include <stdint.h>
#include <string.h>
#include "check.h"
#include "frame.h"

/* Table rows name only the fields they set; the rest are 0 by the language's rule. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define S(x)                                                                                       \
	{                                                                                          \
		x, sizeof(x) - 1                                                                   \
	}
#define SN(x, n)                                                                                   \
	{                                                                                          \
		x, n                                                                               \
	} /* with a NUL inside */
#define SID "alice@example.com-0123456789abcdef"
#define DOC "SSM-SessionManagerRunShell"
#define TOK "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl_-"
#define HASH "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HASH_UC "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"
#define HASH63 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde"
#define HASH_SLASH "../3456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define MiB16 (UINT64_C(16) * 1024 * 1024)
#define OMAX SSM_FRAME_OFFSET_MAX

/* big fields, filled in main(): runs of 'a' */
static char A[20000];
#define AS(n)                                                                                      \
	{                                                                                          \
		A, (n)                                                                             \
	}

/* ---- the independent serializer ---- */

static uint8_t *be(uint8_t *p, uint64_t v, int n)
{
	int i;

	for (i = n - 1; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
	return p + n;
}

static uint8_t *str(uint8_t *p, const struct ssm_frame_str *s)
{
	p = be(p, s->len, 2);
	if (s->len)
		memcpy(p, s->p, s->len);
	return p + s->len;
}

static size_t raw(const struct ssm_frame *f, uint8_t *out)
{
	uint8_t *p = out + 32;
	size_t blen;

	switch (f->type) {
	case SSM_FRAME_HELLO:
		p = be(p, f->u.hello.features, 4);
		*p++ = f->u.hello.role;
		*p++ = 0;
		p = str(p, &f->u.hello.software);
		break;
	case SSM_FRAME_GOAWAY:
	case SSM_FRAME_CLOSE:
		p = be(p, f->u.close.code, 2);
		p = str(p, &f->u.close.reason);
		break;
	case SSM_FRAME_OPEN:
		*p++ = f->u.open.kind;
		*p++ = 0;
		p = be(p, f->u.open.cols, 2);
		p = be(p, f->u.open.rows, 2);
		p = str(p, &f->u.open.sid);
		p = str(p, &f->u.open.document);
		p = str(p, &f->u.open.token);
		p = str(p, &f->u.open.term);
		break;
	case SSM_FRAME_STREAM_OPEN:
		p = str(p, &f->u.stream_open.origin);
		break;
	case SSM_FRAME_RESIZE:
		p = be(p, f->u.resize.cols, 2);
		p = be(p, f->u.resize.rows, 2);
		break;
	case SSM_FRAME_EXIT:
		*p++ = f->u.exit.how;
		*p++ = f->u.exit.status;
		*p++ = f->u.exit.reason;
		*p++ = 0;
		p = str(p, &f->u.exit.detail);
		break;
	case SSM_FRAME_TERMINATE:
		p = str(p, &f->u.terminate.reason);
		break;
	case SSM_FRAME_RESUME_DONE:
	case SSM_FRAME_PING:
	case SSM_FRAME_PONG:
	case SSM_FRAME_ACCEPT:
	case SSM_FRAME_ACK:
	case SSM_FRAME_EOF:
		break;
	case SSM_FRAME_RESUME:
		if (f->flags & SSM_FRAME_F_ACKED)
			p = be(p, f->u.resume.acked, 8);
		break;
	default: /* DATA, and unknown types: the payload as the body */
		if (f->u.data.len)
			memcpy(p, f->u.data.p, f->u.data.len);
		p += f->u.data.len;
		break;
	}
	blen = (size_t)(p - (out + 32));
	out[0] = SSM_FRAME_VERSION;
	out[1] = f->type;
	be(out + 2, f->flags, 2);
	be(out + 4, f->channel, 4);
	be(out + 8, f->stream, 4);
	be(out + 12, blen, 4);
	be(out + 16, f->offset, 8);
	be(out + 24, f->value, 8);
	return 32 + blen;
}

static int str_eq(const struct ssm_frame_str *a, const struct ssm_frame_str *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

/* the fields of the row's type, compared one by one */
static int same(const struct ssm_frame *a, const struct ssm_frame *b)
{
	if (a->type != b->type || a->flags != b->flags || a->channel != b->channel ||
	    a->stream != b->stream || a->offset != b->offset || a->value != b->value)
		return 0;
	switch (a->type) {
	case SSM_FRAME_HELLO:
		return a->u.hello.features == b->u.hello.features &&
		       a->u.hello.role == b->u.hello.role &&
		       str_eq(&a->u.hello.software, &b->u.hello.software);
	case SSM_FRAME_GOAWAY:
	case SSM_FRAME_CLOSE:
		return a->u.close.code == b->u.close.code &&
		       str_eq(&a->u.close.reason, &b->u.close.reason);
	case SSM_FRAME_OPEN:
		return a->u.open.kind == b->u.open.kind && a->u.open.cols == b->u.open.cols &&
		       a->u.open.rows == b->u.open.rows && str_eq(&a->u.open.sid, &b->u.open.sid) &&
		       str_eq(&a->u.open.document, &b->u.open.document) &&
		       str_eq(&a->u.open.token, &b->u.open.token) &&
		       str_eq(&a->u.open.term, &b->u.open.term);
	case SSM_FRAME_STREAM_OPEN:
		return str_eq(&a->u.stream_open.origin, &b->u.stream_open.origin);
	case SSM_FRAME_DATA:
		return a->u.data.len == b->u.data.len &&
		       memcmp(a->u.data.p, b->u.data.p, a->u.data.len) == 0;
	case SSM_FRAME_RESIZE:
		return a->u.resize.cols == b->u.resize.cols && a->u.resize.rows == b->u.resize.rows;
	case SSM_FRAME_EXIT:
		return a->u.exit.how == b->u.exit.how && a->u.exit.status == b->u.exit.status &&
		       a->u.exit.reason == b->u.exit.reason &&
		       str_eq(&a->u.exit.detail, &b->u.exit.detail);
	case SSM_FRAME_TERMINATE:
		return str_eq(&a->u.terminate.reason, &b->u.terminate.reason);
	case SSM_FRAME_RESUME:
		return a->u.resume.acked == b->u.resume.acked;
	}
	return 1;
}

/* ---- the rows ----
 * f is serialized by raw(), then patched: poke (1-based byte position) set to pv, lenfix
 * added to the length field, cut bytes removed from the end, add bytes 'x' appended. */
struct row {
	int line;
	const char *name;
	struct ssm_frame f;
	int err; /* 0: must decode and round-trip */
	size_t poke;
	uint8_t pv;
	int lenfix;
	size_t cut, add;
};

#define HELLO(role, sw) .type = SSM_FRAME_HELLO, .u.hello = {0, role, sw}
#define OPEN_X(ch, kind, c, r, sid, doc, tok, term)                                                \
	.type = SSM_FRAME_OPEN, .channel = ch, .u.open = {kind, c, r, sid, doc, tok, term}
/* (not through OPEN_X: an expanded S() would split into several macro arguments) */
#define OPEN_S(c, r, sid, doc, tok, term)                                                          \
	.type = SSM_FRAME_OPEN, .channel = 2,                                                      \
	.u.open = {SSM_KIND_SESSION, c, r, sid, doc, tok, term}
#define OPEN_K(kind, sid, doc)                                                                     \
	.type = SSM_FRAME_OPEN, .channel = 3, .u.open = {kind, 0, 0, sid, doc, S(""), S("")}
#define DATA(ch, st, off, s)                                                                       \
	.type = SSM_FRAME_DATA, .channel = ch, .stream = st, .offset = off,                        \
	.u.data = {(const uint8_t *)(s), sizeof(s) - 1}
#define CLOSE(code, s) .type = SSM_FRAME_CLOSE, .channel = 1, .u.close = {code, s}
#define EXIT_O(off, how, st, why)                                                                  \
	.type = SSM_FRAME_EXIT, .channel = 2, .offset = off, .u.exit = {how, st, why, {0, 0}}
#define EXIT(how, st, why) EXIT_O(100, how, st, why)

/* clang-format off */
static const struct row rows[] = {
	/* ---- good: every type ---- */
	{ __LINE__, "hello agent", { HELLO(SSM_ROLE_AGENT, S("ssm-agent 0.1.0")) }, 0 },
	{ __LINE__, "hello broker, empty software", { HELLO(SSM_ROLE_BROKER, S("")) }, 0 },
	{ __LINE__, "hello client, unknown feature bits kept",
	  { .type = SSM_FRAME_HELLO, .u.hello = { 0xffffffffu, SSM_ROLE_CLIENT, S("ssm") } }, 0 },
	{ __LINE__, "hello software at its 64-byte limit", { HELLO(1, AS(64)) }, 0 },
	{ __LINE__, "resume done", { .type = SSM_FRAME_RESUME_DONE }, 0 },
	{ __LINE__, "ping", { .type = SSM_FRAME_PING, .value = 0x0123456789abcdefu }, 0 },
	{ __LINE__, "pong, nonce 0", { .type = SSM_FRAME_PONG }, 0 },
	{ __LINE__, "goaway shutdown",
	  { .type = SSM_FRAME_GOAWAY, .value = 5000, .u.close = { SSM_CODE_SHUTDOWN, S("restart") } }, 0 },
	{ __LINE__, "goaway retry hint at its limit",
	  { .type = SSM_FRAME_GOAWAY, .value = 3600000, .u.close = { 0, S("") } }, 0 },
	{ __LINE__, "open session with a terminal",
	  { OPEN_S(80, 24, S(SID), S(DOC), S(TOK), S("xterm-256color")), .value = 262144 }, 0 },
	{ __LINE__, "open session without a terminal (Port)",
	  { OPEN_S(0, 0, S(SID), S("AWS-StartPortForwardingSession"), S(TOK), S("")) }, 0 },
	{ __LINE__, "open session at every string limit",
	  { OPEN_S(4096, 4096, AS(128), AS(128), AS(4096), AS(64)), .value = MiB16 }, 0 },
	{ __LINE__, "open transcript", { OPEN_K(SSM_KIND_TRANSCRIPT, S(SID), S(DOC)) }, 0 },
	{ __LINE__, "open audit segment", { OPEN_K(SSM_KIND_AUDIT, S("audit.1733350000.42"), S("")) }, 0 },
	{ __LINE__, "open document: name and SHA-256, a 64 KiB grant",
	  { OPEN_K(SSM_KIND_DOCUMENT, S(HASH), S(DOC)), .value = 65536 }, 0 },
	{ __LINE__, "open document, the smallest grant", { OPEN_K(SSM_KIND_DOCUMENT, S(HASH), S(DOC)), .value = 1 }, 0 },
	{ __LINE__, "accept document: no grant back", { .type = SSM_FRAME_ACCEPT, .channel = 3 }, 0 },
	{ __LINE__, "accept session", { .type = SSM_FRAME_ACCEPT, .channel = 2, .value = 65536 }, 0 },
	{ __LINE__, "accept transcript at a stored base",
	  { .type = SSM_FRAME_ACCEPT, .channel = 3, .offset = 123456789, .value = 123456789 + MiB16 }, 0 },
	{ __LINE__, "accept a port stream", { .type = SSM_FRAME_ACCEPT, .channel = 2, .stream = 7 }, 0 },
	{ __LINE__, "stream open", { .type = SSM_FRAME_STREAM_OPEN, .channel = 2, .stream = 1,
				     .value = 262144, .u.stream_open = { S("127.0.0.1:53124") } }, 0 },
	{ __LINE__, "stream open, no origin", { .type = SSM_FRAME_STREAM_OPEN, .channel = 2, .stream = 2 }, 0 },
	{ __LINE__, "data", { DATA(2, 0, 0, "ls -l\r") }, 0 },
	{ __LINE__, "data with NUL and high bytes", { DATA(0xffffffffu, 0xffffffffu, 77, "\0\xff\x1b[2J") }, 0 },
	{ __LINE__, "data of 16384 bytes", { .type = SSM_FRAME_DATA, .channel = 1,
					     .u.data = { (const uint8_t *)A, 16384 } }, 0 },
	{ __LINE__, "data ending exactly at 2^62", { DATA(1, 0, OMAX - 2, "ab") }, 0 },
	{ __LINE__, "ack", { .type = SSM_FRAME_ACK, .channel = 2, .offset = 1000, .value = 1000 + 65536 }, 0 },
	{ __LINE__, "ack, window exactly 16 MiB", { .type = SSM_FRAME_ACK, .channel = 2, .stream = 3,
						    .offset = 5, .value = 5 + MiB16 }, 0 },
	{ __LINE__, "ack, closed window", { .type = SSM_FRAME_ACK, .channel = 2, .offset = 9, .value = 9 }, 0 },
	{ __LINE__, "ack at 2^62", { .type = SSM_FRAME_ACK, .channel = 2, .offset = OMAX, .value = OMAX }, 0 },
	{ __LINE__, "eof", { .type = SSM_FRAME_EOF, .channel = 2, .stream = 1, .offset = 4242 }, 0 },
	{ __LINE__, "eof of an empty stream", { .type = SSM_FRAME_EOF, .channel = 2, .stream = 1 }, 0 },
	{ __LINE__, "close channel", { CLOSE(SSM_CODE_OK, S("")) }, 0 },
	{ __LINE__, "close stream, UTF-8 reason", { .type = SSM_FRAME_CLOSE, .channel = 2, .stream = 5,
	  .u.close = { SSM_CODE_CONNECT, S("connexion refus\xc3\xa9""e \xe2\x86\x92 :5432 \xf0\x9f\x94\x92") } }, 0 },
	{ __LINE__, "close, reason at 256 bytes", { CLOSE(SSM_CODE_BACKLOG, AS(256)) }, 0 },
	{ __LINE__, "close, U+00A0 is not C1", { CLOSE(SSM_CODE_REFUSED, S("a\xc2\xa0z")) }, 0 },
	{ __LINE__, "resize", { .type = SSM_FRAME_RESIZE, .channel = 2, .u.resize = { 132, 43 } }, 0 },
	{ __LINE__, "resize at the limits", { .type = SSM_FRAME_RESIZE, .channel = 2, .u.resize = { 4096, 1 } }, 0 },
	{ __LINE__, "exit status 0", { EXIT(SSM_EXIT_EXITED, 0, SSM_END_EXIT) }, 0 },
	{ __LINE__, "exit status 255", { EXIT(SSM_EXIT_EXITED, 255, SSM_END_EXIT) }, 0 },
	{ __LINE__, "killed by SIGKILL, terminated", { EXIT(SSM_EXIT_SIGNALED, 9, SSM_END_TERMINATED) }, 0 },
	{ __LINE__, "signal 64", { EXIT(SSM_EXIT_SIGNALED, 64, SSM_END_MAX_DURATION) }, 0 },
	{ __LINE__, "no process, error with detail", { .type = SSM_FRAME_EXIT, .channel = 2,
	  .u.exit = { SSM_EXIT_NONE, 0, SSM_END_ERROR, S("pam: refused") } }, 0 },
	{ __LINE__, "terminate", { .type = SSM_FRAME_TERMINATE, .channel = 2, .u.terminate = { S("by admin") } }, 0 },
	{ __LINE__, "resume stream 0, every flag", { .type = SSM_FRAME_RESUME, .channel = 2, .flags = 0xf,
						     .offset = 10, .value = 20 }, 0 },
	{ __LINE__, "resume a port stream", { .type = SSM_FRAME_RESUME, .channel = 2, .stream = 9,
					      .flags = 3, .offset = 0, .value = 0 }, 0 },
	{ __LINE__, "resume with the acked offset", { .type = SSM_FRAME_RESUME, .channel = 2,
	  .flags = 0x1f, .offset = 10, .value = 20, .u.resume = { 123456789012ull } }, 0 },
	{ __LINE__, "resume acked at 2^62", { .type = SSM_FRAME_RESUME, .channel = 3, .stream = 4,
	  .flags = SSM_FRAME_F_ACKED, .u.resume = { UINT64_C(1) << 62 } }, 0 },

	/* ---- bad: the message as a whole ---- */
	{ __LINE__, "31 bytes: short header", { .type = SSM_FRAME_PING }, SSM_FRAME_E_SHORT, .cut = 1 },
	{ __LINE__, "version 0", { .type = SSM_FRAME_PING }, SSM_FRAME_E_VERSION, .poke = 1, .pv = 0 },
	{ __LINE__, "version 2 (a future peer)", { .type = SSM_FRAME_PING }, SSM_FRAME_E_VERSION, .poke = 1, .pv = 2 },
	{ __LINE__, "type 0", { .type = 0 }, SSM_FRAME_E_TYPE },
	{ __LINE__, "type 0x06, a gap in the numbering", { .type = 0x06 }, SSM_FRAME_E_TYPE },
	{ __LINE__, "type 0xff", { .type = 0xff, .channel = 1 }, SSM_FRAME_E_TYPE },
	{ __LINE__, "data of 16385 bytes", { .type = SSM_FRAME_DATA, .channel = 1,
					     .u.data = { (const uint8_t *)A, 16385 } }, SSM_FRAME_E_LENGTH },
	{ __LINE__, "length 0xffffffff (allocation bait)", { DATA(1, 0, 0, "x") }, SSM_FRAME_E_LENGTH,
	  .lenfix = -2 },
	{ __LINE__, "body cut short", { DATA(1, 0, 0, "hello") }, SSM_FRAME_E_TRUNCATED, .cut = 1 },
	{ __LINE__, "header only, body announced", { DATA(1, 0, 0, "hello") }, SSM_FRAME_E_TRUNCATED, .cut = 5 },
	{ __LINE__, "a byte after the body", { DATA(1, 0, 0, "hello") }, SSM_FRAME_E_TRAILING, .add = 1 },
	{ __LINE__, "two frames in one message", { .type = SSM_FRAME_PING }, SSM_FRAME_E_TRAILING, .add = 32 },

	/* ---- bad: header fields ---- */
	{ __LINE__, "data with a flag (no FIN flag exists)", { DATA(1, 0, 0, "x"), .flags = 1 }, SSM_FRAME_E_FLAGS },
	{ __LINE__, "hello with the top flag", { HELLO(1, S("")), .flags = 0x8000 }, SSM_FRAME_E_FLAGS },
	{ __LINE__, "resume with an undefined flag", { .type = SSM_FRAME_RESUME, .channel = 1, .flags = 0x20 },
	  SSM_FRAME_E_FLAGS },
	{ __LINE__, "resume EXIT_SEEN on a port stream", { .type = SSM_FRAME_RESUME, .channel = 1, .stream = 3,
	  .flags = SSM_FRAME_F_EXIT_SEEN }, SSM_FRAME_E_FLAGS },
	{ __LINE__, "hello on a channel", { HELLO(1, S("")), .channel = 1 }, SSM_FRAME_E_CHANNEL },
	{ __LINE__, "ping on a channel", { .type = SSM_FRAME_PING, .channel = 5 }, SSM_FRAME_E_CHANNEL },
	{ __LINE__, "data on channel 0", { DATA(0, 0, 0, "x") }, SSM_FRAME_E_CHANNEL },
	{ __LINE__, "open channel 0", { OPEN_X(0, SSM_KIND_SESSION, 0, 0, S(SID), S(DOC), S(TOK), S("")) },
	  SSM_FRAME_E_CHANNEL },
	{ __LINE__, "ack on channel 0", { .type = SSM_FRAME_ACK }, SSM_FRAME_E_CHANNEL },
	{ __LINE__, "open on stream 1", { OPEN_S(0, 0, S(SID), S(DOC), S(TOK), S("")), .stream = 1 },
	  SSM_FRAME_E_STREAM },
	{ __LINE__, "stream open of stream 0", { .type = SSM_FRAME_STREAM_OPEN, .channel = 2 }, SSM_FRAME_E_STREAM },
	{ __LINE__, "resize on a port stream", { .type = SSM_FRAME_RESIZE, .channel = 2, .stream = 2,
						 .u.resize = { 80, 24 } }, SSM_FRAME_E_STREAM },
	{ __LINE__, "exit on a port stream", { EXIT(1, 0, 1), .stream = 1 }, SSM_FRAME_E_STREAM },
	{ __LINE__, "hello with a stream", { HELLO(1, S("")), .stream = 1 }, SSM_FRAME_E_STREAM },
	{ __LINE__, "data with a value", { DATA(1, 0, 0, "x"), .value = 1 }, SSM_FRAME_E_RESERVED },
	{ __LINE__, "close with an offset", { CLOSE(0, S("")), .offset = 1 }, SSM_FRAME_E_RESERVED },
	{ __LINE__, "ping with an offset", { .type = SSM_FRAME_PING, .offset = 1 }, SSM_FRAME_E_RESERVED },
	{ __LINE__, "exit with a value", { EXIT(1, 0, 1), .value = 1 }, SSM_FRAME_E_RESERVED },
	{ __LINE__, "hello reserved byte set", { HELLO(1, S("")) }, SSM_FRAME_E_RESERVED, .poke = 38, .pv = 1 },
	{ __LINE__, "open reserved byte set", { OPEN_S(0, 0, S(SID), S(DOC), S(TOK), S("")) },
	  SSM_FRAME_E_RESERVED, .poke = 34, .pv = 0x80 },
	{ __LINE__, "exit reserved byte set", { EXIT(1, 0, 1) }, SSM_FRAME_E_RESERVED, .poke = 36, .pv = 1 },

	/* ---- bad: offsets and windows ---- */
	{ __LINE__, "data empty", { .type = SSM_FRAME_DATA, .channel = 1 }, SSM_FRAME_E_EMPTY },
	{ __LINE__, "data starting at 2^62", { DATA(1, 0, OMAX, "x") }, SSM_FRAME_E_OFFSET },
	{ __LINE__, "data crossing 2^62", { DATA(1, 0, OMAX - 1, "xy") }, SSM_FRAME_E_OFFSET },
	{ __LINE__, "data at 2^64-1 (wraps)", { DATA(1, 0, UINT64_MAX, "x") }, SSM_FRAME_E_OFFSET },
	{ __LINE__, "eof beyond 2^62", { .type = SSM_FRAME_EOF, .channel = 1, .offset = OMAX + 1 },
	  SSM_FRAME_E_OFFSET },
	{ __LINE__, "exit offset beyond 2^62", { EXIT_O(UINT64_MAX, 1, 0, 1) }, SSM_FRAME_E_OFFSET },
	{ __LINE__, "ack beyond 2^62", { .type = SSM_FRAME_ACK, .channel = 1, .offset = OMAX + 1,
					 .value = OMAX + 1 }, SSM_FRAME_E_OFFSET },
	{ __LINE__, "ack limit below the ack", { .type = SSM_FRAME_ACK, .channel = 1, .offset = 10, .value = 9 },
	  SSM_FRAME_E_WINDOW },
	{ __LINE__, "ack window 16 MiB + 1", { .type = SSM_FRAME_ACK, .channel = 1, .offset = 10,
					       .value = 11 + MiB16 }, SSM_FRAME_E_WINDOW },
	{ __LINE__, "accept limit below its base", { .type = SSM_FRAME_ACCEPT, .channel = 1, .offset = 100,
						     .value = 99 }, SSM_FRAME_E_WINDOW },
	{ __LINE__, "open granting 16 MiB + 1", { OPEN_S(0, 0, S(SID), S(DOC), S(TOK), S("")),
						  .value = MiB16 + 1 }, SSM_FRAME_E_WINDOW },
	{ __LINE__, "stream open granting 2^63", { .type = SSM_FRAME_STREAM_OPEN, .channel = 1, .stream = 1,
						   .value = UINT64_C(1) << 63 }, SSM_FRAME_E_WINDOW },
	{ __LINE__, "resume window too large", { .type = SSM_FRAME_RESUME, .channel = 1, .offset = 0,
						 .value = MiB16 + 1 }, SSM_FRAME_E_WINDOW },
	{ __LINE__, "resume acked beyond 2^62", { .type = SSM_FRAME_RESUME, .channel = 1,
	  .flags = SSM_FRAME_F_ACKED, .u.resume = { (UINT64_C(1) << 62) + 1 } }, SSM_FRAME_E_OFFSET },
	{ __LINE__, "resume acked 2^64 - 1", { .type = SSM_FRAME_RESUME, .channel = 1,
	  .flags = SSM_FRAME_F_ACKED, .u.resume = { UINT64_MAX } }, SSM_FRAME_E_OFFSET },

	/* ---- bad: body layout ---- */
	{ __LINE__, "hello body of 3 bytes", { HELLO(1, S("")) }, SSM_FRAME_E_BODY, .lenfix = -5, .cut = 5 },
	{ __LINE__, "hello string longer than the body", { HELLO(1, S("abc")) }, SSM_FRAME_E_BODY,
	  .poke = 40, .pv = 4 },
	{ __LINE__, "close with an empty body", { CLOSE(0, S("")) }, SSM_FRAME_E_BODY, .lenfix = -4, .cut = 4 },
	{ __LINE__, "open cut inside the token length", { OPEN_S(0, 0, S(SID), S(DOC), S(TOK), S("")) },
	  SSM_FRAME_E_BODY, .lenfix = -(int)(sizeof(TOK) - 1 + 2 + 2 + 1),
	  .cut = sizeof(TOK) - 1 + 2 + 2 + 1 },
	{ __LINE__, "resize with an extra byte", { .type = SSM_FRAME_RESIZE, .channel = 1, .u.resize = { 80, 24 } },
	  SSM_FRAME_E_BODY_TRAILING, .lenfix = 1, .add = 1 },
	{ __LINE__, "ack with a body", { .type = SSM_FRAME_ACK, .channel = 1 }, SSM_FRAME_E_BODY_TRAILING,
	  .lenfix = 8, .add = 8 },
	{ __LINE__, "resume done with a body", { .type = SSM_FRAME_RESUME_DONE }, SSM_FRAME_E_BODY_TRAILING,
	  .lenfix = 1, .add = 1 },
	{ __LINE__, "resume with a body but no ACKED flag", { .type = SSM_FRAME_RESUME, .channel = 1 },
	  SSM_FRAME_E_BODY_TRAILING, .lenfix = 8, .add = 8 },
	{ __LINE__, "resume ACKED with 7 bytes of body", { .type = SSM_FRAME_RESUME, .channel = 1,
	  .flags = SSM_FRAME_F_ACKED, .u.resume = { 5 } }, SSM_FRAME_E_BODY, .lenfix = -1, .cut = 1 },
	{ __LINE__, "resume ACKED with no body", { .type = SSM_FRAME_RESUME, .channel = 1,
	  .flags = SSM_FRAME_F_ACKED, .u.resume = { 5 } }, SSM_FRAME_E_BODY, .lenfix = -8, .cut = 8 },
	{ __LINE__, "resume ACKED with 9 bytes of body", { .type = SSM_FRAME_RESUME, .channel = 1,
	  .flags = SSM_FRAME_F_ACKED, .u.resume = { 5 } }, SSM_FRAME_E_BODY_TRAILING, .lenfix = 1, .add = 1 },
	{ __LINE__, "close with bytes after the reason", { CLOSE(0, S("x")) }, SSM_FRAME_E_BODY_TRAILING,
	  .lenfix = 2, .add = 2 },

	/* ---- bad: values ---- */
	{ __LINE__, "hello role 0", { HELLO(0, S("")) }, SSM_FRAME_E_ROLE },
	{ __LINE__, "hello role 4", { HELLO(4, S("")) }, SSM_FRAME_E_ROLE },
	{ __LINE__, "hello software with a newline (log injection)", { HELLO(1, S("ssm\nroot")) }, SSM_FRAME_E_TEXT },
	{ __LINE__, "hello software non-ASCII", { HELLO(1, S("ssm\xc3\xa9")) }, SSM_FRAME_E_TEXT },
	{ __LINE__, "hello software 65 bytes", { HELLO(1, AS(65)) }, SSM_FRAME_E_TEXT_LEN },
	{ __LINE__, "close code 12", { CLOSE(12, S("")) }, SSM_FRAME_E_CODE },
	{ __LINE__, "goaway code 0xffff", { .type = SSM_FRAME_GOAWAY, .u.close = { 0xffff, S("") } }, SSM_FRAME_E_CODE },
	{ __LINE__, "goaway retry over an hour", { .type = SSM_FRAME_GOAWAY, .value = 3600001,
						   .u.close = { 0, S("") } }, SSM_FRAME_E_CODE },
	{ __LINE__, "reason invalid byte 0xff", { CLOSE(1, S("bad\xff")) }, SSM_FRAME_E_TEXT },
	{ __LINE__, "reason overlong '/'", { CLOSE(1, S("\xc0\xaf")) }, SSM_FRAME_E_TEXT },
	{ __LINE__, "reason surrogate half", { CLOSE(1, S("\xed\xa0\x80")) }, SSM_FRAME_E_TEXT },
	{ __LINE__, "reason beyond U+10FFFF", { CLOSE(1, S("\xf4\x90\x80\x80")) }, SSM_FRAME_E_TEXT },
	{ __LINE__, "reason cut inside a sequence", { CLOSE(1, S("\xe2\x82")) }, SSM_FRAME_E_TEXT },
	{ __LINE__, "reason with ESC (terminal injection)", { CLOSE(1, S("x\x1b]0;pwned\x07")) }, SSM_FRAME_E_TEXT },
	{ __LINE__, "reason with C1 CSI U+009B", { CLOSE(1, S("x\xc2\x9b" "31m")) }, SSM_FRAME_E_TEXT },
	{ __LINE__, "reason with DEL", { CLOSE(1, S("x\x7f")) }, SSM_FRAME_E_TEXT },
	{ __LINE__, "reason with NUL", { CLOSE(1, SN("a\0b", 3)) }, SSM_FRAME_E_TEXT },
	{ __LINE__, "reason 257 bytes", { CLOSE(1, AS(257)) }, SSM_FRAME_E_TEXT_LEN },
	{ __LINE__, "terminate reason with a newline", { .type = SSM_FRAME_TERMINATE, .channel = 2,
							 .u.terminate = { S("a\nb") } }, SSM_FRAME_E_TEXT },
	{ __LINE__, "exit detail with CR", { .type = SSM_FRAME_EXIT, .channel = 2,
	  .u.exit = { SSM_EXIT_NONE, 0, SSM_END_ERROR, S("x\r") } }, SSM_FRAME_E_TEXT },
	{ __LINE__, "open kind 0", { OPEN_K(0, S(SID), S(DOC)) }, SSM_FRAME_E_KIND },
	{ __LINE__, "open kind 5", { OPEN_K(5, S(HASH), S(DOC)), .value = 1 }, SSM_FRAME_E_KIND },
	/* DOCUMENT: the host names the bytes it will take by their hash, and caps them */
	{ __LINE__, "document granting nothing (no size cap)", { OPEN_K(SSM_KIND_DOCUMENT, S(HASH), S(DOC)) },
	  SSM_FRAME_E_KIND },
	{ __LINE__, "document granting 64 KiB + 1 (over the document size limit)",
	  { OPEN_K(SSM_KIND_DOCUMENT, S(HASH), S(DOC)), .value = 65537 }, SSM_FRAME_E_KIND },
	{ __LINE__, "document sid is a session id, not a hash",
	  { OPEN_K(SSM_KIND_DOCUMENT, S(SID), S(DOC)), .value = 65536 }, SSM_FRAME_E_TEXT_LEN },
	{ __LINE__, "document hash in uppercase hex",
	  { OPEN_K(SSM_KIND_DOCUMENT, S(HASH_UC), S(DOC)), .value = 65536 }, SSM_FRAME_E_NAME },
	{ __LINE__, "document hash 63 digits", { OPEN_K(SSM_KIND_DOCUMENT, S(HASH63), S(DOC)), .value = 65536 },
	  SSM_FRAME_E_TEXT_LEN },
	{ __LINE__, "document hash with a slash (path traversal)",
	  { OPEN_K(SSM_KIND_DOCUMENT, S(HASH_SLASH), S(DOC)), .value = 65536 }, SSM_FRAME_E_NAME },
	{ __LINE__, "document name ../x (path traversal)",
	  { OPEN_K(SSM_KIND_DOCUMENT, S(HASH), S("../x")), .value = 65536 }, SSM_FRAME_E_NAME },
	{ __LINE__, "document without a name", { OPEN_K(SSM_KIND_DOCUMENT, S(HASH), S("")), .value = 65536 },
	  SSM_FRAME_E_TEXT_LEN },
	{ __LINE__, "document carrying a token",
	  { OPEN_X(3, SSM_KIND_DOCUMENT, 0, 0, S(HASH), S(DOC), S(TOK), S("")), .value = 65536 }, SSM_FRAME_E_KIND },
	{ __LINE__, "document with a terminal",
	  { OPEN_X(3, SSM_KIND_DOCUMENT, 80, 24, S(HASH), S(DOC), S(""), S("")), .value = 65536 }, SSM_FRAME_E_KIND },
	{ __LINE__, "open with an empty sid", { OPEN_S(0, 0, S(""), S(DOC), S(TOK), S("")) }, SSM_FRAME_E_TEXT_LEN },
	{ __LINE__, "open sid 129 bytes", { OPEN_S(0, 0, AS(129), S(DOC), S(TOK), S("")) }, SSM_FRAME_E_TEXT_LEN },
	{ __LINE__, "open sid with a slash (path traversal)", { OPEN_S(0, 0, S("../../etc/x"), S(DOC), S(TOK), S("")) },
	  SSM_FRAME_E_NAME },
	{ __LINE__, "open sid with a space", { OPEN_S(0, 0, S("a b"), S(DOC), S(TOK), S("")) }, SSM_FRAME_E_NAME },
	{ __LINE__, "open document of 2 characters", { OPEN_S(0, 0, S(SID), S("ab"), S(TOK), S("")) },
	  SSM_FRAME_E_TEXT_LEN },
	{ __LINE__, "open document 129 characters", { OPEN_S(0, 0, S(SID), AS(129), S(TOK), S("")) },
	  SSM_FRAME_E_TEXT_LEN },
	{ __LINE__, "open document with a slash", { OPEN_S(0, 0, S(SID), S("../etc/shadow"), S(TOK), S("")) },
	  SSM_FRAME_E_NAME },
	{ __LINE__, "open document with a NUL", { OPEN_S(0, 0, S(SID), SN("abc\0def", 7), S(TOK), S("")) },
	  SSM_FRAME_E_NAME },
	{ __LINE__, "open session without a token", { OPEN_S(0, 0, S(SID), S(DOC), S(""), S("")) },
	  SSM_FRAME_E_TEXT_LEN },
	{ __LINE__, "open token 4097 bytes", { OPEN_S(0, 0, S(SID), S(DOC), AS(4097), S("")) }, SSM_FRAME_E_TEXT_LEN },
	{ __LINE__, "open token with base64 padding", { OPEN_S(0, 0, S(SID), S(DOC), S("a.b.c=="), S("")) },
	  SSM_FRAME_E_NAME },
	{ __LINE__, "open token with a space", { OPEN_S(0, 0, S(SID), S(DOC), S("a.b .c"), S("")) }, SSM_FRAME_E_NAME },
	{ __LINE__, "open rows without cols", { OPEN_S(0, 24, S(SID), S(DOC), S(TOK), S("xterm")) },
	  SSM_FRAME_E_TERMSIZE },
	{ __LINE__, "open cols 4097", { OPEN_S(4097, 24, S(SID), S(DOC), S(TOK), S("xterm")) }, SSM_FRAME_E_TERMSIZE },
	{ __LINE__, "open size without a term", { OPEN_S(80, 24, S(SID), S(DOC), S(TOK), S("")) },
	  SSM_FRAME_E_TERMSIZE },
	{ __LINE__, "open term without a size", { OPEN_S(0, 0, S(SID), S(DOC), S(TOK), S("xterm")) },
	  SSM_FRAME_E_TERMSIZE },
	{ __LINE__, "open term with ';' (environment injection)", { OPEN_S(80, 24, S(SID), S(DOC), S(TOK),
	  S("xterm;id")) }, SSM_FRAME_E_NAME },
	{ __LINE__, "open term 65 bytes", { OPEN_S(80, 24, S(SID), S(DOC), S(TOK), AS(65)) }, SSM_FRAME_E_TEXT_LEN },
	{ __LINE__, "transcript carrying a token", { OPEN_X(3, SSM_KIND_TRANSCRIPT, 0, 0, S(SID), S(DOC), S(TOK),
						     S("")) }, SSM_FRAME_E_KIND },
	{ __LINE__, "transcript granting the broker a window", { OPEN_K(SSM_KIND_TRANSCRIPT, S(SID), S(DOC)),
								 .value = 1 }, SSM_FRAME_E_KIND },
	{ __LINE__, "transcript with a terminal", { OPEN_X(3, SSM_KIND_TRANSCRIPT, 80, 24, S(SID), S(DOC), S(""),
						    S("")) }, SSM_FRAME_E_KIND },
	{ __LINE__, "transcript without a document", { OPEN_K(SSM_KIND_TRANSCRIPT, S(SID), S("")) },
	  SSM_FRAME_E_TEXT_LEN },
	{ __LINE__, "audit with a document", { OPEN_K(SSM_KIND_AUDIT, S("audit.1"), S(DOC)) }, SSM_FRAME_E_KIND },
	{ __LINE__, "stream open origin with a control character", { .type = SSM_FRAME_STREAM_OPEN, .channel = 1,
	  .stream = 1, .u.stream_open = { S("1.2.3.4\t:80") } }, SSM_FRAME_E_TEXT },
	{ __LINE__, "stream open origin 129 bytes", { .type = SSM_FRAME_STREAM_OPEN, .channel = 1, .stream = 1,
						      .u.stream_open = { AS(129) } }, SSM_FRAME_E_TEXT_LEN },
	{ __LINE__, "resize 0 cols", { .type = SSM_FRAME_RESIZE, .channel = 1, .u.resize = { 0, 24 } },
	  SSM_FRAME_E_TERMSIZE },
	{ __LINE__, "resize 4097 rows", { .type = SSM_FRAME_RESIZE, .channel = 1, .u.resize = { 80, 4097 } },
	  SSM_FRAME_E_TERMSIZE },
	{ __LINE__, "exit how 0", { EXIT(0, 0, SSM_END_EXIT) }, SSM_FRAME_E_EXIT },
	{ __LINE__, "exit how 4", { EXIT(4, 0, SSM_END_EXIT) }, SSM_FRAME_E_EXIT },
	{ __LINE__, "killed by signal 0", { EXIT(SSM_EXIT_SIGNALED, 0, SSM_END_EXIT) }, SSM_FRAME_E_EXIT },
	{ __LINE__, "killed by signal 65", { EXIT(SSM_EXIT_SIGNALED, 65, SSM_END_EXIT) }, SSM_FRAME_E_EXIT },
	{ __LINE__, "no process but a status", { EXIT(SSM_EXIT_NONE, 1, SSM_END_ERROR) }, SSM_FRAME_E_EXIT },
	{ __LINE__, "no process but end reason exit", { EXIT(SSM_EXIT_NONE, 0, SSM_END_EXIT) }, SSM_FRAME_E_EXIT },
	{ __LINE__, "end reason 0", { EXIT(SSM_EXIT_EXITED, 0, 0) }, SSM_FRAME_E_EXIT },
	{ __LINE__, "end reason 6", { EXIT(SSM_EXIT_EXITED, 0, 6) }, SSM_FRAME_E_EXIT },
};
/* clang-format on */

static int patched(const struct row *r)
{
	return r->poke || r->lenfix || r->cut || r->add;
}

static void test_rows(void)
{
	static uint8_t msg[40000], enc[40000];
	struct ssm_frame f, g;
	size_t i, n, m, total;
	int r, good = 0, bad = 0;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *row = &rows[i];

		n = raw(&row->f, msg);
		if (row->poke)
			msg[row->poke - 1] = row->pv;
		if (row->lenfix) {
			uint32_t l = (uint32_t)msg[12] << 24 | (uint32_t)msg[13] << 16 |
			             (uint32_t)msg[14] << 8 | msg[15];

			be(msg + 12, (uint32_t)(l + (uint32_t)row->lenfix), 4);
		}
		n -= row->cut;
		memset(msg + n, 'x', row->add);
		n += row->add;
		r = ssm_frame_decode(msg, n, &f);
		CHECK_ROW(row->line, r == row->err, "%s: decode gave %d (%s), want %d", row->name,
		          r, ssm_frame_strerror(r), row->err);
		if (row->err != 0) {
			bad++;
			CHECK_ROW(row->line, f.type == 0 && f.channel == 0 && f.u.data.p == NULL,
			          "%s: a refused frame left fields behind", row->name);
			if (!patched(row)) {
				r = ssm_frame_encode(&row->f, enc, sizeof(enc), &m);
				CHECK_ROW(row->line, r == row->err, "%s: encode gave %d, want %d",
				          row->name, r, row->err);
			}
			continue;
		}
		good++;
		CHECK_ROW(row->line, same(&f, &row->f), "%s: decoded fields differ", row->name);
		CHECK_ROW(row->line, ssm_frame_peek(msg, 32, &total) == 0 && total == n,
		          "%s: peek disagrees", row->name);
		r = ssm_frame_encode(&f, enc, sizeof(enc), &m);
		CHECK_ROW(row->line, r == 0 && m == n && memcmp(enc, msg, n) == 0,
		          "%s: re-encoding differs (%d, %zu vs %zu)", row->name, r, m, n);
		r = ssm_frame_encode(&row->f, enc, n - 1, &m);
		CHECK_ROW(row->line, r == SSM_FRAME_E_BUFFER, "%s: one byte short gave %d",
		          row->name, r);
		r = ssm_frame_decode(enc, n, &g);
		CHECK_ROW(row->line, r == 0 && same(&g, &f), "%s: second decode", row->name);
	}
	printf("frame rows: %d good, %d bad\n", good, bad);
	CHECK(bad >= 40, "at least 40 bad rows (%d)", bad);
}

/* the byte layout itself, written out by hand */
static void test_golden(void)
{
	static const uint8_t data[] = {
	    0x01, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x03,
	    0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02,
	    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 'h',  'i',
	};
	static const uint8_t close_[] = {
	    0x01, 0x23, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x05, 0x00,
	    0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x06, 0x00, 0x02, 'n',  'o',
	};
	uint8_t hdr[SSM_FRAME_HEADER], buf[64];
	struct ssm_frame f;
	size_t n;

	CHECK(ssm_frame_decode(data, sizeof(data), &f) == 0 && f.type == SSM_FRAME_DATA &&
	          f.channel == 7 && f.stream == 3 && f.offset == 0x102 && f.u.data.len == 2 &&
	          f.u.data.p == data + 32,
	      "golden DATA decodes, payload points into the message");
	CHECK(ssm_frame_data_header(hdr, 7, 3, 0x102, 2) == 0 && memcmp(hdr, data, 32) == 0,
	      "zero-copy DATA header is the golden one");
	CHECK(ssm_frame_data_header(hdr, 0, 3, 0, 2) == SSM_FRAME_E_CHANNEL,
	      "zero-copy header on channel 0 refused");
	CHECK(ssm_frame_data_header(hdr, 1, 3, 0, 0) == SSM_FRAME_E_EMPTY &&
	          ssm_frame_data_header(hdr, 1, 3, 0, 16385) == SSM_FRAME_E_LENGTH &&
	          ssm_frame_data_header(hdr, 1, 3, OMAX, 1) == SSM_FRAME_E_OFFSET,
	      "zero-copy header: empty, too long, beyond 2^62 refused");
	CHECK(ssm_frame_decode(close_, sizeof(close_), &f) == 0 && f.type == SSM_FRAME_CLOSE &&
	          f.channel == 2 && f.stream == 5 && f.u.close.code == SSM_CODE_CONNECT &&
	          f.u.close.reason.len == 2 && memcmp(f.u.close.reason.p, "no", 2) == 0,
	      "golden CLOSE decodes");
	memset(&f, 0, sizeof(f));
	f.type = SSM_FRAME_CLOSE;
	f.channel = 2;
	f.stream = 5;
	f.u.close.code = SSM_CODE_CONNECT;
	f.u.close.reason = ssm_frame_str("no");
	CHECK(ssm_frame_encode(&f, buf, sizeof(buf), &n) == 0 && n == sizeof(close_) &&
	          memcmp(buf, close_, n) == 0,
	      "golden CLOSE encodes");
	CHECK(ssm_frame_peek(data, 31, &n) == SSM_FRAME_E_SHORT, "peek needs the whole header");
	CHECK(ssm_frame_decode(NULL, 0, &f) == SSM_FRAME_E_SHORT, "NULL message");
	CHECK(ssm_frame_encode(NULL, buf, sizeof(buf), &n) == SSM_FRAME_E_INVAL, "NULL frame");
	CHECK(strcmp(ssm_frame_type_name(SSM_FRAME_RESUME), "RESUME") == 0 &&
	          strcmp(ssm_frame_type_name(0x99), "?") == 0 &&
	          strcmp(ssm_frame_code_name(SSM_CODE_BACKLOG), "backlog") == 0 &&
	          strcmp(ssm_frame_code_name(12), "?") == 0,
	      "names");
}

/* every error has its own message */
static void test_strerror(void)
{
	static const int errs[] = {
	    SSM_FRAME_E_SHORT,
	    SSM_FRAME_E_VERSION,
	    SSM_FRAME_E_TYPE,
	    SSM_FRAME_E_LENGTH,
	    SSM_FRAME_E_TRUNCATED,
	    SSM_FRAME_E_TRAILING,
	    SSM_FRAME_E_FLAGS,
	    SSM_FRAME_E_CHANNEL,
	    SSM_FRAME_E_STREAM,
	    SSM_FRAME_E_RESERVED,
	    SSM_FRAME_E_OFFSET,
	    SSM_FRAME_E_EMPTY,
	    SSM_FRAME_E_BODY,
	    SSM_FRAME_E_BODY_TRAILING,
	    SSM_FRAME_E_TEXT_LEN,
	    SSM_FRAME_E_TEXT,
	    SSM_FRAME_E_NAME,
	    SSM_FRAME_E_WINDOW,
	    SSM_FRAME_E_KIND,
	    SSM_FRAME_E_ROLE,
	    SSM_FRAME_E_TERMSIZE,
	    SSM_FRAME_E_EXIT,
	    SSM_FRAME_E_CODE,
	    SSM_FRAME_E_BUFFER,
	    SSM_FRAME_E_INVAL,
	    SSM_FRAME_E_FLOW_GAP,
	    SSM_FRAME_E_FLOW_OVERLAP,
	    SSM_FRAME_E_FLOW_WINDOW,
	    SSM_FRAME_E_FLOW_AFTER_EOF,
	    SSM_FRAME_E_FLOW_EOF,
	    SSM_FRAME_E_FLOW_ACK_BACK,
	    SSM_FRAME_E_FLOW_ACK_AHEAD,
	    SSM_FRAME_E_FLOW_WINDOW_BACK,
	    SSM_FRAME_E_FLOW_RESUME_LOST,
	    SSM_FRAME_E_FLOW_RESUME_AHEAD,
	    SSM_FRAME_E_FLOW_SEND,
	    SSM_FRAME_E_FLOW_GRANT,
	};
	size_t i, j;
	int distinct = 1;

	for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
		for (j = 0; j < i; j++)
			if (errs[i] == errs[j] ||
			    strcmp(ssm_frame_strerror(errs[i]), ssm_frame_strerror(errs[j])) == 0)
				distinct = 0;
	CHECK(distinct, "error codes and their messages are distinct");
	CHECK(strcmp(ssm_frame_strerror(-999), "unknown frame error") == 0, "unknown error");
}

/* ---- flow control: each row a sequence of operations on one stream ---- */
enum op {
	END = 0,
	INIT_SEND, /* a = base, b = limit */
	INIT_RECV, /* a = base, b = limit */
	SEND,      /* a = len; want 0 or error; the offset must be c */
	RESEND,    /* a = len; offset c */
	SEND_EOF,  /* offset c */
	ON_ACK,    /* a = ack, b = limit; c = bytes freed */
	ON_RESUME, /* a = received, b = limit */
	ON_DATA,   /* a = offset, b = len; want 1, 0 or error */
	ON_EOF,    /* a = offset */
	GRANT,     /* a = ack, b = limit */
	ROOM,      /* send room must be a */
	IS_SEND,   /* next, high = a, b; acked = c */
	IS_RECV,   /* recv_next = a */
};

struct op_row {
	enum op op;
	uint64_t a, b;
	int want;
	uint64_t c;
};

struct flow_row {
	int line;
	const char *name;
	struct op_row ops[10];
};

#define W SSM_FRAME_WINDOW_DEFAULT
/* clang-format off */
static const struct flow_row flows[] = {
	/* receiving */
	{ __LINE__, "in-order data is delivered",
	  { { INIT_RECV, 0, W }, { ON_DATA, 0, 10, 1 }, { ON_DATA, 10, 5, 1 }, { IS_RECV, 15 } } },
	{ __LINE__, "a pure duplicate is dropped, not an error",
	  { { INIT_RECV, 0, W }, { ON_DATA, 0, 10, 1 }, { ON_DATA, 0, 10, 0 }, { ON_DATA, 5, 5, 0 },
	    { IS_RECV, 10 } } },
	{ __LINE__, "a gap is a flow error",
	  { { INIT_RECV, 0, W }, { ON_DATA, 1, 10, SSM_FRAME_E_FLOW_GAP }, { IS_RECV, 0 } } },
	{ __LINE__, "an overlap of the received offset is a flow error",
	  { { INIT_RECV, 0, W }, { ON_DATA, 0, 10, 1 }, { ON_DATA, 5, 10, SSM_FRAME_E_FLOW_OVERLAP } } },
	{ __LINE__, "data up to the window is fine, one byte beyond is not",
	  { { INIT_RECV, 0, 100 }, { ON_DATA, 0, 100, 1 }, { ON_DATA, 100, 1, SSM_FRAME_E_FLOW_WINDOW } } },
	{ __LINE__, "a zero window takes nothing",
	  { { INIT_RECV, 0, 0 }, { ON_DATA, 0, 1, SSM_FRAME_E_FLOW_WINDOW } } },
	{ __LINE__, "a grant opens the window",
	  { { INIT_RECV, 0, 10 }, { ON_DATA, 0, 10, 1 }, { GRANT, 10, 20, 0 }, { ON_DATA, 10, 10, 1 } } },
	{ __LINE__, "data starts at the base of a resumed transcript",
	  { { INIT_RECV, 5000, 5000 + W }, { ON_DATA, 0, 10, 0 }, { ON_DATA, 4999, 2, SSM_FRAME_E_FLOW_OVERLAP },
	    { ON_DATA, 5000, 2, 1 } } },
	{ __LINE__, "eof at the received offset, then repeated",
	  { { INIT_RECV, 0, W }, { ON_DATA, 0, 3, 1 }, { ON_EOF, 3, 0, 1 }, { ON_EOF, 3, 0, 0 } } },
	{ __LINE__, "eof beyond what arrived is a gap",
	  { { INIT_RECV, 0, W }, { ON_DATA, 0, 3, 1 }, { ON_EOF, 4, 0, SSM_FRAME_E_FLOW_GAP } } },
	{ __LINE__, "eof below what arrived",
	  { { INIT_RECV, 0, W }, { ON_DATA, 0, 3, 1 }, { ON_EOF, 2, 0, SSM_FRAME_E_FLOW_EOF } } },
	{ __LINE__, "a second eof elsewhere",
	  { { INIT_RECV, 0, W }, { ON_EOF, 0, 0, 1 }, { ON_EOF, 1, 0, SSM_FRAME_E_FLOW_EOF } } },
	{ __LINE__, "new data after eof; old data still a duplicate",
	  { { INIT_RECV, 0, W }, { ON_DATA, 0, 3, 1 }, { ON_EOF, 3, 0, 1 }, { ON_DATA, 0, 3, 0 },
	    { ON_DATA, 3, 1, SSM_FRAME_E_FLOW_AFTER_EOF } } },
	{ __LINE__, "ack beyond what was received is this side's bug",
	  { { INIT_RECV, 0, W }, { ON_DATA, 0, 3, 1 }, { GRANT, 4, 100, SSM_FRAME_E_FLOW_GRANT } } },
	{ __LINE__, "ack backwards",
	  { { INIT_RECV, 0, W }, { ON_DATA, 0, 3, 1 }, { GRANT, 3, W, 0 }, { GRANT, 2, W, SSM_FRAME_E_FLOW_GRANT } } },
	{ __LINE__, "grant backwards",
	  { { INIT_RECV, 0, 100 }, { GRANT, 0, 99, SSM_FRAME_E_FLOW_GRANT } } },
	{ __LINE__, "grant more than 16 MiB beyond the ack",
	  { { INIT_RECV, 0, 100 }, { GRANT, 0, MiB16, 0 }, { GRANT, 0, MiB16 + 1, SSM_FRAME_E_FLOW_GRANT } } },
	{ __LINE__, "init with a window over 16 MiB",
	  { { INIT_RECV, 0, MiB16 + 1, SSM_FRAME_E_WINDOW } } },
	{ __LINE__, "data wrapping 2^64", { { INIT_RECV, 0, W }, { ON_DATA, UINT64_MAX, 2, SSM_FRAME_E_INVAL } } },
	/* sending */
	{ __LINE__, "send within the window, then full",
	  { { INIT_SEND, 0, 100 }, { SEND, 60, 0, 0, 0 }, { SEND, 40, 0, 0, 60 }, { ROOM, 0 },
	    { SEND, 1, 0, SSM_FRAME_E_FLOW_SEND }, { IS_SEND, 100, 100, 0, 0 } } },
	{ __LINE__, "one byte over the window is refused",
	  { { INIT_SEND, 0, 100 }, { SEND, 101, 0, SSM_FRAME_E_FLOW_SEND }, { ROOM, 100 } } },
	{ __LINE__, "an ack frees bytes and opens the window",
	  { { INIT_SEND, 0, 100 }, { SEND, 100, 0, 0, 0 }, { ON_ACK, 60, 160, 0, 60 }, { ROOM, 60 },
	    { IS_SEND, 100, 100, 0, 60 } } },
	{ __LINE__, "a pure window update",
	  { { INIT_SEND, 0, 10 }, { SEND, 10, 0, 0, 0 }, { ON_ACK, 0, 20, 0, 0 }, { ROOM, 10 } } },
	{ __LINE__, "ack backwards is a flow error",
	  { { INIT_SEND, 0, W }, { SEND, 10, 0, 0, 0 }, { ON_ACK, 8, W + 8, 0, 8 },
	    { ON_ACK, 7, W + 8, SSM_FRAME_E_FLOW_ACK_BACK } } },
	{ __LINE__, "ack of bytes never sent",
	  { { INIT_SEND, 0, W }, { SEND, 10, 0, 0, 0 }, { ON_ACK, 11, W + 11, SSM_FRAME_E_FLOW_ACK_AHEAD } } },
	{ __LINE__, "window going backwards",
	  { { INIT_SEND, 0, 100 }, { ON_ACK, 0, 99, SSM_FRAME_E_FLOW_WINDOW_BACK } } },
	{ __LINE__, "ack window over 16 MiB", { { INIT_SEND, 0, 100 }, { ON_ACK, 0, MiB16 + 1, SSM_FRAME_E_WINDOW } } },
	{ __LINE__, "eof after everything was sent, then nothing more",
	  { { INIT_SEND, 0, W }, { SEND, 5, 0, 0, 0 }, { SEND_EOF, 0, 0, 0, 5 }, { ROOM, 0 },
	    { SEND, 1, 0, SSM_FRAME_E_FLOW_SEND } } },
	{ __LINE__, "resume: rewind to the peer's received offset, acked stays",
	  { { INIT_SEND, 0, 100 }, { SEND, 100, 0, 0, 0 }, { ON_ACK, 20, 120, 0, 20 },
	    { ON_RESUME, 50, 150 }, { IS_SEND, 50, 100, 0, 20 }, { ROOM, 100 },
	    { SEND, 1, 0, SSM_FRAME_E_FLOW_SEND }, { RESEND, 50, 0, 0, 50 }, { SEND, 1, 0, 0, 100 } } },
	{ __LINE__, "resume may lower the window (a restarted broker)",
	  { { INIT_SEND, 0, 1000 }, { SEND, 100, 0, 0, 0 }, { ON_RESUME, 40, 60 }, { ROOM, 20 },
	    { RESEND, 21, 0, SSM_FRAME_E_FLOW_SEND }, { RESEND, 20, 0, 0, 40 }, { ROOM, 0 } } },
	{ __LINE__, "resume below the acknowledged offset: the peer lost bytes",
	  { { INIT_SEND, 0, W }, { SEND, 10, 0, 0, 0 }, { ON_ACK, 10, W + 10, 0, 10 },
	    { ON_RESUME, 9, W, SSM_FRAME_E_FLOW_RESUME_LOST } } },
	{ __LINE__, "resume beyond what was sent",
	  { { INIT_SEND, 0, W }, { SEND, 10, 0, 0, 0 }, { ON_RESUME, 11, W, SSM_FRAME_E_FLOW_RESUME_AHEAD } } },
	{ __LINE__, "after a resume an ack may not pass what was resent",
	  { { INIT_SEND, 0, W }, { SEND, 10, 0, 0, 0 }, { ON_RESUME, 4, W }, { ON_ACK, 5, W + 5, SSM_FRAME_E_FLOW_ACK_AHEAD } } },
	{ __LINE__, "resend beyond what was ever sent",
	  { { INIT_SEND, 0, W }, { SEND, 10, 0, 0, 0 }, { ON_RESUME, 4, W }, { RESEND, 7, 0, SSM_FRAME_E_FLOW_SEND } } },
	{ __LINE__, "eof waits for the resend",
	  { { INIT_SEND, 0, W }, { SEND, 10, 0, 0, 0 }, { SEND_EOF, 0, 0, 0, 10 }, { ON_RESUME, 4, W },
	    { SEND_EOF, 0, 0, SSM_FRAME_E_FLOW_SEND }, { RESEND, 6, 0, 0, 4 }, { SEND_EOF, 0, 0, 0, 10 } } },
	{ __LINE__, "a transcript resumed at the broker's stored offset",
	  { { INIT_SEND, 70000, 70000 + W }, { SEND, 100, 0, 0, 70000 }, { ON_ACK, 70100, 70100 + W, 0, 100 } } },
	{ __LINE__, "init base beyond 2^62", { { INIT_SEND, OMAX + 1, OMAX + 1, SSM_FRAME_E_OFFSET } } },
};
/* clang-format on */

static uint64_t run_op(struct ssm_flow *f, const struct op_row *o, int *pr)
{
	uint64_t out = 0;

	switch (o->op) {
	case INIT_SEND:
		*pr = ssm_flow_init_send(f, o->a, o->b);
		break;
	case INIT_RECV:
		*pr = ssm_flow_init_recv(f, o->a, o->b);
		break;
	case SEND:
		*pr = ssm_flow_send(f, (size_t)o->a, &out);
		break;
	case RESEND:
		*pr = ssm_flow_resend(f, (size_t)o->a, &out);
		break;
	case SEND_EOF:
		*pr = ssm_flow_send_eof(f, &out);
		break;
	case ON_ACK:
		*pr = ssm_flow_on_ack(f, o->a, o->b, &out);
		break;
	case ON_RESUME:
		*pr = ssm_flow_on_resume(f, o->a, o->b);
		break;
	case ON_DATA:
		*pr = ssm_flow_on_data(f, o->a, (size_t)o->b);
		break;
	case ON_EOF:
		*pr = ssm_flow_on_eof(f, o->a);
		break;
	case GRANT:
		*pr = ssm_flow_grant(f, o->a, o->b);
		break;
	default:
		*pr = 0;
		break;
	}
	return out;
}

static void test_flow(void)
{
	size_t i, j;

	for (i = 0; i < sizeof(flows) / sizeof(flows[0]); i++) {
		const struct flow_row *fr = &flows[i];
		struct ssm_flow f;

		ssm_flow_init(&f);
		for (j = 0; j < 10 && fr->ops[j].op != END; j++) {
			const struct op_row *o = &fr->ops[j];
			uint64_t out;
			int r;

			if (o->op == ROOM) {
				CHECK_ROW(fr->line, ssm_flow_send_room(&f) == o->a,
				          "%s: op %zu: room %ju, want %ju", fr->name, j,
				          (uintmax_t)ssm_flow_send_room(&f), (uintmax_t)o->a);
				continue;
			}
			if (o->op == IS_SEND) {
				CHECK_ROW(fr->line,
				          f.send_next == o->a && f.send_high == o->b &&
				              f.send_acked == o->c,
				          "%s: op %zu: next %ju high %ju acked %ju", fr->name, j,
				          (uintmax_t)f.send_next, (uintmax_t)f.send_high,
				          (uintmax_t)f.send_acked);
				continue;
			}
			if (o->op == IS_RECV) {
				CHECK_ROW(fr->line, f.recv_next == o->a, "%s: op %zu: received %ju",
				          fr->name, j, (uintmax_t)f.recv_next);
				continue;
			}
			out = run_op(&f, o, &r);
			CHECK_ROW(fr->line, r == o->want, "%s: op %zu gave %d (%s), want %d",
			          fr->name, j, r, ssm_frame_strerror(r), o->want);
			if (r == 0 && (o->op == SEND || o->op == RESEND || o->op == SEND_EOF ||
			               o->op == ON_ACK))
				CHECK_ROW(fr->line, out == o->c, "%s: op %zu: result %ju, want %ju",
				          fr->name, j, (uintmax_t)out, (uintmax_t)o->c);
		}
	}
	printf("flow rows: %zu\n", sizeof(flows) / sizeof(flows[0]));
}

/* Two flows end to end through a lossy "connection": bytes sent, a cut that loses what was
 * in flight, a RESUME, and every byte arrives exactly once, in order. */
static void test_resume_end_to_end(void)
{
	static uint8_t src[100000], dst[100000];
	struct ssm_flow tx, rx;
	uint64_t off, freed, room;
	size_t got = 0, i, len;
	int r, cuts = 0, ok = 1;

	for (i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 7 + 3);
	ssm_flow_init(&tx);
	ssm_flow_init(&rx);
	ok &= ssm_flow_init_send(&tx, 0, 4096) == 0 && ssm_flow_init_recv(&rx, 0, 4096) == 0;
	for (i = 0; i < 100000 && tx.send_acked < sizeof(src); i++) {
		/* the sender sends a frame (resending first) */
		room = ssm_flow_send_room(&tx);
		len = room < 1000 ? (size_t)room : 1000;
		if (tx.send_next < tx.send_high) {
			if (len > tx.send_high - tx.send_next)
				len = (size_t)(tx.send_high - tx.send_next);
			r = len ? ssm_flow_resend(&tx, len, &off) : -1;
		} else {
			if (len > sizeof(src) - tx.send_high)
				len = (size_t)(sizeof(src) - tx.send_high);
			r = len ? ssm_flow_send(&tx, len, &off) : -1;
		}
		if (r == 0 && i % 13 == 7) {
			/* the connection breaks: this frame is lost; the receiver says where it is
			 */
			cuts++;
			ok &= ssm_flow_on_resume(&tx, rx.recv_next, rx.recv_limit) == 0;
			continue;
		}
		if (r == 0) {
			r = ssm_flow_on_data(&rx, off, len);
			if (r == 1) {
				memcpy(dst + got, src + off, len);
				got += len;
			}
			ok &= r >= 0;
		}
		/* the receiver consumes everything and acknowledges it every other round */
		if (i % 2 == 0) {
			ok &= ssm_flow_grant(&rx, rx.recv_next, rx.recv_next + 4096) == 0;
			ok &= ssm_flow_on_ack(&tx, rx.recv_acked, rx.recv_limit, &freed) == 0;
		}
	}
	CHECK(ok, "no flow error across %d cuts", cuts);
	CHECK(got == sizeof(src) && memcmp(src, dst, got) == 0,
	      "every byte exactly once, in order, across %d cuts (%zu bytes)", cuts, got);
}

int main(void)
{
	memset(A, 'a', sizeof(A));
	test_rows();
	test_golden();
	test_strerror();
	test_flow();
	test_resume_end_to_end();
	return check_done("test_frame");
}
