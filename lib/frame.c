/* frame.c - broker channel frames and per-stream flow control (frame.h, docs/PROTOCOL.md).
 *
 * Decoding reads the header, then the body through a bounds-checked cursor into a struct
 * ssm_frame, then checks the struct with the same function that encoding uses: a frame is
 * written only if it would be accepted, and every accepted message re-encodes to exactly its
 * own bytes (there is one encoding of each frame). */
#include "config.h"
#include <errno.h>
#include <string.h>
#include "frame.h"
#include "json.h"

/* ---- byte order ---- */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

/* ---- body cursor: consumes, then reads; fails rather than over-reads ---- */

struct cur {
	const uint8_t *p;
	size_t left;
};

static int cur_u8(struct cur *c, uint8_t *v)
{
	if (c->left < 1)
		return SSM_FRAME_E_BODY;
	*v = c->p[0];
	c->p++;
	c->left--;
	return 0;
}

static int cur_u16(struct cur *c, uint16_t *v)
{
	if (c->left < 2)
		return SSM_FRAME_E_BODY;
	*v = get16(c->p);
	c->p += 2;
	c->left -= 2;
	return 0;
}

static int cur_u32(struct cur *c, uint32_t *v)
{
	if (c->left < 4)
		return SSM_FRAME_E_BODY;
	*v = get32(c->p);
	c->p += 4;
	c->left -= 4;
	return 0;
}

/* a reserved byte: present and 0 */
static int cur_zero(struct cur *c)
{
	uint8_t v;
	int r = cur_u8(c, &v);

	if (r < 0)
		return r;
	return v == 0 ? 0 : SSM_FRAME_E_RESERVED;
}

static int cur_str(struct cur *c, struct ssm_frame_str *s)
{
	uint16_t n;
	int r = cur_u16(c, &n);

	if (r < 0)
		return r;
	if (c->left < n)
		return SSM_FRAME_E_BODY;
	s->p = (const char *)c->p;
	s->len = n;
	c->p += n;
	c->left -= n;
	return 0;
}

/* ---- string rules (PROTOCOL.md section 2) ---- */

static int is_sid_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       strchr("_+=,.@-", c) != NULL;
}

static int is_lower_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static int is_doc_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-';
}

static int is_term_char(unsigned char c)
{
	return is_doc_char(c) || c == '+';
}

static int is_print_char(unsigned char c)
{
	return c >= 0x20 && c <= 0x7e;
}

/* min..max bytes, each accepted by ok (never NUL: none of the sets has it) */
static int check_name(const struct ssm_frame_str *s, size_t min, size_t max,
                      int (*ok)(unsigned char))
{
	size_t i;

	if (s->len < min || s->len > max)
		return SSM_FRAME_E_TEXT_LEN;
	if (s->len > 0 && s->p == NULL)
		return SSM_FRAME_E_INVAL;
	for (i = 0; i < s->len; i++)
		if (s->p[i] == '\0' || !ok((unsigned char)s->p[i]))
			return SSM_FRAME_E_NAME;
	return 0;
}

/* printable ASCII text (software, origin) */
static int check_ascii(const struct ssm_frame_str *s, size_t max)
{
	int r = check_name(s, 0, max, is_print_char);

	return r == SSM_FRAME_E_NAME ? SSM_FRAME_E_TEXT : r;
}

/* reasons: valid UTF-8, no C0, DEL or C1 (U+0080..U+009F, encoded C2 80..C2 9F) */
static int check_reason(const struct ssm_frame_str *s)
{
	size_t i;

	if (s->len > SSM_FRAME_REASON_MAX)
		return SSM_FRAME_E_TEXT_LEN;
	if (s->len == 0)
		return 0;
	if (s->p == NULL)
		return SSM_FRAME_E_INVAL;
	if (!ssm_json_utf8_valid(s->p, s->len))
		return SSM_FRAME_E_TEXT;
	for (i = 0; i < s->len; i++) {
		unsigned char c = (unsigned char)s->p[i];

		if (c < 0x20 || c == 0x7f)
			return SSM_FRAME_E_TEXT;
		if (c == 0xc2 && i + 1 < s->len && (unsigned char)s->p[i + 1] <= 0x9f)
			return SSM_FRAME_E_TEXT;
	}
	return 0;
}

/* limit within offset..offset + WINDOW_MAX (both already <= OFFSET_MAX) */
static int check_window(uint64_t offset, uint64_t limit)
{
	if (offset > SSM_FRAME_OFFSET_MAX || limit > SSM_FRAME_OFFSET_MAX)
		return SSM_FRAME_E_OFFSET;
	if (limit < offset || limit - offset > SSM_FRAME_WINDOW_MAX)
		return SSM_FRAME_E_WINDOW;
	return 0;
}

static int check_term(uint16_t cols, uint16_t rows)
{
	if (cols < 1 || cols > SSM_FRAME_TERM_DIM_MAX || rows < 1 || rows > SSM_FRAME_TERM_DIM_MAX)
		return SSM_FRAME_E_TERMSIZE;
	return 0;
}

static int check_open(const struct ssm_frame *f)
{
	int r;

	if (f->value > SSM_FRAME_WINDOW_MAX)
		return SSM_FRAME_E_WINDOW;
	if (f->u.open.kind < SSM_KIND_SESSION || f->u.open.kind > SSM_KIND_DOCUMENT)
		return SSM_FRAME_E_KIND;
	if (f->u.open.kind == SSM_KIND_DOCUMENT) {
		/* sid: the SHA-256 of the document's bytes, 64 lowercase hex; the opener's grant
		 * is the largest document it takes: 1..64 KiB; no token, no terminal */
		if (f->u.open.token.len != 0 || f->u.open.term.len != 0 || f->u.open.cols != 0 ||
		    f->u.open.rows != 0 || f->value < 1 || f->value > SSM_FRAME_DOCUMENT_MAX)
			return SSM_FRAME_E_KIND;
		if ((r = check_name(&f->u.open.sid, 64, 64, is_lower_hex)) < 0)
			return r;
		return check_name(&f->u.open.document, SSM_FRAME_DOC_MIN, SSM_FRAME_DOC_MAX,
		                  is_doc_char);
	}
	if ((r = check_name(&f->u.open.sid, 1, SSM_FRAME_SID_MAX, is_sid_char)) < 0)
		return r;
	if (f->u.open.kind != SSM_KIND_SESSION) {
		/* one-way deliveries: no token, no terminal, no window for the broker */
		if (f->u.open.token.len != 0 || f->u.open.term.len != 0 || f->u.open.cols != 0 ||
		    f->u.open.rows != 0 || f->value != 0)
			return SSM_FRAME_E_KIND;
		if (f->u.open.kind == SSM_KIND_AUDIT)
			return f->u.open.document.len == 0 ? 0 : SSM_FRAME_E_KIND;
		return check_name(&f->u.open.document, SSM_FRAME_DOC_MIN, SSM_FRAME_DOC_MAX,
		                  is_doc_char);
	}
	if ((r = check_name(&f->u.open.document, SSM_FRAME_DOC_MIN, SSM_FRAME_DOC_MAX,
	                    is_doc_char)) < 0)
		return r;
	/* a JWS compact serialization: base64url parts and dots, the document name set */
	if ((r = check_name(&f->u.open.token, 1, SSM_FRAME_TOKEN_MAX, is_doc_char)) < 0)
		return r;
	if (f->u.open.cols == 0 && f->u.open.rows == 0 && f->u.open.term.len == 0)
		return 0; /* no terminal */
	if ((r = check_term(f->u.open.cols, f->u.open.rows)) < 0)
		return r;
	if (f->u.open.term.len == 0)
		return SSM_FRAME_E_TERMSIZE; /* a size without a terminal type */
	return check_name(&f->u.open.term, 1, SSM_FRAME_TERM_MAX, is_term_char);
}

static int check_exit(const struct ssm_frame *f)
{
	uint8_t how = f->u.exit.how, st = f->u.exit.status, why = f->u.exit.reason;

	if (why < SSM_END_EXIT || why > SSM_END_ERROR)
		return SSM_FRAME_E_EXIT;
	switch (how) {
	case SSM_EXIT_EXITED:
		break;
	case SSM_EXIT_SIGNALED:
		if (st < 1 || st > 64)
			return SSM_FRAME_E_EXIT;
		break;
	case SSM_EXIT_NONE:
		if (st != 0 || why == SSM_END_EXIT)
			return SSM_FRAME_E_EXIT;
		break;
	default:
		return SSM_FRAME_E_EXIT;
	}
	return check_reason(&f->u.exit.detail);
}

/* What is allowed where: channel 0 or not, stream 0 / not 0 / any, offset and value unused. */
enum { Z = 0, NZ = 1, ANY = 2 };
static const struct rule {
	uint8_t type;
	uint8_t channel, stream; /* Z, NZ or ANY */
	uint8_t offset_unused, value_unused;
	uint16_t flags; /* bits the type defines */
} rules[] = {
    {SSM_FRAME_HELLO, Z, Z, 1, 1, 0},
    {SSM_FRAME_RESUME_DONE, Z, Z, 1, 1, 0},
    {SSM_FRAME_PING, Z, Z, 1, 0, 0},
    {SSM_FRAME_PONG, Z, Z, 1, 0, 0},
    {SSM_FRAME_GOAWAY, Z, Z, 1, 0, 0},
    {SSM_FRAME_OPEN, NZ, Z, 1, 0, 0},
    {SSM_FRAME_ACCEPT, NZ, ANY, 0, 0, 0},
    {SSM_FRAME_STREAM_OPEN, NZ, NZ, 1, 0, 0},
    {SSM_FRAME_DATA, NZ, ANY, 0, 1, 0},
    {SSM_FRAME_ACK, NZ, ANY, 0, 0, 0},
    {SSM_FRAME_EOF, NZ, ANY, 0, 1, 0},
    {SSM_FRAME_CLOSE, NZ, ANY, 1, 1, 0},
    {SSM_FRAME_RESIZE, NZ, Z, 1, 1, 0},
    {SSM_FRAME_EXIT, NZ, Z, 0, 1, 0},
    {SSM_FRAME_TERMINATE, NZ, Z, 1, 1, 0},
    {SSM_FRAME_RESUME, NZ, ANY, 0, 0,
     SSM_FRAME_F_EOF_SEEN | SSM_FRAME_F_ACCEPT_SEEN | SSM_FRAME_F_EXIT_SEEN |
         SSM_FRAME_F_TERMINATE_SEEN | SSM_FRAME_F_ACKED},
};

static const struct rule *rule_of(int type)
{
	size_t i;

	for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		if (rules[i].type == type)
			return &rules[i];
	return NULL;
}

static int check_id(uint32_t id, uint8_t want)
{
	return want == ANY || (want == Z) == (id == 0);
}

/* Every rule of PROTOCOL.md sections 2 and 4 on a filled-in frame. */
static int check(const struct ssm_frame *f)
{
	const struct rule *ru = rule_of(f->type);

	if (ru == NULL)
		return SSM_FRAME_E_TYPE;
	if (f->flags & ~ru->flags)
		return SSM_FRAME_E_FLAGS;
	if (!check_id(f->channel, ru->channel))
		return SSM_FRAME_E_CHANNEL;
	if (!check_id(f->stream, ru->stream))
		return SSM_FRAME_E_STREAM;
	if ((ru->offset_unused && f->offset != 0) || (ru->value_unused && f->value != 0))
		return SSM_FRAME_E_RESERVED;
	switch (f->type) {
	case SSM_FRAME_HELLO:
		if (f->u.hello.role < SSM_ROLE_AGENT || f->u.hello.role > SSM_ROLE_CLIENT)
			return SSM_FRAME_E_ROLE;
		return check_ascii(&f->u.hello.software, SSM_FRAME_SOFTWARE_MAX);
	case SSM_FRAME_RESUME_DONE:
	case SSM_FRAME_PING:
	case SSM_FRAME_PONG:
		return 0;
	case SSM_FRAME_GOAWAY:
		if (f->value > SSM_FRAME_GOAWAY_RETRY_MAX)
			return SSM_FRAME_E_CODE;
		/* fall through */
	case SSM_FRAME_CLOSE:
		if (f->u.close.code > SSM_CODE_LAST)
			return SSM_FRAME_E_CODE;
		return check_reason(&f->u.close.reason);
	case SSM_FRAME_OPEN:
		return check_open(f);
	case SSM_FRAME_ACCEPT:
		return check_window(f->offset, f->value);
	case SSM_FRAME_STREAM_OPEN:
		if (f->value > SSM_FRAME_WINDOW_MAX)
			return SSM_FRAME_E_WINDOW;
		return check_ascii(&f->u.stream_open.origin, SSM_FRAME_ORIGIN_MAX);
	case SSM_FRAME_DATA:
		if (f->u.data.len == 0)
			return SSM_FRAME_E_EMPTY;
		if (f->u.data.len > SSM_FRAME_BODY_MAX)
			return SSM_FRAME_E_LENGTH;
		if (f->u.data.p == NULL)
			return SSM_FRAME_E_INVAL;
		if (f->offset > SSM_FRAME_OFFSET_MAX ||
		    f->u.data.len > SSM_FRAME_OFFSET_MAX - f->offset)
			return SSM_FRAME_E_OFFSET;
		return 0;
	case SSM_FRAME_ACK:
		return check_window(f->offset, f->value);
	case SSM_FRAME_EOF:
		return f->offset > SSM_FRAME_OFFSET_MAX ? SSM_FRAME_E_OFFSET : 0;
	case SSM_FRAME_RESIZE:
		return check_term(f->u.resize.cols, f->u.resize.rows);
	case SSM_FRAME_EXIT:
		if (f->offset > SSM_FRAME_OFFSET_MAX)
			return SSM_FRAME_E_OFFSET;
		return check_exit(f);
	case SSM_FRAME_TERMINATE:
		return check_reason(&f->u.terminate.reason);
	case SSM_FRAME_RESUME:
		if (f->stream != 0 &&
		    (f->flags & (SSM_FRAME_F_EXIT_SEEN | SSM_FRAME_F_TERMINATE_SEEN)))
			return SSM_FRAME_E_FLAGS;
		if (!(f->flags & SSM_FRAME_F_ACKED) && f->u.resume.acked != 0)
			return SSM_FRAME_E_RESERVED;
		if (f->u.resume.acked > SSM_FRAME_OFFSET_MAX)
			return SSM_FRAME_E_OFFSET;
		return check_window(f->offset, f->value);
	}
	return SSM_FRAME_E_TYPE;
}

/* ---- decoding ---- */

int ssm_frame_peek(const uint8_t *buf, size_t len, size_t *ptotal)
{
	uint32_t blen;

	if (buf == NULL || len < SSM_FRAME_HEADER)
		return SSM_FRAME_E_SHORT;
	if (buf[0] != SSM_FRAME_VERSION)
		return SSM_FRAME_E_VERSION;
	if (rule_of(buf[1]) == NULL)
		return SSM_FRAME_E_TYPE;
	blen = get32(buf + 12);
	if (blen > SSM_FRAME_BODY_MAX)
		return SSM_FRAME_E_LENGTH;
	*ptotal = SSM_FRAME_HEADER + (size_t)blen;
	return 0;
}

static int parse_body(struct ssm_frame *f, struct cur *c)
{
	int r = 0;

	switch (f->type) {
	case SSM_FRAME_HELLO:
		if ((r = cur_u32(c, &f->u.hello.features)) < 0 ||
		    (r = cur_u8(c, &f->u.hello.role)) < 0 || (r = cur_zero(c)) < 0 ||
		    (r = cur_str(c, &f->u.hello.software)) < 0)
			return r;
		break;
	case SSM_FRAME_GOAWAY:
	case SSM_FRAME_CLOSE:
		if ((r = cur_u16(c, &f->u.close.code)) < 0 ||
		    (r = cur_str(c, &f->u.close.reason)) < 0)
			return r;
		break;
	case SSM_FRAME_OPEN:
		if ((r = cur_u8(c, &f->u.open.kind)) < 0 || (r = cur_zero(c)) < 0 ||
		    (r = cur_u16(c, &f->u.open.cols)) < 0 ||
		    (r = cur_u16(c, &f->u.open.rows)) < 0 || (r = cur_str(c, &f->u.open.sid)) < 0 ||
		    (r = cur_str(c, &f->u.open.document)) < 0 ||
		    (r = cur_str(c, &f->u.open.token)) < 0 || (r = cur_str(c, &f->u.open.term)) < 0)
			return r;
		break;
	case SSM_FRAME_STREAM_OPEN:
		if ((r = cur_str(c, &f->u.stream_open.origin)) < 0)
			return r;
		break;
	case SSM_FRAME_DATA:
		f->u.data.p = c->p;
		f->u.data.len = c->left;
		c->p += c->left;
		c->left = 0;
		break;
	case SSM_FRAME_RESIZE:
		if ((r = cur_u16(c, &f->u.resize.cols)) < 0 ||
		    (r = cur_u16(c, &f->u.resize.rows)) < 0)
			return r;
		break;
	case SSM_FRAME_EXIT:
		if ((r = cur_u8(c, &f->u.exit.how)) < 0 || (r = cur_u8(c, &f->u.exit.status)) < 0 ||
		    (r = cur_u8(c, &f->u.exit.reason)) < 0 || (r = cur_zero(c)) < 0 ||
		    (r = cur_str(c, &f->u.exit.detail)) < 0)
			return r;
		break;
	case SSM_FRAME_TERMINATE:
		if ((r = cur_str(c, &f->u.terminate.reason)) < 0)
			return r;
		break;
	case SSM_FRAME_RESUME:
		if (f->flags & SSM_FRAME_F_ACKED) {
			uint32_t hi, lo;

			if ((r = cur_u32(c, &hi)) < 0 || (r = cur_u32(c, &lo)) < 0)
				return r;
			f->u.resume.acked = (uint64_t)hi << 32 | lo;
		}
		break;
	default: /* RESUME_DONE, PING, PONG, ACCEPT, ACK, EOF: empty body */
		break;
	}
	return c->left == 0 ? 0 : SSM_FRAME_E_BODY_TRAILING;
}

int ssm_frame_decode(const uint8_t *buf, size_t len, struct ssm_frame *f)
{
	struct cur c;
	size_t total;
	int r;

	if (f == NULL)
		return SSM_FRAME_E_INVAL;
	memset(f, 0, sizeof(*f));
	if ((r = ssm_frame_peek(buf, len, &total)) < 0)
		return r;
	if (len < total)
		return SSM_FRAME_E_TRUNCATED;
	if (len > total)
		return SSM_FRAME_E_TRAILING;
	f->type = buf[1];
	f->flags = get16(buf + 2);
	f->channel = get32(buf + 4);
	f->stream = get32(buf + 8);
	f->offset = get64(buf + 16);
	f->value = get64(buf + 24);
	c.p = buf + SSM_FRAME_HEADER;
	c.left = total - SSM_FRAME_HEADER;
	if ((r = parse_body(f, &c)) < 0 || (r = check(f)) < 0) {
		memset(f, 0, sizeof(*f));
		return r;
	}
	return 0;
}

/* ---- encoding ---- */

static size_t str_size(const struct ssm_frame_str *s)
{
	return 2 + s->len;
}

static size_t body_size(const struct ssm_frame *f)
{
	switch (f->type) {
	case SSM_FRAME_HELLO:
		return 6 + str_size(&f->u.hello.software);
	case SSM_FRAME_GOAWAY:
	case SSM_FRAME_CLOSE:
		return 2 + str_size(&f->u.close.reason);
	case SSM_FRAME_OPEN:
		return 6 + str_size(&f->u.open.sid) + str_size(&f->u.open.document) +
		       str_size(&f->u.open.token) + str_size(&f->u.open.term);
	case SSM_FRAME_STREAM_OPEN:
		return str_size(&f->u.stream_open.origin);
	case SSM_FRAME_DATA:
		return f->u.data.len;
	case SSM_FRAME_RESIZE:
		return 4;
	case SSM_FRAME_EXIT:
		return 4 + str_size(&f->u.exit.detail);
	case SSM_FRAME_TERMINATE:
		return str_size(&f->u.terminate.reason);
	case SSM_FRAME_RESUME:
		return (f->flags & SSM_FRAME_F_ACKED) ? 8 : 0;
	default:
		return 0;
	}
}

static uint8_t *put_str(uint8_t *p, const struct ssm_frame_str *s)
{
	put16(p, (uint16_t)s->len);
	if (s->len > 0)
		memcpy(p + 2, s->p, s->len);
	return p + 2 + s->len;
}

static void put_header(uint8_t *p, const struct ssm_frame *f, size_t blen)
{
	p[0] = SSM_FRAME_VERSION;
	p[1] = f->type;
	put16(p + 2, f->flags);
	put32(p + 4, f->channel);
	put32(p + 8, f->stream);
	put32(p + 12, (uint32_t)blen);
	put64(p + 16, f->offset);
	put64(p + 24, f->value);
}

int ssm_frame_encode(const struct ssm_frame *f, uint8_t *buf, size_t size, size_t *plen)
{
	uint8_t *p;
	size_t blen;
	int r;

	if (f == NULL || plen == NULL)
		return SSM_FRAME_E_INVAL;
	if ((r = check(f)) < 0)
		return r;
	blen = body_size(f);
	if (blen > SSM_FRAME_BODY_MAX)
		return SSM_FRAME_E_LENGTH;
	if (buf == NULL || size < SSM_FRAME_HEADER + blen)
		return SSM_FRAME_E_BUFFER;
	put_header(buf, f, blen);
	p = buf + SSM_FRAME_HEADER;
	switch (f->type) {
	case SSM_FRAME_HELLO:
		put32(p, f->u.hello.features);
		p[4] = f->u.hello.role;
		p[5] = 0;
		p = put_str(p + 6, &f->u.hello.software);
		break;
	case SSM_FRAME_GOAWAY:
	case SSM_FRAME_CLOSE:
		put16(p, f->u.close.code);
		p = put_str(p + 2, &f->u.close.reason);
		break;
	case SSM_FRAME_OPEN:
		p[0] = f->u.open.kind;
		p[1] = 0;
		put16(p + 2, f->u.open.cols);
		put16(p + 4, f->u.open.rows);
		p = put_str(p + 6, &f->u.open.sid);
		p = put_str(p, &f->u.open.document);
		p = put_str(p, &f->u.open.token);
		p = put_str(p, &f->u.open.term);
		break;
	case SSM_FRAME_STREAM_OPEN:
		p = put_str(p, &f->u.stream_open.origin);
		break;
	case SSM_FRAME_DATA:
		memmove(p, f->u.data.p, f->u.data.len); /* may be the caller's slot in buf */
		p += f->u.data.len;
		break;
	case SSM_FRAME_RESIZE:
		put16(p, f->u.resize.cols);
		put16(p + 2, f->u.resize.rows);
		p += 4;
		break;
	case SSM_FRAME_EXIT:
		p[0] = f->u.exit.how;
		p[1] = f->u.exit.status;
		p[2] = f->u.exit.reason;
		p[3] = 0;
		p = put_str(p + 4, &f->u.exit.detail);
		break;
	case SSM_FRAME_TERMINATE:
		p = put_str(p, &f->u.terminate.reason);
		break;
	case SSM_FRAME_RESUME:
		if (f->flags & SSM_FRAME_F_ACKED) {
			put64(p, f->u.resume.acked);
			p += 8;
		}
		break;
	default:
		break;
	}
	*plen = (size_t)(p - buf);
	return 0;
}

int ssm_frame_data_header(uint8_t hdr[SSM_FRAME_HEADER], uint32_t channel, uint32_t stream,
                          uint64_t offset, size_t len)
{
	static const uint8_t unused = 0; /* check() wants a payload pointer; never read */
	struct ssm_frame f;
	int r;

	memset(&f, 0, sizeof(f));
	f.type = SSM_FRAME_DATA;
	f.channel = channel;
	f.stream = stream;
	f.offset = offset;
	f.u.data.p = &unused;
	f.u.data.len = len;
	if (hdr == NULL)
		return SSM_FRAME_E_INVAL;
	if ((r = check(&f)) < 0)
		return r;
	put_header(hdr, &f, len);
	return 0;
}

struct ssm_frame_str ssm_frame_str(const char *s)
{
	struct ssm_frame_str r;

	r.p = s ? s : "";
	r.len = s ? strlen(s) : 0;
	return r;
}

void ssm_frame_str_copy(char *dst, size_t size, const struct ssm_frame_str *s)
{
	size_t n = s->len < size - 1 ? s->len : size - 1;

	memcpy(dst, s->p, n);
	dst[n] = '\0';
}

/* ---- names ---- */

const char *ssm_frame_strerror(int err)
{
	switch (err) {
	case 0:
		return "ok";
	case SSM_FRAME_E_SHORT:
		return "message shorter than the 32-byte frame header";
	case SSM_FRAME_E_VERSION:
		return "unsupported frame version";
	case SSM_FRAME_E_TYPE:
		return "unknown frame type";
	case SSM_FRAME_E_LENGTH:
		return "frame body longer than 16384 bytes";
	case SSM_FRAME_E_TRUNCATED:
		return "message ends before the frame body does";
	case SSM_FRAME_E_TRAILING:
		return "bytes after the frame body";
	case SSM_FRAME_E_FLAGS:
		return "flag bits not defined for this frame type";
	case SSM_FRAME_E_CHANNEL:
		return "channel id not allowed for this frame type";
	case SSM_FRAME_E_STREAM:
		return "stream id not allowed for this frame type";
	case SSM_FRAME_E_RESERVED:
		return "unused field or reserved byte not zero";
	case SSM_FRAME_E_OFFSET:
		return "offset or window beyond 2^62";
	case SSM_FRAME_E_EMPTY:
		return "data frame without payload";
	case SSM_FRAME_E_BODY:
		return "frame body ends inside a field";
	case SSM_FRAME_E_BODY_TRAILING:
		return "bytes after the last field of the frame body";
	case SSM_FRAME_E_TEXT_LEN:
		return "string field too long or too short";
	case SSM_FRAME_E_TEXT:
		return "text field with invalid UTF-8 or a control character";
	case SSM_FRAME_E_NAME:
		return "character not allowed in this name field";
	case SSM_FRAME_E_WINDOW:
		return "window limit below its offset or more than 16 MiB beyond";
	case SSM_FRAME_E_KIND:
		return "unknown channel kind or a field the kind forbids";
	case SSM_FRAME_E_ROLE:
		return "unknown peer role";
	case SSM_FRAME_E_TERMSIZE:
		return "terminal size outside 1..4096 or incomplete";
	case SSM_FRAME_E_EXIT:
		return "invalid exit status or end reason";
	case SSM_FRAME_E_CODE:
		return "unknown close code or retry hint too long";
	case SSM_FRAME_E_BUFFER:
		return "output buffer too small";
	case SSM_FRAME_E_INVAL:
		return "invalid argument";
	case SSM_FRAME_E_FLOW_GAP:
		return "data beyond the received offset (bytes missing)";
	case SSM_FRAME_E_FLOW_OVERLAP:
		return "data overlapping the received offset";
	case SSM_FRAME_E_FLOW_WINDOW:
		return "data beyond the granted window";
	case SSM_FRAME_E_FLOW_AFTER_EOF:
		return "data after end of stream";
	case SSM_FRAME_E_FLOW_EOF:
		return "end of stream at the wrong offset";
	case SSM_FRAME_E_FLOW_ACK_BACK:
		return "acknowledgement going backwards";
	case SSM_FRAME_E_FLOW_ACK_AHEAD:
		return "acknowledgement of bytes not sent";
	case SSM_FRAME_E_FLOW_WINDOW_BACK:
		return "window limit going backwards";
	case SSM_FRAME_E_FLOW_RESUME_LOST:
		return "resume below what the peer acknowledged";
	case SSM_FRAME_E_FLOW_RESUME_AHEAD:
		return "resume beyond what was sent";
	case SSM_FRAME_E_FLOW_SEND:
		return "send outside the window, after end of stream or before resending";
	case SSM_FRAME_E_FLOW_GRANT:
		return "acknowledgement or grant outside what was received";
	}
	return "unknown frame error";
}

const char *ssm_frame_type_name(int type)
{
	switch (type) {
	case SSM_FRAME_HELLO:
		return "HELLO";
	case SSM_FRAME_RESUME_DONE:
		return "RESUME_DONE";
	case SSM_FRAME_PING:
		return "PING";
	case SSM_FRAME_PONG:
		return "PONG";
	case SSM_FRAME_GOAWAY:
		return "GOAWAY";
	case SSM_FRAME_OPEN:
		return "OPEN";
	case SSM_FRAME_ACCEPT:
		return "ACCEPT";
	case SSM_FRAME_STREAM_OPEN:
		return "STREAM_OPEN";
	case SSM_FRAME_DATA:
		return "DATA";
	case SSM_FRAME_ACK:
		return "ACK";
	case SSM_FRAME_EOF:
		return "EOF";
	case SSM_FRAME_CLOSE:
		return "CLOSE";
	case SSM_FRAME_RESIZE:
		return "RESIZE";
	case SSM_FRAME_EXIT:
		return "EXIT";
	case SSM_FRAME_TERMINATE:
		return "TERMINATE";
	case SSM_FRAME_RESUME:
		return "RESUME";
	}
	return "?";
}

const char *ssm_frame_code_name(int code)
{
	static const char *const names[] = {"ok",         "protocol", "flow",     "limit",
	                                    "unknown",    "refused",  "connect",  "timeout",
	                                    "terminated", "internal", "shutdown", "backlog"};

	if (code < 0 || code > SSM_CODE_LAST)
		return "?";
	return names[code];
}

/* ---- flow control ---- */

void ssm_flow_init(struct ssm_flow *f)
{
	memset(f, 0, sizeof(*f));
}

int ssm_flow_init_send(struct ssm_flow *f, uint64_t base, uint64_t limit)
{
	int r = check_window(base, limit);

	if (r < 0)
		return r;
	f->send_next = f->send_high = f->send_acked = base;
	f->send_limit = limit;
	f->send_eof = 0;
	f->flags &= ~SSM_FLOW_SENT_EOF;
	return 0;
}

int ssm_flow_init_recv(struct ssm_flow *f, uint64_t base, uint64_t limit)
{
	int r = check_window(base, limit);

	if (r < 0)
		return r;
	f->recv_next = f->recv_acked = base;
	f->recv_limit = limit;
	f->recv_eof = 0;
	f->flags &= ~SSM_FLOW_RECV_EOF;
	return 0;
}

uint64_t ssm_flow_send_room(const struct ssm_flow *f)
{
	if ((f->flags & SSM_FLOW_SENT_EOF) && f->send_next == f->send_high)
		return 0;
	return f->send_limit > f->send_next ? f->send_limit - f->send_next : 0;
}

int ssm_flow_send(struct ssm_flow *f, size_t len, uint64_t *poffset)
{
	if (len == 0 || len > SSM_FRAME_BODY_MAX || (f->flags & SSM_FLOW_SENT_EOF) ||
	    f->send_next != f->send_high || len > ssm_flow_send_room(f))
		return SSM_FRAME_E_FLOW_SEND;
	*poffset = f->send_next;
	f->send_next += len;
	f->send_high = f->send_next;
	return 0;
}

int ssm_flow_resend(struct ssm_flow *f, size_t len, uint64_t *poffset)
{
	if (len == 0 || len > SSM_FRAME_BODY_MAX || len > f->send_high - f->send_next ||
	    len > ssm_flow_send_room(f))
		return SSM_FRAME_E_FLOW_SEND;
	*poffset = f->send_next;
	f->send_next += len;
	return 0;
}

int ssm_flow_send_eof(struct ssm_flow *f, uint64_t *poffset)
{
	if (f->send_next != f->send_high)
		return SSM_FRAME_E_FLOW_SEND;
	f->flags |= SSM_FLOW_SENT_EOF;
	f->send_eof = f->send_high;
	*poffset = f->send_eof;
	return 0;
}

int ssm_flow_on_ack(struct ssm_flow *f, uint64_t ack, uint64_t limit, uint64_t *pfreed)
{
	int r = check_window(ack, limit);

	if (r < 0)
		return r;
	if (ack < f->send_acked)
		return SSM_FRAME_E_FLOW_ACK_BACK;
	if (ack > f->send_next)
		return SSM_FRAME_E_FLOW_ACK_AHEAD;
	if (limit < f->send_limit)
		return SSM_FRAME_E_FLOW_WINDOW_BACK;
	if (pfreed != NULL)
		*pfreed = ack - f->send_acked;
	f->send_acked = ack;
	f->send_limit = limit;
	return 0;
}

int ssm_flow_on_resume(struct ssm_flow *f, uint64_t received, uint64_t limit)
{
	int r = check_window(received, limit);

	if (r < 0)
		return r;
	if (received < f->send_acked)
		return SSM_FRAME_E_FLOW_RESUME_LOST;
	if (received > f->send_high)
		return SSM_FRAME_E_FLOW_RESUME_AHEAD;
	f->send_next = received;
	f->send_limit = limit; /* may be lower: a restarted peer grants from its stored state */
	return 0;
}

int ssm_flow_on_data(struct ssm_flow *f, uint64_t offset, size_t len)
{
	if (len == 0 || offset > SSM_FRAME_OFFSET_MAX || len > SSM_FRAME_OFFSET_MAX - offset)
		return SSM_FRAME_E_INVAL;
	if (offset + len <= f->recv_next)
		return 0; /* a duplicate: every byte is already in hand */
	if (f->flags & SSM_FLOW_RECV_EOF)
		return SSM_FRAME_E_FLOW_AFTER_EOF;
	if (offset < f->recv_next)
		return SSM_FRAME_E_FLOW_OVERLAP;
	if (offset > f->recv_next)
		return SSM_FRAME_E_FLOW_GAP;
	if (offset + len > f->recv_limit)
		return SSM_FRAME_E_FLOW_WINDOW;
	f->recv_next += len;
	return 1;
}

int ssm_flow_on_eof(struct ssm_flow *f, uint64_t offset)
{
	if (f->flags & SSM_FLOW_RECV_EOF)
		return offset == f->recv_eof ? 0 : SSM_FRAME_E_FLOW_EOF;
	if (offset > f->recv_next)
		return SSM_FRAME_E_FLOW_GAP;
	if (offset < f->recv_next)
		return SSM_FRAME_E_FLOW_EOF;
	f->flags |= SSM_FLOW_RECV_EOF;
	f->recv_eof = offset;
	return 1;
}

int ssm_flow_grant(struct ssm_flow *f, uint64_t ack, uint64_t limit)
{
	if (ack < f->recv_acked || ack > f->recv_next || limit < f->recv_limit ||
	    check_window(ack, limit) < 0)
		return SSM_FRAME_E_FLOW_GRANT;
	f->recv_acked = ack;
	f->recv_limit = limit;
	return 0;
}
